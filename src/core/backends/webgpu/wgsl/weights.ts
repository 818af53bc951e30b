/**
 * WGSL for reading weight matrices in each stored format. Every matrix row is padded to a multiple
 * of 16 bytes (see ../layout.ts), and every vector buffer to a multiple of 64 f32, so a row can be
 * walked in whole "units" with no bounds checks: padding weights are 0 and padding x entries are 0.
 *
 *   dtype  W binding            unit                       values per unit
 *   f32    array<vec4<f32>>     one vec4                   4
 *   f16    array<vec4<u32>>     four words, two halves      8  (unpack2x16float: low half first)
 *   bf16   array<vec4<u32>>     four words, two bf16 each   8  (a bf16 is the high half of an f32)
 *   q8     array<u32> + scales  one word, 4 signed bytes    4
 *   q4     array<u32> + scales  one word, 8 signed nibbles  8  (low nibble = lower column)
 *   q2     array<u32> + scales  one word, 16 2-bit fields   16
 *
 * Quantised rows: scales [rows, groups] f32; a unit never straddles a group (the backend falls back
 * to f32 otherwise), so unit u of a row uses group u / p.wpg (wpg = words per group).
 * Uniform fields every user of these snippets declares: stride (units or words per row), groups,
 * wpg, gs (group size in columns).
 */
import type {MatDtype} from '../../backend.js';

export type GpuWeightKind = 'f32' | 'f16' | 'bf16' | 'q8' | 'q4' | 'q2';

/** Storage declarations of the weight matrix (binding 1) and, for quantised ones, its scales (2). */
export function weightBindings(kind: GpuWeightKind): string {
  switch (kind) {
    case 'f32':
      return '@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;';
    case 'f16':
    case 'bf16':
      return '@group(0) @binding(1) var<storage, read> W: array<vec4<u32>>;';
    default:
      return '@group(0) @binding(1) var<storage, read> W: array<u32>;\n@group(0) @binding(2) var<storage, read> S: array<f32>;';
  }
}

export function isQuant(kind: MatDtype): kind is 'q8' | 'q4' | 'q2' {
  return kind === 'q8' || kind === 'q4' || kind === 'q2';
}

export function quantBitsOf(kind: 'q8' | 'q4' | 'q2'): number {
  return kind === 'q8' ? 8 : kind === 'q4' ? 4 : 2;
}

/** Decoders shared by the unit dot and the element read. */
function helpers(kind: GpuWeightKind): string {
  if (kind === 'f16') return 'fn h2(w: u32) -> vec2<f32> { return unpack2x16float(w); }';
  if (kind === 'bf16') return 'fn h2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }';
  if (!isQuant(kind)) return '';
  const bits = quantBitsOf(kind);
  // field j of a word, sign-extended: shift it to the top, then arithmetic-shift down.
  return `fn field(w: u32, j: u32) -> f32 { return f32(bitcast<i32>(w << (${32 - bits}u - ${bits}u * j)) >> ${32 - bits}u); }`;
}

/**
 * `fn unitDot(r: u32, u: u32) -> f32`: unit u of (chunk-local) row r dotted with the matching
 * entries of X (array<vec4<f32>>, declared by the caller).
 */
export function unitDot(kind: GpuWeightKind): string {
  const head = helpers(kind);
  switch (kind) {
    case 'f32':
      return `fn unitDot(r: u32, u: u32) -> f32 { return dot(W[r * p.stride + u], X[u]); }`;
    case 'f16':
    case 'bf16':
      return `${head}
fn unitDot(r: u32, u: u32) -> f32 {
  let w = W[r * p.stride + u];
  return dot(vec4<f32>(h2(w.x), h2(w.y)), X[2u * u]) + dot(vec4<f32>(h2(w.z), h2(w.w)), X[2u * u + 1u]);
}`;
    case 'q8':
      return `${head}
fn unitDot(r: u32, u: u32) -> f32 {
  let w = W[r * p.stride + u];
  let q = vec4<f32>(field(w, 0u), field(w, 1u), field(w, 2u), field(w, 3u));
  return S[r * p.groups + u / p.wpg] * dot(q, X[u]);
}`;
    case 'q4':
      return `${head}
fn unitDot(r: u32, u: u32) -> f32 {
  let w = W[r * p.stride + u];
  let lo = vec4<f32>(field(w, 0u), field(w, 1u), field(w, 2u), field(w, 3u));
  let hi = vec4<f32>(field(w, 4u), field(w, 5u), field(w, 6u), field(w, 7u));
  return S[r * p.groups + u / p.wpg] * (dot(lo, X[2u * u]) + dot(hi, X[2u * u + 1u]));
}`;
    case 'q2':
      return `${head}
fn unitDot(r: u32, u: u32) -> f32 {
  let w = W[r * p.stride + u];
  var acc = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let q = vec4<f32>(field(w, 4u * j), field(w, 4u * j + 1u), field(w, 4u * j + 2u), field(w, 4u * j + 3u));
    acc += dot(q, X[4u * u + j]);
  }
  return S[r * p.groups + u / p.wpg] * acc;
}`;
  }
}

/** `fn elem(r: u32, c: u32) -> f32`: W[r, c] of the chunk, dequantised. */
export function elemRead(kind: GpuWeightKind): string {
  const head = helpers(kind);
  switch (kind) {
    case 'f32':
      return `fn elem(r: u32, c: u32) -> f32 { return W[r * p.stride + c / 4u][c % 4u]; }`;
    case 'f16':
    case 'bf16':
      return `${head}
fn elem(r: u32, c: u32) -> f32 { return h2(W[r * p.stride + c / 8u][(c / 2u) % 4u])[c % 2u]; }`;
    default: {
      const per = 32 / quantBitsOf(kind);
      return `${head}
fn elem(r: u32, c: u32) -> f32 { return field(W[r * p.stride + c / ${per}u], c % ${per}u) * S[r * p.groups + c / p.gs]; }`;
    }
  }
}
