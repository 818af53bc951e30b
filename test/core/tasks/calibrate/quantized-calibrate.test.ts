/**
 * Calibration on quantised models: a Q8_0 demo model calibrates and its bundle decodes; with
 * --ffn on a Q4_0 model the bundle keeps the gate/up blocks (rows permuted exactly) and stores
 * W_out as Q8_0 neuron rows, decoding (dense) close to the source; a GGUF file calibrates into a
 * bundle with its weights, config and tokenizer written out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {Session} from '../../../../src/core/engine/session.js';
import {calibrate} from '../../../../src/core/tasks/calibrate/calibrate.js';
import {quantizeModel} from '../../../../src/core/tasks/quantize.js';
import {DEMO_MODEL_DIR} from '../../../../src/core/model/defaults.js';
import {Checkpoint} from '../../../../src/core/model/formats/safetensors/index.js';
import {greedyIds} from '../../../helpers/greedy.js';
import {logitsOver} from '../../../helpers/logits.js';
import {ggufFromCheckpoint} from '../../../helpers/gguf-writer.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-qcal-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const QUICK = {tokens: 400, ks: [1], softmax: ['quant' as const], bits: 8 as const, threads: 1};

function blocksOf(dir: string): Record<string, string> {
  const c = Checkpoint.open(dir);
  try {
    return JSON.parse(c.metadata['hire_blocks'] ?? '{}');
  } finally {
    c.close();
  }
}

describe('calibrate on quantised models', () => {
  it('a Q8_0 model: the bundle links its block weights and decodes with HiRE-Softmax', async () => {
    const q8 = path.join(tmp, 'demo-q8');
    await quantizeModel({model: DEMO_MODEL_DIR, to: 'q8_0', out: q8});
    const out = path.join(tmp, 'demo-q8.hire');
    await calibrate({model: q8, out, ...QUICK});
    expect(Object.keys(blocksOf(out)).length).toBeGreaterThan(10);
    const s = await Session.open(out, {backend: 'cpu', threads: 1});
    try {
      const head = s.head({temperature: 0, topK: 0, topP: 1}, {}).head;
      expect(head.kind).toBe('hire');
      expect((await greedyIds(s, [1, 2, 3], 8, head)).length).toBe(8);
    } finally {
      s.dispose();
    }
  }, 120_000);

  it('--ffn on a Q4_0 model: gate/up stay Q4_0, W_out becomes Q8_0 neuron rows, dense decoding stays close', async () => {
    const q4 = path.join(tmp, 'demo-q4');
    await quantizeModel({model: DEMO_MODEL_DIR, to: 'q4_0', out: q4});
    const out = path.join(tmp, 'demo-q4-ffn.hire');
    await calibrate({model: q4, out, ...QUICK, tokens: 600, ffn: {groupSize: 8}});
    const blocks = blocksOf(out);
    const formats = new Set(Object.entries(blocks).map(([n, f]) => `${/down_proj/.test(n) ? 'down' : /gate|up_proj/.test(n) ? 'gate/up' : 'other'} ${f}`));
    expect([...formats].sort()).toEqual(['down q8_0', 'gate/up q4_0', 'other q4_0']);
    // on block weights the default kinds add a low-rank quantised predictor to the quant one
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'hire.json'), 'utf8'));
    for (const layer of manifest.ffn.layers) {
      const kinds = new Set(layer.tried.map((t: {name: string}) => (t.name.startsWith('lowrank') ? 'lowrank+quant' : 'quant')));
      expect([...kinds].sort()).toEqual(['lowrank+quant', 'quant']);
    }
    const tokens = [5, 17, 40, 3, 77];
    const want = await logitsOver(q4, 'reference', tokens);
    const got = await logitsOver(out, 'reference', tokens, {open: {ffn: 'off'}});
    // neurons permuted exactly; W_out re-rounded to Q8_0 (half a Q8_0 step per weight)
    for (let p = 0; p < tokens.length; p++) {
      let [err, scale] = [0, 0];
      for (let i = 0; i < want[p]!.length; i++) {
        err = Math.max(err, Math.abs(got[p]![i]! - want[p]![i]!));
        scale = Math.max(scale, Math.abs(want[p]![i]!));
      }
      expect(err / scale).toBeLessThan(0.02);
    }
  }, 180_000);

  it('a GGUF file: the bundle holds its tensors, the config and tokenizer its metadata stands for', async () => {
    const src = path.join(tmp, 'tiny');
    writeSyntheticCheckpoint(src, {family: 'llama', dim: 64, nLayers: 1, nHeads: 2, hiddenDim: 64, vocabSize: 300, maxSeqLen: 128, seed: 9});
    const file = path.join(tmp, 'tiny.gguf');
    ggufFromCheckpoint(src, file, {type: 'Q8_0'});
    const text = path.join(tmp, 'text.txt');
    fs.writeFileSync(text, 'a quick brown fox jumps over the lazy dog, and a cat sits on a mat. '.repeat(30));
    const out = path.join(tmp, 'tiny.hire');
    const {manifest} = await calibrate({model: file, out, data: [text], ...QUICK, tokens: 200});
    expect(manifest.source.weights[0]!.file).toBe('tiny.gguf');
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors', 'hire.json']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    expect(Object.values(blocksOf(out))).toContain('q8_0');
    const want = await logitsOver(file, 'reference', [1, 40, 7]);
    const got = await logitsOver(out, 'reference', [1, 40, 7]);
    expect(got).toEqual(want);
  }, 120_000);
});
