/**
 * What a generation returns, in one shape for every path: generate() (`hire generate --json`),
 * each sequence of generateBatch() (`--batch`, `--prompt` repeated) and decoding on several devices
 * (`--devices`). A field a path cannot fill is null, never missing, so the keys are always the same.
 */
import type {GenerateStats} from '../core/decode/generate.js';
import type {HeadStats} from '../core/decode/output-head.js';
import type {TokenTraffic} from '../core/dist/distributed-model.js';

/** The output layer a generation decodes with, and its statistics over that generation. */
export interface OutputInfo extends HeadStats {
  kind: 'dense' | 'hire';
  /** e.g. "HiRE softmax (lowrank+quant-r16-int4, k'=48)". */
  describe: string;
  /** Output-layer weight bytes read per token (null on several devices, where it is not measured). */
  bytesPerToken: number | null;
}

/** Decoding on several devices: how, and what moved between them. */
export interface DevicesInfo {
  /** Number of devices. */
  count: number;
  /** How the output layer's top-k was taken: one global top-k' or DaT. */
  topk: 'exact' | 'dat';
  /** The devices, the output layer and the FFN, in words. */
  describe: string;
  /** Bytes moved between the devices per decoded token. */
  traffic: TokenTraffic;
  /** Whether the FFN was sparse (HiRE-FFN), and each device's FFN weight bytes per token. */
  ffn: {sparse: boolean; bytesPerTokenPerDevice: number[]; denseBytesPerTokenPerDevice: number[]};
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
   * Token counts, timings and why generation stopped ('eos', 'max_tokens', 'context_full'). In a
   * batch, decodeMs is the whole batch's decode time.
   */
  stats: GenerateStats;
  /** The output layer and its statistics over this generation. */
  output: OutputInfo;
  /** Weight bytes one decode step reads per token (in a batch: the batch's; null on several devices). */
  weightBytesPerToken: number | null;
  /** Multi-device decoding (null on one device). */
  devices: DevicesInfo | null;
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
