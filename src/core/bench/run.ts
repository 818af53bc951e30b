/**
 * `hire bench`: decode speed against the memory-bandwidth limit, dense against HiRE. Decoding one
 * token reads every weight once, so tokens/s x weight bytes per token is the bandwidth the decoder
 * achieves; we divide it by the machine's best streaming-read bandwidth, measured in the same
 * process by a WebAssembly SIMD read on every thread over at least 512 MB.
 */
import os from 'node:os';
import {CpuKernels} from '../backends/cpu/kernels.js';
import {measureBandwidth} from '../backends/cpu/bandwidth.js';
import {DenseHead, type OutputHead} from '../decode/output-head.js';
import {argmax} from '../decode/sampler.js';
import type {Section} from '../decode/forward.js';
import {Session} from '../decode/session.js';
import {UsageError} from '../errors.js';
import {chooseHead} from '../hire/heads.js';
import {isBundle} from '../hire/bundle.js';
import {HireSoftmaxHead} from '../hire/softmax-head.js';
import type {SoftmaxKind} from '../hire/softmax-predictor.js';
import type {QuantBits} from '../hire/quant.js';
import {ensureSyntheticModel, type BenchDtype} from './models.js';
import {syntheticPredictor} from './synthetic-predictor.js';
import {defaultRank} from '../hire/fit.js';
import {SectionTimer} from './timer.js';

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
  /** Tokens to decode (timed). */
  tokens: number;
  /** Prompt tokens to prefill before decoding (timed separately). */
  promptTokens: number;
  /** Measure the machine's bandwidth (default true). */
  probe?: boolean;
  /** Add a HiRE-Softmax row: from the bundle when the model is one, else a synthetic predictor. */
  hire?: SyntheticHireSpec | null;
  /** Recall target for the bundle's k' table. */
  recall?: number;
  onProgress?: (stage: string) => void;
  onWarning?: (message: string) => void;
}

export interface BenchRow {
  mode: 'dense' | 'hire-softmax';
  head: string;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  msPerToken: number;
  /** Milliseconds per decoded token in each part of the forward pass (synchronous backends). */
  breakdown: Record<Section, number> | null;
  weightBytesPerToken: number;
  /** Weight bytes read per second while decoding. */
  achievedBytesPerSecond: number;
  /** achieved / probe. */
  bandwidthUtilisation: number | null;
  /** decode tokens/s over the dense row's. */
  speedup: number;
}

export interface BenchReport {
  model: string;
  shape: string | null;
  backend: string;
  backendInfo: string;
  threads: number;
  dtype: string;
  parameters: {dim: number; nLayers: number; hiddenDim: number; vocabSize: number};
  promptTokens: number;
  decodeTokens: number;
  /** Best streaming-read bandwidth measured in this run (null with probe off). */
  probeBytesPerSecond: number | null;
  rows: BenchRow[];
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  if (opts.tokens < 1) throw new UsageError('--tokens must be at least 1');
  if (opts.promptTokens < 1) throw new UsageError('--prompt-tokens must be at least 1');
  const threads = opts.threads ?? os.availableParallelism();
  let dir = opts.model;
  if (!dir) {
    opts.onProgress?.(`preparing synthetic ${opts.shape} (${opts.dtype ?? 'f32'})`);
    dir = ensureSyntheticModel(opts.shape ?? 'llama-110m', opts.dtype ?? 'f32').dir;
  }

  // Probe first, before the weights take memory (the probe's buffer is freed afterwards).
  let probe: number | null = null;
  if (opts.probe ?? true) {
    opts.onProgress?.('measuring memory bandwidth');
    const kernels = await CpuKernels.create({threads});
    try {
      probe = measureBandwidth(kernels).bytesPerSecond;
    } finally {
      kernels.dispose();
    }
  }

  opts.onProgress?.(`loading ${dir}`);
  const session = await Session.open(dir, {backend: opts.backend, threads, tokenizer: 'none', onWarning: opts.onWarning});
  try {
    const {model, backend, config} = session;
    const total = opts.promptTokens + opts.tokens;
    if (total > config.maxSeqLen) {
      throw new UsageError(`prompt + decode tokens (${total}) exceed the model's context (${config.maxSeqLen})`);
    }
    const heads: Array<{mode: BenchRow['mode']; head: OutputHead}> = [{mode: 'dense', head: new DenseHead(backend, model.weights.lmHead)}];
    const hireHead = makeHireHead(dir, session, opts);
    if (hireHead) heads.push({mode: 'hire-softmax', head: hireHead});

    const rows: BenchRow[] = [];
    for (const {mode, head} of heads) {
      opts.onProgress?.(`decoding ${opts.tokens} tokens with ${head.describe()}`);
      const t = await timeDecode(session, head, opts.promptTokens, opts.tokens);
      const bytes = session.bytesPerToken(head);
      const tps = opts.tokens / (t.decodeMs / 1000);
      rows.push({
        mode,
        head: head.describe(),
        prefillTokensPerSecond: opts.promptTokens / (t.prefillMs / 1000),
        decodeTokensPerSecond: tps,
        msPerToken: t.decodeMs / opts.tokens,
        breakdown: t.breakdown,
        weightBytesPerToken: bytes,
        achievedBytesPerSecond: bytes * tps,
        bandwidthUtilisation: probe ? (bytes * tps) / probe : null,
        speedup: rows.length ? tps / rows[0]!.decodeTokensPerSecond : 1,
      });
    }
    return {
      model: dir,
      shape: opts.model ? null : (opts.shape ?? 'llama-110m'),
      backend: backend.name,
      backendInfo: backend.describe(),
      threads,
      dtype: [...new Set(session.source.specs.map((s) => session.source.checkpoint.info(s.name).dtype))].join('+'),
      parameters: {dim: config.dim, nLayers: config.nLayers, hiddenDim: config.hiddenDim, vocabSize: config.vocabSize},
      promptTokens: opts.promptTokens,
      decodeTokens: opts.tokens,
      probeBytesPerSecond: probe,
      rows,
    };
  } finally {
    session.dispose();
  }
}

function makeHireHead(dir: string, session: Session, opts: BenchOptions): OutputHead | null {
  const {backend, config, model} = session;
  const lmHead = model.weights.lmHead;
  if (isBundle(dir)) {
    const sampling = {temperature: 0, topK: 0, topP: 1};
    const choice = chooseHead(dir, {backend, lmHead, vocabSize: config.vocabSize, dim: config.embedDim}, sampling, {
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
  if (kPrime < 1 || kPrime > config.vocabSize) throw new UsageError(`--k-prime must be in 1..${config.vocabSize}`);
  if (rank > dim) throw new UsageError(`--rank ${rank} is larger than the model width ${dim}`);
  const groupSize = dim % 64 === 0 ? 64 : dim;
  const predictor = syntheticPredictor({kind, vocabSize: config.vocabSize, dim, rank, bits, groupSize, seed: 5});
  return new HireSoftmaxHead(backend, lmHead, predictor, {kPrime, certifyK: null});
}

/** Prefill a fixed pseudo-random prompt, then decode greedily, timing each part. */
async function timeDecode(
  session: Session,
  head: OutputHead,
  promptTokens: number,
  tokens: number,
): Promise<{prefillMs: number; decodeMs: number; breakdown: Record<Section, number> | null}> {
  const {model, backend, config} = session;
  const prompt = Array.from({length: promptTokens}, (_, i) => (i * 7919 + 13) % config.vocabSize);
  const cache = model.createCache(promptTokens + tokens);
  const t0 = performance.now();
  for (let pos = 0; pos < prompt.length - 1; pos++) await model.hidden(prompt[pos]!, pos, cache);
  let r = await head.next(await model.hidden(prompt[prompt.length - 1]!, prompt.length - 1, cache));
  const prefillMs = performance.now() - t0;

  const timer = new SectionTimer();
  const timed = backend.name !== 'webgpu';
  if (timed) model.timer = timer;
  const t1 = performance.now();
  try {
    for (let i = 0; i < tokens; i++) {
      const next = r.ids ? r.ids[argmax(r.logits)]! : argmax(r.logits);
      timer.start();
      const h = await model.hidden(next, prompt.length + i, cache);
      r = await head.next(h);
      timer.mark('output');
    }
  } finally {
    model.timer = null;
  }
  const decodeMs = performance.now() - t1;
  return {prefillMs, decodeMs, breakdown: timed ? timer.perStep(tokens) : null};
}
