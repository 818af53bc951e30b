/** Prompt text from files and stdin: one trailing newline dropped, clear one-line errors naming the file or option. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {Readable} from 'node:stream';
import {afterAll, describe, expect, it} from 'vitest';
import {readPromptFile, readPromptStream} from '../../src/api/prompt-file.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-prompt-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

describe('prompt text from a file or a stream', () => {
  it('reads a file as UTF-8 and drops one trailing newline', () => {
    const file = path.join(tmp, 'p.txt');
    fs.writeFileSync(file, 'Once upon a time\n\n');
    expect(readPromptFile(file)).toBe('Once upon a time\n');
    fs.writeFileSync(file, 'héllo\r\n');
    expect(readPromptFile(file)).toBe('héllo');
  });

  it('names the file or the option when it cannot give a prompt', () => {
    const missing = path.join(tmp, 'missing.txt');
    expect(() => readPromptFile(missing)).toThrow(expect.objectContaining({code: 'E_IO', message: expect.stringMatching(new RegExp(`^${missing}: cannot open: `))}));
    expect(() => readPromptFile(tmp)).toThrow(expect.objectContaining({code: 'E_IO', message: `${tmp}: is not a regular file (it is a directory)`}));
    const empty = path.join(tmp, 'empty.txt');
    fs.writeFileSync(empty, '\n');
    expect(() => readPromptFile(empty, 'promptFile')).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'promptFile', message: `promptFile: ${empty} is empty`}));
  });

  it('reads a stream to its end (stdin for `--prompt -`)', async () => {
    expect(await readPromptStream(Readable.from([Buffer.from('two\nlines'), Buffer.from('\n')]))).toBe('two\nlines');
    await expect(readPromptStream(Readable.from([]), 'prompt')).rejects.toMatchObject({code: 'E_USAGE', option: 'prompt', message: 'prompt: standard input was empty'});
  });
});
