/**
 * evaluate(): the perplexity of a model on a text (sliding windows, with its standard error) and,
 * on a HiRE bundle, what HiRE costs in quality: recall@k, top-1 agreement, KL and perplexity,
 * dense against each predictor. writeRecallPlot() draws the bundle's recall curves with a
 * report's measurements marked. Never prints.
 */
import {evaluate as evaluateCore, type EvalReport, type EvaluateOptions as CoreEvaluateOptions} from '../core/tasks/evaluate/evaluate.js';
import {plotK, renderRecallPlot, writeFileAtomic} from '../core/tasks/evaluate/plot.js';
import {UsageError} from '../core/errors.js';
import {DEFAULTS} from './defaults.js';
import {withoutUndefined} from './options.js';
import {coreProgress, type TaskOptions} from './progress.js';
import {resolveModel} from './hub.js';

export type {EvalReport, EvalRow} from '../core/tasks/evaluate/evaluate.js';
export {describeSplit, type Split} from '../core/tasks/corpus.js';
export type {FfnEvalReport, FfnEvalRow} from '../core/tasks/evaluate/ffn-evaluate.js';

/**
 * The options of core evaluate() (documented there), with `model` optional (default: the demo
 * bundle) and progress, warnings and cancellation as TaskOptions. `bundle` is the older name of
 * `model`. Missing options take DEFAULTS (DEFAULTS.evaluate).
 */
export type EvaluateOptions = Omit<CoreEvaluateOptions, 'model' | 'onProgress' | 'onWarning'> &
  Partial<Pick<CoreEvaluateOptions, 'model'>> & {
    /** @deprecated the older name of `model`. */
    bundle?: string;
    /** `model` may be a Hugging Face id; download it when the cache lacks it (default false). */
    download?: boolean;
  } & TaskOptions;

export async function evaluate(options: EvaluateOptions = {}): Promise<EvalReport> {
  const {onProgress: _p, onWarning, signal: _s, bundle, model, download, ...rest} = options;
  const split = DEFAULTS.evaluate.split;
  const resolved = await resolveModel(model ?? bundle ?? DEFAULTS.demo.bundle, {download, onProgress: options.onProgress, signal: options.signal});
  const bundled = !(rest.data && rest.data.length > 0);
  return evaluateCore({
    backend: DEFAULTS.backend,
    kvDtype: DEFAULTS.kvDtype,
    blockActivations: DEFAULTS.blockActivations,
    split: bundled ? split.bundled : split.data,
    ...(bundled ? {tokens: DEFAULTS.evaluate.bundledTokens} : {}),
    ...withoutUndefined(rest),
    model: resolved.dir,
    onProgress: coreProgress('evaluation', options),
    onWarning,
  });
}

/**
 * Writes the held-out recall curves a report carries (from hire.json) as an SVG to `file`
 * (a temporary file renamed into place), with the report's own measurements at that k marked.
 * The k plotted: the largest of `ks` that has a curve, else the k calibration selects at.
 * Returns that k.
 */
export function writeRecallPlot(report: EvalReport, file: string, options: {ks?: number[]} = {}): number | undefined {
  if (report.bundle === null) throw new UsageError(`a plot draws a bundle's recall curves, and ${report.model} is a plain checkpoint`, {option: 'plot'});
  const k = plotK(report.curves, options.ks);
  const measured = report.rows.filter((r) => r.k === k).map((r) => ({predictor: r.predictor, kPrime: r.kPrime, recall: r.recall}));
  writeFileAtomic(file, renderRecallPlot(report.curves, {k, measured}));
  return k;
}
