/**
 * The steps of training the bundled model, each a function a script can call: train the
 * tokenizer on the corpus's train split, tokenize both splits, train and write one model
 * directory, score the bigram baseline, and sample text from a written model with our decoder.
 */
import fs from 'node:fs';
import {acquireTfjsEngine as acquireEngine, type TfjsEngine as Engine} from '../../backends/index.js';
import {DEFAULT_CORPUS, splitText} from '../corpus.js';
import {generateTokens} from '../../decode/generate.js';
import type {SamplingOptions} from '../../decode/sampler.js';
import {Session} from '../../engine/session.js';
import {DataError, UsageError} from '../../errors.js';
import {TEXT_DATA, readTextFile} from '../../io/read-file.js';
import {HireTokenizer} from '../../model/tokenizer.js';
import {bigramBaseline, type BigramResult} from './bigram.js';
import {trainBpe, writeTokenizerFiles} from './bpe.js';
import {writeModelDir} from './checkpoint.js';
import {validationWindows} from './data.js';
import {benchmarkTraining, trainModel, type Benchmark, type EvalResult, type TrainLog, type TrainOptions} from './train.js';

export interface TokenizerSummary {
  vocabSize: number;
  merges: number;
  seconds: number;
  trainChars: number;
}

function readCorpusText(file: string): string {
  if (!fs.existsSync(file)) throw new DataError(file, 'no such file; pass --corpus with a text file');
  return readTextFile(file, TEXT_DATA, (f, problem) => new DataError(f, problem));
}

/** Trains a byte-level BPE on the train split of `corpus` and writes the tokenizer files into `dir`. */
export function prepareTokenizer(dir: string, vocabSize: number, corpus = DEFAULT_CORPUS): TokenizerSummary {
  const t0 = performance.now();
  const train = splitText(readCorpusText(corpus), 'train');
  const model = trainBpe(train, {vocabSize});
  writeTokenizerFiles(dir, model);
  return {vocabSize: model.vocab.length, merges: model.merges.length, seconds: (performance.now() - t0) / 1000, trainChars: train.length};
}

export interface CorpusTokens {
  train: Int32Array;
  validation: Int32Array;
  vocabSize: number;
  /** UTF-8 bytes of each token id's text (0 for special tokens). */
  tokenBytes: Int32Array;
}

/** Both splits of `corpus` as token ids (no special tokens). */
export function tokenizeCorpus(tokenizerDir: string, corpus = DEFAULT_CORPUS): CorpusTokens {
  const tokenizer = HireTokenizer.load(tokenizerDir);
  const text = readCorpusText(corpus);
  const encode = (split: 'train' | 'validation') => Int32Array.from(tokenizer.encode(splitText(text, split), {addSpecialTokens: false}));
  const tokenBytes = new Int32Array(tokenizer.vocabSize);
  const special = new Set([tokenizer.special.bosTokenId, ...tokenizer.special.eosTokenIds]);
  // Byte-level tokens spell one byte per character.
  for (let id = 0; id < tokenizer.vocabSize; id++) tokenBytes[id] = special.has(id) ? 0 : (tokenizer.idToToken(id)?.length ?? 0);
  return {train: encode('train'), validation: encode('validation'), vocabSize: tokenizer.vocabSize, tokenBytes};
}

/** Loss in bits per UTF-8 byte of the target tokens: comparable across tokenizers. */
export function bitsPerByte(result: EvalResult, targets: Int32Array, tokenBytes: Int32Array): number {
  let bytes = 0;
  for (const id of targets) bytes += tokenBytes[id]!;
  return (result.loss * result.tokens) / Math.LN2 / bytes;
}

function engineLabel(engine: Engine): string {
  return engine.name === 'wasm' ? `wasm${engine.simd ? ' (simd)' : ''}` : 'cpu';
}

export interface RunOptions extends TrainOptions {
  tokenizerDir: string;
  outDir: string;
  corpus?: string;
}

export interface RunSummary {
  outDir: string;
  log: TrainLog;
  bitsPerByte: number;
  /** Which tfjs engine ran the training ("wasm (simd)" or "cpu"). */
  engine: string;
}

/** Tokenizes, trains, and writes the model directory (with training_log.json). */
export async function runTraining(opts: RunOptions): Promise<RunSummary> {
  const warnings: string[] = [];
  const engine = await acquireEngine({onWarning: (w) => warnings.push(w)});
  try {
    for (const w of warnings) opts.onProgress?.(w);
    const tokens = tokenizeCorpus(opts.tokenizerDir, opts.corpus);
    if (opts.shape.vocabSize !== tokens.vocabSize) {
      throw new UsageError(`the tokenizer has ${tokens.vocabSize} tokens but the model is set to ${opts.shape.vocabSize}`);
    }
    const {log, params} = await trainModel(tokens, opts);
    const targets = validationWindows(tokens.validation, opts.shape.contextLength).targets;
    const bpb = bitsPerByte(log.final, targets, tokens.tokenBytes);
    const tokenizer = HireTokenizer.load(opts.tokenizerDir);
    const special = {bosTokenId: tokenizer.special.bosTokenId ?? 0, eosTokenId: tokenizer.special.eosTokenIds[0] ?? 1};
    const summary = {bitsPerByte: bpb, engine: engineLabel(engine)};
    writeModelDir(opts.outDir, {
      shape: opts.shape,
      special,
      params,
      tokenizerDir: opts.tokenizerDir,
      extra: {'training_log.json': `${JSON.stringify({...log, ...summary})}\n`},
    });
    return {outDir: opts.outDir, log, ...summary};
  } finally {
    engine.release();
  }
}

/** Times training steps of the configured model on this machine (nothing is written). */
export async function runBenchmark(opts: RunOptions, steps: number): Promise<Benchmark & {engine: string}> {
  const engine = await acquireEngine({onWarning: (w) => opts.onProgress?.(w)});
  try {
    const tokens = tokenizeCorpus(opts.tokenizerDir, opts.corpus);
    const result = benchmarkTraining(tokens, {...opts, shape: {...opts.shape, vocabSize: tokens.vocabSize}}, steps);
    return {...result, engine: engineLabel(engine)};
  } finally {
    engine.release();
  }
}

/** The bigram baseline on the same validation targets the model is scored on. */
export function runBigram(tokenizerDir: string, contextLength: number, corpus = DEFAULT_CORPUS): BigramResult & {bitsPerByte: number} {
  const tokens = tokenizeCorpus(tokenizerDir, corpus);
  const val = validationWindows(tokens.validation, contextLength);
  const result = bigramBaseline(tokens.train, val.inputs, val.targets, tokens.vocabSize);
  return {...result, bitsPerByte: bitsPerByte(result, val.targets, tokens.tokenBytes)};
}

/** Text our decoder (reference backend) continues `prompt` with; temperature 0 is greedy. */
export async function sampleText(
  modelDir: string,
  prompt: string,
  opts: {maxTokens: number; sampling: SamplingOptions; seed: number},
): Promise<string> {
  const session = await Session.open(modelDir, {backend: 'reference'});
  try {
    const tokenizer = session.tokenizer!;
    const ids = tokenizer.encode(prompt);
    const out: number[] = [];
    const maxTokens = Math.min(opts.maxTokens, session.config.maxSeqLen - ids.length);
    const events = generateTokens(session, ids, {...opts, maxTokens, eosTokenIds: session.eosTokenIds});
    for await (const e of events) out.push(e.id);
    return prompt + (out.length > 0 ? tokenizer.decode(out) : '');
  } finally {
    session.dispose();
  }
}
