/**
 * How `hire bench` times a row: prefill a fixed pseudo-random prompt, then decode greedily, each
 * part timed alone (the prefill up to the head's result for the last prompt token), and the
 * median of several such runs.
 */
import {argmax} from '../../numeric/select.js';
import type {Section} from '../../decode/forward.js';
import type {OutputHead} from '../../decode/output-head.js';
import type {Session} from '../../engine/session.js';
import {SectionTimer} from './timer.js';

export interface TimedDecode {
  prefillMs: number;
  decodeMs: number;
  /** Milliseconds per decoded token in each part of the forward pass (null on webgpu, whose kernels are queued). */
  breakdown: Record<Section, number> | null;
}

/** The run with the median decode time (the upper median for an even count), with the median prefill time of all runs. */
export function median(runs: TimedDecode[]): TimedDecode {
  const sorted = [...runs].sort((a, b) => a.decodeMs - b.decodeMs);
  const prefill = runs.map((r) => r.prefillMs).sort((a, b) => a - b);
  return {...sorted[Math.floor(sorted.length / 2)]!, prefillMs: prefill[Math.floor(prefill.length / 2)]!};
}

/** Smallest, median (upper median for an even count) and largest of `values`. */
export function spread(values: readonly number[]): {min: number; median: number; max: number} {
  if (values.length === 0) throw new RangeError('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  return {min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]!};
}

/** The prompt every row prefills: `n` fixed pseudo-random token ids. */
export function benchPrompt(n: number, vocabSize: number): number[] {
  return Array.from({length: n}, (_, i) => (i * 7919 + 13) % vocabSize);
}

/**
 * Prefills a `promptTokens` prompt, then decodes `tokens` greedy tokens, timing each part. The KV
 * cache holds `cacheTokens` positions (at least promptTokens + tokens): a warm-up run gives the
 * timed runs' size, so that the cache block they reuse has had its pages touched (a new block's
 * first touch otherwise lands in the timed prefill: 437 us a key/value store on llama-470m).
 */
export async function timeDecode(session: Session, head: OutputHead, promptTokens: number, tokens: number, cacheTokens = promptTokens + tokens): Promise<TimedDecode> {
  const {model, backend, config} = session;
  const prompt = benchPrompt(promptTokens, config.vocabSize);
  const cache = model.createCache(Math.max(cacheTokens, promptTokens + tokens));
  try {
    const t0 = performance.now();
    let r = await head.next(await model.prefill(prompt, 0, cache));
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
  } finally {
    model.releaseCache(cache);
  }
}
