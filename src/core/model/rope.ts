/**
 * Rotary embedding frequencies, with the HF `rope_scaling` variants. The result feeds
 * Backend.rope(), which rotates pairs (i, i + headDim/2) (the HF rotate_half layout).
 */
import type {ModelConfig} from './config.js';

/** Rotary embedding parameters for one model; `invFreq` has headDim/2 entries (rotate_half layout). */
export interface RopeTable {
  headDim: number;
  invFreq: Float64Array;
}

export function ropeTable(config: ModelConfig): RopeTable | null {
  const {positions, headDim} = config;
  if (positions.kind !== 'rope') return null;
  const half = headDim / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    // HF computes inv_freq in float32 (pow, then reciprocal); round at the same steps.
    invFreq[i] = Math.fround(1 / Math.fround(Math.pow(positions.theta, Math.fround((2 * i) / headDim))));
  }
  const s = positions.scaling;
  if (s.kind === 'linear') {
    for (let i = 0; i < half; i++) invFreq[i] = Math.fround(invFreq[i]! / s.factor);
  } else if (s.kind === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = invFreq[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) continue; // high frequencies: unchanged
      if (wavelen > lowWavelen) {
        invFreq[i] = Math.fround(f / s.factor); // low frequencies: stretched
      } else {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        invFreq[i] = Math.fround((1 - smooth) * (f / s.factor) + smooth * f);
      }
    }
  }
  return {headDim, invFreq};
}
