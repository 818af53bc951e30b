/**
 * The real checkpoint in ../shared/models/llama2xs: greedy decoding reproduces the independent
 * reference's tokens exactly, and the first step's top-10 logits agree within 1e-4.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Session} from '../../../src/core/engine/session.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../../helpers/shared.js';
import {greedyIds} from '../../helpers/greedy.js';

describe.runIf(HAVE_SHARED)('llama2xs reference (reference backend)', () => {
  let session: Session;
  beforeAll(async () => {
    session = await Session.open(LLAMA2XS_DIR, {backend: 'reference'});
  });
  afterAll(() => session?.dispose());

  it('tokenizes the reference prompt to the reference ids', () => {
    const ref = readLlama2xsReference();
    expect(session.tokenizer!.encode(ref.prompt)).toEqual(ref.prompt_token_ids);
  });

  it('matches the first-step top-10 logits within 1e-4', async () => {
    const ref = readLlama2xsReference();
    const cache = session.model.createCache();
    const ids = ref.prompt_token_ids;
    let logits: Float32Array = new Float32Array();
    for (let pos = 0; pos < ids.length; pos++) {
      logits = await session.backend.read(await session.model.forward(ids[pos]!, pos, cache));
    }
    for (const [id, value] of ref.first_step_top10_logits) {
      expect(Math.abs(logits[id]! - value)).toBeLessThan(1e-4);
    }
    // And they are the ten largest, in order.
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
    expect(order.slice(0, 10)).toEqual(ref.first_step_top10_logits.map(([id]) => id));
  });

  it('reproduces the 64 reference greedy tokens exactly', async () => {
    const ref = readLlama2xsReference();
    const prompt = ref.prompt_token_ids;
    const expected = ref.greedy_token_ids.slice(prompt.length, prompt.length + 64);
    expect(await greedyIds(session, prompt, 64)).toEqual(expected);
  });
});
