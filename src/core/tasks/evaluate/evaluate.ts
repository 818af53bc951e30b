/**
 * `hire eval`: what HiRE-Softmax costs in quality on text calibration never saw (by default the
 * validation split of the bundled corpus). The dense model runs over the text once; at every
 * position with a next token each predictor's approximate logits z~ are scored against the dense
 * logits z for every (k, k') asked for, giving the numbers of docs/ARCHITECTURE.md (Numbers every report carries): recall@k, top-1
 * agreement, KL / tail mass, and perplexity dense vs HiRE. Core code: never prints.
 */
import os from 'node:os';
import path from 'node:path';
import type {Vec} from '../../backends/backend.js';
import {readCorpus} from '../corpus.js';
import {DenseHead} from '../../decode/output-head.js';
import {topKIndices} from '../../numeric/select.js';
import {Session} from '../../engine/session.js';
import {BundleError, DataError, UsageError} from '../../errors.js';
import {openModel} from '../../model/load.js';
import {lookupKPrime, MANIFEST_FILE, readManifest, readPredictor, type FileHash, type HireManifest, type PredictorRecord} from '../../hire/bundle/bundle.js';
import {candidateKl, candidateLogProb, perplexity, perplexityWithDrops, tokenLogProb} from './metrics.js';
import type {RecallCurvePoints} from './plot.js';
import {RecallAccumulator} from '../../hire/predictor/recall.js';
import {evaluateFfn, type FfnEvalReport} from './ffn-evaluate.js';
import {HireSoftmaxHead} from '../../hire/softmax/head.js';
import type {SoftmaxKind} from '../../hire/predictor/predictor.js';

export const DEFAULT_EVAL_TOKENS = 2048;
export const DEFAULT_EVAL_SEQ_LEN = 128;

/**
 * Options of evaluate(); the library API (src/api/evaluate.ts) takes the same with `bundle`
 * optional and progress as events.
 */
export interface EvaluateOptions {
  /** Bundle directory made by `hire calibrate` (the API and CLI default: the bundled demo bundle, models/shakespeare-topk.hire). */
  bundle: string;
  /** Text files (default: the bundled corpus); their validation split is used. */
  data?: string[];
  /** Most evaluation tokens (default 2048); tokens - 1 next-token predictions are scored. */
  tokens?: number;
  /** Tokens per sequence; the KV cache restarts every seqLen tokens (default 128). */
  seqLen?: number;
  /** Top-k sizes (default: the ks the bundle measured). */
  ks?: number[];
  /**
   * Candidate counts, used for every predictor and k. Default, per predictor and k: the k' its
   * table stores for each recall target, plus k' = k (no oversampling) and k' = vocabSize (dense).
   */
  kPrimes?: number[];
  /** Predictor names (default: every predictor in the bundle). */
  predictors?: string[];
  /** Backend (default 'cpu'). */
  backend?: string;
  /** Threads of the backend (default: every core). */
  threads?: number;
  /** Evaluate HiRE-FFN (exact top-k against HiRE at each recall target) when the bundle has it (default true). */
  ffn?: boolean;
  /**
   * Also compare the full sha256 of every bundle weight file with hire.json (reads every byte; the
   * size and a sampled fingerprint are always compared). Default false.
   */
  verifyWeights?: boolean;
  /** Called at each stage, with (done, total) as counted stages advance. */
  onProgress?: (stage: string, done?: number, total?: number) => void;
  /** Non-fatal problems (e.g. a backend fallback); evaluation goes on. */
  onWarning?: (message: string) => void;
}

/** One (predictor, k, k') measurement; every number is a mean over the scored tokens. */
export interface EvalRow {
  predictor: string;
  kind: SoftmaxKind;
  /** Output-layer weight bytes per token: the predictor plus k' exact rows. */
  bytesPerToken: number;
  k: number;
  kPrime: number;
  /** Recall targets whose stored k' (for this k) is this k'; empty for grid points and --k-prime. */
  targets: number[];
  /** Mean recall@k: share of the dense top-k inside the candidates. */
  recall: number;
  /** Share of tokens whose whole dense top-k is inside the candidates. */
  fullRecall: number;
  /** Share of tokens where greedy HiRE picks the dense argmax. */
  top1Agreement: number;
  /** KL(p_S || q), KL(q || p) and p(not S) (see metrics.ts for why these three). */
  kl: number;
  tailMass: number;
  reverseKl: number;
  /** HiRE perplexity over the next tokens inside the candidates (kept tokens). */
  perplexity: number;
  /** Dense perplexity over the same kept tokens (the fair comparison for `perplexity`). */
  densePerplexityKept: number;
  /** Share of next tokens outside the candidates (HiRE cannot produce them). */
  droppedShare: number;
  /**
   * Perplexity over every next token when the tail keeps the predictor's approximate logits
   * (exact logits on the candidates, z~ elsewhere): finite, and equal to dense at k' = V.
   */
  approxTailPerplexity: number;
}

export interface EvalReport {
  bundle: string;
  split: 'validation';
  /** The evaluation text files. */
  data: FileHash[];
  /** Next-token predictions scored. */
  tokens: number;
  seqLen: number;
  vocabSize: number;
  /** The predictor calibration selected (the one decoding uses by default). */
  selected: string;
  dense: {perplexity: number; bytesPerToken: number};
  rows: EvalRow[];
  /** The held-out recall curves stored in hire.json, for the evaluated predictors. */
  curves: RecallCurvePoints[];
  /** HiRE-FFN rows (null when the bundle has no FFN section or it was not asked for). */
  ffn: FfnEvalReport | null;
}

export async function evaluate(opts: EvaluateOptions): Promise<EvalReport> {
  const progress = opts.onProgress ?? (() => {});
  const dir = path.resolve(opts.bundle);
  const maxTokens = opts.tokens ?? DEFAULT_EVAL_TOKENS;
  const seqLen = opts.seqLen ?? DEFAULT_EVAL_SEQ_LEN;
  if (!Number.isInteger(maxTokens) || maxTokens < 2) throw new UsageError(`tokens must be an integer >= 2, got ${maxTokens}`, {option: 'tokens'});
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new UsageError(`seqLen must be an integer >= 1, got ${seqLen}`, {option: 'seqLen'});
  // Cheap checks first (config, hire.json, names, k, k'), before any weight is uploaded.
  const {manifest, plans} = readPlans(dir, opts);

  progress('loading model');
  const session = await Session.open(dir, {
    backend: opts.backend ?? 'cpu',
    threads: opts.threads ?? os.availableParallelism(),
    onWarning: opts.onWarning,
    verifyWeights: opts.verifyWeights,
  });
  try {
    const {config, backend} = session;
    if (seqLen > config.maxSeqLen) throw new UsageError(`seqLen ${seqLen} exceeds the model's context of ${config.maxSeqLen} tokens`, {option: 'seqLen'});
    progress('reading evaluation text');
    const corpus = readCorpus(opts.data, 'validation');
    const ids = session.tokenizer!.encode(corpus.text, {addSpecialTokens: false}).slice(0, maxTokens);
    const files = corpus.files.map((f) => f.file).join(', ');
    if (ids.length < 2) throw new DataError(files, `its validation split has ${ids.length} token(s); evaluation needs at least 2`);
    if (ids.length < maxTokens) opts.onWarning?.(`the validation split of ${files} has only ${ids.length} tokens; evaluating on those`);

    const lmHead = session.model.weights.lmHead;
    const heads = plans.map(
      (p) => new HireSoftmaxHead(backend, lmHead, readPredictor(dir, manifest, p.record.name), {kPrime: 1, certifyK: null}),
    );
    const tallies = plans.map((p) => new PredictorTally(p));
    const maxK = Math.max(...plans.flatMap((p) => p.ks));
    const dense = new DenseHead(backend, lmHead);
    const denseLogProbs: number[] = [];
    await forEachPosition(session, ids, seqLen, progress, async (h, next) => {
      const logits = (await dense.next(h)).logits;
      const token: DenseToken = {logits, top: topKIndices(logits, maxK), next, logProb: tokenLogProb(logits, next)};
      denseLogProbs.push(token.logProb);
      for (let i = 0; i < heads.length; i++) tallies[i]!.add(token, await heads[i]!.approximate(h));
    });

    const rowBytes = lmHead.bytes / lmHead.rows;
    const ffn = manifest.ffn && opts.ffn !== false ? await evaluateFfn(session, dir, manifest.ffn, ids, seqLen, progress) : null;
    return {
      bundle: dir,
      split: 'validation',
      data: corpus.files,
      tokens: denseLogProbs.length,
      seqLen,
      vocabSize: config.vocabSize,
      selected: manifest.softmax!.selected,
      dense: {perplexity: perplexity(denseLogProbs), bytesPerToken: lmHead.bytes},
      rows: tallies.flatMap((t) => t.rows(rowBytes)),
      curves: storedCurves(plans.map((p) => p.record)),
      ffn,
    };
  } finally {
    session.dispose();
  }
}

/**
 * Runs the dense model over ids in chunks of seqLen tokens, each from position 0 (a fresh
 * sequence), and calls score(h, next token) at every position that has a next token. One cache is
 * reused: attention at pos reads positions 0..pos only, all written in the current chunk.
 */
async function forEachPosition(
  session: Session,
  ids: number[],
  seqLen: number,
  progress: (stage: string, done?: number, total?: number) => void,
  score: (h: Vec, next: number) => Promise<void>,
): Promise<void> {
  const positions = ids.length - 1;
  const cache = session.model.createCache(Math.min(seqLen, positions));
  for (let start = 0; start < positions; start += seqLen) {
    const end = Math.min(start + seqLen, positions);
    for (let t = start; t < end; t++) await score(await session.model.hidden(ids[t]!, t - start, cache), ids[t + 1]!);
    progress('scoring the validation text', end, positions);
  }
}

// ---------------------------------------------------------------------------------------------
// What to measure.

/** The (k, k') pairs measured for one predictor. */
export interface PredictorPlan {
  record: PredictorRecord;
  vocabSize: number;
  /** Sorted distinct k. */
  ks: number[];
  /** Sorted distinct k' over all pairs. */
  kPrimes: number[];
  /** Sorted by k, then k'. */
  pairs: Array<{k: number; kPrime: number; targets: number[]}>;
}

/** Reads hire.json beside the model's config (no weights) and plans the measurements. */
function readPlans(dir: string, opts: EvaluateOptions): {manifest: HireManifest; plans: PredictorPlan[]} {
  const source = openModel(dir);
  try {
    const manifest = readManifest(dir, source.config);
    return {manifest, plans: planEvaluation(manifest, opts, path.join(dir, MANIFEST_FILE))};
  } finally {
    source.checkpoint.close();
  }
}

/** Checks names, k and k' against the bundle and lists the (k, k') pairs of each predictor. */
export function planEvaluation(
  manifest: HireManifest,
  opts: {ks?: number[]; kPrimes?: number[]; predictors?: string[]},
  file: string = MANIFEST_FILE,
): PredictorPlan[] {
  const softmax = manifest.softmax;
  if (!softmax || softmax.predictors.length === 0) throw new BundleError(file, 'the bundle has no softmax predictor to evaluate; re-run hire calibrate');
  const vocab = manifest.model.vocabSize;
  const known = softmax.predictors.map((p) => p.name);
  const names = opts.predictors && opts.predictors.length > 0 ? [...new Set(opts.predictors)] : known;
  for (const name of names) {
    if (!known.includes(name)) throw new BundleError(file, `no softmax predictor named "${name}"; the bundle has: ${known.join(', ')}`);
  }
  checkSizes('ks', opts.ks, vocab);
  checkSizes('kPrimes', opts.kPrimes, vocab);
  return names.map((name) => {
    const record = softmax.predictors.find((p) => p.name === name)!;
    const ks = sortedUnique(opts.ks && opts.ks.length > 0 ? opts.ks : record.recall.ks);
    const pairs = ks.flatMap((k) => kPrimesFor(record, k, vocab, softmax.recallTargets, opts.kPrimes));
    return {record, vocabSize: vocab, ks, kPrimes: sortedUnique(pairs.map((p) => p.kPrime)), pairs};
  });
}

function kPrimesFor(record: PredictorRecord, k: number, vocab: number, targets: number[], given?: number[]): PredictorPlan['pairs'] {
  const chosen = new Map<number, number[]>();
  if (given && given.length > 0) {
    for (const kp of given) chosen.set(kp, []);
  } else {
    // The k' decoding would use for each recall target, plus two grid points.
    for (const kp of [k, vocab]) chosen.set(kp, []);
    for (const target of targets) {
      const kp = lookupKPrime(record, k, target).kPrime;
      if (kp !== null) chosen.set(kp, [...(chosen.get(kp) ?? []), target]);
    }
  }
  return [...chosen.entries()].sort(([a], [b]) => a - b).map(([kPrime, ts]) => ({k, kPrime, targets: ts}));
}

function checkSizes(option: string, values: number[] | undefined, vocab: number): void {
  for (const v of values ?? []) {
    if (!Number.isInteger(v) || v < 1 || v > vocab) {
      throw new UsageError(`${option} value ${v} must be an integer from 1 to the vocabulary size ${vocab}`, {option});
    }
  }
}

function sortedUnique(xs: number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** The held-out mean recall@k against k' that calibration stored, one curve per (predictor, k). */
function storedCurves(records: PredictorRecord[]): RecallCurvePoints[] {
  return records.flatMap((r) =>
    r.recall.ks.map((k, a) => ({
      predictor: r.name,
      k,
      points: r.recall.kPrimes.map((kPrime, b) => ({kPrime, recall: r.recall.mean[a]![b]!})),
    })),
  );
}

// ---------------------------------------------------------------------------------------------
// Scoring.

/** Sums of one k' over the scored tokens (the k-independent numbers). */
interface KPrimeSums {
  top1: number;
  kl: number;
  tailMass: number;
  reverseKl: number;
  /** log q(next token) per token; -Infinity when it was not a candidate. */
  logProbs: number[];
  /** log p(next token) of the tokens kept (inside the candidates). */
  denseKept: number[];
  /** log q~(next token) where q~ keeps the predictor's logits on the tail (every token counts). */
  tailLogProbs: number[];
}

/** What the dense model gives at one position. */
export interface DenseToken {
  /** Dense logits z [vocabSize]. */
  logits: Float32Array;
  /** topKIndices(logits, at least the largest k measured): best first, ties by lower id. */
  top: Int32Array;
  /** The true next token and its dense log-probability. */
  next: number;
  logProb: number;
}

/** Running measurements of one predictor; add() one token at a time, rows() at the end. */
/** log softmax(m)[token] for m = z~ with the candidates' exact logits written over it. */
function approxTailLogProb(approx: Float32Array, ids: Int32Array, logits: Float32Array, token: number): number {
  const mixed = Float64Array.from(approx);
  ids.forEach((id, i) => (mixed[id] = logits[i]!));
  let max = -Infinity;
  for (let i = 0; i < mixed.length; i++) if (mixed[i]! > max) max = mixed[i]!;
  let sum = 0;
  for (let i = 0; i < mixed.length; i++) sum += Math.exp(mixed[i]! - max);
  return mixed[token]! - max - Math.log(sum);
}

export class PredictorTally {
  private readonly recall: RecallAccumulator;
  private readonly sums: KPrimeSums[];
  private readonly maxKPrime: number;
  private n = 0;

  constructor(readonly plan: PredictorPlan) {
    this.recall = new RecallAccumulator(plan.ks, plan.kPrimes);
    this.sums = plan.kPrimes.map(() => ({top1: 0, kl: 0, tailMass: 0, reverseKl: 0, logProbs: [], denseKept: [], tailLogProbs: []}));
    this.maxKPrime = plan.kPrimes[plan.kPrimes.length - 1]!;
  }

  /** One position: the dense side and this predictor's approximate logits z~ [vocabSize]. */
  add(dense: DenseToken, approx: Float32Array): void {
    this.recall.add(dense.top, approx);
    const order = topKIndices(approx, this.maxKPrime); // candidates for k' are order[0, k')
    this.plan.kPrimes.forEach((kPrime, b) => {
      const ids = order.subarray(0, kPrime);
      // HiRE's exact stage computes W[C] h: the same rows times the same h as the dense layer,
      // so the candidates' exact logits are the dense logits at those ids; we gather them rather
      // than run a second (gathered-row) matvec.
      const logits = Float32Array.from(ids, (id) => dense.logits[id]!);
      const s = this.sums[b]!;
      if (ids[argmaxLowestId(ids, logits)] === dense.top[0]) s.top1++;
      const d = candidateKl(dense.logits, ids, logits);
      s.kl += d.kl;
      s.tailMass += d.tailMass;
      s.reverseKl += d.reverseKl;
      const lq = candidateLogProb(ids, logits, dense.next);
      s.logProbs.push(lq);
      if (lq > -Infinity) s.denseKept.push(dense.logProb);
      s.tailLogProbs.push(approxTailLogProb(approx, ids, logits, dense.next));
    });
    this.n++;
  }

  rows(rowBytes: number): EvalRow[] {
    const table = this.recall.table();
    const {record, pairs, kPrimes} = this.plan;
    const n = Math.max(this.n, 1);
    return pairs.map(({k, kPrime, targets}) => {
      const a = table.ks.indexOf(k);
      const b = kPrimes.indexOf(kPrime);
      const s = this.sums[b]!;
      const ppl = perplexityWithDrops(s.logProbs);
      return {
        predictor: record.name,
        kind: record.kind,
        bytesPerToken: record.bytesPerToken + kPrime * rowBytes,
        k,
        kPrime,
        targets,
        recall: table.mean[a]![b]!,
        fullRecall: table.full[a]![b]!,
        top1Agreement: s.top1 / n,
        kl: s.kl / n,
        tailMass: s.tailMass / n,
        reverseKl: s.reverseKl / n,
        perplexity: ppl.perplexity,
        densePerplexityKept: s.denseKept.length > 0 ? perplexity(s.denseKept) : Infinity,
        droppedShare: ppl.dropped / n,
        approxTailPerplexity: perplexity(s.tailLogProbs),
      };
    });
  }
}

/** Position of the largest logit, ties by lower id (as greedy decoding over the candidates picks). */
function argmaxLowestId(ids: Int32Array, logits: Float32Array): number {
  let best = 0;
  for (let j = 1; j < ids.length; j++) {
    const v = logits[j]!;
    const w = logits[best]!;
    if (v > w || (v === w && ids[j]! < ids[best]!) || (w !== w && v === v)) best = j;
  }
  return best;
}
