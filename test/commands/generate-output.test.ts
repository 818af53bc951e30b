/**
 * What `hire generate` prints: one --json shape on every path (one device, --batch, --devices),
 * nothing on stdout before the prompt and options are checked, a top-k larger than the vocabulary
 * that never inflates the bytes read, and errors that name the flag where the library names the option.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {demo, generate, loadModel} from '../../src/index.js';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {runCli} from '../helpers/cli.js';
import {TINY_VOCAB_SIZE, writeTinyTokenizer} from '../helpers/tiny-tokenizer.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-generate-out-'));
writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize: TINY_VOCAB_SIZE, maxSeqLen: 64, tied: false, seed: 5});
writeTinyTokenizer(dir);
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

const GREEDY = ['--prompt', 'hi', '--max-tokens', '4', '--temperature', '0', '--no-eos', '--backend', 'cpu'];

function json(args: string[]): Record<string, unknown> {
  const r = runCli(['generate', dir, ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Every key path of a JSON value's objects ("output.kind", "stats.stopReason", ...), sorted. */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v)
    .flatMap(([k, child]) => [`${prefix}${k}`, ...(k === 'devices' ? [] : keyPaths(child, `${prefix}${k}.`))])
    .sort();
}

describe('hire generate --json', () => {
  it('has the same fields on one device, for every --batch sequence and on --devices 2', () => {
    const one = json(GREEDY);
    const batch = json([...GREEDY, '--batch', '2']);
    const devices = json([...GREEDY, '--devices', '2']);
    expect(Object.keys(batch).sort()).toEqual(['ffnGroups', 'sequences', 'tokensPerSecond', 'weightBytesPerToken']);
    const sequences = batch.sequences as Array<Record<string, unknown>>;
    expect(sequences).toHaveLength(2);
    for (const r of [...sequences, devices]) expect(keyPaths(r)).toEqual(keyPaths(one));
    expect(keyPaths(one)).toEqual(expect.arrayContaining(['text', 'promptTokenIds', 'tokenIds', 'backend', 'stats.stopReason', 'output.bytesPerToken', 'weightBytesPerToken', 'devices']));
    // the text leaves the prompt out on every path; greedy decoding gives the same tokens and text
    for (const r of [one, ...sequences, devices]) {
      expect(r.promptTokenIds).toEqual(one.promptTokenIds);
      expect(r.tokenIds).toEqual(one.tokenIds);
      expect(r.text).toBe(one.text);
      expect(r.backend).toBe('cpu');
    }
    expect((one.tokenIds as number[]).length).toBe(4);
    expect(one.devices).toBeNull();
    expect((devices.devices as {count: number}).count).toBe(2);
  });

  it('prints nothing on stdout when the prompt is too long for the context, on any path', () => {
    const long = 'hi '.repeat(80);
    for (const extra of [[], ['--batch', '2'], ['--devices', '2']]) {
      const r = runCli(['generate', dir, '--prompt', long, '--max-tokens', '2', ...extra]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^hire: (the|a) prompt has \d+ tokens; this model's context is 64\n$/);
    }
  });
});

describe('hire generate errors', () => {
  it('keeps the reason of a flag oclif rejects, on one line', () => {
    const r = runCli(['generate', dir, '--prompt', 'hi', '-n', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('hire: --max-tokens: Expected an integer greater than or equal to 1 but received: 0 (see --help)\n');
  });

  it('names the flag where the library names the option', async () => {
    const cli = runCli(['generate', '--prompt', 'ROMEO:', '--k-prime', '99999']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toBe('hire: --k-prime 99999 must be an integer from 1 to the vocabulary size 4096\n');
    const model = await loadModel(demo.bundle, {threads: 1});
    try {
      expect(() => generate(model, 'ROMEO:', {kPrime: 99999})).toThrow(/^kPrime 99999 must be an integer from 1 to the vocabulary size 4096$/);
    } finally {
      model.dispose();
    }
    const temperature = runCli(['generate', dir, '--prompt', 'hi', '--temperature', '-1']);
    expect(temperature.stderr).toBe('hire: --temperature must be a number >= 0 (0 means greedy), got -1\n');
  });

  it('a top-k above the vocabulary never reports more output-layer bytes than the dense layer', () => {
    const base = ['generate', '--prompt', 'ROMEO:', '--max-tokens', '2', '--temperature', '0.7', '--json'];
    const dense = JSON.parse(runCli([...base, '--dense']).stdout);
    for (const topK of ['1000000000000', '5000']) {
      const r = runCli([...base, '--top-k', topK]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.output.bytesPerToken).toBeLessThanOrEqual(dense.output.bytesPerToken);
      expect(out.weightBytesPerToken).toBeLessThanOrEqual(dense.weightBytesPerToken);
    }
    const shown = runCli(['generate', '--prompt', 'ROMEO:', '--max-tokens', '2', '--temperature', '0.7', '--top-k', '1000000000000']);
    const mb = Number(/([\d.]+) MB weights\/token/.exec(shown.stderr)![1]);
    expect(mb).toBeLessThanOrEqual(dense.weightBytesPerToken / 1e6);
  });
});

describe('KV cache type and context on the command line', () => {
  it('--kv-dtype f16 decodes on cpu and is refused on a backend without it, naming the flag', () => {
    const ok = runCli(['generate', dir, ...GREEDY, '--kv-dtype', 'f16', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).tokenIds).toHaveLength(4);
    const refused = runCli(['generate', dir, '--prompt', 'hi', '--backend', 'reference', '--kv-dtype', 'f16']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe('hire: --kv-dtype f16 is not available on the reference backend (f16: cpu only)\n');
  });

  it('bench --context decodes at that context (KV bytes counted) and a context past the model is one line, before timing', () => {
    const r = runCli(['bench', dir, '--context', '40', '--tokens', '2', '--no-probe', '--kv-dtype', 'f16', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({context: 40, promptTokens: 40, kvDtype: 'f16', probeFlopsPerSecond: null});
    // 2 layers x 2 KV heads x 8 dims x (keys + values) x 2 bytes per position, over 40..41 positions
    expect(report.rows[0].kvBytesPerToken).toBe(2 * 2 * 8 * 2 * 2 * 41.5);
    expect(report.rows[0].prefillFlopsPerSecond).toBeGreaterThan(0);
    const long = runCli(['bench', dir, '--context', '63', '--tokens', '2', '--no-probe']);
    expect(long.code).toBe(2);
    expect(long.stdout).toBe('');
    expect(long.stderr).toBe("hire: --context 63 + 2 decoded tokens need 65 positions; the model holds 64\n");
  });
});
