/**
 * The output layer of a multi-device decode: the same plan as on one device (hire/softmax/choose-head.ts
 * planHead: dense, or HiRE-Softmax with k' off the recall table), then for DaT the slack
 * calibrated for this device count (hire.json softmax.dat), else a default.
 */
import type {HeadOptions} from '../decode/decoder.js';
import type {SamplingOptions} from '../decode/sampler.js';
import {UsageError} from '../errors.js';
import type {ManifestModel} from '../hire/bundle/bundle.js';
import {planHead} from '../hire/softmax/choose-head.js';
import type {DatCalibration} from '../hire/bundle/dat-section.js';
import type {DistributedHead, TopKMode} from './distributed-model.js';
import type {VocabLayout} from './shard-plan.js';

export interface DistributedHeadOptions extends HeadOptions {
  devices: number;
  topk: TopKMode;
  /** DaT slack; default: the bundle's calibrated slack, else DEFAULT_SLACK_SHARE of k'/D. */
  slack?: number;
  /** The vocabulary split the slack is for (default strided). */
  vocabLayout?: VocabLayout;
}

/** Without a calibration: slack = a quarter of each device's share of k'. */
export const DEFAULT_SLACK_SHARE = 0.25;

export function chooseDistributedHead(
  modelDir: string,
  model: ManifestModel,
  sampling: SamplingOptions,
  opts: DistributedHeadOptions,
): {head: DistributedHead; note: string | null} {
  if (opts.certify) throw new UsageError('certify is not supported on several devices (certified widening needs every bound in one place)', {option: 'certify'});
  if (opts.slack !== undefined && !(Number.isInteger(opts.slack) && opts.slack >= 0 && opts.slack <= model.vocabSize)) {
    throw new UsageError(`slack must be an integer from 0 to the vocabulary size ${model.vocabSize}, got ${opts.slack}`, {option: 'slack'});
  }
  const plan = planHead(modelDir, model, sampling, opts);
  if (plan.kind === 'dense') return {head: {kind: 'dense'}, note: plan.note};
  const {manifest, record, kPrime, k} = plan;
  let note = plan.note;
  let slack = opts.slack ?? 0;
  if (opts.topk === 'dat' && opts.slack === undefined) {
    const dat = manifest.softmax!.dat;
    const cal = record.name === dat?.predictor ? dat : undefined;
    const fallback = Math.ceil(DEFAULT_SLACK_SHARE * Math.ceil(kPrime / opts.devices));
    const found = lookupSlack(cal, opts.devices, k ?? Number.MAX_SAFE_INTEGER, kPrime, fallback, opts.vocabLayout);
    slack = found.slack;
    if (!found.calibrated) note = `the bundle has no DaT slack calibration for ${opts.devices} devices: slack ${slack} (re-run hire calibrate to store one)`;
  }
  return {head: {kind: 'hire', source: {kind: 'bundle', dir: modelDir, predictor: record.name}, name: record.name, kPrime, slack}, note};
}

/**
 * The slack for D devices at (k, k'): the calibrated entry with that D and k' (and the nearest k
 * at or above), else the largest calibrated slack for D scaled by k' / its k', else `fallback`.
 */
export function lookupSlack(
  cal: DatCalibration | undefined,
  devices: number,
  k: number,
  kPrime: number,
  fallback: number,
  layout: VocabLayout = 'strided',
): {slack: number; calibrated: boolean} {
  if (devices <= 1) return {slack: 0, calibrated: true};
  const usable = cal && (cal.layout ?? 'contiguous') === layout ? cal.entries : [];
  const forD = usable.filter((e) => e.devices === devices && e.slack !== null);
  const exact = forD.filter((e) => e.kPrime === kPrime).sort((a, b) => a.k - b.k);
  const hit = exact.find((e) => e.k >= k) ?? exact[exact.length - 1];
  if (hit) return {slack: hit.slack!, calibrated: true};
  if (forD.length) {
    const ratio = Math.max(...forD.map((e) => e.slack! / e.kPrime));
    return {slack: Math.ceil(ratio * kPrime), calibrated: true};
  }
  return {slack: fallback, calibrated: false};
}
