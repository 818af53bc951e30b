/**
 * A prompt prefilled as blocks of rows gives what the same tokens give one step at a time: the
 * logits at the last position (1e-4 relative), the KV cache of every layer, and the greedy
 * continuation, on every backend and for every family (GQA, biases, GPT-2 learned positions,
 * OPT post-norm with project_in/out, llama3 rope scaling), across chunk boundaries (a chunk of 5
 * rows over a 13-token prompt). A prompt that does not fit its cache fails before anything runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {Session} from '../../../src/core/engine/session.js';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../src/core/model/synthetic.js';
import type {KvCache, Vec} from '../../../src/core/backends/backend.js';
import {greedyIds} from '../../helpers/greedy.js';
import {SKIP_WEBGPU} from '../../helpers/webgpu.js';
import {expectClose} from '../backends/tfjs/helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-prefill-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const SPECS: Record<string, SyntheticSpec> = {
  'llama gqa bf16, q/k/v/o biases': {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 300, maxSeqLen: 32, dtype: 'BF16', qkvBias: true, seed: 3},
  'llama untied f16, llama3 rope scaling': {
    family: 'llama', dim: 48, nLayers: 2, nHeads: 3, hiddenDim: 80, vocabSize: 200, maxSeqLen: 32, dtype: 'F16', tied: false, seed: 4,
    ropeTheta: 500000, ropeScaling: {kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16},
  },
  'llama relu top-k FFN f32, mlp biases': {family: 'llama', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 96, vocabSize: 100, maxSeqLen: 32, activation: 'relu', ffnTopK: 0.1, mlpBias: true, seed: 8},
  'gpt2 f32 (learned positions, gelu_tanh)': {family: 'gpt2', dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 150, maxSeqLen: 32, seed: 5},
  'opt post-norm with project_in/out f32': {family: 'opt', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 64, vocabSize: 120, maxSeqLen: 32, optPreNorm: false, optProjDim: 16, seed: 6},
};

const PROMPT = Array.from({length: 13}, (_, i) => (i * 37 + 5) % 100);
const CHUNK = 5;

function dirOf(name: string, spec: SyntheticSpec): string {
  const dir = path.join(tmp, name.replace(/[^a-z0-9]+/gi, '-'));
  if (!fs.existsSync(dir)) writeSyntheticCheckpoint(dir, spec);
  return dir;
}

async function logitsOf(s: Session, h: Vec): Promise<Float32Array> {
  const out = s.backend.createVector(s.model.weights.lmHead.rows);
  s.backend.matvec(s.model.weights.lmHead, h, out);
  return s.backend.read(out);
}

async function kvOf(s: Session, cache: KvCache, n: number): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let l = 0; l < s.config.nLayers; l++) {
    const {keys, values} = await s.backend.readKvCache(cache, l, n);
    out.push(keys, values);
  }
  return out;
}

for (const backend of ['reference', 'cpu', 'tfjs', 'webgpu']) {
  describe.skipIf(backend === 'webgpu' && SKIP_WEBGPU)(`prefill on ${backend}`, () => {
    for (const [name, spec] of Object.entries(SPECS)) {
      it(`${name}: blocks of ${CHUNK} rows equal ${PROMPT.length} single steps (logits, KV cache, greedy continuation)`, async () => {
        const dir = dirOf(name, spec);
        const s = await Session.open(dir, {backend, tokenizer: 'none', prefillChunk: CHUNK});
        try {
          const block = s.model.createCache(PROMPT.length);
          const hBlock = await logitsOf(s, await s.model.prefill(PROMPT, 0, block));
          const steps = s.model.createCache(PROMPT.length);
          let h: Vec | null = null;
          for (let p = 0; p < PROMPT.length; p++) h = await s.model.hidden(PROMPT[p]!, p, steps);
          const hSteps = await logitsOf(s, h!);
          expectClose(hBlock, hSteps, 1e-4);
          const [kvBlock, kvSteps] = [await kvOf(s, block, PROMPT.length), await kvOf(s, steps, PROMPT.length)];
          kvBlock.forEach((kv, i) => expectClose(kv, kvSteps[i]!, 1e-4));
          s.model.releaseCache(block);
          s.model.releaseCache(steps);
          // generate() prefills in blocks; the same continuation as a prompt fed one token at a time
          const blockIds = await greedyIds(s, PROMPT, 6);
          const one = await Session.open(dir, {backend, tokenizer: 'none', prefillChunk: 1});
          try {
            expect(blockIds).toEqual(await greedyIds(one, PROMPT, 6));
          } finally {
            one.dispose();
          }
        } finally {
          s.dispose();
        }
      });
    }

    it('a prompt longer than its cache fails before anything runs, and the cache keeps what it held', async () => {
      const [name, spec] = Object.entries(SPECS)[0]!;
      const s = await Session.open(dirOf(name, spec), {backend, tokenizer: 'none', prefillChunk: CHUNK});
      try {
        const cache = s.model.createCache(8);
        await s.backend.read(await s.model.prefill(PROMPT.slice(0, 3), 0, cache));
        const before = await kvOf(s, cache, 8);
        await expect(s.model.prefill(PROMPT.slice(0, 6), 3, cache)).rejects.toThrow(/a prompt of 6 tokens at position 3 does not fit a KV cache of 8 positions/);
        expect(await kvOf(s, cache, 8)).toEqual(before);
      } finally {
        s.dispose();
      }
    });
  });
}

describe('f16 KV cache (cpu)', () => {
  it('halves nothing but the cache: logits stay within 1e-2 of the f32 cache, greedy tokens equal', async () => {
    const [name, spec] = Object.entries(SPECS)[0]!;
    const dir = dirOf(name, spec);
    const f32 = await Session.open(dir, {backend: 'cpu', tokenizer: 'none'});
    const f16 = await Session.open(dir, {backend: 'cpu', tokenizer: 'none', kvDtype: 'f16'});
    try {
      expect(f16.backend.supports('kvF16')).toBe(true);
      const [c32, c16] = [f32.model.createCache(PROMPT.length), f16.model.createCache(PROMPT.length)];
      const [a, b] = [await logitsOf(f32, await f32.model.prefill(PROMPT, 0, c32)), await logitsOf(f16, await f16.model.prefill(PROMPT, 0, c16))];
      expectClose(b, a, 1e-2);
      // the stored keys are the f32 keys rounded to halves
      const [k32, k16] = [(await f32.backend.readKvCache(c32, 1, PROMPT.length)).keys, (await f16.backend.readKvCache(c16, 1, PROMPT.length)).keys];
      expectClose(k16, k32, 2e-3);
      expect(await greedyIds(f16, PROMPT, 6)).toEqual(await greedyIds(f32, PROMPT, 6));
    } finally {
      f32.dispose();
      f16.dispose();
    }
  });

  it('is refused where the backend keeps f32 caches, naming the option', async () => {
    const [name, spec] = Object.entries(SPECS)[0]!;
    await expect(Session.open(dirOf(name, spec), {backend: 'reference', tokenizer: 'none', kvDtype: 'f16'})).rejects.toThrow(/kvDtype f16 is not available on the reference backend/);
  });
});

describe('a step that asks for some rows only (outputs)', () => {
  for (const backend of ['reference', 'cpu']) {
    it(`${backend}: the rows asked for equal the full run's, every row's keys and values are stored, bad indices are refused`, async () => {
      const [name, spec] = Object.entries(SPECS)[0]!;
      const s = await Session.open(dirOf(name, spec), {backend, tokenizer: 'none'});
      try {
        const n = 9;
        const tokens = PROMPT.slice(0, n);
        const positions = tokens.map((_, i) => i);
        const run = async (outputs?: number[]) => {
          const cache = s.model.createCache(n);
          const hs = await s.model.run({tokens, positions, caches: tokens.map(() => cache), outputs});
          const states = await Promise.all(hs.map((h) => s.backend.read(h).then((v) => Float32Array.from(v))));
          const kv = await kvOf(s, cache, n);
          s.model.releaseCache(cache);
          return {states, kv};
        };
        const all = await run();
        const some = await run([2, 8]);
        expect(some.states).toHaveLength(2);
        expectClose(some.states[0]!, all.states[2]!, 1e-5);
        expectClose(some.states[1]!, all.states[8]!, 1e-5);
        expect(some.kv).toEqual(all.kv);
        const none = await run([]);
        expect(none.states).toHaveLength(0);
        expect(none.kv).toEqual(all.kv);
        const cache = s.model.createCache(n);
        await expect(s.model.run({tokens, positions, caches: tokens.map(() => cache), outputs: [3, 3]})).rejects.toThrow(/outputs must be ascending row indices below 9/);
        await expect(s.model.run({tokens, positions, caches: tokens.map(() => cache), outputs: [9]})).rejects.toThrow(/below 9/);
      } finally {
        s.dispose();
      }
    });
  }
});
