// Every failure is an exported error class with a stable `code`, so callers can branch on it.
// Run: npm run build && node examples/errors.mjs
import {demo, generate, HireError, loadBundle, loadModel} from 'hire';

async function attempt(label, fn) {
  try {
    await fn();
    console.log(`${label}: ok`);
  } catch (error) {
    if (!(error instanceof HireError)) throw error; // a bug, not a failure kind
    switch (error.code) {
      case 'E_USAGE':
        console.log(`${label}: ${error.code}, fix the options: ${error.message}`);
        break;
      case 'E_ABORTED':
        console.log(`${label}: ${error.code}, stopped by the caller`);
        break;
      default:
        console.log(`${label}: ${error.code} (${error.name}): ${error.message}`);
    }
  }
}

await attempt('missing model', () => loadModel('/nonexistent/model'));
await attempt('plain checkpoint as a bundle', () => loadBundle(demo.model));

const model = await loadModel(demo.bundle, {threads: 1});
await attempt('bad temperature', () => generate(model, 'Hi', {temperature: -1}));
await attempt('certify without greedy or top-k', () => generate(model, 'Hi', {certify: true, topK: 0}));
await attempt('already aborted', () => generate(model, 'Hi', {signal: AbortSignal.abort()}).complete());
await attempt('a good call', () => generate(model, 'Hi', {maxTokens: 4}).complete());
model.dispose();
await attempt('use after dispose', () => generate(model, 'Hi'));
