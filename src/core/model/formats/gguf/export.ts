/**
 * A checkpoint of the llama family as a GGUF file llama.cpp loads (`hire quantize --out
 * model.gguf`): the inverse of model.ts. What changes on the way:
 *
 * - Names through the one HF <-> GGUF table (names.ts); shapes reversed (ne[0] = row length).
 * - For the "llama" architecture (Llama, Mistral) the rows of W_q and W_k (and their biases) are
 *   interleaved per head as llama.cpp's converter does: HF row h*hd + a*hd/2 + b goes to GGUF row
 *   h*hd + 2b + a (whole rows, so block tensors keep their bytes). Qwen2 keeps HF order.
 * - Q8_0 / Q4_0 matrices are written byte for byte; F16 / BF16 / F32 matrices as they are;
 *   vectors (norms, biases) as F32, which llama.cpp expects.
 * - config.json becomes the `<arch>.*` keys model.ts reads back; the tokenizer files become
 *   tokenizer.ggml.* (vocab-out.ts); general.quantized_by is "hire", which is what lets
 *   `--force` replace a file (never a GGUF file from elsewhere).
 *
 * The file is streamed to a path the caller gives (a temporary one, renamed into place after).
 */
import fs from 'node:fs';
import {ConfigError, WeightError} from '../../../errors.js';
import {BLOCK_BYTES, BLOCK_SIZE, type BlockFormat} from '../../../numeric/ggml-quant.js';
import {halfToFloat32, type TensorData} from '../safetensors/index.js';
import {reorderRows} from './model.js';
import {llamaTensorNames} from './names.js';
import {ggufVocabulary, type VocabSource} from './vocab-out.js';
import {GGML, ggufHeader, type MetaValue, type TensorEntry} from './writer.js';

/** general.quantized_by of the files hire writes. */
export const GGUF_WRITER = 'hire';

export interface GgufExportInput {
  /** config.json's path (for messages). */
  configFile: string;
  configJson: Record<string, unknown>;
  /** Every tensor under its HF name; a block matrix is U8 [rows, blockRowBytes] listed in `blocks`. */
  tensors: ReadonlyMap<string, TensorData>;
  blocks: Readonly<Record<string, BlockFormat>>;
  vocab: Omit<VocabSource, 'vocabSize'>;
  /** general.name. */
  name: string;
}

export interface GgufPlan {
  meta: Array<[string, MetaValue]>;
  tensors: Array<TensorEntry & {data: () => Uint8Array}>;
}

const ARCH_OF_MODEL_TYPE: Record<string, 'llama' | 'qwen2'> = {llama: 'llama', mistral: 'llama', qwen2: 'qwen2'};
/** llama.cpp's general.file_type for a file whose matrices are all of one type. */
const FILE_TYPE: Record<number, number> = {[GGML.F32]: 0, [GGML.F16]: 1, [GGML.Q4_0]: 2, [GGML.Q8_0]: 7, [GGML.BF16]: 32};

/** What to write: metadata and the tensors (data made when written). Throws before anything is written. */
export function planGgufExport(input: GgufExportInput): GgufPlan {
  const c = input.configJson;
  const file = input.configFile;
  const modelType = String(c['model_type']);
  const arch = ARCH_OF_MODEL_TYPE[modelType];
  if (!arch) throw new ConfigError(file, `model_type is "${modelType}"; GGUF export writes Llama, Mistral and Qwen2 checkpoints`);
  const num = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(file, `${key} must be a number for GGUF export, got ${String(v)}`);
    return v;
  };
  if ((c['hidden_act'] ?? 'silu') !== 'silu') throw new ConfigError(file, `hidden_act is "${String(c['hidden_act'])}"; llama.cpp's llama and qwen2 graphs use silu`);
  const dim = num('hidden_size');
  const heads = num('num_attention_heads');
  const kvHeads = num('num_key_value_heads', heads);
  const headDim = num('head_dim', Math.floor(dim / heads));
  const nLayers = num('num_hidden_layers');
  const embed = input.tensors.get('model.embed_tokens.weight');
  if (!embed) throw new WeightError(file, 'has no model.embed_tokens.weight to write');
  const vocabSize = embed.shape[0]!;
  const meta: Array<[string, MetaValue]> = [
    ['general.architecture', {type: 'string', value: arch}],
    ['general.name', {type: 'string', value: input.name}],
    ['general.quantized_by', {type: 'string', value: GGUF_WRITER}],
    [`${arch}.vocab_size`, {type: 'u32', value: vocabSize}],
    [`${arch}.context_length`, {type: 'u32', value: num('max_position_embeddings', 2048)}],
    [`${arch}.embedding_length`, {type: 'u32', value: dim}],
    [`${arch}.block_count`, {type: 'u32', value: nLayers}],
    [`${arch}.feed_forward_length`, {type: 'u32', value: num('intermediate_size')}],
    [`${arch}.attention.head_count`, {type: 'u32', value: heads}],
    [`${arch}.attention.head_count_kv`, {type: 'u32', value: kvHeads}],
    [`${arch}.attention.key_length`, {type: 'u32', value: headDim}],
    [`${arch}.attention.value_length`, {type: 'u32', value: headDim}],
    [`${arch}.rope.dimension_count`, {type: 'u32', value: headDim}],
    [`${arch}.attention.layer_norm_rms_epsilon`, {type: 'f32', value: num('rms_norm_eps', 1e-6)}],
    [`${arch}.rope.freq_base`, {type: 'f32', value: num('rope_theta', 10000)}],
    ...ropeScaling(file, arch, c['rope_scaling']),
  ];
  const tensors = planTensors(input, arch === 'llama' ? {heads, kvHeads, headDim} : null, nLayers);
  const matrixTypes = new Set(tensors.filter((t) => t.ne.length === 2).map((t) => t.type));
  if (matrixTypes.size === 1) meta.push(['general.file_type', {type: 'u32', value: FILE_TYPE[[...matrixTypes][0]!] ?? 0}]);
  meta.push(...ggufVocabulary({...input.vocab, vocabSize}));
  return {meta, tensors};
}

function ropeScaling(file: string, arch: string, scaling: unknown): Array<[string, MetaValue]> {
  if (scaling === null || scaling === undefined) return [];
  const s = scaling as Record<string, unknown>;
  const type = s['rope_type'] ?? s['type'];
  if (type === 'linear' && typeof s['factor'] === 'number') {
    return [
      [`${arch}.rope.scaling.type`, {type: 'string', value: 'linear'}],
      [`${arch}.rope.scaling.factor`, {type: 'f32', value: s['factor']}],
    ];
  }
  throw new ConfigError(file, `rope_scaling type "${String(type)}" cannot be written to GGUF by hire (none and linear can)`);
}

/** Every tensor as GGUF holds it (see the file comment). */
function planTensors(input: GgufExportInput, permute: {heads: number; kvHeads: number; headDim: number} | null, nLayers: number): GgufPlan['tensors'] {
  const names = llamaTensorNames(nLayers);
  const out: GgufPlan['tensors'] = [];
  for (const [hf, t] of input.tensors) {
    const gg = names.get(hf);
    if (gg === undefined) throw new WeightError(input.configFile, `tensor "${hf}" has no GGUF name in the llama layout; GGUF export cannot write it`);
    const qk = !permute ? null : /\.self_attn\.q_proj\./.test(hf) ? permute.heads : /\.self_attn\.k_proj\./.test(hf) ? permute.kvHeads : null;
    const rows = (bytes: Uint8Array) => (qk === null ? bytes : reorderRows(bytes, qk, permute!.headDim, 'to-gguf'));
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const format = input.blocks[hf];
    if (format) {
      const [n, rowBytes] = t.shape as [number, number];
      const cols = (rowBytes / BLOCK_BYTES[format]) * BLOCK_SIZE;
      out.push({name: gg, type: format === 'q8_0' ? GGML.Q8_0 : GGML.Q4_0, ne: [cols, n], byteLength: bytes.length, data: () => rows(bytes)});
      continue;
    }
    const ne = [...t.shape].reverse();
    if (t.shape.length === 1 && t.dtype !== 'F32') {
      const f32 = halfToFloat32(t.dtype as 'F16' | 'BF16', new Uint16Array(bytes.slice().buffer));
      out.push({name: gg, type: GGML.F32, ne, byteLength: f32.byteLength, data: () => new Uint8Array(f32.buffer)});
      continue;
    }
    const type = t.dtype === 'F32' ? GGML.F32 : t.dtype === 'F16' ? GGML.F16 : t.dtype === 'BF16' ? GGML.BF16 : null;
    if (type === null) throw new WeightError(input.configFile, `tensor "${hf}" is ${t.dtype}; GGUF export writes F32, F16, BF16 and ggml blocks`);
    out.push({name: gg, type, ne, byteLength: bytes.length, data: () => rows(bytes)});
  }
  return out;
}

/** Streams the planned file to `file` (created; it must not exist), one tensor at a time. */
export function writeGgufFile(file: string, plan: GgufPlan): number {
  const {header, layout, dataBytes} = ggufHeader(plan.meta, plan.tensors);
  const fd = fs.openSync(file, 'wx');
  try {
    let at = 0;
    const write = (b: Uint8Array) => {
      for (let done = 0; done < b.length; ) done += fs.writeSync(fd, b, done, b.length - done, at + done);
      at += b.length;
    };
    write(header);
    plan.tensors.forEach((t, i) => {
      const pad = layout.dataStart + layout.offsets[i]! - at;
      if (pad > 0) write(new Uint8Array(pad));
      const data = t.data();
      if (data.length !== t.byteLength) throw new RangeError(`tensor ${t.name}: ${data.length} bytes, ${t.byteLength} planned`);
      write(data);
    });
    const end = layout.dataStart + dataBytes;
    if (end > at) write(new Uint8Array(end - at));
    fs.fsyncSync(fd);
    return at;
  } finally {
    fs.closeSync(fd);
  }
}
