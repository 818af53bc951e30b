/**
 * One device's side of the protocol, shared by both kinds of device: the worker threads of
 * devices.ts (device-worker.ts) and the in-process WebGPU devices of local-devices.ts. loadDevice
 * reads the device's shard of the checkpoint (and of the softmax and HiRE-FFN predictors) onto a
 * backend the caller made; DeviceRunner.serve runs one command (protocol.ts OP.*) against the
 * exchange regions of the Views.
 */
import type {Backend, Vec} from '../backends/backend.js';
import {syntheticPredictor, type SyntheticPredictorSpec} from '../hire/predictor/synthetic.js';
import {readManifest, readPredictor, type ManifestModel} from '../hire/bundle/bundle.js';
import type {SoftmaxPredictor} from '../hire/predictor/predictor.js';
import {openModel} from '../model/load.js';
import {countWord, HEAD_OP, OP, type Views} from './protocol.js';
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

/** What a device needs to know to load its shard (besides its backend and collectives). */
export interface DeviceSetup {
  device: number;
  modelDir: string;
  plan: ShardPlan;
  ffnTopK: 'exact' | 'dat';
  head: DeviceHeadSpec;
  /** HiRE-FFN: the bundle's per-layer plan (null: every device computes all its neurons). */
  ffn: DeviceFfnSpec | null;
}

/** What a loaded device reports: its backend, weight bytes, FFN rows and bytes per token. */
export interface DeviceReady {
  type: 'ready';
  describe: string;
  weightBytes: number;
  ffn: DeviceFfnInfo;
}

async function loadPredictor(s: DeviceSetup, config: ManifestModel): Promise<SoftmaxPredictor | null> {
  const h = s.head;
  const range = s.plan.shards[s.device]!.vocab;
  if (h.kind === 'dense') return null;
  if (h.kind === 'synthetic') return slicePredictor(syntheticPredictor(h.spec), range);
  return slicePredictor(readPredictor(h.dir, readManifest(h.dir, config), h.predictor), range);
}

/** Loads device s.device's shard onto `backend`; the runner owns the backend from then on. */
export async function loadDevice(s: DeviceSetup, backend: Backend, coll: Collectives): Promise<{runner: DeviceRunner; ready: DeviceReady}> {
  const source = openModel(s.modelDir, {ffnNeuronRows: true});
  try {
    const shard = s.plan.shards[s.device]!;
    const weights = loadShardWeights(source, shard, backend);
    const predictor = await loadPredictor(s, source.config);
    const selector = s.ffn ? await DeviceFfnSelector.load(backend, source.config, weights, s.ffn) : null;
    const model = new ShardModel(source.config, weights, backend, shard, coll, predictor, {ffnTopK: s.ffnTopK, ffnSelector: selector});
    const ffn = selector ? selector.info(weights) : denseFfnInfo(weights);
    return {runner: new DeviceRunner(model, s.device), ready: {type: 'ready', describe: backend.describe(), weightBytes: weights.bytes, ffn}};
  } finally {
    source.checkpoint.close();
  }
}

/** Serves the protocol's commands for one device. */
export class DeviceRunner {
  /** The hidden state of the last STEP (EXACT_ROWS and HEAD read it). */
  private lastHidden: Vec | null = null;

  constructor(
    readonly model: ShardModel,
    readonly device: number,
  ) {}

  /** Runs command `op` with integer arguments arg(0..7). */
  async serve(v: Views, op: number, arg: (i: number) => number): Promise<void> {
    const {model, device} = this;
    const devices = v.partial[0]!.length;
    const dim = model.config.dim;
    switch (op) {
      case OP.RESET:
        model.reset(arg(0));
        return;
      case OP.STEP: {
        const [n, pos0] = [arg(0), arg(1)];
        for (let t = 0; t < n; t++) this.lastHidden = await model.hidden(v.xin.subarray(t * dim, (t + 1) * dim), pos0 + t);
        await this.head(v, arg(2), arg(3), devices);
        return;
      }
      case OP.HEAD:
        await this.head(v, arg(0), arg(1), devices);
        return;
      case OP.EXACT_ROWS: {
        const n = Atomics.load(v.ctl, countWord(devices, device));
        v.candVals[device]!.set(await model.exactRows(v.candIds[device]!.slice(0, n), this.hidden()));
        return;
      }
      default:
        throw new Error(`unknown command ${op}`);
    }
  }

  dispose(): void {
    this.model.dispose();
  }

  private hidden(): Vec {
    if (!this.lastHidden) throw new Error('no hidden state yet: run a STEP first');
    return this.lastHidden;
  }

  /** The output layer on the last hidden state: dense logits, approximate scores, or a DaT list of m. */
  private async head(v: Views, headOp: number, m: number, devices: number): Promise<void> {
    const {model, device} = this;
    const vocab = model.shard.vocab;
    if (headOp === HEAD_OP.NONE) return;
    const h = this.hidden();
    if (headOp === HEAD_OP.DENSE) scatter(v.logits, vocab, await model.denseLogits(h));
    else if (headOp === HEAD_OP.APPROX) scatter(v.logits, vocab, await model.approxScores(h));
    else if (headOp === HEAD_OP.DAT) {
      const list = await model.datList(h, m);
      v.candIds[device]!.set(list.ids);
      v.candVals[device]!.set(list.values);
      Atomics.store(v.ctl, countWord(devices, device), list.ids.length);
    }
  }
}

/** Writes a device's rows into the whole-vocabulary buffer. */
function scatter(out: Float32Array, s: VocabSlice, local: Float32Array): void {
  if (s.stride === 1) out.set(local, s.start);
  else for (let i = 0; i < local.length; i++) out[s.start + i * s.stride] = local[i]!;
}
