/** The FFN activations hire implements (HF names). */
export type Activation = 'silu' | 'gelu' | 'gelu_tanh' | 'relu';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Scalar activations, exactly as the HF definitions write them. */
export function activate(kind: Activation, x: number): number {
  switch (kind) {
    case 'silu':
      return x / (1 + Math.exp(-x));
    case 'relu':
      return x > 0 ? x : 0;
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
  }
}

export function applyActivation(kind: Activation, x: ArrayLike<number>, out: {[i: number]: number; length: number}): void {
  const n = out.length;
  // one loop per kind: the kind is not re-dispatched per element (this runs on every FFN)
  switch (kind) {
    case 'relu':
      for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? x[i]! : 0;
      return;
    case 'silu':
      for (let i = 0; i < n; i++) out[i] = x[i]! / (1 + Math.exp(-x[i]!));
      return;
    default:
      for (let i = 0; i < n; i++) out[i] = activate(kind, x[i]!);
  }
}

/** erf to ~1e-15 (series for small |x|, continued fraction for the tail via erfc). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(x) by Lentz's continued fraction: erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = ax + an / c;
    if (c === 0) c = 1e-300;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  const r = 1 - erfc;
  return x < 0 ? -r : r;
}
