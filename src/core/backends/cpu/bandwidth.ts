import {BackendError} from '../../errors.js';
import type {CpuKernels} from './kernels.js';

export interface BandwidthOptions {
  /** Buffer size; at least 512 MiB so caches cannot hold it (default 512 MiB). */
  bytes?: number;
  /** Timed passes; the best is reported (default 3). */
  repeats?: number;
}

export interface Bandwidth {
  /** Best streaming-read rate over the repeats, all threads together. */
  bytesPerSecond: number;
  /** Threads that read (the kernels' thread count). */
  threads: number;
}

const MIN_BYTES = 512 * 1024 * 1024;

/**
 * Streaming-read bandwidth as the kernels see it: a WebAssembly SIMD read (read_sum) of one
 * buffer split over every thread, best of `repeats` after one untimed pass (which also lets
 * the engine tier the kernel up). The buffer is written first so its pages are really mapped
 * (reading never-touched pages would hit the shared zero page and flatter the result), and is
 * released with reset() afterwards. WebAssembly memory never shrinks: the pages stay mapped
 * and are reused by the next allocations, so call this before loading weights to waste nothing.
 */
export function measureBandwidth(kernels: CpuKernels, opts: BandwidthOptions = {}): Bandwidth {
  const bytes = opts.bytes ?? MIN_BYTES;
  const repeats = opts.repeats ?? 3;
  if (!Number.isSafeInteger(bytes) || bytes < MIN_BYTES) {
    throw new BackendError(`measureBandwidth: bytes must be at least 512 MiB (${MIN_BYTES}), got ${bytes}`);
  }
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new BackendError(`measureBandwidth: repeats must be a positive integer, got ${repeats}`);
  }
  const size = Math.floor(bytes / 4096) * 4096;
  const mark = kernels.mark();
  try {
    const ptr = kernels.alloc(size, 4096);
    kernels.u8(ptr, size).fill(1);
    kernels.readSum(ptr, size);
    let best = 0;
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      kernels.readSum(ptr, size);
      const seconds = (performance.now() - t0) / 1000;
      best = Math.max(best, size / seconds);
    }
    return {bytesPerSecond: best, threads: kernels.threads};
  } finally {
    kernels.reset(mark);
  }
}
