/**
 * One file of a snapshot: its bytes land in blobs/<etag>.incomplete (appended to, so an
 * interrupted transfer resumes where it stopped), are checked against the hash the Hub listed
 * (sha256 for LFS files, git's blob sha1 for the rest), and only then renamed to blobs/<etag>; the
 * snapshot gets a relative symlink to the blob (a copy where links are not allowed), as the Python
 * tools lay it out.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {AbortError, HubError} from '../../errors.js';
import {failureReason} from './failures.js';

/** What the Hub's file listing says of one file. */
export interface BlobSpec {
  /** Path in the repo (a top-level name here). */
  file: string;
  /** sha256 (LFS) or git sha1: the blob's name and the check. */
  etag: string;
  size: number;
  lfs: boolean;
}

/** How one file's bytes arrive. */
export interface Transfer {
  /** The file's bytes from an offset on (the hub library's lazy Blob, sliced). */
  open: (offset: number) => Promise<AsyncIterable<Uint8Array>>;
  /** Bytes present so far, and the file's size. */
  onBytes: (done: number, total: number) => void;
  signal?: AbortSignal;
}

const ETAG = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function checkEtag(ref: string, spec: BlobSpec): void {
  if (!ETAG.test(spec.etag)) throw new HubError(ref, `the Hub listed ${spec.file} with the hash ${JSON.stringify(spec.etag.slice(0, 80))}, not a sha1 or sha256`);
}

function sizeOf(p: string): number | null {
  const st = fs.lstatSync(p, {throwIfNoEntry: false});
  return st?.isFile() ? st.size : null;
}

/** The hash of a file's content the way the Hub names it. */
function contentHash(spec: BlobSpec): crypto.Hash {
  const h = crypto.createHash(spec.lfs ? 'sha256' : 'sha1');
  if (!spec.lfs) h.update(`blob ${spec.size}\0`);
  return h;
}

async function hashExisting(file: string, hash: crypto.Hash): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

/**
 * Makes blobs/<etag> hold the file, downloading what is missing. Returns whether bytes were
 * fetched (false: the blob was already there).
 */
export async function ensureBlob(ref: string, blobsDir: string, spec: BlobSpec, t: Transfer): Promise<boolean> {
  const {onBytes} = t;
  checkEtag(ref, spec);
  const blob = path.join(blobsDir, spec.etag);
  if (sizeOf(blob) === spec.size) {
    onBytes(spec.size, spec.size);
    return false;
  }
  fs.mkdirSync(blobsDir, {recursive: true});
  const partial = `${blob}.incomplete`;
  let have = sizeOf(partial) ?? 0;
  if (have > spec.size) {
    fs.rmSync(partial, {force: true});
    have = 0;
  }
  const hash = contentHash(spec);
  if (have > 0) await hashExisting(partial, hash);
  onBytes(have, spec.size);
  if (have < spec.size) have = await append(ref, partial, spec, have, hash, t);
  const digest = hash.digest('hex');
  if (have !== spec.size || digest !== spec.etag) {
    fs.rmSync(partial, {force: true});
    const what = have !== spec.size ? `${have} bytes, expected ${spec.size}` : `${spec.lfs ? 'sha256' : 'git sha1'} ${digest}, expected ${spec.etag}`;
    throw new HubError(ref, `${spec.file} arrived corrupt (${what}); the partial file was removed: download it again`);
  }
  fs.renameSync(partial, blob);
  return true;
}

/** Appends the bytes from `have` on to the partial file; returns the new length. */
async function append(ref: string, partial: string, spec: BlobSpec, have: number, hash: crypto.Hash, t: Transfer): Promise<number> {
  const {open, onBytes, signal} = t;
  const fh = await fs.promises.open(partial, 'a');
  try {
    for await (const chunk of await open(have)) {
      await fh.write(chunk);
      hash.update(chunk);
      have += chunk.length;
      onBytes(have, spec.size);
      if (have > spec.size) break; // a server ignoring the range: the size check catches it
    }
  } catch (err) {
    // the partial file stays: the next download resumes from it
    if (signal?.aborted) throw new AbortError(`download of ${ref}`, {cause: signal.reason});
    throw new HubError(ref, `download of ${spec.file} stopped after ${have} of ${spec.size} bytes (${failureReason(err)}); run it again to resume`, {cause: err});
  } finally {
    await fh.close();
  }
  return have;
}

/**
 * Points snapshots/<commit>/<file> at the blob (relative, like the Python tools), replacing what
 * was there through a temporary name; copies the blob where symlinks are not allowed.
 */
export function linkIntoSnapshot(blob: string, target: string): void {
  fs.mkdirSync(path.dirname(target), {recursive: true});
  const tmp = `${target}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    try {
      fs.symlinkSync(path.relative(path.dirname(target), blob), tmp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
      fs.copyFileSync(blob, tmp);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, {force: true});
    throw err;
  }
}

/** Writes a small text file through a temporary name (refs/<branch>). */
export function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), {recursive: true});
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, {force: true});
    throw err;
  }
}
