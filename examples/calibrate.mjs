// Calibrate the demo checkpoint into a fresh bundle in a temporary directory, then decode with it.
// Small settings so it runs in seconds; real bundles use the defaults (8192 tokens, every kind).
// Run: npm run build && node examples/calibrate.mjs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {calibrate, demo, generate, loadBundle} from 'hire';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-example-'));
try {
  const {bundle, manifest} = await calibrate({
    model: demo.model,
    out: path.join(dir, 'demo.hire'),
    softmax: ['lowrank'],
    tokens: 1024,
    ks: [1, 8],
    threads: 2,
    onProgress: ({stage, done, total}) => console.error(done === undefined ? stage : `${stage} ${done}/${total}`),
  });
  const selected = manifest.softmax.predictors.find((p) => p.name === manifest.softmax.selected);
  console.log(`wrote ${path.basename(bundle)}: ${selected.name}, k' for recall 0.99 at k=1: ${selected.kPrime['0.99']['1']}`);

  const model = await loadBundle(bundle, {threads: 2});
  try {
    const {text, output} = await generate(model, 'KING:', {maxTokens: 16, temperature: 0}).complete();
    console.log(`${output.describe}: ${JSON.stringify(text)}`);
  } finally {
    model.dispose();
  }
} finally {
  fs.rmSync(dir, {recursive: true, force: true});
}
