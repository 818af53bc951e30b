/**
 * hire quantize and GGUF files through the CLI: quantise a model directory, inspect it (formats
 * shown), generate from a GGUF file, and bad input as one line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {runCli} from '../helpers/cli.js';
import {ggufFromCheckpoint} from '../helpers/gguf-writer.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-cli-quantize-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const src = path.join(tmp, 'model');
writeSyntheticCheckpoint(src, {family: 'llama', dim: 64, nLayers: 2, nHeads: 2, hiddenDim: 96, vocabSize: 300, maxSeqLen: 64, seed: 3});

describe('hire quantize', () => {
  it('writes a q4_0 directory that inspect reports by format', () => {
    const out = path.join(tmp, 'q4');
    const r = runCli(['quantize', src, '--to', 'q4_0', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/F32 -> q4_0 \(quantised\)/);
    expect(r.stdout).toMatch(/F32 -> F32 \(copied\)/);
    expect(r.stdout).toContain(`wrote ${out}`);
    const i = runCli(['inspect', out, '--json']);
    expect(i.code, i.stderr).toBe(0);
    const report = JSON.parse(i.stdout);
    expect(Object.keys(report.bytesByDtype).sort()).toEqual(['F32', 'q4_0']);
    expect(report.tensors.find((t: {name: string}) => t.name.endsWith('q_proj.weight')).dtype).toBe('q4_0');
  });

  it('--json prints what quantize() returns', () => {
    const out = path.join(tmp, 'q8-json');
    const r = runCli(['quantize', src, '--to', 'q8_0', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.out).toBe(out);
    expect(report.formats).toEqual(['q8_0']);
    expect(report.bytes).toBeLessThan(report.sourceBytes);
  });

  it('refuses an unknown format and a missing --out with one line', () => {
    const r = runCli(['quantize', src, '--to', 'q5_0', '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const m = runCli(['quantize', path.join(tmp, 'nope'), '--to', 'q8_0', '--out', path.join(tmp, 'y')]);
    expect(m.code).toBe(1);
    expect(m.stderr.trim().split('\n')).toHaveLength(1);
    expect(m.stderr).toContain(path.join(tmp, 'nope'));
  });
});

describe('GGUF files on the command line', () => {
  const file = path.join(tmp, 'model.gguf');
  ggufFromCheckpoint(src, file, {type: 'Q8_0'});

  it('inspect reports the file, its tensors as q8_0 blocks', () => {
    const r = runCli(['inspect', file, '--json', '--no-tensors']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.files).toEqual([file]);
    expect(report.bytesByDtype.q8_0).toBeGreaterThan(0);
  });

  it('generate decodes text with the tokenizer from its metadata', () => {
    const r = runCli(['generate', file, '--prompt', 'ab', '--max-tokens', '4', '--seed', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokenIds.length).toBe(4);
    expect(out.promptTokenIds[0]).toBe(1); // BOS, as tokenizer.ggml.add_bos_token says
  });

  it('eval reports its dense perplexity, bench times it, calibrate makes a bundle of it', () => {
    const text = path.join(tmp, 'text.txt');
    fs.writeFileSync(text, 'ab ba aab bba '.repeat(200));
    const e = runCli(['eval', file, '--data', text, '--tokens', '40', '--seq-len', '32', '--threads', '1', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const report = JSON.parse(e.stdout);
    expect(report.selected).toBeNull();
    expect(report.dense.perplexity).toBeGreaterThan(1);
    const b = runCli(['bench', file, '--no-probe', '-n', '2', '--prompt-tokens', '2', '--threads', '1', '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).dtype).toContain('q8_0');
    const out = path.join(tmp, 'gguf.hire');
    const c = runCli(['calibrate', file, '--data', text, '--tokens', '100', '--k', '1', '--softmax', 'quant', '--bits', '8', '--seq-len', '32', '--threads', '1', '--out', out]);
    expect(c.code, c.stderr).toBe(0);
    const be = runCli(['eval', out, '--data', text, '--tokens', '40', '--seq-len', '32', '--threads', '1', '--json']);
    expect(be.code, be.stderr).toBe(0);
    expect(JSON.parse(be.stdout).dense.perplexity).toBeCloseTo(report.dense.perplexity, 6);
  });

  it('a truncated file is one line naming it', () => {
    const bad = path.join(tmp, 'truncated.gguf');
    fs.writeFileSync(bad, fs.readFileSync(file).subarray(0, 1000));
    const r = runCli(['generate', bad, '--prompt', 'ab', '--max-tokens', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`hire: ${bad}: `);
    expect(r.stderr).toMatch(/truncated|left in the file/);
  });
});
