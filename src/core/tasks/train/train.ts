/**
 * The training loop: random windows from the training tokens, AdamW with warmup + cosine decay
 * and gradient clipping, a quick validation loss every `evalEvery` steps on a fixed spread of
 * validation windows, and a full validation pass at the end.
 *
 * Length: `steps` fixes the schedule. When it is null the loop times its first steps and one
 * quick evaluation, then fixes the number of steps that fits the time budget; the log records the
 * number, and passing it back as `steps` repeats the run exactly (same seed, same machine code).
 * `minutes` is also a hard stop: past it the loop ends early, evaluates, and says so in the log.
 */
import * as tf from '@tensorflow/tfjs-core';
import {UsageError} from '../../errors.js';
import {randomBatch, sliceWindows, spreadWindows, validationWindows, type Batch} from './data.js';
import {TrainModel, parameterCount, type ModelShape} from './model.js';
import {AdamW, DEFAULT_ADAMW, learningRate, type AdamWOptions} from './optimizer.js';
import {derivedRng, type Rng} from './rng.js';

export interface TrainOptions {
  shape: ModelShape;
  seed: number;
  /** Windows per step. */
  batchSize: number;
  /** Optimizer steps; null: as many as fit in `minutes` (measured on the first steps). */
  steps: number | null;
  /** Time budget for the loop and the final evaluation, in minutes. */
  minutes: number;
  peakLr: number;
  minLrRatio: number;
  warmupSteps: number;
  adamw: AdamWOptions;
  /** Quick validation every this many steps (0: only the final one). */
  evalEvery: number;
  /** Validation windows in a quick evaluation (the final one uses all of them). */
  evalWindows: number;
  /** Windows per forward pass during evaluation. */
  evalBatch: number;
  /** Progress lines (core never prints; the caller decides). */
  onProgress?: (line: string) => void;
}

export const DEFAULT_TRAIN: Omit<TrainOptions, 'shape'> = {
  seed: 1234,
  batchSize: 16,
  steps: null,
  minutes: 40,
  peakLr: 2e-3,
  minLrRatio: 0.1,
  warmupSteps: 100,
  adamw: DEFAULT_ADAMW,
  evalEvery: 100,
  evalWindows: 48,
  evalBatch: 16,
};

export interface EvalResult {
  /** Mean next-token loss (nats) over `tokens` targets. */
  loss: number;
  perplexity: number;
  tokens: number;
}

export interface TrainLog {
  shape: ModelShape;
  parameters: number;
  options: Omit<TrainOptions, 'shape' | 'onProgress'>;
  /** The schedule length used (fixed by `steps`, or measured). */
  totalSteps: number;
  stepsDone: number;
  stoppedByTimeBudget: boolean;
  /** Per step: training loss, learning rate, gradient norm before clipping. */
  trainLoss: number[];
  lr: number[];
  gradNorm: number[];
  evals: Array<{step: number; loss: number; seconds: number}>;
  final: EvalResult;
  seconds: {total: number; training: number; evaluation: number};
  /** Training throughput: optimizer steps and target tokens per second (evaluation excluded). */
  stepsPerSecond: number;
  tokensPerSecond: number;
}

export interface TrainResult {
  log: TrainLog;
  /** Trained parameters by HF tensor name, in checkpoint order. */
  params: Map<string, {shape: number[]; data: Float32Array}>;
}

/** Steps timed before the run length is fixed (they are part of the run). */
const CALIBRATION_STEPS = 8;

export async function trainModel(
  tokens: {train: Int32Array; validation: Int32Array},
  opts: TrainOptions,
): Promise<TrainResult> {
  checkOptions(opts);
  const run = new Run(tokens, opts);
  try {
    for (let step = 0; ; step++) {
      if (opts.steps === null && step === CALIBRATION_STEPS) run.plan(step);
      const planned = opts.steps !== null || step >= CALIBRATION_STEPS; // totalSteps is known
      if (planned && step >= run.log.totalSteps) break;
      if (run.outOfTime()) {
        run.log.stoppedByTimeBudget = true;
        run.say(`time budget reached after ${step} of ${run.log.totalSteps} steps`);
        break;
      }
      run.train(step);
      if (opts.evalEvery > 0 && (step + 1) % opts.evalEvery === 0) run.quickEval(step + 1);
    }
    return run.finish();
  } finally {
    run.dispose();
  }
}

/** One training run's state: model, optimizer, data streams, log and clocks. */
class Run {
  readonly log: TrainLog;
  readonly say: (line: string) => void;
  private readonly model: TrainModel;
  private readonly optimizer: AdamW;
  private readonly dataRng: Rng;
  private readonly valAll: Batch;
  private readonly valQuick: Batch;
  private readonly t0 = performance.now();
  private trainSeconds = 0;
  private evalSeconds = 0;
  private quickEvalSeconds = 0;

  constructor(
    private readonly tokens: {train: Int32Array; validation: Int32Array},
    private readonly opts: TrainOptions,
  ) {
    this.say = opts.onProgress ?? (() => {});
    this.model = new TrainModel(opts.shape, opts.seed);
    this.optimizer = new AdamW(this.model.params, opts.adamw);
    this.dataRng = derivedRng(opts.seed, 'batches');
    this.valAll = validationWindows(tokens.validation, opts.shape.contextLength);
    this.valQuick = spreadWindows(this.valAll, opts.evalWindows);
    this.log = {
      shape: opts.shape,
      parameters: parameterCount(opts.shape),
      options: withoutCallbacks(opts),
      totalSteps: opts.steps ?? 0,
      stepsDone: 0,
      stoppedByTimeBudget: false,
      trainLoss: [],
      lr: [],
      gradNorm: [],
      evals: [],
      final: {loss: NaN, perplexity: NaN, tokens: 0},
      seconds: {total: 0, training: 0, evaluation: 0},
      stepsPerSecond: 0,
      tokensPerSecond: 0,
    };
  }

  private seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** The final evaluation costs about (all windows / quick windows) quick evaluations. */
  private finalEvalEstimate(): number {
    return (this.quickEvalSeconds * this.valAll.batch) / this.valQuick.batch;
  }

  outOfTime(): boolean {
    return this.seconds() + this.finalEvalEstimate() > this.opts.minutes * 60;
  }

  /** Fixes the run length from the steps timed so far and one quick evaluation. */
  plan(step: number): void {
    this.quickEval(step);
    const perStep = this.trainSeconds / step;
    const left = this.opts.minutes * 60 - this.seconds();
    this.log.totalSteps = plannedSteps(this.opts, step, perStep, this.quickEvalSeconds, this.finalEvalEstimate(), left);
    this.say(`${perStep.toFixed(2)} s/step measured: ${this.log.totalSteps} steps fit in ${this.opts.minutes} min`);
  }

  train(step: number): void {
    const {opts, log} = this;
    const ts = performance.now();
    const batch = randomBatch(this.tokens.train, opts.shape.contextLength, opts.batchSize, this.dataRng);
    // Calibration steps fall inside the warmup, which does not depend on the total.
    const lr = learningRate(step, {
      peakLr: opts.peakLr, minLrRatio: opts.minLrRatio, warmupSteps: opts.warmupSteps, totalSteps: log.totalSteps,
    });
    const {loss, gradNorm} = optimizerStep(this.model, this.optimizer, batch, lr);
    this.trainSeconds += (performance.now() - ts) / 1000;
    if (!Number.isFinite(loss)) throw new UsageError(`training diverged at step ${step} (loss ${loss}); lower --lr`);
    log.trainLoss.push(round(loss));
    log.lr.push(lr);
    log.gradNorm.push(round(gradNorm));
    log.stepsDone = step + 1;
  }

  /** Validation loss on the quick window set, logged as of `step` steps done. */
  quickEval(step: number): void {
    const te = performance.now();
    const quick = evaluate(this.model, this.valQuick, this.opts.evalBatch);
    this.quickEvalSeconds = (performance.now() - te) / 1000;
    this.evalSeconds += this.quickEvalSeconds;
    this.log.evals.push({step, loss: quick.loss, seconds: this.seconds()});
    if (step === 0 || this.log.trainLoss.length === 0) return;
    const recent = mean(this.log.trainLoss.slice(-Math.max(1, this.opts.evalEvery)));
    const lr = this.log.lr[this.log.lr.length - 1]!;
    this.say(`step ${step}/${this.log.totalSteps} train ${recent.toFixed(3)} val ${quick.loss.toFixed(3)} lr ${lr.toExponential(2)} ${this.seconds().toFixed(0)} s`);
  }

  /** Full validation pass, timings, and the trained parameters. */
  finish(): TrainResult {
    const {log, opts} = this;
    const te = performance.now();
    log.final = evaluate(this.model, this.valAll, opts.evalBatch);
    this.evalSeconds += (performance.now() - te) / 1000;
    log.seconds = {total: this.seconds(), training: this.trainSeconds, evaluation: this.evalSeconds};
    log.stepsPerSecond = log.stepsDone / this.trainSeconds;
    log.tokensPerSecond = (log.stepsDone * opts.batchSize * opts.shape.contextLength) / this.trainSeconds;
    this.say(`final validation loss ${log.final.loss.toFixed(4)} perplexity ${log.final.perplexity.toFixed(2)} (${log.final.tokens} tokens)`);
    return {log, params: this.model.snapshot()};
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

/** Forward, backward and one AdamW update on `batch`. */
function optimizerStep(model: TrainModel, optimizer: AdamW, batch: Batch, lr: number): {loss: number; gradNorm: number} {
  const vars = [...model.params.values()];
  const {value, grads} = tf.variableGrads(() => model.loss(batch.inputs, batch.targets, batch.batch), vars);
  const loss = value.dataSync()[0]!;
  value.dispose();
  return {loss, gradNorm: optimizer.step(grads, lr)};
}

/** Mean next-token loss of `model` over every window of `set`, `batch` windows per pass. */
export function evaluate(model: TrainModel, set: Batch, batch: number): EvalResult {
  let total = 0;
  let count = 0;
  for (let from = 0; from < set.batch; from += batch) {
    const part = sliceWindows(set, from, Math.min(set.batch, from + batch));
    const loss = tf.tidy(() => model.loss(part.inputs, part.targets, part.batch).dataSync()[0]!);
    total += loss * part.targets.length;
    count += part.targets.length;
  }
  const loss = total / count;
  return {loss, perplexity: Math.exp(loss), tokens: count};
}

/**
 * Steps that fit in `secondsLeft`: each step costs its own time plus its share of the quick
 * evaluations, and the final evaluation comes off the top. A 3% margin absorbs drift.
 */
export function plannedSteps(
  opts: Pick<TrainOptions, 'evalEvery'>,
  done: number,
  secondsPerStep: number,
  quickEvalSeconds: number,
  finalEvalSeconds: number,
  secondsLeft: number,
): number {
  const perStep = secondsPerStep + (opts.evalEvery > 0 ? quickEvalSeconds / opts.evalEvery : 0);
  const more = Math.floor((0.97 * secondsLeft - finalEvalSeconds) / perStep);
  return done + Math.max(0, more);
}

export interface Benchmark {
  secondsPerStep: number;
  /** Seconds to evaluate one validation window. */
  evalSecondsPerWindow: number;
  /** Validation windows in the final evaluation. */
  validationWindows: number;
  tokensPerSecond: number;
}

/** Times `steps` training steps (after one untimed step) and one evaluation batch. */
export function benchmarkTraining(
  tokens: {train: Int32Array; validation: Int32Array},
  opts: TrainOptions,
  steps: number,
): Benchmark {
  checkOptions({...opts, steps});
  const model = new TrainModel(opts.shape, opts.seed);
  const optimizer = new AdamW(model.params, opts.adamw);
  try {
    const rng = derivedRng(opts.seed, 'batches');
    const step = () => {
      const b = randomBatch(tokens.train, opts.shape.contextLength, opts.batchSize, rng);
      optimizerStep(model, optimizer, b, opts.peakLr * 0.01);
    };
    step();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    const secondsPerStep = (performance.now() - t0) / 1000 / steps;
    const val = validationWindows(tokens.validation, opts.shape.contextLength);
    const t1 = performance.now();
    evaluate(model, sliceWindows(val, 0, Math.min(val.batch, opts.evalBatch)), opts.evalBatch);
    const evalSecondsPerWindow = (performance.now() - t1) / 1000 / Math.min(val.batch, opts.evalBatch);
    const tokensPerSecond = (opts.batchSize * opts.shape.contextLength) / secondsPerStep;
    return {secondsPerStep, evalSecondsPerWindow, validationWindows: val.batch, tokensPerSecond};
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

function checkOptions(o: TrainOptions): void {
  const positive: Array<[string, number]> = [
    ['batch size', o.batchSize], ['minutes', o.minutes], ['learning rate', o.peakLr], ['evaluation windows', o.evalWindows],
    ['evaluation batch', o.evalBatch],
  ];
  for (const [name, v] of positive) if (!(v > 0)) throw new UsageError(`${name} must be positive, got ${v}`);
  if (o.steps !== null && !(Number.isInteger(o.steps) && o.steps > 0)) throw new UsageError(`steps must be a positive integer, got ${o.steps}`);
  if (o.steps === null && o.warmupSteps < CALIBRATION_STEPS) {
    throw new UsageError(`with a time budget instead of --steps, warmup must be at least ${CALIBRATION_STEPS} steps`);
  }
}

function withoutCallbacks(o: TrainOptions): TrainLog['options'] {
  const {shape: _shape, onProgress: _onProgress, ...rest} = o;
  return rest;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}
