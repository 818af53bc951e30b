/**
 * Every example in a command's --help parses with that command's flags and arguments, with no
 * deprecated spelling (renaming a flag cannot leave a help example behind) and no path into this
 * checkout's shared folder (a reader has a model directory of their own).
 */
import {Parser} from '@oclif/core';
import {describe, expect, it} from 'vitest';
import Bench from '../../src/commands/bench.js';
import Calibrate from '../../src/commands/calibrate.js';
import Chat from '../../src/commands/chat.js';
import Eval from '../../src/commands/eval.js';
import Generate from '../../src/commands/generate.js';
import Inspect from '../../src/commands/inspect.js';
import Pull from '../../src/commands/pull.js';
import Score from '../../src/commands/score.js';
import Quantize from '../../src/commands/quantize.js';

const COMMANDS = {bench: Bench, calibrate: Calibrate, chat: Chat, eval: Eval, generate: Generate, inspect: Inspect, pull: Pull, quantize: Quantize, score: Score};

/** Commands whose examples name a generic model directory (test/commands/oclif-conventions.test.ts checks every command). */
const GENERIC = ['generate', 'chat', 'score'];

/** A shell-like split: whitespace separates, double quotes group. */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

describe('--help examples', () => {
  for (const [name, command] of Object.entries(COMMANDS)) {
    it(`hire ${name}: every example parses, without a deprecated flag`, async () => {
      const aliases = Object.values(command.flags).flatMap((f) => ((f as {aliases?: string[]}).aliases ?? []).map((a) => `--${a}`));
      for (const example of command.examples as string[]) {
        // "echo hi | hire generate ...": the part of a pipeline that runs hire, without "VAR=value" before it
        const invocation = example.split(' | ').find((part) => part.includes('<%= config.bin %>'))!.replace(/^\s*(?:[A-Z_]+=\S*\s+)*/, '');
        expect(invocation.trimStart().startsWith(`<%= config.bin %> ${name}`), example).toBe(true);
        const argv = words(invocation.replace(`<%= config.bin %> ${name}`, '')).filter((w) => w !== '>' && !w.endsWith('.json'));
        await expect(Parser.parse(argv, {flags: {...command.baseFlags, ...command.flags} as never, args: command.args as never, strict: true}), example).resolves.toBeDefined();
        expect(argv.filter((w) => aliases.includes(w)), example).toEqual([]);
        if (GENERIC.includes(name)) expect(example, 'a generic model directory, not a path into this checkout').not.toMatch(/\.\.\/shared/);
      }
    });
  }
});
