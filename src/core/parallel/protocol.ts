/**
 * The transport between the coordinator and its device workers: one SharedArrayBuffer holding a
 * control block of Int32 words and the exchange regions below, shared by every device. The
 * coordinator publishes a command by bumping SEQ; each device runs it and stores SEQ into its
 * DONE slot, then bumps DONE_COUNT and notifies. Devices all-reduce among themselves through the
 * partial-sum slots and a barrier, so a token's layers need no coordinator round trip.
 *
 *   xin       [maxBatch, dim]           f32  hidden input of each token (embedding rows), broadcast
 *   partial   [2, devices, dim]         f32  each device's partial sum (attention out, FFN out)
 *   ffnIds    [2, devices, 1 + ffnList] i32  FFN top-k exchange (exact mode of top-k FFN models):
 *   ffnVals   [2, devices, 1 + ffnList] f32  ids[0] holds the list's length
 * The collective regions are double-buffered by parity: a device that finished collective c can
 * only reach c + 2 (and reuse c's buffers) after every device has arrived at c + 1, that is,
 * after every device has finished reading c.
 *   logits    [vocabSize]               f32  each device writes its own vocabulary rows
 *   candIds   [devices, listCap]        i32  candidate ids (scattered in, or a device's DaT list out)
 *   candVals  [devices, listCap]        f32  exact values of those candidates
 */

/** STEP runs layers then a head op; HEAD reruns only the head op on the last hidden state. */
import type {DeviceReady} from './device-runner.js';

export const OP = {RESET: 1, STEP: 2, EXACT_ROWS: 3, HEAD: 4} as const;
/** What a STEP does after the layers, for its last token. */
export const HEAD_OP = {NONE: 0, DENSE: 1, APPROX: 2, DAT: 3} as const;
/** Test hook: how a device fails at its next command. */
export const FAIL = {THROW: 1, EXIT: 2, HANG: 3} as const;

export const CTL = {
  SEQ: 0,
  OP: 1,
  ARG: 2, // 8 words
  DONE_COUNT: 10,
  ABORT: 11,
  BAR_COUNT: 12,
  BAR_GEN: 13,
  FAIL_DEVICE: 14, // device + 1, 0 = none
  FAIL_MODE: 15,
  QUIT: 16,
  /** Per device: the SEQ it finished last; then per device a list length; then a waiting flag. */
  DONE: 32,
} as const;

/** The control word holding device d's list length. */
export function countWord(devices: number, d: number): number {
  return CTL.DONE + devices + d;
}

/** The control word that is 1 while device d waits at a barrier for its peers. */
export function waitWord(devices: number, d: number): number {
  return CTL.DONE + 2 * devices + d;
}

export interface LayoutInput {
  devices: number;
  dim: number;
  maxBatch: number;
  vocabSize: number;
  /** Capacity of each device's FFN exchange list. */
  ffnList: number;
  /** Capacity of each device's candidate list (its largest vocabulary shard). */
  listCap: number;
}

export interface Layout extends LayoutInput {
  ctlWords: number;
  offsets: {xin: number; partial: number; ffnIds: number; ffnVals: number; logits: number; candIds: number; candVals: number};
  bytes: number;
}

export function makeLayout(p: LayoutInput): Layout {
  const ctlWords = CTL.DONE + 3 * p.devices;
  let at = ctlWords * 4;
  const take = (words: number) => {
    const o = at;
    at += words * 4;
    return o;
  };
  const offsets = {
    xin: take(p.maxBatch * p.dim),
    partial: take(2 * p.devices * p.dim),
    ffnIds: take(2 * p.devices * (1 + p.ffnList)),
    ffnVals: take(2 * p.devices * (1 + p.ffnList)),
    logits: take(p.vocabSize),
    candIds: take(p.devices * p.listCap),
    candVals: take(p.devices * p.listCap),
  };
  return {...p, ctlWords, offsets, bytes: at};
}

export interface Views {
  ctl: Int32Array;
  xin: Float32Array;
  /** [parity][device] */
  partial: Float32Array[][];
  ffnIds: Int32Array[][];
  ffnVals: Float32Array[][];
  logits: Float32Array;
  candIds: Int32Array[];
  candVals: Float32Array[];
}

export function makeViews(buf: SharedArrayBuffer, l: Layout): Views {
  const per = <T>(off: number, n: number, make: (o: number, n: number) => T) => Array.from({length: l.devices}, (_, d) => make(off + d * n * 4, n));
  const twice = <T>(off: number, n: number, make: (o: number, n: number) => T) => [per(off, n, make), per(off + l.devices * n * 4, n, make)];
  const f32 = (o: number, n: number) => new Float32Array(buf, o, n);
  const i32 = (o: number, n: number) => new Int32Array(buf, o, n);
  return {
    ctl: new Int32Array(buf, 0, l.ctlWords),
    xin: f32(l.offsets.xin, l.maxBatch * l.dim),
    partial: twice(l.offsets.partial, l.dim, f32),
    ffnIds: twice(l.offsets.ffnIds, 1 + l.ffnList, i32),
    ffnVals: twice(l.offsets.ffnVals, 1 + l.ffnList, f32),
    logits: f32(l.offsets.logits, l.vocabSize),
    candIds: per(l.offsets.candIds, l.listCap, i32),
    candVals: per(l.offsets.candVals, l.listCap, f32),
  };
}

/**
 * What DistributedModel drives: N devices sharing the exchange regions of `views`. Two kinds:
 * worker threads (devices.ts, cpu/tfjs/reference) and in-process WebGPU devices (local-devices.ts).
 */
export interface DeviceDriver {
  readonly layout: Layout;
  readonly views: Views;
  /** Each device's report once loaded, in device order. */
  readonly ready: DeviceReady[];
  readonly devices: number;
  /** The devices in words, e.g. "2 devices (cpu ... each)". */
  describe(): string;
  /** Runs a command (OP.*) with up to 8 integer arguments on every device; resolves when all are done. */
  run(op: number, args?: readonly number[]): Promise<void>;
  /** Test hook: device `device` fails at its next command. */
  failNext(device: number, mode: keyof typeof FAIL): void;
  /** Stops every device; safe to call twice and after a failure. */
  dispose(): Promise<void>;
}
