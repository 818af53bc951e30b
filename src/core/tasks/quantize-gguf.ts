/**
 * `hire quantize --out model.gguf`: the quantised tensors written as one GGUF file that llama.cpp
 * (and hire) load, instead of a model directory. The layout is export.ts's; here are the inputs
 * (config.json and the tokenizer files of a directory, or the ones a GGUF source stands for) and
 * the output's safety: a temporary file beside out, renamed into place; `force` replaces only a
 * GGUF file hire wrote (general.quantized_by "hire"), never the source.
 */
import path from 'node:path';
import {ConfigError, TokenizerError} from '../errors.js';
import {StagedFile} from '../hire/bundle/staging.js';
import {CONFIG_JSON, readJsonFile, TOKENIZER_CONFIG_JSON, TOKENIZER_JSON} from '../io/read-file.js';
import {loadChatTemplate} from '../model/chat-template.js';
import {GgufFile} from '../model/formats/gguf/file.js';
import {GGUF_WRITER, planGgufExport, writeGgufFile} from '../model/formats/gguf/export.js';
import type {TensorData} from '../model/formats/safetensors/index.js';
import type {ModelSource} from '../model/load.js';
import type {BlockFormat} from '../numeric/ggml-quant.js';
import fs from 'node:fs';

type Json = Record<string, unknown>;

/** True when `out` names a GGUF file (ends in .gguf): quantize then writes one file, not a directory. */
export function isGgufPath(out: string): boolean {
  return /\.gguf$/i.test(out);
}

/** True when `file` is a GGUF file hire wrote: what force may replace. */
export function isHireGguf(file: string): boolean {
  try {
    const g = GgufFile.open(file);
    try {
      return g.metadata.get('general.quantized_by') === GGUF_WRITER;
    } finally {
      g.close();
    }
  } catch {
    return false;
  }
}

export interface GgufOut {
  out: string;
  force: boolean;
  /** The model as the user named it (a directory or a .gguf file): never replaced. */
  model: string;
}

/** Checks out before any work (throws IoError); the returned file is committed or discarded by the caller. */
export function openGgufOut(o: GgufOut): StagedFile {
  return StagedFile.open(o.out, {force: o.force, sourceDir: o.model, replaceable: {test: isHireGguf, what: 'GGUF files written by hire quantize'}});
}

/** Writes the tensors and the source's config and tokenizer into staged.path; returns the bytes written. */
export function writeGgufOut(source: ModelSource, tensors: ReadonlyMap<string, TensorData>, blocks: Record<string, BlockFormat>, staged: StagedFile): number {
  const files = smallFiles(source);
  const configFile = source.hfFiles ? source.dir : path.join(source.dir, 'config.json');
  const tokFile = source.hfFiles ? source.dir : path.join(source.dir, 'tokenizer.json');
  if (!files.config) throw new ConfigError(configFile, 'is missing: GGUF export needs config.json');
  if (!files.tokenizer) throw new TokenizerError(tokFile, 'is missing: a GGUF file carries its vocabulary, so GGUF export needs tokenizer.json');
  const template = loadChatTemplate(source.hfFiles ? {file: source.dir} : {dir: source.dir}, files.tokenizerConfig, {});
  const plan = planGgufExport({
    configFile,
    configJson: files.config,
    tensors,
    blocks,
    name: path.basename(source.dir).replace(/\.gguf$/i, ''),
    vocab: {
      file: tokFile,
      tokenizerJson: files.tokenizer,
      tokenizerConfig: files.tokenizerConfig,
      bosTokenId: numberOrNull(files.config['bos_token_id']),
      eosTokenId: numberOrNull(files.config['eos_token_id']),
      chatTemplate: template?.source ?? null,
    },
  });
  return writeGgufFile(staged.path, plan);
}

function smallFiles(source: ModelSource): {config: Json | null; tokenizer: Json | null; tokenizerConfig: Json | null} {
  if (source.hfFiles) {
    const f = source.hfFiles;
    return {config: f['config.json'] ?? null, tokenizer: f['tokenizer.json'] ?? null, tokenizerConfig: f['tokenizer_config.json'] ?? null};
  }
  const read = (name: string, kind: typeof CONFIG_JSON, err: typeof ConfigError | typeof TokenizerError): Json | null => {
    const file = path.join(source.dir, name);
    if (!fs.existsSync(file)) return null;
    return readJsonFile(file, kind, (f, problem, o) => new err(f, problem, o)) as Json;
  };
  return {
    config: read('config.json', CONFIG_JSON, ConfigError),
    tokenizer: read('tokenizer.json', TOKENIZER_JSON, TokenizerError),
    tokenizerConfig: read('tokenizer_config.json', TOKENIZER_CONFIG_JSON, TokenizerError),
  };
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}
