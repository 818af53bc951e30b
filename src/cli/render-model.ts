/** What `hire calibrate` and `hire inspect` print: a bundle's manifest and a checkpoint's report as tables. */
import type {CalibrationResult} from '../api/calibrate.js';
import type {InspectReport} from '../api/inspect.js';
import {formatBytes, formatCount, makeTable} from './format.js';

/** The predictors calibration fitted (k' at `recall` for each k), its FFN layers, and where it wrote the bundle. */
export function renderCalibration(result: CalibrationResult, recall: number): string {
  const m = result.manifest;
  const s = m.softmax!;
  const target = String(recall);
  const table = makeTable(['predictor', 'bytes/token', ...s.predictors[0]!.recall.ks.map((k) => `k'@${target} for k=${k}`), 'selected']);
  for (const p of s.predictors) {
    const kp = p.kPrime[target] ?? {};
    table.push([p.name, formatBytes(p.bytesPerToken), ...p.recall.ks.map((k) => String(kp[String(k)] ?? '-')), p.name === s.selected ? 'yes' : '']);
  }
  const lines = [table.toString()];
  if (m.ffn) {
    const f = m.ffn;
    const nGroups = f.layers[0] ? f.layers[0].groupActivity.length : 0;
    const ft = makeTable(['FFN layer', 'predictor', 'static groups', `k'_g@${target}`, `groups read of ${nGroups}`]);
    f.layers.forEach((l, i) => {
      const kp = l.kPrime[target];
      ft.push([String(i), l.predictor.name, String(l.nStatic), kp === null || kp === undefined ? 'all' : String(kp), String(l.nStatic + (kp ?? nGroups - l.nStatic))]);
    });
    lines.push(ft.toString(), `FFN: groups of ${f.groupSize} neurons, top-k ${f.topK}, ${f.permuted ? 'co-activation permutation' : 'original neuron order'}, static threshold ${f.staticThreshold}`);
  }
  lines.push(`calibrated on ${m.calibration.fitTokens} tokens, recall measured on ${m.calibration.heldOutTokens} held-out tokens`, `wrote ${result.bundle}`);
  return lines.join('\n');
}

/** The summary table of a checkpoint, then (when the report has them) its tensors. */
export function renderInspect(report: InspectReport): string {
  const c = report.config;
  const summary = makeTable();
  summary.push(
    {family: `${report.family} (${report.architecture})`},
    {parameters: formatCount(report.parameters)},
    {dtypes: Object.entries(report.bytesByDtype).map(([d, b]) => `${d} ${formatBytes(b!)}`).join(', ')},
    {'weight bytes / token': formatBytes(report.weightBytesPerToken)},
    {shape: `dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} kv, head ${c.headDim}), ffn ${c.hiddenDim}, vocab ${c.vocabSize}`},
    {positions: c.positions.kind === 'rope' ? `rope theta ${c.positions.theta}, scaling ${c.positions.scaling.kind}` : `learned (offset ${c.positions.offset})`},
    {'norm / act': `${c.norm} eps ${c.normEps}${c.preNorm ? '' : ' (post-norm)'}, ${c.activation}${c.gatedFfn ? ' gated' : ''}`},
    {'tied embeddings': String(c.tiedEmbeddings)},
    {context: String(c.maxSeqLen)},
    {files: report.files.join(', ')},
  );
  if (c.ffnTopK !== null) summary.push({'ffn top-k': `${(c.ffnTopK * 100).toFixed(1)}% of ${c.hiddenDim}`});
  if (c.ffnLayout === 'neuron-rows') summary.push({'ffn layout': 'W_out stored as neuron rows [ffn, dim] (a HiRE-FFN bundle)'});
  if (report.bundle) {
    const checked = report.bundle.checked;
    const weights = checked.length ? `weights match it (${checked.join(', ')})` : 'it records no hashes of these weights';
    summary.push({'hire bundle': `hire.json checked; ${weights}`});
  }
  if (!report.tensors) return summary.toString();
  const table = makeTable(['tensor', 'dtype', 'shape', 'bytes', 'used as']);
  for (const t of report.tensors) table.push([t.name, t.dtype, `[${t.shape.join(', ')}]`, formatBytes(t.bytes), t.usedAs.join(', ') || '(unused)']);
  return `${summary.toString()}\n${table.toString()}`;
}
