import {Args, Flags} from '@oclif/core';
import {evaluate, writeRecallPlot} from '../api/evaluate.js';
import {BaseCommand, note} from '../cli/base-command.js';
import {backendFlags, evalFlags, jsonFlag, verifyWeightsFlags} from '../cli/flags.js';
import {evaluateOptions} from '../cli/options.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {renderEvalReport} from '../cli/render-eval.js';

export default class Eval extends BaseCommand {
  static override summary = "Measure what HiRE-Softmax costs in quality: recall, top-1 agreement, KL and perplexity against dense.";
  static override description = `Runs the dense model of a bundle over text calibration never saw (default: the validation split of the bundled Shakespeare corpus) and, at every position, scores each predictor's candidates against the dense output layer for every (k, k'): recall@k (share of the dense top-k inside the candidates), top-1 agreement with greedy dense decoding, the dense probability mass outside the candidates (tail mass) and KL(hire || dense), and the perplexity of the next token, dense and HiRE (next tokens outside the candidates are dropped and counted). By default k' takes the values the bundle stores for each recall target, plus k' = k and k' = vocabulary size. On a bundle calibrated with --calibrate-ffn it also scores HiRE-FFN (--ffn off leaves those rows out). --plot writes the held-out recall curves stored in the bundle as an SVG, with this run's measurements marked. --k-prime and --no-ffn are the old, deprecated spellings of --k-primes and --ffn off.`;

  static override examples = [
    '<%= config.bin %> eval llama2xs.hire',
    '<%= config.bin %> eval llama2xs.hire --k 1,32 --k-primes 64,128,256 --predictor quant-int4-g32',
    '<%= config.bin %> eval llama2xs.hire --data notes.txt --tokens 8192 --plot recall.svg',
    '<%= config.bin %> eval llama2xs.hire --json > eval.json',
  ];

  static override args = {
    bundle: Args.directory({description: 'HiRE bundle directory made by hire calibrate (default: the bundled demo bundle).', required: false}),
  };

  static override optionFlags = {ks: 'k'};

  static override flags = {
    ...evalFlags,
    ...backendFlags,
    json: jsonFlag('Print the report as JSON.'),
    plot: Flags.string({description: 'Write the recall curves as an SVG to this file.'}),
    ...verifyWeightsFlags,
  };

  async run() {
    const {args, flags} = await this.parse(Eval);
    const json = this.jsonEnabled();
    const progress = createProgress(!json);
    let report;
    try {
      report = await evaluate({...evaluateOptions(args.bundle, flags), onProgress: progressCallback(progress)});
    } finally {
      progress.stop();
    }
    this.log(renderEvalReport(report));
    if (flags.plot) {
      const k = writeRecallPlot(report, flags.plot, {ks: flags.k});
      (json ? note : (line: string) => this.log(line))(`wrote ${flags.plot} (recall@${k} against k')`);
    }
    return report;
  }
}
