import {afterEach, describe, expect, it} from 'vitest';
import {BackendError} from '../../../../src/core/errors.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {quantize} from '../../../../src/core/numeric/quant.js';
import {put, randomBf16, randomF16, randomF32, rng} from './helpers.js';

const created: CpuKernels[] = [];
async function make(opts: Parameters<typeof CpuKernels.create>[0]): Promise<CpuKernels> {
  const k = await CpuKernels.create(opts);
  created.push(k);
  return k;
}
afterEach(() => {
  for (const k of created.splice(0)) k.dispose();
});

describe('CpuKernels memory', () => {
  it('aligns, grows the shared memory and keeps data across growth', async () => {
    const k = await make({threads: 1, initialBytes: 0});
    const a = k.alloc(10, 64);
    expect(a % 64).toBe(0);
    k.f32(a, 2).set([1.5, -2]);
    const before = k.capacity;
    const big = k.alloc(40 * 1024 * 1024, 4096);
    expect(big % 4096).toBe(0);
    expect(k.capacity).toBeGreaterThan(before);
    k.f32(big, 1)[0] = 7;
    expect(Array.from(k.f32(a, 2))).toEqual([1.5, -2]);
    expect(k.f32(big, 1)[0]).toBe(7);
  });

  it('mark/reset hands memory back; bytes counts what is in use', async () => {
    const k = await make({threads: 1});
    const base = k.bytes;
    const m = k.mark();
    const p = k.alloc(1000);
    expect(k.bytes).toBeGreaterThanOrEqual(base + 1000);
    k.reset(m);
    expect(k.bytes).toBe(base);
    expect(k.alloc(1000)).toBe(p);
    expect(() => k.reset(k.mark() + 64)).toThrow(BackendError);
  });

  it('refuses to grow past maxBytes and rejects bad sizes', async () => {
    const k = await make({threads: 1, maxBytes: 4 * 1024 * 1024, initialBytes: 0});
    expect(() => k.alloc(8 * 1024 * 1024)).toThrow(/out of memory/);
    expect(() => k.alloc(-1)).toThrow(BackendError);
    expect(() => k.alloc(16, 3)).toThrow(BackendError);
    await expect(CpuKernels.create({maxBytes: 2 ** 32})).rejects.toThrow(BackendError);
    await expect(CpuKernels.create({threads: 0})).rejects.toThrow(BackendError);
  });

  it('checks kernel operands against the allocated memory', async () => {
    const k = await make({threads: 1});
    const x = k.alloc(16);
    const y = k.alloc(16);
    const w = k.alloc(4 * 4 * 4); // the last allocation: nothing valid lies after it
    expect(() => k.matvec('f32', w, 4, 8, x, y)).toThrow(/outside the allocated memory/);
    expect(() => k.matvec('f32', 0, 4, 4, x, y)).toThrow(BackendError);
    expect(() => k.matvec('f64' as never, w, 4, 4, x, y)).toThrow(/unknown weight dtype/);
    const ids = put(k, Int32Array.from([0, 4]));
    expect(() => k.matvecRows('f32', w, 4, ids, 2, x, y, 4)).toThrow(/row ids/);
    expect(() => k.matvecQ8(w, x, 4, 4, 3, x, y)).toThrow(/groupSize/);
    expect(() => k.matvecQ4(w, x, 2, 6, 3, x, y)).toThrow(/even/);
    expect(() => k.f32(x + 2, 1)).toThrow(BackendError);
  });
});

describe('CpuKernels threads', () => {
  it('gives bit-identical results with 1, 2 and 3 threads for every kernel', async () => {
    const one = await make({threads: 1});
    const two = await make({threads: 2, minParallelBytes: 0});
    const three = await make({threads: 3, minParallelBytes: 0});
    const rand = rng(11);
    const [rows, cols, nb, gs] = [203, 300, 5, 60];
    const f32 = randomF32(rows * cols, rand);
    const bf16 = randomBf16(rows * cols, rand);
    const f16 = randomF16(rows * cols, rand);
    const xs = randomF32(nb * cols, rand);
    const ids = Int32Array.from({length: 150}, () => Math.floor(rand() * rows));
    const q8 = quantize(f32, rows, cols, 8, gs);
    const q4 = quantize(f32, rows, cols, 4, gs);
    const outputs = [one, two, three].map((k) => {
      const p = {
        f32: put(k, f32), bf16: put(k, bf16), f16: put(k, f16), xs: put(k, xs), ids: put(k, ids),
        q8: put(k, q8.data), q8s: put(k, q8.scales), q4: put(k, q4.data), q4s: put(k, q4.scales),
      };
      const results: Float32Array[] = [];
      const y = k.alloc(nb * rows * 4);
      const run = (n: number, f: () => void): void => {
        f();
        results.push(k.f32(y, n).slice());
      };
      for (const dtype of ['f32', 'bf16', 'f16'] as const) {
        run(rows, () => k.matvec(dtype, p[dtype], rows, cols, p.xs, y));
        run(ids.length, () => k.matvecRows(dtype, p[dtype], cols, p.ids, ids.length, p.xs, y));
        run(nb * rows, () => k.matvecBatch(dtype, p[dtype], rows, cols, p.xs, y, nb));
      }
      run(rows, () => k.matvecQ8(p.q8, p.q8s, rows, cols, gs, p.xs, y));
      run(rows, () => k.matvecQ4(p.q4, p.q4s, rows, cols, gs, p.xs, y));
      return results;
    });
    for (const other of outputs.slice(1)) {
      for (let i = 0; i < outputs[0]!.length; i++) {
        expect(Buffer.from(other[i]!.buffer).equals(Buffer.from(outputs[0]![i]!.buffer))).toBe(true);
      }
    }
  });

  it('splits matvecs in partsPerThread parts per thread without changing a bit, and checks the option', async () => {
    await expect(CpuKernels.create({threads: 2, partsPerThread: 0})).rejects.toThrow(/partsPerThread/);
    await expect(CpuKernels.create({threads: 2, partsPerThread: 2.5})).rejects.toThrow(/partsPerThread/);
    const rand = rng(12);
    const [rows, cols, nb] = [517, 72, 3];
    const data = {f32: randomF32(rows * cols, rand), bf16: randomBf16(rows * cols, rand), f16: randomF16(rows * cols, rand)};
    const xs = randomF32(nb * cols, rand);
    const ids = Int32Array.from({length: 301}, () => Math.floor(rand() * rows));
    const outputs = await Promise.all([1, 3, 8].map(async (partsPerThread, i) => {
      const k = await make({threads: i === 0 ? 1 : 3, minParallelBytes: 0, partsPerThread});
      const [xp, ip, y] = [put(k, xs), put(k, ids), k.alloc(nb * rows * 4)];
      const results: Float32Array[] = [];
      for (const dtype of ['f32', 'bf16', 'f16'] as const) {
        const w = put(k, data[dtype]);
        k.matvec(dtype, w, rows, cols, xp, y);
        results.push(k.f32(y, rows).slice());
        k.matvecRows(dtype, w, cols, ip, ids.length, xp, y);
        results.push(k.f32(y, ids.length).slice());
        k.matvecBatch(dtype, w, rows, cols, xp, y, nb);
        results.push(k.f32(y, nb * rows).slice());
        k.matvecRowsBatch(dtype, w, rows, cols, ip, ids.length, xp, y, nb);
        results.push(k.f32(y, nb * ids.length).slice());
      }
      return results;
    }));
    for (const other of outputs.slice(1)) {
      for (let i = 0; i < outputs[0]!.length; i++) expect(Buffer.from(other[i]!.buffer).equals(Buffer.from(outputs[0]![i]!.buffer))).toBe(true);
    }
  });

  it('back-to-back small calls (parts of consecutive jobs claimed by whoever comes first) give the one-thread bits', async () => {
    const rand = rng(21);
    const [rows, cols, calls] = [48, 24, 400];
    const w = randomF32(rows * cols, rand);
    const xs = randomF32(calls * cols, rand);
    const outputs = await Promise.all([1, 3].map(async (threads) => {
      const k = await make({threads, minParallelBytes: 0, partsPerThread: 2});
      const [wp, xp, yp] = [put(k, w), put(k, xs), k.alloc(calls * rows * 4)];
      for (let i = 0; i < calls; i++) k.matvec('f32', wp, rows, cols, xp + i * cols * 4, yp + i * rows * 4);
      return k.f32(yp, calls * rows).slice();
    }));
    expect(Buffer.from(outputs[1]!.buffer).equals(Buffer.from(outputs[0]!.buffer))).toBe(true);
  });

  it('consecutive calls split in different numbers of parts never run a part twice (a late worker cannot claim into the next job)', async () => {
    // matvec splits in threads * partsPerThread parts, accumulateRows in one part per thread:
    // a worker still claiming in a 2-part job while the 8-part one was published used to take a
    // part of the new job under the old job's count, so the call's count overshot and it hung
    const rand = rng(23);
    const [rows, cols, calls] = [64, 32, 1500];
    const w = randomF32(rows * cols, rand);
    const x = randomF32(cols, rand);
    const coef = randomF32(rows, rand);
    const outputs = await Promise.all([1, 2].map(async (threads) => {
      const k = await make({threads, minParallelBytes: 0, partsPerThread: 4, timeoutMs: 5000});
      const [wp, xp, cp, yp, ap] = [put(k, w), put(k, x), put(k, coef), k.alloc(rows * 4), k.alloc(cols * 4)];
      let first: Float32Array | null = null;
      for (let i = 0; i < calls; i++) {
        k.matvec('f32', wp, rows, cols, xp, yp);
        k.accumulateRows('f32', wp, rows, cols, 0, rows, cp, ap);
        if (i === 0) {
          await k.queue.settle();
          first = k.f32(ap, cols).slice();
        }
      }
      await k.queue.settle();
      // the row sums' order depends on the thread count (partial sums), not on the call
      expect(Array.from(k.f32(ap, cols)), `${threads} threads`).toEqual(Array.from(first!));
      return k.f32(yp, rows).slice();
    }));
    expect(Array.from(outputs[1]!)).toEqual(Array.from(outputs[0]!));
  });

  it('a worker that throws makes the call throw a BackendError, and the pool refuses further work', async () => {
    const k = await make({threads: 2});
    const w = k.alloc(64);
    k.debugFailNextCall('throw');
    expect(() => k.matvec('f32', w, 1, 4, w, w)).toThrow(/crashed on purpose/);
    expect(() => k.matvec('f32', w, 1, 4, w, w)).toThrow(BackendError);
  });

  it('a worker that exits makes the call throw a BackendError', async () => {
    const k = await make({threads: 2});
    const w = k.alloc(64);
    k.debugFailNextCall('exit');
    expect(() => k.matvec('f32', w, 1, 4, w, w)).toThrow(/exited/);
    expect(() => k.matvec('f32', w, 1, 4, w, w)).toThrow(BackendError);
  });

  it('a hung worker is given up on after timeoutMs', async () => {
    const k = await make({threads: 2, timeoutMs: 300});
    const w = k.alloc(64);
    k.debugFailNextCall('hang');
    expect(() => k.matvec('f32', w, 1, 4, w, w)).toThrow(/did not finish within 300 ms/);
  });

  it('a worker that is late to start leaves its part to the calling thread: the call completes at once, same bits', async () => {
    const one = await make({threads: 1});
    // syncWaitMs 0: on the old split (one fixed part per thread) this call would be left pending
    const k = await make({threads: 2, minParallelBytes: 0, syncWaitMs: 0});
    const rand = rng(3);
    const [rows, cols] = [96, 40];
    const [w, x] = [randomF32(rows * cols, rand), randomF32(cols, rand)];
    const results = [one, k].map((kk) => {
      const [wp, xp, y] = [put(kk, w), put(kk, x), kk.alloc(rows * 4)];
      const out: Float32Array[] = [];
      for (let i = 0; i < 2; i++) {
        if (kk === k) kk.debugFailNextCall('late');
        kk.matvec('f32', wp, rows, cols, xp, y);
        expect(kk.queue.busy).toBe(false);
        out.push(kk.f32(y, rows).slice());
      }
      return out;
    });
    for (let i = 0; i < 2; i++) expect(Buffer.from(results[1]![i]!.buffer).equals(Buffer.from(results[0]![i]!.buffer))).toBe(true);
  });

  it('an out-of-memory row id is rejected before any thread runs, and the pool stays usable', async () => {
    const k = await make({threads: 2, minParallelBytes: 0});
    const cols = 4;
    const w = put(k, Float32Array.from({length: 64 * cols}, (_, i) => i));
    const x = put(k, Float32Array.from([1, 0, 0, 0]));
    const y = k.alloc(64 * 4);
    // The last id (the worker's half) points far past the memory.
    const ids = put(k, Int32Array.from({length: 64}, (_, i) => (i === 63 ? 0x3fffffff : i)));
    expect(() => k.matvecRows('f32', w, cols, ids, 64, x, y)).toThrow(BackendError);
    k.i32(ids, 64)[63] = 5;
    k.matvecRows('f32', w, cols, ids, 64, x, y);
    expect(k.f32(y, 64)[63]).toBe(20);
  });

  it('throws after dispose', async () => {
    const k = await make({threads: 2});
    const w = k.alloc(64);
    k.dispose();
    expect(() => k.matvec('f32', w, 1, 4, w, w)).toThrow(/after dispose/);
  });
});
