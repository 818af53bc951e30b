#!/usr/bin/env node
// Two builds of hire timed alternately in one process: `hire bench` rows (dense, HiRE softmax,
// HiRE FFN, both; synthetic predictors) of build A and build B, `--rounds` times in the order
// A B, B A, A B, ..., so that the host's slow minutes hit both alike. Prints every round and the
// median of the per-round ratios B/A, and each build's HiRE rows over its own dense row.
//   npm run build; cp -r dist /tmp/dist-b; (check out or build the other tree into /tmp/dist-a)
//   node scripts/ab-bench.mjs /tmp/dist-a /tmp/dist-b [--rounds 4] [--shape llama-110m]
//     [--dtype f32] [--tokens 48] [--repeat 2]
// A dist folder outside the project needs the project's node_modules beside it (a symlink will do).
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {parseArgs} from 'node:util';

const {values, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    rounds: {type: 'string', default: '4'},
    shape: {type: 'string', default: 'llama-110m'},
    dtype: {type: 'string', default: 'f32'},
    tokens: {type: 'string', default: '48'},
    repeat: {type: 'string', default: '2'},
  },
});
if (positionals.length !== 2) {
  console.error('usage: node scripts/ab-bench.mjs DIST_A DIST_B [--rounds N] [--shape S] [--dtype D] [--tokens N] [--repeat N]');
  process.exit(2);
}
const load = async (dir) => (await import(pathToFileURL(path.resolve(dir, 'api/bench.js')).href)).bench;
const builds = {A: await load(positionals[0]), B: await load(positionals[1])};
const res = {A: [], B: []};
const opts = {shape: values.shape, dtype: values.dtype, tokens: Number(values.tokens), promptTokens: 16, repeat: Number(values.repeat), hire: {}, ffn: {}, probe: false};
for (let r = 0; r < Number(values.rounds); r++) {
  for (const k of r % 2 ? ['B', 'A'] : ['A', 'B']) {
    const report = await builds[k](opts);
    res[k].push(Object.fromEntries(report.rows.map((x) => [x.mode, x.decodeTokensPerSecond])));
  }
}
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
console.log(`${values.shape} ${values.dtype}, ${values.tokens} tokens, ${values.rounds} rounds; A = ${positionals[0]}, B = ${positionals[1]}`);
for (const k of ['A', 'B']) for (const round of res[k]) console.log(k, Object.entries(round).map(([m, v]) => `${m} ${v.toFixed(1)}`).join(' | '));
for (const m of Object.keys(res.A[0])) {
  const ratio = median(res.B.map((o, i) => o[m] / res.A[i][m]));
  const own = (k) => median(res[k].map((o) => o[m] / o.dense)).toFixed(2);
  console.log(`${m.padEnd(13)} B/A ${ratio.toFixed(3)}   over its own dense row: A ${own('A')}, B ${own('B')}`);
}
process.exit(0);
