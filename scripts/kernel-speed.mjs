#!/usr/bin/env node
// Weight-read bandwidth of the CPU kernels, against the streaming-read probe.
// Runs the compiled output: `npm run build` (or tsc -p tsconfig.build.json) first, then
//   node scripts/kernel-speed.mjs [--threads 1,2] [--ms 1500]
// Prints one line per (kernel, shape, threads): GB/s of weights read and the share of the probe.
import os from 'node:os';

const {CpuKernels} = await import('../dist/core/backends/cpu/kernels.js');
const {measureBandwidth} = await import('../dist/core/backends/cpu/bandwidth.js');
const {quantize} = await import('../dist/core/numeric/quant.js');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const threadList = arg('threads', `1,${os.availableParallelism()}`).split(',').map(Number);
const budgetMs = Number(arg('ms', '1500'));

// [32000, 768] and [11008, 4096] live in DRAM; [4096, 1024] and [768, 3072] fit the 32 MiB L3
// of the machine this was tuned on (their figures are cache bandwidth, not memory); BIG is
// 512 MiB of f32, the probe's size, for a like-for-like ratio.
const SHAPES = [
  [32000, 768],
  [4096, 1024],
  [11008, 4096],
  [768, 3072],
];
const BIG = [174763, 768];

/** Runs fn for about budgetMs after a warm-up; returns the best seconds per call. */
function time(fn) {
  for (let i = 0; i < 5; i++) fn();
  let best = Infinity;
  const end = performance.now() + budgetMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const gb = (bytesPerSecond) => (bytesPerSecond / 1e9).toFixed(2);

for (const threads of threadList) {
  const k = await CpuKernels.create({threads});
  const probe = measureBandwidth(k, {repeats: 6});
  console.log(`threads ${threads}: probe ${gb(probe.bytesPerSecond)} GB/s`);
  for (const [rows, cols] of SHAPES) {
    for (const dtype of ['f32', 'bf16', 'f16', 'q8', 'q4']) {
      const mark = k.mark();
      const esize = {f32: 4, bf16: 2, f16: 2, q8: 1, q4: 0.5}[dtype];
      const bytes = rows * cols * esize;
      const x = k.alloc(cols * 4);
      k.f32(x, cols).fill(0.5);
      const y = k.alloc(rows * 4);
      let run;
      if (dtype === 'q8' || dtype === 'q4') {
        const gs = 64;
        const w = new Float32Array(rows * cols).map((_, i) => Math.sin(i));
        const q = quantize(w, rows, cols, dtype === 'q8' ? 8 : 4, gs);
        const wp = k.alloc(q.data.byteLength);
        k.u8(wp, q.data.byteLength).set(new Uint8Array(q.data.buffer));
        const sp = k.alloc(q.scales.byteLength);
        k.f32(sp, q.scales.length).set(q.scales);
        run = dtype === 'q8' ? () => k.matvecQ8(wp, sp, rows, cols, gs, x, y) : () => k.matvecQ4(wp, sp, rows, cols, gs, x, y);
      } else {
        const wp = k.alloc(bytes);
        if (dtype === 'f32') k.f32(wp, rows * cols).fill(0.25);
        else k.u16(wp, rows * cols).fill(dtype === 'bf16' ? 0x3e80 : 0x3400);
        run = () => k.matvec(dtype, wp, rows, cols, x, y);
      }
      const seconds = time(run);
      const rate = bytes / seconds;
      const share = ((100 * rate) / probe.bytesPerSecond).toFixed(0);
      console.log(`  ${dtype.padEnd(4)} [${rows}, ${cols}] ${gb(rate)} GB/s (${share}% of probe), ${(seconds * 1e6).toFixed(0)} us`);
      k.reset(mark);
    }
  }
  // Like for like: 512 MiB of weights against the 512 MiB probe, alternated so both see the
  // same machine state (the host's bandwidth drifts by 20% over seconds); best of 8 each.
  for (const dtype of ['f32', 'bf16']) {
    const [rows, cols] = dtype === 'f32' ? BIG : [BIG[0] * 2, BIG[1]];
    const bytes = rows * cols * (dtype === 'f32' ? 4 : 2);
    const mark = k.mark();
    const wp = k.alloc(bytes);
    k.u8(wp, bytes).fill(0x3e);
    const x = k.alloc(cols * 4);
    k.f32(x, cols).fill(0.5);
    const y = k.alloc(rows * 4);
    let probeBest = 0;
    let best = 0;
    for (let i = 0; i < 8; i++) {
      probeBest = Math.max(probeBest, measureBandwidth(k, {repeats: 1}).bytesPerSecond);
      const t0 = performance.now();
      k.matvec(dtype, wp, rows, cols, x, y);
      best = Math.max(best, bytes / ((performance.now() - t0) / 1000));
    }
    console.log(`  paired ${dtype} [${rows}, ${cols}] (512 MiB) ${gb(best)} GB/s vs probe ${gb(probeBest)} GB/s: ${((100 * best) / probeBest).toFixed(0)}%`);
    k.reset(mark);
  }
  // Batch: time per input vector when nb vectors share one read of W (DRAM-sized W).
  for (const dtype of ['f32', 'bf16']) {
    for (const nb of [1, 2, 4, 8]) {
      const [rows, cols] = [32000, 768];
      const esize = dtype === 'f32' ? 4 : 2;
      const mark = k.mark();
      const wp = k.alloc(rows * cols * esize);
      k.u8(wp, rows * cols * esize).fill(0x3e);
      const xs = k.alloc(nb * cols * 4);
      k.f32(xs, nb * cols).fill(0.5);
      const ys = k.alloc(nb * rows * 4);
      const seconds = time(() => k.matvecBatch(dtype, wp, rows, cols, xs, ys, nb));
      console.log(`  batch ${dtype} nb=${nb} [${rows}, ${cols}] ${((seconds * 1e6) / nb).toFixed(0)} us per vector`);
      k.reset(mark);
    }
  }
  k.dispose();
}
