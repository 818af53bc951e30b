/**
 * Training data as token ids: the corpus split tokenized once, random training windows, and the
 * fixed validation windows every evaluation uses.
 */
import {UsageError} from '../../errors.js';
import type {Rng} from './rng.js';

/** A batch of `batch` windows of T tokens: inputs[i] predicts targets[i] (the next token). */
export interface Batch {
  inputs: Int32Array; // [batch * T]
  targets: Int32Array; // [batch * T]
  batch: number;
}

/** `batch` windows at uniformly random offsets of `tokens` (drawn from `rng`). */
export function randomBatch(tokens: Int32Array, contextLength: number, batch: number, rng: Rng): Batch {
  const t = contextLength;
  if (tokens.length < t + 1) throw new UsageError(`the training text has ${tokens.length} tokens; the context needs ${t + 1}`);
  const inputs = new Int32Array(batch * t);
  const targets = new Int32Array(batch * t);
  for (let b = 0; b < batch; b++) {
    const start = rng.int(tokens.length - t);
    inputs.set(tokens.subarray(start, start + t), b * t);
    targets.set(tokens.subarray(start + 1, start + t + 1), b * t);
  }
  return {inputs, targets, batch};
}

/**
 * The validation set: consecutive non-overlapping windows (window i predicts tokens iT+1..iT+T
 * from the tokens before them inside the window), so every validation token but the first and the
 * last partial window is scored exactly once.
 */
export function validationWindows(tokens: Int32Array, contextLength: number): Batch {
  const t = contextLength;
  const count = Math.floor((tokens.length - 1) / t);
  if (count < 1) throw new UsageError(`the validation text has ${tokens.length} tokens; one window needs ${t + 1}`);
  const inputs = tokens.slice(0, count * t);
  const targets = tokens.slice(1, count * t + 1);
  return {inputs, targets, batch: count};
}

/** Windows [from, to) of a window set, as a batch. */
export function sliceWindows(set: Batch, from: number, to: number): Batch {
  const t = set.inputs.length / set.batch;
  return {inputs: set.inputs.subarray(from * t, to * t), targets: set.targets.subarray(from * t, to * t), batch: to - from};
}

/** `count` windows spread evenly over the set (the quick periodic evaluation). */
export function spreadWindows(set: Batch, count: number): Batch {
  if (count >= set.batch) return set;
  const t = set.inputs.length / set.batch;
  const inputs = new Int32Array(count * t);
  const targets = new Int32Array(count * t);
  for (let i = 0; i < count; i++) {
    const w = Math.floor((i * set.batch) / count);
    inputs.set(set.inputs.subarray(w * t, (w + 1) * t), i * t);
    targets.set(set.targets.subarray(w * t, (w + 1) * t), i * t);
  }
  return {inputs, targets, batch: count};
}
