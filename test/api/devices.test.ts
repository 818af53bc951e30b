/**
 * A device group is a load option of the same loadModel: generate() and generateBatch() run on it
 * through the one Decoder interface, and greedy decoding gives the single-device tokens.
 */
import {describe, expect, it} from 'vitest';
import {demo, generate, generateBatch, loadModel} from '../../src/index.js';

const GREEDY = {temperature: 0, maxTokens: 12, stopOnEos: false};

describe('loadModel(dir, {devices})', () => {
  it('decodes the single-device greedy tokens on 2 devices with the exact merge; DaT runs and reports the group', async () => {
    const one = await loadModel(demo.bundle, {backend: 'cpu', threads: 1, ffn: 'off'});
    let want: number[];
    try {
      want = (await generate(one, 'ROMEO:', GREEDY).complete()).tokenIds;
    } finally {
      one.dispose();
    }
    for (const merge of ['exact', 'dat'] as const) {
      const group = await loadModel(demo.bundle, {devices: 2, merge, ffn: 'off'});
      try {
        const r = await generate(group, 'ROMEO:', GREEDY).complete();
        // DaT also takes the top-k FFN per device (an approximation), so only exact must match
        if (merge === 'exact') expect(r.tokenIds).toEqual(want);
        else expect(r.tokenIds).toHaveLength(want.length);
        expect(r.devices).toMatchObject({count: 2, merge});
        expect(r.devices!.traffic.total).toBeGreaterThan(0);
        expect(r.weightBytesPerToken).toBeGreaterThan(0);
        expect(r.output.kind).toBe('hire');
        // a second generation on the same group reuses the devices (a fresh sequence)
        expect((await generate(group, 'ROMEO:', GREEDY).complete()).tokenIds).toEqual(r.tokenIds);
      } finally {
        group.dispose();
      }
    }
  });

  it('refuses a batch and a threads option with one clear UsageError each', async () => {
    await expect(loadModel(demo.bundle, {devices: 2, threads: 2})).rejects.toMatchObject({code: 'E_USAGE', option: 'threads'});
    const group = await loadModel(demo.bundle, {devices: 2});
    try {
      await expect(generateBatch(group, ['ROMEO:', 'JULIET:'], GREEDY)).rejects.toMatchObject({code: 'E_USAGE', message: expect.stringMatching(/at most 1 sequence/)});
    } finally {
      group.dispose();
    }
  });
});
