/**
 * `hire eval` for HiRE-FFN: what the sparse FFN costs on the evaluation text. Several
 * copies of the model share one set of weights and run side by side over the text, in the same
 * sliding windows as the dense rows (each next token scored once):
 *
 *   exact    the model with exact top-k FFN (the model itself when it was trained with top-k)
 *   dense    the model with its dense FFN (only for models NOT trained with top-k: then the
 *            exact row shows what imposing top-k costs)
 *   hire@t   HiRE-FFN with k'_g for recall target t, one per target the bundle stores
 *
 * Per-layer recall is measured on the exact model's FFN inputs: the share of each layer's true
 * top-k neurons (non-zero ones) inside the groups HiRE would read for that input. Perplexity, KL
 * and top-1 agreement compare the next-token distributions; all use the dense output layer, so
 * only the FFN differs. Core code: never prints.
 */
import type {Vec} from '../../backends/backend.js';
import {Transformer, type FfnProbe} from '../../decode/forward.js';
import {DenseHead} from '../../decode/output-head.js';
import {argmax} from '../../numeric/select.js';
import {ffnTopKByMagnitude} from '../../model/config.js';
import {ffnBytes} from '../../decode/weights.js';
import type {Session} from '../../engine/session.js';
import {readFfnPlans, type FfnManifest} from '../../hire/bundle/ffn-section.js';
import {ffnRecall, topNeurons} from '../../hire/ffn/groups.js';
import {installFfnPlans, type SparseFfn} from '../../hire/ffn/setup.js';
import {klDivergence, perplexity, tokenLogProb} from './metrics.js';
import type {StageProgress} from '../progress.js';
import type {EvalWindow} from './windows.js';

export interface FfnEvalRow {
  label: string;
  /** Recall target that chose k'_g (null for the exact / dense rows). */
  target: number | null;
  /** Mean groups read per layer (static + k'_g); all groups for exact / dense. */
  groups: number;
  /** FFN weight bytes per token, all layers (predictors + rows). */
  bytesPerToken: number;
  /** Mean FFN recall over layers, and per layer (null for exact / dense). */
  recall: number | null;
  recallPerLayer: number[] | null;
  perplexity: number;
  /** Relative perplexity change against the exact top-k model. */
  perplexityChange: number;
  /** KL(exact || this) of the next-token distribution, mean over tokens (nats). */
  kl: number;
  /** Share of tokens whose argmax equals the exact model's. */
  top1Agreement: number;
}

export interface FfnEvalReport {
  groupSize: number;
  nGroups: number;
  topK: number;
  /** Whether the model itself was trained with top-k FFN. */
  trainedTopK: boolean;
  staticGroups: number[];
  /** Dense FFN weight bytes per token (all layers). */
  denseBytesPerToken: number;
  rows: FfnEvalRow[];
}

interface Runner {
  label: string;
  target: number | null;
  model: Transformer;
  head: DenseHead;
  sparse: SparseFfn | null;
  logProbs: number[];
  kl: number;
  top1: number;
  hits: Float64Array; // per layer: recall sums
}

class RecallProbe implements FfnProbe {
  /** Whether the current row is scored (only scored rows count towards recall). */
  active = true;

  constructor(
    private readonly session: Session,
    private readonly runners: Runner[],
    private readonly k: number,
    private readonly g: number,
    private readonly nGroups: number,
  ) {}

  async ffn(layer: number, x: Vec, hidden: Vec): Promise<void> {
    if (!this.active) return;
    const top = topNeurons(await this.session.backend.read(hidden), this.k, ffnTopKByMagnitude(this.session.config));
    for (const r of this.runners) {
      if (!r.sparse) continue;
      const groups = await r.sparse.layers[layer]!.selectGroups(x);
      r.hits[layer] = r.hits[layer]! + ffnRecall(top, groups, this.g, this.nGroups);
    }
  }
}

export async function evaluateFfn(
  session: Session,
  dir: string,
  ffn: FfnManifest,
  ids: number[],
  windows: readonly EvalWindow[],
  stages: StageProgress,
): Promise<FfnEvalReport> {
  const {config, backend} = session;
  const weights = session.model.weights;
  const nGroups = config.hiddenDim / ffn.groupSize;
  const k = Math.max(1, Math.round(ffn.topK * config.hiddenDim));
  const make = (label: string, target: number | null, sparse: SparseFfn | null, model: Transformer): Runner => ({
    label, target, model, sparse, head: new DenseHead(backend, weights.lmHead), logProbs: [], kl: 0, top1: 0, hits: new Float64Array(config.nLayers),
  });
  const exact = new Transformer(config, weights, backend);
  exact.setFfnTopK(ffn.topK);
  const runners: Runner[] = [];
  if (config.ffnTopK === null) runners.push(make('dense FFN', null, null, new Transformer(config, weights, backend)));
  for (const target of ffn.recallTargets) {
    const m = new Transformer(config, weights, backend);
    runners.push(make(`HiRE FFN @ recall ${target}`, target, await installFfnPlans(m, readFfnPlans(dir, ffn, target, config), ffn.topK), m));
  }
  const probe = new RecallProbe(session, runners, k, ffn.groupSize, nGroups);
  exact.probe = probe;
  const exactHead = new DenseHead(backend, weights.lmHead);
  const exactLogProbs: number[] = [];
  const positions = ids.length - 1;
  const caches = [exact, ...runners.map((r) => r.model)].map((m) => m.createCache(Math.max(...windows.map((w) => w.end - w.start))));
  await stages.start('scoring HiRE-FFN', positions, 'tokens');
  for (const w of windows) {
    // Token by token: each copy's FFN differs, so each runs its own rows (see runWindows for the windows).
    for (let t = w.start; t < w.end - 1; t++) {
      const pos = t - w.start;
      const scored = t + 1 >= w.firstTarget;
      probe.active = scored;
      const hExact = await exact.hidden(ids[t]!, pos, caches[0]!);
      const p = scored ? (await exactHead.next(hExact)).logits : null;
      const best = p ? argmax(p) : -1;
      for (let i = 0; i < runners.length; i++) {
        const r = runners[i]!;
        const h = await r.model.hidden(ids[t]!, pos, caches[i + 1]!);
        if (!p) continue;
        const q = (await r.head.next(h)).logits;
        r.logProbs.push(tokenLogProb(q, ids[t + 1]!));
        r.kl += klDivergence(p, q).kl;
        if (argmax(q) === best) r.top1++;
      }
      if (p) {
        exactLogProbs.push(tokenLogProb(p, ids[t + 1]!));
        await stages.advance(exactLogProbs.length);
      }
    }
  }
  const exactPpl = perplexity(exactLogProbs);
  const denseFfnBytes = weights.layers.reduce((a, l) => a + ffnBytes(l), 0);
  const row = (r: Runner): FfnEvalRow => {
    const perLayer = r.sparse ? Array.from(r.hits, (v) => v / positions) : null;
    const ppl = perplexity(r.logProbs);
    return {
      label: r.label,
      target: r.target,
      groups: r.sparse ? r.sparse.layers.reduce((a, l) => a + l.groupsRead, 0) / config.nLayers : nGroups,
      bytesPerToken: r.sparse ? r.sparse.bytesPerToken : denseFfnBytes,
      recall: perLayer ? perLayer.reduce((a, b) => a + b, 0) / perLayer.length : null,
      recallPerLayer: perLayer,
      perplexity: ppl,
      perplexityChange: ppl / exactPpl - 1,
      kl: r.kl / positions,
      top1Agreement: r.top1 / positions,
    };
  };
  const exactRow: FfnEvalRow = {
    label: config.ffnTopK === null ? `exact top-k FFN (${ffn.topK})` : 'exact top-k FFN (the model)',
    target: null, groups: nGroups, bytesPerToken: denseFfnBytes, recall: null, recallPerLayer: null,
    perplexity: exactPpl, perplexityChange: 0, kl: 0, top1Agreement: 1,
  };
  return {
    groupSize: ffn.groupSize,
    nGroups,
    topK: ffn.topK,
    trainedTopK: config.ffnTopK !== null,
    staticGroups: ffn.layers.map((l) => l.nStatic),
    denseBytesPerToken: denseFfnBytes,
    rows: [exactRow, ...runners.map(row)],
  };
}
