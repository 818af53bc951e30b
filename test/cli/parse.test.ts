import {describe, expect, it} from 'vitest';
import {parseTokenIds} from '../../src/cli/parse.js';
import {UsageError} from '../../src/core/errors.js';

describe('parseTokenIds', () => {
  it('parses comma-separated ids with whitespace around them', () => {
    expect(parseTokenIds('1,2,3')).toEqual([1, 2, 3]);
    expect(parseTokenIds(' 1 , 403,\t407 ')).toEqual([1, 403, 407]);
    expect(parseTokenIds('0')).toEqual([0]);
  });

  it.each(['', '   ', '1,,2', '1,2,', ',1', '1,-2', '1.5', 'a', '1 2', '0x10', '99999999999999999999'])(
    'rejects %j with a UsageError',
    (spec) => {
      expect(() => parseTokenIds(spec)).toThrow(UsageError);
    },
  );
});
