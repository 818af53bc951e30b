/**
 * Calibrating DaT's slack: on held-out tokens (their approximate scores and their exact top ids),
 * the recall@k of DaT candidates (the union of each shard's local top-(ceil(k'/D) + slack)) is
 * compared with single-device HiRE's (the global top-k'), for each device count D and a grid of
 * slacks; the chosen slack per (D, k) is the smallest whose recall is within `maxLoss` of
 * single-device HiRE. Pure and streaming: add one token at a time.
 */
import {topKIndices} from '../../numeric/select.js';
import type {PredictorRecord} from '../../hire/bundle/bundle.js';
import type {DatCalibration, DatSlackEntry} from '../../hire/bundle/dat-section.js';

export type {DatCalibration, DatSlackEntry} from '../../hire/bundle/dat-section.js';
import {sliceValues} from '../../parallel/dat-top-k.js';
import {vocabSlices, type VocabLayout} from '../../parallel/shard-plan.js';

export const DEFAULT_DAT_DEVICES = [2, 4, 8];
export const DEFAULT_DAT_SLACKS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256];
/** Recall loss (absolute, 0.005 = half a point) DaT may have against single-device HiRE. */
export const DEFAULT_DAT_MAX_LOSS = 0.005;

export class DatRecallAccumulator {
  private readonly single: number[];
  private readonly dat: number[][][]; // [device index][k index][slack index]
  private n = 0;

  /** pairs: the k' used for each k (recall measured at that k'). */
  constructor(
    private readonly devices: readonly number[],
    private readonly pairs: ReadonlyArray<{k: number; kPrime: number}>,
    private readonly slacks: readonly number[] = DEFAULT_DAT_SLACKS,
    private readonly layout: VocabLayout = 'strided',
  ) {
    this.single = pairs.map(() => 0);
    this.dat = devices.map(() => pairs.map(() => slacks.map(() => 0)));
  }

  /** exactTop: the exact top ids (at least max k), best first; scores: approximate scores [vocab]. */
  add(exactTop: Int32Array, scores: Float32Array): void {
    const vocab = scores.length;
    const maxKp = Math.max(...this.pairs.map((p) => p.kPrime));
    const rank = new Int32Array(vocab).fill(vocab);
    topKIndices(scores, maxKp).forEach((id, i) => (rank[id] = i));
    this.pairs.forEach((p, a) => (this.single[a]! += hits(exactTop, p.k, (id) => rank[id]! < p.kPrime)));
    const maxSlack = Math.max(...this.slacks);
    this.devices.forEach((d, di) => {
      // local rank of every id within its shard's local order (vocab when beyond the longest list)
      const local = new Int32Array(vocab).fill(vocab);
      for (const s of vocabSlices(vocab, d, this.layout)) {
        const m = Math.min(s.count, Math.ceil(maxKp / d) + maxSlack);
        topKIndices(sliceValues(scores, s), m).forEach((id, i) => (local[s.start + id * s.stride] = i));
      }
      this.pairs.forEach((p, a) => {
        this.slacks.forEach((slack, si) => {
          const m = Math.ceil(p.kPrime / d) + slack;
          this.dat[di]![a]![si]! += hits(exactTop, p.k, (id) => local[id]! < m);
        });
      });
    });
    this.n++;
  }

  result(predictor: string, maxLoss = DEFAULT_DAT_MAX_LOSS): DatCalibration {
    const mean = (v: number) => (this.n ? v / this.n : 0);
    const entries: DatSlackEntry[] = [];
    this.devices.forEach((d, di) =>
      this.pairs.forEach((p, a) => {
        const single = mean(this.single[a]!);
        const dat = this.dat[di]![a]!.map(mean);
        const i = dat.findIndex((r) => r >= single - maxLoss);
        entries.push({devices: d, k: p.k, kPrime: p.kPrime, single, dat, slack: i < 0 ? null : this.slacks[i]!});
      }),
    );
    return {predictor, layout: this.layout, maxLoss, slacks: [...this.slacks], tokens: this.n, entries};
  }
}

function hits(exactTop: Int32Array, k: number, inCandidates: (id: number) => boolean): number {
  const kk = Math.min(k, exactTop.length);
  let h = 0;
  for (let j = 0; j < kk; j++) if (inCandidates(exactTop[j]!)) h++;
  return kk ? h / kk : 1;
}

/** The (k, k') pairs to calibrate: every k with a k' for the recall target in the predictor's table. */
export function datPairs(record: PredictorRecord, recall: number): Array<{k: number; kPrime: number}> {
  const table = record.kPrime[String(recall)] ?? {};
  return record.recall.ks.flatMap((k) => {
    const kp = table[String(k)];
    return kp === null || kp === undefined ? [] : [{k, kPrime: kp}];
  });
}
