/**
 * GGUF import: files made by the test writer (test/helpers/gguf-writer.ts) from synthetic
 * checkpoints load with the same logits as the Hugging Face directory of the same weights (F32,
 * F16, Q8_0, Q4_0; llama with GQA and untied output, qwen2 with biases); a llama file written
 * without the converter's Q/K interleave loads wrong (so the un-permutation is what makes it
 * right); the tokenizer comes from the metadata; and every malformed header gives one line naming
 * the file and the problem.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../../../src/core/model/synthetic.js';
import {openModel, openTokenizer} from '../../../../../src/core/model/load.js';
import {GgufError} from '../../../../../src/core/errors.js';
import {quantizeModel} from '../../../../../src/core/tasks/quantize.js';
import {GgufFile} from '../../../../../src/core/model/formats/gguf/index.js';
import {logitsOver} from '../../../../helpers/logits.js';
import {ggufBytes, ggufFromCheckpoint, GGML, spmVocab, type MetaValue, type RawTensor} from '../../../../helpers/gguf-writer.js';
import {expectClose} from '../../../backends/tfjs/helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-gguf-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const SPECS: Record<string, SyntheticSpec> = {
  'llama gqa untied': {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 300, maxSeqLen: 32, tied: false, seed: 11},
  'llama tied': {family: 'llama', dim: 64, nLayers: 2, nHeads: 2, hiddenDim: 128, vocabSize: 300, maxSeqLen: 32, seed: 12},
  'qwen2 biases': {family: 'llama', architecture: 'Qwen2ForCausalLM', dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 300, maxSeqLen: 32, seed: 13},
};
const TOKENS = [1, 40, 7, 299, 120, 3, 64, 250];

function checkpoint(name: string, dtype: 'F32' | 'F16' = 'F32'): string {
  const dir = path.join(tmp, `${name.replace(/\W+/g, '-')}-${dtype}`);
  if (!fs.existsSync(dir)) writeSyntheticCheckpoint(dir, {...SPECS[name]!, dtype});
  return dir;
}

describe('GGUF models load like the Hugging Face directory of the same weights', () => {
  for (const name of Object.keys(SPECS)) {
    for (const type of ['F32', 'F16', 'Q8_0', 'Q4_0'] as const) {
      it(`${name}, ${type}`, async () => {
        const f32 = checkpoint(name);
        const file = path.join(tmp, `${name.replace(/\W+/g, '-')}-${type}.gguf`);
        // F16: from the F16 checkpoint, so the vectors (F32 in the file) hold its F16 values too
        ggufFromCheckpoint(type === 'F16' ? checkpoint(name, 'F16') : f32, file, {type});
        // the HF directory of the same weights: F16 written from the same values; blocks by hire quantize
        let hf = type === 'F16' ? checkpoint(name, 'F16') : f32;
        if (type === 'Q8_0' || type === 'Q4_0') {
          hf = path.join(tmp, `${name.replace(/\W+/g, '-')}-${type}-hf`);
          if (!fs.existsSync(hf)) await quantizeModel({model: f32, to: type === 'Q8_0' ? 'q8_0' : 'q4_0', out: hf});
        }
        const want = await logitsOver(hf, 'reference', TOKENS);
        const got = await logitsOver(file, 'reference', TOKENS);
        // rms_norm_eps is an f32 in GGUF (1e-5 rounded): the only difference
        for (let p = 0; p < TOKENS.length; p++) expectClose(got[p]!, want[p]!, 1e-6);
        const cpu = await logitsOver(file, 'cpu', TOKENS);
        for (let p = 0; p < TOKENS.length; p++) expectClose(cpu[p]!, want[p]!, 1e-4);
      });
    }
  }

  it('a llama file without the converter\'s Q/K interleave loads wrong: the un-permutation is what makes it right', async () => {
    const f32 = checkpoint('llama gqa untied');
    const wrong = path.join(tmp, 'no-permute.gguf');
    ggufFromCheckpoint(f32, wrong, {type: 'F32', noPermute: true});
    const want = await logitsOver(f32, 'reference', TOKENS);
    const got = await logitsOver(wrong, 'reference', TOKENS);
    expect(() => expectClose(got[TOKENS.length - 1]!, want[TOKENS.length - 1]!, 1e-3)).toThrow();
  });

  it('hire quantize --to keep imports a Q4_0 file without re-quantising: the same blocks, the same logits', async () => {
    const f32 = checkpoint('llama gqa untied');
    const file = path.join(tmp, 'keep.gguf');
    ggufFromCheckpoint(f32, file, {type: 'Q4_0'});
    const out = path.join(tmp, 'keep-out');
    const report = await quantizeModel({model: file, to: 'keep', out});
    expect(report.formats).toEqual(['q4_0']);
    expect(report.tensors.filter((t) => t.to === 'q4_0').every((t) => t.how === 'copied')).toBe(true);
    expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
    const a = await logitsOver(file, 'reference', TOKENS);
    const b = await logitsOver(out, 'reference', TOKENS);
    expect(b).toEqual(a);
  });
});

describe('GGUF tokenizer from metadata', () => {
  it('builds a SentencePiece BPE that encodes with BOS, decodes back, and keeps the chat template', () => {
    const file = path.join(tmp, 'tok.gguf');
    ggufFromCheckpoint(checkpoint('llama tied'), file, {type: 'F32'});
    const source = openModel(file);
    try {
      const tok = openTokenizer(source, 'required')!;
      expect(tok.special.bosTokenId).toBe(1);
      expect(tok.special.eosTokenIds).toEqual([2]);
      expect(tok.special.addBos).toBe(true);
      expect(tok.chatTemplate?.source).toBe('{% for m in messages %}{{ m.content }}{% endfor %}');
      expect(tok.chatTemplate?.file).toBe(file);
      expect(tok.chatTemplate!.render([{role: 'user', content: 'hi'}], {addGenerationPrompt: false})).toBe('hi');
      const ids = tok.encode('a b!');
      expect(ids[0]).toBe(1);
      expect(tok.decode(ids)).toBe('a b!');
      // '!' has no piece: byte fallback to <0x21> (id 3 + 0x21)
      expect(ids).toContain(3 + 0x21);
    } finally {
      source.checkpoint.close();
    }
  });

  it('a file without tokenizer metadata names what is missing', () => {
    const file = path.join(tmp, 'no-tok.gguf');
    ggufFromCheckpoint(checkpoint('llama tied'), file, {type: 'F32', meta: [['tokenizer.ggml.model', {type: 'string', value: 'bert'}]]});
    expect(() => openModel(file)).toThrow(/tokenizer\.ggml\.model is "bert"; hire reads "llama" \(SentencePiece\) and "gpt2"/);
  });
});

describe('malformed GGUF headers: one line naming the file and the problem', () => {
  const meta: Array<[string, MetaValue]> = [['general.architecture', {type: 'string', value: 'llama'}]];
  const tensor = (over: Partial<RawTensor> = {}): RawTensor => ({name: 't', type: GGML.F32, ne: [4, 2], data: new Uint8Array(32), ...over});
  const expectBad = (bytes: Uint8Array, pattern: RegExp) => {
    const file = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}.gguf`);
    fs.writeFileSync(file, bytes);
    let err: unknown;
    try {
      GgufFile.open(file).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GgufError);
    const message = (err as Error).message;
    expect(message.startsWith(`${file}: `)).toBe(true);
    expect(message).not.toContain('\n');
    expect(message).toMatch(pattern);
  };
  const good = () => ggufBytes(meta, [tensor()]).bytes;
  const patch = (bytes: Uint8Array, at: number, fn: (d: DataView) => void) => {
    const copy = bytes.slice();
    fn(new DataView(copy.buffer));
    return copy;
  };

  it('a good file opens', () => {
    const file = path.join(tmp, 'good.gguf');
    fs.writeFileSync(file, good());
    const g = GgufFile.open(file);
    expect([...g.tensors.keys()]).toEqual(['t']);
    expect(g.readBytes('t').length).toBe(32);
    g.close();
  });
  it('truncated', () => expectBad(good().slice(0, 20), /truncated: 20 bytes, but a GGUF header alone takes 24/));
  it('truncated inside the metadata', () => expectBad(good().slice(0, 60), /truncated: .* needs \d+ bytes, the file ends at 60|claims \d+ bytes; only \d+ are left/));
  it('bad magic', () => expectBad(patch(good(), 0, (d) => d.setUint32(0, 0x12345678, true)), /not a GGUF file: it starts with 0x12345678/));
  it('unsupported version', () => expectBad(patch(good(), 4, (d) => d.setUint32(4, 1, true)), /GGUF version 1 is not supported/));
  it('tensor count past the end of the file', () => expectBad(patch(good(), 8, (d) => d.setBigUint64(8, 1n << 40n, true)), /tensor count \d+ cannot fit the \d+ bytes left/));
  it('metadata count past the end of the file', () => expectBad(patch(good(), 16, (d) => d.setBigUint64(16, 1n << 40n, true)), /metadata count \d+ cannot fit/));
  it('a string longer than the file', () => expectBad(patch(good(), 24, (d) => d.setBigUint64(24, 1n << 40n, true)), /metadata key 0 at byte 32 claims \d+ bytes; only \d+ are left/));
  it('an array longer than the file', () => {
    const {bytes} = ggufBytes([['a', {type: 'f32s', value: [1, 2]}]], []);
    // key "a" (8 + 1), value type (4), element type (4): the count is at 24 + 17
    expectBad(patch(bytes, 41, (d) => d.setBigUint64(41, 1n << 40n, true)), /metadata "a" claims \d+ elements; only \d+ bytes are left/);
  });
  // header 24, key length 8 + "general.architecture" (20): the value type is at 52
  it('an unknown metadata value type', () => expectBad(patch(good(), 52, (d) => d.setUint32(52, 99, true)), /metadata "general.architecture" has unknown value type 99/));
  it('misaligned offset', () => expectBad(ggufBytes(meta, [tensor()], {offsets: [4]}).bytes, /tensor "t" starts at data offset 4, not a multiple of the alignment 32/));
  it('overlapping tensors', () => expectBad(ggufBytes(meta, [tensor(), tensor({name: 'u'})], {offsets: [0, 0]}).bytes, /tensor "u" .* overlaps tensor "t"|tensor "t" .* overlaps tensor "u"/));
  it('a tensor past the end of the file (shape x type more than the bytes there)', () => expectBad(ggufBytes(meta, [tensor({ne: [4, 200]})]).bytes.slice(0, 200), /tensor "t" \(F32 \[4, 200\], 3200 bytes at byte \d+\) runs past the end of the file/));
  it('unknown tensor type', () => expectBad(ggufBytes(meta, [tensor({type: 4})]).bytes, /tensor "t" has unknown ggml type 4/));
  it('rows that are not whole blocks', () => expectBad(ggufBytes(meta, [tensor({type: GGML.Q8_0, ne: [40, 1], data: new Uint8Array(34)})]).bytes, /tensor "t" \(Q8_0\) has rows of 40 values, not a whole number of 32-value blocks/));
  it('a duplicate key', () => expectBad(ggufBytes([...meta, ...meta], []).bytes, /metadata key "general.architecture" appears twice/));
  it('a bad alignment', () => expectBad(ggufBytes([['general.alignment', {type: 'u32', value: 24}]], []).bytes, /general.alignment must be a power of two/));
  it('a type hire cannot read is named when the model needs it', () => {
    const file = path.join(tmp, 'q41.gguf');
    ggufFromCheckpoint(checkpoint('llama tied'), file, {type: 'F32'});
    // retype token_embd.weight from F32 to Q4_1 (type 3): its bytes shrink, so it still lies inside its slot
    const bytes = new Uint8Array(fs.readFileSync(file));
    const name = new TextEncoder().encode('token_embd.weight');
    let at = -1;
    for (let i = 0; i < bytes.length && at < 0; i++) if (name.every((c, k) => bytes[i + k] === c)) at = i;
    new DataView(bytes.buffer).setUint32(at + name.length + 4 + 2 * 8, 3, true);
    fs.writeFileSync(file, bytes);
    expect(() => openModel(file)).toThrow(/tensor "token_embd.weight" is Q4_1; hire reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K/);
  });
});
