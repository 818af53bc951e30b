/**
 * WebGPU devices in the main thread: N device objects in-process, each with its own webgpu backend
 * on its own GPUDevice, its own weight shard and its own ShardModel (device-runner.ts, the code the
 * worker devices run). Worker threads are not used for WebGPU because Dawn (the `webgpu` package)
 * aborts the process now and then when a worker thread holding a Dawn instance shuts down.
 *
 * One JS thread queues every device's work; GPU work is asynchronous, so the devices' commands
 * still overlap on a real GPU: run() starts every device's step at once (Promise.all) and each
 * device yields whenever it waits for a GPU result or for its peers at a collective. The
 * collectives meet through promises (Rendezvous below): the last device to contribute resolves
 * everyone, with partial sums added in device order, so every device holds the same bits (as with
 * the worker devices). The vectors still cross from one GPUDevice to another (read back, summed,
 * written), so DistributedModel counts the bytes moved between devices exactly as for workers.
 *
 * Adapters: device.ts opens the one adapter it picks (a GPU where there is one, else llvmpipe);
 * each device requests its own GPUDevice from it, and describe() says how many adapters that was.
 */
import type {Backend} from '../backends/backend.js';
import {createBackend} from '../backends/index.js';
import {BackendError} from '../errors.js';
import type {TopList} from './dat-top-k.js';
import {DeviceRunner, loadDevice, type DeviceReady} from './device-runner.js';
import type {DeviceGroupOptions} from './devices.js';
import {FAIL, makeLayout, makeViews, type DeviceDriver, type Layout, type Views} from './protocol.js';
import type {Collectives} from './shard-model.js';

/** A device stopped because a peer failed or the group was disposed (not the failure itself). */
class Aborted extends Error {}

interface Round {
  values: unknown[];
  arrived: number;
  promise: Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/**
 * Where the devices' collectives meet: the c-th collective of every device is round c (every
 * device calls them in the same sequence). The last device to arrive combines the values (in
 * device order) and resolves the round for all.
 */
export class Rendezvous {
  private readonly rounds = new Map<number, Round>();
  private failure: Error | null = null;

  constructor(readonly devices: number) {}

  meet<V, R>(round: number, device: number, value: V, combine: (values: V[]) => R): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    let r = this.rounds.get(round);
    if (!r) {
      let resolve!: (v: unknown) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<unknown>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined); // a round nobody awaits any more must not be an unhandled rejection
      r = {values: new Array<unknown>(this.devices), arrived: 0, promise, resolve, reject};
      this.rounds.set(round, r);
    }
    r.values[device] = value;
    if (++r.arrived === this.devices) {
      this.rounds.delete(round);
      try {
        r.resolve(combine(r.values as V[]));
      } catch (error) {
        r.reject(error as Error);
      }
    }
    return r.promise as Promise<R>;
  }

  /** Devices waiting for their peers at a collective now. */
  waiting(): number[] {
    const out: number[] = [];
    for (const r of this.rounds.values()) r.values.forEach((v, d) => v !== undefined && out.push(d));
    return out;
  }

  /** Rejects every waiting device, now and later. */
  abort(reason: Error): void {
    this.failure ??= reason;
    for (const r of this.rounds.values()) r.reject(this.failure);
    this.rounds.clear();
  }
}

/** One device's collectives over a Rendezvous. */
class LocalCollectives implements Collectives {
  private count = 0;
  constructor(
    private readonly r: Rendezvous,
    private readonly device: number,
  ) {}

  allReduce(partial: Float32Array): Promise<Float32Array> {
    return this.r.meet(this.count++, this.device, partial.slice(), (parts) => {
      const sum = new Float32Array(partial.length);
      for (const p of parts) for (let i = 0; i < sum.length; i++) sum[i]! += p[i]!;
      return sum;
    });
  }

  allGather(list: TopList): Promise<TopList[]> {
    return this.r.meet(this.count++, this.device, {ids: list.ids.slice(), values: list.values.slice()}, (lists) => lists);
  }
}

/** "2 GPUDevices from one adapter (...)" or "2 GPUDevices on 2 adapters (...; ...)". */
export function describeGpus(descriptions: string[]): string {
  const n = descriptions.length;
  const adapters = [...new Set(descriptions)];
  const gpus = `${n} GPUDevice${n > 1 ? 's' : ''}`;
  if (adapters.length === 1) return `${gpus} ${n > 1 ? 'from one adapter' : 'on one adapter'} (${adapters[0]})`;
  return `${gpus} on ${adapters.length} adapters (${adapters.join('; ')})`;
}

export class LocalDeviceGroup implements DeviceDriver {
  private failure: BackendError | null = null;
  private closing = false;
  private failHook: {device: number; mode: keyof typeof FAIL} | null = null;

  private constructor(
    readonly layout: Layout,
    readonly views: Views,
    private readonly rendezvous: Rendezvous,
    private readonly runners: DeviceRunner[],
    private readonly backends: Backend[],
    readonly ready: DeviceReady[],
    private readonly timeoutMs: number,
  ) {}

  /** Opens one GPUDevice and webgpu backend per device and loads each device's shard onto it. */
  static async start(o: DeviceGroupOptions): Promise<LocalDeviceGroup> {
    const devices = o.plan.devices;
    const layout = makeLayout({...o.layout, devices});
    const views = makeViews(new SharedArrayBuffer(layout.bytes), layout);
    const rendezvous = new Rendezvous(devices);
    const runners: DeviceRunner[] = [];
    const ready: DeviceReady[] = [];
    const backends: Backend[] = [];
    try {
      for (let d = 0; d < devices; d++) {
        try {
          const backend = await createBackend(o.backend);
          backends.push(backend);
          const setup = {device: d, modelDir: o.modelDir, plan: o.plan, ffnTopK: o.ffnTopK, head: o.head, ffn: o.ffn ?? null};
          const loaded = await loadDevice(setup, backend, new LocalCollectives(rendezvous, d));
          runners.push(loaded.runner);
          ready.push(loaded.ready);
        } catch (error) {
          throw new BackendError(`device ${d} could not start: ${(error as Error).message}`, {cause: error});
        }
      }
      return new LocalDeviceGroup(layout, views, rendezvous, runners, backends, ready, o.timeoutMs ?? 120_000);
    } catch (error) {
      for (const b of backends) b.dispose();
      throw error;
    }
  }

  get devices(): number {
    return this.layout.devices;
  }

  describe(): string {
    const n = this.devices;
    return `${n} device${n > 1 ? 's' : ''} in-process: ${describeGpus(this.backends.map((b) => b.hardware ?? b.describe()))}, ${this.ready[0]!.describe} each`;
  }

  /** Runs command `op` on every device at once; resolves when all are done. */
  async run(op: number, args: readonly number[] = []): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closing) throw new BackendError('device group used after dispose()');
    const arg = (i: number) => args[i] ?? 0;
    const done = new Array<boolean>(this.devices).fill(false);
    const tasks = this.runners.map(async (runner, d) => {
      try {
        await this.hook(d);
        await runner.serve(this.views, op, arg);
        done[d] = true;
      } catch (error) {
        if (error instanceof Aborted || this.failure) throw this.failure ?? error;
        throw this.fail(`device ${d} failed: ${(error as Error).message}`, error);
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(this.fail(this.lateMessage(done)));
      }, this.timeoutMs);
    });
    try {
      await Promise.race([Promise.all(tasks), late]);
    } catch (error) {
      throw this.failure ?? error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Test hook: device `device` throws (THROW), stops answering (HANG), or loses its GPUDevice
   * (EXIT: the in-process counterpart of a worker exiting; its GPUDevice is destroyed) at its next command.
   */
  failNext(device: number, mode: keyof typeof FAIL): void {
    this.failHook = {device, mode};
  }

  /** Disposes every device's backend (destroying its GPUDevice); safe to call twice and after a failure. */
  async dispose(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.rendezvous.abort(new Aborted('the device group was disposed'));
    for (const r of this.runners) r.dispose();
  }

  /** Names the devices that did not finish, apart from those only waiting for them at a collective. */
  private lateMessage(done: boolean[]): string {
    const late = done.flatMap((ok, d) => (ok ? [] : [d]));
    const waiting = new Set(this.rendezvous.waiting());
    const stuck = late.filter((d) => !waiting.has(d));
    const waited = late.filter((d) => waiting.has(d));
    const list = (ds: number[]) => `device${ds.length > 1 ? 's' : ''} ${ds.join(', ')}`;
    const also = waited.length && stuck.length ? `; ${list(waited)} waited for ${stuck.length > 1 ? 'them' : 'it'} at an all-reduce` : '';
    return `${list(stuck.length ? stuck : late)} did not answer within ${this.timeoutMs} ms (GPU hung or overloaded${also})`;
  }

  private async hook(d: number): Promise<void> {
    const h = this.failHook;
    if (!h || h.device !== d) return;
    this.failHook = null;
    if (h.mode === 'THROW') throw new Error(`device ${d}: test hook threw on purpose`);
    if (h.mode === 'EXIT') this.backends[d]!.loseDevice?.();
    if (h.mode === 'HANG') await new Promise<never>(() => undefined);
  }

  /** Marks the group failed (first failure wins) and stops the devices waiting for their peers. */
  private fail(message: string, cause?: unknown): BackendError {
    if (!this.failure && !this.closing) {
      this.failure = new BackendError(`${message}; the device group is unusable, start a new one`, cause === undefined ? undefined : {cause});
      this.rendezvous.abort(new Aborted('a peer device failed'));
    }
    return this.failure ?? new BackendError(message);
  }
}
