/**
 * `hire quantize --out model.gguf`: one GGUF file instead of a directory. Its tensors equal, byte
 * for byte, those of the test-only GGUF writer (which permutes W_q / W_k rows with its own code),
 * it decodes the same logits as the quantised directory, llama2xs's vocabulary survives the trip
 * (same encodings, same greedy tokens as its REFERENCE.json), and the output follows the out rules:
 * nothing replaced without force, force replaces only a GGUF file hire wrote, never the source, no
 * temporary file left behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {quantizeModel} from '../../../src/core/tasks/quantize.js';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../src/core/model/synthetic.js';
import {GgufFile} from '../../../src/core/model/formats/gguf/file.js';
import {ggufFromCheckpoint} from '../../../src/core/model/formats/gguf/writer.js';
import {Session} from '../../../src/core/engine/session.js';
import {HireTokenizer} from '../../../src/core/model/tokenizer.js';
import {openModel, openTokenizer} from '../../../src/core/model/load.js';
import {ConfigError, IoError, TokenizerError} from '../../../src/core/errors.js';
import {logitsOver} from '../../helpers/logits.js';
import {greedyIds} from '../../helpers/greedy.js';
import {writeMetaspaceTokenizer} from '../../helpers/metaspace-tokenizer.js';
import {rejection} from '../../helpers/caught.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../../helpers/shared.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-quantize-gguf-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const SPECS: Record<string, SyntheticSpec> = {
  'llama gqa untied': {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 320, maxSeqLen: 32, tied: false, seed: 3},
  'qwen2 biases tied': {family: 'llama', architecture: 'Qwen2ForCausalLM', dim: 64, nLayers: 2, nHeads: 2, hiddenDim: 128, vocabSize: 320, maxSeqLen: 32, seed: 4},
};
const TOKENS = [3, 17, 40, 5, 99, 0, 12, 64];

function source(name: string, spec: SyntheticSpec): string {
  const dir = path.join(tmp, name.replace(/\W+/g, '-'));
  if (!fs.existsSync(dir)) {
    writeSyntheticCheckpoint(dir, spec);
    writeMetaspaceTokenizer(dir);
  }
  return dir;
}

/** Entries of our temporary naming left in a directory. */
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('.hire-tmp-') || f.includes('.hire-old-'));

for (const [name, spec] of Object.entries(SPECS)) {
  describe(`${name} -> Q8_0 GGUF`, () => {
    it('writes the tensors the test writer writes, byte for byte (W_q / W_k interleaved for llama only)', async () => {
      const src = source(name, spec);
      const out = path.join(tmp, `${name.replace(/\W+/g, '-')}.gguf`);
      const theirs = path.join(tmp, `${name.replace(/\W+/g, '-')}-writer.gguf`);
      await quantizeModel({model: src, to: 'q8_0', out});
      ggufFromCheckpoint(src, theirs, {type: 'Q8_0'});
      const a = GgufFile.open(out);
      const b = GgufFile.open(theirs);
      try {
        expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
        let compared = 0;
        for (const [tensor, info] of a.tensors) {
          const other = b.tensor(tensor);
          expect(info.ne, tensor).toEqual(other.ne);
          // the embedding stays F32 in hire's output (it is read by row, not multiplied); the writer quantises it
          if (tensor === 'token_embd.weight') continue;
          expect(info.type.name, tensor).toBe(other.type.name);
          expect(Buffer.from(a.readBytes(tensor)).equals(Buffer.from(b.readBytes(tensor))), tensor).toBe(true);
          compared++;
        }
        expect(compared).toBeGreaterThan(10);
        expect(a.metadata.get('general.architecture')).toBe(spec.architecture === 'Qwen2ForCausalLM' ? 'qwen2' : 'llama');
        expect(a.metadata.get('general.quantized_by')).toBe('hire');
      } finally {
        a.close();
        b.close();
      }
    });

    it('decodes the logits of the quantised directory (to the f32 rounding of rms_norm_eps, which GGUF stores as f32)', async () => {
      const src = source(name, spec);
      const file = path.join(tmp, `${name.replace(/\W+/g, '-')}-logits.gguf`);
      const dir = path.join(tmp, `${name.replace(/\W+/g, '-')}-dir`);
      await quantizeModel({model: src, to: 'q8_0', out: file});
      await quantizeModel({model: src, to: 'q8_0', out: dir});
      const fromFile = await logitsOver(file, 'reference', TOKENS);
      const fromDir = await logitsOver(dir, 'reference', TOKENS);
      fromFile.forEach((l, i) => {
        const d = fromDir[i]!;
        let [diff, scale] = [0, 0];
        for (let j = 0; j < l.length; j++) [diff, scale] = [Math.max(diff, Math.abs(l[j]! - d[j]!)), Math.max(scale, Math.abs(d[j]!))];
        expect(diff / scale, `position ${i}`).toBeLessThan(1e-5);
      });
    });
  });
}

describe('llama2xs -> GGUF', () => {
  it.runIf(HAVE_SHARED)('keeps the vocabulary (same encodings as tokenizer.json) and decodes REFERENCE.json greedily', async () => {
    const out = path.join(tmp, 'llama2xs-q8_0.gguf');
    await quantizeModel({model: LLAMA2XS_DIR, to: 'q8_0', out});
    const ours = openTokenizer(openModel(out), 'required')!;
    const theirs = HireTokenizer.load(LLAMA2XS_DIR);
    const text = fs.readFileSync(path.join(LLAMA2XS_DIR, '../../data/tinyshakespeare.txt'), 'utf8').slice(0, 20000);
    expect(ours.encode(text)).toEqual(theirs.encode(text));
    expect(ours.encode('Once upon a time, there was a little girl. ÿ€ 123')).toEqual(theirs.encode('Once upon a time, there was a little girl. ÿ€ 123'));
    const ref = readLlama2xsReference();
    const s = await Session.open(out, {backend: 'reference'});
    try {
      expect(s.tokenizer!.encode(ref.prompt)).toEqual(ref.prompt_token_ids);
      const ids = await greedyIds(s, ref.prompt_token_ids, 24);
      // Q8_0 weights: the first tokens of the f32 reference's greedy continuation
      expect(ids.slice(0, 16)).toEqual(ref.greedy_token_ids.slice(ref.prompt_token_ids.length, ref.prompt_token_ids.length + 16));
    } finally {
      s.dispose();
    }
  });
});

describe('GGUF output rules', () => {
  const spec = SPECS['llama gqa untied']!;

  it('refuses an existing file without force, and a file hire did not write even with force; never touches either', async () => {
    const src = source('llama gqa untied', spec);
    const out = path.join(tmp, 'rules', 'model.gguf');
    fs.mkdirSync(path.dirname(out), {recursive: true});
    fs.writeFileSync(out, 'not a gguf file of hire');
    const e1 = await rejection(quantizeModel({model: src, to: 'q8_0', out}));
    expect(e1).toBeInstanceOf(IoError);
    expect(String(e1)).toMatch(/already exists/);
    const e2 = await rejection(quantizeModel({model: src, to: 'q8_0', out, force: true}));
    expect(e2).toBeInstanceOf(IoError);
    expect(String(e2)).toMatch(/not one of the GGUF files written by hire quantize/);
    expect(fs.readFileSync(out, 'utf8')).toBe('not a gguf file of hire');
    expect(leftovers(path.dirname(out))).toEqual([]);
  });

  it('force replaces a GGUF file hire wrote; never the source GGUF file', async () => {
    const src = source('llama gqa untied', spec);
    const out = path.join(tmp, 'rules', 'ours.gguf');
    await quantizeModel({model: src, to: 'q4_0', out});
    await quantizeModel({model: src, to: 'q8_0', out, force: true});
    const g = GgufFile.open(out);
    try {
      expect(g.tensor('blk.0.attn_q.weight').type.name).toBe('Q8_0');
    } finally {
      g.close();
    }
    const before = fs.readFileSync(out);
    const e = await rejection(quantizeModel({model: out, to: 'keep', out, force: true}));
    expect(e).toBeInstanceOf(IoError);
    expect(String(e)).toMatch(/is the source model/);
    expect(fs.readFileSync(out).equals(before)).toBe(true);
    expect(leftovers(path.dirname(out))).toEqual([]);
  });

  it('names the file and the problem for what GGUF cannot hold: another family, no tokenizer', async () => {
    const gpt2 = path.join(tmp, 'gpt2');
    writeSyntheticCheckpoint(gpt2, {family: 'gpt2', dim: 64, nLayers: 1, nHeads: 2, hiddenDim: 128, vocabSize: 320, maxSeqLen: 16, seed: 5});
    writeMetaspaceTokenizer(gpt2);
    const e1 = await rejection(quantizeModel({model: gpt2, to: 'q8_0', out: path.join(tmp, 'gpt2.gguf')}));
    expect(e1).toBeInstanceOf(ConfigError);
    expect(String(e1)).toMatch(/config\.json: model_type is "gpt2"; GGUF export writes Llama, Mistral and Qwen2/);
    const bare = path.join(tmp, 'no-tokenizer');
    writeSyntheticCheckpoint(bare, spec);
    const e2 = await rejection(quantizeModel({model: bare, to: 'q8_0', out: path.join(tmp, 'bare.gguf')}));
    expect(e2).toBeInstanceOf(TokenizerError);
    expect(String(e2)).toMatch(/tokenizer\.json: is missing/);
    expect(fs.existsSync(path.join(tmp, 'gpt2.gguf')) || fs.existsSync(path.join(tmp, 'bare.gguf'))).toBe(false);
    expect(leftovers(tmp)).toEqual([]);
  });
});
