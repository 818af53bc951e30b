/**
 * The server under pressure, on a random model slow enough per token that requests overlap: a
 * full queue answers 429 with Retry-After, a request past its time 504 (or, streaming, a last
 * error event), a client that goes away frees its place at the next step, a wrong API key 401,
 * and close() finishes or cancels what is running, answering 503 meanwhile.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createServer, loadModel, type HireModel, type HireServer, type ServerOptions} from '../../src/index.js';
import {slowChatModel} from '../helpers/chat-model.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-serve-rb-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const MODEL = 'slow';
/** A request that runs until it is stopped (thousands of tokens at several ms each). */
const LONG = {model: MODEL, prompt: 'hi', max_tokens: 5000, ignore_eos: true, temperature: 0} as const;

/** Polls until `ok` (at most `tries` times, 20 ms apart). */
async function until(ok: () => Promise<boolean>, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached');
}

describe('server robustness', () => {
  let model: HireModel;
  const servers: HireServer[] = [];
  const start = async (options: ServerOptions = {}) => {
    const server = createServer(model, {modelId: MODEL, ...options});
    servers.push(server);
    const url = await server.listen({port: 0});
    const health = async () => (await (await fetch(`${url}/health`)).json()) as {status: string; queued: number; active: number};
    return {server, url, health, client: new OpenAI({baseURL: `${url}/v1`, apiKey: options.apiKey ?? 'unused', maxRetries: 0})};
  };
  beforeAll(async () => {
    model = await loadModel(slowChatModel(path.join(tmp, 'slow')), {backend: 'reference'});
  });
  afterAll(async () => {
    for (const s of servers) await s.close(0);
    model?.dispose();
  });

  it('a full queue answers 429 with Retry-After; the queued request still completes', async () => {
    const {server, url, health, client} = await start({maxBatch: 1, maxQueue: 1});
    const running = await client.completions.create({...LONG, stream: true});
    const it1 = running[Symbol.asyncIterator]();
    await it1.next(); // the first request is decoding
    const queued = client.completions.create({model: MODEL, prompt: 'hi', max_tokens: 3, temperature: 0});
    await until(async () => (await health()).queued === 1);
    const res = await fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({model: MODEL, prompt: 'hi'})});
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({error: {type: 'rate_limit_error', code: 'queue_full'}});
    running.controller.abort(); // the long one goes; the queued one gets its place
    expect((await queued).choices[0]!.finish_reason).toBe('length');
    await server.close(0);
  });

  it('a request past its time: 504 whole, a last error event when streaming', async () => {
    const {client, health} = await start({timeoutMs: 1000});
    await expect(client.completions.create(LONG)).rejects.toMatchObject({status: 504, code: 'timeout'});
    const stream = await client.completions.create({...LONG, stream: true});
    let chunks = 0;
    await expect(
      (async () => {
        for await (const _ of stream) chunks++;
      })(),
    ).rejects.toThrow(/longer than 1000 ms/);
    expect(chunks).toBeGreaterThan(0);
    expect((await health()).active).toBe(0);
  });

  it('a client that disconnects frees its place at the next step', async () => {
    const {url, health, client} = await start({maxBatch: 2});
    const stream = await client.chat.completions.create({model: MODEL, messages: [{role: 'user', content: 'hi'}], max_tokens: 5000, ignore_eos: true, stream: true} as never);
    let chunks = 0;
    for await (const _ of stream as unknown as AsyncIterable<unknown>) if (++chunks === 3) break; // break aborts the request
    await until(async () => (await health()).active === 0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^hire_generations_total\{reason="aborted"\} 1$/m);
    expect(metrics).toMatch(/^hire_requests_total\{route="\/v1\/chat\/completions",status="499"\} 1$/m);
  });

  it('bad server options are a UsageError naming the option', () => {
    expect(() => createServer(model, {maxBatch: 0})).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'maxBatch'}));
    expect(() => createServer(model, {timeoutMs: 1.5})).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'timeoutMs'}));
    expect(() => createServer(model, {apiKey: ''})).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'apiKey'}));
    expect(() => createServer(model, {shutdownMs: -1})).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'shutdownMs'}));
  });

  it('with an API key, every route but /health needs the bearer token', async () => {
    const {url, client} = await start({apiKey: 'sesame'});
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const anon = await fetch(`${url}/v1/models`);
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({error: {code: 'invalid_api_key'}});
    await expect(new OpenAI({baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0}).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await client.models.list()).data[0]!.id).toBe(MODEL);
  });

  it('close() answers 503 meanwhile, lets a short request finish and cancels a long one at the deadline', async () => {
    const {server, url, client, health} = await start();
    const long = await client.completions.create({...LONG, stream: true});
    const longIt = long[Symbol.asyncIterator]();
    await longIt.next();
    const short = client.completions.create({model: MODEL, prompt: 'hi', max_tokens: 4, temperature: 0});
    await until(async () => {
      const h = await health();
      return h.active + h.queued === 2; // the short request is in before the close
    });
    const closed = server.close(1500);
    const refused = await fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({model: MODEL, prompt: 'hi'})}).catch(() => null);
    if (refused) {
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).not.toBeNull();
    }
    expect((await short).usage!.completion_tokens).toBe(4);
    await expect(
      (async () => {
        for (;;) if ((await longIt.next()).done) break;
      })(),
    ).rejects.toThrow(/shut down/);
    await closed;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
