import fs from 'node:fs';
import path from 'node:path';

import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {IoError, SafetensorsError} from '../../../../../src/core/errors.js';
import {SafetensorsFile, writeSafetensors, type TensorData} from '../../../../../src/core/model/formats/safetensors/index.js';
import {expectFailure, makeTempDir, tempLeftovers} from './fixtures.js';

let dir: string;
let cleanup: () => void;
let file: string;
let original: Buffer;
beforeEach(() => {
  ({dir, cleanup} = makeTempDir());
  file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, {keep: {dtype: 'F32', shape: [2], data: new Float32Array([1, 2])}}, {v: '1'});
  original = fs.readFileSync(file);
});
afterEach(() => cleanup());

/** The earlier file is byte-for-byte intact and still opens; no temp file is left. */
function expectOriginalIntact(): void {
  expect(fs.readFileSync(file).equals(original)).toBe(true);
  const f = SafetensorsFile.open(file);
  expect([...f.readFloat32('keep')]).toEqual([1, 2]);
  f.close();
  expect(tempLeftovers(dir)).toEqual([]);
}

describe('atomic write', () => {
  it('leaves no temp file after a successful write, and replaces the target', () => {
    writeSafetensors(file, {other: {dtype: 'I8', shape: [1], data: new Int8Array([5])}});
    expect(tempLeftovers(dir)).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    const f = SafetensorsFile.open(file);
    expect(f.names()).toEqual(['other']);
    f.close();
  });

  it('rejects data whose size disagrees with the shape, leaving the old file intact', () => {
    const bad: Record<string, TensorData> = {
      a: {dtype: 'F32', shape: [2], data: new Float32Array([1, 2])},
      b: {dtype: 'F32', shape: [2, 3], data: new Float32Array(5)},
    };
    expectFailure(
      () => writeSafetensors(file, bad),
      SafetensorsError,
      file,
      /tensor "b" has shape \[2, 3\] and dtype F32, which needs 24 bytes, but its data holds 20 bytes/,
    );
    expectOriginalIntact();
  });

  it('rejects other invalid input before touching the disk', () => {
    const cases: Array<[Record<string, unknown>, RegExp, Record<string, unknown>?]> = [
      [{t: {dtype: 'F8', shape: [1], data: new Uint8Array(1)}}, /tensor "t" has unknown dtype string "F8"/],
      [{t: {dtype: 'U8', shape: [-1], data: new Uint8Array(0)}}, /tensor "t" shape must be a list of non-negative integers/],
      [{t: {dtype: 'U8', shape: [1], data: [1]}}, /tensor "t" data must be a typed array or DataView/],
      [{__metadata__: {dtype: 'U8', shape: [1], data: new Uint8Array(1)}}, /__metadata__ is reserved/],
      [{t: {dtype: 'U8', shape: [1], data: new Uint8Array(1)}}, /metadata must map strings to strings, but key "n" holds number 1/, {n: 1}],
    ];
    for (const [tensors, pattern, meta] of cases) {
      expectFailure(
        () => writeSafetensors(file, tensors as Record<string, TensorData>, meta as Record<string, string>),
        SafetensorsError,
        file,
        pattern,
      );
    }
    expectOriginalIntact();
  });

  it('removes the half-written temp file when a tensor fails mid-write', () => {
    const big = new Float32Array(1 << 16).fill(3);
    const failing = new Uint8Array(4);
    Object.defineProperty(failing, 'buffer', {
      get() {
        throw new Error('device lost while copying weights');
      },
    });
    expect(() =>
      writeSafetensors(file, {
        first: {dtype: 'F32', shape: [1 << 16], data: big},
        second: {dtype: 'U8', shape: [4], data: failing},
      }),
    ).toThrow('device lost while copying weights');
    expectOriginalIntact();
  });

  it('removes the temp file when the final rename fails', () => {
    const target = path.join(dir, 'is-a-directory');
    fs.mkdirSync(path.join(target, 'inside'), {recursive: true});
    expectFailure(
      () => writeSafetensors(target, {t: {dtype: 'U8', shape: [1], data: new Uint8Array([1])}}),
      IoError,
      target,
      /cannot write: .*\((EISDIR|ENOTEMPTY|EEXIST)\)/,
    );
    expectOriginalIntact();
    expect(fs.statSync(target).isDirectory()).toBe(true);
  });

  it('reports a missing directory as an IoError', () => {
    const target = path.join(dir, 'no-such-dir', 'm.safetensors');
    expectFailure(
      () => writeSafetensors(target, {t: {dtype: 'U8', shape: [1], data: new Uint8Array([1])}}),
      IoError,
      target,
      /cannot write: no such file or directory \(ENOENT\)/,
    );
  });
});
