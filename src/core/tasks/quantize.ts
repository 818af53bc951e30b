/**
 * `hire quantize`: a checkpoint (directory or GGUF file) rewritten with its weight matrices in
 * ggml blocks (Q8_0 or Q4_0), as a Hugging Face style directory every command loads:
 * model.safetensors holds each block matrix as a U8 tensor [rows, blockRowBytes] in the [out, in]
 * orientation, listed in the file's `hire_blocks` metadata; config.json is the source's plus
 * `"hire_weight_format"`; the tokenizer files come along (from a GGUF file: built from its
 * metadata). Matrices already in the target format are copied byte for byte (a GGUF's Q8_0 /
 * Q4_0 tensors are never re-quantised); vectors and matrices whose rows are not whole 32-weight
 * blocks stay as they are. The directory is written beside `out` and renamed into place. When
 * `out` ends in .gguf, one GGUF file is written instead (quantize-gguf.ts), the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import {UsageError} from '../errors.js';
import {SOURCE_FILES} from '../hire/bundle/bundle.js';
import {StagedBundle} from '../hire/bundle/staging.js';
import {readBoundedFile, readJsonFile, CONFIG_JSON} from '../io/read-file.js';
import {ConfigError, IoError} from '../errors.js';
import {openModel, type ModelSource} from '../model/load.js';
import {writeSafetensors, type TensorData} from '../model/formats/safetensors/index.js';
import {blocksMetadata, hostMatrixF32, isBlockMatrix, readHostMatrix, type WeightSpec} from '../model/weights.js';
import {blockRowBytes, isBlockFormat, quantizeBlocks, BLOCK_SIZE, type BlockFormat} from '../numeric/ggml-quant.js';
import {isGgufPath, openGgufOut, writeGgufOut} from './quantize-gguf.js';

/** The config.json key naming the block format(s) of a quantised directory. */
export const WEIGHT_FORMAT_KEY = 'hire_weight_format';

/** What quantizeModel() writes: every matrix in one ggml block format, or the source's own formats ('keep'). */
export const QUANTIZE_TARGETS = ['q8_0', 'q4_0', 'keep'] as const;
export type QuantizeTarget = (typeof QUANTIZE_TARGETS)[number];

export interface QuantizeOptions {
  /** A checkpoint directory or a .gguf file. */
  model: string;
  /** Block format of every matrix; 'keep' keeps the source's own formats (to import a GGUF file as it is). */
  to: QuantizeTarget;
  /**
   * The directory to write (must not exist, unless force and it is a directory hire quantize
   * wrote), or a path ending in .gguf: one GGUF file that llama.cpp loads (force replaces only a
   * GGUF file hire quantize wrote).
   */
  out: string;
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

export interface QuantizedTensor {
  name: string;
  /** What the source holds: a safetensors dtype, or a block format. */
  from: string;
  /** What the output holds. */
  to: string;
  /** How: copied byte for byte, or quantised from the (dequantised) values. */
  how: 'copied' | 'quantised';
}

export interface QuantizeReport {
  out: string;
  /** The block formats in the output, e.g. ["q4_0", "q8_0"]. */
  formats: BlockFormat[];
  tensors: QuantizedTensor[];
  /** Bytes of tensor data read from the source and written to the output. */
  sourceBytes: number;
  bytes: number;
}

/** True when `dir` is a directory hire quantize wrote (config.json with hire_weight_format): what force may replace. */
export function isQuantizedDir(dir: string): boolean {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    return typeof json[WEIGHT_FORMAT_KEY] === 'string' && !fs.existsSync(path.join(dir, 'hire.json'));
  } catch {
    return false;
  }
}

export async function quantizeModel(opts: QuantizeOptions): Promise<QuantizeReport> {
  if (opts.to !== 'keep' && !isBlockFormat(opts.to)) throw new UsageError(`to must be q8_0, q4_0 or keep, got ${String(opts.to)}`, {option: 'to'});
  if (!opts.out) throw new UsageError('out is required: the directory (or .gguf file) to write', {option: 'out'});
  if (isGgufPath(opts.out)) return quantizeToGguf(opts);
  const source = openModel(opts.model);
  try {
    const staged = StagedBundle.open(opts.out, {
      force: opts.force ?? false,
      sourceDir: opts.model,
      replaceable: {test: isQuantizedDir, what: 'model directories written by hire quantize'},
    });
    for (const note of staged.notes) opts.onWarning?.(note);
    try {
      const {tensors, blocks, rows} = quantizeTensors(source, opts);
      const formats = blockFormats(opts, blocks);
      writeSmallFiles(source, staged.dir, {[WEIGHT_FORMAT_KEY]: formats.join('+')});
      await new Promise((r) => setImmediate(r));
      writeSafetensors(path.join(staged.dir, 'model.safetensors'), tensors, {format: 'pt', ...blocksMetadata(blocks)});
      staged.commit();
      return report(source, staged.out.abs, formats, tensors, rows);
    } finally {
      staged.discard();
    }
  } finally {
    source.checkpoint.close();
  }
}

/** quantizeModel when out ends in .gguf: one GGUF file (quantize-gguf.ts). */
async function quantizeToGguf(opts: QuantizeOptions): Promise<QuantizeReport> {
  const staged = openGgufOut({out: opts.out, force: opts.force ?? false, model: opts.model});
  try {
    const source = openModel(opts.model);
    try {
      const {tensors, blocks, rows} = quantizeTensors(source, opts);
      const formats = blockFormats(opts, blocks);
      await new Promise((r) => setImmediate(r));
      writeGgufOut(source, tensors, blocks, staged);
      staged.commit();
      return report(source, staged.out.abs, formats, tensors, rows);
    } finally {
      source.checkpoint.close();
    }
  } finally {
    staged.discard();
  }
}

function blockFormats(opts: QuantizeOptions, blocks: Record<string, BlockFormat>): BlockFormat[] {
  const formats = [...new Set(Object.values(blocks))].sort();
  if (formats.length === 0) throw new UsageError(`${opts.model} has no weight matrix in ggml blocks to keep; give to: q8_0 or q4_0`, {option: 'to'});
  return formats;
}

function report(source: ModelSource, out: string, formats: BlockFormat[], tensors: Map<string, TensorData>, rows: QuantizedTensor[]): QuantizeReport {
  const sourceBytes = source.checkpoint.names().reduce((a, n) => a + source.checkpoint.info(n).byteLength, 0);
  const bytes = [...tensors.values()].reduce((a, t) => a + t.data.byteLength, 0);
  return {out, formats, tensors: rows, sourceBytes, bytes};
}

/** Every tensor of the source as the output stores it, which of them are blocks, and what was done to each. */
function quantizeTensors(source: ModelSource, opts: QuantizeOptions) {
  const ckpt = source.checkpoint;
  // one spec per matrix tensor, whole (a fused tensor's slices are rows of the same matrix)
  const matrices = new Map<string, WeightSpec>();
  for (const s of source.specs) if (s.kind === 'matrix' && !matrices.has(s.name)) matrices.set(s.name, {...s, slice: undefined, blockTranspose: false});
  const tensors = new Map<string, TensorData>();
  const blocks: Record<string, BlockFormat> = {};
  const rows: QuantizedTensor[] = [];
  const names = ckpt.names();
  names.forEach((name, i) => {
    const spec = matrices.get(name);
    const info = ckpt.info(name);
    const m = spec ? readHostMatrix(ckpt, spec) : null;
    const from = m && isBlockMatrix(m) ? m.dtype : info.dtype;
    const target = m === null || m.cols % BLOCK_SIZE !== 0 ? null : opts.to === 'keep' ? (isBlockMatrix(m) ? m.dtype : null) : opts.to;
    if (m === null || target === null) {
      if (m && isBlockMatrix(m)) blocks[name] = m.dtype; // a block matrix kept as it is
      tensors.set(name, {dtype: info.dtype, shape: info.shape, data: ckpt.readBytes(name)});
      rows.push({name, from, to: m && isBlockMatrix(m) ? m.dtype : info.dtype, how: 'copied'});
    } else {
      const same = isBlockMatrix(m) && m.dtype === target;
      const data = same ? m.data : quantizeBlocks(target, hostMatrixF32(m), m.rows, m.cols);
      tensors.set(name, {dtype: 'U8', shape: [m.rows, blockRowBytes(target, m.cols)], data});
      blocks[name] = target;
      rows.push({name, from, to: target, how: same ? 'copied' : 'quantised'});
    }
    opts.onProgress?.(i + 1, names.length);
  });
  return {tensors, blocks, rows};
}

/** config.json (patched) and the tokenizer files: copied from a directory, or the ones a GGUF file stands for. */
function writeSmallFiles(source: ModelSource, dir: string, configPatch: Record<string, unknown>): void {
  const ioError = (file: string, problem: string, options?: {cause?: unknown}) => new IoError(file, problem, options);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  if (source.hfFiles) {
    for (const [file, value] of Object.entries(source.hfFiles)) {
      if (value !== null) fs.writeFileSync(path.join(dir, file), json(file === 'config.json' ? {...value, ...configPatch} : value));
    }
    return;
  }
  for (const [f, kind] of SOURCE_FILES) {
    const src = path.join(source.dir, f);
    if (!fs.existsSync(src)) continue;
    if (f !== 'config.json') {
      fs.writeFileSync(path.join(dir, f), readBoundedFile(src, kind, ioError));
      continue;
    }
    const config = readJsonFile(src, CONFIG_JSON, (file, problem, o) => new ConfigError(file, problem, o)) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, f), json({...config, ...configPatch}));
  }
}
