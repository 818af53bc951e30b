/**
 * score(): the log-probability of every token of a text (or of token ids) after its prefix, and
 * the top alternatives at each position, without generating: one batched pass over the sequence.
 * What evaluation harnesses need for log-likelihood requests (sum the entries of the continuation).
 *
 *   const r = await score(model, 'Once upon a time', {top: 5});
 *   r.tokens[3].logprob   // log p(token 3 | tokens 0..2)
 */
import {scoreTokens} from '../core/decode/score.js';
import {UsageError} from '../core/errors.js';
import {modelInternals, type HireModel} from './model.js';
import {DEFAULTS} from './defaults.js';
import {promptTokenIds} from './prompt.js';
import type {TokenLogprobs} from './result.js';

export interface ScoreOptions {
  /** Alternatives per position (default DEFAULTS.score.top, at most 100). */
  top?: number;
  /**
   * The dense output layer (default DEFAULTS.score.dense): exact log-probabilities. false on a HiRE bundle scores
   * through HiRE-Softmax: normalised over the k' candidates, and null for a token outside them.
   */
  dense?: boolean;
  /** HiRE (dense: false): recall target that picks k' (default DEFAULTS.recall), or k' itself. */
  recall?: number;
  kPrime?: number;
  predictor?: string;
  /**
   * HiRE (dense: false): 'drop' (DEFAULTS.logprobsTail) normalises over the k' candidates and gives a token
   * outside them null; 'estimate' adds the predictor's approximate logits of the other rows (every
   * token then gets an estimate).
   */
  tail?: 'drop' | 'estimate';
  signal?: AbortSignal;
}

/** One token of the scored sequence. */
export interface ScoredToken extends TokenLogprobs {
  id: number;
  /** The vocabulary's string of the token (null without a tokenizer). */
  token: string | null;
}

export interface ScoreResult {
  /** The scored ids (a text is encoded with the model's BOS policy, as generate() encodes prompts). */
  tokenIds: number[];
  /** One per token; the first has no prefix, so its logprob is null and it has no alternatives. */
  tokens: ScoredToken[];
  /** Sum of the log-probabilities of tokens 1..n-1 (null when one is null). */
  totalLogprob: number | null;
  /** The output layer used, e.g. "dense output layer (4096 rows)". */
  output: {kind: 'dense' | 'hire'; describe: string};
  ms: number;
}

const FULL_DISTRIBUTION = {temperature: 1, topK: 0, topP: 1};

export async function score(model: HireModel, textOrIds: string | readonly number[], options: ScoreOptions = {}): Promise<ScoreResult> {
  const internals = modelInternals(model);
  const top = options.top ?? DEFAULTS.score.top;
  if (!(Number.isInteger(top) && top >= 0 && top <= 100)) throw new UsageError(`top must be an integer from 0 to 100, got ${top}`, {option: 'top'});
  const ids = promptTokenIds(model, textOrIds, 'text');
  // (a bundle whose table reaches no recall target for the full distribution scores densely: `output` says so)
  if (options.tail !== undefined && options.tail !== 'drop' && options.tail !== 'estimate') throw new UsageError(`tail must be 'drop' or 'estimate', got ${String(options.tail)}`, {option: 'tail'});
  const approxTail = (options.tail ?? DEFAULTS.logprobsTail) === 'estimate';
  const {head} = internals.head(FULL_DISTRIBUTION, {dense: options.dense ?? DEFAULTS.score.dense, recall: options.recall ?? DEFAULTS.recall, kPrime: options.kPrime, predictor: options.predictor, approxTail});
  const r = await internals.step(() => scoreTokens(internals.decoder(), ids, head, {top, signal: options.signal}), options.signal);
  const tokens = r.positions.map((p, i) => ({
    id: ids[i]!,
    token: model.tokenString(ids[i]!),
    ...p,
    top: p.top.map((t) => ({id: t.id, token: model.tokenString(t.id), logprob: t.logprob})),
  }));
  return {tokenIds: ids, tokens, totalLogprob: r.total, output: {kind: head.kind, describe: head.describe()}, ms: r.ms};
}
