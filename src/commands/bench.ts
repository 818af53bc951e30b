import {Args, Flags} from '@oclif/core';
import {BaseCommand, warn} from '../cli/base-command.js';
import {formatBytes, makeTable} from '../cli/format.js';
import {createProgress} from '../cli/progress.js';
import {AVAILABLE_BACKENDS} from '../core/backends/index.js';
import {shapeNames, type BenchDtype} from '../core/bench/models.js';
import {runBench, type BenchReport} from '../core/bench/run.js';

export default class Bench extends BaseCommand {
  static override summary = 'Measure decode speed against the memory-bandwidth limit.';
  static override description = `Decodes a model (a directory, or a named synthetic shape with seeded random weights written
once to the cache, $HIRE_CACHE_DIR or ~/.cache/hire) and reports prefill and decode tokens/s, ms per
token by component, weight bytes per token, and bandwidth utilisation: weight bytes read per second
divided by the best streaming-read bandwidth measured in the same run (a WebAssembly SIMD read on
every thread over 512 MB).

Shapes: ${shapeNames().join(', ')}.`;

  static override examples = [
    '<%= config.bin %> bench --shape llama-110m --backend cpu',
    '<%= config.bin %> bench --shape llama-470m --backend cpu --dtype bf16 --threads 2',
    '<%= config.bin %> bench ../shared/models/llama2xs --backend tfjs --json',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory; omit to use --shape.', required: false}),
  };

  static override flags = {
    shape: Flags.string({description: 'Named synthetic shape (when no model is given).', default: 'llama-110m', options: shapeNames()}),
    dtype: Flags.string({description: 'Weight dtype of the synthetic shape.', default: 'f32', options: ['f32', 'bf16', 'f16']}),
    backend: Flags.string({char: 'b', description: `Compute backend: ${AVAILABLE_BACKENDS.join(', ')}.`, default: AVAILABLE_BACKENDS.includes('cpu') ? 'cpu' : 'reference'}),
    threads: Flags.integer({description: 'Worker threads (cpu backend and the bandwidth probe); default: all cores.', min: 1}),
    tokens: Flags.integer({char: 'n', description: 'Tokens to decode (timed).', default: 32, min: 1}),
    'prompt-tokens': Flags.integer({description: 'Prompt tokens to prefill first.', default: 16, min: 1}),
    'no-probe': Flags.boolean({description: 'Skip the bandwidth probe.', default: false}),
    json: Flags.boolean({description: 'Print the report as JSON.', default: false}),
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Bench);
    const progress = createProgress(!flags.json);
    let report: BenchReport;
    try {
      report = await runBench({
        model: args.model,
        shape: flags.shape,
        dtype: flags.dtype as BenchDtype,
        backend: flags.backend,
        threads: flags.threads,
        tokens: flags.tokens,
        promptTokens: flags['prompt-tokens'],
        probe: !flags['no-probe'],
        onProgress: (stage) => progress.update(stage),
        onWarning: warn,
      });
    } finally {
      progress.stop();
    }
    if (flags.json) {
      this.log(JSON.stringify(report, null, 2));
      return;
    }
    this.log(renderReport(report));
  }
}

function renderReport(r: BenchReport): string {
  const p = r.parameters;
  const head = makeTable();
  head.push(
    {model: r.shape ? `${r.shape} (synthetic, ${r.dtype})` : `${r.model} (${r.dtype})`},
    {shape: `dim ${p.dim}, ${p.nLayers} layers, ffn ${p.hiddenDim}, vocab ${p.vocabSize}`},
    {backend: `${r.backendInfo}`},
    {'weight bytes / token': formatBytes(r.weightBytesPerToken)},
    {'memory bandwidth (probe)': r.probeBytesPerSecond ? `${formatBytes(r.probeBytesPerSecond)}/s` : 'not measured'},
  );
  const speed = makeTable(['', 'tokens', 'tok/s', 'ms/token', 'weights read', 'of probe']);
  speed.push(
    ['prefill', String(r.promptTokens), r.prefillTokensPerSecond.toFixed(1), (1000 / r.prefillTokensPerSecond).toFixed(2), '', ''],
    [
      'decode',
      String(r.decodeTokens),
      r.decodeTokensPerSecond.toFixed(1),
      r.msPerToken.toFixed(2),
      `${formatBytes(r.achievedBytesPerSecond)}/s`,
      r.bandwidthUtilisation === null ? '-' : `${(r.bandwidthUtilisation * 100).toFixed(0)}%`,
    ],
  );
  let out = `${head.toString()}\n${speed.toString()}`;
  if (r.breakdown) {
    const parts = makeTable(['decode ms/token', 'attention', 'ffn', 'output layer', 'embedding']);
    const b = r.breakdown;
    parts.push(['', b.attention.toFixed(2), b.ffn.toFixed(2), b.output.toFixed(2), b.embed.toFixed(3)]);
    out += `\n${parts.toString()}`;
  }
  return out;
}
