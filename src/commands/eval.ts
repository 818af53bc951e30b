import {Flags} from '@oclif/core';
import {evaluate, writeRecallPlot} from '../api/evaluate.js';
import {BaseCommand, note} from '../cli/base-command.js';
import {backendFlags, downloadFlags, evalFlags, jsonFlag, kvDtypeFlags, modelArg, verifyWeightsFlags} from '../cli/flags.js';
import {evaluateOptions} from '../cli/options.js';
import {corpusNote} from '../cli/corpus-note.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {renderEvalReport} from '../cli/render-eval.js';

export default class Eval extends BaseCommand {
  static override summary = "Perplexity of any model on any text; on a HiRE bundle also what HiRE costs: recall, top-1 agreement, KL and perplexity against dense.";
  static override description = `Runs the model over a text in sliding windows and prints its perplexity with the standard error (ppl * sd of the per-token -log p / sqrt(tokens)). The text: every --data file whole (--split train or validation reads its first 90% or the rest), or with no --data the validation split (last 10%) of the bundled Tiny Shakespeare corpus, named on stderr. Windows: --window W tokens (default: the model's context, at most 512) every --stride S tokens (default W/2); each window scores only the next tokens the previous one did not, so every token but the first is scored once, with at least W - S tokens of context after the first window. A plain checkpoint gets the dense perplexity alone. On a bundle it also, at every scored position, scores each predictor's candidates against the dense output layer for every (k, k'): recall@k (share of the dense top-k inside the candidates), top-1 agreement with greedy dense decoding, the dense probability mass outside the candidates (tail mass) and KL(hire || dense), and the perplexity of the next token, dense and HiRE (next tokens outside the candidates are dropped and counted). By default k' takes the values the bundle stores for each recall target, plus k' = k and k' = vocabulary size. On a bundle calibrated with --calibrate-ffn it also scores HiRE-FFN (--ffn off leaves those rows out). --plot writes the held-out recall curves stored in the bundle as an SVG, with this run's measurements marked. --k-prime, --seq-len and --no-ffn are the old, deprecated spellings of --k-primes, --window and --ffn off.`;

  static override examples = [
    '<%= config.bin %> eval llama2xs.hire',
    '<%= config.bin %> eval TinyLlama/TinyLlama-1.1B-Chat-v1.0 --data notes.txt --window 256 --stride 128',
    '<%= config.bin %> eval llama2xs.hire --k 1,32 --k-primes 64,128,256 --predictor quant-int4-g32',
    '<%= config.bin %> eval llama2xs.hire --data notes.txt --split validation --tokens 8192 --plot recall.svg',
    '<%= config.bin %> eval llama2xs.hire --json > eval.json',
    '<%= config.bin %> eval llama2xs-q8_0 --tokens 4096',
  ];

  static override args = {
    model: modelArg('HiRE bundle made by hire calibrate, or a plain model (dense perplexity only); default: the bundled demo bundle'),
  };

  static override optionFlags = {ks: 'k', predictors: 'predictor'};

  static override flags = {
    ...evalFlags,
    ...backendFlags,
    ...downloadFlags,
    json: jsonFlag('Print the report as JSON.'),
    plot: Flags.string({description: 'Write the recall curves as an SVG to this file.'}),
    ...kvDtypeFlags,
    ...verifyWeightsFlags,
  };

  async run() {
    const {args, flags} = await this.parse(Eval);
    const json = this.jsonEnabled();
    const progress = createProgress(!json);
    let report;
    try {
      report = await evaluate({...evaluateOptions(args.model, flags), onProgress: progressCallback(progress)});
    } finally {
      progress.stop();
    }
    const corpus = corpusNote('eval', {split: report.split, bundled: report.corpus, files: report.data, tokens: report.textTokens});
    if (corpus) note(corpus);
    this.log(renderEvalReport(report));
    if (flags.plot) {
      const k = writeRecallPlot(report, flags.plot, {ks: flags.k});
      (json ? note : (line: string) => this.log(line))(`wrote ${flags.plot} (recall@${k} against k')`);
    }
    return report;
  }
}
