/**
 * The control block that the calling thread and the kernel workers share: the first 4 KiB of
 * the shared memory (the rest of the first 64 KiB page is left unused so no kernel pointer is
 * ever near 0). One job is in flight at a time; the caller writes the job, sets CLAIM and DONE
 * to the job's tag, bumps GEN and notifies. The range is split in PARTS parts (splitRange), and
 * whoever comes first takes the next part: the calling thread and each worker claim parts one at
 * a time (compare-exchange on CLAIM), run them, and add 1 to DONE per part; the job is complete
 * once DONE counts every part. So a worker that is asleep or not on a CPU (a busy machine) holds
 * nothing up: the calling thread runs its parts too. Which thread runs a part never changes the
 * results (every kernel is a function of its range alone).
 */

/** Int32 slots of the control block (indices into an Int32Array at byte 0). */
export const CTL = {
  /** Job generation; workers Atomics.wait on it. */
  GEN: 0,
  /** tag(job) << TAG_SHIFT | parts of the current job finished. */
  DONE: 1,
  /** 0, -1 while a message is being written, or the index of the first worker that failed. */
  ERR: 2,
  /** Nonzero: workers leave their loop (set by dispose). */
  QUIT: 3,
  /** Kernel number (index into KERNEL_NAMES). */
  FN: 4,
  /** Number of fixed arguments before the range. */
  ARGC: 5,
  /** The whole range [LO, HI) that the threads split. */
  LO: 6,
  HI: 7,
  /** Parts the range is split in (at least one per thread; any thread may run any part). */
  PARTS: 8,
  /** Split granularity: every part except the last is a multiple of ALIGN long. */
  ALIGN: 9,
  /** Debug hook: 1 throw, 2 process.exit, 3 hang, 4 slow, read by worker 1 at the next job. */
  DEBUG: 10,
  /** Byte length of the error message at MSG_OFFSET. */
  MSG_LEN: 11,
  /** Index of a worker that is exiting (nonzero: the pool is broken). */
  FATAL: 12,
  /** tag(job) << TAG_SHIFT | parts of the current job claimed so far. */
  CLAIM: 13,
  /** First of 16 i32 argument slots. */
  ARGS: 16,
} as const;

export const CTL_WORDS = 1024;
/**
 * CLAIM and DONE keep the part count in their low TAG_SHIFT bits and the job's tag (GEN modulo
 * 2^(32 - TAG_SHIFT)) above, so a worker that wakes late for a finished job cannot claim a part
 * of the next one by mistake (its compare-exchange expects the old tag).
 */
export const TAG_SHIFT = 12;
/** The tag of job generation `gen` (both sides compute it the same way). */
export function jobTag(gen: number): number {
  return (gen & 0xfffff) << TAG_SHIFT;
}
/** 16 bytes where read_sum stores its sum. */
export const SINK_OFFSET = 512;
/** UTF-8 error message written by a failing worker. */
export const MSG_OFFSET = 1024;
export const MSG_BYTES = 1024;
/** First byte the allocator hands out. */
export const HEAP_BASE = 65536;

/** Exported kernels in dispatch order; KERNEL[name] is the number written to CTL.FN. */
export const KERNEL_NAMES = [
  'matvec_f32',
  'matvec_bf16',
  'matvec_f16',
  'matvec_rows_f32',
  'matvec_rows_bf16',
  'matvec_rows_f16',
  'matvec_batch_f32',
  'matvec_batch_bf16',
  'matvec_batch_f16',
  'matvec_q8',
  'matvec_q4',
  'widen_bf16',
  'widen_f16',
  'read_sum',
  'accum_rows_f32',
  'accum_rows_bf16',
  'accum_rows_f16',
  'matvec_rows_batch_f32',
  'matvec_rows_batch_bf16',
  'matvec_rows_batch_f16',
  'accum_rows_batch_f32',
  'accum_rows_batch_bf16',
  'accum_rows_batch_f16',
  'accum_rows_part_f32',
  'accum_rows_part_bf16',
  'accum_rows_part_f16',
  // ggml blocks (Q8_0, Q4_0; `kind` argument: bit 0 q4_0, bit 1 int16 activations): see block-kernels.ts
  'prep_x_blocks',
  'matvec_blocks',
  'matvec_rows_blocks',
  'matvec_batch_blocks',
  'matvec_rows_batch_blocks',
  'accum_rows_blocks',
  'accum_rows_part_blocks',
  'accum_rows_batch_blocks',
  'widen_blocks',
  'gemm_f32',
  'gemm_bf16',
  'gemm_f16',
  'compute_probe',
  'kv_store_f32',
  'kv_store_f16',
  'attend_f32',
  'attend_f16',
  'rms_rows',
  'ln_rows',
  'act_f32',
  'binop_f32',
  'rope_rows',
  'ffn_group_scores',
  'gated_rows',
  // the predictors' int8 / int4 matrices against several vectors (kernels.wat, at the end)
  'matvec_q_batch',
  // one row of each of several sequences, each with its own KV cache (kernels.wat, at the end)
  'attend_seqs_f32',
  'attend_seqs_f16',
  // the predictors' int8 / int4 matrices against x rounded to 8 bits (kernels.wat, at the end)
  'matvec_qi_batch',
] as const;

export type KernelName = (typeof KERNEL_NAMES)[number];

/**
 * Length of every part but the last when `count` items are split into `parts` parts whose length
 * is a multiple of `align` (splitRange's split; kernels that keep a scratch or partial sum per
 * part find their part as start / partLength).
 */
export function partLength(count: number, parts: number, align: number): number {
  return Math.ceil(count / parts / align) * align;
}

/**
 * Part t of [lo, hi) split into `parts` chunks whose length is a multiple of `align` (the
 * last takes the remainder). The worker source repeats this function; keep them equal.
 */
export function splitRange(lo: number, hi: number, parts: number, t: number, align: number): [number, number] {
  const chunk = partLength(hi - lo, parts, align);
  const start = Math.min(hi, lo + t * chunk);
  return [start, Math.min(hi, start + chunk)];
}
