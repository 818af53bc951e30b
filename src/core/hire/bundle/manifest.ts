/**
 * hire.json: its shape (HireManifest) and the check of every field the decoder or a command reads,
 * against the model the bundle sits beside. A bundle is data from disk: a field that is missing, of
 * the wrong type or out of range must fail here, with one line naming the file and the field, not
 * later as a JavaScript TypeError or as silently wrong decoding. parseManifest reports the first
 * problem it meets (fields are checked in the order below).
 */
import type {DatCalibration} from './dat-section.js';
import {BundleError} from '../../errors.js';
import type {ModelConfig} from '../../model/config.js';
import type {FfnManifest} from './ffn-section.js';
import type {FfnLayerRecord} from './ffn-section.js';
import {GROUP_SCORES} from '../ffn/groups.js';
import type {FileHash} from '../../io/file-hash.js';
import type {RecallTable} from '../predictor/recall.js';
import {arrayOf, bool, fail, int, nullable, numericKey, object, oneOf, optional, real, record, SchemaProblem, str, type Rule} from './schema-checks.js';
import {SOFTMAX_KINDS, type PredictorMeta} from '../predictor/predictor.js';

import {BUNDLE_FORMAT, BUNDLE_VERSION} from './names.js';

export {BUNDLE_FORMAT, BUNDLE_VERSION};

/** recall target (as written, e.g. "0.99") -> k -> the smallest k' reaching it (null: none on the grid). */
export type KPrimeTable = Record<string, Record<string, number | null>>;

export interface PredictorRecord extends PredictorMeta {
  recall: RecallTable;
  kPrime: KPrimeTable;
}

export interface HireManifest {
  format: typeof BUNDLE_FORMAT;
  version: number;
  createdBy: string;
  createdAt: string;
  /** The checkpoint calibrated: its config and weight files as they were then. */
  source: {dir: string; config: FileHash; weights: FileHash[]};
  /**
   * The bundle's own weight files (re-laid-out when it has an FFN section, else the source's).
   * Absent in bundles made before it was recorded: a bundle without an FFN section then checks
   * against source.weights, one with an FFN section cannot be checked.
   */
  weights?: FileHash[];
  model: {architecture: string; vocabSize: number; dim: number};
  calibration: {
    data: FileHash[];
    /** The part of each file read (absent in bundles made before it was recorded: the train split). */
    split?: 'all' | 'train' | 'validation';
    /** The bundled corpus's name when no files were given (absent otherwise). */
    corpus?: string;
    tokens: number;
    fitTokens: number;
    heldOutTokens: number;
    seqLen: number;
    seed: number;
  };
  softmax: {
    /** The predictor decoding uses unless told otherwise. */
    selected: string;
    /** Recall targets the k' tables hold. */
    recallTargets: number[];
    predictors: PredictorRecord[];
    /** DaT-Top-k slack per device count for the selected predictor (optional: older bundles lack it). */
    dat?: DatCalibration;
  } | null;
  /** HiRE-FFN (null: the bundle's weights are the source's, linked). */
  ffn: FfnManifest | null;
}

/** What hire.json is checked against: the model's config as config.json gives it. */
export type ManifestModel = Pick<ModelConfig, 'architecture' | 'vocabSize' | 'embedDim' | 'dim' | 'hiddenDim' | 'nLayers' | 'gatedFfn'>;

/** Checks parsed hire.json (`file` names it in errors) and returns it typed; throws BundleError. */
export function parseManifest(file: string, json: unknown, model: ManifestModel): HireManifest {
  try {
    const head = object<{format: string; version: number}>({format: oneOf([BUNDLE_FORMAT]), version: int(0)})(json, '');
    if (head.version !== BUNDLE_VERSION) {
      throw new BundleError(file, `bundle format version ${head.version} is not supported (this hire reads version ${BUNDLE_VERSION}); re-run hire calibrate`);
    }
    checkModel(file, json, model);
    return checkManifest(json, model);
  } catch (error) {
    if (error instanceof SchemaProblem) throw new BundleError(file, error.message);
    throw error;
  }
}

/** hire.json's model section against the model's config: another model's bundle is refused. */
function checkModel(file: string, json: unknown, model: ManifestModel): void {
  const {model: m} = object<Pick<HireManifest, 'model'>>({model: object({architecture: str(), vocabSize: int(1), dim: int(1)})})(json, '');
  if (m.vocabSize !== model.vocabSize || m.dim !== model.embedDim) {
    throw new BundleError(file, `made for vocabulary ${m.vocabSize} and width ${m.dim}, but the model has ${model.vocabSize} and ${model.embedDim}`);
  }
  if (m.architecture !== model.architecture) {
    throw new BundleError(file, `made for a ${m.architecture.slice(0, 40)}, but the model is a ${model.architecture}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rules shared by several sections.

const HEX64 = /^[0-9a-f]{64}$/;
const sha = str({pattern: HEX64, what: 'a sha256 (64 lowercase hex digits)'});
/** A share or recall: in [0, 1], with room for the rounding of a mean of ones. */
const share = real(0, 1, {slack: 1e-9});
const target = real(0, 1, {minOpen: true});
const name = str({pattern: /^\S.{0,199}$/s, what: 'a non-empty name'});

function fileHash(fileRule: Rule<string>): Rule<FileHash> {
  return object<FileHash>({file: fileRule, bytes: int(0), sha256: sha, fingerprint: optional(sha)});
}
/** A file of the bundle, named without any directory part. */
const weightHash = fileHash(str({pattern: /^(?!\.\.?$)[^/\\]+$/, what: 'a file name without a directory'}));
const dataHash = fileHash(str({pattern: /^.+$/s, what: 'a non-empty path'}));

/** A predictor's metadata for a matrix of `cols` columns: the fields its kind uses, and null for the others. */
function predictorMeta(cols: number): Rule<PredictorMeta> {
  return (v, at) => {
    const {kind} = object<{kind: PredictorMeta['kind']}>({kind: oneOf(SOFTMAX_KINDS)})(v, at);
    const lowRank = kind !== 'quant';
    const quant = kind !== 'lowrank';
    const unused: Rule<null> = (x, p) => (x === null ? null : fail(p, `null for kind ${kind}`, x));
    const {rank} = object<{rank: number | null}>({rank: lowRank ? int(1, cols) : unused})(v, at);
    return object<PredictorMeta>({
      name,
      kind: oneOf(SOFTMAX_KINDS),
      fit: lowRank ? oneOf(['svd', 'data-aware'] as const) : unused,
      rank: lowRank ? int(1, cols) : unused,
      bits: quant ? oneOf([8, 4, 2] as const) : unused,
      groupSize: quant ? int(1, lowRank ? rank! : cols) : unused,
      bytesPerToken: int(0),
    })(v, at);
  };
}

// ---------------------------------------------------------------------------------------------
// The softmax section.

function recallTable(vocab: number): Rule<RecallTable> {
  return (v, at) => {
    const k = int(1, vocab);
    const {ks, kPrimes} = object<{ks: number[]; kPrimes: number[]}>({
      ks: arrayOf(k, {min: 1, ascending: true}),
      kPrimes: arrayOf(k, {min: 1, ascending: true}),
    })(v, at);
    const grid = arrayOf(arrayOf(share, {length: kPrimes.length}), {length: ks.length});
    return object<RecallTable>({ks: arrayOf(k), kPrimes: arrayOf(k), mean: grid, full: grid, tokens: int(0)})(v, at);
  };
}

function predictorRecord(vocab: number, dim: number): Rule<PredictorRecord> {
  return (v, at) => {
    const meta = predictorMeta(dim)(v, at);
    const kTable = record(numericKey(int(1, vocab)), nullable(int(1, vocab)));
    const rest = object<Omit<PredictorRecord, keyof PredictorMeta>>({
      recall: recallTable(vocab),
      kPrime: record(numericKey(target), kTable),
    })(v, at);
    return {...meta, ...rest} as PredictorRecord;
  };
}

function datCalibration(vocab: number, names: string[]): Rule<DatCalibration> {
  return (v, at) => {
    const slack = int(0, vocab);
    const {slacks} = object<{slacks: number[]}>({slacks: arrayOf(slack, {min: 1, ascending: true})})(v, at);
    return object<DatCalibration>({
      predictor: oneOf(names),
      layout: optional(oneOf(['strided', 'contiguous'] as const)),
      maxLoss: real(0, 1),
      slacks: arrayOf(slack),
      tokens: int(0),
      entries: arrayOf(
        object({
          devices: int(1, 64),
          k: int(1, vocab),
          kPrime: int(1, vocab),
          single: share,
          dat: arrayOf(share, {length: slacks.length}),
          slack: nullable(slack),
        }),
      ),
    })(v, at);
  };
}

function softmaxSection(vocab: number, dim: number): Rule<NonNullable<HireManifest['softmax']>> {
  return (v, at) => {
    const {predictors} = object<{predictors: PredictorRecord[]}>({predictors: arrayOf(predictorRecord(vocab, dim), {min: 1})})(v, at);
    const names = predictors.map((p) => p.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) fail(`${at}.predictors[${i}].name`, 'unique among the predictors', n);
    });
    return object<NonNullable<HireManifest['softmax']>>({
      selected: oneOf(names),
      recallTargets: arrayOf(target, {min: 1}),
      predictors: arrayOf(predictorRecord(vocab, dim)),
      dat: optional(datCalibration(vocab, names)),
    })(v, at);
  };
}

// ---------------------------------------------------------------------------------------------
// The FFN section.

function ffnLayer(model: ManifestModel, nGroups: number): Rule<FfnLayerRecord> {
  return (v, at) => {
    const {nStatic} = object<{nStatic: number}>({nStatic: int(0, nGroups)})(v, at);
    const kPrime = nullable(int(0, nGroups - nStatic));
    return object<FfnLayerRecord>({
      predictor: predictorMeta(model.dim),
      tried: arrayOf(object({name, bytesPerToken: int(0), kPrime})),
      nStatic: int(0, nGroups),
      recall: arrayOf(share, {length: nGroups - nStatic + 1}),
      kPrime: record(numericKey(target), kPrime),
      groupActivity: arrayOf(share, {length: nGroups}),
    })(v, at);
  };
}

function ffnSection(model: ManifestModel): Rule<FfnManifest> {
  return (v, at) => {
    const divides = (g: number) => model.hiddenDim % g === 0;
    const groupRule = `an integer from 1 to 32 that divides the FFN width ${model.hiddenDim}`;
    const {groupSize} = object<{groupSize: number}>({
      groupSize: (x, p) => (Number.isSafeInteger(x) && (x as number) >= 1 && (x as number) <= 32 && divides(x as number) ? (x as number) : fail(p, groupRule, x)),
    })(v, at);
    const nGroups = model.hiddenDim / groupSize;
    return object<FfnManifest>({
      layout: oneOf(['neuron-rows'] as const),
      groupSize: int(groupSize, groupSize),
      score: oneOf(GROUP_SCORES),
      topK: target,
      staticThreshold: target,
      permuted: bool,
      recallTargets: arrayOf(target, {min: 1}),
      selectTarget: target,
      layers: arrayOf(ffnLayer(model, nGroups), {length: model.nLayers}),
    })(v, at);
  };
}

// ---------------------------------------------------------------------------------------------
// The whole file.

function checkManifest(json: unknown, model: ManifestModel): HireManifest {
  return object<HireManifest>({
    format: oneOf([BUNDLE_FORMAT] as const),
    version: int(BUNDLE_VERSION, BUNDLE_VERSION),
    createdBy: str(),
    createdAt: str(),
    source: object({dir: str(), config: weightHash, weights: arrayOf(weightHash, {min: 1})}),
    weights: optional(arrayOf(weightHash, {min: 1})),
    model: object({architecture: str(), vocabSize: int(1), dim: int(1)}),
    calibration: object({
      data: arrayOf(dataHash),
      split: optional(oneOf(['all', 'train', 'validation'] as const)),
      corpus: optional(str()),
      tokens: int(0),
      fitTokens: int(0),
      heldOutTokens: int(0),
      seqLen: int(1),
      seed: int(Number.MIN_SAFE_INTEGER),
    }),
    softmax: nullable(softmaxSection(model.vocabSize, model.embedDim)),
    ffn: nullable(ffnSection(model)),
  })(json, '');
}
