/**
 * Parsed flags -> the library API's options (src/cli/options.ts), with the flags parsed by oclif
 * as the commands parse them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {Parser} from '@oclif/core';
import {describe, expect, it} from 'vitest';
import {DEFAULTS} from '../../src/api/defaults.js';
import {
  benchOptions,
  calibrateOptions,
  chatOptions,
  evaluateOptions,
  generateOptions,
  generatePrompts,
  generateTokenizer,
  loadOptions,
  type BenchFlags,
  type CalibrateFlags,
  type ChatFlags,
  type EvalFlags,
  type GenerateFlags,
} from '../../src/cli/options.js';
import Bench from '../../src/commands/bench.js';
import Calibrate from '../../src/commands/calibrate.js';
import Chat from '../../src/commands/chat.js';
import Eval from '../../src/commands/eval.js';
import Generate from '../../src/commands/generate.js';
import {UsageError} from '../../src/core/errors.js';
import {caught} from '../helpers/caught.js';

async function flagsOf<T>(command: {flags: object}, argv: string[]): Promise<T> {
  const {flags} = await Parser.parse(argv, {flags: command.flags as never, strict: true});
  return flags as T;
}

describe('bench options', () => {
  it('passes --repeat on (the command used to drop it) and maps the synthetic rows and devices', async () => {
    const f = await flagsOf<BenchFlags>(Bench, ['--repeat', '3', '--hire', '--synthetic-ffn', '--ffn-read', '0.3', '--devices', '1,2', '--merge', 'dat', '--batch', '2,4']);
    const o = benchOptions('m', f);
    expect(o.repeat).toBe(3);
    expect(o.hire).toEqual({kind: DEFAULTS.bench.hire.kind, rank: undefined, bits: DEFAULTS.bench.hire.bits, kPrime: undefined});
    expect(o.ffn).toMatchObject({read: 0.3, groupSize: DEFAULTS.bench.syntheticFfn.groupSize});
    expect(o.devices).toMatchObject({counts: [1, 2], merge: ['dat']});
    expect(o.batch).toEqual([2, 4]);
    const plain = benchOptions(undefined, await flagsOf<BenchFlags>(Bench, []));
    expect(plain).toMatchObject({repeat: DEFAULTS.bench.repeat, hire: null, ffn: undefined, devices: null, probe: true});
  });

  it('maps --block-activations for every command that loads a model, defaulting to DEFAULTS (int8)', async () => {
    expect(DEFAULTS.blockActivations).toBe('int8');
    expect(loadOptions(await flagsOf<GenerateFlags>(Generate, ['--prompt', 'a'])).blockActivations).toBe('int8');
    expect(loadOptions(await flagsOf<GenerateFlags>(Generate, ['--prompt', 'a', '--block-activations', 'f32'])).blockActivations).toBe('f32');
    expect(loadOptions(await flagsOf<ChatFlags>(Chat, ['--block-activations', 'f32'])).blockActivations).toBe('f32');
    expect(evaluateOptions('b', await flagsOf<EvalFlags>(Eval, ['--block-activations', 'f32'])).blockActivations).toBe('f32');
    expect(benchOptions('m', await flagsOf<BenchFlags>(Bench, [])).blockActivations).toBe('int8');
    expect(benchOptions('m', await flagsOf<BenchFlags>(Bench, ['--block-activations', 'int16'])).blockActivations).toBe('int16');
    await expect(flagsOf<BenchFlags>(Bench, ['--block-activations', 'int4'])).rejects.toThrow(/int4/);
  });

  it('maps --context and --kv-dtype (bench, generate, eval), the KV cache type defaulting to DEFAULTS', async () => {
    const o = benchOptions('m', await flagsOf<BenchFlags>(Bench, ['--context', '1000', '--kv-dtype', 'f16']));
    expect(o).toMatchObject({context: 1000, kvDtype: 'f16'});
    const plain = benchOptions('m', await flagsOf<BenchFlags>(Bench, []));
    expect(plain.context).toBeUndefined();
    expect(plain.kvDtype).toBe(DEFAULTS.kvDtype);
    expect(loadOptions(await flagsOf<GenerateFlags>(Generate, ['--prompt', 'a', '--kv-dtype', 'f16'])).kvDtype).toBe('f16');
    expect(evaluateOptions('b', await flagsOf<EvalFlags>(Eval, ['--kv-dtype', 'f16'])).kvDtype).toBe('f16');
    await expect(flagsOf<BenchFlags>(Bench, ['--kv-dtype', 'bf16'])).rejects.toThrow(/bf16/);
  });
});

describe('calibrate options', () => {
  it('are the flags in the API terms, with the FFN request only under --calibrate-ffn', async () => {
    const f = await flagsOf<CalibrateFlags>(Calibrate, ['--k', '1,8', '--calibrate-ffn', '--ffn-bits', '4', '--ffn-topk', '0.2']);
    const o = calibrateOptions('m', f);
    expect(o).toMatchObject({model: 'm', ks: [1, 8], recall: DEFAULTS.recall, tokens: DEFAULTS.calibrate.tokens});
    expect(o.ffn).toMatchObject({bits: [4], topK: 0.2, groupSize: DEFAULTS.calibrate.ffn.groupSize, permute: true});
    expect(calibrateOptions('m', await flagsOf<CalibrateFlags>(Calibrate, [])).ffn).toBeNull();
  });
});

describe('generate options', () => {
  it('checks the sampling options before anything is loaded', async () => {
    const f = await flagsOf<GenerateFlags>(Generate, ['--temperature', '-1']);
    const e = caught(() => generateOptions(f));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).option).toBe('temperature');
  });

  it('repeats the prompt for --batch and refuses a mismatch or --certify', async () => {
    const f = await flagsOf<GenerateFlags>(Generate, ['--prompt', 'a', '--batch', '3']);
    expect(generatePrompts(f)).toEqual({prompts: ['a', 'a', 'a'], batch: true});
    expect(generatePrompts(await flagsOf<GenerateFlags>(Generate, ['--tokens', '1,2']))).toEqual({prompts: [[1, 2]], batch: false});
    expect(() => generatePrompts({...f, prompt: ['a', 'b']})).toThrow('--batch 3 does not match the 2 prompts given');
    expect(() => generatePrompts({...f, certify: true})).toThrow(/--certify decodes one sequence at a time/);
  });

  it('gives the device options to loadModel only with --devices', async () => {
    expect(loadOptions(await flagsOf<GenerateFlags>(Generate, ['--prompt', 'a'])).devices).toBeUndefined();
    const f = await flagsOf<GenerateFlags>(Generate, ['--prompt', 'a', '--devices', '2']);
    const o = loadOptions(f, generateTokenizer(f));
    expect(o).toMatchObject({devices: 2, merge: DEFAULTS.merge, ffnSlack: DEFAULTS.ffnSlack, tokenizer: 'required'});
  });

  it('needs the tokenizer for text and chat prompts, not for token ids alone', async () => {
    expect(generateTokenizer(await flagsOf<GenerateFlags>(Generate, ['--prompt-file', 'p.txt']))).toBe('required');
    expect(generateTokenizer(await flagsOf<GenerateFlags>(Generate, []))).toBe('required'); // stdin
    expect(generateTokenizer(await flagsOf<GenerateFlags>(Generate, ['--tokens', '1,2']))).toBe('optional');
    expect(generateTokenizer(await flagsOf<GenerateFlags>(Generate, ['--tokens', '1,2', '--chat']))).toBe('required');
  });

  it('maps the conversation, stopping, penalty and log-prob flags to the API options, checked before loading', async () => {
    const argv = ['--system', 'Be brief.', '--stop', 'A', '--stop', '\n\n', '--min-p', '0.1', '--repetition-penalty', '1.2', '--presence-penalty', '0.5', '--frequency-penalty', '0.25', '--logprobs', '3', '--logprobs-tail', 'estimate', '--chat'];
    const o = generateOptions(await flagsOf<GenerateFlags>(Generate, argv));
    expect(o).toMatchObject({system: 'Be brief.', stop: ['A', '\n\n'], minP: 0.1, repetitionPenalty: 1.2, presencePenalty: 0.5, frequencyPenalty: 0.25, logprobs: 3, logprobsTail: 'estimate', chat: true});
    const f0 = await flagsOf<GenerateFlags>(Generate, []);
    const plain = generateOptions(f0);
    expect(plain).toMatchObject({minP: DEFAULTS.sampling.minP, repetitionPenalty: DEFAULTS.sampling.repetitionPenalty, logprobs: undefined, logprobsTail: DEFAULTS.logprobsTail});
    const e = caught(() => generateOptions({...f0, 'repetition-penalty': 0}));
    expect((e as UsageError).option).toBe('repetitionPenalty');
    const chat = chatOptions(await flagsOf<ChatFlags>(Chat, ['--system', 'S', '--stop', 'x', '--min-p', '0.2']));
    expect(chat).toMatchObject({system: 'S', stop: ['x'], minP: 0.2});
    const c0 = await flagsOf<ChatFlags>(Chat, []);
    expect((caught(() => chatOptions({...c0, 'min-p': 2})) as UsageError).option).toBe('minP');
  });

  it('takes the prompt from --prompt-file, and stands stdin in for --prompt -', async () => {
    const file = path.join(os.tmpdir(), `hire-options-${process.pid}.txt`);
    fs.writeFileSync(file, 'from a file\n');
    try {
      expect(generatePrompts(await flagsOf<GenerateFlags>(Generate, ['--prompt-file', file]))).toEqual({prompts: ['from a file'], batch: false});
    } finally {
      fs.rmSync(file);
    }
    expect(generatePrompts(await flagsOf<GenerateFlags>(Generate, ['--prompt', '-']), 'piped')).toEqual({prompts: ['piped'], batch: false});
    expect(generatePrompts(await flagsOf<GenerateFlags>(Generate, []), 'piped')).toEqual({prompts: ['piped'], batch: false});
    const none = await flagsOf<GenerateFlags>(Generate, []);
    expect(() => generatePrompts(none)).toThrow(/--prompt-file PATH .* or pipe it to stdin/);
  });
});
