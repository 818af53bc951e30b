/**
 * A small byte-level BPE ("gpt2") vocabulary as GGUF metadata: GPT-2's 256 byte characters, a few
 * merged pieces ("hello", "Ġwor") and one control token, with the llama-bpe split.
 */
import type {GgufValue} from '../../src/core/model/formats/gguf/index.js';

export function byteLevelGgufMeta(): {meta: Map<string, GgufValue>; tokens: string[]} {
  // GPT-2's byte -> printable character map
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.map((b) => String.fromCharCode(b));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(String.fromCharCode(256 + n++));
    }
  }
  const byteChar = new Map(bytes.map((b, i) => [b, chars[i]!]));
  const base = Array.from({length: 256}, (_, b) => byteChar.get(b)!);
  const tokens = [...base, 'he', 'll', 'hell', 'hello', 'Ġw', 'Ġwor', '<|begin|>'];
  const meta = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.pre', 'llama-bpe'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', tokens.map((t) => (t === '<|begin|>' ? 3 : 1))],
    ['tokenizer.ggml.merges', ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'Ġw o', 'Ġwo r']],
    ['tokenizer.ggml.bos_token_id', tokens.length - 1],
    ['tokenizer.ggml.add_bos_token', true],
  ]);
  return {meta, tokens};
}
