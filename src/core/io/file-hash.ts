/**
 * What hire.json records about a file so that a later load can tell whether it is still the same
 * file: its size, its full sha256 (slow on large weights: read only on request) and a cheap
 * fingerprint that every load checks.
 *
 * The fingerprint is the sha256 of a tag, the size, and sampled byte ranges: the first 1 MiB (the
 * safetensors header and the first tensors), the last 1 MiB, and FINGERPRINT_WINDOWS windows of
 * 64 KiB spread evenly in between; a file no longer than all of those together is hashed whole.
 * It reads at most 3 MiB per file, whatever its size, and changes when tensors are re-permuted,
 * replaced or re-quantised (they change bytes everywhere); a change confined to a few bytes between
 * two windows is caught only by the full sha256.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface FileHash {
  file: string;
  bytes: number;
  sha256: string;
  /** Sampled sha256 (see fingerprintRanges); absent in bundles made before it was recorded. */
  fingerprint?: string;
}

const MIB = 1 << 20;
const EDGE = MIB;
const WINDOW = 64 << 10;
export const FINGERPRINT_WINDOWS = 16;
const TAG = 'hire-fingerprint-v1';

/** The [start, end) byte ranges the fingerprint of a file of `size` bytes reads, in order. */
export function fingerprintRanges(size: number): Array<[number, number]> {
  if (size <= 2 * EDGE + FINGERPRINT_WINDOWS * WINDOW) return [[0, size]];
  const ranges: Array<[number, number]> = [[0, EDGE]];
  const span = size - 2 * EDGE - WINDOW; // window starts lie in [EDGE, size - EDGE - WINDOW]
  for (let i = 1; i <= FINGERPRINT_WINDOWS; i++) {
    const start = EDGE + Math.floor((span * i) / (FINGERPRINT_WINDOWS + 1));
    ranges.push([start, start + WINDOW]);
  }
  ranges.push([size - EDGE, size]);
  return ranges;
}

/** The sampled sha256 of a file (hex). */
export function fileFingerprint(file: string): string {
  const size = fs.statSync(file).size;
  const hash = crypto.createHash('sha256').update(`${TAG}\n${size}\n`);
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(EDGE);
    for (const [start, end] of fingerprintRanges(size)) {
      for (let pos = start; pos < end; ) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
        if (n <= 0) break;
        hash.update(buf.subarray(0, n));
        pos += n;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Size and full sha256 of a file, named by its base name. */
export function sha256File(file: string): FileHash {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return {file: path.basename(file), bytes: fs.statSync(file).size, sha256: hash.digest('hex')};
}

/** sha256File plus the fingerprint: what hire.json records of a weight file. */
export function weightFileHash(file: string): FileHash {
  return {...sha256File(file), fingerprint: fileFingerprint(file)};
}
