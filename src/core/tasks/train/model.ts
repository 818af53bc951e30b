/**
 * The trainable model: a Llama-layout decoder (pre-RMSNorm, RoPE in the HF rotate_half layout,
 * causal multi-head attention, gated relu FFN y = down(relu(gate x) * up x) with an optional top-k
 * mask on the hidden activations, final RMSNorm, output layer tied to the token embedding), in
 * tfjs. Parameters are named and shaped exactly as in a Hugging Face LlamaForCausalLM checkpoint
 * ([out, in] matrices), so export is a copy.
 */
import * as tf from '@tensorflow/tfjs-core';
import {UsageError} from '../../errors.js';
import {registerTrainingGradients} from './gradients.js';
import {applyRope, batchMatMul, crossEntropy, embedRows, keepTopK, matMul, rmsNorm, ropeTables, type RopeTables} from './ops.js';
import {derivedRng} from './rng.js';

export interface ModelShape {
  vocabSize: number;
  dim: number;
  nLayers: number;
  nHeads: number;
  /** FFN hidden width (intermediate_size). */
  hiddenDim: number;
  /** Training window and max_position_embeddings. */
  contextLength: number;
  /** Share of FFN hidden activations kept (hire_ffn_topk); null for a dense FFN. */
  ffnTopK: number | null;
  ropeTheta: number;
  normEps: number;
}

export const DEFAULT_SHAPE: ModelShape = {
  vocabSize: 4096,
  dim: 128,
  nLayers: 4,
  nHeads: 4,
  hiddenDim: 512,
  contextLength: 128,
  ffnTopK: 0.1,
  ropeTheta: 10000,
  normEps: 1e-5,
};

export function headDim(s: ModelShape): number {
  return s.dim / s.nHeads;
}

/** Hidden activations kept per token: the decoder's rule, max(1, round(fraction * hiddenDim)). */
export function ffnKeep(s: ModelShape): number | null {
  return s.ffnTopK === null ? null : Math.max(1, Math.round(s.ffnTopK * s.hiddenDim));
}

export function checkShape(s: ModelShape): void {
  const ints: Array<keyof ModelShape> = ['vocabSize', 'dim', 'nLayers', 'nHeads', 'hiddenDim', 'contextLength'];
  for (const key of ints) {
    const v = s[key] as number;
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${key} must be a positive integer, got ${v}`);
  }
  if (s.dim % s.nHeads !== 0 || headDim(s) % 2 !== 0) {
    throw new UsageError(`dim (${s.dim}) must split into ${s.nHeads} heads of even size`);
  }
  if (s.ffnTopK !== null && !(s.ffnTopK > 0 && s.ffnTopK <= 1)) {
    throw new UsageError(`the FFN top-k fraction must be in (0, 1], got ${s.ffnTopK}`);
  }
}

/** HF tensor name -> [shape, init std] (std 0 means "ones": the norm weights). */
export function parameterPlan(s: ModelShape): Array<{name: string; shape: number[]; std: number}> {
  const std = 0.02;
  const residualStd = std / Math.sqrt(2 * s.nLayers); // projections into the residual stream (GPT-2)
  const plan = [{name: 'model.embed_tokens.weight', shape: [s.vocabSize, s.dim], std}];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `model.layers.${l}.`;
    plan.push(
      {name: `${p}input_layernorm.weight`, shape: [s.dim], std: 0},
      {name: `${p}self_attn.q_proj.weight`, shape: [s.dim, s.dim], std},
      {name: `${p}self_attn.k_proj.weight`, shape: [s.dim, s.dim], std},
      {name: `${p}self_attn.v_proj.weight`, shape: [s.dim, s.dim], std},
      {name: `${p}self_attn.o_proj.weight`, shape: [s.dim, s.dim], std: residualStd},
      {name: `${p}post_attention_layernorm.weight`, shape: [s.dim], std: 0},
      {name: `${p}mlp.gate_proj.weight`, shape: [s.hiddenDim, s.dim], std},
      {name: `${p}mlp.up_proj.weight`, shape: [s.hiddenDim, s.dim], std},
      {name: `${p}mlp.down_proj.weight`, shape: [s.dim, s.hiddenDim], std: residualStd},
    );
  }
  plan.push({name: 'model.norm.weight', shape: [s.dim], std: 0});
  return plan;
}

export function parameterCount(s: ModelShape): number {
  return parameterPlan(s).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

let nextModelId = 0;

export class TrainModel {
  /** HF name -> variable, in checkpoint order. */
  readonly params: Map<string, tf.Variable>;
  private readonly rope: RopeTables;
  /** [T, T] additive causal mask: 0 on and below the diagonal, -1e9 above. */
  private readonly causal: tf.Tensor2D;

  constructor(
    readonly shape: ModelShape,
    seed: number,
  ) {
    checkShape(shape);
    registerTrainingGradients();
    nextModelId++; // tfjs variable names are global: keep two models in one process apart
    this.params = new Map();
    for (const p of parameterPlan(shape)) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      // Each tensor from its own stream: its values do not depend on the other tensors' sizes.
      const values = p.std === 0 ? new Float32Array(n).fill(1) : derivedRng(seed, p.name).normalArray(n, p.std);
      this.params.set(p.name, tf.variable(tf.tensor(values, p.shape), true, `${p.name}#${nextModelId}`));
    }
    const t = shape.contextLength;
    this.rope = ropeTables(t, headDim(shape), shape.ropeTheta);
    const mask = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) mask[i * t + j] = -1e9;
    this.causal = tf.tensor2d(mask, [t, t]);
  }

  /** Replaces every parameter's values (names and shapes must match). */
  load(values: Map<string, Float32Array>): void {
    for (const [name, v] of this.params) {
      const data = values.get(name);
      if (!data || data.length !== v.size) throw new UsageError(`parameter ${name}: missing or of the wrong size`);
      v.assign(tf.tensor(data, v.shape));
    }
  }

  /** Logits [batch * T, vocabSize] for ids [batch * T] (row-major [batch, T]). Call inside tidy. */
  logits(ids: Int32Array, batch: number): tf.Tensor2D {
    const s = this.shape;
    const t = ids.length / batch;
    const w = (name: string) => this.params.get(name)!;
    let x = embedRows(w('model.embed_tokens.weight') as tf.Tensor2D, ids); // [N, dim]
    for (let l = 0; l < s.nLayers; l++) {
      const p = `model.layers.${l}.`;
      x = tf.add(x, this.attention(rmsNorm(x, w(`${p}input_layernorm.weight`) as tf.Tensor1D, s.normEps), p, batch, t));
      x = tf.add(x, this.ffn(rmsNorm(x, w(`${p}post_attention_layernorm.weight`) as tf.Tensor1D, s.normEps), p));
    }
    const h = rmsNorm(x, w('model.norm.weight') as tf.Tensor1D, s.normEps);
    return matMul(h, w('model.embed_tokens.weight'), false, true) as tf.Tensor2D; // tied output layer
  }

  /** Mean next-token loss: inputs and targets [batch * T]. Call inside tidy / variableGrads. */
  loss(inputs: Int32Array, targets: Int32Array, batch: number): tf.Scalar {
    return crossEntropy(this.logits(inputs, batch), targets);
  }

  /** Causal self-attention; xn [N, dim] (normed), returns [N, dim]. */
  private attention(xn: tf.Tensor2D, p: string, batch: number, t: number): tf.Tensor2D {
    const s = this.shape;
    const hd = headDim(s);
    const proj = (name: string) => matMul(xn, this.params.get(`${p}self_attn.${name}.weight`)!, false, true);
    const heads = (m: tf.Tensor) => tf.reshape(m, [batch, t, s.nHeads, hd]) as tf.Tensor4D;
    // [batch, T, heads, hd] -> rotate -> [batch, heads, T, hd]
    const q = tf.transpose(applyRope(heads(proj('q_proj')), this.rope), [0, 2, 1, 3]);
    const k = tf.transpose(applyRope(heads(proj('k_proj')), this.rope), [0, 2, 1, 3]);
    const v = tf.transpose(heads(proj('v_proj')), [0, 2, 1, 3]);
    const mask = t === s.contextLength ? this.causal : tf.slice(this.causal, [0, 0], [t, t]);
    const scores = tf.add(tf.mul(batchMatMul(q, k, false, true), 1 / Math.sqrt(hd)), mask); // [batch, heads, T, T]
    const att = batchMatMul(tf.softmax(scores), v); // [batch, heads, T, hd]
    const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [batch * t, s.dim]);
    return matMul(merged, this.params.get(`${p}self_attn.o_proj.weight`)!, false, true) as tf.Tensor2D;
  }

  /** down(top-k(relu(gate x) * up x)); xn [N, dim], returns [N, dim]. */
  private ffn(xn: tf.Tensor2D, p: string): tf.Tensor2D {
    const w = (name: string) => this.params.get(`${p}mlp.${name}.weight`)!;
    let a = tf.mul(tf.relu(matMul(xn, w('gate_proj'), false, true)), matMul(xn, w('up_proj'), false, true));
    const k = ffnKeep(this.shape);
    if (k !== null) a = keepTopK(a as tf.Tensor2D, k, true); // gated: the product can be negative
    return matMul(a, w('down_proj'), false, true) as tf.Tensor2D;
  }

  /** Parameter values as Float32Arrays, in checkpoint order. */
  snapshot(): Map<string, {shape: number[]; data: Float32Array}> {
    const out = new Map<string, {shape: number[]; data: Float32Array}>();
    for (const [name, v] of this.params) out.set(name, {shape: [...v.shape], data: (v.dataSync() as Float32Array).slice()});
    return out;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.rope.cos.dispose();
    this.rope.sin.dispose();
    this.rope.rotateHalf.dispose();
    this.causal.dispose();
  }
}
