/**
 * generate()'s stop strings, penalties and min-p, checked against what they promise: the text cut
 * before the stop string (never streamed), greedy choices replayed from the dense logits with the
 * penalties applied by hand, min-p 1 as greedy; batched generation says what it does not support.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {demo, generate, generateBatch, loadModel, type HireModel} from '../../src/index.js';
import {logitsOver} from '../helpers/logits.js';

describe('stop strings, penalties and min-p (demo model)', () => {
  let model: HireModel;
  beforeAll(async () => {
    model = await loadModel(demo.model, {backend: 'reference'});
  });
  afterAll(() => model.dispose());

  it('stops where the text first contains a stop string, which is never streamed', async () => {
    const base = await generate(model, 'ROMEO:', {temperature: 0, maxTokens: 40, stopOnEos: false}).complete();
    const at = base.text.indexOf(' ', 8); // a stop string made of the text's own words, starting past its first few characters
    const stop = base.text.slice(at, at + 4);
    const gen = generate(model, 'ROMEO:', {temperature: 0, maxTokens: 40, stopOnEos: false, stop: ['NEVER', stop]});
    let streamed = '';
    for await (const chunk of gen) streamed += chunk.text;
    const r = gen.result!;
    expect(r.stats.stopReason).toBe('stop');
    expect(r.text).toBe(base.text.slice(0, base.text.indexOf(stop)));
    expect(streamed).toBe(r.text);
    expect(r.tokenIds).toEqual(base.tokenIds.slice(0, r.tokenIds.length));
    expect(r.tokenIds.length).toBeLessThan(base.tokenIds.length);
    expect(model.decode([...r.promptTokenIds, ...r.tokenIds])).toContain(stop); // the tokens that made it are kept
  });

  it('greedy choices with penalties are the argmax of the dense logits penalised by hand', async () => {
    const p = {repetitionPenalty: 1.4, presencePenalty: 0.3, frequencyPenalty: 0.2};
    const r = await generate(model, 'ROMEO:', {temperature: 0, maxTokens: 40, stopOnEos: false, ...p}).complete();
    const plain = await generate(model, 'ROMEO:', {temperature: 0, maxTokens: 40, stopOnEos: false}).complete();
    expect(new Set(plain.tokenIds).size).toBeLessThan(plain.tokenIds.length); // unpenalised, it repeats itself
    expect(r.tokenIds).not.toEqual(plain.tokenIds);
    const seq = [...r.promptTokenIds, ...r.tokenIds];
    const logits = await logitsOver(demo.model, 'reference', seq);
    r.tokenIds.forEach((id, i) => {
      const at = r.promptTokenIds.length + i; // seq[at] was chosen from the logits after seq[at - 1]
      const counts = new Map<number, number>();
      for (const t of seq.slice(0, at)) counts.set(t, (counts.get(t) ?? 0) + 1);
      const z = Array.from(logits[at - 1]!, (v, t) => {
        const c = counts.get(t) ?? 0;
        if (c === 0) return v;
        return (v > 0 ? v / p.repetitionPenalty : v * p.repetitionPenalty) - p.presencePenalty - p.frequencyPenalty * c;
      });
      expect(id).toBe(z.indexOf(Math.max(...z)));
    });
  });

  it('min-p 1 keeps only the most likely token: sampling becomes greedy', async () => {
    const greedy = await generate(model, 'ROMEO:', {temperature: 0, maxTokens: 16, stopOnEos: false}).complete();
    const minP = await generate(model, 'ROMEO:', {temperature: 1.5, topK: 0, topP: 1, minP: 1, maxTokens: 16, stopOnEos: false, seed: 9}).complete();
    expect(minP.tokenIds).toEqual(greedy.tokenIds);
  });

  it('batched generation rejects what it does not support yet, by option name', async () => {
    await expect(generateBatch(model, ['a', 'b'], {stop: ['x']})).rejects.toMatchObject({option: 'stop'});
    await expect(generateBatch(model, ['a', 'b'], {logprobs: 2})).rejects.toMatchObject({option: 'logprobs'});
    await expect(generateBatch(model, ['a', 'b'], {frequencyPenalty: 0.5})).rejects.toMatchObject({option: 'frequencyPenalty'});
    const r = await generateBatch(model, ['a', 'b'], {maxTokens: 3, minP: 0.1});
    expect(r.sequences.map((s) => s.logprobs)).toEqual([null, null]);
  });
});
