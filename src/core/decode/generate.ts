/**
 * The generation loop: prefill the prompt, then one token at a time until eos, the token budget,
 * or the context is full. Yields each token as it is chosen; returns the statistics.
 */
import {AbortError, UsageError} from '../errors.js';
import type {DecodeHead, DecodeSequence, Decoder} from './decoder.js';
import type {LogprobInfo} from './logprobs.js';
import {NextToken} from './next-token.js';
import type {HeadResult} from './output-head.js';
import type {PenaltyOptions} from './penalties.js';
import type {SamplingOptions} from './sampler.js';

export interface GenerateOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  seed: number;
  /** Token ids that end generation (not yielded). Empty: run to maxTokens. */
  eosTokenIds: readonly number[];
  /** How logits are produced from the final hidden state (default: the dense output layer). */
  head?: DecodeHead;
  /** Called after the prompt has been processed (for progress display). */
  onPrefillDone?: () => void;
  /** Once aborted, the next forward step (prefill or decode) throws AbortError instead of running. */
  signal?: AbortSignal;
  /** Penalties on tokens already in the sequence (prompt included), applied before sampling. */
  penalties?: PenaltyOptions;
  /** Report each token's log-probability and this many alternatives (0: the token's own only); off when absent. */
  logprobs?: number;
  /**
   * Asked after each yielded token, once the caller has taken it (stop strings): true ends the
   * generation there (stop reason 'stop') without feeding that token back.
   */
  shouldStop?: () => boolean;
}

export interface TokenEvent {
  id: number;
  /** Position of this token in the sequence (prompt included). */
  pos: number;
  /** With the logprobs option: the token's log-probability and the top alternatives. */
  logprobs?: LogprobInfo;
}

/** eos, the token budget, a full context, or a stop string (shouldStop). */
export type StopReason = 'eos' | 'max_tokens' | 'context_full' | 'stop';

export interface GenerateStats {
  /** Tokens the prefill ran (in a chat turn: the new ones only, the history comes from the KV cache). */
  promptTokens: number;
  generatedTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** Prompt tokens per second (the first sampled token's logits included). */
  prefillTokensPerSecond: number;
  /** Decode steps (forward passes after the prompt) per second. */
  decodeTokensPerSecond: number;
  stopReason: StopReason;
}

/**
 * A sequence kept open across generations (a chat). `seq` is opened with room for the whole
 * context on first use; `ids` are the ids given to or generated on it so far, of which the first
 * seq.length are in its KV cache (a last generated token is never fed back). A generation on it
 * keeps the longest common prefix of those and its prompt, rewinds the rest, and prefills only
 * the prompt's remaining tokens.
 */
export interface Continuation {
  seq: DecodeSequence | null;
  ids: readonly number[];
}

export async function* generateTokens(
  decoder: Decoder,
  promptIds: readonly number[],
  opts: GenerateOptions,
  continuation?: Continuation,
): AsyncGenerator<TokenEvent, GenerateStats> {
  const c = decoder.config;
  checkPrompt(promptIds, c);
  const head = opts.head ?? decoder.head(opts.sampling, {dense: true}).head;
  let seq: DecodeSequence | null = null;
  if (continuation) continuation.seq ??= await decoder.openSequence(c.maxSeqLen);
  const keep = continuation ? reusablePrefix(continuation, promptIds) : 0;
  const limit = Math.min(c.maxSeqLen, continuation?.seq?.maxLen ?? Infinity, promptIds.length + opts.maxTokens);
  try {
    return yield* decodeLoop({ids: promptIds, prefilled: promptIds.length - keep, limit}, c.maxSeqLen, opts, {
      // the prompt (what the cache lacks of it) in blocks of rows; only the last token needs logits
      prefill: async (checkAbort) => {
        checkAbort();
        if (continuation) {
          seq = continuation.seq!;
          decoder.rewind(seq, keep);
        } else {
          seq = await decoder.openSequence(Math.min(c.maxSeqLen, promptIds.length + opts.maxTokens));
        }
        return decoder.prefill(seq, promptIds.slice(keep), head, checkAbort);
      },
      step: async (id) => (await decoder.step([seq!], [id], head))[0]!,
    });
  } finally {
    // a sequence of its own goes back now (also when the caller stops early or the generation
    // fails); a continuation's sequence belongs to the conversation that carries it on
    if (seq && !continuation) decoder.closeSequence(seq);
  }
}

/** Positions of the continued sequence that the prompt can keep (at least one prompt token is always run, for its logits). */
function reusablePrefix(k: Continuation, promptIds: readonly number[]): number {
  const held = Math.min(k.seq?.length ?? 0, k.ids.length, promptIds.length - 1);
  let n = 0;
  while (n < held && k.ids[n] === promptIds[n]) n++;
  return n;
}

/** Rejects an empty prompt, ids outside the vocabulary, and a prompt that fills the context. */
export function checkPrompt(promptIds: readonly number[], c: {vocabSize: number; maxSeqLen: number}): void {
  if (promptIds.length === 0) throw new UsageError('the prompt is empty: give prompt text or token ids');
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
      throw new UsageError(`token id ${id} is outside the vocabulary (0..${c.vocabSize - 1})`);
    }
  }
  if (promptIds.length >= c.maxSeqLen) {
    throw new UsageError(`the prompt has ${promptIds.length} tokens; this model's context is ${c.maxSeqLen}`);
  }
}

/** How a model runs a generation: the prompt, then one token at a time (single or multi-device). */
export interface DecodeSteps {
  /** Runs the whole prompt; returns the head's result for the first generated token. */
  prefill(checkAbort: () => void): Promise<HeadResult>;
  /** Feeds `id` at `pos`; returns the head's result for the next token. */
  step(id: number, pos: number): Promise<HeadResult>;
}

/** The sequence a loop starts from: every id in it after the prefill, how many of them the prefill ran, the room. */
export interface LoopStart {
  ids: readonly number[];
  prefilled: number;
  /** The sequence ends at this many positions (the token budget or the context). */
  limit: number;
}

/**
 * The loop every generation shares: penalise, sample, stop on eos / token budget / full context /
 * a stop string, yield, step. Abort is checked before every forward pass.
 */
export async function* decodeLoop(
  start: LoopStart,
  maxSeqLen: number,
  opts: Omit<GenerateOptions, 'head'>,
  steps: DecodeSteps,
): AsyncGenerator<TokenEvent, GenerateStats> {
  const next = new NextToken(opts, start.ids, start.limit, maxSeqLen);
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new AbortError('generation', {cause: opts.signal.reason});
  };
  const t0 = performance.now();
  let logits = await steps.prefill(checkAbort);
  const t1 = performance.now();
  opts.onPrefillDone?.();

  let decodeSteps = 0;
  for (;;) {
    const token = next.take(logits);
    if (token === null) break;
    yield token;
    if (!next.more(opts.shouldStop?.() ?? false)) break;
    checkAbort();
    logits = await steps.step(token.id, token.pos);
    decodeSteps++;
  }
  return generationStats(start.prefilled, next.generated, decodeSteps, [t0, t1, performance.now()], next.stopReason);
}

/** The statistics of a generation from its counts and times [start, prefill done, end] (ms). */
export function generationStats(promptTokens: number, generated: number, decodeSteps: number, times: [number, number, number], stopReason: StopReason): GenerateStats {
  const [t0, t1, t2] = times;
  return {
    promptTokens,
    generatedTokens: generated,
    prefillMs: t1 - t0,
    decodeMs: t2 - t1,
    prefillTokensPerSecond: promptTokens / ((t1 - t0) / 1000),
    decodeTokensPerSecond: decodeSteps > 0 ? decodeSteps / ((t2 - t1) / 1000) : 0,
    stopReason,
  };
}
