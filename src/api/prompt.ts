/**
 * A prompt from library code (plain JavaScript too): text for the model's tokenizer or an array of
 * token ids. Anything else is a UsageError that says what was given, not a TypeError from deep inside.
 */
import {UsageError} from '../core/errors.js';
import type {HireModel} from './model.js';

/** The prompt: text (needs the tokenizer) or token ids. */
export type Prompt = string | readonly number[];

/** The prompt as token ids (a copy); `name` is how messages call it (e.g. "prompts[2]"). */
export function promptTokenIds(model: HireModel, prompt: unknown, name = 'prompt'): number[] {
  if (typeof prompt === 'string') return model.encode(prompt);
  if (Array.isArray(prompt)) {
    const bad = prompt.findIndex((id) => !Number.isInteger(id));
    if (bad < 0) return [...(prompt as number[])];
    throw new UsageError(`${name} must be a string or an array of token ids, got an array holding ${describeValue(prompt[bad])} at index ${bad}`, {option: name});
  }
  throw new UsageError(`${name} must be a string or an array of token ids, got ${describeValue(prompt)}`, {option: name});
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
