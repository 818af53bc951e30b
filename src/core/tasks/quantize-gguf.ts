/**
 * `hire quantize --out model.gguf`: the quantised tensors written as one GGUF file that llama.cpp
 * (and hire) load, instead of a model directory. The layout is export.ts's; here are the inputs
 * (config.json and the tokenizer files of a directory, or the ones a GGUF source stands for) and
 * the output's safety: a temporary file beside out, renamed into place; `force` replaces only a
 * GGUF file hire wrote (general.quantized_by "hire"), never the source.
 */
import fs from 'node:fs';
import path from 'node:path';
import {TokenizerError} from '../errors.js';
import {StagedFile} from '../hire/bundle/staging.js';
import {readJsonFile, TOKENIZER_JSON} from '../io/read-file.js';
import {readConfigJson} from '../model/config.js';
import {GgufFile} from '../model/formats/gguf/file.js';
import {GGUF_WRITER, planGgufExport, writeGgufFile} from '../model/formats/gguf/export.js';
import type {TensorData} from '../model/formats/safetensors/index.js';
import {openTokenizer, type ModelSource} from '../model/load.js';
import type {BlockFormat} from '../numeric/ggml-quant.js';

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
  // config.json and tokenizer.json as objects: a directory's files, or the ones a GGUF source stands for
  const files = source.hfFiles;
  const config = files ? {file: source.dir, json: files['config.json']!} : readConfigJson(source.dir);
  const tokFile = files ? source.dir : path.join(source.dir, 'tokenizer.json');
  const tokenizerJson = files ? files['tokenizer.json'] : fs.existsSync(tokFile) ? readJsonFile(tokFile, TOKENIZER_JSON, (f, problem, o) => new TokenizerError(f, problem, o)) : null;
  if (!tokenizerJson) throw new TokenizerError(tokFile, 'is missing: a GGUF file carries its vocabulary, so GGUF export needs tokenizer.json');
  // BOS / EOS, the BOS policy and the chat template as every command resolves them
  const tokenizer = openTokenizer(source, 'required')!;
  const plan = planGgufExport({
    configFile: config.file,
    configJson: config.json,
    tensors,
    blocks,
    name: path.basename(source.dir).replace(/\.gguf$/i, ''),
    vocab: {file: tokFile, tokenizerJson: tokenizerJson as Record<string, unknown>, special: tokenizer.special, chatTemplate: tokenizer.chatTemplate?.source ?? null},
  });
  return writeGgufFile(staged.path, plan);
}
