/**
 * Scoring without generating: the log-probability of every token of a sequence after its prefix,
 * and the top alternatives at each position, from one prefill over the whole sequence (the rows
 * of a block run together; the decoder's prefillRows gives every row's head result). What
 * evaluation harnesses ask for as log-likelihood requests. decode/logprobs.ts says what the values
 * are under a dense and a HiRE head.
 */
import {AbortError, UsageError} from '../errors.js';
import type {DecodeHead, Decoder} from './decoder.js';
import {checkPrompt} from './generate.js';
import {tokenLogprobs, type LogprobInfo} from './logprobs.js';
import type {HeadResult} from './output-head.js';

export interface ScoreOptions {
  /** Alternatives per position (default 0). */
  top?: number;
  signal?: AbortSignal;
}

export interface ScoredSequence {
  /**
   * One entry per token: entry i is the distribution at position i given tokens 0..i-1 (entry 0
   * has no prefix: logprob null, no alternatives).
   */
  positions: LogprobInfo[];
  /** Sum of the log-probabilities of tokens 1..n-1 (null when one of them is outside a sparse head's candidates). */
  total: number | null;
  ms: number;
}

export async function scoreTokens(decoder: Decoder, ids: readonly number[], head: DecodeHead, opts: ScoreOptions = {}): Promise<ScoredSequence> {
  const {vocabSize, maxSeqLen} = decoder.config;
  if (ids.length > maxSeqLen) throw new UsageError(`the text to score has ${ids.length} tokens; this model's context is ${maxSeqLen}`);
  checkPrompt(ids, {vocabSize, maxSeqLen: maxSeqLen + 1}); // empty, or ids outside the vocabulary
  const top = opts.top ?? 0;
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new AbortError('scoring', {cause: opts.signal.reason});
  };
  const t0 = performance.now();
  const positions: LogprobInfo[] = [{logprob: null, top: [], normalisedOver: 0, exact: true, tail: 'none'}];
  // the result after token i scores token i + 1; the last row has nothing left to score
  const onRow = (i: number, r: HeadResult): void => {
    if (i + 1 < ids.length) positions.push(tokenLogprobs(r, ids[i + 1]!, top));
  };
  checkAbort();
  const seq = await decoder.openSequence(ids.length);
  if (decoder.prefillRows) {
    await decoder.prefillRows(seq, ids, head, onRow, checkAbort);
  } else {
    onRow(0, await decoder.prefill(seq, ids.slice(0, 1), head, checkAbort));
    for (let i = 1; i < ids.length; i++) {
      checkAbort();
      onRow(i, (await decoder.step([seq], [ids[i]!], head))[0]!);
    }
  }
  let total: number | null = 0;
  for (const p of positions.slice(1)) total = total === null || p.logprob === null ? null : total + p.logprob;
  return {positions, total, ms: performance.now() - t0};
}
