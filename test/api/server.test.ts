/**
 * The OpenAI-compatible server, spoken to by the official `openai` client on 127.0.0.1:
 * completions and chat, whole and streamed, equal to generate() with the same options (stop
 * strings, log-probs, seeds); concurrent clients get what sequential ones get; and every bad
 * request is a 4xx with an OpenAI error object naming the field.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createServer, demo, generate, loadModel, type GenerateOptions, type HireModel, type HireServer} from '../../src/index.js';
import {llama2xsChat} from '../helpers/chat-model.js';
import {HAVE_SHARED} from '../helpers/shared.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-serve-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

/** The library options a request's fields stand for (OpenAI's defaults: temperature 1, top_p 1, no top-k). */
const lib = (o: GenerateOptions): GenerateOptions => ({temperature: 1, topP: 1, topK: 0, ...o});

describe.runIf(HAVE_SHARED)('OpenAI-compatible server on llama2xs (with a chat template)', () => {
  let model: HireModel;
  let server: HireServer;
  let url: string;
  let client: OpenAI;
  beforeAll(async () => {
    model = await loadModel(llama2xsChat(path.join(tmp, 'llama2xs-chat')), {backend: 'reference'});
    server = createServer(model, {modelId: 'llama2xs', maxBatch: 8});
    url = await server.listen({port: 0});
    client = new OpenAI({baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0});
  });
  afterAll(async () => {
    await server?.close();
    model?.dispose();
  });

  it('listens on loopback and lists its model', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['llama2xs']);
    expect((await client.models.retrieve('llama2xs')).id).toBe('llama2xs');
    const health = await (await fetch(`${url}/health`)).json();
    expect(health).toMatchObject({status: 'ok', model: 'llama2xs'});
  });

  it('a completion equals generate() with the same options (greedy), whole and streamed', async () => {
    const ref = await generate(model, 'Once upon a time', lib({temperature: 0, maxTokens: 24})).complete();
    const r = await client.completions.create({model: 'llama2xs', prompt: 'Once upon a time', max_tokens: 24, temperature: 0});
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]!.text).toBe(ref.text);
    expect(r.choices[0]!.finish_reason).toBe(ref.stats.stopReason === 'eos' ? 'stop' : 'length');
    expect(r.usage).toEqual({prompt_tokens: ref.promptTokenIds.length, completion_tokens: ref.tokenIds.length, total_tokens: ref.promptTokenIds.length + ref.tokenIds.length});
    const stream = await client.completions.create({model: 'llama2xs', prompt: 'Once upon a time', max_tokens: 24, temperature: 0, stream: true, stream_options: {include_usage: true}});
    let text = '';
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe(ref.text);
    expect(finish).toBe(r.choices[0]!.finish_reason);
    expect(usage).toEqual(r.usage);
  });

  it('a chat completion renders the conversation through the template, whole and streamed', async () => {
    const messages = [{role: 'system' as const, content: 'Tell a story.'}, {role: 'user' as const, content: 'Once upon a time'}];
    const ref = await generate(model, messages, lib({temperature: 0, maxTokens: 20})).complete();
    const r = await client.chat.completions.create({model: 'llama2xs', messages, max_tokens: 20, temperature: 0});
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message).toMatchObject({role: 'assistant', content: ref.text});
    expect(r.usage!.prompt_tokens).toBe(model.applyChatTemplate(messages).length);
    const stream = await client.chat.completions.create({model: 'llama2xs', messages, max_tokens: 20, temperature: 0, stream: true});
    const deltas: Array<Record<string, unknown>> = [];
    for await (const c of stream) if (c.choices[0]) deltas.push(c.choices[0].delta as Record<string, unknown>);
    expect(deltas[0]).toEqual({role: 'assistant', content: ''});
    expect(deltas.map((d) => d.content ?? '').join('')).toBe(ref.text);
  });

  it('sampling with a seed is reproducible and equals generate() with that seed', async () => {
    const req = {model: 'llama2xs', prompt: 'The cat', max_tokens: 30, temperature: 0.9, top_p: 0.9, seed: 1234, presence_penalty: 0.5};
    const a = await client.completions.create(req);
    const b = await client.completions.create(req);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    const ref = await generate(model, 'The cat', lib({maxTokens: 30, temperature: 0.9, topP: 0.9, seed: 1234, presencePenalty: 0.5})).complete();
    expect(a.choices[0]!.text).toBe(ref.text);
    const other = await client.completions.create({...req, seed: 99});
    const refOther = await generate(model, 'The cat', lib({maxTokens: 30, temperature: 0.9, topP: 0.9, seed: 99, presencePenalty: 0.5})).complete();
    expect(other.choices[0]!.text).toBe(refOther.text);
  });

  it('stop strings end the text before them, whole and streamed (finish_reason stop)', async () => {
    const free = await generate(model, 'Once upon a time', lib({temperature: 0, maxTokens: 40})).complete();
    const word = free.text.trim().split(/\s+/)[3]!; // a word some way into the reply
    const ref = await generate(model, 'Once upon a time', lib({temperature: 0, maxTokens: 40, stop: [word, 'zzz-never']})).complete();
    expect(ref.stats.stopReason).toBe('stop');
    const r = await client.completions.create({model: 'llama2xs', prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: [word, 'zzz-never']});
    expect(r.choices[0]!.text).toBe(ref.text);
    expect(r.choices[0]!.text).not.toContain(word);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    const stream = await client.completions.create({model: 'llama2xs', prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: word, stream: true});
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe(ref.text);
  });

  it('log-probs: completions (parallel lists) and chat (per token), as generate() computes them', async () => {
    const ref = await generate(model, 'Once upon a time', lib({temperature: 0, maxTokens: 8, logprobs: 3})).complete();
    const r = await client.completions.create({model: 'llama2xs', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, logprobs: 3});
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens!.length).toBe(ref.tokenIds.length);
    lp.token_logprobs!.forEach((v, i) => expect(v).toBeCloseTo(ref.logprobs![i]!.logprob!, 4));
    lp.top_logprobs!.forEach((top, i) => expect(Object.keys(top!).length).toBe(ref.logprobs![i]!.top.length));
    expect(lp.text_offset![0]).toBe(0);
    const messages = [{role: 'user' as const, content: 'Once upon a time'}];
    const refChat = await generate(model, messages, lib({temperature: 0, maxTokens: 6, logprobs: 2})).complete();
    const c = await client.chat.completions.create({model: 'llama2xs', messages, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2});
    const content = c.choices[0]!.logprobs!.content!;
    expect(content.length).toBe(refChat.tokenIds.length);
    content.forEach((t, i) => {
      expect(t.logprob).toBeCloseTo(refChat.logprobs![i]!.logprob!, 4);
      expect(t.top_logprobs.map((a) => a.logprob)).toEqual(refChat.logprobs![i]!.top.map((a) => expect.closeTo(a.logprob, 4)));
      expect(t.bytes).toEqual([...Buffer.from(t.token)]);
    });
    const none = await client.chat.completions.create({model: 'llama2xs', messages, max_tokens: 2, temperature: 0});
    expect(none.choices[0]!.logprobs).toBeNull();
  });

  it('concurrent clients get exactly what sequential ones get', async () => {
    const reqs = Array.from({length: 8}, (_, i) => ({prompt: ['Once upon a time', 'The dog', 'A little girl', 'Tom'][i % 4]!, max_tokens: 12 + 3 * i, temperature: i % 3 === 0 ? 0 : 0.8, seed: 500 + i}));
    const sequential: string[] = [];
    for (const q of reqs) sequential.push((await generate(model, q.prompt, lib({maxTokens: q.max_tokens, temperature: q.temperature, seed: q.seed})).complete()).text);
    const counter = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text())![1]);
    const [steps0, tokens0] = [await counter('hire_decode_steps_total'), await counter('hire_generated_tokens_total')];
    const concurrent = await Promise.all(
      reqs.map(async (q, i) => {
        if (i % 2 === 0) return (await client.completions.create({model: 'llama2xs', ...q})).choices[0]!.text;
        let text = '';
        for await (const c of await client.completions.create({model: 'llama2xs', ...q, stream: true})) text += c.choices[0]?.text ?? '';
        return text;
      }),
    );
    expect(concurrent).toEqual(sequential);
    // decoded together: far fewer steps than tokens
    const [steps, tokens] = [(await counter('hire_decode_steps_total')) - steps0, (await counter('hire_generated_tokens_total')) - tokens0];
    expect(steps).toBeLessThan(tokens * 0.6);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^# TYPE hire_requests_total counter$/m);
    expect(metrics).toMatch(/^hire_requests_total\{route="\/v1\/completions",status="200"\} \d+$/m);
    expect(metrics).toMatch(/^hire_weight_bytes_per_token \d/m);
  });

  it('bad requests get a 4xx with an OpenAI error object naming the field, never a stack trace', async () => {
    const post = async (route: string, body: string, headers: Record<string, string> = {'content-type': 'application/json'}) => {
      const res = await fetch(`${url}/v1/${route}`, {method: 'POST', headers, body});
      const text = await res.text();
      expect(text).not.toMatch(/\n\s+at /);
      return {status: res.status, error: (JSON.parse(text) as {error: {message: string; type: string; param: string | null; code: string | null}}).error};
    };
    const bad = await post('completions', '{"model": "llama2xs", "prompt": ');
    expect(bad.status).toBe(400);
    expect(bad.error.type).toBe('invalid_request_error');
    expect(bad.error.message).toMatch(/JSON/);
    const cases: Array<[Record<string, unknown>, number, string | null, RegExp]> = [
      [{prompt: 'x', temperature: 'hot'}, 400, 'temperature', /temperature must be a number, got a string/],
      [{prompt: 'x', max_tokens: 1e9}, 400, 'max_tokens', /max_tokens must be from 1 to 255/],
      [{prompt: 'x', max_tokens: 2.5}, 400, 'max_tokens', /integer/],
      [{prompt: 'x', top_p: 3}, 400, 'top_p', /top_p/],
      [{prompt: 'x', n: 2}, 400, 'n', /n must be 1/],
      [{prompt: 'x', stop: [1]}, 400, 'stop', /stop must be/],
      [{prompt: 'x', seed: 'a'}, 400, 'seed', /seed must be a number/],
      [{prompt: 'x', logprobs: 50}, 400, 'logprobs', /logprobs must be from 0 to 20/],
      [{prompt: {a: 1}}, 400, 'prompt', /prompt must be a string or an array of token ids, got an object/],
      [{prompt: [1, 99999]}, 400, 'prompt', /outside the vocabulary/],
      [{}, 400, 'prompt', /prompt is required/],
      [{prompt: 'x', model: 'gpt-4'}, 404, 'model', /the model 'gpt-4' does not exist: this server serves 'llama2xs'/],
      [{prompt: 'x', model: 7}, 400, 'model', /model must be a string/],
    ];
    for (const [fields, status, param, message] of cases) {
      const r = await post('completions', JSON.stringify({model: 'llama2xs', ...fields}));
      expect({status: r.status, param: r.error.param}).toEqual({status, param});
      expect(r.error.message).toMatch(message);
    }
    const chat = await post('chat/completions', JSON.stringify({model: 'llama2xs', messages: [{role: 'wizard', content: 'hi'}]}));
    expect([chat.status, chat.error.param]).toEqual([400, 'messages[0].role']);
    const noTop = await post('chat/completions', JSON.stringify({model: 'llama2xs', messages: [{role: 'user', content: 'hi'}], top_logprobs: 2}));
    expect([noTop.status, noTop.error.param]).toEqual([400, 'top_logprobs']);
    expect((await post('completions', 'x', {'content-type': 'text/plain'})).status).toBe(415);
    expect((await post('completions', JSON.stringify({model: 'llama2xs', prompt: 'x'.repeat(2 << 20)}))).status).toBe(413);
    expect((await post('nothing-here', '{}')).status).toBe(404);
    // the client raises the matching error classes
    await expect(client.completions.create({model: 'nope', prompt: 'x'})).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.completions.create({model: 'llama2xs', prompt: 'x', max_tokens: 100000})).rejects.toMatchObject({status: 400, param: 'max_tokens'});
  });
});

describe('HiRE request fields, on the demo bundle', () => {
  let model: HireModel;
  let server: HireServer;
  let client: OpenAI;
  beforeAll(async () => {
    model = await loadModel(demo.bundle, {backend: 'reference'});
    server = createServer(model, {modelId: 'demo'});
    client = new OpenAI({baseURL: `${await server.listen({port: 0})}/v1`, apiKey: 'unused', maxRetries: 0});
  });
  afterAll(async () => {
    await server?.close();
    model?.dispose();
  });

  const text = async (extra: Record<string, unknown>) => (await client.completions.create({model: 'demo', prompt: 'ROMEO:', max_tokens: 12, temperature: 0, ...extra} as never)).choices[0]!.text;
  const alone = async (o: GenerateOptions) => (await generate(model, 'ROMEO:', lib({maxTokens: 12, temperature: 0, ...o})).complete()).text;

  it('dense, k_prime, recall and certify act as the library options do', async () => {
    expect(await text({dense: true})).toBe(await alone({dense: true}));
    expect(await text({k_prime: 40})).toBe(await alone({kPrime: 40}));
    expect(await text({recall: 0.999})).toBe(await alone({recall: 0.999}));
    expect(await text({certify: true})).toBe(await alone({dense: true})); // certified greedy is dense greedy
    await expect(text({recall: 2})).rejects.toMatchObject({status: 400, param: 'recall'});
    await expect(text({certify: true, temperature: 0.8})).rejects.toMatchObject({status: 400, param: 'certify'});
  });
});
