/**
 * Chat templates as transformers applies them: rendered with the conversation, the generation
 * prompt and the special token strings; encoded without adding special tokens, so the template's
 * BOS is the only one and special tokens it writes are single ids; chat_template.jinja before
 * tokenizer_config.json; clear errors for a missing, broken or rejecting template.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {HireTokenizer} from '../../../src/core/model/tokenizer.js';
import {checkMessages} from '../../../src/core/model/chat-template.js';
import {writeTinyTokenizer} from '../../helpers/tiny-tokenizer.js';
import {caught} from '../../helpers/caught.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-template-'));
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

let n = 0;
/** A directory with the tiny tokenizer (BOS <s>=1, EOS </s>=2) and the given tokenizer_config.json keys. */
function modelDir(config: Record<string, unknown>, jinja?: string): string {
  const dir = path.join(tmp, `m${n++}`);
  fs.mkdirSync(dir);
  writeTinyTokenizer(dir);
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({add_bos_token: true, bos_token: '<s>', eos_token: '</s>', ...config}));
  if (jinja !== undefined) fs.writeFileSync(path.join(dir, 'chat_template.jinja'), jinja);
  return dir;
}

const TEMPLATE = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
const CONVERSATION = [
  {role: 'system', content: 'be kind'},
  {role: 'user', content: 'hi'},
  {role: 'assistant', content: 'hi a'},
  {role: 'user', content: 'ha'},
];

describe('chat templates', () => {
  it('renders messages, the generation prompt and the special token strings', () => {
    const t = HireTokenizer.load(modelDir({chat_template: TEMPLATE}));
    expect(t.chatTemplate!.render(CONVERSATION, {addGenerationPrompt: true})).toBe('<s><system>be kind<user>hi<assistant>hi a</s><user>ha<assistant>');
    expect(t.chatTemplate!.render(CONVERSATION.slice(0, 2), {addGenerationPrompt: false})).toBe('<s><system>be kind<user>hi');
  });

  it('encodes without adding special tokens: one BOS (the template\'s) and special tokens as their ids', () => {
    const t = HireTokenizer.load(modelDir({chat_template: TEMPLATE}));
    const ids = t.applyChatTemplate(CONVERSATION);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
    expect(ids[0]).toBe(1);
    expect(ids.filter((id) => id === 2)).toHaveLength(1); // "</s>" is one token, not its characters
    const rendered = t.chatTemplate!.render(CONVERSATION, {addGenerationPrompt: true});
    expect(ids).toEqual(t.encode(rendered, {addSpecialTokens: false}));
    expect(t.encode(rendered)).not.toEqual(ids); // encoding the text as a prompt would add a second BOS
    expect(t.decode(ids, {skipSpecialTokens: false})).toContain('</s>');
  });

  it('takes chat_template.jinja over tokenizer_config.json, and "default" from a list of named templates', () => {
    const jinja = HireTokenizer.load(modelDir({chat_template: TEMPLATE}, '{% for m in messages %}[{{ m.content }}]{% endfor %}'));
    expect(jinja.chatTemplate!.file.endsWith('chat_template.jinja')).toBe(true);
    expect(jinja.chatTemplate!.render(CONVERSATION.slice(1, 2), {addGenerationPrompt: true})).toBe('[hi]');
    const named = HireTokenizer.load(modelDir({chat_template: [{name: 'tool_use', template: 'T'}, {name: 'default', template: 'D{{ messages | length }}'}]}));
    expect(named.chatTemplate!.render(CONVERSATION, {addGenerationPrompt: true})).toBe('D4');
  });

  it('gives the globals transformers gives: raise_exception, range, namespace, strftime_now', () => {
    const t = HireTokenizer.load(modelDir({chat_template: "{% set ns = namespace(k=0) %}{% for i in range(3) %}{% set ns.k = ns.k + i %}{% endfor %}{{ ns.k }} {{ strftime_now('%Y') }}"}));
    expect(t.chatTemplate!.render([], {addGenerationPrompt: false})).toBe(`3 ${new Date().getFullYear()}`);
  });

  it('a model without a template: a TokenizerError naming tokenizer_config.json, for chat use only', () => {
    const dir = modelDir({});
    const t = HireTokenizer.load(dir);
    expect(t.chatTemplate).toBeNull();
    expect(t.encode('hi')).toEqual([1, 265]);
    const e = caught(() => t.applyChatTemplate([{role: 'user', content: 'hi'}]));
    expect(e).toMatchObject({code: 'E_TOKENIZER'});
    expect(e.message).toBe(`${path.join(dir, 'tokenizer_config.json')}: has no chat_template and there is no chat_template.jinja beside it, so this model has no chat format; give a plain text prompt, or add the template of the model's chat variant`);
  });

  it('a broken template names its file; a conversation the template rejects is a UsageError with its reason', () => {
    const dir = modelDir({}, '{% for m in messages %}');
    expect(() => HireTokenizer.load(dir)).toThrow(expect.objectContaining({code: 'E_TOKENIZER', message: expect.stringContaining(`${path.join(dir, 'chat_template.jinja')}: the chat template cannot be parsed`)}));
    const strict = HireTokenizer.load(modelDir({chat_template: "{% if messages[0].role != 'user' %}{{ raise_exception('the first message must be the user\\'s') }}{% endif %}ok"}));
    expect(() => strict.applyChatTemplate([{role: 'assistant', content: 'x'}])).toThrow(expect.objectContaining({code: 'E_USAGE', message: expect.stringMatching(/rejects these messages: the first message must be the user's$/)}));
    const bad = modelDir({chat_template: 42});
    expect(() => HireTokenizer.load(bad)).toThrow(expect.objectContaining({code: 'E_TOKENIZER', message: expect.stringContaining('chat_template must be a string')}));
  });

  it('checks messages from plain JavaScript', () => {
    expect(checkMessages([{role: 'user', content: 'x', extra: 1}])).toEqual([{role: 'user', content: 'x'}]);
    expect(() => checkMessages([])).toThrow(expect.objectContaining({option: 'messages'}));
    expect(() => checkMessages([{role: 'user', content: 3}])).toThrow(expect.objectContaining({message: 'messages[0] must be an object {role: string, content: string}'}));
  });
});
