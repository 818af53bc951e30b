/**
 * Parsed flags -> the library API's options, one function per call a command makes. Only the
 * mapping lives here (flag spellings, which flags imply which option); defaults are the flags'
 * own (read from DEFAULTS) and the checks are the library's, whose errors the command shows in
 * its flags' terms.
 */
import path from 'node:path';
import type {BenchOptions, OutputLayerOptions} from '../api/bench.js';
import type {CalibrateOptions} from '../api/calibrate.js';
import type {QuantBits, QuantizeTarget, SoftmaxKind} from '../api/catalog.js';
import {DEFAULTS, type BenchDtype, type BlockActivations, type FfnMode, type KvDtype, type MergeMode} from '../api/defaults.js';
import type {ChatOptions} from '../api/chat.js';
import type {EvaluateOptions, Split} from '../api/evaluate.js';
import {resolveGenerateOptions, type GenerateOptions, type LoadOptions} from '../api/options.js';
import {readPromptFile, readPromptStream} from '../api/prompt-file.js';
import type {Prompt} from '../api/prompt.js';
import type {ListenOptions, ServerOptions} from '../api/server/server.js';
import type {ScoreOptions} from '../api/score.js';
import type {QuantizeOptions} from '../api/quantize.js';
import {UsageError} from '../core/errors.js';
import {warn} from './base-command.js';
import type {
  FlagValues,
  backendFlags,
  benchFlags,
  calibrateFfnFlags,
  calibrateFlags,
  deviceFlags,
  downloadFlags,
  evalFlags,
  ffnFlags,
  generateFlags,
  logprobFlags,
  quantizeFlags,
  replyFlags,
  samplingFlags,
  scoreFlags,
  serveFlags,
  softmaxFlags,
  kvDtypeFlags,
  verifyWeightsFlags,
} from './flags.js';
import {parseTokenIds} from './parse.js';

type Backend = FlagValues<typeof backendFlags>;
type VerifyWeights = FlagValues<typeof verifyWeightsFlags>;
type Download = FlagValues<typeof downloadFlags>;
type Kv = FlagValues<typeof kvDtypeFlags>;
type LoadFlags = FlagValues<typeof ffnFlags & typeof deviceFlags> & Backend & VerifyWeights & Download & Kv & {predictor?: string};
type DecodeFlags = FlagValues<typeof replyFlags & typeof samplingFlags & typeof softmaxFlags> & LoadFlags;
export type GenerateFlags = FlagValues<typeof generateFlags & typeof logprobFlags> & DecodeFlags;
export type ChatFlags = DecodeFlags;
export type ScoreFlags = FlagValues<typeof scoreFlags & typeof logprobFlags & Pick<typeof softmaxFlags, 'recall' | 'k-prime' | 'predictor'>> & LoadFlags;
export type ServeFlags = FlagValues<typeof serveFlags> & LoadFlags;
export type CalibrateFlags = FlagValues<typeof calibrateFlags & typeof calibrateFfnFlags> & Backend & Download;
export type EvalFlags = FlagValues<typeof evalFlags> & Backend & VerifyWeights & Download & Kv;
export type BenchFlags = FlagValues<typeof benchFlags> & Backend & VerifyWeights & Download & Kv;
export type QuantizeFlags = FlagValues<typeof quantizeFlags>;

/** Where `hire generate`, `hire chat` and `hire score` load the model: backend, tokenizer, HiRE-FFN and devices. */
export function loadOptions(f: LoadFlags, tokenizer: LoadOptions['tokenizer'] = 'optional'): LoadOptions {
  return {
    backend: f.backend,
    threads: f.threads,
    kvDtype: f['kv-dtype'] as KvDtype,
    blockActivations: f['block-activations'] as BlockActivations,
    onWarning: warn,
    tokenizer,
    ffn: f.ffn as FfnMode,
    ffnRecall: f['ffn-recall'],
    ffnKPrime: f['ffn-k-prime'],
    verifyWeights: f['verify-weights'],
    download: f.download,
    ...(f.devices === undefined ? {} : {devices: f.devices, merge: f.merge as MergeMode, slack: f.slack, ffnSlack: f['ffn-slack'], predictor: f.predictor}),
  };
}

/** A reply's options (generate, each turn of chat), checked before the model is loaded. */
export function chatOptions(f: ChatFlags): ChatOptions {
  const options: ChatOptions = {
    temperature: f.temperature,
    topK: f['top-k'],
    topP: f['top-p'],
    minP: f['min-p'],
    seed: f.seed,
    repetitionPenalty: f['repetition-penalty'],
    presencePenalty: f['presence-penalty'],
    frequencyPenalty: f['frequency-penalty'],
    maxTokens: f['max-tokens'],
    system: f.system,
    stop: f.stop,
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

/** The options of every generation `hire generate` starts, checked before the model is loaded. */
export function generateOptions(f: GenerateFlags): GenerateOptions {
  const options: GenerateOptions = {
    ...chatOptions(f),
    chat: f.chat,
    stopOnEos: !f['no-eos'],
    logprobs: f.logprobs,
    logprobsTail: f['logprobs-tail'] as GenerateOptions['logprobsTail'],
  };
  resolveGenerateOptions(options);
  return options;
}

/** The tokenizer `hire generate` needs: a text prompt (or a chat template) cannot do without one. */
export function generateTokenizer(f: GenerateFlags): LoadOptions['tokenizer'] {
  return f.tokens === undefined || f.system !== undefined || f.chat ? 'required' : 'optional';
}

/**
 * The prompt text stdin holds when the prompt comes from there: `--prompt -`, or no prompt at all
 * while stdin is not a terminal (`echo hi | hire generate M`). undefined otherwise.
 */
export async function stdinPrompt(f: GenerateFlags, stdin: NodeJS.ReadStream = process.stdin): Promise<string | undefined> {
  const dash = f.prompt?.includes('-') ?? false;
  const none = f.prompt === undefined && f.tokens === undefined && f['prompt-file'] === undefined;
  if (!dash && !(none && stdin.isTTY !== true)) return undefined;
  const text = await readPromptStream(stdin, 'prompt', {allowEmpty: !dash});
  if (text === '') throw new UsageError(`${NO_PROMPT} (standard input was empty)`);
  return text;
}

const NO_PROMPT = 'give a prompt with --prompt "text", --prompt-file PATH or token ids with --tokens 1,2,3, or pipe it to stdin';

/**
 * The prompts to decode: one (a single generation) or several (a batch: --prompt repeated, or
 * --batch B copies of the prompt). `stdin` is stdinPrompt()'s text, which `--prompt -` stands for.
 */
export function generatePrompts(f: GenerateFlags, stdin?: string): {prompts: Prompt[]; batch: boolean} {
  let base: Prompt[];
  if (f.tokens !== undefined) base = [parseTokenIds(f.tokens)];
  else if (f['prompt-file'] !== undefined) base = [readPromptFile(f['prompt-file'], 'prompt-file')];
  else if (f.prompt !== undefined) base = f.prompt.map((p) => (p === '-' && stdin !== undefined ? stdin : p));
  else if (stdin !== undefined) base = [stdin];
  else throw new UsageError(NO_PROMPT);
  const batch = base.length > 1 || (f.batch ?? 1) > 1;
  if (!batch) return {prompts: base, batch};
  if (f.certify) throw new UsageError('--certify decodes one sequence at a time; drop --certify or --batch');
  if (f.jsonl) throw new UsageError('--jsonl streams one sequence; drop --jsonl or --batch (or the extra --prompt)');
  if (base.length > 1 && f.batch !== undefined && f.batch !== base.length) throw new UsageError(`--batch ${f.batch} does not match the ${base.length} prompts given`);
  const n = f.batch ?? base.length;
  return {prompts: Array.from({length: n}, (_, b) => base[b % base.length]!), batch};
}

/** `hire score`'s options. */
export function scoreOptions(f: ScoreFlags): ScoreOptions {
  return {top: f.top, dense: !f.hire, recall: f.recall, kPrime: f['k-prime'], predictor: f.predictor, tail: f['logprobs-tail'] as ScoreOptions['tail']};
}

/** What `hire score` scores: --tokens, --file, --text, or stdin (--text -, or nothing given while stdin is a pipe). */
export async function scoreInput(f: ScoreFlags, stdin: NodeJS.ReadStream = process.stdin): Promise<string | number[]> {
  if (f.tokens !== undefined) return parseTokenIds(f.tokens);
  if (f.file !== undefined) return readPromptFile(f.file, 'file');
  if (f.text !== undefined && f.text !== '-') return f.text;
  if (f.text === '-' || stdin.isTTY !== true) return readPromptStream(stdin, 'text');
  throw new UsageError('give the text with --text "...", --file PATH or --tokens 1,2,3, or pipe it to stdin');
}

/** `hire calibrate`'s options. The default model is named relative to the working directory. */
export function calibrateOptions(model: string | undefined, f: CalibrateFlags): CalibrateOptions {
  return {
    model: model ?? path.relative(process.cwd(), DEFAULTS.demo.model),
    download: f.download,
    data: f.data,
    split: f.split as Split,
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
export function evaluateOptions(model: string | undefined, f: EvalFlags): EvaluateOptions {
  return {
    model,
    download: f.download,
    data: f.data,
    split: f.split as Split | undefined,
    tokens: f.tokens,
    window: f.window,
    stride: f.stride,
    ks: f.k,
    kPrimes: f['k-primes'],
    predictors: f.predictor,
    backend: f.backend,
    threads: f.threads,
    kvDtype: f['kv-dtype'] as KvDtype,
    blockActivations: f['block-activations'] as BlockActivations,
    ffn: f.ffn !== 'off' && !f['no-ffn'],
    verifyWeights: f['verify-weights'],
    onWarning: warn,
  };
}

/** `hire bench`'s options (without --output-layer). */
export function benchOptions(model: string | undefined, f: BenchFlags): BenchOptions {
  return {
    model,
    download: f.download,
    shape: f.shape,
    dtype: f.dtype as BenchDtype,
    backend: f.backend,
    threads: f.threads,
    blockActivations: f['block-activations'] as BlockActivations,
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
    warmup: f.warmup,
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

/** `hire quantize`'s options. */
export function quantizeOptions(model: string, f: QuantizeFlags): QuantizeOptions {
  return {model, to: f.to as QuantizeTarget, out: f.out, force: f.force, onWarning: warn};
}

/** `hire serve`: the server's options (seconds as milliseconds) and where it listens. */
export function serveOptions(f: ServeFlags): ServerOptions & Required<ListenOptions> {
  return {
    host: f.host,
    port: f.port,
    apiKey: f['api-key'],
    modelId: f['model-id'],
    maxBatch: f['max-batch'],
    maxQueue: f['max-queue'],
    timeoutMs: f.timeout * 1000,
    bodyLimit: f['max-body'],
    shutdownMs: f['shutdown-timeout'] * 1000,
  };
}
