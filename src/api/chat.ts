/**
 * A conversation with a chat model: its messages, and one sequence kept open on the model so
 * that each turn only computes what is new. A turn renders the whole conversation through the
 * model's chat template (exactly what transformers would feed for it), keeps the longest prefix
 * the KV cache already holds, and prefills the rest: the new user message and the template's
 * markers, plus whatever of the last reply tokenises differently once it is text.
 *
 *   const chat = new ChatSession(model, {system: 'Be brief.', temperature: 0});
 *   for await (const chunk of chat.send('Hello')) process.stdout.write(chunk.text);
 *   const second = await chat.send('And then?').complete();   // second.stats.promptTokens: new tokens only
 */
import {UsageError} from '../core/errors.js';
import type {Continuation} from '../core/decode/generate.js';
import {checkMessages, type ChatMessage} from '../core/model/chat-template.js';
import {Generation} from './generate.js';
import {modelInternals, type HireModel} from './model.js';
import {DEFAULTS} from './defaults.js';
import {resolveGenerateOptions, type GenerateOptions} from './options.js';

/** A chat's options: those of generate() (system included), used for every turn unless a turn overrides them. */
export type ChatOptions = Omit<GenerateOptions, 'chat'>;

/** What one turn may override. */
export type TurnOptions = Omit<GenerateOptions, 'system' | 'chat'>;

export class ChatSession {
  readonly model: HireModel;
  #options: ChatOptions;
  #messages: ChatMessage[] = [];
  #turn: Generation | null = null;
  #turns = 0;
  readonly #cache: Continuation = {seq: null, ids: []};

  /** Checks now that the model can chat (a tokenizer with a chat template) and every option (UsageError naming it). */
  constructor(model: HireModel, options: ChatOptions = {}) {
    modelInternals(model);
    resolveGenerateOptions(options);
    model.applyChatTemplate([{role: 'user', content: ''}]); // TokenizerError now for a model without a template
    this.model = model;
    this.#options = {...options};
  }

  /** The conversation so far, the system message first when there is one. */
  get messages(): ChatMessage[] {
    const system = this.#options.system;
    return [...(system === undefined ? [] : [{role: 'system', content: system}]), ...this.#messages.map((m) => ({...m}))];
  }

  /** The system message (undefined: none). */
  get system(): string | undefined {
    return this.#options.system;
  }

  /** Positions of the conversation held in the model's KV cache (what the next turn can reuse). */
  get cachedTokens(): number {
    return this.#cache.seq?.length ?? 0;
  }

  /** Sets (or with undefined, removes) the system message and starts the conversation over. */
  setSystem(system: string | undefined): void {
    if (system !== undefined && typeof system !== 'string') throw new UsageError('system must be a string', {option: 'system'});
    this.#idle();
    this.#options = {...this.#options, system};
    this.#messages = [];
  }

  /** Starts the conversation over (the system message stays). The KV cache is reused from its start. */
  reset(): void {
    this.#idle();
    this.#messages = [];
  }

  /**
   * Sends a user message and returns the reply as a Generation (iterate it for chunks, or
   * complete() it). The reply joins the conversation when the generation ends, however it ends:
   * cut short by an abort or dispose(), what was generated so far is the assistant's message.
   * Turn n samples with seed + n. `options` override the chat's for this turn (the system
   * message is the chat's: setSystem() changes it).
   */
  send(content: string, options: TurnOptions = {}): Generation {
    if (typeof content !== 'string') throw new UsageError('the message must be a string', {option: 'content'});
    this.#idle();
    const opts = {...this.#options, ...options, system: undefined, chat: undefined};
    const ids = this.model.applyChatTemplate(checkMessages([...this.messages, {role: 'user', content}]));
    const max = this.model.config.maxSeqLen;
    if (ids.length >= max) {
      throw new UsageError(`the conversation has ${ids.length} tokens with this message; this model's context is ${max}: start over with reset()`, {option: 'content'});
    }
    const seed = (opts.seed ?? DEFAULTS.sampling.seed) + this.#turns;
    const turn = new Generation(this.model, ids, {...opts, seed}, {
      promptIds: ids,
      continuation: this.#cache,
      onEnd: (g) => this.#ended(g, content),
    });
    this.#turn = turn;
    return turn;
  }

  /** Ends a reply still running (it joins the conversation as far as it got). */
  dispose(): void {
    this.#turn?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #ended(g: Generation, content: string): void {
    if (this.#turn !== g) return;
    this.#turn = null;
    this.#turns++;
    this.#messages.push({role: 'user', content}, {role: 'assistant', content: g.text});
    this.#cache.ids = [...g.promptTokenIds, ...g.tokenIds];
  }

  #idle(): void {
    if (this.#turn !== null) {
      throw new UsageError('the last reply is still being generated: read it to its end (or dispose() it) before the next message');
    }
  }
}

/** Starts a conversation with a chat model (new ChatSession(model, options)). */
export function chat(model: HireModel, options: ChatOptions = {}): ChatSession {
  return new ChatSession(model, options);
}
