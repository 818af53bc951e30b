/**
 * Calibration and evaluation text (--data): a regular file under the TEXT_DATA cap, hashed from
 * the very bytes that were read.
 */
import {execFileSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {readCorpus} from '../../../src/core/tasks/corpus.js';
import {DataError} from '../../../src/core/errors.js';
import {caught} from '../../helpers/caught.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-corpus-'));
});
afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

describe('readCorpus input files', () => {
  it('refuses a text file over the 256 MiB cap, naming the cap and the size', () => {
    const file = path.join(dir, 'huge.txt');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 300 * 1024 * 1024); // sparse: no disk used
    const error = caught(() => readCorpus([file], 'train'));
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe(`${file}: is 300 MiB (314572800 bytes), over the 256 MiB limit for text data files`);
  });

  it.runIf(process.platform !== 'win32')('refuses a FIFO at once', () => {
    const fifo = path.join(dir, 'data.txt');
    execFileSync('mkfifo', [fifo]);
    const error = caught(() => readCorpus([fifo], 'train'));
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toBe(`${fifo}: is not a regular file (it is a named pipe (FIFO))`);
  });

  it('reads a symlinked file and records the hash of the bytes read', () => {
    const text = 'line one\nline two\n'.repeat(50);
    fs.writeFileSync(path.join(dir, 'real.txt'), text);
    fs.symlinkSync('real.txt', path.join(dir, 'link.txt'));
    const corpus = readCorpus([path.join(dir, 'link.txt')], 'all');
    expect(corpus.text).toBe(text);
    expect(corpus.files).toHaveLength(1);
    expect(corpus.files[0]).toMatchObject({bytes: Buffer.byteLength(text), sha256: crypto.createHash('sha256').update(text).digest('hex')});
  });
});
