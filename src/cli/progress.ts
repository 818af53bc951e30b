/**
 * Progress on stderr: an ora spinner on a real terminal, nothing otherwise (logs and CI stay
 * clean). ora loops forever on a TTY whose width is 0, so it is enabled only when the terminal
 * reports a width. Counted stages show an ETA from the stage's own rate so far
 * ("stage 3/4: scoring 1200/4096 tokens, ETA 12 s"); the library yields the event loop while it
 * works, so the spinner and the counts move.
 */
import ora, {type Ora} from 'ora';
import {formatProgress, type ProgressCallback, type ProgressEvent} from '../api/progress.js';

export interface Progress {
  update(text: string): void;
  succeed(text?: string): void;
  stop(): void;
}

export function createProgress(enabled = true): Progress {
  const stream = process.stderr;
  const tty = enabled && stream.isTTY === true && (stream.columns ?? 0) > 0;
  if (!tty) return {update() {}, succeed() {}, stop() {}};
  const spinner: Ora = ora({stream, discardStdin: false});
  return {
    update(text) {
      if (spinner.isSpinning) spinner.text = text;
      else spinner.start(text);
    },
    succeed(text) {
      if (spinner.isSpinning) spinner.succeed(text);
    },
    stop() {
      spinner.stop();
    },
  };
}

/** The library API's progress callback, shown on the spinner: commands pass the same events on. */
export function progressCallback(progress: Progress, now: () => number = () => performance.now()): ProgressCallback {
  const eta = etaClock(now);
  return (event) => {
    const left = eta(event);
    progress.update(left === null ? formatProgress(event) : `${formatProgress(event)}, ETA ${formatSeconds(left)}`);
  };
}

/** Shortest time measured before an ETA is shown (a rate from the first few ms is noise). */
const ETA_AFTER_MS = 500;

/**
 * Seconds left in a counted stage at its rate since the stage's first event, or null (an
 * uncounted stage, nothing done yet, or too early to tell).
 */
export function etaClock(now: () => number): (event: ProgressEvent) => number | null {
  let key = '';
  let t0 = 0;
  let d0 = 0;
  return (e) => {
    if (e.done === undefined || e.total === undefined) {
      key = '';
      return null;
    }
    const k = e.step !== undefined ? `${e.step}/${e.steps}` : e.stage; // a relabelled stage keeps its clock
    const t = now();
    if (k !== key || e.done < d0) {
      [key, t0, d0] = [k, t, e.done];
      return null;
    }
    const elapsed = t - t0;
    if (e.done <= d0 || elapsed < ETA_AFTER_MS) return null;
    return ((elapsed / (e.done - d0)) * Math.max(0, e.total - e.done)) / 1000;
  };
}

/** "12 s", "3 min 5 s". */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
