/**
 * A prompt from library code (plain JavaScript too): text for the model's tokenizer, an array of
 * token ids, or a conversation (an array of {role, content} messages, rendered through the model's
 * chat template). Anything else is a UsageError that says what was given, not a TypeError from
 * deep inside.
 */
import {checkMessages, type ChatMessage} from '../core/model/chat-template.js';
import {UsageError} from '../core/errors.js';
import type {HireModel} from './model.js';

export type {ChatMessage} from '../core/model/chat-template.js';

/** The prompt: text (needs the tokenizer), token ids, or chat messages (need a chat template). */
export type Prompt = string | readonly number[] | readonly ChatMessage[];

/** How a prompt meets the chat template: a system message, or a text prompt as a user message. */
export interface ChatPromptOptions {
  system?: string;
  chat?: boolean;
}

/** Whether a prompt is a conversation (an array whose first item is an object). */
export function isMessages(prompt: unknown): prompt is readonly ChatMessage[] {
  return Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] === 'object' && prompt[0] !== null;
}

/** The prompt as token ids (a copy); `name` is how messages call it (e.g. "prompts[2]"). */
export function promptTokenIds(model: HireModel, prompt: unknown, name = 'prompt', chat: ChatPromptOptions = {}): number[] {
  if (chat.system !== undefined && typeof chat.system !== 'string') throw new UsageError(`system must be a string, got ${describeValue(chat.system)}`, {option: 'system'});
  const system: ChatMessage[] = chat.system === undefined ? [] : [{role: 'system', content: chat.system}];
  if (isMessages(prompt)) return model.applyChatTemplate([...system, ...checkMessages(prompt, name)]);
  if (typeof prompt === 'string') {
    if (chat.system !== undefined || chat.chat) return model.applyChatTemplate([...system, {role: 'user', content: prompt}]);
    return model.encode(prompt);
  }
  if (chat.system !== undefined || chat.chat) throw new UsageError(`${chat.system !== undefined ? 'system' : 'chat'} needs a text prompt or messages, not token ids`, {option: chat.system !== undefined ? 'system' : 'chat'});
  if (Array.isArray(prompt)) {
    const bad = prompt.findIndex((id) => !Number.isInteger(id));
    if (bad < 0) return [...(prompt as number[])];
    throw new UsageError(`${name} must be a string, an array of token ids or an array of {role, content} messages, got an array holding ${describeValue(prompt[bad])} at index ${bad}`, {option: name});
  }
  throw new UsageError(`${name} must be a string, an array of token ids or an array of {role, content} messages, got ${describeValue(prompt)}`, {option: name});
}

/** A short description of a value for a message (never its whole contents). */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  switch (typeof v) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof v} ${String(v)}`;
    case 'string':
      return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return Array.isArray(v) ? 'an array' : ArrayBuffer.isView(v) ? `a typed array (${v.constructor.name})` : 'an object';
  }
}
