/**
 * A checkpoint's weights by tensor name, whether they live in one `.safetensors` file or in
 * shards listed by a Hugging Face index (`model.safetensors.index.json`:
 * `{"metadata": {...}, "weight_map": {tensorName: shardFileName}}`).
 */

import fs from 'node:fs';
import nodePath from 'node:path';

import {IoError, SafetensorsError} from '../../../errors.js';
import {checkPlainFileName} from '../../../io/plain-name.js';
import {INDEX_JSON, readJsonFile, systemReason} from '../../../io/read-file.js';
import type {Dtype, TypedArrayByDtype} from './dtypes.js';
import {describeJson, isPlainObject, type TensorInfo} from './header.js';
import {SafetensorsFile, missingTensorProblem, readFloat32Via, readTypedVia, type TensorSource} from './file.js';

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

export class Checkpoint implements TensorSource {
  /** The file the tensors are looked up through: the single file, or the index. */
  readonly path: string;
  /** The index file when the checkpoint is sharded. */
  readonly indexFile: string | undefined;
  /** Every safetensors file opened, in order of first use. */
  readonly files: string[];
  /** The single file's `__metadata__`, or the index's `metadata` (non-strings as JSON text). */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly shardOf: Map<string, SafetensorsFile>;
  private readonly shards: SafetensorsFile[];

  private constructor(
    path: string,
    indexFile: string | undefined,
    shards: SafetensorsFile[],
    shardOf: Map<string, SafetensorsFile>,
    metadata: Record<string, string>,
  ) {
    this.path = path;
    this.indexFile = indexFile;
    this.shards = shards;
    this.files = shards.map((s) => s.path);
    this.shardOf = shardOf;
    this.metadata = Object.freeze(metadata);
  }

  /**
   * Opens a `.safetensors` file, an index file, or a directory holding `model.safetensors`
   * (preferred when both exist, as transformers does) or `model.safetensors.index.json`.
   */
  static open(pathOrDir: string): Checkpoint {
    let st: fs.Stats;
    try {
      st = fs.statSync(pathOrDir);
    } catch (err) {
      throw new IoError(pathOrDir, `cannot open checkpoint: ${systemReason(err)}`, {cause: err});
    }
    if (!st.isDirectory()) {
      return pathOrDir.endsWith('.index.json') ? Checkpoint.openIndex(pathOrDir) : Checkpoint.openFile(pathOrDir);
    }
    const single = nodePath.join(pathOrDir, SINGLE_FILE_NAME);
    if (fs.existsSync(single)) return Checkpoint.openFile(single);
    const index = nodePath.join(pathOrDir, INDEX_FILE_NAME);
    if (fs.existsSync(index)) return Checkpoint.openIndex(index);
    throw new IoError(
      pathOrDir,
      `holds neither ${SINGLE_FILE_NAME} nor ${INDEX_FILE_NAME}; point at a checkpoint directory or a .safetensors file`,
    );
  }

  private static openFile(file: string): Checkpoint {
    const f = SafetensorsFile.open(file);
    const shardOf = new Map(f.names().map((name) => [name, f]));
    return new Checkpoint(file, undefined, [f], shardOf, {...f.metadata});
  }

  private static openIndex(indexFile: string): Checkpoint {
    const index = readIndex(indexFile);
    const dir = nodePath.dirname(indexFile);
    const shardNames = index.shards;
    for (const shard of shardNames) {
      if (!fs.existsSync(nodePath.join(dir, shard))) {
        const users = [...index.weightMap].filter(([, s]) => s === shard).map(([t]) => t);
        throw new SafetensorsError(
          indexFile,
          `shard ${JSON.stringify(shard)} (listed for ${users.length} tensors, e.g. ${JSON.stringify(users[0])}) does not exist in ${dir}`,
        );
      }
    }
    const opened: SafetensorsFile[] = [];
    try {
      for (const shard of shardNames) opened.push(SafetensorsFile.open(nodePath.join(dir, shard)));
      const byShardName = new Map(shardNames.map((s, i) => [s, opened[i]!]));
      checkNoTensorInTwoShards(indexFile, dir, opened);
      const shardOf = new Map<string, SafetensorsFile>();
      for (const [tensor, shard] of index.weightMap) {
        const f = byShardName.get(shard)!;
        if (!f.has(tensor)) {
          throw new SafetensorsError(
            indexFile,
            `tensor ${JSON.stringify(tensor)} is listed in weight_map under shard ${JSON.stringify(shard)}, but that shard does not hold it`,
          );
        }
        shardOf.set(tensor, f);
      }
      return new Checkpoint(indexFile, indexFile, opened, shardOf, index.metadata);
    } catch (err) {
      for (const f of opened) f.close();
      throw err;
    }
  }

  /** Tensor names: header order for one file, weight_map order for a sharded checkpoint. */
  names(): string[] {
    return [...this.shardOf.keys()];
  }

  has(name: string): boolean {
    return this.shardOf.has(name);
  }

  info(name: string): TensorInfo {
    return this.shardFor(name).info(name);
  }

  /** The `__metadata__` of the file that holds `name` (for a sharded checkpoint: its shard's). */
  fileMetadata(name: string): Readonly<Record<string, string>> {
    return this.shardFor(name).metadata;
  }

  /** See `SafetensorsFile.readBytes`. */
  readBytes(name: string, into?: Uint8Array): Uint8Array {
    return this.shardFor(name).readBytes(name, into);
  }

  readFloat32(name: string): Float32Array<ArrayBuffer> {
    const shard = this.shardFor(name);
    return readFloat32Via(shard.info(name), (into) => shard.readBytes(name, into));
  }

  readTyped<D extends Dtype>(name: string, dtype?: D): TypedArrayByDtype<ArrayBuffer>[D] {
    const shard = this.shardFor(name);
    return readTypedVia(shard.info(name), dtype, (into) => shard.readBytes(name, into));
  }

  /** Closes every file; closing twice is harmless. */
  close(): void {
    for (const s of this.shards) s.close();
  }

  private shardFor(name: string): SafetensorsFile {
    const f = this.shardOf.get(name);
    if (f === undefined) {
      const where = this.indexFile === undefined ? '' : ' in weight_map';
      throw new SafetensorsError(this.path, missingTensorProblem(name, this.names()) + where);
    }
    return f;
  }
}

export interface ParsedIndex {
  /** Tensor name -> shard file name (a plain name in the index's directory). */
  weightMap: Map<string, string>;
  /** Each shard file name once, in order of first mention. */
  shards: string[];
  metadata: Record<string, string>;
}

const indexError = (file: string, problem: string, options?: {cause?: unknown}) => new SafetensorsError(file, problem, options);

/**
 * Reads and checks a `model.safetensors.index.json`: size-capped, position-only JSON errors, and
 * every shard name a plain file name beside the index (no "..", no absolute path, no separator).
 */
export function readIndex(indexFile: string): ParsedIndex {
  const root = readJsonFile(indexFile, INDEX_JSON, indexError);
  if (!isPlainObject(root)) {
    throw new SafetensorsError(indexFile, `index must be a JSON object, found ${describeJson(root)}`);
  }
  const wm = root['weight_map'];
  if (!isPlainObject(wm)) {
    throw new SafetensorsError(indexFile, `index needs a "weight_map" object of tensor name -> shard file, found ${describeJson(wm)}`);
  }
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(wm)) {
    const where = `weight_map entry ${JSON.stringify(tensor)}`;
    if (typeof shard !== 'string' || shard === '') {
      throw new SafetensorsError(indexFile, `${where} must name a shard file, found ${describeJson(shard)}`);
    }
    weightMap.set(tensor, checkPlainFileName(shard, indexFile, where, indexError));
  }
  if (weightMap.size === 0) throw new SafetensorsError(indexFile, 'weight_map is empty');
  const meta = root['metadata'];
  if (meta !== undefined && meta !== null && !isPlainObject(meta)) {
    throw new SafetensorsError(indexFile, `index "metadata" must be an object, found ${describeJson(meta)}`);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta ?? {})) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return {weightMap, shards: [...new Set(weightMap.values())], metadata};
}

function checkNoTensorInTwoShards(indexFile: string, dir: string, shards: readonly SafetensorsFile[]): void {
  const seen = new Map<string, SafetensorsFile>();
  for (const f of shards) {
    for (const name of f.names()) {
      const other = seen.get(name);
      if (other !== undefined) {
        throw new SafetensorsError(
          indexFile,
          `tensor ${JSON.stringify(name)} appears in two shards, ${nodePath.relative(dir, other.path)} and ${nodePath.relative(dir, f.path)}`,
        );
      }
      seen.set(name, f);
    }
  }
}
