/**
 * The error classes are part of the API: each is exported, is a HireError, has a stable `code`
 * that no other class uses, and is listed in the table at the top of src/core/errors.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import * as api from '../../src/index.js';
import {PROJECT_ROOT} from '../helpers/shared.js';

const instances: Array<[string, api.HireError]> = [
  ['E_USAGE', new api.UsageError('m')],
  ['E_SAFETENSORS', new api.SafetensorsError('f', 'm')],
  ['E_GGUF', new api.GgufError('f', 'm')],
  ['E_CONFIG', new api.ConfigError('f', 'm')],
  ['E_ARCHITECTURE', new api.UnsupportedArchitectureError('f', 'X', ['Y'])],
  ['E_WEIGHTS', new api.WeightError('f', 'm')],
  ['E_TOKENIZER', new api.TokenizerError('f', 'm')],
  ['E_BACKEND', new api.BackendError('m')],
  ['E_BUNDLE', new api.BundleError('f', 'm')],
  ['E_DATA', new api.DataError('f', 'm')],
  ['E_IO', new api.IoError('p', 'm')],
  ['E_ABORTED', new api.AbortError('generation')],
  ['E_DISPOSED', new api.DisposedError('model')],
  ['E_HUB', new api.HubError('org/name', 'm')],
  ['E_OVERLOADED', new api.OverloadedError('queue_full', 'm', 1)],
];

describe('error classes', () => {
  it('every exported error class has its own stable code and name', () => {
    const exported = Object.entries(api).filter(([, v]) => typeof v === 'function' && (v === api.HireError || v.prototype instanceof api.HireError));
    expect(exported.map(([k]) => k).sort()).toEqual(['HireError', ...instances.map(([, e]) => e.name)].sort());
    for (const [code, e] of instances) {
      expect(e).toBeInstanceOf(api.HireError);
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe(code);
      expect(e.name).toBe(e.constructor.name);
    }
    expect(new Set(instances.map(([c]) => c)).size).toBe(instances.length);
    expect(new api.UsageError('m').exitCode).toBe(2);
    expect(new api.AbortError('generation').name).toBe('AbortError'); // as the platform's aborts
  });

  it('the table in src/core/errors.ts documents every code and class', () => {
    const doc = fs.readFileSync(path.join(PROJECT_ROOT, 'src/core/errors.ts'), 'utf8');
    for (const [code, e] of instances) expect(doc).toMatch(new RegExp(`\\*\\s+${code}\\s+${e.name}\\s`));
  });

  it('the README lists every code', () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    for (const [code] of instances) expect(readme).toContain(`\`${code}\``);
  });
});
