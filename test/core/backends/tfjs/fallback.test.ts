/**
 * The tfjs cpu engine: chosen with `prefer: 'cpu'`, and the fallback (with a warning through
 * onWarning) when the wasm binary cannot be loaded. Its own file, because tfjs keeps one engine per
 * process and a failed wasm start cannot be retried. The cpu engine then decodes llama2xs like the
 * reference.
 */
import {afterAll, describe, expect, it} from 'vitest';
import {ReferenceBackend} from '../../../../src/core/backends/reference/reference-backend.js';
import {createTfjsBackend, type TfjsBackend} from '../../../../src/core/backends/tfjs/tfjs-backend.js';
import {Transformer} from '../../../../src/core/decode/forward.js';
import {Session} from '../../../../src/core/engine/session.js';
import {openModel} from '../../../../src/core/model/load.js';
import {uploadWeights} from '../../../../src/core/decode/weights.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../../../helpers/shared.js';
import {expectClose, randomArray, randomMatrix, rng} from './helpers.js';
import {greedyIds} from '../../../helpers/greedy.js';

const live: TfjsBackend[] = [];
afterAll(() => live.forEach((b) => b.dispose()));

async function create(opts: Parameters<typeof createTfjsBackend>[0]): Promise<TfjsBackend> {
  const b = await createTfjsBackend(opts);
  live.push(b);
  return b;
}

describe('tfjs backend: cpu engine and wasm fallback', () => {
  it("prefer: 'cpu' runs the cpu engine without a warning", async () => {
    const warnings: string[] = [];
    const b = await createTfjsBackend({prefer: 'cpu', onWarning: (m) => warnings.push(m)});
    expect(b.engineName).toBe('cpu');
    expect(b.describe()).toBe('tfjs (cpu; weights held as f32)');
    expect(warnings).toEqual([]);
    b.dispose();
  });

  it('falls back to cpu with a warning when the wasm binary is missing, and tells later callers', async () => {
    const warnings: string[] = [];
    const b = await create({wasmDir: '/nonexistent/tfjs-wasm', onWarning: (m) => warnings.push(m)});
    expect(b.engineName).toBe('cpu');
    expect(b.describe()).toMatch(/^tfjs \(cpu/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/tfjs wasm engine unavailable \(.*nonexistent.*not found\); using the slower tfjs cpu engine/);
    const again = await create({onWarning: (m) => warnings.push(m)});
    expect(again.engineName).toBe('cpu');
    expect(warnings).toHaveLength(2);
  });

  it('cpu engine kernels: matvec, matvecRows, and read() returns a copy', async () => {
    const b = await create({prefer: 'cpu'});
    const ref = new ReferenceBackend();
    const random = rng(21);
    const host = randomMatrix('bf16', 90, 70, random);
    const xData = randomArray(70, random);
    const [w, rw] = [b.uploadMatrix(host), ref.uploadMatrix(host)];
    const [x, rx] = [b.uploadVector(xData), ref.uploadVector(xData)];
    const [out, rout] = [b.createVector(90), ref.createVector(90)];
    b.matvec(w, x, out);
    ref.matvec(rw, rx, rout);
    const got = await b.read(out);
    expectClose(got, await ref.read(rout), 1e-5);
    got[0] = 12345;
    expect((await b.read(out))[0]).not.toBe(12345);
    const pick = Int32Array.from([5, 89, 5, 0]);
    const [sel, rsel] = [b.createVector(4), ref.createVector(4)];
    b.matvecRows(w, pick, x, sel);
    ref.matvecRows(rw, pick, rx, rsel);
    expectClose(await b.read(sel), await ref.read(rsel), 1e-5);
  });

  it.runIf(HAVE_SHARED)('cpu engine reproduces the 64 llama2xs reference greedy tokens', async () => {
    const b = await create({prefer: 'cpu'});
    const source = openModel(LLAMA2XS_DIR);
    const model = Session.onBackend(source, b, new Transformer(source.config, uploadWeights(source, b), b));
    source.checkpoint.close();
    const ref = readLlama2xsReference();
    const prompt = ref.prompt_token_ids;
    expect(await greedyIds(model, prompt, 64)).toEqual(ref.greedy_token_ids.slice(prompt.length, prompt.length + 64));
  });
});
