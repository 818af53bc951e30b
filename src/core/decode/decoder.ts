/**
 * THE decoder interface: what a generation needs from a loaded model, whether the model runs on
 * one backend here (engine/session.ts) or as a group of devices each holding a shard (the device
 * group in dist/). A generation asks for an output head once, opens a sequence, prefills its prompt
 * and then steps one token at a time; batched decoding steps several sequences together.
 */
import type {ModelConfig} from '../model/config.js';
import type {HeadResult, HeadStats} from './output-head.js';
import type {SamplingOptions} from './sampler.js';

/** HiRE options of a generation's output layer. */
export interface HeadOptions {
  /** Turn HiRE off even when the model is a bundle. */
  dense?: boolean;
  /** Mean recall@k target that picks k' (default 0.99). */
  recall?: number;
  /** Use exactly this many candidates instead of the table's k'. */
  kPrime?: number;
  /** Certified mode: the top-k of every step provably equals dense top-k. */
  certify?: boolean;
  /** Predictor name (default: the one calibration selected). */
  predictor?: string;
  /**
   * HiRE heads also return the predictor's approximate logits of the whole vocabulary (HeadResult
   * `approx`), for log-probability estimates of the tail: one read-back of vocabSize values per
   * step. Heads that cannot (a device group's) return none.
   */
  approxTail?: boolean;
}

/** The output layer a generation decodes with, as chosen by Decoder.head(). */
export interface DecodeHead {
  readonly kind: 'dense' | 'hire';
  /** e.g. "HiRE softmax (lowrank+quant-r16-int4, k'=48)". */
  describe(): string;
  /** Output-layer weight bytes read per token. */
  readonly bytesPerToken: number;
  stats(): HeadStats;
}

export interface HeadChoice<H extends DecodeHead = DecodeHead> {
  head: H;
  /** Why this head, for the user (e.g. "no k' reaches recall 0.999: dense"). */
  note: string | null;
}

/** One sequence on a decoder: its KV cache and how many positions it holds. */
export interface DecodeSequence {
  /** Positions the sequence has room for. */
  readonly maxLen: number;
  /** Positions filled so far (the next token goes at this position). */
  readonly length: number;
}

/** Statistics of the last prefill or step. */
export interface DecodeStepStats {
  /** Weight bytes read, output layer included (null where the decoder does not count them). */
  bytes: number | null;
  /** Mean over sparse FFN layers: groups read for the step's rows together, and per row alone. */
  unionGroups: number | null;
  groupsPerRow: number | null;
}

/** Bytes moved between devices (and the coordinator) for one decoded token, by kind. */
export interface TokenTraffic {
  /** The token's embedding broadcast to every device. */
  input: number;
  /** Partial sums read from the other devices (two all-reduces per layer). */
  allReduce: number;
  /** Top-k FFN lists exchanged in exact mode. */
  ffnTopK: number;
  /** Output layer: logits, scores, candidate ids, (id, value) pairs. */
  softmax: number;
  total: number;
}

/** A decoder spread over several devices: how, and what moved between them. */
export interface DeviceGroupInfo {
  /** Number of devices. */
  count: number;
  /** How the output layer's top-k is merged: one global top-k' ('exact') or DaT-Top-k ('dat'). */
  merge: 'exact' | 'dat';
  /** The devices, the output layer and the FFN, in words. */
  describe: string;
  /** Bytes moved between the devices per decoded token (the output layer averaged over the steps so far). */
  traffic: TokenTraffic;
  /** Whether the FFN is sparse (HiRE-FFN), and each device's FFN weight bytes per token. */
  ffn: {sparse: boolean; bytesPerTokenPerDevice: number[]; denseBytesPerTokenPerDevice: number[]};
}

export interface Decoder {
  readonly config: ModelConfig;
  /** Most sequences step() advances together (a device group decodes one at a time). */
  readonly maxSequences: number;
  /** The backend (or the devices) in words, e.g. "cpu (wasm simd, 2 threads)". */
  describe(): string;
  /** The backend's name ('cpu', 'tfjs', 'webgpu', 'reference'). */
  readonly backendName: string;
  /** The FFN in words when it is not the dense one (HiRE-FFN, per-device shards), else null. */
  readonly ffnInfo: string | null;
  /** The output layer for these sampling and HiRE options; the same options give the same head. */
  head(sampling: SamplingOptions, opts: HeadOptions): HeadChoice;
  /** A new, empty sequence with room for maxLen positions. */
  openSequence(maxLen: number): Promise<DecodeSequence>;
  /**
   * Frees a sequence's KV cache now (the sequence must not be used afterwards); a sequence that is
   * only dropped is freed when it is garbage-collected, which may be much later.
   */
  closeSequence(seq: DecodeSequence): void;
  /**
   * Appends tokens to the sequence (a prompt, or a part of one) and returns the head's result for
   * the last of them. checkAbort runs between blocks of a long prompt.
   */
  prefill(seq: DecodeSequence, tokens: readonly number[], head: DecodeHead, checkAbort?: () => void): Promise<HeadResult>;
  /**
   * prefill() of several sequences in one forward pass: blocks[i] is appended to seqs[i] (distinct
   * sequences), each block's rows attend to their own sequence only, so each sequence gets what
   * its own prefill() of that block gives, and the weights are read once for all the blocks.
   * Returns the head's result for the last token of each block. Optional: where absent, callers
   * prefill one sequence at a time.
   */
  prefillBatch?(seqs: readonly DecodeSequence[], blocks: readonly (readonly number[])[], head: DecodeHead): Promise<HeadResult[]>;
  /**
   * prefill() that hands the head's result after every token to onRow (row i: the result after
   * tokens[i], i.e. the distribution of the token at the next position), in order, block by block
   * (scoring). Optional: where absent, scoring steps one token at a time.
   */
  prefillRows?(seq: DecodeSequence, tokens: readonly number[], head: DecodeHead, onRow: (row: number, r: HeadResult) => void, checkAbort?: () => void): Promise<void>;
  /**
   * Drops the positions from `length` on (0 <= length <= seq.length): the next prefill or step
   * writes there. A chat rewinds to where its history and the newly rendered conversation part.
   */
  rewind(seq: DecodeSequence, length: number): void;
  /** Appends tokens[i] to seqs[i], all sequences in one step; returns each one's head result. */
  step(seqs: readonly DecodeSequence[], tokens: readonly number[], head: DecodeHead): Promise<HeadResult[]>;
  /** Statistics of the last prefill or step. */
  stepStats(): DecodeStepStats;
  /** Weight bytes one decode step of one sequence reads with this head. */
  bytesPerToken(head: DecodeHead): number;
  /** The device group this decoder is (null: one backend). */
  groupInfo(): DeviceGroupInfo | null;
  /** While set, a wait for slow backend work ends with AbortError when the signal fires (cpu). */
  abortWaits?(signal: AbortSignal | undefined): void;
  dispose(): Promise<void>;
}

/** Rejects a rewind outside 0..seq.length. */
export function checkRewind(seq: DecodeSequence, length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > seq.length) {
    throw new RangeError(`rewind to ${length}: the sequence holds ${seq.length} positions`);
  }
}
