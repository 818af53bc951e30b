import {describe, expect, it} from 'vitest';
import {flagFor, kebabCase, parseErrorLine, usageLine, withFlag} from '../../src/cli/errors.js';
import Bench from '../../src/commands/bench.js';
import Calibrate from '../../src/commands/calibrate.js';
import Eval from '../../src/commands/eval.js';
import Generate from '../../src/commands/generate.js';
import {UsageError} from '../../src/core/errors.js';

describe('option names in CLI terms', () => {
  it('kebab-cases option names, nested ones included', () => {
    expect(kebabCase('maxTokens')).toBe('max-tokens');
    expect(kebabCase('kPrime')).toBe('k-prime');
    expect(kebabCase('ffnKPrime')).toBe('ffn-k-prime');
    expect(kebabCase('ffn.groupSize')).toBe('ffn-group-size');
  });

  it("finds a command's flag for an option, or null when it has none", () => {
    expect(flagFor('maxTokens', Generate.flags)).toBe('--max-tokens');
    expect(flagFor('topK', Generate.flags)).toBe('--top-k');
    expect(flagFor('ks', Calibrate.flags, Calibrate.optionFlags)).toBe('--k');
    expect(flagFor('ffn.staticThreshold', Calibrate.flags, Calibrate.optionFlags)).toBe('--ffn-static');
    expect(flagFor('topK', Bench.flags, Bench.optionFlags)).toBeNull();
  });

  it('every alias a command declares is one of its flags', () => {
    for (const command of [Bench, Calibrate, Eval, Generate]) {
      for (const flag of Object.values(command.optionFlags)) expect(Object.keys(command.flags)).toContain(flag);
    }
  });

  it('replaces whole-word mentions of the option only', () => {
    expect(withFlag('kPrime 9 must be at most kPrimes', 'kPrime', '--k-prime')).toBe('--k-prime 9 must be at most kPrimes');
    expect(withFlag('ffn.topK must be in (0, 1]', 'ffn.topK', '--ffn-topk')).toBe('--ffn-topk must be in (0, 1]');
    expect(withFlag('topK and ffn.topK', 'topK', '--top-k')).toBe('--top-k and ffn.topK');
  });

  it("shows a UsageError's option as the flag, and leaves other errors as they are", () => {
    const e = new UsageError('maxTokens must be an integer >= 1, got 0', {option: 'maxTokens'});
    expect(usageLine(e, Generate.flags)).toBe('--max-tokens must be an integer >= 1, got 0');
    expect(usageLine(new UsageError('the prompt is empty'), Generate.flags)).toBe('the prompt is empty');
    expect(usageLine(new UsageError('devices must be 1..64', {option: 'devices'}), Calibrate.flags, Calibrate.optionFlags)).toBe('devices must be 1..64');
  });
});

describe('parseErrorLine', () => {
  it("joins oclif's lines and keeps the reason", () => {
    const err = new Error('Parsing --max-tokens \n\tExpected an integer greater than or equal to 1 but received: 0\nSee more help with --help');
    expect(parseErrorLine(err)).toBe('--max-tokens: Expected an integer greater than or equal to 1 but received: 0');
    const exclusive = new Error('The following error occurred:\n  --tokens=1 cannot also be provided when using --prompt\nSee more help with --help');
    expect(parseErrorLine(exclusive)).toBe('--tokens=1 cannot also be provided when using --prompt');
  });

  it('names a missing argument with its description', () => {
    const err = Object.assign(new Error('Missing 1 required arg:\nmodel  Model directory.\nSee more help with --help'), {args: [{name: 'model', description: 'Model directory.'}]});
    expect(parseErrorLine(err)).toBe('missing argument <model>: Model directory');
  });

  it('drops terminal colours', () => {
    expect(parseErrorLine(new Error('Nonexistent flag: \u001b[1m--bogus\u001b[22m\nSee more help with --help'))).toBe('Nonexistent flag: --bogus');
  });
});
