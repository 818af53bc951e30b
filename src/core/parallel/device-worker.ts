/**
 * Entry point of one device worker (a worker thread started by devices.ts from the compiled
 * dist/core/parallel/device-worker.js). It creates its own backend with one thread, loads only its
 * shard of the checkpoint (and of the softmax and HiRE-FFN predictors), posts 'ready' (with its
 * FFN rows and bytes per token), then serves commands
 * from the shared control block until QUIT. A failure sets ABORT (so peers waiting at a barrier
 * give up) and is rethrown, which the coordinator sees as the worker's 'error' event.
 */
import {parentPort, workerData} from 'node:worker_threads';
import {createBackend} from '../backends/index.js';
import {loadDevice, type DeviceReady, type DeviceSetup} from './device-runner.js';
import {CTL, FAIL, makeViews, waitWord, type Layout, type Views} from './protocol.js';
import type {TopList} from './dat-top-k.js';
import type {Collectives} from './shard-model.js';

export type {DeviceHeadSpec, DeviceReady} from './device-runner.js';

export interface DeviceInit extends DeviceSetup {
  backend: string;
  layout: Layout;
  buffer: SharedArrayBuffer;
  /** Polls at a barrier before Atomics.wait (0 unless a core is left for the coordinator). */
  spin: number;
}

class Aborted extends Error {}

/** Barrier and collectives over the shared regions; `seq` counts collectives for the parity. */
class SharedCollectives implements Collectives {
  private count = 0;
  constructor(
    private readonly v: Views,
    private readonly device: number,
    private readonly devices: number,
    private readonly spin: number,
  ) {}

  allReduce(partial: Float32Array): Float32Array {
    const slots = this.v.partial[this.count++ & 1]!;
    slots[this.device]!.set(partial);
    this.barrier();
    const sum = new Float32Array(partial.length);
    for (const slot of slots) for (let i = 0; i < sum.length; i++) sum[i]! += slot[i]!;
    return sum;
  }

  allGather(list: TopList): TopList[] {
    const parity = this.count++ & 1;
    const [ids, vals] = [this.v.ffnIds[parity]!, this.v.ffnVals[parity]!];
    ids[this.device]![0] = list.ids.length;
    ids[this.device]!.set(list.ids, 1);
    vals[this.device]!.set(list.values, 1);
    this.barrier();
    return ids.map((slot, d) => {
      const n = slot[0]!;
      return {ids: slot.slice(1, 1 + n), values: vals[d]!.slice(1, 1 + n)};
    });
  }

  /** Sense-reversing barrier: the last device to arrive opens the next generation. */
  barrier(): void {
    const ctl = this.v.ctl;
    if (this.devices === 1) return;
    const gen = Atomics.load(ctl, CTL.BAR_GEN);
    if (Atomics.add(ctl, CTL.BAR_COUNT, 1) === this.devices - 1) {
      Atomics.store(ctl, CTL.BAR_COUNT, 0);
      Atomics.add(ctl, CTL.BAR_GEN, 1);
      Atomics.notify(ctl, CTL.BAR_GEN);
      return;
    }
    let polls = 0;
    const waiting = waitWord(this.devices, this.device);
    Atomics.store(ctl, waiting, 1);
    try {
      while (Atomics.load(ctl, CTL.BAR_GEN) === gen) {
        if (Atomics.load(ctl, CTL.ABORT) !== 0) throw new Aborted('a peer device failed');
        if (polls++ < this.spin) continue;
        Atomics.wait(ctl, CTL.BAR_GEN, gen, 50);
      }
    } finally {
      Atomics.store(ctl, waiting, 0);
    }
  }
}

async function main(): Promise<void> {
  const init = workerData as DeviceInit;
  const {device, layout} = init;
  const v = makeViews(init.buffer, layout);
  const ctl = v.ctl;
  // Read SEQ before saying 'ready': the coordinator may publish its first command right after.
  let seq = Atomics.load(ctl, CTL.SEQ);
  const backend = await createBackend(init.backend, {threads: 1});
  const coll = new SharedCollectives(v, device, layout.devices, init.spin);
  const {runner, ready} = await loadDevice(init, backend, coll);
  parentPort!.postMessage(ready satisfies DeviceReady);

  const arg = (i: number) => Atomics.load(ctl, CTL.ARG + i);
  for (;;) {
    // No spinning between commands: the coordinator needs the core then (sampling, merging).
    while (Atomics.load(ctl, CTL.SEQ) === seq) Atomics.wait(ctl, CTL.SEQ, seq, 200);
    seq = Atomics.load(ctl, CTL.SEQ);
    if (Atomics.load(ctl, CTL.QUIT) !== 0) break;
    try {
      failHook(ctl, device);
      await runner.serve(v, Atomics.load(ctl, CTL.OP), arg);
    } catch (error) {
      if (!(error instanceof Aborted)) {
        Atomics.store(ctl, CTL.ABORT, 1);
        Atomics.notify(ctl, CTL.BAR_GEN);
        throw error;
      }
    }
    Atomics.store(ctl, CTL.DONE + device, seq);
    Atomics.add(ctl, CTL.DONE_COUNT, 1);
    Atomics.notify(ctl, CTL.DONE_COUNT);
  }
  runner.dispose();
}

/** Test hook: devices.ts's failNext() makes one device throw, exit or hang at its next command. */
function failHook(ctl: Int32Array, device: number): void {
  if (Atomics.load(ctl, CTL.FAIL_DEVICE) !== device + 1) return;
  const mode = Atomics.load(ctl, CTL.FAIL_MODE);
  Atomics.store(ctl, CTL.FAIL_DEVICE, 0);
  if (mode === FAIL.THROW) throw new Error(`device ${device}: test hook threw on purpose`);
  if (mode === FAIL.EXIT) process.exit(3);
  if (mode === FAIL.HANG) for (;;) Atomics.wait(ctl, CTL.QUIT, 0, 1000);
}

void main();
