/**
 * Every script in examples/ runs against the built package (dist, imported as 'hire' through the
 * package's own `exports`) and the bundled demo model, so the examples in the README cannot rot.
 * `npm test` builds first; run `npm run build` before running this file alone.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {PROJECT_ROOT} from './helpers/shared.js';
import {SPAWN_TIMEOUT_MS, throwIfFailedToRun} from './helpers/cli.js';

const EXAMPLES = path.join(PROJECT_ROOT, 'examples');

function runExample(name: string): {stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [path.join(EXAMPLES, name)], {cwd: PROJECT_ROOT, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS});
  throwIfFailedToRun(r, name);
  expect(r.status, `${name} failed:\n${r.stderr}`).toBe(0);
  return {stdout: r.stdout, stderr: r.stderr};
}

/** What each example must print: its output checked line by line, loosely (numbers vary). */
const EXPECTED: Record<string, RegExp[]> = {
  'generate-stream.mjs': [/^ROMEO:\S*/m, /^tokens: 24, stop: max_tokens$/m, /^decode: [\d.]+ tok\/s, mean candidates [\d.]+ of 4096$/m],
  'certified-greedy.mjs': [/^identical: true$/m, /^rows per token: dense 4096, certified [\d.]+ /m, /^aborted after 5 tokens$/m],
  'evaluate-and-bench.mjs': [/^dense perplexity [\d.]+ on 255 tokens$/m, /k=1 k'=\d+: recall 1\.000/m, /^dense: \d+ tok\/s/m, /^hire-softmax: \d+ tok\/s/m],
  'calibrate.mjs': [/^wrote demo\.hire: lowrank-r16-\S+, k' for recall 0\.99 at k=1: \d+$/m, /^HiRE softmax \(lowrank-r16-\S+, k'=\d+\): ".+"$/m],
  'batch-and-ffn.mjs': [
    /^ffn: HiRE FFN \(.+, g=8, [\d.]+ of 64 groups per layer\)$/m,
    /^batch of 3: same as alone: true$/m,
    /^weights per token: [\d.]+ MB in the batch, [\d.]+ MB alone$/m,
    /^dense FFN reads [\d.]+ MB per token$/m,
  ],
  'chat.mjs': [
    /^JULIET: \S.*\n\[turn 1: (\d+) of \1 prompt tokens computed, 0 from the KV cache\]$/m,
    /^\[turn 2: \d+ of \d+ prompt tokens computed, [1-9]\d* from the KV cache\]$/m,
    /^first token: ".+" logprob -?[\d.]+ over \d+ rows \(HiRE: normalised over the k' candidates\)$/m,
    /^score: -[\d.]+ over \d+ tokens$/m,
  ],
  'serve.mjs': [
    /^listening on http:\/\/127\.0\.0\.1:\d+$/m,
    /^completion: ".+" \(16 tokens, finish_reason length\)$/m,
    /^stream: \d+ events, \[DONE\]: true$/m,
    /^8 concurrent requests equal 8 sequential ones: true$/m,
    /^certified greedy equals dense greedy: true$/m,
    /^hire_weight_bytes_per_token [\d.]+$/m,
  ],
  'errors.mjs': [
    /^missing model: E_\w+ /m,
    /^plain checkpoint as a bundle: E_BUNDLE /m,
    /^bad temperature: E_USAGE, /m,
    /^certify without greedy or top-k: E_USAGE, /m,
    /^already aborted: E_ABORTED, stopped by the caller$/m,
    /^a good call: ok$/m,
    /^use after dispose: E_DISPOSED /m,
  ],
};

describe('examples/', () => {
  it('the built package resolves as "hire" with types', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
    const entry = pkg.exports['.'];
    expect(fs.existsSync(path.join(PROJECT_ROOT, entry.import)), 'run `npm run build` first').toBe(true);
    expect(fs.existsSync(path.join(PROJECT_ROOT, entry.types))).toBe(true);
    expect(fs.readFileSync(path.join(PROJECT_ROOT, entry.types), 'utf8')).toMatch(/export \{ generate, Generation \}/);
  });

  it('every example has expectations', () => {
    expect(fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.mjs')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, patterns] of Object.entries(EXPECTED)) {
    it(`${name} runs and prints what it promises`, () => {
      const {stdout} = runExample(name);
      for (const p of patterns) expect(stdout).toMatch(p);
    });
  }
});

describe('README "Use from code"', () => {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use from code'), readme.indexOf('\n## ', readme.indexOf('## Use from code') + 1));
  const snippets = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it('has a snippet for every function', () => {
    for (const fn of ['loadModel', 'loadBundle', 'generate', 'calibrate', 'evaluate', 'bench', 'HireError']) {
      expect(snippets.some((s) => s.includes(`${fn}(`) || s.includes(`instanceof ${fn}`)), fn).toBe(true);
    }
  });

  // Each snippet runs as a user's script would: a .mjs file in a project whose node_modules/hire
  // is this package.
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-readme-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(PROJECT_ROOT, path.join(dir, 'node_modules', 'hire'), 'dir');
  });
  afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

  snippets.forEach((code, i) => {
    it(`snippet ${i + 1} runs (${code.split('\n')[0]})`, () => {
      const file = path.join(dir, `snippet-${i + 1}.mjs`);
      fs.writeFileSync(file, code);
      const r = spawnSync(process.execPath, [file], {cwd: dir, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS, env: {...process.env, TMPDIR: dir}});
      throwIfFailedToRun(r, `README snippet ${i + 1}`);
      expect(r.status, r.stderr).toBe(0);
    });
  });

  it('the types serve a TypeScript user, `await using` included (compiled by tsc, run on this Node)', () => {
    const consumer = `import {demo, generate, loadModel, type GenerationResult, type TokenChunk, HireError} from 'hire';
await using model = await loadModel(demo.bundle, {threads: 1});
const chunks: TokenChunk[] = [];
for await (const chunk of generate(model, 'ROMEO:', {maxTokens: 4, temperature: 0})) chunks.push(chunk);
const again: GenerationResult = await generate(model, [1, 2, 3], {maxTokens: 2, stopOnEos: false}).complete();
const code: string | undefined = new HireError('E_USAGE', 'x').code;
console.log(chunks.length, again.tokenIds.length, code);
`;
    fs.writeFileSync(path.join(dir, 'consumer.ts'), consumer);
    const tsconfig = {compilerOptions: {target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'ESNext.Disposable'], strict: true, types: ['node'], typeRoots: [path.join(PROJECT_ROOT, 'node_modules/@types')], skipLibCheck: true, outDir: 'out'}, files: ['consumer.ts']};
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}');
    const tsc = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {cwd: dir, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS});
    throwIfFailedToRun(tsc, 'tsc');
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    const r = spawnSync(process.execPath, [path.join(dir, 'out/consumer.js')], {cwd: dir, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS});
    throwIfFailedToRun(r, 'the compiled TypeScript consumer');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('4 2 E_USAGE');
  });
});
