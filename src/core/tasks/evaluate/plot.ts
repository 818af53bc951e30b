/**
 * Recall curves as a small self-contained SVG: mean recall@k (y) against k' (x, log2 scale), one
 * polyline per predictor, with axes, ticks, grid and a legend. No dependency; text is escaped so
 * any predictor name gives valid XML. writeFileAtomic puts it on disk (temp file + rename).
 */
import fs from 'node:fs';
import path from 'node:path';
import {IoError} from '../../errors.js';
import {SELECTION_K} from '../calibrate/calibrate.js';

/** One recall curve: mean recall@k of a predictor at each k'. */
export interface RecallCurvePoints {
  predictor: string;
  k: number;
  points: Array<{kPrime: number; recall: number}>;
}

export interface RecallPlotOptions {
  title?: string;
  /** Plot only the curves of this k (default: every curve given, labelled with its k when they differ). */
  k?: number;
  /** Extra measurements drawn as hollow markers in their predictor's colour (e.g. recall on validation text). */
  measured?: Array<{predictor: string; kPrime: number; recall: number}>;
}

// Layout in px: the plot area is PLOT_W x PLOT_H; the legend sits to its right and the image
// widens with the longest legend label (about 7 px per character at font-size 12).
const PLOT_W = 480;
const PLOT_H = 340;
const MARGIN = {left: 64, top: 44, bottom: 56};
const HEIGHT = MARGIN.top + PLOT_H + MARGIN.bottom;
const LEGEND_X = MARGIN.left + PLOT_W + 16;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/** The k to plot: the largest requested k that has a curve, else the k calibration selects at (or the nearest above, else the largest). */
export function plotK(curves: RecallCurvePoints[], requested?: number[]): number | undefined {
  const ks = [...new Set(curves.map((c) => c.k))].sort((a, b) => a - b);
  const asked = (requested ?? []).filter((k) => ks.includes(k));
  if (asked.length > 0) return Math.max(...asked);
  return ks.find((k) => k >= SELECTION_K) ?? ks[ks.length - 1];
}

export function renderRecallPlot(curves: RecallCurvePoints[], opts: RecallPlotOptions = {}): string {
  const shown = curves
    .filter((c) => opts.k === undefined || c.k === opts.k)
    .map((c) => ({...c, points: c.points.filter((p) => p.kPrime >= 1 && Number.isFinite(p.recall))}))
    .filter((c) => c.points.length > 0);
  const ks = new Set(shown.map((c) => c.k));
  const labels = shown.map((c) => (ks.size === 1 ? c.predictor : `${c.predictor} (k=${c.k})`));
  const width = LEGEND_X + 40 + 7 * Math.max(22, ...labels.map((l) => l.length));
  const title = opts.title ?? `HiRE-Softmax: recall against candidates k'${ks.size === 1 ? ` (k = ${[...ks][0]})` : ''}`;
  const measured = (opts.measured ?? []).filter((m) => m.kPrime >= 1 && Number.isFinite(m.recall) && shown.some((c) => c.predictor === m.predictor));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
  if (shown.length === 0) {
    out.push(`<text x="${MARGIN.left + PLOT_W / 2}" y="${MARGIN.top + PLOT_H / 2}" text-anchor="middle">no recall curves to plot</text>`, '</svg>');
    return `${out.join('\n')}\n`;
  }
  const kps = [...shown.flatMap((c) => c.points.map((p) => p.kPrime)), ...measured.map((m) => m.kPrime)];
  const recalls = [...shown.flatMap((c) => c.points.map((p) => p.recall)), ...measured.map((m) => m.recall)];
  const x = logAxis(Math.min(...kps), Math.max(...kps));
  const y = recallAxis(Math.min(...recalls));
  out.push(...axes(x, y, ks.size === 1 ? `mean recall@${[...ks][0]}` : 'mean recall@k'));
  shown.forEach((c, i) => {
    const color = COLORS[i % COLORS.length]!;
    const xy = c.points.map((p) => [fmt(x.at(p.kPrime)), fmt(y.at(p.recall))] as const);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${xy.map(([a, b]) => `${a},${b}`).join(' ')}"/>`);
    out.push(`<g fill="${color}">${xy.map(([a, b]) => `<circle cx="${a}" cy="${b}" r="2.5"/>`).join('')}</g>`);
  });
  for (const m of measured) {
    const color = COLORS[shown.findIndex((c) => c.predictor === m.predictor) % COLORS.length]!;
    out.push(`<circle cx="${fmt(x.at(m.kPrime))}" cy="${fmt(y.at(m.recall))}" r="5" fill="none" stroke="${color}" stroke-width="1.5"/>`);
  }
  out.push(...legend(labels, measured.length > 0));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

interface Axis {
  at(v: number): number;
  ticks: Array<{v: number; label: string}>;
}

/** x: log2(k') over whole powers of two, a tick at each (every other one when there are many). */
function logAxis(min: number, max: number): Axis {
  const lo = Math.floor(Math.log2(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log2(max)));
  const step = Math.ceil((hi - lo) / 10);
  const ticks: Axis['ticks'] = [];
  for (let j = lo; j <= hi; j += step) ticks.push({v: 2 ** j, label: String(2 ** j)});
  return {at: (v) => MARGIN.left + ((Math.log2(v) - lo) / (hi - lo)) * PLOT_W, ticks};
}

/** y: recall from the smallest plotted value rounded down to 0.1 (at most 0.9) up to 1. */
function recallAxis(min: number): Axis {
  const lo = Math.min(0.9, Math.max(0, Math.floor(min * 10 + 1e-9) / 10));
  const span = 1 - lo;
  const step = span > 0.5 ? 0.1 : span > 0.15 ? 0.05 : 0.02;
  const ticks: Axis['ticks'] = [];
  for (let i = 0; i <= Math.round(span / step); i++) {
    const v = lo + i * step;
    ticks.push({v, label: v.toFixed(step < 0.1 ? 2 : 1)});
  }
  return {at: (v) => MARGIN.top + (1 - (v - lo) / span) * PLOT_H, ticks};
}

function axes(x: Axis, y: Axis, yLabel: string): string[] {
  const left = MARGIN.left;
  const bottom = MARGIN.top + PLOT_H;
  const out = ['<g stroke="#e0e0e0" stroke-width="1">'];
  for (const t of x.ticks) out.push(`<line x1="${fmt(x.at(t.v))}" y1="${MARGIN.top}" x2="${fmt(x.at(t.v))}" y2="${bottom}"/>`);
  for (const t of y.ticks) out.push(`<line x1="${left}" y1="${fmt(y.at(t.v))}" x2="${left + PLOT_W}" y2="${fmt(y.at(t.v))}"/>`);
  out.push('</g>');
  out.push(`<g stroke="#000000" stroke-width="1"><line x1="${left}" y1="${bottom}" x2="${left + PLOT_W}" y2="${bottom}"/><line x1="${left}" y1="${MARGIN.top}" x2="${left}" y2="${bottom}"/></g>`);
  out.push('<g text-anchor="middle">');
  for (const t of x.ticks) out.push(`<text x="${fmt(x.at(t.v))}" y="${bottom + 16}">${t.label}</text>`);
  out.push(`<text x="${left + PLOT_W / 2}" y="${bottom + 40}">k' (candidates, log scale)</text>`);
  out.push('</g>');
  out.push('<g text-anchor="end">');
  for (const t of y.ticks) out.push(`<text x="${left - 6}" y="${fmt(y.at(t.v) + 4)}">${t.label}</text>`);
  out.push('</g>');
  const cy = MARGIN.top + PLOT_H / 2;
  out.push(`<text x="16" y="${cy}" text-anchor="middle" transform="rotate(-90 16 ${cy})">${escapeXml(yLabel)}</text>`);
  return out;
}

function legend(labels: string[], withMeasured: boolean): string[] {
  const x0 = LEGEND_X;
  const out = ['<g>'];
  labels.forEach((label, i) => {
    const yy = MARGIN.top + 8 + i * 20;
    const color = COLORS[i % COLORS.length]!;
    out.push(`<line x1="${x0}" y1="${yy}" x2="${x0 + 22}" y2="${yy}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${x0 + 28}" y="${yy + 4}">${escapeXml(label)}</text>`);
  });
  if (withMeasured) {
    const yy = MARGIN.top + 8 + labels.length * 20;
    out.push(`<circle cx="${x0 + 11}" cy="${yy}" r="5" fill="none" stroke="#000000" stroke-width="1.5"/>`);
    out.push(`<text x="${x0 + 28}" y="${yy + 4}">measured by hire eval</text>`);
  }
  out.push('</g>');
  return out;
}

function fmt(v: number): string {
  return v.toFixed(2);
}

/** Text and attribute values for XML: the five predefined entities. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'})[c]!);
}

/** Writes text to file through a temporary file in the same directory and a rename. */
export function writeFileAtomic(file: string, text: string): void {
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, target);
  } catch (error) {
    fs.rmSync(tmp, {force: true});
    throw new IoError(target, `cannot write (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {cause: error});
  }
}
