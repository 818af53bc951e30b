import {Args} from '@oclif/core';
import {bench, benchOutputLayer, shapeNames} from '../api/bench.js';
import {BaseCommand} from '../cli/base-command.js';
import {backendFlags, benchFlags, jsonFlag, verifyWeightsFlags} from '../cli/flags.js';
import {benchOptions, outputLayerOptions} from '../cli/options.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {renderBenchReport, renderOutputLayer} from '../cli/render-bench.js';

export default class Bench extends BaseCommand {
  static override summary = 'Measure decode speed against the memory-bandwidth limit, dense against HiRE.';
  static override description = `Decodes a model (a directory or HiRE bundle, by default the bundled demo bundle, or a named synthetic shape with seeded random weights written once to the cache, $HIRE_CACHE_DIR or ~/.cache/hire) and reports prefill and decode tokens/s, ms per token by component, weight bytes per token, and bandwidth utilisation: weight bytes read per second divided by the best streaming-read bandwidth measured in the same run (a WebAssembly SIMD read on every thread over 512 MB).

With a bundle, or with --hire on any model, a HiRE-Softmax row is timed in the same run; with a bundle calibrated with --calibrate-ffn, or with --synthetic-ffn on any model, HiRE-FFN rows (FFN only, and FFN + softmax) too (on a model without a bundle the predictor has random values of the chosen kind and size: speed does not depend on them). --output-layer times the output layer alone on a random [--vocab, --dim] matrix. --topk and --ffn are the old, deprecated spellings of --merge and --synthetic-ffn.

Shapes: ${shapeNames().join(', ')}.`;

  static override examples = [
    '<%= config.bin %> bench',
    '<%= config.bin %> bench --shape llama-110m --backend cpu',
    '<%= config.bin %> bench --shape llama-470m --dtype bf16 --threads 2 --hire --k-prime 512',
    '<%= config.bin %> bench llama2xs.hire --json',
    '<%= config.bin %> bench --shape llama-110m --hire --synthetic-ffn --ffn-group-size 8 --ffn-read 0.2',
    '<%= config.bin %> bench --shape llama-110m --hire --synthetic-ffn --batch 2,4,8',
    '<%= config.bin %> bench --shape llama-110m --hire --k-prime 512 --devices 1,2,4 --merge exact,dat --no-probe',
    '<%= config.bin %> bench --output-layer --vocab 128256 --dim 2048 --k-prime 512 --softmax lowrank+quant --bits 4',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle (default: the bundled demo bundle, unless --shape is given).', required: false}),
  };

  static override optionFlags = {'hire.kPrime': 'k-prime', 'hire.rank': 'rank', 'ffn.topK': 'ffn-topk', 'devices.counts': 'devices', 'devices.merge': 'merge'};

  static override flags = {
    ...backendFlags,
    ...benchFlags,
    json: jsonFlag('Print the report as JSON.'),
    ...verifyWeightsFlags,
  };

  async run() {
    const {args, flags} = await this.parse(Bench);
    const progress = createProgress(!this.jsonEnabled());
    const onProgress = progressCallback(progress);
    try {
      if (flags['output-layer']) {
        const report = await benchOutputLayer({...outputLayerOptions(flags), onProgress});
        progress.stop();
        this.log(renderOutputLayer(report));
        return report;
      }
      const report = await bench({...benchOptions(args.model, flags), onProgress});
      progress.stop();
      this.log(renderBenchReport(report));
      return report;
    } finally {
      progress.stop();
    }
  }
}
