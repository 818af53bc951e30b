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
 * The window starts with the prompt's last few tokens (the context), whose text is never emitted:
 * the first generated token then keeps its leading space ("Once upon a" + " time"). What is
 * emitted in all, for prompt P and generated ids G, is decode(P + G) with decode(P) taken off the
 * front, where a prompt that ends inside a multi-byte character counts only up to its last
 * complete character (the rest of that character is printed once the generation completes it).
 * Only the context's tokens are decoded, so that holds for decoders that read a few tokens back
 * (SentencePiece, byte-level BPE), which are the ones we load.
 *
 * A genuine U+FFFD at the very end of the output is held back until flush().
 */

const REPLACEMENT_CHAR = '\uFFFD';

/** Prompt tokens kept as context: a leading-space rule needs one, a split 4-byte character up to 4 more. */
export const CONTEXT_TOKENS = 6;

/** Byte-fallback tokens a multi-byte character can have before or after a window edge (UTF-8: at most 3). */
const MAX_PARTIAL_BYTES = 3;

export class TextStreamer {
  private readonly decode: (ids: number[]) => string;
  /** Ids not yet slid out: window[0..prefixLen) are printed already, the rest are pending. */
  private window: number[] = [];
  private prefixLen = 0;
  /** decode(window[0..prefixLen)), cached. */
  private prefixText = '';
  /** Whether an id was pushed since the start (or the last flush). */
  private pushed = false;

  /**
   * `decode` must decode a list of ids the way the whole output will be decoded (same options).
   * `context`: the prompt's ids (only the last CONTEXT_TOKENS are kept); their text is not emitted.
   */
  constructor(decode: (ids: number[]) => string, context: readonly number[] = []) {
    this.decode = decode;
    this.seed(context);
  }

  /** Adds one id; returns the text that became printable (often "", sometimes several tokens' worth). */
  push(id: number): string {
    this.pushed = true;
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
    const rest = this.pushed && text.length > this.prefixText.length ? text.slice(this.prefixText.length) : '';
    this.window = [];
    this.prefixLen = 0;
    this.prefixText = '';
    this.pushed = false;
    return rest;
  }

  /** Starts the window with the prompt's last tokens, marked printed up to their last complete character. */
  private seed(context: readonly number[]): void {
    if (context.length === 0) return;
    let start = Math.max(0, context.length - CONTEXT_TOKENS);
    // A window that begins inside a multi-byte character decodes to U+FFFD first: begin earlier.
    for (let i = 0; i < MAX_PARTIAL_BYTES && start > 0 && this.decode(context.slice(start)).startsWith(REPLACEMENT_CHAR); i++) start--;
    const ids = context.slice(start);
    // A prompt that ends inside a multi-byte character: its trailing bytes stay pending.
    let printed = ids.length;
    let text = this.decode(ids);
    for (let i = 0; i < MAX_PARTIAL_BYTES && printed > 0 && text.endsWith(REPLACEMENT_CHAR); i++) text = this.decode(ids.slice(0, --printed));
    if (text.endsWith(REPLACEMENT_CHAR)) {
      // not a partial character after all (the prompt itself ends in U+FFFD): all of it is printed
      printed = ids.length;
      text = this.decode(ids);
    }
    this.window = ids;
    this.prefixLen = printed;
    this.prefixText = text;
  }
}

/** The text a TextStreamer seeded with `promptIds` emits for `ids`, flush included. */
export function streamedText(decode: (ids: number[]) => string, promptIds: readonly number[], ids: readonly number[]): string {
  const streamer = new TextStreamer(decode, promptIds);
  let text = '';
  for (const id of ids) text += streamer.push(id);
  return text + streamer.flush();
}
