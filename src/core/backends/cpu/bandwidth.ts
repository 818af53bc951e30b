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
  const mark = kernels.mark();
  try {
    const probe = new BandwidthProbe(kernels, opts.bytes);
    return {bytesPerSecond: probe.measure(opts.repeats), threads: kernels.threads};
  } finally {
    kernels.reset(mark);
  }
}

/**
 * A bandwidth probe that keeps its buffer (allocated and written once in `kernels`), so that it
 * can be measured again later in a run: `hire bench` probes before every round of timed rows,
 * and divides each run's bandwidth by the probe of its own round (this machine kind's bandwidth
 * moves by tens of percent from one minute to the next).
 */
export class BandwidthProbe {
  private readonly ptr: number;
  private readonly size: number;

  constructor(private readonly kernels: CpuKernels, bytes = MIN_BYTES) {
    if (!Number.isSafeInteger(bytes) || bytes < MIN_BYTES) {
      throw new BackendError(`measureBandwidth: bytes must be at least 512 MiB (${MIN_BYTES}), got ${bytes}`);
    }
    this.size = Math.floor(bytes / 4096) * 4096;
    this.ptr = kernels.alloc(this.size, 4096);
    kernels.u8(this.ptr, this.size).fill(1);
    kernels.readSum(this.ptr, this.size);
  }

  /** Best streaming-read rate of `repeats` timed passes over the buffer, bytes per second. */
  measure(repeats = 3): number {
    if (!Number.isInteger(repeats) || repeats < 1) {
      throw new BackendError(`measureBandwidth: repeats must be a positive integer, got ${repeats}`);
    }
    let best = 0;
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      this.kernels.readSum(this.ptr, this.size);
      const seconds = (performance.now() - t0) / 1000;
      best = Math.max(best, this.size / seconds);
    }
    return best;
  }
}
