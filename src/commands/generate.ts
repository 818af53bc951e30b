import {Args, Flags} from '@oclif/core';
import {BaseCommand, note, warn} from '../cli/base-command.js';
import {AVAILABLE_BACKENDS} from '../core/backends/index.js';
import {generate} from '../api/generate.js';
import {loadModel, type HireModel} from '../api/model.js';
import {generateBatch} from '../api/batch.js';
import type {GenerateStats} from '../core/decode/generate.js';
import {validateSamplingOptions} from '../core/decode/sampler.js';
import {TokenizerError, UsageError, type HireError} from '../core/errors.js';
import {verifyWeightsFlag} from '../cli/flags.js';
import {parseNumber, parseTokenIds} from '../cli/parse.js';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';

export default class Generate extends BaseCommand {
  static override summary = 'Generate text from a prompt, streaming tokens as they are decoded.';
  static override description = `Loads a Hugging Face checkpoint directory (config.json, model.safetensors or a sharded index, tokenizer.json) and decodes one token at a time. Text goes to stdout as it is produced; timing statistics go to stderr. Sampling is reproducible: the same --seed gives the same text. --temperature 0 is greedy decoding.

When the model directory is a HiRE bundle (made by \`hire calibrate\`), the output layer is sparse: the predictor scores every vocabulary row cheaply, the k' best candidates are computed exactly, and sampling sees those candidates only (the tail outside them is dropped). k' comes from the bundle's recall table for --recall; --certify widens k' until the top-k is provably the dense top-k, so greedy output is token for token the dense output. --dense turns HiRE off.

--json prints one object of the same shape on every path: {text, promptTokenIds, tokenIds, backend, stats, output, weightBytesPerToken, devices}. text leaves the prompt out (it keeps the first token's leading space); devices is null on one device; with --devices, the byte counts not measured there (weightBytesPerToken, output.bytesPerToken) are null. Several prompts or --batch print {sequences: [one such object per prompt], tokensPerSecond, weightBytesPerToken, ffnGroups}.`;

  static override examples = [
    '<%= config.bin %> generate --prompt "ROMEO:"',
    '<%= config.bin %> generate ../shared/models/llama2xs --prompt "Once upon a time" --max-tokens 64 --temperature 0',
    '<%= config.bin %> generate ./my-model --prompt "Hello" --temperature 0.7 --top-p 0.9 --seed 7',
    '<%= config.bin %> generate ./my-model --tokens 1,403,407 --max-tokens 16 --json',
    '<%= config.bin %> generate llama2xs.hire --prompt "Once upon a time" --temperature 0 --certify',
    '<%= config.bin %> generate llama2xs.hire --prompt "Once upon a time" --recall 0.999',
    '<%= config.bin %> generate --prompt "ROMEO:" --temperature 0 --devices 2 --merge dat',
    '<%= config.bin %> generate --prompt "ROMEO:" --prompt "JULIET:" --prompt "KING:" --max-tokens 32',
    '<%= config.bin %> generate --prompt "ROMEO:" --batch 8 --json',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle (default: the bundled demo model, models/shakespeare-topk.hire).', required: false}),
  };

  static override flags = {
    prompt: Flags.string({char: 'p', description: 'Prompt text (repeat it to decode several prompts together as one batch).', exclusive: ['tokens'], multiple: true}),
    tokens: Flags.string({description: 'Prompt as comma-separated token ids (no tokenizer needed).'}),
    'max-tokens': Flags.integer({char: 'n', description: 'Most tokens to generate.', default: 128, min: 1}),
    temperature: Flags.string({char: 't', description: 'Sampling temperature; 0 is greedy.', default: '0.8'}),
    'top-k': Flags.integer({description: 'Sample from the k most likely tokens only (0 = off).', default: 40, min: 0}),
    'top-p': Flags.string({description: 'Nucleus sampling: smallest set with this total probability (1 = off).', default: '0.95'}),
    seed: Flags.integer({description: 'Random seed for sampling.', default: 42}),
    backend: Flags.string({
      char: 'b',
      description: `Compute backend: ${AVAILABLE_BACKENDS.join(', ')}.`,
      default: 'cpu',
    }),
    dense: Flags.boolean({description: 'Decode densely even when the model is a HiRE bundle.', default: false}),
    recall: Flags.string({description: "HiRE: mean recall@k target that picks k' from the bundle's table.", default: '0.99'}),
    'k-prime': Flags.integer({description: "HiRE: use exactly this many softmax candidates (overrides --recall).", min: 1}),
    certify: Flags.boolean({
      description: "HiRE: certified top-k; widen k' until the top-k provably equals dense (greedy output is then identical to dense).",
      default: false,
    }),
    predictor: Flags.string({description: 'HiRE: softmax predictor to use (default: the one calibration selected).'}),
    ffn: Flags.string({description: "HiRE-FFN (bundles calibrated with --ffn): auto = sparse FFN (with --devices: each device picks its own groups), off = dense (exact top-k) FFN.", options: ['auto', 'off'], default: 'auto'}),
    'ffn-recall': Flags.string({description: "HiRE-FFN: mean recall target that picks k'_g per layer (with --devices: each device reads its share of k'_g).", default: '0.99'}),
    'ffn-k-prime': Flags.integer({description: 'HiRE-FFN: dynamic groups per layer (overrides --ffn-recall).', min: 0}),
    batch: Flags.integer({description: 'Decode this many sequences together (the prompt repeated, sequence b seeded with --seed + b); weights are read once per step for all of them.', min: 1, max: 64}),
    'no-eos': Flags.boolean({description: 'Keep generating past the end-of-sequence token.', default: false}),
    devices: Flags.integer({description: 'Decode on N devices, each with its own backend and weight shard: worker threads (cpu, tfjs, reference), or with --backend webgpu N GPUDevices in-process (requested from the adapter Dawn picks; the output says which); see --merge.', min: 1, max: 64}),
    merge: Flags.string({
      description: "With --devices, how the output layer's top-k is merged: exact gathers every approximate score for one global top-k'; dat takes each device's local top-k'/N + slack (DaT-Top-k).",
      options: ['exact', 'dat'],
      default: 'exact',
      aliases: ['topk'],
      deprecateAliases: true,
    }),
    slack: Flags.integer({description: "DaT slack per device (default: the bundle's calibrated slack).", min: 0}),
    'ffn-slack': Flags.integer({description: "With --devices and HiRE-FFN: dynamic groups each device reads beyond its share ceil(k'_g/N) (none on one device).", default: 1, min: 0}),
    json: Flags.boolean({description: 'Print one JSON object (text without the prompt, token ids, statistics; see the description) instead of streaming.', default: false}),
    'verify-weights': verifyWeightsFlag,
  };

  /** A prompt the tokenizer cannot take can be given as ids. */
  protected override hint(err: HireError): string | null {
    return err instanceof TokenizerError && err.message.endsWith('as token ids') ? '--tokens 1,2,3' : null;
  }

  private async runBatch(model: HireModel, flags: BatchFlags, sampling: {temperature: number; topK: number; topP: number}): Promise<void> {
    if (flags.certify) throw new UsageError('--certify decodes one sequence at a time; drop --certify or --batch');
    const prompts = batchPrompts(flags);
    const r = await generateBatch(model, prompts, {...sampling, ...decodeOptions(flags)});
    if (flags.json) {
      this.log(JSON.stringify(r, null, 2));
      return;
    }
    r.sequences.forEach((seq, b) => this.log(`[${b}] ${typeof prompts[b] === 'string' ? prompts[b] : ''}${seq.text}`));
    const groups = r.ffnGroups ? `; FFN groups per layer ${r.ffnGroups.batch.toFixed(1)} for the batch vs ${r.ffnGroups.perSequence.toFixed(1)} per sequence` : '';
    note(`[${model.backendInfo}] batch of ${prompts.length}: ${r.tokensPerSecond.toFixed(1)} tok/s over all sequences; ${(r.weightBytesPerToken / 1e6).toFixed(2)} MB weights/token${groups}`);
  }

  private async runSingle(model: HireModel, flags: BatchFlags, sampling: {temperature: number; topK: number; topP: number}): Promise<void> {
    // generate() checks the prompt and every option before anything is printed
    const gen = generate(model, flags.tokens !== undefined ? parseTokenIds(flags.tokens) : flags.prompt![0]!, {...sampling, ...decodeOptions(flags), certify: flags.certify});
    const write = (s: string) => {
      if (!flags.json && s) process.stdout.write(s);
    };
    write(flags.prompt?.[0] ?? '');
    if (!flags.json) note(`hire: ${gen.output.describe}`);
    if (!flags.json && model.ffnInfo) note(`hire: ${model.ffnInfo}`);
    let streamed = 0;
    for await (const chunk of gen) {
      streamed += chunk.text.length;
      write(chunk.text);
    }
    const r = await gen.complete();
    write(r.text.slice(streamed)); // an incomplete character at the very end
    if (flags.json) {
      this.log(JSON.stringify(r, null, 2));
      return;
    }
    process.stdout.write('\n');
    note(formatStats(r.stats, model.backendInfo, r.weightBytesPerToken!));
    if (r.devices) {
      const {traffic, ffn} = r.devices;
      const kb = (b: number) => `${(b / 1e3).toFixed(1)} KB`;
      note(`moved between devices per token: ${kb(traffic.total)} (all-reduce ${kb(traffic.allReduce)}, output layer ${kb(traffic.softmax)})`);
      note(`FFN weights read per token and device: ${ffn.bytesPerTokenPerDevice.map(kb).join(' / ')} (${ffn.sparse ? 'HiRE-FFN' : 'dense'}; dense ${kb(ffn.denseBytesPerTokenPerDevice[0]!)})`);
    }
    const o = r.output;
    if (flags.certify) note(`certified: k' widened on ${o.widenedSteps} of ${o.steps} steps (${o.widenings} doublings), mean ${o.meanCandidates.toFixed(1)} candidates`);
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Generate);
    const dir = args.model ?? DEMO_BUNDLE_DIR;
    const sampling = {
      temperature: parseNumber('--temperature', flags.temperature),
      topK: flags['top-k'],
      topP: parseNumber('--top-p', flags['top-p']),
    };
    validateSamplingOptions(sampling);
    if (flags.prompt === undefined && flags.tokens === undefined) {
      throw new UsageError('give a prompt with --prompt "text" or token ids with --tokens 1,2,3');
    }
    const model = await loadModel(dir, {
      backend: flags.backend,
      onWarning: warn,
      tokenizer: flags.prompt !== undefined ? 'required' : 'optional',
      ffn: flags.ffn as 'auto' | 'off',
      ffnRecall: parseNumber('--ffn-recall', flags['ffn-recall']),
      ffnKPrime: flags['ffn-k-prime'],
      verifyWeights: flags['verify-weights'],
      ...(flags.devices === undefined
        ? {}
        : {devices: flags.devices, merge: flags.merge as 'exact' | 'dat', slack: flags.slack, ffnSlack: flags['ffn-slack'], predictor: flags.predictor}),
    });
    try {
      if ((flags.prompt ?? []).length > 1 || (flags.batch ?? 1) > 1) await this.runBatch(model, flags, sampling);
      else await this.runSingle(model, flags, sampling);
    } finally {
      model.dispose();
    }
  }
}

/** Flags runSingle and runBatch read. */
interface SharedFlags {
  prompt?: string[];
  tokens?: string;
  seed: number;
  'max-tokens': number;
  'no-eos': boolean;
  dense: boolean;
  recall: string;
  'k-prime'?: number;
  certify: boolean;
  predictor?: string;
  json: boolean;
}

/** The flags runBatch reads. */
interface BatchFlags extends SharedFlags {
  batch?: number;
}

/** The stopping, seeding and HiRE-Softmax options every generate path takes from the flags. */
function decodeOptions(flags: SharedFlags) {
  return {
    seed: flags.seed,
    maxTokens: flags['max-tokens'],
    stopOnEos: !flags['no-eos'],
    dense: flags.dense,
    recall: parseNumber('--recall', flags.recall),
    kPrime: flags['k-prime'],
    predictor: flags.predictor,
    onWarning: warn,
  };
}

function batchPrompts(flags: {prompt?: string[]; tokens?: string; batch?: number}): Array<string | number[]> {
  const base: Array<string | number[]> = flags.tokens !== undefined ? [parseTokenIds(flags.tokens)] : flags.prompt!;
  const n = flags.batch ?? base.length;
  if (base.length > 1 && flags.batch !== undefined && flags.batch !== base.length) {
    throw new UsageError(`--batch ${flags.batch} does not match the ${base.length} prompts given`);
  }
  return Array.from({length: n}, (_, b) => base[b % base.length]!);
}

function formatStats(s: GenerateStats, backend: string, bytesPerToken: number): string {
  const mb = (bytesPerToken / 1e6).toFixed(2);
  return (
    `[${backend}] prompt ${s.promptTokens} tok at ${s.prefillTokensPerSecond.toFixed(1)} tok/s; ` +
    `generated ${s.generatedTokens} tok at ${s.decodeTokensPerSecond.toFixed(1)} tok/s; ` +
    `${mb} MB weights/token; stop: ${s.stopReason}`
  );
}
