/** Softmax and log-softmax in float64 (max-subtracted); NaN counts as -Infinity. */

function key(v: number): number {
  return v === v ? v : -Infinity;
}

/** Softmax of x / temperature in float64 (max-subtracted). */
export function softmax(x: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(x.length);
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, key(x[i]));
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.exp((key(x[i]) - max) / temperature);
    sum += out[i];
  }
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

/** log softmax of x in float64 (max-subtracted, log-sum-exp). */
export function logSoftmax(x: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, key(x[i]));
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(key(x[i]) - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = key(x[i]) - lse;
  return out;
}

