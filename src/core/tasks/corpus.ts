/**
 * Text corpora for calibration and evaluation, with the fixed train/validation split, and the
 * bundled default corpus (data/tinyshakespeare.txt).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {DataError, UsageError} from '../errors.js';
import type {FileHash} from '../hire/bundle/bundle.js';
import {TEXT_DATA, readBoundedFile} from '../io/read-file.js';

/** The project root: src/core/data and dist/core/data are both three levels down. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_CORPUS = path.join(PACKAGE_ROOT, 'data', 'tinyshakespeare.txt');
/** How reports name the bundled corpus. */
export const DEFAULT_CORPUS_NAME = 'Tiny Shakespeare';

/** Share of the characters in the train split. */
export const TRAIN_FRACTION = 0.9;

export type Split = 'train' | 'validation' | 'all';
export const SPLITS: readonly Split[] = ['all', 'train', 'validation'];

/** Which part of a file a split is, in words ("the first 90%"). */
export function describeSplit(split: Split): string {
  const train = Math.round(TRAIN_FRACTION * 100);
  if (split === 'all') return 'the whole file';
  return split === 'train' ? `the first ${train}% (train split)` : `the last ${100 - train}% (validation split)`;
}

/** The split point: TRAIN_FRACTION of the text, moved forward to just after a line break. */
export function splitPoint(text: string): number {
  const target = Math.floor(text.length * TRAIN_FRACTION);
  const nl = text.indexOf('\n', target);
  return nl < 0 ? target : nl + 1;
}

export function splitText(text: string, split: Split): string {
  if (split === 'all') return text;
  const at = splitPoint(text);
  return split === 'train' ? text.slice(0, at) : text.slice(at);
}

export interface Corpus {
  text: string;
  files: FileHash[];
  /** The part of each file read. */
  split: Split;
  /** The bundled corpus's name when no files were given (it was read instead), else null. */
  bundled: string | null;
}

/** Reads files (default: the bundled corpus), keeps one split of each, and joins them. */
export function readCorpus(files: string[] | undefined, split: Split): Corpus {
  if (!SPLITS.includes(split)) throw new UsageError(`split must be one of ${SPLITS.join(', ')}, got "${String(split)}"`, {option: 'split'});
  const list = files && files.length > 0 ? files : [DEFAULT_CORPUS];
  const parts: string[] = [];
  const hashes: FileHash[] = [];
  for (const file of list) {
    if (!fs.existsSync(file)) throw new DataError(file, 'no such file');
    // A regular file only (a FIFO or device is refused, never waited on), at most TEXT_DATA's cap.
    const bytes = readBoundedFile(file, TEXT_DATA, (f, problem) => new DataError(f, problem));
    const text = new TextDecoder('utf-8').decode(bytes);
    if (text.trim().length === 0) throw new DataError(file, 'empty: calibration and evaluation need text');
    const part = splitText(text, split);
    if (part.trim().length === 0) throw new DataError(file, `the ${split} split is empty (the file is too short to split)`);
    parts.push(part);
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    hashes.push({file: path.relative(process.cwd(), path.resolve(file)) || file, bytes: bytes.length, sha256});
  }
  return {text: parts.join('\n'), files: hashes, split, bundled: files && files.length > 0 ? null : DEFAULT_CORPUS_NAME};
}
