// Quality and speed of the demo bundle: recall@k, top-1 agreement and perplexity on held-out
// text, then tokens/s dense against HiRE. Progress goes through a callback; nothing is printed
// by the library.
// Run: npm run build && node examples/evaluate-and-bench.mjs
import {bench, demo, evaluate} from 'hire';

const onProgress = ({stage, done, total}) => {
  if (done === undefined) console.error(`.. ${stage}`);
};

const report = await evaluate({bundle: demo.bundle, tokens: 256, ks: [1], threads: 2, onProgress});
console.log(`dense perplexity ${report.dense.perplexity.toFixed(2)} on ${report.tokens} tokens`);
for (const row of report.rows.filter((r) => r.predictor === report.selected)) {
  console.log(`${row.predictor} k=${row.k} k'=${row.kPrime}: recall ${row.recall.toFixed(3)}, top-1 ${row.top1Agreement.toFixed(3)}, ppl ${row.perplexity.toFixed(2)}`);
}

const speed = await bench({model: demo.bundle, tokens: 16, promptTokens: 8, probe: false, threads: 2, onProgress});
for (const row of speed.rows) {
  console.log(`${row.mode}: ${row.decodeTokensPerSecond.toFixed(0)} tok/s, ${(row.weightBytesPerToken / 1e6).toFixed(2)} MB/token, speedup ${row.speedup.toFixed(2)}x`);
}
