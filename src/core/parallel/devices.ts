/**
 * The coordinator's side of the devices: N worker threads, each with its own backend instance and
 * weight shard, driven through one shared control block (protocol.ts). run() publishes a command
 * and resolves when every device has finished it; it never blocks the event loop (Atomics.waitAsync),
 * so a worker that throws or exits is seen at once through its 'error' / 'exit' event and turns
 * into a BackendError naming the device. A device that stops answering trips a timeout.
 */
import fs from 'node:fs';
import os from 'node:os';
import {fileURLToPath} from 'node:url';
import {Worker} from 'node:worker_threads';
import {BackendError, BundleError, WeightError, type HireError} from '../errors.js';
import type {DeviceHeadSpec, DeviceReady} from './device-runner.js';
import type {DeviceInit} from './device-worker.js';
import type {DeviceFfnSpec} from './shard-ffn-select.js';
import {CTL, FAIL, makeLayout, makeViews, waitWord, type DeviceDriver, type Layout, type LayoutInput, type Views} from './protocol.js';
import type {ShardPlan} from './shard-plan.js';

export interface DeviceGroupOptions {
  modelDir: string;
  plan: ShardPlan;
  /** Backend each device creates (with one thread): cpu, tfjs or reference (webgpu: local-devices.ts). */
  backend: string;
  layout: Omit<LayoutInput, 'devices'>;
  ffnTopK: 'exact' | 'dat';
  head: DeviceHeadSpec;
  /** HiRE-FFN plan for every device (null: dense FFN shards). */
  ffn?: DeviceFfnSpec | null;
  /** Most milliseconds one command may take before the group gives up (default 120 s). */
  timeoutMs?: number;
}

type WaitAsync = (a: Int32Array, i: number, v: number, t?: number) => {async: boolean; value: Promise<string> | string};
const waitAsync = (Atomics as unknown as {waitAsync: WaitAsync}).waitAsync;

/** The compiled worker entry (under vitest this file runs from src/, the worker from dist/). */
function workerFile(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../../dist/core/parallel/device-worker.js', here) : new URL('./device-worker.js', here);
  const file = fileURLToPath(url);
  if (!fs.existsSync(file)) throw new BackendError(`${file} is missing: run \`npm run build\` (device workers run the compiled code)`);
  return file;
}

export class DeviceGroup implements DeviceDriver {
  private failure: BackendError | null = null;
  private closing = false;

  private constructor(
    readonly layout: Layout,
    readonly views: Views,
    private readonly workers: Worker[],
    readonly ready: DeviceReady[],
    private readonly timeoutMs: number,
  ) {
    workers.forEach((w, d) => {
      w.on('error', (err) => this.fail(`device ${d} failed: ${err.message}`));
      w.on('exit', (code) => this.fail(`device ${d} exited unexpectedly (code ${code})`));
      w.unref();
    });
  }

  static async start(o: DeviceGroupOptions): Promise<DeviceGroup> {
    const devices = o.plan.devices;
    const layout = makeLayout({...o.layout, devices});
    const buffer = new SharedArrayBuffer(layout.bytes);
    const views = makeViews(buffer, layout);
    const file = workerFile();
    // Spin a little at barriers only when a core is left for the coordinator: on a full machine
    // spinning devices starve it (measured: 2 devices on 2 cores ran 1.5x slower with spinning).
    const spin = devices < os.availableParallelism() ? 2000 : 0;
    const workers: Worker[] = [];
    try {
      for (let d = 0; d < devices; d++) {
        const init: DeviceInit = {device: d, modelDir: o.modelDir, backend: o.backend, plan: o.plan, layout, buffer, ffnTopK: o.ffnTopK, head: o.head, ffn: o.ffn ?? null, spin};
        workers.push(new Worker(file, {workerData: init, name: `hire-device-${d}`}));
      }
      const ready = await Promise.all(workers.map((w, d) => whenReady(w, d)));
      return new DeviceGroup(layout, views, workers, ready, o.timeoutMs ?? 120_000);
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
      throw error;
    }
  }

  get devices(): number {
    return this.layout.devices;
  }

  describe(): string {
    const n = this.devices;
    return `${n} device${n > 1 ? 's' : ''} (${this.ready[0]!.describe} each)`;
  }

  /** Publishes a command (OP.*) with up to 8 integer arguments; resolves when every device is done. */
  async run(op: number, args: readonly number[] = []): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closing) throw new BackendError('device group used after dispose()');
    const ctl = this.views.ctl;
    Atomics.store(ctl, CTL.OP, op);
    args.forEach((a, i) => Atomics.store(ctl, CTL.ARG + i, a));
    Atomics.store(ctl, CTL.DONE_COUNT, 0);
    const seq = Atomics.add(ctl, CTL.SEQ, 1) + 1;
    Atomics.notify(ctl, CTL.SEQ);
    for (const w of this.workers) w.ref(); // keep the event loop alive while devices work
    try {
      const deadline = performance.now() + this.timeoutMs;
      for (;;) {
        if (this.failure) throw this.failure;
        const done = Atomics.load(ctl, CTL.DONE_COUNT);
        if (done >= this.devices) return;
        const left = deadline - performance.now();
        if (left <= 0) {
          this.fail(this.lateMessage(seq));
          throw this.failure!;
        }
        const r = waitAsync(ctl, CTL.DONE_COUNT, done, left);
        if (r.async) await r.value;
      }
    } finally {
      for (const w of this.workers) w.unref();
    }
  }

  /** Test hook: device `device` throws, exits or hangs at its next command. */
  failNext(device: number, mode: keyof typeof FAIL): void {
    Atomics.store(this.views.ctl, CTL.FAIL_MODE, FAIL[mode]);
    Atomics.store(this.views.ctl, CTL.FAIL_DEVICE, device + 1);
  }

  /** Stops every device; safe to call twice and after a failure. */
  async dispose(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const ctl = this.views.ctl;
    Atomics.store(ctl, CTL.QUIT, 1);
    Atomics.store(ctl, CTL.ABORT, 1);
    Atomics.add(ctl, CTL.SEQ, 1);
    Atomics.notify(ctl, CTL.SEQ);
    Atomics.notify(ctl, CTL.BAR_GEN);
    await Promise.all(this.workers.map((w) => w.terminate().catch(() => 0)));
  }

  /** Names the devices that did not finish command `seq`, apart from those only waiting for them. */
  private lateMessage(seq: number): string {
    const ctl = this.views.ctl;
    const late = this.workers.map((_, d) => d).filter((d) => Atomics.load(ctl, CTL.DONE + d) !== seq);
    const waiting = late.filter((d) => Atomics.load(ctl, waitWord(this.devices, d)) === 1);
    const stuck = late.filter((d) => !waiting.includes(d));
    const list = (ds: number[]) => `device${ds.length > 1 ? 's' : ''} ${ds.join(', ')}`;
    const also = waiting.length ? `; ${list(waiting)} waited for ${stuck.length > 1 ? 'them' : 'it'} at an all-reduce` : '';
    return `${list(stuck.length ? stuck : late)} did not answer within ${this.timeoutMs} ms (hung or overloaded${also})`;
  }

  private fail(message: string): void {
    if (this.closing || this.failure) return;
    this.failure = new BackendError(`${message}; the device group is unusable, start a new one`);
    const ctl = this.views.ctl;
    Atomics.store(ctl, CTL.ABORT, 1);
    Atomics.notify(ctl, CTL.BAR_GEN);
    Atomics.notify(ctl, CTL.DONE_COUNT); // wakes run()'s waitAsync
  }
}

/**
 * A device that could not start because of a bad bundle file (a predictor tensor holding NaN, say)
 * fails with the same error as one device would: the worker's BundleError / WeightError crosses
 * the thread boundary as a plain Error with its code and file kept, and is rebuilt here.
 */
function bundleErrorOf(err: Error): HireError | null {
  const {code, file} = err as Error & {code?: unknown; file?: unknown};
  if (typeof file !== 'string' || !err.message.startsWith(`${file}: `)) return null;
  const problem = err.message.slice(file.length + 2);
  if (code === 'E_BUNDLE') return new BundleError(file, problem, {cause: err});
  if (code === 'E_WEIGHTS') return new WeightError(file, problem);
  return null;
}

function whenReady(w: Worker, d: number): Promise<DeviceReady> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(bundleErrorOf(err) ?? new BackendError(`device ${d} could not start: ${err.message}`, {cause: err}));
    const onExit = (code: number) => reject(new BackendError(`device ${d} exited during start (code ${code})`));
    w.once('error', onError);
    w.once('exit', onExit);
    w.once('message', (m: DeviceReady) => {
      w.off('error', onError);
      w.off('exit', onExit);
      resolve(m);
    });
  });
}
