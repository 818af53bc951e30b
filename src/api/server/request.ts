/**
 * The body of POST /v1/completions and /v1/chat/completions, checked field by field (a wrong
 * type or range is a 400 naming the field) and turned into the library's generation options.
 * Defaults are OpenAI's (temperature 1, top_p 1; max_tokens 16 for completions, the rest of the
 * context for chat; no seed: a random one). HiRE's own options are extra fields: recall,
 * k_prime, certify, dense, predictor, logprobs_tail; and top_k, min_p, repetition_penalty,
 * ignore_eos (run to max_tokens or a full context).
 */
import {randomInt} from 'node:crypto';
import type {ChatMessage} from '../../core/model/chat-template.js';
import type {GenerateOptions} from '../options.js';
import {invalid} from './errors.js';

export type Endpoint = 'completions' | 'chat';

export interface ParsedRequest {
  endpoint: Endpoint;
  model: string;
  /** Text or token ids (completions), or the conversation (chat). */
  prompt: string | number[] | ChatMessage[];
  options: GenerateOptions & {maxTokens: number; seed: number};
  stream: boolean;
  includeUsage: boolean;
  /** Alternatives per token when log-probs were asked for (0: the token's own only); null: none. */
  logprobs: number | null;
}

export interface RequestLimits {
  /** Largest max_tokens accepted. */
  maxTokens: number;
  /** Largest number of stop strings. */
  maxStops: number;
}

type Body = Record<string, unknown>;

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

function number(b: Body, field: string, min: number, max: number, integer = false): number | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `${field} must be a number, got ${kind(v)}`);
  if (integer && !Number.isInteger(v)) throw invalid(field, `${field} must be an integer, got ${v}`);
  if (v < min || v > max) throw invalid(field, `${field} must be from ${min} to ${max}, got ${v}`);
  return v;
}

function boolean(b: Body, field: string): boolean | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(field, `${field} must be true or false, got ${kind(v)}`);
  return v;
}

function string(b: Body, field: string): string | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(field, `${field} must be a string, got ${kind(v)}`);
  return v;
}

function stops(b: Body, limits: RequestLimits): string[] | undefined {
  const v = b.stop;
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === '')) throw invalid('stop', 'stop must be a non-empty string or an array of non-empty strings');
  if (list.length > limits.maxStops) throw invalid('stop', `stop takes at most ${limits.maxStops} strings, got ${list.length}`);
  return list as string[];
}

/** Fields this server does not implement: a 400 rather than a silent difference. */
function unsupported(b: Body, endpoint: Endpoint): void {
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw invalid('n', `n must be 1 (one completion per request; send several requests, they are decoded together), got ${typeof b.n === 'number' ? b.n : kind(b.n)}`);
  if (b.best_of !== undefined && b.best_of !== null && b.best_of !== 1) throw invalid('best_of', 'best_of must be 1 (one completion per request)');
  if (b.echo === true) throw invalid('echo', 'echo is not supported');
  if (b.suffix !== undefined && b.suffix !== null) throw invalid('suffix', 'suffix is not supported');
  if (b.logit_bias !== undefined && b.logit_bias !== null && (typeof b.logit_bias !== 'object' || Object.keys(b.logit_bias).length > 0)) throw invalid('logit_bias', 'logit_bias is not supported');
  if (endpoint === 'chat') {
    for (const f of ['tools', 'functions', 'response_format', 'audio']) {
      if (b[f] !== undefined && b[f] !== null) throw invalid(f, `${f} is not supported`);
    }
  }
}

function completionPrompt(b: Body): string | number[] {
  const p = b.prompt;
  if (p === undefined || p === null) throw invalid('prompt', 'prompt is required');
  if (typeof p === 'string') return p;
  if (Array.isArray(p)) {
    if (p.length > 0 && p.every((x) => typeof x === 'number')) {
      if (!p.every((x) => Number.isInteger(x) && x >= 0)) throw invalid('prompt', 'prompt token ids must be integers >= 0');
      return p as number[];
    }
    if (p.length === 1 && (typeof p[0] === 'string' || Array.isArray(p[0]))) return completionPrompt({prompt: p[0]});
    if (p.length > 1) throw invalid('prompt', 'one prompt per request: send several requests (they are decoded together)');
  }
  throw invalid('prompt', `prompt must be a string or an array of token ids, got ${kind(p)}`);
}

function chatMessages(b: Body): ChatMessage[] {
  const m = b.messages;
  if (!Array.isArray(m) || m.length === 0) throw invalid('messages', 'messages must be a non-empty array of {role, content}');
  return m.map((x: unknown, i) => {
    const at = `messages[${i}]`;
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw invalid(at, `${at} must be an object {role, content}`);
    const {role, content} = x as Body;
    if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant') throw invalid(`${at}.role`, `${at}.role must be system, developer, user or assistant, got ${typeof role === 'string' ? JSON.stringify(role.slice(0, 20)) : kind(role)}`);
    return {role: role === 'developer' ? 'system' : role, content: messageText(content, `${at}.content`)};
  });
}

/** A message's content: a string, or an array of {type: 'text', text} parts (joined). */
function messageText(content: unknown, at: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, j) => {
        const p = part as Body;
        if (typeof p !== 'object' || p === null || p.type !== 'text' || typeof p.text !== 'string') throw invalid(`${at}[${j}]`, `${at}[${j}] must be {type: "text", text: string} (only text is supported)`);
        return p.text;
      })
      .join('');
  }
  throw invalid(at, `${at} must be a string or an array of text parts, got ${kind(content)}`);
}

function logprobs(b: Body, endpoint: Endpoint): number | null {
  if (endpoint === 'completions') return number(b, 'logprobs', 0, 20, true) ?? null;
  const on = boolean(b, 'logprobs') ?? false;
  const top = number(b, 'top_logprobs', 0, 20, true);
  if (top !== undefined && !on) throw invalid('top_logprobs', 'top_logprobs needs logprobs: true');
  return on ? (top ?? 0) : null;
}

/** The request's fields checked and turned into generation options. */
export function parseRequest(endpoint: Endpoint, body: unknown, limits: RequestLimits): ParsedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(null, 'the request body must be a JSON object');
  const b = body as Body;
  const model = string(b, 'model');
  if (model === undefined) throw invalid('model', 'model is required');
  unsupported(b, endpoint);
  const prompt = endpoint === 'chat' ? chatMessages(b) : completionPrompt(b);
  const maxField = endpoint === 'chat' && b.max_completion_tokens !== undefined && b.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  const maxTokens = number(b, maxField, 1, limits.maxTokens, true) ?? (endpoint === 'chat' ? limits.maxTokens : Math.min(16, limits.maxTokens));
  const streamOptions = b.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) throw invalid('stream_options', 'stream_options must be an object');
  const stream = boolean(b, 'stream') ?? false;
  const lp = logprobs(b, endpoint);
  const options = {
    maxTokens,
    temperature: number(b, 'temperature', 0, 2) ?? 1,
    topP: number(b, 'top_p', 0, 1) ?? 1,
    topK: number(b, 'top_k', 0, Number.MAX_SAFE_INTEGER, true) ?? 0,
    minP: number(b, 'min_p', 0, 1) ?? 0,
    seed: number(b, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true) ?? randomInt(2 ** 31),
    presencePenalty: number(b, 'presence_penalty', -2, 2) ?? 0,
    frequencyPenalty: number(b, 'frequency_penalty', -2, 2) ?? 0,
    repetitionPenalty: number(b, 'repetition_penalty', Number.MIN_VALUE, 100),
    stop: stops(b, limits),
    logprobs: lp ?? undefined,
    dense: boolean(b, 'dense'),
    certify: boolean(b, 'certify'),
    recall: number(b, 'recall', Number.MIN_VALUE, 1),
    kPrime: number(b, 'k_prime', 1, Number.MAX_SAFE_INTEGER, true),
    predictor: string(b, 'predictor'),
    logprobsTail: string(b, 'logprobs_tail') as 'drop' | 'estimate' | undefined,
    stopOnEos: !(boolean(b, 'ignore_eos') ?? false),
  };
  if (options.topP === 0) throw invalid('top_p', 'top_p must be above 0 (1 keeps every token)');
  return {endpoint, model, prompt, options, stream, includeUsage: stream && (streamOptions as Body | undefined)?.include_usage === true, logprobs: lp};
}
