import {describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../helpers/shared.js';

describe.runIf(HAVE_SHARED)('hire generate', () => {
  it('prints the reference greedy text for llama2xs', () => {
    const ref = readLlama2xsReference();
    const r = runCli(['generate', LLAMA2XS_DIR, '--prompt', ref.prompt, '--max-tokens', '64', '--temperature', '0']);
    expect(r.code).toBe(0);
    // 64 generated tokens cover the reference text up to the last few tokens.
    const shown = r.stdout.trimEnd();
    expect(shown.length).toBeGreaterThan(150);
    expect(ref.greedy_text.startsWith(shown)).toBe(true);
    expect(r.stderr).toMatch(/generated 64 tok/);
  });

  it('is reproducible for a seed, and --json carries ids and stats', () => {
    const args = ['generate', LLAMA2XS_DIR, '--prompt', 'Once upon a time', '--max-tokens', '20', '--seed', '7', '--json'];
    const a = JSON.parse(runCli(args).stdout);
    const b = JSON.parse(runCli(args).stdout);
    expect(a.tokenIds).toEqual(b.tokenIds);
    expect(a.tokenIds.length).toBeGreaterThan(0);
    expect(a.promptTokenIds).toEqual([1, 403, 407, 261, 378]);
    expect(a.stats.promptTokens).toBe(5);
    const c = JSON.parse(runCli([...args.slice(0, -3), '--seed', '8', '--json']).stdout);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
  });

  it('accepts token ids directly with --tokens', () => {
    const r = runCli(['generate', LLAMA2XS_DIR, '--tokens', '1,403,407,261,378', '--max-tokens', '8', '--temperature', '0', '--json']);
    expect(r.code).toBe(0);
    const ref = readLlama2xsReference();
    expect(JSON.parse(r.stdout).tokenIds).toEqual(ref.greedy_token_ids.slice(5, 13));
  });

  it('rejects bad sampling flags with a usage error (exit 2), no stack trace', () => {
    const r = runCli(['generate', LLAMA2XS_DIR, '--prompt', 'x', '--temperature', '-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hire: .*temperature/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects a token id outside the vocabulary', () => {
    const r = runCli(['generate', LLAMA2XS_DIR, '--tokens', '1,99999']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/99999 is outside the vocabulary/);
  });
});

describe('hire generate without a model', () => {
  it('names the missing directory', () => {
    const r = runCli(['generate', '/nonexistent/model', '--prompt', 'hi']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('hire: /nonexistent/model: no such file or directory\n');
  });
});
