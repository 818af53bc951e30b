/**
 * Progress on stderr: an ora spinner on a real terminal, nothing otherwise (logs and CI stay
 * clean). ora loops forever on a TTY whose width is 0, so it is enabled only when the terminal
 * reports a width.
 */
import ora, {type Ora} from 'ora';
import {formatProgress, type ProgressCallback} from '../api/progress.js';

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
export function progressCallback(progress: Progress): ProgressCallback {
  return (event) => progress.update(formatProgress(event));
}
