/**
 * One completion request through the scheduler: the prompt as token ids (text, ids, or a
 * conversation through the chat template), the options checked the way generate() checks them,
 * the output head for them, and the tokens turned into text as they come (stop strings held back
 * until they are ruled out), either collected into one response or sent as stream chunks.
 */
import {checkPrompt} from '../../core/decode/generate.js';
import {StopMatcher} from '../../core/decode/stop.js';
import {TextStreamer} from '../../core/decode/streamer.js';
import type {Scheduler} from '../../core/tasks/serve/scheduler.js';
import {UsageError} from '../../core/errors.js';
import {headOptions} from '../decode-options.js';
import {modelInternals, type HireModel} from '../model.js';
import {resolveGenerateOptions} from '../options.js';
import {promptTokenIds} from '../prompt.js';
import {invalid} from './errors.js';
import type {ParsedRequest} from './request.js';
import {chunk, fullResponse, roleChunk, usage, usageChunk, type ResponseHead, type ShownToken} from './responses.js';

/** Where a streamed response goes: open() sends the headers (once), send() one event, end() [DONE]. */
export interface StreamSink {
  open(): void;
  send(event: object): void;
  end(): void;
}

export interface Served {
  model: HireModel;
  scheduler: Scheduler;
  /** The model's id in requests and responses. */
  modelId: string;
}

/** The token's own text: the vocabulary's string with its word-start marker as a space. */
export function tokenName(model: HireModel, id: number): string {
  const s = model.tokenString(id);
  return s === null ? model.decode([id]) : s.replace(/\u2581/g, ' ');
}

function promptIds(model: HireModel, req: ParsedRequest): number[] {
  const field = req.endpoint === 'chat' ? 'messages' : 'prompt';
  try {
    if (req.endpoint === 'chat' && !model.hasChatTemplate) throw invalid('messages', 'this model has no chat template: use /v1/completions with a text prompt');
    const ids = req.endpoint === 'chat' ? model.applyChatTemplate(req.prompt as never) : promptTokenIds(model, req.prompt, 'prompt');
    checkPrompt(ids, model.config);
    return ids;
  } catch (e) {
    if (e instanceof UsageError) throw invalid(field, e.message);
    if (e instanceof Error && (e as {code?: string}).code === 'E_TOKENIZER') throw invalid(field, e.message.replace(/^.*?: /, ''));
    throw e;
  }
}

/**
 * Runs the request to its end. Without a sink: returns the whole response. With one: sends the
 * chunks (the headers go with the first, so a request refused or timed out in the queue still
 * gets its own status) and returns null.
 */
export async function runRequest(s: Served, req: ParsedRequest, head: ResponseHead, signal: AbortSignal, sink: StreamSink | null): Promise<object | null> {
  const {model, scheduler} = s;
  const ids = promptIds(model, req);
  const r = resolveGenerateOptions(req.options);
  const {head: output} = modelInternals(model).head(r.sampling, headOptions(r));
  const streamer = new TextStreamer((x) => model.decode(x), ids);
  const stop = new StopMatcher(r.stopStrings);
  const name = (id: number) => tokenName(model, id);
  const shown: ShownToken[] | null = req.logprobs === null ? null : [];
  let text = '';
  let opened = false;
  const open = () => {
    if (opened || !sink) return;
    opened = true;
    sink.open();
    if (req.endpoint === 'chat') sink.send(roleChunk(head));
  };
  const result = await scheduler.submit({
    promptIds: ids,
    maxTokens: r.maxTokens,
    sampling: r.sampling,
    seed: r.seed,
    eosTokenIds: r.stopOnEos ? model.eosTokenIds : [],
    penalties: r.penalties,
    logprobs: r.logprobs,
    head: output,
    signal,
    onToken: (t) => {
      const piece = stop.push(streamer.push(t.id));
      const token: ShownToken = {token: name(t.id), text: piece, logprobs: t.logprobs};
      shown?.push(token);
      if (sink && (piece !== '' || shown !== null)) {
        open();
        sink.send(chunk(req.endpoint, head, piece, shown && [token], name, text.length, null));
      }
      text += piece;
      return stop.stopped;
    },
  });
  const tail = stop.push(streamer.flush()) + stop.flush();
  const use = usage(ids.length, result.tokenIds.length);
  if (!sink) return fullResponse(req.endpoint, head, text + tail, shown, name, result.stopReason, use);
  open();
  sink.send(chunk(req.endpoint, head, tail, null, name, text.length, result.stopReason));
  if (req.includeUsage) sink.send(usageChunk(req.endpoint, head, use));
  sink.end();
  return null;
}
