/**
 * Every flag of the commands, in groups that commands spread into their `flags`, declared once so
 * that a flag's name, meaning, help text and default cannot drift apart between commands. Each
 * default is read from DEFAULTS (src/api/defaults.ts), the object the library API fills its
 * options from. A spelling means one thing in every command; bench, which times several settings
 * in one run, takes comma-separated lists where generate takes one value (--devices, --batch,
 * --merge), and a list gets a plural name where the single value is a different flag (eval's
 * --k-primes, --k-prime elsewhere). Renamed flags keep their old spelling as a deprecated alias.
 * Parsed values of a group have the type FlagValues<typeof group>.
 */
import {Args, Errors, Flags, type Interfaces} from '@oclif/core';
import {AVAILABLE_BACKENDS, QUANTIZE_TARGETS, SOFTMAX_KINDS, TEXT_DATA_MAX_BYTES, formatSize} from '../api/catalog.js';
import {DEFAULTS} from '../api/defaults.js';
import {BENCH_DTYPES, shapeNames} from '../api/bench.js';

/** The parsed values of a group of flags. */
export type FlagValues<T extends Interfaces.FlagInput> = Interfaces.InferredFlags<T>;

/** A number (oclif's own number flag takes integers only). */
export const numberFlag = Flags.custom<number>({
  async parse(input) {
    const n = Number(input);
    if (input.trim() === '' || !Number.isFinite(n)) throw new Errors.CLIError(`"${input}" is not a number`);
    return n;
  },
});

/** Comma-separated positive integers, e.g. 1,8,32 (the flag may also be repeated). */
function intListFlag(options: {description: string; default?: number[]; min?: number}) {
  const {min = 1, ...rest} = options;
  return Flags.integer({...rest, min, multiple: true, delimiter: ',', multipleNonGreedy: true});
}

function mergeDescription(list: boolean): string {
  const what = "how the output layer's top-k is merged: exact gathers every approximate score for one global top-k'; dat takes each device's local top-k'/N + slack (DaT-Top-k)";
  return list ? `Merge modes timed for every --devices count (${what}); e.g. exact,dat.` : `With --devices, ${what}.`;
}

/** --json through oclif (enableJsonFlag): the command's return value, printed on stdout. */
export function jsonFlag(description: string) {
  return Flags.boolean({
    description: `${description} Errors still print one line on stderr and exit 1 (2 for bad usage), with nothing on stdout.`,
    default: false,
  });
}

/** --data: text files calibrate and eval read (--split says which part of each). */
export function dataFlag(what: string) {
  return Flags.string({
    description: `${what} text file (repeatable; default: the bundled corpus, data/tinyshakespeare.txt, named on stderr when used): a regular file of at most ${formatSize(TEXT_DATA_MAX_BYTES)}. --split says which part of it is read.`,
    multiple: true,
  });
}

const SPLIT_WORDS = 'all: the whole file; train: its first 90% (cut after a line break); validation: the rest';

/** --split: the part of each --data file (or of the bundled corpus) calibrate and eval read. */
export function splitFlag(defaultWords: string | null) {
  return Flags.string({
    description: `Part of each text file read (${SPLIT_WORDS})${defaultWords ? `; default: ${defaultWords}` : ''}.`,
    options: ['all', 'train', 'validation'],
    ...(defaultWords ? {} : {default: DEFAULTS.calibrate.split}),
  });
}

/** Where the work runs. */
export const backendFlags = {
  backend: Flags.string({char: 'b', description: `Compute backend: ${AVAILABLE_BACKENDS.join(', ')}.`, default: DEFAULTS.backend}),
  threads: Flags.integer({description: 'Worker threads of the cpu backend (default: every core).', min: 1}),
};

/**
 * The MODEL argument: a directory (checkpoint or HiRE bundle), a Hugging Face cache folder
 * (models--org--name) or a Hub id org/name[@revision][:TAG] found in the Hugging Face cache.
 */
function modelArgDescription(what: string): string {
  return `${what}: a directory, a GGUF file, or a Hugging Face id org/name[@revision] from the Hugging Face cache (hire pull fetches one; org/name:Q4_0 picks a GGUF file by its quant tag).`;
}

export function modelArg(what: string) {
  return Args.string({description: modelArgDescription(what), required: false});
}

export function requiredModelArg(what: string) {
  return Args.string({description: modelArgDescription(what), required: true});
}

/** Whether a Hub id missing from the cache may be downloaded (generate, eval, bench, calibrate). */
export const downloadFlags = {
  download: Flags.boolean({
    description: 'When MODEL is a Hugging Face id the Hugging Face cache lacks, download it there first (a bar per file); without it such a model is an error that says how to get it.',
    default: false,
  }),
};

/** How the cpu backend stores and multiplies what is not a weight: the KV cache's element type and the block dot products' activations (generate, chat, score, serve, eval, bench). */
export const kvDtypeFlags = {
  'kv-dtype': Flags.string({description: 'Element type of the KV cache: f16 halves the bytes decoding at long contexts reads (cpu backend).', options: ['f32', 'f16'], default: DEFAULTS.kvDtype}),
  'block-activations': Flags.string({
    description: 'cpu, q8_0 / q4_0 weights: activations of the block dot products, f32 (exact), int16 (rounded to 16 bits per block of 32; fewer instructions per weight) or int8 (q4_0 weights take 8 bits, as llama.cpp does, with relaxed SIMD; q8_0 weights 16); all but f32 also round the input of a HiRE-FFN predictor\'s int8/int4 matrix to 8 bits per group.',
    options: ['f32', 'int16', 'int8'],
    default: DEFAULTS.blockActivations,
  }),
};

/** Full sha256 of a bundle's weight files against hire.json (generate, eval, bench, inspect). */
export const verifyWeightsFlags = {
  'verify-weights': Flags.boolean({
    description:
      "HiRE bundles: also compare the full sha256 of every weight file with the one hire.json recorded at calibration (reads every byte; the size and a sampled fingerprint are always compared).",
    default: false,
  }),
};

/** `hire generate`: the prompt, what is printed, and how many sequences. */
export const generateFlags = {
  prompt: Flags.string({
    char: 'p',
    description: 'Prompt text; "-" reads it from stdin, as does giving no prompt while stdin is a pipe (repeat --prompt to decode several prompts together as one batch).',
    exclusive: ['tokens', 'prompt-file'],
    multiple: true,
  }),
  'prompt-file': Flags.string({description: 'Read the prompt text from this file (UTF-8; one trailing newline dropped).', exclusive: ['tokens']}),
  tokens: Flags.string({description: 'Prompt as comma-separated token ids (no tokenizer needed).'}),
  chat: Flags.boolean({description: "Send the prompt through the model's chat template as one user message (implied by --system).", default: false}),
  'no-eos': Flags.boolean({description: 'Keep generating past the end-of-sequence token.', default: false}),
  batch: Flags.integer({description: 'Decode this many sequences together (the prompt repeated, sequence b seeded with --seed + b); weights are read once per step for all of them.', min: 1, max: 64}),
  logprobs: Flags.integer({
    description: "Give each generated token its log-probability and the N most likely alternatives (0: its own only); under HiRE see --logprobs-tail. Printed on stderr after the text, or in --json / --jsonl.",
    min: 0,
    max: 100,
  }),
  jsonl: Flags.boolean({
    description: 'Stream one JSON object per line on stdout: {"type":"token", id, text, index, pos, ms, candidates, widenings, logprobs?} per generated token, then {"type":"result", ...the --json object}.',
    default: false,
    exclusive: ['json'],
  }),
};

/** A reply's length, its system message and its stop strings (generate, chat). */
export const replyFlags = {
  'max-tokens': Flags.integer({char: 'n', description: 'Most tokens to generate (per reply in chat).', default: DEFAULTS.maxTokens, min: 1}),
  system: Flags.string({char: 's', description: "System message, rendered first through the model's chat template (which the model must have)."}),
  stop: Flags.string({description: 'End the generation where its text first contains this string; the text stops just before it (repeatable).', multiple: true}),
};

/** Log-probabilities of the generated tokens (generate) or of a given text (score). */
export const logprobFlags = {
  'logprobs-tail': Flags.string({
    description: "HiRE: drop normalises log-probabilities over the k' candidates (exact for the distribution HiRE samples from; a token outside them has none); estimate adds the predictor's approximate logits of the other rows (an estimate of the dense values).",
    options: ['drop', 'estimate'],
    default: DEFAULTS.logprobsTail,
  }),
};

/** How the next token is chosen (generate, chat). */
export const samplingFlags = {
  temperature: numberFlag({char: 't', description: 'Sampling temperature; 0 is greedy.', default: DEFAULTS.sampling.temperature}),
  'top-k': Flags.integer({description: 'Sample from the k most likely tokens only (0 = off).', default: DEFAULTS.sampling.topK, min: 0}),
  'top-p': numberFlag({description: 'Nucleus sampling: smallest set with this total probability (1 = off).', default: DEFAULTS.sampling.topP}),
  'min-p': numberFlag({description: 'Drop tokens less likely than this times the most likely one (0 = off).', default: DEFAULTS.sampling.minP}),
  seed: Flags.integer({description: 'Random seed for sampling (chat: turn n uses seed + n).', default: DEFAULTS.sampling.seed}),
  'repetition-penalty': numberFlag({description: 'Divide positive (multiply negative) logits of tokens already in the sequence, prompt included, by this (1 = off).', default: DEFAULTS.sampling.repetitionPenalty}),
  'presence-penalty': numberFlag({description: 'Subtract this from the logit of every token already in the sequence (0 = off).', default: DEFAULTS.sampling.presencePenalty}),
  'frequency-penalty': numberFlag({description: "Subtract this from a token's logit once per occurrence in the sequence (0 = off).", default: DEFAULTS.sampling.frequencyPenalty}),
};

/** The HiRE-Softmax output layer of a bundle while decoding (generate). */
export const softmaxFlags = {
  dense: Flags.boolean({description: 'Decode densely even when the model is a HiRE bundle.', default: false}),
  recall: numberFlag({description: "HiRE: mean recall@k target that picks k' from the bundle's table.", default: DEFAULTS.recall}),
  'k-prime': Flags.integer({description: "HiRE: use exactly this many softmax candidates k' (overrides --recall).", min: 1}),
  certify: Flags.boolean({
    description: "HiRE: certified top-k; widen k' until the top-k provably equals dense (greedy output is then identical to dense).",
    default: false,
  }),
  predictor: Flags.string({description: 'HiRE: softmax predictor to use (default: the one calibration selected).'}),
};

/** HiRE-FFN of a bundle while decoding: generate decodes with it, eval adds its rows. */
export const ffnFlags = {
  ffn: Flags.string({
    description: "HiRE-FFN of a bundle calibrated with --calibrate-ffn: auto uses it (generate decodes with it, with --devices each device picking its own groups; eval adds its rows), off keeps the dense (exact top-k) FFN.",
    options: ['auto', 'off'],
    default: DEFAULTS.ffn,
  }),
  'ffn-recall': numberFlag({description: "HiRE-FFN: mean recall target that picks k'_g per layer (with --devices: each device reads its share of k'_g).", default: DEFAULTS.ffnRecall}),
  'ffn-k-prime': Flags.integer({description: 'HiRE-FFN: dynamic groups per layer (overrides --ffn-recall).', min: 0}),
};

/** Several devices (DaT-Top-k): generate decodes on N of them. */
export const deviceFlags = {
  devices: Flags.integer({
    description: 'Decode on N devices, each with its own backend and weight shard: worker threads (cpu, tfjs, reference), or with --backend webgpu N GPUDevices in-process (requested from the adapter Dawn picks; the output says which); see --merge.',
    min: 1,
    max: 64,
  }),
  merge: Flags.string({description: mergeDescription(false), options: ['exact', 'dat'], default: DEFAULTS.merge, aliases: ['topk'], deprecateAliases: true}),
  slack: Flags.integer({description: "DaT slack per device (default: the bundle's calibrated slack; without one, a quarter of k'/devices).", min: 0}),
  'ffn-slack': Flags.integer({description: "With --devices and HiRE-FFN: dynamic groups each device reads beyond its share ceil(k'_g/N) (none on one device).", default: DEFAULTS.ffnSlack, min: 0}),
};

/** `hire score`: the text scored, alternatives per position, and the output layer used. */
export const scoreFlags = {
  text: Flags.string({description: 'Text to score ("-" reads stdin, as does giving no text while stdin is a pipe).', exclusive: ['file', 'tokens']}),
  file: Flags.string({description: 'Read the text to score from this file (UTF-8; one trailing newline dropped).', exclusive: ['tokens']}),
  tokens: generateFlags.tokens,
  top: Flags.integer({description: 'Alternatives per position.', default: DEFAULTS.score.top, min: 0, max: 100}),
  hire: Flags.boolean({description: "Score through the bundle's HiRE-Softmax instead of the dense output layer (see --logprobs-tail).", default: false}),
};

/** `hire calibrate`: its input and output, the softmax predictors fitted and how they are chosen. */
export const calibrateFlags = {
  data: dataFlag('Calibration'),
  split: splitFlag(null),
  out: Flags.string({char: 'o', description: 'Bundle directory to write (default: <model name>.hire in the current directory). Its parent must exist.'}),
  force: Flags.boolean({
    description: 'Replace an existing bundle at --out: only a directory holding a hire bundle (hire.json), never the model, the current directory or a directory holding either.',
    default: false,
  }),
  'copy-weights': Flags.boolean({
    description: "Copy the model's weight files into the bundle (default: hard-link them when the file system allows, so editing one file edits both).",
    default: false,
  }),
  softmax: Flags.string({description: 'Predictor kinds to fit (repeatable; default: all).', options: [...SOFTMAX_KINDS], multiple: true}),
  rank: Flags.integer({description: 'Rank of the low-rank predictors (default: width/8, 8..256).', min: 1}),
  bits: Flags.string({description: 'Bits of the quantised predictors.', options: ['8', '4', '2']}),
  'group-size': Flags.integer({description: 'Columns per scale for --softmax quant (default 64).', min: 1}),
  k: intListFlag({description: 'Top-k sizes to measure recall for, e.g. 1,8,40.', default: [...DEFAULTS.calibrate.ks]}),
  recall: numberFlag({description: `Recall target used to choose the predictor (also stored with ${DEFAULTS.calibrate.recallTargets.join(', ')}).`, default: DEFAULTS.recall}),
  tokens: Flags.integer({description: 'Calibration tokens to use (fit + held out).', default: DEFAULTS.calibrate.tokens, min: 80}),
  'seq-len': Flags.integer({description: 'Tokens per sequence while collecting hidden states.', default: DEFAULTS.calibrate.seqLen, min: 1}),
  seed: Flags.integer({description: 'Seed of the randomized SVD.', default: DEFAULTS.calibrate.seed}),
};

/** `hire calibrate --calibrate-ffn`: HiRE-FFN calibration. */
export const calibrateFfnFlags = {
  'calibrate-ffn': Flags.boolean({
    description: 'Also calibrate HiRE-FFN: per-layer predictors, neuron groups, static sets; the bundle then holds re-laid-out weights.',
    default: false,
    aliases: ['ffn'],
    deprecateAliases: true,
  }),
  'ffn-kind': Flags.string({description: 'FFN predictor kinds to try per layer (repeatable; default quant, and lowrank+quant too on q8_0/q4_0 weights).', options: [...SOFTMAX_KINDS], multiple: true}),
  'ffn-bits': Flags.string({
    description: 'Bit widths tried for the FFN predictors, e.g. 4,8 (default 4,8; the cheaper one reaching --recall wins per layer).',
    options: ['4', '8'],
    multiple: true,
    delimiter: ',',
    multipleNonGreedy: true,
  }),
  'ffn-group-size': Flags.integer({description: 'Neurons per FFN group (1..32, must divide the FFN width).', default: DEFAULTS.calibrate.ffn.groupSize, min: 1, max: 32}),
  'ffn-score': Flags.string({description: 'Group score from the predicted activations.', options: ['max', 'sum'], default: DEFAULTS.calibrate.ffn.score}),
  'ffn-topk': numberFlag({description: "Fraction of FFN neurons kept (default: the model's hire_ffn_topk, else 0.1)."}),
  'ffn-static': numberFlag({description: 'Groups active on more than this share of calibration tokens are always computed.', default: DEFAULTS.calibrate.ffn.staticThreshold}),
  'ffn-refine': Flags.integer({
    description: 'Random group swaps tried per neuron after the co-activation grouping (fewer groups active on the calibration text; on the demo it also cost held-out recall margin).',
    default: DEFAULTS.calibrate.ffn.refine,
    min: 0,
    max: 1000,
  }),
  'no-ffn-permute': Flags.boolean({description: 'Keep the neuron order (no co-activation permutation).', default: false}),
};

/** `hire eval`: what is measured. */
export const evalFlags = {
  data: dataFlag('Evaluation'),
  split: splitFlag(`${DEFAULTS.evaluate.split.data} for --data files, ${DEFAULTS.evaluate.split.bundled} for the bundled corpus (the demo model was trained on its train split); use validation for text a bundle was calibrated on with the default --split train`),
  tokens: Flags.integer({description: `Most tokens of the text to evaluate (default: all of a --data file; the first ${DEFAULTS.evaluate.bundledTokens} of the bundled corpus's validation split without --data).`, min: 2}),
  window: Flags.integer({
    description: `Tokens per window W: the model runs over windows of W tokens, each from an empty context (default: the model's context, at most ${DEFAULTS.evaluate.maxWindow}).`,
    min: 2,
    aliases: ['seq-len'],
    deprecateAliases: true,
  }),
  stride: Flags.integer({
    description: 'Tokens between window starts S, below W (default: W/2). Each window scores only the next tokens the previous one did not, so every token is scored once, with at least W - S tokens of context after the first window.',
    min: 1,
  }),
  k: intListFlag({description: 'Top-k sizes, e.g. 1,8,32 (default: the ks the bundle measured).'}),
  'k-primes': Flags.integer({
    description: "Candidate counts k' to measure, e.g. 64,128 (default: the bundle's k' per recall target, plus k and the vocabulary size).",
    min: 1,
    multiple: true,
    delimiter: ',',
    multipleNonGreedy: true,
    aliases: ['k-prime'],
    deprecateAliases: true,
  }),
  predictor: Flags.string({description: 'Predictor to evaluate (repeatable; default: every predictor in the bundle).', multiple: true}),
  ffn: ffnFlags.ffn,
  'no-ffn': Flags.boolean({description: 'Deprecated: --ffn off.', hidden: true, deprecated: {message: 'The "--no-ffn" flag has been deprecated. Use "--ffn off" instead.'}}),
};

/** `hire bench`: the model, the decode timed, and the rows beside dense. */
export const benchFlags = {
  shape: Flags.string({description: 'Named synthetic shape (instead of a model directory).', options: shapeNames()}),
  dtype: Flags.string({
    description: 'Weight dtype of the synthetic shape: floats, or ggml blocks q8_0 / q4_0 (the f32 shape quantised as hire quantize does; bytes per token count the real block bytes).',
    default: DEFAULTS.bench.dtype,
    options: [...BENCH_DTYPES],
  }),
  threads: Flags.integer({description: 'Worker threads (cpu backend and the bandwidth probe); default: all cores.', min: 1}),
  tokens: Flags.integer({char: 'n', description: 'Tokens to decode (timed).', default: DEFAULTS.bench.tokens, min: 1}),
  'prompt-tokens': Flags.integer({description: 'Prompt tokens to prefill first (timed as prompt processing).', default: DEFAULTS.bench.promptTokens, min: 1}),
  context: Flags.integer({description: 'Decode at this context: the prompt prefilled first has N tokens (overrides --prompt-tokens); KV cache bytes count in the bandwidth.', min: 1}),
  'no-probe': Flags.boolean({description: 'Skip the bandwidth and compute probes.', default: false}),
  hire: Flags.boolean({description: 'Add a HiRE-Softmax row with a synthetic predictor (automatic for bundles).', default: false}),
  softmax: Flags.string({description: 'Predictor kind for --hire and --output-layer.', options: [...SOFTMAX_KINDS], default: DEFAULTS.bench.hire.kind}),
  rank: Flags.integer({description: 'Predictor rank (default: width/8 within 8..256).', min: 1}),
  bits: Flags.string({description: 'Predictor bits.', options: ['8', '4'], default: String(DEFAULTS.bench.hire.bits)}),
  'k-prime': Flags.integer({description: `Softmax candidates k' (default for bundles: the table's k' at --recall; else ${DEFAULTS.bench.hire.kPrime}).`, min: 1}),
  recall: numberFlag({description: "Recall target for a bundle's k' table.", default: DEFAULTS.recall}),
  'synthetic-ffn': Flags.boolean({
    description: 'Add HiRE-FFN rows (FFN only, FFN + softmax) with synthetic predictors (a bundle calibrated with --calibrate-ffn has them without it).',
    default: false,
    aliases: ['ffn'],
    deprecateAliases: true,
  }),
  'ffn-kind': Flags.string({description: 'FFN predictor kind for --synthetic-ffn (lowrank+quant: f32 B and an int8/int4 A, whose products by a rounded x are integer on cpu; lowrank: both f32).', options: [...SOFTMAX_KINDS], default: DEFAULTS.bench.syntheticFfn.kind}),
  'ffn-bits': Flags.string({description: 'FFN predictor bits for --synthetic-ffn.', options: ['8', '4'], default: String(DEFAULTS.bench.syntheticFfn.bits)}),
  'ffn-group-size': Flags.integer({description: 'Neurons per group for --synthetic-ffn.', default: DEFAULTS.bench.syntheticFfn.groupSize, min: 1, max: 32}),
  'ffn-topk': numberFlag({description: 'Fraction of FFN neurons kept for --synthetic-ffn (top-k FFN).', default: DEFAULTS.bench.syntheticFfn.topK}),
  'ffn-read': numberFlag({description: 'Fraction of FFN groups read per token for --synthetic-ffn (synthetic weights have no sparsity to predict).', default: DEFAULTS.bench.syntheticFfn.read}),
  repeat: Flags.integer({description: "Time every row this many times, round-robin, and report each row's median run (for noisy machines).", default: DEFAULTS.bench.repeat, min: 1, max: 50}),
  warmup: numberFlag({description: 'Seconds of untimed decoding, every row in turn, before the timed runs (V8 optimises a small model\'s per-token code over its first thousands of tokens; 0: one short run of the first row).', default: DEFAULTS.bench.warmup}),
  batch: intListFlag({description: 'Batch sizes, e.g. 2,4,8: also decode that many sequences together (dense and the sparsest mode): tokens/s, bytes per token and FFN groups read for the batch.'}),
  'output-layer': Flags.boolean({description: 'Time the output layer alone (dense against HiRE).', default: false}),
  vocab: Flags.integer({description: 'Vocabulary size for --output-layer.', default: DEFAULTS.bench.outputLayer.vocabSize, min: 1}),
  dim: Flags.integer({description: 'Width for --output-layer.', default: DEFAULTS.bench.outputLayer.dim, min: 1}),
  devices: intListFlag({description: 'Multi-device rows (DaT-Top-k) for these device counts, e.g. 1,2,4: ms/token, bytes moved between devices per token, DaT recall on bundles. Devices are worker threads (cpu, tfjs, reference), or with --backend webgpu GPUDevices in-process.'}),
  merge: Flags.string({
    description: mergeDescription(true),
    options: ['exact', 'dat'],
    default: [...DEFAULTS.bench.merges],
    multiple: true,
    delimiter: ',',
    multipleNonGreedy: true,
    aliases: ['topk'],
    deprecateAliases: true,
  }),
  slack: deviceFlags.slack,
  'ffn-recall': numberFlag({description: "With --devices on a bundle calibrated with --calibrate-ffn: HiRE-FFN recall target that picks k'_g per layer (each device reads its share).", default: DEFAULTS.ffnRecall}),
  'ffn-slack': deviceFlags['ffn-slack'],
};

/** `hire quantize`: the block format and where the directory goes. */
export const quantizeFlags = {
  to: Flags.string({
    description: "Block format of the weight matrices: q8_0 (34 bytes per 32 weights), q4_0 (18 bytes per 32 weights), or keep (a GGUF file's own formats, nothing re-quantised).",
    options: [...QUANTIZE_TARGETS],
    required: true,
  }),
  out: Flags.string({char: 'o', description: 'Directory to write, or a path ending in .gguf: one GGUF file that llama.cpp loads (Llama, Mistral, Qwen2). Its parent must exist.', required: true}),
  force: Flags.boolean({description: 'Replace an existing directory (or .gguf file) at --out that hire quantize wrote (never the model or the current directory).', default: false}),
};

/** `hire serve`: where it listens, who may call it, and how much it takes on. */
export const serveFlags = {
  host: Flags.string({description: 'Address to listen on. The default takes connections from this machine only; anything else exposes the model to the network (set --api-key).', default: DEFAULTS.serve.host}),
  port: Flags.integer({description: 'Port to listen on (0: a free one, printed at start).', default: DEFAULTS.serve.port, min: 0, max: 65535}),
  'api-key': Flags.string({description: 'Require the header "Authorization: Bearer KEY" on every request but GET /health (default: the HIRE_API_KEY environment variable; none when unset).', env: 'HIRE_API_KEY'}),
  'model-id': Flags.string({description: "The model's id in requests and responses (default: the model directory's name)."}),
  'max-batch': Flags.integer({description: 'Most requests decoded together (continuous batching).', default: DEFAULTS.serve.maxBatch, min: 1}),
  'max-queue': Flags.integer({description: 'Most requests waiting for a place in the batch; more get 429 with Retry-After.', default: DEFAULTS.serve.maxQueue, min: 1}),
  timeout: Flags.integer({description: 'Seconds a request may take, queue included, before it ends with 504.', default: DEFAULTS.serve.timeoutMs / 1000, min: 1}),
  'max-body': Flags.integer({description: 'Largest request body in bytes (larger: 413).', default: DEFAULTS.serve.bodyLimit, min: 1}),
  'shutdown-timeout': Flags.integer({description: 'On SIGTERM or SIGINT: seconds in-flight requests may take to finish before they are cancelled; then the server exits 0.', default: DEFAULTS.serve.shutdownMs / 1000, min: 0}),
};
