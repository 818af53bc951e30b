/**
 * Progress that moves: `hire eval` on a pseudo-terminal (a tmux pane) shows numbered stages and a
 * token count that changes while it runs, because the work yields the event loop to the spinner;
 * on a pipe it prints no progress at all. No wall-clock bounds: the pane is polled until the count
 * has changed, with a generous overall limit only against a hang.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {writeTinyModel} from '../helpers/bundle-fixtures.js';
import {runCli} from '../helpers/cli.js';
import {PROJECT_ROOT} from '../helpers/shared.js';

const SOCKET = `hire-progress-test-${process.pid}`;
const SESSION = 'eval';
const GIVE_UP_MS = 100_000;

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', SOCKET, ...args], {encoding: 'utf8'});
  if (r.error) throw new Error(`tmux could not run (install it; .ci/run does): ${r.error.message}`);
  return r.stdout;
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-tty-'));
afterAll(() => {
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']); // our own private server only
  fs.rmSync(root, {recursive: true, force: true});
});

/** The counted stage on the pane: "stage 3/4: ... 1200/4096 tokens". */
const COUNT = /stage (\d+)\/(\d+): [^\n]*?(\d+)\/(\d+) tokens/;

describe('hire eval progress', () => {
  it('on a terminal: numbered stages and a token count that changes between two captures', async () => {
    // The demo bundle scores HiRE rows for every token: slow enough to be caught mid-stage.
    const cmd = `cd ${JSON.stringify(PROJECT_ROOT)} && ${JSON.stringify(process.execPath)} bin/run.js eval --threads 1 --tokens 100000; sleep 600`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '160', '-y', '30', cmd);
    const seen: string[] = [];
    const start = Date.now();
    let first: string | null = null;
    let changed = false;
    while (Date.now() - start < GIVE_UP_MS && !changed) {
      await new Promise((r) => setTimeout(r, 150));
      const match = COUNT.exec(tmux('capture-pane', '-p', '-t', SESSION));
      if (!match) continue;
      seen.push(match[0]);
      if (first === null) first = match[3]!;
      else if (match[3] !== first) changed = true;
    }
    expect(first, 'a counted stage appeared on the pane').not.toBeNull();
    expect(changed, `the count moved; seen: ${seen.slice(-3).join(' | ')}`).toBe(true);
    expect(seen[seen.length - 1]).toMatch(/^stage 3\/4: scoring dense and HiRE-Softmax \d+\/\d+ tokens/);
  }, 120_000);

  it('on a pipe: no progress at all', () => {
    const model = path.join(root, 'tiny');
    const text = path.join(root, 'text.txt');
    writeTinyModel(model, text);
    const r = runCli(['eval', model, '--data', text, '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^perplexity \d+\.\d+ ± \d+\.\d+ over \d+ next tokens of the whole file of /);
  });
});
