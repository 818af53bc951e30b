import fs from 'node:fs';
import path from 'node:path';

/**
 * A small SentencePiece-style tokenizer.json in the newer Metaspace form (the pre-tokenizer turns
 * spaces into ▁ and prepends one to the first piece; the decoder turns ▁ back into spaces and drops
 * the first one), BPE with byte fallback: <unk>=0, <s>=1, </s>=2, <0x00>..<0xFF> = 3..258, then the
 * characters, word prefixes and words below. Every piece of a word is in the vocabulary, so each
 * of WORDS encodes as one token.
 */
export const METASPACE_WORDS = ['▁Once', '▁upon', '▁a', '▁time', '▁there', '▁was', '▁hi', 'ly', 'a'];

export function metaspaceTokenizerJson(): {json: Record<string, unknown>; vocabSize: number} {
  const vocab: Record<string, number> = {'<unk>': 0, '<s>': 1, '</s>': 2};
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const add = (piece: string) => {
    if (!(piece in vocab)) vocab[piece] = Object.keys(vocab).length;
  };
  const merges: string[] = [];
  for (const c of ['▁', ',', '.', ...new Set(METASPACE_WORDS.join('').replace(/▁/g, ''))]) add(c);
  for (const word of METASPACE_WORDS) {
    const chars = [...word];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const merged = left + chars[i]!;
      if (!(merged in vocab)) merges.push(`${left} ${chars[i]}`);
      add(merged);
    }
  }
  const special = (content: string, id: number) => ({id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true});
  const json = {
    version: '1.0',
    added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
    normalizer: null,
    pre_tokenizer: {type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false},
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [{type: 'ByteFallback'}, {type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false}],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges,
    },
  };
  return {json, vocabSize: Object.keys(vocab).length};
}

/** Writes the Metaspace tokenizer.json and a tokenizer_config.json (BOS first) into dir; returns the vocabulary size. */
export function writeMetaspaceTokenizer(dir: string): number {
  const {json, vocabSize} = metaspaceTokenizerJson();
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({add_bos_token: true, bos_token: '<s>', eos_token: '</s>'}));
  return vocabSize;
}
