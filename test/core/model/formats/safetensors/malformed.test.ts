import fs from 'node:fs';
import path from 'node:path';

import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {IoError, SafetensorsError} from '../../../../../src/core/errors.js';
import {SafetensorsFile} from '../../../../../src/core/model/formats/safetensors/index.js';
import {expectFailure, makeTempDir, writeRawFile} from './fixtures.js';

let dir: string;
let cleanup: () => void;
let file: string;
beforeEach(() => {
  ({dir, cleanup} = makeTempDir());
  file = path.join(dir, 'bad.safetensors');
});
afterEach(() => cleanup());

const rejects = (pattern: RegExp) => expectFailure(() => SafetensorsFile.open(file), SafetensorsError, file, pattern);

const f32 = (shape: number[], begin: number, end: number) => ({dtype: 'F32', shape, data_offsets: [begin, end]});

describe('malformed files are rejected with a message naming the problem', () => {
  it('a file too short for the length field', () => {
    fs.writeFileSync(file, Buffer.from([1, 2, 3, 4, 5]));
    rejects(/file is 5 bytes, too short to hold the 8-byte header length/);
  });

  it('a truncated file: header cut short', () => {
    writeRawFile(file, {t: f32([2], 0, 8)}, new Uint8Array(8));
    const full = fs.readFileSync(file);
    fs.writeFileSync(file, full.subarray(0, 20));
    rejects(/header length \d+ runs past the end of the file \(20 bytes\)/);
  });

  it('a truncated file: data section cut short', () => {
    writeRawFile(file, {t: f32([4], 0, 16)}, new Uint8Array(10));
    rejects(/tensor "t" data_offsets \[0, 16\] run past the end of the data section \(10 bytes\)/);
  });

  it('a header length past the end of the file', () => {
    writeRawFile(file, '{}', new Uint8Array(3990), 123456n);
    rejects(/^[^:]+: header length 123456 runs past the end of the file \(4000 bytes\)/);
  });

  it('a header length over the 100 MB limit', () => {
    writeRawFile(file, '{}', new Uint8Array(0), 2n ** 63n);
    rejects(/header length 9223372036854775808 exceeds the 100000000-byte limit/);
  });

  it('invalid JSON', () => {
    writeRawFile(file, '{"t": {"dtype": "F32",');
    rejects(/header: invalid JSON at line 1, column 23 \(expected a property name in double quotes, but the text ends\)$/);
  });

  it('invalid UTF-8', () => {
    fs.writeFileSync(file, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0xff, 0xfe])]));
    rejects(/header is not valid UTF-8/);
  });

  it('a header that is not an object', () => {
    writeRawFile(file, '[1, 2]');
    rejects(/header must be a JSON object, found an array \[1,2\]/);
    writeRawFile(file, 'null');
    rejects(/header must be a JSON object, found null/);
  });

  it('overlapping offsets', () => {
    writeRawFile(file, {a: f32([2], 0, 8), b: f32([2], 4, 12)}, new Uint8Array(12));
    rejects(/tensors "a" \[0, 8\] and "b" \[4, 12\] overlap in the data section/);
  });

  it('overlap is found whatever the header order', () => {
    writeRawFile(file, {z: f32([1], 8, 12), a: f32([3], 0, 12), m: f32([0], 4, 4)}, new Uint8Array(12));
    rejects(/tensors "a" \[0, 12\] and "z" \[8, 12\] overlap/);
  });

  it('out-of-range offsets', () => {
    writeRawFile(file, {t: f32([2], 8, 16)}, new Uint8Array(12));
    rejects(/tensor "t" data_offsets \[8, 16\] run past the end of the data section \(12 bytes\)/);
    writeRawFile(file, {t: f32([0], 8, 4)}, new Uint8Array(12));
    rejects(/tensor "t" data_offsets \[8, 4\] end before they begin/);
    writeRawFile(file, {t: {dtype: 'F32', shape: [1], data_offsets: [-4, 0]}}, new Uint8Array(12));
    rejects(/tensor "t" data_offsets must be two non-negative integers \[begin, end\], found an array \[-4,0\]/);
    writeRawFile(file, {t: {dtype: 'F32', shape: [1]}}, new Uint8Array(4));
    rejects(/tensor "t" data_offsets must be two non-negative integers \[begin, end\], found nothing/);
  });

  it('a shape that disagrees with the size', () => {
    writeRawFile(file, {t: f32([2, 3], 0, 20)}, new Uint8Array(24));
    rejects(/tensor "t" has shape \[2, 3\] and dtype F32, which needs 24 bytes, but its data_offsets \[0, 20\] hold 20/);
  });

  it('a shape that overflows', () => {
    writeRawFile(file, {t: f32([2 ** 30, 2 ** 30, 2 ** 30], 0, 4)}, new Uint8Array(4));
    rejects(/needs more bytes than can be addressed/);
  });

  it('a bad shape', () => {
    writeRawFile(file, {t: f32([2, 1.5], 0, 12)}, new Uint8Array(12));
    rejects(/tensor "t" shape must be a list of non-negative integers, found an array \[2,1.5\]/);
    writeRawFile(file, {t: f32([-1], 0, 0)}, new Uint8Array(0));
    rejects(/shape must be a list of non-negative integers/);
  });

  it('an unknown dtype', () => {
    writeRawFile(file, {t: {dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4]}}, new Uint8Array(4));
    rejects(/tensor "t" has unknown dtype "F8_E4M3" \(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL\)/);
  });

  it('an entry that is not an object', () => {
    writeRawFile(file, {t: 5});
    rejects(/tensor "t" must be an object with dtype, shape and data_offsets, found number 5/);
  });

  it('bad __metadata__', () => {
    writeRawFile(file, {__metadata__: {format: 'pt', n: 3}});
    rejects(/__metadata__ must map strings to strings, but key "n" holds number 3/);
    writeRawFile(file, {__metadata__: 'pt'});
    rejects(/__metadata__ must be an object of strings, found string "pt"/);
  });

  it('a missing file or a directory', () => {
    const missing = path.join(dir, 'nope.safetensors');
    expectFailure(() => SafetensorsFile.open(missing), IoError, missing, /cannot open: no such file or directory \(ENOENT\)/);
    expectFailure(() => SafetensorsFile.open(dir), IoError, dir, /is not a regular file/);
  });

  it('accepts what is valid but unusual: gaps, trailing bytes, empty tensors, no tensors', () => {
    const data = new Uint8Array(20);
    new DataView(data.buffer).setFloat32(12, 2.5, true);
    writeRawFile(file, {gap: f32([1], 12, 16), e1: f32([0], 0, 0), e2: f32([0, 3], 0, 0)}, data);
    const f = SafetensorsFile.open(file);
    expect([...f.readFloat32('gap')]).toEqual([2.5]);
    expect(f.readBytes('e2').length).toBe(0);
    f.close();
    writeRawFile(file, '{}  ');
    const g = SafetensorsFile.open(file);
    expect(g.names()).toEqual([]);
    g.close();
  });
});
