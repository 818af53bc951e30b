/**
 * Parsed flags -> the library API's options, one function per call a command makes. Only the
 * mapping lives here (flag spellings, which flags imply which option); defaults are the flags'
 * own (read from DEFAULTS) and the checks are the library's, whose errors the command shows in
 * its flags' terms.
 */
import path from 'node:path';
import type {BenchOptions, OutputLayerOptions} from '../api/bench.js';
import type {CalibrateOptions} from '../api/calibrate.js';
import type {QuantBits, SoftmaxKind} from '../api/catalog.js';
import {DEFAULTS, type BenchDtype, type FfnMode, type KvDtype, type MergeMode} from '../api/defaults.js';
import type {EvaluateOptions} from '../api/evaluate.js';
import {resolveGenerateOptions, type GenerateOptions, type LoadOptions} from '../api/options.js';
import type {Prompt} from '../api/prompt.js';
import {UsageError} from '../core/errors.js';
import {warn} from './base-command.js';
import type {
  FlagValues,
  backendFlags,
  benchFlags,
  calibrateFfnFlags,
  calibrateFlags,
  deviceFlags,
  evalFlags,
  ffnFlags,
  generateFlags,
  samplingFlags,
  softmaxFlags,
  kvDtypeFlags,
  verifyWeightsFlags,
} from './flags.js';
import {parseTokenIds} from './parse.js';

type Backend = FlagValues<typeof backendFlags>;
type VerifyWeights = FlagValues<typeof verifyWeightsFlags>;
type Kv = FlagValues<typeof kvDtypeFlags>;
export type GenerateFlags = FlagValues<typeof generateFlags & typeof samplingFlags & typeof softmaxFlags & typeof ffnFlags & typeof deviceFlags> & Backend & VerifyWeights & Kv;
export type CalibrateFlags = FlagValues<typeof calibrateFlags & typeof calibrateFfnFlags> & Backend;
export type EvalFlags = FlagValues<typeof evalFlags> & Backend & VerifyWeights & Kv;
export type BenchFlags = FlagValues<typeof benchFlags> & Backend & VerifyWeights & Kv;

/** Where `hire generate` loads the model: backend, tokenizer, HiRE-FFN and devices. */
export function loadOptions(f: GenerateFlags): LoadOptions {
  return {
    backend: f.backend,
    threads: f.threads,
    kvDtype: f['kv-dtype'] as KvDtype,
    onWarning: warn,
    tokenizer: f.prompt !== undefined ? 'required' : 'optional',
    ffn: f.ffn as FfnMode,
    ffnRecall: f['ffn-recall'],
    ffnKPrime: f['ffn-k-prime'],
    verifyWeights: f['verify-weights'],
    ...(f.devices === undefined ? {} : {devices: f.devices, merge: f.merge as MergeMode, slack: f.slack, ffnSlack: f['ffn-slack'], predictor: f.predictor}),
  };
}

/** The options of every generation `hire generate` starts, checked before the model is loaded. */
export function generateOptions(f: GenerateFlags): GenerateOptions {
  const options: GenerateOptions = {
    temperature: f.temperature,
    topK: f['top-k'],
    topP: f['top-p'],
    seed: f.seed,
    maxTokens: f['max-tokens'],
    stopOnEos: !f['no-eos'],
    dense: f.dense,
    recall: f.recall,
    kPrime: f['k-prime'],
    certify: f.certify,
    predictor: f.predictor,
    onWarning: warn,
  };
  resolveGenerateOptions(options);
  return options;
}

/**
 * The prompts to decode: one (a single generation) or several (a batch: --prompt repeated, or
 * --batch B copies of the prompt).
 */
export function generatePrompts(f: GenerateFlags): {prompts: Prompt[]; batch: boolean} {
  if (f.prompt === undefined && f.tokens === undefined) throw new UsageError('give a prompt with --prompt "text" or token ids with --tokens 1,2,3');
  const base: Prompt[] = f.tokens !== undefined ? [parseTokenIds(f.tokens)] : f.prompt!;
  const batch = base.length > 1 || (f.batch ?? 1) > 1;
  if (!batch) return {prompts: base, batch};
  if (f.certify) throw new UsageError('--certify decodes one sequence at a time; drop --certify or --batch');
  if (base.length > 1 && f.batch !== undefined && f.batch !== base.length) throw new UsageError(`--batch ${f.batch} does not match the ${base.length} prompts given`);
  const n = f.batch ?? base.length;
  return {prompts: Array.from({length: n}, (_, b) => base[b % base.length]!), batch};
}

/** `hire calibrate`'s options. The default model is named relative to the working directory. */
export function calibrateOptions(model: string | undefined, f: CalibrateFlags): CalibrateOptions {
  return {
    model: model ?? path.relative(process.cwd(), DEFAULTS.demo.model),
    data: f.data,
    out: f.out,
    force: f.force,
    copyWeights: f['copy-weights'],
    softmax: f.softmax as SoftmaxKind[] | undefined,
    rank: f.rank,
    bits: f.bits === undefined ? undefined : (Number(f.bits) as QuantBits),
    groupSize: f['group-size'],
    ks: f.k,
    recall: f.recall,
    tokens: f.tokens,
    seqLen: f['seq-len'],
    backend: f.backend,
    threads: f.threads,
    seed: f.seed,
    ffn: f['calibrate-ffn']
      ? {
          kinds: f['ffn-kind'] as SoftmaxKind[] | undefined,
          bits: f['ffn-bits']?.map((b) => Number(b) as 4 | 8),
          groupSize: f['ffn-group-size'],
          score: f['ffn-score'] as 'max' | 'sum',
          topK: f['ffn-topk'],
          staticThreshold: f['ffn-static'],
          permute: !f['no-ffn-permute'],
          refine: f['ffn-refine'],
        }
      : null,
    onWarning: warn,
  };
}

/** `hire eval`'s options. */
export function evaluateOptions(bundle: string | undefined, f: EvalFlags): EvaluateOptions {
  return {
    bundle,
    data: f.data,
    tokens: f.tokens,
    seqLen: f['seq-len'],
    ks: f.k,
    kPrimes: f['k-primes'],
    predictors: f.predictor,
    backend: f.backend,
    threads: f.threads,
    kvDtype: f['kv-dtype'] as KvDtype,
    ffn: f.ffn !== 'off' && !f['no-ffn'],
    verifyWeights: f['verify-weights'],
    onWarning: warn,
  };
}

/** `hire bench`'s options (without --output-layer). */
export function benchOptions(model: string | undefined, f: BenchFlags): BenchOptions {
  return {
    model,
    shape: f.shape,
    dtype: f.dtype as BenchDtype,
    backend: f.backend,
    threads: f.threads,
    tokens: f.tokens,
    promptTokens: f['prompt-tokens'],
    context: f.context,
    kvDtype: f['kv-dtype'] as KvDtype,
    probe: !f['no-probe'],
    hire: f.hire || f['k-prime'] !== undefined ? {kind: f.softmax as SoftmaxKind, rank: f.rank, bits: Number(f.bits) as QuantBits, kPrime: f['k-prime']} : null,
    recall: f.recall,
    ffn: f['synthetic-ffn']
      ? {kind: f['ffn-kind'] as SoftmaxKind, bits: Number(f['ffn-bits']) as QuantBits, groupSize: f['ffn-group-size'], topK: f['ffn-topk'], read: f['ffn-read']}
      : undefined,
    batch: f.batch,
    repeat: f.repeat,
    devices: f.devices ? {counts: f.devices, merge: f.merge as MergeMode[], slack: f.slack, ffnRecall: f['ffn-recall'], ffnSlack: f['ffn-slack']} : null,
    verifyWeights: f['verify-weights'],
    onWarning: warn,
  };
}

/** `hire bench --output-layer`'s options. */
export function outputLayerOptions(f: BenchFlags): OutputLayerOptions {
  return {
    vocabSize: f.vocab,
    dim: f.dim,
    kPrime: f['k-prime'],
    kind: f.softmax as SoftmaxKind,
    rank: f.rank,
    bits: Number(f.bits) as QuantBits,
    backend: f.backend,
    threads: f.threads,
  };
}
