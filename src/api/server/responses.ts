/**
 * The OpenAI response shapes: text_completion and chat.completion objects, their streamed chunks,
 * usage, and log-probabilities in each endpoint's form (completions: parallel lists; chat: one
 * entry per token with its bytes). Pure functions of what a generation produced.
 */
import type {StopReason} from '../../core/decode/generate.js';
import type {LogprobInfo} from '../../core/decode/logprobs.js';
import type {Endpoint} from './request.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** One generated token as the responses show it. */
export interface ShownToken {
  /** The token's own text (the vocabulary's string, its word-start marker as a space). */
  token: string;
  /** Text that became printable with it (may be '' or several tokens' worth). */
  text: string;
  logprobs?: LogprobInfo;
}

export interface ResponseHead {
  id: string;
  created: number;
  model: string;
}

/** 'stop' for eos and stop strings, 'length' for the token budget and a full context. */
export function finishReason(r: StopReason): 'stop' | 'length' {
  return r === 'eos' || r === 'stop' ? 'stop' : 'length';
}

export function usage(promptTokens: number, completionTokens: number): Usage {
  return {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens};
}

type TokenName = (id: number) => string;

/** Completions' log-probs of these tokens; `offset`: where the first token's text starts in the output. */
function completionLogprobs(tokens: readonly ShownToken[], name: TokenName, offset: number) {
  const out = {tokens: [] as string[], token_logprobs: [] as Array<number | null>, top_logprobs: [] as Array<Record<string, number>>, text_offset: [] as number[]};
  let at = offset;
  for (const t of tokens) {
    out.tokens.push(t.token);
    out.token_logprobs.push(t.logprobs?.logprob ?? null);
    out.top_logprobs.push(Object.fromEntries((t.logprobs?.top ?? []).map((a) => [name(a.id), a.logprob])));
    out.text_offset.push(at);
    at += t.text.length;
  }
  return out;
}

const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

/** Chat's log-probs of these tokens. */
function chatLogprobs(tokens: readonly ShownToken[], name: TokenName) {
  return {
    content: tokens.map((t) => ({
      token: t.token,
      logprob: t.logprobs?.logprob ?? null,
      bytes: bytes(t.token),
      top_logprobs: (t.logprobs?.top ?? []).map((a) => ({token: name(a.id), logprob: a.logprob, bytes: bytes(name(a.id))})),
    })),
    refusal: null,
  };
}

function logprobsOf(endpoint: Endpoint, tokens: readonly ShownToken[] | null, name: TokenName, offset: number) {
  if (tokens === null) return null;
  return endpoint === 'chat' ? chatLogprobs(tokens, name) : completionLogprobs(tokens, name, offset);
}

/** The whole response of a request that did not stream. */
export function fullResponse(endpoint: Endpoint, head: ResponseHead, text: string, tokens: readonly ShownToken[] | null, name: TokenName, stop: StopReason, use: Usage) {
  const logprobs = logprobsOf(endpoint, tokens, name, 0);
  const finish_reason = finishReason(stop);
  if (endpoint === 'chat') {
    return {...head, object: 'chat.completion', system_fingerprint: null, choices: [{index: 0, message: {role: 'assistant', content: text, refusal: null}, logprobs, finish_reason}], usage: use};
  }
  return {...head, object: 'text_completion', system_fingerprint: null, choices: [{index: 0, text, logprobs, finish_reason}], usage: use};
}

/** A streamed chunk: text (and the log-probs of the tokens behind it), or the end with its finish reason. */
export function chunk(endpoint: Endpoint, head: ResponseHead, text: string, tokens: readonly ShownToken[] | null, name: TokenName, offset: number, stop: StopReason | null) {
  const logprobs = logprobsOf(endpoint, tokens, name, offset);
  const finish_reason = stop === null ? null : finishReason(stop);
  if (endpoint === 'chat') {
    const delta = text === '' && stop !== null ? {} : {content: text};
    return {...head, object: 'chat.completion.chunk', system_fingerprint: null, choices: [{index: 0, delta, logprobs, finish_reason}]};
  }
  return {...head, object: 'text_completion', system_fingerprint: null, choices: [{index: 0, text, logprobs, finish_reason}]};
}

/** The opening chunk of a chat stream (the assistant's role). */
export function roleChunk(head: ResponseHead) {
  return {...head, object: 'chat.completion.chunk', system_fingerprint: null, choices: [{index: 0, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null}]};
}

/** The usage chunk that ends a stream when stream_options.include_usage is set. */
export function usageChunk(endpoint: Endpoint, head: ResponseHead, use: Usage) {
  return {...head, object: endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', system_fingerprint: null, choices: [], usage: use};
}
