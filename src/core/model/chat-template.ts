/**
 * Chat templates: a model's conversation format is a Jinja template shipped with its tokenizer
 * (`chat_template` in tokenizer_config.json, or a chat_template.jinja file beside it, which wins as
 * it does in transformers). It is rendered with @huggingface/jinja the way transformers'
 * apply_chat_template renders it: the variables are `messages` ([{role, content}]),
 * `add_generation_prompt`, and the special token strings (`bos_token`, `eos_token`, `unk_token`,
 * `pad_token`); `raise_exception(msg)` rejects a conversation the template does not accept. The
 * rendered text is then encoded WITHOUT adding special tokens (the template writes the BOS it
 * wants), and special tokens written by the template ("<s>", "<|im_start|>") are split out as the
 * tokenizer's added tokens, not encoded as their characters.
 */
import fs from 'node:fs';
import path from 'node:path';
import {Environment, Interpreter, Template} from '@huggingface/jinja';
import {TokenizerError, UsageError} from '../errors.js';
import {readTextFile, TOKENIZER_CONFIG_JSON, shortJson} from '../io/read-file.js';

/** One turn of a conversation. Roles are what the template knows: usually system, user, assistant. */
export interface ChatMessage {
  role: string;
  content: string;
}

export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/** Special token strings a template may use. */
export interface TemplateTokens {
  bos_token?: string;
  eos_token?: string;
  unk_token?: string;
  pad_token?: string;
}

/** Thrown by the template's raise_exception(): the conversation, not the template, is at fault. */
class TemplateRejected extends Error {}

export class ChatTemplate {
  private readonly template: Template;

  /** `file`: where the template came from, for messages. */
  constructor(
    readonly file: string,
    readonly source: string,
    private readonly tokens: TemplateTokens,
  ) {
    try {
      this.template = new Template(source);
    } catch (cause) {
      throw new TokenizerError(file, `the chat template cannot be parsed: ${(cause as Error).message}`, {cause});
    }
  }

  /** The conversation as the text the model was trained on; with addGenerationPrompt, the opening of the assistant's reply too. */
  render(messages: readonly ChatMessage[], opts: {addGenerationPrompt: boolean}): string {
    try {
      const env = templateGlobals();
      for (const [key, value] of Object.entries(this.tokens)) env.set(key, value);
      env.set('messages', messages.map((m) => ({role: m.role, content: m.content})));
      env.set('add_generation_prompt', opts.addGenerationPrompt);
      return String(new Interpreter(env).run(this.template.parsed).value);
    } catch (cause) {
      if (cause instanceof TemplateRejected) {
        throw new UsageError(`the chat template of ${this.file} rejects these messages: ${cause.message}`, {option: 'messages'});
      }
      throw new TokenizerError(this.file, `the chat template failed: ${(cause as Error).message}`, {cause});
    }
  }
}

/**
 * The globals transformers gives a chat template. (Template.render sets the library's own, whose
 * raise_exception throws a plain Error we could not tell from a broken template, and they cannot
 * be replaced once set; so the environment is built here.)
 */
function templateGlobals(): Environment {
  const env = new Environment();
  for (const [name, value] of [['true', true], ['false', false], ['none', null], ['True', true], ['False', false], ['None', null]] as const) env.set(name, value);
  env.set('raise_exception', (message: unknown) => {
    throw new TemplateRejected(String(message));
  });
  env.set('range', (start: number, stop?: number, step = 1) => {
    const [from, to] = stop === undefined ? [0, start] : [start, stop];
    const out: number[] = [];
    if (step === 0) throw new Error('range() step must not be zero');
    for (let i = from; step > 0 ? i < to : i > to; i += step) out.push(i);
    return out;
  });
  env.set('strftime_now', (format: string) => strftime(new Date(), String(format)));
  return env;
}

/** The strftime codes chat templates use for today's date (Llama 3.1: "%d %b %Y"). */
function strftime(d: Date, format: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', {month: style}).format(d);
  const day = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', {weekday: style}).format(d);
  const codes: Record<string, () => string> = {
    Y: () => String(d.getFullYear()),
    y: () => pad(d.getFullYear() % 100),
    m: () => pad(d.getMonth() + 1),
    d: () => pad(d.getDate()),
    H: () => pad(d.getHours()),
    M: () => pad(d.getMinutes()),
    S: () => pad(d.getSeconds()),
    b: () => month('short'),
    B: () => month('long'),
    a: () => day('short'),
    A: () => day('long'),
    '%': () => '%',
  };
  return format.replace(/%(.)/g, (all, c: string) => codes[c]?.() ?? all);
}

/**
 * A model's chat template, or null when it has none. `config` is tokenizer_config.json as parsed
 * (null when absent); a list of named templates ([{name, template}]) uses "default". `source`:
 * the model directory (a chat_template.jinja there wins over config), or, for a config held in
 * memory (a GGUF file's metadata), the file it came from, named in errors.
 */
export function loadChatTemplate(source: {dir: string} | {file: string}, config: Record<string, unknown> | null, tokens: TemplateTokens): ChatTemplate | null {
  const jinja = 'dir' in source ? path.join(source.dir, CHAT_TEMPLATE_FILE) : null;
  if (jinja !== null && fs.existsSync(jinja)) {
    const fail = (file: string, problem: string, options?: {cause?: unknown}) => new TokenizerError(file, problem, options);
    return new ChatTemplate(jinja, readTextFile(jinja, TOKENIZER_CONFIG_JSON, fail), tokens);
  }
  const file = 'dir' in source ? path.join(source.dir, 'tokenizer_config.json') : source.file;
  const v = config?.chat_template;
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return new ChatTemplate(file, v, tokens);
  if (Array.isArray(v)) {
    const named = v.filter((t): t is {name: string; template: string} => typeof t === 'object' && t !== null && typeof t.name === 'string' && typeof t.template === 'string');
    const found = named.find((t) => t.name === 'default');
    if (named.length === v.length && found) return new ChatTemplate(file, found.template, tokens);
    if (named.length === v.length) {
      throw new TokenizerError(file, `chat_template lists templates named ${named.map((t) => t.name).join(', ')} but none named "default"`);
    }
  }
  throw new TokenizerError(file, `chat_template must be a string or a list of {"name", "template"}, got ${shortJson(v)}`);
}

/** The messages of a conversation from library code (plain JavaScript too), checked. */
export function checkMessages(messages: unknown, name = 'messages'): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new UsageError(`${name} must be a non-empty array of {role, content} messages`, {option: name});
  }
  return messages.map((m, i) => {
    const ok = typeof m === 'object' && m !== null && typeof (m as ChatMessage).role === 'string' && typeof (m as ChatMessage).content === 'string';
    if (!ok) throw new UsageError(`${name}[${i}] must be an object {role: string, content: string}`, {option: name});
    return {role: (m as ChatMessage).role, content: (m as ChatMessage).content};
  });
}
