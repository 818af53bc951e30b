/**
 * Perplexity on any model and any text: the sliding-window arithmetic (every token scored once,
 * with the stated context), the standard error against a hand computation, the whole file read by
 * default, a plain checkpoint evaluated densely, and the batched windows against a token-by-token
 * reference on a tiny random model.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {evaluate, type EvalReport} from '../../../../src/core/tasks/evaluate/evaluate.js';
import {perplexityWithError, tokenLogProb} from '../../../../src/core/tasks/evaluate/metrics.js';
import {slidingWindows} from '../../../../src/core/tasks/evaluate/windows.js';
import {UsageError} from '../../../../src/core/errors.js';
import {Session} from '../../../../src/core/engine/session.js';
import {writeTinyModel} from '../../../helpers/bundle-fixtures.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-ppl-'));
afterAll(() => fs.rmSync(root, {recursive: true, force: true}));

describe('slidingWindows', () => {
  /** For each target, the windows that score it and the context it gets there. */
  function coverage(n: number, w: number, s: number) {
    const windows = slidingWindows(n, w, s);
    const scoredBy = new Map<number, number[]>();
    for (const win of windows) {
      expect(win.end - win.start).toBeLessThanOrEqual(w);
      for (let t = win.firstTarget; t < win.end; t++) scoredBy.set(t, [...(scoredBy.get(t) ?? []), t - win.start]);
    }
    return {windows, scoredBy};
  }

  it('scores every token but the first exactly once, with at least W - S tokens of context after the first window', () => {
    for (const [n, w, s] of [[10, 4, 2], [11, 4, 3], [17, 5, 1], [9, 8, 4], [3, 8, 4], [100, 16, 8], [2, 2, 1]] as const) {
      const {windows, scoredBy} = coverage(n, w, s);
      expect([...scoredBy.keys()].sort((a, b) => a - b)).toEqual(Array.from({length: n - 1}, (_, i) => i + 1));
      for (const [t, contexts] of scoredBy) {
        expect(contexts).toHaveLength(1);
        if (t >= windows[0]!.end) expect(contexts[0]).toBeGreaterThanOrEqual(w - s);
      }
    }
  });

  it('lays out a crafted case as stated: n = 10, W = 4, S = 2', () => {
    expect(slidingWindows(10, 4, 2)).toEqual([
      {start: 0, end: 4, firstTarget: 1},
      {start: 2, end: 6, firstTarget: 4},
      {start: 4, end: 8, firstTarget: 6},
      {start: 6, end: 10, firstTarget: 8},
    ]);
  });

  it('refuses a stride of W or more, and a window below 2, naming the option', () => {
    expect(() => slidingWindows(10, 4, 4)).toThrow(UsageError);
    expect(() => slidingWindows(10, 4, 0)).toThrow(/stride must be an integer from 1 to window - 1 \(3\), got 0/);
    expect(() => slidingWindows(10, 1, 1)).toThrow(/window must be an integer >= 2/);
  });
});

describe('perplexityWithError', () => {
  it('is exp(mean NLL) with stderr ppl * sd / sqrt(n) (sample sd), by hand', () => {
    // NLLs 1, 2, 3, 6: mean 3, squared deviations 4 + 1 + 0 + 9 = 14, sd = sqrt(14 / 3)
    const r = perplexityWithError([-1, -2, -3, -6]);
    expect(r.perplexity).toBeCloseTo(Math.exp(3), 12);
    expect(r.stderr).toBeCloseTo((Math.exp(3) * Math.sqrt(14 / 3)) / 2, 12);
    expect(r.tokens).toBe(4);
    expect(perplexityWithError([-0.5]).stderr).toBe(0);
    expect(perplexityWithError([-1, -1, -1]).stderr).toBe(0);
    expect(() => perplexityWithError([])).toThrow(RangeError);
  });
});

describe('evaluate on a plain checkpoint and a text file', () => {
  const model = path.join(root, 'tiny');
  const text = path.join(root, 'text.txt');
  let report: EvalReport;
  let fileTokens: number[];

  beforeAll(async () => {
    writeTinyModel(model, path.join(root, 'unused.txt'));
    fs.writeFileSync(text, 'a fox and a dog went up the hill; the dog sat and the fox ran. '.repeat(6));
    const session = await Session.open(model, {backend: 'cpu', threads: 1});
    try {
      fileTokens = session.tokenizer!.encode(fs.readFileSync(text, 'utf8'), {addSpecialTokens: false});
    } finally {
      session.dispose();
    }
    report = await evaluate({model, data: [text], window: 32, stride: 12, threads: 1});
  });

  it('reads the whole file by default and scores every token but the first', () => {
    expect(fileTokens.length).toBeGreaterThan(100);
    expect(report.split).toBe('all');
    expect(report.textTokens).toBe(fileTokens.length);
    expect(report.tokens).toBe(fileTokens.length - 1);
    expect([report.window, report.stride, report.windows]).toEqual([32, 12, slidingWindows(fileTokens.length, 32, 12).length]);
    expect(report.corpus).toBeNull();
  });

  it('gives a plain checkpoint a dense report with no HiRE rows', () => {
    expect(report.bundle).toBeNull();
    expect(report.model).toBe(path.resolve(model));
    expect([report.rows, report.curves, report.ffn, report.selected]).toEqual([[], [], null, null]);
    expect(report.dense.perplexity).toBeGreaterThan(1);
    expect(report.dense.stderr).toBeGreaterThan(0);
  });

  it('equals a token-by-token computation over the same windows (each window from an empty context)', async () => {
    const session = await Session.open(model, {backend: 'cpu', threads: 1});
    const logProbs: number[] = [];
    try {
      for (const w of slidingWindows(fileTokens.length, 32, 12)) {
        const cache = session.model.createCache(32);
        for (let t = w.start; t < w.end - 1; t++) {
          const logits = await session.backend.read(await session.model.forward(fileTokens[t]!, t - w.start, cache));
          if (t + 1 >= w.firstTarget) logProbs.push(tokenLogProb(logits, fileTokens[t + 1]!));
        }
      }
    } finally {
      session.dispose();
    }
    const expected = perplexityWithError(logProbs);
    expect(report.dense.perplexity / expected.perplexity).toBeCloseTo(1, 5);
    expect(report.dense.stderr / expected.stderr).toBeCloseTo(1, 4);
  });

  it('--split validation reads the last part only; the tokens cap and options a plain checkpoint lacks', async () => {
    const r = await evaluate({model, data: [text], split: 'validation', window: 16, threads: 1});
    expect(r.split).toBe('validation');
    expect(r.textTokens).toBeLessThan(fileTokens.length / 5);
    expect(r.stride).toBe(8);
    const capped = await evaluate({model, data: [text], tokens: 40, window: 16, threads: 1});
    expect(capped.tokens).toBe(39);
    await expect(evaluate({model, data: [text], kPrimes: [8]})).rejects.toThrow(/kPrimes chooses HiRE rows, but .* is a plain checkpoint/);
    await expect(evaluate({model, data: [text], window: 1000})).rejects.toThrow(/window 1000 exceeds the model's context of 128 tokens/);
  });

  it('with no data reads the bundled corpus and names it', async () => {
    const r = await evaluate({model, tokens: 30, window: 16, threads: 1});
    expect(r.corpus).toBe('Tiny Shakespeare');
    expect(r.split).toBe('validation');
    expect(r.data[0]!.file).toMatch(/tinyshakespeare\.txt$/);
  });

  it('reports numbered stages and a token count that rises to the total', async () => {
    const events: Array<[string, number | undefined, number | undefined, number | undefined]> = [];
    await evaluate({model, data: [text], window: 16, threads: 1, onProgress: (stage, done, total, info) => events.push([stage, done, total, info?.step])});
    expect(events[0]).toEqual(['loading model', undefined, undefined, 1]);
    expect(events[1]![0]).toMatch(/^tokenizing .*text\.txt$/);
    expect(events[1]![3]).toBe(2);
    const counted = events.filter((e) => e[3] === 3);
    expect(counted[0]).toEqual(['scoring', 0, fileTokens.length - 1, 3]);
    expect(counted[counted.length - 1]).toEqual(['scoring', fileTokens.length - 1, fileTokens.length - 1, 3]);
    for (let i = 1; i < counted.length; i++) expect(counted[i]![1]!).toBeGreaterThanOrEqual(counted[i - 1]![1]!);
  });
});
