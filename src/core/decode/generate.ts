/**
 * The generation loop: prefill the prompt, then one token at a time until eos, the token budget,
 * or the context is full. Yields each token as it is chosen; returns the statistics.
 */
import {AbortError, UsageError} from '../errors.js';
import type {DecodeHead, DecodeSequence, Decoder} from './decoder.js';
import type {HeadResult} from './output-head.js';
import {sample, sampleCandidates, type Rng, type SamplingOptions} from './sampler.js';
import {createRng} from '../numeric/rng.js';

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
}

export interface TokenEvent {
  id: number;
  /** Position of this token in the sequence (prompt included). */
  pos: number;
}

export type StopReason = 'eos' | 'max_tokens' | 'context_full';

export interface GenerateStats {
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

export async function* generateTokens(
  decoder: Decoder,
  promptIds: readonly number[],
  opts: GenerateOptions,
): AsyncGenerator<TokenEvent, GenerateStats> {
  const c = decoder.config;
  checkPrompt(promptIds, c);
  const head = opts.head ?? decoder.head(opts.sampling, {dense: true}).head;
  let seq: DecodeSequence | null = null;
  try {
    return yield* decodeLoop(promptIds, c.maxSeqLen, opts, {
      // the whole prompt in blocks of rows; only the last token needs logits
      prefill: async (checkAbort) => {
        checkAbort();
        seq = await decoder.openSequence(Math.min(c.maxSeqLen, promptIds.length + opts.maxTokens));
        return decoder.prefill(seq, promptIds, head, checkAbort);
      },
      step: async (id) => (await decoder.step([seq!], [id], head))[0]!,
    });
  } finally {
    // the KV cache goes back now (also when the caller stops early or the generation fails)
    if (seq) decoder.closeSequence(seq);
  }
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

/**
 * The loop every generation shares: sample, stop on eos / token budget / full context, yield,
 * step. Abort is checked before every forward pass.
 */
export async function* decodeLoop(
  promptIds: readonly number[],
  maxSeqLen: number,
  opts: Omit<GenerateOptions, 'head'>,
  steps: DecodeSteps,
): AsyncGenerator<TokenEvent, GenerateStats> {
  const rng = createRng(opts.seed);
  const eos = new Set(opts.eosTokenIds);
  const limit = Math.min(maxSeqLen, promptIds.length + opts.maxTokens);
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new AbortError('generation', {cause: opts.signal.reason});
  };
  const t0 = performance.now();
  let logits = await steps.prefill(checkAbort);
  const t1 = performance.now();
  opts.onPrefillDone?.();

  let pos = promptIds.length - 1;
  let generated = 0;
  let decodeSteps = 0;
  let stopReason: StopReason = 'max_tokens';
  while (generated < opts.maxTokens) {
    const id = pick(logits, opts.sampling, rng);
    if (eos.has(id)) {
      stopReason = 'eos';
      break;
    }
    pos++;
    generated++;
    yield {id, pos};
    if (generated >= opts.maxTokens) break;
    if (pos + 1 >= limit) {
      stopReason = pos + 1 >= maxSeqLen ? 'context_full' : 'max_tokens';
      break;
    }
    checkAbort();
    logits = await steps.step(id, pos);
    decodeSteps++;
  }
  return generationStats(promptIds.length, generated, decodeSteps, [t0, t1, performance.now()], stopReason);
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

/** Samples from the whole vocabulary, or from the candidates a sparse head returned. */
function pick(r: HeadResult, sampling: SamplingOptions, rng: Rng): number {
  return r.ids === null ? sample(r.logits, sampling, rng) : sampleCandidates(r.ids, r.logits, sampling, rng);
}
