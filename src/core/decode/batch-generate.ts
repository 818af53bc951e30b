/**
 * Generation from several prompts at once (`--batch`): prefill each prompt, then advance every
 * unfinished sequence together, one row per sequence through the forward pass, so each step reads
 * the weights once for the whole batch (and, with HiRE, the union of the sequences' FFN groups and
 * softmax candidates). Sequence b samples with seed + b.
 */
import {AbortError, UsageError} from '../errors.js';
import type {Transformer} from './forward.js';
import type {StopReason} from './generate.js';
import {DenseHead, type HeadResult, type OutputHead} from './output-head.js';
import {createRng, sample, sampleCandidates, type SamplingOptions} from './sampler.js';

export interface BatchGenerateOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  /** Sequence b samples with seed + b. */
  seed: number;
  eosTokenIds: readonly number[];
  /** The output layer (default: dense). */
  head?: OutputHead;
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
  const rngs = prompts.map((_, b) => createRng(opts.seed + b));
  const caches = prompts.map((p) => model.createCache(Math.min(maxSeqLen, p.length + opts.maxTokens)));
  const eos = new Set(opts.eosTokenIds);
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new AbortError('generation', {cause: opts.signal.reason});
  };
  if (!opts.head && !model.weights.lmHead) throw new RangeError('generateBatch: give a head or a model with an output layer');
  const head = opts.head ?? new DenseHead(model.backend, model.weights.lmHead!);
  let logits: HeadResult[] = [];
  const prefillMs: number[] = [];
  for (let b = 0; b < prompts.length; b++) {
    const start = performance.now();
    logits.push(await head.next(await model.prefill(prompts[b]!, 0, caches[b]!, checkAbort)));
    prefillMs.push(performance.now() - start);
  }
  const tokens: number[][] = prompts.map(() => []);
  const stop: (StopReason | null)[] = prompts.map(() => null);
  const pos = prompts.map((p) => p.length - 1);
  const decodeSteps = prompts.map(() => 0);
  const totals = {steps: 0, bytes: 0, rows: 0, union: 0, own: 0, sparseSteps: 0};
  const t0 = performance.now();
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
    const hs = await model.run({tokens: next, positions: still.map((b) => pos[b]!), caches: still.map((b) => caches[b]!)});
    const st = model.stats();
    const out = await head.nextBatch(hs);
    logits = out.results;
    totals.steps++;
    for (const b of still) decodeSteps[b]!++;
    totals.bytes += st.bytes + out.bytes;
    totals.rows += still.length;
    if (st.unionGroups !== null) {
      totals.union += st.unionGroups;
      totals.own += st.groupsPerRow!;
      totals.sparseSteps++;
    }
    active = still;
  }
  const decodeMs = performance.now() - t0;
  return {
    tokens,
    stopReasons: stop.map((r) => r ?? 'max_tokens'),
    prefillMs,
    decodeSteps,
    steps: totals.steps,
    decodeMs,
    tokensPerSecond: decodeMs > 0 ? totals.rows / (decodeMs / 1000) : 0,
    bytesPerToken: totals.rows ? totals.bytes / totals.rows : 0,
    unionGroups: totals.sparseSteps ? totals.union / totals.sparseSteps : null,
    groupsPerSequence: totals.sparseSteps ? totals.own / totals.sparseSteps : null,
  };
}
