/**
 * A slow or hung kernel worker must not block the event loop: the cpu backend leaves a call whose
 * workers are late running, queues the work after it in call order, and read() waits for it
 * without blocking (timers and abort signals run meanwhile). A hang ends as a BackendError.
 * The last test runs the built package (npm test builds first).
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {afterEach, describe, expect, it} from 'vitest';
import {CpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels, type CpuKernelsOptions} from '../../../../src/core/backends/cpu/kernels.js';
import {randomF32, rng} from './helpers.js';
import {SPAWN_TIMEOUT_MS, throwIfFailedToRun} from '../../../helpers/cli.js';
import {PROJECT_ROOT} from '../../../helpers/shared.js';

const created: CpuKernels[] = [];
async function backend(opts: CpuKernelsOptions): Promise<CpuBackend> {
  const k = await CpuKernels.create({threads: 2, minParallelBytes: 0, syncWaitMs: 10, ...opts});
  created.push(k);
  return new CpuBackend(k);
}
afterEach(() => {
  for (const k of created.splice(0)) k.dispose();
});

const [ROWS, COLS] = [64, 32];

/** A matrix, a vector and an output for one matvec. */
function operands(b: CpuBackend) {
  const rand = rng(5);
  return {
    w: b.uploadMatrix({dtype: 'f32', rows: ROWS, cols: COLS, data: randomF32(ROWS * COLS, rand)}),
    x: b.uploadVector(randomF32(COLS, rand)),
    y: b.createVector(ROWS),
    host: randomF32(COLS, rand),
  };
}

/**
 * A mix of kernels and host work; with `slow`, the first kernel call and the one started by
 * accumulateRows (while the queue drains) are late. The caller's arrays change right after the
 * calls that take them.
 */
async function run(b: CpuBackend, slow: boolean): Promise<{values: Float32Array[]; busy: boolean}> {
  const {w, x, y, host} = operands(b);
  const [y2, z] = [b.createVector(16), b.createVector(COLS)];
  const ys = [b.createVector(ROWS), b.createVector(ROWS)];
  const x2 = b.uploadVector(Float32Array.from({length: COLS}, (_, i) => i / COLS));
  const ids = Int32Array.from({length: 16}, (_, i) => (i * 5) % ROWS);
  if (slow) b.kernels.debugFailNextCall('slow');
  b.matvec(w, x, y);
  const busy = b.kernels.queue.busy;
  const first = b.read(y);
  b.write(x, host);
  host.fill(7);
  b.matvecRows(w, ids, x, y2);
  ids.fill(0);
  if (slow) b.kernels.queue.later(() => b.kernels.debugFailNextCall('slow'));
  b.accumulateRows(w, null, y, z);
  b.matvecBatch(w, [x, x2], ys);
  b.add(y, y, y);
  const values = await Promise.all([first, b.read(y), b.read(y2), b.read(z), b.read(ys[0]!), b.read(ys[1]!)]);
  return {values, busy};
}

describe('cpu backend with a slow worker', () => {
  it('queues the work behind a late call in call order, with the arrays as they were, and lets timers run', async () => {
    const expected = await run(await backend({}), false);
    const b = await backend({});
    const events: string[] = [];
    setTimeout(() => events.push('timer'), 50);
    const {values, busy} = await run(b, true);
    events.push('read');
    expect(busy).toBe(true); // the first call was left running
    expect(events).toEqual(['timer', 'read']);
    expect(b.kernels.queue.busy).toBe(false);
    expect(values.map((v) => Array.from(v))).toEqual(expected.values.map((v) => Array.from(v)));
  });

  it('a hung worker blocks neither a timer nor an abort signal, and the call ends as a BackendError', async () => {
    const b = await backend({timeoutMs: 2000});
    const {w, x, y} = operands(b);
    const events: string[] = [];
    setTimeout(() => events.push('timer 500 ms'), 500);
    AbortSignal.timeout(1000).addEventListener('abort', () => events.push('signal 1000 ms'));
    b.kernels.debugFailNextCall('hang');
    b.matvec(w, x, y);
    events.push('matvec returned');
    const error = await b.read(y).then(
      () => null,
      (e: unknown) => e,
    );
    events.push((error as {code?: string} | null)?.code ?? 'no error');
    expect(events).toEqual(['matvec returned', 'timer 500 ms', 'signal 1000 ms', 'E_BACKEND']);
    expect((error as Error).message).toMatch(/^cpu kernel call did not finish within 2000 ms \(a worker hung or was killed\)/);
    expect(() => b.matvec(w, x, y)).toThrow(/did not finish within 2000 ms/);
  });

  it('abortWaits: a wait for a hung worker rejects with AbortError when the signal fires; dispose ends the next wait', async () => {
    const b = await backend({});
    const {w, x, y} = operands(b);
    const controller = new AbortController();
    b.abortWaits(controller.signal);
    b.kernels.debugFailNextCall('hang');
    b.matvec(w, x, y);
    b.add(y, y, y);
    setTimeout(() => controller.abort(new Error('stop')), 50);
    const aborted = await b.read(y).catch((e: unknown) => e);
    expect(aborted).toMatchObject({code: 'E_ABORTED', name: 'AbortError'});
    expect(((aborted as Error).cause as Error).message).toBe('stop');
    expect(b.kernels.queue.busy).toBe(true); // the hung call is still running; the queued add was dropped
    b.abortWaits(undefined);
    const next = b.read(y);
    setTimeout(() => b.dispose(), 50);
    await expect(next).rejects.toThrow(/disposed while a kernel call was running/);
  });

  it('a process whose only work is a wait for a late worker stays alive until the wait ends (built package)', () => {
    // Node does not count a pending Atomics.waitAsync as work: without a timer of its own the
    // process would exit (code 13, unsettled top-level await) before the call finished.
    const kernels = path.join(PROJECT_ROOT, 'dist/core/backends/cpu/kernels.js');
    expect(fs.existsSync(kernels), 'run `npm run build` first').toBe(true);
    const script = `import {CpuKernels} from ${JSON.stringify(pathToFileURL(kernels).href)};
const k = await CpuKernels.create({threads: 2, syncWaitMs: 10, minParallelBytes: 0});
const w = k.alloc(64 * 16);
k.debugFailNextCall('slow');
k.matvec('f32', w, 16, 16, w, w);
console.log('left running: ' + k.queue.busy);
await k.queue.settle();
console.log('settled');
k.dispose();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS});
    throwIfFailedToRun(r, 'the wait script');
    expect({code: r.status, stdout: r.stdout}).toEqual({code: 0, stdout: 'left running: true\nsettled\n'});
  });
});
