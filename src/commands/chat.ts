/**
 * `hire chat`: a conversation with a chat model in the terminal, or turns read from a pipe. The
 * flags are declared here for now; the shared flag module will take the sampling ones over.
 */
import {Args, Flags} from '@oclif/core';
import {BaseCommand, note, warn} from '../cli/base-command.js';
import {CHAT_HELP, runChatLoop} from '../cli/chat-loop.js';
import {parseNumber} from '../cli/parse.js';
import {ChatSession} from '../api/chat.js';
import {loadModel} from '../api/model.js';
import {GENERATE_DEFAULTS} from '../api/options.js';

export default class Chat extends BaseCommand {
  static override summary = "Chat with a model through its chat template, the conversation kept in the KV cache between turns.";
  static override description = `Renders the conversation with the model's chat template (chat_template in tokenizer_config.json, or chat_template.jinja) as transformers does, and decodes each reply. Between turns the KV cache keeps the conversation: a turn computes only what is new (the message, the template's markers, and any part of the last reply that tokenises differently once it is text). A model without a chat template is an error.

On a terminal: type a message and Enter; ${CHAT_HELP}. Each turn's speed and how much came from the KV cache go to stderr.

From a pipe (stdin not a terminal): every line is one user message (or a /command); each reply is printed on stdout followed by a newline, and the chat ends with the input.`;

  static override examples = [
    '<%= config.bin %> chat ./my-chat-model',
    '<%= config.bin %> chat ./my-chat-model --system "You are a pirate." --temperature 0.7',
    'printf "Hello\\nTell me more\\n" | <%= config.bin %> chat ./my-chat-model --temperature 0',
  ];

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle with a tokenizer and a chat template.', required: true}),
  };

  static override flags = {
    system: Flags.string({char: 's', description: 'System message.'}),
    'max-tokens': Flags.integer({char: 'n', description: 'Most tokens per reply.', default: GENERATE_DEFAULTS.maxTokens, min: 1}),
    temperature: Flags.string({char: 't', description: 'Sampling temperature; 0 is greedy.', default: String(GENERATE_DEFAULTS.temperature)}),
    'top-k': Flags.integer({description: 'Sample from the k most likely tokens only (0 = off).', default: GENERATE_DEFAULTS.topK, min: 0}),
    'top-p': Flags.string({description: 'Nucleus sampling: smallest set with this total probability (1 = off).', default: String(GENERATE_DEFAULTS.topP)}),
    'min-p': Flags.string({description: 'Drop tokens less likely than this times the most likely one (0 = off).', default: String(GENERATE_DEFAULTS.minP)}),
    'repetition-penalty': Flags.string({description: 'Divide positive (multiply negative) logits of tokens already in the conversation by this (1 = off).', default: String(GENERATE_DEFAULTS.repetitionPenalty)}),
    'presence-penalty': Flags.string({description: 'Subtract this from the logits of tokens already in the conversation (0 = off).', default: String(GENERATE_DEFAULTS.presencePenalty)}),
    'frequency-penalty': Flags.string({description: 'Subtract this per occurrence in the conversation (0 = off).', default: String(GENERATE_DEFAULTS.frequencyPenalty)}),
    stop: Flags.string({description: 'End a reply where its text contains this string (repeatable).', multiple: true}),
    seed: Flags.integer({description: 'Random seed (turn n samples with seed + n).', default: GENERATE_DEFAULTS.seed}),
    backend: Flags.string({char: 'b', description: 'Compute backend (cpu, tfjs, webgpu, reference).', default: GENERATE_DEFAULTS.backend}),
    threads: Flags.integer({description: 'Worker threads of the cpu backend (default: every core).', min: 1}),
    dense: Flags.boolean({description: 'Decode densely even when the model is a HiRE bundle.', default: false}),
    recall: Flags.string({description: "HiRE: mean recall@k target that picks k' from the bundle's table.", default: String(GENERATE_DEFAULTS.recall)}),
    'k-prime': Flags.integer({description: 'HiRE: use exactly this many softmax candidates.', min: 1}),
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Chat);
    const num = (flag: keyof typeof flags) => parseNumber(`--${flag}`, flags[flag] as string);
    const options = {
      system: flags.system,
      maxTokens: flags['max-tokens'],
      temperature: num('temperature'),
      topK: flags['top-k'],
      topP: num('top-p'),
      minP: num('min-p'),
      repetitionPenalty: num('repetition-penalty'),
      presencePenalty: num('presence-penalty'),
      frequencyPenalty: num('frequency-penalty'),
      stop: flags.stop,
      seed: flags.seed,
      dense: flags.dense,
      recall: num('recall'),
      kPrime: flags['k-prime'],
      onWarning: warn,
    };
    const model = await loadModel(args.model, {backend: flags.backend, threads: flags.threads, tokenizer: 'required', onWarning: warn});
    try {
      const chat = new ChatSession(model, options);
      const tty = process.stdin.isTTY === true;
      if (tty) note(`hire chat: ${args.model} on ${model.backendInfo}; ${CHAT_HELP}`);
      await runChatLoop(chat, {tty, input: process.stdin, output: process.stdout, note});
    } finally {
      model.dispose();
    }
  }
}
