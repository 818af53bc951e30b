/**
 * A GGUF writer: the header of a file from metadata and tensor entries (ggufHeader, which
 * `hire quantize --out model.gguf` streams tensors after: export.ts), and for synthetic
 * checkpoints a whole file from metadata and tensors (writeGguf), and a
 * llama-family GGUF from a synthetic Hugging Face checkpoint (ggufFromCheckpoint) the way
 * llama.cpp's converter lays it out: reversed shapes (ne[0] = row length), W_q / W_k rows of every
 * head interleaved for the "llama" architecture, tensors as F32 / F16 / Q8_0 / Q4_0 (the blocks
 * byte for byte as hire holds them), and a synthetic SentencePiece vocabulary (spmVocab). The
 * tests make their GGUF files with it, and scripts/compare-llama-cpp.mjs the files llama.cpp times
 * beside hire. Written from the GGUF layout (file.ts describes it), sharing no code with the
 * reader, so that a test of one against the other is a real check.
 */
import fs from 'node:fs';
import path from 'node:path';
import {Checkpoint, float32ToHalf} from '../safetensors/index.js';
import {quantizeBlocks} from '../../../numeric/ggml-quant.js';
import {llamaTensorNames} from './names.js';

export type MetaValue =
  | {type: 'u32' | 'i32' | 'f32' | 'u8' | 'u64'; value: number}
  | {type: 'bool'; value: boolean}
  | {type: 'string'; value: string}
  | {type: 'strings'; value: string[]}
  | {type: 'f32s' | 'i32s'; value: number[]};

export interface RawTensor {
  name: string;
  /** ggml type number. */
  type: number;
  /** ggml order: ne[0] is the row length. */
  ne: number[];
  data: Uint8Array;
}

export const GGML = {F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30} as const;

class Bytes {
  private parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.push(b);
  }
  u64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.push(b);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.push(b);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function writeValue(b: Bytes, v: MetaValue): void {
  const scalar = (t: number, size: number, set: (d: DataView) => void) => {
    b.u32(t);
    const x = new Uint8Array(size);
    set(new DataView(x.buffer));
    b.push(x);
  };
  switch (v.type) {
    case 'u8': return scalar(0, 1, (d) => d.setUint8(0, v.value));
    case 'u32': return scalar(4, 4, (d) => d.setUint32(0, v.value, true));
    case 'i32': return scalar(5, 4, (d) => d.setInt32(0, v.value, true));
    case 'f32': return scalar(6, 4, (d) => d.setFloat32(0, v.value, true));
    case 'u64': return scalar(10, 8, (d) => d.setBigUint64(0, BigInt(v.value), true));
    case 'bool': return scalar(7, 1, (d) => d.setUint8(0, v.value ? 1 : 0));
    case 'string':
      b.u32(8);
      return b.str(v.value);
    case 'strings':
      b.u32(9);
      b.u32(8);
      b.u64(v.value.length);
      for (const s of v.value) b.str(s);
      return;
    case 'f32s':
    case 'i32s': {
      b.u32(9);
      b.u32(v.type === 'f32s' ? 6 : 5);
      b.u64(v.value.length);
      const x = new Uint8Array(4 * v.value.length);
      const d = new DataView(x.buffer);
      v.value.forEach((n, i) => (v.type === 'f32s' ? d.setFloat32(4 * i, n, true) : d.setInt32(4 * i, n, true)));
      return b.push(x);
    }
  }
}

export interface GgufLayout {
  /** Header bytes (before the padding to the data section), data start and each tensor's data offset. */
  headerBytes: number;
  dataStart: number;
  offsets: number[];
}

/** A tensor's entry in the header: its data's length instead of the data. */
export interface TensorEntry {
  name: string;
  type: number;
  ne: number[];
  byteLength: number;
}

/**
 * The header (magic to tensor infos) padded to the data section, and each tensor's data offset
 * (aligned to `alignment`); `offsets` replaces the offsets recorded (malformed-file tests).
 */
export function ggufHeader(meta: Array<[string, MetaValue]>, tensors: TensorEntry[], opts: {alignment?: number; offsets?: number[]; version?: number} = {}): {header: Uint8Array; layout: GgufLayout; dataBytes: number} {
  const align = opts.alignment ?? 32;
  const b = new Bytes();
  b.push(new TextEncoder().encode('GGUF'));
  b.u32(opts.version ?? 3);
  b.u64(tensors.length);
  b.u64(meta.length);
  for (const [k, v] of meta) {
    b.str(k);
    writeValue(b, v);
  }
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    offsets.push(at);
    at = Math.ceil((at + t.byteLength) / align) * align;
  }
  const recorded = opts.offsets ?? offsets;
  tensors.forEach((t, i) => {
    b.str(t.name);
    b.u32(t.ne.length);
    for (const d of t.ne) b.u64(d);
    b.u32(t.type);
    b.u64(recorded[i]!);
  });
  const headerBytes = b.length;
  const dataStart = Math.ceil(headerBytes / align) * align;
  const header = new Uint8Array(dataStart);
  header.set(b.concat());
  return {header, layout: {headerBytes, dataStart, offsets}, dataBytes: at};
}

/** The whole file's bytes (options as ggufHeader's). */
export function ggufBytes(meta: Array<[string, MetaValue]>, tensors: RawTensor[], opts: {alignment?: number; offsets?: number[]; version?: number} = {}): {bytes: Uint8Array; layout: GgufLayout} {
  const {header, layout, dataBytes} = ggufHeader(meta, tensors.map((t) => ({...t, byteLength: t.data.length})), opts);
  const out = new Uint8Array(layout.dataStart + dataBytes);
  out.set(header);
  tensors.forEach((t, i) => out.set(t.data, layout.dataStart + layout.offsets[i]!));
  return {bytes: out, layout};
}

/** Writes the file beside `file` and renames it into place. */
export function writeGguf(file: string, meta: Array<[string, MetaValue]>, tensors: RawTensor[]): void {
  const tmp = `${file}.hire-tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, ggufBytes(meta, tensors).bytes, {flag: 'wx'});
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, {force: true});
    throw err;
  }
}

/** A SentencePiece-style vocabulary of n tokens: <unk> <s> </s>, 256 byte tokens, then pieces with scores. */
export function spmVocab(n: number): Array<[string, MetaValue]> {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
    scores.push(0);
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (const c of ['▁', ...letters]) {
    tokens.push(c);
    types.push(1);
    scores.push(-1000);
  }
  for (let i = 0; tokens.length < n; i++) {
    tokens.push(`▁${letters[i % 26]}${letters[Math.floor(i / 26) % 26]}`.slice(0, 2 + (i % 2)));
    types.push(1);
    scores.push(-i);
  }
  // unique pieces only: pad with numbered pieces if the pattern repeated
  const seen = new Set<string>();
  tokens.forEach((t, i) => {
    if (seen.has(t)) tokens[i] = `▁x${i}`;
    seen.add(tokens[i]!);
  });
  return [
    ['tokenizer.ggml.model', {type: 'string', value: 'llama'}],
    ['tokenizer.ggml.tokens', {type: 'strings', value: tokens.slice(0, n)}],
    ['tokenizer.ggml.scores', {type: 'f32s', value: scores.slice(0, n)}],
    ['tokenizer.ggml.token_type', {type: 'i32s', value: types.slice(0, n)}],
    ['tokenizer.ggml.bos_token_id', {type: 'u32', value: 1}],
    ['tokenizer.ggml.eos_token_id', {type: 'u32', value: 2}],
    ['tokenizer.ggml.unknown_token_id', {type: 'u32', value: 0}],
    ['tokenizer.ggml.add_bos_token', {type: 'bool', value: true}],
    ['tokenizer.chat_template', {type: 'string', value: '{% for m in messages %}{{ m.content }}{% endfor %}'}],
  ];
}

/** llama.cpp's permute: HF row h*hd + a*hd/2 + b goes to h*hd + 2b + a (rows of `cols` floats). */
function permute(w: Float32Array, heads: number, cols: number): Float32Array {
  const rows = w.length / cols;
  const hd = rows / heads;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < hd / 2; b++) {
        const src = h * hd + a * (hd / 2) + b;
        const dst = h * hd + 2 * b + a;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

export interface FromCheckpointOptions {
  /** Type of the 2-D tensors; 1-D ones are F32. */
  type: 'F32' | 'F16' | 'Q8_0' | 'Q4_0';
  /** Leave W_q / W_k rows as HF orders them (a file the converter did not write: loads wrong). */
  noPermute?: boolean;
  /** Extra or replaced metadata. */
  meta?: Array<[string, MetaValue]>;
}

/** A GGUF file from a synthetic llama / qwen2 HF checkpoint in `dir` (f32 weights). */
export function ggufFromCheckpoint(dir: string, file: string, opts: FromCheckpointOptions): void {
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number | string | boolean | null>;
  const arch = config['model_type'] === 'qwen2' ? 'qwen2' : 'llama';
  const heads = config['num_attention_heads'] as number;
  const kvHeads = (config['num_key_value_heads'] as number) ?? heads;
  const ckpt = Checkpoint.open(dir);
  const tensors: RawTensor[] = [];
  const names = llamaTensorNames(config['num_hidden_layers'] as number);
  for (const [hf, gg] of names) {
    if (!ckpt.has(hf)) continue;
    const shape = ckpt.info(hf).shape;
    let w: Float32Array = ckpt.readFloat32(hf);
    const cols = shape.length > 1 ? shape[1]! : 1;
    const qk = /q_proj/.test(hf) ? heads : /k_proj/.test(hf) ? kvHeads : 0;
    if (arch === 'llama' && qk && !opts.noPermute) w = permute(w, qk, cols);
    const ne = [...shape].reverse();
    if (shape.length === 1) {
      tensors.push({name: gg, type: GGML.F32, ne, data: new Uint8Array(w.buffer, w.byteOffset, w.byteLength)});
      continue;
    }
    const rows = shape[0]!;
    const data =
      opts.type === 'F32'
        ? new Uint8Array(w.buffer, w.byteOffset, w.byteLength)
        : opts.type === 'F16'
          ? new Uint8Array(float32ToHalf('F16', w).buffer)
          : quantizeBlocks(opts.type === 'Q8_0' ? 'q8_0' : 'q4_0', w, rows, cols);
    tensors.push({name: gg, type: GGML[opts.type], ne, data});
  }
  ckpt.close();
  const num = (k: string) => config[k] as number;
  const meta: Array<[string, MetaValue]> = [
    ['general.architecture', {type: 'string', value: arch}],
    [`${arch}.context_length`, {type: 'u32', value: num('max_position_embeddings')}],
    [`${arch}.embedding_length`, {type: 'u32', value: num('hidden_size')}],
    [`${arch}.block_count`, {type: 'u32', value: num('num_hidden_layers')}],
    [`${arch}.feed_forward_length`, {type: 'u32', value: num('intermediate_size')}],
    [`${arch}.attention.head_count`, {type: 'u32', value: heads}],
    [`${arch}.attention.head_count_kv`, {type: 'u32', value: kvHeads}],
    [`${arch}.attention.layer_norm_rms_epsilon`, {type: 'f32', value: num('rms_norm_eps')}],
    [`${arch}.rope.freq_base`, {type: 'f32', value: num('rope_theta')}],
    ...spmVocab(num('vocab_size')),
  ];
  for (const [k, v] of opts.meta ?? []) {
    const i = meta.findIndex(([m]) => m === k);
    if (i >= 0) meta[i] = [k, v];
    else meta.push([k, v]);
  }
  writeGguf(file, meta, tensors);
}
