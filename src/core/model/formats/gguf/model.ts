/**
 * A GGUF file of the llama family (general.architecture "llama" (Llama, Mistral) or "qwen2") seen
 * as the Hugging Face checkpoint it was converted from: a config.json object built from the
 * metadata, and a WeightFile whose tensors carry HF names and shapes, so the ordinary loader reads
 * it. What changes on the way:
 *
 * - GGUF shapes list ne[0] (the row length) first: HF shapes are the reverse.
 * - llama.cpp's converter interleaves the two RoPE halves of every head of W_q and W_k (and their
 *   biases) for the "llama" architecture (not for qwen2): GGUF row h*hd + 2b + a holds HF row
 *   h*hd + a*hd/2 + b. Rows are put back on load (whole rows, so block tensors keep their bytes).
 * - Q8_0 and Q4_0 tensors are ggml blocks already: U8 [rows, blockRowBytes], listed in the
 *   hire_blocks metadata like a quantised safetensors file. Q4_K, Q5_K and Q6_K tensors are
 *   dequantised and re-quantised to Q8_0 when read (k-quants.ts). F32, F16 and BF16 stay as they are.
 */
import {GgufError} from '../../../errors.js';
import {blockRowBytes, quantizeBlocks, type BlockFormat} from '../../../numeric/ggml-quant.js';
import type {TensorInfo} from '../safetensors/index.js';
import {halfToFloat32} from '../safetensors/index.js';
import {GgufFile, type GgufTensor, type GgufValue} from './file.js';
import {dequantizeK, type KQuant} from './k-quants.js';
import {ggufTokenizer, type GgufTokenizer} from './tokenizer.js';
import {isReadable, GGUF_READABLE} from './types.js';
import {llamaTensorNames} from './names.js';

/** What a GGUF model file gives the loader. */
export interface GgufModel {
  file: GgufFile;
  /** The config.json it stands for. */
  configJson: Record<string, unknown>;
  weights: GgufWeights;
  tokenizer: GgufTokenizer;
}

const ARCHITECTURES: Record<string, {className: string; modelType: string; permuteQk: boolean}> = {
  llama: {className: 'LlamaForCausalLM', modelType: 'llama', permuteQk: true},
  qwen2: {className: 'Qwen2ForCausalLM', modelType: 'qwen2', permuteQk: false},
};

/** Opens and checks a GGUF model; throws GgufError for anything hire cannot use. */
export function openGgufModel(path: string): GgufModel {
  const file = GgufFile.open(path);
  try {
    const meta = file.metadata;
    const archName = meta.get('general.architecture');
    if (typeof archName !== 'string') throw new GgufError(path, 'has no general.architecture');
    const arch = ARCHITECTURES[archName];
    if (!arch) throw new GgufError(path, `general.architecture is "${archName}"; hire reads ${Object.keys(ARCHITECTURES).join(', ')} (Llama, Mistral and Qwen2 models)`);
    const tokenizer = ggufTokenizer(path, meta);
    const {configJson, heads, kvHeads, headDim} = buildConfig(path, file, archName, arch, tokenizer);
    const names = tensorNames(file, Number(configJson['num_hidden_layers']));
    const permute = arch.permuteQk ? {heads, kvHeads, headDim} : null;
    return {file, configJson, weights: new GgufWeights(file, names, permute), tokenizer};
  } catch (error) {
    file.close();
    throw error;
  }
}

function buildConfig(path: string, file: GgufFile, archName: string, arch: (typeof ARCHITECTURES)[string], tok: GgufTokenizer) {
  const meta = file.metadata;
  const num = (key: string, fallback?: number): number => {
    const v = meta.get(`${archName}.${key}`);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new GgufError(path, `is missing ${archName}.${key}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new GgufError(path, `${archName}.${key} must be a number, got ${String(v)}`);
    return v;
  };
  const dim = num('embedding_length');
  const heads = num('attention.head_count');
  const kvHeads = num('attention.head_count_kv', heads);
  const headDim = num('attention.key_length', Math.floor(dim / heads));
  if (num('rope.dimension_count', headDim) !== headDim) throw new GgufError(path, `${archName}.rope.dimension_count differs from the head size ${headDim}: partial rotary embeddings are not supported`);
  if (file.tensors.has('rope_freqs.weight')) throw new GgufError(path, 'holds rope_freqs.weight (per-frequency RoPE factors, Llama 3.1 style): not supported');
  const scalingType = meta.get(`${archName}.rope.scaling.type`);
  let ropeScaling: Record<string, unknown> | null = null;
  if (scalingType === 'linear') ropeScaling = {type: 'linear', factor: num('rope.scaling.factor')};
  else if (scalingType !== undefined && scalingType !== 'none') throw new GgufError(path, `${archName}.rope.scaling.type "${String(scalingType)}" is not supported (none, linear)`);
  const embed = file.tensors.get('token_embd.weight');
  if (!embed) throw new GgufError(path, 'has no token_embd.weight');
  const vocab = num('vocab_size', embed.ne[1] ?? 0);
  if (vocab !== tok.vocabSize) throw new GgufError(path, `the vocabulary has ${tok.vocabSize} tokens, but the model ${vocab} rows of token_embd.weight`);
  const configJson: Record<string, unknown> = {
    architectures: [arch.className],
    model_type: arch.modelType,
    hidden_size: dim,
    intermediate_size: num('feed_forward_length'),
    num_hidden_layers: num('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    vocab_size: vocab,
    max_position_embeddings: num('context_length', 2048),
    rms_norm_eps: num('attention.layer_norm_rms_epsilon', 1e-6),
    rope_theta: num('rope.freq_base', 10000),
    rope_scaling: ropeScaling,
    hidden_act: 'silu',
    tie_word_embeddings: !file.tensors.has('output.weight'),
    bos_token_id: tok.bosTokenId,
    eos_token_id: tok.eosTokenId,
    ...(archName === 'llama' && file.tensors.has('blk.0.attn_q.bias') ? {attention_bias: true} : {}),
  };
  return {configJson, heads, kvHeads, headDim};
}

/** HF tensor name -> GGUF tensor name, for every tensor the model uses. */
function tensorNames(file: GgufFile, nLayers: number): Map<string, string> {
  const map = llamaTensorNames(nLayers);
  for (const [hf, gg] of [...map]) if (!file.tensors.has(gg)) map.delete(hf);
  return map;
}

/** The GGUF tensors under HF names (see the file comment); a WeightFile for the loader. */
export class GgufWeights {
  readonly path: string;
  readonly files: string[];
  private readonly meta: Readonly<Record<string, string>>;

  constructor(
    private readonly file: GgufFile,
    /** HF name -> GGUF name. */
    private readonly names_: ReadonlyMap<string, string>,
    /** Heads to un-interleave in W_q / W_k ("llama" architecture), or null. */
    private readonly permute: {heads: number; kvHeads: number; headDim: number} | null,
  ) {
    this.path = file.path;
    this.files = [file.path];
    const blocks: Record<string, BlockFormat> = {};
    for (const [hf, gg] of names_) {
      const t = file.tensor(gg);
      const format = blockFormatOfType(t.type.name);
      if (format && t.ne.length === 2) blocks[hf] = format;
    }
    this.meta = Object.freeze({format: 'gguf', hire_blocks: JSON.stringify(blocks)});
  }

  names(): string[] {
    return [...this.names_.keys()];
  }

  has(name: string): boolean {
    return this.names_.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.ggufTensor(name);
    const shape = [...t.ne].reverse();
    const format = blockFormatOfType(t.type.name);
    if (format && shape.length === 2) {
      const rowBytes = blockRowBytes(format, shape[1]!);
      return {name, dtype: 'U8', shape: [shape[0]!, rowBytes], file: this.path, byteOffset: t.byteOffset, byteLength: shape[0]! * rowBytes};
    }
    const dtype = t.type.name === 'F32' ? 'F32' : t.type.name === 'F16' ? 'F16' : t.type.name === 'BF16' ? 'BF16' : null;
    if (dtype === null) throw new GgufError(this.path, `tensor "${t.name}" is ${t.type.name}; a ${shape.length}-D tensor must be F32, F16 or BF16`);
    return {name, dtype, shape, file: this.path, byteOffset: t.byteOffset, byteLength: t.byteLength};
  }

  fileMetadata(_name: string): Readonly<Record<string, string>> {
    return this.meta;
  }

  /** The tensor's bytes as info() describes them: Q/K rows put back, K quants as Q8_0 blocks. */
  readBytes(name: string, into?: Uint8Array): Uint8Array {
    const t = this.ggufTensor(name);
    let bytes = this.file.readBytes(t.name);
    if (t.type.name === 'Q4_K' || t.type.name === 'Q5_K' || t.type.name === 'Q6_K') {
      const [cols, rows] = [t.ne[0]!, t.ne.length > 1 ? t.ne.slice(1).reduce((a, b) => a * b, 1) : 1];
      bytes = quantizeBlocks('q8_0', dequantizeK(t.type.name as KQuant, bytes, rows * cols), rows, cols);
    }
    const heads = this.permuteHeads(name);
    if (heads) bytes = unpermuteRows(bytes, heads, this.permute!.headDim);
    if (into) {
      into.set(bytes);
      return into.subarray(0, bytes.length);
    }
    return bytes;
  }

  readFloat32(name: string): Float32Array {
    const info = this.info(name);
    const bytes = this.readBytes(name);
    if (info.dtype === 'F32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (info.dtype === 'F16' || info.dtype === 'BF16') return halfToFloat32(info.dtype, new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
    throw new GgufError(this.path, `tensor "${name}" is in ggml blocks; read it as a matrix`);
  }

  close(): void {
    this.file.close();
  }

  private ggufTensor(name: string): GgufTensor {
    const gg = this.names_.get(name);
    if (gg === undefined) throw new GgufError(this.path, `has no tensor for "${name}"`);
    const t = this.file.tensor(gg);
    if (!isReadable(t.type.name)) throw new GgufError(this.path, `tensor "${gg}" is ${t.type.name}; hire reads ${GGUF_READABLE.join(', ')}`);
    return t;
  }

  /** Heads of W_q / W_k (or their biases) whose halves the converter interleaved, else null. */
  private permuteHeads(name: string): number | null {
    if (!this.permute) return null;
    if (/\.self_attn\.q_proj\.(weight|bias)$/.test(name)) return this.permute.heads;
    if (/\.self_attn\.k_proj\.(weight|bias)$/.test(name)) return this.permute.kvHeads;
    return null;
  }
}

function blockFormatOfType(type: string): BlockFormat | null {
  return type === 'Q8_0' ? 'q8_0' : type === 'Q4_0' ? 'q4_0' : type === 'Q4_K' || type === 'Q5_K' || type === 'Q6_K' ? 'q8_0' : null;
}

/** Rows of `bytes` (heads * headDim equal rows) from GGUF order back to HF order (see the file comment). */
export function unpermuteRows(bytes: Uint8Array, heads: number, headDim: number): Uint8Array {
  return reorderRows(bytes, heads, headDim, 'to-hf');
}

/**
 * Rows between HF order and GGUF's interleaved RoPE halves, per head: GGUF row h*hd + 2b + a is HF
 * row h*hd + a*hd/2 + b. 'to-hf' reads GGUF order, 'to-gguf' writes it (export.ts).
 */
export function reorderRows(bytes: Uint8Array, heads: number, headDim: number, direction: 'to-hf' | 'to-gguf'): Uint8Array {
  const rows = heads * headDim;
  const rowBytes = bytes.length / rows;
  if (!Number.isInteger(rowBytes)) throw new RangeError(`reorderRows: ${bytes.length} bytes are not ${rows} rows`);
  const out = new Uint8Array(bytes.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < half; b++) {
        const hf = h * headDim + a * half + b;
        const gg = h * headDim + 2 * b + a;
        const [from, to] = direction === 'to-hf' ? [gg, hf] : [hf, gg];
        out.set(bytes.subarray(from * rowBytes, (from + 1) * rowBytes), to * rowBytes);
      }
    }
  }
  return out;
}

/** Metadata values for callers that show them (inspect). */
export function ggufString(meta: ReadonlyMap<string, GgufValue>, key: string): string | null {
  const v = meta.get(key);
  return typeof v === 'string' ? v : null;
}
