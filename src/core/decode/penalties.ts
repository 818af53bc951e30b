/**
 * Penalties on tokens the sequence already holds: a logits processor that runs before sampling, so
 * the sampler stays a pure function of the logits it is given. The history is passed in as counts.
 *
 *   repetition (CTRL, as transformers):  z / p when z > 0, z * p otherwise, for every token seen;
 *                                        p > 1 discourages repeats, 1 is off
 *   presence (as OpenAI):                z - presence, for every token seen at least once
 *   frequency (as OpenAI):               z - frequency * count
 *
 * "Seen" means in the sequence so far: the prompt and the tokens generated after it (transformers
 * counts the prompt too). A sparse head's result is penalised on its candidates only.
 */
import {UsageError} from '../errors.js';
import type {HeadResult} from './output-head.js';

export interface PenaltyOptions {
  /** Divides positive (multiplies negative) logits of tokens already in the sequence; 1 = off. */
  repetitionPenalty?: number;
  /** Subtracted once from the logit of every token already in the sequence; 0 = off. */
  presencePenalty?: number;
  /** Subtracted from a token's logit once per time it occurs in the sequence; 0 = off. */
  frequencyPenalty?: number;
}

export function validatePenalties(o: PenaltyOptions): void {
  const rep = o.repetitionPenalty ?? 1;
  if (!(Number.isFinite(rep) && rep > 0)) throw new UsageError(`repetitionPenalty must be a number > 0 (1 means off), got ${rep}`, {option: 'repetitionPenalty'});
  for (const key of ['presencePenalty', 'frequencyPenalty'] as const) {
    const v = o[key] ?? 0;
    if (!Number.isFinite(v)) throw new UsageError(`${key} must be a finite number (0 means off), got ${v}`, {option: key});
  }
}

/** Whether any penalty is on. */
export function hasPenalties(o: PenaltyOptions): boolean {
  return (o.repetitionPenalty ?? 1) !== 1 || (o.presencePenalty ?? 0) !== 0 || (o.frequencyPenalty ?? 0) !== 0;
}

/** How often each token occurs in the sequence so far. */
export class TokenCounts {
  private readonly counts = new Map<number, number>();

  constructor(ids: Iterable<number> = []) {
    for (const id of ids) this.add(id);
  }

  add(id: number): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  get(id: number): number {
    return this.counts.get(id) ?? 0;
  }

  /** Distinct tokens seen. */
  get size(): number {
    return this.counts.size;
  }

  entries(): IterableIterator<[number, number]> {
    return this.counts.entries();
  }
}

/** One logit after the penalties for a token seen `count` times. */
function penalise(z: number, count: number, o: Required<PenaltyOptions>): number {
  if (count === 0) return z;
  let v = z > 0 ? z / o.repetitionPenalty : z * o.repetitionPenalty;
  v -= o.presencePenalty + o.frequencyPenalty * count;
  return v;
}

/** The head's result with the penalties applied (a new logits array; the input is not changed). */
export function applyPenalties(r: HeadResult, history: TokenCounts, opts: PenaltyOptions): HeadResult {
  const o = {repetitionPenalty: opts.repetitionPenalty ?? 1, presencePenalty: opts.presencePenalty ?? 0, frequencyPenalty: opts.frequencyPenalty ?? 0};
  const logits = Float32Array.from(r.logits);
  if (r.ids === null) {
    for (const [id, count] of history.entries()) if (id >= 0 && id < logits.length) logits[id] = penalise(logits[id]!, count, o);
  } else {
    for (let j = 0; j < r.ids.length; j++) logits[j] = penalise(logits[j]!, history.get(r.ids[j]!), o);
  }
  return {ids: r.ids, logits};
}
