/**
 * A corpus of broken bundles, generated from the demo bundle: every field of hire.json missing, of
 * the wrong type, or out of range (negative, fractional, huge, NaN written as null); cross-field
 * breakage (a layer too few, k'_g past the groups, a DaT slack of -7); predictor tensors holding
 * NaN, Infinity, negative scales or only zeros; weights re-permuted, truncated or flipped. Each must
 * fail at load with one line naming the file and the field or tensor (BundleError / WeightError),
 * never with a TypeError and never by decoding garbage.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {generate} from '../../../../src/api/generate.js';
import {loadBundle} from '../../../../src/api/model.js';
import {DistributedModel} from '../../../../src/core/parallel/distributed-model.js';
import {chooseDistributedHead} from '../../../../src/core/parallel/heads.js';
import {openDeviceGroup} from '../../../../src/core/engine/device-group.js';
import {BundleError, HireError, UsageError, WeightError} from '../../../../src/core/errors.js';
import {parseManifest, readManifest, readPredictor, type HireManifest} from '../../../../src/core/hire/bundle/bundle.js';
import {checkBundle, checkBundleWeights} from '../../../../src/core/hire/bundle/identity.js';
import {readFfnPlans} from '../../../../src/core/hire/bundle/ffn-section.js';
import {calibrate} from '../../../../src/core/tasks/calibrate/calibrate.js';
import {fingerprintRanges, weightFileHash} from '../../../../src/core/io/file-hash.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import type {ModelConfig} from '../../../../src/core/model/config.js';
import {TINY_VOCAB_SIZE, writeTinyTokenizer} from '../../../helpers/tiny-tokenizer.js';
import {configOf, copyDemoBundle, editF32Tensors, editManifest, readJson, reverseRows, rewrite} from '../../../helpers/bundles.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-broken-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));
const GREEDY = {temperature: 0, topK: 0, topP: 1};
const FILE = '/b/hire.json';

let valid: HireManifest;
let config: ModelConfig;
beforeAll(() => {
  const dir = copyDemoBundle(path.join(tmp, 'valid.hire'));
  config = configOf(dir);
  valid = readJson(path.join(dir, 'hire.json')) as unknown as HireManifest;
});

/** One clear line: a HireError of `code` whose message starts with `file` and contains every `parts`. */
function expectClear(error: unknown, code: string, file: string, ...parts: string[]): void {
  expect(error).toBeInstanceOf(HireError);
  const e = error as HireError;
  expect(e.code).toBe(code);
  expect(e.message).not.toContain('\n');
  expect(e.message.startsWith(`${file}: `)).toBe(true);
  for (const p of parts) expect(e.message).toContain(p);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

// ---------------------------------------------------------------------------------------------
// Every field of hire.json.

type Key = string | number;

/** Every field path of a JSON value (arrays: their first and last element only). */
function* fieldPaths(v: unknown, at: Key[] = []): Generator<Key[]> {
  if (Array.isArray(v)) {
    for (const i of new Set([0, v.length - 1].filter((i) => i >= 0))) {
      yield [...at, i];
      yield* fieldPaths(v[i], [...at, i]);
    }
  } else if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      yield [...at, k];
      yield* fieldPaths((v as Record<string, unknown>)[k], [...at, k]);
    }
  }
}

/** A path as the messages write it: softmax.predictors[0].kPrime["0.99"]["32"]. */
function show(p: Key[]): string {
  return p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? (s ? `${s}.${k}` : k) : `${s}[${JSON.stringify(k)}]`), '');
}

const DELETE = Symbol('delete');

function mutated(m: unknown, p: Key[], value: unknown): unknown {
  const copy = structuredClone(m) as Record<Key, unknown>;
  let parent = copy;
  for (const k of p.slice(0, -1)) parent = parent[k] as Record<Key, unknown>;
  const last = p[p.length - 1]!;
  if (value === DELETE) delete parent[last];
  else parent[last] = value;
  return copy;
}

const matches = (rules: RegExp[], s: string) => rules.some((r) => r.test(s));
/** Fields that may be left out. */
const OPTIONAL = [/^weights$/, /\.fingerprint$/, /^softmax\.dat$/, /^softmax\.dat\.layout$/, /kPrime\["[^"]+"\](\["[^"]+"\])?$/];
/** Fields that may be null. */
const NULLABLE = [
  /^softmax$/,
  /^ffn$/,
  /^softmax\.predictors\[\d+\]\.kPrime\["[^"]+"\]\["[^"]+"\]$/,
  /^ffn\.layers\[\d+\]\.kPrime\["[^"]+"\]$/,
  /tried\[\d+\]\.kPrime$/,
  /^softmax\.dat\.entries\[\d+\]\.slack$/,
];
/** Numbers that are shares or recalls in [0, 1] (all other numbers are integers). */
const REAL = [/recall\.(mean|full)\[/, /recallTargets\[/, /selectTarget$/, /^ffn\.topK$/, /staticThreshold$/, /maxLoss$/, /\.single$/, /entries\[\d+\]\.dat\[/, /layers\[\d+\]\.recall\[/, /groupActivity\[/];
/** Strings with a fixed set of values or a pattern: "bogus" is out of range. */
const CLOSED = [/^format$/, /\.kind$/, /\.fit$/, /^softmax\.selected$/, /^softmax\.dat\.predictor$/, /^softmax\.dat\.layout$/, /^ffn\.layout$/, /^ffn\.score$/, /\.sha256$/, /\.fingerprint$/];

/** The mutations of one field and whether each must be rejected. */
function mutationsOf(p: Key[], v: unknown): Array<{what: string; value: unknown; rejected: boolean}> {
  const s = show(p);
  const out: Array<{what: string; value: unknown; rejected: boolean}> = [];
  if (typeof p[p.length - 1] === 'string') out.push({what: 'missing', value: DELETE, rejected: !matches(OPTIONAL, s)});
  if (typeof v === 'number') {
    out.push({what: 'a string', value: String(v), rejected: true});
    out.push({what: 'negative', value: -1, rejected: s !== 'calibration.seed'});
    out.push({what: 'huge', value: 1e300, rejected: true});
    out.push({what: 'NaN (written as null)', value: null, rejected: !matches(NULLABLE, s)});
    if (matches(REAL, s)) out.push({what: 'above 1', value: 1.5, rejected: true});
    else out.push({what: 'fractional', value: v + 0.5, rejected: true});
  } else if (typeof v === 'string') {
    out.push({what: 'a number', value: 7, rejected: true});
    if (matches(CLOSED, s)) out.push({what: 'out of its set', value: 'bogus', rejected: true});
  } else if (typeof v === 'boolean') {
    out.push({what: 'a string', value: String(v), rejected: true});
  } else if (v === null) {
    out.push({what: 'a string', value: 'x', rejected: true});
  } else {
    out.push({what: 'a string', value: 'x', rejected: true});
    out.push({what: Array.isArray(v) ? 'an object' : 'an array', value: Array.isArray(v) ? {} : [], rejected: true});
    out.push({what: 'null', value: null, rejected: !matches(NULLABLE, s)});
  }
  return out;
}

describe('hire.json, field by field', () => {
  it('the demo bundle passes, and every field missing, of the wrong type or out of range fails with one line naming it', () => {
    expect(() => parseManifest(FILE, valid, config)).not.toThrow();
    const problems: string[] = [];
    let cases = 0;
    for (const p of fieldPaths(valid)) {
      let v: unknown = valid;
      for (const k of p) v = (v as Record<Key, unknown>)[k];
      for (const m of mutationsOf(p, v)) {
        cases++;
        const label = `${show(p)} ${m.what}`;
        let error: unknown = null;
        try {
          parseManifest(FILE, mutated(valid, p, m.value), config);
        } catch (e) {
          error = e;
        }
        if (!m.rejected) {
          if (error) problems.push(`${label}: should pass, got ${(error as Error).message}`);
          continue;
        }
        const msg = error instanceof Error ? error.message : '';
        const clear = error instanceof BundleError && msg.startsWith(`${FILE}: `) && !msg.includes('\n') && msg.includes(show(p));
        if (!clear) problems.push(`${label}: ${error ? `${(error as Error).name}: ${msg}` : 'accepted'}`);
      }
    }
    expect(problems).toEqual([]);
    expect(cases).toBeGreaterThan(1000);
  });

  const cases: Array<[string, (m: any) => void, string]> = [
    ['a missing FFN layer', (m) => m.ffn.layers.pop(), 'ffn.layers must be an array of 4, found an array of 3'],
    ['k\'_g of -3', (m) => (m.ffn.layers[2].kPrime['0.99'] = -3), 'ffn.layers[2].kPrime["0.99"] must be an integer from 0 to'],
    ['a fractional k\'_g', (m) => (m.ffn.layers[2].kPrime['0.99'] = 2.5), 'ffn.layers[2].kPrime["0.99"] must be an integer'],
    ['k\'_g past the dynamic groups', (m) => (m.ffn.layers[1].kPrime['0.9'] = 64 - m.ffn.layers[1].nStatic + 1), 'ffn.layers[1].kPrime["0.9"] must be an integer from 0 to'],
    ['a negative group size', (m) => (m.ffn.groupSize = -8), 'ffn.groupSize must be an integer from 1 to 32 that divides the FFN width 512, found -8'],
    ['a group size that does not divide the FFN', (m) => (m.ffn.groupSize = 7), 'ffn.groupSize must be an integer from 1 to 32'],
    ['a group size above 32', (m) => (m.ffn.groupSize = 64), 'found 64'],
    ['an unknown score', (m) => (m.ffn.score = 'median'), 'ffn.score must be one of "max", "sum", found "median"'],
    ['more static groups than groups', (m) => (m.ffn.layers[0].nStatic = 65), 'ffn.layers[0].nStatic must be an integer from 0 to 64'],
    ['a recall curve of the wrong length', (m) => m.ffn.layers[3].recall.pop(), 'ffn.layers[3].recall must be an array of'],
    ['a DaT slack of -7', (m) => (m.softmax.dat.entries[3].slack = -7), 'softmax.dat.entries[3].slack must be an integer from 0 to 4096 or null, found -7'],
    ['a DaT row of the wrong length', (m) => m.softmax.dat.entries[0].dat.pop(), 'softmax.dat.entries[0].dat must be an array of 10'],
    ['k\' above the vocabulary', (m) => (m.softmax.predictors[1].kPrime['0.99']['8'] = 4097), 'softmax.predictors[1].kPrime["0.99"]["8"] must be an integer from 1 to 4096'],
    ['a recall target key that is not a number', (m) => (m.softmax.predictors[0].kPrime.high = {}), 'softmax.predictors[0].kPrime key "high" must be a number'],
    ['ks not ascending', (m) => (m.softmax.predictors[0].recall.ks = [8, 1, 32, 64]), 'softmax.predictors[0].recall.ks[1] must be greater than'],
    ['a recall table row too short', (m) => m.softmax.predictors[2].recall.mean[1].pop(), 'softmax.predictors[2].recall.mean[1] must be an array of'],
    ['a rank above the width', (m) => (m.softmax.predictors[0].rank = 129), 'softmax.predictors[0].rank must be an integer from 1 to 128'],
    ['bits outside 8, 4, 2', (m) => (m.softmax.predictors[2].bits = 3), 'softmax.predictors[2].bits must be one of 8, 4, 2, found 3'],
    ['two predictors of one name', (m) => (m.softmax.predictors[1].name = m.softmax.predictors[0].name), 'softmax.predictors[1].name must be unique'],
    ['a selected predictor that does not exist', (m) => (m.softmax.selected = 'nope'), 'softmax.selected must be one of'],
    ['a recall target of 0', (m) => (m.softmax.recallTargets[0] = 0), 'softmax.recallTargets[0] must be a number in (0, 1], found 0'],
    ['a weight file named with a directory', (m) => (m.weights[0].file = '../model.safetensors'), 'weights[0].file must be a file name without a directory'],
    ['a short sha256', (m) => (m.weights[0].sha256 = 'abc'), 'weights[0].sha256 must be a sha256'],
    ['version 2', (m) => (m.version = 2), 'bundle format version 2 is not supported'],
    ['another model', (m) => (m.model.vocabSize = 4000), 'made for vocabulary 4000 and width 128, but the model has 4096 and 128'],
    ['another architecture', (m) => (m.model.architecture = 'GPT2LMHeadModel'), 'made for a GPT2LMHeadModel, but the model is a LlamaForCausalLM'],
  ];
  for (const [what, edit, message] of cases) {
    it(`rejects ${what}`, () => {
      const m = structuredClone(valid);
      edit(m);
      expectClear(thrown(() => parseManifest(FILE, m, config)), 'E_BUNDLE', FILE, message);
    });
  }

  it('rejects a top level that is not an object, and a file that is not JSON (naming the position only)', () => {
    expectClear(thrown(() => parseManifest(FILE, [1, 2], config)), 'E_BUNDLE', FILE, 'the top level must be an object, found an array of 2');
    const dir = copyDemoBundle(path.join(tmp, 'not-json.hire'));
    const file = path.join(dir, 'hire.json');
    rewrite(file, '{"format": "hire-bundle", "secret": "SECRET-CONTENT", oops}');
    const e = thrown(() => readManifest(dir, config));
    expectClear(e, 'E_BUNDLE', file, 'invalid JSON at line 1, column');
    expect((e as Error).message).not.toContain('SECRET');
  });
});

// ---------------------------------------------------------------------------------------------
// Predictor tensors.

describe('predictor tensors', () => {
  const SOFT = 'softmax.quant-int4-g64';
  const tensorCases: Array<[string, string, (v: Float32Array) => void, string]> = [
    ['NaN in a scale', `${SOFT}.Wq.scales`, (v) => (v[5] = NaN), 'holds NaN at element 5'],
    ['Infinity in a low-rank factor', 'softmax.lowrank-r16-svd.A', (v) => (v[0] = Infinity), 'holds Infinity at element 0'],
    ['an all-zero factor', 'softmax.lowrank-r16-data-aware.B', (v) => v.fill(0), 'is all zeros, so the predictor ranks nothing'],
    ['all-zero scales', 'softmax.lowrank-r16-data-aware+int8.Aq.scales', (v) => v.fill(0), 'is all zeros'],
    ['a negative scale', `${SOFT}.Wq.scales`, (v) => (v[3] = -Math.abs(v[3]!) - 1), 'holds a negative value'],
    ['a negative error norm', `${SOFT}.err`, (v) => (v[7] = -1), 'holds a negative value (-1) at element 7'],
  ];
  for (const [what, tensor, edit, message] of tensorCases) {
    it(`rejects ${what} when the predictor is read`, () => {
      const dir = copyDemoBundle(path.join(tmp, `tensor-${tensor}-${what.replace(/\W+/g, '-')}.hire`));
      const file = path.join(dir, 'hire.safetensors');
      editF32Tensors(file, [tensor], edit);
      const m = readManifest(dir, config);
      const name = tensor.split('.').slice(1, -1).join('.').replace(/\.(Wq|Aq)$/, '');
      expectClear(thrown(() => readPredictor(dir, m, name)), 'E_BUNDLE', file, `tensor "${tensor}"`, `predictor "${name}"`, message);
    });
  }

  it('rejects NaN in an FFN predictor of one layer, naming the layer', () => {
    const dir = copyDemoBundle(path.join(tmp, 'ffn-nan.hire'));
    const file = path.join(dir, 'hire.safetensors');
    editF32Tensors(file, ['ffn.2.quant-int4-g64.Wq.scales'], (v) => (v[100] = NaN));
    const m = readManifest(dir, config);
    expectClear(thrown(() => readFfnPlans(dir, m.ffn!, 0.99, config)), 'E_BUNDLE', file, 'tensor "ffn.2.quant-int4-g64.Wq.scales" of FFN layer 2 holds NaN');
  });

  it('through the library API: loading fails on a bad FFN predictor, the first token on a bad softmax predictor', async () => {
    const ffnDir = copyDemoBundle(path.join(tmp, 'api-ffn.hire'));
    editF32Tensors(path.join(ffnDir, 'hire.safetensors'), ['ffn.0.quant-int4-g64.Wq.scales'], (v) => v.fill(0));
    const e1 = await loadBundle(ffnDir, {backend: 'reference', tokenizer: 'none'}).catch((e: unknown) => e);
    expectClear(e1, 'E_BUNDLE', path.join(ffnDir, 'hire.safetensors'), 'ffn.0.quant-int4-g64.Wq.scales', 'all zeros');

    const softDir = copyDemoBundle(path.join(tmp, 'api-soft.hire'));
    editF32Tensors(path.join(softDir, 'hire.safetensors'), [`${SOFT}.Wq.scales`], (v) => (v[0] = NaN));
    const model = await loadBundle(softDir, {backend: 'reference', tokenizer: 'none', ffn: 'off'});
    try {
      const e2 = await (async () => generate(model, [1, 2], {maxTokens: 1, ...GREEDY}).complete())().catch((e: unknown) => e);
      expectClear(e2, 'E_BUNDLE', path.join(softDir, 'hire.safetensors'), `${SOFT}.Wq.scales`, 'NaN');
    } finally {
      model.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Weight identity.

const FFN_MATRICES = [0, 1, 2, 3].flatMap((l) => ['gate_proj', 'up_proj', 'down_proj'].map((w) => `model.layers.${l}.mlp.${w}.weight`));

describe('weight identity', () => {
  it('re-permuted FFN neurons (same size, an equally good model) fail the fingerprint at load', async () => {
    const dir = copyDemoBundle(path.join(tmp, 'permuted.hire'));
    const weights = path.join(dir, 'model.safetensors');
    const size = fs.statSync(weights).size;
    editF32Tensors(weights, FFN_MATRICES, reverseRows);
    expect(fs.statSync(weights).size).toBe(size);
    expectClear(thrown(() => checkBundle(dir, config)), 'E_WEIGHTS', weights, 'fingerprint', 're-run hire calibrate');
    const e = await loadBundle(dir, {backend: 'reference', tokenizer: 'none'}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WeightError);
    expect((e as Error).message).toContain('fingerprint');
  });

  it('a byte flipped between the fingerprint windows passes the fingerprint and fails verifyWeights (sha256)', async () => {
    const dir = copyDemoBundle(path.join(tmp, 'flipped.hire'));
    const weights = path.join(dir, 'model.safetensors');
    const bytes = new Uint8Array(fs.readFileSync(weights));
    const ranges = fingerprintRanges(bytes.length);
    const at = Math.floor((ranges[8]![1] + ranges[9]![0]) / 2); // between two windows, inside tensor data
    expect(ranges.some(([a, b]) => at >= a && at < b)).toBe(false);
    bytes[at] = bytes[at]! ^ 0x40;
    rewrite(weights, bytes);
    expect(checkBundle(dir, config).verified).toEqual(['size', 'fingerprint']);
    expectClear(thrown(() => checkBundle(dir, config, {verifyWeights: true})), 'E_WEIGHTS', weights, 'sha256 differs from hire.json');
    const e = await loadBundle(dir, {backend: 'reference', tokenizer: 'none', verifyWeights: true}).catch((x: unknown) => x);
    expectClear(e, 'E_WEIGHTS', weights, 'sha256');
  });

  it('a truncated or missing weight file fails on its size or absence', () => {
    const dir = copyDemoBundle(path.join(tmp, 'truncated.hire'));
    const weights = path.join(dir, 'model.safetensors');
    rewrite(weights, fs.readFileSync(weights).subarray(0, 1000));
    expectClear(thrown(() => checkBundle(dir, config)), 'E_WEIGHTS', weights, 'size differs from hire.json (1000 bytes, recorded 6300120)');
    fs.rmSync(weights);
    expectClear(thrown(() => checkBundle(dir, config)), 'E_WEIGHTS', weights, 'missing');
  });

  it('a bundle made before weights were recorded still loads; asked to verify, it says it cannot', () => {
    const dir = copyDemoBundle(path.join(tmp, 'old.hire'));
    editManifest(dir, (m) => delete m.weights);
    expect(checkBundle(dir, config).verified).toEqual([]);
    expectClear(thrown(() => checkBundle(dir, config, {verifyWeights: true})), 'E_BUNDLE', path.join(dir, 'hire.json'), 'cannot be verified', 're-run hire calibrate');
    // without an FFN section the weights are the source's: source.weights is what they are checked against
    const m = readManifest(dir, config);
    const linked = {...m, ffn: null};
    expect(checkBundleWeights(dir, linked)).toEqual(['size']);
    expectClear(thrown(() => checkBundleWeights(dir, linked, {verifyWeights: true})), 'E_WEIGHTS', path.join(dir, 'model.safetensors'), 'sha256');
  });
});

describe('what calibrate records', () => {
  it('the hashes and fingerprints of the bundle\'s own weights: the source\'s when linked, the re-laid-out file\'s with an FFN section', async () => {
    const src = path.join(tmp, 'gpt2-src');
    writeSyntheticCheckpoint(src, {family: 'gpt2', dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, vocabSize: TINY_VOCAB_SIZE, maxSeqLen: 64, seed: 5});
    writeTinyTokenizer(src);
    const text = path.join(tmp, 'gpt2.txt');
    fs.writeFileSync(text, 'the quick brown fox jumps over the lazy dog; a chat about hills and rivers. '.repeat(30));
    const base = {model: src, data: [text], tokens: 300, softmax: ['quant' as const], bits: 8 as const, ks: [1], threads: 1};
    const linked = (await calibrate({...base, out: path.join(tmp, 'linked.hire')})).manifest;
    expect(linked.source.weights[0]!.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(linked.weights).toEqual(linked.source.weights);
    const out = path.join(tmp, 'relaid.hire');
    const relaid = (await calibrate({...base, out, ffn: {groupSize: 4, topK: 0.25}})).manifest;
    expect(relaid.weights).toEqual([weightFileHash(path.join(out, 'model.safetensors'))]);
    expect(relaid.weights![0]!.sha256).not.toBe(relaid.source.weights[0]!.sha256);
    // what calibrate writes passes every check, the full sha256 included
    expect(readJson(path.join(out, 'hire.json'))).toEqual(JSON.parse(JSON.stringify(relaid)));
    expect(checkBundle(out, configOf(out), {verifyWeights: true}).verified).toEqual(['size', 'fingerprint', 'sha256']);
  }, 60_000);

  it('the fingerprint reads the whole of a small file, and at most 3 MiB of a large one', () => {
    expect(fingerprintRanges(1000)).toEqual([[0, 1000]]);
    const size = 13e9;
    const ranges = fingerprintRanges(size);
    expect(ranges[0]).toEqual([0, 1 << 20]);
    expect(ranges[ranges.length - 1]).toEqual([size - (1 << 20), size]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
    expect(ranges.reduce((a, [s, e]) => a + e - s, 0)).toBe(3 << 20);
  });
});

// ---------------------------------------------------------------------------------------------
// --devices: the same checks.

describe('with --devices', () => {
  it('refuses a DaT slack of -7 from hire.json, and as an option', () => {
    const dir = copyDemoBundle(path.join(tmp, 'slack.hire'));
    editManifest(dir, (m) => (m.softmax.dat.entries[0].slack = -7));
    const opts = {devices: 2, topk: 'dat' as const};
    expectClear(thrown(() => chooseDistributedHead(dir, config, GREEDY, opts)), 'E_BUNDLE', path.join(dir, 'hire.json'), 'softmax.dat.entries[0].slack', 'found -7');
    const e = thrown(() => chooseDistributedHead(path.join(tmp, 'valid.hire'), config, GREEDY, {...opts, slack: -7}));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^slack must be an integer from 0 to the vocabulary size 4096, got -7$/);
  });

  it('a device that reads a bad predictor fails with the BundleError one device would give', async () => {
    const dir = copyDemoBundle(path.join(tmp, 'devices-nan.hire'));
    const file = path.join(dir, 'hire.safetensors');
    editF32Tensors(file, ['ffn.3.quant-int4-g64.Wq.scales'], (v) => (v[9] = NaN));
    const e = await DistributedModel.open({modelDir: dir, devices: 2, topk: 'exact', head: {kind: 'dense'}}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BundleError);
    expectClear(e, 'E_BUNDLE', file, 'tensor "ffn.3.quant-int4-g64.Wq.scales" of FFN layer 3 holds NaN at element 9');
  });

  it('checks the weights before any device starts', async () => {
    const dir = copyDemoBundle(path.join(tmp, 'devices-permuted.hire'));
    editF32Tensors(path.join(dir, 'model.safetensors'), FFN_MATRICES.slice(0, 3), reverseRows);
    const e = await openDeviceGroup(dir, {devices: 2, merge: 'dat'}).catch((x: unknown) => x);
    expectClear(e, 'E_WEIGHTS', path.join(dir, 'model.safetensors'), 'fingerprint');
  });
});
