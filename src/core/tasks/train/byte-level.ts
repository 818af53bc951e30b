/**
 * The GPT-2 byte-level conventions a ByteLevel tokenizer.json relies on: the byte -> printable
 * character map (so every byte sequence is a string of visible characters, space -> "Ġ") and the
 * pre-tokenizer's split pattern. Both must match what @huggingface/tokenizers (and the Rust
 * tokenizers library) apply when they read the file, or trained merges would never fire.
 */

/** byte value -> the one character that stands for it in token strings. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b); // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b); // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) direct.push(b); // '®'..'ÿ'
  const map = new Array<string>(256);
  for (const b of direct) map[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  }
  return map;
})();

/**
 * The GPT-2 split: contractions, optional space + letters, optional space + digits, optional space
 * + other symbols, whitespace not followed by non-space, remaining whitespace. Every character of
 * the input falls in exactly one piece, so joining the pieces gives the text back.
 */
export const SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Pieces of `text` under the GPT-2 split, with how often each occurs. */
export function countPieces(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(SPLIT_PATTERN.source, SPLIT_PATTERN.flags))) {
    const piece = m[0];
    counts.set(piece, (counts.get(piece) ?? 0) + 1);
  }
  return counts;
}
