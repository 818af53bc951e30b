/**
 * `hire generate` with the prompt from stdin (`echo hi | hire generate M`, `--prompt -`) or a file,
 * a system message through the chat template, stop strings, min-p and penalties, log-probabilities
 * and per-token JSONL: each gives what the library gives for the same options. Runs the built CLI.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {demo, generate, loadModel, type GenerateOptions, type GenerationResult} from '../../src/index.js';
import {llama2xsChat} from '../helpers/chat-model.js';
import {SPAWN_TIMEOUT_MS, throwIfFailedToRun} from '../helpers/cli.js';
import {HAVE_SHARED, PROJECT_ROOT} from '../helpers/shared.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-generate-prompts-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const BASE = ['--temperature', '0', '--max-tokens', '12', '--no-eos', '--backend', 'reference'];
const PROMPT = 'ROMEO:';

function hire(args: string[], input = '') {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin/run.js'), 'generate', ...args], {input, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS, env: {...process.env, NO_COLOR: '1'}});
  throwIfFailedToRun(r, 'hire generate');
  return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

function json(args: string[], input = ''): GenerationResult {
  const r = hire([...args, '--json'], input);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as GenerationResult;
}

async function api(dir: string, prompt: string, options: GenerateOptions): Promise<GenerationResult> {
  const model = await loadModel(dir, {backend: 'reference'});
  try {
    return await generate(model, prompt, {temperature: 0, maxTokens: 12, stopOnEos: false, ...options}).complete();
  } finally {
    model.dispose();
  }
}

describe('hire generate: where the prompt comes from', () => {
  it('reads it from stdin when no prompt is given or with --prompt -, and from --prompt-file', () => {
    const direct = json([demo.model, ...BASE, '--prompt', PROMPT]);
    const file = path.join(tmp, 'prompt.txt');
    fs.writeFileSync(file, `${PROMPT}\n`);
    for (const [args, input] of [[[], `${PROMPT}\n`], [['--prompt', '-'], PROMPT], [['--prompt-file', file], '']] as const) {
      const r = json([demo.model, ...BASE, ...args], input);
      expect(r.promptTokenIds, args.join(' ')).toEqual(direct.promptTokenIds);
      expect(r.tokenIds, args.join(' ')).toEqual(direct.tokenIds);
    }
    // the text mode echoes the prompt read from stdin, then the generated text
    const text = hire([demo.model, ...BASE], `${PROMPT}\n`);
    expect(text.stdout).toBe(`${PROMPT}${direct.text}\n`);
  });

  it('says in one line what is missing when stdin is empty, and names --prompt-file', () => {
    const empty = hire([demo.model, ...BASE], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('hire: give a prompt with --prompt "text", --prompt-file PATH or token ids with --tokens 1,2,3, or pipe it to stdin (standard input was empty)\n');
    const missing = path.join(tmp, 'nope.txt');
    const r = hire([demo.model, ...BASE, '--prompt-file', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^hire: ${missing}: cannot open: [^\\n]*\\n$`));
  });
});

describe('hire generate: stopping, penalties, log-probabilities', () => {
  it('--stop ends the text before the first stop string; --min-p and the penalties give the library tokens', async () => {
    const plain = json([demo.model, ...BASE, '--prompt', PROMPT]);
    const stop = plain.text.slice(3, 5); // occurs in the text, after its first characters
    const stopped = json([demo.model, ...BASE, '--prompt', PROMPT, '--stop', 'zzz', '--stop', stop]);
    expect(stopped.stats.stopReason).toBe('stop');
    expect(stopped.text).toBe(plain.text.slice(0, plain.text.indexOf(stop)));
    // a prompt the demo model goes on repeating: greedy with a repetition penalty takes another path
    const repeats = 'thee thee thee';
    const greedy = json([demo.model, ...BASE, '--prompt', repeats]);
    const penalised = json([demo.model, ...BASE, '--prompt', repeats, '--repetition-penalty', '1.8']);
    expect(penalised.tokenIds).toEqual((await api(demo.model, repeats, {repetitionPenalty: 1.8})).tokenIds);
    expect(penalised.tokenIds).not.toEqual(greedy.tokenIds);
    const sampled = ['--seed', '5', '--min-p', '0.2', '--presence-penalty', '0.5', '--frequency-penalty', '0.5'];
    const expected = await api(demo.model, repeats, {temperature: 1, seed: 5, minP: 0.2, presencePenalty: 0.5, frequencyPenalty: 0.5});
    const atOne = BASE.map((a) => (a === '0' ? '1' : a)); // --temperature 1
    expect(json([demo.model, ...atOne, '--prompt', repeats, ...sampled]).tokenIds).toEqual(expected.tokenIds);
  });

  it('--logprobs N: in --json the library values, on stderr one line per token; --jsonl streams a line per token and the result', async () => {
    const r = json([demo.model, ...BASE, '--prompt', PROMPT, '--logprobs', '2']);
    const expected = await api(demo.model, PROMPT, {logprobs: 2});
    expect(r.logprobs!.map((l) => l.logprob)).toEqual(expected.logprobs!.map((l) => l.logprob));
    expect(r.logprobs!.every((l) => l.top.length === 2 && l.exact)).toBe(true);

    const text = hire([demo.model, ...BASE, '--prompt', PROMPT, '--logprobs', '2']);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stderr.split('\n').filter((l) => /^"/.test(l));
    expect(lines).toHaveLength(12);
    expect(lines[0]).toMatch(/^"[^"]*"\s+-?\d+\.\d{4}\s+"[^"]*" -?\d+\.\d{3}, "[^"]*" -?\d+\.\d{3}$/);

    const jsonl = hire([demo.model, ...BASE, '--prompt', PROMPT, '--logprobs', '1', '--jsonl']);
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const objects = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l) as {type: string; text: string; id: number; logprobs?: {top: unknown[]}});
    expect(objects.map((o) => o.type)).toEqual([...Array<string>(12).fill('token'), 'result']);
    const result = objects[12] as unknown as GenerationResult;
    expect(objects.slice(0, 12).map((o) => o.id)).toEqual(result.tokenIds);
    expect(objects.slice(0, 12).map((o) => o.text).join('')).toBe(result.text);
    expect(objects[0]!.logprobs!.top).toHaveLength(1);
    expect(result.tokenIds).toEqual(expected.tokenIds);
  });

  it('--jsonl streams one sequence: with --batch it says so in one line', () => {
    const r = hire([demo.model, ...BASE, '--prompt', PROMPT, '--batch', '2', '--jsonl']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('hire: --jsonl streams one sequence; drop --jsonl or --batch (or the extra --prompt)\n');
  });
});

describe.runIf(HAVE_SHARED)('hire generate --system (llama2xs with a chat template)', () => {
  let dir: string;
  beforeAll(() => {
    dir = llama2xsChat(path.join(tmp, 'llama2xs-chat'));
  });

  it('renders [system, user] through the template, as generate() with system does; without a template it is one clear line', async () => {
    const r = json([dir, ...BASE, '--prompt', 'Hello', '--system', 'Be brief.']);
    const expected = await api(dir, 'Hello', {system: 'Be brief.'});
    expect(r.promptTokenIds).toEqual(expected.promptTokenIds);
    expect(r.tokenIds).toEqual(expected.tokenIds);
    const chat = json([dir, ...BASE, '--prompt', 'Hello', '--chat']);
    expect(chat.promptTokenIds).toEqual((await api(dir, 'Hello', {chat: true})).promptTokenIds);
    const none = hire([demo.model, ...BASE, '--prompt', 'Hello', '--system', 'Be brief.']);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/^hire: .*tokenizer_config\.json: has no chat_template/);
  });
});
