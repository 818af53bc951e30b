/**
 * bench's warm-up: with warmup > 0 every row decodes untimed (in turn, each at least once) before
 * any row is timed; with 0, only the first row once (timeDecode counted through a module mock).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it, vi} from 'vitest';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import type {OutputHead} from '../../../../src/core/decode/output-head.js';

const calls: string[] = [];
vi.mock('../../../../src/core/tasks/bench/timing.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../../src/core/tasks/bench/timing.js')>();
  return {
    ...real,
    timeDecode: (session: unknown, head: OutputHead, ...rest: number[]) => {
      calls.push(head.describe());
      return (real.timeDecode as (...a: unknown[]) => unknown)(session, head, ...rest);
    },
  };
});
const {runBench} = await import('../../../../src/core/tasks/bench/run.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-warmup-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const dir = path.join(tmp, 'tiny');
writeSyntheticCheckpoint(dir, {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 1000, maxSeqLen: 64, seed: 2});

describe('bench warm-up', () => {
  const base = {model: dir, backend: 'cpu' as const, threads: 1, tokens: 2, promptTokens: 2, probe: false, hire: {kind: 'lowrank' as const, bits: 4 as const, rank: 8, kPrime: 64}};

  it('warmup > 0: every row decodes untimed before the first timed run', async () => {
    calls.length = 0;
    const r = await runBench({...base, warmup: 1e-9});
    const rows = r.rows.map((row) => row.head);
    expect(rows).toHaveLength(2);
    // the untimed runs, one per row in the rows' order, then the timed ones
    expect(calls.slice(0, 2)).toEqual(rows);
    expect(calls.slice(2)).toEqual(rows);
  });

  it('warmup 0: the first row once, as before; a negative warmup is refused', async () => {
    calls.length = 0;
    const r = await runBench({...base, warmup: 0});
    const rows = r.rows.map((row) => row.head);
    expect(calls).toEqual([rows[0], ...rows]);
    await expect(runBench({...base, warmup: -1})).rejects.toThrow(/warmup must be from 0 to 600 seconds, got -1/);
  });
});
