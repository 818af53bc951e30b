/**
 * webgpu and the tfjs packages are optional dependencies: a plain CPU install (npm ci
 * --omit=optional) lacks them, hire still runs on the cpu backend, and asking for a backend whose
 * package is missing gives one line naming the package and the command that installs it. The
 * missing packages are simulated with a module-resolution hook that fails to find them exactly
 * as Node does for an absent package.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {afterAll, describe, expect, it} from 'vitest';
import {BACKENDS, missingPackage} from '../../../src/core/backends/index.js';
import {SPAWN_TIMEOUT_MS} from '../../helpers/cli.js';
import {PROJECT_ROOT} from '../../helpers/shared.js';

const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
const OPTIONAL = ['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-core', 'webgpu'];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-optional-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

/** A --import hook under which the optional packages cannot be found, as when they are not installed. */
function writeHook(): string {
  const resolver = `
export async function resolve(specifier, context, next) {
  if (specifier === 'webgpu' || specifier.startsWith('@tensorflow/')) {
    const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;
  const hook = path.join(dir, 'no-optional.mjs');
  fs.writeFileSync(hook, `import {register} from 'node:module';\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(resolver)}`)});\n`);
  return hook;
}

function runWithout(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(writeHook()).href, path.join(PROJECT_ROOT, 'bin/run.js'), ...args], {
    cwd: PROJECT_ROOT,
    env: {...process.env, NO_COLOR: '1', HIRE_CACHE_DIR: dir},
    encoding: 'utf8',
    timeout: SPAWN_TIMEOUT_MS,
  });
  return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

describe('optional backend packages', () => {
  it('are optionalDependencies, and the registry names them at the versions package.json pins', () => {
    for (const name of OPTIONAL) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.optionalDependencies[name], name).toMatch(/^\d+\.\d+\.\d+$/);
    }
    const named = Object.assign({}, ...BACKENDS.map((b) => b.packages));
    expect(Object.keys(named).sort()).toEqual(OPTIONAL);
    for (const [name, version] of Object.entries(named)) expect(version, name).toBe(pkg.optionalDependencies[name]);
  });

  it('missingPackage finds Node\'s not-found error for one of the packages, also as a cause', async () => {
    const name = 'hire-test-no-such-package';
    const error = await import(name).catch((e: unknown) => e as Error);
    expect(missingPackage(error, {'hire-test-no-such-package': '1.0.0'})).toBe('hire-test-no-such-package');
    expect(missingPackage(new Error('wrapped', {cause: error}), {'hire-test-no-such-package': '1.0.0'})).toBe('hire-test-no-such-package');
    expect(missingPackage(error, {webgpu: '0.6.2'})).toBeNull();
    expect(missingPackage(new Error('tfjs failed'), {webgpu: '0.6.2'})).toBeNull();
  });

  it('without them the cpu backend still generates, and tfjs or webgpu name the missing package in one line', () => {
    const cpu = runWithout(['generate', '--tokens', '1,2,3', '-n', '3']);
    expect(cpu.stderr).not.toMatch(/Cannot find/);
    expect(cpu.code, cpu.stderr).toBe(0);
    const tfjs = runWithout(['generate', '--backend', 'tfjs', '--tokens', '1,2,3', '-n', '3']);
    expect(tfjs.code).toBe(1);
    expect(tfjs.stderr).toBe(
      'hire: the tfjs backend needs the npm package @tensorflow/tfjs-core, which is not installed (it is optional, and an install with --omit=optional leaves it out); install it with: npm install @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0\n',
    );
    const webgpu = runWithout(['generate', '--backend', 'webgpu', '--tokens', '1,2,3', '-n', '3']);
    expect(webgpu.code).toBe(1);
    expect(webgpu.stderr).toBe(
      'hire: the webgpu backend needs the npm package webgpu, which is not installed (it is optional, and an install with --omit=optional leaves it out); install it with: npm install webgpu@0.6.2\n',
    );
  });
});
