/**
 * Stage progress: numbered stages, counts reported at most every REPORT_MS of work (and always at
 * a stage's end), the event loop yielded at each report; the CLI's line with its ETA.
 */
import {describe, expect, it} from 'vitest';
import {REPORT_MS, StageProgress, type StageInfo} from '../../../src/core/tasks/progress.js';
import {formatProgress} from '../../../src/api/progress.js';
import {etaClock, formatSeconds, progressCallback} from '../../../src/cli/progress.js';

describe('StageProgress', () => {
  it('numbers stages, reports counts when REPORT_MS have passed and at the end, and relabels under the same number', async () => {
    let clock = 0;
    const events: Array<[string, number | undefined, number | undefined, StageInfo | undefined]> = [];
    const p = new StageProgress((stage, done, total, info) => events.push([stage, done, total, info]), 3, () => clock);
    await p.start('loading model');
    await p.start('scoring', 5, 'tokens');
    await p.advance(1); // too soon: not reported
    clock += REPORT_MS;
    await p.advance(2);
    p.relabel('scoring more');
    await p.advance(3); // too soon again
    await p.advance(5); // the end: always
    await p.start('writing');
    await p.start('one too many'); // stays at the last number
    expect(events).toEqual([
      ['loading model', undefined, undefined, {step: 1, steps: 3}],
      ['scoring', 0, 5, {step: 2, steps: 3, unit: 'tokens'}],
      ['scoring', 2, 5, {step: 2, steps: 3, unit: 'tokens'}],
      ['scoring more', 2, 5, {step: 2, steps: 3, unit: 'tokens'}],
      ['scoring more', 5, 5, {step: 2, steps: 3, unit: 'tokens'}],
      ['writing', undefined, undefined, {step: 3, steps: 3}],
      ['one too many', undefined, undefined, {step: 3, steps: 3}],
    ]);
  });

  it('lets a timer run during a long counted stage (the event loop is yielded)', async () => {
    let clock = 0;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      const p = new StageProgress(() => {}, 1, () => clock);
      await p.start('work', 200);
      for (let i = 1; i <= 200; i++) {
        clock += REPORT_MS; // every advance is a report point
        await p.advance(i);
      }
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('the progress line', () => {
  it('formats numbered, counted stages', () => {
    expect(formatProgress({stage: 'scoring', done: 1200, total: 4096, unit: 'tokens', step: 3, steps: 4})).toBe('stage 3/4: scoring 1200/4096 tokens');
    expect(formatProgress({stage: 'loading model', step: 1, steps: 4})).toBe('stage 1/4: loading model');
    expect(formatProgress({stage: 'weights', done: 2, total: 9})).toBe('weights (2/9)');
  });

  it("estimates the time left from the stage's own rate, none before half a second or for uncounted stages", () => {
    let t = 0;
    const eta = etaClock(() => t);
    const e = (done: number) => ({stage: 's', done, total: 1000, step: 2, steps: 3});
    expect(eta(e(0))).toBeNull();
    t = 100;
    expect(eta(e(50))).toBeNull(); // too early
    t = 1000;
    expect(eta(e(100))).toBeCloseTo(9, 9); // 100 tokens per second, 900 left
    expect(eta({stage: 'other', step: 3, steps: 3})).toBeNull();
    expect(formatSeconds(12.4)).toBe('12 s');
    expect(formatSeconds(185)).toBe('3 min 5 s');
  });

  it('shows the ETA on the spinner line', () => {
    let t = 0;
    const lines: string[] = [];
    const cb = progressCallback({update: (s) => lines.push(s), succeed() {}, stop() {}}, () => t);
    cb({stage: 'scoring', done: 0, total: 4096, unit: 'tokens', step: 3, steps: 4});
    t = 2000;
    cb({stage: 'scoring', done: 1024, total: 4096, unit: 'tokens', step: 3, steps: 4});
    expect(lines).toEqual(['stage 3/4: scoring 0/4096 tokens', 'stage 3/4: scoring 1024/4096 tokens, ETA 6 s']);
  });
});
