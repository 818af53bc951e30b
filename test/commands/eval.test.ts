import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {calibrate} from '../../src/core/tasks/calibrate/calibrate.js';
import {writeTinyModel} from '../helpers/bundle-fixtures.js';
import {HireTokenizer} from '../../src/core/model/tokenizer.js';
import {runCli} from '../helpers/cli.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../helpers/shared.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, {recursive: true, force: true})));
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-eval-cmd-'));
  dirs.push(dir);
  return dir;
}

describe.runIf(HAVE_SHARED)('hire eval on a llama2xs bundle', () => {
  let bundle: string;
  let selected: string;

  beforeAll(async () => {
    const result = await calibrate({model: LLAMA2XS_DIR, out: path.join(tempDir(), 'l2.hire'), tokens: 1024, threads: 1});
    bundle = result.bundle;
    selected = result.manifest.softmax!.selected;
  });

  it('prints one table row per (predictor, k, k\'), marks the selected predictor and prints dense perplexity once', () => {
    const r = runCli(['eval', bundle, '--tokens', '300', '--k', '8', '--k-prime', '16,512', '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${selected} *`);
    const rows = r.stdout.split('\n').filter((l) => /\s(16|512)\s+│/.test(l));
    expect(rows).toHaveLength(4 * 2);
    expect(r.stdout.match(/^perplexity \d+\.\d+ ± \d+\.\d+/gm)).toHaveLength(1);
    expect(r.stdout).toMatch(/299 next tokens of the last 10% \(validation split\) of data\/tinyshakespeare\.txt \(the bundled corpus Tiny Shakespeare\)/);
    expect(r.stdout).toMatch(/^windows of 256 tokens, stride 128 \(\d+ windows\)/m);
    // no --data: stderr names the corpus read
    expect(r.stderr).toMatch(/^eval: no --data given: reading the bundled corpus Tiny Shakespeare \(data\/tinyshakespeare\.txt\), the last 10% \(validation split\): 300 tokens$/m);
    // k' = V: the same perplexity, nothing dropped
    for (const row of rows.filter((l) => /\s512\s+│/.test(l))) expect(row).toMatch(/│ 1\.0000 │ 1\.0000 │ 0\s+│ 0\s+│ ([0-9.]+) -> \1\s+│ 0\.00%/);
  });

  it('--json prints the report and --plot writes an SVG atomically', () => {
    const dir = tempDir();
    const svg = path.join(dir, 'recall.svg');
    const r = runCli(['eval', bundle, '--tokens', '200', '--predictor', selected, '--json', '--plot', svg, '--threads', '1']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.selected).toBe(selected);
    expect(report.tokens).toBe(199);
    expect([report.corpus, report.split, report.window, report.stride]).toEqual(['Tiny Shakespeare', 'validation', 256, 128]);
    expect(report.dense.stderr).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^eval: no --data given: reading the bundled corpus Tiny Shakespeare/m);
    expect(report.rows.every((row: {predictor: string}) => row.predictor === selected)).toBe(true);
    expect(Number.isFinite(report.dense.perplexity)).toBe(true);
    expect(r.stderr).toContain(`wrote ${svg}`);
    const text = fs.readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg')).toBe(true);
    expect(text.trimEnd().endsWith('</svg>')).toBe(true);
    expect(text.match(/<polyline/g)).toHaveLength(1);
    expect(fs.readdirSync(dir)).toEqual(['recall.svg']);
  });

  it("rejects k' above the vocabulary with exit 2 and one line", () => {
    const r = runCli(['eval', bundle, '--k-primes', '513']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--k-primes value 513 must be an integer from 1 to the vocabulary size 512/);
  });

  it('names the known predictors when asked for an unknown one', () => {
    const r = runCli(['eval', bundle, '--predictor', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`the bundle has: `);
    expect(r.stderr).toContain(selected);
  });
});

describe('hire eval', () => {
  it('on a plain model directory and a --data file: the dense perplexity of the whole file, said to be dense only', () => {
    const dir = tempDir();
    const text = path.join(dir, 'text.txt');
    writeTinyModel(path.join(dir, 'm'), text);
    const r = runCli(['eval', path.join(dir, 'm'), '--data', text, '--window', '64', '--stride', '48', '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const tokens = HireTokenizer.load(path.join(dir, 'm')).encode(fs.readFileSync(text, 'utf8'), {addSpecialTokens: false}).length;
    expect(r.stdout).toMatch(new RegExp(`^perplexity \\d+\\.\\d+ ± \\d+\\.\\d+ over ${tokens - 1} next tokens of the whole file of .*text\\.txt$`, 'm'));
    expect(r.stdout).toMatch(/^windows of 64 tokens, stride 48 \(\d+ windows\): each next token scored once, with at least 16 tokens of context/m);
    expect(r.stdout).toMatch(/is a plain checkpoint: dense perplexity only, no HiRE rows/);
    const json = JSON.parse(runCli(['eval', path.join(dir, 'm'), '--data', text, '--window', '64', '--threads', '1', '--json']).stdout);
    expect([json.bundle, json.rows, json.split, json.corpus, json.textTokens, json.stride]).toEqual([null, [], 'all', null, tokens, 32]);
  });

  it('refuses --stride at or above --window with exit 2 and one line naming the flag', () => {
    const dir = tempDir();
    writeTinyModel(path.join(dir, 'm'), path.join(dir, 't.txt'));
    const r = runCli(['eval', path.join(dir, 'm'), '--data', path.join(dir, 't.txt'), '--window', '16', '--stride', '16']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^hire: --stride must be an integer from 1 to window - 1 \(15\), got 16$/m);
  });

  it('--help shows examples', () => {
    const r = runCli(['eval', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/EXAMPLES[\s\S]*hire eval llama2xs\.hire --k 1,32 --k-prime/);
  });
});
