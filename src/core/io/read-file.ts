/**
 * Why: every file hire reads sits in a directory the user points at, and any of them may be a
 * symlink to a device, a FIFO, a huge file or a file of secrets. This is the one way input files
 * are read: opened without blocking (a FIFO never hangs the process), refused unless the opened
 * file is a regular file (symlinks are followed, since the Hugging Face cache is made of them),
 * read with a size cap per kind of file, and JSON parsed with errors that give a position only,
 * never text from the file.
 */
import fs from 'node:fs';

import {findJsonProblem, lineAndColumn} from './json-syntax.js';

/** Builds the error a caller throws for `file` (ConfigError, TokenizerError, ...). */
export type MakeError = (file: string, problem: string, options?: {cause?: unknown}) => Error;

/** A kind of input file and the largest size read for it. */
export interface InputKind {
  /** Plural noun for messages: "the 1 MiB limit for <label>". */
  label: string;
  maxBytes: number;
}

const MiB = 1024 * 1024;

/** config.json and generation_config.json: a few kB in practice. */
export const CONFIG_JSON: InputKind = {label: 'config files', maxBytes: 1 * MiB};
/** tokenizer_config.json and special_tokens_map.json: some list thousands of added tokens (over 1 MiB). */
export const TOKENIZER_CONFIG_JSON: InputKind = {label: 'tokenizer_config.json and special_tokens_map.json', maxBytes: 16 * MiB};
/** tokenizer.json: tens of MB for the largest multilingual vocabularies. */
export const TOKENIZER_JSON: InputKind = {label: 'tokenizer.json', maxBytes: 64 * MiB};
/** model.safetensors.index.json: one line per tensor, a few MB for the largest checkpoints. */
export const INDEX_JSON: InputKind = {label: 'safetensors index files', maxBytes: 16 * MiB};
/** hire.json: recall curves and k' tables; the demo bundle's is 42 kB. */
export const MANIFEST_JSON: InputKind = {label: 'hire.json', maxBytes: 32 * MiB};
/** Prompt and scoring text read from a file or stdin. */
export const PROMPT_TEXT: InputKind = {label: 'prompt files', maxBytes: 64 * MiB};
/**
 * Calibration and evaluation text (--data). Below 512 MiB because the text becomes one JS string
 * (V8 caps strings at about 512M characters) and the corpus loader holds a split copy beside it.
 */
export const TEXT_DATA: InputKind = {label: 'text data files', maxBytes: 256 * MiB};

/** Deepest JSON nesting accepted; Hugging Face and hire files nest fewer than ten levels. */
export const MAX_JSON_DEPTH = 64;

/** Flags that never block: opening a FIFO with O_NONBLOCK returns at once instead of waiting for a writer. */
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** Bytes asked for per read when the size is unknown or grows. */
const READ_CHUNK = 1 << 20;

export interface OpenedFile {
  fd: number;
  /** Size from fstat at open time (a file may still grow or shrink after). */
  size: number;
}

/**
 * Opens `file` for reading without blocking and checks that what was opened (after following
 * symlinks) is a regular file. The caller closes `fd`.
 */
export function openRegularFile(file: string, makeError: MakeError): OpenedFile {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw makeError(file, `cannot open: ${systemReason(err)}`, {cause: err});
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw makeError(file, `is not a regular file (it is ${fileType(st)})`);
    return {fd, size: st.size};
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** The whole file as bytes, refusing anything over `kind.maxBytes` (never reading more than one byte past it). */
export function readBoundedFile(file: string, kind: InputKind, makeError: MakeError): Buffer {
  const {fd, size} = openRegularFile(file, makeError);
  try {
    if (size > kind.maxBytes) {
      const shown = size < 1024 ? formatSize(size) : `${formatSize(size)} (${size} bytes)`;
      throw makeError(file, `is ${shown}, over the ${formatSize(kind.maxBytes)} limit for ${kind.label}`);
    }
    // Do not trust the size: /proc files report 0 and a file may grow while we read.
    const limit = kind.maxBytes + 1;
    let buf = Buffer.allocUnsafe(Math.min(limit, size + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length >= limit) break;
        const bigger = Buffer.allocUnsafe(Math.min(limit, buf.length + Math.max(buf.length, READ_CHUNK)));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const got = readSome(file, fd, buf, n, makeError);
      if (got === 0) break;
      n += got;
    }
    if (n > kind.maxBytes) {
      throw makeError(file, `holds more than the ${formatSize(kind.maxBytes)} limit for ${kind.label}`);
    }
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** The whole file as UTF-8 text (a leading byte-order mark dropped, bad bytes replaced). */
export function readTextFile(file: string, kind: InputKind, makeError: MakeError): string {
  return new TextDecoder('utf-8').decode(readBoundedFile(file, kind, makeError));
}

/** Reads and parses a JSON file; syntax errors name a line and column, never the file's text. */
export function readJsonFile(file: string, kind: InputKind, makeError: MakeError): unknown {
  const text = readTextFile(file, kind, makeError);
  return parseJson(text, (problem) => makeError(file, problem));
}

/**
 * Parses JSON text, refusing nesting deeper than MAX_JSON_DEPTH. On failure throws
 * `fail(problem)`, the problem being "invalid JSON at line L, column C (<what is wrong>)" or
 * "JSON nested deeper than N levels at line L, column C".
 */
export function parseJson(text: string, fail: (problem: string) => Error): unknown {
  const found = findJsonProblem(text, MAX_JSON_DEPTH);
  if (found !== null) {
    const {line, column} = lineAndColumn(text, found.offset);
    const at = `line ${line}, column ${column}`;
    throw fail(found.tooDeep ? `JSON ${found.problem} at ${at}` : `invalid JSON at ${at} (${found.problem})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // The scan accepts what JSON.parse accepts; this is a safety net whose message quotes nothing.
    throw fail('invalid JSON');
  }
}

/** A value read from an input file, as JSON cut to `max` characters, for an error message. */
export function shortJson(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** "no such file or directory (ENOENT)" from a Node system error, without the path it repeats. */
export function systemReason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
    if (code === undefined) return oneLine(err.message);
    // "ENOENT: no such file or directory, open '/x'" -> "no such file or directory (ENOENT)"
    const reason = err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    return `${oneLine(reason)} (${code})`;
  }
  return String(err);
}

/** "64 MiB", "1.5 GiB", "812 bytes". */
export function formatSize(bytes: number): string {
  const units: Array<[string, number]> = [['GiB', 1024 * MiB], ['MiB', MiB], ['KiB', 1024]];
  for (const [unit, size] of units) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

function readSome(file: string, fd: number, buf: Buffer, at: number, makeError: MakeError): number {
  try {
    return fs.readSync(fd, buf, at, buf.length - at, null);
  } catch (err) {
    throw makeError(file, `read failed after ${at} bytes: ${systemReason(err)}`, {cause: err});
  }
}

function fileType(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'of another kind';
}
