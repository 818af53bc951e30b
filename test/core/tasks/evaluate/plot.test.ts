import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {IoError} from '../../../../src/core/errors.js';
import {escapeXml, plotK, renderRecallPlot, writeFileAtomic, type RecallCurvePoints} from '../../../../src/core/tasks/evaluate/plot.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, {recursive: true, force: true})));

/**
 * A small well-formedness check: every element closes in order, attribute values are quoted, and
 * text holds no raw `<` or stray `&`. Returns the element names in document order.
 */
function checkXml(svg: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    const amp = text.replace(/&(amp|lt|gt|quot|apos);/g, '');
    if (amp.includes('&') || amp.includes('>')) throw new Error(`bad text: ${text}`);
    if (lt < 0) break;
    const gt = svg.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = svg.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (open !== tag.slice(1).trim()) throw new Error(`</${tag.slice(1)}> closes <${open}>`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const name = body.split(/\s/, 1)[0]!;
      if (!/^[a-zA-Z][\w-]*$/.test(name)) throw new Error(`bad element name in <${tag}>`);
      const attrs = body.slice(name.length).trim();
      if (attrs && !/^([\w:-]+="[^"<]*"\s*)+$/.test(attrs)) throw new Error(`bad attributes in <${tag}>`);
      names.push(name);
      if (!selfClosing) stack.push(name);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(', ')}`);
  return names;
}

const curve = (predictor: string, k: number, recalls: number[]): RecallCurvePoints => ({
  predictor,
  k,
  points: recalls.map((recall, j) => ({kPrime: 8 * 2 ** j, recall})),
});

describe('renderRecallPlot', () => {
  const curves = [
    curve('lowrank-r8-svd', 8, [0.5, 0.8, 0.95, 1]),
    curve('quant <int4> & "more"', 8, [0.93, 0.99, 1, 1]),
    curve('lowrank-r8-svd', 32, [0.3, 0.6, 0.9, 1]),
  ];

  it('is one well-formed <svg> with one polyline per predictor and a legend entry each', () => {
    const svg = renderRecallPlot(curves, {k: 8});
    expect(svg.startsWith('<svg')).toBe(true);
    const names = checkXml(svg);
    expect(names.filter((n) => n === 'svg')).toHaveLength(1);
    expect(names.filter((n) => n === 'polyline')).toHaveLength(2);
    expect(svg.split('</svg>')).toHaveLength(2);
    expect(svg).toContain('>lowrank-r8-svd</text>');
    expect(svg).toContain('>quant &lt;int4&gt; &amp; &quot;more&quot;</text>');
    expect(svg).not.toContain('<int4>');
  });

  it('draws every curve, labelled with its k, when no k is given', () => {
    const svg = renderRecallPlot(curves);
    expect(checkXml(svg).filter((n) => n === 'polyline')).toHaveLength(3);
    expect(svg).toContain('lowrank-r8-svd (k=32)');
  });

  it('starts the recall axis at the smallest recall rounded down to 0.1, and puts k\' on a log2 axis', () => {
    const svg = renderRecallPlot([curve('a', 8, [0.93, 0.99, 1, 1])], {k: 8});
    const yLabels = [...svg.matchAll(/text-anchor="end">([\s\S]*?)<\/g>/g)][0]![1]!.match(/>[0-9.]+</g)!.map((s) => s.slice(1, -1));
    expect(yLabels[0]).toBe('0.90');
    expect(yLabels[yLabels.length - 1]).toBe('1.00');
    // x ticks 8, 16, 32, 64 equally spaced
    const xs = [8, 16, 32, 64].map((v) => Number(svg.match(new RegExp(`<text x="([0-9.]+)" y="[0-9.]+">${v}</text>`))![1]));
    const gaps = xs.slice(1).map((x, i) => x - xs[i]!);
    for (const g of gaps) expect(g).toBeCloseTo(gaps[0]!, 6);
    // The polyline's points lie inside the drawing.
    const pts = svg.match(/points="([^"]+)"/)![1]!.split(' ').map((p) => p.split(',').map(Number));
    for (const [x, y] of pts) {
      expect(x).toBeGreaterThanOrEqual(xs[0]! - 1e-6);
      expect(x).toBeLessThanOrEqual(xs[3]! + 1e-6);
      expect(y).toBeGreaterThan(0);
    }
    // Higher recall is drawn higher (smaller y).
    expect(pts[1]![1]!).toBeLessThan(pts[0]![1]!);
  });

  it('marks measured points in the colour of their predictor', () => {
    const svg = renderRecallPlot([curve('a', 8, [0.5, 1])], {k: 8, measured: [{predictor: 'a', kPrime: 12, recall: 0.7}, {predictor: 'zzz', kPrime: 8, recall: 1}]});
    expect(svg.match(/r="5" fill="none"/g)).toHaveLength(2); // one marker (zzz has no curve) + the legend's
    expect(svg).toContain('measured by hire eval');
    checkXml(svg);
  });

  it('still gives a valid SVG when there is nothing to plot', () => {
    const svg = renderRecallPlot([], {title: 'a < b'});
    expect(checkXml(svg)).not.toContain('polyline');
    expect(svg).toContain('a &lt; b');
  });
});

describe('plotK', () => {
  const curves = [1, 8, 32, 64].map((k) => curve('a', k, [1]));
  it("prefers the largest requested k with a curve, else calibration's selection k", () => {
    expect(plotK(curves, [1, 8])).toBe(8);
    expect(plotK(curves, [5])).toBe(32);
    expect(plotK(curves)).toBe(32);
    expect(plotK(curves.slice(0, 2))).toBe(8);
    expect(plotK([])).toBeUndefined();
  });
});

describe('escapeXml', () => {
  it('escapes the five predefined entities', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});

describe('writeFileAtomic', () => {
  it('writes through a temporary file that does not remain', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-plot-'));
    dirs.push(dir);
    const file = path.join(dir, 'r.svg');
    fs.writeFileSync(file, 'old');
    writeFileAtomic(file, '<svg/>');
    expect(fs.readFileSync(file, 'utf8')).toBe('<svg/>');
    expect(fs.readdirSync(dir)).toEqual(['r.svg']);
  });

  it('throws an IoError naming the file when the directory does not exist', () => {
    const file = path.join(os.tmpdir(), 'hire-no-such-dir-xyz', 'r.svg');
    expect(() => writeFileAtomic(file, 'x')).toThrow(IoError);
    expect(() => writeFileAtomic(file, 'x')).toThrow(file);
  });
});
