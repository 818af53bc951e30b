/**
 * `hire score`: the log-probability of every token of a text after its prefix, without
 * generating. Flags declared here for now (see commands/chat.ts).
 */
import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../cli/base-command.js';
import {parseNumber, parseTokenIds} from '../cli/parse.js';
import {loadModel} from '../api/model.js';
import {readPromptFile, readPromptStream} from '../api/prompt-file.js';
import {score} from '../api/score.js';
import {UsageError} from '../index.js';

export default class Score extends BaseCommand {
  static override summary = 'Log-probability of every token of a text after its prefix, and the top alternatives (no generation).';
  static override description = `Runs the text through the model in one batched pass and prints, for each token, its log-probability given the tokens before it and the --top most likely alternatives at that position: what evaluation harnesses ask for as log-likelihood requests. The text is encoded as generate encodes prompts (BOS per the model's tokenizer); the first token has no prefix and no log-probability.

The dense output layer is used by default: exact log-probabilities. --hire on a bundle scores through HiRE-Softmax instead: the values are normalised over the k' candidates (each is the dense value plus the same -log P(candidates) >= 0), and a token outside the candidates has none (null); --tail estimate adds the predictor's approximate logits of the other rows to the normalisation, which estimates the dense values and gives every token one.

The text comes from --text, --file, --tokens, or stdin (--text - or nothing given while stdin is a pipe). --json prints {tokenIds, tokens: [{id, token, logprob, top, normalisedOver, exact, tail}], totalLogprob, output, ms}.`;

  static override examples = [
    '<%= config.bin %> score ../shared/models/llama2xs --text "Once upon a time" --top 3',
    'echo "Once upon a time" | <%= config.bin %> score ../shared/models/llama2xs --json',
    '<%= config.bin %> score my-model.hire --file story.txt --hire --k-prime 64',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle.', required: true}),
  };

  static override flags = {
    text: Flags.string({description: 'Text to score ("-": read stdin).', exclusive: ['file', 'tokens']}),
    file: Flags.string({description: 'Read the text to score from this file (UTF-8).', exclusive: ['tokens']}),
    tokens: Flags.string({description: 'Token ids to score, comma-separated (no tokenizer needed).'}),
    top: Flags.integer({description: 'Alternatives per position.', default: 0, min: 0, max: 100}),
    hire: Flags.boolean({description: "Score through the bundle's HiRE-Softmax instead of the dense output layer.", default: false}),
    recall: Flags.string({description: "With --hire: mean recall target that picks k'.", default: '0.99'}),
    'k-prime': Flags.integer({description: "With --hire: exactly this many candidates.", min: 1}),
    tail: Flags.string({description: "With --hire: drop = normalise over the k' candidates (a token outside them has no value); estimate = add the predictor's approximate logits of the other rows.", options: ['drop', 'estimate'], default: 'drop'}),
    backend: Flags.string({char: 'b', description: 'Compute backend (cpu, tfjs, webgpu, reference).', default: 'cpu'}),
    threads: Flags.integer({description: 'Worker threads of the cpu backend (default: every core).', min: 1}),
    json: Flags.boolean({description: 'Print one JSON object.', default: false}),
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Score);
    const input = await scoreInput(flags);
    const model = await loadModel(args.model, {backend: flags.backend, threads: flags.threads, tokenizer: typeof input === 'string' ? 'required' : 'optional'});
    try {
      const r = await score(model, input, {top: flags.top, dense: !flags.hire, recall: parseNumber('--recall', flags.recall), kPrime: flags['k-prime'], tail: flags.tail as 'drop' | 'estimate'});
      if (flags.json) {
        this.log(JSON.stringify(r, null, 2));
        return;
      }
      const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(4));
      for (const t of r.tokens) {
        const alts = t.top.map((a) => `${JSON.stringify(a.token ?? a.id)} ${a.logprob.toFixed(3)}`).join(', ');
        this.log(`${JSON.stringify(t.token ?? t.id).padEnd(16)} ${fmt(t.logprob).padStart(9)}${alts ? `   ${alts}` : ''}`);
      }
      this.log(`total ${fmt(r.totalLogprob)} over ${r.tokens.length - 1} tokens (${r.output.describe})`);
    } finally {
      model.dispose();
    }
  }
}

async function scoreInput(flags: {text?: string; file?: string; tokens?: string}): Promise<string | number[]> {
  if (flags.tokens !== undefined) return parseTokenIds(flags.tokens);
  if (flags.file !== undefined) return readPromptFile(flags.file, 'file');
  if (flags.text !== undefined && flags.text !== '-') return flags.text;
  if (flags.text === '-' || process.stdin.isTTY !== true) return readPromptStream(process.stdin, 'text');
  throw new UsageError('give the text with --text "...", --file PATH or --tokens 1,2,3, or pipe it to stdin');
}
