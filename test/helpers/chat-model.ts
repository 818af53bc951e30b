/**
 * Chat models for tests: llama2xs has no chat template, so a temporary copy of it gets one (a
 * small Llama-2-style template written for these tests), and a slow random model with the tiny
 * tokenizer gets one too (replies long enough to be interrupted).
 */
import fs from 'node:fs';
import path from 'node:path';
import {writeSyntheticCheckpoint} from '../../src/core/model/synthetic.js';
import {LLAMA2XS_DIR} from './shared.js';
import {TINY_VOCAB_SIZE, writeTinyTokenizer} from './tiny-tokenizer.js';

/**
 * BOS once, an optional system block inside the first user turn, "[INST] ... [/INST]" around user
 * turns, assistant turns followed by EOS; roles must alternate user/assistant.
 */
export const LLAMA_STYLE_TEMPLATE = [
  '{{ bos_token }}',
  "{% set ns = namespace(system='') %}",
  "{% for m in messages %}{% if m.role == 'system' %}{% set ns.system = '<<SYS>>\\n' + m.content + '\\n<</SYS>>\\n\\n' %}{% endif %}{% endfor %}",
  "{% for m in messages | rejectattr('role', 'equalto', 'system') %}",
  "{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('roles must alternate user/assistant') }}{% endif %}",
  "{% if m.role == 'user' %}[INST] {% if loop.first %}{{ ns.system }}{% endif %}{{ m.content | trim }} [/INST]",
  "{% else %} {{ m.content | trim }} {{ eos_token }}{% endif %}",
  '{% endfor %}',
].join('');

/** A copy of llama2xs in `dir` with LLAMA_STYLE_TEMPLATE as tokenizer_config.json's chat_template. */
export function llama2xsChat(dir: string): string {
  fs.mkdirSync(dir, {recursive: true});
  for (const f of fs.readdirSync(LLAMA2XS_DIR)) fs.copyFileSync(path.join(LLAMA2XS_DIR, f), path.join(dir, f));
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  const file = path.join(dir, 'tokenizer_config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(file, JSON.stringify({...config, chat_template: LLAMA_STYLE_TEMPLATE}, null, 2));
  return dir;
}

/**
 * A random Llama wide enough that the reference backend takes a while per token, with the tiny
 * byte-level tokenizer and a plain template in chat_template.jinja; its context holds long replies.
 */
export function slowChatModel(dir: string): string {
  writeSyntheticCheckpoint(dir, {family: 'llama', dim: 256, nLayers: 4, nHeads: 4, nKvHeads: 4, hiddenDim: 768, vocabSize: TINY_VOCAB_SIZE, maxSeqLen: 8192, seed: 3});
  writeTinyTokenizer(dir);
  fs.writeFileSync(path.join(dir, 'chat_template.jinja'), "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}");
  return dir;
}
