/**
 * Keeps host work in order behind a kernel call that is still running.
 *
 * Why: the cpu backend's kernels are synchronous calls, but a worker thread can be slow (a busy
 * machine) or hung, and waiting for it synchronously blocks the event loop (timers, abort
 * signals, I/O) for as long. So a call whose workers are not done within a short budget is left
 * pending (WorkerPool.run returns false), every later piece of work that touches the shared
 * memory is queued here instead of run, and the queue is drained where the caller awaits anyway
 * (the backend's read() and topK()), waiting for the workers with Atomics.waitAsync. When no call
 * is pending, work runs at once: the usual path costs one check per operation.
 */
import {AbortError} from '../../errors.js';
import type {WorkerPool} from './pool.js';

/** A piece of work that reads or writes the shared memory, run in call order. */
export type Op = () => void;

export class OpQueue {
  private ops: Op[] = [];
  private draining: Promise<void> | undefined;
  private signal: AbortSignal | undefined;

  constructor(private readonly pool: WorkerPool) {}

  /** True while a kernel call is pending or work waits behind one: new work must go through later(). */
  get busy(): boolean {
    return this.pool.pending || this.ops.length > 0;
  }

  /** Runs op now when nothing is pending, else queues it behind the pending work. */
  later(op: Op): void {
    if (this.pool.pending || this.ops.length > 0) this.ops.push(op);
    else op();
  }

  /**
   * While `signal` is set, a wait in settle() rejects with AbortError once it fires, and the work
   * queued behind the pending call is dropped (the call itself still finishes before the next
   * one starts). undefined clears it.
   */
  abortWaits(signal: AbortSignal | undefined): void {
    this.signal = signal;
  }

  /**
   * Resolves once every queued op has run and the kernel calls they started are complete; rejects
   * with the first error (a worker's, an op's, a hang, an abort), dropping the ops queued after it.
   */
  settle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        if (this.pool.pending) await this.waitForPool();
        const ops = this.ops;
        if (ops.length === 0) return;
        this.ops = [];
        for (let i = 0; i < ops.length; i++) {
          ops[i]!();
          if (this.pool.pending) {
            // ops[i] left a call running (and queued its own remainder, if any): the rest follows
            for (let j = i + 1; j < ops.length; j++) this.ops.push(ops[j]!);
            break;
          }
        }
      }
    } catch (err) {
      this.ops = [];
      throw err;
    }
  }

  private waitForPool(): Promise<void> {
    const signal = this.signal;
    if (!signal) return this.pool.finish();
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, {once: true});
      void this.pool
        .finish()
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  }
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError('the wait for the cpu kernel workers', {cause: signal.reason});
}
