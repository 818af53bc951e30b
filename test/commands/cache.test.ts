/**
 * `hire cache list` and `hire cache clear` over a temporary hire cache (HIRE_CACHE_DIR) holding
 * synthetic bench checkpoints and a temporary Hugging Face cache (HF_HOME) holding a model laid
 * out as the Python tools do: sizes, what clear removes by default (hire's own checkpoints, not a
 * run's checkpoint being written, never the Hub models or oclif's autocomplete cache), removal by
 * name, and an unknown name removing nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {beforeEach, describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {deadPid} from '../helpers/bundle-fixtures.js';

let root: string;
let env: Record<string, string>;
let hire: string;
let hubRepo: string;
let dead: number;

function writeFile(file: string, bytes: number): void {
  fs.mkdirSync(path.dirname(file), {recursive: true});
  fs.writeFileSync(file, Buffer.alloc(bytes, 1));
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-cache-cmd-'));
  dead = deadPid();
  hire = path.join(root, 'hire');
  writeFile(path.join(hire, 'bench', 'llama-15m-f32-seed1234', 'model.safetensors'), 3000);
  writeFile(path.join(hire, 'bench', 'llama-15m-f32-seed1234', 'config.json'), 100);
  writeFile(path.join(hire, 'bench', `llama-1b-bf16-seed1234.tmp-${dead}-1`, 'model.safetensors'), 500);
  writeFile(path.join(hire, 'bench', `llama-470m-f32-seed1234.tmp-${process.pid}-2`, 'model.safetensors'), 700);
  writeFile(path.join(hire, 'autocomplete', 'bash_setup'), 50);
  hubRepo = path.join(root, 'hf', 'hub', 'models--org--model');
  const commit = 'c'.repeat(40);
  writeFile(path.join(hubRepo, 'blobs', 'e'.repeat(64)), 2000);
  fs.mkdirSync(path.join(hubRepo, 'snapshots', commit), {recursive: true});
  fs.symlinkSync(`../../blobs/${'e'.repeat(64)}`, path.join(hubRepo, 'snapshots', commit, 'model.safetensors'));
  writeFile(path.join(hubRepo, 'refs', 'main'), 0);
  fs.writeFileSync(path.join(hubRepo, 'refs', 'main'), commit);
  env = {HIRE_CACHE_DIR: hire, HF_HOME: path.join(root, 'hf'), HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: ''};
});

describe('hire cache list', () => {
  it('lists every entry with its size on disk (links counted once) and what it is', () => {
    const r = runCli(['cache', 'list', '--json'], {env});
    expect(r.code, r.stderr).toBe(0);
    const listing = JSON.parse(r.stdout);
    expect(listing.hireDir).toBe(hire);
    expect(listing.hubDir).toBe(path.join(root, 'hf', 'hub'));
    expect(listing.entries.map((e: {kind: string; name: string; bytes: number}) => [e.kind, e.name, e.bytes])).toEqual([
      ['bench', 'llama-15m-f32-seed1234', 3100],
      ['bench', `llama-1b-bf16-seed1234.tmp-${dead}-1`, 500],
      ['bench', `llama-470m-f32-seed1234.tmp-${process.pid}-2`, 700],
      ['hub', 'org/model', 2000 + 40],
    ]);
    expect(listing.bytes).toBe(3100 + 500 + 700 + 2040);
    expect(listing.entries.map((e: {about: string}) => e.about)).toEqual([
      'synthetic llama-15m (f32, seed 1234) for bench',
      'left unfinished by a stopped run',
      `being written by process ${process.pid}`,
      `Hugging Face model; main ${'c'.repeat(7)}; 1 snapshot`,
    ]);
    const text = runCli(['cache', 'list'], {env});
    expect(text.stdout).toMatch(/llama-15m-f32-seed1234 +│ bench │ 3.10 KB │ synthetic llama-15m/);
    expect(text.stdout).toMatch(/^4 entries, 6.34 KB \(hire: .+; Hugging Face: .+\)$/m);
  });

  it('an empty cache says so', () => {
    const r = runCli(['cache', 'list'], {env: {...env, HIRE_CACHE_DIR: path.join(root, 'none'), HF_HOME: path.join(root, 'none')}});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^0 entries, 0 B /);
  });
});

describe('hire cache clear', () => {
  it("without names removes hire's finished and abandoned checkpoints only", () => {
    const r = runCli(['cache', 'clear'], {env});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`removed llama-15m-f32-seed1234 (3.10 KB)\nremoved llama-1b-bf16-seed1234.tmp-${dead}-1 (500 B)\nfreed 3.60 KB\n`);
    expect(fs.readdirSync(path.join(hire, 'bench'))).toEqual([`llama-470m-f32-seed1234.tmp-${process.pid}-2`]);
    expect(fs.existsSync(path.join(hire, 'autocomplete', 'bash_setup'))).toBe(true);
    expect(fs.existsSync(hubRepo)).toBe(true);
  });

  it('with names removes exactly those, a Hub model included', () => {
    const r = runCli(['cache', 'clear', 'org/model', 'llama-15m-f32-seed1234', '--json'], {env});
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({bytes: 2040 + 3100, removed: [{name: 'org/model'}, {name: 'llama-15m-f32-seed1234'}]});
    expect(fs.existsSync(hubRepo)).toBe(false);
    expect(fs.readdirSync(path.join(root, 'hf', 'hub'))).toEqual([]);
    expect(fs.readdirSync(path.join(hire, 'bench')).sort()).toEqual([`llama-1b-bf16-seed1234.tmp-${dead}-1`, `llama-470m-f32-seed1234.tmp-${process.pid}-2`]);
  });

  it('an unknown name: one line listing the entries, exit 2, nothing removed', () => {
    const r = runCli(['cache', 'clear', 'llama-15m-f32-seed1234', 'org/other'], {env});
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`hire: "org/other" is not in the cache; entries: llama-15m-f32-seed1234, llama-1b-bf16-seed1234.tmp-${dead}-1, llama-470m-f32-seed1234.tmp-${process.pid}-2, org/model\n`);
    expect(fs.readdirSync(path.join(hire, 'bench'))).toHaveLength(3);
    expect(fs.existsSync(hubRepo)).toBe(true);
  });
});
