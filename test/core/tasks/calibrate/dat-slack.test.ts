import {describe, expect, it} from 'vitest';
import {DatRecallAccumulator, type DatCalibration} from '../../../../src/core/tasks/calibrate/dat-slack.js';
import {lookupSlack} from '../../../../src/core/parallel/heads.js';
import {topKIndices} from '../../../../src/core/numeric/select.js';
import {rng} from '../../../helpers/random.js';

describe('DaT slack calibration', () => {
  it('measures the recall loss of a concentrated top-k and picks the slack that recovers it', () => {
    // V = 16 on 2 devices, k = k' = 4; every token's top 4 sits in shard 0
    const scores = Float32Array.from([9, 8, 7, 6, 0, 0, 0, 0, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]);
    const acc = new DatRecallAccumulator([2], [{k: 4, kPrime: 4}], [0, 1, 2, 4], 'contiguous');
    for (let i = 0; i < 3; i++) acc.add(topKIndices(scores, 4), scores);
    const cal = acc.result('p', 0.005);
    expect(cal.tokens).toBe(3);
    const e = cal.entries[0]!;
    expect(e.single).toBe(1);
    expect(e.dat).toEqual([0.5, 0.75, 1, 1]);
    expect(e.slack).toBe(2);
  });

  it('needs no slack when the top-k is spread evenly', () => {
    const rand = rng(9);
    const acc = new DatRecallAccumulator([2, 4], [{k: 8, kPrime: 64}], [0, 8]);
    for (let t = 0; t < 20; t++) {
      const exact = Float32Array.from({length: 4096}, () => rand());
      const approx = exact.map((v) => v + 0.01 * (rand() - 0.5));
      acc.add(topKIndices(exact, 8), approx);
    }
    for (const e of acc.result('p').entries) expect(e.dat[1]!).toBeGreaterThanOrEqual(e.single - 0.005);
  });

  it('looks the slack up by devices and k, scaling to another k', () => {
    const cal: DatCalibration = {
      predictor: 'p',
      layout: 'strided',
      maxLoss: 0.005,
      slacks: [0, 8],
      tokens: 10,
      entries: [
        {devices: 2, k: 1, kPrime: 16, single: 1, dat: [1, 1], slack: 0},
        {devices: 2, k: 32, kPrime: 64, single: 0.99, dat: [0.97, 0.99], slack: 8},
      ],
    };
    expect(lookupSlack(cal, 2, 32, 64, 99)).toEqual({slack: 8, calibrated: true});
    expect(lookupSlack(cal, 2, 1, 16, 99)).toEqual({slack: 0, calibrated: true});
    expect(lookupSlack(cal, 2, 32, 128, 99)).toEqual({slack: 16, calibrated: true});
    expect(lookupSlack(cal, 4, 32, 64, 99)).toEqual({slack: 99, calibrated: false});
    expect(lookupSlack(undefined, 1, 32, 64, 99).slack).toBe(0);
    // a calibration of the other layout is not used
    expect(lookupSlack(cal, 2, 32, 64, 99, 'contiguous')).toEqual({slack: 99, calibrated: false});
  });
});
