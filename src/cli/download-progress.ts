/**
 * Download progress on stderr: one bar per file, redrawn in place, drawn only on a terminal that
 * reports a width (a TTY of width 0 gets nothing, like the spinner in progress.ts); logs and pipes
 * stay clean. A finished file leaves one line; redraws are at most every 100 ms.
 */
import type {ProgressCallback, ProgressEvent} from '../api/progress.js';
import {loadModel, type HireModel} from '../api/model.js';
import type {LoadOptions} from '../api/options.js';
import {formatBytes} from './format.js';

export interface DownloadBars {
  /** Feed the library's download events here. */
  onProgress: ProgressCallback;
  /** Ends the line of an unfinished bar (call when the download stops, however it stops). */
  stop(): void;
}

const REDRAW_MS = 100;

/** One bar: "name  [#####-----]  45%   1.20 MB /   2.50 MB", fitted to `columns`; the bar keeps its width. */
export function formatBar(file: string, done: number, total: number, columns: number): string {
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const tail = ` ${String(Math.floor(share * 100)).padStart(3)}%  ${formatBytes(done).padStart(9)} / ${formatBytes(total).padStart(9)}`;
  const nameWidth = Math.max(8, Math.min(32, columns - tail.length - 14));
  const name = file.length > nameWidth ? `${file.slice(0, nameWidth - 1)}~` : file.padEnd(nameWidth);
  const barWidth = Math.max(0, Math.min(30, columns - nameWidth - tail.length - 4));
  const filled = Math.round(share * barWidth);
  const bar = barWidth > 0 ? ` [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]` : '';
  return `${name}${bar}${tail}`.slice(0, Math.max(0, columns - 1));
}

export function createDownloadBars(enabled = true, stream: NodeJS.WriteStream = process.stderr): DownloadBars {
  const columns = stream.columns ?? 0;
  if (!enabled || stream.isTTY !== true || columns <= 0) return {onProgress: () => {}, stop: () => {}};
  let open: ProgressEvent | null = null; // the unfinished file's latest event
  let drawn = true;
  let last = 0;
  const draw = (e: ProgressEvent) => {
    stream.write(`\r${formatBar(e.file!, e.done ?? 0, e.total ?? 0, stream.columns || columns)}\u001b[K`);
    drawn = true;
    last = Date.now();
  };
  const close = () => {
    if (open !== null && !drawn) draw(open);
    if (open !== null) stream.write('\n');
    open = null;
  };
  return {
    onProgress(e) {
      if (e.file === undefined) return;
      if (open !== null && open.file !== e.file) close();
      const fresh = open === null;
      open = e;
      drawn = false;
      if (fresh || e.done === e.total || Date.now() - last >= REDRAW_MS) draw(e);
      if (e.total !== undefined && e.done === e.total) close();
    },
    stop: close,
  };
}

/** loadModel() with a bar per file on stderr while a --download fetches the model. */
export async function loadWithBars(model: string, options: LoadOptions, bars: boolean): Promise<HireModel> {
  const download = createDownloadBars(bars && options.download === true);
  try {
    return await loadModel(model, {...options, onProgress: download.onProgress});
  } finally {
    download.stop();
  }
}
