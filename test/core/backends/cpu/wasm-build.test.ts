import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {describe, expect, it} from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('kernels-wasm.ts', () => {
  it('matches a fresh assembly of kernels.wat (run node scripts/build-wasm.mjs if not)', () => {
    expect(() =>
      execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], {cwd: root, stdio: 'pipe'}),
    ).not.toThrow();
  });
});
