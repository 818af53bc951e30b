/**
 * What `hire bench` divides its timings by: the arithmetic of a prompt (flops per prompt token, for
 * GFLOP/s against the compute probe) and the KV cache bytes a decode step reads (counted with the
 * weights against the bandwidth probe). Pure functions of the model's shapes.
 */
import type {ModelConfig} from '../../model/config.js';
import type {ModelWeights} from '../../decode/weights.js';
import type {KvDtype} from '../../backends/backend.js';

/**
 * Flops per token of a prompt of `tokens` tokens (a multiply-add counts 2): every weight matrix of
 * the layers (and OPT's projections) once per token, attention over the positions before it (q.k
 * and p.v: 4 * headDim per head and position, positions 1 .. tokens, averaged), and the output layer
 * once for the whole prompt (only the last position needs logits).
 */
export function prefillFlopsPerToken(config: ModelConfig, w: ModelWeights, tokens: number): number {
  let macs = 0;
  for (const l of w.layers) {
    for (const m of [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown ?? l.wDownT]) if (m) macs += m.rows * m.cols;
  }
  for (const m of [w.projectIn, w.projectOut]) if (m) macs += m.rows * m.cols;
  const attention = config.nLayers * config.nHeads * 2 * config.headDim * ((tokens + 1) / 2);
  const output = (w.lmHead.rows * w.lmHead.cols) / tokens;
  return 2 * (macs + attention + output);
}

/** Bytes of one position of the KV cache over every layer (keys and values). */
export function kvBytesPerPosition(config: ModelConfig, dtype: KvDtype): number {
  return config.nLayers * 2 * config.nKvHeads * config.headDim * (dtype === 'f16' ? 2 : 4);
}

/**
 * KV cache bytes one decode step reads on average while decoding `tokens` tokens after a context of
 * `context` positions: the step at position p reads positions 0 .. p.
 */
export function kvBytesPerDecodeStep(config: ModelConfig, dtype: KvDtype, context: number, tokens: number): number {
  return kvBytesPerPosition(config, dtype) * (context + (tokens + 1) / 2);
}
