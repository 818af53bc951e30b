/**
 * Prompt text from a file or a stream (stdin), for commands and scripts: read with the same size
 * cap and checks as every other input file (a FIFO never hangs, only regular files are opened),
 * decoded as UTF-8, and ONE trailing newline dropped (what `echo hi |` and editors add; a shell's
 * $(...) drops it too). Errors name the file (IoError) or the option (UsageError).
 */
import {IoError, UsageError} from '../core/errors.js';
import {PROMPT_TEXT, readTextFile} from '../core/io/read-file.js';

/** The text of `file` (the option that named it goes into an empty-file message). */
export function readPromptFile(file: string, option = 'promptFile'): string {
  const text = readTextFile(file, PROMPT_TEXT, (f, problem, o) => new IoError(f, problem, o));
  const prompt = dropNewline(text);
  if (prompt === '') throw new UsageError(`${option}: ${file} is empty`, {option});
  return prompt;
}

/** All of a stream's text (stdin for `--prompt -`), at most the prompt-file size limit; empty is an error unless allowed. */
export async function readPromptStream(stream: AsyncIterable<unknown>, option = 'prompt', o: {allowEmpty?: boolean} = {}): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > PROMPT_TEXT.maxBytes) throw new UsageError(`${option}: standard input holds more than the ${PROMPT_TEXT.maxBytes / 2 ** 20} MiB limit for prompts`, {option});
    chunks.push(buf);
  }
  const prompt = dropNewline(new TextDecoder('utf-8').decode(Buffer.concat(chunks)));
  if (prompt === '' && !o.allowEmpty) throw new UsageError(`${option}: standard input was empty`, {option});
  return prompt;
}

function dropNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}
