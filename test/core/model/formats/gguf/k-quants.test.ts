/**
 * Q4_K / Q5_K / Q6_K: values of crafted super-blocks worked by hand from llama.cpp's
 * dequantize_row_q4_K / _q5_K / _q6_K, and a GGUF file with K tensors loads exactly like the
 * Q8_0 directory quantised from their values (the conversion at load is that and nothing else).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {dequantizeK} from '../../../../../src/core/model/formats/gguf/index.js';
import {halfBits} from '../../../../../src/core/numeric/ggml-quant.js';
import {writeSyntheticCheckpoint} from '../../../../../src/core/model/synthetic.js';
import {Checkpoint, writeSafetensors, type TensorData} from '../../../../../src/core/model/formats/safetensors/index.js';
import {quantizeModel} from '../../../../../src/core/tasks/quantize.js';
import {logitsOver} from '../../../../helpers/logits.js';
import {ggufBytes, GGML, spmVocab, type MetaValue, type RawTensor} from '../../../../helpers/gguf-writer.js';
import {rng} from '../../../../helpers/random.js';
import {expectClose} from '../../../backends/tfjs/helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-kquant-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const putHalf = (b: Uint8Array, at: number, v: number) => {
  const h = halfBits(v);
  b[at] = h & 0xff;
  b[at + 1] = h >> 8;
};

describe('K super-blocks', () => {
  it('Q4_K: y = d*sc*q - dmin*m per 32 weights, six-bit scales and mins packed in 12 bytes', () => {
    const b = new Uint8Array(144);
    putHalf(b, 0, 1);
    putHalf(b, 2, 0.5);
    const scales = 4;
    b[scales + 0] = 2 | (1 << 6); // sc0 = 2; its top bits are sc4's bits 4-5
    b[scales + 4] = 3; // m0 = 3
    b[scales + 1] = 1; // sc1 = 1, m1 = 0
    b[scales + 8] = 0x21; // sc4 = 1 | (1 << 4) = 17, m4 = 2
    b[16 + 0] = 0x35; // weights 0 (low nibble 5) and 32 (high nibble 3)
    b[16 + 64] = 0x0a; // weight 128 (low nibble 10)
    const y = dequantizeK('Q4_K', b, 256);
    expect(y[0]).toBe(2 * 5 - 0.5 * 3);
    expect(y[32]).toBe(1 * 3);
    expect(y[128]).toBe(17 * 10 - 0.5 * 2);
  });

  it('Q5_K: the fifth bit of weight l comes from qh[l], bit 2j (low nibbles) or 2j+1 (high) of 64-weight chunk j', () => {
    const b = new Uint8Array(176);
    putHalf(b, 0, 1);
    putHalf(b, 2, 0);
    b[4 + 0] = 3;
    b[4 + 1] = 5;
    b[4 + 2] = 1;
    b[16 + 0] = 1 | 4; // qh[0]: bit 0 (weight 0), bit 2 (weight 64)
    b[48 + 0] = 0x12; // ql[0]: weight 0 low nibble 2, weight 32 high nibble 1
    const y = dequantizeK('Q5_K', b, 256);
    expect(y[0]).toBe(3 * (2 + 16));
    expect(y[32]).toBe(5 * 1);
    expect(y[64]).toBe(1 * (0 + 16));
  });

  it('Q6_K: q = (4 low bits | 2 high bits << 4) - 32, times d and an int8 scale per 16 weights', () => {
    const b = new Uint8Array(210);
    putHalf(b, 208, 0.5);
    b[192 + 0] = 4;
    b[192 + 6] = 0xfe; // -2
    b[0] = 0x07; // ql[0]: weight 0 low bits 7
    b[128] = 0b10; // qh[0]: weight 0 high bits 2 -> q = 7 + 32 - 32
    b[32] = 0xf0; // ql[32] high nibble: weight 96 low bits 15, high bits 0 -> q = -17
    const y = dequantizeK('Q6_K', b, 256);
    expect(y[0]).toBe(0.5 * 4 * 7);
    expect(y[96]).toBe(0.5 * -2 * -17);
  });
});

describe('a GGUF file with K tensors', () => {
  it('loads like the Q8_0 directory of their values', async () => {
    const spec = {family: 'llama' as const, architecture: 'Qwen2ForCausalLM', dim: 256, nLayers: 1, nHeads: 2, hiddenDim: 256, vocabSize: 300, maxSeqLen: 16, seed: 21};
    const src = path.join(tmp, 'src');
    writeSyntheticCheckpoint(src, spec);
    const random = rng(4);
    const types = ['Q4_K', 'Q5_K', 'Q6_K'] as const;
    const ckpt = Checkpoint.open(src);
    const tensors: RawTensor[] = [];
    const values = new Map<string, TensorData>();
    const names: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight'};
    for (const [hf, gg] of [['input_layernorm.weight', 'attn_norm.weight'], ['self_attn.q_proj.weight', 'attn_q.weight'], ['self_attn.k_proj.weight', 'attn_k.weight'], ['self_attn.v_proj.weight', 'attn_v.weight'], ['self_attn.o_proj.weight', 'attn_output.weight'], ['self_attn.q_proj.bias', 'attn_q.bias'], ['self_attn.k_proj.bias', 'attn_k.bias'], ['self_attn.v_proj.bias', 'attn_v.bias'], ['post_attention_layernorm.weight', 'ffn_norm.weight'], ['mlp.gate_proj.weight', 'ffn_gate.weight'], ['mlp.up_proj.weight', 'ffn_up.weight'], ['mlp.down_proj.weight', 'ffn_down.weight']]) names[`model.layers.0.${hf}`] = `blk.0.${gg}`;
    let k = 0;
    for (const [hf, gg] of Object.entries(names)) {
      const shape = ckpt.info(hf).shape;
      if (shape.length === 1) {
        const w = ckpt.readFloat32(hf);
        tensors.push({name: gg, type: GGML.F32, ne: [shape[0]!], data: new Uint8Array(w.buffer, w.byteOffset, w.byteLength)});
        values.set(hf, {dtype: 'F32', shape, data: w});
        continue;
      }
      const type = types[k++ % 3]!;
      const bb = {Q4_K: 144, Q5_K: 176, Q6_K: 210}[type];
      const n = shape[0]! * shape[1]!;
      const data = Uint8Array.from({length: (n / 256) * bb}, () => Math.floor(random() * 256));
      for (let o = 0; o < data.length; o += bb) {
        if (type === 'Q6_K') putHalf(data, o + 208, 0.0005);
        else {
          putHalf(data, o, 0.002);
          putHalf(data, o + 2, 0.001);
        }
      }
      tensors.push({name: gg, type: GGML[type], ne: [shape[1]!, shape[0]!], data});
      values.set(hf, {dtype: 'F32', shape, data: dequantizeK(type, data, n)});
    }
    ckpt.close();
    const meta: Array<[string, MetaValue]> = [
      ['general.architecture', {type: 'string', value: 'qwen2'}],
      ['qwen2.context_length', {type: 'u32', value: 16}],
      ['qwen2.embedding_length', {type: 'u32', value: 256}],
      ['qwen2.block_count', {type: 'u32', value: 1}],
      ['qwen2.feed_forward_length', {type: 'u32', value: 256}],
      ['qwen2.attention.head_count', {type: 'u32', value: 2}],
      ['qwen2.attention.layer_norm_rms_epsilon', {type: 'f32', value: 1e-5}],
      ...spmVocab(300),
    ];
    const file = path.join(tmp, 'k.gguf');
    fs.writeFileSync(file, ggufBytes(meta, tensors).bytes);
    // the HF directory of those values, quantised to Q8_0 by hire quantize
    const hf = path.join(tmp, 'hf');
    fs.mkdirSync(hf);
    fs.copyFileSync(path.join(src, 'config.json'), path.join(hf, 'config.json'));
    writeSafetensors(path.join(hf, 'model.safetensors'), values);
    const q8 = path.join(tmp, 'hf-q8');
    await quantizeModel({model: hf, to: 'q8_0', out: q8});
    const tokens = [1, 5, 200, 17];
    const want = await logitsOver(q8, 'reference', tokens);
    const got = await logitsOver(file, 'reference', tokens);
    for (let p = 0; p < tokens.length; p++) expectClose(got[p]!, want[p]!, 1e-6);
  });
});
