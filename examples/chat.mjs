// A conversation through a chat template, the KV cache kept between turns; log-probabilities and
// scoring. The demo model has no chat template, so a copy of it gets one here (a chat model ships
// its own, as chat_template in tokenizer_config.json or a chat_template.jinja file).
// Run: npm run build && node examples/chat.mjs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {ChatSession, demo, generate, loadModel, score} from 'hire';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-chat-example-'));
try {
  for (const file of fs.readdirSync(demo.bundle)) fs.copyFileSync(path.join(demo.bundle, file), path.join(dir, file));
  // the user speaks as Romeo, the model answers as Juliet
  const template = "{% for m in messages %}{{ 'ROMEO' if m.role == 'user' else 'JULIET' }}:\n{{ m.content }}\n\n{% endfor %}{% if add_generation_prompt %}JULIET:\n{% endif %}";
  fs.writeFileSync(path.join(dir, 'chat_template.jinja'), template);

  const model = await loadModel(dir, {threads: 2});
  try {
    const chat = new ChatSession(model, {temperature: 0.8, seed: 1, maxTokens: 40, stop: ['\n\n']});
    let turn = 0;
    for (const line of ['What light through yonder window breaks?', 'Wilt thou be gone? It is not yet near day.']) {
      console.log(`ROMEO: ${line}`);
      const gen = chat.send(line);
      process.stdout.write('JULIET: ');
      for await (const chunk of gen) process.stdout.write(chunk.text.replace(/\n/g, ' '));
      const {stats, promptTokenIds} = gen.result;
      const reused = promptTokenIds.length - stats.promptTokens;
      console.log(`\n[turn ${++turn}: ${stats.promptTokens} of ${promptTokenIds.length} prompt tokens computed, ${reused} from the KV cache]`);
    }

    // each token's log-probability; under HiRE normalised over the k' candidates computed
    const r = await generate(model, 'ROMEO:', {temperature: 0, maxTokens: 3, logprobs: 2}).complete();
    const first = r.logprobs[0];
    console.log(`first token: ${JSON.stringify(first.top[0].token)} logprob ${first.logprob.toFixed(3)} over ${first.normalisedOver} rows (${first.exact ? 'exact' : "HiRE: normalised over the k' candidates"})`);

    // log-likelihood of a text, every position in one pass (dense: exact)
    const s = await score(model, 'ROMEO:\nBut soft, what light', {top: 1});
    console.log(`score: ${s.totalLogprob.toFixed(3)} over ${s.tokens.length - 1} tokens`);
  } finally {
    model.dispose();
  }
} finally {
  fs.rmSync(dir, {recursive: true, force: true});
}
