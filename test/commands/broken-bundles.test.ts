/**
 * Broken bundles through the CLI (the full corpus runs against the library in
 * test/core/hire/broken-bundles.test.ts): each command exits 1 with one line naming the file and
 * the field or tensor, and writes nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {fingerprintRanges} from '../../src/core/io/file-hash.js';
import {copyDemoBundle, editF32Tensors, editManifest, listing, reverseRows, rewrite} from '../helpers/bundles.js';
import {runCli} from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-broken-cli-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

/** Runs the CLI in `tmp` and checks: exit 1, one stderr line `hire: <file>: ...<parts>`, nothing written. */
function expectRefused(args: string[], file: string, ...parts: string[]): void {
  const before = listing(tmp);
  const r = runCli(args, {cwd: tmp});
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]!.startsWith(`hire: ${file}: `)).toBe(true);
  for (const p of parts) expect(lines[0]).toContain(p);
  expect(listing(tmp)).toEqual(before);
}

function bundle(name: string): string {
  return copyDemoBundle(path.join(tmp, `${name}.hire`));
}

describe('broken bundles on the command line', () => {
  it('inspect and generate name the bad hire.json field', () => {
    const dir = bundle('k-prime');
    editManifest(dir, (m) => (m.ffn.layers[2].kPrime['0.99'] = -3));
    const file = path.join(dir, 'hire.json');
    expectRefused(['inspect', dir], file, 'ffn.layers[2].kPrime["0.99"] must be an integer from 0 to', 'found -3');
    editManifest(dir, (m) => {
      m.ffn.layers[2].kPrime['0.99'] = 20;
      m.ffn.score = 'median';
    });
    expectRefused(['generate', dir, '--tokens', '1', '-n', '1'], file, 'ffn.score must be one of "max", "sum", found "median"');
  });

  it('generate --devices refuses a DaT slack of -7 in hire.json', () => {
    const dir = bundle('slack');
    editManifest(dir, (m) => (m.softmax.dat.entries[0].slack = -7));
    expectRefused(['generate', dir, '--tokens', '1', '-n', '1', '--devices', '2', '--merge', 'dat'], path.join(dir, 'hire.json'), 'softmax.dat.entries[0].slack', 'found -7');
  });

  it('generate names a predictor tensor holding NaN', () => {
    const dir = bundle('nan');
    editF32Tensors(path.join(dir, 'hire.safetensors'), ['softmax.quant-int4-g64.Wq.scales'], (v) => (v[2] = NaN));
    expectRefused(['generate', dir, '--tokens', '1', '-n', '1'], path.join(dir, 'hire.safetensors'), 'tensor "softmax.quant-int4-g64.Wq.scales"', 'holds NaN at element 2');
  });

  it('generate refuses re-permuted weights; --verify-weights catches one flipped byte the fingerprint does not read', () => {
    const permuted = bundle('permuted');
    editF32Tensors(path.join(permuted, 'model.safetensors'), ['model.layers.0.mlp.up_proj.weight', 'model.layers.0.mlp.gate_proj.weight', 'model.layers.0.mlp.down_proj.weight'], reverseRows);
    expectRefused(['generate', permuted, '--tokens', '1', '-n', '1'], path.join(permuted, 'model.safetensors'), 'fingerprint', 'calibrate');

    const flipped = bundle('flipped');
    const weights = path.join(flipped, 'model.safetensors');
    const bytes = new Uint8Array(fs.readFileSync(weights));
    const ranges = fingerprintRanges(bytes.length);
    const at = Math.floor((ranges[4]![1] + ranges[5]![0]) / 2);
    bytes[at] = bytes[at]! ^ 1;
    rewrite(weights, bytes);
    const ok = runCli(['inspect', flipped, '--no-tensors'], {cwd: tmp});
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/hire bundle .*hire\.json checked; weights match it \(size, fingerprint\)/);
    expectRefused(['inspect', flipped, '--verify-weights'], weights, 'sha256 differs from hire.json');
  });
});
