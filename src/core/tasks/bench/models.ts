/**
 * Named synthetic shapes for `hire bench`: written once in Hugging Face layout with seeded random
 * weights and cached on disk (speed does not depend on the weight values), so nothing is downloaded.
 * Each gets a generated tokenizer whose vocabulary is the shape's (model/synthetic-tokenizer.ts),
 * so text tools (`hire serve`, scripts/serve-bench.mjs) run on a shape too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {UsageError} from '../../errors.js';
import {SYNTHETIC_SHAPES, syntheticConfig, writeSyntheticCheckpoint, type SyntheticSpec} from '../../model/synthetic.js';
import {ensureSyntheticTokenizer} from '../../model/synthetic-tokenizer.js';
import {isBlockFormat} from '../../numeric/ggml-quant.js';
import {quantizeModel} from '../quantize.js';

export type BenchDtype = 'f32' | 'bf16' | 'f16' | 'q8_0' | 'q4_0';
export const BENCH_DTYPES: readonly BenchDtype[] = ['f32', 'bf16', 'f16', 'q8_0', 'q4_0'];
export const BENCH_SEED = 1234;

/** Where synthetic checkpoints are cached: $HIRE_CACHE_DIR, else ~/.cache/hire. */
export function cacheDir(): string {
  return process.env['HIRE_CACHE_DIR'] ?? path.join(os.homedir(), '.cache', 'hire');
}

export function shapeNames(): string[] {
  return Object.keys(SYNTHETIC_SHAPES);
}

/**
 * The directory of the named shape in a ggml block format: the f32 shape (cached) quantised by
 * hire quantize, which writes beside the target and renames into place.
 */
export async function ensureSyntheticBlockModel(shape: string, dtype: 'q8_0' | 'q4_0', root = cacheDir()): Promise<{dir: string; created: boolean}> {
  const dir = path.join(root, 'bench', `${shape}-${dtype}-seed${BENCH_SEED}`);
  if (fs.existsSync(path.join(dir, 'config.json'))) {
    addTokenizer(dir, SYNTHETIC_SHAPES[shape]!); // shapes cached before they had one
    return {dir, created: false};
  }
  const f32 = ensureSyntheticModel(shape, 'f32', root).dir;
  await quantizeModel({model: f32, to: dtype, out: dir}); // the tokenizer files come along
  return {dir, created: true};
}

/**
 * Returns the directory of the named shape at this dtype, writing it first if it is not cached.
 * The checkpoint is written into a temporary directory and renamed into place, so an interrupted
 * write never leaves a half-written model in the cache.
 */
export function ensureSyntheticModel(shape: string, dtype: BenchDtype, root = cacheDir()): {dir: string; created: boolean} {
  const spec = SYNTHETIC_SHAPES[shape];
  if (!spec) throw new UsageError(`unknown shape "${shape}"; known shapes: ${shapeNames().join(', ')}`);
  if (isBlockFormat(dtype)) throw new UsageError(`dtype ${dtype}: use ensureSyntheticBlockModel`, {option: 'dtype'});
  const dir = path.join(root, 'bench', `${shape}-${dtype}-seed${BENCH_SEED}`);
  if (fs.existsSync(path.join(dir, 'config.json'))) {
    addTokenizer(dir, spec); // shapes cached before they had one
    return {dir, created: false};
  }
  fs.mkdirSync(path.dirname(dir), {recursive: true});
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    writeSyntheticCheckpoint(tmp, {...spec, seed: BENCH_SEED, dtype: dtype.toUpperCase() as 'F32' | 'BF16' | 'F16'});
    addTokenizer(tmp, spec);
    fs.rmSync(dir, {recursive: true, force: true});
    fs.renameSync(tmp, dir);
  } catch (error) {
    fs.rmSync(tmp, {recursive: true, force: true});
    throw error;
  }
  return {dir, created: true};
}

/** The shape's tokenizer (vocabulary and special ids from the config the shape writes), unless the directory has one. */
function addTokenizer(dir: string, spec: Omit<SyntheticSpec, 'seed'>): void {
  const config = syntheticConfig({...spec, seed: BENCH_SEED});
  const id = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  ensureSyntheticTokenizer(dir, {vocabSize: spec.vocabSize, bosTokenId: id(config['bos_token_id']), eosTokenId: id(config['eos_token_id'])});
}
