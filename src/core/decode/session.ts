/**
 * A loaded model ready to decode: config, tokenizer, backend, weights and the forward pass.
 * This is what commands (and library users) hold; it owns the backend and frees it on dispose().
 */
import fs from 'node:fs';
import path from 'node:path';
import {createBackend, type Backend, type BackendOptions} from '../backends/index.js';
import {isBundle} from '../hire/bundle.js';
import {checkBundle} from '../hire/bundle-identity.js';
import type {HireManifest} from '../hire/manifest-schema.js';
import {parseModelConfig} from '../model/architectures/index.js';
import {readConfigJson, type ModelConfig} from '../model/config.js';
import {openModel, uploadWeights, type ModelSource} from '../model/load.js';
import {HireTokenizer} from '../model/tokenizer.js';
import {denseBytesPerToken, Transformer} from './forward.js';
import type {OutputHead} from './output-head.js';
import {installSparseFfn, type FfnDecodeOptions, type SparseFfn} from '../hire/ffn-setup.js';

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
}

export class Session {
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

  static async open(dir: string, opts: OpenOptions = {}): Promise<Session> {
    // a bundle's hire.json and weight identity first: wrong weights fail before any upload
    const verify = {verifyWeights: opts.verifyWeights};
    const bundle = isBundle(dir) ? checkBundle(dir, parseModelConfig(readConfigJson(dir)).config, verify).manifest : null;
    const source = openModel(dir, {ffnNeuronRows: opts.ffnNeuronRows});
    let backend: Backend | undefined;
    try {
      const mode = opts.tokenizer ?? 'required';
      const hasTokenizer = fs.existsSync(path.join(dir, 'tokenizer.json'));
      const tokenizer = mode === 'required' || (mode === 'optional' && hasTokenizer) ? HireTokenizer.load(dir) : null;
      backend = await createBackend(opts.backend ?? 'reference', opts);
      const weights = uploadWeights(source, backend, (done, total) => opts.onProgress?.('weights', done, total));
      const model = new Transformer(source.config, weights, backend);
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
  bytesPerToken(head: OutputHead, ffn: SparseFfn | null = this.sparseFfn): number {
    const ffnSaving = ffn ? ffn.denseBytesPerToken - ffn.bytesPerToken : 0;
    return this.denseBytesPerToken - this.model.weights.lmHead.bytes + head.bytesPerToken - ffnSaving;
  }

  /** Token ids that end generation: config/generation_config/tokenizer_config, merged. */
  get eosTokenIds(): number[] {
    const ids = new Set(this.config.eosTokenIds);
    for (const id of this.tokenizer?.special.eosTokenIds ?? []) ids.add(id);
    return [...ids];
  }

  dispose(): void {
    this.backend.dispose();
    this.source.checkpoint.close();
  }
}

/** True when `dir` looks like a model directory (used for friendly errors before loading). */
export function isModelDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json'));
}
