/**
 * A flag spelling means one thing in every command: renamed flags work under their new names
 * without a warning, and their old spellings still work, with one deprecation line on stderr
 * (with --json too, whose stdout stays the JSON): calibrate --ffn -> --calibrate-ffn, eval
 * --k-prime -> --k-primes and --no-ffn -> --ffn off, bench --topk -> --merge and --ffn ->
 * --synthetic-ffn, generate --topk -> --merge. Generate takes --threads like every other command.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {calibrate} from '../../src/index.js';
import {QUICK_FLAGS, QUICK_OPTIONS, writeTinyModel} from '../helpers/bundle-fixtures.js';
import {runCli} from '../helpers/cli.js';

const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-flag-spellings-'));
afterAll(() => fs.rmSync(sandbox, {recursive: true, force: true}));
const model = path.join(sandbox, 'tiny');
const text = path.join(sandbox, 'calib.txt');
const bundle = path.join(sandbox, 'tiny-ffn.hire');

beforeAll(async () => {
  writeTinyModel(model, text);
  await calibrate({model, data: [text], out: bundle, ...QUICK_OPTIONS, ffn: {groupSize: 8}});
});

/** Runs with --json: exit 0, the parsed JSON, and stderr's warning lines. */
function json(args: string[]): {out: Record<string, unknown>; warnings: string[]} {
  const r = runCli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return {out: JSON.parse(r.stdout) as Record<string, unknown>, warnings: r.stderr.split('\n').filter((l) => l.startsWith('hire: warning:'))};
}

function deprecation(old: string, now: string): string {
  return `hire: warning: The "${old}" flag has been deprecated. Use "${now}" instead.`;
}

describe('renamed flags', () => {
  it('calibrate --calibrate-ffn writes an FFN section; --ffn does the same with a deprecation warning', () => {
    const base = ['calibrate', model, '--data', text, ...QUICK_FLAGS, '--ffn-group-size', '8'];
    const now = json([...base, '--calibrate-ffn', '--out', path.join(sandbox, 'a.hire')]);
    const old = json([...base, '--ffn', '--out', path.join(sandbox, 'b.hire')]);
    expect((now.out.ffn as {groupSize: number}).groupSize).toBe(8);
    expect((old.out.ffn as {groupSize: number}).groupSize).toBe(8);
    expect(now.warnings).toEqual([]);
    expect(old.warnings).toEqual([deprecation('--ffn', '--calibrate-ffn')]);
  });

  it("eval --k-primes measures those k'; --k-prime does the same with a deprecation warning", () => {
    const base = ['eval', bundle, '--data', text, '--tokens', '40', '--threads', '1'];
    const kPrimes = (out: Record<string, unknown>) => [...new Set((out.rows as Array<{kPrime: number}>).map((r) => r.kPrime))].sort((a, b) => a - b);
    const now = json([...base, '--k-primes', '16,32']);
    const old = json([...base, '--k-prime', '16,32']);
    expect(kPrimes(now.out)).toEqual([16, 32]);
    expect(kPrimes(old.out)).toEqual([16, 32]);
    expect(now.warnings).toEqual([]);
    expect(old.warnings).toEqual([deprecation('--k-prime', '--k-primes')]);
  });

  it('eval --ffn off leaves the HiRE-FFN rows out; --no-ffn does the same with a deprecation warning', () => {
    const base = ['eval', bundle, '--data', text, '--tokens', '40', '--threads', '1', '--k-primes', '16'];
    expect(json(base).out.ffn).not.toBeNull();
    const now = json([...base, '--ffn', 'off']);
    const old = json([...base, '--no-ffn']);
    expect(now.out.ffn).toBeNull();
    expect(old.out.ffn).toBeNull();
    expect(now.warnings).toEqual([]);
    expect(old.warnings).toEqual([deprecation('--no-ffn', '--ffn off')]);
  });

  it('bench --merge picks the device rows and --synthetic-ffn adds FFN rows; --topk and --ffn do the same with deprecation warnings', () => {
    const base = ['bench', model, '--no-probe', '-n', '2', '--prompt-tokens', '2', '--threads', '1', '--hire', '--k-prime', '16', '--devices', '1'];
    const now = json([...base, '--merge', 'dat', '--synthetic-ffn']);
    const old = json([...base, '--topk', 'dat', '--ffn']);
    for (const {out} of [now, old]) {
      expect((out.devices as {rows: Array<{topk: string}>}).rows.map((r) => r.topk)).toEqual(['dat']);
      expect((out.rows as Array<{mode: string}>).map((r) => r.mode)).toEqual(['dense', 'hire-softmax', 'hire-ffn', 'hire-both']);
    }
    expect(now.warnings).toEqual([]);
    expect(old.warnings.sort()).toEqual([deprecation('--ffn', '--synthetic-ffn'), deprecation('--topk', '--merge')].sort());
  });

  it('generate --merge and its old spelling --topk (deprecated) decode the same tokens', () => {
    const base = ['generate', model, '--prompt', 'hi', '-n', '3', '--temperature', '0', '--no-eos', '--devices', '2'];
    const now = json([...base, '--merge', 'dat']);
    const old = json([...base, '--topk', 'dat']);
    expect(old.out.tokenIds).toEqual(now.out.tokenIds);
    expect((now.out.devices as {merge: string}).merge).toBe('dat');
    expect(now.warnings).toEqual([]);
    expect(old.warnings).toEqual([deprecation('--topk', '--merge')]);
  });
});

describe('generate --threads', () => {
  it('runs the cpu backend on that many threads, and is refused with --devices', () => {
    const r = runCli(['generate', model, '--prompt', 'hi', '-n', '2', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^\[cpu \(wasm (relaxed )?simd, 1 thread(; int(16|8) activations on block weights)?\)\] prompt /m);
    const both = runCli(['generate', model, '--prompt', 'hi', '-n', '2', '--threads', '1', '--devices', '2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('hire: --threads applies to one cpu backend; each device of a group runs one thread\n');
  });
});
