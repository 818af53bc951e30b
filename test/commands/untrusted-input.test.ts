/**
 * The CLI on hostile model directories: FIFOs and devices never hang or exhaust memory, absurd
 * sizes in config.json fail with one line, file contents are never echoed, and a shard name
 * pointing outside the model directory never lets calibrate write outside its bundle.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {Checkpoint} from '../../src/core/model/formats/safetensors/index.js';
import {runCli, type CliResult} from '../helpers/cli.js';
import {TINY_VOCAB_SIZE, writeTinyTokenizer} from '../helpers/tiny-tokenizer.js';

const CAN_MKFIFO = process.platform !== 'win32';
/** Long enough for a cold start on a busy machine; a hang on a FIFO is killed and fails the test. */
const TIMEOUT_MS = 90_000;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, {recursive: true, force: true})));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-untrusted-cli-'));
  dirs.push(dir);
  return dir;
}

/** A 2-layer llama with the tiny tokenizer; sharded when `maxShardBytes` is given. */
function tinyModel(dir: string, maxShardBytes?: number): string {
  const spec = {family: 'llama', dim: 16, nLayers: 2, nHeads: 2, hiddenDim: 32, vocabSize: TINY_VOCAB_SIZE, maxSeqLen: 64, seed: 1} as const;
  writeSyntheticCheckpoint(dir, spec, {maxShardBytes});
  writeTinyTokenizer(dir);
  return dir;
}

/** Exit 1 and exactly one stderr line naming `file`, with no stack trace. */
function expectOneLineError(r: CliResult, file: string, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(file);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('hire inspect on hostile files', () => {
  it.runIf(CAN_MKFIFO)('a FIFO config.json fails at once instead of waiting for a writer', () => {
    const dir = tinyModel(tempDir());
    const config = path.join(dir, 'config.json');
    fs.rmSync(config);
    execFileSync('mkfifo', [config]);
    expectOneLineError(runCli(['inspect', dir], {timeoutMs: TIMEOUT_MS}), config, /is not a regular file \(it is a named pipe \(FIFO\)\)/);
  });

  it.runIf(CAN_MKFIFO)('a shard that is a FIFO fails at once', () => {
    const dir = tinyModel(tempDir(), 4096);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8')) as {weight_map: Record<string, string>};
    const shard = path.join(dir, Object.values(index.weight_map)[0]!);
    fs.rmSync(shard);
    execFileSync('mkfifo', [shard]);
    expectOneLineError(runCli(['inspect', dir], {timeoutMs: TIMEOUT_MS}), shard, /is not a regular file \(it is a named pipe \(FIFO\)\)/);
  });

  it.runIf(fs.existsSync('/dev/zero'))('config.json symlinked to /dev/zero fails at once', () => {
    const dir = tinyModel(tempDir());
    const config = path.join(dir, 'config.json');
    fs.rmSync(config);
    fs.symlinkSync('/dev/zero', config);
    expectOneLineError(runCli(['inspect', dir], {timeoutMs: TIMEOUT_MS}), config, /is not a regular file \(it is a character device\)/);
  });

  it('num_hidden_layers 1e8 gives one line, not an out-of-memory abort', () => {
    const dir = tinyModel(tempDir());
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({...JSON.parse(fs.readFileSync(config, 'utf8')), num_hidden_layers: 1e8}));
    expectOneLineError(runCli(['inspect', dir], {timeoutMs: TIMEOUT_MS}), config, /nLayers \(num_hidden_layers \/ n_layer\) is 100000000, over the limit of 1024/);
  });

  it('a config.json whose first line looks like a secret: the position is shown, the text is not', () => {
    const dir = tinyModel(tempDir());
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, 'root:$6$Xy7s3cr3tSa1t$9f8e7d6c5b4a:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n');
    const r = runCli(['inspect', dir], {timeoutMs: TIMEOUT_MS});
    expectOneLineError(r, config, /invalid JSON at line 1, column 1/);
    expect(r.stderr + r.stdout).not.toContain('s3cr3t');
    expect(r.stderr + r.stdout).not.toContain('root:');
  });
});

/** Arguments for a quick calibration of a tiny model on a small text file written into `root`. */
function quickCalibrate(root: string, model: string, out: string): string[] {
  const data = path.join(root, 'data.txt');
  fs.writeFileSync(data, 'hi ah ha hi hih aha\n'.repeat(200));
  return ['calibrate', model, '--out', out, '--data', data, '--tokens', '200', '--seq-len', '32', '--softmax', 'quant', '--k', '1', '--threads', '1'];
}

describe('hire calibrate on hostile or symlinked sources', () => {
  it('shards that are relative symlinks into a blob store (Hugging Face cache) give a bundle that loads', () => {
    const root = tempDir();
    const model = tinyModel(path.join(root, 'snapshot'), 4096);
    const blobs = path.join(root, 'blobs');
    fs.mkdirSync(blobs);
    const index = JSON.parse(fs.readFileSync(path.join(model, 'model.safetensors.index.json'), 'utf8')) as {weight_map: Record<string, string>};
    for (const shard of new Set(Object.values(index.weight_map))) {
      fs.renameSync(path.join(model, shard), path.join(blobs, `blob-${shard}`));
      fs.symlinkSync(path.join('..', 'blobs', `blob-${shard}`), path.join(model, shard));
    }
    const out = path.join(root, 'out', 'b.hire');
    fs.mkdirSync(path.dirname(out));
    const r = runCli(quickCalibrate(root, model, out), {timeoutMs: 240_000});
    expect(r.code, r.stderr).toBe(0);
    const ck = Checkpoint.open(out);
    try {
      expect(ck.files.length).toBeGreaterThan(1);
      for (const name of ck.names()) expect(ck.readFloat32(name).length).toBeGreaterThan(0);
    } finally {
      ck.close();
    }
  });

  it.runIf(CAN_MKFIFO)('a FIFO among the files copied into the bundle fails at once and writes nothing', () => {
    const root = tempDir();
    const model = tinyModel(path.join(root, 'model'));
    const fifo = path.join(model, 'special_tokens_map.json');
    execFileSync('mkfifo', [fifo]);
    const out = path.join(root, 'out');
    fs.mkdirSync(out);
    const r = runCli(quickCalibrate(root, model, path.join(out, 'b.hire')), {timeoutMs: 240_000});
    expectOneLineError(r, fifo, /is not a regular file \(it is a named pipe \(FIFO\)\)/);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('a shard name outside the model directory: exits non-zero, writes no bundle and leaves the file outside untouched', () => {
    const root = tempDir();
    const model = tinyModel(path.join(root, 'model'), 4096);
    const indexFile = path.join(model, 'model.safetensors.index.json');
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as {weight_map: Record<string, string>};
    // Move the last shard out of the directory and point the index at it with "../".
    const shard = Object.values(index.weight_map).at(-1)!;
    fs.renameSync(path.join(model, shard), path.join(root, 'victim.txt'));
    for (const [tensor, file] of Object.entries(index.weight_map)) if (file === shard) index.weight_map[tensor] = '../victim.txt';
    fs.writeFileSync(indexFile, JSON.stringify(index));
    // The bundle goes into out/; "../victim.txt" seen from the bundle's temporary directory is out/victim.txt.
    const out = path.join(root, 'out');
    fs.mkdirSync(out);
    const victim = path.join(out, 'victim.txt');
    fs.writeFileSync(victim, 'precious\n');
    const r = runCli(quickCalibrate(root, model, path.join(out, 'b.hire')), {timeoutMs: 240_000});
    expectOneLineError(r, indexFile, /weight_map entry ".*" names the file "\.\.\/victim\.txt", which must be a plain file name in the same directory/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.readdirSync(out)).toEqual(['victim.txt']);
  });
});
