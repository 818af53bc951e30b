/**
 * --json through oclif's own JSON support: every command returns what the library API returns
 * and oclif prints it (so its CONTENT_TYPE variable, HIRE_CONTENT_TYPE=json, works too); text
 * output is silenced. An error under --json keeps hire's one line on stderr and its exit code,
 * and prints nothing on stdout (no JSON error object).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {inspect} from '../../src/api/inspect.js';
import {calibrate, evaluate} from '../../src/index.js';
import {QUICK_FLAGS, QUICK_OPTIONS, writeTinyModel} from '../helpers/bundle-fixtures.js';
import {runCli} from '../helpers/cli.js';

const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-json-'));
afterAll(() => fs.rmSync(sandbox, {recursive: true, force: true}));
const model = path.join(sandbox, 'tiny');
const text = path.join(sandbox, 'calib.txt');
const bundle = path.join(sandbox, 'tiny.hire');

beforeAll(async () => {
  writeTinyModel(model, text);
  await calibrate({model, data: [text], out: bundle, ...QUICK_OPTIONS});
});

function json(args: string[], env?: Record<string, string>): unknown {
  const r = runCli(args, {env});
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** The report with its timings and paths left out (they differ from run to run). */
function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !/ms|second|time/i.test(k)).map(([k, x]) => [k, stable(x)]));
}

describe('--json', () => {
  it('inspect prints what inspect() returns, also through HIRE_CONTENT_TYPE=json', () => {
    const expected = JSON.parse(JSON.stringify(inspect(bundle, {tensors: false})));
    expect(json(['inspect', bundle, '--json', '--no-tensors'])).toEqual(expected);
    expect(json(['inspect', bundle, '--no-tensors'], {HIRE_CONTENT_TYPE: 'json'})).toEqual(expected);
    expect(json(['inspect', bundle, '--json'])).toEqual(JSON.parse(JSON.stringify(inspect(bundle))));
  });

  it('calibrate prints the manifest it wrote (hire.json)', () => {
    const out = path.join(sandbox, 'json.hire');
    const printed = json(['calibrate', model, '--data', text, ...QUICK_FLAGS, '--out', out, '--json']);
    expect(printed).toEqual(JSON.parse(fs.readFileSync(path.join(out, 'hire.json'), 'utf8')));
  });

  it('eval prints what evaluate() returns', async () => {
    const printed = json(['eval', bundle, '--data', text, '--tokens', '40', '--k-primes', '16', '--threads', '1', '--json']);
    const report = await evaluate({bundle, data: [text], tokens: 40, kPrimes: [16], threads: 1});
    expect(stable(printed)).toEqual(stable(JSON.parse(JSON.stringify(report))));
  });

  it('bench prints the report, and nothing else on stdout', () => {
    const r = runCli(['bench', model, '--no-probe', '-n', '2', '--prompt-tokens', '2', '--threads', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {rows: Array<{mode: string}>; parameters: unknown};
    expect(report.rows.map((row) => row.mode)).toEqual(['dense']);
    expect(report.parameters).toEqual({dim: 32, nLayers: 1, hiddenDim: 64, vocabSize: 300});
    const layer = runCli(['bench', '--output-layer', '--vocab', '300', '--dim', '32', '--k-prime', '16', '--threads', '1', '--json']);
    expect(layer.code, layer.stderr).toBe(0);
    expect((JSON.parse(layer.stdout) as {rows: unknown[]}).rows).toHaveLength(2);
  });

  it('generate prints the result object instead of streaming, also through HIRE_CONTENT_TYPE=json', () => {
    const args = ['generate', model, '--prompt', 'hi', '-n', '3', '--temperature', '0', '--no-eos'];
    const a = json([...args, '--json']) as {text: string; tokenIds: number[]};
    const b = json(args, {HIRE_CONTENT_TYPE: 'json'}) as {text: string; tokenIds: number[]};
    expect(a.tokenIds).toHaveLength(3);
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(b.text).toBe(a.text);
  });

  it('on an error prints one line on stderr, nothing on stdout, and exits 1 (2 for bad usage)', () => {
    const missing = runCli(['inspect', path.join(sandbox, 'nope'), '--json']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(`hire: ${path.join(sandbox, 'nope')}: no such file or directory\n`);
    const usage = runCli(['generate', model, '--prompt', 'hi', '--temperature', '-1', '--json']);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toBe('hire: --temperature must be a number >= 0 (0 means greedy), got -1\n');
    const parse = runCli(['eval', bundle, '--k-primes', 'x', '--json']);
    expect(parse.code).toBe(2);
    expect(parse.stdout).toBe('');
    expect(parse.stderr.trim().split('\n')).toHaveLength(1);
    expect(parse.stderr).toMatch(/^hire: --k-primes: /);
  });
});
