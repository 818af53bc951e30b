import fs from 'node:fs';
import path from 'node:path';

import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {IoError, SafetensorsError} from '../../../../../src/core/errors.js';
import {
  DTYPE_BYTES,
  SafetensorsFile,
  float32Tensor,
  writeSafetensors,
  type Dtype,
  type TensorData,
} from '../../../../../src/core/model/formats/safetensors/index.js';
import {readFully} from '../../../../../src/core/model/formats/safetensors/file.js';
import {expectFailure, makeTempDir} from './fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({dir, cleanup} = makeTempDir()));
afterEach(() => cleanup());

/** One tensor per dtype, with values that exercise sign, extremes and odd sizes. */
function everyDtype(): Record<string, TensorData> {
  return {
    'f64.weight': {dtype: 'F64', shape: [2, 2], data: new Float64Array([1.5, -1e300, Number.MIN_VALUE, Math.PI])},
    'f32.weight': {dtype: 'F32', shape: [3], data: new Float32Array([0.1, -0, 3.4e38])},
    'f16.weight': {dtype: 'F16', shape: [1, 3], data: new Uint16Array([0x3c00, 0xc100, 0x0001])},
    'bf16.weight': {dtype: 'BF16', shape: [3, 1], data: new Uint16Array([0x3f80, 0xc020, 0x7f7f])},
    'i64.ids': {dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 12345678901234n])},
    'i32.ids': {dtype: 'I32', shape: [3], data: new Int32Array([-2147483648, 0, 2147483647])},
    'i16.ids': {dtype: 'I16', shape: [1], data: new Int16Array([-12345])},
    'i8.q': {dtype: 'I8', shape: [5], data: new Int8Array([-128, -1, 0, 1, 127])},
    'u8.q': {dtype: 'U8', shape: [2, 1, 1], data: new Uint8Array([0, 255])},
    'bool.mask': {dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1])},
    'scalar.f32': {dtype: 'F32', shape: [], data: new Float32Array([42.5])},
    'scalar.i8': {dtype: 'I8', shape: [], data: new Int8Array([-3])},
    'empty.f32': {dtype: 'F32', shape: [0, 4], data: new Float32Array(0)},
  };
}

function bytesOf(v: ArrayBufferView): number[] {
  return [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];
}

describe('round trip', () => {
  it('keeps every dtype, shape, value, scalar and the metadata', () => {
    const file = path.join(dir, 'all.safetensors');
    const tensors = everyDtype();
    writeSafetensors(file, tensors, {format: 'pt', note: 'héllo "quoted"'});
    const f = SafetensorsFile.open(file);
    try {
      expect(f.names()).toEqual(Object.keys(tensors)); // header keeps insertion order
      expect(f.metadata).toEqual({format: 'pt', note: 'héllo "quoted"'});
      for (const [name, t] of Object.entries(tensors)) {
        const info = f.info(name);
        expect(info.dtype, name).toBe(t.dtype);
        expect(info.shape, name).toEqual(t.shape);
        expect(info.byteLength, name).toBe(t.data.byteLength);
        expect(info.file).toBe(file);
        expect(info.byteOffset % DTYPE_BYTES[t.dtype], `${name} naturally aligned`).toBe(0);
        expect(bytesOf(f.readBytes(name)), name).toEqual(bytesOf(t.data));
      }
      expect([...f.readTyped('i64.ids', 'I64')]).toEqual([-(2n ** 62n), 12345678901234n]);
      expect([...f.readTyped('i32.ids')]).toEqual([-2147483648, 0, 2147483647]);
      expect([...f.readFloat32('f64.weight')]).toEqual([1.5, -Infinity, 0, Math.fround(Math.PI)]);
      expect([...f.readFloat32('f32.weight')]).toEqual([Math.fround(0.1), -0, Math.fround(3.4e38)]);
      expect([...f.readFloat32('f16.weight')]).toEqual([1, -2.5, 2 ** -24]);
      expect([...f.readFloat32('bf16.weight')]).toEqual([1, -2.5, 3.3895313892515355e38]);
      expect([...f.readFloat32('i8.q')]).toEqual([-128, -1, 0, 1, 127]);
      expect([...f.readFloat32('scalar.f32')]).toEqual([42.5]);
      expect(f.info('scalar.i8').shape).toEqual([]);
      expect(f.readFloat32('empty.f32').length).toBe(0);
    } finally {
      f.close();
    }
  });

  it('lays the file out as the reference implementation expects', () => {
    const file = path.join(dir, 'layout.safetensors');
    writeSafetensors(file, {
      a16: {dtype: 'F16', shape: [3], data: new Uint16Array([1, 2, 3])},
      b32: {dtype: 'F32', shape: [1], data: new Float32Array([1])},
      c8: {dtype: 'U8', shape: [1], data: new Uint8Array([9])},
      d64: {dtype: 'I64', shape: [1], data: new BigInt64Array([5n])},
    });
    const raw = fs.readFileSync(file);
    const n = Number(raw.readBigUInt64LE(0));
    expect(n % 8).toBe(0); // data section starts 8-byte aligned
    const text = raw.subarray(8, 8 + n).toString('utf8');
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/); // padded with spaces only
    const header = JSON.parse(text) as Record<string, {data_offsets: [number, number]}>;
    // Widest first, no gaps, ending exactly at the end of the file.
    expect(header['d64']!.data_offsets).toEqual([0, 8]);
    expect(header['b32']!.data_offsets).toEqual([8, 12]);
    expect(header['a16']!.data_offsets).toEqual([12, 18]);
    expect(header['c8']!.data_offsets).toEqual([18, 19]);
    expect(raw.length).toBe(8 + n + 19);
    expect(Object.keys(header)).toEqual(['a16', 'b32', 'c8', 'd64']);
  });

  it('keeps integer-like tensor names in insertion order and accepts a Map', () => {
    const file = path.join(dir, 'map.safetensors');
    const m = new Map<string, TensorData>([
      ['z', {dtype: 'U8', shape: [1], data: new Uint8Array([1])}],
      ['10', {dtype: 'U8', shape: [1], data: new Uint8Array([2])}],
      ['2', {dtype: 'U8', shape: [1], data: new Uint8Array([3])}],
    ]);
    writeSafetensors(file, m);
    const raw = fs.readFileSync(file);
    const text = raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString();
    expect(text.indexOf('"z"')).toBeLessThan(text.indexOf('"10"'));
    expect(text.indexOf('"10"')).toBeLessThan(text.indexOf('"2"'));
    expect(text).not.toContain('__metadata__'); // none given, none written
    const f = SafetensorsFile.open(file);
    expect([...f.readBytes('2')]).toEqual([3]);
    expect(f.metadata).toEqual({});
    f.close();
  });

  it('float32Tensor stores each float dtype, halves rounded to nearest even', () => {
    const file = path.join(dir, 'floats.safetensors');
    const values = new Float32Array([1, -2.5, 1 + 2 ** -11, 70000]);
    const dtypes: Dtype[] = ['F64', 'F32', 'F16', 'BF16'];
    const tensors: Record<string, TensorData> = {};
    for (const d of dtypes) tensors[d] = float32Tensor(d as 'F64', [4], values);
    writeSafetensors(file, tensors);
    const f = SafetensorsFile.open(file);
    expect([...f.readFloat32('F64')]).toEqual([...values]);
    expect([...f.readFloat32('F32')]).toEqual([...values]);
    expect([...f.readFloat32('F16')]).toEqual([1, -2.5, 1, Infinity]);
    expect([...f.readFloat32('BF16')]).toEqual([1, -2.5, 1, 70144]);
    f.close();
  });
});

describe('readBytes', () => {
  it('fills exactly a window of a SharedArrayBuffer at a non-zero offset', () => {
    const file = path.join(dir, 'w.safetensors');
    const values = new Float32Array([1, 2, 3, 4, 5, 6]);
    writeSafetensors(file, {
      other: {dtype: 'U8', shape: [3], data: new Uint8Array([7, 7, 7])},
      w: {dtype: 'F32', shape: [2, 3], data: values},
    });
    const sab = new SharedArrayBuffer(64);
    new Uint8Array(sab).fill(0xaa);
    const window = new Uint8Array(sab, 12, 24);
    const f = SafetensorsFile.open(file);
    const got = f.readBytes('w', window);
    f.close();
    expect(got).toBe(window);
    const all = new Uint8Array(sab);
    expect([...all.subarray(0, 12)]).toEqual(new Array(12).fill(0xaa));
    expect([...all.subarray(36)]).toEqual(new Array(28).fill(0xaa));
    expect([...new Float32Array(sab, 12, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads into WebAssembly memory', () => {
    const file = path.join(dir, 'wasm.safetensors');
    writeSafetensors(file, {t: {dtype: 'I32', shape: [2], data: new Int32Array([-1, 99])}});
    // lib ES2022 has no WebAssembly types; the runtime has it.
    const wasm = (globalThis as unknown as {WebAssembly: {Memory: new (d: {initial: number}) => {buffer: ArrayBuffer}}}).WebAssembly;
    const memory = new wasm.Memory({initial: 1});
    const f = SafetensorsFile.open(file);
    f.readBytes('t', new Uint8Array(memory.buffer, 1024, 8));
    f.close();
    expect([...new Int32Array(memory.buffer, 1024, 2)]).toEqual([-1, 99]);
  });

  it('rejects a buffer of the wrong size and a closed file', () => {
    const file = path.join(dir, 'x.safetensors');
    writeSafetensors(file, {t: {dtype: 'F32', shape: [2], data: new Float32Array([1, 2])}});
    const f = SafetensorsFile.open(file);
    expect(() => f.readBytes('t', new Uint8Array(7))).toThrow(/buffer of 7 bytes given for tensor "t", which holds 8 bytes/);
    expect(() => f.readTyped('t', 'F16')).toThrow(/tensor "t" is F32, not F16/);
    f.close();
    f.close(); // harmless twice
    expectFailure(() => f.readBytes('t'), IoError, file, /file is closed/);
  });

  it('names the file and the tensor when the tensor is missing', () => {
    const file = path.join(dir, 'm.safetensors');
    writeSafetensors(file, {present: {dtype: 'U8', shape: [1], data: new Uint8Array([1])}});
    const f = SafetensorsFile.open(file);
    expect(f.has('absent')).toBe(false);
    expectFailure(() => f.readBytes('absent'), SafetensorsError, file, /no tensor named "absent" \(it holds 1: "present"\)/);
    expectFailure(() => f.readFloat32('absent'), SafetensorsError, file, /"absent"/);
    f.close();
  });

  it('readFully assembles a read from many short reads', () => {
    const file = path.join(dir, 'chunks.bin');
    const content = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
    fs.writeFileSync(file, content);
    const fd = fs.openSync(file, 'r');
    try {
      const into = new Uint8Array(new SharedArrayBuffer(1100), 50, 990);
      readFully(file, fd, into, 10, 't', 7); // 142 reads of at most 7 bytes
      expect([...into]).toEqual([...content.subarray(10)]);
      const pastEnd = () => readFully(file, fd, new Uint8Array(20), 990, 't', 3);
      expectFailure(pastEnd, SafetensorsError, file, /file ended after 10 of 20 bytes of tensor "t" at byte 990/);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reports a file truncated after it was opened', () => {
    const file = path.join(dir, 't.safetensors');
    writeSafetensors(file, {t: {dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4])}});
    const f = SafetensorsFile.open(file);
    fs.truncateSync(file, fs.statSync(file).size - 6);
    expectFailure(() => f.readBytes('t'), SafetensorsError, file, /file ended after 10 of 16 bytes of tensor "t"/);
    f.close();
  });
});
