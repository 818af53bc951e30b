import {Args, Flags} from '@oclif/core';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';
import {BaseCommand, note, warn} from '../cli/base-command.js';
import {formatBytes, makeTable} from '../cli/format.js';
import {verifyWeightsFlag} from '../cli/flags.js';
import {parseIntList} from '../cli/parse.js';
import {createProgress, progressCallback} from '../cli/progress.js';
import {AVAILABLE_BACKENDS} from '../core/backends/index.js';
import {evaluate} from '../api/evaluate.js';
import {DEFAULT_EVAL_SEQ_LEN, DEFAULT_EVAL_TOKENS, type EvalReport, type EvalRow} from '../core/tasks/evaluate/evaluate.js';
import {plotK, renderRecallPlot, writeFileAtomic} from '../core/tasks/evaluate/plot.js';
import {TEXT_DATA, formatSize} from '../core/io/read-file.js';

export default class Eval extends BaseCommand {
  static override summary = "Measure what HiRE-Softmax costs in quality: recall, top-1 agreement, KL and perplexity against dense.";
  static override description = `Runs the dense model of a bundle over text calibration never saw (default: the validation split of the bundled Shakespeare corpus) and, at every position, scores each predictor's candidates against the dense output layer for every (k, k'): recall@k (share of the dense top-k inside the candidates), top-1 agreement with greedy dense decoding, the dense probability mass outside the candidates (tail mass) and KL(hire || dense), and the perplexity of the next token, dense and HiRE (next tokens outside the candidates are dropped and counted). By default k' takes the values the bundle stores for each recall target, plus k' = k and k' = vocabulary size. --plot writes the held-out recall curves stored in the bundle as an SVG, with this run's measurements marked.`;

  static override examples = [
    '<%= config.bin %> eval llama2xs.hire',
    '<%= config.bin %> eval llama2xs.hire --k 1,32 --k-prime 64,128,256 --predictor quant-int4-g32',
    '<%= config.bin %> eval llama2xs.hire --data notes.txt --tokens 8192 --plot recall.svg',
    '<%= config.bin %> eval llama2xs.hire --json > eval.json',
  ];

  static override args = {
    bundle: Args.directory({description: 'HiRE bundle directory made by hire calibrate (default: the bundled demo bundle).', required: false}),
  };

  static override optionFlags = {ks: 'k', kPrimes: 'k-prime'};

  static override flags = {
    data: Flags.string({description: `Evaluation text file (repeatable; default: the bundled corpus): a regular file of at most ${formatSize(TEXT_DATA.maxBytes)}. Its validation split is used.`, multiple: true}),
    tokens: Flags.integer({description: 'Evaluation tokens to use.', default: DEFAULT_EVAL_TOKENS, min: 2}),
    'seq-len': Flags.integer({description: 'Tokens per sequence (the KV cache restarts every seq-len tokens).', default: DEFAULT_EVAL_SEQ_LEN, min: 1}),
    k: Flags.string({description: "Top-k sizes, e.g. 1,8,32 (default: the ks the bundle measured)."}),
    'k-prime': Flags.string({description: "Candidate counts k', e.g. 64,128 (default: the bundle's k' per recall target, plus k and the vocabulary size)."}),
    predictor: Flags.string({description: 'Predictor to evaluate (repeatable; default: every predictor in the bundle).', multiple: true}),
    backend: Flags.string({char: 'b', description: `Compute backend: ${AVAILABLE_BACKENDS.join(', ')}.`, default: 'cpu'}),
    threads: Flags.integer({description: 'Worker threads for the cpu backend.', min: 1}),
    'no-ffn': Flags.boolean({description: 'Skip the HiRE-FFN rows even when the bundle has an FFN section.', default: false}),
    json: Flags.boolean({description: 'Print the report as JSON.', default: false}),
    plot: Flags.string({description: 'Write the recall curves as an SVG to this file.'}),
    'verify-weights': verifyWeightsFlag,
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Eval);
    const ks = flags.k === undefined ? undefined : parseIntList('--k', flags.k);
    const progress = createProgress(!flags.json);
    let report: EvalReport;
    try {
      report = await evaluate({
        bundle: args.bundle ?? DEMO_BUNDLE_DIR,
        data: flags.data,
        tokens: flags.tokens,
        seqLen: flags['seq-len'],
        ks,
        kPrimes: flags['k-prime'] === undefined ? undefined : parseIntList('--k-prime', flags['k-prime']),
        predictors: flags.predictor,
        backend: flags.backend,
        threads: flags.threads,
        ffn: !flags['no-ffn'],
        verifyWeights: flags['verify-weights'],
        onProgress: progressCallback(progress),
        onWarning: warn,
      });
    } finally {
      progress.stop();
    }
    const say = flags.json ? note : (line: string) => this.log(line);
    if (flags.json) this.log(JSON.stringify(report, null, 2));
    else this.printReport(report);
    if (flags.plot) {
      const k = plotK(report.curves, ks);
      const measured = report.rows.filter((r) => r.k === k).map((r) => ({predictor: r.predictor, kPrime: r.kPrime, recall: r.recall}));
      writeFileAtomic(flags.plot, renderRecallPlot(report.curves, {k, measured}));
      say(`wrote ${flags.plot} (recall@${k} against k')`);
    }
  }

  private printReport(r: EvalReport): void {
    const table = makeTable(['predictor', 'k', "k'", 'bytes/token', 'recall', 'top-1', 'KL', 'tail mass', 'ppl kept: dense -> hire', 'dropped', 'ppl approx tail']);
    for (const row of r.rows) table.push(cells(row, row.predictor === r.selected));
    this.log(table.toString());
    const files = r.data.map((f) => f.file).join(', ');
    this.log(`${r.tokens} next tokens of the validation split of ${files}, sequences of ${r.seqLen}`);
    this.log(`dense perplexity ${fixed(r.dense.perplexity, 3)}; bytes/token: output-layer weights read per token (dense: ${formatBytes(r.dense.bytesPerToken)})`);
    this.log(`* the predictor calibration selected (${r.selected}); k' (0.99): the k' the bundle stores for that recall target`);
    this.log('KL = KL(hire || dense) = -log(1 - tail mass); ppl kept: both over the next tokens inside the candidates; dropped: next tokens outside them');
    this.log("ppl approx tail: every next token, with exact logits on the candidates and the predictor's logits elsewhere (compare with the dense perplexity)");
    if (r.ffn) this.printFfn(r.ffn);
  }

  private printFfn(f: NonNullable<EvalReport['ffn']>): void {
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
    this.log(table.toString());
    this.log(`HiRE-FFN: groups of ${f.groupSize} neurons, top-k ${f.topK}${f.trainedTopK ? ' (the model was trained with it)' : ' (NOT how the model was trained: compare the dense FFN row)'}; static groups per layer: ${f.staticGroups.join(' ')}`);
    this.log('recall: share of each layer\'s true top-k neurons inside the groups read; ppl change, KL(exact || row) and top-1 against the exact top-k FFN; all rows use the dense output layer');
  }
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
