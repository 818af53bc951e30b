/**
 * Entry point of one device worker (a worker thread started by devices.ts from the compiled
 * dist/core/dist/device-worker.js). It creates its own backend with one thread, loads only its
 * shard of the checkpoint (and of the softmax and HiRE-FFN predictors), posts 'ready' (with its
 * FFN rows and bytes per token), then serves commands
 * from the shared control block until QUIT. A failure sets ABORT (so peers waiting at a barrier
 * give up) and is rethrown, which the coordinator sees as the worker's 'error' event.
 */
import {parentPort, workerData} from 'node:worker_threads';
import {createBackend} from '../backends/index.js';
import type {Vec} from '../backends/backend.js';
import {syntheticPredictor, type SyntheticPredictorSpec} from '../bench/synthetic-predictor.js';
import {readManifest, readPredictor} from '../hire/bundle.js';
import type {SoftmaxPredictor} from '../hire/softmax-predictor.js';
import {openModel} from '../model/load.js';
import {countWord, CTL, FAIL, HEAD_OP, makeViews, OP, waitWord, type Layout, type Views} from './protocol.js';
import type {TopList} from './dat-top-k.js';
import type {ShardPlan, VocabSlice} from './shard-plan.js';
import {denseFfnInfo, DeviceFfnSelector, type DeviceFfnInfo, type DeviceFfnSpec} from './shard-ffn-select.js';
import {ShardModel, type Collectives} from './shard-model.js';
import {slicePredictor} from './shard-predictor.js';
import {loadShardWeights} from './shard-weights.js';

/** Where the output layer's predictor comes from. */
export type DeviceHeadSpec =
  | {kind: 'dense'}
  | {kind: 'bundle'; dir: string; predictor: string}
  | {kind: 'synthetic'; spec: SyntheticPredictorSpec};

export interface DeviceInit {
  device: number;
  modelDir: string;
  backend: string;
  plan: ShardPlan;
  layout: Layout;
  buffer: SharedArrayBuffer;
  ffnTopK: 'exact' | 'dat';
  head: DeviceHeadSpec;
  /** HiRE-FFN: the bundle's per-layer plan (null: every device computes all its neurons). */
  ffn: DeviceFfnSpec | null;
  /** Polls at a barrier before Atomics.wait (0 unless a core is left for the coordinator). */
  spin: number;
}

export interface DeviceReady {
  type: 'ready';
  describe: string;
  weightBytes: number;
  ffn: DeviceFfnInfo;
}

class Aborted extends Error {}

/** The hidden state of the last STEP (EXACT_ROWS reads it). */
let lastHidden: Vec | null = null;

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

async function loadPredictor(init: DeviceInit, vocabSize: number, dim: number): Promise<SoftmaxPredictor | null> {
  const h = init.head;
  const range = init.plan.shards[init.device]!.vocab;
  if (h.kind === 'dense') return null;
  if (h.kind === 'synthetic') return slicePredictor(syntheticPredictor(h.spec), range);
  return slicePredictor(readPredictor(h.dir, readManifest(h.dir, {vocabSize, dim}), h.predictor), range);
}

async function main(): Promise<void> {
  const init = workerData as DeviceInit;
  const {device, layout} = init;
  const v = makeViews(init.buffer, layout);
  const ctl = v.ctl;
  // Read SEQ before saying 'ready': the coordinator may publish its first command right after.
  let seq = Atomics.load(ctl, CTL.SEQ);
  const source = openModel(init.modelDir, {ffnNeuronRows: true});
  let model: ShardModel;
  try {
    const backend = await createBackend(init.backend, {threads: 1});
    const shard = init.plan.shards[device]!;
    const weights = loadShardWeights(source, shard, backend);
    const predictor = await loadPredictor(init, source.config.vocabSize, source.config.embedDim);
    const selector = init.ffn ? await DeviceFfnSelector.load(backend, source.config, weights, init.ffn) : null;
    const coll = new SharedCollectives(v, device, layout.devices, init.spin);
    model = new ShardModel(source.config, weights, backend, shard, coll, predictor, {ffnTopK: init.ffnTopK, ffnSelector: selector});
    const ffn = selector ? selector.info(weights) : denseFfnInfo(weights);
    parentPort!.postMessage({type: 'ready', describe: backend.describe(), weightBytes: weights.bytes, ffn} satisfies DeviceReady);
  } finally {
    source.checkpoint.close();
  }

  const arg = (i: number) => Atomics.load(ctl, CTL.ARG + i);
  for (;;) {
    // No spinning between commands: the coordinator needs the core then (sampling, merging).
    while (Atomics.load(ctl, CTL.SEQ) === seq) Atomics.wait(ctl, CTL.SEQ, seq, 200);
    seq = Atomics.load(ctl, CTL.SEQ);
    if (Atomics.load(ctl, CTL.QUIT) !== 0) break;
    try {
      failHook(ctl, device);
      await serve(model, v, Atomics.load(ctl, CTL.OP), arg, device);
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
  model.dispose();
}

/** Runs one command. */
async function serve(model: ShardModel, v: Views, op: number, arg: (i: number) => number, device: number): Promise<void> {
  const {devices, dim} = {devices: v.partial[0]!.length, dim: model.config.dim};
  switch (op) {
    case OP.RESET:
      model.reset(arg(0));
      return;
    case OP.STEP: {
      const [n, pos0] = [arg(0), arg(1)];
      for (let t = 0; t < n; t++) lastHidden = await model.hidden(v.xin.subarray(t * dim, (t + 1) * dim), pos0 + t);
      await head(model, v, arg(2), arg(3), device, devices);
      return;
    }
    case OP.HEAD:
      await head(model, v, arg(0), arg(1), device, devices);
      return;
    case OP.EXACT_ROWS: {
      const n = Atomics.load(v.ctl, countWord(devices, device));
      v.candVals[device]!.set(await model.exactRows(v.candIds[device]!.slice(0, n), lastHidden!));
      return;
    }
    default:
      throw new Error(`unknown command ${op}`);
  }
}

/** The output layer on the last hidden state: dense logits, approximate scores, or a DaT list of m. */
async function head(model: ShardModel, v: Views, headOp: number, m: number, device: number, devices: number): Promise<void> {
  const vocab = model.shard.vocab;
  if (headOp === HEAD_OP.NONE) return;
  if (!lastHidden) throw new Error('no hidden state yet: run a STEP first');
  if (headOp === HEAD_OP.DENSE) scatter(v.logits, vocab, await model.denseLogits(lastHidden));
  else if (headOp === HEAD_OP.APPROX) scatter(v.logits, vocab, await model.approxScores(lastHidden));
  else if (headOp === HEAD_OP.DAT) {
    const list = await model.datList(lastHidden, m);
    v.candIds[device]!.set(list.ids);
    v.candVals[device]!.set(list.values);
    Atomics.store(v.ctl, countWord(devices, device), list.ids.length);
  }
}

/** Writes a device's rows into the whole-vocabulary buffer. */
function scatter(out: Float32Array, s: VocabSlice, local: Float32Array): void {
  if (s.stride === 1) out.set(local, s.start);
  else for (let i = 0; i < local.length; i++) out[s.start + i * s.stride] = local[i]!;
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
