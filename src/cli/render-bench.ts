/** What `hire bench` prints: its report as tables (the numbers --json prints). */
import type {BenchReport, DeviceBenchReport, OutputLayerReport} from '../api/bench.js';
import {formatBytes, makeTable} from './format.js';

export function renderBenchReport(r: BenchReport): string {
  const p = r.parameters;
  const head = makeTable();
  head.push(
    {model: r.shape ? `${r.shape} (synthetic, ${r.dtype})` : `${r.model} (${r.dtype})`},
    {shape: `dim ${p.dim}, ${p.nLayers} layers, ffn ${p.hiddenDim}, vocab ${p.vocabSize}`},
    {backend: r.backendInfo},
    {cpu: `${r.cpu.model} (${r.cpu.cores} logical cores)`},
    {'memory bandwidth (probe)': r.probeBytesPerSecond ? probeCell(r) : 'not measured'},
    {'compute (matvec probe)': r.computeProbe ? `${gops(r.computeProbe.opsPerSecond)} GOP/s (${r.computeProbe.dtype} matvec, [${r.computeProbe.rows}, ${r.computeProbe.cols}] in cache)` : 'not measured'},
    {'compute (multiply-add probe)': r.probeFlopsPerSecond ? `${(r.probeFlopsPerSecond / 1e9).toFixed(1)} GFLOP/s (the prompt kernels' tile on every thread)` : 'not measured'},
    {tokens: `${r.promptTokens} prefilled, ${r.decodeTokens} decoded from context ${r.context}, KV cache ${r.kvDtype}`},
  );
  const speed = makeTable(['', 'decode tok/s', 'ms/token', 'weights/token', 'KV/token', 'read', 'of probe', 'GOP/s', 'of compute', 'speedup']);
  for (const row of r.rows) {
    speed.push([
      row.head,
      decodeCell(row),
      row.msPerToken.toFixed(2),
      formatBytes(row.weightBytesPerToken),
      formatBytes(row.kvBytesPerToken),
      `${formatBytes(row.achievedBytesPerSecond)}/s`,
      percent(row.bandwidthUtilisation),
      gops(row.weightOpsPerSecond),
      r.computeProbe ? `${((row.weightOpsPerSecond / r.computeProbe.opsPerSecond) * 100).toFixed(0)}%` : '-',
      `${row.speedup.toFixed(2)}x`,
    ]);
  }
  let out = `${head.toString()}\n${speed.toString()}\n${renderPrefill(r)}`;
  out += '\nGOP/s: weight operations per second (2 per weight multiplied; HiRE rows: the dense figure scaled by their bytes); near 100% of compute (the matvec probe) means compute-bound, near 100% of probe memory-bound';
  if (r.roundProbeBytesPerSecond.length) out += '\nof probe: each run\'s read against the probe measured just before its round, the median of those';
  const runs = r.rows[0]?.decodeSpread.runs ?? 1;
  if (runs > 1) out += `\ndecode tok/s: the median of ${runs} round-robin runs, with the slowest and fastest in brackets`;
  for (const n of r.notes) out += `\nnote: ${n}`;
  const timed = r.rows.filter((row) => row.breakdown);
  if (timed.length) {
    const parts = makeTable(['decode ms/token', 'attention', 'ffn', 'output layer', 'embedding']);
    for (const row of timed) {
      const b = row.breakdown!;
      parts.push([row.mode, b.attention.toFixed(2), b.ffn.toFixed(2), b.output.toFixed(2), b.embed.toFixed(3)]);
    }
    out += `\n${parts.toString()}`;
  }
  if (r.batch.length) out += `\n${renderBatch(r)}`;
  if (r.devices) out += `\n${renderDevices(r.devices)}`;
  return out;
}

/** Prompt processing: the prompt as blocks of rows, against the compute probe. */
function renderPrefill(r: BenchReport): string {
  const t = makeTable([`prompt processing (${r.promptTokens} tokens)`, 'tok/s', 'GFLOP/s', 'of compute probe']);
  for (const row of r.rows) {
    t.push([row.head, row.prefillTokensPerSecond.toFixed(1), (row.prefillFlopsPerSecond / 1e9).toFixed(2), percent(row.computeUtilisation)]);
  }
  return t.toString();
}

/** The start probe, and the probe of each round of timed rows (the machine's bandwidth drifts). */
function probeCell(r: BenchReport): string {
  const rounds = r.roundProbeBytesPerSecond.map((b) => (b / 1e9).toFixed(1));
  return `${formatBytes(r.probeBytesPerSecond!)}/s${rounds.length ? ` (before each round: ${rounds.join(', ')} GB/s)` : ''}`;
}

function percent(share: number | null): string {
  return share === null ? '-' : `${(share * 100).toFixed(0)}%`;
}

function renderBatch(r: BenchReport): string {
  const bt = makeTable(['batched', 'tok/s (all sequences)', 'vs one sequence', 'weights/token', 'one sequence', 'FFN groups/layer: batch vs one']);
  for (const row of r.batch) {
    bt.push([
      `${row.mode}, batch ${row.batch}`,
      row.tokensPerSecond.toFixed(1),
      `${row.speedup.toFixed(2)}x`,
      formatBytes(row.weightBytesPerToken),
      formatBytes(row.singleBytesPerToken),
      row.unionGroups === null ? '-' : `${row.unionGroups.toFixed(1)} vs ${row.groupsPerSequence!.toFixed(1)}`,
    ]);
  }
  return bt.toString();
}

function renderDevices(d: DeviceBenchReport): string {
  const t = makeTable(['devices', 'top-k', 'ms/token', 'output layer ms', 'moved/token', 'all-reduce', 'softmax', 'vs 1 device', 'vs HiRE session', 'slack', 'FFN', 'FFN weights/token/device']);
  for (const row of d.rows) {
    t.push([
      String(row.devices),
      row.topk,
      row.speedClaim ? row.msPerToken.toFixed(2) : `(${row.msPerToken.toFixed(2)})`,
      row.speedClaim ? row.outputMsPerToken.toFixed(3) : `(${row.outputMsPerToken.toFixed(3)})`,
      formatBytes(row.traffic.total),
      formatBytes(row.traffic.allReduce),
      formatBytes(row.traffic.softmax),
      row.vsOneDevice === null ? '-' : `${row.vsOneDevice.toFixed(2)}x`,
      row.vsSingleHire === null ? '-' : `${row.vsSingleHire.toFixed(2)}x`,
      row.topk === 'dat' ? String(row.slack) : '-',
      row.ffn.sparse ? 'HiRE' : 'dense',
      row.ffn.bytesPerTokenPerDevice.map((b) => formatBytes(b)).join(' / '),
    ]);
  }
  let out = `${t.toString()}\n(latency in parentheses: more devices than the ${d.cores} cores, not a speed figure. 'vs 1 device': the same mode on one device of this runtime; 'vs HiRE session': the single-device HiRE row above, on all cores. The paper reports 2.27x over single-device HiRE on several TPUs. 'FFN weights/token/device': FFN weight bytes each device reads per token, predictors included)`;
  if (d.recall) {
    const rt = makeTable(['devices', "k'", 'k', 'slack', 'recall single', 'recall DaT', 'DaT, no slack']);
    for (const r of d.recall.rows) rt.push([String(r.devices), String(r.kPrime), String(r.k), String(r.slack), r.single.toFixed(4), r.dat.toFixed(4), r.datNoSlack.toFixed(4)]);
    out += `\nDaT recall@k against exact top-k on ${d.recall.tokens} held-out tokens\n${rt.toString()}`;
  }
  return out;
}

export function renderOutputLayer(r: OutputLayerReport): string {
  const t = makeTable(['output layer', 'ms/step', 'bytes/step', 'speedup']);
  for (const row of r.rows) t.push([row.head, row.msPerStep.toFixed(3), formatBytes(row.bytesPerStep), `${row.speedup.toFixed(2)}x`]);
  return `output layer [${r.vocabSize}, ${r.dim}] f32 on ${r.backend}; predictor ${r.predictor} (${formatBytes(r.predictorBytes)})\n${t.toString()}`;
}

function gops(opsPerSecond: number): string {
  return (opsPerSecond / 1e9).toFixed(1);
}

/** "64.5" for one run; "64.5 (61.2-66.0)" (median, smallest-largest) for several. */
function decodeCell(row: BenchReport['rows'][number]): string {
  const s = row.decodeSpread;
  const med = row.decodeTokensPerSecond.toFixed(1);
  return s.runs > 1 ? `${med} (${s.min.toFixed(1)}-${s.max.toFixed(1)})` : med;
}
