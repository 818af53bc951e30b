/**
 * Each default is written once, in DEFAULTS (src/api/defaults.ts): every command's --help shows
 * the DEFAULTS value for the flags that read it, and no flag definition writes a default of its
 * own (a literal there would drift from the library's).
 */
import fs from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {DEFAULTS} from '../../src/api/defaults.js';
import {runCli} from '../helpers/cli.js';
import {PROJECT_ROOT} from '../helpers/shared.js';

const d = DEFAULTS;
/** command -> [flag, the DEFAULTS value its --help must show] (oclif shows no default of 0). */
const SHOWN: Record<string, Array<[string, unknown]>> = {
  generate: [
    ['temperature', d.sampling.temperature],
    ['top-k', d.sampling.topK],
    ['top-p', d.sampling.topP],
    ['seed', d.sampling.seed],
    ['repetition-penalty', d.sampling.repetitionPenalty],
    ['max-tokens', d.maxTokens],
    ['logprobs-tail', d.logprobsTail],
    ['backend', d.backend],
    ['recall', d.recall],
    ['ffn', d.ffn],
    ['ffn-recall', d.ffnRecall],
    ['merge', d.merge],
    ['ffn-slack', d.ffnSlack],
  ],
  chat: [
    ['temperature', d.sampling.temperature],
    ['top-k', d.sampling.topK],
    ['top-p', d.sampling.topP],
    ['seed', d.sampling.seed],
    ['repetition-penalty', d.sampling.repetitionPenalty],
    ['max-tokens', d.maxTokens],
    ['backend', d.backend],
    ['recall', d.recall],
  ],
  score: [
    ['recall', d.recall],
    ['logprobs-tail', d.logprobsTail],
    ['backend', d.backend],
  ],
  calibrate: [
    ['recall', d.recall],
    ['tokens', d.calibrate.tokens],
    ['seq-len', d.calibrate.seqLen],
    ['split', d.calibrate.split],
    ['seed', d.calibrate.seed],
    ['k', d.calibrate.ks.join(',')],
    ['backend', d.backend],
    ['ffn-group-size', d.calibrate.ffn.groupSize],
    ['ffn-score', d.calibrate.ffn.score],
    ['ffn-static', d.calibrate.ffn.staticThreshold],
  ],
  eval: [
    ['backend', d.backend],
    ['ffn', d.ffn],
  ],
  bench: [
    ['tokens', d.bench.tokens],
    ['prompt-tokens', d.bench.promptTokens],
    ['dtype', d.bench.dtype],
    ['block-activations', d.blockActivations],
    ['softmax', d.bench.hire.kind],
    ['bits', d.bench.hire.bits],
    ['recall', d.recall],
    ['ffn-kind', d.bench.syntheticFfn.kind],
    ['ffn-group-size', d.bench.syntheticFfn.groupSize],
    ['ffn-topk', d.bench.syntheticFfn.topK],
    ['ffn-read', d.bench.syntheticFfn.read],
    ['repeat', d.bench.repeat],
    ['warmup', d.bench.warmup],
    ['vocab', d.bench.outputLayer.vocabSize],
    ['dim', d.bench.outputLayer.dim],
    ['merge', d.bench.merges.join(',')],
    ['ffn-recall', d.ffnRecall],
    ['ffn-slack', d.ffnSlack],
  ],
};

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('defaults', () => {
  for (const [command, flags] of Object.entries(SHOWN)) {
    it(`hire ${command} --help shows the DEFAULTS value of each flag that has one`, () => {
      const r = runCli([command, '--help']);
      expect(r.code).toBe(0);
      for (const [flag, value] of flags) {
        // "--temperature=<value>  [default: 0.8] ..." (the description may start on the next line)
        const shown = new RegExp(`--${escape(flag)}=<\\w+>(\\.\\.\\.)?\\s+\\[default: ${escape(String(value))}\\]`);
        expect(r.stdout, `--${flag}`).toMatch(shown);
      }
    });
  }

  it('are not written in the flag definitions or the commands (only DEFAULTS, or false for a switch)', () => {
    const commands = path.join(PROJECT_ROOT, 'src/commands');
    const files = [path.join(PROJECT_ROOT, 'src/cli/flags.ts'), ...fs.readdirSync(commands, {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.ts')).map((f) => path.join(commands, f))];
    const literal: string[] = [];
    for (const file of files) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/[{,]\s*default:\s*([^,}\n]+)/g)) {
        const value = m[1]!.trim();
        if (value !== 'false' && !value.includes('DEFAULTS.')) literal.push(`${path.basename(file)}: default: ${value}`);
      }
    }
    expect(literal).toEqual([]);
  });
});
