#!/usr/bin/env node
// The dense matvecs of one decode step of a model shape, alone (no forward-pass JS between
// them), timed per matrix shape, against the streaming-read probe measured in the same process:
// where a model's per-token time goes when the kernels are the only work. For issue 19 item 3
// (per-matrix overhead on large shapes) and for kernel A/Bs on a real layout.
// Runs the compiled output: `npm run build` first, then
//   node scripts/decode-sweep.mjs [--shape llama-470m] [--dtype f32,bf16,f16] [--steps 8] [--threads 2]
//     [--gap-us 0]   busy-wait this long between matvecs (stands in for the forward pass's host work)
//     [--parts 1,4]  one CpuKernels per partsPerThread value, each with its own copy of the weights
//     [--simd simd,relaxed]  likewise one per kernel build (the relaxed build fuses the multiply-adds)
// Dtypes (and --parts values) are interleaved step by step, so the ratios between them see the
// same machine state. HIRE_DIST=<folder> runs another build's dist/ (an A/B of two commits).
import os from 'node:os';

const {CpuKernels} = await import(`${process.env.HIRE_DIST ?? '../dist'}/core/backends/cpu/kernels.js`);
const {measureBandwidth} = await import(`${process.env.HIRE_DIST ?? '../dist'}/core/backends/cpu/bandwidth.js`);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const SHAPES = {
  'llama-110m': {dim: 768, hidden: 2048, layers: 12, vocab: 32000},
  'llama-470m': {dim: 1024, hidden: 4096, layers: 24, vocab: 32000},
};
const shapeName = arg('shape', 'llama-470m');
const shape = SHAPES[shapeName];
if (!shape) throw new Error(`--shape: one of ${Object.keys(SHAPES).join(', ')}`);
const dtypes = arg('dtype', 'f32,bf16').split(',');
const steps = Number(arg('steps', '8'));
const threads = Number(arg('threads', String(os.availableParallelism())));
const gapUs = Number(arg('gap-us', '0'));
const partsList = arg('parts', '') ? arg('parts', '').split(',').map(Number) : [undefined];
const simdList = arg('simd', '') ? arg('simd', '').split(',') : [undefined];

/** One layer's matrices in forward-pass order: [name, rows, cols]. */
const {dim, hidden, layers, vocab} = shape;
const layerMats = [
  ['wq', dim, dim],
  ['wk', dim, dim],
  ['wv', dim, dim],
  ['wo', dim, dim],
  ['gate', hidden, dim],
  ['up', hidden, dim],
  ['down', dim, hidden],
];

const esize = {f32: 4, bf16: 2, f16: 2};
const instances = [];
for (const simd of simdList) for (const partsPerThread of partsList) {
  const k = await CpuKernels.create({threads, partsPerThread, simd});
  const probe = measureBandwidth(k, {repeats: 3}).bytesPerSecond;
  instances.push({k, probe, partsPerThread, simd: k.simd, models: dtypes.map((dtype) => load(k, dtype))});
}

function load(k, dtype) {
  const mats = [];
  for (let l = 0; l < layers; l++) {
    for (const [name, rows, cols] of layerMats) {
      const bytes = rows * cols * esize[dtype];
      const w = k.alloc(bytes);
      if (dtype === 'f32') k.f32(w, rows * cols).fill(0.001);
      else k.u16(w, rows * cols).fill(dtype === 'bf16' ? 0x3a83 : 0x1419);
      mats.push({name, rows, cols, w, bytes});
    }
  }
  const head = {name: 'output', rows: vocab, cols: dim, w: 0, bytes: vocab * dim * esize[dtype]};
  head.w = k.alloc(head.bytes);
  if (dtype === 'f32') k.f32(head.w, vocab * dim).fill(0.001);
  else k.u16(head.w, vocab * dim).fill(dtype === 'bf16' ? 0x3a83 : 0x1419);
  mats.push(head);
  const x = k.alloc(Math.max(dim, hidden) * 4);
  k.f32(x, Math.max(dim, hidden)).fill(0.5);
  const y = k.alloc(Math.max(vocab, hidden) * 4);
  return {dtype, mats, x, y, times: new Map(), total: []};
}

function spin(us) {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

for (let s = 0; s < steps + 1; s++) {
  for (const {k, models} of instances) for (const m of models) {
    const {x, y} = m;
    const t0 = performance.now();
    for (const mat of m.mats) {
      const a = performance.now();
      k.matvec(m.dtype, mat.w, mat.rows, mat.cols, x, y);
      const b = performance.now();
      if (s > 0) {
        const key = `${mat.name} [${mat.rows}, ${mat.cols}]`;
        const e = m.times.get(key) ?? {ms: 0, bytes: 0, n: 0};
        e.ms += b - a;
        e.bytes += mat.bytes;
        e.n++;
        m.times.set(key, e);
      }
      if (gapUs > 0) spin(gapUs);
    }
    if (s > 0) m.total.push(performance.now() - t0);
  }
}

const gb = (v) => (v / 1e9).toFixed(1);
for (const {k, probe, partsPerThread, simd, models} of instances) {
console.log(`${shapeName}, ${simd} build, ${threads} threads, partsPerThread ${partsPerThread ?? 'default'}, probe ${gb(probe)} GB/s, gap ${gapUs} us`);
for (const m of models) {
  const bytes = m.mats.reduce((a, mat) => a + mat.bytes, 0);
  const sorted = [...m.total].sort((a, b) => a - b);
  const med = sorted[Math.floor(sorted.length / 2)];
  console.log(`${m.dtype}: ${med.toFixed(1)} ms/step (best ${sorted[0].toFixed(1)}), ${gb(bytes / (med / 1000))} GB/s, MBU ${(bytes / (med / 1000) / probe).toFixed(2)}`);
  for (const [key, e] of m.times) {
    console.log(`  ${key.padEnd(22)} ${((e.ms / e.n) * 1000).toFixed(0).padStart(6)} us/call  ${gb(e.bytes / (e.ms / 1000))} GB/s`);
  }
}
k.dispose();
}
