/**
 * Stop strings: generation ends as soon as its text contains one of them. Text arrives in streamed
 * pieces, and a stop string may straddle two of them, so text that could still be the start of a
 * stop string is held back until the next piece shows whether it is. The stop string itself and
 * everything after it are never emitted.
 */
import {UsageError} from '../errors.js';

export function validateStopStrings(stop: unknown): string[] {
  if (stop === undefined) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === '')) {
    throw new UsageError('stop must be a non-empty string or an array of non-empty strings', {option: 'stop'});
  }
  return [...list];
}

export class StopMatcher {
  private pending = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  /** Whether a stop string was found. */
  get stopped(): boolean {
    return this.done;
  }

  /** Takes the next piece of text; returns what may be emitted now. */
  push(text: string): string {
    if (this.done) return '';
    if (this.stops.length === 0) return text;
    const all = this.pending + text;
    let cut = -1;
    for (const s of this.stops) {
      const at = all.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.done = true;
      this.pending = '';
      return all.slice(0, cut);
    }
    const hold = this.heldBack(all);
    this.pending = all.slice(all.length - hold);
    return all.slice(0, all.length - hold);
  }

  /** The text held back at the end of the generation (no stop string came). */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private heldBack(text: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
        if (text.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
