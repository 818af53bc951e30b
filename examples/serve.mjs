// An OpenAI-compatible server embedded in a program: createServer() over a loaded model, spoken
// to here with fetch (any OpenAI client works the same way: baseURL `${url}/v1`).
// Run: node examples/serve.mjs
import {createServer, demo, loadModel} from 'hire';

const model = await loadModel(demo.bundle);
const server = createServer(model, {modelId: 'demo', maxBatch: 8});
const url = await server.listen({port: 0}); // 127.0.0.1, a free port
console.log(`listening on ${url}`);

const complete = async (body) => {
  const res = await fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({model: 'demo', ...body})});
  return res.json();
};

// one completion, greedy
const one = await complete({prompt: 'ROMEO:', max_tokens: 16, temperature: 0});
console.log(`completion: ${JSON.stringify(one.choices[0].text)} (${one.usage.completion_tokens} tokens, finish_reason ${one.choices[0].finish_reason})`);

// a stream: server-sent events ending with "data: [DONE]"
const res = await fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({model: 'demo', prompt: 'JULIET:', max_tokens: 12, temperature: 0, stream: true})});
let events = 0;
let done = false;
for (const line of (await res.text()).split('\n')) {
  if (line === 'data: [DONE]') done = true;
  else if (line.startsWith('data: ')) events++;
}
console.log(`stream: ${events} events, [DONE]: ${done}`);

// eight requests at once are decoded together; each gets the text it gets alone
const prompts = ['ROMEO:', 'JULIET:', 'KING:', 'First Citizen:'];
const together = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => complete({prompt: prompts[i % 4], max_tokens: 24, temperature: 0.8, seed: i})));
const alone = [];
for (let i = 0; i < 8; i++) alone.push(await complete({prompt: prompts[i % 4], max_tokens: 24, temperature: 0.8, seed: i}));
console.log(`8 concurrent requests equal 8 sequential ones: ${together.every((r, i) => r.choices[0].text === alone[i].choices[0].text)}`);

// HiRE options are extra request fields: certified greedy decoding gives the dense tokens
const certified = await complete({prompt: 'ROMEO:', max_tokens: 16, temperature: 0, certify: true});
const dense = await complete({prompt: 'ROMEO:', max_tokens: 16, temperature: 0, dense: true});
console.log(`certified greedy equals dense greedy: ${certified.choices[0].text === dense.choices[0].text}`);

const metrics = await (await fetch(`${url}/metrics`)).text();
for (const name of ['hire_generated_tokens_total', 'hire_weight_bytes_per_token', 'hire_softmax_candidates_per_token']) {
  console.log(metrics.split('\n').find((l) => l.startsWith(`${name} `)));
}

await server.close(); // in-flight requests would finish first
model.dispose();
