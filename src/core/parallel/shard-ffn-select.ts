/**
 * HiRE-FFN on one device of a group (docs/ARCHITECTURE.md, The method in brief: each device picks its
 * local top groups, with no global step). The device holds whole groups of every layer's neurons (the bundle's group size,
 * split strided by the shard plan) and the rows of each layer's FFN predictor that belong to them
 * (shard-predictor.ts). Per layer and token, on the device alone:
 *
 *   u~      = P_local x                      [gate~; up~] of the device's neurons (W_in~ ungated)
 *   scores  = neuronScores(u~ + b_local)     |act(gate~) * up~| or |act(u~)|, as on one device
 *   groups  = the device's static groups + its top kLocal dynamic groups by group score
 *   kLocal  = ceil(k'_g * localDyn / nDyn) + slack      (even split: ceil(k'_g / D) + slack)
 *
 * k'_g and the static count are the bundle's per-layer values at the FFN recall target; the slack
 * (default 1 group; none on one device) plays the part of DaT's softmax slack: when a token's best groups are not
 * spread evenly over the devices, the device holding more of them still reads them. A layer whose
 * plan reads every group (no k'_g reaches the recall target) runs the dense shard, as on one
 * device. Nothing is exchanged: the partial outputs meet in the all-reduce the FFN needs anyway.
 */
import path from 'node:path';
import type {Backend, Vec} from '../backends/backend.js';
import {BundleError, UsageError} from '../errors.js';
import {isBundle, readManifest} from '../hire/bundle/bundle.js';
import {kPrimeAt, readFfnPlans} from '../hire/bundle/ffn-section.js';
import {groupRows, pickGroups, type GroupPick, type GroupScore} from '../hire/ffn/groups.js';
import {UploadedPredictor} from '../hire/predictor/uploaded.js';
import type {ModelConfig} from '../model/config.js';
import {ffnBytes} from '../decode/weights.js';
import type {FfnSelector} from './shard-ffn.js';
import {sliceFfnPredictor} from './shard-predictor.js';
import type {ShardLayer, ShardWeights} from './shard-weights.js';

/** HiRE-FFN choices for a multi-device decode (the single-device names, plus the slack). */
export interface DistributedFfnOptions {
  /** 'auto' (default): HiRE-FFN on every device when the bundle has an FFN section; 'off': dense FFN shards. */
  ffn?: 'auto' | 'off';
  /** Mean FFN recall target that picks k'_g per layer (default 0.99). */
  ffnRecall?: number;
  /** Dynamic groups per layer over the whole FFN instead of the table's k'_g. */
  ffnKPrime?: number;
  /** Dynamic groups each device reads beyond its share of k'_g (default DEFAULT_FFN_SLACK). */
  ffnSlack?: number;
}

export const DEFAULT_FFN_SLACK = 1;

/**
 * The devices' HiRE-FFN plan from a bundle's FFN section (spec null: no section, or ffn 'off'),
 * the bundle's group size (whenever it has an FFN section: the shard plan splits by its groups
 * even with ffn 'off', so that top-k FFN decoding is the same with and without HiRE-FFN), and a
 * note when some layers reach the recall target only by reading every group.
 */
export function bundleFfnSpec(dir: string, config: ModelConfig, devices: number, o: DistributedFfnOptions = {}): {spec: DeviceFfnSpec | null; groupSize: number | null; note: string | null} {
  const none = {spec: null, groupSize: null, note: null};
  if (!isBundle(dir)) return none;
  const ffn = readManifest(dir, config).ffn;
  if (!ffn) return none;
  if (config.ffnLayout !== 'neuron-rows') {
    throw new BundleError(path.join(dir, 'config.json'), 'the bundle has an FFN section but its config.json lacks "hire_ffn_layout": "neuron-rows"; re-run hire calibrate');
  }
  if (o.ffn === 'off') return {...none, groupSize: ffn.groupSize};
  const target = o.ffnRecall ?? 0.99;
  if (!(target > 0 && target <= 1)) throw new UsageError(`ffnRecall must be in (0, 1], got ${target}`, {option: 'ffnRecall'});
  const slack = o.ffnSlack ?? DEFAULT_FFN_SLACK;
  if (!Number.isInteger(slack) || slack < 0) throw new UsageError(`ffnSlack must be an integer >= 0, got ${slack}`, {option: 'ffnSlack'});
  const nGroups = config.hiddenDim / ffn.groupSize;
  const k = o.ffnKPrime;
  if (k !== undefined && (!Number.isInteger(k) || k < 0 || k > nGroups)) throw new UsageError(`ffnKPrime ${k} must be an integer from 0 to the ${nGroups} groups`, {option: 'ffnKPrime'});
  const layers = ffn.layers.map((rec) => {
    const kPrime = k !== undefined ? k : (kPrimeAt(rec, target) ?? nGroups - rec.nStatic);
    return {nStatic: rec.nStatic, kPrime: Math.min(kPrime, nGroups - rec.nStatic)};
  });
  const full = ffn.layers.filter((r) => kPrimeAt(r, target) === null).length;
  const note = full > 0 && k === undefined ? `FFN: ${full} layers reach recall ${target} only by reading every group` : null;
  // one device reads exactly the single-device selection: no slack
  return {spec: {dir, groupSize: ffn.groupSize, score: ffn.score, layers, slack: devices > 1 ? slack : 0}, groupSize: ffn.groupSize, note};
}

/** What a device needs to run HiRE-FFN (resolved by the coordinator, see bundleFfnSpec). */
export interface DeviceFfnSpec {
  /** The bundle (its hire.safetensors holds the predictors). */
  dir: string;
  groupSize: number;
  score: GroupScore;
  /** Per layer, over the whole FFN: static groups and dynamic groups read per token (k'_g). */
  layers: {nStatic: number; kPrime: number}[];
  /** Dynamic groups each device reads beyond its share of k'_g. */
  slack: number;
}

/** A device's FFN work per token, as it reports it when ready. */
export interface DeviceFfnInfo {
  /** True when at least one layer selects groups (HiRE-FFN); false: dense FFN shard. */
  sparse: boolean;
  /** Per layer: neurons (rows) computed per step. */
  rows: number[];
  /** FFN weight bytes read per token: predictors plus the computed rows of W_gate, W_up, W_out^T. */
  bytesPerToken: number;
  /** The same FFN shard read densely. */
  denseBytesPerToken: number;
}

/** One layer's local plan; null entries in DeviceFfnSelector.layers run the dense shard. */
interface LocalLayer {
  predictor: UploadedPredictor;
  /**
   * How the device picks its groups: its neurons' b_gate / b_in and b_up host copies, its static
   * groups (nStatic) and dynamic share (kDyn = ceil(k'_g * its dynamic groups / all) + slack).
   */
  pick: GroupPick;
}

export class DeviceFfnSelector implements FfnSelector {
  private constructor(
    private readonly g: number,
    readonly layers: (LocalLayer | null)[],
  ) {}

  /** Reads the bundle's FFN predictors, keeps the device's rows and uploads them. */
  static async load(backend: Backend, config: ModelConfig, weights: ShardWeights, spec: DeviceFfnSpec): Promise<DeviceFfnSelector> {
    const {hiddenDim, nLayers} = config;
    const g = spec.groupSize;
    const ids = weights.ffnIds;
    const local = localGroups(ids, g);
    const nGroups = hiddenDim / g;
    const manifest = readManifest(spec.dir, config);
    const plans = readFfnPlans(spec.dir, manifest.ffn!, 1, config); // only the predictors are used: k'_g comes from spec
    const layers: (LocalLayer | null)[] = [];
    for (let l = 0; l < nLayers; l++) {
      const {nStatic, kPrime} = spec.layers[l]!;
      const layer = weights.layers[l]!;
      if (ids.length === 0 || nStatic + kPrime >= nGroups || !layer.wUp) {
        layers.push(null);
        continue;
      }
      const localStatic = local.filter((grp) => grp < nStatic).length;
      const localDyn = local.length - localStatic;
      const kLocal = Math.min(localDyn, Math.ceil((kPrime * localDyn) / (nGroups - nStatic)) + spec.slack);
      const gated = Boolean(layer.wGate);
      const host = async (v: Vec | undefined) => (v ? (await backend.read(v)).slice() : null);
      layers.push({
        predictor: new UploadedPredictor(backend, sliceFfnPredictor(plans[l]!.predictor, ids, hiddenDim, gated), {roundedX: true}),
        pick: {
          activation: config.activation,
          gated,
          bGate: await host(gated ? layer.bGate : layer.bUp),
          bUp: gated ? await host(layer.bUp) : null,
          groupSize: g,
          score: spec.score,
          nStatic: localStatic,
          kDyn: kLocal,
          scores: new Float32Array(ids.length),
          gScores: new Float32Array(local.length),
        },
      });
    }
    return new DeviceFfnSelector(g, layers);
  }

  /** The device's rows to compute for layer l (whole groups, read four side by side: groupRows), or null for all. */
  async select(l: number, input: Vec): Promise<Int32Array | null> {
    const s = this.layers[l];
    if (!s) return null;
    return groupRows(pickGroups(await s.predictor.predict(input), s.pick), this.g);
  }

  /** Rows and bytes per token (the selection size is fixed per layer: static + its dynamic share). */
  info(weights: ShardWeights): DeviceFfnInfo {
    const dense = denseFfnInfo(weights);
    const rows = this.layers.map((s, l) => (s ? (s.pick.nStatic + s.pick.kDyn) * this.g : dense.rows[l]!));
    const bytes = this.layers.reduce((a, s, l) => {
      const layer = weights.layers[l]!;
      return a + (s ? s.predictor.bytes + rows[l]! * rowBytes(layer) : ffnBytes(layer));
    }, 0);
    return {sparse: this.layers.some((s) => s !== null), rows, bytesPerToken: bytes, denseBytesPerToken: dense.denseBytesPerToken};
  }
}

/** A device without HiRE-FFN: every local neuron of every layer. */
export function denseFfnInfo(weights: ShardWeights): DeviceFfnInfo {
  const bytes = weights.layers.reduce((a, l) => a + ffnBytes(l), 0);
  return {sparse: false, rows: weights.layers.map(() => weights.ffnIds.length), bytesPerToken: bytes, denseBytesPerToken: bytes};
}

/** Global group ids of the device's local groups, in local order (the neurons must come in whole groups). */
export function localGroups(ids: Int32Array, g: number): number[] {
  if (ids.length % g !== 0) throw new RangeError(`the device holds ${ids.length} FFN neurons, not whole groups of ${g}`);
  const out: number[] = [];
  for (let j = 0; j < ids.length; j += g) {
    const grp = ids[j]! / g;
    for (let i = 0; i < g; i++) {
      if (ids[j + i] !== grp * g + i) throw new RangeError(`FFN neurons ${ids[j]}..${ids[j + g - 1]} of a device are not one whole group of ${g}`);
    }
    out.push(grp);
  }
  return out;
}

/** Bytes of one neuron's row in every FFN matrix of the device's layer. */
function rowBytes(l: ShardLayer): number {
  return l.wUp ? ffnBytes(l) / l.wUp.rows : 0;
}
