/**
 * Checkpoints from untrusted directories: shard names from the index never leave the model
 * directory, symlinked shards (the Hugging Face cache layout) still load, and a header nested
 * absurdly deep is refused with one line instead of a stack overflow.
 */
import fs from 'node:fs';
import path from 'node:path';

import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {SafetensorsError} from '../../../../../src/core/errors.js';
import {weightFiles} from '../../../../../src/core/hire/bundle/bundle.js';
import {Checkpoint, SafetensorsFile, writeSafetensors, type TensorData} from '../../../../../src/core/model/formats/safetensors/index.js';
import {expectFailure, makeTempDir, writeRawFile} from './fixtures.js';

let root: string;
let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({dir: root, cleanup} = makeTempDir());
  dir = path.join(root, 'model');
  fs.mkdirSync(dir);
});
afterEach(() => cleanup());

const f32 = (...values: number[]): TensorData => ({dtype: 'F32', shape: [values.length], data: new Float32Array(values)});
const indexPath = () => path.join(dir, 'model.safetensors.index.json');
const writeIndex = (map: Record<string, string>) => fs.writeFileSync(indexPath(), JSON.stringify({weight_map: map}));

describe('shard names in model.safetensors.index.json', () => {
  it('refuses "../victim.txt" even when that file is a valid shard outside the directory', () => {
    writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), {a: f32(1)});
    writeSafetensors(path.join(root, 'victim.txt'), {b: f32(2)});
    writeIndex({a: 'model-00001-of-00002.safetensors', b: '../victim.txt'});
    const pattern = /weight_map entry "b" names the file "\.\.\/victim\.txt", which must be a plain file name in the same directory/;
    expectFailure(() => Checkpoint.open(dir), SafetensorsError, indexPath(), pattern);
    // The bundle writer lists the source's weight files through the same checked reader.
    expectFailure(() => weightFiles(dir), SafetensorsError, indexPath(), pattern);
  });

  it('refuses a deep relative path and an absolute path', () => {
    writeSafetensors(path.join(dir, 'model-00001-of-00001.safetensors'), {a: f32(1)});
    for (const [name, problem] of [
      ['../../../../etc/passwd', /path separator/],
      ['/etc/passwd', /absolute path/],
      ['sub/model-00001-of-00001.safetensors', /path separator/],
    ] as const) {
      writeIndex({a: name});
      expectFailure(() => Checkpoint.open(dir), SafetensorsError, indexPath(), problem);
      expectFailure(() => weightFiles(dir), SafetensorsError, indexPath(), problem);
    }
  });

  it('opens shards that are symlinks to regular files inside or outside the directory (Hugging Face cache)', () => {
    const blobs = path.join(root, 'blobs');
    fs.mkdirSync(blobs);
    fs.mkdirSync(path.join(dir, 'store'));
    writeSafetensors(path.join(dir, 'store', 'blob-a'), {a: f32(1, 2)});
    writeSafetensors(path.join(blobs, 'blob-b'), {b: f32(3)});
    fs.symlinkSync(path.join('store', 'blob-a'), path.join(dir, 'model-00001-of-00002.safetensors'));
    fs.symlinkSync(path.join('..', 'blobs', 'blob-b'), path.join(dir, 'model-00002-of-00002.safetensors'));
    writeIndex({a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors'});
    const ck = Checkpoint.open(dir);
    try {
      expect([...ck.readFloat32('a')]).toEqual([1, 2]);
      expect([...ck.readFloat32('b')]).toEqual([3]);
    } finally {
      ck.close();
    }
    expect(weightFiles(dir)).toEqual(['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  });
});

describe('safetensors header nesting', () => {
  it('a header of 100k nested arrays is refused with one line, not a stack overflow', () => {
    const file = path.join(dir, 'deep.safetensors');
    writeRawFile(file, '['.repeat(100_000) + ']'.repeat(100_000));
    expectFailure(() => SafetensorsFile.open(file), SafetensorsError, file, /^[^:]+: header: JSON nested deeper than 64 levels at line 1, column 65$/);
  });

  it('a tensor entry nested deep inside an object is refused the same way', () => {
    const file = path.join(dir, 'deep.safetensors');
    writeRawFile(file, `{"t": {"dtype": "F32", "shape": ${'['.repeat(100_000)}${']'.repeat(100_000)}, "data_offsets": [0, 0]}}`);
    expectFailure(() => SafetensorsFile.open(file), SafetensorsError, file, /header: JSON nested deeper than 64 levels at line 1, column \d+$/);
  });
});
