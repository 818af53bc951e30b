import type {Section, StepTimer} from '../../decode/forward.js';

/** Accumulates wall time per forward-pass section (attention, FFN, output layer, embedding). */
export class SectionTimer implements StepTimer {
  readonly totals: Record<Section, number> = {embed: 0, attention: 0, ffn: 0, output: 0};
  private last = performance.now();

  /** Starts a new step: time before this call is not attributed to any section. */
  start(): void {
    this.last = performance.now();
  }

  mark(section: Section): void {
    const now = performance.now();
    this.totals[section] += now - this.last;
    this.last = now;
  }

  /** Milliseconds per step for each section. */
  perStep(steps: number): Record<Section, number> {
    const out = {...this.totals};
    for (const k of Object.keys(out) as Section[]) out[k] /= steps;
    return out;
  }
}
