#!/usr/bin/env node
// One-thread compute rate of the ggml block matvec kernels (Q8_0, Q4_0), in G weights/s: a
// [2048 x 2048] matrix stays in cache, so the figure is the inner loops' speed, not memory's.
// Runs a compiled dist/ (this checkout's by default, or another one's, to compare two builds
// alternately on a busy machine):
//   node scripts/block-kernel-rate.mjs [--dist /path/to/dist] [--ms 1000] [--activations int16,f32] [--nv 1,4]
//     [--threads 1] [--shape 2048x2048]   (512x1024 stays in a 1 MiB L2: pure compute; 2048x2048 q8_0 streams from L3)
import {pathToFileURL} from 'node:url';
import path from 'node:path';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const dist = path.resolve(arg('dist', new URL('../dist', import.meta.url).pathname));
const budgetMs = Number(arg('ms', '1000'));
const modes = arg('activations', 'int16').split(',');
const nvs = arg('nv', '1').split(',').map(Number);
const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);

const {CpuKernels} = await load('core/backends/cpu/kernels.js');
const {BlockKernels} = await load('core/backends/cpu/block-kernels.js');
const {quantizeBlocks} = await load('core/numeric/ggml-quant.js');

const [rows, cols] = arg('shape', '2048x2048').split('x').map(Number);

/** Calls fn for about budgetMs after a warm-up; returns the best and the mean seconds per call. */
function time(fn) {
  for (let i = 0; i < 3; i++) fn();
  let best = Infinity;
  let calls = 0;
  const start = performance.now();
  const end = start + budgetMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
    calls++;
  }
  return {best, mean: (performance.now() - start) / 1000 / calls};
}

const k = await CpuKernels.create({threads: Number(arg('threads', '1'))});
const w = new Float32Array(rows * cols).map((_, i) => Math.sin(i * 0.37));
for (const format of ['q8_0', 'q4_0']) {
  const data = quantizeBlocks(format, w, rows, cols);
  for (const mode of modes) {
    const blocks = new BlockKernels(k, mode);
    for (const nv of nvs) {
      const mark = k.mark();
      const wp = k.alloc(data.byteLength);
      k.u8(wp, data.byteLength).set(data);
      blocks.noteScales?.(format, wp, data); // as the backend's upload does (older builds lack it)
      const xs = k.alloc(nv * cols * 4);
      k.f32(xs, nv * cols).set(Float32Array.from({length: nv * cols}, (_, i) => Math.cos(i * 0.11)));
      const ys = k.alloc(nv * rows * 4);
      const {best, mean} = time(() => blocks.dot(format, wp, rows, cols, xs, ys, nv, null));
      const rate = (s) => ((nv * rows * cols) / s / 1e9).toFixed(2);
      console.log(`${format} ${mode} nv=${nv} [${rows} x ${cols}]: ${rate(best)} G weights/s best, ${rate(mean)} mean (${(best * 1e6).toFixed(0)} / ${(mean * 1e6).toFixed(0)} us per call)`);
      k.reset(mark);
    }
  }
}
k.dispose();
