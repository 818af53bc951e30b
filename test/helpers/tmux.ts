/**
 * A program in a real pseudo-terminal: tmux (its own server socket, so nothing else is touched)
 * runs it; tests type with send-keys and read the screen with capture-pane. Every wait polls with
 * a bound, so a test fails instead of hanging; kill() ends the server.
 */
import {spawnSync} from 'node:child_process';

export class TmuxSession {
  private readonly socket = `hire-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  /** Starts `command` (a shell command line) in a detached 200x50 session. */
  constructor(command: string, cwd: string) {
    if (spawnSync('tmux', ['-V']).error) throw new Error('tmux is not installed (`apt-get install tmux`; .ci/run installs it)');
    this.tmux(['new-session', '-d', '-s', 'main', '-x', '200', '-y', '50', '-c', cwd, command]);
  }

  /** Types text literally. */
  type(text: string): void {
    this.tmux(['send-keys', '-t', 'main', '-l', text]);
  }

  /** Sends keys by name: Enter, C-c, C-d. */
  key(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'main', ...keys]);
  }

  /** The screen and its scrollback as text. */
  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', 'main']);
  }

  /** Polls the screen until `test` holds (returns the screen), failing with the screen after `timeoutMs`. */
  async waitFor(what: string, test: (screen: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (test(s)) return s;
      if (Date.now() > end) throw new Error(`waited ${timeoutMs / 1000} s for ${what}; the screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }

  private tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], {encoding: 'utf8', timeout: 10_000});
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  }
}
