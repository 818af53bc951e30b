// Several prompts decoded together, and the sparse FFN on or off. Run after `npm run build`:
//   node examples/batch-and-ffn.mjs
import {demo, generate, generateBatch, loadModel} from 'hire';

// The demo bundle was calibrated with --ffn: its FFNs are sparse unless told otherwise.
const model = await loadModel(demo.bundle, {threads: 2});
const denseFfn = await loadModel(demo.bundle, {threads: 2, ffn: 'off'});
try {
  console.log(`ffn: ${model.ffnInfo}`);
  const prompts = ['ROMEO:', 'JULIET:', 'KING HENRY:'];
  const batch = await generateBatch(model, prompts, {maxTokens: 16, temperature: 0.8, seed: 5});
  // sequence b gives what generate() gives alone with seed + b
  const alone = await generate(model, prompts[1], {maxTokens: 16, temperature: 0.8, seed: 6}).complete();
  console.log(`batch of ${prompts.length}: same as alone: ${batch.sequences[1].text === alone.text}`);
  console.log(`weights per token: ${(batch.weightBytesPerToken / 1e6).toFixed(2)} MB in the batch, ${(alone.weightBytesPerToken / 1e6).toFixed(2)} MB alone`);
  const dense = await generate(denseFfn, 'ROMEO:', {maxTokens: 16, temperature: 0}).complete();
  console.log(`dense FFN reads ${(dense.weightBytesPerToken / 1e6).toFixed(2)} MB per token`);
} finally {
  model.dispose();
  denseFfn.dispose();
}
