/** What `hire eval` prints: its report as tables with a legend (the numbers --json prints). */
import type {EvalReport, EvalRow, FfnEvalReport} from '../api/evaluate.js';
import {formatBytes, makeTable} from './format.js';

export function renderEvalReport(r: EvalReport): string {
  const table = makeTable(['predictor', 'k', "k'", 'bytes/token', 'recall', 'top-1', 'KL', 'tail mass', 'ppl kept: dense -> hire', 'dropped', 'ppl approx tail']);
  for (const row of r.rows) table.push(cells(row, row.predictor === r.selected));
  const files = r.data.map((f) => f.file).join(', ');
  const lines = [
    table.toString(),
    `${r.tokens} next tokens of the validation split of ${files}, sequences of ${r.seqLen}`,
    `dense perplexity ${fixed(r.dense.perplexity, 3)}; bytes/token: output-layer weights read per token (dense: ${formatBytes(r.dense.bytesPerToken)})`,
    `* the predictor calibration selected (${r.selected}); k' (0.99): the k' the bundle stores for that recall target`,
    'KL = KL(hire || dense) = -log(1 - tail mass); ppl kept: both over the next tokens inside the candidates; dropped: next tokens outside them',
    "ppl approx tail: every next token, with exact logits on the candidates and the predictor's logits elsewhere (compare with the dense perplexity)",
  ];
  if (r.ffn) lines.push(renderFfn(r.ffn));
  return lines.join('\n');
}

function renderFfn(f: FfnEvalReport): string {
  const table = makeTable(['FFN', 'groups read', 'FFN bytes/token', 'recall (per layer)', 'ppl', 'ppl change', 'KL', 'top-1']);
  for (const row of f.rows) {
    table.push([
      row.label,
      `${fixed(row.groups, 1)} / ${f.nGroups}`,
      formatBytes(row.bytesPerToken),
      row.recall === null ? '-' : `${fixed(row.recall, 4)} (${row.recallPerLayer!.map((v) => fixed(v, 3)).join(' ')})`,
      fixed(row.perplexity, 3),
      `${row.perplexityChange >= 0 ? '+' : ''}${fixed(100 * row.perplexityChange, 2)}%`,
      small(row.kl),
      fixed(row.top1Agreement, 4),
    ]);
  }
  return [
    table.toString(),
    `HiRE-FFN: groups of ${f.groupSize} neurons, top-k ${f.topK}${f.trainedTopK ? ' (the model was trained with it)' : ' (NOT how the model was trained: compare the dense FFN row)'}; static groups per layer: ${f.staticGroups.join(' ')}`,
    "recall: share of each layer's true top-k neurons inside the groups read; ppl change, KL(exact || row) and top-1 against the exact top-k FFN; all rows use the dense output layer",
  ].join('\n');
}

function cells(row: EvalRow, selected: boolean): string[] {
  const target = row.targets.length > 0 ? ` (${Math.max(...row.targets)})` : '';
  return [
    `${row.predictor}${selected ? ' *' : ''}`,
    String(row.k),
    `${row.kPrime}${target}`,
    formatBytes(row.bytesPerToken),
    fixed(row.recall, 4),
    fixed(row.top1Agreement, 4),
    small(row.reverseKl),
    small(row.tailMass),
    `${fixed(row.densePerplexityKept, 2)} -> ${fixed(row.perplexity, 2)}`,
    `${fixed(100 * row.droppedShare, 2)}%`,
    fixed(row.approxTailPerplexity, 2),
  ];
}

function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

/** 0, 1.2e-5 or 0.0123: small non-negative quantities stay readable (float noise below 1e-12 shows as 0). */
function small(v: number): string {
  if (Math.abs(v) < 1e-12) return '0';
  if (!Number.isFinite(v)) return String(v);
  return v < 1e-3 ? v.toExponential(1) : v.toFixed(4);
}
