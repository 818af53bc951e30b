/**
 * `hire eval`: the perplexity of any model on any text, and on a HiRE bundle what HiRE costs in
 * quality. The dense model runs over the text in sliding windows (windows.ts: each next token
 * scored once, with at least window - stride tokens of context after the first window), in
 * blocks of rows through the batched forward pass. Every scored token gives the dense
 * perplexity's terms (with its standard error); on a bundle each predictor's approximate logits
 * z~ are also scored against the dense logits z for every (k, k') (tally.ts), and HiRE-FFN gets
 * its own rows (ffn-evaluate.ts). A plain checkpoint gives the dense perplexity alone. Core code:
 * reports progress through a callback, never prints.
 */
import os from 'node:os';
import path from 'node:path';
import type {KvDtype, Vec} from '../../backends/backend.js';
import type {BackendOptions} from '../../backends/index.js';
import {readCorpus, type Split} from '../corpus.js';
import {PREFILL_CHUNK} from '../../decode/forward.js';
import {DenseHead} from '../../decode/output-head.js';
import {topKIndices} from '../../numeric/select.js';
import {Session} from '../../engine/session.js';
import {DataError, UsageError} from '../../errors.js';
import {isBundle, readPredictor, type FileHash} from '../../hire/bundle/bundle.js';
import {perplexityWithError, tokenLogProb} from './metrics.js';
import type {RecallCurvePoints} from './plot.js';
import {evaluateFfn, type FfnEvalReport} from './ffn-evaluate.js';
import {HireSoftmaxHead} from '../../hire/softmax/head.js';
import {StageProgress, type CoreProgress} from '../progress.js';
import {readPlans, storedCurves, type PlanOptions, type PredictorPlan} from './plan.js';
import {PredictorTally, type EvalRow} from './tally.js';
import {slidingWindows, type EvalWindow} from './windows.js';

export {planEvaluation, type PredictorPlan} from './plan.js';
export {PredictorTally, type DenseToken, type EvalRow} from './tally.js';

/** The default window: the model's context, at most this many tokens. */
export const DEFAULT_EVAL_WINDOW_CAP = 512;

/**
 * Options of evaluate(); the library API (src/api/evaluate.ts) takes the same with `model`
 * optional and progress as events.
 */
export interface EvaluateOptions extends PlanOptions {
  /**
   * Model directory: a HiRE bundle made by `hire calibrate` (dense and HiRE rows) or a plain
   * checkpoint (the dense perplexity only). The API and CLI default: the bundled demo bundle.
   */
  model: string;
  /** Text files (default: the bundled corpus). */
  data?: string[];
  /**
   * The part of each file read: 'all', 'train' (the first 90%, cut after a line break) or
   * 'validation' (the rest). Default: 'all' for data files; 'validation' for the bundled corpus,
   * whose train split trained the demo model and calibrated the demo bundle.
   */
  split?: Split;
  /** Most tokens of the text to use (default: all of it); tokens - 1 next tokens are scored. */
  tokens?: number;
  /** Tokens per window W (default: the model's context, at most 512). */
  window?: number;
  /** Tokens between window starts S, 1 <= S < W (default: floor(W / 2)). */
  stride?: number;
  /** Backend (default 'cpu'). */
  backend?: string;
  /** Threads of the backend (default: every core). */
  threads?: number;
  /** KV cache element type (default 'f32'; 'f16' halves its bytes, cpu backend). */
  kvDtype?: KvDtype;
  /** cpu, ggml block weights: activations of the block dot products (default 'f32', exact). */
  blockActivations?: BackendOptions['blockActivations'];
  /** Evaluate HiRE-FFN (exact top-k against HiRE at each recall target) when the bundle has it (default true). */
  ffn?: boolean;
  /**
   * Also compare the full sha256 of every bundle weight file with hire.json (reads every byte; the
   * size and a sampled fingerprint are always compared). Default false.
   */
  verifyWeights?: boolean;
  /** Called at each stage, with (done, total) as counted stages advance. */
  onProgress?: CoreProgress;
  /** Non-fatal problems (e.g. a backend fallback); evaluation goes on. */
  onWarning?: (message: string) => void;
}

export interface EvalReport {
  /** The model directory evaluated. */
  model: string;
  /** The same directory when it is a HiRE bundle; null for a plain checkpoint (no HiRE rows). */
  bundle: string | null;
  /** The part of each text file read. */
  split: Split;
  /** The bundled corpus's name when no data files were given, else null. */
  corpus: string | null;
  /** The evaluation text files. */
  data: FileHash[];
  /** Tokens of the text evaluated (the whole split unless `tokens` capped it). */
  textTokens: number;
  /** Next tokens scored: textTokens - 1, each once. */
  tokens: number;
  /** Window W and stride S (windows.ts); windows run. */
  window: number;
  stride: number;
  windows: number;
  vocabSize: number;
  /** The predictor calibration selected (the one decoding uses by default); null on a plain checkpoint. */
  selected: string | null;
  /** Dense perplexity over every scored token, its standard error (metrics.ts), and output-layer bytes per token. */
  dense: {perplexity: number; stderr: number; bytesPerToken: number};
  rows: EvalRow[];
  /** The held-out recall curves stored in hire.json, for the evaluated predictors. */
  curves: RecallCurvePoints[];
  /** HiRE-FFN rows (null when the bundle has no FFN section or it was not asked for). */
  ffn: FfnEvalReport | null;
}

export async function evaluate(opts: EvaluateOptions): Promise<EvalReport> {
  const dir = path.resolve(opts.model);
  checkCounts(opts);
  // Cheap checks first (config, hire.json, names, k, k'), before any weight is uploaded.
  const bundle = isBundle(dir) ? readPlans(dir, opts) : noPlans(opts);
  const withFfn = bundle !== null && bundle.manifest.ffn !== null && opts.ffn !== false;
  const stages = new StageProgress(opts.onProgress ?? (() => {}), withFfn ? 4 : 3);

  await stages.start('loading model');
  const session = await Session.open(dir, {
    backend: opts.backend ?? 'cpu',
    threads: opts.threads ?? os.availableParallelism(),
    kvDtype: opts.kvDtype,
    blockActivations: opts.blockActivations,
    onWarning: opts.onWarning,
    verifyWeights: opts.verifyWeights,
  });
  try {
    const {config, backend} = session;
    const window = opts.window ?? Math.min(config.maxSeqLen, DEFAULT_EVAL_WINDOW_CAP);
    if (window > config.maxSeqLen) throw new UsageError(`window ${window} exceeds the model's context of ${config.maxSeqLen} tokens`, {option: 'window'});
    const stride = opts.stride ?? Math.max(1, Math.floor(window / 2));
    slidingWindows(2, window, stride); // checks window and stride before the text is read

    const split = opts.split ?? (opts.data && opts.data.length > 0 ? 'all' : 'validation');
    const corpus = readCorpus(opts.data, split);
    const files = corpus.files.map((f) => f.file).join(', ');
    await stages.start(`tokenizing ${files}`);
    const ids = session.tokenizer!.encode(corpus.text, {addSpecialTokens: false}).slice(0, opts.tokens);
    if (ids.length < 2) throw new DataError(files, `${split === 'all' ? 'it has' : `its ${split} split has`} ${ids.length} token(s); evaluation needs at least 2`);
    const windows = slidingWindows(ids.length, window, stride);

    const lmHead = session.model.weights.lmHead;
    const plans = bundle?.plans ?? [];
    const scorer = new Scorer(new DenseHead(backend, lmHead), plans, (p) => new HireSoftmaxHead(backend, lmHead, readPredictor(dir, bundle!.manifest, p.record.name), {kPrime: 1, certifyK: null}));
    await stages.start(bundle ? 'scoring dense and HiRE-Softmax' : 'scoring', ids.length - 1, 'tokens');
    await runWindows(session, ids, windows, stages, (hs, targets) => scorer.score(hs, targets.map((t) => ids[t]!)));

    const ffnManifest = bundle?.manifest.ffn;
    const ffn = withFfn && ffnManifest ? await evaluateFfn(session, dir, ffnManifest, ids, windows, stages) : null;
    const dense = perplexityWithError(scorer.denseLogProbs);
    return {
      model: dir,
      bundle: bundle ? dir : null,
      split,
      corpus: corpus.bundled,
      data: corpus.files,
      textTokens: ids.length,
      tokens: scorer.denseLogProbs.length,
      window,
      stride,
      windows: windows.length,
      vocabSize: config.vocabSize,
      selected: bundle?.manifest.softmax?.selected ?? null,
      dense: {perplexity: dense.perplexity, stderr: dense.stderr, bytesPerToken: lmHead.bytes},
      rows: scorer.rows(lmHead.bytes / lmHead.rows),
      curves: storedCurves(plans.map((p) => p.record)),
      ffn,
    };
  } finally {
    session.dispose();
  }
}

function checkCounts(opts: EvaluateOptions): void {
  const {tokens, window, stride} = opts;
  if (tokens !== undefined && (!Number.isInteger(tokens) || tokens < 2)) throw new UsageError(`tokens must be an integer >= 2, got ${tokens}`, {option: 'tokens'});
  if (window !== undefined) slidingWindows(2, window, stride ?? Math.max(1, Math.floor(window / 2)));
  else if (stride !== undefined && (!Number.isInteger(stride) || stride < 1)) throw new UsageError(`stride must be an integer >= 1, got ${stride}`, {option: 'stride'});
}

/** A plain checkpoint: no HiRE rows, so options that choose them are mistakes. */
function noPlans(opts: EvaluateOptions): null {
  for (const option of ['ks', 'kPrimes', 'predictors'] as const) {
    if ((opts[option]?.length ?? 0) > 0) throw new UsageError(`${option} chooses HiRE rows, but ${opts.model} is a plain checkpoint (no hire.json): drop it, or evaluate a bundle made by hire calibrate`, {option});
  }
  return null;
}

/**
 * Runs the model over each window from position 0 (one cache, reused: attention at position p
 * reads positions 0..p only, all written in the current window), in blocks of up to PREFILL_CHUNK
 * rows, and calls score(hidden states, target positions) for the rows whose next token the
 * window scores. The hidden states are valid until the next block runs.
 */
export async function runWindows(
  session: Session,
  ids: readonly number[],
  windows: readonly EvalWindow[],
  stages: StageProgress,
  score: (hs: Vec[], targets: number[]) => Promise<void>,
): Promise<void> {
  const model = session.model;
  const cache = model.createCache(Math.max(...windows.map((w) => w.end - w.start)));
  let scored = 0;
  for (const w of windows) {
    // Inputs start .. end-2 predict targets start+1 .. end-1; input end-1 predicts nothing here.
    for (let b = w.start; b < w.end - 1; b += PREFILL_CHUNK) {
      const last = Math.min(b + PREFILL_CHUNK, w.end - 1);
      const tokens = ids.slice(b, last);
      const hs = await model.run({tokens, positions: tokens.map((_, i) => b - w.start + i), caches: tokens.map(() => cache)});
      const rows: Vec[] = [];
      const targets: number[] = [];
      hs.forEach((h, i) => {
        const target = b + i + 1;
        if (target >= w.firstTarget) {
          rows.push(h);
          targets.push(target);
        }
      });
      if (rows.length > 0) await score(rows, targets);
      scored += rows.length;
      await stages.advance(scored);
    }
  }
}

/** The dense log-likelihoods and, on a bundle, each predictor's tally, over the scored tokens. */
class Scorer {
  readonly denseLogProbs: number[] = [];
  private readonly heads: HireSoftmaxHead[];
  private readonly tallies: PredictorTally[];
  private readonly maxK: number;

  constructor(
    private readonly dense: DenseHead,
    plans: PredictorPlan[],
    head: (plan: PredictorPlan) => HireSoftmaxHead,
  ) {
    this.heads = plans.map(head);
    this.tallies = plans.map((p) => new PredictorTally(p));
    this.maxK = Math.max(1, ...plans.flatMap((p) => p.ks));
  }

  async score(hs: Vec[], next: number[]): Promise<void> {
    const {results} = await this.dense.nextBatch(hs);
    for (let r = 0; r < hs.length; r++) {
      const logits = results[r]!.logits;
      const logProb = tokenLogProb(logits, next[r]!);
      this.denseLogProbs.push(logProb);
      if (this.heads.length === 0) continue;
      const token = {logits, top: topKIndices(logits, this.maxK), next: next[r]!, logProb};
      for (let i = 0; i < this.heads.length; i++) this.tallies[i]!.add(token, await this.heads[i]!.approximate(hs[r]!));
    }
  }

  rows(rowBytes: number): EvalRow[] {
    return this.tallies.flatMap((t) => t.rows(rowBytes));
  }
}
