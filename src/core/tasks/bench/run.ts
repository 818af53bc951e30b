/**
 * `hire bench`: decode speed against the memory-bandwidth limit, dense against HiRE, and prompt
 * processing against the compute limit. Decoding one token reads every weight once and the KV
 * cache up to its position, so tokens/s x those bytes is the bandwidth the decoder achieves; we
 * divide it by the machine's best streaming-read bandwidth, measured in the same process by a
 * WebAssembly SIMD read on every thread over at least 512 MB. A prompt is processed as blocks of
 * rows, which is compute-bound: its flops per second are divided by a compute probe, the cpu
 * kernels' multiply-add tile run on every thread over data in L1.
 */
import os from 'node:os';
import type {Backend, KvDtype} from '../../backends/backend.js';
import {measureComputeRate, openBandwidthProbe, type OpenBandwidthProbe} from '../../backends/index.js';
import {DenseHead, type OutputHead} from '../../decode/output-head.js';
import type {Section} from '../../decode/forward.js';
import {Session} from '../../engine/session.js';
import {UsageError} from '../../errors.js';
import {chooseHead} from '../../hire/softmax/choose-head.js';
import {isBundle} from '../../hire/bundle/bundle.js';
import {HireSoftmaxHead} from '../../hire/softmax/head.js';
import type {SoftmaxKind} from '../../hire/predictor/predictor.js';
import type {QuantBits} from '../../numeric/quant.js';
import {BENCH_DTYPES, ensureSyntheticBlockModel, ensureSyntheticModel, type BenchDtype} from './models.js';
import {syntheticPredictor} from '../../hire/predictor/synthetic.js';
import {defaultRank} from '../../hire/predictor/fit.js';
import {kvBytesPerDecodeStep, prefillFlopsPerToken} from './costs.js';
import {benchPrompt, median, spread, timeDecode, type TimedDecode} from './timing.js';
import {benchDevices, checkDeviceBenchOptions, type DeviceBenchOptions, type DeviceBenchReport} from './devices.js';
import {syntheticFfnPlans, type SyntheticFfnSpec} from '../../hire/ffn/synthetic-plans.js';
import {installFfnPlans, type SparseFfn} from '../../hire/ffn/setup.js';
import {generateBatch} from '../../decode/batch-generate.js';
import {blockFormatOf} from '../../model/weights.js';
import type {ModelWeights} from '../../decode/weights.js';
import {isBlockFormat} from '../../numeric/ggml-quant.js';
import {denseWeightOps, mainWeightDtype, measureComputeOps, type ComputeProbe} from './compute-probe.js';

/** A HiRE-Softmax row on a model without a bundle: a random predictor of this kind and size. */
export interface SyntheticHireSpec {
  kind: SoftmaxKind;
  /** Default: calibration's default for the model width. */
  rank?: number;
  bits: QuantBits;
  kPrime: number;
}

export interface BenchOptions {
  /** A model directory (or bundle), or undefined to use a named synthetic shape. */
  model?: string;
  shape?: string;
  dtype?: BenchDtype;
  backend: string;
  threads?: number;
  /** cpu: activations of the ggml block dot products, 'f32' (default), 'int16' or 'int8' (BackendOptions). */
  blockActivations?: 'f32' | 'int16' | 'int8';
  /** Tokens to decode (timed). */
  tokens: number;
  /** Prompt tokens to prefill before decoding (timed separately). */
  promptTokens: number;
  /**
   * Positions in the KV cache when the timed decode starts (decode speed at this context): the
   * prompt prefilled first is this long. Default promptTokens.
   */
  context?: number;
  /** KV cache element type (default 'f32'; 'f16' on the cpu backend). */
  kvDtype?: KvDtype;
  /** Measure the machine's bandwidth and compute rate (default true). */
  probe?: boolean;
  /** Add a HiRE-Softmax row: from the bundle when the model is one, else a synthetic predictor. */
  hire?: SyntheticHireSpec | null;
  /** Recall target for the bundle's k' table. */
  recall?: number;
  /**
   * Add HiRE-FFN rows (FFN only, and FFN + softmax when there is a softmax row): from the bundle
   * when it has an FFN section, else synthetic plans of this spec; null/undefined: no FFN rows
   * unless the bundle has them.
   */
  ffn?: SyntheticFfnSpec | null;
  /** Batch sizes to also decode together (batched rows for dense and the sparsest mode; 1s are skipped). */
  batch?: number[];
  /** Time every row this many times, round-robin, and keep each row's median run (default 1). */
  repeat?: number;
  /**
   * Seconds of untimed decoding (every row in turn, each at least once) before the timed runs
   * (default 0: one short run of the first row; the API and CLI pass DEFAULTS.bench.warmup).
   */
  warmup?: number;
  /**
   * Also compare the full sha256 of every bundle weight file with hire.json (reads every byte; the
   * size and a sampled fingerprint are always compared). Default false.
   */
  verifyWeights?: boolean;
  /** Multi-device rows (DaT-Top-k): device counts and top-k modes (src/core/tasks/bench/devices.ts). */
  devices?: DeviceBenchOptions | null;
  onProgress?: (stage: string) => void;
  onWarning?: (message: string) => void;
}

export type BenchMode = 'dense' | 'hire-softmax' | 'hire-ffn' | 'hire-both';

export interface BenchRow {
  mode: BenchMode;
  /** The output layer and FFN used, in words. */
  head: string;
  /** Prompt tokens per second (median over the repeats): the prompt as blocks of rows. */
  prefillTokensPerSecond: number;
  /** Flops per prompt token (prefillFlopsPerToken) x prompt tokens per second. */
  prefillFlopsPerSecond: number;
  /** prefillFlopsPerSecond / the compute probe. */
  computeUtilisation: number | null;
  decodeTokensPerSecond: number;
  /** Decode tokens/s of the row's runs (--repeat): smallest, median (decodeTokensPerSecond), largest; equal with one run. */
  decodeSpread: {min: number; median: number; max: number; runs: number};
  msPerToken: number;
  /** Milliseconds per decoded token in each part of the forward pass (synchronous backends). */
  breakdown: Record<Section, number> | null;
  weightBytesPerToken: number;
  /** KV cache bytes a decode step reads, averaged over the timed steps (grows with the context). */
  kvBytesPerToken: number;
  /** Weight and KV cache bytes read per second while decoding. */
  achievedBytesPerSecond: number;
  /**
   * Achieved bandwidth over the probe's: each run's against the probe measured just before its
   * round (roundProbeBytesPerSecond), the median of those (null with probe off).
   */
  bandwidthUtilisation: number | null;
  /**
   * Weight operations per second (2 per weight multiplied: compute-probe.ts): exact for the dense
   * row; for sparse rows the dense row's operations scaled by their share of its bytes.
   */
  weightOpsPerSecond: number;
  /** decode tokens/s over the dense row's. */
  speedup: number;
}

export interface BenchReport {
  model: string;
  shape: string | null;
  backend: string;
  backendInfo: string;
  /** The CPU this ran on (os.cpus()): its model name and logical cores. */
  cpu: {model: string; cores: number};
  threads: number;
  dtype: string;
  parameters: {dim: number; nLayers: number; hiddenDim: number; vocabSize: number};
  promptTokens: number;
  decodeTokens: number;
  /** Positions in the KV cache when decoding starts (the prompt's length). */
  context: number;
  kvDtype: KvDtype;
  /** Flops per prompt token: the layers' matrices, attention over the prompt, the output layer once. */
  prefillFlopsPerToken: number;
  /** Best streaming-read bandwidth measured at the start of this run (null with probe off). */
  probeBytesPerSecond: number | null;
  /** The same probe measured again before each round of timed rows (empty with probe off). */
  roundProbeBytesPerSecond: number[];
  /** The backend's matvec on an in-cache matrix of the model's main format (null with probe off). */
  computeProbe: ComputeProbe | null;
  /** Best multiply-add rate of the compute probe on every thread, flop/s (null with probe off). */
  probeFlopsPerSecond: number | null;
  rows: BenchRow[];
  /** Caveats on the figures (e.g. webgpu on llvmpipe: not GPU figures). */
  notes: string[];
  /** Batched decoding rows (--batch), each against the same mode decoded one sequence at a time. */
  batch: BatchRow[];
  /** Multi-device rows (--devices), or null. */
  devices: DeviceBenchReport | null;
}

export interface BatchRow {
  mode: BenchMode;
  batch: number;
  /** Generated tokens per second over all sequences. */
  tokensPerSecond: number;
  /** Weight bytes read per generated token (a step's reads / sequences). */
  weightBytesPerToken: number;
  /** The same mode's single-sequence bytes per token, from the rows above. */
  singleBytesPerToken: number;
  /** tokensPerSecond / the single-sequence row's decode tokens/s. */
  speedup: number;
  /** Sparse FFN: mean groups read per layer for the batch, and for one sequence. */
  unionGroups: number | null;
  groupsPerSequence: number | null;
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  if (opts.tokens < 1) throw new UsageError('tokens must be at least 1', {option: 'tokens'});
  if (opts.promptTokens < 1) throw new UsageError('promptTokens must be at least 1', {option: 'promptTokens'});
  if (opts.context !== undefined && !(Number.isInteger(opts.context) && opts.context >= 1)) throw new UsageError('context must be a positive integer', {option: 'context'});
  const promptTokens = opts.context ?? opts.promptTokens;
  if (opts.devices) checkDeviceBenchOptions(opts.devices);
  if (opts.repeat !== undefined && !(Number.isInteger(opts.repeat) && opts.repeat >= 1 && opts.repeat <= 50)) throw new UsageError('repeat must be an integer from 1 to 50', {option: 'repeat'});
  if (opts.warmup !== undefined && !(opts.warmup >= 0 && opts.warmup <= 600)) throw new UsageError(`warmup must be from 0 to 600 seconds, got ${opts.warmup}`, {option: 'warmup'});
  for (const b of opts.batch ?? []) if (!(Number.isInteger(b) && b >= 1 && b <= 64)) throw new UsageError(`batch sizes must be integers from 1 to 64, got ${b}`, {option: 'batch'});
  const threads = opts.threads ?? os.availableParallelism();
  let dir = opts.model;
  if (!dir) {
    opts.onProgress?.(`preparing synthetic ${opts.shape} (${opts.dtype ?? 'f32'})`);
    const shape = opts.shape ?? 'llama-110m';
    const dtype = opts.dtype ?? 'f32';
    if (!BENCH_DTYPES.includes(dtype)) throw new UsageError(`dtype must be one of ${BENCH_DTYPES.join(', ')}, got ${String(dtype)}`, {option: 'dtype'});
    dir = dtype === 'q8_0' || dtype === 'q4_0' ? (await ensureSyntheticBlockModel(shape, dtype)).dir : ensureSyntheticModel(shape, dtype).dir;
  }

  // Probe first, before the weights are loaded. The bandwidth probe's buffer is kept (512 MiB
  // more memory during the run): it is read again before every round of timed rows.
  let probes: Probes | null = null;
  if (opts.probe ?? true) {
    opts.onProgress?.('measuring memory bandwidth');
    const reader = await openBandwidthProbe(threads);
    try {
      const bytesPerSecond = reader.measure(3);
      opts.onProgress?.('measuring the compute rate');
      probes = {reader, bytesPerSecond, flopsPerSecond: await measureComputeRate(threads)};
    } catch (error) {
      reader.dispose();
      throw error;
    }
  }
  try {
    return await benchLoaded(opts, dir, threads, promptTokens, probes);
  } finally {
    probes?.reader.dispose();
  }
}

/** The machine's probes for a run: the bandwidth probe stays open, to be read again every round. */
interface Probes {
  reader: OpenBandwidthProbe;
  /** Best streaming read at the start of the run. */
  bytesPerSecond: number;
  /** The multiply-add probe. */
  flopsPerSecond: number;
}

/** runBench once the probes are taken: loads the model and times its rows. */
async function benchLoaded(opts: BenchOptions, dir: string, threads: number, promptTokens: number, probes: Probes | null): Promise<BenchReport> {
  const probe = probes?.bytesPerSecond ?? null;
  const computeProbe = probes?.flopsPerSecond ?? null;
  const reader = probes?.reader ?? null;
  opts.onProgress?.(`loading ${dir}`);
  const bundleFfn = isBundle(dir) && opts.ffn !== null;
  const session = await Session.open(dir, {
    backend: opts.backend,
    threads,
    blockActivations: opts.blockActivations,
    tokenizer: 'none',
    onWarning: opts.onWarning,
    ffnNeuronRows: bundleFfn || Boolean(opts.ffn) ? true : undefined,
    verifyWeights: opts.verifyWeights,
    kvDtype: opts.kvDtype,
  });
  try {
    const {model, backend, config} = session;
    const total = promptTokens + opts.tokens;
    if (total > config.maxSeqLen) {
      const option = opts.context !== undefined ? 'context' : 'promptTokens';
      throw new UsageError(`${option} ${promptTokens} + ${opts.tokens} decoded tokens need ${total} positions; the model holds ${config.maxSeqLen}`, {option});
    }
    const compute = probe === null ? null : await measureComputeOps(backend, mainWeightDtype(model.weights));
    const denseOps = denseWeightOps(model.weights);
    const kvDtype = model.kvDtype;
    const flopsPerToken = prefillFlopsPerToken(config, model.weights, promptTokens);
    const kvBytes = kvBytesPerDecodeStep(config, kvDtype, promptTokens, opts.tokens);
    const dense = new DenseHead(backend, model.weights.lmHead);
    const hireHead = makeHireHead(dir, session, opts);
    const ffn = session.sparseFfn ?? (opts.ffn ? await syntheticFfn(session, opts.ffn) : null);
    const baseTopK = config.ffnTopK;
    const layers = ffn ? ffn.overrides : null;
    const labelOf = (head: OutputHead, sparse: boolean) => (sparse ? `${head.describe()} + ${ffn!.describe}` : head.describe());
    const plans: Array<{mode: BenchMode; head: OutputHead; sparse: boolean}> = [{mode: 'dense', head: dense, sparse: false}];
    if (hireHead) plans.push({mode: 'hire-softmax', head: hireHead, sparse: false});
    if (ffn) plans.push({mode: 'hire-ffn', head: dense, sparse: true});
    if (ffn && hireHead) plans.push({mode: 'hire-both', head: hireHead, sparse: true});

    // Untimed warm-up decodes of every row in turn (each at least once; with warmup 0 only the
    // first row, once) until opts.warmup seconds have passed, so that no timed row pays for JIT
    // compilation, worker wake-up or cold caches: V8 optimises the per-token JavaScript over a
    // small model's first thousands of tokens (the demo bundle: ~400 tok/s in its first 128,
    // ~1900 later), and with one short warm-up each row ran faster than the one before it,
    // inflating the later rows' speed-ups.
    opts.onProgress?.('warming up');
    const warmup = opts.warmup ?? 0;
    const warmUntil = performance.now() + 1000 * warmup;
    const atLeast = warmup > 0 ? plans.length : 1;
    for (let i = 0; i < atLeast || performance.now() < warmUntil; i++) {
      const {head, sparse} = plans[i % plans.length]!;
      model.ffnOverride = sparse ? layers : null;
      model.setFfnTopK(sparse ? ffn!.topK : baseTopK);
      await timeDecode(session, head, promptTokens, Math.min(8, opts.tokens), promptTokens + opts.tokens);
    }
    // Rows are timed round-robin `repeat` times and each keeps its median run: on a noisy machine
    // a slow moment then hits every row alike instead of whichever row it fell on.
    const repeat = opts.repeat ?? 1;
    const runs: TimedDecode[][] = plans.map(() => []);
    const roundProbes: number[] = [];
    for (let r = 0; r < repeat; r++) {
      if (reader) {
        opts.onProgress?.(`measuring memory bandwidth${repeat > 1 ? ` (round ${r + 1} of ${repeat})` : ''}`);
        roundProbes.push(reader.measure(2));
      }
      for (const [i, {head, sparse}] of plans.entries()) {
        // the dense rows run the model as it is; the FFN rows with top-k and the sparse layers
        model.ffnOverride = sparse ? layers : null;
        model.setFfnTopK(sparse ? ffn!.topK : baseTopK);
        opts.onProgress?.(`decoding ${opts.tokens} tokens with ${labelOf(head, sparse)}${repeat > 1 ? ` (run ${r + 1} of ${repeat})` : ''}`);
        runs[i]!.push(await timeDecode(session, head, promptTokens, opts.tokens));
      }
    }
    const rows: BenchRow[] = [];
    for (const [i, {mode, head, sparse}] of plans.entries()) {
      const t = median(runs[i]!);
      const bytes = session.bytesPerToken(head, sparse ? ffn : null);
      const tps = opts.tokens / (t.decodeMs / 1000);
      const achieved = (bytes + kvBytes) * tps;
      // each run against the probe of its own round, the median of those
      const utilisation = roundProbes.length ? spread(runs[i]!.map((run, r) => ((bytes + kvBytes) * opts.tokens) / (run.decodeMs / 1000) / roundProbes[r]!)).median : null;
      const prefillTps = promptTokens / (t.prefillMs / 1000);
      rows.push({
        mode,
        head: labelOf(head, sparse),
        prefillTokensPerSecond: prefillTps,
        prefillFlopsPerSecond: prefillTps * flopsPerToken,
        computeUtilisation: computeProbe ? (prefillTps * flopsPerToken) / computeProbe : null,
        decodeTokensPerSecond: tps,
        decodeSpread: {...spread(runs[i]!.map((run) => opts.tokens / (run.decodeMs / 1000))), median: tps, runs: runs[i]!.length},
        msPerToken: t.decodeMs / opts.tokens,
        breakdown: t.breakdown,
        weightBytesPerToken: bytes,
        kvBytesPerToken: kvBytes,
        achievedBytesPerSecond: achieved,
        bandwidthUtilisation: utilisation,
        weightOpsPerSecond: (denseOps * tps * bytes) / session.denseBytesPerToken,
        speedup: rows.length ? tps / rows[0]!.decodeTokensPerSecond : 1,
      });
    }
    const batchRows: BatchRow[] = [];
    const wanted = [plans[0]!, plans[plans.length - 1]!].filter((p, i, a) => a.indexOf(p) === i);
    for (const batch of (opts.batch ?? []).filter((b) => b > 1)) {
      for (const plan of wanted) {
        const single = rows.find((r) => r.mode === plan.mode)!;
        model.ffnOverride = plan.sparse ? layers : null;
        model.setFfnTopK(plan.sparse ? ffn!.topK : baseTopK);
        opts.onProgress?.(`decoding ${batch} sequences together (${plan.mode})`);
        const prompts = Array.from({length: batch}, (_, b) => benchPrompt(promptTokens, config.vocabSize).map((id) => (id + b * 104729) % config.vocabSize));
        const r = await generateBatch(session, prompts, {maxTokens: opts.tokens, sampling: {temperature: 0, topK: 0, topP: 1}, seed: 1, eosTokenIds: [], head: plan.head});
        batchRows.push({
          mode: plan.mode,
          batch,
          tokensPerSecond: r.tokensPerSecond,
          weightBytesPerToken: r.bytesPerToken,
          singleBytesPerToken: single.weightBytesPerToken,
          speedup: r.tokensPerSecond / single.decodeTokensPerSecond,
          unionGroups: r.unionGroups,
          groupsPerSequence: r.groupsPerSequence,
        });
      }
    }
    model.ffnOverride = session.sparseFfn?.overrides ?? null;
    model.setFfnTopK(baseTopK);
    return {
      model: dir,
      shape: opts.model ? null : (opts.shape ?? 'llama-110m'),
      backend: backend.name,
      backendInfo: backend.describe(),
      cpu: cpuInfo(),
      threads,
      dtype: [...new Set(session.source.specs.map((s) => blockFormatOf(session.source.checkpoint, s.name) ?? session.source.checkpoint.info(s.name).dtype))].join('+'),
      parameters: {dim: config.dim, nLayers: config.nLayers, hiddenDim: config.hiddenDim, vocabSize: config.vocabSize},
      promptTokens,
      decodeTokens: opts.tokens,
      context: promptTokens,
      kvDtype,
      prefillFlopsPerToken: flopsPerToken,
      probeBytesPerSecond: probe,
      roundProbeBytesPerSecond: roundProbes,
      computeProbe: compute,
      probeFlopsPerSecond: computeProbe,
      rows,
      notes: [...figureNotes(backend, probe), ...denseRowNotes(model.weights, ffn !== null)],
      batch: batchRows,
      devices: opts.devices
        ? await benchDevices({...opts, dir, config, singleHireMsPerToken: rows.find((r) => r.mode === 'hire-softmax')?.msPerToken ?? null, devices: opts.devices})
        : null,
    };
  } finally {
    session.dispose();
  }
}

/**
 * What a reader of a webgpu run must know: on llvmpipe (no GPU) the kernels run on the CPU, so
 * the figures are not GPU figures; and the bandwidth probe always reads host memory on the CPU.
 */
function figureNotes(backend: Backend, probe: number | null): string[] {
  if (backend.name !== 'webgpu') return [];
  const notes: string[] = [];
  const software = (backend as {software?: boolean}).software === true;
  if (software) notes.push("webgpu ran on llvmpipe (Mesa's CPU rasteriser), not on a GPU: these are not GPU figures");
  if (probe !== null) {
    notes.push(
      software
        ? 'the bandwidth and compute probes are CPU probes (host memory, WebAssembly SIMD), which is what llvmpipe uses'
        : "the bandwidth and compute probes are CPU probes (host memory, WebAssembly SIMD), not the GPU's: 'of probe' is not a GPU utilisation",
    );
  }
  return notes;
}

/**
 * With FFN rows, W_out is held as neuron rows (the layout the sparse rows read), and the dense
 * row then runs the down projection as a weighted sum of all of them. On q8_0 / q4_0 weights that
 * sum is several times slower per weight than a block matvec (it widens every weight to f32 and
 * adds it into the output; llama-470m q4_0 measured 31.5 against 42-54 tok/s for a plain dense
 * run, docs/PERFORMANCE.md, sixth session), so that dense row, and the HiRE/dense ratios over it, are not a
 * plain dense run's: said in the report.
 */
function denseRowNotes(weights: ModelWeights, ffnRows: boolean): string[] {
  const wOut = weights.layers.find((l) => l.wDownT)?.wDownT;
  if (!ffnRows || !wOut || !isBlockFormat(wOut.dtype)) return [];
  return [
    `W_out is held as ${wOut.dtype} neuron rows for the FFN rows, so the dense row sums all of them (slower than a plain dense run's ${wOut.dtype} matvec): ` +
      'for a plain dense baseline run bench without FFN rows (or scripts/compare-llama-cpp.mjs)',
  ];
}

async function syntheticFfn(session: Session, spec: SyntheticFfnSpec): Promise<SparseFfn> {
  const {config, model} = session;
  if (config.hiddenDim % spec.groupSize !== 0) throw new UsageError(`ffn.groupSize ${spec.groupSize} must divide the FFN width ${config.hiddenDim}`, {option: 'ffn.groupSize'});
  const before = model.ffnTopK;
  const sparse = await installFfnPlans(model, syntheticFfnPlans(config, spec), spec.topK);
  model.ffnOverride = null;
  model.ffnTopK = before;
  return sparse;
}

function makeHireHead(dir: string, session: Session, opts: BenchOptions): OutputHead | null {
  const {backend, config, model} = session;
  const lmHead = model.weights.lmHead;
  if (isBundle(dir)) {
    const sampling = {temperature: 0, topK: 0, topP: 1};
    const choice = chooseHead(dir, {backend, lmHead, config}, sampling, {
      recall: opts.recall,
      kPrime: opts.hire?.kPrime,
    });
    if (choice.note) opts.onWarning?.(choice.note);
    return choice.head.kind === 'hire' ? choice.head : null;
  }
  if (!opts.hire) return null;
  const {kind, bits, kPrime} = opts.hire;
  const dim = config.embedDim;
  const rank = opts.hire.rank ?? defaultRank(dim);
  if (kPrime < 1 || kPrime > config.vocabSize) throw new UsageError(`hire.kPrime must be in 1..${config.vocabSize}`, {option: 'hire.kPrime'});
  if (rank > dim) throw new UsageError(`hire.rank ${rank} is larger than the model width ${dim}`, {option: 'hire.rank'});
  const groupSize = dim % 64 === 0 ? 64 : dim;
  const predictor = syntheticPredictor({kind, vocabSize: config.vocabSize, dim, rank, bits, groupSize, seed: 5});
  return new HireSoftmaxHead(backend, lmHead, predictor, {kPrime, certifyK: null});
}

/** The machine's CPU model and logical core count, for the report (bandwidth and speed depend on it). */
function cpuInfo(): {model: string; cores: number} {
  const cpus = os.cpus();
  return {model: cpus[0]?.model.trim() || 'unknown', cores: cpus.length};
}
