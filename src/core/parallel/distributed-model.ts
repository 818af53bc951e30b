/**
 * A model decoded on several devices (docs/ARCHITECTURE.md, The Decoder). The coordinator holds only the
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
import {checkRewind, type DecodeHead, type DecodeSequence, type DecodeStepStats, type Decoder, type DeviceGroupInfo, type HeadChoice, type HeadOptions, type TokenTraffic} from '../decode/decoder.js';
import type {HeadResult, HeadStats} from '../decode/output-head.js';
import {type SamplingOptions} from '../decode/sampler.js';
import {topKIndices} from '../numeric/select.js';
import {weightBytes} from '../backends/backend.js';
import {backendInfo} from '../backends/index.js';
import {chooseDistributedHead} from './heads.js';
import {readManifest} from '../hire/bundle/bundle.js';
import {UsageError} from '../errors.js';
import type {ModelConfig} from '../model/config.js';
import {openModel} from '../model/load.js';
import {readHostMatrix} from '../model/weights.js';
import type {HostMatrix} from '../backends/backend.js';
import {halfToFloat32} from '../model/formats/safetensors/index.js';
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
  /** The output layer of advance() and head(); its predictor is what the devices load (dense: none). */
  head: DistributedHead;
  /** DaT slack for heads chosen by head() (default: the bundle's calibrated slack). */
  slack?: number;
  /** How the vocabulary is split over the devices (default strided). */
  vocabLayout?: VocabLayout;
  /** HiRE-FFN on the devices (default: on when the bundle has an FFN section). */
  ffn?: DistributedFfnOptions;
  /** Tokens per STEP command while prefilling (default 32). */
  maxBatch?: number;
  timeoutMs?: number;
}

export type {TokenTraffic} from '../decode/decoder.js';

/** The FFN as the devices run it. */
export interface DistributedFfnReport {
  /** HiRE-FFN (per-device group selection) on at least one layer of some device. */
  sparse: boolean;
  describe: string;
  /** Each device's FFN rows and weight bytes per token (DeviceFfnInfo), in device order. */
  devices: DeviceFfnInfo[];
}

/** An output layer of a device group: dense, or HiRE with the devices' predictor shards (exact or DaT merge). */
export class DeviceHead implements DecodeHead {
  steps = 0;
  candidates = 0;
  constructor(
    readonly spec: DistributedHead,
    private readonly words: string,
    readonly bytesPerToken: number,
    private readonly vocabSize: number,
  ) {}

  get kind(): 'dense' | 'hire' {
    return this.spec.kind;
  }

  describe(): string {
    return this.words;
  }

  stats(): HeadStats {
    const mean = this.spec.kind === 'dense' ? this.vocabSize : this.steps ? this.candidates / this.steps : 0;
    return {steps: this.steps, meanCandidates: mean, widenedSteps: 0, widenings: 0};
  }
}

/** The device group's one sequence at a time. */
interface DeviceSequence extends DecodeSequence {
  length: number;
  readonly generation: number;
}

export class DistributedModel implements Decoder {
  /** The devices hold one KV cache each: one sequence at a time. */
  readonly maxSequences = 1;
  private steps = 0;
  private candidates = 0;
  private softmaxTotal = 0;
  private generation = 0;
  private readonly defaultHead: DeviceHead;
  private readonly choices = new Map<string, HeadChoice<DeviceHead>>();

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
    /** Weight bytes of one output-layer row (lm_head). */
    private readonly rowBytes: number,
    readonly eosTokenIds: number[],
    /** Bytes per token of the predictor the devices loaded (0: none, or synthetic). */
    private readonly predictorBytes: number,
  ) {
    this.defaultHead = this.makeHead(opts.head);
  }

  static async open(o: DistributedOptions): Promise<DistributedModel> {
    if (!Number.isInteger(o.devices) || o.devices < 1 || o.devices > 64) throw new UsageError(`devices must be an integer from 1 to 64, got ${o.devices}`, {option: 'devices'});
    const source = openModel(o.modelDir);
    let embed: HostMatrix;
    let positions: HostMatrix | null = null;
    let rowBytes: number;
    const c = source.config;
    try {
      embed = readHostMatrix(source.checkpoint, source.specs.find((s) => s.key === 'embed')!);
      const pos = source.specs.find((s) => s.key === 'positions');
      if (pos) positions = readHostMatrix(source.checkpoint, pos);
      const lm = source.specs.find((s) => s.key === 'lmHead') ?? source.specs.find((s) => s.key === 'embed')!;
      const dtype = source.checkpoint.info(lm.name).dtype;
      rowBytes = c.embedDim * (dtype === 'F32' || dtype === 'F64' ? weightBytes('f32') : weightBytes('bf16'));
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
      backendInfo(groupOptions.backend).inProcessOnly ? await (await import('./local-devices.js')).LocalDeviceGroup.start(groupOptions) : await DeviceGroup.start(groupOptions);
    let predictorBytes = 0;
    if (o.head.kind === 'hire' && o.head.source.kind === 'bundle') {
      const name = o.head.name;
      predictorBytes = readManifest(o.modelDir, c).softmax?.predictors.find((p) => p.name === name)?.bytesPerToken ?? 0;
    }
    return new DistributedModel(c, plan, group, o, embed, positions, ffn.spec, [...plan.notes, ...(ffn.note ? [ffn.note] : [])], rowBytes, c.eosTokenIds, predictorBytes);
  }

  get devices(): number {
    return this.plan.devices;
  }

  describe(): string {
    return `${this.group.describe()}, top-k ${this.opts.topk}; ${this.defaultHead.describe()}; ${this.ffn().describe}`;
  }

  /** The output layer the group was opened with: dense or HiRE, in words. */
  output(): {kind: 'dense' | 'hire'; describe: string} {
    return {kind: this.defaultHead.kind, describe: this.defaultHead.describe()};
  }

  /** How the output layer's top-k is taken. */
  get topk(): TopKMode {
    return this.opts.topk;
  }

  get backendName(): string {
    return this.opts.backend ?? 'cpu';
  }

  get ffnInfo(): string | null {
    return this.ffn().describe;
  }

  /**
   * The output layer for these options, from the predictor the devices loaded (a different
   * predictor, or HiRE on a group loaded densely, is a UsageError: the devices load it at start).
   */
  head(sampling: SamplingOptions, opts: HeadOptions): HeadChoice<DeviceHead> {
    const key = JSON.stringify([sampling.temperature === 0, sampling.topK, opts]);
    const known = this.choices.get(key);
    if (known) return known;
    const loaded = this.opts.head;
    const o = {...opts, devices: this.devices, topk: this.opts.topk, slack: this.opts.slack, vocabLayout: this.opts.vocabLayout};
    const {head, note} = loaded.kind === 'hire' && loaded.source.kind === 'synthetic' && !opts.dense ? {head: loaded, note: null} : chooseDistributedHead(this.opts.modelDir, this.config, sampling, o);
    if (head.kind === 'hire') {
      if (loaded.kind === 'dense') throw new UsageError('the devices were started with a dense output layer; load the model with HiRE to decode with it');
      if (loaded.name !== head.name) throw new UsageError(`the devices hold predictor "${loaded.name}"; load the model with predictor "${head.name}" to use it`);
    }
    const choice = {head: this.makeHead(head), note};
    this.choices.set(key, choice);
    return choice;
  }

  async openSequence(maxLen: number): Promise<DecodeSequence> {
    await this.reset(maxLen);
    const seq: DeviceSequence = {maxLen, length: 0, generation: ++this.generation};
    return seq;
  }

  async prefill(seq: DecodeSequence, tokens: readonly number[], head: DecodeHead, checkAbort?: () => void): Promise<HeadResult> {
    checkAbort?.();
    const s = this.current(seq, tokens.length);
    const r = await this.advance(tokens, s.length, head as DeviceHead);
    s.length += tokens.length;
    return r;
  }

  rewind(seq: DecodeSequence, length: number): void {
    const s = this.current(seq, 0);
    checkRewind(s, length);
    s.length = length; // the devices' caches are written by position: the next step overwrites from here
  }

  async step(seqs: readonly DecodeSequence[], tokens: readonly number[], head: DecodeHead): Promise<HeadResult[]> {
    if (seqs.length !== 1 || tokens.length !== 1) throw new UsageError('a device group decodes one sequence at a time');
    const s = this.current(seqs[0]!, 1);
    const r = await this.advance(tokens, s.length, head as DeviceHead);
    s.length++;
    return [r];
  }

  stepStats(): DecodeStepStats {
    return {bytes: null, unionGroups: null, groupsPerRow: null};
  }

  groupInfo(): DeviceGroupInfo {
    const ffn = this.ffn();
    return {
      count: this.devices,
      merge: this.opts.topk,
      describe: this.describe(),
      traffic: this.traffic(),
      ffn: {sparse: ffn.sparse, bytesPerTokenPerDevice: ffn.devices.map((d) => d.bytesPerToken), denseBytesPerTokenPerDevice: ffn.devices.map((d) => d.denseBytesPerToken)},
    };
  }

  /** Weight bytes all devices read for one token with this head: their layers (FFN as they run it), the head, one embedding row. */
  bytesPerToken(head: DecodeHead): number {
    let bytes = this.rowBytes; // one embedding row (the coordinator's lookup)
    this.group.ready.forEach((r, d) => {
      const lmShard = this.plan.shards[d]!.vocab.count * this.rowBytes;
      bytes += r.weightBytes - lmShard - r.ffn.denseBytesPerToken + r.ffn.bytesPerToken;
    });
    return bytes + head.bytesPerToken;
  }

  private makeHead(h: DistributedHead): DeviceHead {
    const c = this.config;
    if (h.kind === 'dense') return new DeviceHead(h, 'dense output layer', c.vocabSize * this.rowBytes, c.vocabSize);
    const words = `HiRE softmax (${h.name}, k'=${h.kPrime}${this.opts.topk === 'dat' ? `, DaT slack ${h.slack}` : ''})`;
    return new DeviceHead(h, words, this.predictorBytes + h.kPrime * this.rowBytes, c.vocabSize);
  }

  private current(seq: DecodeSequence, n: number): DeviceSequence {
    const s = seq as DeviceSequence;
    if (s.generation !== this.generation) throw new UsageError('a device group decodes one sequence at a time, and this sequence was replaced by a newer one');
    if (s.length + n > s.maxLen) throw new RangeError(`the sequence has room for ${s.maxLen} positions; ${s.length} are used and ${n} more were given`);
    return s;
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
   * returns the output layer's result for the last one (default head: the one the group was opened with).
   */
  async advance(tokens: readonly number[], pos0: number, head: DeviceHead = this.defaultHead): Promise<HeadResult> {
    const group = this.group;
    const maxBatch = group.layout.maxBatch;
    for (let start = 0; start < tokens.length; start += maxBatch) {
      const batch = tokens.slice(start, start + maxBatch);
      batch.forEach((t, i) => this.embedInto(t, pos0 + start + i, i));
      const last = start + maxBatch >= tokens.length;
      await group.run(OP.STEP, [batch.length, pos0 + start, last ? this.headOp(head) : HEAD_OP.NONE, this.datListSize(0, head)]);
    }
    return this.collect(head);
  }

  /** Only the output layer again, on the last token's hidden state (to time it alone). */
  async headOnly(head: DeviceHead = this.defaultHead): Promise<HeadResult> {
    await this.group.run(OP.HEAD, [this.headOp(head), this.datListSize(0, head)]);
    return this.collect(head);
  }

  private headOp(head: DeviceHead): number {
    return head.spec.kind === 'dense' ? HEAD_OP.DENSE : this.opts.topk === 'dat' ? HEAD_OP.DAT : HEAD_OP.APPROX;
  }

  /** The output layer's result once the devices have run their head op. */
  private async collect(head: DeviceHead): Promise<HeadResult> {
    const c = this.config;
    this.steps++;
    head.steps++;
    const h = head.spec;
    if (h.kind === 'dense') {
      this.softmaxTotal += softmaxBytes('dense', {vocabSize: c.vocabSize, kPrime: 0, devices: this.devices, listSize: 0});
      return {ids: null, logits: this.group.views.logits.slice()};
    }
    const r = this.opts.topk === 'dat' ? this.datResult(h.kPrime) : await this.exactResult(h.kPrime);
    this.candidates += r.ids!.length;
    head.candidates += r.ids!.length;
    return r;
  }

  /** Entries device d sends in DaT mode. */
  datListSize(d: number, head: DeviceHead = this.defaultHead): number {
    const h = head.spec;
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

  /** The devices' default output head (the one the group was opened with). */
  get openedHead(): DeviceHead {
    return this.defaultHead;
  }
}

function hostRow(m: HostMatrix, row: number): Float32Array {
  const data = m.data.subarray(row * m.cols, (row + 1) * m.cols);
  return m.dtype === 'f32' ? (data as Float32Array) : halfToFloat32(m.dtype === 'f16' ? 'F16' : 'BF16', data as Uint16Array);
}
