// Certified HiRE decoding is token for token the dense decoding (greedy), while reading fewer
// output-layer rows per token. Also shows complete() (no streaming) and an AbortSignal.
// Run: npm run build && node examples/certified-greedy.mjs
import {demo, generate, loadBundle} from 'hire';

const model = await loadBundle(demo.bundle, {threads: 2});
try {
  const options = {maxTokens: 32, temperature: 0};
  const dense = await generate(model, 'JULIET:', {...options, dense: true}).complete();
  const certified = await generate(model, 'JULIET:', {...options, certify: true}).complete();
  const same = certified.tokenIds.every((id, i) => id === dense.tokenIds[i]);
  console.log(`identical: ${same && certified.tokenIds.length === dense.tokenIds.length}`);
  console.log(`rows per token: dense ${dense.output.meanCandidates}, certified ${certified.output.meanCandidates.toFixed(1)} (k' widened on ${certified.output.widenedSteps} of ${certified.output.steps} steps)`);
  console.log(JSON.stringify(certified.text));

  // Stop a generation from outside after 5 tokens: the iterator throws AbortError.
  const controller = new AbortController();
  let received = 0;
  try {
    for await (const chunk of generate(model, 'JULIET:', {maxTokens: 100, signal: controller.signal})) {
      if (++received === 5) controller.abort();
    }
  } catch (error) {
    if (error.code !== 'E_ABORTED') throw error;
    console.log(`aborted after ${received} tokens`);
  }
} finally {
  model.dispose();
}
