/**
 * AdamW with decoupled weight decay (matrices only: norm weights are not decayed), global-norm
 * gradient clipping, and the learning-rate schedule: linear warmup, then cosine decay to a floor.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Gradients are scaled down so their global L2 norm is at most this (0: no clipping). */
  clipNorm: number;
}

export const DEFAULT_ADAMW: AdamWOptions = {beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clipNorm: 1};

export interface Schedule {
  peakLr: number;
  /** Floor reached at the last step, as a share of peakLr. */
  minLrRatio: number;
  warmupSteps: number;
  totalSteps: number;
}

/** Learning rate for `step` (0-based): warmup to peakLr, then cosine down to minLrRatio * peakLr. */
export function learningRate(step: number, s: Schedule): number {
  if (step < s.warmupSteps) return (s.peakLr * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  const min = s.peakLr * s.minLrRatio;
  return min + 0.5 * (s.peakLr - min) * (1 + Math.cos(Math.PI * progress));
}

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly opts: AdamWOptions = DEFAULT_ADAMW,
  ) {
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  /**
   * One update with learning rate `lr`; `grads` as tf.variableGrads returns them (keyed by each
   * variable's tfjs name), consumed. Returns the global gradient norm before clipping.
   */
  step(grads: tf.NamedTensorMap, lr: number): number {
    const {beta1, beta2, eps, weightDecay, clipNorm} = this.opts;
    const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]!);
    const scale = clipNorm > 0 && norm > clipNorm ? clipNorm / (norm + 1e-6) : 1;
    this.t++;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g0 = grads[p.name]; // tf.variableGrads keys by the variable's own name
        if (!g0) throw new Error(`no gradient for ${name}`);
        const g = scale === 1 ? g0 : tf.mul(g0, scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        const decay = p.rank >= 2 ? weightDecay : 0;
        const decayed = decay > 0 ? tf.mul(p, 1 - lr * decay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
    for (const g of Object.values(grads)) g.dispose();
    return norm;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
