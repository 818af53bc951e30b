/**
 * Continuous batching for a server: requests wait in a bounded queue, join the running batch at a
 * step boundary, and leave it as soon as they end, so one forward pass advances every running
 * sequence and reads each weight row once for all of them (with HiRE, the union of their FFN
 * groups and softmax candidates). A newcomer's prompt is prefilled one block per turn between
 * decode steps, so the running streams keep flowing while it is read. Each sequence chooses its
 * tokens with its own rng, penalties and stop state (decode/next-token.ts, the same code a
 * generation alone uses), so it gets exactly the tokens it would get decoded alone.
 * Sequences whose output heads differ (sampling or HiRE options) cannot share a step: each
 * head's sequences are stepped in turn. No HTTP here: the server (src/api/server) feeds it.
 */
import {AbortError, OverloadedError} from '../../errors.js';
import type {DecodeHead, DecodeSequence, Decoder} from '../../decode/decoder.js';
import {PREFILL_CHUNK} from '../../decode/forward.js';
import {checkPrompt, type StopReason, type TokenEvent} from '../../decode/generate.js';
import {NextToken, type NextTokenOptions} from '../../decode/next-token.js';
import type {HeadResult} from '../../decode/output-head.js';
import {ServeMetrics} from './metrics.js';

export interface ServeJob extends NextTokenOptions {
  promptIds: readonly number[];
  /** The output layer (from decoder.head() for the job's sampling and HiRE options). */
  head: DecodeHead;
  /** Once aborted (client gone, timeout), the job leaves the queue or the batch at the next step. */
  signal?: AbortSignal;
  /** Each token as it is chosen; returning true ends the job there (a stop string: stop reason 'stop'). */
  onToken?(token: TokenEvent): boolean | void;
}

export interface JobResult {
  tokenIds: number[];
  stopReason: StopReason;
  promptTokens: number;
  /** Milliseconds in the queue, and from admission to the end. */
  queuedMs: number;
  runMs: number;
}

export interface SchedulerOptions {
  /** Most sequences decoded together (capped by the decoder's maxSequences). */
  maxBatch: number;
  /** Most jobs waiting for a place in the batch; more are refused (OverloadedError 'queue_full'). */
  maxQueue: number;
  /** Prompt tokens prefilled per turn (default: the forward pass's block, PREFILL_CHUNK). */
  prefillChunk?: number;
  /** Runs one piece of decoder work alone (the model's lock); default: directly. */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  metrics?: ServeMetrics;
}

interface Slot {
  job: ServeJob;
  next: NextToken;
  limit: number;
  seq: DecodeSequence | null;
  prefilled: number;
  /** The last token chosen, to be fed at the next step (null while prefilling). */
  feed: number | null;
  tokenIds: number[];
  queuedAt: number;
  admittedAt: number;
  resolve(r: JobResult): void;
  reject(e: unknown): void;
}

export class Scheduler {
  readonly metrics: ServeMetrics;
  private readonly waiting: Slot[] = [];
  private readonly running: Slot[] = [];
  private readonly maxBatch: number;
  private readonly chunk: number;
  private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  private loop: Promise<void> | null = null;
  private closing = false;

  constructor(
    private readonly decoder: Decoder,
    private readonly opts: SchedulerOptions,
  ) {
    this.maxBatch = Math.max(1, Math.min(opts.maxBatch, decoder.maxSequences));
    this.chunk = Math.max(1, opts.prefillChunk ?? PREFILL_CHUNK);
    this.exclusive = opts.exclusive ?? ((fn) => fn());
    this.metrics = opts.metrics ?? new ServeMetrics(decoder.config.vocabSize);
  }

  /** Jobs waiting for a place in the batch. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Jobs in the batch (prefilling or decoding). */
  get active(): number {
    return this.running.length;
  }

  /**
   * Queues a job; resolves when it ends (eos, budget, context, stop string), rejects with
   * AbortError when its signal fires first, OverloadedError when the queue is full or the
   * scheduler is closing, UsageError for a bad prompt.
   */
  submit(job: ServeJob): Promise<JobResult> {
    return new Promise<JobResult>((resolve, reject) => {
      checkPrompt(job.promptIds, this.decoder.config);
      if (this.closing) throw new OverloadedError('shutting_down', 'the server is shutting down; retry on another instance or later', 5);
      if (this.waiting.length >= this.opts.maxQueue) {
        throw new OverloadedError('queue_full', `the queue is full (${this.opts.maxQueue} requests waiting); retry later`, 1);
      }
      const c = this.decoder.config;
      const limit = Math.min(c.maxSeqLen, job.promptIds.length + job.maxTokens);
      const now = performance.now();
      const slot: Slot = {job, next: new NextToken(job, job.promptIds, limit, c.maxSeqLen), limit, seq: null, prefilled: 0, feed: null, tokenIds: [], queuedAt: now, admittedAt: now, resolve, reject};
      this.waiting.push(slot);
      this.loop ??= this.run().finally(() => (this.loop = null));
    });
  }

  /**
   * Stops taking jobs (submit() then refuses with 'shutting_down'); the queued and running ones go
   * on until they end or `deadlineMs` passes, when the rest are ended with AbortError. Resolves
   * once none is left.
   */
  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    const timer = setTimeout(() => this.cancelAll(new Error('the server shut down before the request ended')), deadlineMs);
    try {
      while (this.loop) await this.loop;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends every queued and running job with AbortError (cause: `reason`). */
  cancelAll(reason: unknown): void {
    for (const s of [...this.waiting, ...this.running]) this.fail(s, new AbortError('the request', {cause: reason}));
  }

  private async run(): Promise<void> {
    while (this.waiting.length > 0 || this.running.length > 0) {
      this.dropAborted();
      while (this.running.length < this.maxBatch && this.waiting.length > 0) {
        const s = this.waiting.shift()!;
        s.admittedAt = performance.now();
        this.running.push(s);
      }
      await this.prefillTurn();
      await this.decodeTurn();
      this.metrics.gauges(this.waiting.length, this.running.length);
      // let I/O run between steps (the cpu backend computes synchronously)
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.metrics.gauges(0, 0);
  }

  private dropAborted(): void {
    for (const s of [...this.waiting, ...this.running]) {
      if (s.job.signal?.aborted) this.fail(s, new AbortError('the request', {cause: s.job.signal.reason}));
    }
  }

  /**
   * Prompt blocks of the sequences still being read, first come first, up to `prefillChunk`
   * tokens in all per turn (at least one block): short prompts of several newcomers go in one
   * turn, a long one takes several turns, and the running sequences step in between. The turn's
   * blocks of sequences sharing a head run in one forward pass where the decoder can
   * (prefillBatch), so a burst of newcomers reads the weights once, not once per newcomer.
   */
  private async prefillTurn(): Promise<void> {
    let budget = this.chunk;
    const byHead = new Map<DecodeHead, Array<{s: Slot; block: number[]}>>();
    for (const s of this.running) {
      if (budget <= 0) break;
      if (s.feed !== null || s.prefilled >= s.job.promptIds.length || s.job.signal?.aborted) continue;
      // whole blocks only (the forward pass blocks a prompt the same way for a generation alone)
      const block = s.job.promptIds.slice(s.prefilled, s.prefilled + this.chunk);
      if (block.length > budget && budget < this.chunk) break;
      budget -= block.length;
      const list = byHead.get(s.job.head) ?? [];
      list.push({s, block});
      byHead.set(s.job.head, list);
    }
    for (const [head, list] of byHead) {
      if (list.length > 1 && this.decoder.prefillBatch) await this.prefillTogether(head, list);
      else for (const {s, block} of list) await this.prefillAlone(s, block);
    }
  }

  private async prefillAlone(s: Slot, block: number[]): Promise<void> {
    let r: HeadResult;
    try {
      r = await this.exclusive(async () => {
        s.seq ??= await this.decoder.openSequence(s.limit);
        return this.decoder.prefill(s.seq, block, s.job.head);
      });
    } catch (e) {
      return this.fail(s, e);
    }
    this.prefilled(s, block.length, r);
  }

  private async prefillTogether(head: DecodeHead, list: Array<{s: Slot; block: number[]}>): Promise<void> {
    let results: HeadResult[];
    try {
      results = await this.exclusive(async () => {
        for (const {s} of list) s.seq ??= await this.decoder.openSequence(s.limit);
        return this.decoder.prefillBatch!(list.map(({s}) => s.seq!), list.map(({block}) => block), head);
      });
    } catch (e) {
      for (const {s} of list) this.fail(s, e);
      return;
    }
    list.forEach(({s, block}, i) => this.prefilled(s, block.length, results[i]!));
  }

  private prefilled(s: Slot, n: number, r: HeadResult): void {
    s.prefilled += n;
    this.metrics.prefilled(n);
    if (s.prefilled === s.job.promptIds.length) this.chosen(s, r);
  }

  /** One step for every decoding sequence, head by head. */
  private async decodeTurn(): Promise<void> {
    const byHead = new Map<DecodeHead, Slot[]>();
    for (const s of this.running) {
      if (s.feed === null || s.job.signal?.aborted) continue;
      const list = byHead.get(s.job.head) ?? [];
      list.push(s);
      byHead.set(s.job.head, list);
    }
    for (const [head, slots] of byHead) {
      let results: HeadResult[];
      try {
        results = await this.exclusive(() => this.decoder.step(slots.map((s) => s.seq!), slots.map((s) => s.feed!), head));
      } catch (e) {
        for (const s of slots) this.fail(s, e);
        continue;
      }
      this.metrics.stepped(slots.length, this.decoder.stepStats(), results);
      slots.forEach((s, i) => this.chosen(s, results[i]!));
    }
  }

  /** The head's result for a sequence: its next token, or its end. */
  private chosen(s: Slot, r: HeadResult): void {
    if (!this.running.includes(s)) return; // ended while the step ran
    const token = s.next.take(r);
    if (token === null) return this.finish(s);
    s.tokenIds.push(token.id);
    this.metrics.generated(1);
    let stopped: boolean;
    try {
      stopped = s.job.onToken?.(token) === true;
    } catch (e) {
      return this.fail(s, e);
    }
    if (!s.next.more(stopped)) return this.finish(s);
    s.feed = token.id;
  }

  private remove(s: Slot): boolean {
    for (const list of [this.waiting, this.running]) {
      const i = list.indexOf(s);
      if (i >= 0) {
        list.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  private finish(s: Slot): void {
    if (!this.remove(s)) return;
    const now = performance.now();
    this.metrics.finished(s.next.stopReason);
    s.resolve({tokenIds: s.tokenIds, stopReason: s.next.stopReason, promptTokens: s.job.promptIds.length, queuedMs: s.admittedAt - s.queuedAt, runMs: now - s.admittedAt});
  }

  private fail(s: Slot, e: unknown): void {
    if (!this.remove(s)) return;
    this.metrics.finished(e instanceof AbortError ? 'aborted' : 'error');
    s.reject(e);
  }
}
