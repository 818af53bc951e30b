/**
 * Text <-> token ids, on top of @huggingface/tokenizers (a pure-JS reading of tokenizer.json, no
 * network). Also resolves the special tokens (BOS, EOS, PAD) from the three HF files that may name
 * them.
 *
 * How @huggingface/tokenizers 0.2.0 behaves (read from its source, checked against llama2xs):
 * - `encode(text, {add_special_tokens})`: added tokens (e.g. a literal "<s>") are split out first,
 *   then normalizer -> pre-tokenizer -> model on each remaining piece, then the post-processor.
 *   The post-processor (TemplateProcessing, Bert/Roberta, Sequence) is what adds BOS/CLS/EOS, and it
 *   only adds them when add_special_tokens is true (its default).
 * - `decode` runs the decoder chain (Replace, ByteFallback, Fuse, Strip for SentencePiece) and then,
 *   unless told otherwise, `clean_up_tokenization` (" ." -> "."), whose default comes from
 *   tokenizer_config.json's clean_up_tokenization_spaces and is true when absent. It throws on an
 *   empty id list.
 *
 * BOS policy (explicit, so it is never added twice):
 * - `special.addBos` says whether the model expects BOS first: tokenizer_config.json's
 *   add_bos_token when it is a boolean, otherwise whether tokenizer.json's post-processor puts BOS
 *   first (the Llama TemplateProcessing does), otherwise false.
 * - At load we probe whether the library's post-processor actually emits BOS (`libraryAddsBos`).
 * - encode(text) with special tokens: library adds and model expects -> keep the library's output;
 *   library does not add but model expects -> we prepend BOS; library adds but add_bos_token is
 *   explicitly false -> we drop that leading BOS (what transformers' LlamaTokenizerFast does when
 *   it rebuilds its post-processor from add_bos_token). A literal "<s>" typed in the text is an
 *   added token and is kept as such, as transformers does.
 */
import fs from 'node:fs';
import path from 'node:path';
import {Tokenizer} from '@huggingface/tokenizers';
import {ConfigError, TokenizerError} from '../errors.js';
import {CHAT_TEMPLATE_FILE, loadChatTemplate, type ChatMessage, type ChatTemplate, type TemplateTokens} from './chat-template.js';
import {CONFIG_JSON, TOKENIZER_CONFIG_JSON, TOKENIZER_JSON, readJsonFile, shortJson, type InputKind, type MakeError} from '../io/read-file.js';

export interface SpecialTokens {
  /** Beginning-of-sequence id, or null when the model names none. */
  bosTokenId: number | null;
  /** Every id that ends generation (generation_config may list several); empty when none known. */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Whether encode(text) should start with BOS (see the BOS policy above). */
  addBos: boolean;
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a JSON object file (size-capped per `kind`); null when the file does not exist. */
function readJsonObject(file: string, kind: InputKind, fail: MakeError): JsonObject | null {
  if (!fs.existsSync(file)) return null;
  const json = readJsonFile(file, kind, fail);
  if (!isObject(json)) throw fail(file, 'expected a JSON object at the top level');
  return json;
}

const configFail = (file: string, problem: string, options?: {cause?: unknown}) =>
  new ConfigError(file, problem, options);
const tokenizerFail = (file: string, problem: string, options?: {cause?: unknown}) =>
  new TokenizerError(file, problem, options);

function isTokenId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** An `*_token_id` key: absent or null -> undefined; a number or (for EOS) a list of numbers. */
function readIdKey(json: JsonObject | null, file: string, key: string, allowList: boolean) {
  const v = json?.[key];
  if (v === undefined || v === null) return undefined;
  if (isTokenId(v)) return [v];
  if (allowList && Array.isArray(v) && v.every(isTokenId)) return v as number[];
  const expected = allowList ? 'a non-negative integer or a list of them' : 'a non-negative integer';
  throw new ConfigError(file, `${key} must be ${expected}, got ${shortJson(v)}`);
}

/** Token string -> id using tokenizer.json's added_tokens, then model.vocab (map or Unigram list). */
function tokenStringToId(tokenizerJson: JsonObject, token: string): number | undefined {
  const added = tokenizerJson.added_tokens;
  if (Array.isArray(added)) {
    for (const t of added) {
      if (isObject(t) && t.content === token && isTokenId(t.id)) return t.id;
    }
  }
  const model = tokenizerJson.model;
  const vocab = isObject(model) ? model.vocab : undefined;
  if (isObject(vocab)) {
    const id = vocab[token];
    return isTokenId(id) ? id : undefined;
  }
  if (Array.isArray(vocab)) {
    const i = vocab.findIndex((e) => Array.isArray(e) && e[0] === token);
    return i >= 0 ? i : undefined;
  }
  return undefined;
}

/** tokenizer_config's `bos_token`/`eos_token`/`pad_token` (string or {content}) mapped to an id. */
function readTokenKey(
  config: JsonObject | null,
  configFile: string,
  key: string,
  tokenizerJson: JsonObject | null,
): number | undefined {
  const v = config?.[key];
  if (v === undefined || v === null) return undefined;
  const token = typeof v === 'string' ? v : isObject(v) && typeof v.content === 'string' ? v.content : null;
  if (token === null) {
    throw new ConfigError(configFile, `${key} must be a string or {"content": ...}, got ${shortJson(v)}`);
  }
  if (tokenizerJson === null) return undefined; // no tokenizer.json: prompts come as token ids anyway
  const id = tokenStringToId(tokenizerJson, token);
  if (id === undefined) {
    throw new ConfigError(configFile, `${key} ${shortJson(token)} is not in tokenizer.json's vocabulary`);
  }
  return id;
}

/** Whether a tokenizer.json post_processor puts `bosId` first in a single-sequence encoding. */
function postProcessorAddsBos(pp: unknown, bosId: number, tokenizerJson: JsonObject): boolean {
  if (!isObject(pp)) return false;
  switch (pp.type) {
    case 'TemplateProcessing': {
      const first = Array.isArray(pp.single) ? pp.single[0] : undefined;
      if (!isObject(first) || !isObject(first.SpecialToken)) return false;
      const name = first.SpecialToken.id;
      const entry = isObject(pp.special_tokens) && typeof name === 'string' ? pp.special_tokens[name] : undefined;
      if (isObject(entry) && Array.isArray(entry.ids)) return entry.ids[0] === bosId;
      return typeof name === 'string' && tokenStringToId(tokenizerJson, name) === bosId;
    }
    case 'BertProcessing':
    case 'RobertaProcessing':
      return Array.isArray(pp.cls) && pp.cls[1] === bosId;
    case 'Sequence':
      return Array.isArray(pp.processors) && pp.processors.some((p) => postProcessorAddsBos(p, bosId, tokenizerJson));
    default:
      return false;
  }
}

/**
 * BOS/EOS/PAD ids and whether BOS is expected, from whichever of config.json,
 * generation_config.json and tokenizer_config.json exist (tokenizer.json maps token strings to ids).
 * Precedence per field: generation_config.json, then config.json, then tokenizer_config.json's
 * token strings. Missing files are fine; a present file with invalid JSON is a ConfigError naming it.
 */
export function resolveSpecialTokens(modelDir: string): SpecialTokens {
  const tokenizerJson = readJsonObject(path.join(modelDir, 'tokenizer.json'), TOKENIZER_JSON, tokenizerFail);
  return resolveWith(modelDir, tokenizerJson);
}

function resolveWith(modelDir: string, tokenizerJson: JsonObject | null): SpecialTokens {
  const configFile = path.join(modelDir, 'config.json');
  const genFile = path.join(modelDir, 'generation_config.json');
  const tokFile = path.join(modelDir, 'tokenizer_config.json');
  const files = {configFile, genFile, tokFile};
  const config = readJsonObject(configFile, CONFIG_JSON, configFail);
  const gen = readJsonObject(genFile, CONFIG_JSON, configFail);
  const tok = readJsonObject(tokFile, TOKENIZER_CONFIG_JSON, configFail);
  return resolveFrom(files, {config, gen, tok}, tokenizerJson);
}

/** resolveWith on objects already in memory; `files` name them in errors. */
function resolveFrom(
  files: {configFile: string; genFile: string; tokFile: string},
  objects: {config: JsonObject | null; gen: JsonObject | null; tok: JsonObject | null},
  tokenizerJson: JsonObject | null,
): SpecialTokens {
  const {configFile, genFile, tokFile} = files;
  const {config, gen, tok} = objects;

  const pick = (key: 'bos' | 'eos' | 'pad'): number[] | undefined =>
    readIdKey(gen, genFile, `${key}_token_id`, key === 'eos') ??
    readIdKey(config, configFile, `${key}_token_id`, key === 'eos') ??
    optionalList(readTokenKey(tok, tokFile, `${key}_token`, tokenizerJson));

  const bosTokenId = pick('bos')?.[0] ?? null;
  const eosTokenIds = [...new Set(pick('eos') ?? [])];
  const padTokenId = pick('pad')?.[0] ?? null;

  let addBos = false;
  const explicit = tok?.add_bos_token;
  if (typeof explicit === 'boolean') {
    addBos = explicit;
  } else if (explicit !== undefined && explicit !== null) {
    throw new ConfigError(tokFile, `add_bos_token must be true or false, got ${shortJson(explicit)}`);
  } else if (bosTokenId !== null && tokenizerJson !== null) {
    addBos = postProcessorAddsBos(tokenizerJson.post_processor, bosTokenId, tokenizerJson);
  }
  return {bosTokenId, eosTokenIds, padTokenId, addBos: addBos && bosTokenId !== null};
}

function optionalList(id: number | undefined): number[] | undefined {
  return id === undefined ? undefined : [id];
}

export interface EncodeOptions {
  /** Add the model's special tokens (BOS for Llama) per the BOS policy. Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, ...). Default true: generated text is for reading. */
  skipSpecialTokens?: boolean;
}

export class HireTokenizer {
  readonly special: SpecialTokens;
  /** 1 + the largest id the tokenizer knows (model vocabulary plus added tokens). */
  readonly vocabSize: number;
  /** The tokenizer.json this was loaded from, for error messages. */
  readonly file: string;
  private readonly inner: Tokenizer;
  /** Whether the library's post-processor itself emits BOS first (probed once at load). */
  private readonly libraryAddsBos: boolean;

  /** The model's chat template (tokenizer_config.json, chat_template.jinja, or a GGUF file's tokenizer.chat_template), or null when it has none. */
  readonly chatTemplate: ChatTemplate | null;

  private constructor(file: string, inner: Tokenizer, special: SpecialTokens, chat: (t: HireTokenizer) => ChatTemplate | null) {
    this.file = file;
    this.inner = inner;
    this.special = special;
    let maxId = -1;
    for (const id of inner.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const bos = special.bosTokenId;
    this.libraryAddsBos =
      bos !== null &&
      inner.encode('a', {add_special_tokens: true}).ids[0] === bos &&
      inner.encode('a', {add_special_tokens: false}).ids[0] !== bos;
    this.chatTemplate = chat(this);
  }

  /** Loads `<modelDir>/tokenizer.json` (plus tokenizer_config.json and the configs for special ids). */
  static load(modelDir: string): HireTokenizer {
    const file = path.join(modelDir, 'tokenizer.json');
    if (!fs.existsSync(file)) {
      throw new TokenizerError(
        file,
        'not found; copy the checkpoint\'s tokenizer.json there, or give the prompt as token ids',
      );
    }
    const tokenizerJson = readJsonObject(file, TOKENIZER_JSON, tokenizerFail) as JsonObject;
    const tokFile = path.join(modelDir, 'tokenizer_config.json');
    const tokConfig = readJsonObject(tokFile, TOKENIZER_CONFIG_JSON, configFail) ?? {};
    return HireTokenizer.make(file, tokenizerJson, tokConfig, resolveWith(modelDir, tokenizerJson), modelDir);
  }

  /**
   * A tokenizer from Hugging Face files held in memory (those a GGUF file's metadata stands for):
   * `file` names their source in errors; config and tokConfig play config.json and
   * tokenizer_config.json.
   */
  static fromObjects(file: string, tokenizerJson: JsonObject, tokConfig: JsonObject, config: JsonObject | null): HireTokenizer {
    const files = {configFile: file, genFile: file, tokFile: file};
    return HireTokenizer.make(file, tokenizerJson, tokConfig, resolveFrom(files, {config, gen: null, tok: tokConfig}, tokenizerJson), null);
  }

  private static make(file: string, tokenizerJson: JsonObject, tokConfig: JsonObject, special: SpecialTokens, modelDir: string | null): HireTokenizer {
    // transformers defaults clean_up_tokenization_spaces to false; the library to true. It rewrites
    // " ." to "." and so on, which is lossy, so we follow transformers when the file is silent.
    const libConfig = {
      ...tokConfig,
      clean_up_tokenization_spaces: tokConfig.clean_up_tokenization_spaces === true,
    };
    let inner: Tokenizer;
    try {
      inner = new Tokenizer(tokenizerJson, libConfig);
    } catch (cause) {
      throw new TokenizerError(
        file,
        `@huggingface/tokenizers cannot use it: ${(cause as Error).message}; give the prompt as token ids`,
        {cause},
      );
    }
    return new HireTokenizer(file, inner, special, (t) => loadChatTemplate(modelDir === null ? {file} : {dir: modelDir}, tokConfig, templateTokens(tokConfig, t)));
  }

  /**
   * A conversation as token ids, through the model's chat template (see model/chat-template.ts):
   * rendered, then encoded without adding special tokens. With addGenerationPrompt (default true)
   * the ids end where the assistant's reply begins. A model without a template: TokenizerError.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts: {addGenerationPrompt?: boolean} = {}): number[] {
    if (!this.chatTemplate) {
      const file = path.join(path.dirname(this.file), 'tokenizer_config.json');
      throw new TokenizerError(file, `has no chat_template and there is no ${CHAT_TEMPLATE_FILE} beside it, so this model has no chat format; give a plain text prompt, or add the template of the model's chat variant`);
    }
    return this.encode(this.chatTemplate.render(messages, {addGenerationPrompt: opts.addGenerationPrompt ?? true}), {addSpecialTokens: false});
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const addSpecialTokens = opts.addSpecialTokens ?? true;
    let ids: number[];
    try {
      ids = this.inner.encode(text, {add_special_tokens: addSpecialTokens}).ids;
    } catch (cause) {
      throw new TokenizerError(this.file, `cannot encode text: ${(cause as Error).message}`, {cause});
    }
    const bad = ids.findIndex((id) => !isTokenId(id));
    if (bad >= 0) {
      throw new TokenizerError(this.file, `text piece ${bad} has no token id and the tokenizer has no unk token`);
    }
    if (!addSpecialTokens) return ids;
    const bos = this.special.bosTokenId;
    if (bos === null) return ids;
    if (this.special.addBos && !this.libraryAddsBos) return [bos, ...ids];
    if (!this.special.addBos && this.libraryAddsBos && ids[0] === bos) return ids.slice(1);
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(this.file, `token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
      }
    }
    return this.inner.decode([...ids], {skip_special_tokens: opts.skipSpecialTokens ?? true});
  }

  /** The id of a token string (e.g. "<s>"), or undefined when the vocabulary lacks it. */
  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  /** The token string of an id (e.g. "<0xE2>"), or undefined outside the vocabulary. */
  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }
}

/** The special token strings a chat template sees: tokenizer_config.json's, else the vocabulary's strings of the resolved ids. */
function templateTokens(config: JsonObject, t: HireTokenizer): TemplateTokens {
  const str = (key: string, id: number | null | undefined): string | undefined => {
    const v = config[key];
    if (typeof v === 'string') return v;
    if (isObject(v) && typeof v.content === 'string') return v.content;
    return id === null || id === undefined ? undefined : t.idToToken(id);
  };
  const out: TemplateTokens = {};
  const entries: Array<[keyof TemplateTokens, number | null | undefined]> = [
    ['bos_token', t.special.bosTokenId],
    ['eos_token', t.special.eosTokenIds[0]],
    ['unk_token', undefined],
    ['pad_token', t.special.padTokenId],
  ];
  for (const [key, id] of entries) {
    const v = str(key, id);
    if (v !== undefined) out[key] = v;
  }
  return out;
}
