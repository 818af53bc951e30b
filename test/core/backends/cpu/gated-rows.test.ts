/**
 * The cpu backend's fused gated rows (ffnGatedRows: both rows of each listed neuron, the
 * activation and the product in one call) against matvecRows, activation and mul one after
 * another, bit for bit: f32, bf16, f16 weights; silu, relu, gelu_tanh; odd neuron counts and
 * widths, repeated and unordered ids; one and two threads.
 */
import {afterAll, describe, expect, it} from 'vitest';
import {createCpuBackend, type CpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import type {Mat} from '../../../../src/core/backends/backend.js';
import {randomBf16, randomF16, randomF32, rng} from './helpers.js';

const opened: CpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.dispose()));

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('cpu ffnGatedRows', () => {
  for (const threads of [1, 2]) {
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      it(`${dtype}, ${threads} thread${threads > 1 ? 's' : ''}: the separate calls' bits`, async () => {
        const b = await createCpuBackend({threads});
        opened.push(b);
        const rand = rng(threads * 10 + dtype.length);
        for (const [rows, cols] of [[24, 8], [67, 67], [160, 288]] as const) {
          const data = () => (dtype === 'f32' ? randomF32(rows * cols, rand) : dtype === 'bf16' ? randomBf16(rows * cols, rand) : randomF16(rows * cols, rand));
          const upload = (): Mat => b.uploadMatrix({dtype, rows, cols, data: data()});
          const [gate, up] = [upload(), upload()];
          const x = b.uploadVector(randomF32(cols, rand).map((v) => v * 3));
          for (const n of [1, 2, 3, 5, 40]) {
            const ids = Int32Array.from({length: n}, () => Math.floor(rand() * rows));
            for (const act of ['silu', 'relu', 'gelu_tanh'] as const) {
              const [h, u] = [b.createVector(n), b.createVector(n)];
              expect(b.ffnGatedRows(gate, up, ids, x, act, h, u)).toBe(true);
              const [g2, u2] = [b.createVector(n), b.createVector(n)];
              b.matvecRows(gate, ids, x, g2);
              b.matvecRows(up, ids, x, u2);
              b.activation(act, g2, g2);
              b.mul(g2, u2, g2);
              const what = `[${rows}, ${cols}] n ${n} ${act}`;
              expect(bits(await b.read(u)), `${what}: up`).toEqual(bits(await b.read(u2)));
              expect(bits(await b.read(h)), `${what}: act(gate) * up`).toEqual(bits(await b.read(g2)));
            }
          }
        }
      });
    }
  }

  it('declines (false) exact gelu and block weights, and refuses ids outside the matrix', async () => {
    const b = await createCpuBackend({threads: 1});
    opened.push(b);
    const m = b.uploadMatrix({dtype: 'f32', rows: 4, cols: 32, data: new Float32Array(128)});
    const x = b.uploadVector(new Float32Array(32));
    const [h, u] = [b.createVector(2), b.createVector(2)];
    expect(b.ffnGatedRows(m, m, Int32Array.of(0, 1), x, 'gelu', h, u)).toBe(false);
    const q = b.uploadMatrix({dtype: 'q8_0', rows: 4, cols: 32, data: new Uint8Array(4 * 34)});
    expect(b.ffnGatedRows(q, q, Int32Array.of(0, 1), x, 'silu', h, u)).toBe(false);
    expect(() => b.ffnGatedRows(m, m, Int32Array.of(0, 4), x, 'silu', h, u)).toThrow(/row ids must lie in \[0, 4\)/);
  });
});
