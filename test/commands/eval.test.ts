import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {calibrate} from '../../src/core/tasks/calibrate/calibrate.js';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
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
    expect(r.stdout.match(/dense perplexity \d+\.\d+/g)).toHaveLength(1);
    expect(r.stdout).toMatch(/299 next tokens of the validation split/);
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
  it('on a plain model directory exits 1 with one line naming hire.json and suggesting hire calibrate', () => {
    const dir = tempDir();
    writeSyntheticCheckpoint(dir, {family: 'llama', dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, vocabSize: 40, maxSeqLen: 16, seed: 1});
    const r = runCli(['eval', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(path.join(dir, 'hire.json'));
    expect(lines[0]).toMatch(/hire calibrate/);
  });

  it('--help shows examples', () => {
    const r = runCli(['eval', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/EXAMPLES[\s\S]*hire eval llama2xs\.hire --k 1,32 --k-prime/);
  });
});
