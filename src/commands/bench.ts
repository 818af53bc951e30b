import {bench, benchOutputLayer, shapeNames} from '../api/bench.js';
import {BaseCommand} from '../cli/base-command.js';
import {backendFlags, benchFlags, downloadFlags, jsonFlag, kvDtypeFlags, modelArg, verifyWeightsFlags} from '../cli/flags.js';
import {benchOptions, outputLayerOptions} from '../cli/options.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {renderBenchReport, renderOutputLayer} from '../cli/render-bench.js';

export default class Bench extends BaseCommand {
  static override summary = 'Measure decode speed against the memory-bandwidth limit and prompt processing against the compute limit, dense against HiRE.';
  static override description = `Decodes a model (a directory, GGUF file or HiRE bundle, by default the bundled demo bundle, or a named synthetic shape with seeded random weights written once to the cache, $HIRE_CACHE_DIR or ~/.cache/hire) and reports decode tokens/s, ms per token by component, weight and KV cache bytes per token, and bandwidth utilisation: weight and KV cache bytes read per second divided by a streaming-read bandwidth probe (a WebAssembly SIMD read on every thread over 512 MB, best of its passes), measured again before every round of timed rows, each run against its own round's probe (the median of those; the machine's bandwidth can drift during a run). The probe's buffer is kept for the run: 512 MB more memory (--no-probe skips it). --context N decodes at N positions (the prompt prefilled first has N tokens); --kv-dtype f16 halves the KV cache bytes (cpu backend). Beside it, a matvec compute probe times the backend's matvec on an in-cache [1024, 512] matrix of the model's main weight format (GOP/s), and each row shows its weight GOP/s (2 per weight multiplied; HiRE rows scaled from dense by their bytes): a row near 100% of the compute probe is compute-bound, one near 100% of the bandwidth probe memory-bound. --dtype q8_0 / q4_0 quantises the synthetic shape to ggml blocks (bytes per token count the real block bytes); --block-activations picks how the cpu block kernels take the activations.

Prompt processing (the --prompt-tokens or --context prompt, run as blocks of rows) is reported as tokens/s and GFLOP/s, and as a share of a multiply-add compute probe measured in the same run (the cpu kernels' SIMD multiply-add tile on every thread).

With a bundle, or with --hire on any model, a HiRE-Softmax row is timed in the same run; with a bundle calibrated with --calibrate-ffn, or with --synthetic-ffn on any model, HiRE-FFN rows (FFN only, and FFN + softmax) too (on a model without a bundle the predictor has random values of the chosen kind and size: speed does not depend on them). --output-layer times the output layer alone on a random [--vocab, --dim] matrix. --topk and --ffn are the old, deprecated spellings of --merge and --synthetic-ffn.

Shapes: ${shapeNames().join(', ')}.`;

  static override examples = [
    '<%= config.bin %> bench',
    '<%= config.bin %> bench --shape llama-110m --backend cpu',
    '<%= config.bin %> bench --shape llama-110m --prompt-tokens 256 --tokens 8 --repeat 3',
    '<%= config.bin %> bench --shape llama-110m --context 1000 --kv-dtype f16',
    '<%= config.bin %> bench --shape llama-470m --dtype bf16 --threads 2 --hire --k-prime 512',
    '<%= config.bin %> bench llama2xs.hire --json',
    '<%= config.bin %> bench --shape llama-110m --dtype q4_0 --hire --synthetic-ffn --repeat 3',
    '<%= config.bin %> bench --shape llama-110m --hire --synthetic-ffn --ffn-group-size 8 --ffn-read 0.2',
    '<%= config.bin %> bench --shape llama-110m --hire --synthetic-ffn --batch 2,4,8',
    '<%= config.bin %> bench --shape llama-110m --hire --k-prime 512 --devices 1,2,4 --merge exact,dat --no-probe',
    '<%= config.bin %> bench --output-layer --vocab 128256 --dim 2048 --k-prime 512 --softmax lowrank+quant --bits 4',
  ];

  static override args = {
    model: modelArg('Model or HiRE bundle (default: the bundled demo bundle, unless --shape is given)'),
  };

  static override optionFlags = {'hire.kPrime': 'k-prime', 'hire.rank': 'rank', 'ffn.topK': 'ffn-topk', 'devices.counts': 'devices', 'devices.merge': 'merge'};

  static override flags = {
    ...backendFlags,
    ...downloadFlags,
    ...benchFlags,
    json: jsonFlag('Print the report as JSON.'),
    ...kvDtypeFlags,
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
