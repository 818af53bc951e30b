/**
 * Seeded randomness for training: one small PRNG (mulberry32) with uniform, normal (Box-Muller)
 * and integer draws. Every random choice a training run makes (initial weights, batch windows)
 * comes from one of these, so a run is a pure function of its seed and options.
 */

export class Rng {
  private state: number;
  /** Second normal draw of the last Box-Muller pair, used by the next normal() call. */
  private spare: number | null = null;

  constructor(seed: number) {
    // Mix the seed so that nearby seeds give unrelated streams.
    this.state = hash32(seed >>> 0);
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.uniform(); // (0, 1]: log stays finite
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** `n` normal draws with standard deviation `std`. */
  normalArray(n: number, std: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }
}

/** A stream derived from (seed, label): independent of how many draws other streams made. */
export function derivedRng(seed: number, label: string): Rng {
  let h = hash32(seed >>> 0);
  for (let i = 0; i < label.length; i++) h = hash32(h ^ label.charCodeAt(i));
  return new Rng(h);
}

/** A 32-bit integer mix (the murmur3 finaliser). */
function hash32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
