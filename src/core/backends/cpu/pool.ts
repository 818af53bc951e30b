import {Worker} from 'node:worker_threads';
import {BackendError} from '../../errors.js';
import {CTL, CTL_WORDS, KERNEL_NAMES, MSG_BYTES, MSG_OFFSET, splitRange, type KernelName} from './control.js';
import {wasm, type WasmMemory, type WasmModule} from './wasm-api.js';
import {WORKER_SOURCE} from './worker-source.js';

type WasmFn = (...args: number[]) => void;

/** Debug hook modes (see CpuKernels.debugFailNextCall). */
export type WorkerFailure = 'throw' | 'exit' | 'hang';
const FAILURE_CODE: Record<WorkerFailure, number> = {throw: 1, exit: 2, hang: 3};

export interface PoolOptions {
  threads: number;
  spin: number;
  timeoutMs: number;
}

/**
 * The calling thread plus `threads - 1` workers running one module on one shared memory.
 * run() is synchronous: it publishes the job in the control block, does part 0 itself, then
 * waits (spin, then Atomics.wait in slices) until every worker has counted itself done.
 */
export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly fns: WasmFn[];
  private broken: string | undefined;
  private disposed = false;
  private debugMode = 0;

  private constructor(
    private readonly memory: WasmMemory,
    private readonly workers: Worker[],
    exports: Record<string, unknown>,
    private readonly opts: PoolOptions,
  ) {
    this.ctl = new Int32Array(memory.buffer, 0, CTL_WORDS);
    this.fns = KERNEL_NAMES.map((name) => exports[name] as WasmFn);
    for (const worker of workers) {
      worker.on('error', (err) => this.markBroken(`a cpu kernel worker failed: ${err.message}`));
      worker.on('exit', (code) => this.markBroken(`a cpu kernel worker exited (code ${code})`));
      worker.unref();
    }
  }

  static async start(module: WasmModule, memory: WasmMemory, opts: PoolOptions): Promise<WorkerPool> {
    const instance = new wasm.Instance(module, {env: {memory}});
    const layout = {...CTL, words: CTL_WORDS, msgOffset: MSG_OFFSET, msgBytes: MSG_BYTES};
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

  /**
   * Runs kernel `name` with `args` over [lo, hi): on the calling thread alone when `parallel`
   * is false (or there are no workers), else split in chunks that are multiples of `align`.
   */
  run(name: KernelName, args: number[], lo: number, hi: number, align: number, parallel: boolean): void {
    this.ensureUsable();
    const fn = KERNEL_NAMES.indexOf(name);
    if (hi <= lo) return;
    if (this.workers.length === 0 || (!parallel && this.debugMode === 0)) {
      this.callMain(fn, args, lo, hi);
      return;
    }
    const ctl = this.ctl;
    ctl[CTL.FN] = fn;
    ctl[CTL.ARGC] = args.length;
    for (let i = 0; i < args.length; i++) ctl[CTL.ARGS + i] = args[i]!;
    ctl[CTL.LO] = lo;
    ctl[CTL.HI] = hi;
    ctl[CTL.PARTS] = this.threads;
    ctl[CTL.ALIGN] = align;
    Atomics.store(ctl, CTL.DEBUG, this.debugMode);
    this.debugMode = 0;
    Atomics.store(ctl, CTL.DONE, 0);
    Atomics.add(ctl, CTL.GEN, 1);
    Atomics.notify(ctl, CTL.GEN);

    let mainError: unknown;
    const [s, e] = splitRange(lo, hi, this.threads, 0, align);
    try {
      if (s < e) this.callMain(fn, args, s, e);
    } catch (err) {
      mainError = err;
    }
    this.waitForWorkers();
    Atomics.store(ctl, CTL.DEBUG, 0);
    this.throwWorkerError();
    if (mainError !== undefined) throw mainError;
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
    for (const worker of this.workers) void worker.terminate().catch(() => undefined);
  }

  private callMain(fn: number, args: number[], lo: number, hi: number): void {
    try {
      this.fns[fn]!(...args, lo, hi);
    } catch (cause) {
      throw new BackendError(`cpu kernel ${KERNEL_NAMES[fn]} failed: ${String(cause)}`, {cause});
    }
  }

  private waitForWorkers(): void {
    const ctl = this.ctl;
    const target = this.workers.length;
    let polls = 0;
    let deadline = 0;
    for (;;) {
      const done = Atomics.load(ctl, CTL.DONE);
      if (done >= target) return;
      if (polls++ < this.opts.spin) continue;
      const now = performance.now();
      if (deadline === 0) deadline = now + this.opts.timeoutMs;
      // A worker that died without counting itself done: give the others a moment, no more.
      if (Atomics.load(ctl, CTL.FATAL) !== 0) deadline = Math.min(deadline, now + 1000);
      if (now > deadline) {
        const message = this.readMessage();
        this.markBroken(
          `cpu kernel call did not finish within ${this.opts.timeoutMs} ms` +
            (message ? ` (${message})` : ' (a worker hung or was killed)') +
            '; create a new CpuKernels (the timeoutMs option raises the limit)',
        );
        throw new BackendError(this.broken!);
      }
      Atomics.wait(ctl, CTL.DONE, done, 20);
    }
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
