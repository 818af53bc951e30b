/**
 * The shard plan (docs/ARCHITECTURE.md, The method in brief: DaT-Top-k): which rows of which matrix each of D devices holds. Pure:
 * shapes in, ranges out. Every range is half-open, [start, end).
 *
 *   vocabulary   rows of lm_head and of the softmax predictor (A, Aq or Wq rows; B is replicated),
 *                split evenly: strided by default (device d holds ids d, d + D, d + 2D, ...), or
 *                contiguous slices. Tokenizers number frequent tokens first, so contiguous slices put
 *                most of a token's top-k on device 0 and DaT's local top lists miss them (measured on
 *                llama2xs, k = 32, k' = 48, 2 devices, no slack: recall 0.75 contiguous, 0.999 strided)
 *   FFN          neurons in whole groups of `groupSize`, groups split evenly: contiguous by default
 *                (static groups, always computed and stored first, split evenly on their own so that
 *                no device gets them all), or strided (group j on device j mod D). HiRE-FFN bundles
 *                use strided groups: each layer has its own static count and its own group order
 *                (calibration's co-activation permutation), and a strided split spreads both evenly
 *                in every layer at once, so every device gets its share of each layer's static
 *                groups and of its likely-active ones (DaT's local top-k'_g/D assumes that)
 *   attention    whole KV-head groups (GQA: a device owns kv heads [g0, g1) and the query heads
 *                that read them, [g0 * r, g1 * r) with r = nHeads / nKvHeads)
 *
 * When there are fewer KV heads than devices, attention is not split below one KV group: devices
 * past nKvHeads hold no attention heads (they still take part in the all-reduce with zeros).
 */

export interface Range {
  start: number;
  end: number;
}

/** A device's vocabulary ids: start, start + stride, ..., count of them. */
export interface VocabSlice {
  start: number;
  stride: number;
  count: number;
}

export type VocabLayout = 'strided' | 'contiguous';
/** How FFN groups are split: contiguous ranges (static groups split on their own) or strided. */
export type FfnLayout = 'contiguous' | 'strided';

export interface DeviceShard {
  device: number;
  /** Rows of lm_head and of the softmax predictor. */
  vocab: VocabSlice;
  /** FFN neuron ranges, ascending (static groups come first); one or two ranges when contiguous. */
  ffn: Range[];
  kvHeads: Range;
  /** Query heads: kvHeads scaled by the GQA group size. */
  heads: Range;
}

export interface ShardShape {
  vocabSize: number;
  hiddenDim: number;
  nHeads: number;
  nKvHeads: number;
}

export interface ShardPlanOptions {
  /** Vocabulary split (default strided). */
  vocabLayout?: VocabLayout;
  /** Neurons per FFN group (default 1). */
  ffnGroupSize?: number;
  /** Leading groups that are always computed (default 0; contiguous layout only). */
  staticGroups?: number;
  /** FFN group split (default contiguous). */
  ffnLayout?: FfnLayout;
}

export interface ShardPlan {
  devices: number;
  vocabLayout: VocabLayout;
  ffnGroupSize: number;
  ffnLayout: FfnLayout;
  shards: DeviceShard[];
  /** Plain-language caveats (e.g. devices without attention heads). */
  notes: string[];
}

/** Splits [0, n) into `parts` contiguous ranges whose sizes differ by at most one. */
export function splitEven(n: number, parts: number): Range[] {
  return Array.from({length: parts}, (_, d) => ({start: Math.floor((d * n) / parts), end: Math.floor(((d + 1) * n) / parts)}));
}

/** Every device's vocabulary slice. */
export function vocabSlices(vocabSize: number, devices: number, layout: VocabLayout): VocabSlice[] {
  if (layout === 'contiguous') return splitEven(vocabSize, devices).map((r) => ({start: r.start, stride: 1, count: rangeSize(r)}));
  return Array.from({length: devices}, (_, d) => ({start: d, stride: devices, count: Math.max(0, Math.ceil((vocabSize - d) / devices))}));
}

/** The global ids of a slice, ascending. */
export function sliceIds(v: VocabSlice): Int32Array {
  return Int32Array.from({length: v.count}, (_, i) => v.start + i * v.stride);
}

/** The local row of global id `id` in the slice, or -1 when the slice does not hold it. */
export function sliceLocal(v: VocabSlice, id: number): number {
  const off = id - v.start;
  if (off < 0 || off % v.stride !== 0) return -1;
  const i = off / v.stride;
  return i < v.count ? i : -1;
}

export function rangeSize(r: Range): number {
  return r.end - r.start;
}

/** The ids of a list of ranges, in order. */
export function rangeIds(ranges: readonly Range[]): Int32Array {
  const out = new Int32Array(ranges.reduce((s, r) => s + rangeSize(r), 0));
  let i = 0;
  for (const r of ranges) for (let v = r.start; v < r.end; v++) out[i++] = v;
  return out;
}

export function makeShardPlan(shape: ShardShape, devices: number, opts: ShardPlanOptions = {}): ShardPlan {
  if (!Number.isInteger(devices) || devices < 1) throw new RangeError(`devices must be an integer >= 1, got ${devices}`);
  const g = opts.ffnGroupSize ?? 1;
  if (!Number.isInteger(g) || g < 1 || shape.hiddenDim % g !== 0) {
    throw new RangeError(`FFN group size ${g} must divide the FFN width ${shape.hiddenDim}`);
  }
  const groups = shape.hiddenDim / g;
  const statics = opts.staticGroups ?? 0;
  if (!Number.isInteger(statics) || statics < 0 || statics > groups) throw new RangeError(`static groups ${statics} must be in 0..${groups}`);
  if (shape.nHeads % shape.nKvHeads !== 0) throw new RangeError(`nHeads ${shape.nHeads} is not a multiple of nKvHeads ${shape.nKvHeads}`);
  const r = shape.nHeads / shape.nKvHeads;

  const vocabLayout = opts.vocabLayout ?? 'strided';
  const vocab = vocabSlices(shape.vocabSize, devices, vocabLayout);
  const staticSplit = splitEven(statics, devices);
  const dynamicSplit = splitEven(groups - statics, devices);
  const kvSplit =
    shape.nKvHeads >= devices
      ? splitEven(shape.nKvHeads, devices)
      : Array.from({length: devices}, (_, d) => (d < shape.nKvHeads ? {start: d, end: d + 1} : {start: shape.nKvHeads, end: shape.nKvHeads}));
  const notes: string[] = [];
  if (shape.nKvHeads < devices) {
    notes.push(`${shape.nKvHeads} KV heads for ${devices} devices: devices ${shape.nKvHeads}..${devices - 1} hold no attention heads`);
  }
  const ffnLayout = opts.ffnLayout ?? 'contiguous';
  const shards = vocab.map((v, d): DeviceShard => {
    const ffn =
      ffnLayout === 'strided'
        ? stridedGroups(groups, g, d, devices)
        : [
            {start: staticSplit[d]!.start * g, end: staticSplit[d]!.end * g},
            {start: (statics + dynamicSplit[d]!.start) * g, end: (statics + dynamicSplit[d]!.end) * g},
          ].filter((x) => x.end > x.start);
    const kv = kvSplit[d]!;
    return {device: d, vocab: v, ffn, kvHeads: kv, heads: {start: kv.start * r, end: kv.end * r}};
  });
  return {devices, vocabLayout, ffnGroupSize: g, ffnLayout, shards, notes};
}

/** Neuron ranges of groups d, d + D, d + 2D, ... (adjacent groups merged: one range when D = 1). */
function stridedGroups(groups: number, g: number, d: number, devices: number): Range[] {
  const out: Range[] = [];
  for (let grp = d; grp < groups; grp += devices) {
    const last = out[out.length - 1];
    if (last && last.end === grp * g) last.end += g;
    else out.push({start: grp * g, end: (grp + 1) * g});
  }
  return out;
}
