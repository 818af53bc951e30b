/** `hire score` runs the library's score() on text from a flag, a file, stdin or token ids. Runs the built CLI. */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {demo, loadModel, score} from '../../src/index.js';
import {SPAWN_TIMEOUT_MS, throwIfFailedToRun} from '../helpers/cli.js';
import {PROJECT_ROOT} from '../helpers/shared.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-score-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

function scoreCli(args: string[], input = '') {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), 'score', ...args], {input, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS, env: {...process.env, NO_COLOR: '1'}});
  throwIfFailedToRun(r, 'hire score');
  return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

const TEXT = 'ROMEO:\nBut soft, what light';

describe('hire score', () => {
  it('--json gives what score() gives, for --text, --file and stdin alike', async () => {
    const model = await loadModel(demo.bundle, {backend: 'reference'});
    const api = await score(model, TEXT, {top: 2});
    const hire = await score(model, TEXT, {top: 2, dense: false, kPrime: 16});
    model.dispose();
    const file = path.join(tmp, 'text.txt');
    fs.writeFileSync(file, `${TEXT}\n`);
    for (const [args, input] of [[['--text', TEXT], ''], [['--file', file], ''], [[], `${TEXT}\n`], [['--text', '-'], TEXT]] as const) {
      const r = scoreCli([demo.bundle, '--top', '2', '--backend', 'reference', '--json', ...args], input);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.tokenIds).toEqual(api.tokenIds);
      expect(out.tokens.map((t: {logprob: number | null}) => t.logprob)).toEqual(api.tokens.map((t) => t.logprob));
      expect(out.tokens[3].top).toEqual(api.tokens[3]!.top);
      expect(out.output.kind).toBe('dense');
    }
    const r = scoreCli([demo.bundle, '--text', TEXT, '--top', '2', '--hire', '--k-prime', '16', '--backend', 'reference', '--json']);
    expect(JSON.parse(r.stdout).tokens.map((t: {logprob: number | null}) => t.logprob)).toEqual(hire.tokens.map((t) => t.logprob));
    const est = scoreCli([demo.bundle, '--text', `${TEXT} zzq`, '--hire', '--k-prime', '8', '--logprobs-tail', 'estimate', '--backend', 'reference', '--json']);
    const tokens = JSON.parse(est.stdout).tokens.slice(1) as Array<{logprob: number | null; tail: string}>;
    expect(tokens.every((t) => t.tail === 'estimated' && typeof t.logprob === 'number')).toBe(true);
  });

  it('prints one line per token and the total; takes token ids without a tokenizer', () => {
    const r = scoreCli([demo.model, '--tokens', '5,6,7', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^"\S+"\s+-$/);
    expect(lines[1]).toMatch(/^"\S+"\s+-\d+\.\d{4}$/);
    expect(lines[3]).toMatch(/^total -\d+\.\d{4} over 2 tokens \(dense output layer \(4096 rows\)\)$/);
  });

  it('says what is missing in one line', () => {
    const empty = scoreCli([demo.model, '--threads', '1'], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr.trim()).toBe('hire: --text: standard input was empty');
    const missing = path.join(tmp, 'nope.txt');
    const r = scoreCli([demo.model, '--file', missing, '--threads', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^hire: ${missing}: cannot open: `));
  });
});
