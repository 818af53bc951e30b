/**
 * Helpers for tests that read or break HiRE bundles: copies of the demo bundle, hire.json edits,
 * and byte-level edits of safetensors files that keep the file's size (tensor values changed in
 * place). Every edit writes a new file (never in place), so a hard link could not leak an edit.
 */
import fs from 'node:fs';
import path from 'node:path';
import {parseModelConfig} from '../../src/core/model/architectures/index.js';
import {readConfigJson, type ModelConfig} from '../../src/core/model/config.js';
import {DEMO_BUNDLE_DIR} from '../../src/core/model/defaults.js';

/** The parsed config.json of a model directory or bundle (what hire.json is checked against). */
export function configOf(dir: string): ModelConfig {
  return parseModelConfig(readConfigJson(dir)).config;
}

/** A full copy (no links) of the demo bundle at `dir`. */
export function copyDemoBundle(dir: string): string {
  fs.cpSync(DEMO_BUNDLE_DIR, dir, {recursive: true});
  return dir;
}

/** Replaces a file with new contents (a new inode: a hard link elsewhere keeps the old bytes). */
export function rewrite(file: string, data: string | Uint8Array): void {
  fs.rmSync(file, {force: true});
  fs.writeFileSync(file, data);
}

export function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Edits hire.json of `dir` through `edit`, which changes the parsed object in place. */
export function editManifest(dir: string, edit: (m: any) => void): void {
  const file = path.join(dir, 'hire.json');
  const m = readJson(file);
  edit(m);
  rewrite(file, `${JSON.stringify(m, null, 2)}\n`);
}

/** Where each tensor's bytes lie in a safetensors file: name -> {dtype, shape, start, end} (absolute offsets). */
export function tensorLayout(bytes: Uint8Array): Map<string, {dtype: string; shape: number[]; start: number; end: number}> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, {dtype: string; shape: number[]; data_offsets: [number, number]}>;
  const out = new Map<string, {dtype: string; shape: number[]; start: number; end: number}>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, {dtype: t.dtype, shape: t.shape, start: 8 + n + t.data_offsets[0], end: 8 + n + t.data_offsets[1]});
  }
  return out;
}

/**
 * Changes float32 tensors of a safetensors file in place (same size, same header): `edit` gets
 * each named tensor's values and its shape and changes the values.
 */
export function editF32Tensors(file: string, names: string[], edit: (values: Float32Array, shape: number[], name: string) => void): void {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const layout = tensorLayout(bytes);
  for (const name of names) {
    const t = layout.get(name);
    if (!t || t.dtype !== 'F32') throw new Error(`test setup: no F32 tensor ${name} in ${file}`);
    const values = new Float32Array(bytes.slice(t.start, t.end).buffer);
    edit(values, t.shape, name);
    bytes.set(new Uint8Array(values.buffer), t.start);
  }
  rewrite(file, bytes);
}

/** Reverses the order of the rows of a [rows, cols] matrix, in place. */
export function reverseRows(values: Float32Array, shape: number[]): void {
  const [rows, cols] = shape as [number, number];
  const copy = values.slice();
  for (let r = 0; r < rows; r++) values.set(copy.subarray((rows - 1 - r) * cols, (rows - r) * cols), r * cols);
}

/** Every file under `dir` with its size and modification time, sorted (to show nothing was written). */
export function listing(dir: string): string[] {
  return (fs.readdirSync(dir, {recursive: true}) as string[])
    .map((f) => {
      const st = fs.statSync(path.join(dir, f));
      return `${f} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`;
    })
    .sort();
}
