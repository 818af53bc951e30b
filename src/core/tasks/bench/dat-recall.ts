/**
 * Recall of DaT against exact top-k on a real checkpoint: the dense model runs over text that
 * calibration did not see (the validation split of the bundled corpus by default), and at every
 * position the bundle's predictor scores are turned into single-device HiRE candidates (top-k')
 * and DaT candidates (each of D shards' local top-(ceil(k'/D) + slack)); recall@k of both against
 * the dense top-k is averaged. Used by `hire bench --devices`.
 */
import os from 'node:os';
import {readCorpus} from '../corpus.js';
import {DenseHead} from '../../decode/output-head.js';
import {topKIndices} from '../../numeric/select.js';
import {Session} from '../../engine/session.js';
import {readManifest, readPredictor} from '../../hire/bundle/bundle.js';
import {HireSoftmaxHead} from '../../hire/softmax/head.js';
import {DatRecallAccumulator} from '../calibrate/dat-slack.js';
import type {VocabLayout} from '../../parallel/shard-plan.js';

export interface DatRecallOptions {
  bundle: string;
  predictor: string;
  /** The points to measure: device count, k, k' and the slack used there. */
  points: Array<{devices: number; k: number; kPrime: number; slack: number}>;
  tokens?: number;
  seqLen?: number;
  vocabLayout?: VocabLayout;
  threads?: number;
}

export interface DatRecallRow {
  devices: number;
  slack: number;
  k: number;
  kPrime: number;
  /** Mean recall@k of single-device HiRE (top-k'). */
  single: number;
  /** Mean recall@k of DaT at this slack, and with no slack. */
  dat: number;
  datNoSlack: number;
}

export async function measureDatRecall(o: DatRecallOptions): Promise<{tokens: number; rows: DatRecallRow[]}> {
  const session = await Session.open(o.bundle, {backend: 'cpu', threads: o.threads ?? os.availableParallelism(), ffn: 'off'});
  try {
    const {config, backend} = session;
    const manifest = readManifest(o.bundle, config);
    const head = new HireSoftmaxHead(backend, session.model.weights.lmHead, readPredictor(o.bundle, manifest, o.predictor), {kPrime: 1, certifyK: null});
    const dense = new DenseHead(backend, session.model.weights.lmHead);
    const accs = o.points.map((p) => new DatRecallAccumulator([p.devices], [{k: p.k, kPrime: p.kPrime}], [0, p.slack], o.vocabLayout));
    const ids = session.tokenizer!.encode(readCorpus(undefined, 'validation').text, {addSpecialTokens: false}).slice(0, o.tokens ?? 512);
    const seqLen = Math.min(o.seqLen ?? 128, config.maxSeqLen);
    const maxK = Math.max(...o.points.map((p) => p.k));
    let n = 0;
    for (let start = 0; start < ids.length; start += seqLen) {
      const cache = session.model.createCache(Math.min(seqLen, ids.length - start));
      for (let pos = 0; pos < seqLen && start + pos < ids.length; pos++) {
        const h = await session.model.hidden(ids[start + pos]!, pos, cache);
        const top = topKIndices((await dense.next(h)).logits, maxK);
        const scores = await head.approximate(h);
        for (const acc of accs) acc.add(top, scores);
        n++;
      }
      session.model.releaseCache(cache);
    }
    const rows = accs.flatMap((acc, i) =>
      acc.result(o.predictor).entries.map((e) => ({devices: e.devices, slack: o.points[i]!.slack, k: e.k, kPrime: e.kPrime, single: e.single, dat: e.dat[1]!, datNoSlack: e.dat[0]!})),
    );
    return {tokens: n, rows};
  } finally {
    session.dispose();
  }
}
