/**
 * A tokenizer for synthetic checkpoints (bench shapes), so that text tools (`hire serve`, generate)
 * run on them: a SentencePiece-style BPE tokenizer.json with byte fallback whose vocabulary is
 * exactly the model's. Its pieces are the special tokens at the config's BOS/EOS ids, <unk>, the
 * 256 byte tokens (any UTF-8 text encodes), the word boundary ▁ and filler pieces "▁t<id>" up to the vocabulary size,
 * so every id the model can produce decodes to text. It has no merges: text encodes to bytes.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface SyntheticTokenizerSpec {
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/** The files written (tokenizer.json, tokenizer_config.json), as JSON text by name. */
export function syntheticTokenizerFiles(spec: SyntheticTokenizerSpec): Record<string, string> {
  const {vocabSize} = spec;
  if (!Number.isInteger(vocabSize) || vocabSize < 260) throw new RangeError(`a synthetic tokenizer needs a vocabulary of at least 260 ids, got ${vocabSize}`);
  const pieces = new Array<string | undefined>(vocabSize);
  const special = new Map<string, number>();
  const place = (piece: string, id: number | null): void => {
    if (id === null || id < 0 || id >= vocabSize || pieces[id] !== undefined) return;
    pieces[id] = piece;
    special.set(piece, id);
  };
  place('<s>', spec.bosTokenId);
  place(spec.eosTokenId === spec.bosTokenId ? '<s>' : '</s>', spec.eosTokenId);
  let free = 0;
  const nextFree = (): number => {
    while (pieces[free] !== undefined) free++;
    return free;
  };
  place('<unk>', nextFree());
  for (let b = 0; b < 256; b++) pieces[nextFree()] = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
  pieces[nextFree()] = '▁'; // the word boundary as one piece (as bytes it would decode to "▁", not a space)
  for (let id = 0; id < vocabSize; id++) pieces[id] ??= `▁t${id}`;
  const vocab: Record<string, number> = {};
  pieces.forEach((p, id) => (vocab[p!] = id));
  const added = [...special].map(([content, id]) => ({id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true}));
  const tokenizer = {
    version: '1.0',
    added_tokens: added.sort((a, b) => a.id - b.id),
    normalizer: {type: 'Sequence', normalizers: [{type: 'Prepend', prepend: '▁'}, {type: 'Replace', pattern: {String: ' '}, content: '▁'}]},
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [{type: 'Replace', pattern: {String: '▁'}, content: ' '}, {type: 'ByteFallback'}, {type: 'Fuse'}, {type: 'Strip', content: ' ', start: 1, stop: 0}],
    },
    model: {type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: []},
  };
  const bos = spec.bosTokenId !== null ? pieces[spec.bosTokenId] : undefined;
  const eos = spec.eosTokenId !== null ? pieces[spec.eosTokenId] : undefined;
  const config = {add_bos_token: bos !== undefined, ...(bos ? {bos_token: bos} : {}), ...(eos ? {eos_token: eos} : {}), unk_token: '<unk>', clean_up_tokenization_spaces: false};
  return {'tokenizer_config.json': `${JSON.stringify(config, null, 2)}\n`, 'tokenizer.json': JSON.stringify(tokenizer)};
}

/**
 * Writes the synthetic tokenizer into `dir` when it has no tokenizer.json yet (each file through a
 * temporary name renamed into place, tokenizer.json last). Returns whether it wrote.
 */
export function ensureSyntheticTokenizer(dir: string, spec: SyntheticTokenizerSpec): boolean {
  if (fs.existsSync(path.join(dir, 'tokenizer.json'))) return false;
  for (const [name, text] of Object.entries(syntheticTokenizerFiles(spec))) {
    const file = path.join(dir, name);
    const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
    try {
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, file);
    } catch (error) {
      fs.rmSync(tmp, {force: true});
      throw error;
    }
  }
  return true;
}
