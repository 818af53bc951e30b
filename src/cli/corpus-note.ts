/**
 * The stderr line that says which text a command read: the bundled corpus when no --data was
 * given (a model trained on other text gets misleading numbers from it, so it is never silent),
 * and for calibrate always, with the part of each file read.
 */
import {describeSplit, type Split} from '../api/evaluate.js';

export interface TextRead {
  split: Split;
  /** The bundled corpus's name when it was read because no files were given, else null. */
  bundled: string | null;
  files: Array<{file: string}>;
  /** Tokens of the text read. */
  tokens: number;
}

/** "eval: no --data given: reading the bundled corpus Tiny Shakespeare (data/x.txt), the last 10% (validation split): 31000 tokens". */
export function corpusNote(command: string, t: TextRead): string | null {
  if (!t.bundled) return null;
  return `${command}: no --data given: reading the bundled corpus ${t.bundled} (${names(t)}), ${describeSplit(t.split)}: ${t.tokens} tokens`;
}

/** calibrate: which corpus and which part of it, and how many of its tokens calibration used. */
export function calibrationTextNote(t: TextRead, used: number): string {
  const what = corpusNote('calibrate', t) ?? `calibrate: read ${describeSplit(t.split)} of ${names(t)}: ${t.tokens} tokens`;
  return `${what}; calibrated on the first ${used}`;
}

function names(t: TextRead): string {
  return t.files.map((f) => f.file).join(', ');
}
