/**
 * hire quantize on synthetic checkpoints of every family: the output loads, its logits on every
 * backend agree with the reference backend on the dequantised blocks (rel 1e-4), and the reference
 * agrees with the independent oracle reading the blocks itself (so the [out, in] orientation of
 * transposed GPT-2 weights and fused q/k/v slices are right). Also: the files written, copies
 * without re-quantising, and the out/force rules.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {quantizeModel, WEIGHT_FORMAT_KEY} from '../../../src/core/tasks/quantize.js';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../src/core/model/synthetic.js';
import {Checkpoint} from '../../../src/core/model/formats/safetensors/index.js';
import {IoError} from '../../../src/core/errors.js';
import {logitsOver} from '../../helpers/logits.js';
import {oracleLogits} from '../../helpers/oracle.js';
import {SKIP_WEBGPU} from '../../helpers/webgpu.js';
import {expectClose} from '../backends/tfjs/helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-quantize-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const SPECS: Record<string, SyntheticSpec> = {
  'llama gqa untied': {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 200, maxSeqLen: 32, tied: false, seed: 3},
  'qwen2 (q/k/v biases), bf16': {family: 'llama', architecture: 'Qwen2ForCausalLM', dim: 64, nLayers: 2, nHeads: 2, hiddenDim: 128, vocabSize: 150, maxSeqLen: 32, dtype: 'BF16', seed: 4},
  'gpt2 (Conv1D, fused c_attn)': {family: 'gpt2', dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 150, maxSeqLen: 32, seed: 5},
};

function source(name: string, spec: SyntheticSpec): string {
  const dir = path.join(tmp, name.replace(/\W+/g, '-'));
  if (!fs.existsSync(dir)) writeSyntheticCheckpoint(dir, spec);
  return dir;
}

const TOKENS = [3, 17, 40, 5, 99, 0, 12, 64];

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let [ma, mb] = [0, 0];
  for (let i = 0; i < n; i++) [ma, mb] = [ma + a[i]! / n, mb + b[i]! / n];
  let [sab, saa, sbb] = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

for (const [name, spec] of Object.entries(SPECS)) {
  for (const to of ['q8_0', 'q4_0'] as const) {
    describe(`${name} -> ${to}`, () => {
      const out = path.join(tmp, `${name.replace(/\W+/g, '-')}-${to}`);
      let ref: Float32Array[];

      it('writes the blocks and the format, and the reference agrees with the oracle on them', async () => {
        const report = await quantizeModel({model: source(name, spec), to, out});
        expect(report.formats).toEqual([to]);
        const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
        expect(config[WEIGHT_FORMAT_KEY]).toBe(to);
        const ckpt = Checkpoint.open(out);
        const blocks = JSON.parse(ckpt.metadata['hire_blocks']!);
        expect(Object.keys(blocks).length).toBeGreaterThan(4);
        for (const t of Object.keys(blocks)) expect(ckpt.info(t).dtype).toBe('U8');
        ckpt.close();
        expect(report.bytes).toBeLessThan(report.sourceBytes / (to === 'q8_0' ? 1.8 : 3.3) + 8192 * 4);
        ref = await logitsOver(out, 'reference', TOKENS);
        const oracle = oracleLogits(out, TOKENS);
        for (let p = 0; p < TOKENS.length; p++) expectClose(ref[p]!, oracle[p]!, 1e-5);
        // and close to the unquantised model (quantisation error only): correlation of the last logits
        const dense = await logitsOver(source(name, spec), 'reference', TOKENS);
        expect(correlation(ref[TOKENS.length - 1]!, dense[TOKENS.length - 1]!)).toBeGreaterThan(to === 'q8_0' ? 0.999 : 0.9);
      });

      for (const backend of ['cpu', 'tfjs', 'webgpu']) {
        it.skipIf(backend === 'webgpu' && SKIP_WEBGPU)(`${backend}: logits within 1e-4 of the reference`, async () => {
          const got = await logitsOver(out, backend, TOKENS, {open: {threads: 2}});
          for (let p = 0; p < TOKENS.length; p++) expectClose(got[p]!, ref[p]!, 1e-4);
        });
      }
    });
  }
}

describe('quantize: copies and refusals', () => {
  it('re-quantising a q8_0 directory to q8_0 copies every block byte for byte', async () => {
    const first = path.join(tmp, 'copy-a');
    const second = path.join(tmp, 'copy-b');
    await quantizeModel({model: source('llama gqa untied', SPECS['llama gqa untied']!), to: 'q8_0', out: first});
    const report = await quantizeModel({model: first, to: 'q8_0', out: second});
    expect(report.tensors.filter((t) => t.to === 'q8_0').every((t) => t.how === 'copied')).toBe(true);
    expect(fs.readFileSync(path.join(second, 'model.safetensors')).equals(fs.readFileSync(path.join(first, 'model.safetensors')))).toBe(true);
  });

  it('refuses an existing out without force, and with force replaces only a directory it wrote', async () => {
    const src = source('llama gqa untied', SPECS['llama gqa untied']!);
    const out = path.join(tmp, 'force');
    await quantizeModel({model: src, to: 'q4_0', out});
    await expect(quantizeModel({model: src, to: 'q8_0', out})).rejects.toThrow(/already exists/);
    await quantizeModel({model: src, to: 'q8_0', out, force: true});
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))[WEIGHT_FORMAT_KEY]).toBe('q8_0');
    const other = path.join(tmp, 'not-ours');
    fs.mkdirSync(other);
    const err = await quantizeModel({model: src, to: 'q8_0', out: other, force: true}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IoError);
    expect((err as Error).message).toMatch(/not one of the model directories written by hire quantize/);
    expect(fs.readdirSync(other)).toEqual([]);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.hire-tmp-'))).toEqual([]);
  });

  it('names the option for a bad format', async () => {
    await expect(quantizeModel({model: tmp, to: 'q5_0' as 'q8_0', out: path.join(tmp, 'x')})).rejects.toThrow(/to must be q8_0, q4_0 or keep/);
  });
});
