#!/usr/bin/env node
// Trains the bundled demo model (models/shakespeare-topk) and its comparison figures.
// Runs the compiled output: `npm run build` first, then
//   node scripts/train-demo.mjs [--minutes 40] [--steps N] [--seed 1234] [--out models/shakespeare-topk]
// Steps (all deterministic for a given --steps and --seed):
//   1. byte-level BPE tokenizer (4096 tokens) on the train split of data/tinyshakespeare.txt;
//   2. unless --steps is given: a short timing run of both models side by side, and the number of
//      steps that fits --minutes (printed, and recorded in the model card so a rerun can pass it);
//   3. the top-k FFN model and the dense-FFN model, trained in parallel as two child processes
//      (tfjs-wasm uses one core each), the same steps, seed and data; the dense model goes to
//      .cache/train-demo/ (its weights are only needed for the figures);
//   4. the bigram baseline, greedy and sampled text from "ROMEO:", and the model card README.md.
// One training run on its own: node scripts/train-demo.mjs train --out DIR --tokenizer DIR [...]
// (node scripts/train-demo.mjs train --help lists the options).
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(ROOT, 'dist', p));
const {parseTrainArgs, TRAIN_FLAGS_HELP} = await dist('core/train/options.js');
const pipeline = await dist('core/train/pipeline.js');
const {plannedSteps} = await dist('core/train/train.js');
const {renderModelCard} = await dist('core/train/model-card.js');

const log = (line) => process.stderr.write(`${line}\n`);

function flag(argv, name, fallback) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
}

/** Children still running, ended if the demo fails. */
const running = new Set();

/** Runs this script as a child (`train` or `bench`), prefixing its progress; resolves with its JSON line. */
function child(label, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {stdio: ['ignore', 'pipe', 'pipe']});
    running.add(proc);
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    let pending = '';
    proc.stderr.on('data', (d) => {
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) log(`[${label}] ${line}`);
    });
    proc.on('close', (code) => {
      running.delete(proc);
      if (pending) log(`[${label}] ${pending}`);
      if (code !== 0) return reject(new Error(`${label} exited with code ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

async function trainOne(argv) {
  if (argv.includes('--help')) {
    log(TRAIN_FLAGS_HELP);
    return;
  }
  const opts = parseTrainArgs(argv);
  const summary = await pipeline.runTraining({...opts, onProgress: log});
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

async function benchOne(argv) {
  const steps = Number(flag(argv, 'bench-steps', '6'));
  const rest = argv.filter((a, i) => a !== '--bench-steps' && argv[i - 1] !== '--bench-steps');
  const result = await pipeline.runBenchmark({...parseTrainArgs(rest), onProgress: log}, steps);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function demo(argv) {
  const minutes = Number(flag(argv, 'minutes', '40'));
  const seed = flag(argv, 'seed', '1234');
  const outDir = path.resolve(ROOT, flag(argv, 'out', 'models/shakespeare-topk'));
  const work = path.join(ROOT, '.cache', 'train-demo');
  const tokDir = path.join(work, 'tokenizer');
  const denseDir = path.join(work, 'shakespeare-dense');
  const topk = flag(argv, 'ffn-topk', '0.1');
  const common = ['--tokenizer', tokDir, '--seed', seed, ...passThrough(argv)];
  const t0 = performance.now();

  const tok = pipeline.prepareTokenizer(tokDir, 4096);
  log(`tokenizer: ${tok.vocabSize} tokens (${tok.merges} merges) in ${tok.seconds.toFixed(1)} s`);

  let steps = flag(argv, 'steps');
  let bench = null;
  if (steps === undefined) {
    log('timing both models side by side to size the run...');
    const benchArgs = ['bench', ...common, '--out', denseDir, '--minutes', String(minutes)];
    const [b1, b2] = await Promise.all([child('bench top-k', [...benchArgs, '--ffn-topk', topk]), child('bench dense', [...benchArgs, '--dense'])]);
    bench = b1.secondsPerStep >= b2.secondsPerStep ? b1 : b2;
    const evalEvery = Number(flag(argv, 'eval-every', '100'));
    const evalWindows = Number(flag(argv, 'eval-windows', '48'));
    // Startup (tokenizing both splits) is a few seconds; the slower model sets the pace.
    steps = String(plannedSteps({evalEvery}, 0, bench.secondsPerStep, bench.evalSecondsPerWindow * evalWindows,
      bench.evalSecondsPerWindow * bench.validationWindows, minutes * 60 - 15));
    log(`${bench.secondsPerStep.toFixed(2)} s/step (${bench.tokensPerSecond.toFixed(0)} tokens/s) -> ${steps} steps in ${minutes} min`);
  }
  // The budget is a safety stop only: the planned steps fit in it.
  const budget = String(minutes * 1.1 + 1);
  const runArgs = ['train', ...common, '--steps', steps, '--minutes', budget];
  const [topkRun, denseRun] = await Promise.all([
    child('top-k', [...runArgs, '--ffn-topk', topk, '--out', outDir]),
    child('dense', [...runArgs, '--dense', '--out', denseDir]),
  ]);
  const contextLength = topkRun.log.shape.contextLength;
  const bigram = pipeline.runBigram(tokDir, contextLength);
  log(`bigram: perplexity ${bigram.perplexity.toFixed(2)} (alpha ${bigram.alpha})`);

  const prompt = 'ROMEO:';
  const greedy = await pipeline.sampleText(outDir, prompt, {maxTokens: 100, seed: 42, sampling: {temperature: 0, topK: 0, topP: 1}});
  const sampled = await pipeline.sampleText(outDir, prompt, {maxTokens: 100, seed: 42, sampling: {temperature: 0.8, topK: 0, topP: 0.95}});
  const results = {tokenizer: tok, bench, topk: topkRun, dense: denseRun, bigram, samples: {prompt, greedy, sampled}, wallSeconds: (performance.now() - t0) / 1000};
  const card = renderModelCard({...results, command: ['npm run train:demo --', '--minutes', minutes, '--steps', steps, '--seed', seed, '--ffn-topk', topk, ...passThrough(argv)].join(' ')});
  fs.writeFileSync(path.join(outDir, 'README.md'), card);
  fs.writeFileSync(path.join(work, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  log(`wrote ${path.relative(ROOT, outDir)}/ (model card README.md); figures in ${path.relative(ROOT, work)}/results.json`);
  log(`validation perplexity: top-k ${topkRun.log.final.perplexity.toFixed(2)}, dense ${denseRun.log.final.perplexity.toFixed(2)}, bigram ${bigram.perplexity.toFixed(2)}`);
}

/** Model-size and schedule flags the demo forwards to both trainings. */
function passThrough(argv) {
  const names = ['--dim', '--layers', '--heads', '--ffn', '--context', '--batch', '--lr', '--warmup', '--eval-every', '--eval-windows'];
  const out = [];
  for (let i = 0; i < argv.length; i++) if (names.includes(argv[i])) out.push(argv[i], argv[i + 1]);
  return out;
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'train') await trainOne(rest);
  else if (command === 'bench') await benchOne(rest);
  else await demo(process.argv.slice(2));
} catch (error) {
  log(error instanceof Error ? error.message : String(error));
  for (const proc of running) proc.kill();
  process.exit(1);
}
