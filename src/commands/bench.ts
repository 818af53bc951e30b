import {Args, Flags} from '@oclif/core';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';
import {BaseCommand, warn} from '../cli/base-command.js';
import {formatBytes, makeTable} from '../cli/format.js';
import {verifyWeightsFlag} from '../cli/flags.js';
import {parseIntList, parseNumber} from '../cli/parse.js';
import {createProgress} from '../cli/progress.js';
import {AVAILABLE_BACKENDS} from '../core/backends/index.js';
import {shapeNames, type BenchDtype} from '../core/tasks/bench/models.js';
import {benchOutputLayer, type OutputLayerReport} from '../core/tasks/bench/output-layer.js';
import {runBench, type BenchReport} from '../core/tasks/bench/run.js';
import type {DeviceBenchReport} from '../core/tasks/bench/devices.js';
import type {TopKMode} from '../core/parallel/distributed-model.js';
import type {QuantBits} from '../core/numeric/quant.js';
import {SOFTMAX_KINDS, type SoftmaxKind} from '../core/hire/predictor/predictor.js';

export default class Bench extends BaseCommand {
  static override summary = 'Measure decode speed against the memory-bandwidth limit, dense against HiRE.';
  static override description = `Decodes a model (a directory or HiRE bundle, by default the bundled demo bundle, or a named synthetic shape with seeded random weights written once to the cache, $HIRE_CACHE_DIR or ~/.cache/hire) and reports prefill and decode tokens/s, ms per token by component, weight bytes per token, and bandwidth utilisation: weight bytes read per second divided by the best streaming-read bandwidth measured in the same run (a WebAssembly SIMD read on every thread over 512 MB).

With a bundle, or with --hire on any model, a HiRE-Softmax row is timed in the same run; with a bundle calibrated with --ffn, or with --ffn on any model, HiRE-FFN rows (FFN only, and FFN + softmax) too (on a model without a bundle the predictor has random values of the chosen kind and size: speed does not depend on them). --output-layer times the output layer alone on a random [--vocab, --dim] matrix.

Shapes: ${shapeNames().join(', ')}.`;

  static override examples = [
    '<%= config.bin %> bench',
    '<%= config.bin %> bench --shape llama-110m --backend cpu',
    '<%= config.bin %> bench --shape llama-470m --dtype bf16 --threads 2 --hire --k-prime 512',
    '<%= config.bin %> bench llama2xs.hire --json',
    '<%= config.bin %> bench --shape llama-110m --hire --ffn --ffn-group-size 8 --ffn-read 0.2',
    '<%= config.bin %> bench --shape llama-110m --hire --ffn --batch 2,4,8',
    '<%= config.bin %> bench --shape llama-110m --hire --k-prime 512 --devices 1,2,4 --no-probe',
    '<%= config.bin %> bench --output-layer --vocab 128256 --dim 2048 --k-prime 512 --softmax lowrank+quant --bits 4',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle (default: the bundled demo bundle, unless --shape is given).', required: false}),
  };

  static override optionFlags = {'hire.kPrime': 'k-prime', 'hire.rank': 'rank', 'ffn.topK': 'ffn-topk', 'devices.counts': 'devices', 'devices.modes': 'topk'};

  static override flags = {
    shape: Flags.string({description: 'Named synthetic shape (instead of a model directory).', options: shapeNames()}),
    dtype: Flags.string({description: 'Weight dtype of the synthetic shape.', default: 'f32', options: ['f32', 'bf16', 'f16']}),
    backend: Flags.string({char: 'b', description: `Compute backend: ${AVAILABLE_BACKENDS.join(', ')}.`, default: 'cpu'}),
    threads: Flags.integer({description: 'Worker threads (cpu backend and the bandwidth probe); default: all cores.', min: 1}),
    tokens: Flags.integer({char: 'n', description: 'Tokens to decode (timed).', default: 32, min: 1}),
    'prompt-tokens': Flags.integer({description: 'Prompt tokens to prefill first.', default: 16, min: 1}),
    'no-probe': Flags.boolean({description: 'Skip the bandwidth probe.', default: false}),
    hire: Flags.boolean({description: 'Add a HiRE-Softmax row with a synthetic predictor (automatic for bundles).', default: false}),
    softmax: Flags.string({description: 'Predictor kind for --hire and --output-layer.', options: [...SOFTMAX_KINDS], default: 'lowrank+quant'}),
    rank: Flags.integer({description: 'Predictor rank (default: width/8 within 8..256).', min: 1}),
    bits: Flags.string({description: 'Predictor bits.', options: ['8', '4'], default: '4'}),
    'k-prime': Flags.integer({description: "Softmax candidates k' (default for bundles: the table's k' at --recall).", min: 1}),
    recall: Flags.string({description: "Recall target for a bundle's k' table.", default: '0.99'}),
    ffn: Flags.boolean({description: 'Add HiRE-FFN rows (FFN only, FFN + softmax) with synthetic predictors (automatic for bundles calibrated with --ffn).', default: false}),
    'ffn-kind': Flags.string({description: 'FFN predictor kind for --ffn (lowrank: f32 factors, the fastest on cpu, whose int8/int4 kernels are compute-bound).', options: [...SOFTMAX_KINDS], default: 'lowrank'}),
    'ffn-bits': Flags.string({description: 'FFN predictor bits for --ffn.', options: ['8', '4'], default: '4'}),
    'ffn-group-size': Flags.integer({description: 'Neurons per group for --ffn.', default: 8, min: 1, max: 32}),
    'ffn-topk': Flags.string({description: 'Fraction of FFN neurons kept for --ffn (top-k FFN).', default: '0.1'}),
    'ffn-read': Flags.string({description: 'Fraction of FFN groups read per token for --ffn (synthetic weights have no sparsity to predict).', default: '0.2'}),
    repeat: Flags.integer({description: 'Time every row this many times, round-robin, and report each row\'s median run (for noisy machines).', default: 1, min: 1, max: 50}),
    batch: Flags.string({description: 'Batch sizes, e.g. 2,4,8: also decode that many sequences together (dense and the sparsest mode): tokens/s, bytes per token and FFN groups read for the batch.'}),
    'output-layer': Flags.boolean({description: 'Time the output layer alone (dense against HiRE).', default: false}),
    vocab: Flags.integer({description: 'Vocabulary size for --output-layer.', default: 32000, min: 1}),
    dim: Flags.integer({description: 'Width for --output-layer.', default: 2048, min: 1}),
    devices: Flags.string({description: 'Multi-device rows (DaT-Top-k) for these device counts, e.g. 1,2,4: ms/token, bytes moved between devices per token, DaT recall on bundles. Devices are worker threads (cpu, tfjs, reference), or with --backend webgpu GPUDevices in-process.'}),
    topk: Flags.string({description: 'Top-k modes for --devices: exact, dat, or both.', default: 'exact,dat'}),
    slack: Flags.integer({description: "DaT slack per device (default: the bundle's calibrated slack, else a quarter of k'/devices).", min: 0}),
    'ffn-recall': Flags.string({description: "With --devices on a bundle calibrated with --ffn: HiRE-FFN recall target that picks k'_g per layer (each device reads its share).", default: '0.99'}),
    'ffn-slack': Flags.integer({description: "With --devices and HiRE-FFN: dynamic groups each device reads beyond its share ceil(k'_g/N) (none on one device).", default: 1, min: 0}),
    json: Flags.boolean({description: 'Print the report as JSON.', default: false}),
    'verify-weights': verifyWeightsFlag,
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Bench);
    const progress = createProgress(!flags.json);
    const onProgress = (stage: string) => progress.update(stage);
    const bits = Number(flags.bits) as QuantBits;
    const kind = flags.softmax as SoftmaxKind;
    try {
      if (flags['output-layer']) {
        const report = await benchOutputLayer({
          vocabSize: flags.vocab,
          dim: flags.dim,
          kPrime: flags['k-prime'] ?? 512,
          kind,
          rank: flags.rank ?? Math.min(256, flags.dim),
          bits,
          backend: flags.backend,
          threads: flags.threads,
          steps: 50,
          onProgress,
        });
        progress.stop();
        this.log(flags.json ? JSON.stringify(report, null, 2) : renderOutputLayer(report));
        return;
      }
      const report = await runBench({
        model: args.model ?? (flags.shape ? undefined : DEMO_BUNDLE_DIR),
        shape: flags.shape,
        dtype: flags.dtype as BenchDtype,
        backend: flags.backend,
        threads: flags.threads,
        tokens: flags.tokens,
        promptTokens: flags['prompt-tokens'],
        probe: !flags['no-probe'],
        hire: flags.hire || flags['k-prime'] !== undefined ? {kind, rank: flags.rank, bits, kPrime: flags['k-prime'] ?? 512} : null,
        recall: parseNumber('--recall', flags.recall),
        ffn: flags.ffn
          ? {
              kind: flags['ffn-kind'] as SoftmaxKind,
              bits: Number(flags['ffn-bits']) as QuantBits,
              groupSize: flags['ffn-group-size'],
              topK: parseNumber('--ffn-topk', flags['ffn-topk']),
              read: parseNumber('--ffn-read', flags['ffn-read']),
            }
          : undefined,
        batch: flags.batch === undefined ? undefined : parseIntList('--batch', flags.batch),
        devices: flags.devices
          ? {
              counts: flags.devices.split(',').map(Number),
              modes: flags.topk.split(',') as TopKMode[],
              slack: flags.slack,
              ffnRecall: parseNumber('--ffn-recall', flags['ffn-recall']),
              ffnSlack: flags['ffn-slack'],
            }
          : null,
        verifyWeights: flags['verify-weights'],
        onProgress,
        onWarning: warn,
      });
      progress.stop();
      this.log(flags.json ? JSON.stringify(report, null, 2) : renderReport(report));
    } finally {
      progress.stop();
    }
  }
}

function renderReport(r: BenchReport): string {
  const p = r.parameters;
  const head = makeTable();
  head.push(
    {model: r.shape ? `${r.shape} (synthetic, ${r.dtype})` : `${r.model} (${r.dtype})`},
    {shape: `dim ${p.dim}, ${p.nLayers} layers, ffn ${p.hiddenDim}, vocab ${p.vocabSize}`},
    {backend: r.backendInfo},
    {'memory bandwidth (probe)': r.probeBytesPerSecond ? `${formatBytes(r.probeBytesPerSecond)}/s` : 'not measured'},
    {tokens: `${r.promptTokens} prefilled, ${r.decodeTokens} decoded`},
  );
  const speed = makeTable(['', 'prefill tok/s', 'decode tok/s', 'ms/token', 'weights/token', 'read', 'of probe', 'speedup']);
  for (const row of r.rows) {
    speed.push([
      row.head,
      row.prefillTokensPerSecond.toFixed(1),
      row.decodeTokensPerSecond.toFixed(1),
      row.msPerToken.toFixed(2),
      formatBytes(row.weightBytesPerToken),
      `${formatBytes(row.achievedBytesPerSecond)}/s`,
      row.bandwidthUtilisation === null ? '-' : `${(row.bandwidthUtilisation * 100).toFixed(0)}%`,
      `${row.speedup.toFixed(2)}x`,
    ]);
  }
  let out = `${head.toString()}\n${speed.toString()}`;
  for (const n of r.notes) out += `\nnote: ${n}`;
  const timed = r.rows.filter((row) => row.breakdown);
  if (timed.length) {
    const parts = makeTable(['decode ms/token', 'attention', 'ffn', 'output layer', 'embedding']);
    for (const row of timed) {
      const b = row.breakdown!;
      parts.push([row.mode, b.attention.toFixed(2), b.ffn.toFixed(2), b.output.toFixed(2), b.embed.toFixed(3)]);
    }
    out += `\n${parts.toString()}`;
  }
  if (r.batch.length) {
    const bt = makeTable(['batched', 'tok/s (all sequences)', 'vs one sequence', 'weights/token', 'one sequence', 'FFN groups/layer: batch vs one']);
    for (const row of r.batch) {
      bt.push([
        `${row.mode}, batch ${row.batch}`,
        row.tokensPerSecond.toFixed(1),
        `${row.speedup.toFixed(2)}x`,
        formatBytes(row.weightBytesPerToken),
        formatBytes(row.singleBytesPerToken),
        row.unionGroups === null ? '-' : `${row.unionGroups.toFixed(1)} vs ${row.groupsPerSequence!.toFixed(1)}`,
      ]);
    }
    out += `\n${bt.toString()}`;
  }
  if (r.devices) out += `\n${renderDevices(r.devices)}`;
  return out;
}

function renderDevices(d: DeviceBenchReport): string {
  const t = makeTable(['devices', 'top-k', 'ms/token', 'output layer ms', 'moved/token', 'all-reduce', 'softmax', 'vs 1 device', 'vs HiRE session', 'slack', 'FFN', 'FFN weights/token/device']);
  for (const row of d.rows) {
    t.push([
      String(row.devices),
      row.topk,
      row.speedClaim ? row.msPerToken.toFixed(2) : `(${row.msPerToken.toFixed(2)})`,
      row.speedClaim ? row.outputMsPerToken.toFixed(3) : `(${row.outputMsPerToken.toFixed(3)})`,
      formatBytes(row.traffic.total),
      formatBytes(row.traffic.allReduce),
      formatBytes(row.traffic.softmax),
      row.vsOneDevice === null ? '-' : `${row.vsOneDevice.toFixed(2)}x`,
      row.vsSingleHire === null ? '-' : `${row.vsSingleHire.toFixed(2)}x`,
      row.topk === 'dat' ? String(row.slack) : '-',
      row.ffn.sparse ? 'HiRE' : 'dense',
      row.ffn.bytesPerTokenPerDevice.map((b) => formatBytes(b)).join(' / '),
    ]);
  }
  let out = `${t.toString()}\n(latency in parentheses: more devices than the ${d.cores} cores, not a speed figure. 'vs 1 device': the same mode on one device of this runtime; 'vs HiRE session': the single-device HiRE row above, on all cores. The paper reports 2.27x over single-device HiRE on several TPUs. 'FFN weights/token/device': FFN weight bytes each device reads per token, predictors included)`;
  if (d.recall) {
    const rt = makeTable(['devices', "k'", 'k', 'slack', 'recall single', 'recall DaT', 'DaT, no slack']);
    for (const r of d.recall.rows) rt.push([String(r.devices), String(r.kPrime), String(r.k), String(r.slack), r.single.toFixed(4), r.dat.toFixed(4), r.datNoSlack.toFixed(4)]);
    out += `\nDaT recall@k against exact top-k on ${d.recall.tokens} held-out tokens\n${rt.toString()}`;
  }
  return out;
}

function renderOutputLayer(r: OutputLayerReport): string {
  const t = makeTable(['output layer', 'ms/step', 'bytes/step', 'speedup']);
  for (const row of r.rows) t.push([row.head, row.msPerStep.toFixed(3), formatBytes(row.bytesPerStep), `${row.speedup.toFixed(2)}x`]);
  return `output layer [${r.vocabSize}, ${r.dim}] f32 on ${r.backend}; predictor ${r.predictor} (${formatBytes(r.predictorBytes)})\n${t.toString()}`;
}
