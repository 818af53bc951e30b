/**
 * Abort and dispose: an aborted generation stops within one token (at once while a hung cpu
 * worker holds its step) and releases the model for the next one; a disposed model has
 * terminated its cpu worker threads and refuses further calls with DisposedError.
 */
import fs from 'node:fs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {AbortError, demo, DisposedError, generate, generateBatch, loadModel, type HireModel, type TokenChunk} from '../../src/index.js';
import {modelInternals} from '../../src/api/model.js';
import type {CpuBackend} from '../../src/core/backends/cpu/cpu-backend.js';
import type {Session} from '../../src/core/engine/session.js';

/** Threads of this process (Linux); null elsewhere. */
function threadCount(): number | null {
  try {
    return fs.readdirSync('/proc/self/task').length;
  } catch {
    return null;
  }
}

/** Waits until the thread count has not changed for 300 ms (workers of earlier tests have exited). */
async function settledThreadCount(): Promise<number | null> {
  let last = threadCount();
  let since = Date.now();
  const end = Date.now() + 5000;
  while (last !== null && Date.now() - since < 300 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    const now = threadCount();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
  return last;
}

/** Polls check until it holds (true) or `ms` passed (false): generous, it returns as soon as check holds. */
async function until(check: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('abort', () => {
  let model: HireModel;
  beforeAll(async () => {
    model = await loadModel(demo.bundle, {threads: 2});
  });
  afterAll(() => model.dispose());

  it('stops within one token of abort() called between tokens, with AbortError', async () => {
    const controller = new AbortController();
    const gen = generate(model, 'ROMEO:', {maxTokens: 100, stopOnEos: false, signal: controller.signal});
    const seen: TokenChunk[] = [];
    const error = await (async () => {
      try {
        for await (const chunk of gen) {
          seen.push(chunk);
          if (seen.length === 5) controller.abort(new Error('user pressed stop'));
        }
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).code).toBe('E_ABORTED');
    expect((error as AbortError).name).toBe('AbortError');
    expect(((error as AbortError).cause as Error).message).toBe('user pressed stop');
    expect(seen).toHaveLength(5);
    expect(gen.result).toBeNull();
    expect(gen.text).toBe(seen.map((c) => c.text).join(''));
  });

  it('stops within one token of an abort from a timer (the event loop turns between tokens)', async () => {
    const controller = new AbortController();
    const gen = generate(model, 'ROMEO:', {maxTokens: 120, stopOnEos: false, signal: controller.signal});
    let seen = 0;
    let seenAtAbort = -1;
    setTimeout(() => {
      seenAtAbort = seen;
      controller.abort();
    }, 30);
    let caught: unknown;
    try {
      for await (const chunk of gen) {
        expect(chunk.index).toBe(seen);
        seen++;
      }
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AbortError);
    expect(seenAtAbort).toBeGreaterThanOrEqual(0);
    expect(seen).toBe(seenAtAbort); // not one chunk after the signal fired
    expect(seen).toBeLessThan(120);
  });

  it('hands out no token once the signal has fired, even mid-step', async () => {
    const controller = new AbortController();
    const gen = generate(model, 'ROMEO:', {maxTokens: 100, stopOnEos: false, signal: controller.signal});
    await gen.next();
    const pending = gen.next(); // waiting for its turn on the event loop
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    await expect(gen.next()).rejects.toBeInstanceOf(AbortError);
  });

  it('a hung cpu worker leaves timers and the abort signal running, and the abort ends the waiting step', async () => {
    const hung = await loadModel(demo.bundle, {backend: 'cpu', threads: 2});
    try {
      const kernels = ((modelInternals(hung).decoder() as Session).backend as CpuBackend).kernels;
      const events: string[] = [];
      const signal = AbortSignal.timeout(1000);
      signal.addEventListener('abort', () => events.push('signal 1000 ms'));
      setTimeout(() => events.push('timer 500 ms'), 500);
      kernels.debugFailNextCall('hang'); // the prompt's first kernel call never finishes
      const gen = generate(hung, 'ROMEO:', {maxTokens: 8, signal});
      const error = await gen.next().then(
        () => null,
        (e: unknown) => e,
      );
      events.push((error as {code?: string} | null)?.code ?? 'no error');
      expect(events).toEqual(['timer 500 ms', 'signal 1000 ms', 'E_ABORTED']);
      expect(kernels.queue.busy).toBe(true); // the step ended while its kernel call was still hung
    } finally {
      hung.dispose();
    }
  });

  it('generateBatch: the abort ends a batch step held by a hung cpu worker', async () => {
    const hung = await loadModel(demo.bundle, {backend: 'cpu', threads: 2});
    try {
      const kernels = ((modelInternals(hung).decoder() as Session).backend as CpuBackend).kernels;
      kernels.debugFailNextCall('hang');
      const error = await generateBatch(hung, ['ROMEO:', 'JULIET:'], {maxTokens: 4, signal: AbortSignal.timeout(300)}).catch((e: unknown) => e);
      expect(error).toMatchObject({code: 'E_ABORTED'});
      expect(kernels.queue.busy).toBe(true); // ended while its kernel call was still hung
    } finally {
      hung.dispose();
    }
  });

  it('rejects at once when the signal is already aborted', async () => {
    const gen = generate(model, 'ROMEO:', {signal: AbortSignal.abort()});
    await expect(gen.complete()).rejects.toMatchObject({code: 'E_ABORTED'});
  });

  it('frees the model for the next generation, which decodes as if the aborted one never ran', async () => {
    const fresh = await generate(model, 'KING:', {maxTokens: 16, seed: 3}).complete();
    const controller = new AbortController();
    const gen = generate(model, 'ROMEO:', {maxTokens: 50, signal: controller.signal});
    await gen.next();
    controller.abort();
    const after = await generate(model, 'KING:', {maxTokens: 16, seed: 3}).complete();
    expect(after.tokenIds).toEqual(fresh.tokenIds);
    await expect(gen.next()).rejects.toBeInstanceOf(AbortError);
  });

  it('dispose() while a step waits for its turn ends the generation quietly', async () => {
    const gen = generate(model, 'ROMEO:', {maxTokens: 50});
    const pending = gen.next();
    gen.dispose();
    expect(await pending).toEqual({done: true, value: undefined});
    expect(gen.result).toBeNull();
  });

  it('break and dispose() end a generation quietly', async () => {
    const gen = generate(model, 'ROMEO:', {maxTokens: 50});
    for await (const _ of gen) break;
    expect(await gen.next()).toEqual({done: true, value: undefined});
    const other = generate(model, 'ROMEO:', {maxTokens: 50});
    await other.next();
    await other[Symbol.asyncDispose]();
    expect((await other.next()).done).toBe(true);
    await expect(other.complete()).rejects.toMatchObject({code: 'E_USAGE'});
  });
});

describe('dispose', () => {
  it('terminates the cpu worker threads and refuses further use with DisposedError', async () => {
    const before = await settledThreadCount();
    const model = await loadModel(demo.bundle, {backend: 'cpu', threads: 2});
    if (before !== null) expect(threadCount()!).toBeGreaterThan(before);
    const gen = generate(model, 'ROMEO:', {maxTokens: 50});
    await gen.next();
    model.dispose();
    expect(model.disposed).toBe(true);
    await expect(gen.next()).rejects.toBeInstanceOf(DisposedError);
    expect(() => generate(model, 'ROMEO:')).toThrow(DisposedError);
    expect(() => model.encode('x')).toThrow(/used after dispose/);
    if (before !== null) expect(await until(() => threadCount()! <= before)).toBe(true);
    model.dispose(); // idempotent
  });

  it('supports Symbol.asyncDispose (await using); a pending step then rejects with DisposedError', async () => {
    const model = await loadModel(demo.bundle, {threads: 2});
    const gen = generate(model, 'ROMEO:', {maxTokens: 50});
    const step = gen.next();
    await model[Symbol.asyncDispose]();
    expect(model.disposed).toBe(true);
    await expect(step).rejects.toMatchObject({code: 'E_DISPOSED'});
  });
});
