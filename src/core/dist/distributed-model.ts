/**
 * A model decoded on several devices (DESIGN.md section 4). The coordinator holds only the
 * embedding table: it broadcasts each token's embedding, the devices run the layers on their
 * shards (all-reducing among themselves), and the output layer runs in one of three ways:
 *
 *   dense        every device's exact logits are gathered (V floats)
 *   HiRE exact   every device's approximate scores are gathered, the coordinator takes the global
 *                top-k' and scatters each device its candidate ids, the devices return exact logits
 *   HiRE DaT     every device takes its local top-(ceil(k'/D) + slack) and returns (id, logit)
 *                pairs; the coordinator merges the D short lists and keeps the best k'
 *
 * The FFN: on a bundle with an FFN section the neurons are split in whole groups of the bundle's
 * group size, strided so that every device holds its share of each layer's static groups, and
 * (unless ffn 'off') each device runs HiRE-FFN: it picks its own groups with its own predictor
 * rows, no global step (shard-ffn-select.ts). Otherwise every device computes all its neurons.
 *
 * It also counts the bytes that cross between devices (and the coordinator) per token.
 */
import type {HeadResult, HeadStats} from '../decode/output-head.js';
import {topKIndices} from '../decode/sampler.js';
import {UsageError} from '../errors.js';
import type {ModelConfig} from '../model/config.js';
import {openModel} from '../model/load.js';
import {readHostMatrix} from '../model/weights.js';
import type {HostMatrix} from '../backends/backend.js';
import {halfToFloat32} from '../safetensors/index.js';
import {datListSize, mergeTopK, softmaxBytes, type TopList} from './dat-top-k.js';
import type {DeviceHeadSpec} from './device-runner.js';
import {DeviceGroup, type DeviceGroupOptions} from './devices.js';
import {countWord, HEAD_OP, OP, type DeviceDriver} from './protocol.js';
import {bundleFfnSpec, type DeviceFfnInfo, type DeviceFfnSpec, type DistributedFfnOptions} from './shard-ffn-select.js';
import {makeShardPlan, sliceLocal, type ShardPlan, type VocabLayout} from './shard-plan.js';

export type TopKMode = 'exact' | 'dat';

/** The output layer: dense, or HiRE with the devices' predictor shards. */
export type DistributedHead = {kind: 'dense'} | {kind: 'hire'; source: DeviceHeadSpec; name: string; kPrime: number; slack: number};

export interface DistributedOptions {
  modelDir: string;
  devices: number;
  /** Backend of every device: cpu (default), tfjs or reference (one worker thread each), or webgpu (one GPUDevice each, in-process). */
  backend?: string;
  topk: TopKMode;
  head: DistributedHead;
  /** How the vocabulary is split over the devices (default strided). */
  vocabLayout?: VocabLayout;
  /** HiRE-FFN on the devices (default: on when the bundle has an FFN section). */
  ffn?: DistributedFfnOptions;
  /** Tokens per STEP command while prefilling (default 32). */
  maxBatch?: number;
  timeoutMs?: number;
}

/** Bytes moved between devices and the coordinator for one decoded token, by kind. */
export interface TokenTraffic {
  /** The token's embedding broadcast to every device. */
  input: number;
  /** Partial sums read from the other devices (two all-reduces per layer). */
  allReduce: number;
  /** Top-k FFN lists exchanged in exact mode. */
  ffnTopK: number;
  /** Output layer: logits, scores, candidate ids, (id, value) pairs. */
  softmax: number;
  total: number;
}

/** The FFN as the devices run it. */
export interface DistributedFfnReport {
  /** HiRE-FFN (per-device group selection) on at least one layer of some device. */
  sparse: boolean;
  describe: string;
  /** Each device's FFN rows and weight bytes per token (DeviceFfnInfo), in device order. */
  devices: DeviceFfnInfo[];
}

export class DistributedModel {
  private steps = 0;
  private candidates = 0;
  private softmaxTotal = 0;

  private constructor(
    readonly config: ModelConfig,
    readonly plan: ShardPlan,
    readonly group: DeviceDriver,
    private readonly opts: DistributedOptions,
    private readonly embed: HostMatrix,
    private readonly positions: HostMatrix | null,
    private readonly ffnSpec: DeviceFfnSpec | null,
    /** Caveats for the user: the shard plan's and the FFN plan's. */
    readonly notes: string[],
  ) {}

  static async open(o: DistributedOptions): Promise<DistributedModel> {
    if (!Number.isInteger(o.devices) || o.devices < 1 || o.devices > 64) throw new UsageError(`devices must be an integer from 1 to 64, got ${o.devices}`, {option: 'devices'});
    const source = openModel(o.modelDir);
    let embed: HostMatrix;
    let positions: HostMatrix | null = null;
    const c = source.config;
    try {
      embed = readHostMatrix(source.checkpoint, source.specs.find((s) => s.key === 'embed')!);
      const pos = source.specs.find((s) => s.key === 'positions');
      if (pos) positions = readHostMatrix(source.checkpoint, pos);
    } finally {
      source.checkpoint.close();
    }
    if (o.head.kind === 'hire' && (o.head.kPrime < 1 || o.head.kPrime > c.vocabSize)) {
      throw new UsageError(`k' = ${o.head.kPrime} must be in 1..${c.vocabSize}`);
    }
    const ffn = bundleFfnSpec(o.modelDir, c, o.devices, o.ffn);
    const plan = makeShardPlan(c, o.devices, {vocabLayout: o.vocabLayout, ...(ffn.groupSize ? {ffnGroupSize: ffn.groupSize, ffnLayout: 'strided'} : {})});
    const listCap = Math.max(...plan.shards.map((s) => s.vocab.count));
    const kf = c.ffnTopK === null ? 1 : Math.max(1, Math.round(c.ffnTopK * c.hiddenDim));
    const groupOptions: DeviceGroupOptions = {
      modelDir: o.modelDir,
      plan,
      backend: o.backend ?? 'cpu',
      layout: {dim: c.dim, maxBatch: o.maxBatch ?? 32, vocabSize: c.vocabSize, ffnList: kf, listCap},
      ffnTopK: o.topk,
      head: o.head.kind === 'dense' ? {kind: 'dense'} : o.head.source,
      ffn: ffn.spec,
      timeoutMs: o.timeoutMs,
    };
    // WebGPU devices live in this thread (Dawn cannot be shut down safely from worker threads);
    // the others are worker threads. Loaded on demand: only webgpu needs the webgpu backend.
    const group: DeviceDriver =
      groupOptions.backend === 'webgpu' ? await (await import('./local-devices.js')).LocalDeviceGroup.start(groupOptions) : await DeviceGroup.start(groupOptions);
    return new DistributedModel(c, plan, group, o, embed, positions, ffn.spec, [...plan.notes, ...(ffn.note ? [ffn.note] : [])]);
  }

  get devices(): number {
    return this.plan.devices;
  }

  describe(): string {
    return `${this.group.describe()}, top-k ${this.opts.topk}; ${this.output().describe}; ${this.ffn().describe}`;
  }

  /** The output layer: dense or HiRE, in words. */
  output(): {kind: 'dense' | 'hire'; describe: string} {
    const h = this.opts.head;
    if (h.kind === 'dense') return {kind: 'dense', describe: 'dense output layer'};
    return {kind: 'hire', describe: `HiRE softmax (${h.name}, k'=${h.kPrime}${this.opts.topk === 'dat' ? `, DaT slack ${h.slack}` : ''})`};
  }

  /** How the output layer's top-k is taken. */
  get topk(): TopKMode {
    return this.opts.topk;
  }

  /** The FFN each device runs, with its rows and weight bytes per token. */
  ffn(): DistributedFfnReport {
    const devices = this.group.ready.map((r) => r.ffn);
    const sparse = devices.some((d) => d.sparse);
    const f = this.ffnSpec;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const kb = (b: number) => `${(b / 1e3).toFixed(1)} KB`;
    const perDevice = `${devices.map((d) => kb(d.bytesPerToken)).join(' / ')} per device and token`;
    const describe =
      f && sparse
        ? `HiRE-FFN per device (g=${f.groupSize}, each device its own static groups + ceil(k'_g/${this.devices}) + ${f.slack} slack of ${mean(f.layers.map((l) => l.kPrime)).toFixed(1)} groups per layer; ${perDevice}, dense ${kb(devices[0]!.denseBytesPerToken)})`
        : `dense FFN shards (${perDevice})`;
    return {sparse, describe, devices};
  }

  /** A fresh sequence on every device (KV caches of maxSeqLen positions). */
  async reset(maxSeqLen: number): Promise<void> {
    await this.group.run(OP.RESET, [maxSeqLen]);
  }

  /**
   * Runs `tokens` at positions pos0, pos0 + 1, ... (prefill batches of maxBatch tokens) and
   * returns the output layer's result for the last one.
   */
  async step(tokens: readonly number[], pos0: number): Promise<HeadResult> {
    const group = this.group;
    const maxBatch = group.layout.maxBatch;
    for (let start = 0; start < tokens.length; start += maxBatch) {
      const batch = tokens.slice(start, start + maxBatch);
      batch.forEach((t, i) => this.embedInto(t, pos0 + start + i, i));
      const last = start + maxBatch >= tokens.length;
      await group.run(OP.STEP, [batch.length, pos0 + start, last ? this.headOp() : HEAD_OP.NONE, this.datListSize(0)]);
    }
    return this.collect();
  }

  /** Only the output layer again, on the last token's hidden state (to time it alone). */
  async head(): Promise<HeadResult> {
    await this.group.run(OP.HEAD, [this.headOp(), this.datListSize(0)]);
    return this.collect();
  }

  private headOp(): number {
    return this.opts.head.kind === 'dense' ? HEAD_OP.DENSE : this.opts.topk === 'dat' ? HEAD_OP.DAT : HEAD_OP.APPROX;
  }

  /** The output layer's result once the devices have run their head op. */
  private async collect(): Promise<HeadResult> {
    const c = this.config;
    this.steps++;
    const h = this.opts.head;
    if (h.kind === 'dense') {
      this.softmaxTotal += softmaxBytes('dense', {vocabSize: c.vocabSize, kPrime: 0, devices: this.devices, listSize: 0});
      return {ids: null, logits: this.group.views.logits.slice()};
    }
    const r = this.opts.topk === 'dat' ? this.datResult(h.kPrime) : await this.exactResult(h.kPrime);
    this.candidates += r.ids!.length;
    return r;
  }

  /** Entries device d sends in DaT mode. */
  datListSize(d: number): number {
    const h = this.opts.head;
    return h.kind === 'dense' ? 0 : datListSize(h.kPrime, this.devices, h.slack, this.plan.shards[d]!.vocab.count);
  }

  private datResult(kPrime: number): HeadResult {
    const v = this.group.views;
    const lists: TopList[] = v.candIds.map((ids, d) => {
      const n = Atomics.load(v.ctl, countWord(this.devices, d));
      return {ids: ids.slice(0, n), values: v.candVals[d]!.slice(0, n)};
    });
    this.softmaxTotal += 8 * lists.reduce((s, l) => s + l.ids.length, 0);
    const merged = mergeTopK(lists, kPrime);
    return {ids: merged.ids, logits: merged.values};
  }

  private async exactResult(kPrime: number): Promise<HeadResult> {
    const v = this.group.views;
    const ids = topKIndices(v.logits, kPrime);
    const owner = (id: number) => this.plan.shards.findIndex((s) => sliceLocal(s.vocab, id) >= 0);
    const slot = new Int32Array(ids.length);
    const counts = new Array<number>(this.devices).fill(0);
    ids.forEach((id, i) => {
      const d = owner(id);
      slot[i] = counts[d]!;
      v.candIds[d]![counts[d]!++] = id;
    });
    counts.forEach((n, d) => Atomics.store(v.ctl, countWord(this.devices, d), n));
    await this.group.run(OP.EXACT_ROWS);
    this.softmaxTotal += softmaxBytes('exact', {vocabSize: this.config.vocabSize, kPrime: ids.length, devices: this.devices, listSize: 0});
    return {ids, logits: Float32Array.from(ids, (id, i) => v.candVals[owner(id)]![slot[i]!]!)};
  }

  /** Writes the input embedding of token t at position pos into broadcast row `row`. */
  private embedInto(t: number, pos: number, row: number): void {
    const c = this.config;
    const out = this.group.views.xin.subarray(row * c.dim, (row + 1) * c.dim);
    out.set(hostRow(this.embed, t));
    if (this.positions && c.positions.kind === 'learned') {
      const p = hostRow(this.positions, pos + c.positions.offset);
      for (let i = 0; i < out.length; i++) out[i] = out[i]! + p[i]!;
    }
  }

  /** Bytes moved per decoded token (the output layer averaged over the steps so far). */
  traffic(): TokenTraffic {
    const c = this.config;
    const n = this.devices;
    const input = n * c.dim * 4;
    const allReduce = 2 * c.nLayers * n * (n - 1) * c.dim * 4;
    let ffnTopK = 0;
    if (c.ffnTopK !== null && this.opts.topk === 'exact' && n > 1) {
      // every device reads the other devices' lists: at most k_f of its computed rows per layer
      const kf = Math.max(1, Math.round(c.ffnTopK * c.hiddenDim));
      const lists = this.group.ready.reduce((s, r) => s + r.ffn.rows.reduce((a, rows) => a + Math.min(kf, rows), 0), 0);
      ffnTopK = (n - 1) * lists * 8;
    }
    const softmax = this.steps ? this.softmaxTotal / this.steps : 0;
    return {input, allReduce, ffnTopK, softmax, total: input + allReduce + ffnTopK + softmax};
  }

  headStats(): HeadStats {
    return {steps: this.steps, meanCandidates: this.steps ? this.candidates / this.steps : this.config.vocabSize, widenedSteps: 0, widenings: 0};
  }

  async dispose(): Promise<void> {
    await this.group.dispose();
  }
}

function hostRow(m: HostMatrix, row: number): Float32Array {
  const data = m.data.subarray(row * m.cols, (row + 1) * m.cols);
  return m.dtype === 'f32' ? (data as Float32Array) : halfToFloat32(m.dtype === 'f16' ? 'F16' : 'BF16', data as Uint16Array);
}
