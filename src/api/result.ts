/**
 * What a generation returns, in one shape for every path: generate() (`hire generate --json`),
 * each sequence of generateBatch() (`--batch`, `--prompt` repeated) and decoding on several devices
 * (`--devices`). A field a path cannot fill is null, never missing, so the keys are always the same.
 */
import type {GenerateStats} from '../core/decode/generate.js';
import type {HeadStats} from '../core/decode/output-head.js';

/** The output layer a generation decodes with, and its statistics over that generation. */
export interface OutputInfo extends HeadStats {
  kind: 'dense' | 'hire';
  /** e.g. "HiRE softmax (lowrank+quant-r16-int4, k'=48)". */
  describe: string;
  /** Output-layer weight bytes read per token (on several devices: all devices together). */
  bytesPerToken: number | null;
}

/** Decoding on several devices: how, and what moved between them (the core type, re-exported). */
export type {DeviceGroupInfo as DevicesInfo, TokenTraffic} from '../core/decode/decoder.js';
import type {DeviceGroupInfo} from '../core/decode/decoder.js';

/**
 * A token's log-probability and the most likely alternatives at its position, in the model's own
 * distribution (temperature 1, before penalties and top-k/top-p/min-p). Dense: exact, normalised
 * over the vocabulary. HiRE: normalised over the k' candidates the output layer computed, so each
 * value is the dense one plus the same -log P(candidates) >= 0 (README, "Log-probabilities").
 */
export interface TokenLogprobs {
  /** Null only when scoring under HiRE a token that was not among the candidates. */
  logprob: number | null;
  /** Most likely first; `token` is the vocabulary's string (null without a tokenizer). */
  top: Array<{id: number; token: string | null; logprob: number}>;
  /** Rows the probabilities are normalised over: the vocabulary size, or k'. */
  normalisedOver: number;
  /** True when normalised over the whole vocabulary (dense). */
  exact: boolean;
  /**
   * The rows outside the candidates: 'none' (dense), 'dropped' (HiRE: normalised over the
   * candidates), 'estimated' (HiRE with the predictor's approximate logits for the rest).
   */
  tail: 'none' | 'dropped' | 'estimated';
}

export interface GenerationResult {
  /**
   * The generated text, the prompt not included: decode(prompt + tokens) with decode(prompt) taken
   * off the front, so it keeps the first token's leading space. It is what the chunks streamed,
   * plus U+FFFD for a character the generation left incomplete at its very end.
   */
  text: string;
  promptTokenIds: number[];
  /** The generated ids (an end-of-sequence id is not included). */
  tokenIds: number[];
  /** Backend name. */
  backend: string;
  /**
   * Token counts, timings and why generation stopped ('eos', 'max_tokens', 'context_full', 'stop'). In a
   * batch, decodeMs is the whole batch's decode time.
   */
  stats: GenerateStats;
  /** The output layer and its statistics over this generation. */
  output: OutputInfo;
  /** Weight bytes one decode step reads per token (in a batch: the batch's; on several devices: all devices together). */
  weightBytesPerToken: number | null;
  /** Multi-device decoding (null on one device). */
  devices: DeviceGroupInfo | null;
  /** With the logprobs option: one entry per generated token (else null). */
  logprobs: TokenLogprobs[] | null;
}

/** Several prompts decoded together: one GenerationResult per prompt, and the batch's figures. */
export interface BatchResult {
  /** Per prompt, in order. */
  sequences: GenerationResult[];
  /** Generated tokens per second, all sequences together (prefill excluded). */
  tokensPerSecond: number;
  /** Weight bytes read per generated token. */
  weightBytesPerToken: number;
  /** HiRE-FFN: mean groups read per layer for the batch, and for one sequence (null: dense FFN). */
  ffnGroups: {batch: number; perSequence: number} | null;
}
