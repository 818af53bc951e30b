/**
 * `hire bench`: decode speed against the memory-bandwidth limit. Decoding one token reads every
 * weight once, so tokens/s x weight bytes per token is the bandwidth the decoder achieves; we
 * divide it by the machine's best streaming-read bandwidth, measured in the same process by a
 * WebAssembly SIMD read on every thread over at least 512 MB.
 */
import os from 'node:os';
import {CpuKernels} from '../backends/cpu/kernels.js';
import {measureBandwidth} from '../backends/cpu/bandwidth.js';
import {argmax} from '../decode/sampler.js';
import type {Section} from '../decode/forward.js';
import {Session} from '../decode/session.js';
import {UsageError} from '../errors.js';
import {ensureSyntheticModel, type BenchDtype} from './models.js';
import {SectionTimer} from './timer.js';

export interface BenchOptions {
  /** A model directory, or undefined to use a named synthetic shape. */
  model?: string;
  shape?: string;
  dtype?: BenchDtype;
  backend: string;
  threads?: number;
  /** Tokens to decode (timed). */
  tokens: number;
  /** Prompt tokens to prefill before decoding (timed separately). */
  promptTokens: number;
  /** Measure the machine's bandwidth (default true). */
  probe?: boolean;
  onProgress?: (stage: string) => void;
  onWarning?: (message: string) => void;
}

export interface BenchReport {
  model: string;
  shape: string | null;
  backend: string;
  backendInfo: string;
  threads: number;
  dtype: string;
  parameters: {dim: number; nLayers: number; hiddenDim: number; vocabSize: number};
  promptTokens: number;
  decodeTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  msPerToken: number;
  /** Milliseconds per decoded token in each part of the forward pass (synchronous backends). */
  breakdown: Record<Section, number> | null;
  weightBytesPerToken: number;
  /** Weight bytes read per second while decoding. */
  achievedBytesPerSecond: number;
  /** Best streaming-read bandwidth measured in this run (null with probe off). */
  probeBytesPerSecond: number | null;
  /** achieved / probe. */
  bandwidthUtilisation: number | null;
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  if (opts.tokens < 1) throw new UsageError('--tokens must be at least 1');
  if (opts.promptTokens < 1) throw new UsageError('--prompt-tokens must be at least 1');
  const threads = opts.threads ?? os.availableParallelism();
  let dir = opts.model;
  if (!dir) {
    opts.onProgress?.(`preparing synthetic ${opts.shape} (${opts.dtype ?? 'f32'})`);
    dir = ensureSyntheticModel(opts.shape ?? 'llama-110m', opts.dtype ?? 'f32').dir;
  }

  // Probe first, before the weights take memory (the probe's buffer is freed afterwards).
  let probe: number | null = null;
  if (opts.probe ?? true) {
    opts.onProgress?.('measuring memory bandwidth');
    const kernels = await CpuKernels.create({threads});
    try {
      probe = measureBandwidth(kernels).bytesPerSecond;
    } finally {
      kernels.dispose();
    }
  }

  opts.onProgress?.(`loading ${dir}`);
  const session = await Session.open(dir, {backend: opts.backend, threads, tokenizer: 'none', onWarning: opts.onWarning});
  try {
    const {model, backend, config} = session;
    const total = opts.promptTokens + opts.tokens;
    if (total > config.maxSeqLen) {
      throw new UsageError(`prompt + decode tokens (${total}) exceed the model's context (${config.maxSeqLen})`);
    }
    const prompt = Array.from({length: opts.promptTokens}, (_, i) => (i * 7919 + 13) % config.vocabSize);
    const cache = model.createCache(total);

    opts.onProgress?.(`prefilling ${opts.promptTokens} tokens`);
    const t0 = performance.now();
    for (let pos = 0; pos < prompt.length - 1; pos++) model.hidden(prompt[pos]!, pos, cache);
    let logits = await backend.read(model.forward(prompt[prompt.length - 1]!, prompt.length - 1, cache));
    const prefillMs = performance.now() - t0;

    opts.onProgress?.(`decoding ${opts.tokens} tokens`);
    const timer = new SectionTimer();
    const timed = backend.name !== 'webgpu';
    if (timed) model.timer = timer;
    const t1 = performance.now();
    for (let i = 0; i < opts.tokens; i++) {
      const pos = prompt.length + i;
      timer.start();
      logits = await backend.read(model.forward(argmax(logits), pos, cache));
    }
    const decodeMs = performance.now() - t1;
    model.timer = null;

    const bytes = session.denseBytesPerToken;
    const decodeTps = opts.tokens / (decodeMs / 1000);
    const achieved = bytes * decodeTps;
    return {
      model: dir,
      shape: opts.model ? null : (opts.shape ?? 'llama-110m'),
      backend: backend.name,
      backendInfo: backend.describe(),
      threads,
      dtype: [...new Set(session.source.specs.map((s) => session.source.checkpoint.info(s.name).dtype))].join('+'),
      parameters: {dim: config.dim, nLayers: config.nLayers, hiddenDim: config.hiddenDim, vocabSize: config.vocabSize},
      promptTokens: opts.promptTokens,
      decodeTokens: opts.tokens,
      prefillTokensPerSecond: opts.promptTokens / (prefillMs / 1000),
      decodeTokensPerSecond: decodeTps,
      msPerToken: decodeMs / opts.tokens,
      breakdown: timed ? timer.perStep(opts.tokens) : null,
      weightBytesPerToken: bytes,
      achievedBytesPerSecond: achieved,
      probeBytesPerSecond: probe,
      bandwidthUtilisation: probe ? achieved / probe : null,
    };
  } finally {
    session.dispose();
  }
}
