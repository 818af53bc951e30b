import fs from 'node:fs';
import path from 'node:path';

import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {IoError, SafetensorsError} from '../../../../../src/core/errors.js';
import {Checkpoint, writeSafetensors, type TensorData} from '../../../../../src/core/model/formats/safetensors/index.js';
import {expectFailure, makeTempDir, sharedDir} from './fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({dir, cleanup} = makeTempDir()));
afterEach(() => cleanup());

const f32 = (...values: number[]): TensorData => ({dtype: 'F32', shape: [values.length], data: new Float32Array(values)});
const indexPath = () => path.join(dir, 'model.safetensors.index.json');

/** Two shards plus an index; `weightMap` overrides the index's map. */
function writeSharded(weightMap?: Record<string, string>): void {
  writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), {'a.weight': f32(1, 2), 'b.weight': f32(3)});
  writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), {
    'c.weight': {dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc020])},
  });
  const map = weightMap ?? {
    'a.weight': 'model-00001-of-00002.safetensors',
    'c.weight': 'model-00002-of-00002.safetensors',
    'b.weight': 'model-00001-of-00002.safetensors',
  };
  fs.writeFileSync(indexPath(), JSON.stringify({metadata: {total_size: 16}, weight_map: map}));
}

describe('Checkpoint', () => {
  it('opens a sharded directory and reads each tensor from its shard', () => {
    writeSharded();
    const ck = Checkpoint.open(dir);
    try {
      expect(ck.names()).toEqual(['a.weight', 'c.weight', 'b.weight']);
      expect(ck.files.map((f) => path.basename(f))).toEqual([
        'model-00001-of-00002.safetensors',
        'model-00002-of-00002.safetensors',
      ]);
      expect(ck.indexFile).toBe(indexPath());
      expect(ck.metadata).toEqual({total_size: '16'});
      expect(ck.has('c.weight')).toBe(true);
      expect(ck.info('c.weight')).toMatchObject({dtype: 'BF16', shape: [2], file: path.join(dir, 'model-00002-of-00002.safetensors')});
      expect([...ck.readFloat32('a.weight')]).toEqual([1, 2]);
      expect([...ck.readFloat32('c.weight')]).toEqual([1, -2.5]);
      expect([...ck.readTyped('c.weight', 'BF16')]).toEqual([0x3f80, 0xc020]);
      const into = new Uint8Array(new SharedArrayBuffer(8), 4, 4);
      ck.readBytes('b.weight', into);
      expect(new DataView(into.buffer, 4, 4).getFloat32(0, true)).toBe(3);
      expectFailure(() => ck.readBytes('zzz'), SafetensorsError, indexPath(), /no tensor named "zzz" .* in weight_map/);
    } finally {
      ck.close();
    }
  });

  it('opens a single file, a directory holding model.safetensors, and an index path', () => {
    const file = path.join(dir, 'model.safetensors');
    writeSafetensors(file, {x: f32(5), y: f32(6, 7)}, {format: 'pt'});
    for (const target of [file, dir]) {
      const ck = Checkpoint.open(target);
      expect(ck.files).toEqual([file]);
      expect(ck.names()).toEqual(['x', 'y']);
      expect(ck.metadata).toEqual({format: 'pt'});
      expect([...ck.readFloat32('y')]).toEqual([6, 7]);
      expectFailure(() => ck.info('nope'), SafetensorsError, file, /no tensor named "nope"/);
      ck.close();
    }
    fs.rmSync(file);
    writeSharded();
    const ck = Checkpoint.open(indexPath());
    expect(ck.names().length).toBe(3);
    ck.close();
  });

  it('names the directory and both file names when neither exists', () => {
    expectFailure(() => Checkpoint.open(dir), IoError, dir, /holds neither model\.safetensors nor model\.safetensors\.index\.json/);
    const missing = path.join(dir, 'nothing-here');
    expectFailure(() => Checkpoint.open(missing), IoError, missing, /no such file or directory/);
  });

  it('rejects an index whose shard file is missing', () => {
    writeSharded({'a.weight': 'model-00001-of-00002.safetensors', 'q.weight': 'model-00009-of-00009.safetensors'});
    expectFailure(
      () => Checkpoint.open(dir),
      SafetensorsError,
      indexPath(),
      /shard "model-00009-of-00009\.safetensors" \(listed for 1 tensors, e\.g\. "q\.weight"\) does not exist in /,
    );
  });

  it('rejects an index listing a tensor its shard does not hold', () => {
    writeSharded({'a.weight': 'model-00001-of-00002.safetensors', 'c.weight': 'model-00001-of-00002.safetensors'});
    expectFailure(
      () => Checkpoint.open(dir),
      SafetensorsError,
      indexPath(),
      /tensor "c\.weight" is listed in weight_map under shard "model-00001-of-00002\.safetensors", but that shard does not hold it/,
    );
  });

  it('rejects a tensor stored in two shards', () => {
    writeSharded();
    writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), {'c.weight': f32(1), 'a.weight': f32(9, 9)});
    expectFailure(
      () => Checkpoint.open(dir),
      SafetensorsError,
      indexPath(),
      /tensor "a\.weight" appears in two shards, model-00001-of-00002\.safetensors and model-00002-of-00002\.safetensors/,
    );
  });

  it('rejects a malformed index', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"weight_map": ', /: invalid JSON at line 1, column 16 \(expected a value, but the text ends\)$/],
      ['[]', /index must be a JSON object, found an array/],
      ['{"metadata": {}}', /index needs a "weight_map" object of tensor name -> shard file, found nothing/],
      ['{"weight_map": {"a": 3}}', /weight_map entry "a" must name a shard file, found number 3/],
      ['{"weight_map": {}}', /weight_map is empty/],
    ];
    for (const [text, pattern] of cases) {
      fs.writeFileSync(indexPath(), text);
      expectFailure(() => Checkpoint.open(dir), SafetensorsError, indexPath(), pattern);
    }
  });

  it('passes on a broken shard error, naming the shard', () => {
    writeSharded();
    const shard = path.join(dir, 'model-00002-of-00002.safetensors');
    fs.writeFileSync(shard, Buffer.from([1, 2, 3]));
    expectFailure(() => Checkpoint.open(dir), SafetensorsError, shard, /too short/);
  });
});

describe('the real llama2xs checkpoint', () => {
  const modelDir = path.join(sharedDir, 'models/llama2xs');
  const present = fs.existsSync(sharedDir);
  if (!present) console.log(`skipping the llama2xs checkpoint test: ${sharedDir} is absent`);

  it.skipIf(!present)('opens and reads model.safetensors', () => {
    const ck = Checkpoint.open(modelDir);
    try {
      const file = path.join(modelDir, 'model.safetensors');
      expect(ck.files).toEqual([file]);
      expect(ck.names().length).toBe(47); // 5 layers x 9, embeddings (tied) and the final norm
      expect(ck.metadata).toEqual({format: 'pt'});
      expect(ck.names()).toContain('model.norm.weight');
      const info = ck.info('model.embed_tokens.weight');
      expect(info).toMatchObject({dtype: 'F32', shape: [512, 64], byteLength: 512 * 64 * 4});
      expect(ck.info('model.layers.0.mlp.gate_proj.weight').shape).toEqual([192, 64]);
      const emb = ck.readFloat32('model.embed_tokens.weight');
      expect(emb.length).toBe(512 * 64);
      // Compare with an independent read of the same bytes.
      const raw = fs.readFileSync(file);
      const direct = new Float32Array(raw.buffer.slice(raw.byteOffset + info.byteOffset, raw.byteOffset + info.byteOffset + info.byteLength));
      expect(emb).toEqual(direct);
      expect(emb.every(Number.isFinite)).toBe(true);
      expect(emb.some((v) => v !== 0)).toBe(true);
      for (const name of ck.names()) expect(ck.readFloat32(name).length * 4).toBe(ck.info(name).byteLength);
    } finally {
      ck.close();
    }
  });
});
