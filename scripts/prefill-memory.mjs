#!/usr/bin/env node
// Peak resident memory of a long prompt's prefill against the weights' bytes. Runs the compiled
// output (`npm run build` first):
//   node scripts/prefill-memory.mjs [--shape llama-470m] [--tokens 2048] [--threads 2]
// The synthetic shape (cached, see `hire bench --shape`) is opened through a temporary directory of
// links to its weight files whose config.json allows `--tokens` positions (the shapes' own context
// is 1024); the directory is removed at the end. Prints the weights' bytes, the peak RSS (VmHWM)
// after loading and after the prefill, and their ratios.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const {Session} = await import('../dist/core/engine/session.js');
const {ensureSyntheticModel} = await import('../dist/core/tasks/bench/models.js');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const shape = arg('shape', 'llama-470m');
const tokens = Number(arg('tokens', '2048'));
const threads = Number(arg('threads', String(os.availableParallelism())));

/** Peak resident set size of this process so far, bytes (Linux). */
function peakRss() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

const {dir} = ensureSyntheticModel(shape, 'f32');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-prefill-memory-'));
try {
  let weightBytes = 0;
  for (const f of fs.readdirSync(dir)) {
    if (f === 'config.json') continue;
    fs.symlinkSync(path.join(dir, f), path.join(tmp, f));
    if (f.endsWith('.safetensors')) weightBytes += fs.statSync(path.join(dir, f)).size;
  }
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  config.max_position_embeddings = Math.max(config.max_position_embeddings, tokens);
  fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(config));

  const s = await Session.open(tmp, {backend: 'cpu', threads, tokenizer: 'none'});
  const loaded = peakRss();
  const prompt = Array.from({length: tokens}, (_, i) => (i * 7919 + 13) % config.vocab_size);
  const cache = s.model.createCache(tokens);
  const t0 = performance.now();
  await s.backend.read(await s.model.prefill(prompt, 0, cache));
  const seconds = (performance.now() - t0) / 1000;
  const after = peakRss();
  const gb = (b) => `${(b / 1e9).toFixed(2)} GB`;
  console.log(`${shape} f32, ${tokens}-token prompt, ${s.backend.describe()}: weights ${gb(weightBytes)}`);
  console.log(`peak RSS after loading ${gb(loaded)} (${(loaded / weightBytes).toFixed(2)}x the weights), after the prefill ${gb(after)} (${(after / weightBytes).toFixed(2)}x); prefill ${(tokens / seconds).toFixed(1)} tok/s`);
  s.model.releaseCache(cache);
  s.dispose();
} finally {
  fs.rmSync(tmp, {recursive: true, force: true});
}
