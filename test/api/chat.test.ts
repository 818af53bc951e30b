/**
 * Conversations from code: generate() takes messages and a system message through the chat
 * template (a messages array used to fail as "token id [object Object]"), and a ChatSession keeps
 * the conversation in the KV cache: each turn prefills only what the cache lacks, and replies
 * exactly as a fresh generation over the whole conversation would.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ChatSession, demo, generate, loadModel, score, type HireModel} from '../../src/index.js';
import {llama2xsChat} from '../helpers/chat-model.js';
import {HAVE_SHARED} from '../helpers/shared.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-chat-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const GREEDY = {temperature: 0, maxTokens: 12};

describe.runIf(HAVE_SHARED)('chat on llama2xs with a chat template', () => {
  let model: HireModel;
  beforeAll(async () => {
    model = await loadModel(llama2xsChat(path.join(tmp, 'llama2xs-chat')), {backend: 'reference'});
  });
  afterAll(() => model.dispose());

  it('generate() takes messages and a system message through the template', async () => {
    const messages = [{role: 'user', content: 'Once upon a time'}];
    const ids = model.applyChatTemplate(messages);
    expect(ids[0]).toBe(1);
    const fromMessages = await generate(model, messages, GREEDY).complete();
    const fromIds = await generate(model, ids, GREEDY).complete();
    expect(fromMessages.promptTokenIds).toEqual(ids);
    expect(fromMessages.tokenIds).toEqual(fromIds.tokenIds);
    const withSystem = await generate(model, 'Once upon a time', {...GREEDY, system: 'Tell a story.'}).complete();
    expect(withSystem.promptTokenIds).toEqual(model.applyChatTemplate([{role: 'system', content: 'Tell a story.'}, ...messages]));
    expect((await generate(model, 'Once upon a time', {...GREEDY, chat: true}).complete()).promptTokenIds).toEqual(ids);
    expect(() => generate(model, [1, 2, 3], {system: 'x'})).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'system'}));
    expect(() => generate(model, [{role: 'user'}] as never)).toThrow(expect.objectContaining({code: 'E_USAGE', message: 'prompt[0] must be an object {role: string, content: string}'}));
  });

  it('a second turn prefills only what the KV cache lacks and replies as a fresh generation over the conversation would', async () => {
    const chat = new ChatSession(model, {system: 'Be brief.', ...GREEDY});
    const first = await chat.send('Once upon a time').complete();
    expect(first.stats.promptTokens).toBe(first.promptTokenIds.length);
    const held = chat.cachedTokens;
    expect(held).toBe(first.promptTokenIds.length + first.tokenIds.length - (first.stats.stopReason === 'eos' ? 0 : 1));
    const second = await chat.send('What happened next?', {seed: 42}).complete();
    const conversation = [
      {role: 'system', content: 'Be brief.'},
      {role: 'user', content: 'Once upon a time'},
      {role: 'assistant', content: first.text},
      {role: 'user', content: 'What happened next?'},
    ];
    expect(chat.messages.slice(0, 4)).toEqual(conversation.map((m, i) => (i === 2 ? {...m} : m)));
    const ids = model.applyChatTemplate(conversation);
    expect(second.promptTokenIds).toEqual(ids);
    // what the cache held and the new conversation share was kept; only the rest ran
    const cached = [...first.promptTokenIds, ...first.tokenIds].slice(0, held);
    let common = 0;
    while (common < cached.length && cached[common] === ids[common]) common++;
    expect(common).toBeGreaterThanOrEqual(first.promptTokenIds.length);
    expect(second.stats.promptTokens).toBe(ids.length - common);
    const fresh = await generate(model, ids, {...GREEDY, seed: 43}).complete();
    expect(second.tokenIds).toEqual(fresh.tokenIds);
    expect(second.text).toBe(fresh.text);
  });

  it('sampled turns with penalties and stop strings give what a fresh generation gives (seed + turn)', async () => {
    const opts = {temperature: 0.9, maxTokens: 16, repetitionPenalty: 1.3, minP: 0.05, seed: 7, stop: ['.']};
    const chat = new ChatSession(model, opts);
    const a = await chat.send('Tell me about a dog').complete();
    const b = await chat.send('And a cat?').complete();
    const ids = model.applyChatTemplate([{role: 'user', content: 'Tell me about a dog'}, {role: 'assistant', content: a.text}, {role: 'user', content: 'And a cat?'}]);
    const fresh = await generate(model, ids, {...opts, seed: 8}).complete();
    expect(b.tokenIds).toEqual(fresh.tokenIds);
    expect(b.text).toBe(fresh.text);
    for (const r of [a, b]) expect(r.text).not.toContain('.');
  });

  it('reset and setSystem start over; an aborted reply joins the conversation as far as it got', async () => {
    const chat = new ChatSession(model, GREEDY);
    const controller = new AbortController();
    const gen = chat.send('Once upon a time', {signal: controller.signal, maxTokens: 50});
    let n = 0;
    await expect(
      (async () => {
        for await (const _ of gen) if (++n === 3) controller.abort();
      })(),
    ).rejects.toMatchObject({code: 'E_ABORTED'});
    expect(chat.messages).toEqual([{role: 'user', content: 'Once upon a time'}, {role: 'assistant', content: gen.text}]);
    expect(gen.tokenIds).toHaveLength(3);
    const next = await chat.send('Go on').complete();
    expect(next.promptTokenIds).toEqual(model.applyChatTemplate([...chat.messages.slice(0, 3)]));
    chat.reset();
    expect(chat.messages).toEqual([]);
    const again = await chat.send('Once upon a time').complete();
    expect(again.stats.promptTokens).toBe(1); // the whole first turn is still in the cache (the last token runs again for its logits)
    chat.setSystem('Speak in rhymes.');
    expect(chat.messages).toEqual([{role: 'system', content: 'Speak in rhymes.'}]);
  });

  it('one reply at a time; a conversation past the context is a clear error', async () => {
    const chat = new ChatSession(model, GREEDY);
    const gen = chat.send('Hello');
    expect(() => chat.send('Again')).toThrow(expect.objectContaining({code: 'E_USAGE', message: expect.stringContaining('still being generated')}));
    gen.dispose();
    expect(() => chat.send('word '.repeat(300))).toThrow(expect.objectContaining({code: 'E_USAGE', message: expect.stringMatching(/^the conversation has \d+ tokens with this message; this model's context is 256: start over with reset\(\)$/)}));
  });
});

describe.runIf(HAVE_SHARED)('chat and score on a device group (the sequence rewound on the devices)', () => {
  it('gives what a fresh generation and single-device scoring give', async () => {
    const dir = llama2xsChat(path.join(tmp, 'llama2xs-chat-devices'));
    const opts = {temperature: 0.9, maxTokens: 12, repetitionPenalty: 1.3, seed: 7};
    const group = await loadModel(dir, {devices: 2, backend: 'reference'});
    let turns: string[];
    let scored: (number | null)[];
    try {
      const chat = new ChatSession(group, opts);
      const a = await chat.send('Tell me about a dog').complete();
      const b = await chat.send('And a cat?').complete();
      turns = [a.text, b.text];
      const ids = group.applyChatTemplate([{role: 'user', content: 'Tell me about a dog'}, {role: 'assistant', content: a.text}, {role: 'user', content: 'And a cat?'}]);
      expect(b.stats.promptTokens).toBeLessThan(ids.length);
      expect((await generate(group, ids, {...opts, seed: 8}).complete()).tokenIds).toEqual(b.tokenIds);
      scored = (await score(group, 'Once upon a time there was a dog')).tokens.map((t) => t.logprob);
    } finally {
      group.dispose();
    }
    const one = await loadModel(dir, {backend: 'reference'});
    try {
      const chat = new ChatSession(one, opts);
      expect([(await chat.send('Tell me about a dog').complete()).text, (await chat.send('And a cat?').complete()).text]).toEqual(turns);
      const single = (await score(one, 'Once upon a time there was a dog')).tokens.map((t) => t.logprob);
      single.forEach((v, i) => (v === null ? expect(scored[i]).toBeNull() : expect(scored[i]).toBeCloseTo(v, 4)));
    } finally {
      one.dispose();
    }
  });
});

describe('chat on a model without a chat template', () => {
  it('fails when the chat starts, naming tokenizer_config.json', async () => {
    const model = await loadModel(demo.model, {threads: 1});
    try {
      expect(model.hasChatTemplate).toBe(false);
      expect(() => new ChatSession(model)).toThrow(expect.objectContaining({code: 'E_TOKENIZER', message: expect.stringContaining('tokenizer_config.json: has no chat_template')}));
      expect(() => generate(model, [{role: 'user', content: 'hi'}])).toThrow(expect.objectContaining({code: 'E_TOKENIZER'}));
      expect(() => generate(model, 'hi', {system: 'x'})).toThrow(expect.objectContaining({code: 'E_TOKENIZER'}));
    } finally {
      model.dispose();
    }
  });
});
