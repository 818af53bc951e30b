import fs from 'node:fs';
import path from 'node:path';

/**
 * A tiny SentencePiece-style BPE tokenizer.json with byte fallback, so any UTF-8 text encodes:
 * <unk>=0, <s>=1, </s>=2, the 256 byte tokens <0x00>..<0xFF> = 3..258, then ▁ a h i hi ▁h ▁hi
 * (259..265). Tests use it to give synthetic checkpoints a tokenizer.
 */
export const TINY_VOCAB_SIZE = 266;

export function tinyTokenizerJson(bosTemplate: boolean): Record<string, unknown> {
  const vocab: Record<string, number> = {'<unk>': 0, '<s>': 1, '</s>': 2};
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const p of ['▁', 'a', 'h', 'i', 'hi', '▁h', '▁hi']) vocab[p] = Object.keys(vocab).length;
  const special = (content: string, id: number) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  return {
    version: '1.0',
    added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{type: 'Prepend', prepend: '▁'}, {type: 'Replace', pattern: {String: ' '}, content: '▁'}],
    },
    pre_tokenizer: null,
    post_processor: bosTemplate
      ? {
          type: 'TemplateProcessing',
          single: [{SpecialToken: {id: '<s>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}],
          pair: [{SpecialToken: {id: '<s>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}, {Sequence: {id: 'B', type_id: 1}}],
          special_tokens: {'<s>': {id: '<s>', ids: [1], tokens: ['<s>']}},
        }
      : null,
    decoder: {
      type: 'Sequence',
      decoders: [
        {type: 'Replace', pattern: {String: '▁'}, content: ' '},
        {type: 'ByteFallback'},
        {type: 'Fuse'},
        {type: 'Strip', content: ' ', start: 1, stop: 0},
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: ['h i', '▁ h', '▁ hi'],
    },
  };
}


/** Writes tokenizer.json (BOS added by its post-processor) and tokenizer_config.json into dir. */
export function writeTinyTokenizer(dir: string, opts: {bosTemplate?: boolean} = {}): void {
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson(opts.bosTemplate ?? true)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({add_bos_token: true, bos_token: '<s>'}));
}
