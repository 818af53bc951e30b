/**
 * Generation from several prompts at once (`--batch`): prefill each prompt, then advance every
 * unfinished sequence together, one row per sequence through the forward pass, so each step reads
 * the weights once for the whole batch (and, with HiRE, the union of the sequences' FFN groups and
 * softmax candidates). Sequence b samples with seed + b.
 */
import {AbortError, UsageError} from '../errors.js';
import type {DecodeHead, DecodeSequence, Decoder} from './decoder.js';
import {checkPrompt, type StopReason} from './generate.js';
import type {HeadResult} from './output-head.js';
import {sample, sampleCandidates, type SamplingOptions} from './sampler.js';
import {createRng} from '../numeric/rng.js';

export interface BatchGenerateOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  /** Sequence b samples with seed + b. */
  seed: number;
  eosTokenIds: readonly number[];
  /** The output layer (default: dense). */
  head?: DecodeHead;
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
export async function generateBatch(decoder: Decoder, prompts: number[][], opts: BatchGenerateOptions): Promise<BatchResult> {
  const c = decoder.config;
  const {maxSeqLen} = c;
  if (prompts.length > decoder.maxSequences) throw new UsageError(`this model decodes at most ${decoder.maxSequences} sequence${decoder.maxSequences === 1 ? '' : 's'} together; ${prompts.length} were given`);
  for (const p of prompts) checkPrompt(p, c);
  const rngs = prompts.map((_, b) => createRng(opts.seed + b));
  const eos = new Set(opts.eosTokenIds);
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new AbortError('generation', {cause: opts.signal.reason});
  };
  const head = opts.head ?? decoder.head(opts.sampling, {dense: true}).head;
  const seqs: DecodeSequence[] = [];
  try {
    let logits: HeadResult[] = [];
    const prefillMs: number[] = [];
    for (const p of prompts) {
      const start = performance.now();
      checkAbort();
      const seq = await decoder.openSequence(Math.min(maxSeqLen, p.length + opts.maxTokens));
      seqs.push(seq);
      logits.push(await decoder.prefill(seq, p, head, checkAbort));
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
      logits = await decoder.step(still.map((b) => seqs[b]!), next, head);
      const st = decoder.stepStats();
      totals.steps++;
      for (const b of still) decodeSteps[b]!++;
      totals.bytes += st.bytes ?? 0;
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
  } finally {
    // every KV cache goes back now (also when the generation fails or is aborted)
    for (const seq of seqs) decoder.closeSequence(seq);
  }
}
