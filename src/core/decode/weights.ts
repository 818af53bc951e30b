/**
 * The weights as a backend holds them: one typed tree of matrix and vector handles (ModelWeights),
 * uploaded from a checked checkpoint one tensor at a time.
 */
import type {Backend, Mat, Vec} from '../backends/backend.js';
import {WeightError} from '../errors.js';
import type {ModelConfig} from '../model/config.js';
import type {ModelSource} from '../model/load.js';
import {readHostMatrix, readHostVector, type WeightFile, type WeightSpec} from '../model/weights.js';

export interface Norm {
  weight: Vec;
  bias?: Vec;
}

/** One transformer block. Matrices are [out, in] so that y = W x. */
export interface LayerWeights {
  attnNorm: Norm; // [dim]
  wq: Mat; // (nHeads * headDim, dim)
  wk: Mat; // (nKvHeads * headDim, dim)
  wv: Mat; // (nKvHeads * headDim, dim)
  wo: Mat; // (dim, nHeads * headDim)
  bq?: Vec;
  bk?: Vec;
  bv?: Vec;
  bo?: Vec;
  ffnNorm: Norm; // [dim]
  wGate?: Mat; // (hiddenDim, dim), gated FFN only
  wUp: Mat; // (hiddenDim, dim): W_in (up_proj, c_fc, fc1)
  /** W_out (down_proj, c_proj, fc2): exactly one of wDown (dim, hiddenDim) and wDownT (hiddenDim, dim). */
  wDown?: Mat; // (dim, hiddenDim)
  /** W_out transposed, one row per FFN neuron: what the sparse FFN reads (see ffnDownSpecs). */
  wDownT?: Mat; // (hiddenDim, dim)
  bGate?: Vec;
  bUp?: Vec;
  bDown?: Vec;
}

export interface ModelWeights {
  embed: Mat; // (vocabSize, embedDim)
  positions?: Mat; // (maxPositions, dim), learned positions only
  projectIn?: Mat; // (dim, embedDim), OPT word_embed_proj_dim only
  projectOut?: Mat; // (embedDim, dim), OPT word_embed_proj_dim only
  layers: LayerWeights[];
  finalNorm?: Norm; // [dim]
  lmHead: Mat; // (vocabSize, embedDim); the same handle as embed when tied
}

/** Weight bytes of a layer's FFN matrices (W_gate, W_up, and W_out in either layout); null/undefined count 0. */
export function ffnBytes(l: {wGate?: Mat | null; wUp?: Mat | null; wDown?: Mat | null; wDownT?: Mat | null}): number {
  return [l.wGate, l.wUp, l.wDown, l.wDownT].reduce((a, m) => a + (m ? m.bytes : 0), 0);
}

/** Loads every spec into the backend and assembles the typed weight tree. */
export function loadWeights(
  config: ModelConfig,
  specs: WeightSpec[],
  ckpt: WeightFile,
  backend: Backend,
  onTensor?: (done: number, total: number) => void,
): ModelWeights {
  const loaded = new Map<string, Mat | Vec>();
  specs.forEach((spec, i) => {
    loaded.set(
      spec.key,
      spec.kind === 'matrix' ? backend.uploadMatrix(readHostMatrix(ckpt, spec)) : backend.uploadVector(readHostVector(ckpt, spec)),
    );
    onTensor?.(i + 1, specs.length);
  });
  return assembleWeights(config, loaded);
}

function assembleWeights(config: ModelConfig, loaded: Map<string, Mat | Vec>): ModelWeights {
  const mat = (key: string) => loaded.get(key) as Mat;
  const vec = (key: string) => loaded.get(key) as Vec | undefined;
  const norm = (key: string): Norm => ({weight: vec(`${key}.weight`)!, bias: vec(`${key}.bias`)});
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const p = `layers.${i}.`;
    layers.push({
      attnNorm: norm(`${p}attnNorm`),
      wq: mat(`${p}wq`),
      wk: mat(`${p}wk`),
      wv: mat(`${p}wv`),
      wo: mat(`${p}wo`),
      bq: vec(`${p}bq`),
      bk: vec(`${p}bk`),
      bv: vec(`${p}bv`),
      bo: vec(`${p}bo`),
      ffnNorm: norm(`${p}ffnNorm`),
      wGate: loaded.has(`${p}wGate`) ? mat(`${p}wGate`) : undefined,
      wUp: mat(`${p}wUp`),
      wDown: loaded.has(`${p}wDown`) ? mat(`${p}wDown`) : undefined,
      wDownT: loaded.has(`${p}wDownT`) ? mat(`${p}wDownT`) : undefined,
      bGate: vec(`${p}bGate`),
      bUp: vec(`${p}bUp`),
      bDown: vec(`${p}bDown`),
    });
  }
  const embed = mat('embed');
  return {
    embed,
    positions: loaded.has('positions') ? mat('positions') : undefined,
    projectIn: loaded.has('projectIn') ? mat('projectIn') : undefined,
    projectOut: loaded.has('projectOut') ? mat('projectOut') : undefined,
    layers,
    finalNorm: loaded.has('finalNorm.weight') ? norm('finalNorm') : undefined,
    lmHead: loaded.has('lmHead') ? mat('lmHead') : embed,
  };
}


/** Uploads the weights of an opened checkpoint to a backend. */
export function uploadWeights(
  source: ModelSource,
  backend: Backend,
  onProgress?: (done: number, total: number) => void,
): ModelWeights {
  try {
    return loadWeights(source.config, source.specs, source.checkpoint, backend, onProgress);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new WeightError(source.weightsFile, `out of memory while loading weights (${error.message})`);
    }
    throw error;
  }
}
