/**
 * Are the bundle's weights the ones it was calibrated for? Predictors and k' tables are fitted to
 * particular weights: re-permuted or replaced weights decode different text with no error at all.
 * So every load compares each weight file hire.json records with the file on disk: its size and
 * its fingerprint (a sampled sha256, cheap at any size) always, its full sha256 when asked. The
 * error names the file, what differs and what to do.
 */
import fs from 'node:fs';
import path from 'node:path';
import {BundleError, WeightError} from '../../errors.js';
import {MANIFEST_FILE, readManifest} from './bundle.js';
import {fileFingerprint, sha256File, type FileHash} from '../../io/file-hash.js';
import type {HireManifest, ManifestModel} from './manifest.js';

export interface BundleCheckOptions {
  /** Also compare each weight file's full sha256 (reads every byte; default false). */
  verifyWeights?: boolean;
}

export interface BundleCheck {
  manifest: HireManifest;
  /** What was compared, e.g. "size, fingerprint" (empty: hire.json records nothing to compare). */
  verified: string[];
}

const ADVICE = 'these are not the weights the bundle was calibrated for: restore them, or re-run hire calibrate on them';

/**
 * Reads and checks the bundle's hire.json (every field, against `model`), then its weight files
 * against it. Throws BundleError / WeightError.
 */
export function checkBundle(dir: string, model: ManifestModel, opts: BundleCheckOptions = {}): BundleCheck {
  const manifest = readManifest(dir, model);
  return {manifest, verified: checkBundleWeights(dir, manifest, opts)};
}

/**
 * The weight files hire.json records for the bundle itself: `weights`, or for older bundles without
 * an FFN section (whose weights are the source's, linked) `source.weights`; null when there are none.
 */
export function recordedWeights(manifest: HireManifest): FileHash[] | null {
  return manifest.weights ?? (manifest.ffn === null ? manifest.source.weights : null);
}

/** Compares the weight files on disk with hire.json; returns what was compared. */
export function checkBundleWeights(dir: string, manifest: HireManifest, opts: BundleCheckOptions = {}): string[] {
  const recorded = recordedWeights(manifest);
  if (!recorded) {
    if (opts.verifyWeights) {
      throw new BundleError(
        path.join(dir, MANIFEST_FILE),
        "records no hashes of the bundle's own (re-laid-out) weight files, so they cannot be verified (the bundle predates them); re-run hire calibrate",
      );
    }
    return [];
  }
  // the file the loader reads first (model.safetensors wins over an index) must be a recorded one
  const listed = recorded.map((h) => h.file);
  const used = ['model.safetensors', 'model.safetensors.index.json'].find((f) => fs.existsSync(path.join(dir, f)));
  if (used && !listed.includes(used)) {
    throw new WeightError(path.join(dir, used), `not among the weight files hire.json records (${listed.join(', ').slice(0, 120)}); ${ADVICE}`);
  }
  const fingerprinted = recorded.every((h) => h.fingerprint !== undefined);
  for (const h of recorded) checkFile(path.join(dir, h.file), h, opts.verifyWeights ?? false);
  return ['size', ...(fingerprinted ? ['fingerprint'] : []), ...(opts.verifyWeights ? ['sha256'] : [])];
}

function checkFile(file: string, h: FileHash, full: boolean): void {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new WeightError(file, `missing, but hire.json lists it among the bundle's weight files; the bundle is incomplete: re-run hire calibrate`);
  }
  if (size !== h.bytes) throw new WeightError(file, `size differs from hire.json (${size} bytes, recorded ${h.bytes}): ${ADVICE}`);
  if (h.fingerprint !== undefined && fileFingerprint(file) !== h.fingerprint) {
    throw new WeightError(file, `fingerprint (sampled sha256) differs from hire.json: ${ADVICE}`);
  }
  if (full) {
    const sha = sha256File(file).sha256;
    if (sha !== h.sha256) throw new WeightError(file, `sha256 differs from hire.json (${sha.slice(0, 12)}..., recorded ${h.sha256.slice(0, 12)}...): ${ADVICE}`);
  }
}
