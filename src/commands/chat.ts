import {Args} from '@oclif/core';
import {ChatSession} from '../api/chat.js';
import {loadModel} from '../api/model.js';
import {BaseCommand, note} from '../cli/base-command.js';
import {CHAT_HELP, runChatLoop} from '../cli/chat-loop.js';
import {backendFlags, deviceFlags, ffnFlags, replyFlags, samplingFlags, softmaxFlags, verifyWeightsFlags} from '../cli/flags.js';
import {chatOptions, loadOptions} from '../cli/options.js';

export default class Chat extends BaseCommand {
  static override summary = 'Chat with a model through its chat template, the conversation kept in the KV cache between turns.';
  static override description = `Renders the conversation with the model's chat template (chat_template in tokenizer_config.json, or chat_template.jinja) as transformers does, and decodes each reply. Between turns the KV cache keeps the conversation: a turn computes only what is new (the message, the template's markers, and any part of the last reply that tokenises differently once it is text). A model without a chat template is an error.

On a terminal: type a message and Enter; ${CHAT_HELP}. Each turn's speed and how much came from the KV cache go to stderr.

From a pipe (stdin not a terminal): every line is one user message (or a /command); each reply is printed on stdout followed by a newline, and the chat ends with the input.`;

  static override examples = [
    '<%= config.bin %> chat ./my-chat-model',
    '<%= config.bin %> chat ./my-chat-model --system "You are a pirate." --temperature 0.7 --stop "User:"',
    'printf "Hello\\nTell me more\\n" | <%= config.bin %> chat ./my-chat-model --temperature 0',
  ];

  /** A conversation streams; there is no one object to print. */
  static override enableJsonFlag = false;

  static override args = {
    model: Args.directory({description: 'Model directory or HiRE bundle with a tokenizer and a chat template.', required: true}),
  };

  static override flags = {
    ...replyFlags,
    ...samplingFlags,
    ...backendFlags,
    ...softmaxFlags,
    ...ffnFlags,
    ...deviceFlags,
    ...verifyWeightsFlags,
  };

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Chat);
    const options = chatOptions(flags); // checked before the model is loaded
    const model = await loadModel(args.model, loadOptions(flags, 'required'));
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
