/**
 * generate(): decoding as an async iterator of text chunks with per-token statistics.
 *
 *   const gen = generate(model, 'ROMEO:', {maxTokens: 32, signal});
 *   for await (const chunk of gen) process.stdout.write(chunk.text);
 *   console.log(gen.result?.stats.decodeTokensPerSecond);
 *
 * Each chunk is one generated token. The loop is src/core/decode/generate.ts (the CLI's loop);
 * this file adds text streaming, per-token numbers, the model lock, abort and dispose.
 */
import './dispose.js';
import {checkPrompt, generateTokens, type Continuation, type GenerateStats, type TokenEvent} from '../core/decode/generate.js';
import type {DecodeHead} from '../core/decode/decoder.js';
import type {LogprobInfo} from '../core/decode/logprobs.js';
import type {HeadStats} from '../core/decode/output-head.js';
import {StopMatcher} from '../core/decode/stop.js';
import {TextStreamer} from '../core/decode/streamer.js';
import {AbortError, DisposedError, UsageError} from '../core/errors.js';
import {coreOptions, headOptions} from './decode-options.js';
import {modelInternals, type HireModel} from './model.js';
import {resolveGenerateOptions, type GenerateOptions} from './options.js';
import {promptTokenIds, type Prompt} from './prompt.js';
import type {GenerationResult, OutputInfo, TokenLogprobs} from './result.js';

/** One generated token. */
export interface TokenChunk {
  /** The token id. */
  id: number;
  /**
   * Text that became printable with this token: often one token's text, sometimes '' (a partial
   * UTF-8 character) and then several tokens' worth at once.
   */
  text: string;
  /** 0 for the first generated token. */
  index: number;
  /** Position in the sequence, prompt included. */
  pos: number;
  /** Milliseconds this token took: forward pass, output layer and sampling (the first: prefill too). */
  ms: number;
  /** Vocabulary rows whose exact logits were computed for this token (the vocabulary size when dense). */
  candidates: number;
  /** Certified mode: how many times k' doubled for this token (0 otherwise). */
  widenings: number;
  /** With the logprobs option: the token's log-probability and the top alternatives. */
  logprobs?: TokenLogprobs;
}

export type {GenerationResult, OutputInfo, TokenLogprobs} from './result.js';
export type {Prompt, ChatMessage} from './prompt.js';

/** @internal How a chat runs a turn as a Generation: the conversation's ids, its open sequence, and a hook at the end. */
export interface GenerationHooks {
  promptIds: number[];
  continuation: Continuation;
  /** Called once when the generation ends, however it ends. */
  onEnd(g: Generation): void;
}

/**
 * A running generation: iterate it for TokenChunks. Created by generate(); one pass only.
 * Breaking out of `for await`, dispose(), an abort, or the model's dispose() end it and release
 * its KV cache. After an abort the iterator throws AbortError (code E_ABORTED); after the model
 * was disposed, DisposedError (E_DISPOSED).
 */
export class Generation implements AsyncIterableIterator<TokenChunk> {
  /** The prompt as token ids. */
  readonly promptTokenIds: number[];
  /** The output layer this generation decodes with (chosen when generate() was called). */
  readonly output: Pick<OutputInfo, 'kind' | 'describe'> & {bytesPerToken: number};
  #result: GenerationResult | null = null;
  #iterator: AsyncGenerator<TokenEvent, GenerateStats> | null;
  #ended: 'done' | 'closed' | 'disposed' | 'aborted' | null = null;
  readonly #model: HireModel;
  readonly #head: DecodeHead;
  readonly #signal: AbortSignal | undefined;
  readonly #streamer: TextStreamer;
  readonly #decode: (ids: number[]) => string;
  readonly #stop: StopMatcher;
  readonly #logprobs: TokenLogprobs[] | null;
  readonly #hooks: GenerationHooks | null;
  readonly #onAbort = () => this.#end('aborted');
  readonly #ids: number[] = [];
  #text = '';
  #candidates = 0;
  #widenings = 0;
  #widenedSteps = 0;
  #steps = 0;

  /** @internal Use generate() (or a ChatSession). */
  constructor(model: HireModel, prompt: Prompt, options: GenerateOptions = {}, hooks?: GenerationHooks) {
    const internals = modelInternals(model);
    const decoder = internals.decoder();
    const o = resolveGenerateOptions(options);
    this.promptTokenIds = hooks ? [...hooks.promptIds] : promptTokenIds(model, prompt, 'prompt', {system: o.system, chat: o.chat});
    checkPrompt(this.promptTokenIds, decoder.config); // now, so that nothing is shown before a bad prompt fails
    const {head, note} = internals.head(o.sampling, headOptions(o));
    if (note) options.onWarning?.(note);
    this.#model = model;
    this.#head = head;
    this.#hooks = hooks ?? null;
    this.output = {kind: head.kind, describe: head.describe(), bytesPerToken: head.bytesPerToken};
    this.#decode = (ids) => model.decode(ids);
    this.#streamer = new TextStreamer(this.#decode, this.promptTokenIds);
    this.#stop = new StopMatcher(o.stopStrings);
    this.#logprobs = o.logprobs === undefined ? null : [];
    this.#signal = options.signal;
    const core = {...coreOptions(model, o, head, options.signal), shouldStop: () => this.#stop.stopped};
    this.#iterator = generateTokens(decoder, this.promptTokenIds, core, hooks?.continuation);
    this.#signal?.addEventListener('abort', this.#onAbort, {once: true});
  }

  /** The result, once the generation has run to its end (eos, maxTokens or a full context); else null. */
  get result(): GenerationResult | null {
    return this.#result;
  }

  /** The text generated so far. */
  get text(): string {
    return this.#text;
  }

  /** The ids generated so far. */
  get tokenIds(): number[] {
    return [...this.#ids];
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<TokenChunk, undefined>> {
    this.#throwIfStopped();
    if (this.#ended !== null) return {done: true, value: undefined};
    // Let the event loop turn between tokens: the cpu backend computes synchronously, and without
    // this a generation would hold the thread until it ends (no timers, no I/O, no abort).
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#throwIfStopped();
    if (this.#ended !== null) return {done: true, value: undefined};
    const internals = modelInternals(this.#model);
    let ran: {step: IteratorResult<TokenEvent, GenerateStats>; ms: number; before: HeadStats; after: HeadStats} | null;
    try {
      ran = await internals.step(async () => {
        this.#throwIfStopped();
        const it = this.#iterator;
        if (it === null) return null; // ended while it waited for its turn
        const t0 = performance.now();
        const before = this.#head.stats();
        const step = await it.next();
        return {step, ms: performance.now() - t0, before, after: this.#head.stats()};
      }, this.#signal);
    } catch (error) {
      const why = this.#ended; // set by an abort while the step waited or ran
      this.#end(error instanceof AbortError ? 'aborted' : error instanceof DisposedError ? 'disposed' : 'closed');
      if (this.#ended === 'disposed') throw new DisposedError('the model of this generation');
      if (why === 'aborted' && !(error instanceof AbortError)) throw this.#abortError();
      throw error;
    }
    if (ran === null) return {done: true, value: undefined};
    const {step, ms, before, after} = ran;
    const candidates = Math.round(after.steps * after.meanCandidates - before.steps * before.meanCandidates);
    this.#steps += after.steps - before.steps;
    this.#candidates += candidates;
    this.#widenings += after.widenings - before.widenings;
    this.#widenedSteps += after.widenedSteps - before.widenedSteps;
    this.#throwIfStopped(); // aborted while the step ran: the token is dropped
    if (this.#ended !== null) return {done: true, value: undefined}; // disposed while it ran
    if (step.done) {
      this.#text += this.#stop.push(this.#streamer.flush()) + this.#stop.flush();
      this.#result = this.#makeResult(step.value);
      this.#end('done');
      return {done: true, value: undefined};
    }
    const {id, pos} = step.value;
    this.#ids.push(id);
    const text = this.#stop.push(this.#streamer.push(id)); // text that may be part of a stop string waits
    this.#text += text;
    const chunk: TokenChunk = {id, text, index: this.#ids.length - 1, pos, ms, candidates, widenings: after.widenings - before.widenings};
    if (step.value.logprobs) {
      chunk.logprobs = this.#apiLogprobs(step.value.logprobs);
      this.#logprobs?.push(chunk.logprobs);
    }
    return {done: false, value: chunk};
  }

  /** Ends the generation early (what `break` in `for await` calls). */
  async return(): Promise<IteratorResult<TokenChunk, undefined>> {
    this.#end('closed');
    return {done: true, value: undefined};
  }

  /** Runs the generation to its end, consuming the remaining tokens, and returns the result. */
  async complete(): Promise<GenerationResult> {
    while (!(await this.next()).done);
    if (!this.#result) throw new UsageError('the generation was ended before it completed (break, return() or dispose())');
    return this.#result;
  }

  /** Ends the generation (if running) and releases its KV cache. */
  dispose(): void {
    this.#end('closed');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #throwIfStopped(): void {
    if (this.#ended === null && this.#model.disposed) this.#end('disposed');
    if (this.#ended === 'aborted' || (this.#ended === null && this.#signal?.aborted)) {
      this.#end('aborted');
      throw this.#abortError();
    }
    if (this.#ended === 'disposed') throw new DisposedError('the model of this generation');
  }

  #abortError(): AbortError {
    return new AbortError('generation', {cause: this.#signal?.reason});
  }

  #apiLogprobs(l: LogprobInfo): TokenLogprobs {
    const m = this.#model;
    return {...l, top: l.top.map((t) => ({id: t.id, token: m.tokenString(t.id), logprob: t.logprob}))};
  }

  #end(how: 'done' | 'closed' | 'disposed' | 'aborted'): void {
    if (this.#ended !== null) return;
    this.#ended = how;
    this.#hooks?.onEnd(this);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    // Release the core generator (and with it the KV cache). A generator that is running cannot
    // be returned: its step holds the model lock, so return it once that step is over.
    const it = this.#iterator;
    this.#iterator = null;
    if (it) void modelInternals(this.#model).step(() => it.return(undefined as never)).catch(() => undefined);
  }

  #makeResult(stats: GenerateStats): GenerationResult {
    const d = modelInternals(this.#model).decoder();
    const steps = this.#steps;
    return {
      text: this.#text,
      promptTokenIds: this.promptTokenIds,
      tokenIds: [...this.#ids],
      backend: d.backendName,
      stats,
      output: {
        ...this.output,
        steps,
        meanCandidates: steps ? this.#candidates / steps : 0,
        widenedSteps: this.#widenedSteps,
        widenings: this.#widenings,
      },
      weightBytesPerToken: d.bytesPerToken(this.#head),
      devices: d.groupInfo(),
      logprobs: this.#logprobs ? [...this.#logprobs] : null,
    };
  }
}

/**
 * Starts a generation on a loaded model. The prompt and options are checked now (UsageError), and
 * the output layer is chosen now (`gen.output` says which); tokens are decoded as the iterator is
 * read. The text streamed (and `result.text`) leaves the prompt out but keeps the first token's
 * leading space: "Once upon a" gives " time, ...".
 */
export function generate(model: HireModel, prompt: Prompt, options: GenerateOptions = {}): Generation {
  return new Generation(model, prompt, options);
}
