/**
 * `hire serve` as a user runs it: it says where it listens (loopback by default), answers
 * requests, and on SIGTERM lets a short request finish, cancels a long one at --shutdown-timeout
 * and exits 0; bad flags exit 2 with one line.
 */
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {slowChatModel} from '../helpers/chat-model.js';
import {runCli} from '../helpers/cli.js';
import {PROJECT_ROOT} from '../helpers/shared.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-serve-cli-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

/** Starts `hire serve ARGS`; resolves once it prints its URL. */
function serve(args: string[]) {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), 'serve', ...args], {cwd: PROJECT_ROOT, env: {...process.env, NO_COLOR: '1'}});
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+) /.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`hire serve exited early: ${stderr}`)));
  });
  const kill = setTimeout(() => child.kill('SIGKILL'), 90_000); // never outlive the test
  void exited.then(() => clearTimeout(kill));
  return {child, url, exited, stderr: () => stderr};
}

describe('hire serve', () => {
  it('serves on loopback; SIGTERM finishes the short request, cancels the long one, exits 0', async () => {
    const dir = slowChatModel(path.join(tmp, 'slow'));
    const s = serve([dir, '--port', '0', '--backend', 'reference', '--shutdown-timeout', '1', '--model-id', 'slow']);
    const url = await s.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const post = (body: object) => fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({model: 'slow', prompt: 'hi', temperature: 0, ...body})});
    const quick = await (await post({max_tokens: 3})).json();
    expect(quick).toMatchObject({object: 'text_completion', usage: {completion_tokens: 3}});

    const long = await post({max_tokens: 5000, ignore_eos: true, stream: true});
    const reader = long.body!.getReader();
    let streamed = new TextDecoder().decode((await reader.read()).value);
    const short = post({max_tokens: 3});
    for (let i = 0; i < 500; i++) {
      const h = (await (await fetch(`${url}/health`)).json()) as {active: number; queued: number};
      if (h.active + h.queued === 2) break; // the short request is in before the signal
      await new Promise((r) => setTimeout(r, 20));
    }
    s.child.kill('SIGTERM');
    expect(((await (await short).json()) as {usage: {completion_tokens: number}}).usage.completion_tokens).toBe(3);
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      streamed += new TextDecoder().decode(value);
    }
    expect(streamed).toMatch(/data: \{"error":\{"message":"the server shut down before the request ended"/);
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toMatch(/SIGTERM: finishing in-flight requests/);
    expect(s.stderr()).not.toMatch(/\n\s+at /);
  });

  it('bad flags: one line, exit 2', () => {
    const r = runCli(['serve', '--port', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
