/**
 * A model loaded on one backend, ready to decode: config, tokenizer, backend, weights, the forward
 * pass and (on a bundle) HiRE-FFN; the single-device Decoder. It owns the backend and frees it on
 * dispose().
 */
import fs from 'node:fs';
import path from 'node:path';
import {createBackend, type Backend, type BackendOptions} from '../backends/index.js';
import {isBundle} from '../hire/bundle/bundle.js';
import {checkBundle} from '../hire/bundle/identity.js';
import type {HireManifest} from '../hire/bundle/manifest.js';
import {parseModelConfig} from '../model/architectures/index.js';
import {readConfigJson, type ModelConfig} from '../model/config.js';
import {openModel, openTokenizer, type ModelSource} from '../model/load.js';
import {uploadWeights} from '../decode/weights.js';
import {HireTokenizer} from '../model/tokenizer.js';
import {denseBytesPerToken, PREFILL_CHUNK, Transformer} from '../decode/forward.js';
import {DenseHead, type HeadResult, type OutputHead} from '../decode/output-head.js';
import {type SparseFfn} from '../hire/ffn/setup.js';
import {installSparseFfn, type FfnDecodeOptions} from './sparse-ffn.js';
import {chooseHead} from '../hire/softmax/choose-head.js';
import {checkRewind, type DecodeHead, type DecodeSequence, type DecodeStepStats, type Decoder, type HeadChoice, type HeadOptions} from '../decode/decoder.js';
import {samplingK, type SamplingOptions} from '../decode/sampler.js';
import type {KvCache, KvDtype} from '../backends/backend.js';
import {UsageError} from '../errors.js';

/** A sequence of this session: its KV cache. */
class LocalSequence implements DecodeSequence {
  length = 0;
  constructor(
    readonly cache: KvCache,
    readonly maxLen: number,
    readonly owner: Session,
  ) {}
}

export interface OpenOptions extends BackendOptions, FfnDecodeOptions {
  backend?: string;
  /**
   * tokenizer.json: 'required' (default) fails when it is missing; 'optional' loads it when
   * present (callers that give token ids still get text back); 'none' skips it.
   */
  tokenizer?: 'required' | 'optional' | 'none';
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Load W_out as neuron rows even without a bundle (for synthetic HiRE-FFN benchmarks). */
  ffnNeuronRows?: boolean;
  /**
   * HiRE bundles: also compare the full sha256 of every weight file with hire.json (size and the
   * sampled fingerprint are always compared).
   */
  verifyWeights?: boolean;
  /** KV cache element type (default 'f32'; 'f16' where the backend supports 'kvF16'). */
  kvDtype?: KvDtype;
  /** Most prompt tokens one forward block runs (default PREFILL_CHUNK). */
  prefillChunk?: number;
}

export class Session implements Decoder {
  readonly maxSequences = 64;
  private readonly heads = new Map<string, HeadChoice<OutputHead>>();
  private last: DecodeStepStats = {bytes: null, unionGroups: null, groupsPerRow: null};

  private constructor(
    readonly source: ModelSource,
    readonly backend: Backend,
    readonly model: Transformer,
    readonly tokenizer: HireTokenizer | null,
    /** HiRE-FFN, installed on `model` when the bundle has an FFN section (and ffn is not 'off'). */
    readonly sparseFfn: SparseFfn | null,
    /** hire.json of a HiRE bundle, checked (with the weights' identity), or null for a plain checkpoint. */
    readonly bundle: HireManifest | null,
  ) {}

  /**
   * A session over a model already on `backend` (no tokenizer, dense FFN): tests and tools that
   * build the backend themselves. Disposing it disposes the backend.
   */
  static onBackend(source: ModelSource, backend: Backend, model: Transformer): Session {
    return new Session(source, backend, model, null, null, null);
  }

  static async open(dir: string, opts: OpenOptions = {}): Promise<Session> {
    // a bundle's hire.json and weight identity first: wrong weights fail before any upload
    const verify = {verifyWeights: opts.verifyWeights};
    const bundle = isBundle(dir) ? checkBundle(dir, parseModelConfig(readConfigJson(dir)).config, verify).manifest : null;
    const source = openModel(dir, {ffnNeuronRows: opts.ffnNeuronRows});
    let backend: Backend | undefined;
    try {
      const tokenizer = openTokenizer(source, opts.tokenizer ?? 'required');
      backend = await createBackend(opts.backend ?? 'reference', opts);
      const kvDtype = opts.kvDtype ?? 'f32';
      if (kvDtype !== 'f32' && (kvDtype !== 'f16' || !backend.supports('kvF16'))) {
        throw new UsageError(`kvDtype ${kvDtype} is not available on the ${backend.name} backend (f16: cpu only)`, {option: 'kvDtype'});
      }
      const weights = uploadWeights(source, backend, (done, total) => opts.onProgress?.('weights', done, total));
      const model = new Transformer(source.config, weights, backend, {kvDtype, prefillChunk: opts.prefillChunk});
      const sparseFfn = await installSparseFfn(model, dir, opts);
      if (sparseFfn?.note) opts.onWarning?.(sparseFfn.note);
      return new Session(source, backend, model, tokenizer, sparseFfn, bundle);
    } catch (error) {
      backend?.dispose();
      source.checkpoint.close();
      throw error;
    }
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  /** Weight bytes one dense decode step reads. */
  get denseBytesPerToken(): number {
    return denseBytesPerToken(this.model.weights);
  }

  /**
   * Weight bytes one decode step reads with this output head in place of the dense one and the
   * given sparse FFN (default: the session's own, if any) in place of the dense FFNs.
   */
  bytesPerToken(head: DecodeHead, ffn: SparseFfn | null = this.sparseFfn): number {
    const ffnSaving = ffn ? ffn.denseBytesPerToken - ffn.bytesPerToken : 0;
    return this.denseBytesPerToken - this.model.weights.lmHead.bytes + head.bytesPerToken - ffnSaving;
  }

  /** Token ids that end generation: config/generation_config/tokenizer_config, merged. */
  get eosTokenIds(): number[] {
    const ids = new Set(this.config.eosTokenIds);
    for (const id of this.tokenizer?.special.eosTokenIds ?? []) ids.add(id);
    return [...ids];
  }

  describe(): string {
    return this.backend.describe();
  }

  get backendName(): string {
    return this.backend.name;
  }

  get ffnInfo(): string | null {
    return this.sparseFfn?.describe ?? null;
  }

  /**
   * The output head for these options: dense, or HiRE-Softmax from the bundle. Heads hold backend
   * memory that is only freed with the backend, so one head per distinct choice is kept and reused.
   */
  head(sampling: SamplingOptions, opts: HeadOptions): HeadChoice<OutputHead> {
    const key = JSON.stringify([opts.dense ?? false, opts.recall, opts.kPrime, opts.certify ?? false, opts.predictor, opts.approxTail ?? false, samplingK(sampling, this.config.vocabSize)]);
    let choice = this.heads.get(key);
    if (!choice) {
      const m = {backend: this.backend, lmHead: this.model.weights.lmHead, config: this.config};
      choice = chooseHead(this.source.dir, m, sampling, opts);
      this.heads.set(key, choice);
    }
    return choice;
  }

  /** The dense output layer (no bundle needed). */
  denseHead(): OutputHead {
    return new DenseHead(this.backend, this.model.weights.lmHead);
  }

  async openSequence(maxLen: number): Promise<DecodeSequence> {
    return new LocalSequence(this.model.createCache(maxLen), maxLen, this);
  }

  closeSequence(seq: DecodeSequence): void {
    this.model.releaseCache(this.own(seq).cache);
  }

  async prefill(seq: DecodeSequence, tokens: readonly number[], head: DecodeHead, checkAbort?: () => void): Promise<HeadResult> {
    const s = this.own(seq);
    this.room(s, tokens.length);
    const h = await this.model.prefill(tokens, s.length, s.cache, checkAbort);
    s.length += tokens.length;
    const result = await (head as OutputHead).next(h);
    this.last = {bytes: null, unionGroups: null, groupsPerRow: null};
    return result;
  }

  async prefillBatch(seqs: readonly DecodeSequence[], blocks: readonly (readonly number[])[], head: DecodeHead): Promise<HeadResult[]> {
    if (seqs.length !== blocks.length || seqs.length === 0) throw new RangeError(`prefillBatch: ${seqs.length} sequences but ${blocks.length} blocks`);
    const own = seqs.map((q) => this.own(q));
    if (new Set(own).size !== own.length) throw new RangeError('prefillBatch: a sequence is listed twice');
    own.forEach((s, i) => {
      if (blocks[i]!.length === 0) throw new RangeError('prefillBatch: an empty block');
      this.room(s, blocks[i]!.length);
    });
    // one forward pass over every block's rows, each row in its own sequence's cache
    const rows = {tokens: [] as number[], positions: [] as number[], caches: [] as KvCache[]};
    const lastRow: number[] = [];
    own.forEach((s, i) => {
      blocks[i]!.forEach((t, j) => {
        rows.tokens.push(t);
        rows.positions.push(s.length + j);
        rows.caches.push(s.cache);
      });
      lastRow.push(rows.tokens.length - 1);
    });
    const hs = await this.model.run({...rows, outputs: lastRow});
    own.forEach((s, i) => (s.length += blocks[i]!.length));
    const out = await (head as OutputHead).nextBatch(hs);
    this.last = {bytes: null, unionGroups: null, groupsPerRow: null};
    return out.results;
  }

  async prefillRows(seq: DecodeSequence, tokens: readonly number[], head: DecodeHead, onRow: (row: number, r: HeadResult) => void, checkAbort?: () => void): Promise<void> {
    const s = this.own(seq);
    this.room(s, tokens.length);
    for (let start = 0; start < tokens.length; start += PREFILL_CHUNK) {
      checkAbort?.();
      const block = tokens.slice(start, start + PREFILL_CHUNK);
      const hs = await this.model.run({tokens: block, positions: block.map((_, i) => s.length + i), caches: block.map(() => s.cache)});
      s.length += block.length;
      // the dense head takes the block's rows together (each weight row read once); a HiRE head
      // takes them one by one (its batched path keeps scratch per union size, which varies here)
      const h = head as OutputHead;
      if (h.kind === 'dense') (await h.nextBatch(hs)).results.forEach((r, i) => onRow(start + i, r));
      else for (let i = 0; i < hs.length; i++) onRow(start + i, await h.next(hs[i]!));
    }
    this.last = {bytes: null, unionGroups: null, groupsPerRow: null};
  }

  rewind(seq: DecodeSequence, length: number): void {
    const s = this.own(seq);
    checkRewind(s, length);
    s.length = length;
  }

  async step(seqs: readonly DecodeSequence[], tokens: readonly number[], head: DecodeHead): Promise<HeadResult[]> {
    if (seqs.length !== tokens.length || seqs.length === 0) throw new RangeError(`step: ${seqs.length} sequences but ${tokens.length} tokens`);
    const own = seqs.map((q) => this.own(q));
    for (const s of own) this.room(s, 1);
    const hs = await this.model.run({tokens, positions: own.map((s) => s.length), caches: own.map((s) => s.cache)});
    for (const s of own) s.length++;
    const st = this.model.stats();
    const out = await (head as OutputHead).nextBatch(hs);
    this.last = {bytes: st.bytes + out.bytes, unionGroups: st.unionGroups, groupsPerRow: st.groupsPerRow};
    return out.results;
  }

  stepStats(): DecodeStepStats {
    return this.last;
  }

  groupInfo(): null {
    return null;
  }

  abortWaits(signal: AbortSignal | undefined): void {
    this.backend.abortWaits?.(signal);
  }

  private own(seq: DecodeSequence): LocalSequence {
    if (!(seq instanceof LocalSequence) || seq.owner !== this) throw new RangeError('a sequence of another decoder');
    return seq;
  }

  private room(s: LocalSequence, n: number): void {
    if (s.length + n > s.maxLen) throw new RangeError(`the sequence has room for ${s.maxLen} positions; ${s.length} are used and ${n} more were given`);
  }

  async dispose(): Promise<void> {
    this.close();
  }

  /** dispose() without waiting. */
  close(): void {
    this.backend.dispose();
    this.source.checkpoint.close();
  }
}

/** True when `dir` looks like a model directory (used for friendly errors before loading). */
export function isModelDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json'));
}
