/**
 * hire eval's core: the (k, k') plan, the per-token scoring against an independent recall, and a
 * full calibrate + evaluate round trip on the real llama2xs checkpoint (skipped, with a printed
 * reason, only when ../shared is absent).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createRng} from '../../../../src/core/numeric/rng.js';
import {topKIndices} from '../../../../src/core/numeric/select.js';
import {BundleError, UsageError} from '../../../../src/core/errors.js';
import type {HireManifest, PredictorRecord} from '../../../../src/core/hire/bundle/bundle.js';
import {calibrate} from '../../../../src/core/tasks/calibrate/calibrate.js';
import {evaluate, planEvaluation, PredictorTally, type EvalReport, type EvalRow} from '../../../../src/core/tasks/evaluate/evaluate.js';
import {tokenLogProb} from '../../../../src/core/tasks/evaluate/metrics.js';
import {recallAtK} from '../../../../src/core/hire/predictor/recall.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../../../helpers/shared.js';
import {QUICK_OPTIONS, writeTinyModel} from '../../../helpers/bundle-fixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, {recursive: true, force: true})));
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-eval-'));
  dirs.push(dir);
  return dir;
}

/** A manifest with two predictors over a vocabulary of 64 and a stored recall table. */
function fakeManifest(): HireManifest {
  const record = (name: string, kPrimeAt099: number): PredictorRecord => ({
    name,
    kind: 'lowrank',
    fit: 'svd',
    rank: 4,
    bits: null,
    groupSize: null,
    bytesPerToken: 1000,
    recall: {
      ks: [1, 8],
      kPrimes: [8, 16, 32, 64],
      // mean[a][b]: recall@ks[a] at kPrimes[b]
      mean: [
        [0.95, 0.99, 1, 1],
        [0.7, 0.9, kPrimeAt099 === 32 ? 0.99 : 0.98, 1],
      ],
      full: [
        [0.95, 0.99, 1, 1],
        [0.5, 0.8, 0.9, 1],
      ],
      tokens: 100,
    },
    kPrime: {},
  });
  return {
    format: 'hire-bundle',
    version: 1,
    createdBy: 'test',
    createdAt: '',
    source: {dir: '/nowhere', config: {file: 'config.json', bytes: 0, sha256: ''}, weights: []},
    model: {architecture: 'llama', vocabSize: 64, dim: 16},
    calibration: {data: [], tokens: 0, fitTokens: 0, heldOutTokens: 0, seqLen: 8, seed: 1},
    softmax: {selected: 'a', recallTargets: [0.9, 0.99], predictors: [record('a', 32), record('b', 64)]},
    ffn: null,
  };
}

describe('planEvaluation', () => {
  it("defaults to the bundle's ks and, per k, the stored k' of each recall target plus k and V", () => {
    const [a, b] = planEvaluation(fakeManifest(), {});
    expect(a!.ks).toEqual([1, 8]);
    expect(a!.pairs).toEqual([
      {k: 1, kPrime: 1, targets: []},
      {k: 1, kPrime: 8, targets: [0.9]},
      {k: 1, kPrime: 16, targets: [0.99]},
      {k: 1, kPrime: 64, targets: []},
      {k: 8, kPrime: 8, targets: []},
      {k: 8, kPrime: 16, targets: [0.9]},
      {k: 8, kPrime: 32, targets: [0.99]},
      {k: 8, kPrime: 64, targets: []},
    ]);
    expect(a!.kPrimes).toEqual([1, 8, 16, 32, 64]);
    // b reaches 0.99 at k=8 only with k' = V: one row, both reasons.
    expect(b!.pairs.filter((p) => p.k === 8)).toEqual([
      {k: 8, kPrime: 8, targets: []},
      {k: 8, kPrime: 16, targets: [0.9]},
      {k: 8, kPrime: 64, targets: [0.99]},
    ]);
  });

  it("uses given ks, k' and predictors as the full cross product", () => {
    const plans = planEvaluation(fakeManifest(), {ks: [4, 2], kPrimes: [32, 4, 32], predictors: ['b']});
    expect(plans).toHaveLength(1);
    expect(plans[0]!.record.name).toBe('b');
    expect(plans[0]!.pairs.map((p) => [p.k, p.kPrime])).toEqual([
      [2, 4],
      [2, 32],
      [4, 4],
      [4, 32],
    ]);
  });

  it("rejects k' and k outside 1..V, and unknown predictors with the known names", () => {
    expect(() => planEvaluation(fakeManifest(), {kPrimes: [65]})).toThrow(UsageError);
    expect(() => planEvaluation(fakeManifest(), {kPrimes: [0]})).toThrow(/kPrimes value 0 must be an integer from 1 to the vocabulary size 64/);
    expect(() => planEvaluation(fakeManifest(), {ks: [2.5]})).toThrow(UsageError);
    expect(() => planEvaluation(fakeManifest(), {predictors: ['a', 'nope']}, '/b/hire.json')).toThrow(BundleError);
    expect(() => planEvaluation(fakeManifest(), {predictors: ['nope']}, '/b/hire.json')).toThrow(
      '/b/hire.json: no softmax predictor named "nope"; the bundle has: a, b',
    );
    const none = {...fakeManifest(), softmax: null};
    expect(() => planEvaluation(none, {})).toThrow(BundleError);
  });
});

describe('PredictorTally', () => {
  /** Random dense logits and an approximation with noise of the given size. */
  function tokens(n: number, vocab: number, noise: number, seed: number) {
    const rng = createRng(seed);
    return Array.from({length: n}, () => {
      const dense = Float32Array.from({length: vocab}, () => 4 * (rng() - 0.5));
      const approx = Float32Array.from(dense, (v) => v + noise * (rng() - 0.5));
      const next = Math.floor(rng() * vocab);
      return {dense, approx, next};
    });
  }

  function tally(ks: number[], kPrimes: number[], data: ReturnType<typeof tokens>): EvalRow[] {
    const record = fakeManifest().softmax!.predictors[0]!;
    const t = new PredictorTally({
      record,
      vocabSize: data[0]!.dense.length,
      ks,
      kPrimes,
      pairs: ks.flatMap((k) => kPrimes.map((kPrime) => ({k, kPrime, targets: []}))),
    });
    for (const {dense, approx, next} of data) {
      t.add({logits: dense, top: topKIndices(dense, Math.max(...ks)), next, logProb: tokenLogProb(dense, next)}, approx);
    }
    return t.rows(10);
  }

  it('matches recallAtK and the direct definitions of top-1, tail mass and dropped share', () => {
    const data = tokens(40, 50, 2, 7);
    const rows = tally([1, 5], [3, 10, 50], data);
    for (const row of rows) {
      const recalls = data.map(({dense, approx}) => recallAtK(dense, approx, row.k, row.kPrime));
      expect(row.recall).toBeCloseTo(recalls.reduce((s, r) => s + r, 0) / data.length, 12);
      expect(row.fullRecall).toBeCloseTo(recalls.filter((r) => r === 1).length / data.length, 12);
      let top1 = 0;
      let tail = 0;
      let dropped = 0;
      for (const {dense, approx, next} of data) {
        const cand = new Set(topKIndices(approx, row.kPrime));
        if (cand.has(topKIndices(dense, 1)[0]!)) top1++;
        if (!cand.has(next)) dropped++;
        const p = Array.from(dense, (v) => Math.exp(v));
        const z = p.reduce((s, v) => s + v, 0);
        tail += p.reduce((s, v, i) => s + (cand.has(i) ? 0 : v / z), 0);
      }
      expect(row.top1Agreement).toBeCloseTo(top1 / data.length, 12);
      expect(row.droppedShare).toBeCloseTo(dropped / data.length, 12);
      expect(row.tailMass).toBeCloseTo(tail / data.length, 9);
      // Exact candidate logits: the restricted KL is 0 and KL(q || p) = -log(1 - tail) per token.
      expect(row.kl).toBeLessThan(1e-9);
      expect(row.bytesPerToken).toBe(1000 + 10 * row.kPrime);
    }
    // k' = V keeps everything.
    const full = rows.find((r) => r.kPrime === 50)!;
    expect([full.recall, full.top1Agreement, full.droppedShare]).toEqual([1, 1, 0]);
    expect(full.perplexity).toBeCloseTo(full.densePerplexityKept, 9);
  });

  it('gives recall 1 and top-1 agreement 1 for a perfect predictor at k\' = k', () => {
    const rows = tally([1, 4], [4], tokens(20, 30, 0, 3));
    for (const row of rows) {
      expect(row.recall).toBe(1);
      expect(row.top1Agreement).toBe(1);
    }
  });
});

describe.runIf(HAVE_SHARED)('evaluate on a llama2xs bundle', () => {
  const V = 512;
  const K_PRIMES = [8, 16, 32, 64, 128, 256, V];
  let bundle: string;
  let report: EvalReport;
  let selected: string;

  beforeAll(async () => {
    const out = path.join(tempDir(), 'l2.hire');
    bundle = (await calibrate({model: LLAMA2XS_DIR, out, tokens: 1024, threads: 1})).bundle;
    report = await evaluate({model: bundle, tokens: 600, ks: [1, 8, 32], kPrimes: K_PRIMES, threads: 1});
    selected = report.selected!;
  });

  it('scores every position with a next token, on the validation split of the bundled corpus, for every predictor', () => {
    expect(report.tokens).toBe(599);
    expect(report.split).toBe('validation');
    expect(report.corpus).toBe('Tiny Shakespeare');
    expect(report.bundle).toBe(bundle);
    expect(report.data[0]!.file).toMatch(/tinyshakespeare\.txt$/);
    expect(report.dense.perplexity).toBeGreaterThan(1);
    expect(report.dense.perplexity).toBeLessThan(V);
    const names = new Set(report.rows.map((r) => r.predictor));
    expect(names.size).toBe(4);
    expect(names.has(selected)).toBe(true);
    expect(report.rows).toHaveLength(4 * 3 * K_PRIMES.length);
    expect(report.curves.length).toBe(4 * 4); // stored ks 1, 8, 32, 64
  });

  it("at k' = V equals dense: recall 1, top-1 1, no tail, same perplexity", () => {
    for (const row of report.rows.filter((r) => r.kPrime === V)) {
      expect(row.recall).toBe(1);
      expect(row.fullRecall).toBe(1);
      expect(row.top1Agreement).toBe(1);
      expect(row.tailMass).toBeLessThan(1e-12);
      expect(row.reverseKl).toBeLessThan(1e-12);
      expect(row.droppedShare).toBe(0);
      expect(row.perplexity / report.dense.perplexity).toBeCloseTo(1, 9);
      expect(row.densePerplexityKept).toBe(report.dense.perplexity);
      expect(row.approxTailPerplexity / report.dense.perplexity).toBeCloseTo(1, 9);
    }
  });

  it("the approximate-tail perplexity is finite for every k' and differs from dense where the tail is dropped", () => {
    for (const row of report.rows) expect(Number.isFinite(row.approxTailPerplexity)).toBe(true);
    const smallest = report.rows.filter((r) => r.kPrime === K_PRIMES[0]);
    expect(smallest.some((r) => Math.abs(r.approxTailPerplexity / report.dense.perplexity - 1) > 1e-6)).toBe(true);
  });

  it("improves monotonically in k': recall up, tail mass / KL / dropped share down", () => {
    for (const name of new Set(report.rows.map((r) => r.predictor))) {
      for (const k of [1, 8, 32]) {
        const rows = report.rows.filter((r) => r.predictor === name && r.k === k);
        expect(rows.map((r) => r.kPrime)).toEqual(K_PRIMES);
        for (let i = 1; i < rows.length; i++) {
          const [a, b] = [rows[i - 1]!, rows[i]!];
          expect(b.recall).toBeGreaterThanOrEqual(a.recall);
          expect(b.fullRecall).toBeGreaterThanOrEqual(a.fullRecall);
          expect(b.top1Agreement).toBeGreaterThanOrEqual(a.top1Agreement);
          expect(b.tailMass).toBeLessThanOrEqual(a.tailMass + 1e-12);
          expect(b.reverseKl).toBeLessThanOrEqual(a.reverseKl + 1e-12);
          expect(b.droppedShare).toBeLessThanOrEqual(a.droppedShare);
          expect(b.bytesPerToken).toBeGreaterThan(a.bytesPerToken);
        }
        // The first k' loses something on this model; otherwise the checks above prove little.
        expect(rows[0]!.tailMass).toBeGreaterThan(1e-3);
      }
    }
  });

  it('agrees on top-1 exactly when the dense argmax is a candidate (= recall@1)', () => {
    for (const row of report.rows.filter((r) => r.k === 1)) expect(row.top1Agreement).toBe(row.recall);
  });

  it("defaults k' to the stored k' per recall target, plus k and V", async () => {
    const r = await evaluate({model: bundle, tokens: 200, ks: [8], predictors: [selected], threads: 1});
    const manifest = JSON.parse(fs.readFileSync(path.join(bundle, 'hire.json'), 'utf8')) as HireManifest;
    const stored = manifest.softmax!.predictors.find((p) => p.name === selected)!.kPrime['0.99']!['8'];
    const kPrimes = r.rows.map((row) => row.kPrime);
    expect(kPrimes[0]).toBe(8);
    expect(kPrimes[kPrimes.length - 1]).toBe(V);
    if (stored !== null && stored !== undefined) {
      expect(r.rows.find((row) => row.kPrime === stored)!.targets).toContain(0.99);
    }
  });

  it("rejects an unknown predictor (BundleError naming the known ones) and k' > V (UsageError)", async () => {
    await expect(evaluate({model: bundle, predictors: ['no-such']})).rejects.toThrow(BundleError);
    await expect(evaluate({model: bundle, predictors: ['no-such']})).rejects.toThrow(new RegExp(`the bundle has: .*${selected.replace(/[+]/g, '\\+')}`));
    await expect(evaluate({model: bundle, kPrimes: [V + 1]})).rejects.toThrow(UsageError);
    await expect(evaluate({model: bundle, kPrimes: [0]})).rejects.toThrow(UsageError);
  });
});

describe('evaluate on a broken bundle', () => {
  it('throws the BundleError of an unreadable hire.json', async () => {
    const dir = tempDir();
    writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 64, vocabSize: 300, maxSeqLen: 64, seed: 1});
    fs.writeFileSync(path.join(dir, 'hire.json'), '{"format": "hire-bundle"');
    const err = await evaluate({model: dir}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as Error).message).toContain(path.join(dir, 'hire.json'));
  });
});
