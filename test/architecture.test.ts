/**
 * The floors of src/ (docs/ARCHITECTURE.md) as a test: it reads every import in src/ and fails on
 * an import from a lower floor to a higher one, on a cycle between folders, on a command that
 * reaches past the public API and the CLI helpers, on a concrete backend imported from outside
 * backends/, and on a second place that runs the layers of a forward pass.
 */
import fs from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {PROJECT_ROOT} from './helpers/shared.js';

const SRC = path.join(PROJECT_ROOT, 'src');

/** Top to bottom; a file may import its own floor or any floor below it. */
export const FLOORS: string[][] = [
  ['commands'],
  ['cli'],
  ['api', 'index.ts'],
  ['core/tasks'],
  ['core/engine'],
  ['core/parallel'],
  ['core/hire'],
  ['core/decode'],
  ['core/backends'],
  ['core/model'],
  ['core/numeric', 'core/io'],
  ['core/errors.ts'],
];

interface Edge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports (static, re-exports and dynamic) of every source file, as paths relative to src/. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  const spec = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g;
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(spec)) {
      const target = path.resolve(path.dirname(file), m[1]!).replace(/\.js$/, '.ts');
      edges.push({from: path.relative(SRC, file), to: path.relative(SRC, target)});
    }
  }
  return edges;
}

function floorOf(rel: string): number {
  const i = FLOORS.findIndex((floor) => floor.some((f) => rel === f || rel.startsWith(`${f}/`)));
  if (i < 0) throw new Error(`src/${rel} lies on no floor; add its folder to FLOORS and to docs/ARCHITECTURE.md`);
  return i;
}

/** The folder of a floor whose files are its front door (interface, registry, shared types). */
function floorRoot(rel: string): string | null {
  const floor = FLOORS.flat().find((f) => rel.startsWith(`${f}/`));
  return floor ?? null;
}

/**
 * Folders that import each other, directly or around a loop (Tarjan's strongly connected
 * components). A floor's own root files (backends/backend.ts and the registry, model/config.ts,
 * ...) are its front door: any folder of the floor may use them, so those edges do not count.
 */
function folderCycles(edges: Edge[]): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const {from, to} of edges) {
    const a = path.dirname(from);
    const b = path.dirname(to);
    if (a === b) continue;
    if (b === floorRoot(from) && a.startsWith(`${b}/`)) continue; // a room using its floor's front door
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    graph.get(a)!.add(b);
  }
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)!) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('the floors of src/', () => {
  const edges = importEdges();

  it('reads a plausible number of imports', () => {
    expect(edges.length).toBeGreaterThan(300);
  });

  it('never imports upward: a floor imports only itself and the floors below it', () => {
    const upward = edges.filter((e) => floorOf(e.to) < floorOf(e.from)).map((e) => `${e.from} -> ${e.to}`);
    expect(upward).toEqual([]);
  });

  it('has no cycle between folders', () => {
    expect(folderCycles(edges)).toEqual([]);
  });

  it('lets commands import only the public API and the CLI helpers', () => {
    const bad = edges.filter((e) => e.from.startsWith('commands/') && !/^(api|cli)\//.test(e.to) && e.to !== 'index.ts');
    expect(bad.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('imports a concrete backend only from inside backends/', () => {
    const concrete = /^core\/backends\/(cpu|tfjs|webgpu|reference|host)\//;
    const bad = edges.filter((e) => concrete.test(e.to) && !e.from.startsWith('core/backends/'));
    expect(bad.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('runs the layers of a forward pass in one place (decode/forward.ts)', () => {
    // The demo model's trainer (tasks/train) builds a differentiable tfjs graph: a training program,
    // not a decode forward pass, and outside this rule.
    const decodeFiles = sourceFiles(SRC)
      .map((f) => path.relative(SRC, f))
      .filter((f) => !f.startsWith('core/backends/') && !f.startsWith('core/tasks/train/'));
    // attention over the KV cache is the step only a forward pass takes
    const runsAttention = decodeFiles.filter((f) => /\.attention\(/.test(fs.readFileSync(path.join(SRC, f), 'utf8')));
    expect(runsAttention).toEqual(['core/decode/forward.ts']);
    const layerLoops = decodeFiles.filter((f) => /for \(let \w+ = 0; \w+ < \w+\.nLayers; \w+\+\+\)[^\n]*\n[^\n]*layers\[\w+\][^\n]*\n(?:[^\n]*\n){0,3}[^\n]*(attention|Block)\(/.test(fs.readFileSync(path.join(SRC, f), 'utf8')));
    expect(layerLoops).toEqual(['core/decode/forward.ts']);
  });
});
