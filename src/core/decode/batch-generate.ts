/**
 * Generation from several prompts at once (`--batch`): prefill each prompt alone, then advance
 * every unfinished sequence together through a BatchDecoder, so each step reads the weights once
 * for the whole batch. Sequence b samples with seed + b.
 */
import {AbortError, UsageError} from '../errors.js';
import type {HireSoftmaxHead} from '../hire/softmax-head.js';
import {BatchDecoder} from './batch.js';
import type {Transformer} from './forward.js';
import type {StopReason} from './generate.js';
import {DenseHead, type HeadResult} from './output-head.js';
import {createRng, sample, sampleCandidates, type SamplingOptions} from './sampler.js';

export interface BatchGenerateOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  /** Sequence b samples with seed + b. */
  seed: number;
  eosTokenIds: readonly number[];
  /** HiRE softmax head and its k' (null: dense output layer). */
  hire?: {head: HireSoftmaxHead; kPrime: number} | null;
  signal?: AbortSignal;
}

export interface BatchResult {
  /** Generated ids per sequence (eos not included). */
  tokens: number[][];
  stopReasons: StopReason[];
  /** Per sequence: its prompt's prefill time, and the decode steps it took part in. */
  prefillMs: number[];
  decodeSteps: number[];
  /** Decode steps run and their wall time (prefill excluded). */
  steps: number;
  decodeMs: number;
  /** Tokens generated per second over all sequences. */
  tokensPerSecond: number;
  /** Weight bytes per generated token (decode steps; all reads of a step / sequences in it). */
  bytesPerToken: number;
  /** Mean over decode steps and sparse layers: groups read for the batch / per sequence. */
  unionGroups: number | null;
  groupsPerSequence: number | null;
}

/**
 * Generates from several prompts together: each prompt is prefilled alone, then every step
 * advances all unfinished sequences at once. Sequence b gives the same tokens as a one-by-one
 * generation with seed + b (the batch changes which weights are read once, not the results).
 */
export async function generateBatch(model: Transformer, prompts: number[][], opts: BatchGenerateOptions): Promise<BatchResult> {
  const {maxSeqLen, vocabSize} = model.config;
  for (const p of prompts) {
    if (p.length === 0) throw new UsageError('a prompt is empty');
    if (p.length >= maxSeqLen) throw new UsageError(`a prompt has ${p.length} tokens; this model's context is ${maxSeqLen}`);
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new UsageError(`token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
  }
  const n = prompts.length;
  const decoder = new BatchDecoder(model, n);
  const rngs = prompts.map((_, b) => createRng(opts.seed + b));
  const caches = prompts.map((p) => model.createCache(Math.min(maxSeqLen, p.length + opts.maxTokens)));
  const eos = new Set(opts.eosTokenIds);
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new AbortError('generation', {cause: opts.signal.reason});
  };
  const head = opts.hire?.head ?? new DenseHead(model.backend, model.weights.lmHead);
  // prefill each prompt alone; the last prompt token's logits come from the single-sequence path
  const results: HeadResult[] = [];
  const prefillMs: number[] = [];
  for (let b = 0; b < n; b++) {
    const p = prompts[b]!;
    const start = performance.now();
    for (let pos = 0; pos < p.length - 1; pos++) {
      checkAbort();
      await model.hidden(p[pos]!, pos, caches[b]!);
    }
    results.push(await head.next(await model.hidden(p[p.length - 1]!, p.length - 1, caches[b]!)));
    prefillMs.push(performance.now() - start);
  }
  const tokens: number[][] = prompts.map(() => []);
  const stop: (StopReason | null)[] = prompts.map(() => null);
  const pos = prompts.map((p) => p.length - 1);
  const decodeSteps = prompts.map(() => 0);
  let steps = 0;
  let bytes = 0;
  let generatedInSteps = 0;
  let unionSum = 0;
  let ownSum = 0;
  let sparseSteps = 0;
  const t0 = performance.now();
  let logits = results;
  let active = prompts.map((_, b) => b);
  for (;;) {
    const next: number[] = [];
    const still: number[] = [];
    active.forEach((b, i) => {
      const r = logits[i]!;
      const id = r.ids === null ? sample(r.logits, opts.sampling, rngs[b]!) : sampleCandidates(r.ids, r.logits, opts.sampling, rngs[b]!);
      if (eos.has(id)) {
        stop[b] = 'eos';
        return;
      }
      tokens[b]!.push(id);
      pos[b]!++;
      if (tokens[b]!.length >= opts.maxTokens) stop[b] = 'max_tokens';
      else if (pos[b]! + 1 >= Math.min(maxSeqLen, prompts[b]!.length + opts.maxTokens)) stop[b] = pos[b]! + 1 >= maxSeqLen ? 'context_full' : 'max_tokens';
      else {
        still.push(b);
        next.push(id);
      }
    });
    if (still.length === 0) break;
    checkAbort();
    const hs = await decoder.hidden(next, still.map((b) => pos[b]!), still.map((b) => caches[b]!));
    if (opts.hire) logits = await decoder.hireLogits(opts.hire.head, opts.hire.kPrime, hs);
    else {
      const outs = decoder.denseLogits(hs);
      logits = [];
      for (const o of outs) logits.push({ids: null, logits: await model.backend.read(o)});
    }
    const st = decoder.stats();
    steps++;
    for (const b of still) decodeSteps[b]!++;
    bytes += st.bytes;
    generatedInSteps += still.length;
    if (st.unionGroups !== null) {
      unionSum += st.unionGroups;
      ownSum += st.groupsPerSequence!;
      sparseSteps++;
    }
    active = still;
  }
  const decodeMs = performance.now() - t0;
  return {
    tokens,
    stopReasons: stop.map((r) => r ?? 'max_tokens'),
    prefillMs,
    decodeSteps,
    steps,
    decodeMs,
    tokensPerSecond: decodeMs > 0 ? generatedInSteps / (decodeMs / 1000) : 0,
    bytesPerToken: generatedInSteps ? bytes / generatedInSteps : 0,
    unionGroups: sparseSteps ? unionSum / sparseSteps : null,
    groupsPerSequence: sparseSteps ? ownSum / sparseSteps : null,
  };
}
