/**
 * The HiRE bundle (DESIGN.md section 5): a directory `<name>.hire/` that is also a plain
 * checkpoint. It holds the source's config.json, tokenizer files and weights (hard-linked when the
 * file system allows, else copied), `hire.safetensors` (predictor tensors) and `hire.json` (format
 * version, source and calibration hashes, the hashes of the bundle's own weight files, predictor
 * kinds and sizes, recall curves, k' tables; its shape and checks: manifest-schema.ts). Written
 * into a temporary directory and renamed into place: a failed calibration leaves nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import {BundleError, IoError} from '../errors.js';
import {SafetensorsFile, writeSafetensors, type TensorData} from '../safetensors/index.js';
import {weightFileHash} from './file-hash.js';
import {BUNDLE_FORMAT, BUNDLE_VERSION, parseManifest, type HireManifest, type ManifestModel, type PredictorRecord} from './manifest-schema.js';
import {chooseKPrime} from './recall.js';
import {predictorFromTensors, predictorTensors, type SoftmaxPredictor, type TensorRule} from './softmax-predictor.js';

export {sha256File, type FileHash} from './file-hash.js';
export {BUNDLE_FORMAT, BUNDLE_VERSION, parseManifest} from './manifest-schema.js';
export type {HireManifest, KPrimeTable, ManifestModel, PredictorRecord} from './manifest-schema.js';

export const MANIFEST_FILE = 'hire.json';
export const PREDICTORS_FILE = 'hire.safetensors';

/** Files copied from the source checkpoint when present (weights are handled separately). */
const SOURCE_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/** Weight files of a checkpoint directory: model.safetensors, or the index and its shards. */
export function weightFiles(dir: string): string[] {
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return ['model.safetensors'];
  const index = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(index)) throw new IoError(dir, 'no model.safetensors or model.safetensors.index.json');
  const map = (JSON.parse(fs.readFileSync(index, 'utf8')) as {weight_map: Record<string, string>}).weight_map;
  return ['model.safetensors.index.json', ...new Set(Object.values(map))];
}

export interface WriteBundleInput {
  sourceDir: string;
  outDir: string;
  manifest: HireManifest;
  predictors: SoftmaxPredictor[];
  /** More tensors for hire.safetensors (the FFN predictors). */
  extraTensors?: Map<string, TensorData>;
  /** Re-laid-out weights written as model.safetensors instead of linking the source's. */
  weights?: Map<string, TensorData>;
  /** Keys merged into the copied config.json (e.g. hire_ffn_layout). */
  configPatch?: Record<string, unknown>;
  /** Replace an existing bundle at outDir. */
  overwrite: boolean;
}

/**
 * Writes the bundle and returns the hire.json written: `manifest` plus `weights`, the hashes of the
 * bundle's own weight files (the source's when they are linked, else those just written).
 */
export function writeBundle(input: WriteBundleInput): HireManifest {
  const {sourceDir, outDir, manifest, predictors, overwrite, weights, configPatch, extraTensors} = input;
  if (fs.existsSync(outDir) && !overwrite) {
    throw new IoError(outDir, 'already exists; pass --force to replace it, or choose another --out');
  }
  const tmp = `${outDir.replace(/\/+$/, '')}.tmp-${process.pid}-${Date.now()}`;
  try {
    fs.mkdirSync(tmp, {recursive: true});
    for (const f of SOURCE_FILES) {
      const src = path.join(sourceDir, f);
      if (fs.existsSync(src)) fs.copyFileSync(src, path.join(tmp, f));
    }
    if (configPatch) {
      const file = path.join(tmp, 'config.json');
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(file, `${JSON.stringify({...json, ...configPatch}, null, 2)}\n`);
    }
    if (weights) writeSafetensors(path.join(tmp, 'model.safetensors'), weights, {format: 'pt'});
    else for (const f of weightFiles(sourceDir)) linkOrCopy(path.join(sourceDir, f), path.join(tmp, f));
    const tensors = new Map<string, TensorData>();
    for (const p of predictors) for (const [k, v] of predictorTensors(p)) tensors.set(k, v);
    for (const [k, v] of extraTensors ?? []) tensors.set(k, v);
    writeSafetensors(path.join(tmp, PREDICTORS_FILE), tensors, {format: BUNDLE_FORMAT, version: String(BUNDLE_VERSION)});
    const written = withWeights(manifest, weights ? weightFiles(tmp).map((f) => weightFileHash(path.join(tmp, f))) : manifest.source.weights);
    fs.writeFileSync(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(written, null, 2)}\n`);
    if (fs.existsSync(outDir)) {
      const old = `${tmp}.old`;
      fs.renameSync(outDir, old);
      fs.renameSync(tmp, outDir);
      fs.rmSync(old, {recursive: true, force: true});
    } else {
      fs.renameSync(tmp, outDir);
    }
    return written;
  } catch (error) {
    fs.rmSync(tmp, {recursive: true, force: true});
    throw error;
  }
}

/** The manifest with `weights` set, placed right after `source`. */
function withWeights(manifest: HireManifest, weights: HireManifest['weights']): HireManifest {
  const entries: Array<[string, unknown]> = Object.entries(manifest).filter(([k]) => k !== 'weights');
  entries.splice(entries.findIndex(([k]) => k === 'source') + 1, 0, ['weights', weights]);
  return Object.fromEntries(entries) as unknown as HireManifest;
}

function linkOrCopy(src: string, dst: string): void {
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

/** True when dir holds a hire.json (a bundle rather than a plain checkpoint). */
export function isBundle(dir: string): boolean {
  return fs.existsSync(path.join(dir, MANIFEST_FILE));
}

/**
 * Reads hire.json and checks every field against the model it sits beside (parseManifest):
 * BundleError naming the file and the first bad field.
 */
export function readManifest(dir: string, model: ManifestModel): HireManifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) throw new BundleError(file, 'missing: this directory is not a HiRE bundle; make one with `hire calibrate`');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new BundleError(file, `invalid JSON${at ? ` at position ${at}` : ''}; the bundle is damaged, re-run hire calibrate`, {cause: error});
  }
  return parseManifest(file, json, model);
}

/** Loads one predictor's tensors from hire.safetensors, checking every name and shape. */
export function readPredictor(dir: string, manifest: HireManifest, name: string): SoftmaxPredictor {
  const record = manifest.softmax?.predictors.find((p) => p.name === name);
  const manifestFile = path.join(dir, MANIFEST_FILE);
  if (!record) {
    const known = manifest.softmax?.predictors.map((p) => p.name).join(', ') || 'none';
    throw new BundleError(manifestFile, `no softmax predictor named "${name}"; the bundle has: ${known}`);
  }
  return withPredictorTensors(dir, (read) => predictorFromTensors(record, manifest.model.vocabSize, manifest.model.dim, read(`predictor "${name}"`)));
}

/** Reads one tensor of hire.safetensors, checking its shape, dtype and values; `owner` names it in errors. */
export type TensorReader = (owner: string) => (tensor: string, shape: number[], rule?: TensorRule) => Uint8Array | Float32Array;

/** Opens the bundle's hire.safetensors for `use` (which reads tensors through checked readers) and closes it. */
export function withPredictorTensors<T>(dir: string, use: (read: TensorReader) => T): T {
  const file = path.join(dir, PREDICTORS_FILE);
  if (!fs.existsSync(file)) throw new BundleError(file, 'missing: the bundle is incomplete; re-run hire calibrate');
  const st = SafetensorsFile.open(file);
  try {
    return use((owner) => (tensor, shape, rule = {}) => {
      if (!st.has(tensor)) throw new BundleError(file, `missing tensor "${tensor}" of ${owner}`);
      const info = st.info(tensor);
      if (info.shape.length !== shape.length || info.shape.some((v, i) => v !== shape[i])) {
        throw new BundleError(file, `tensor "${tensor}" has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}]`);
      }
      const bytes = rule.data === 'bytes';
      if (bytes !== (info.dtype === 'U8')) throw new BundleError(file, `tensor "${tensor}" of ${owner} has dtype ${info.dtype}, expected ${bytes ? 'U8' : 'a float dtype'}`);
      if (bytes) return st.readTyped(tensor, 'U8');
      const data = st.readFloat32(tensor);
      const problem = valueProblem(data, rule);
      if (problem) throw new BundleError(file, `tensor "${tensor}" of ${owner} ${problem}; the bundle is damaged: re-run hire calibrate`);
      return data;
    });
  } finally {
    st.close();
  }
}

/** What is wrong with a predictor tensor's values (null: nothing): non-finite, negative or all zero. */
function valueProblem(data: Float32Array, rule: TensorRule): string | null {
  let nonZero = false;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) return `holds ${v} at element ${i}`;
    if (v < 0 && rule.nonNegative) return `holds a negative value (${v}) at element ${i}, but its values are never negative`;
    if (v !== 0) nonZero = true;
  }
  return rule.nonZero && !nonZero && data.length > 0 ? 'is all zeros, so the predictor ranks nothing' : null;
}

/**
 * The k' for a sampling top-k and a recall target, read off the stored held-out recall curve: k is
 * the smallest measured k >= topK (else the largest measured), k' the smallest k' on the grid whose
 * mean recall@k reaches the target (null when none does: decode densely then).
 */
export function lookupKPrime(record: PredictorRecord, topK: number, target: number): {k: number; kPrime: number | null} {
  const ks = record.recall.ks;
  const k = ks.find((v) => v >= topK) ?? ks[ks.length - 1]!;
  return {k, kPrime: chooseKPrime(record.recall, k, target)};
}
