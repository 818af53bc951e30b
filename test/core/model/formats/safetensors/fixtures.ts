/** Helpers shared by the safetensors tests: temp dirs and hand-built (possibly broken) files. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {expect} from 'vitest';

import {HireError} from '../../../../../src/core/errors.js';

export {PROJECT_ROOT as projectRoot, SHARED_DIR as sharedDir} from '../../../../helpers/shared.js';

/** A fresh temp directory; call the returned cleanup in afterEach. */
export function makeTempDir(): {dir: string; cleanup: () => void} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-safetensors-'));
  return {dir, cleanup: () => fs.rmSync(dir, {recursive: true, force: true})};
}

/**
 * Writes a safetensors file by hand: u64 header length, header text, data. `header` may be an
 * object (JSON-encoded) or raw text; `declaredLength` overrides the length field.
 */
export function writeRawFile(
  file: string,
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  declaredLength?: bigint,
): void {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(text);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, declaredLength ?? BigInt(headerBytes.byteLength), true);
  fs.writeFileSync(file, Buffer.concat([len, headerBytes, data]));
}

/** Runs `fn`, expects an error of `cls` whose message starts with `file + ': '` and matches `pattern`. */
export function expectFailure(
  fn: () => unknown,
  cls: new (...args: never[]) => HireError,
  file: string,
  pattern: RegExp,
): HireError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a throw').toBeInstanceOf(cls);
  const err = caught as HireError;
  expect(err.message.startsWith(`${file}: `), err.message).toBe(true);
  expect(err.message).toMatch(pattern);
  expect(err.message).not.toContain('\n');
  return err;
}

/** Files in `dir` whose name contains `.tmp-` (left-over temporaries of an atomic write). */
export function tempLeftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));
}
