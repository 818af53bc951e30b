/**
 * `hire chat` as a user runs it: through a pipe (every line a turn; the replies are the library's
 * ChatSession replies), and in a real pseudo-terminal under tmux (prompt, streamed reply, per-turn
 * speed, Ctrl-C stops a reply without leaving, Ctrl-D leaves). Runs the built CLI: `npm run build`.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ChatSession, demo, loadModel} from '../../src/index.js';
import {llama2xsChat, slowChatModel} from '../helpers/chat-model.js';
import {SPAWN_TIMEOUT_MS, throwIfFailedToRun} from '../helpers/cli.js';
import {HAVE_SHARED, PROJECT_ROOT} from '../helpers/shared.js';
import {TmuxSession} from '../helpers/tmux.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-chat-cli-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const BIN = path.join(PROJECT_ROOT, 'bin/run.js');
const FLAGS = ['--temperature', '0', '--max-tokens', '10', '--backend', 'reference'];

function chatPipe(dir: string, input: string, flags: string[] = FLAGS) {
  const r = spawnSync(process.execPath, [BIN, 'chat', dir, ...flags], {input, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS, env: {...process.env, NO_COLOR: '1'}});
  throwIfFailedToRun(r, 'hire chat');
  return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

describe.runIf(HAVE_SHARED)('hire chat through a pipe', () => {
  let dir: string;
  beforeAll(() => {
    dir = llama2xsChat(path.join(tmp, 'llama2xs-chat'));
  });

  it("answers every line with the library's replies, the history reused from the KV cache", async () => {
    const r = chatPipe(dir, 'Once upon a time\nWhat happened next?\n', [...FLAGS, '--system', 'Be brief.']);
    expect(r.code, r.stderr).toBe(0);
    const model = await loadModel(dir, {backend: 'reference'});
    try {
      const chat = new ChatSession(model, {temperature: 0, maxTokens: 10, system: 'Be brief.'});
      const a = await chat.send('Once upon a time').complete();
      const b = await chat.send('What happened next?').complete();
      expect(r.stdout).toBe(`${a.text}\n${b.text}\n`);
      const notes = r.stderr.trim().split('\n');
      expect(notes).toHaveLength(2);
      expect(notes[0]).toMatch(new RegExp(`^\\[10 tokens at [\\d.]+ tok/s; prompt: ${a.stats.promptTokens} new at [\\d.]+ tok/s, 0 from the KV cache \\(held 0\\); stop: max_tokens\\]$`));
      expect(notes[1]).toMatch(new RegExp(`prompt: ${b.stats.promptTokens} new at [\\d.]+ tok/s, ${b.promptTokenIds.length - b.stats.promptTokens} from the KV cache`));
      expect(b.promptTokenIds.length - b.stats.promptTokens).toBeGreaterThan(a.promptTokenIds.length - 1);
    } finally {
      model.dispose();
    }
  });

  it('takes /reset, /system and /help; an unknown command says what there is', () => {
    const r = chatPipe(dir, '/system Speak plainly.\nHello\n/reset\n/bogus\n\nHello\n/help\n');
    expect(r.code, r.stderr).toBe(0);
    const replies = r.stdout.split('\n').filter((l) => l !== '');
    expect(replies).toHaveLength(2);
    expect(r.stderr).toContain('(system message set; conversation cleared)');
    expect(r.stderr).toContain('(conversation cleared)');
    expect(r.stderr).toMatch(/^unknown command \/bogus; \/reset starts the conversation over/m);
    expect(r.stderr).toMatch(/^\/reset starts the conversation over, \/system TEXT sets the system message/m);
  });

  it('a conversation past the context ends a piped chat with one clear line', () => {
    const r = chatPipe(dir, `${'word '.repeat(300)}\n`);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^hire: the conversation has \d+ tokens with this message; this model's context is 256: start over with reset\(\)$/);
  });
});

describe('hire chat without a chat template', () => {
  it('fails with one line naming tokenizer_config.json', () => {
    const r = chatPipe(demo.model, 'hi\n', ['--threads', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`hire: ${path.join(demo.model, 'tokenizer_config.json')}: has no chat_template and there is no chat_template.jinja beside it, so this model has no chat format; give a plain text prompt, or add the template of the model's chat variant`);
    expect(r.stdout).toBe('');
  });
});

describe('hire chat in a terminal (tmux)', () => {
  let tty: TmuxSession;
  beforeAll(() => {
    // a random model slow enough on the reference backend that a long reply can be interrupted
    const dir = slowChatModel(path.join(tmp, 'slow'));
    tty = new TmuxSession(`${process.execPath} ${BIN} chat ${dir} --backend reference --temperature 0 --max-tokens 8000; echo "EXIT=$?"; sleep 60`, PROJECT_ROOT);
  });
  afterAll(() => tty?.kill());

  it('prompts, streams, stops a reply on Ctrl-C and goes on, clears a line on Ctrl-C, and leaves on Ctrl-D', async () => {
    await tty.waitFor('the banner and the prompt', (s) => s.includes('Ctrl-D leaves') && /^> $/m.test(s));
    tty.type('hello');
    tty.key('Enter');
    // the reply streams (8000 tokens would take minutes): once it has started, Ctrl-C stops it
    await tty.waitFor('the reply to start', (s) => /^> hello\n.{8,}/m.test(s));
    tty.key('C-c');
    let s = await tty.waitFor('the reply to stop and the prompt to return', (x) => /\(reply stopped after \d+ tokens\)\n> $/m.test(x));
    const stopped = Number(/\(reply stopped after (\d+) tokens\)/.exec(s)![1]);
    expect(stopped).toBeGreaterThan(0);
    expect(stopped).toBeLessThan(8000);
    expect(s).not.toContain('EXIT=');
    // Ctrl-C at the prompt clears the line and stays
    tty.type('never sent');
    tty.key('C-c');
    s = await tty.waitFor('the line to be cleared', (x) => /never sent\^C\n> $/m.test(x));
    expect(s).not.toContain('EXIT=');
    // the chat goes on: a second message is answered after the stopped one
    tty.type('again');
    tty.key('Enter');
    await tty.waitFor('the second reply to start', (x) => /^> again\n.{8,}/m.test(x));
    tty.key('C-c');
    s = await tty.waitFor('the second reply to stop', (x) => (x.match(/\(reply stopped after \d+ tokens\)/g) ?? []).length === 2 && x.trimEnd().endsWith('\n>'));
    // Ctrl-D at the prompt leaves with exit code 0
    tty.key('C-d');
    s = await tty.waitFor('the chat to end', (x) => x.includes('EXIT='));
    expect(s).toContain('EXIT=0');
  });
});
