/**
 * The tfjs backend on ggml block matrices: it holds them dequantised as f32 (no block kernels),
 * so every kernel agrees with the reference backend; the matrix reports f32 bytes, what it reads.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createTfjsBackend, type TfjsBackend} from '../../../../src/core/backends/tfjs/tfjs-backend.js';
import {blockParitySuite, randomBlockMatrix} from '../../../helpers/block-parity.js';
import {rng} from './helpers.js';

let tfb: TfjsBackend;
beforeAll(async () => {
  tfb = await createTfjsBackend();
});
afterAll(() => tfb?.dispose());

describe('tfjs block matrices', () => {
  it('are held as f32', () => {
    const w = tfb.uploadMatrix(randomBlockMatrix('q8_0', 4, 64, rng(1)));
    expect([w.dtype, w.bytes]).toEqual(['f32', 4 * 64 * 4]);
  });
});

blockParitySuite('tfjs', () => tfb);
