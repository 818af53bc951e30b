#!/usr/bin/env node
// Plain SIMD against relaxed SIMD (fused multiply-add in the prompt-block tile), in one process:
// both builds of the kernels on their own memory and threads, timed interleaved, medians reported.
// Runs the compiled output: `npm run build` first, then
//   node scripts/relaxed-simd.mjs [--threads 2] [--rounds 7] [--tokens 256]
// Prints, per build: the compute probe (GFLOP/s), and the prompt-block product of llama-110m's
// largest matrices ([3072, 768] and [768, 3072], f32) for --tokens rows, in GFLOP/s.
import os from 'node:os';

const {CpuKernels} = await import('../dist/core/backends/cpu/kernels.js');
const {gemm, measureCompute} = await import('../dist/core/backends/cpu/block-kernels.js');
const {relaxedSimdAvailable} = await import('../dist/core/backends/cpu/simd-build.js');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i >= 0 ? process.argv[i + 1] : fallback);
}
const threads = arg('threads', os.availableParallelism());
const rounds = arg('rounds', 7);
const tokens = arg('tokens', 256);
const SHAPES = [
  [3072, 768],
  [768, 3072],
];

if (!relaxedSimdAvailable()) {
  console.log('relaxed SIMD is not available in this runtime: only plain SIMD runs');
  process.exit(0);
}

async function setup(simd) {
  const k = await CpuKernels.create({threads, simd});
  const mats = SHAPES.map(([rows, cols]) => {
    const w = k.alloc(rows * cols * 4);
    const xs = k.alloc(tokens * cols * 4);
    const ys = k.alloc(tokens * rows * 4);
    k.f32(w, rows * cols).forEach((_, i, a) => (a[i] = Math.sin(i) * 0.01));
    k.f32(xs, tokens * cols).forEach((_, i, a) => (a[i] = Math.cos(i)));
    return {rows, cols, w, xs, ys};
  });
  return {simd: k.simd, k, mats, probe: [], gemm: []};
}

function timeGemm(s) {
  let flops = 0;
  const t0 = performance.now();
  for (const m of s.mats) {
    gemm(s.k, 'f32', m.w, m.rows, m.cols, m.xs, m.ys, tokens);
    flops += 2 * m.rows * m.cols * tokens;
  }
  return flops / ((performance.now() - t0) / 1000);
}

const builds = [await setup('simd'), await setup('relaxed')];
for (const s of builds) timeGemm(s); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const s of r % 2 ? [...builds].reverse() : builds) {
    s.probe.push(measureCompute(s.k).flopsPerSecond);
    s.gemm.push(timeGemm(s));
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const g = (v) => (v / 1e9).toFixed(1);
for (const s of builds) {
  const lo = (a) => g(Math.min(...a));
  const hi = (a) => g(Math.max(...a));
  console.log(`${s.simd.padEnd(8)} probe ${g(median(s.probe))} GFLOP/s (${lo(s.probe)}..${hi(s.probe)}), gemm ${tokens} rows ${g(median(s.gemm))} GFLOP/s (${lo(s.gemm)}..${hi(s.gemm)})`);
  s.k.dispose();
}
console.log(`relaxed / plain, medians: probe ${(median(builds[1].probe) / median(builds[0].probe)).toFixed(3)}, gemm ${(median(builds[1].gemm) / median(builds[0].gemm)).toFixed(3)}`);
