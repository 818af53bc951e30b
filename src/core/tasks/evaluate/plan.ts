/**
 * What `hire eval` measures on a bundle: per softmax predictor, the (k, k') pairs (given, or the
 * k' the bundle stores per recall target plus k and the vocabulary size), checked against the
 * bundle before any weight is uploaded; and the recall curves hire.json stores.
 */
import path from 'node:path';
import {BundleError, UsageError} from '../../errors.js';
import {openModel} from '../../model/load.js';
import {lookupKPrime, MANIFEST_FILE, readManifest, type HireManifest, type PredictorRecord} from '../../hire/bundle/bundle.js';
import type {RecallCurvePoints} from './plot.js';

/** The options that choose what is measured (see EvaluateOptions). */
export interface PlanOptions {
  ks?: number[];
  kPrimes?: number[];
  predictors?: string[];
}

/** The (k, k') pairs measured for one predictor. */
export interface PredictorPlan {
  record: PredictorRecord;
  vocabSize: number;
  /** Sorted distinct k. */
  ks: number[];
  /** Sorted distinct k' over all pairs. */
  kPrimes: number[];
  /** Sorted by k, then k'. */
  pairs: Array<{k: number; kPrime: number; targets: number[]}>;
}

/** Reads hire.json beside the model's config (no weights) and plans the measurements. */
export function readPlans(dir: string, opts: PlanOptions): {manifest: HireManifest; plans: PredictorPlan[]} {
  const source = openModel(dir);
  try {
    const manifest = readManifest(dir, source.config);
    return {manifest, plans: planEvaluation(manifest, opts, path.join(dir, MANIFEST_FILE))};
  } finally {
    source.checkpoint.close();
  }
}

/** Checks names, k and k' against the bundle and lists the (k, k') pairs of each predictor. */
export function planEvaluation(
  manifest: HireManifest,
  opts: PlanOptions,
  file: string = MANIFEST_FILE,
): PredictorPlan[] {
  const softmax = manifest.softmax;
  if (!softmax || softmax.predictors.length === 0) throw new BundleError(file, 'the bundle has no softmax predictor to evaluate; re-run hire calibrate');
  const vocab = manifest.model.vocabSize;
  const known = softmax.predictors.map((p) => p.name);
  const names = opts.predictors && opts.predictors.length > 0 ? [...new Set(opts.predictors)] : known;
  for (const name of names) {
    if (!known.includes(name)) throw new BundleError(file, `no softmax predictor named "${name}"; the bundle has: ${known.join(', ')}`);
  }
  checkSizes('ks', opts.ks, vocab);
  checkSizes('kPrimes', opts.kPrimes, vocab);
  return names.map((name) => {
    const record = softmax.predictors.find((p) => p.name === name)!;
    const ks = sortedUnique(opts.ks && opts.ks.length > 0 ? opts.ks : record.recall.ks);
    const pairs = ks.flatMap((k) => kPrimesFor(record, k, vocab, softmax.recallTargets, opts.kPrimes));
    return {record, vocabSize: vocab, ks, kPrimes: sortedUnique(pairs.map((p) => p.kPrime)), pairs};
  });
}

function kPrimesFor(record: PredictorRecord, k: number, vocab: number, targets: number[], given?: number[]): PredictorPlan['pairs'] {
  const chosen = new Map<number, number[]>();
  if (given && given.length > 0) {
    for (const kp of given) chosen.set(kp, []);
  } else {
    // The k' decoding would use for each recall target, plus two grid points.
    for (const kp of [k, vocab]) chosen.set(kp, []);
    for (const target of targets) {
      const kp = lookupKPrime(record, k, target).kPrime;
      if (kp !== null) chosen.set(kp, [...(chosen.get(kp) ?? []), target]);
    }
  }
  return [...chosen.entries()].sort(([a], [b]) => a - b).map(([kPrime, ts]) => ({k, kPrime, targets: ts}));
}

function checkSizes(option: string, values: number[] | undefined, vocab: number): void {
  for (const v of values ?? []) {
    if (!Number.isInteger(v) || v < 1 || v > vocab) {
      throw new UsageError(`${option} value ${v} must be an integer from 1 to the vocabulary size ${vocab}`, {option});
    }
  }
}

function sortedUnique(xs: number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** The held-out mean recall@k against k' that calibration stored, one curve per (predictor, k). */
export function storedCurves(records: PredictorRecord[]): RecallCurvePoints[] {
  return records.flatMap((r) =>
    r.recall.ks.map((k, a) => ({
      predictor: r.name,
      k,
      points: r.recall.kPrimes.map((kPrime, b) => ({kPrime, recall: r.recall.mean[a]![b]!})),
    })),
  );
}

