#!/usr/bin/env node
/**
 * hire against llama.cpp on the same quantised weights, in one run: a synthetic shape's f32
 * weights (the bench cache) written as a GGUF file per block type (Q8_0, Q4_0) by hire's GGUF
 * writer, then, round after round, hire's bench rows on that file (dense and HiRE softmax; then HiRE
 * FFN and both, with synthetic predictors) and llama.cpp's greedy decode of the same file through
 * node-llama-cpp, with the medians and the ratios printed beside the bandwidth and compute probes.
 * node-llama-cpp is never a dependency of hire: install it anywhere (e.g. `cd /tmp/nlc && npm i
 * node-llama-cpp@3.21.1`) and give its folder with --llama-cpp.
 *
 *   npm run build && node scripts/compare-llama-cpp.mjs --llama-cpp /tmp/nlc/node_modules/node-llama-cpp \
 *     --shape llama-110m --types q8_0,q4_0 --threads 2 --tokens 32 --prompt-tokens 16 --repeat 3 \
 *     [--block-activations int8,int16]   (hire's rows with the first; a dense row with each other one)
 */
import fs from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {parseArgs} from 'node:util';
import {bench} from '../dist/index.js';
import {cacheDir, ensureSyntheticModel} from '../dist/core/tasks/bench/models.js';
import {ggufFromCheckpoint} from '../dist/core/model/formats/gguf/writer.js';

const {values: o} = parseArgs({
  options: {
    'llama-cpp': {type: 'string'},
    shape: {type: 'string', default: 'llama-110m'},
    types: {type: 'string', default: 'q8_0,q4_0'},
    threads: {type: 'string', default: '2'},
    tokens: {type: 'string', default: '32'},
    'prompt-tokens': {type: 'string', default: '16'},
    repeat: {type: 'string', default: '3'},
    'k-prime': {type: 'string', default: '512'},
    'ffn-read': {type: 'string', default: '0.2'},
    json: {type: 'boolean', default: false},
    // block activations of hire's rows (bench's default when not given); a second value adds a
    // dense row with those activations to each round, e.g. --block-activations int8,int16
    'block-activations': {type: 'string'},
  },
});
const acts = o['block-activations'] ? o['block-activations'].split(',') : [];
if (!o['llama-cpp']) {
  console.error('compare-llama-cpp: give --llama-cpp <the node-llama-cpp package folder> (installed outside hire)');
  process.exit(2);
}
const threads = Number(o.threads);
const tokens = Number(o.tokens);
const promptTokens = Number(o['prompt-tokens']);
const repeat = Number(o.repeat);
const GGML = {q8_0: 'Q8_0', q4_0: 'Q4_0', f32: 'F32'};

const pkg = path.resolve(o['llama-cpp']);
const entry = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
const {getLlama} = await import(pathToFileURL(path.join(pkg, entry.exports?.['.']?.import ?? entry.main ?? 'dist/index.js')).href);
const llama = await getLlama({gpu: false, build: 'never', logLevel: 'error'});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const prompt = (vocab) => Array.from({length: promptTokens}, (_, i) => 3 + ((i * 7919 + 13) % (vocab - 3)));

/** The GGUF file of the shape in this type, written once beside the bench cache. */
function ggufFile(shape, type) {
  const dir = ensureSyntheticModel(shape, 'f32').dir;
  const file = path.join(cacheDir(), 'bench', `${shape}-${type}-seed1234.gguf`);
  if (!fs.existsSync(file)) {
    console.error(`writing ${file}`);
    ggufFromCheckpoint(dir, file, {type: GGML[type]});
  }
  return file;
}

/** One llama.cpp decode: prefill the prompt, then `tokens` greedy tokens; decode tokens/s. */
async function llamaDecode(context, vocab) {
  const sequence = context.getSequence();
  try {
    let n = 0;
    let t1 = 0;
    const t0 = performance.now();
    for await (const _ of sequence.evaluate(prompt(vocab), {temperature: 0})) {
      if (n === 0) t1 = performance.now();
      if (++n > tokens) break;
    }
    return {prefillTokensPerSecond: promptTokens / ((t1 - t0) / 1000), decodeTokensPerSecond: tokens / ((performance.now() - t1) / 1000)};
  } finally {
    sequence.dispose();
  }
}

async function compare(shape, type) {
  const file = ggufFile(shape, type);
  const model = await llama.loadModel({modelPath: file});
  const context = await model.createContext({contextSize: 128, batchSize: promptTokens, threads, sequences: 1});
  const vocab = model.tokens?.vocabularySize ?? 32000;
  await llamaDecode(context, vocab); // warm-up
  const hireRuns = [];
  const cppRuns = [];
  let first = null;
  for (let r = 0; r < repeat; r++) {
    // dense and HiRE softmax on the file's own blocks; the FFN rows in a second session, whose
    // W_out is held as Q8_0 neuron rows (what the sparse FFN reads)
    const common = {model: file, threads, tokens, promptTokens, hire: {kPrime: Number(o['k-prime'])}, ...(acts[0] ? {blockActivations: acts[0]} : {})};
    // the other activations' dense rows run after the main rows in even rounds, before them in odd ones
    const others = async () => {
      const out = [];
      for (const a of acts.slice(1)) {
        const other = await bench({model: file, threads, tokens, promptTokens, probe: false, blockActivations: a});
        out.push({...other.rows[0], mode: `${other.rows[0].mode} (${a} activations)`});
      }
      return out;
    };
    const before = r % 2 === 1 ? await others() : [];
    const report = await bench({...common, probe: r === 0});
    const ffn = await bench({...common, probe: false, ffn: {read: Number(o['ffn-read'])}});
    const rows = [...report.rows, ...ffn.rows.filter((row) => row.mode === 'hire-ffn' || row.mode === 'hire-both'), ...before];
    if (r % 2 === 0) rows.push(...(await others()));
    first ??= {...report, rows};
    hireRuns.push(rows);
    cppRuns.push(await llamaDecode(context, vocab));
  }
  await context.dispose();
  await model.dispose();
  const cpp = median(cppRuns.map((c) => c.decodeTokensPerSecond));
  const rows = first.rows.map((row, i) => {
    const tps = median(hireRuns.map((rs) => rs[i].decodeTokensPerSecond));
    const ops = median(hireRuns.map((rs) => rs[i].weightOpsPerSecond));
    return {mode: row.mode, head: row.head, decodeTokensPerSecond: tps, weightBytesPerToken: row.weightBytesPerToken, bytesPerSecond: row.weightBytesPerToken * tps, weightOpsPerSecond: ops, breakdown: row.breakdown, vsLlamaCpp: tps / cpp};
  });
  return {shape, type, file, threads, tokens, promptTokens, repeat, probeBytesPerSecond: first.probeBytesPerSecond, computeProbe: first.computeProbe, llamaCpp: {decodeTokensPerSecond: cpp, runs: cppRuns}, hire: rows};
}

const results = [];
for (const shape of o.shape.split(',')) for (const type of o.types.split(',')) results.push(await compare(shape, type));
await llama.dispose();

if (o.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  for (const r of results) {
    const probe = r.probeBytesPerSecond ? `${(r.probeBytesPerSecond / 1e9).toFixed(2)} GB/s` : '-';
    const compute = r.computeProbe ? `${(r.computeProbe.opsPerSecond / 1e9).toFixed(1)} GOP/s (${r.computeProbe.dtype})` : '-';
    console.log(`\n${r.shape} ${r.type}, ${r.threads} threads, ${r.promptTokens} prompt + ${r.tokens} decoded tokens, median of ${r.repeat}; bandwidth probe ${probe}, compute probe ${compute}`);
    console.log(`  llama.cpp (node-llama-cpp)  ${r.llamaCpp.decodeTokensPerSecond.toFixed(1)} tok/s`);
    for (const row of r.hire) {
      console.log(`  hire ${row.mode.padEnd(22)} ${row.decodeTokensPerSecond.toFixed(1)} tok/s  ${(row.vsLlamaCpp).toFixed(2)}x llama.cpp  ${(row.weightBytesPerToken / 1e6).toFixed(1)} MB/token  ${(row.bytesPerSecond / 1e9).toFixed(2)} GB/s  ${(row.weightOpsPerSecond / 1e9).toFixed(1)} GOP/s`);
    }
  }
}
