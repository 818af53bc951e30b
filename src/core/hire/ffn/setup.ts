/**
 * Turning HiRE-FFN on for a decode from per-layer plans: one SparseFfnLayer per layer, installed as
 * the forward pass's FFN overrides (engine/sparse-ffn.ts reads the plans from a bundle; benchmarks
 * make synthetic ones). The model must hold W_out as neuron rows.
 */
import type {Transformer} from '../../decode/forward.js';
import {SparseFfnLayer, type FfnLayerPlan} from './sparse-layer.js';
import {ffnBytes} from '../../decode/weights.js';


export interface SparseFfn {
  layers: SparseFfnLayer[];
  /** What goes into Transformer.ffnOverride: the sparse layer, or null where it would read every group. */
  overrides: (SparseFfnLayer | null)[];
  /** Fraction of neurons the top-k FFN keeps. */
  topK: number;
  describe: string;
  /** Weight bytes all layers' FFNs read per token (predictors + chosen rows). */
  bytesPerToken: number;
  /** The same FFNs read densely. */
  denseBytesPerToken: number;
  note: string | null;
}

/** Installs sparse FFNs from plans (bundles and synthetic benchmarks both end here). */
export async function installFfnPlans(model: Transformer, plans: FfnLayerPlan[], topKFraction: number): Promise<SparseFfn> {
  const {config, weights, backend} = model;
  model.setFfnTopK(topKFraction);
  const layers: SparseFfnLayer[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    layers.push(await SparseFfnLayer.create(backend, config, weights.layers[l]!, plans[l]!, model.ffnTopK));
  }
  // a layer whose plan reads every group runs the dense FFN (the same rows, no predictor), and so
  // does one whose predictor and rows would read at least the dense FFN's bytes (runsDense)
  const overrides = layers.map((l) => (l.runsDense ? null : l));
  model.ffnOverride = overrides;
  const g = plans[0]!.groupSize;
  const meanGroups = layers.reduce((a, l) => a + l.groupsRead, 0) / layers.length;
  const full = layers.filter((l) => l.readsAll).length;
  const costly = layers.filter((l) => l.runsDense && !l.readsAll).length;
  const dense = [
    full ? `${full} of ${layers.length} layers read every group and run dense` : '',
    costly ? `${costly} of ${layers.length} layers run dense: predictor + rows >= dense bytes` : '',
  ].filter(Boolean);
  return {
    layers,
    overrides,
    topK: topKFraction,
    describe: `HiRE FFN (${plans[0]!.predictor.name}, g=${g}, ${meanGroups.toFixed(1)} of ${config.hiddenDim / g} groups per layer${dense.length ? `; ${dense.join('; ')}` : ''})`,
    bytesPerToken: layers.reduce((a, l) => a + l.bytesPerToken, 0),
    denseBytesPerToken: weights.layers.reduce((a, l) => a + ffnBytes(l), 0),
    note: null,
  };
}
