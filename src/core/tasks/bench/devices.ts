/**
 * `hire bench --devices 1,2,4`: multi-device rows next to the single-device ones. For each device
 * count and top-k mode (exact, dat) it decodes the same greedy sequence and reports ms per token
 * and the bytes moved between devices per token; on a bundle it also measures the recall of DaT
 * against exact top-k on held-out text. On a bundle with an FFN section every device runs HiRE-FFN
 * (its own groups, no global step) and each row reports the FFN bytes each device reads per token.
 * Speed is only claimed where devices <= cores (each device
 * is one thread); larger counts are for the bytes and recall figures.
 */
import os from 'node:os';
import {argmax} from '../../numeric/select.js';
import {UsageError} from '../../errors.js';
import {isBundle, readManifest} from '../../hire/bundle/bundle.js';
import {defaultRank} from '../../hire/predictor/fit.js';
import type {QuantBits} from '../../numeric/quant.js';
import type {SoftmaxKind} from '../../hire/predictor/predictor.js';
import type {ModelConfig} from '../../model/config.js';
import {measureDatRecall, type DatRecallRow} from './dat-recall.js';
import {DistributedModel, type DistributedHead, type TokenTraffic, type TopKMode} from '../../parallel/distributed-model.js';
import {chooseDistributedHead, DEFAULT_SLACK_SHARE} from '../../parallel/heads.js';
import type {VocabLayout} from '../../parallel/shard-plan.js';

export interface DeviceBenchOptions {
  counts: number[];
  modes: TopKMode[];
  /** DaT slack (default: the bundle's calibration, else a quarter of k'/D). */
  slack?: number;
  /** Vocabulary split (default strided). */
  vocabLayout?: VocabLayout;
  /** Validation tokens for the recall figures on a bundle (default 512; 0 skips them). */
  recallTokens?: number;
  /** HiRE-FFN recall target on bundles with an FFN section (default 0.99). */
  ffnRecall?: number;
  /** HiRE-FFN dynamic groups each device reads beyond its share (default 1). */
  ffnSlack?: number;
}

export interface DeviceBenchInput {
  dir: string;
  config: ModelConfig;
  backend: string;
  tokens: number;
  promptTokens: number;
  /** Synthetic predictor on a model without a bundle (as the single-device HiRE row). */
  hire?: {kind: SoftmaxKind; rank?: number; bits: QuantBits; kPrime: number} | null;
  recall?: number;
  /** ms per token of the single-device HiRE-Softmax row, for the ratio. */
  singleHireMsPerToken: number | null;
  devices: DeviceBenchOptions;
  onProgress?: (stage: string) => void;
  onWarning?: (message: string) => void;
}

export interface DeviceBenchRow {
  devices: number;
  topk: TopKMode;
  head: string;
  slack: number;
  msPerToken: number;
  /** The output layer alone (rerun on the last hidden state): devices' head work, transfers, merge. */
  outputMsPerToken: number;
  decodeTokensPerSecond: number;
  traffic: TokenTraffic;
  /** The FFN on the devices: HiRE-FFN or dense shards, and each device's FFN weight bytes per token. */
  ffn: {sparse: boolean; bytesPerTokenPerDevice: number[]; denseBytesPerTokenPerDevice: number[]};
  /** devices <= cores: the latency is a speed figure; otherwise only bytes and recall are. */
  speedClaim: boolean;
  /** Single-device HiRE session (all cores) ms/token over this row's (the paper: 2.27x on several TPUs). */
  vsSingleHire: number | null;
  /** The same mode on one device of this runtime, ms/token over this row's. */
  vsOneDevice: number | null;
}

export interface DeviceBenchReport {
  cores: number;
  rows: DeviceBenchRow[];
  /** DaT recall against exact top-k on held-out text (bundles only). */
  recall: {tokens: number; rows: DatRecallRow[]} | null;
}

/** Throws a UsageError for bad device counts or modes (call before any slow work). */
export function checkDeviceBenchOptions(d: DeviceBenchOptions): void {
  if (d.counts.length === 0 || d.counts.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new UsageError('devices.counts must be integers from 1 to 64, e.g. 1,2,4', {option: 'devices.counts'});
  if (d.modes.length === 0 || d.modes.some((m) => m !== 'exact' && m !== 'dat')) throw new UsageError('devices.modes must be exact, dat, or both', {option: 'devices.modes'});
}

export async function benchDevices(o: DeviceBenchInput): Promise<DeviceBenchReport> {
  checkDeviceBenchOptions(o.devices);
  const cores = os.availableParallelism();
  const rows: DeviceBenchRow[] = [];
  const slacks = new Map<number, {slack: number; head: DistributedHead}>();
  const notes = new Set<string>();
  for (const devices of o.devices.counts) {
    for (const topk of o.devices.modes) {
      const head = headFor(o, devices, topk);
      if (topk === 'dat' && head.kind === 'hire') slacks.set(devices, {slack: head.slack, head});
      o.onProgress?.(`decoding ${o.tokens} tokens on ${devices} device(s), top-k ${topk}`);
      const ffnOpts = {ffnRecall: o.devices.ffnRecall, ffnSlack: o.devices.ffnSlack};
      const model = await DistributedModel.open({modelDir: o.dir, devices, backend: o.backend, topk, head, vocabLayout: o.devices.vocabLayout, ffn: ffnOpts});
      for (const n of model.notes.filter((x) => !notes.has(x))) {
        notes.add(n);
        o.onWarning?.(n);
      }
      try {
        const ms = await timeDecode(model, o.promptTokens, o.tokens);
        const outputMs = await timeHead(model, Math.max(20, o.tokens));
        const ffn = model.ffn();
        rows.push({
          devices,
          topk,
          head: model.describe(),
          slack: head.kind === 'hire' && topk === 'dat' ? head.slack : 0,
          msPerToken: ms,
          outputMsPerToken: outputMs,
          decodeTokensPerSecond: 1000 / ms,
          traffic: model.traffic(),
          ffn: {sparse: ffn.sparse, bytesPerTokenPerDevice: ffn.devices.map((d) => d.bytesPerToken), denseBytesPerTokenPerDevice: ffn.devices.map((d) => d.denseBytesPerToken)},
          speedClaim: devices <= cores,
          vsSingleHire: o.singleHireMsPerToken && head.kind === 'hire' ? o.singleHireMsPerToken / ms : null,
          vsOneDevice: null,
        });
      } finally {
        await model.dispose();
      }
    }
  }
  for (const row of rows) {
    const one = rows.find((r) => r.devices === 1 && r.topk === row.topk);
    row.vsOneDevice = one ? one.msPerToken / row.msPerToken : null;
  }
  let recall: DeviceBenchReport['recall'] = null;
  const first = [...slacks.values()][0]?.head;
  if (isBundle(o.dir) && first?.kind === 'hire' && (o.devices.recallTokens ?? 512) > 0) {
    o.onProgress?.('measuring DaT recall against exact top-k on held-out text');
    recall = await measureDatRecall({
      bundle: o.dir,
      predictor: first.name,
      points: recallPoints(o, first, slacks),
      tokens: o.devices.recallTokens ?? 512,
      vocabLayout: o.devices.vocabLayout,
    });
  }
  return {cores, rows, recall};
}

/**
 * Where to measure DaT recall: every (k, k') the bundle calibrated a slack for, at that slack, for
 * the benchmarked device counts; without a calibration, the decode's own (k = 1, k', slack).
 */
function recallPoints(o: DeviceBenchInput, first: Extract<DistributedHead, {kind: 'hire'}>, slacks: Map<number, {slack: number}>) {
  const counts = [...slacks.keys()].filter((d) => d > 1);
  const manifest = readManifest(o.dir, o.config);
  const cal = manifest.softmax?.dat;
  const layout = o.devices.vocabLayout ?? 'strided';
  const entries = cal && cal.predictor === first.name && (cal.layout ?? 'contiguous') === layout ? cal.entries : [];
  const calibrated = entries.filter((e) => counts.includes(e.devices) && e.slack !== null);
  if (calibrated.length && o.devices.slack === undefined) return calibrated.map((e) => ({devices: e.devices, k: e.k, kPrime: e.kPrime, slack: e.slack!}));
  return counts.map((devices) => ({devices, k: 1, kPrime: first.kPrime, slack: slacks.get(devices)!.slack}));
}

function headFor(o: DeviceBenchInput, devices: number, topk: TopKMode): DistributedHead {
  const c = o.config;
  if (isBundle(o.dir)) {
    const r = chooseDistributedHead(o.dir, c, {temperature: 0, topK: 0, topP: 1}, {
      devices,
      topk,
      recall: o.recall,
      kPrime: o.hire?.kPrime,
      slack: o.devices.slack,
      vocabLayout: o.devices.vocabLayout,
    });
    if (r.note) o.onWarning?.(r.note);
    return r.head;
  }
  if (!o.hire) return {kind: 'dense'};
  const dim = c.embedDim;
  const rank = o.hire.rank ?? defaultRank(dim);
  const spec = {kind: o.hire.kind, vocabSize: c.vocabSize, dim, rank, bits: o.hire.bits, groupSize: dim % 64 === 0 ? 64 : dim, seed: 5};
  const kPrime = o.hire.kPrime;
  const slack = o.devices.slack ?? Math.ceil(DEFAULT_SLACK_SHARE * Math.ceil(kPrime / devices));
  return {kind: 'hire', source: {kind: 'synthetic', spec}, name: `synthetic ${o.hire.kind}`, kPrime, slack: devices > 1 ? slack : 0};
}

/** Prefill a fixed pseudo-random prompt, then decode greedily; ms per decoded token. */
async function timeDecode(model: DistributedModel, promptTokens: number, tokens: number): Promise<number> {
  const v = model.config.vocabSize;
  const prompt = Array.from({length: promptTokens}, (_, i) => (i * 7919 + 13) % v);
  await model.reset(promptTokens + tokens + 1);
  let r = await model.advance(prompt, 0);
  const warmup = Math.min(4, tokens);
  for (let i = 0; i < warmup; i++) r = await model.advance([r.ids ? r.ids[argmax(r.logits)]! : argmax(r.logits)], promptTokens + i);
  await model.reset(promptTokens + tokens + 1);
  r = await model.advance(prompt, 0);
  const t0 = performance.now();
  for (let i = 0; i < tokens; i++) {
    const next = r.ids ? r.ids[argmax(r.logits)]! : argmax(r.logits);
    r = await model.advance([next], promptTokens + i);
  }
  return (performance.now() - t0) / tokens;
}

/** Mean ms of the output layer alone (scores, top-k', exact rows, transfers and merge). */
async function timeHead(model: DistributedModel, reps: number): Promise<number> {
  await model.headOnly();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await model.headOnly();
  return (performance.now() - t0) / reps;
}
