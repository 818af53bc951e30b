/**
 * Incremental detokenisation: turn generated ids into printable text one token at a time.
 *
 * Decoding each token alone is wrong twice over:
 * - SentencePiece decoders strip the leading space of a decoded string, so decode([" upon"]) is
 *   "upon" while decode(["Once", " upon"]) is "Once upon";
 * - a character outside the vocabulary arrives as several byte-fallback tokens (<0xF0> <0x9F> ...),
 *   and any prefix of them decodes to U+FFFD.
 * So we use the prefix-offset technique (as in text-generation-inference): keep a short window of
 * ids; `prefix` is the part already printed, the rest is pending. Each push decodes the window and
 * the prefix and emits the difference, but only once the window's text is longer than the prefix's
 * and does not end in U+FFFD (an incomplete UTF-8 tail). After emitting, the window slides so the
 * just-printed tokens become the new prefix. Each push costs two decodes of the window, which
 * stays a few tokens long, so streaming n tokens is O(n), not O(n^2).
 *
 * A genuine U+FFFD at the very end of the output is held back until flush().
 */

const REPLACEMENT_CHAR = '\uFFFD';

export class TextStreamer {
  private readonly decode: (ids: number[]) => string;
  /** Ids not yet slid out: window[0..prefixLen) are printed already, the rest are pending. */
  private window: number[] = [];
  private prefixLen = 0;
  /** decode(window[0..prefixLen)), cached. */
  private prefixText = '';

  /** `decode` must decode a list of ids the way the whole output will be decoded (same options). */
  constructor(decode: (ids: number[]) => string) {
    this.decode = decode;
  }

  /** Adds one id; returns the text that became printable (often "", sometimes several tokens' worth). */
  push(id: number): string {
    this.window.push(id);
    const text = this.decode(this.window);
    if (text.length <= this.prefixText.length || text.endsWith(REPLACEMENT_CHAR)) return '';
    const fresh = text.slice(this.prefixText.length);
    // Slide: what was pending (now printed) becomes the prefix of the next window.
    this.window = this.window.slice(this.prefixLen);
    this.prefixLen = this.window.length;
    this.prefixText = this.decode(this.window);
    return fresh;
  }

  /** Returns whatever is still pending (e.g. an incomplete byte sequence as U+FFFD) and resets. */
  flush(): string {
    const text = this.window.length > this.prefixLen ? this.decode(this.window) : this.prefixText;
    const rest = text.length > this.prefixText.length ? text.slice(this.prefixText.length) : '';
    this.window = [];
    this.prefixLen = 0;
    this.prefixText = '';
    return rest;
  }
}
