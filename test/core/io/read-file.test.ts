/**
 * The one reader of input files: regular files only (symlinks followed), never blocking on a FIFO,
 * a size cap per kind named in the error, and JSON errors that give a position but no file text.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {ConfigError} from '../../../src/core/errors.js';
import {findJsonProblem} from '../../../src/core/io/json-syntax.js';
import {checkPlainFileName, plainFileNameProblem} from '../../../src/core/io/plain-name.js';
import {
  CONFIG_JSON,
  MANIFEST_JSON,
  MAX_JSON_DEPTH,
  TOKENIZER_JSON,
  parseJson,
  readBoundedFile,
  readJsonFile,
  type InputKind,
} from '../../../src/core/io/read-file.js';
import {caught} from '../../helpers/caught.js';

const HAVE_DEV_ZERO = fs.existsSync('/dev/zero');
const CAN_MKFIFO = process.platform !== 'win32';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-read-file-'));
});
afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

const configError = (file: string, problem: string, options?: {cause?: unknown}) => new ConfigError(file, problem, options);

function write(name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('readBoundedFile', () => {
  it('reads a regular file and a symlink to one, inside or outside the directory', () => {
    const file = write('a.json', '{"x": 1}');
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-read-file-outside-'));
    try {
      fs.writeFileSync(path.join(outside, 'blob'), '{"y": 2}');
      fs.symlinkSync('a.json', path.join(dir, 'inside-link.json'));
      fs.symlinkSync(path.join(outside, 'blob'), path.join(dir, 'outside-link.json'));
      expect(readJsonFile(file, CONFIG_JSON, configError)).toEqual({x: 1});
      expect(readJsonFile(path.join(dir, 'inside-link.json'), CONFIG_JSON, configError)).toEqual({x: 1});
      expect(readJsonFile(path.join(dir, 'outside-link.json'), CONFIG_JSON, configError)).toEqual({y: 2});
    } finally {
      fs.rmSync(outside, {recursive: true, force: true});
    }
  });

  it('refuses a file over the cap, naming the cap and the size, before reading it', () => {
    const kind: InputKind = {label: 'test files', maxBytes: 10};
    const file = write('big.txt', 'x'.repeat(11));
    const error = caught(() => readBoundedFile(file, kind, configError));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`${file}: is 11 bytes, over the 10 bytes limit for test files`);
    expect(readBoundedFile(write('ok.txt', 'x'.repeat(10)), kind, configError).toString()).toBe('x'.repeat(10));
  });

  it('names the cap of a sparse file far over it (a config.json of 3 GiB)', () => {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 3 * 1024 ** 3);
    expect(caught(() => readJsonFile(file, CONFIG_JSON, configError)).message).toBe(
      `${file}: is 3 GiB (3221225472 bytes), over the 1 MiB limit for config files`,
    );
  });

  it.runIf(HAVE_DEV_ZERO)('refuses a symlink to /dev/zero at once: a device is not a regular file', () => {
    for (const kind of [CONFIG_JSON, TOKENIZER_JSON, MANIFEST_JSON]) {
      const link = path.join(dir, `zero-${kind.maxBytes}`);
      fs.symlinkSync('/dev/zero', link);
      const error = caught(() => readJsonFile(link, kind, configError));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(`${link}: is not a regular file (it is a character device)`);
    }
  });

  it.runIf(CAN_MKFIFO)('refuses a FIFO without waiting for a writer', () => {
    const fifo = path.join(dir, 'config.json');
    execFileSync('mkfifo', [fifo]);
    expect(caught(() => readBoundedFile(fifo, CONFIG_JSON, configError)).message).toBe(
      `${fifo}: is not a regular file (it is a named pipe (FIFO))`,
    );
  });

  it('refuses a directory and names a missing file with its system reason', () => {
    expect(caught(() => readBoundedFile(dir, CONFIG_JSON, configError)).message).toBe(`${dir}: is not a regular file (it is a directory)`);
    const missing = path.join(dir, 'nope.json');
    expect(caught(() => readBoundedFile(missing, CONFIG_JSON, configError)).message).toBe(
      `${missing}: cannot open: no such file or directory (ENOENT)`,
    );
  });
});

describe('JSON errors name a position, never the text', () => {
  it('a syntax error in a file whose first line looks like a secret', () => {
    const file = write('config.json', 'root:$6$s3cr3tSALT$hashhashhash:19000:0:99999:7:::\n{"a": 1}\n');
    const error = caught(() => readJsonFile(file, CONFIG_JSON, configError));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`${file}: invalid JSON at line 1, column 1 (expected a value)`);
    expect(error.message).not.toContain('s3cr3t');
    expect(error.message).not.toContain('root');
  });

  it('line and column of an error further in', () => {
    const file = write('config.json', '{\n  "password": "hunter2",\n  "b": tru\n}');
    const error = caught(() => readJsonFile(file, CONFIG_JSON, configError));
    expect(error.message).toBe(`${file}: invalid JSON at line 3, column 8 (expected a value)`);
    expect(error.message).not.toContain('hunter2');
  });

  it(`nesting deeper than ${MAX_JSON_DEPTH} levels is refused without a stack overflow`, () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const fail = (problem: string) => new Error(problem);
    expect(caught(() => parseJson(deep, fail)).message).toBe(`JSON nested deeper than ${MAX_JSON_DEPTH} levels at line 1, column ${MAX_JSON_DEPTH + 1}`);
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(JSON.stringify(parseJson(ok, fail))).toBe(ok);
    // Brackets inside strings do not count.
    expect(parseJson(`{"a": "${'['.repeat(1000)}"}`, fail)).toEqual({a: '['.repeat(1000)});
  });
});

describe('findJsonProblem accepts exactly what JSON.parse accepts', () => {
  const valid = [
    '{}', '[]', '0', '-0', '1.5e+10', '-2E-3', '"a\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9"', 'true', 'false', 'null',
    ' \t\r\n{"a": [1, {"b": null}], "c": "\u{1F600}\ud800"} \n', '[[[]], {}]',
  ];
  const invalid = [
    '', ' ', '{', '[1,]', '{"a":1,}', '{"a" 1}', '{a: 1}', "{'a': 1}", '01', '1.', '.5', '+1', '1e', '-', '--1',
    '"abc', '"a\tb"', '"\\x"', '"\\u12G4"', 'tru', 'nul', 'True', 'NaN', 'Infinity', '[1 2]', '{} {}', '{}x',
    '\ufeff{}', '[1,,2]', '{"a":1 "b":2}', '{,}', '[,]',
  ];
  it.each(valid)('valid: %j', (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(findJsonProblem(text, MAX_JSON_DEPTH)).toBeNull();
  });
  it.each(invalid)('invalid: %j', (text) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(findJsonProblem(text, MAX_JSON_DEPTH)).not.toBeNull();
  });
});

describe('plain file names', () => {
  it('accepts single names, refuses anything that could leave the directory', () => {
    for (const ok of ['model-00001-of-00002.safetensors', 'a..b', '..hidden', 'x y.safetensors']) expect(plainFileNameProblem(ok)).toBeNull();
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['.', /names a directory/],
      ['..', /names a directory/],
      ['../victim.txt', /path separator/],
      ['a/../../b', /path separator/],
      ['sub/model.safetensors', /path separator/],
      ['/etc/passwd', /absolute path/],
      ['..\\victim.txt', /path separator/],
      ['C:model.safetensors', /drive letter/],
      ['a\0b', /NUL/],
    ];
    for (const [name, pattern] of cases) expect(plainFileNameProblem(name), name).toMatch(pattern);
  });

  it('throws the caller\'s error naming the file, the entry and the name', () => {
    const error = caught(() => checkPlainFileName('../victim.txt', '/m/index.json', 'weight_map entry "w"', configError));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      '/m/index.json: weight_map entry "w" names the file "../victim.txt", which must be a plain file name in the same directory (it has a path separator; only a file beside it is allowed)',
    );
  });
});
