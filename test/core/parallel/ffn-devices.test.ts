/**
 * HiRE-FFN on several devices (DaT-Top-k for the FFN): each device scores its own groups with its
 * own predictor rows and computes its static groups plus its share of k'_g, no global step.
 * - with a slack that makes every device read every group, decoding equals decoding without the
 *   FFN selector token for token (exact and dat, a synthetic gated model with FFN biases and the
 *   demo bundle): predictor shards, gathered rows and biases, top-k over the selected rows;
 * - at the bundle's k'_g the devices read fewer FFN bytes and the next-token argmax stays close
 *   to single-device HiRE-FFN on teacher-forced validation text;
 * - the static groups of every layer are spread over the devices.
 * The devices run the compiled worker (dist/): run `npm run build` first.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {multiDevice} from '../../helpers/devices.js';
import {readCorpus} from '../../../src/core/tasks/corpus.js';
import {argmax} from '../../../src/core/numeric/select.js';
import {Session} from '../../../src/core/engine/session.js';
import {DistributedModel, type DistributedOptions} from '../../../src/core/parallel/distributed-model.js';
import {rangeIds} from '../../../src/core/parallel/shard-plan.js';
import {readManifest} from '../../../src/core/hire/bundle/bundle.js';
import {calibrate} from '../../../src/core/tasks/calibrate/calibrate.js';
import {writeSyntheticCheckpoint} from '../../../src/core/model/synthetic.js';
import {HireTokenizer} from '../../../src/core/model/tokenizer.js';
import {PROJECT_ROOT} from '../../helpers/shared.js';
import {TINY_VOCAB_SIZE, writeTinyTokenizer} from '../../helpers/tiny-tokenizer.js';
import {configOf} from '../../helpers/bundles.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-dist-ffn-'));
const SYNTH = path.join(tmp, 'gated');
const SYNTH_BUNDLE = path.join(tmp, 'gated.hire');
const DEMO = path.join(PROJECT_ROOT, 'models/shakespeare-topk.hire');
const GREEDY = {temperature: 0, topK: 0, topP: 1};
const PROMPT = [5, 9, 14, 3];
/** Every device reads all its groups (its share of k'_g = 0 plus this slack covers them). */
const EVERY_GROUP = {ffnKPrime: 0, ffnSlack: 1_000};

beforeAll(async () => {
  if (!fs.existsSync(path.join(PROJECT_ROOT, 'dist/core/parallel/device-worker.js'))) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {cwd: PROJECT_ROOT, stdio: 'ignore'});
    } catch {
      // tsc emits even with type errors elsewhere
    }
  }
  // gated silu FFN with gate/up/down biases, top-k FFN, GQA; calibrated with groups of 4
  writeSyntheticCheckpoint(SYNTH, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize: TINY_VOCAB_SIZE, maxSeqLen: 64, ffnTopK: 0.25, mlpBias: true, tied: false, seed: 9});
  writeTinyTokenizer(SYNTH);
  const {manifest} = await calibrate({model: SYNTH, out: SYNTH_BUNDLE, tokens: 400, softmax: ['quant'], bits: 8, ks: [1], threads: 1, ffn: {groupSize: 4, kinds: ['lowrank'], staticThreshold: 0.65}});
  // some static groups, and dynamic ones to select (random weights: groups are active on 55-80% of tokens)
  const statics = manifest.ffn!.layers.map((l) => l.nStatic);
  if (!statics.some((n) => n > 0) || !statics.every((n) => n < 16)) throw new Error(`unexpected static groups ${statics.join(', ')}`);
}, 120_000);
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const decode = (o: DistributedOptions, n: number) => multiDevice(o, PROMPT, n);

describe('HiRE-FFN on devices, every group read', () => {
  for (const [name, dir, devices] of [
    ['a synthetic gated model with FFN biases', SYNTH_BUNDLE, 3],
    ['the demo bundle', DEMO, 2],
  ] as const) {
    it(`${name} on ${devices} devices: exact and dat decode as without the FFN selector`, async () => {
      for (const topk of ['exact', 'dat'] as const) {
        const base = {modelDir: dir, devices, topk, head: {kind: 'dense'} as const};
        const off = await decode({...base, ffn: {ffn: 'off'}}, 16);
        const on = await decode({...base, ffn: EVERY_GROUP}, 16);
        expect(off.model.ffn().sparse).toBe(false);
        expect(on.model.ffn().sparse).toBe(true);
        expect(on.ids).toEqual(off.ids);
      }
    });
  }
});

describe('HiRE-FFN on devices at the bundle\'s k\'_g (demo bundle)', () => {
  it('spreads every layer\'s static groups over the devices', async () => {
    const manifest = readManifest(DEMO, configOf(DEMO));
    const model = await DistributedModel.open({modelDir: DEMO, devices: 3, topk: 'dat', head: {kind: 'dense'}});
    try {
      const g = manifest.ffn!.groupSize;
      expect(model.plan.ffnGroupSize).toBe(g);
      expect(model.plan.ffnLayout).toBe('strided');
      for (const rec of manifest.ffn!.layers) {
        const counts = model.plan.shards.map((s) => Array.from(rangeIds(s.ffn)).filter((n) => n % g === 0 && n / g < rec.nStatic).length);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(rec.nStatic);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }
    } finally {
      await model.dispose();
    }
  });

  it('reads fewer FFN bytes per device and keeps the next token close to single-device HiRE-FFN', async () => {
    const tok = HireTokenizer.load(DEMO);
    const text = tok.encode(readCorpus(undefined, 'validation').text, {addSpecialTokens: false}).slice(0, 96);
    // single device, HiRE-FFN at recall 0.99 (dense output layer)
    const single = await Session.open(DEMO, {backend: 'cpu', threads: 1, tokenizer: 'none'});
    const want: number[] = [];
    try {
      expect(single.sparseFfn).not.toBeNull();
      const cache = single.model.createCache(text.length);
      for (let pos = 0; pos < text.length; pos++) want.push(argmax(await single.backend.read(await single.model.forward(text[pos]!, pos, cache))));
    } finally {
      single.dispose();
    }
    const agreement: Record<string, number> = {};
    for (const topk of ['dat', 'exact'] as const) {
      const model = await DistributedModel.open({modelDir: DEMO, devices: 2, topk, head: {kind: 'dense'}});
      try {
        const ffn = model.ffn();
        expect(ffn.sparse).toBe(true);
        for (const d of ffn.devices) expect(d.bytesPerToken).toBeLessThan(0.85 * d.denseBytesPerToken);
        await model.reset(text.length);
        let same = 0;
        for (let pos = 0; pos < text.length; pos++) {
          const r = await model.advance([text[pos]!], pos);
          if (argmax(r.logits) === want[pos]) same++;
        }
        agreement[topk] = same / text.length;
        console.log(`demo, 2 devices, ${topk}: FFN bytes/token/device ${ffn.devices.map((d) => d.bytesPerToken).join(', ')} of ${ffn.devices[0]!.denseBytesPerToken}; argmax agreement with single-device HiRE-FFN ${agreement[topk]!.toFixed(4)} over ${text.length} tokens`);
      } finally {
        await model.dispose();
      }
    }
    // measured on these 96 tokens: dat 0.990, exact 0.979 (over 381 tokens: 0.948 and 0.987; the
    // dat top-k FFN itself, with dense FFN shards, agrees 0.950 there)
    expect(agreement.dat).toBeGreaterThanOrEqual(0.93);
    expect(agreement.exact).toBeGreaterThanOrEqual(0.93);
  });
});
