/**
 * An independent float64 forward pass for the families we support, written straight from the
 * Hugging Face modeling code (modeling_llama / modeling_qwen2 / modeling_mistral, modeling_gpt2,
 * modeling_opt). It reads config.json and the raw HF tensor names itself and shares nothing with
 * src/core/decode, src/core/backends or the architectures module. It also runs a different
 * algorithm: full causal attention over the whole sequence at once (no KV cache), the way
 * transformers runs a prompt. Returns the logits at every position.
 */
import fs from 'node:fs';
import path from 'node:path';
import {Checkpoint} from '../../src/core/model/formats/safetensors/index.js';

type Json = Record<string, unknown>;
/** A [rows, cols] row-major matrix. */
interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}
/** Activations: one row per sequence position. */
type Seq = Float64Array[];

/** Logits [vocabSize] for each position of `tokens`, from the checkpoint in `dir`. */
export function oracleLogits(dir: string, tokens: readonly number[]): Float64Array[] {
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Json;
  const ckpt = Checkpoint.open(dir);
  try {
    const w = new Tensors(ckpt);
    const cls = (config['architectures'] as string[])[0];
    switch (cls) {
      case 'LlamaForCausalLM':
      case 'MistralForCausalLM':
      case 'Qwen2ForCausalLM':
        return llamaForward(config, cls, w, tokens);
      case 'GPT2LMHeadModel':
        return gpt2Forward(config, w, tokens);
      case 'OPTForCausalLM':
        return optForward(config, w, tokens);
      default:
        throw new Error(`oracle: no forward pass for ${cls}`);
    }
  } finally {
    ckpt.close();
  }
}

/** Reads HF tensors as float64, checking shapes. */
class Tensors {
  constructor(private readonly ckpt: Checkpoint) {}

  has(name: string): boolean {
    return this.ckpt.has(name);
  }
  vector(name: string, length: number): Float64Array {
    return this.read(name, [length]).data;
  }
  /** conv1d: stored [in, out] by transformers' Conv1D (a block tensor is [out, in] all the same). */
  matrix(name: string, rows: number, cols: number, conv1d = false): Matrix {
    const blocks = this.blockFormat(name);
    if (blocks) return readBlocks(this.ckpt, name, blocks, rows, cols, conv1d);
    return this.read(name, [rows, cols]);
  }
  /** The ggml block format of a U8 tensor listed in its file's hire_blocks metadata. */
  private blockFormat(name: string): 'q8_0' | 'q4_0' | null {
    const raw = this.ckpt.fileMetadata(name)['hire_blocks'];
    const map = raw ? (JSON.parse(raw) as Record<string, 'q8_0' | 'q4_0'>) : {};
    return map[name] ?? null;
  }
  /** The first of `prefixes` under which `probe` exists. */
  prefix(prefixes: string[], probe: string): string {
    const p = prefixes.find((x) => this.ckpt.has(x + probe));
    if (p === undefined) throw new Error(`oracle: no ${probe} under any of ${prefixes.join(', ')}`);
    return p;
  }
  private read(name: string, shape: number[]): Matrix {
    const info = this.ckpt.info(name);
    if (info.shape.join(',') !== shape.join(',')) {
      throw new Error(`oracle: ${name} has shape [${info.shape}], expected [${shape}]`);
    }
    return {rows: shape[0]!, cols: shape[1] ?? 1, data: Float64Array.from(this.ckpt.readFloat32(name))};
  }
}

/**
 * A block tensor dequantised by the ggml definition, written here from the format (not shared with
 * src): Q8_0 = half d + 32 int8, w = q d; Q4_0 = half d + 16 bytes, w[j] = (lo nibble - 8) d,
 * w[j + 16] = (hi nibble - 8) d. Stored [out, in]; `conv1d` wants [in, out].
 */
function readBlocks(ckpt: Checkpoint, name: string, format: 'q8_0' | 'q4_0', rows: number, cols: number, conv1d: boolean): Matrix {
  const [r, c] = conv1d ? [cols, rows] : [rows, cols];
  const bb = format === 'q8_0' ? 34 : 18;
  const bytes = ckpt.readBytes(name);
  if (bytes.length !== (r * c * bb) / 32) throw new Error(`oracle: ${name} holds ${bytes.length} bytes, not ${format} [${r}, ${c}]`);
  const half = (h: number) => {
    const e = (h >> 10) & 31;
    const m = h & 1023;
    const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
    return h & 0x8000 ? -v : v;
  };
  const w = new Float64Array(r * c);
  for (let b = 0; b < (r * c) / 32; b++) {
    const o = b * bb;
    const d = half(bytes[o]! | (bytes[o + 1]! << 8));
    for (let j = 0; j < 32; j++) {
      const q = format === 'q8_0' ? (bytes[o + 2 + j]! << 24) >> 24 : j < 16 ? (bytes[o + 2 + j]! & 15) - 8 : (bytes[o + 2 + j - 16]! >> 4) - 8;
      w[b * 32 + j] = q * d;
    }
  }
  if (!conv1d) return {rows, cols, data: w};
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let k = 0; k < c; k++) t[k * r + i] = w[i * c + k]!;
  return {rows, cols, data: t};
}

// ---- building blocks ----------------------------------------------------------------------------

/** torch nn.Linear: y = x W^T + b, W stored [out, in]. */
function linear(x: Seq, w: Matrix, b?: Float64Array): Seq {
  return x.map((row) => {
    const y = new Float64Array(w.rows);
    for (let o = 0; o < w.rows; o++) {
      let acc = 0;
      for (let i = 0; i < w.cols; i++) acc += w.data[o * w.cols + i]! * row[i]!;
      y[o] = acc + (b ? b[o]! : 0);
    }
    return y;
  });
}

/** GPT-2 Conv1D: y = x W + b, W stored [in, out]. */
function conv1d(x: Seq, w: Matrix, b: Float64Array): Seq {
  return x.map((row) => {
    const y = Float64Array.from(b);
    for (let i = 0; i < w.rows; i++) {
      for (let o = 0; o < w.cols; o++) y[o] += row[i]! * w.data[i * w.cols + o]!;
    }
    return y;
  });
}

function layerNorm(x: Seq, weight: Float64Array, bias: Float64Array, eps: number): Seq {
  return x.map((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length; // biased, as torch
    const inv = 1 / Math.sqrt(variance + eps);
    return row.map((v, i) => (v - mean) * inv * weight[i]! + bias[i]!);
  });
}

/** LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * weight. */
function rmsNorm(x: Seq, weight: Float64Array, eps: number): Seq {
  return x.map((row) => {
    const inv = 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / row.length + eps);
    return row.map((v, i) => v * inv * weight[i]!);
  });
}

const add = (a: Seq, b: Seq): Seq => a.map((row, t) => row.map((v, i) => v + b[t]![i]!));
const map = (x: Seq, f: (v: number) => number): Seq => x.map((row) => row.map(f));

/** Columns [from, from + width) of every row. */
const cols = (x: Seq, from: number, width: number): Seq => x.map((row) => row.slice(from, from + width));

/**
 * Full causal self-attention, softmax(q k^T / sqrt(headDim) + mask) v, for the whole sequence.
 * Query head h reads key/value head floor(h / (nHeads / nKvHeads)) (HF repeat_kv).
 */
function causalAttention(q: Seq, k: Seq, v: Seq, nHeads: number, nKvHeads: number, headDim: number): Seq {
  const n = q.length;
  const group = nHeads / nKvHeads;
  const out = q.map(() => new Float64Array(nHeads * headDim));
  for (let h = 0; h < nHeads; h++) {
    const qo = h * headDim;
    const ko = Math.floor(h / group) * headDim;
    for (let s = 0; s < n; s++) {
      const scores = new Float64Array(n).fill(-Infinity); // masked where t > s
      for (let t = 0; t <= s; t++) {
        let dot = 0;
        for (let i = 0; i < headDim; i++) dot += q[s]![qo + i]! * k[t]![ko + i]!;
        scores[t] = dot / Math.sqrt(headDim);
      }
      const max = Math.max(...scores);
      const p = scores.map((x) => Math.exp(x - max));
      const sum = p.reduce((a, x) => a + x, 0);
      for (let t = 0; t < n; t++) {
        for (let i = 0; i < headDim; i++) out[s]![qo + i]! += (p[t]! / sum) * v[t]![ko + i]!;
      }
    }
  }
  return out;
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const geluNew = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const relu = (x: number) => Math.max(0, x);

function num(config: Json, key: string, fallback: number): number {
  const v = config[key];
  return v === undefined || v === null ? fallback : (v as number);
}

// ---- Llama / Mistral / Qwen2 ----------------------------------------------------------------------

/**
 * inv_freq as transformers computes it, in float32 (Math.fround after every tensor op):
 * 1 / base^(arange(0, d, 2) / d), then the rope_scaling rule (linear, llama3).
 */
function ropeInvFreq(config: Json, headDim: number): Float64Array {
  const f = Math.fround;
  const theta = num(config, 'rope_theta', 10000);
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(Math.pow(theta, f((2 * i) / headDim))));
  const scaling = config['rope_scaling'] as Json | null | undefined;
  const type = scaling ? ((scaling['rope_type'] ?? scaling['type']) as string) : 'default';
  if (type === 'linear') {
    const factor = scaling!['factor'] as number;
    for (let i = 0; i < half; i++) inv[i] = f(inv[i]! / factor);
  } else if (type === 'llama3') {
    const factor = scaling!['factor'] as number;
    const low = scaling!['low_freq_factor'] as number;
    const high = scaling!['high_freq_factor'] as number;
    const oldLen = scaling!['original_max_position_embeddings'] as number;
    const lowWavelen = oldLen / low;
    const highWavelen = oldLen / high;
    for (let i = 0; i < half; i++) {
      const wavelen = f(f(2 * Math.PI) / inv[i]!);
      const scaled = wavelen > lowWavelen ? f(inv[i]! / factor) : inv[i]!;
      const smooth = f(f(f(oldLen / wavelen) - low) / (high - low));
      const smoothed = f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled));
      const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      inv[i] = medium ? smoothed : scaled;
    }
  } else if (type !== 'default') {
    throw new Error(`oracle: rope_scaling ${type} not implemented`);
  }
  return inv;
}

/** q * cos + rotate_half(q) * sin for each head, rotate_half(x) = cat(-x2, x1); angles in float64. */
function applyRope(x: Seq, nHeads: number, headDim: number, invFreq: Float64Array): Seq {
  const half = headDim / 2;
  return x.map((row, pos) => {
    const out = new Float64Array(row.length);
    for (let h = 0; h < nHeads; h++) {
      for (let j = 0; j < headDim; j++) {
        const angle = pos * invFreq[j % half]!; // emb = cat(freqs, freqs)
        const rotated = j < half ? -row[h * headDim + j + half]! : row[h * headDim + j - half]!;
        out[h * headDim + j] = row[h * headDim + j]! * Math.cos(angle) + rotated * Math.sin(angle);
      }
    }
    return out;
  });
}

/** Zeroes all but the k entries of largest |x| (ties to the lower index), by a full sort. */
function keepLargestMagnitudes(row: Float64Array | number[], k: number): Float64Array {
  const order = Array.from(row, (_, i) => i).sort((a, b) => Math.abs(row[b]!) - Math.abs(row[a]!) || a - b);
  const out = new Float64Array(row.length);
  for (const i of order.slice(0, k)) out[i] = row[i]!;
  return out;
}

function llamaForward(c: Json, cls: string, w: Tensors, tokens: readonly number[]): Seq {
  const actName = (c['hidden_act'] ?? 'silu') as string;
  if (actName !== 'silu' && actName !== 'relu') throw new Error('oracle: only silu and relu are implemented');
  const act = actName === 'silu' ? silu : (x: number) => Math.max(0, x);
  const d = c['hidden_size'] as number;
  const ffn = c['intermediate_size'] as number;
  const vocab = c['vocab_size'] as number;
  const nHeads = c['num_attention_heads'] as number;
  const nKvHeads = num(c, 'num_key_value_heads', nHeads);
  const headDim = num(c, 'head_dim', d / nHeads);
  const eps = num(c, 'rms_norm_eps', 1e-6);
  // Qwen2: q/k/v biases always, none on o_proj; Llama: attention_bias on all four; Mistral: none.
  const qkvBias = cls === 'Qwen2ForCausalLM' || (cls === 'LlamaForCausalLM' && c['attention_bias'] === true);
  const oBias = cls === 'LlamaForCausalLM' && c['attention_bias'] === true;
  const mlpBias = cls === 'LlamaForCausalLM' && c['mlp_bias'] === true;
  const tied = (c['tie_word_embeddings'] as boolean | undefined) ?? false; // LlamaConfig's default
  const root = w.prefix(['model.', ''], 'embed_tokens.weight');
  const invFreq = ropeInvFreq(c, headDim);
  const embed = w.matrix(`${root}embed_tokens.weight`, vocab, d);
  const bias = (on: boolean, name: string, n: number) => (on ? w.vector(name, n) : undefined);

  let h: Seq = tokens.map((t) => embed.data.slice(t * d, (t + 1) * d));
  for (let l = 0; l < (c['num_hidden_layers'] as number); l++) {
    const p = `${root}layers.${l}.`;
    const proj = (name: string, out: number, inp: number, on: boolean) => (x: Seq) =>
      linear(x, w.matrix(`${p}${name}.weight`, out, inp), bias(on, `${p}${name}.bias`, out));
    const a = rmsNorm(h, w.vector(`${p}input_layernorm.weight`, d), eps);
    const q = applyRope(proj('self_attn.q_proj', nHeads * headDim, d, qkvBias)(a), nHeads, headDim, invFreq);
    const k = applyRope(proj('self_attn.k_proj', nKvHeads * headDim, d, qkvBias)(a), nKvHeads, headDim, invFreq);
    const v = proj('self_attn.v_proj', nKvHeads * headDim, d, qkvBias)(a);
    const att = causalAttention(q, k, v, nHeads, nKvHeads, headDim);
    h = add(h, proj('self_attn.o_proj', d, nHeads * headDim, oBias)(att));
    const m = rmsNorm(h, w.vector(`${p}post_attention_layernorm.weight`, d), eps);
    const gate = map(proj('mlp.gate_proj', ffn, d, mlpBias)(m), act);
    const up = proj('mlp.up_proj', ffn, d, mlpBias)(m);
    let hidden: Float64Array[] = gate.map((g, t) => g.map((x, i) => x * up[t]![i]!));
    // hire_ffn_topk: keep the k largest |activations| of the gated product, zero the rest.
    if (typeof c['hire_ffn_topk'] === 'number') hidden = hidden.map((row) => keepLargestMagnitudes(row, Math.max(1, Math.round((c['hire_ffn_topk'] as number) * ffn))));
    h = add(h, proj('mlp.down_proj', d, ffn, mlpBias)(hidden));
  }
  h = rmsNorm(h, w.vector(`${root}norm.weight`, d), eps);
  return linear(h, tied ? embed : w.matrix('lm_head.weight', vocab, d));
}

// ---- GPT-2 --------------------------------------------------------------------------------------

function gpt2Forward(c: Json, w: Tensors, tokens: readonly number[]): Seq {
  if ((c['activation_function'] ?? 'gelu_new') !== 'gelu_new') throw new Error('oracle: only gelu_new is implemented');
  const d = c['n_embd'] as number;
  const nHeads = c['n_head'] as number;
  const inner = num(c, 'n_inner', 4 * d);
  const vocab = c['vocab_size'] as number;
  const nPos = num(c, 'n_positions', 1024);
  const eps = num(c, 'layer_norm_epsilon', 1e-5);
  const root = w.prefix(['transformer.', ''], 'wte.weight');
  const wte = w.matrix(`${root}wte.weight`, vocab, d);
  const wpe = w.matrix(`${root}wpe.weight`, nPos, d);
  const ln = (name: string, x: Seq) => layerNorm(x, w.vector(`${name}.weight`, d), w.vector(`${name}.bias`, d), eps);
  const conv = (name: string, inp: number, out: number, x: Seq) =>
    conv1d(x, w.matrix(`${name}.weight`, inp, out, true), w.vector(`${name}.bias`, out));

  let h: Seq = tokens.map((t, pos) => wte.data.slice(t * d, (t + 1) * d).map((v, i) => v + wpe.data[pos * d + i]!));
  for (let l = 0; l < (c['n_layer'] as number); l++) {
    const p = `${root}h.${l}.`;
    // attn.bias (the causal-mask buffer) is deliberately not read: the mask is built here.
    const qkv = conv(`${p}attn.c_attn`, d, 3 * d, ln(`${p}ln_1`, h));
    const att = causalAttention(cols(qkv, 0, d), cols(qkv, d, d), cols(qkv, 2 * d, d), nHeads, nHeads, d / nHeads);
    h = add(h, conv(`${p}attn.c_proj`, d, d, att));
    const m = map(conv(`${p}mlp.c_fc`, d, inner, ln(`${p}ln_2`, h)), geluNew);
    h = add(h, conv(`${p}mlp.c_proj`, inner, d, m));
  }
  return linear(ln(`${root}ln_f`, h), wte); // lm_head tied to wte
}

// ---- OPT ----------------------------------------------------------------------------------------

function optForward(c: Json, w: Tensors, tokens: readonly number[]): Seq {
  if ((c['activation_function'] ?? 'relu') !== 'relu') throw new Error('oracle: only relu is implemented');
  const d = c['hidden_size'] as number;
  const ffn = c['ffn_dim'] as number;
  const vocab = c['vocab_size'] as number;
  const nHeads = c['num_attention_heads'] as number;
  const embedDim = num(c, 'word_embed_proj_dim', d);
  const before = (c['do_layer_norm_before'] as boolean | undefined) ?? true;
  const bias = (c['enable_bias'] as boolean | undefined) ?? true;
  const tied = (c['tie_word_embeddings'] as boolean | undefined) ?? true;
  const nPos = num(c, 'max_position_embeddings', 2048);
  const root = w.prefix(['model.decoder.', 'decoder.'], 'embed_tokens.weight');
  const embed = w.matrix(`${root}embed_tokens.weight`, vocab, embedDim);
  const positions = w.matrix(`${root}embed_positions.weight`, nPos + 2, d);
  const ln = (name: string, x: Seq) => layerNorm(x, w.vector(`${name}.weight`, d), w.vector(`${name}.bias`, d), 1e-5);
  const lin = (name: string, out: number, inp: number, x: Seq) =>
    linear(x, w.matrix(`${name}.weight`, out, inp), bias ? w.vector(`${name}.bias`, out) : undefined);

  let h: Seq = tokens.map((t) => embed.data.slice(t * embedDim, (t + 1) * embedDim));
  if (embedDim !== d) h = linear(h, w.matrix(`${root}project_in.weight`, d, embedDim));
  // No padding: positions = cumsum(mask) - 1 = 0..n-1, looked up at + 2.
  h = h.map((row, pos) => row.map((v, i) => v + positions.data[(pos + 2) * d + i]!));
  for (let l = 0; l < (c['num_hidden_layers'] as number); l++) {
    const p = `${root}layers.${l}.`;
    let residual = h;
    let x = before ? ln(`${p}self_attn_layer_norm`, h) : h;
    const q = lin(`${p}self_attn.q_proj`, d, d, x);
    const k = lin(`${p}self_attn.k_proj`, d, d, x);
    const v = lin(`${p}self_attn.v_proj`, d, d, x);
    x = lin(`${p}self_attn.out_proj`, d, d, causalAttention(q, k, v, nHeads, nHeads, d / nHeads));
    h = add(residual, x);
    if (!before) h = ln(`${p}self_attn_layer_norm`, h);
    residual = h;
    x = before ? ln(`${p}final_layer_norm`, h) : h;
    x = lin(`${p}fc2`, d, ffn, map(lin(`${p}fc1`, ffn, d, x), relu));
    h = add(residual, x);
    if (!before) h = ln(`${p}final_layer_norm`, h);
  }
  if (before && c['_remove_final_layer_norm'] !== true) h = ln(`${root}final_layer_norm`, h);
  if (embedDim !== d) h = linear(h, w.matrix(`${root}project_out.weight`, embedDim, d));
  return linear(h, tied ? embed : w.matrix('lm_head.weight', vocab, embedDim));
}
