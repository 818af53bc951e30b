/**
 * Progress of a whole job, in numbered stages with counts, and the event loop kept free while it
 * runs. Forward passes on the cpu backend resolve their awaits as microtasks, so a job that only
 * awaits them never lets timers run: a spinner freezes on its first frame and a SIGINT handler
 * waits. StageProgress.advance() therefore reports at most every REPORT_MS and, at the same
 * moments, yields one macrotask turn (setImmediate) so timers, signals and output get through.
 */

/** What a counted stage is: its number among the job's stages and the unit it counts. */
export interface StageInfo {
  /** 1-based number of this stage. */
  step: number;
  /** Stages the job runs. */
  steps: number;
  /** What done/total count, e.g. "tokens" (absent: no unit). */
  unit?: string;
}

/** The callback core jobs report through: a stage, and (done, total) as a counted stage advances. */
export type CoreProgress = (stage: string, done?: number, total?: number, info?: StageInfo) => void;

/** Most milliseconds of work between two reports (and yields) of a counted stage. */
export const REPORT_MS = 50;

/** Lets timers, I/O callbacks and signal handlers run before the job goes on. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class StageProgress {
  private step = 0;
  private stage = '';
  private unit: string | undefined;
  private total = 0;
  private done = 0;
  private lastReport = 0;

  /** `now` is injectable for tests; it only decides how often advance() reports. */
  constructor(
    private readonly report: CoreProgress,
    private readonly steps: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Starts the next stage (numbered in call order) and yields once, so a display shows it before
   * a long synchronous step (tokenizing) begins. With a total it is counted from 0.
   */
  async start(stage: string, total?: number, unit?: string): Promise<void> {
    this.step = Math.min(this.step + 1, this.steps);
    this.stage = stage;
    this.unit = unit;
    this.total = total ?? 0;
    this.done = 0;
    const info = this.info();
    if (total === undefined) this.report(stage, undefined, undefined, info);
    else this.report(stage, 0, total, info);
    this.lastReport = this.now();
    await yieldToEventLoop();
  }

  /**
   * Names what the current stage is doing now, e.g. a sub-step, under the same number; with
   * (done, total) those counts, else the stage's own count so far (if it counts).
   */
  relabel(stage: string, done?: number, total?: number): void {
    this.stage = stage;
    if (done !== undefined) this.report(stage, done, total, this.info());
    else if (this.total > 0) this.report(stage, this.done, this.total, this.info());
    else this.report(stage, undefined, undefined, this.info());
  }

  /**
   * done units of the current stage are finished: reports and yields when REPORT_MS have passed
   * since the last report, and always at the end of the stage.
   */
  async advance(done: number): Promise<void> {
    this.done = done;
    const t = this.now();
    if (done < this.total && t - this.lastReport < REPORT_MS) return;
    this.report(this.stage, done, this.total, this.info());
    this.lastReport = t;
    await yieldToEventLoop();
  }

  private info(): StageInfo {
    return this.unit === undefined ? {step: this.step, steps: this.steps} : {step: this.step, steps: this.steps, unit: this.unit};
  }
}
