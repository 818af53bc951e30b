import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {runCli} from '../helpers/cli.js';
import {HAVE_SHARED, LLAMA2XS_DIR} from '../helpers/shared.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, {recursive: true, force: true})));

function tinyModel(family: 'llama' | 'gpt2' | 'opt' = 'llama'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-inspect-'));
  dirs.push(dir);
  writeSyntheticCheckpoint(dir, {family, dim: 16, nLayers: 2, nHeads: 2, hiddenDim: 32, vocabSize: 40, maxSeqLen: 16, seed: 1});
  return dir;
}

/** Every file under dir with its size and mtime, to show a failed command wrote nothing. */
function snapshot(dir: string): string {
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => {
      const st = fs.statSync(path.join(dir, f));
      return `${f}:${st.size}:${st.mtimeMs}`;
    })
    .join('\n');
}

describe('hire inspect', () => {
  it.runIf(HAVE_SHARED)('reports family, parameters and bytes per token for llama2xs', () => {
    const r = runCli(['inspect', LLAMA2XS_DIR, '--json', '--no-tensors']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.family).toBe('llama');
    // embed 512x64 + 5 layers x (4 attention matrices 64x64,64x32,64x32,64x64 + 3 FFN 192x64) + norms
    const perLayer = 64 * 64 * 2 + 32 * 64 * 2 + 3 * 192 * 64 + 2 * 64;
    expect(report.parameters).toBe(512 * 64 + 5 * perLayer + 64);
    // one embedding row + every layer matrix + the tied output layer, f32
    expect(report.weightBytesPerToken).toBe(4 * (64 + 5 * (perLayer - 128) + 512 * 64));
    expect(report.tensors).toBeUndefined();
  });

  it('prints a table that names every tensor and what it feeds', () => {
    const dir = tinyModel('gpt2');
    const r = runCli(['inspect', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/gpt2 \(GPT2LMHeadModel\)/);
    expect(r.stdout).toMatch(/transformer\.h\.0\.attn\.c_attn\.weight.*layers\.0\.wq, layers\.0\.wk, layers\.0\.wv/);
  });

  it('rejects a truncated safetensors file with one line naming it, and writes nothing', () => {
    const dir = tinyModel();
    const file = path.join(dir, 'model.safetensors');
    fs.truncateSync(file, fs.statSync(file).size - 10);
    const before = snapshot(dir);
    const r = runCli(['inspect', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshot(dir)).toBe(before);
  });

  it('rejects a header length past the end of the file', () => {
    const dir = tinyModel();
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(BigInt(bytes.length * 2), 0);
    fs.writeFileSync(file, bytes);
    const r = runCli(['inspect', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^hire: ${file.replace(/[.]/g, '\\.')}: .*header`));
  });

  it('names the supported architectures for an unknown one', () => {
    const dir = tinyModel();
    const configFile = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    fs.writeFileSync(configFile, JSON.stringify({...config, architectures: ['BertModel']}));
    const r = runCli(['inspect', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `hire: ${configFile}: unsupported architecture "BertModel"; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel, OPTForCausalLM\n`,
    );
  });

  it('names the argument it misses, in full', () => {
    const r = runCli(['inspect']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('hire: missing argument <model>: Model to inspect: a directory, a GGUF file, or a Hugging Face id org/name[@revision] from the Hugging Face cache (hire pull fetches one; org/name:Q4_0 picks a GGUF file by its quant tag) (see --help)\n');
  });

  it('says config.json is missing', () => {
    const dir = tinyModel();
    fs.rmSync(path.join(dir, 'config.json'));
    const r = runCli(['inspect', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config\.json: missing/);
  });

  it('generate names a missing tokenizer.json and suggests --tokens', () => {
    const dir = tinyModel();
    const r = runCli(['generate', dir, '--prompt', 'hello']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tokenizer\.json: not found.*--tokens/);
    const ok = runCli(['generate', dir, '--tokens', '1,2,3', '--max-tokens', '4', '--json', '--no-eos']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).tokenIds).toHaveLength(4);
  });
});
