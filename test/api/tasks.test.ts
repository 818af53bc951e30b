/**
 * calibrate, evaluate and bench from code: progress arrives through the callback, results are
 * plain typed objects, nothing is printed, and an AbortSignal stops them at the next progress
 * point with AbortError.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';
import {bench, calibrate, demo, evaluate, loadBundle, type ProgressEvent} from '../../src/index.js';

let writes: string[];
beforeEach(() => {
  writes = [];
  const capture = (chunk: unknown) => {
    writes.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
});
afterEach(() => vi.restoreAllMocks());

describe('calibrate, evaluate and bench (library API)', () => {
  it('calibrate reports progress through the callback, returns the manifest, writes a loadable bundle, prints nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-api-'));
    try {
      const events: ProgressEvent[] = [];
      const r = await calibrate({model: demo.model, out: path.join(dir, 'b.hire'), softmax: ['quant'], bits: 8, tokens: 400, ks: [1], threads: 1, onProgress: (e) => events.push(e)});
      expect(r.bundle).toBe(path.join(dir, 'b.hire'));
      expect(r.manifest.softmax!.predictors.map((p) => p.kind)).toEqual(['quant']);
      expect(events[0]).toEqual({stage: 'loading model', step: 1, steps: 7});
      const counted = events.filter((e) => e.done !== undefined && e.stage === 'running the dense model over the calibration text');
      expect(counted.length).toBeGreaterThan(0);
      expect(counted.at(-1)).toMatchObject({done: 400, total: 400, unit: 'tokens', step: 3, steps: 7});
      expect(events.at(-1)).toEqual({stage: 'writing the bundle', step: 7, steps: 7});
      const model = await loadBundle(r.bundle, {threads: 1});
      expect(model.bundle!.softmax!.selected).toBe(r.manifest.softmax!.selected);
      model.dispose();
      expect(writes).toEqual([]);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });

  it('calibrate stops with AbortError at the next progress point and leaves no bundle', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-api-'));
    try {
      const controller = new AbortController();
      const out = path.join(dir, 'b.hire');
      const run = calibrate({
        model: demo.model,
        out,
        tokens: 400,
        seqLen: 64,
        threads: 1,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.done !== undefined) controller.abort();
        },
      });
      await expect(run).rejects.toMatchObject({code: 'E_ABORTED', name: 'AbortError'});
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });

  it('evaluate reports progress, returns the typed report, prints nothing', async () => {
    const events: ProgressEvent[] = [];
    const report = await evaluate({bundle: demo.bundle, tokens: 200, ks: [1], threads: 1, onProgress: (e) => events.push(e)});
    expect(report.tokens).toBe(199);
    expect(report.rows.every((r) => r.k === 1)).toBe(true);
    expect(report.dense.perplexity).toBeGreaterThan(1);
    expect(events.some((e) => e.total !== undefined && e.done === e.total)).toBe(true);
    expect(writes).toEqual([]);
  });

  it('evaluate with an aborted signal rejects before loading anything', async () => {
    await expect(evaluate({bundle: demo.bundle, signal: AbortSignal.abort()})).rejects.toMatchObject({code: 'E_ABORTED'});
  });

  it('bench returns dense, HiRE-Softmax, HiRE-FFN and both rows for the demo bundle', async () => {
    const report = await bench({tokens: 4, promptTokens: 4, probe: false, threads: 1});
    expect(report.rows.map((r) => r.mode)).toEqual(['dense', 'hire-softmax', 'hire-ffn', 'hire-both']);
    expect(report.probeBytesPerSecond).toBeNull();
    expect(writes).toEqual([]);
  });
});
