import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {ensureSyntheticModel} from '../../../../src/core/tasks/bench/models.js';
import {benchOutputLayer} from '../../../../src/core/tasks/bench/output-layer.js';
import {runBench} from '../../../../src/core/tasks/bench/run.js';
import {spread, timeDecode} from '../../../../src/core/tasks/bench/timing.js';
import {Session} from '../../../../src/core/engine/session.js';
import {DenseHead} from '../../../../src/core/decode/output-head.js';
import {UsageError} from '../../../../src/core/errors.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {runCli} from '../../../helpers/cli.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../../../helpers/shared.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-bench-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

function tinyModel(): string {
  const dir = path.join(tmp, 'tiny');
  if (!fs.existsSync(dir)) {
    writeSyntheticCheckpoint(dir, {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 1000, maxSeqLen: 64, seed: 2});
  }
  return dir;
}

describe('runBench', () => {
  it('--repeat: each row reports the spread of its runs around the median, and the report names the CPU', async () => {
    const r = await runBench({model: tinyModel(), backend: 'cpu', threads: 1, tokens: 3, promptTokens: 2, probe: false, repeat: 3});
    const row = r.rows[0]!;
    expect(row.decodeSpread.runs).toBe(3);
    expect(row.decodeSpread.median).toBe(row.decodeTokensPerSecond);
    expect(row.decodeSpread.min).toBeLessThanOrEqual(row.decodeSpread.median);
    expect(row.decodeSpread.max).toBeGreaterThanOrEqual(row.decodeSpread.median);
    expect(r.cpu).toEqual({model: os.cpus()[0]!.model.trim(), cores: os.cpus().length});
    const one = await runBench({model: tinyModel(), backend: 'cpu', threads: 1, tokens: 3, promptTokens: 2, probe: false});
    const s = one.rows[0]!.decodeSpread;
    expect([s.runs, s.min, s.max]).toEqual([1, s.median, s.median]);
  });

  it('the bandwidth probe is read again before every round, and each run is divided by its own round\'s probe', async () => {
    const r = await runBench({model: tinyModel(), backend: 'cpu', threads: 1, tokens: 3, promptTokens: 2, repeat: 2});
    expect(r.probeBytesPerSecond).toBeGreaterThan(0);
    expect(r.roundProbeBytesPerSecond).toHaveLength(2);
    for (const p of r.roundProbeBytesPerSecond) expect(p).toBeGreaterThan(0);
    const row = r.rows[0]!;
    const perToken = row.achievedBytesPerSecond / row.decodeTokensPerSecond;
    // two runs (the slower and the faster), each against one of the two round probes
    const candidates = [row.decodeSpread.min, row.decodeSpread.max].flatMap((tps) => r.roundProbeBytesPerSecond.map((p) => (tps * perToken) / p));
    expect(candidates.some((c) => Math.abs(c - row.bandwidthUtilisation!) <= 1e-9 * c)).toBe(true);
    const none = await runBench({model: tinyModel(), backend: 'cpu', threads: 1, tokens: 3, promptTokens: 2, probe: false});
    expect([none.roundProbeBytesPerSecond, none.rows[0]!.bandwidthUtilisation]).toEqual([[], null]);
  });

  it('spread() gives the smallest, upper-median and largest value', () => {
    expect(spread([5, 1, 3])).toEqual({min: 1, median: 3, max: 5});
    expect(spread([4, 2])).toEqual({min: 2, median: 4, max: 4});
    expect(() => spread([])).toThrow(RangeError);
  });

  it('reports dense and HiRE rows with weight bytes that follow from the shapes', async () => {
    const r = await runBench({model: tinyModel(), backend: 'cpu', threads: 2, tokens: 4, promptTokens: 3, probe: false, hire: {kind: 'lowrank+quant', rank: 16, bits: 8, kPrime: 100}});
    expect(r.rows.map((row) => row.mode)).toEqual(['dense', 'hire-softmax']);
    const layer = 4 * (4 * 64 * 64 + 3 * 128 * 64); // f32 q,k,v,o + gate,up,down
    const dense = 4 * 64 + 2 * layer + 4 * 1000 * 64; // one embedding row + layers + tied output layer
    expect(r.rows[0]!.weightBytesPerToken).toBe(dense);
    // HiRE: B [16, 64] f32 + A [1000, 16] int8 with one f32 scale per row + 100 exact rows.
    const hire = dense - 4 * 1000 * 64 + (16 * 64 * 4 + 1000 * 16 + 1000 * 4) + 100 * 64 * 4;
    expect(r.rows[1]!.weightBytesPerToken).toBe(hire);
    for (const row of r.rows) {
      expect(row.decodeTokensPerSecond).toBeGreaterThan(0);
      expect(row.breakdown).not.toBeNull();
      expect(row.bandwidthUtilisation).toBeNull();
    }
    expect(r.rows[1]!.speedup).toBeCloseTo(r.rows[1]!.decodeTokensPerSecond / r.rows[0]!.decodeTokensPerSecond, 10);
  });

  it('decodes at a given context with an f16 KV cache, and counts prompt flops and KV bytes from the shapes', async () => {
    const r = await runBench({model: tinyModel(), backend: 'cpu', threads: 2, tokens: 4, promptTokens: 3, context: 20, kvDtype: 'f16', probe: false});
    expect([r.context, r.promptTokens, r.kvDtype, r.probeFlopsPerSecond]).toEqual([20, 20, 'f16', null]);
    // layers' matrices + attention over 20 positions (4 heads of 16, q.k and p.v) + the output layer once per prompt
    const macs = 2 * (4 * 64 * 64 + 3 * 128 * 64) + 2 * 4 * 2 * 16 * (21 / 2) + (1000 * 64) / 20;
    expect(r.prefillFlopsPerToken).toBeCloseTo(2 * macs, 6);
    const row = r.rows[0]!;
    // decode steps at positions 20 .. 23 read 21 .. 24 positions of 2 layers x (keys, values) x 64 halves
    expect(row.kvBytesPerToken).toBeCloseTo(2 * 2 * 64 * 2 * (20 + 5 / 2), 6);
    expect(row.achievedBytesPerSecond).toBeCloseTo((row.weightBytesPerToken + row.kvBytesPerToken) * row.decodeTokensPerSecond, 0);
    expect(row.prefillFlopsPerSecond).toBeCloseTo(row.prefillTokensPerSecond * r.prefillFlopsPerToken, 0);
    expect(row.computeUtilisation).toBeNull();
    await expect(runBench({model: tinyModel(), backend: 'cpu', tokens: 4, promptTokens: 3, context: 0, probe: false})).rejects.toThrow(/context must be a positive integer/);
  });

  it('rejects a context overflow and a k\' above the vocabulary', async () => {
    await expect(runBench({model: tinyModel(), backend: 'reference', tokens: 60, promptTokens: 10, probe: false})).rejects.toThrow(UsageError);
    await expect(
      runBench({model: tinyModel(), backend: 'reference', tokens: 2, promptTokens: 2, probe: false, hire: {kind: 'quant', bits: 4, kPrime: 1001}}),
    ).rejects.toThrow(/^hire\.kPrime must be in 1\.\.1000/);
  });

  it('times the output layer alone, dense and HiRE, in one run', async () => {
    const r = await benchOutputLayer({vocabSize: 2000, dim: 128, kPrime: 64, kind: 'lowrank+quant', rank: 32, bits: 4, backend: 'cpu', threads: 1, steps: 3});
    expect(r.rows).toHaveLength(2);
    expect(r.rows[0]!.bytesPerStep).toBe(2000 * 128 * 4);
    expect(r.rows[1]!.bytesPerStep).toBe(r.predictorBytes + 64 * 128 * 4);
    expect(r.rows[0]!.speedup).toBe(1);
  });
});

describe('synthetic shape cache', () => {
  it('writes a named shape once and reuses it', () => {
    const root = path.join(tmp, 'cache');
    const a = ensureSyntheticModel('llama-15m', 'bf16', root);
    expect(a.created).toBe(true);
    const mtime = fs.statSync(path.join(a.dir, 'config.json')).mtimeMs;
    const b = ensureSyntheticModel('llama-15m', 'bf16', root);
    expect(b).toEqual({dir: a.dir, created: false});
    expect(fs.statSync(path.join(a.dir, 'config.json')).mtimeMs).toBe(mtime);
    expect(fs.readdirSync(path.dirname(a.dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(() => ensureSyntheticModel('llama-9z', 'f32', root)).toThrow(/unknown shape "llama-9z"; known shapes: llama-15m/);
  });
});

describe.runIf(HAVE_SHARED)('hire bench command', () => {
  it('prints JSON with a dense row for llama2xs', () => {
    const r = runCli(['bench', LLAMA2XS_DIR, '--no-probe', '--tokens', '4', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.rows[0].mode).toBe('dense');
    expect(report.parameters).toEqual({dim: 64, nLayers: 5, hiddenDim: 192, vocabSize: 512});
  });
});

describe('timeDecode', () => {
  it('makes its KV cache cacheTokens long when given (the warm-up makes the timed runs\' size), never shorter than the run needs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-time-decode-'));
    writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, vocabSize: 50, maxSeqLen: 32, seed: 4});
    const session = await Session.open(dir, {backend: 'cpu', threads: 1, tokenizer: 'none'});
    try {
      const sizes: number[] = [];
      const create = session.model.createCache.bind(session.model);
      session.model.createCache = (n: number) => (sizes.push(n), create(n));
      const head = new DenseHead(session.backend, session.model.weights.lmHead);
      await timeDecode(session, head, 3, 2, 20);
      await timeDecode(session, head, 3, 2);
      await timeDecode(session, head, 3, 2, 1);
      expect(sizes).toEqual([20, 5, 5]);
    } finally {
      session.dispose();
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });
});
