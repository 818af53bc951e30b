/**
 * The terminal side of `hire chat`: turns read line by line, replies streamed to stdout, each
 * turn's speed on stderr. Two modes:
 *   a terminal   a "> " prompt; Ctrl-C stops the reply being written (the conversation goes on,
 *                the reply kept as far as it got) or, at the prompt, clears the line; Ctrl-D leaves.
 *                Control characters in replies are shown as U+FFFD, so model output cannot move
 *                the cursor or recolour the terminal.
 *   a pipe       every line of stdin is one user turn; each reply is printed followed by a newline;
 *                the end of input ends the chat once every turn has been answered.
 * Lines starting with "/" are commands: /reset, /system TEXT (no TEXT: none), /help.
 */
import readline from 'node:readline';
import {AbortError, HireError} from '../core/errors.js';
import type {ChatSession} from '../api/chat.js';

export interface ChatLoopOptions {
  /** Prompt, Ctrl-C/Ctrl-D handling and sanitised output (a terminal) or plain line-by-line turns (a pipe). */
  tty: boolean;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** stderr lines (speed, notes, errors). */
  note: (line: string) => void;
}

export const CHAT_HELP = '/reset starts the conversation over, /system TEXT sets the system message (and starts over), Ctrl-C stops a reply, Ctrl-D leaves';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f\u0080-\u009f]/g;

/** Runs the conversation until the input ends (or Ctrl-D). Errors of one turn are reported and the chat goes on at a terminal; in a pipe they end it. */
export async function runChatLoop(chat: ChatSession, o: ChatLoopOptions): Promise<void> {
  const rl = readline.createInterface({input: o.input, output: o.tty ? o.output : undefined, terminal: o.tty, prompt: '> '});
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  let reply: AbortController | null = null;
  const poke = () => {
    wake?.();
    wake = null;
  };
  rl.on('line', (line) => {
    lines.push(line);
    poke();
  });
  rl.on('close', () => {
    closed = true;
    if (o.tty) reply?.abort(new Error('Ctrl-D'));
    poke();
  });
  rl.on('SIGINT', () => {
    if (reply) return reply.abort(new Error('Ctrl-C'));
    o.output.write('^C\n');
    rl.write(null, {ctrl: true, name: 'u'}); // clear what was typed
    rl.prompt();
  });
  if (o.tty) rl.prompt();
  try {
    for (;;) {
      if (lines.length === 0) {
        if (closed) break;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (closed && o.tty) break; // Ctrl-D: leave now, unanswered lines included
      const line = lines.shift()!;
      try {
        reply = new AbortController();
        await turn(chat, line, reply.signal, o);
      } catch (error) {
        if (!o.tty || !(error instanceof HireError)) throw error;
        o.note(`hire: ${error.message}`);
      } finally {
        reply = null;
      }
      if (o.tty && !closed) rl.prompt();
    }
  } finally {
    rl.close();
  }
}

/** One line: a command, or a user message and its streamed reply. */
async function turn(chat: ChatSession, line: string, signal: AbortSignal, o: ChatLoopOptions): Promise<void> {
  const command = /^\/(\w+)(?:\s+([\s\S]*))?$/.exec(line.trim());
  if (command) {
    const [, name, rest] = command;
    if (name === 'reset') {
      chat.reset();
      o.note('(conversation cleared)');
    } else if (name === 'system') {
      chat.setSystem(rest?.trim() ? rest.trim() : undefined);
      o.note(rest?.trim() ? '(system message set; conversation cleared)' : '(system message removed; conversation cleared)');
    } else {
      o.note(name === 'help' ? CHAT_HELP : `unknown command /${name}; ${CHAT_HELP}`);
    }
    return;
  }
  if (line.trim() === '') return;
  const cached = chat.cachedTokens;
  const gen = chat.send(line, {signal});
  const show = (text: string) => o.output.write(o.tty ? text.replace(CONTROL, '\uFFFD') : text);
  try {
    for await (const chunk of gen) show(chunk.text);
  } catch (error) {
    if (!(error instanceof AbortError)) throw error;
    o.output.write('\n');
    o.note(`(reply stopped after ${gen.tokenIds.length} tokens)`);
    return;
  }
  const r = gen.result!;
  o.output.write('\n');
  const reused = r.promptTokenIds.length - r.stats.promptTokens;
  o.note(
    `[${r.stats.generatedTokens} tokens at ${r.stats.decodeTokensPerSecond.toFixed(1)} tok/s; ` +
      `prompt: ${r.stats.promptTokens} new at ${r.stats.prefillTokensPerSecond.toFixed(1)} tok/s, ${reused} from the KV cache (held ${cached}); stop: ${r.stats.stopReason}]`,
  );
}
