/**
 * The HiRE bundle (docs/ARCHITECTURE.md, The bundle): a directory `<name>.hire/` that is also a plain
 * checkpoint. It holds the source's config.json, tokenizer files and weights (hard-linked when the
 * file system allows, else copied), `hire.safetensors` (predictor tensors) and `hire.json` (format
 * version, source and calibration hashes, the hashes of the bundle's own weight files, predictor
 * kinds and sizes, recall curves, k' tables; its shape and checks: manifest.ts).
 * Written into a temporary directory and renamed into place (bundle-staging.ts): a failed or
 * interrupted calibration leaves nothing, and a replaced bundle is never lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import {BundleError, ConfigError, HireError, IoError} from '../../errors.js';
import {
  CONFIG_JSON,
  MANIFEST_JSON,
  TOKENIZER_CONFIG_JSON,
  TOKENIZER_JSON,
  readBoundedFile,
  readJsonFile,
  systemReason,
  type InputKind,
} from '../../io/read-file.js';
import {BUNDLE_FORMAT, BUNDLE_VERSION, MANIFEST_FILE, PREDICTORS_FILE} from './names.js';
import type {StagedBundle, SwapStep} from './staging.js';
import {INDEX_FILE_NAME, SINGLE_FILE_NAME, SafetensorsFile, readIndex, writeSafetensors, type TensorData} from '../../model/formats/safetensors/index.js';
import {weightFileHash} from '../../io/file-hash.js';
import {parseManifest, type HireManifest, type ManifestModel, type PredictorRecord} from './manifest.js';
import {chooseKPrime} from '../predictor/recall.js';
import {predictorFromTensors, predictorTensors, type SoftmaxPredictor, type TensorRule} from '../predictor/predictor.js';

export {sha256File, type FileHash} from '../../io/file-hash.js';
export {parseManifest} from './manifest.js';
export type {HireManifest, KPrimeTable, ManifestModel, PredictorRecord} from './manifest.js';

export {BUNDLE_FORMAT, BUNDLE_VERSION, MANIFEST_FILE, PREDICTORS_FILE};

/** Files copied from the source checkpoint when present, with their size caps (weights are handled separately). */
/** The small files of a checkpoint directory copied beside its weights (config and tokenizer). */
export const SOURCE_FILES: ReadonlyArray<[string, InputKind]> = [
  ['config.json', CONFIG_JSON],
  ['generation_config.json', CONFIG_JSON],
  ['tokenizer.json', TOKENIZER_JSON],
  ['tokenizer_config.json', TOKENIZER_CONFIG_JSON],
  ['special_tokens_map.json', TOKENIZER_CONFIG_JSON],
];

const ioError = (file: string, problem: string, options?: {cause?: unknown}) => new IoError(file, problem, options);

/**
 * Weight files of a checkpoint directory: model.safetensors, or the index and its shards. Shard
 * names come from the checked index reader, so each is a plain file name inside `dir`.
 */
export function weightFiles(dir: string): string[] {
  if (fs.existsSync(path.join(dir, SINGLE_FILE_NAME))) return [SINGLE_FILE_NAME];
  const index = path.join(dir, INDEX_FILE_NAME);
  if (!fs.existsSync(index)) throw new IoError(dir, `no ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME}`);
  return [INDEX_FILE_NAME, ...readIndex(index).shards];
}

export interface WriteBundleInput {
  sourceDir: string;
  /** Where the files go (StagedBundle.open checked `out` and made the directory); committed at the end. */
  staged: StagedBundle;
  manifest: HireManifest;
  predictors: SoftmaxPredictor[];
  /** More tensors for hire.safetensors (the FFN predictors). */
  extraTensors?: Map<string, TensorData>;
  /** Re-laid-out weights written as model.safetensors instead of linking the source's. */
  weights?: Map<string, TensorData>;
  /** Metadata of that model.safetensors beyond {format: "pt"} (hire_blocks: which tensors are ggml blocks). */
  weightsMetadata?: Record<string, string>;
  /** Keys merged into the copied config.json (e.g. hire_ffn_layout). */
  configPatch?: Record<string, unknown>;
  /**
   * The config and tokenizer files as JSON objects by file name, written instead of copying them
   * from sourceDir (a GGUF source: the files its metadata stands for). Requires `weights`.
   */
  sourceFiles?: Readonly<Record<string, Record<string, unknown> | null>>;
  /** Copy the source's weight files instead of hard-linking them (default false: link when the file system allows). */
  copyWeights?: boolean;
  /** Called when the files are written and at each point of the swap (tests simulate a crash there). */
  onStep?: (step: WriteStep) => void;
}

export type WriteStep = 'written' | SwapStep;

/**
 * Writes the bundle's files into the staged directory, then puts it at `out`. Yields to the event
 * loop between files, so a signal handler can stop the process (and remove the directory) midway.
 * Returns the hire.json written: `manifest` plus `weights`, the hashes of the bundle's own weight
 * files (the source's when they are linked, else those just written).
 */
export async function writeBundle(input: WriteBundleInput): Promise<HireManifest> {
  let written: HireManifest;
  try {
    written = await writeFiles(input);
  } catch (error) {
    if (error instanceof HireError || (error as NodeJS.ErrnoException)?.code === undefined) throw error;
    throw new IoError(input.staged.out.abs, `cannot write the bundle: ${systemReason(error)}`, {cause: error});
  }
  input.onStep?.('written');
  input.staged.commit(input.onStep);
  return written;
}

async function writeFiles(input: WriteBundleInput): Promise<HireManifest> {
  const {sourceDir, staged, manifest, predictors, weights, configPatch, extraTensors} = input;
  const tmp = staged.dir;
  if (input.sourceFiles) {
    for (const [f, json] of Object.entries(input.sourceFiles)) if (json) fs.writeFileSync(path.join(tmp, f), `${JSON.stringify(json, null, 2)}\n`);
  } else {
    for (const [f, kind] of SOURCE_FILES) {
      const src = path.join(sourceDir, f);
      if (fs.existsSync(src)) fs.writeFileSync(path.join(tmp, f), readBoundedFile(src, kind, ioError));
    }
  }
  if (configPatch) {
    const file = path.join(tmp, 'config.json');
    const json = readJsonFile(file, CONFIG_JSON, (f, p, o) => new ConfigError(f, p, o)) as Record<string, unknown>;
    fs.writeFileSync(file, `${JSON.stringify({...json, ...configPatch}, null, 2)}\n`);
  }
  await yieldToEvents();
  if (weights) {
    writeSafetensors(path.join(tmp, 'model.safetensors'), weights, {format: 'pt', ...input.weightsMetadata});
  } else {
    for (const f of weightFiles(sourceDir)) {
      linkOrCopy(path.join(sourceDir, f), path.join(tmp, f), input.copyWeights ?? false);
      await yieldToEvents();
    }
  }
  await yieldToEvents();
  const tensors = new Map<string, TensorData>();
  for (const p of predictors) for (const [k, v] of predictorTensors(p)) tensors.set(k, v);
  for (const [k, v] of extraTensors ?? []) tensors.set(k, v);
  writeSafetensors(path.join(tmp, PREDICTORS_FILE), tensors, {format: BUNDLE_FORMAT, version: String(BUNDLE_VERSION)});
  const written = withWeights(manifest, weights ? weightFiles(tmp).map((f) => weightFileHash(path.join(tmp, f))) : manifest.source.weights);
  fs.writeFileSync(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(written, null, 2)}\n`);
  await yieldToEvents();
  return written;
}

/** The manifest with `weights` set, placed right after `source`. */
function withWeights(manifest: HireManifest, weights: HireManifest['weights']): HireManifest {
  const entries: Array<[string, unknown]> = Object.entries(manifest).filter(([k]) => k !== 'weights');
  entries.splice(entries.findIndex(([k]) => k === 'source') + 1, 0, ['weights', weights]);
  return Object.fromEntries(entries) as unknown as HireManifest;
}

function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Hard-links src at dst when allowed and asked, else copies it (a copy-on-write clone where the
 * file system has them). A symlinked source (the Hugging Face cache) is resolved first, since a
 * hard link to a relative symlink would dangle in the bundle.
 */
function linkOrCopy(src: string, dst: string, copy: boolean): void {
  let target: string;
  try {
    target = fs.realpathSync(src);
  } catch (err) {
    throw new IoError(src, `cannot open: ${systemReason(err)}`, {cause: err});
  }
  if (!fs.statSync(target).isFile()) throw new IoError(src, 'is not a regular file');
  if (!copy) {
    try {
      fs.linkSync(target, dst);
      return;
    } catch {
      // another file system, or links not allowed: copy
    }
  }
  fs.copyFileSync(target, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
}

/** True when dir holds a hire.json (a bundle rather than a plain checkpoint). */
export function isBundle(dir: string): boolean {
  return fs.existsSync(path.join(dir, MANIFEST_FILE));
}

/**
 * Reads hire.json (size-capped, position-only JSON errors) and checks every field against the model
 * it sits beside (parseManifest): BundleError naming the file and the first bad field.
 */
export function readManifest(dir: string, model: ManifestModel): HireManifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) throw new BundleError(file, 'missing: this directory is not a HiRE bundle; make one with `hire calibrate`');
  const json: unknown = readJsonFile(file, MANIFEST_JSON, (f, p, o) => new BundleError(f, p, o));
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
