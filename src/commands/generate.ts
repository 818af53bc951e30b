import {Args, Flags} from '@oclif/core';
import {BaseCommand, note, warn} from '../cli/base-command.js';
import {AVAILABLE_BACKENDS} from '../core/backends/index.js';
import {generateTokens, type GenerateStats} from '../core/decode/generate.js';
import {validateSamplingOptions} from '../core/decode/sampler.js';
import {Session} from '../core/decode/session.js';
import {TextStreamer} from '../core/decode/streamer.js';
import {UsageError} from '../core/errors.js';
import {parseTokenIds} from '../core/model/tokenizer.js';
import {parseNumber} from '../cli/parse.js';

export default class Generate extends BaseCommand {
  static override summary = 'Generate text from a prompt, streaming tokens as they are decoded.';
  static override description = `Loads a Hugging Face checkpoint directory (config.json, model.safetensors or a sharded
index, tokenizer.json) and decodes one token at a time. Text goes to stdout as it is produced;
timing statistics go to stderr. Sampling is reproducible: the same --seed gives the same text.
--temperature 0 is greedy decoding.`;

  static override examples = [
    '<%= config.bin %> generate ../shared/models/llama2xs --prompt "Once upon a time" --max-tokens 64 --temperature 0',
    '<%= config.bin %> generate ./my-model --prompt "Hello" --temperature 0.7 --top-p 0.9 --seed 7',
    '<%= config.bin %> generate ./my-model --tokens 1,403,407 --max-tokens 16 --json',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory (Hugging Face layout).', required: true}),
  };

  static override flags = {
    prompt: Flags.string({char: 'p', description: 'Prompt text.', exclusive: ['tokens']}),
    tokens: Flags.string({description: 'Prompt as comma-separated token ids (no tokenizer needed).'}),
    'max-tokens': Flags.integer({char: 'n', description: 'Most tokens to generate.', default: 128, min: 1}),
    temperature: Flags.string({char: 't', description: 'Sampling temperature; 0 is greedy.', default: '0.8'}),
    'top-k': Flags.integer({description: 'Sample from the k most likely tokens only (0 = off).', default: 40, min: 0}),
    'top-p': Flags.string({description: 'Nucleus sampling: smallest set with this total probability (1 = off).', default: '0.95'}),
    seed: Flags.integer({description: 'Random seed for sampling.', default: 42}),
    backend: Flags.string({
      char: 'b',
      description: `Compute backend: ${AVAILABLE_BACKENDS.join(', ')}.`,
      default: 'reference',
    }),
    'no-eos': Flags.boolean({description: 'Keep generating past the end-of-sequence token.', default: false}),
    json: Flags.boolean({description: 'Print one JSON object (text, token ids, statistics) instead of streaming.', default: false}),
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Generate);
    const sampling = {
      temperature: parseNumber('--temperature', flags.temperature),
      topK: flags['top-k'],
      topP: parseNumber('--top-p', flags['top-p']),
    };
    validateSamplingOptions(sampling);
    if (flags.prompt === undefined && flags.tokens === undefined) {
      throw new UsageError('give a prompt with --prompt "text" or token ids with --tokens 1,2,3');
    }
    const session = await Session.open(args.model, {backend: flags.backend, onWarning: warn, tokenizer: flags.prompt !== undefined ? 'required' : 'optional'});
    try {
      const promptIds = flags.tokens !== undefined ? parseTokenIds(flags.tokens) : session.tokenizer!.encode(flags.prompt!);
      const decode = (ids: number[]) => (session.tokenizer ? session.tokenizer.decode(ids) : ids.join(' ') + ' ');
      const streamer = new TextStreamer(decode);
      const ids: number[] = [];
      let text = '';
      const out = (s: string) => {
        text += s;
        if (!flags.json && s) process.stdout.write(s);
      };
      if (flags.prompt !== undefined) out(flags.prompt);
      const it = generateTokens(session.model, promptIds, {
        maxTokens: flags['max-tokens'],
        sampling,
        seed: flags.seed,
        eosTokenIds: flags['no-eos'] ? [] : session.eosTokenIds,
      });
      let step = await it.next();
      while (!step.done) {
        ids.push(step.value.id);
        out(streamer.push(step.value.id));
        step = await it.next();
      }
      out(streamer.flush());
      const stats = step.value;
      if (flags.json) {
        this.log(JSON.stringify({text, promptTokenIds: promptIds, tokenIds: ids, backend: session.backend.name, stats}, null, 2));
      } else {
        process.stdout.write('\n');
        note(formatStats(stats, session.backend.describe(), session.denseBytesPerToken));
      }
    } finally {
      session.dispose();
    }
  }
}

function formatStats(s: GenerateStats, backend: string, bytesPerToken: number): string {
  const mb = (bytesPerToken / 1e6).toFixed(2);
  return (
    `[${backend}] prompt ${s.promptTokens} tok at ${s.prefillTokensPerSecond.toFixed(1)} tok/s; ` +
    `generated ${s.generatedTokens} tok at ${s.decodeTokensPerSecond.toFixed(1)} tok/s; ` +
    `${mb} MB weights/token; stop: ${s.stopReason}`
  );
}
