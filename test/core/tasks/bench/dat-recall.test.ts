/**
 * DaT on real checkpoints: calibration stores a slack per device count in hire.json, and at that
 * slack DaT's held-out recall is within the calibrated loss of single-device HiRE.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {measureDatRecall} from '../../../../src/core/tasks/bench/dat-recall.js';
import {calibrate} from '../../../../src/core/tasks/calibrate/calibrate.js';
import {readManifest} from '../../../../src/core/hire/bundle/bundle.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../../../helpers/shared.js';
import {configOf} from '../../../helpers/bundles.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-dat-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

describe.skipIf(!HAVE_SHARED)('DaT slack calibration on llama2xs', () => {
  it('stores a slack per device count, and DaT recall at that slack stays within 0.5 points on held-out text', async () => {
    const out = path.join(tmp, 'l2xs.hire');
    await calibrate({model: LLAMA2XS_DIR, out, tokens: 1024, threads: 1});
    const m = readManifest(out, configOf(out));
    const dat = m.softmax!.dat!;
    expect(dat.predictor).toBe(m.softmax!.selected);
    expect(dat.layout).toBe('strided');
    expect(new Set(dat.entries.map((e) => e.devices))).toEqual(new Set([2, 4, 8]));
    for (const e of dat.entries) {
      expect(e.slack).not.toBeNull();
      const i = dat.slacks.indexOf(e.slack!);
      expect(e.dat[i]!).toBeGreaterThanOrEqual(e.single - dat.maxLoss);
      // more slack never loses recall
      for (let j = 1; j < e.dat.length; j++) expect(e.dat[j]!).toBeGreaterThanOrEqual(e.dat[j - 1]! - 1e-12);
    }
    const points = dat.entries.filter((e) => e.devices <= 4).map((e) => ({devices: e.devices, k: e.k, kPrime: e.kPrime, slack: e.slack!}));
    const r = await measureDatRecall({bundle: out, predictor: dat.predictor, points, tokens: 256, threads: 1});
    expect(r.tokens).toBe(256);
    // held-out text is not calibration text: allow a little more than the calibrated 0.5 points
    for (const row of r.rows) expect(row.dat).toBeGreaterThanOrEqual(row.single - 0.02);
  });
});
