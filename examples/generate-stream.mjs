// Stream text from the bundled demo bundle with HiRE-Softmax, with per-token statistics.
// Run: npm run build && node examples/generate-stream.mjs
import {demo, generate, loadModel} from 'hire';

const model = await loadModel(demo.bundle, {backend: 'cpu', threads: 2});
try {
  const gen = generate(model, 'ROMEO:', {maxTokens: 24, temperature: 0.8, seed: 7});
  console.error(`output layer: ${gen.output.describe}`);
  process.stdout.write('ROMEO:');
  for await (const chunk of gen) process.stdout.write(chunk.text);
  process.stdout.write('\n');

  const {stats, output, tokenIds} = gen.result;
  console.log(`tokens: ${tokenIds.length}, stop: ${stats.stopReason}`);
  console.log(`decode: ${stats.decodeTokensPerSecond.toFixed(1)} tok/s, mean candidates ${output.meanCandidates.toFixed(1)} of ${model.config.vocabSize}`);
} finally {
  model.dispose(); // frees the backend's worker threads and memory
}
