/**
 * The download bars: fitted to the terminal's width with a bar that keeps its width while the
 * numbers change, drawn only on a TTY that reports a width, one finished line per file.
 */
import {describe, expect, it} from 'vitest';
import {createDownloadBars, formatBar} from '../../src/cli/download-progress.js';

function fakeStream(isTTY: boolean, columns: number): NodeJS.WriteStream & {text: string} {
  const s = {isTTY, columns, text: '', write(chunk: string) {
    s.text += chunk;
    return true;
  }};
  return s as unknown as NodeJS.WriteStream & {text: string};
}

describe('formatBar', () => {
  it('fits the width, and the bar does not move as the numbers grow', () => {
    for (const columns of [120, 80, 40, 12]) {
      for (const done of [0, 999, 500_000, 1_121_800]) {
        expect(formatBar('model.safetensors', done, 1_121_800, columns).length).toBeLessThan(columns);
      }
    }
    const at = (done: number) => formatBar('model.safetensors', done, 1_121_800, 100).indexOf(']');
    expect(new Set([0, 999, 500_000, 1_121_800].map(at)).size).toBe(1);
    expect(formatBar('model.safetensors', 560_900, 1_121_800, 100)).toBe('model.safetensors                [###############---------------]  50%   560.9 KB /   1.12 MB');
  });
});

describe('createDownloadBars', () => {
  const events = [
    {stage: 'downloading a.json', file: 'a.json', done: 0, total: 10},
    {stage: 'downloading a.json', file: 'a.json', done: 10, total: 10},
    {stage: 'downloading b.safetensors', file: 'b.safetensors', done: 0, total: 100},
    {stage: 'downloading b.safetensors', file: 'b.safetensors', done: 40, total: 100},
  ];

  it('draws nothing off a terminal, on a terminal of width 0, or when disabled', () => {
    for (const [stream, enabled] of [[fakeStream(false, 80), true], [fakeStream(true, 0), true], [fakeStream(true, 80), false]] as const) {
      const bars = createDownloadBars(enabled, stream);
      events.forEach((e) => bars.onProgress(e));
      bars.stop();
      expect(stream.text).toBe('');
    }
  });

  it('leaves one line per finished file and ends an unfinished one on stop', () => {
    const stream = fakeStream(true, 80);
    const bars = createDownloadBars(true, stream);
    events.forEach((e) => bars.onProgress(e));
    bars.stop();
    const lines = stream.text.split('\n').map((l) => l.split('\r').filter(Boolean).at(-1) ?? '');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^a\.json +\[#+\] 100% /);
    expect(lines[1]).toMatch(/^b\.safetensors +\[#+-+\]  40% /);
    expect(lines[2]).toBe('');
  });
});
