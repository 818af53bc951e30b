import {Worker} from 'node:worker_threads';
import {BackendError} from '../../errors.js';
import {CTL, CTL_WORDS, KERNEL_NAMES, MSG_BYTES, MSG_OFFSET, TAG_SHIFT, jobTag, splitRange, type KernelName} from './control.js';
import {wasm, type WasmMemory, type WasmModule} from './wasm-api.js';
import {WORKER_SOURCE} from './worker-source.js';

type WasmFn = (...args: number[]) => void;

/** Atomics.waitAsync (in Node 20's V8; not in this project's TypeScript lib yet). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): {async: boolean; value: Promise<string> | string};
}).waitAsync;

/** Debug hook modes (see CpuKernels.debugFailNextCall). */
export type WorkerFailure = 'throw' | 'exit' | 'hang' | 'slow' | 'late';
const FAILURE_CODE: Record<WorkerFailure, number> = {throw: 1, exit: 2, hang: 3, slow: 4, late: 5};
/** Debug modes in which every thread takes exactly one part, so worker 1 surely holds one. */
const ONE_PART_EACH = new Set([1, 2, 3, 4]);
/** Longest slice of one Atomics.wait / waitAsync, so that deadlines and dispose are noticed. */
const WAIT_SLICE_MS = 20;

/** A parallel call whose workers have not all counted themselves done yet. */
interface Job {
  /** performance.now() when it was published. */
  start: number;
  /** jobTag of its generation: CLAIM and DONE count its parts above it. */
  tag: number;
  /** DONE once every part is finished. */
  target: number;
  /** What a part run by the calling thread threw, rethrown once the workers are done. */
  mainError: unknown;
  /** When a dead worker (CTL.FATAL) was first noticed. */
  fatalSeen?: number;
  /** The kernel, for the message of a call that never ends. */
  name: string;
  parts: number;
}

export interface PoolOptions {
  threads: number;
  spin: number;
  timeoutMs: number;
}

/**
 * The calling thread plus `threads - 1` workers running one module on one shared memory.
 * run() publishes the job in the control block (split in parts, at least one per thread), then
 * claims and runs parts itself until none is left (a worker that is slow to wake, or not on a
 * CPU, leaves its parts to the calling thread instead of holding the call up), then waits (spin,
 * then Atomics.wait in slices) until every part claimed by a worker is done, or, given a
 * `syncMs` budget, at most that long: a call whose workers are slower stays pending, and
 * finish() waits for it with Atomics.waitAsync, so timers and abort signals keep running.
 */
export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly fns: WasmFn[];
  /** The calling thread's instance's owned_work counter (kernels.wat). */
  private readonly work: {value: number} | undefined;
  private broken: string | undefined;
  private disposed = false;
  private debugMode = 0;
  private job: Job | undefined;
  private finishing: Promise<void> | undefined;

  private constructor(
    private readonly memory: WasmMemory,
    private readonly workers: Worker[],
    exports: Record<string, unknown>,
    private readonly opts: PoolOptions,
  ) {
    this.ctl = new Int32Array(memory.buffer, 0, CTL_WORDS);
    this.fns = KERNEL_NAMES.map((name) => exports[name] as WasmFn);
    this.work = exports['owned_work'] as {value: number} | undefined;
    for (const worker of workers) {
      worker.on('error', (err) => this.markBroken(`a cpu kernel worker failed: ${err.message}`));
      worker.on('exit', (code) => this.markBroken(`a cpu kernel worker exited (code ${code})`));
      worker.unref();
    }
  }

  static async start(module: WasmModule, memory: WasmMemory, opts: PoolOptions): Promise<WorkerPool> {
    const instance = new wasm.Instance(module, {env: {memory}});
    const layout = {...CTL, words: CTL_WORDS, msgOffset: MSG_OFFSET, msgBytes: MSG_BYTES, tagShift: TAG_SHIFT};
    const started: Worker[] = [];
    try {
      for (let index = 1; index < opts.threads; index++) {
        const worker = new Worker(WORKER_SOURCE, {
          eval: true,
          // not the parent's flags: `--input-type=module` would make the CommonJS worker source fail
          execArgv: [],
          name: `hire-cpu-kernels-${index}`,
          workerData: {module, memory, index, names: KERNEL_NAMES, spin: opts.spin, layout},
        });
        started.push(worker);
      }
      await Promise.all(started.map((worker) => whenReady(worker)));
    } catch (cause) {
      for (const worker of started) void worker.terminate();
      throw new BackendError(`cpu backend could not start its worker threads: ${String(cause)}`, {cause});
    }
    return new WorkerPool(memory, started, instance.exports, opts);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Row and vector pairs the owner-aware kernels computed on the calling thread (CpuKernels.ownedWork). */
  get ownedWork(): number {
    return this.work ? this.work.value >>> 0 : 0;
  }

  /** True while a call returned by run() as pending has workers still at it (see finish()). */
  get pending(): boolean {
    return this.job !== undefined;
  }

  /**
   * Runs kernel `name` with `args` over [lo, hi): on the calling thread alone when `parallel`
   * is false (or there are no workers), else split in chunks that are multiples of `align`.
   * Returns true once the call is complete. With workers still busy after `syncMs` it returns
   * false instead: the call is pending, and nothing may touch its operands (nor run another
   * call) until finish() has resolved. `parts`: how many parts the range is split in (default
   * one per thread; more balance the load when a thread is slowed down, for kernels whose
   * results do not depend on the split).
   */
  run(name: KernelName, args: number[], lo: number, hi: number, align: number, parallel: boolean, syncMs = Infinity, parts = this.threads): boolean {
    this.ensureUsable();
    if (this.job) throw new BackendError(`cpu kernel ${name} was called while another call is still running (internal error: queue it)`);
    const fn = KERNEL_NAMES.indexOf(name);
    if (hi <= lo) return true;
    if (this.workers.length === 0 || (!parallel && this.debugMode === 0)) {
      this.callMain(fn, args, lo, hi);
      return true;
    }
    const oneEach = ONE_PART_EACH.has(this.debugMode);
    if (oneEach || !(Number.isInteger(parts) && parts >= this.threads && parts < 1 << TAG_SHIFT)) parts = this.threads;
    const tag = this.publish(fn, args, lo, hi, align, parts);
    const job: Job = {start: performance.now(), tag, target: tag + parts, mainError: undefined, name, parts};
    this.runParts(job, fn, args, lo, hi, align, parts, oneEach);
    this.job = job;
    if (!this.waitSync(job, syncMs)) return false;
    this.complete(job);
    return true;
  }

  /**
   * Resolves once the pending call (if any) is complete, or rejects with its error; waits with
   * Atomics.waitAsync, so the event loop keeps running. Gives up after timeoutMs like run().
   */
  finish(): Promise<void> {
    const job = this.job;
    if (!job) return Promise.resolve();
    this.finishing ??= this.waitAsync(job).finally(() => {
      this.finishing = undefined;
    });
    return this.finishing;
  }

  /** Makes worker 1 fail during the next run() (which then runs in parallel whatever its size). */
  failNextCall(mode: WorkerFailure): void {
    this.ensureUsable();
    if (this.workers.length === 0) throw new BackendError('debugFailNextCall needs threads >= 2');
    this.debugMode = FAILURE_CODE[mode];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctl, CTL.QUIT, 1);
    Atomics.add(this.ctl, CTL.GEN, 1);
    Atomics.notify(this.ctl, CTL.GEN);
    Atomics.notify(this.ctl, CTL.QUIT);
    Atomics.notify(this.ctl, CTL.DONE); // wakes finish(), which then rejects
    for (const worker of this.workers) void worker.terminate().catch(() => undefined);
  }

  private callMain(fn: number, args: number[], lo: number, hi: number): void {
    try {
      this.fns[fn]!(...args, lo, hi);
    } catch (cause) {
      throw new BackendError(`cpu kernel ${KERNEL_NAMES[fn]} failed: ${String(cause)}`, {cause});
    }
  }

  /**
   * Claims parts of the job (compare-exchange on CLAIM) and runs them on the calling thread until
   * none is left (only one with `oneEach`); a part that throws is kept as job.mainError, and the
   * parts claimed after it are counted done without running.
   */
  private runParts(job: Job, fn: number, args: number[], lo: number, hi: number, align: number, parts: number, oneEach: boolean): void {
    const ctl = this.ctl;
    for (;;) {
      const c = Atomics.load(ctl, CTL.CLAIM);
      const p = c - job.tag;
      if (p >= parts) return;
      if (Atomics.compareExchange(ctl, CTL.CLAIM, c, c + 1) !== c) continue;
      if (job.mainError === undefined) {
        const [s, e] = splitRange(lo, hi, parts, p, align);
        try {
          if (s < e) this.callMain(fn, args, s, e);
        } catch (err) {
          job.mainError = err;
        }
      }
      Atomics.add(ctl, CTL.DONE, 1);
      if (oneEach) return;
    }
  }

  /** Writes the job into the control block and wakes the workers; returns its tag. */
  private publish(fn: number, args: number[], lo: number, hi: number, align: number, parts: number): number {
    const ctl = this.ctl;
    const gen = (Atomics.load(ctl, CTL.GEN) + 1) | 0;
    const tag = jobTag(gen);
    // CLAIM first, before any field of the new job is written: a worker still inside claimParts
    // of the previous job (woken late) holds that job's tag, so from here on its compare-exchange
    // fails. Written after the fields, CLAIM could still hold the previous job's count while PARTS
    // already held the new (larger) count, and such a worker claimed a "part" of the old job that
    // ran the new job's range and counted in the new DONE: one part twice, DONE past its target,
    // and the call never ended (seen as a 60 s hang, about one run in three of an example).
    Atomics.store(ctl, CTL.CLAIM, tag);
    Atomics.store(ctl, CTL.DONE, tag);
    ctl[CTL.FN] = fn;
    ctl[CTL.ARGC] = args.length;
    for (let i = 0; i < args.length; i++) ctl[CTL.ARGS + i] = args[i]!;
    ctl[CTL.LO] = lo;
    ctl[CTL.HI] = hi;
    ctl[CTL.PARTS] = parts;
    ctl[CTL.ALIGN] = align;
    Atomics.store(ctl, CTL.DEBUG, this.debugMode);
    this.debugMode = 0;
    Atomics.store(ctl, CTL.GEN, gen);
    Atomics.notify(ctl, CTL.GEN);
    return tag;
  }

  /**
   * Blocks until every part is done (true), or for `budgetMs` after the spin (false: the
   * calling thread's own parts are not counted, so a long call is not cut short); throws on a hang.
   */
  private waitSync(job: Job, budgetMs: number): boolean {
    const ctl = this.ctl;
    let polls = 0;
    let until = 0;
    for (;;) {
      const done = Atomics.load(ctl, CTL.DONE);
      if (done === job.target) return true;
      if (polls++ < this.opts.spin) continue;
      const now = performance.now();
      this.checkDeadline(job, now);
      if (until === 0) until = now + budgetMs;
      const left = until - now;
      if (left <= 0) return false;
      Atomics.wait(ctl, CTL.DONE, done, Math.min(WAIT_SLICE_MS, left));
    }
  }

  private async waitAsync(job: Job): Promise<void> {
    const ctl = this.ctl;
    // A pending Atomics.waitAsync does not keep Node running; this timer does until the call ends.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      for (;;) {
        if (this.disposed) throw new BackendError('CpuKernels was disposed while a kernel call was running');
        const done = Atomics.load(ctl, CTL.DONE);
        if (done === job.target) break;
        this.checkDeadline(job, performance.now());
        const wait = waitAsync(ctl, CTL.DONE, done, WAIT_SLICE_MS);
        if (wait.async) await wait.value;
      }
    } finally {
      clearInterval(keepAlive);
    }
    this.complete(job);
  }

  /** The call is over: clears the job and throws what part 0 or a worker threw. */
  private complete(job: Job): void {
    this.job = undefined;
    Atomics.store(this.ctl, CTL.DEBUG, 0);
    this.throwWorkerError();
    if (job.mainError !== undefined) throw job.mainError;
  }

  /** Throws (and breaks the pool) once the call has run past timeoutMs, or a worker died. */
  private checkDeadline(job: Job, now: number): void {
    let deadline = job.start + this.opts.timeoutMs;
    // A worker that died without counting itself done: give the others a moment, no more.
    if (Atomics.load(this.ctl, CTL.FATAL) !== 0) {
      job.fatalSeen ??= now;
      deadline = Math.min(deadline, job.fatalSeen + 1000);
    }
    if (now <= deadline) return;
    const message = this.readMessage();
    const text =
      `cpu kernel call did not finish within ${this.opts.timeoutMs} ms` +
      (message ? ` (${message})` : ' (a worker hung or was killed)') +
      `; create a new CpuKernels (the timeoutMs option raises the limit) [${job.name}: ${job.parts} parts, ` +
      `${Atomics.load(this.ctl, CTL.CLAIM) - job.tag} claimed, ${Atomics.load(this.ctl, CTL.DONE) - job.tag} done]`;
    this.markBroken(text);
    this.job = undefined; // the pool is unusable now; nothing waits for this call any more
    throw new BackendError(text);
  }

  private throwWorkerError(): void {
    const ctl = this.ctl;
    if (Atomics.load(ctl, CTL.ERR) === 0 && Atomics.load(ctl, CTL.FATAL) === 0) return;
    const message = this.readMessage() || 'a cpu kernel worker failed';
    Atomics.store(ctl, CTL.MSG_LEN, 0);
    Atomics.store(ctl, CTL.ERR, 0);
    if (Atomics.load(ctl, CTL.FATAL) !== 0) {
      this.markBroken(`${message}; the worker pool is gone, create a new CpuKernels`);
      throw new BackendError(this.broken!);
    }
    throw new BackendError(message);
  }

  private readMessage(): string {
    const len = Math.min(Atomics.load(this.ctl, CTL.MSG_LEN), MSG_BYTES);
    if (len <= 0) return '';
    return Buffer.from(new Uint8Array(this.memory.buffer, MSG_OFFSET, len)).toString('utf8');
  }

  private markBroken(message: string): void {
    if (!this.disposed && this.broken === undefined) this.broken = message;
  }

  private ensureUsable(): void {
    if (this.disposed) throw new BackendError('CpuKernels used after dispose(); create a new one');
    if (this.broken === undefined && Atomics.load(this.ctl, CTL.FATAL) !== 0) {
      this.markBroken(`${this.readMessage() || 'a cpu kernel worker exited'}; create a new CpuKernels`);
    }
    if (this.broken !== undefined) throw new BackendError(this.broken);
  }
}

function whenReady(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    const onExit = (code: number): void => reject(new Error(`worker exited during start (code ${code})`));
    worker.once('message', () => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve();
    });
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}
