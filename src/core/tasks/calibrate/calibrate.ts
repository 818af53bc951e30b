/**
 * `hire calibrate`: run the dense model over calibration text, collect the final hidden states,
 * fit HiRE-Softmax predictors, measure recall@k against k' on a held-out split, store the k'
 * tables, and write the bundle. Core code: reports progress through a callback, never prints.
 */
import os from 'node:os';
import path from 'node:path';
import type {Vec} from '../../backends/backend.js';
import {readCorpus, type Split} from '../corpus.js';
import {StageProgress, type CoreProgress} from '../progress.js';
import {DenseHead} from '../../decode/output-head.js';
import {Session} from '../../engine/session.js';
import {DataError, UsageError} from '../../errors.js';
import type {ModelConfig} from '../../model/config.js';
import {StagedBundle} from '../../hire/bundle/staging.js';
import {sha256File, weightFiles, writeBundle, type FileHash, type HireManifest, type KPrimeTable, type PredictorRecord} from '../../hire/bundle/bundle.js';
import {weightFileHash} from '../../io/file-hash.js';
import {checkFitRequest, fitPredictors, type FitOptionNames, type FitRequest} from '../../hire/predictor/fit.js';
import {copyWeights, ffnManifest, ffnPredictorTensors, relaidFiles, relayoutWeights} from './ffn-bundle.js';
import {blockFormatOf, hostMatrixF32, readHostMatrix} from '../../model/weights.js';
import type {ModelSource} from '../../model/load.js';
import crypto from 'node:crypto';
import {calibrateFfn, FfnCollector, ffnRowBytes, ffnStepBytes, type FfnCalibration, type FfnFitRequest} from './ffn-calibrate.js';
import {GROUP_SCORES} from '../../hire/ffn/groups.js';
import {topKIndices} from '../../numeric/select.js';
import {chooseKPrime, defaultKPrimeGrid, RecallAccumulator} from '../../hire/predictor/recall.js';
import {HireSoftmaxHead} from '../../hire/softmax/head.js';
import {datPairs, DatRecallAccumulator, DEFAULT_DAT_DEVICES} from './dat-slack.js';
import {predictorBytes, predictorMeta, type SoftmaxKind, type SoftmaxPredictor} from '../../hire/predictor/predictor.js';

export const DEFAULT_KS = [1, 8, 32, 64];
export const DEFAULT_RECALL_TARGETS = [0.9, 0.95, 0.99, 0.999];
/** The (k, recall) at which calibration compares predictors' cost when choosing one. */
export const SELECTION_K = 32;

/**
 * Options of calibrate(); the library API (src/api/calibrate.ts) takes the same with `model`
 * optional and progress as events.
 */
export interface CalibrateOptions extends FitRequest {
  /** Checkpoint directory (the API and CLI default: the bundled demo model, models/shakespeare-topk). */
  model: string;
  /** Calibration text files (default: the bundled corpus). */
  data?: string[];
  /** The part of each file read: 'train' (default: the first 90%, cut after a line break), 'validation' (the rest) or 'all'. */
  split?: Split;
  /** Bundle directory to write (default: `<model name>.hire` in the current directory); its parent must exist. */
  out?: string;
  /**
   * Replace an existing bundle at `out` (default false: IoError). Only a directory holding a hire
   * bundle (hire.json of format "hire-bundle") is replaced, never the source model, the current
   * directory or a directory holding either; anything else is an IoError before any work starts.
   */
  force?: boolean;
  /**
   * Copy the source's weight files into the bundle (default false: hard-link them when the file
   * system allows, so the bundle's weights and the source's are one file and editing one edits both).
   */
  copyWeights?: boolean;
  /** Top-k sizes recall is measured for (default 1, 8, 32, 64). */
  ks?: number[];
  /**
   * Recall target that chooses the predictor; stored in the k' table with 0.9, 0.95, 0.99, 0.999
   * (default 0.99).
   */
  recall?: number;
  /** Calibration tokens, fit + held out (default 8192; the CLI's --tokens default is 4096). */
  tokens?: number;
  /** Tokens per sequence while collecting hidden states; the KV cache restarts every seqLen tokens (default 128). */
  seqLen?: number;
  /** Share of the tokens held out for recall measurement (default 0.2). */
  heldOut?: number;
  /** Backend (default 'cpu'). */
  backend?: string;
  /** Threads of the backend (default: every core). */
  threads?: number;
  /** Seed of the randomized SVD (default 1). */
  seed?: number;
  /**
   * Also calibrate HiRE-FFN (null/undefined: softmax only): predictor kinds and bit widths tried
   * per layer, neurons per group (default 8), group score, top-k fraction (default the model's,
   * else 0.1), static threshold (default 0.5), co-activation permutation (default true).
   */
  ffn?: FfnFitRequest | null;
  /** Called at each stage, with (done, total) as counted stages advance. */
  onProgress?: CoreProgress;
  /** Non-fatal problems (e.g. a backend fallback); calibration goes on. */
  onWarning?: (message: string) => void;
}

export interface CalibrationResult {
  /** The bundle directory written (absolute). */
  bundle: string;
  /** Its hire.json: predictors, recall curves, k' tables, the selected predictor. */
  manifest: HireManifest;
  /** The text read: the part of each file, the bundled corpus's name when no files were given, and its tokens (calibration used the first manifest.calibration.tokens). */
  corpus: {split: Split; bundled: string | null; files: FileHash[]; textTokens: number};
}

export async function calibrate(opts: CalibrateOptions): Promise<CalibrationResult> {
  const recall = opts.recall ?? 0.99;
  if (!(recall > 0 && recall <= 1)) throw new UsageError(`recall must be in (0, 1], got ${recall}`, {option: 'recall'});
  const ks = [...new Set(opts.ks ?? DEFAULT_KS)].sort((a, b) => a - b);
  const seqLen = opts.seqLen ?? 128;
  const heldOutShare = opts.heldOut ?? 0.2;
  const seed = opts.seed ?? 1;
  const out = path.resolve(opts.out ?? `${path.basename(path.resolve(opts.model))}.hire`);

  // Before any work: `out` is checked and its temporary directory made (removed on any failure).
  const staged = StagedBundle.open(out, {force: opts.force ?? false, sourceDir: opts.model});
  for (const note of staged.notes) opts.onWarning?.(note);
  try {
    return await calibrateInto(staged, opts, {recall, ks, seqLen, heldOutShare, seed});
  } finally {
    staged.discard();
  }
}

/** The options calibrateInto reads with their defaults applied. */
interface Resolved {
  recall: number;
  ks: number[];
  seqLen: number;
  heldOutShare: number;
  seed: number;
}

/** The calibration itself, writing into the staged bundle directory. */
async function calibrateInto(staged: StagedBundle, opts: CalibrateOptions, r: Resolved): Promise<CalibrationResult> {
  const {recall, ks, seqLen, heldOutShare, seed} = r;
  const progress = opts.onProgress ?? (() => {});
  const stages = new StageProgress(progress, opts.ffn ? 8 : 7);
  await stages.start('loading model');
  const session = await Session.open(opts.model, {backend: opts.backend ?? 'cpu', threads: opts.threads ?? os.availableParallelism(), onWarning: opts.onWarning});
  try {
    const {config} = session;
    const vocab = config.vocabSize;
    const dim = config.embedDim;
    if (ks.some((k) => !Number.isInteger(k) || k < 1 || k > vocab)) throw new UsageError(`ks must be integers in 1..${vocab}`, {option: 'ks'});
    checkFitRequest(opts, vocab, dim);
    const ffnReq = opts.ffn ? resolveFfnRequest(opts.ffn, config, ffnRowsInBlocks(session.source)) : null;

    const corpus = readCorpus(opts.data, opts.split ?? 'train');
    await stages.start(`tokenizing ${corpus.files.map((f) => f.file).join(', ')}`);
    const allIds = session.tokenizer!.encode(corpus.text, {addSpecialTokens: false});
    const ids = allIds.slice(0, opts.tokens ?? 8192);
    const heldOut = Math.floor(ids.length * heldOutShare);
    const fitTokens = ids.length - heldOut;
    if (heldOut < 16 || fitTokens < 64) {
      throw new DataError(corpus.files.map((f) => f.file).join(', '), `only ${ids.length} tokens; calibration needs at least 80 (more is better)`);
    }

    // 1. Final hidden states of every token, and the exact top ids of the held-out ones.
    const maxK = ks[ks.length - 1]!;
    const hs = new Float32Array(ids.length * dim);
    const exactTop: Int32Array[] = [];
    const dense = new DenseHead(session.backend, session.model.weights.lmHead);
    let collector: FfnCollector | null = null;
    if (ffnReq) {
      collector = new FfnCollector(session.backend, config, ffnReq.topK, ids.length, fitTokens);
      session.model.setFfnTopK(ffnReq.topK);
      session.model.probe = collector;
    }
    await stages.start('running the dense model over the calibration text', ids.length, 'tokens');
    const chunkStarts: number[] = [];
    for (let s = 0; s < ids.length; s += seqLen) chunkStarts.push(s);
    for (const start of chunkStarts) {
      const cache = session.model.createCache(Math.min(seqLen, ids.length - start));
      for (let pos = 0; pos < seqLen && start + pos < ids.length; pos++) {
        const t = start + pos;
        if (collector) collector.token = t;
        const h = await session.model.hidden(ids[t]!, pos, cache);
        hs.set(await session.backend.read(h), t * dim);
        if (t >= fitTokens) exactTop.push(topKIndices((await dense.next(h)).logits, maxK));
        await stages.advance(t + 1);
      }
      session.model.releaseCache(cache);
    }

    // 2. Fit the predictors on the fit split.
    const lmHead = session.source.specs.find((s) => s.key === 'lmHead') ?? session.source.specs.find((s) => s.key === 'embed')!;
    await stages.start('fitting the softmax predictors');
    const w = hostMatrixF32(readHostMatrix(session.source.checkpoint, lmHead)); // ggml blocks dequantised
    const predictors = fitPredictors(w, vocab, dim, hs.subarray(0, fitTokens * dim), fitTokens, opts, seed, (stage) => stages.relabel(stage));

    // 3. Recall of each predictor on the held-out split, measured with the same head that decodes.
    const grid = defaultKPrimeGrid(vocab, Math.min(8, vocab));
    const targets = [...new Set([...DEFAULT_RECALL_TARGETS, recall])].sort((a, b) => a - b);
    const hVec: Vec = session.backend.createVector(dim);
    const records: PredictorRecord[] = [];
    await stages.start('measuring recall on the held-out tokens', predictors.length * heldOut, 'tokens');
    for (const [j, p] of predictors.entries()) {
      stages.relabel(`measuring recall of ${p.name}`);
      const head = new HireSoftmaxHead(session.backend, session.model.weights.lmHead, p, {kPrime: 1, certifyK: null});
      const acc = new RecallAccumulator(ks, grid);
      for (let i = 0; i < heldOut; i++) {
        session.backend.write(hVec, hs.subarray((fitTokens + i) * dim, (fitTokens + i + 1) * dim));
        acc.add(exactTop[i]!, await head.approximate(hVec));
        await stages.advance(j * heldOut + i + 1);
      }
      const table = acc.table();
      const kPrime: KPrimeTable = {};
      for (const target of targets) {
        kPrime[String(target)] = Object.fromEntries(ks.map((k) => [String(k), chooseKPrime(table, k, target)]));
      }
      records.push({...predictorMeta(p), recall: table, kPrime});
    }

    const selected = selectPredictor(records, predictors, recall, session.model.weights.lmHead.bytes / vocab);
    if (!selected.reaches) {
      opts.onWarning?.(`no predictor reaches recall ${recall} at k=${SELECTION_K} on the k' grid; selected ${selected.name} (best recall); decoding will fall back to dense where the table has no k'`);
    }

    // 3b. DaT-Top-k: recall of DaT against single-device HiRE per device count and slack.
    await stages.start('calibrating the DaT-Top-k slack', heldOut, 'tokens');
    const chosen = predictors[records.findIndex((r) => r.name === selected.name)]!;
    const datHead = new HireSoftmaxHead(session.backend, session.model.weights.lmHead, chosen, {kPrime: 1, certifyK: null});
    const dat = new DatRecallAccumulator(DEFAULT_DAT_DEVICES, datPairs(records.find((r) => r.name === selected.name)!, recall));
    for (let i = 0; i < heldOut; i++) {
      session.backend.write(hVec, hs.subarray((fitTokens + i) * dim, (fitTokens + i + 1) * dim));
      dat.add(exactTop[i]!, await datHead.approximate(hVec));
      await stages.advance(i + 1);
    }

    // 4. HiRE-FFN: permutation, static set, predictors and k'_g per layer.
    let ffn: FfnCalibration | null = null;
    if (ffnReq && collector) {
      session.model.probe = null;
      await stages.start('calibrating HiRE-FFN');
      ffn = calibrateFfn(session.source, collector, fitTokens, {...ffnReq, seed, targets, selectTarget: recall}, (stage, done, total) => stages.relabel(stage, done, total));
      const unreached = ffn.records.filter((r) => r.kPrime[String(recall)] === null).length;
      if (unreached > 0) opts.onWarning?.(`FFN: ${unreached} of ${config.nLayers} layers reach recall ${recall} only by reading every group`);
      const costly = costlyFfnLayers(ffn, ffnRowBytes(session.source), config.hiddenDim, recall);
      if (costly.length > 0) {
        const [l, bytes, dense] = costly[0]!;
        opts.onWarning?.(
          `FFN: in ${costly.length} of ${config.nLayers} layers the predictor and the groups it picks at recall ${recall} read at least the dense FFN's bytes ` +
            `(layer ${l}: ${bytes} against ${dense}), so decoding runs those layers dense; a smaller predictor may pay there (${ffnReq.kinds.includes('lowrank+quant') ? 'a lower --ffn-rank' : '--ffn-kind lowrank+quant, --ffn-rank'})`,
        );
      }
    }

    // 5. The bundle.
    await stages.start('writing the bundle');
    const gguf = session.source.hfFiles;
    const manifest: HireManifest = {
      format: 'hire-bundle',
      version: 1,
      createdBy: 'hire',
      createdAt: new Date().toISOString(),
      source: sourceIdentity(opts.model, session.source.hfFiles),
      model: {architecture: config.architecture, vocabSize: vocab, dim},
      calibration: {data: corpus.files, split: corpus.split, ...(corpus.bundled ? {corpus: corpus.bundled} : {}), tokens: ids.length, fitTokens, heldOutTokens: heldOut, seqLen, seed},
      softmax: {selected: selected.name, recallTargets: targets, predictors: records, dat: dat.result(selected.name)},
      ffn: ffn ? ffnManifest(ffn, targets, recall) : null,
    };
    const written = await writeBundle({
      sourceDir: opts.model,
      staged,
      manifest,
      predictors,
      copyWeights: opts.copyWeights,
      ...(ffn
        ? {
            ...relaidFiles(relayoutWeights(session.source, ffn.perms.map((p) => p.perm))),
            configPatch: {hire_ffn_layout: 'neuron-rows'},
            extraTensors: ffnPredictorTensors(ffn),
          }
        : gguf
          ? relaidFiles(copyWeights(session.source))
          : {}),
      // a GGUF source has no files to link or copy: its tensors are written, and the files it stands for
      ...(gguf ? {sourceFiles: gguf} : {}),
    });
    return {bundle: staged.out.abs, manifest: written, corpus: {split: corpus.split, bundled: corpus.bundled, files: corpus.files, textTokens: allIds.length}};
  } finally {
    session.dispose();
  }
}

/** What hire.json records of the source: its config and weight files (a GGUF file: the file itself and its config as built). */
function sourceIdentity(model: string, hfFiles: ModelSource['hfFiles']): HireManifest['source'] {
  if (hfFiles) {
    const text = `${JSON.stringify(hfFiles['config.json'], null, 2)}\n`;
    const config = {file: 'config.json', bytes: Buffer.byteLength(text), sha256: crypto.createHash('sha256').update(text).digest('hex')};
    return {dir: model, config, weights: [weightFileHash(model)]};
  }
  return {dir: model, config: sha256File(path.join(model, 'config.json')), weights: weightFiles(model).map((f) => weightFileHash(path.join(model, f)))};
}

/** The FFN request's own option names, for checkFitRequest's messages. */
const FFN_FIT_NAMES: FitOptionNames = {softmax: 'ffn.kinds', rank: 'ffn.rank', bits: 'ffn.bits', groupSize: 'ffn.quantGroup'};

/** Whether the source's FFN input rows (W_up, which every FFN form has) are q8_0 / q4_0 blocks. */
function ffnRowsInBlocks(source: ModelSource): boolean {
  const spec = source.specs.find((s) => s.key === 'layers.0.wUp');
  return spec !== undefined && blockFormatOf(source.checkpoint, spec.name) !== null;
}

/**
 * Defaults and checks for an FFN calibration request. Kinds tried by default: quant; on q8_0 /
 * q4_0 weights also lowrank+quant, since a quantised predictor of the whole [W_gate; W_up] is
 * about as large as their block rows there (llama2xs at q4_0: 15.4 KB against 13.8 KB a layer;
 * low-rank int4, 5.1 KB), and calibration keeps whichever reads fewer bytes per layer.
 */
function resolveFfnRequest(req: FfnFitRequest, config: ModelConfig, blockRows = false): Required<FfnFitRequest> {
  const g = req.groupSize ?? 8;
  if (!Number.isInteger(g) || g < 1 || g > 32 || config.hiddenDim % g !== 0) {
    throw new UsageError(`ffn.groupSize ${g} must be an integer from 1 to 32 that divides the FFN width ${config.hiddenDim}`, {option: 'ffn.groupSize'});
  }
  const topK = req.topK ?? config.ffnTopK ?? 0.1;
  if (!(topK > 0 && topK <= 1)) throw new UsageError(`ffn.topK must be in (0, 1], got ${topK}`, {option: 'ffn.topK'});
  const score = req.score ?? 'max';
  if (!GROUP_SCORES.includes(score)) throw new UsageError(`ffn.score must be ${GROUP_SCORES.join(' or ')}, got ${score}`, {option: 'ffn.score'});
  const staticThreshold = req.staticThreshold ?? 0.5;
  if (req.refine !== undefined && !(Number.isInteger(req.refine) && req.refine >= 0 && req.refine <= 1000)) {
    throw new UsageError(`ffn.refine must be an integer from 0 to 1000 (swaps per neuron), got ${req.refine}`, {option: 'ffn.refine'});
  }
  if (!(staticThreshold > 0 && staticThreshold <= 1)) throw new UsageError(`ffn.staticThreshold must be in (0, 1], got ${staticThreshold}`, {option: 'ffn.staticThreshold'});
  const kinds: SoftmaxKind[] = req.kinds && req.kinds.length > 0 ? req.kinds : blockRows ? ['quant', 'lowrank+quant'] : ['quant'];
  const bits = req.bits && req.bits.length > 0 ? [...new Set(req.bits)] : ([4, 8] as (8 | 4)[]);
  for (const b of bits) checkFitRequest({softmax: kinds, rank: req.rank, bits: b, groupSize: req.quantGroup}, config.hiddenDim, config.dim, FFN_FIT_NAMES);
  return {
    kinds,
    rank: req.rank ?? Math.min(config.dim, Math.max(8, Math.round(config.dim / 8))),
    bits,
    quantGroup: req.quantGroup ?? defaultQuantGroup(config.dim),
    groupSize: g,
    score,
    topK,
    staticThreshold,
    permute: req.permute ?? true,
    refine: req.refine ?? 0,
  };
}

function defaultQuantGroup(dim: number): number {
  for (const g of [64, 32]) if (dim % g === 0 && dim > g) return g;
  return dim;
}

/**
 * The predictor that reads the fewest bytes per token at (k = SELECTION_K or the nearest measured
 * k, recall target): predictor bytes plus k' exact rows. Predictors that cannot reach the target
 * are only chosen when none can (then the best recall at the largest k' wins).
 */
function selectPredictor(
  records: PredictorRecord[],
  predictors: SoftmaxPredictor[],
  target: number,
  rowBytes: number,
): {name: string; reaches: boolean} {
  const ks = records[0]!.recall.ks;
  const k = ks.find((v) => v >= SELECTION_K) ?? ks[ks.length - 1]!;
  let best: {name: string; cost: number} | null = null;
  records.forEach((r, i) => {
    const kp = chooseKPrime(r.recall, k, target);
    if (kp === null) return;
    const cost = predictorBytes(predictors[i]!) + kp * rowBytes;
    if (!best || cost < best.cost) best = {name: r.name, cost};
  });
  if (best) return {name: (best as {name: string}).name, reaches: true};
  const a = records[0]!.recall.ks.indexOf(k);
  const last = records[0]!.recall.kPrimes.length - 1;
  const top = records.reduce((x, y) => (y.recall.mean[a]![last]! > x.recall.mean[a]![last]! ? y : x));
  return {name: top.name, reaches: false};
}

/**
 * [layer, sparse bytes, dense bytes] of the calibrated FFN layers whose predictor plus the rows of
 * their static and k'_g groups at `recall` read at least the dense FFN (hiddenDim rows of
 * `rowBytes`, as the bundle holds them: ffnRowBytes): the layers SparseFfnLayer.runsDense runs
 * dense. Layers that reach recall only by reading every group are reported apart.
 */
export function costlyFfnLayers(ffn: FfnCalibration, rowBytes: number, hiddenDim: number, recall: number): Array<[number, number, number]> {
  const g = ffn.groupSize;
  const nGroups = hiddenDim / g;
  const dense = Math.round(hiddenDim * rowBytes);
  const out: Array<[number, number, number]> = [];
  ffn.records.forEach((r, l) => {
    const kp = r.kPrime[String(recall)];
    if (kp === null || kp === undefined || r.nStatic + kp >= nGroups) return;
    const bytes = Math.round(ffnStepBytes(r.predictor.bytesPerToken, r.nStatic + kp, g, rowBytes));
    if (bytes >= dense) out.push([l, bytes, dense]);
  });
  return out;
}
