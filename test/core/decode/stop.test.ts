/** Stop strings over streamed text: found across pieces, never emitted, nothing held back for good. */
import {describe, expect, it} from 'vitest';
import {StopMatcher, validateStopStrings} from '../../../src/core/decode/stop.js';

function run(stops: string[], pieces: string[]): {emitted: string[]; stopped: boolean; rest: string} {
  const m = new StopMatcher(stops);
  const emitted = pieces.map((p) => m.push(p));
  return {emitted, stopped: m.stopped, rest: m.flush()};
}

describe('StopMatcher', () => {
  it('stops at a stop string split over pieces and emits only the text before it', () => {
    const r = run(['\nUser:'], ['Hello', ' there\n', 'Us', 'er: more', ' text']);
    expect(r.emitted).toEqual(['Hello', ' there', '', '', '']);
    expect(r.stopped).toBe(true);
    expect(r.rest).toBe('');
  });

  it('holds back only a possible start of a stop string, and lets it go when it is not one', () => {
    const r = run(['END'], ['abcE', 'N', 'x', 'yz']);
    expect(r.emitted).toEqual(['abc', '', 'ENx', 'yz']);
    expect(r.stopped).toBe(false);
  });

  it('returns a held-back tail at the end when no stop string came', () => {
    const r = run(['STOP'], ['all good ST']);
    expect(r.emitted).toEqual(['all good ']);
    expect(r.rest).toBe('ST');
  });

  it('takes the earliest of several stop strings', () => {
    expect(run(['b', 'abc'], ['xxabc']).emitted).toEqual(['xx']);
    expect(run(['c', 'xab'], ['yxabc']).emitted).toEqual(['y']);
    expect(run(['bc', 'ab'], ['xab', 'c']).emitted).toEqual(['x', '']);
  });

  it('passes text through without stop strings', () => {
    expect(run([], ['a', 'b']).emitted).toEqual(['a', 'b']);
  });

  it('checks the option', () => {
    expect(validateStopStrings(undefined)).toEqual([]);
    expect(validateStopStrings('x')).toEqual(['x']);
    expect(() => validateStopStrings([''])).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'stop'}));
    expect(() => validateStopStrings([1])).toThrow(expect.objectContaining({option: 'stop'}));
  });
});
