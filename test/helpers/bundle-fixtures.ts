/**
 * Fixtures for tests of where calibrate writes: a tiny random model with a tokenizer and a
 * calibration text (calibrates in well under a second), quick calibration settings, a snapshot of
 * a directory tree to compare before and after a command, and a pid that no longer runs.
 */
import {spawnSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {writeTinyTokenizer} from './tiny-tokenizer.js';

/** Writes a one-layer random Llama (width 32, vocabulary 300) at `dir` and calibration text at `text`. */
export function writeTinyModel(dir: string, text: string): void {
  writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize: 300, maxSeqLen: 128, seed: 9});
  writeTinyTokenizer(dir);
  fs.writeFileSync(text, 'the quick brown fox jumps over the lazy dog; hi hi, a chat about hills. '.repeat(20));
}

/** The fewest tokens and predictors calibrate accepts, as flags and as options. */
export const QUICK_FLAGS = ['--tokens', '100', '--k', '1', '--softmax', 'quant', '--bits', '8', '--threads', '1'];
export const QUICK_OPTIONS = {tokens: 100, ks: [1], softmax: ['quant' as const], bits: 8 as const, threads: 1};

/**
 * Every entry under dir (not following links) with its kind, mode and, for files, size and hash:
 * equal snapshots mean nothing was created, removed or changed.
 */
export function treeSnapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${rel} link ${fs.readlinkSync(abs)}`);
    else if (st.isFile()) out.push(`${rel} file ${mode} ${st.size} ${crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex')}`);
    else if (st.isDirectory()) {
      out.push(`${rel || '.'} dir ${mode}`);
      for (const name of fs.readdirSync(abs).sort()) walk(path.join(rel, name));
    } else out.push(`${rel} other`);
  };
  walk('');
  return out;
}

/** Names in dir that our temporary naming uses (`<name>.hire-tmp-...`, `<name>.hire-old-...`). */
export function tempEntries(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /\.hire-(tmp|old)-/.test(n));
}

/** The pid of a child that has exited (so, for the moment, no process has it). */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}
