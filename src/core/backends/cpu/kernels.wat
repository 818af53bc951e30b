;; hire CPU kernels: WebAssembly SIMD (f32x4) over one shared linear memory.
;;
;; Every exported kernel takes byte addresses into the shared memory and, as its LAST TWO
;; parameters, a half-open range [lo, hi) of output rows (or gathered indices, or elements,
;; or 256-byte blocks for read_sum), so the host can split one call over several threads that
;; run this module on the same memory. Nothing here allocates or keeps state between calls.
;;
;; Layouts (all little-endian, row-major):
;;   W f32   [rows, cols]  4 bytes per weight, row r at w + r*cols*4
;;   W bf16  [rows, cols]  u16; f32 bits = h << 16
;;   W f16   [rows, cols]  u16 IEEE binary16 (sign 1, exponent 5 bias 15, mantissa 10)
;;   x [cols] f32, y [rows] f32 (or y [n] for gathered rows), ids [n] i32
;;   batch: xs [nb, cols] f32, ys [nb, rows] f32 (ys[b*rows + r] = W[r] . xs[b])
;;   q8:    w  [rows, cols] i8, scales [rows, cols/groupSize] f32,
;;          W[r,c] = w[r,c] * scales[r, c/groupSize]
;;   q4:    w  [rows, ceil(cols/2)] u8: byte j of a row holds column 2j in its low nibble and
;;          column 2j+1 in its high nibble, each a two's-complement 4-bit value in [-8, 7]; an
;;          odd cols leaves the last high nibble unused (0). Scales as q8. groupSize must be
;;          even unless it equals cols (one group per row), so groups start on a byte.
;;   The q8 and q4 kernels take x PREPARED (rearranged and scaled, cols floats), not x itself:
;;          see "Quantized weights" below and CpuKernels.prepareQuantX.
;; No alignment is required anywhere (unaligned v128 loads are fine), but 64-byte aligned
;; rows are faster.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Row kernels reached through the table: index kind for one row, 3 + kind for one row
  ;; against 4 vectors (kind 0 = f32, 1 = bf16, 2 = f16).
  (type $dot_t (func (param i32 i32 i32) (result f32)))
  (type $dot4_t (func (param i32 i32 i32 i32 i32 i32) (result v128)))
  (table 6 funcref)
  (elem (i32.const 0) $dot_f32 $dot_bf16 $dot_f16 $dot4_f32 $dot4_bf16 $dot4_f16)

  ;; ---------------------------------------------------------------------------------------
  ;; Small helpers (called per row, or inside slow paths only)
  ;; ---------------------------------------------------------------------------------------

  ;; Sum of the four lanes as (l0 + l2) + (l1 + l3).
  (func $hsum (param $v v128) (result f32)
    (local $e v128)
    (local.set $e (f32x4.add (local.get $v)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32.add (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 1 (local.get $e))))

  ;; [hsum(s0), hsum(s1), hsum(s2), hsum(s3)] by a transpose; same order per lane as $hsum.
  (func $hsum4 (param $s0 v128) (param $s1 v128) (param $s2 v128) (param $s3 v128) (result v128)
    (local $a v128) (local $b v128)
    ;; a = [s0.0+s0.2, s1.0+s1.2, s0.1+s0.3, s1.1+s1.3], b likewise for s2, s3
    (local.set $a (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))))
    (local.set $b (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))

  ;; bf16 bits -> f32 (exact: bf16 is the top half of an f32).
  (func $bf2f (param $h i32) (result f32)
    (f32.reinterpret_i32 (i32.shl (local.get $h) (i32.const 16))))

  ;; IEEE half bits -> f32, exact for every input (subnormals, +-0, +-inf, NaN payloads).
  (func $h2f (param $h i32) (result f32)
    (local $sign i32) (local $e i32) (local $m i32)
    (local.set $sign (i32.shl (i32.and (local.get $h) (i32.const 0x8000)) (i32.const 16)))
    (local.set $e (i32.and (i32.shr_u (local.get $h) (i32.const 10)) (i32.const 31)))
    (local.set $m (i32.and (local.get $h) (i32.const 0x3ff)))
    (if (i32.eqz (local.get $e))
      (then ;; zero or subnormal: m * 2^-24, exact in f32
        (return (f32.reinterpret_i32 (i32.or (local.get $sign) (i32.reinterpret_f32
          (f32.mul (f32.convert_i32_u (local.get $m)) (f32.const 0x1p-24))))))))
    (if (i32.eq (local.get $e) (i32.const 31))
      (then ;; inf or NaN (payload kept)
        (return (f32.reinterpret_i32 (i32.or (i32.or (local.get $sign) (i32.const 0x7f800000))
          (i32.shl (local.get $m) (i32.const 13)))))))
    (f32.reinterpret_i32 (i32.or (i32.or (local.get $sign)
      (i32.shl (i32.add (local.get $e) (i32.const 112)) (i32.const 23)))
      (i32.shl (local.get $m) (i32.const 13)))))

  ;; ---------------------------------------------------------------------------------------
  ;; Dense rows. A row is read start to end as one stream, one 64-byte line of W per pass.
  ;; (Measured on a 2-core Zen 5: passes over 2 or 4 rows at once, even sharing the x
  ;; loads between rows, read DRAM at half the rate, because the hardware prefetcher follows
  ;; one long stream far better than several short ones; x stays in L1 either way.)
  ;;
  ;; Accumulation order, the same for every entry point: pass i adds its products into
  ;; accumulators a0..a3 (f32: a_k takes columns 16i+4k..16i+4k+3) or a0..a7 (16-bit weights:
  ;; a_k takes columns 32i+4k..32i+4k+3); then 4-column steps add into a0; then the
  ;; accumulators are combined as ((a0+a1)+(a2+a3)) [+ ((a4+a5)+(a6+a7))] and reduced as
  ;; (l0+l2)+(l1+l3); then the last cols % 4 products are added one by one. So results are
  ;; bit-identical across thread counts and between matvec and matvec_rows.
  ;;
  ;; What was measured (issue 19; AMD EPYC family 26 (Zen 5), 2 cores shared with two other
  ;; sessions, so best of 15 interleaved rounds, one thread, rows of 1024 columns):
  ;; * Rows in L2 (128 rows): f32 11.7 G weights/s (47 GB/s), bf16 14.8 G (30 GB/s), f16 6.5 G
  ;;   (13 GB/s) on normal halves. bf16 runs above one thread's share of the DRAM stream (the
  ;;   probe: 50-56 GB/s for 2 threads on a quiet moment); f16 is compute-bound.
  ;; * bf16 widened by shifts and masks instead of the interleave (even halves v << 16, odd halves
  ;;   v & 0xffff0000, x taken in the matching even/odd order): no faster (L2 14.4 against 16.2 G
  ;;   weights/s, DRAM 13.3 against 14.0); f16 the same way: slower (3.3 against 4.5, L2). The
  ;;   interleave is one instruction (punpck), as cheap as the shift or the mask, so the widening
  ;;   is not what limits these loops, and the kernels keep it. Fusing every multiply-add of
  ;;   this section in the relaxed build (f32x4.relaxed_madd, one instruction fewer per 4
  ;;   weights) was no faster either (L2: f32 12.5 against 12.4, bf16 15.8 against 15.6 G
  ;;   weights/s, both builds side by side in one process), so the dense rows stay unfused and
  ;;   give the same bits in both builds.
  ;; * f16 rows holding subnormal halves (0.23% of uniform weights of std 1/32, as the synthetic
  ;;   bench models): 4.7-4.9 against 5.0-6.5 G weights/s (best of 15; medians differed up to
  ;;   1.8x on the loaded machine): a subnormal half is a denormal f32 before the
  ;;   2^112 rebias, and a denormal operand costs a microcode assist. Every exact branch-free
  ;;   alternative found costs more instructions than the assists cost.
  ;; * The llama-470m shortfall per matrix was the thread hand-off, not these loops: with one part
  ;;   per thread, a worker that was asleep or off-CPU held every call up (a tiny parallel call
  ;;   took 150-350 us; with the parts claimed by whichever thread comes first, control.ts,
  ;;   2-3 us). scripts/decode-sweep.mjs times a model's matvecs alone, per matrix shape.
  ;;   Decode with the claimed parts against the fixed split (7e0ddfb), run interleaved, two
  ;;   rounds, load average 5 from other sessions (`node bin/run.js bench --shape S --dtype D
  ;;   --tokens 16 --repeat 3 --json`), dense tok/s new/old: llama-110m f32 1.77x 1.94x, bf16
  ;;   2.56x 2.71x, f16 1.25x 1.51x; llama-470m f32 0.98x 1.82x, bf16 1.27x 1.26x, f16 0.96x
  ;;   0.90x. Against the probe of the same run (itself 7-25 GB/s on the loaded machine): f32
  ;;   MBU 0.59-0.71 (110m), 0.40-0.69 (470m); bf16/f32 tok/s 1.32x-1.81x, f16/f32 0.68x-0.79x.
  ;; ---------------------------------------------------------------------------------------

  ;; W[row at p] . x for f32 weights: 16 columns per pass, 4 accumulators.
  (func $dot_f32 (type $dot_t) (param $p i32) (param $x i32) (param $cols i32) (result f32)
    (local $c i32) (local $n i32) (local $s f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $n (i32.and (local.get $cols) (i32.const -16)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $p)) (v128.load (local.get $x)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $p)) (v128.load offset=16 (local.get $x)))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $p)) (v128.load offset=32 (local.get $x)))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $p)) (v128.load offset=48 (local.get $x)))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $x (i32.add (local.get $x) (i32.const 64)))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br $next)))
    (block $done (loop $next ;; 4-column steps
      (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $p)) (v128.load (local.get $x)))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    ;; $hsum written out (calls are not inlined: a short row, e.g. a low-rank factor's 96 columns,
    ;; paid for the call): (l0 + l2) + (l1 + l3)
    (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
    (local.set $a0 (f32x4.add (local.get $a0) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0))))
    (local.set $s (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0))))
    (block $done (loop $next ;; last cols % 4 columns
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $p)) (f32.load (local.get $x)))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $s))

  ;; bf16 weights: 32 halves (4 loads) per pass, 8 accumulators. A half h widens to the f32
  ;; bits h << 16 by interleaving with zero halves: i8x16.shuffle with the low (lo) or high (hi)
  ;; four halves, the same as i32x4.extend_*_i16x8_u followed by shl 16 in one instruction.
  (func $dot_bf16 (type $dot_t) (param $p i32) (param $x i32) (param $cols i32) (result f32)
    (local $c i32) (local $n i32) (local $s f32) (local $h v128) (local $z v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $n (i32.and (local.get $cols) (i32.const -32)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $h (v128.load (local.get $p)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $x))
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $x))
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))))
      (local.set $h (v128.load offset=16 (local.get $p)))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $x))
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $x))
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))))
      (local.set $h (v128.load offset=32 (local.get $p)))
      (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (v128.load offset=64 (local.get $x))
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))))
      (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (v128.load offset=80 (local.get $x))
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))))
      (local.set $h (v128.load offset=48 (local.get $p)))
      (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (v128.load offset=96 (local.get $x))
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))))
      (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (v128.load offset=112 (local.get $x))
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (br $next)))
    (block $done (loop $next ;; 4-column steps (64-bit loads)
      (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $x))
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (v128.load64_zero (local.get $p))))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    (local.set $s (call $hsum (f32x4.add
      (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3)))
      (f32x4.add (f32x4.add (local.get $a4) (local.get $a5)) (f32x4.add (local.get $a6) (local.get $a7))))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $s (f32.add (local.get $s)
        (f32.mul (call $bf2f (i32.load16_u (local.get $p))) (f32.load (local.get $x)))))
      (local.set $p (i32.add (local.get $p) (i32.const 2)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $s))

  ;; f16 weights, same passes as bf16. Fast conversion of a lane u = h << 16:
  ;;   t = (u >>s 3) & 0x8fffffff      sign | exponent << 23 | mantissa << 13
  ;;   f = t * 2^112 (as f32)          rebias: exact for normals, subnormals and zeros
  ;; A half with exponent 31 (inf/NaN) would come out finite (|f| >= 65536), so the pass also
  ;; keeps mx = max_u(h << 1) over every half read; mx >= 0xf800 means some weight was inf or
  ;; NaN and the row is recomputed by $dot_f16_exact (same order, exact conversion).
  (func $dot_f16 (type $dot_t) (param $p i32) (param $x i32) (param $cols i32) (result f32)
    (local $c i32) (local $n i32) (local $s f32) (local $h v128) (local $z v128)
    (local $keep v128) (local $mag v128) (local $mx v128) (local $p0 i32) (local $x0 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $p0 (local.get $p))
    (local.set $x0 (local.get $x))
    (local.set $keep (i32x4.splat (i32.const 0x8fffffff)))
    (local.set $mag (f32x4.splat (f32.const 0x1p112)))
    (local.set $n (i32.and (local.get $cols) (i32.const -32)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $h (v128.load (local.get $p)))
      (local.set $mx (i16x8.max_u (local.get $mx) (i16x8.shl (local.get $h) (i32.const 1))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $h (v128.load offset=16 (local.get $p)))
      (local.set $mx (i16x8.max_u (local.get $mx) (i16x8.shl (local.get $h) (i32.const 1))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $h (v128.load offset=32 (local.get $p)))
      (local.set $mx (i16x8.max_u (local.get $mx) (i16x8.shl (local.get $h) (i32.const 1))))
      (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (v128.load offset=64 (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (v128.load offset=80 (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $h (v128.load offset=48 (local.get $p)))
      (local.set $mx (i16x8.max_u (local.get $mx) (i16x8.shl (local.get $h) (i32.const 1))))
      (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (v128.load offset=96 (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (v128.load offset=112 (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (br $next)))
    (block $done (loop $next ;; 4-column steps (64-bit loads; the zero upper halves do not raise mx)
      (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
      (local.set $h (v128.load64_zero (local.get $p)))
      (local.set $mx (i16x8.max_u (local.get $mx) (i16x8.shl (local.get $h) (i32.const 1))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $x)) (f32x4.mul (local.get $mag)
        (v128.and (local.get $keep) (i32x4.shr_s (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23
          (local.get $z) (local.get $h)) (i32.const 3)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    (if (v128.any_true (i16x8.gt_u (local.get $mx) (i16x8.splat (i32.const 0xf7ff))))
      (then (return (call $dot_f16_exact (local.get $p0) (local.get $x0) (local.get $cols)))))
    (local.set $s (call $hsum (f32x4.add
      (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3)))
      (f32x4.add (f32x4.add (local.get $a4) (local.get $a5)) (f32x4.add (local.get $a6) (local.get $a7))))))
    (block $done (loop $next ;; tail halves converted exactly by $h2f
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $s (f32.add (local.get $s)
        (f32.mul (call $h2f (i32.load16_u (local.get $p))) (f32.load (local.get $x)))))
      (local.set $p (i32.add (local.get $p) (i32.const 2)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $s))

  ;; Exact SIMD half -> f32 of the four lanes u = h << 16: the fast conversion, then lanes
  ;; with |f| >= 65536 (exponent 31) get the exponent all ones (inf, or NaN with its payload).
  (func $h2f_x4 (param $u v128) (result v128)
    (local $f v128)
    (local.set $f (f32x4.mul (f32x4.splat (f32.const 0x1p112))
      (v128.and (i32x4.splat (i32.const 0x8fffffff)) (i32x4.shr_s (local.get $u) (i32.const 3)))))
    (v128.or (local.get $f) (v128.and (i32x4.splat (i32.const 0x7f800000))
      (f32x4.ge (f32x4.abs (local.get $f)) (f32x4.splat (f32.const 65536))))))

  ;; Slow path of $dot_f16 for rows holding inf/NaN: same passes, exact conversion.
  (func $dot_f16_exact (param $p i32) (param $x i32) (param $cols i32) (result f32)
    (local $c i32) (local $n i32) (local $s f32) (local $h v128) (local $z v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $n (i32.and (local.get $cols) (i32.const -32)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $h (v128.load (local.get $p)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h))))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h))))))
      (local.set $h (v128.load offset=16 (local.get $p)))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h))))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h))))))
      (local.set $h (v128.load offset=32 (local.get $p)))
      (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (v128.load offset=64 (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h))))))
      (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (v128.load offset=80 (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h))))))
      (local.set $h (v128.load offset=48 (local.get $p)))
      (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (v128.load offset=96 (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h))))))
      (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (v128.load offset=112 (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h))))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $x)) (call $h2f_x4
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (v128.load64_zero (local.get $p)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    (local.set $s (call $hsum (f32x4.add
      (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3)))
      (f32x4.add (f32x4.add (local.get $a4) (local.get $a5)) (f32x4.add (local.get $a6) (local.get $a7))))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $s (f32.add (local.get $s)
        (f32.mul (call $h2f (i32.load16_u (local.get $p))) (f32.load (local.get $x)))))
      (local.set $p (i32.add (local.get $p) (i32.const 2)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $s))

  ;; $dot_f32 of several rows at once (same x) for gathered rows: 4 ($dot4_rows_f32) or 2
  ;; ($dot2_rows_f32) rows at ps, results stored at y, yb, ... Each row sees exactly $dot_f32's
  ;; operations in $dot_f32's order, so results are bit-identical to it. Several rows in flight
  ;; overlap the DRAM latency at the start of each row, which otherwise dominates short scattered
  ;; rows (measured on 512 random 8 KiB rows, 2 threads: one row at a time 0.26 ms, two 0.18 ms,
  ;; four 0.15 ms; 512 adjacent rows, one at a time: 0.08 ms).
  (func $dot4_rows_f32 (param $pa i32) (param $pb i32) (param $pc i32) (param $pd i32)
    (param $x i32) (param $cols i32) (param $y i32) (param $yb i32) (param $yc i32) (param $yd i32)
    (local $c i32) (local $n i32) (local $s f32) (local $xv v128) (local $e v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (local.set $n (i32.and (local.get $cols) (i32.const -16)))
    (block $done (loop $next ;; 16 columns per pass
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $xv (v128.load (local.get $x)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $pa)) (local.get $xv))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (v128.load (local.get $pb)) (local.get $xv))))
      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (v128.load (local.get $pc)) (local.get $xv))))
      (local.set $d0 (f32x4.add (local.get $d0) (f32x4.mul (v128.load (local.get $pd)) (local.get $xv))))
      (local.set $xv (v128.load offset=16 (local.get $x)))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $pa)) (local.get $xv))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (v128.load offset=16 (local.get $pb)) (local.get $xv))))
      (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (v128.load offset=16 (local.get $pc)) (local.get $xv))))
      (local.set $d1 (f32x4.add (local.get $d1) (f32x4.mul (v128.load offset=16 (local.get $pd)) (local.get $xv))))
      (local.set $xv (v128.load offset=32 (local.get $x)))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $pa)) (local.get $xv))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (v128.load offset=32 (local.get $pb)) (local.get $xv))))
      (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (v128.load offset=32 (local.get $pc)) (local.get $xv))))
      (local.set $d2 (f32x4.add (local.get $d2) (f32x4.mul (v128.load offset=32 (local.get $pd)) (local.get $xv))))
      (local.set $xv (v128.load offset=48 (local.get $x)))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $pa)) (local.get $xv))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (v128.load offset=48 (local.get $pb)) (local.get $xv))))
      (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (v128.load offset=48 (local.get $pc)) (local.get $xv))))
      (local.set $d3 (f32x4.add (local.get $d3) (f32x4.mul (v128.load offset=48 (local.get $pd)) (local.get $xv))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 64)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
      (local.set $pc (i32.add (local.get $pc) (i32.const 64)))
      (local.set $pd (i32.add (local.get $pd) (i32.const 64)))
      (local.set $x (i32.add (local.get $x) (i32.const 64)))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br $next)))
    (block $done (loop $next ;; 4-column steps
      (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
      (local.set $xv (v128.load (local.get $x)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $pa)) (local.get $xv))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (v128.load (local.get $pb)) (local.get $xv))))
      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (v128.load (local.get $pc)) (local.get $xv))))
      (local.set $d0 (f32x4.add (local.get $d0) (f32x4.mul (v128.load (local.get $pd)) (local.get $xv))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
      (local.set $pc (i32.add (local.get $pc) (i32.const 16)))
      (local.set $pd (i32.add (local.get $pd) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    ;; per row: hsum (written out, (l0 + l2) + (l1 + l3); no call, see "Quantized weights"),
    ;; then the last cols % 4 products one by one, from x + 4k
    (local.set $n (i32.sub (local.get $cols) (local.get $c)))
    (local.set $e (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 2 (local.get $e)))
      (f32.add (f32x4.extract_lane 1 (local.get $e)) (f32x4.extract_lane 3 (local.get $e)))))
    (local.set $c (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $s (f32.add (local.get $s) (f32.mul
        (f32.load (i32.add (local.get $pa) (i32.shl (local.get $c) (i32.const 2))))
        (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (f32.store offset=0 (local.get $y) (local.get $s))
    (local.set $e (f32x4.add (f32x4.add (local.get $b0) (local.get $b1)) (f32x4.add (local.get $b2) (local.get $b3))))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 2 (local.get $e)))
      (f32.add (f32x4.extract_lane 1 (local.get $e)) (f32x4.extract_lane 3 (local.get $e)))))
    (local.set $c (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $s (f32.add (local.get $s) (f32.mul
        (f32.load (i32.add (local.get $pb) (i32.shl (local.get $c) (i32.const 2))))
        (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (f32.store (local.get $yb) (local.get $s))
    (local.set $e (f32x4.add (f32x4.add (local.get $c0) (local.get $c1)) (f32x4.add (local.get $c2) (local.get $c3))))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 2 (local.get $e)))
      (f32.add (f32x4.extract_lane 1 (local.get $e)) (f32x4.extract_lane 3 (local.get $e)))))
    (local.set $c (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $s (f32.add (local.get $s) (f32.mul
        (f32.load (i32.add (local.get $pc) (i32.shl (local.get $c) (i32.const 2))))
        (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (f32.store (local.get $yc) (local.get $s))
    (local.set $e (f32x4.add (f32x4.add (local.get $d0) (local.get $d1)) (f32x4.add (local.get $d2) (local.get $d3))))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 2 (local.get $e)))
      (f32.add (f32x4.extract_lane 1 (local.get $e)) (f32x4.extract_lane 3 (local.get $e)))))
    (local.set $c (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $s (f32.add (local.get $s) (f32.mul
        (f32.load (i32.add (local.get $pd) (i32.shl (local.get $c) (i32.const 2))))
        (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (f32.store (local.get $yd) (local.get $s))
  )

  (func $dot2_rows_f32 (param $pa i32) (param $pb i32) (param $x i32) (param $cols i32) (param $y i32) (param $yb i32)
    (local $c i32) (local $n i32) (local $sa f32) (local $sb f32) (local $xv v128) (local $e v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $n (i32.and (local.get $cols) (i32.const -16)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $xv (v128.load (local.get $x)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $pa)) (local.get $xv))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (v128.load (local.get $pb)) (local.get $xv))))
      (local.set $xv (v128.load offset=16 (local.get $x)))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $pa)) (local.get $xv))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (v128.load offset=16 (local.get $pb)) (local.get $xv))))
      (local.set $xv (v128.load offset=32 (local.get $x)))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $pa)) (local.get $xv))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (v128.load offset=32 (local.get $pb)) (local.get $xv))))
      (local.set $xv (v128.load offset=48 (local.get $x)))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $pa)) (local.get $xv))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (v128.load offset=48 (local.get $pb)) (local.get $xv))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 64)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
      (local.set $x (i32.add (local.get $x) (i32.const 64)))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br $next)))
    (block $done (loop $next ;; 4-column steps
      (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
      (local.set $xv (v128.load (local.get $x)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $pa)) (local.get $xv))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (v128.load (local.get $pb)) (local.get $xv))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    (local.set $e (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
    (local.set $sa (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 2 (local.get $e)))
      (f32.add (f32x4.extract_lane 1 (local.get $e)) (f32x4.extract_lane 3 (local.get $e)))))
    (local.set $e (f32x4.add (f32x4.add (local.get $b0) (local.get $b1)) (f32x4.add (local.get $b2) (local.get $b3))))
    (local.set $sb (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 2 (local.get $e)))
      (f32.add (f32x4.extract_lane 1 (local.get $e)) (f32x4.extract_lane 3 (local.get $e)))))
    (block $done (loop $next ;; last cols % 4 columns
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $sa (f32.add (local.get $sa) (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $x)))))
      (local.set $sb (f32.add (local.get $sb) (f32.mul (f32.load (local.get $pb)) (f32.load (local.get $x)))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (f32.store (local.get $y) (local.get $sa))
    (f32.store (local.get $yb) (local.get $sb)))

  ;; y[i] = W[row(i)] . x for i in [i0, i1), row(i) = ids[i] when ids != 0 (i32 row numbers,
  ;; any order, repeats fine) else i. kind: 0 f32, 1 bf16, 2 f16; esize: bytes per weight.
  (func $rows_any (param $kind i32) (param $esize i32)
    (param $w i32) (param $x i32) (param $y i32) (param $cols i32) (param $ids i32)
    (param $i0 i32) (param $i1 i32)
    (local $stride i32) (local $i i32) (local $q i32) (local $r i32) (local $r2 i32) (local $r3 i32) (local $r4 i32)
    (local.set $stride (i32.mul (local.get $cols) (local.get $esize)))
    (local.set $i (local.get $i0))
    (if (i32.and (i32.eqz (local.get $kind)) (i32.ne (local.get $ids) (i32.const 0)))
      (then ;; gathered f32 rows: 4 or 2 scattered rows at a time; a row whose successor in ids is
            ;; the next row in memory goes alone (one long stream reads faster than several)
        (block $done (loop $next
          (br_if $done (i32.ge_u (i32.add (local.get $i) (i32.const 1)) (local.get $i1)))
          (local.set $q (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2))))
          (local.set $r (i32.load (local.get $q)))
          (local.set $r2 (i32.load offset=4 (local.get $q)))
          (if (i32.eq (local.get $r2) (i32.add (local.get $r) (i32.const 1)))
            (then ;; alone
              (f32.store (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 2)))
                (call $dot_f32 (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride)))
                  (local.get $x) (local.get $cols)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $next)))
          (if (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $i1))
            (then
              (local.set $r3 (i32.load offset=8 (local.get $q)))
              (local.set $r4 (i32.load offset=12 (local.get $q)))
              (if (i32.and (i32.ne (local.get $r3) (i32.add (local.get $r2) (i32.const 1)))
                           (i32.ne (local.get $r4) (i32.add (local.get $r3) (i32.const 1))))
                (then
                  (call $dot4_rows_f32
                    (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride)))
                    (i32.add (local.get $w) (i32.mul (local.get $r2) (local.get $stride)))
                    (i32.add (local.get $w) (i32.mul (local.get $r3) (local.get $stride)))
                    (i32.add (local.get $w) (i32.mul (local.get $r4) (local.get $stride)))
                    (local.get $x) (local.get $cols) (local.tee $q (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 2))))
                    (i32.add (local.get $q) (i32.const 4)) (i32.add (local.get $q) (i32.const 8)) (i32.add (local.get $q) (i32.const 12)))
                  (local.set $i (i32.add (local.get $i) (i32.const 4)))
                  (br $next)))))
          (call $dot2_rows_f32
            (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride)))
            (i32.add (local.get $w) (i32.mul (local.get $r2) (local.get $stride)))
            (local.get $x) (local.get $cols) (local.tee $q (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 2))))
            (i32.add (local.get $q) (i32.const 4)))
          (local.set $i (i32.add (local.get $i) (i32.const 2)))
          (br $next)))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $r (local.get $i))
      (if (local.get $ids)
        (then (local.set $r (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 2)))
        (if (result f32) (local.get $kind)
          (then (call_indirect (type $dot_t)
            (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride)))
            (local.get $x) (local.get $cols) (local.get $kind)))
          (else (call $dot_f32 (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride))) (local.get $x) (local.get $cols)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  (func (export "matvec_f32") (param $w i32) (param $x i32) (param $y i32) (param $cols i32) (param $r0 i32) (param $r1 i32)
    (call $rows_any (i32.const 0) (i32.const 4) (local.get $w) (local.get $x) (local.get $y) (local.get $cols) (i32.const 0) (local.get $r0) (local.get $r1)))
  (func (export "matvec_bf16") (param $w i32) (param $x i32) (param $y i32) (param $cols i32) (param $r0 i32) (param $r1 i32)
    (call $rows_any (i32.const 1) (i32.const 2) (local.get $w) (local.get $x) (local.get $y) (local.get $cols) (i32.const 0) (local.get $r0) (local.get $r1)))
  (func (export "matvec_f16") (param $w i32) (param $x i32) (param $y i32) (param $cols i32) (param $r0 i32) (param $r1 i32)
    (call $rows_any (i32.const 2) (i32.const 2) (local.get $w) (local.get $x) (local.get $y) (local.get $cols) (i32.const 0) (local.get $r0) (local.get $r1)))

  (func (export "matvec_rows_f32") (param $w i32) (param $x i32) (param $y i32) (param $cols i32) (param $ids i32) (param $i0 i32) (param $i1 i32)
    (call $rows_any (i32.const 0) (i32.const 4) (local.get $w) (local.get $x) (local.get $y) (local.get $cols) (local.get $ids) (local.get $i0) (local.get $i1)))
  (func (export "matvec_rows_bf16") (param $w i32) (param $x i32) (param $y i32) (param $cols i32) (param $ids i32) (param $i0 i32) (param $i1 i32)
    (call $rows_any (i32.const 1) (i32.const 2) (local.get $w) (local.get $x) (local.get $y) (local.get $cols) (local.get $ids) (local.get $i0) (local.get $i1)))
  (func (export "matvec_rows_f16") (param $w i32) (param $x i32) (param $y i32) (param $cols i32) (param $ids i32) (param $i0 i32) (param $i1 i32)
    (call $rows_any (i32.const 2) (i32.const 2) (local.get $w) (local.get $x) (local.get $y) (local.get $cols) (local.get $ids) (local.get $i0) (local.get $i1)))

  ;; A gated FFN's listed neurons in one call: for i in [i0, i1), g = W_gate[ids[i]] . x and
  ;; u = W_up[ids[i]] . x (each with the row kernel's bits), yu[i] = u, yg[i] = act(g) * u (act as
  ;; act_f32: 0 silu, 1 relu, 2 gelu_tanh), so the separate activation and product calls and their
  ;; hand-offs go. f32 rows go two neurons a pass, each one's gate and up rows side by side (four
  ;; streams, as $rows_any takes gathered rows); kind 1 / 2 (bf16 / f16) a neuron at a time.
  (func (export "gated_rows") (param $kind i32) (param $esize i32) (param $wg i32) (param $wu i32) (param $x i32) (param $yg i32) (param $yu i32)
    (param $cols i32) (param $ids i32) (param $act i32) (param $i0 i32) (param $i1 i32)
    (local $stride i32) (local $i i32) (local $r0 i32) (local $r1 i32) (local $o i32)
    (local.set $stride (i32.mul (local.get $cols) (local.get $esize)))
    (local.set $i (local.get $i0))
    (if (i32.eqz (local.get $kind))
      (then
        (block $done (loop $next
          (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 2)) (local.get $i1)))
          (local.set $o (i32.shl (local.get $i) (i32.const 2)))
          (local.set $r0 (i32.mul (i32.load (i32.add (local.get $ids) (local.get $o))) (local.get $stride)))
          (local.set $r1 (i32.mul (i32.load offset=4 (i32.add (local.get $ids) (local.get $o))) (local.get $stride)))
          (call $dot4_rows_f32
            (i32.add (local.get $wg) (local.get $r0)) (i32.add (local.get $wu) (local.get $r0))
            (i32.add (local.get $wg) (local.get $r1)) (i32.add (local.get $wu) (local.get $r1))
            (local.get $x) (local.get $cols)
            (i32.add (local.get $yg) (local.get $o)) (i32.add (local.get $yu) (local.get $o))
            (i32.add (local.get $yg) (i32.add (local.get $o) (i32.const 4))) (i32.add (local.get $yu) (i32.add (local.get $o) (i32.const 4))))
          (local.set $i (i32.add (local.get $i) (i32.const 2)))
          (br $next)))
        (if (i32.lt_u (local.get $i) (local.get $i1))
          (then
            (local.set $o (i32.shl (local.get $i) (i32.const 2)))
            (local.set $r0 (i32.mul (i32.load (i32.add (local.get $ids) (local.get $o))) (local.get $stride)))
            (call $dot2_rows_f32 (i32.add (local.get $wg) (local.get $r0)) (i32.add (local.get $wu) (local.get $r0))
              (local.get $x) (local.get $cols) (i32.add (local.get $yg) (local.get $o)) (i32.add (local.get $yu) (local.get $o))))))
      (else
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
          (local.set $o (i32.shl (local.get $i) (i32.const 2)))
          (local.set $r0 (i32.mul (i32.load (i32.add (local.get $ids) (local.get $o))) (local.get $stride)))
          (f32.store (i32.add (local.get $yg) (local.get $o))
            (call_indirect (type $dot_t) (i32.add (local.get $wg) (local.get $r0)) (local.get $x) (local.get $cols) (local.get $kind)))
          (f32.store (i32.add (local.get $yu) (local.get $o))
            (call_indirect (type $dot_t) (i32.add (local.get $wu) (local.get $r0)) (local.get $x) (local.get $cols) (local.get $kind)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))))
    ;; yg = act(yg) * yu over the range, lane by lane as act_f32 and binop_f32 compute them
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $i1)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (v128.store (i32.add (local.get $yg) (local.get $o))
        (f32x4.mul (call $act4 (local.get $act) (v128.load (i32.add (local.get $yg) (local.get $o))))
          (v128.load (i32.add (local.get $yu) (local.get $o)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (f32.store (i32.add (local.get $yg) (local.get $o))
        (f32.mul (f32x4.extract_lane 0 (call $act4 (local.get $act) (v128.load32_splat (i32.add (local.get $yg) (local.get $o)))))
          (f32.load (i32.add (local.get $yu) (local.get $o)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; ---------------------------------------------------------------------------------------
  ;; Batched matvec: each weight row is fetched from memory once for nb input vectors. The
  ;; dot4 kernels return [w.x0, w.x1, w.x2, w.x3] for one row w, 8 columns per pass with 8
  ;; accumulators (a_k, b_k: columns 0-3 and 4-7 of the pass, vector k), then one 4-column
  ;; step into a_k, the (a_k + b_k) reduced by $hsum4, then the cols % 4 tail lane-wise.
  ;; The row loop takes the vectors in groups of 4 (dot4), then 2 ($dot2_any) and 1 (the dense
  ;; row kernel), so a row is fetched from memory once (later groups find it in L1) and no
  ;; work is padded. (An 8-vector kernel was tried: 12 live pointers spill registers and it
  ;; was no faster than two 4-vector passes.)
  ;; ---------------------------------------------------------------------------------------

  ;; [x0[o], x1[o], x2[o], x3[o]] (o a byte offset).
  (func $gather4 (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $o i32) (result v128)
    (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
      (f32x4.splat (f32.load (i32.add (local.get $x0) (local.get $o))))
      (f32.load (i32.add (local.get $x1) (local.get $o))))
      (f32.load (i32.add (local.get $x2) (local.get $o))))
      (f32.load (i32.add (local.get $x3) (local.get $o)))))

  (func $dot4_f32 (type $dot4_t)
    (param $p i32) (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $cols i32)
    (result v128)
    (local $c i32) (local $n i32) (local $wl v128) (local $wh v128) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $n (i32.and (local.get $cols) (i32.const -8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $wl (v128.load (local.get $p)))
      (local.set $wh (v128.load offset=16 (local.get $p)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x0)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wl) (v128.load (local.get $x1)))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x1)))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wl) (v128.load (local.get $x2)))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x2)))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wl) (v128.load (local.get $x3)))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x3)))))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 32)))
      (local.set $x2 (i32.add (local.get $x2) (i32.const 32)))
      (local.set $x3 (i32.add (local.get $x3) (i32.const 32)))
      (local.set $c (i32.add (local.get $c) (i32.const 8)))
      (br $next)))
    (if (i32.and (local.get $cols) (i32.const 4))
      (then
        (local.set $wl (v128.load (local.get $p)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wl) (v128.load (local.get $x1)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wl) (v128.load (local.get $x2)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wl) (v128.load (local.get $x3)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
        (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
        (local.set $x2 (i32.add (local.get $x2) (i32.const 16)))
        (local.set $x3 (i32.add (local.get $x3) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))))
    (local.set $v (call $hsum4
      (f32x4.add (local.get $a0) (local.get $b0)) (f32x4.add (local.get $a1) (local.get $b1))
      (f32x4.add (local.get $a2) (local.get $b2)) (f32x4.add (local.get $a3) (local.get $b3))))
    (block $done (loop $next ;; x pointers now at column c: offsets from them
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $v (f32x4.add (local.get $v) (f32x4.mul
        (call $gather4 (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (i32.const 0))
        (f32x4.splat (f32.load (local.get $p))))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 4)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 4)))
      (local.set $x2 (i32.add (local.get $x2) (i32.const 4)))
      (local.set $x3 (i32.add (local.get $x3) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $v))

  ;; bf16 and f16 rows: 8 halves per pass from one load, widened as in the dense kernels
  ;; ($f16: 0 bf16, 1 f16 with the exact conversion: its cost is shared by the 4 vectors).
  (func $dot4_half (param $f16 i32)
    (param $p i32) (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $cols i32)
    (result v128)
    (local $c i32) (local $n i32) (local $h v128) (local $z v128)
    (local $wl v128) (local $wh v128) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $n (i32.and (local.get $cols) (i32.const -8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $h (v128.load (local.get $p)))
      (local.set $wl (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))
      (local.set $wh (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))
      (if (local.get $f16)
        (then
          (local.set $wl (call $h2f_x4 (local.get $wl)))
          (local.set $wh (call $h2f_x4 (local.get $wh)))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x0)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wl) (v128.load (local.get $x1)))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x1)))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wl) (v128.load (local.get $x2)))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x2)))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wl) (v128.load (local.get $x3)))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x3)))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 32)))
      (local.set $x2 (i32.add (local.get $x2) (i32.const 32)))
      (local.set $x3 (i32.add (local.get $x3) (i32.const 32)))
      (local.set $c (i32.add (local.get $c) (i32.const 8)))
      (br $next)))
    (if (i32.and (local.get $cols) (i32.const 4))
      (then
        (local.set $wl (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z)
          (v128.load64_zero (local.get $p))))
        (if (local.get $f16) (then (local.set $wl (call $h2f_x4 (local.get $wl)))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wl) (v128.load (local.get $x1)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wl) (v128.load (local.get $x2)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wl) (v128.load (local.get $x3)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
        (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
        (local.set $x2 (i32.add (local.get $x2) (i32.const 16)))
        (local.set $x3 (i32.add (local.get $x3) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))))
    (local.set $v (call $hsum4
      (f32x4.add (local.get $a0) (local.get $b0)) (f32x4.add (local.get $a1) (local.get $b1))
      (f32x4.add (local.get $a2) (local.get $b2)) (f32x4.add (local.get $a3) (local.get $b3))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $v (f32x4.add (local.get $v) (f32x4.mul
        (call $gather4 (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (i32.const 0))
        (f32x4.splat (if (result f32) (local.get $f16)
          (then (call $h2f (i32.load16_u (local.get $p))))
          (else (call $bf2f (i32.load16_u (local.get $p)))))))))
      (local.set $p (i32.add (local.get $p) (i32.const 2)))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 4)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 4)))
      (local.set $x2 (i32.add (local.get $x2) (i32.const 4)))
      (local.set $x3 (i32.add (local.get $x3) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $v))

  (func $dot4_bf16 (type $dot4_t)
    (param $p i32) (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $cols i32)
    (result v128)
    (call $dot4_half (i32.const 0) (local.get $p) (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $cols)))

  (func $dot4_f16 (type $dot4_t)
    (param $p i32) (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $cols i32)
    (result v128)
    (call $dot4_half (i32.const 1) (local.get $p) (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $cols)))

  ;; Weights as f32: kind 0 f32, 1 bf16, 2 f16 (exact).
  (func $wat (param $kind i32) (param $p i32) (result f32)
    (if (i32.eqz (local.get $kind)) (then (return (f32.load (local.get $p)))))
    (if (i32.eq (local.get $kind) (i32.const 1)) (then (return (call $bf2f (i32.load16_u (local.get $p))))))
    (call $h2f (i32.load16_u (local.get $p))))

  ;; One row against 2 vectors: 8 columns per pass, accumulators a_k (columns 0-3) and b_k
  ;; (4-7) for vector k, then one 4-column step into a_k; results at out, out + ostride.
  (func $dot2_any (param $kind i32) (param $p i32) (param $x0 i32) (param $xstride i32) (param $cols i32)
    (param $out i32) (param $ostride i32)
    (local $c i32) (local $n i32) (local $x1 i32) (local $h v128) (local $z v128) (local $wl v128) (local $wh v128)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128) (local $s0 f32) (local $s1 f32) (local $ws f32)
    (local.set $x1 (i32.add (local.get $x0) (local.get $xstride)))
    (local.set $n (i32.and (local.get $cols) (i32.const -8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (if (i32.eqz (local.get $kind))
        (then
          (local.set $wl (v128.load (local.get $p)))
          (local.set $wh (v128.load offset=16 (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 32))))
        (else
          (local.set $h (v128.load (local.get $p)))
          (local.set $wl (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))
          (local.set $wh (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))
          (if (i32.eq (local.get $kind) (i32.const 2))
            (then
              (local.set $wl (call $h2f_x4 (local.get $wl)))
              (local.set $wh (call $h2f_x4 (local.get $wh)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x0)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wl) (v128.load (local.get $x1)))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x1)))))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 32)))
      (local.set $c (i32.add (local.get $c) (i32.const 8)))
      (br $next)))
    (if (i32.and (local.get $cols) (i32.const 4))
      (then
        (if (i32.eqz (local.get $kind))
          (then
            (local.set $wl (v128.load (local.get $p)))
            (local.set $p (i32.add (local.get $p) (i32.const 16))))
          (else
            (local.set $wl (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z)
              (v128.load64_zero (local.get $p))))
            (if (i32.eq (local.get $kind) (i32.const 2)) (then (local.set $wl (call $h2f_x4 (local.get $wl)))))
            (local.set $p (i32.add (local.get $p) (i32.const 8)))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wl) (v128.load (local.get $x1)))))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
        (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))))
    (local.set $s0 (call $hsum (f32x4.add (local.get $a0) (local.get $b0))))
    (local.set $s1 (call $hsum (f32x4.add (local.get $a1) (local.get $b1))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $ws (call $wat (local.get $kind) (local.get $p)))
      (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $ws) (f32.load (local.get $x0)))))
      (local.set $s1 (f32.add (local.get $s1) (f32.mul (local.get $ws) (f32.load (local.get $x1)))))
      (local.set $p (i32.add (local.get $p) (select (i32.const 4) (i32.const 2) (i32.eqz (local.get $kind)))))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 4)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (f32.store (local.get $out) (local.get $s0))
    (f32.store (i32.add (local.get $out) (local.get $ostride)) (local.get $s1)))

  ;; Lane k of v to out + k*ostride.
  (func $store4 (param $v v128) (param $out i32) (param $ostride i32)
    (f32.store (local.get $out) (f32x4.extract_lane 0 (local.get $v)))
    (local.set $out (i32.add (local.get $out) (local.get $ostride)))
    (f32.store (local.get $out) (f32x4.extract_lane 1 (local.get $v)))
    (local.set $out (i32.add (local.get $out) (local.get $ostride)))
    (f32.store (local.get $out) (f32x4.extract_lane 2 (local.get $v)))
    (local.set $out (i32.add (local.get $out) (local.get $ostride)))
    (f32.store (local.get $out) (f32x4.extract_lane 3 (local.get $v))))

  ;; ys[b*rows + r] = W[r] . xs[b] for r in [r0, r1), b < nb: per row, vectors in groups of
  ;; 4, then 2 and 1, each group one pass over the row. With owners != 0 (nb <= 32), owners[r]
  ;; is row r's mask (bit b: vector b needs it): $batch_row_own computes only those, 0 elsewhere.
  (func $batch_any (param $kind i32) (param $esize i32)
    (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $rows i32) (param $nb i32)
    (param $ids i32) (param $owners i32) (param $r0 i32) (param $r1 i32)
    (local $stride i32) (local $xstride i32) (local $ystride i32) (local $r i32) (local $g i32) (local $left i32)
    (local $p i32) (local $x i32) (local $out i32)
    (local.set $stride (i32.mul (local.get $cols) (local.get $esize)))
    (local.set $xstride (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $ystride (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $r (local.get $r0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $r) (local.get $r1)))
      (if (local.get $ids)
        (then (local.set $p (i32.add (local.get $w) (i32.mul
          (i32.load (i32.add (local.get $ids) (i32.shl (local.get $r) (i32.const 2)))) (local.get $stride)))))
        (else (local.set $p (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride))))))
      (if (local.get $owners)
        (then
          (call $batch_row_own (local.get $kind) (local.get $p) (local.get $xs) (local.get $xstride)
            (i32.add (local.get $ys) (i32.shl (local.get $r) (i32.const 2))) (local.get $ystride) (local.get $cols) (local.get $nb)
            (i32.load (i32.add (local.get $owners) (i32.shl (local.get $r) (i32.const 2)))))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $next)))
      (local.set $g (i32.const 0))
      (block $gdone (loop $gnext
        (local.set $left (i32.sub (local.get $nb) (local.get $g)))
        (br_if $gdone (i32.le_s (local.get $left) (i32.const 0)))
        (local.set $x (i32.add (local.get $xs) (i32.mul (local.get $g) (local.get $xstride))))
        (local.set $out (i32.add (i32.add (local.get $ys) (i32.mul (local.get $g) (local.get $ystride)))
          (i32.shl (local.get $r) (i32.const 2))))
        (if (i32.ge_u (local.get $left) (i32.const 4))
          (then
            (call $store4
              (call_indirect (type $dot4_t)
                (local.get $p) (local.get $x)
                (i32.add (local.get $x) (local.get $xstride))
                (i32.add (local.get $x) (i32.shl (local.get $xstride) (i32.const 1)))
                (i32.add (local.get $x) (i32.mul (local.get $xstride) (i32.const 3)))
                (local.get $cols) (i32.add (local.get $kind) (i32.const 3)))
              (local.get $out) (local.get $ystride))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (br $gnext)))
        (if (i32.ge_u (local.get $left) (i32.const 2))
          (then
            (call $dot2_any (local.get $kind) (local.get $p) (local.get $x) (local.get $xstride) (local.get $cols)
              (local.get $out) (local.get $ystride))
            (local.set $g (i32.add (local.get $g) (i32.const 2)))
            (br $gnext)))
        (f32.store (local.get $out)
          (call_indirect (type $dot_t) (local.get $p) (local.get $x) (local.get $cols) (local.get $kind)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $gnext)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $next))))

  ;; Row and sequence pairs computed by the owner-aware kernels on this instance's thread (a test
  ;; hook that shows the skipped work is not done; never read by the kernels).
  (global $owned_work (export "owned_work") (mut i32) (i32.const 0))

  ;; Lowest set bit's index of m, or `or` when m has no bit left (a repeated vector).
  (func $low_or (param $m i32) (param $or i32) (result i32)
    (select (i32.ctz (local.get $m)) (local.get $or) (local.get $m)))

  ;; One row against one vector in $dot2_any's order (the same bits as a lane of $dot2_any or
  ;; $dot4_*, unlike the dense row kernel's), for an owned vector left alone by $batch_row_own.
  (func $dot1_any (param $kind i32) (param $p i32) (param $x0 i32) (param $cols i32) (result f32)
    (local $c i32) (local $n i32) (local $h v128) (local $z v128) (local $wl v128) (local $wh v128)
    (local $a0 v128) (local $b0 v128) (local $s0 f32) (local $ws f32)
    (local.set $n (i32.and (local.get $cols) (i32.const -8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
      (if (i32.eqz (local.get $kind))
        (then
          (local.set $wl (v128.load (local.get $p)))
          (local.set $wh (v128.load offset=16 (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 32))))
        (else
          (local.set $h (v128.load (local.get $p)))
          (local.set $wl (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))
          (local.set $wh (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))
          (if (i32.eq (local.get $kind) (i32.const 2))
            (then
              (local.set $wl (call $h2f_x4 (local.get $wl)))
              (local.set $wh (call $h2f_x4 (local.get $wh)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $wh) (v128.load offset=16 (local.get $x0)))))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
      (local.set $c (i32.add (local.get $c) (i32.const 8)))
      (br $next)))
    (if (i32.and (local.get $cols) (i32.const 4))
      (then
        (if (i32.eqz (local.get $kind))
          (then
            (local.set $wl (v128.load (local.get $p)))
            (local.set $p (i32.add (local.get $p) (i32.const 16))))
          (else
            (local.set $wl (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z)
              (v128.load64_zero (local.get $p))))
            (if (i32.eq (local.get $kind) (i32.const 2)) (then (local.set $wl (call $h2f_x4 (local.get $wl)))))
            (local.set $p (i32.add (local.get $p) (i32.const 8)))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wl) (v128.load (local.get $x0)))))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))))
    (local.set $s0 (call $hsum (f32x4.add (local.get $a0) (local.get $b0))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $ws (call $wat (local.get $kind) (local.get $p)))
      (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $ws) (f32.load (local.get $x0)))))
      (local.set $p (i32.add (local.get $p) (select (i32.const 4) (i32.const 2) (i32.eqz (local.get $kind)))))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $s0))

  ;; One row at p against the vectors whose bits are set in m (vector b at xs + b*xstride, its
  ;; output at out + b*ostride); every other output of the row is set to 0. Each owned output
  ;; gets the bits that $batch_any's loop without owners gives it: there the last vector of an
  ;; odd nb is the one that goes through the single-row kernel ($dot_t), every other one through
  ;; a 4- or 2-vector group, and a lane of $dot4_* equals a lane of $dot2_any whatever the other
  ;; lanes hold. So owned vectors are gathered 4 at a time (3 repeat their last), then 2 go
  ;; through $dot2_any and 1 through $dot1_any.
  (func $batch_row_own (param $kind i32) (param $p i32) (param $xs i32) (param $xstride i32)
    (param $out i32) (param $ostride i32) (param $cols i32) (param $nb i32) (param $m i32)
    (local $b i32) (local $n i32) (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32) (local $v v128)
    (local.set $b (i32.const 0))
    (block $zdone (loop $znext
      (br_if $zdone (i32.ge_u (local.get $b) (local.get $nb)))
      (f32.store (i32.add (local.get $out) (i32.mul (local.get $b) (local.get $ostride))) (f32.const 0))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $znext)))
    (local.set $b (i32.sub (local.get $nb) (i32.const 1)))
    (if (i32.and (i32.and (local.get $nb) (i32.const 1)) (i32.ne (i32.and (local.get $m) (i32.shl (i32.const 1) (local.get $b))) (i32.const 0)))
      (then
        (f32.store (i32.add (local.get $out) (i32.mul (local.get $b) (local.get $ostride)))
          (call_indirect (type $dot_t) (local.get $p) (i32.add (local.get $xs) (i32.mul (local.get $b) (local.get $xstride)))
            (local.get $cols) (local.get $kind)))
        (local.set $m (i32.xor (local.get $m) (i32.shl (i32.const 1) (local.get $b))))
        (global.set $owned_work (i32.add (global.get $owned_work) (i32.const 1)))))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $m)))
      (local.set $n (i32.popcnt (local.get $m)))
      (local.set $b0 (i32.ctz (local.get $m)))
      (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
      (local.set $b1 (call $low_or (local.get $m) (local.get $b0)))
      (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
      (if (i32.ge_u (local.get $n) (i32.const 3))
        (then
          (local.set $b2 (i32.ctz (local.get $m)))
          (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
          (local.set $b3 (call $low_or (local.get $m) (local.get $b2)))
          (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
          (local.set $v (call_indirect (type $dot4_t) (local.get $p)
            (i32.add (local.get $xs) (i32.mul (local.get $b0) (local.get $xstride)))
            (i32.add (local.get $xs) (i32.mul (local.get $b1) (local.get $xstride)))
            (i32.add (local.get $xs) (i32.mul (local.get $b2) (local.get $xstride)))
            (i32.add (local.get $xs) (i32.mul (local.get $b3) (local.get $xstride)))
            (local.get $cols) (i32.add (local.get $kind) (i32.const 3))))
          (f32.store (i32.add (local.get $out) (i32.mul (local.get $b0) (local.get $ostride))) (f32x4.extract_lane 0 (local.get $v)))
          (f32.store (i32.add (local.get $out) (i32.mul (local.get $b1) (local.get $ostride))) (f32x4.extract_lane 1 (local.get $v)))
          (f32.store (i32.add (local.get $out) (i32.mul (local.get $b2) (local.get $ostride))) (f32x4.extract_lane 2 (local.get $v)))
          (f32.store (i32.add (local.get $out) (i32.mul (local.get $b3) (local.get $ostride))) (f32x4.extract_lane 3 (local.get $v)))
          (global.set $owned_work (i32.add (global.get $owned_work) (select (i32.const 4) (local.get $n) (i32.ge_u (local.get $n) (i32.const 4)))))
          (br $next)))
      (if (i32.eq (local.get $n) (i32.const 2))
        (then
          (call $dot2_any (local.get $kind) (local.get $p)
            (i32.add (local.get $xs) (i32.mul (local.get $b0) (local.get $xstride)))
            (i32.mul (i32.sub (local.get $b1) (local.get $b0)) (local.get $xstride)) (local.get $cols)
            (i32.add (local.get $out) (i32.mul (local.get $b0) (local.get $ostride)))
            (i32.mul (i32.sub (local.get $b1) (local.get $b0)) (local.get $ostride))))
        (else
          (f32.store (i32.add (local.get $out) (i32.mul (local.get $b0) (local.get $ostride)))
            (call $dot1_any (local.get $kind) (local.get $p) (i32.add (local.get $xs) (i32.mul (local.get $b0) (local.get $xstride))) (local.get $cols)))))
      (global.set $owned_work (i32.add (global.get $owned_work) (local.get $n)))
      (br $next))))

  (func (export "matvec_batch_f32") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $rows i32) (param $nb i32) (param $owners i32) (param $r0 i32) (param $r1 i32)
    (call $batch_any (i32.const 0) (i32.const 4) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $rows) (local.get $nb) (i32.const 0) (local.get $owners) (local.get $r0) (local.get $r1)))
  ;; ys[b*n + i] = W[ids[i]] . xs[b] for i in [i0, i1): gathered rows, each read once for all b.
  (func (export "matvec_rows_batch_f32") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $n i32) (param $nb i32) (param $ids i32) (param $owners i32) (param $i0 i32) (param $i1 i32)
    (call $batch_any (i32.const 0) (i32.const 4) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $n) (local.get $nb) (local.get $ids) (local.get $owners) (local.get $i0) (local.get $i1)))
  (func (export "matvec_batch_bf16") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $rows i32) (param $nb i32) (param $owners i32) (param $r0 i32) (param $r1 i32)
    (call $batch_any (i32.const 1) (i32.const 2) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $rows) (local.get $nb) (i32.const 0) (local.get $owners) (local.get $r0) (local.get $r1)))
  ;; ys[b*n + i] = W[ids[i]] . xs[b] for i in [i0, i1): gathered rows, each read once for all b.
  (func (export "matvec_rows_batch_bf16") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $n i32) (param $nb i32) (param $ids i32) (param $owners i32) (param $i0 i32) (param $i1 i32)
    (call $batch_any (i32.const 1) (i32.const 2) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $n) (local.get $nb) (local.get $ids) (local.get $owners) (local.get $i0) (local.get $i1)))
  (func (export "matvec_batch_f16") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $rows i32) (param $nb i32) (param $owners i32) (param $r0 i32) (param $r1 i32)
    (call $batch_any (i32.const 2) (i32.const 2) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $rows) (local.get $nb) (i32.const 0) (local.get $owners) (local.get $r0) (local.get $r1)))
  ;; ys[b*n + i] = W[ids[i]] . xs[b] for i in [i0, i1): gathered rows, each read once for all b.
  (func (export "matvec_rows_batch_f16") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $n i32) (param $nb i32) (param $ids i32) (param $owners i32) (param $i0 i32) (param $i1 i32)
    (call $batch_any (i32.const 2) (i32.const 2) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $n) (local.get $nb) (local.get $ids) (local.get $owners) (local.get $i0) (local.get $i1)))

  ;; ---------------------------------------------------------------------------------------
  ;; Quantized weights (layouts in the header). These two kernels are compute-bound (the
  ;; integer -> f32 conversion, not the memory, limits them), so they skip every widening
  ;; step they can:
  ;;
  ;; * v128.load8x8_s widens 8 weight bytes to 8 sign-extended i16 halves as part of the load.
  ;;   Read as i32x4, lane k then holds byte 2k in bits 0..15 and byte 2k+1 in bits 16..31.
  ;; * One shift and/or one mask moves a value to the TOP of its i32 lane, with nothing set
  ;;   below it, so it is the exact signed integer value * 2^e, and f32x4.convert_i32x4_s of
  ;;   it is exact (8 significant bits at most). The 2^-e goes into the prepared x (below),
  ;;   so each product v * x is the same float32 as without the trick. No lane shuffles.
  ;;
  ;; The columns of a lane are not adjacent, so the host passes x REARRANGED ("prepared x",
  ;; CpuKernels.prepareQuantX in kernels.ts), cols floats: each group of gs columns is cut into
  ;; chunks from its start (16 columns for q4, 8 for q8), and the group's last gs % chunk
  ;; columns are copied as they are. Chunk at column c0, scaled as listed:
  ;;   q8  (8 bytes, one load8x8_s, i32 lane k = columns c0+2k | c0+2k+1):
  ;;       xq[c0 + k]      = x[c0 + 2k]     * 2^-16   weights: i32x4.shl(v, 16)
  ;;       xq[c0 + 4 + k]  = x[c0 + 2k + 1] * 2^-16   weights: v & 0xffff0000
  ;;   q4  (8 bytes, one load8x8_s, i32 lane k = columns c0+4k .. c0+4k+3):
  ;;       xq[c0 + 4o + k] = x[c0 + 4k + o] * 2^-28 for o = 0, 1, 2, * 2^-20 for o = 3;
  ;;       weights o=0: shl(v, 28)   (low nibble of byte 2k to bits 28..31)
  ;;               o=1: shl(v, 24) & 0xf0000000   (high nibble of byte 2k)
  ;;               o=2: shl(v, 12) & 0xf0000000   (low nibble of byte 2k+1)
  ;;               o=3: v & 0xfff00000   (high nibble of byte 2k+1 with its sign extension)
  ;; (A prepared value only differs from x * 2^-e in the last bits when that is below the
  ;; float32 normal range, |x| < 2^-98: far below anything a logit can notice.)
  ;;
  ;; Accumulation order, the same for any row range (so results do not depend on the thread
  ;; count): per group, chunks in column order; q8 adds the chunk's two products to a0 and a1
  ;; and then acc += scale * (a0 + a1); q4 adds (p0 + p1) + (p2 + p3) of its four products
  ;; (o = 0..3) to a0 and then acc += scale * a0; the group's scalar tail is summed in t and
  ;; ts += t * scale; y[r] = hsum(acc) + ts, hsum written out as (l0 + l2) + (l1 + l3).
  ;;
  ;; Both kernels are kept free of calls on purpose: measured with V8 11 (Node 20), a call to a
  ;; helper ($hsum) made TurboFan's code for the q4 loop depend on the helper's function index,
  ;; and for some indices (that is, after unrelated edits earlier in this file) the loop ran
  ;; 1.7x slower.
  ;; ---------------------------------------------------------------------------------------

  (func $matvec_q8 (export "matvec_q8")
    (param $w i32) (param $s i32) (param $x i32) (param $y i32) (param $cols i32) (param $gs i32)
    (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $g i32) (local $ng i32) (local $c i32) (local $n8 i32)
    (local $p i32) (local $sp i32) (local $xp i32) (local $sc f32) (local $t f32) (local $ts f32)
    (local $b v128) (local $hi v128) (local $acc v128) (local $a0 v128) (local $a1 v128)
    (local.set $hi (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000))
    (local.set $ng (i32.div_u (local.get $cols) (local.get $gs)))
    (local.set $n8 (i32.and (local.get $gs) (i32.const -8)))
    (local.set $r (local.get $r0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $p (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $cols))))
      (local.set $sp (i32.add (local.get $s) (i32.shl (i32.mul (local.get $r) (local.get $ng)) (i32.const 2))))
      (local.set $xp (local.get $x))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $ts (f32.const 0))
      (local.set $g (i32.const 0))
      (block $gdone (loop $gnext
        (br_if $gdone (i32.ge_u (local.get $g) (local.get $ng)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $done (loop $next ;; 16 weights: two chunks
          (br_if $done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $n8)))
          (local.set $b (v128.load8x8_s (local.get $p)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $xp))
            (f32x4.convert_i32x4_s (i32x4.shl (local.get $b) (i32.const 16))))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $xp))
            (f32x4.convert_i32x4_s (v128.and (local.get $b) (local.get $hi))))))
          (local.set $b (v128.load8x8_s offset=8 (local.get $p)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=32 (local.get $xp))
            (f32x4.convert_i32x4_s (i32x4.shl (local.get $b) (i32.const 16))))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=48 (local.get $xp))
            (f32x4.convert_i32x4_s (v128.and (local.get $b) (local.get $hi))))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $next)))
        (if (i32.lt_u (local.get $c) (local.get $n8))
          (then ;; one chunk of 8 weights
            (local.set $b (v128.load8x8_s (local.get $p)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $xp))
              (f32x4.convert_i32x4_s (i32x4.shl (local.get $b) (i32.const 16))))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $xp))
              (f32x4.convert_i32x4_s (v128.and (local.get $b) (local.get $hi))))))
            (local.set $p (i32.add (local.get $p) (i32.const 8)))
            (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))))
        (local.set $sc (f32.load (local.get $sp)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.splat (local.get $sc))
          (f32x4.add (local.get $a0) (local.get $a1)))))
        (local.set $t (f32.const 0))
        (block $done (loop $next ;; the group's last gs % 8 weights, x as it is
          (br_if $done (i32.ge_u (local.get $c) (local.get $gs)))
          (local.set $t (f32.add (local.get $t)
            (f32.mul (f32.convert_i32_s (i32.load8_s (local.get $p))) (f32.load (local.get $xp)))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $next)))
        (local.set $ts (f32.add (local.get $ts) (f32.mul (local.get $t) (local.get $sc))))
        (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $gnext)))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2)))
        (f32.add (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 2 (local.get $acc)))
          (f32.add (f32x4.extract_lane 1 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
          (local.get $ts)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext))))

  (func $matvec_q4 (export "matvec_q4")
    (param $w i32) (param $s i32) (param $x i32) (param $y i32) (param $cols i32) (param $gs i32)
    (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $g i32) (local $ng i32) (local $c i32) (local $n16 i32) (local $g0 i32)
    (local $row i32) (local $p i32) (local $sp i32) (local $xp i32) (local $sc f32) (local $t f32) (local $ts f32)
    (local $b v128) (local $top v128) (local $top12 v128) (local $acc v128) (local $a0 v128)
    (local.set $top (v128.const i32x4 0xf0000000 0xf0000000 0xf0000000 0xf0000000))
    (local.set $top12 (v128.const i32x4 0xfff00000 0xfff00000 0xfff00000 0xfff00000))
    (local.set $ng (i32.div_u (local.get $cols) (local.get $gs)))
    (local.set $n16 (i32.and (local.get $gs) (i32.const -16)))
    (local.set $r (local.get $r0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $row (i32.add (local.get $w) (i32.mul (local.get $r)
        (i32.shr_u (i32.add (local.get $cols) (i32.const 1)) (i32.const 1)))))
      (local.set $sp (i32.add (local.get $s) (i32.shl (i32.mul (local.get $r) (local.get $ng)) (i32.const 2))))
      (local.set $xp (local.get $x))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $ts (f32.const 0))
      (local.set $g0 (i32.const 0))
      (local.set $g (i32.const 0))
      (block $gdone (loop $gnext
        (br_if $gdone (i32.ge_u (local.get $g) (local.get $ng)))
        ;; g0 = first column of the group; groups start on a byte (gs even, or one group per row)
        (local.set $p (i32.add (local.get $row) (i32.shr_u (local.get $g0) (i32.const 1))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $done (loop $next ;; 16 weights (8 bytes, one chunk) per pass
          (br_if $done (i32.ge_u (local.get $c) (local.get $n16)))
          (local.set $b (v128.load8x8_s (local.get $p)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.add
            (f32x4.add
              (f32x4.mul (v128.load (local.get $xp))
                (f32x4.convert_i32x4_s (i32x4.shl (local.get $b) (i32.const 28))))
              (f32x4.mul (v128.load offset=16 (local.get $xp))
                (f32x4.convert_i32x4_s (v128.and (i32x4.shl (local.get $b) (i32.const 24)) (local.get $top)))))
            (f32x4.add
              (f32x4.mul (v128.load offset=32 (local.get $xp))
                (f32x4.convert_i32x4_s (v128.and (i32x4.shl (local.get $b) (i32.const 12)) (local.get $top))))
              (f32x4.mul (v128.load offset=48 (local.get $xp))
                (f32x4.convert_i32x4_s (v128.and (local.get $b) (local.get $top12))))))))
          (local.set $p (i32.add (local.get $p) (i32.const 8)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $next)))
        (local.set $sc (f32.load (local.get $sp)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.splat (local.get $sc)) (local.get $a0))))
        (local.set $t (f32.const 0))
        (block $done (loop $next ;; the group's last gs % 16 weights, x as it is; nibble n -> (n ^ 8) - 8
          (br_if $done (i32.ge_u (local.get $c) (local.get $gs)))
          (local.set $t (f32.add (local.get $t) (f32.mul
            (f32.convert_i32_s (i32.sub (i32.xor (i32.and
              (i32.shr_u (i32.load8_u (i32.add (local.get $row) (i32.shr_u (i32.add (local.get $g0) (local.get $c)) (i32.const 1))))
                (i32.shl (i32.and (i32.add (local.get $g0) (local.get $c)) (i32.const 1)) (i32.const 2)))
              (i32.const 15)) (i32.const 8)) (i32.const 8)))
            (f32.load (local.get $xp)))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $next)))
        (local.set $ts (f32.add (local.get $ts) (f32.mul (local.get $t) (local.get $sc))))
        (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
        (local.set $g0 (i32.add (local.get $g0) (local.get $gs)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $gnext)))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2)))
        (f32.add (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 2 (local.get $acc)))
          (f32.add (f32x4.extract_lane 1 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
          (local.get $ts)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext))))

  ;; ---------------------------------------------------------------------------------------
  ;; Weighted sum of rows (the sparse FFN's W_out, stored transposed so a neuron is a row):
  ;; y[c] = sum_i coef[i] * W[row(i), c] for the columns c in [c0, c1), row(i) = ids[i] when
  ;; ids != 0, else i; i < n. The range splits COLUMNS over threads, so every thread reads its
  ;; slice of every listed row and owns its slice of y. Rows go 4 at a time (y is loaded and
  ;; stored once per 4 rows), then one at a time. A row whose coef is 0 is still read.
  ;; ---------------------------------------------------------------------------------------

  ;; Four weights at p as f32: kind 1 bf16, 2 f16 (kind 0 is read inline by the caller).
  (func $ld4_half (param $kind i32) (param $p i32) (result v128)
    (local $u v128)
    (local.set $u (i32x4.shl (i32x4.extend_low_i16x8_u (v128.load64_zero (local.get $p))) (i32.const 16)))
    (if (result v128) (i32.eq (local.get $kind) (i32.const 1))
      (then (local.get $u))
      (else (call $h2f_x4 (local.get $u)))))

  ;; One weight at p as f32 (any kind).
  (func $ld1 (param $kind i32) (param $p i32) (result f32)
    (if (result f32) (i32.eqz (local.get $kind))
      (then (f32.load (local.get $p)))
      (else (if (result f32) (i32.eq (local.get $kind) (i32.const 1))
        (then (call $bf2f (i32.load16_u (local.get $p))))
        (else (call $h2f (i32.load16_u (local.get $p))))))))

  (func $accum_any (param $kind i32) (param $esize i32)
    (param $w i32) (param $coef i32) (param $y i32) (param $cols i32) (param $ids i32) (param $n i32)
    (param $c0 i32) (param $c1 i32) (param $i0 i32)
    (local $stride i32) (local $i i32) (local $c i32) (local $q i32) (local $off i32) (local $yp i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $step i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $acc v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128) (local $f v128)
    (local.set $stride (i32.mul (local.get $cols) (local.get $esize)))
    (local.set $off (i32.mul (local.get $c0) (local.get $esize)))
    (local.set $step (i32.shl (local.get $esize) (i32.const 2)))
    ;; y[c0, c1) = 0
    (local.set $c (local.get $c0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $c1)))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2))) (f32.const 0))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.set $i (local.get $i0))
    ;; four rows per pass (listed rows only: see below)
    (block $rdone (loop $rnext
      (br_if $rdone (i32.eqz (local.get $ids)))
      (br_if $rdone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
      (local.set $q (i32.add (local.get $coef) (i32.shl (local.get $i) (i32.const 2))))
      (local.set $a0 (v128.load32_splat offset=0 (local.get $q)))
      (local.set $a1 (v128.load32_splat offset=4 (local.get $q)))
      (local.set $a2 (v128.load32_splat offset=8 (local.get $q)))
      (local.set $a3 (v128.load32_splat offset=12 (local.get $q)))
      (if (local.get $ids)
        (then
          (local.set $q (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2))))
          (local.set $p0 (i32.mul (i32.load offset=0 (local.get $q)) (local.get $stride)))
          (local.set $p1 (i32.mul (i32.load offset=4 (local.get $q)) (local.get $stride)))
          (local.set $p2 (i32.mul (i32.load offset=8 (local.get $q)) (local.get $stride)))
          (local.set $p3 (i32.mul (i32.load offset=12 (local.get $q)) (local.get $stride))))
        (else
          (local.set $p0 (i32.mul (local.get $i) (local.get $stride)))
          (local.set $p1 (i32.add (local.get $p0) (local.get $stride)))
          (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))
          (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))))
      (local.set $p0 (i32.add (local.get $w) (i32.add (local.get $p0) (local.get $off))))
      (local.set $p1 (i32.add (local.get $w) (i32.add (local.get $p1) (local.get $off))))
      (local.set $p2 (i32.add (local.get $w) (i32.add (local.get $p2) (local.get $off))))
      (local.set $p3 (i32.add (local.get $w) (i32.add (local.get $p3) (local.get $off))))
      (local.set $c (local.get $c0))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $c0) (i32.const 2))))
      (if (i32.eqz (local.get $kind))
        (then
          (block $cdone (loop $cnext
            (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $c1)))
            (v128.store (local.get $yp)
              (f32x4.add (v128.load (local.get $yp))
                (f32x4.add
                  (f32x4.add (f32x4.mul (local.get $a0) (v128.load (local.get $p0)))
                             (f32x4.mul (local.get $a1) (v128.load (local.get $p1))))
                  (f32x4.add (f32x4.mul (local.get $a2) (v128.load (local.get $p2)))
                             (f32x4.mul (local.get $a3) (v128.load (local.get $p3)))))))
            (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
            (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
            (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
            (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
            (local.set $yp (i32.add (local.get $yp) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $cnext))))
        (else
          ;; halves widened inline, as $ld4_half does (a call per four weights made this ~10x
          ;; slower): h << 16 is the bf16 value, and f16 converts it further as $h2f_x4
          (block $cdone (loop $cnext
            (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $c1)))
            (local.set $w0 (i32x4.shl (i32x4.extend_low_i16x8_u (v128.load64_zero (local.get $p0))) (i32.const 16)))
            (local.set $w1 (i32x4.shl (i32x4.extend_low_i16x8_u (v128.load64_zero (local.get $p1))) (i32.const 16)))
            (local.set $w2 (i32x4.shl (i32x4.extend_low_i16x8_u (v128.load64_zero (local.get $p2))) (i32.const 16)))
            (local.set $w3 (i32x4.shl (i32x4.extend_low_i16x8_u (v128.load64_zero (local.get $p3))) (i32.const 16)))
            (if (i32.eq (local.get $kind) (i32.const 2))
              (then
                (local.set $f (f32x4.mul (f32x4.splat (f32.const 0x1p112))
                  (v128.and (i32x4.splat (i32.const 0x8fffffff)) (i32x4.shr_s (local.get $w0) (i32.const 3)))))
                (local.set $w0 (v128.or (local.get $f) (v128.and (i32x4.splat (i32.const 0x7f800000))
                  (f32x4.ge (f32x4.abs (local.get $f)) (f32x4.splat (f32.const 65536))))))
                (local.set $f (f32x4.mul (f32x4.splat (f32.const 0x1p112))
                  (v128.and (i32x4.splat (i32.const 0x8fffffff)) (i32x4.shr_s (local.get $w1) (i32.const 3)))))
                (local.set $w1 (v128.or (local.get $f) (v128.and (i32x4.splat (i32.const 0x7f800000))
                  (f32x4.ge (f32x4.abs (local.get $f)) (f32x4.splat (f32.const 65536))))))
                (local.set $f (f32x4.mul (f32x4.splat (f32.const 0x1p112))
                  (v128.and (i32x4.splat (i32.const 0x8fffffff)) (i32x4.shr_s (local.get $w2) (i32.const 3)))))
                (local.set $w2 (v128.or (local.get $f) (v128.and (i32x4.splat (i32.const 0x7f800000))
                  (f32x4.ge (f32x4.abs (local.get $f)) (f32x4.splat (f32.const 65536))))))
                (local.set $f (f32x4.mul (f32x4.splat (f32.const 0x1p112))
                  (v128.and (i32x4.splat (i32.const 0x8fffffff)) (i32x4.shr_s (local.get $w3) (i32.const 3)))))
                (local.set $w3 (v128.or (local.get $f) (v128.and (i32x4.splat (i32.const 0x7f800000))
                  (f32x4.ge (f32x4.abs (local.get $f)) (f32x4.splat (f32.const 65536))))))))
            (v128.store (local.get $yp)
              (f32x4.add (v128.load (local.get $yp))
                (f32x4.add
                  (f32x4.add (f32x4.mul (local.get $a0) (local.get $w0))
                             (f32x4.mul (local.get $a1) (local.get $w1)))
                  (f32x4.add (f32x4.mul (local.get $a2) (local.get $w2))
                             (f32x4.mul (local.get $a3) (local.get $w3))))))
            (local.set $p0 (i32.add (local.get $p0) (i32.const 8)))
            (local.set $p1 (i32.add (local.get $p1) (i32.const 8)))
            (local.set $p2 (i32.add (local.get $p2) (i32.const 8)))
            (local.set $p3 (i32.add (local.get $p3) (i32.const 8)))
            (local.set $yp (i32.add (local.get $yp) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $cnext)))))
      ;; column tail, lane by lane
      (block $cdone (loop $cnext
        (br_if $cdone (i32.ge_u (local.get $c) (local.get $c1)))
        (f32.store (local.get $yp)
          (f32.add (f32.load (local.get $yp))
            (f32.add
              (f32.add (f32.mul (f32x4.extract_lane 0 (local.get $a0)) (call $ld1 (local.get $kind) (local.get $p0)))
                       (f32.mul (f32x4.extract_lane 0 (local.get $a1)) (call $ld1 (local.get $kind) (local.get $p1))))
              (f32.add (f32.mul (f32x4.extract_lane 0 (local.get $a2)) (call $ld1 (local.get $kind) (local.get $p2)))
                       (f32.mul (f32x4.extract_lane 0 (local.get $a3)) (call $ld1 (local.get $kind) (local.get $p3)))))))
        (local.set $p0 (i32.add (local.get $p0) (local.get $esize)))
        (local.set $p1 (i32.add (local.get $p1) (local.get $esize)))
        (local.set $p2 (i32.add (local.get $p2) (local.get $esize)))
        (local.set $p3 (i32.add (local.get $p3) (local.get $esize)))
        (local.set $yp (i32.add (local.get $yp) (i32.const 4)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cnext)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $rnext)))
    ;; remaining rows, and every row of a whole matrix (ids = 0), one per pass: a whole matrix is
    ;; then read as one stream (four rows side by side make four short streams that the
    ;; prefetchers follow badly: [2048, 768] f32 from DRAM, one thread, 15 against 31 GB/s for
    ;; the same rows in a matvec), and each y element takes its rows in order, one product each,
    ;; as $accum_batch_any does
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $a0 (v128.load32_splat (i32.add (local.get $coef) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $p0 (local.get $i))
      (if (local.get $ids)
        (then (local.set $p0 (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $p0 (i32.add (local.get $w) (i32.add (i32.mul (local.get $p0) (local.get $stride)) (local.get $off))))
      (local.set $c (local.get $c0))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $c0) (i32.const 2))))
      (if (i32.eqz (local.get $kind))
        (then
          (block $cdone (loop $cnext ;; f32: 16 columns per pass
            (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $c1)))
            (v128.store (local.get $yp) (f32x4.add (v128.load (local.get $yp)) (f32x4.mul (local.get $a0) (v128.load (local.get $p0)))))
            (v128.store offset=16 (local.get $yp) (f32x4.add (v128.load offset=16 (local.get $yp)) (f32x4.mul (local.get $a0) (v128.load offset=16 (local.get $p0)))))
            (v128.store offset=32 (local.get $yp) (f32x4.add (v128.load offset=32 (local.get $yp)) (f32x4.mul (local.get $a0) (v128.load offset=32 (local.get $p0)))))
            (v128.store offset=48 (local.get $yp) (f32x4.add (v128.load offset=48 (local.get $yp)) (f32x4.mul (local.get $a0) (v128.load offset=48 (local.get $p0)))))
            (local.set $p0 (i32.add (local.get $p0) (i32.const 64)))
            (local.set $yp (i32.add (local.get $yp) (i32.const 64)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cnext))))
        (else
          (block $cdone (loop $cnext ;; eight halves per pass, widened as above
            (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 8)) (local.get $c1)))
            (local.set $acc (v128.load (local.get $p0)))
            (local.set $w0 (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $acc)) (i32.const 16)))
            (local.set $w1 (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $acc)) (i32.const 16)))
            (if (i32.eq (local.get $kind) (i32.const 2))
              (then
                (local.set $f (f32x4.mul (f32x4.splat (f32.const 0x1p112))
                  (v128.and (i32x4.splat (i32.const 0x8fffffff)) (i32x4.shr_s (local.get $w0) (i32.const 3)))))
                (local.set $w0 (v128.or (local.get $f) (v128.and (i32x4.splat (i32.const 0x7f800000))
                  (f32x4.ge (f32x4.abs (local.get $f)) (f32x4.splat (f32.const 65536))))))
                (local.set $f (f32x4.mul (f32x4.splat (f32.const 0x1p112))
                  (v128.and (i32x4.splat (i32.const 0x8fffffff)) (i32x4.shr_s (local.get $w1) (i32.const 3)))))
                (local.set $w1 (v128.or (local.get $f) (v128.and (i32x4.splat (i32.const 0x7f800000))
                  (f32x4.ge (f32x4.abs (local.get $f)) (f32x4.splat (f32.const 65536))))))))
            (v128.store (local.get $yp) (f32x4.add (v128.load (local.get $yp)) (f32x4.mul (local.get $a0) (local.get $w0))))
            (v128.store offset=16 (local.get $yp) (f32x4.add (v128.load offset=16 (local.get $yp)) (f32x4.mul (local.get $a0) (local.get $w1))))
            (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
            (local.set $yp (i32.add (local.get $yp) (i32.const 32)))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))
            (br $cnext)))))
      (block $cdone (loop $cnext
        (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $c1)))
        (if (i32.eqz (local.get $kind))
          (then (local.set $acc (v128.load (local.get $p0))))
          (else (local.set $acc (call $ld4_half (local.get $kind) (local.get $p0)))))
        (v128.store (local.get $yp) (f32x4.add (v128.load (local.get $yp)) (f32x4.mul (local.get $a0) (local.get $acc))))
        (local.set $p0 (i32.add (local.get $p0) (local.get $step)))
        (local.set $yp (i32.add (local.get $yp) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cnext)))
      (block $cdone (loop $cnext
        (br_if $cdone (i32.ge_u (local.get $c) (local.get $c1)))
        (f32.store (local.get $yp)
          (f32.add (f32.load (local.get $yp)) (f32.mul (f32x4.extract_lane 0 (local.get $a0)) (call $ld1 (local.get $kind) (local.get $p0)))))
        (local.set $p0 (i32.add (local.get $p0) (local.get $esize)))
        (local.set $yp (i32.add (local.get $yp) (i32.const 4)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cnext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rnext))))

  (func (export "accum_rows_f32") (param $w i32) (param $coef i32) (param $y i32) (param $cols i32) (param $ids i32) (param $n i32) (param $c0 i32) (param $c1 i32)
    (call $accum_any (i32.const 0) (i32.const 4) (local.get $w) (local.get $coef) (local.get $y) (local.get $cols) (local.get $ids) (local.get $n) (local.get $c0) (local.get $c1) (i32.const 0)))
  ;; Row split: rows [i0, i1) of the sum into partial sum number i0 / chunk, at parts + that * cols * 4
  ;; (all columns). The host adds the partial sums.
  (func (export "accum_rows_part_f32") (param $w i32) (param $coef i32) (param $parts i32) (param $cols i32) (param $ids i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (call $accum_any (i32.const 0) (i32.const 4) (local.get $w) (local.get $coef)
      (i32.add (local.get $parts) (i32.shl (i32.mul (i32.div_u (local.get $i0) (local.get $chunk)) (local.get $cols)) (i32.const 2)))
      (local.get $cols) (local.get $ids) (local.get $i1) (i32.const 0) (local.get $cols) (local.get $i0)))
  (func (export "accum_rows_bf16") (param $w i32) (param $coef i32) (param $y i32) (param $cols i32) (param $ids i32) (param $n i32) (param $c0 i32) (param $c1 i32)
    (call $accum_any (i32.const 1) (i32.const 2) (local.get $w) (local.get $coef) (local.get $y) (local.get $cols) (local.get $ids) (local.get $n) (local.get $c0) (local.get $c1) (i32.const 0)))
  ;; Row split: rows [i0, i1) of the sum into partial sum number i0 / chunk, at parts + that * cols * 4
  ;; (all columns). The host adds the partial sums.
  (func (export "accum_rows_part_bf16") (param $w i32) (param $coef i32) (param $parts i32) (param $cols i32) (param $ids i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (call $accum_any (i32.const 1) (i32.const 2) (local.get $w) (local.get $coef)
      (i32.add (local.get $parts) (i32.shl (i32.mul (i32.div_u (local.get $i0) (local.get $chunk)) (local.get $cols)) (i32.const 2)))
      (local.get $cols) (local.get $ids) (local.get $i1) (i32.const 0) (local.get $cols) (local.get $i0)))
  (func (export "accum_rows_f16") (param $w i32) (param $coef i32) (param $y i32) (param $cols i32) (param $ids i32) (param $n i32) (param $c0 i32) (param $c1 i32)
    (call $accum_any (i32.const 2) (i32.const 2) (local.get $w) (local.get $coef) (local.get $y) (local.get $cols) (local.get $ids) (local.get $n) (local.get $c0) (local.get $c1) (i32.const 0)))
  ;; Row split: rows [i0, i1) of the sum into partial sum number i0 / chunk, at parts + that * cols * 4
  ;; (all columns). The host adds the partial sums.
  (func (export "accum_rows_part_f16") (param $w i32) (param $coef i32) (param $parts i32) (param $cols i32) (param $ids i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (call $accum_any (i32.const 2) (i32.const 2) (local.get $w) (local.get $coef)
      (i32.add (local.get $parts) (i32.shl (i32.mul (i32.div_u (local.get $i0) (local.get $chunk)) (local.get $cols)) (i32.const 2)))
      (local.get $cols) (local.get $ids) (local.get $i1) (i32.const 0) (local.get $cols) (local.get $i0)))

  ;; Batched weighted sums of rows: ys[b*cols + c] = sum_i coefs[i*nb + b] * W[row(i), c] for b < nb,
  ;; c in [c0, c1); each listed row is read once for all nb outputs (row by row, 4 columns at a
  ;; time, the nb partial sums of those columns updated in L1). The coefficients come row-major
  ;; ([n, nb], packed so by the backend): a row's nb coefficients share one or two cache lines.
  ;; (Read as [nb, n], with n * 4 bytes a multiple of 4 KiB, the nb lines fell in one L1 set and
  ;; evicted each other for nb above the associativity: 16 vectors took 3.4x as long as 8.)
  ;; Owners: $accum_batch_any (its owner-aware form); none: $accum_batch_tiled.
  (func $accum_batch (param $kind i32) (param $esize i32)
    (param $w i32) (param $coefs i32) (param $ys i32) (param $cols i32) (param $ids i32) (param $n i32) (param $nb i32)
    (param $owners i32) (param $scratch i32) (param $chunk i32) (param $c0 i32) (param $c1 i32)
    (if (local.get $owners)
      (then (call $accum_batch_any (local.get $kind) (local.get $esize) (local.get $w) (local.get $coefs) (local.get $ys)
        (local.get $cols) (local.get $ids) (local.get $n) (local.get $nb) (local.get $owners) (local.get $c0) (local.get $c1)))
      (else (call $accum_batch_tiled (local.get $kind) (local.get $esize) (local.get $w) (local.get $coefs) (local.get $ys)
        (local.get $cols) (local.get $ids) (local.get $n) (local.get $nb) (local.get $scratch) (local.get $chunk) (local.get $c0) (local.get $c1)))))

  ;; $accum_batch_any without owners, as register tiles. The listed rows go in blocks of 64: a
  ;; block's columns [c0, c8) (c8: the last multiple of 8 columns of the range) are first copied
  ;; (halves widened) into this part's scratch, one row after another at a stride of 64 bytes
  ;; more than a multiple of 64, and then every tile of 8 columns x 4 outputs (eight f32x4
  ;; accumulators) takes the block's rows in order, starting from the sums of the blocks before
  ;; (kept in ys). The columns past c8 go through $accum_batch_any; the last outputs of a tile
  ;; past nb repeat its last one and are not stored. Every output element still starts at +0 and
  ;; adds its rows' products in row order, one rounding for each product and each sum, so the
  ;; bits are those of $accum_batch_any (only where a partial sum lives between rows changes).
  ;; Measured on a [4096, 1024] f32 matrix, two threads, 16 outputs (64): the loop of
  ;; $accum_batch_any (a load and a store of the partial sums per 4 products) 4 (1.2) GFLOP/s;
  ;; these tiles straight on W 20 (23), its rows 4 KiB apart all falling in one L1 set; on the
  ;; copied blocks 33 (46-50), where the prompt product (gemm) ran 53-65 (61-62).
  ;; scratch: per part (c0 / chunk) 64 rows of chunk * 4 + 64 bytes (kernels.ts sizes it; a call
  ;; run whole on one thread has c0 = 0 and takes every part's room).
  (func $accum_batch_tiled (param $kind i32) (param $esize i32)
    (param $w i32) (param $coefs i32) (param $ys i32) (param $cols i32) (param $ids i32) (param $n i32) (param $nb i32)
    (param $scratch i32) (param $chunk i32) (param $c0 i32) (param $c1 i32)
    (local $c8 i32) (local $c i32) (local $b i32) (local $i0 i32) (local $i1 i32) (local $i i32) (local $row i32)
    (local $sp i32) (local $pstride i32) (local $stride i32) (local $src i32) (local $width i32) (local $ystride i32)
    (local.set $c8 (i32.add (local.get $c0) (i32.and (i32.sub (local.get $c1) (local.get $c0)) (i32.const -8))))
    (if (i32.eqz (local.get $n)) (then (local.set $c8 (local.get $c0)))) ;; no rows: $accum_batch_any writes the zeros
    (if (i32.gt_u (local.get $c8) (local.get $c0))
      (then
        (local.set $width (i32.sub (local.get $c8) (local.get $c0)))
        ;; a row of the copy: the part's columns (the whole range where a call too small to split
        ;; runs every column on one thread) rounded up to 64 bytes, plus 64
        (local.set $pstride (i32.add (i32.and (i32.add (i32.shl (select (local.get $width) (local.get $chunk)
          (i32.gt_u (local.get $width) (local.get $chunk))) (i32.const 2)) (i32.const 63)) (i32.const -64)) (i32.const 64)))
        (local.set $sp (i32.add (local.get $scratch)
          (i32.mul (i32.div_u (local.get $c0) (local.get $chunk)) (i32.shl (local.get $pstride) (i32.const 6)))))
        (local.set $stride (i32.mul (local.get $cols) (local.get $esize)))
        (local.set $ystride (i32.shl (local.get $cols) (i32.const 2)))
        (local.set $i0 (i32.const 0))
        (block $idone (loop $inext
          (br_if $idone (i32.ge_u (local.get $i0) (local.get $n)))
          (local.set $i1 (call $min_u (i32.add (local.get $i0) (i32.const 64)) (local.get $n)))
          ;; the block's rows into the scratch, as f32
          (local.set $i (local.get $i0))
          (block $pdone (loop $pnext
            (br_if $pdone (i32.ge_u (local.get $i) (local.get $i1)))
            (local.set $row (local.get $i))
            (if (local.get $ids) (then (local.set $row (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $src (i32.add (local.get $w) (i32.add (i32.mul (local.get $row) (local.get $stride)) (i32.mul (local.get $c0) (local.get $esize)))))
            (local.set $row (i32.add (local.get $sp) (i32.mul (i32.sub (local.get $i) (local.get $i0)) (local.get $pstride))))
            (if (i32.eqz (local.get $kind))
              (then (memory.copy (local.get $row) (local.get $src) (i32.shl (local.get $width) (i32.const 2))))
              (else (if (i32.eq (local.get $kind) (i32.const 1))
                (then (call $widen_bf16 (local.get $src) (local.get $row) (i32.const 0) (local.get $width)))
                (else (call $widen_f16 (local.get $src) (local.get $row) (i32.const 0) (local.get $width))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $pnext)))
          (local.set $c (local.get $c0))
          (block $cdone (loop $cnext
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $c8)))
            (local.set $b (i32.const 0))
            (block $bdone (loop $bnext
              (br_if $bdone (i32.ge_u (local.get $b) (local.get $nb)))
              (call $accum_tile84 (i32.add (local.get $sp) (i32.shl (i32.sub (local.get $c) (local.get $c0)) (i32.const 2)))
                (local.get $pstride)
                (i32.add (local.get $coefs) (i32.shl (i32.add (i32.mul (local.get $i0) (local.get $nb)) (local.get $b)) (i32.const 2)))
                (i32.shl (local.get $nb) (i32.const 2))
                (i32.sub (local.get $i1) (local.get $i0))
                (i32.add (local.get $ys) (i32.add (i32.mul (local.get $b) (local.get $ystride)) (i32.shl (local.get $c) (i32.const 2))))
                (local.get $ystride)
                (select (i32.const 4) (i32.sub (local.get $nb) (local.get $b)) (i32.ge_u (i32.sub (local.get $nb) (local.get $b)) (i32.const 4)))
                (local.get $i0))
              (local.set $b (i32.add (local.get $b) (i32.const 4)))
              (br $bnext)))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))
            (br $cnext)))
          (local.set $i0 (local.get $i1))
          (br $inext)))))
    (if (i32.lt_u (local.get $c8) (local.get $c1))
      (then (call $accum_batch_any (local.get $kind) (local.get $esize) (local.get $w) (local.get $coefs) (local.get $ys)
        (local.get $cols) (local.get $ids) (local.get $n) (local.get $nb) (i32.const 0) (local.get $c8) (local.get $c1)))))

  ;; Outputs m < valid (1..4) of a tile: y_m[0, 8) (at yp + m * ystride) += for each of `rows` f32
  ;; rows of 8 at p (row r at p + r * pstride), in order, coef_m(r) * row (coef_m(r) at cp + r *
  ;; cstride + 4m); from +0 where `more` is 0 (the first block), else from y_m as it stands.
  (func $accum_tile84 (param $p i32) (param $pstride i32) (param $cp i32) (param $cstride i32) (param $rows i32)
    (param $yp i32) (param $ystride i32) (param $valid i32) (param $more i32)
    (local $end i32) (local $d1 i32) (local $d2 i32) (local $d3 i32) (local $y1 i32) (local $y2 i32) (local $y3 i32)
    (local $lo v128) (local $hi v128) (local $k v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0v v128) (local $b1v v128) (local $b2v v128) (local $b3v v128)
    ;; outputs past valid repeat the last valid one (their coefficients and sums; never stored)
    (local.set $d1 (i32.shl (call $min_u (i32.const 1) (i32.sub (local.get $valid) (i32.const 1))) (i32.const 2)))
    (local.set $d2 (i32.shl (call $min_u (i32.const 2) (i32.sub (local.get $valid) (i32.const 1))) (i32.const 2)))
    (local.set $d3 (i32.shl (call $min_u (i32.const 3) (i32.sub (local.get $valid) (i32.const 1))) (i32.const 2)))
    (local.set $y1 (i32.add (local.get $yp) (i32.mul (i32.shr_u (local.get $d1) (i32.const 2)) (local.get $ystride))))
    (local.set $y2 (i32.add (local.get $yp) (i32.mul (i32.shr_u (local.get $d2) (i32.const 2)) (local.get $ystride))))
    (local.set $y3 (i32.add (local.get $yp) (i32.mul (i32.shr_u (local.get $d3) (i32.const 2)) (local.get $ystride))))
    (if (local.get $more)
      (then
        (local.set $a0 (v128.load (local.get $yp)))
        (local.set $b0v (v128.load offset=16 (local.get $yp)))
        (local.set $a1 (v128.load (local.get $y1)))
        (local.set $b1v (v128.load offset=16 (local.get $y1)))
        (local.set $a2 (v128.load (local.get $y2)))
        (local.set $b2v (v128.load offset=16 (local.get $y2)))
        (local.set $a3 (v128.load (local.get $y3)))
        (local.set $b3v (v128.load offset=16 (local.get $y3)))))
    (local.set $end (i32.add (local.get $p) (i32.mul (local.get $rows) (local.get $pstride))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $lo (v128.load (local.get $p)))
      (local.set $hi (v128.load offset=16 (local.get $p)))
      (local.set $k (v128.load32_splat (local.get $cp)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $k) (local.get $lo))))
      (local.set $b0v (f32x4.add (local.get $b0v) (f32x4.mul (local.get $k) (local.get $hi))))
      (local.set $k (v128.load32_splat (i32.add (local.get $cp) (local.get $d1))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $k) (local.get $lo))))
      (local.set $b1v (f32x4.add (local.get $b1v) (f32x4.mul (local.get $k) (local.get $hi))))
      (local.set $k (v128.load32_splat (i32.add (local.get $cp) (local.get $d2))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $k) (local.get $lo))))
      (local.set $b2v (f32x4.add (local.get $b2v) (f32x4.mul (local.get $k) (local.get $hi))))
      (local.set $k (v128.load32_splat (i32.add (local.get $cp) (local.get $d3))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $k) (local.get $lo))))
      (local.set $b3v (f32x4.add (local.get $b3v) (f32x4.mul (local.get $k) (local.get $hi))))
      (local.set $cp (i32.add (local.get $cp) (local.get $cstride)))
      (local.set $p (i32.add (local.get $p) (local.get $pstride)))
      (br $next)))
    (v128.store (local.get $yp) (local.get $a0))
    (v128.store offset=16 (local.get $yp) (local.get $b0v))
    (if (i32.lt_u (local.get $valid) (i32.const 2)) (then (return)))
    (v128.store (local.get $y1) (local.get $a1))
    (v128.store offset=16 (local.get $y1) (local.get $b1v))
    (if (i32.lt_u (local.get $valid) (i32.const 3)) (then (return)))
    (v128.store (local.get $y2) (local.get $a2))
    (v128.store offset=16 (local.get $y2) (local.get $b2v))
    (if (i32.lt_u (local.get $valid) (i32.const 4)) (then (return)))
    (v128.store (local.get $y3) (local.get $a3))
    (v128.store offset=16 (local.get $y3) (local.get $b3v)))

  (func $accum_batch_any (param $kind i32) (param $esize i32)
    (param $w i32) (param $coefs i32) (param $ys i32) (param $cols i32) (param $ids i32) (param $n i32) (param $nb i32)
    (param $owners i32) (param $c0 i32) (param $c1 i32)
    (local $stride i32) (local $i i32) (local $c i32) (local $b i32) (local $p i32) (local $yp i32) (local $cp i32)
    (local $ystride i32) (local $cstride i32) (local $wv v128) (local $ws f32)
    (if (local.get $owners)
      (then
        (call $accum_batch_own (local.get $kind) (local.get $esize) (local.get $w) (local.get $coefs) (local.get $ys)
          (local.get $cols) (local.get $ids) (local.get $n) (local.get $nb) (local.get $owners) (local.get $c0) (local.get $c1))
        (return)))
    (local.set $stride (i32.mul (local.get $cols) (local.get $esize)))
    (local.set $ystride (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $cstride (i32.const 4))
    ;; ys[b][c0, c1) = 0
    (local.set $b (i32.const 0))
    (block $bdone (loop $bnext
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $nb)))
      (local.set $c (local.get $c0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $c1)))
        (f32.store (i32.add (i32.add (local.get $ys) (i32.mul (local.get $b) (local.get $ystride))) (i32.shl (local.get $c) (i32.const 2)))
          (f32.const 0))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bnext)))
    (local.set $i (i32.const 0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p (local.get $i))
      (if (local.get $ids)
        (then (local.set $p (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $p (i32.add (local.get $w) (i32.add (i32.mul (local.get $p) (local.get $stride)) (i32.mul (local.get $c0) (local.get $esize)))))
      (local.set $c (local.get $c0))
      (block $cdone (loop $cnext
        (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $c1)))
        (if (i32.eqz (local.get $kind))
          (then (local.set $wv (v128.load (local.get $p))))
          (else (local.set $wv (call $ld4_half (local.get $kind) (local.get $p)))))
        (local.set $b (i32.const 0))
        (local.set $yp (i32.add (local.get $ys) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $cp (i32.add (local.get $coefs) (i32.shl (i32.mul (local.get $i) (local.get $nb)) (i32.const 2))))
        (block $bdone (loop $bnext
          (br_if $bdone (i32.ge_u (local.get $b) (local.get $nb)))
          (v128.store (local.get $yp)
            (f32x4.add (v128.load (local.get $yp)) (f32x4.mul (v128.load32_splat (local.get $cp)) (local.get $wv))))
          (local.set $yp (i32.add (local.get $yp) (local.get $ystride)))
          (local.set $cp (i32.add (local.get $cp) (local.get $cstride)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $bnext)))
        (local.set $p (i32.add (local.get $p) (i32.shl (local.get $esize) (i32.const 2))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cnext)))
      ;; column tail
      (block $cdone (loop $cnext
        (br_if $cdone (i32.ge_u (local.get $c) (local.get $c1)))
        (local.set $ws (call $ld1 (local.get $kind) (local.get $p)))
        (local.set $b (i32.const 0))
        (local.set $yp (i32.add (local.get $ys) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $cp (i32.add (local.get $coefs) (i32.shl (i32.mul (local.get $i) (local.get $nb)) (i32.const 2))))
        (block $bdone (loop $bnext
          (br_if $bdone (i32.ge_u (local.get $b) (local.get $nb)))
          (f32.store (local.get $yp) (f32.add (f32.load (local.get $yp)) (f32.mul (f32.load (local.get $cp)) (local.get $ws))))
          (local.set $yp (i32.add (local.get $yp) (local.get $ystride)))
          (local.set $cp (i32.add (local.get $cp) (local.get $cstride)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $bnext)))
        (local.set $p (i32.add (local.get $p) (local.get $esize)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cnext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rnext))))

  ;; The owner-aware form (owners != 0, nb <= 32): row i's mask owners[i] (bit b: output b takes
  ;; the row) picks the outputs it is added into; every other output is left as it is, which is
  ;; what a coefficient of 0 gives bit for bit (y + 0 * w == y for finite w: y is never -0, as it
  ;; starts at +0 and a sum that cancels rounds to +0). A row without owners is not read at all.
  ;; Per row the owned outputs go 4 at a time over the columns, then one at a time: each output
  ;; element still takes its rows in order, one product each, so the bits are those of the loop above.
  (func $accum_batch_own (param $kind i32) (param $esize i32)
    (param $w i32) (param $coefs i32) (param $ys i32) (param $cols i32) (param $ids i32) (param $n i32) (param $nb i32)
    (param $owners i32) (param $c0 i32) (param $c1 i32)
    (local $stride i32) (local $i i32) (local $b i32) (local $m i32) (local $p i32) (local $cp i32) (local $ystride i32)
    (local $y0 i32) (local $y1 i32) (local $y2 i32) (local $y3 i32)
    (local.set $stride (i32.mul (local.get $cols) (local.get $esize)))
    (local.set $ystride (i32.shl (local.get $cols) (i32.const 2)))
    ;; ys[b][c0, c1) = 0
    (local.set $b (i32.const 0))
    (block $bdone (loop $bnext
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $nb)))
      (memory.fill (i32.add (i32.add (local.get $ys) (i32.mul (local.get $b) (local.get $ystride))) (i32.shl (local.get $c0) (i32.const 2)))
        (i32.const 0) (i32.shl (i32.sub (local.get $c1) (local.get $c0)) (i32.const 2)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bnext)))
    (local.set $ys (i32.add (local.get $ys) (i32.shl (local.get $c0) (i32.const 2))))
    (local.set $i (i32.const 0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $m (i32.load (i32.add (local.get $owners) (i32.shl (local.get $i) (i32.const 2)))))
      (global.set $owned_work (i32.add (global.get $owned_work) (i32.popcnt (local.get $m))))
      (local.set $p (local.get $i))
      (if (local.get $ids)
        (then (local.set $p (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $p (i32.add (local.get $w) (i32.add (i32.mul (local.get $p) (local.get $stride)) (i32.mul (local.get $c0) (local.get $esize)))))
      (local.set $cp (i32.add (local.get $coefs) (i32.shl (i32.mul (local.get $i) (local.get $nb)) (i32.const 2))))
      (block $qdone (loop $qnext
        (br_if $qdone (i32.lt_u (i32.popcnt (local.get $m)) (i32.const 4)))
        (local.set $y0 (i32.ctz (local.get $m)))
        (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
        (local.set $y1 (i32.ctz (local.get $m)))
        (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
        (local.set $y2 (i32.ctz (local.get $m)))
        (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
        (local.set $y3 (i32.ctz (local.get $m)))
        (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
        (call $accum_row4 (local.get $kind) (local.get $esize) (local.get $p) (i32.sub (local.get $c1) (local.get $c0))
          (i32.add (local.get $ys) (i32.mul (local.get $y0) (local.get $ystride)))
          (i32.add (local.get $ys) (i32.mul (local.get $y1) (local.get $ystride)))
          (i32.add (local.get $ys) (i32.mul (local.get $y2) (local.get $ystride)))
          (i32.add (local.get $ys) (i32.mul (local.get $y3) (local.get $ystride)))
          (f32.load (i32.add (local.get $cp) (i32.shl (local.get $y0) (i32.const 2))))
          (f32.load (i32.add (local.get $cp) (i32.shl (local.get $y1) (i32.const 2))))
          (f32.load (i32.add (local.get $cp) (i32.shl (local.get $y2) (i32.const 2))))
          (f32.load (i32.add (local.get $cp) (i32.shl (local.get $y3) (i32.const 2)))))
        (br $qnext)))
      (block $odone (loop $onext
        (br_if $odone (i32.eqz (local.get $m)))
        (local.set $b (i32.ctz (local.get $m)))
        (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
        (call $accum_row1 (local.get $kind) (local.get $esize) (local.get $p) (i32.sub (local.get $c1) (local.get $c0))
          (i32.add (local.get $ys) (i32.mul (local.get $b) (local.get $ystride)))
          (f32.load (i32.add (local.get $cp) (i32.shl (local.get $b) (i32.const 2)))))
        (br $onext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rnext))))

  ;; y0..y3[0, nc) += a0..a3 * the row at p (nc weights of kind / esize), as $accum_batch_any adds
  ;; one row: 4 columns at a time (y + a * w per lane), then the tail one by one.
  (func $accum_row4 (param $kind i32) (param $esize i32) (param $p i32) (param $nc i32)
    (param $y0 i32) (param $y1 i32) (param $y2 i32) (param $y3 i32) (param $a0 f32) (param $a1 f32) (param $a2 f32) (param $a3 f32)
    (local $c i32) (local $o i32) (local $wv v128) (local $wh v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $ws f32)
    (local.set $s0 (f32x4.splat (local.get $a0)))
    (local.set $s1 (f32x4.splat (local.get $a1)))
    (local.set $s2 (f32x4.splat (local.get $a2)))
    (local.set $s3 (f32x4.splat (local.get $a3)))
    (if (i32.eqz (local.get $kind))
      (then
        (block $fdone (loop $fnext ;; f32: 8 columns a pass
          (br_if $fdone (i32.gt_u (i32.add (local.get $c) (i32.const 8)) (local.get $nc)))
          (local.set $o (i32.shl (local.get $c) (i32.const 2)))
          (local.set $wv (v128.load (local.get $p)))
          (local.set $wh (v128.load offset=16 (local.get $p)))
          (v128.store (i32.add (local.get $y0) (local.get $o)) (f32x4.add (v128.load (i32.add (local.get $y0) (local.get $o))) (f32x4.mul (local.get $s0) (local.get $wv))))
          (v128.store offset=16 (i32.add (local.get $y0) (local.get $o)) (f32x4.add (v128.load offset=16 (i32.add (local.get $y0) (local.get $o))) (f32x4.mul (local.get $s0) (local.get $wh))))
          (v128.store (i32.add (local.get $y1) (local.get $o)) (f32x4.add (v128.load (i32.add (local.get $y1) (local.get $o))) (f32x4.mul (local.get $s1) (local.get $wv))))
          (v128.store offset=16 (i32.add (local.get $y1) (local.get $o)) (f32x4.add (v128.load offset=16 (i32.add (local.get $y1) (local.get $o))) (f32x4.mul (local.get $s1) (local.get $wh))))
          (v128.store (i32.add (local.get $y2) (local.get $o)) (f32x4.add (v128.load (i32.add (local.get $y2) (local.get $o))) (f32x4.mul (local.get $s2) (local.get $wv))))
          (v128.store offset=16 (i32.add (local.get $y2) (local.get $o)) (f32x4.add (v128.load offset=16 (i32.add (local.get $y2) (local.get $o))) (f32x4.mul (local.get $s2) (local.get $wh))))
          (v128.store (i32.add (local.get $y3) (local.get $o)) (f32x4.add (v128.load (i32.add (local.get $y3) (local.get $o))) (f32x4.mul (local.get $s3) (local.get $wv))))
          (v128.store offset=16 (i32.add (local.get $y3) (local.get $o)) (f32x4.add (v128.load offset=16 (i32.add (local.get $y3) (local.get $o))) (f32x4.mul (local.get $s3) (local.get $wh))))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (local.set $c (i32.add (local.get $c) (i32.const 8)))
          (br $fnext)))))
    (block $cdone (loop $cnext
      (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $nc)))
      (if (i32.eqz (local.get $kind))
        (then (local.set $wv (v128.load (local.get $p))))
        (else (local.set $wv (call $ld4_half (local.get $kind) (local.get $p)))))
      (local.set $o (i32.shl (local.get $c) (i32.const 2)))
      (v128.store (i32.add (local.get $y0) (local.get $o))
        (f32x4.add (v128.load (i32.add (local.get $y0) (local.get $o))) (f32x4.mul (local.get $s0) (local.get $wv))))
      (v128.store (i32.add (local.get $y1) (local.get $o))
        (f32x4.add (v128.load (i32.add (local.get $y1) (local.get $o))) (f32x4.mul (local.get $s1) (local.get $wv))))
      (v128.store (i32.add (local.get $y2) (local.get $o))
        (f32x4.add (v128.load (i32.add (local.get $y2) (local.get $o))) (f32x4.mul (local.get $s2) (local.get $wv))))
      (v128.store (i32.add (local.get $y3) (local.get $o))
        (f32x4.add (v128.load (i32.add (local.get $y3) (local.get $o))) (f32x4.mul (local.get $s3) (local.get $wv))))
      (local.set $p (i32.add (local.get $p) (i32.shl (local.get $esize) (i32.const 2))))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $cnext)))
    (block $cdone (loop $cnext
      (br_if $cdone (i32.ge_u (local.get $c) (local.get $nc)))
      (local.set $ws (call $ld1 (local.get $kind) (local.get $p)))
      (local.set $o (i32.shl (local.get $c) (i32.const 2)))
      (f32.store (i32.add (local.get $y0) (local.get $o)) (f32.add (f32.load (i32.add (local.get $y0) (local.get $o))) (f32.mul (local.get $a0) (local.get $ws))))
      (f32.store (i32.add (local.get $y1) (local.get $o)) (f32.add (f32.load (i32.add (local.get $y1) (local.get $o))) (f32.mul (local.get $a1) (local.get $ws))))
      (f32.store (i32.add (local.get $y2) (local.get $o)) (f32.add (f32.load (i32.add (local.get $y2) (local.get $o))) (f32.mul (local.get $a2) (local.get $ws))))
      (f32.store (i32.add (local.get $y3) (local.get $o)) (f32.add (f32.load (i32.add (local.get $y3) (local.get $o))) (f32.mul (local.get $a3) (local.get $ws))))
      (local.set $p (i32.add (local.get $p) (local.get $esize)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cnext))))

  ;; y[0, nc) += a * the row at p, in the same order as $accum_row4 (one output).
  (func $accum_row1 (param $kind i32) (param $esize i32) (param $p i32) (param $nc i32) (param $y i32) (param $a f32)
    (local $c i32) (local $o i32) (local $wv v128) (local $s v128)
    (local.set $s (f32x4.splat (local.get $a)))
    (if (i32.eqz (local.get $kind))
      (then
        (block $fdone (loop $fnext ;; f32: 8 columns a pass
          (br_if $fdone (i32.gt_u (i32.add (local.get $c) (i32.const 8)) (local.get $nc)))
          (local.set $o (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2))))
          (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (f32x4.mul (local.get $s) (v128.load (local.get $p)))))
          (v128.store offset=16 (local.get $o) (f32x4.add (v128.load offset=16 (local.get $o)) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $p)))))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (local.set $c (i32.add (local.get $c) (i32.const 8)))
          (br $fnext)))))
    (block $cdone (loop $cnext
      (br_if $cdone (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $nc)))
      (if (i32.eqz (local.get $kind))
        (then (local.set $wv (v128.load (local.get $p))))
        (else (local.set $wv (call $ld4_half (local.get $kind) (local.get $p)))))
      (local.set $o (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2))))
      (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (f32x4.mul (local.get $s) (local.get $wv))))
      (local.set $p (i32.add (local.get $p) (i32.shl (local.get $esize) (i32.const 2))))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $cnext)))
    (block $cdone (loop $cnext
      (br_if $cdone (i32.ge_u (local.get $c) (local.get $nc)))
      (local.set $o (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2))))
      (f32.store (local.get $o) (f32.add (f32.load (local.get $o)) (f32.mul (local.get $a) (call $ld1 (local.get $kind) (local.get $p)))))
      (local.set $p (i32.add (local.get $p) (local.get $esize)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cnext))))

  (func (export "accum_rows_batch_f32") (param $w i32) (param $coefs i32) (param $ys i32) (param $cols i32) (param $ids i32) (param $n i32) (param $nb i32) (param $owners i32) (param $scratch i32) (param $chunk i32) (param $c0 i32) (param $c1 i32)
    (call $accum_batch (i32.const 0) (i32.const 4) (local.get $w) (local.get $coefs) (local.get $ys) (local.get $cols) (local.get $ids) (local.get $n) (local.get $nb) (local.get $owners) (local.get $scratch) (local.get $chunk) (local.get $c0) (local.get $c1)))
  (func (export "accum_rows_batch_bf16") (param $w i32) (param $coefs i32) (param $ys i32) (param $cols i32) (param $ids i32) (param $n i32) (param $nb i32) (param $owners i32) (param $scratch i32) (param $chunk i32) (param $c0 i32) (param $c1 i32)
    (call $accum_batch (i32.const 1) (i32.const 2) (local.get $w) (local.get $coefs) (local.get $ys) (local.get $cols) (local.get $ids) (local.get $n) (local.get $nb) (local.get $owners) (local.get $scratch) (local.get $chunk) (local.get $c0) (local.get $c1)))
  (func (export "accum_rows_batch_f16") (param $w i32) (param $coefs i32) (param $ys i32) (param $cols i32) (param $ids i32) (param $n i32) (param $nb i32) (param $owners i32) (param $scratch i32) (param $chunk i32) (param $c0 i32) (param $c1 i32)
    (call $accum_batch (i32.const 2) (i32.const 2) (local.get $w) (local.get $coefs) (local.get $ys) (local.get $cols) (local.get $ids) (local.get $n) (local.get $nb) (local.get $owners) (local.get $scratch) (local.get $chunk) (local.get $c0) (local.get $c1)))

  ;; ---------------------------------------------------------------------------------------
  ;; Conversions and the bandwidth probe
  ;; ---------------------------------------------------------------------------------------

  ;; dst[i] = bf16 src[i] as f32, i in [i0, i1).
  (func $widen_bf16 (export "widen_bf16") (param $src i32) (param $dst i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $h v128) (local $z v128)
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $i1)))
      (local.set $h (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
      (v128.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h)))
      (v128.store offset=16 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h)))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (call $bf2f (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; dst[i] = f16 src[i] as f32 (exact), i in [i0, i1).
  (func $widen_f16 (export "widen_f16") (param $src i32) (param $dst i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $h v128) (local $z v128)
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $i1)))
      (local.set $h (v128.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
      (v128.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (call $h2f_x4 (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z) (local.get $h))))
      (v128.store offset=16 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (call $h2f_x4 (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $z) (local.get $h))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
        (call $h2f (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; Streams the 256-byte blocks [b0, b1) at ptr with 16-byte loads summed into 8 i32x4
  ;; accumulators, and stores the sum at sink (so the reads cannot be dropped). Racy stores to
  ;; sink from several threads are harmless: the value is never used.
  (func (export "read_sum") (param $ptr i32) (param $sink i32) (param $b0 i32) (param $b1 i32)
    (local $p i32) (local $end i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $p (i32.add (local.get $ptr) (i32.shl (local.get $b0) (i32.const 8))))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $b1) (i32.const 8))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $a0 (i32x4.add (local.get $a0) (v128.load offset=0 (local.get $p))))
      (local.set $a1 (i32x4.add (local.get $a1) (v128.load offset=16 (local.get $p))))
      (local.set $a2 (i32x4.add (local.get $a2) (v128.load offset=32 (local.get $p))))
      (local.set $a3 (i32x4.add (local.get $a3) (v128.load offset=48 (local.get $p))))
      (local.set $a4 (i32x4.add (local.get $a4) (v128.load offset=64 (local.get $p))))
      (local.set $a5 (i32x4.add (local.get $a5) (v128.load offset=80 (local.get $p))))
      (local.set $a6 (i32x4.add (local.get $a6) (v128.load offset=96 (local.get $p))))
      (local.set $a7 (i32x4.add (local.get $a7) (v128.load offset=112 (local.get $p))))
      (local.set $a0 (i32x4.add (local.get $a0) (v128.load offset=128 (local.get $p))))
      (local.set $a1 (i32x4.add (local.get $a1) (v128.load offset=144 (local.get $p))))
      (local.set $a2 (i32x4.add (local.get $a2) (v128.load offset=160 (local.get $p))))
      (local.set $a3 (i32x4.add (local.get $a3) (v128.load offset=176 (local.get $p))))
      (local.set $a4 (i32x4.add (local.get $a4) (v128.load offset=192 (local.get $p))))
      (local.set $a5 (i32x4.add (local.get $a5) (v128.load offset=208 (local.get $p))))
      (local.set $a6 (i32x4.add (local.get $a6) (v128.load offset=224 (local.get $p))))
      (local.set $a7 (i32x4.add (local.get $a7) (v128.load offset=240 (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 256)))
      (br $next)))
    (v128.store (local.get $sink) (i32x4.add
      (i32x4.add (i32x4.add (local.get $a0) (local.get $a1)) (i32x4.add (local.get $a2) (local.get $a3)))
      (i32x4.add (i32x4.add (local.get $a4) (local.get $a5)) (i32x4.add (local.get $a6) (local.get $a7))))))

  ;; =======================================================================================
  ;; ggml block weights, Q8_0 and Q4_0 (layouts in src/core/numeric/ggml-quant.ts): a row of
  ;; nb blocks, 34 (q8_0) or 18 (q4_0) bytes each, the IEEE half scale d first. Kept apart from
  ;; the dense kernels above (their own functions, no table entries). Every export takes `kind`:
  ;; bit 0 set for q4_0 (else q8_0), bit 1 set for integer activations (else f32), bit 2 for a
  ;; matrix whose half scales are all normal (@normal-scales below), bit 3 for int8 (q4_0 only).
  ;;
  ;; Activations, three modes (measured on one thread, Zen 5, rows of 768 weights):
  ;; * f32 (the default): each weight widened to f32 and multiplied by x as it is, ~7 G weights/s
  ;;   (compute-bound; 7-8 GB/s of q8_0). Agrees with the float64 reference to f32 rounding.
  ;; * int16: x first rounded to 16 bits per 32-column block (the "prepared x", prep_x_blocks),
  ;;   then a block's 32 products are four i32x4.dot_i16x8_s and four blocks share one f32 step:
  ;;   ~19 G weights/s (q8_0), ~20 (q4_0) on a [2048 x 2048] matrix (scripts/block-kernel-rate.mjs),
  ;;   and as fast on weights whose block scales are subnormal halves.
  ;;   The rounding is up to 2^-16 of its block's largest |x| (llama.cpp rounds activations to 8
  ;;   bits): with outliers in x that costs up to ~1e-3 relative on the logits (llama2xs q8_0).
  ;;
  ;; * int8 (q4_0 only; q8_0 weights take int16 in this mode): x rounded to 8 bits per block
  ;;   (dx = max|x| / 127, as llama.cpp rounds its activations), each block's dot two
  ;;   i16x8.relaxed_dot_i8x16_i7x16_s of the signed activations and the unsigned nibbles (its
  ;;   plain-SIMD form $rdot in the plain build: the same integers), the rest as int16 mode.
  ;;   Kind bit 3 (with bit 1). The relaxed instruction is V8's pmaddubsw: 16 products a step;
  ;;   q4_0 [2048 x 2048] one thread 19.9-20.6 (int16) -> 23.8-24.3 G weights/s (the block scales,
  ;;   lane sums and corrections are now most of the loop; the dots alone ran at ~35). The plain
  ;;   build's $rdot is a call (V8 inlines none): ~4x slower, so the backend takes int16 there.
  ;;   (Node 20's V8 gets i32x4.relaxed_dot_i8x16_i7x16_add_s wrong: not used.)
  ;;
  ;; Prepared x (int16 mode), nb * 80 bytes per vector of nb blocks: q[32] i16 per block at 64 b
  ;; (x / dx rounded to nearest even, dx = max|x| / 32767; int8 mode: q[32] i8 at 64 b, dx =
  ;; max|x| / 127, the block's other 32 bytes unused), then the nb dx (f32) at 64 nb + 4 b,
  ;; then the nb corr = 8 * sum(q) (i32) at 68 nb + 4 b (Q4_0 dots take the unsigned nibbles n and
  ;; subtract 8 * sum(q) once), then 8 nb bytes unused. Packing dx (and corr) lets four
  ;; consecutive blocks' values load as one vector.
  ;;
  ;; The half d widens exactly with no denormal arithmetic (multiplying a denormal f32 is a slow
  ;; microcoded case, and small-weight models have many subnormal scales): one at a time
  ;; ($bscale, the weighted row sums) as its bits rebased by an integer add for a normal half and
  ;; as m * 2^-24 for a subnormal one; an inf/NaN scale comes out finite, as no valid file holds
  ;; one. The int16 loops widen four at a time: bits(t + 112 << 23), t = (h << 16 >>s 3) &
  ;; 0x8fffffff, for a normal half, 2^-14 (1 + m/1024) - 2^-14 for a subnormal one ($hscale4).
  ;; That fix-up sits under a branch, and with it in the loop V8's int16 Q8_0 loop ran ~20% slower
  ;; even where it is never taken; so scripts/build-wasm.mjs also assembles a copy of each
  ;; function marked @normal-scales without it ($idot_n, $irows_n), which kind bit 2 selects: set
  ;; by block-kernels.ts for a matrix whose half scales were all normal at upload (noteScales).
  ;; Per row, f32 mode: acc (f32x4) += d * s per block, s the block's 32 products summed as
  ;; ((p0+p1)+(p2+p3))+((p4+p5)+(p6+p7)) over its eight f32x4. int16 mode: blocks in groups of
  ;; four, block 4g + k on lane k: acc (f32x4) += (d * dx) * f32(s), d, dx and s (the block's
  ;; exact integer dot, corrected for q4_0) of the group's four blocks as lanes; the nb % 4 blocks
  ;; after the last group take lanes 0.. of one more such step, the lanes past them adding 0.
  ;; Both: y = (l0 + l2) + (l1 + l3). The order is the same for any row range, thread count and
  ;; batch size, so batched and unbatched results are bit-identical.
  ;; =======================================================================================

  ;; Prepared x for the 32-column blocks [b0, b1) of nv vectors of nb blocks each, back to back
  ;; (x: f32, 128 bytes per block; xq: nb * 80 bytes per vector, layout in the section header).
  (func (export "prep_x_blocks") (param $x i32) (param $xq i32) (param $nb i32) (param $int8 i32) (param $b0 i32) (param $b1 i32)
    (local $b i32) (local $s i32) (local $d i32) (local $v i32) (local $j i32) (local $m v128) (local $amax f32) (local $inv v128) (local $top f32)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128) (local $q4 v128) (local $q5 v128)
    (local $q6 v128) (local $q7 v128) (local $sum v128)
    (local.set $b (local.get $b0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $b) (local.get $b1)))
      (local.set $s (i32.add (local.get $x) (i32.shl (local.get $b) (i32.const 7))))
      (local.set $v (i32.div_u (local.get $b) (local.get $nb)))
      (local.set $j (i32.sub (local.get $b) (i32.mul (local.get $v) (local.get $nb))))
      ;; d: this vector's prepared x, then its block j's values
      (local.set $d (i32.add (local.get $xq) (i32.mul (i32.mul (local.get $v) (local.get $nb)) (i32.const 80))))
      (local.set $m (f32x4.max
        (f32x4.max (f32x4.max (f32x4.abs (v128.load offset=0 (local.get $s))) (f32x4.abs (v128.load offset=16 (local.get $s))))
                   (f32x4.max (f32x4.abs (v128.load offset=32 (local.get $s))) (f32x4.abs (v128.load offset=48 (local.get $s)))))
        (f32x4.max (f32x4.max (f32x4.abs (v128.load offset=64 (local.get $s))) (f32x4.abs (v128.load offset=80 (local.get $s))))
                   (f32x4.max (f32x4.abs (v128.load offset=96 (local.get $s))) (f32x4.abs (v128.load offset=112 (local.get $s)))))))
      (local.set $amax (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
        (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
      (local.set $top (select (f32.const 127) (f32.const 32767) (local.get $int8)))
      (local.set $inv (f32x4.splat (select (f32.div (local.get $top) (local.get $amax)) (f32.const 0)
        (f32.gt (local.get $amax) (f32.const 0)))))
      (local.set $q0 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=0 (local.get $s)) (local.get $inv)))))
      (local.set $q1 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 (local.get $s)) (local.get $inv)))))
      (local.set $q2 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=32 (local.get $s)) (local.get $inv)))))
      (local.set $q3 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=48 (local.get $s)) (local.get $inv)))))
      (local.set $q4 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=64 (local.get $s)) (local.get $inv)))))
      (local.set $q5 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=80 (local.get $s)) (local.get $inv)))))
      (local.set $q6 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=96 (local.get $s)) (local.get $inv)))))
      (local.set $q7 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=112 (local.get $s)) (local.get $inv)))))
      (local.set $s (i32.add (local.get $d) (i32.shl (local.get $j) (i32.const 6))))
      (if (local.get $int8)
        (then
          (v128.store offset=0 (local.get $s) (i8x16.narrow_i16x8_s (i16x8.narrow_i32x4_s (local.get $q0) (local.get $q1))
            (i16x8.narrow_i32x4_s (local.get $q2) (local.get $q3))))
          (v128.store offset=16 (local.get $s) (i8x16.narrow_i16x8_s (i16x8.narrow_i32x4_s (local.get $q4) (local.get $q5))
            (i16x8.narrow_i32x4_s (local.get $q6) (local.get $q7)))))
        (else
          (v128.store offset=0 (local.get $s) (i16x8.narrow_i32x4_s (local.get $q0) (local.get $q1)))
          (v128.store offset=16 (local.get $s) (i16x8.narrow_i32x4_s (local.get $q2) (local.get $q3)))
          (v128.store offset=32 (local.get $s) (i16x8.narrow_i32x4_s (local.get $q4) (local.get $q5)))
          (v128.store offset=48 (local.get $s) (i16x8.narrow_i32x4_s (local.get $q6) (local.get $q7)))))
      (local.set $sum (i32x4.add
        (i32x4.add (i32x4.add (local.get $q0) (local.get $q1)) (i32x4.add (local.get $q2) (local.get $q3)))
        (i32x4.add (i32x4.add (local.get $q4) (local.get $q5)) (i32x4.add (local.get $q6) (local.get $q7)))))
      ;; dx at d + 64 nb + 4 j, corr at d + 68 nb + 4 j
      (local.set $s (i32.add (i32.add (local.get $d) (i32.shl (local.get $nb) (i32.const 6))) (i32.shl (local.get $j) (i32.const 2))))
      (f32.store (local.get $s) (f32.div (local.get $amax) (local.get $top)))
      (i32.store (i32.add (local.get $s) (i32.shl (local.get $nb) (i32.const 2))) (i32.shl (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $sum)) (i32x4.extract_lane 1 (local.get $sum)))
        (i32.add (i32x4.extract_lane 2 (local.get $sum)) (i32x4.extract_lane 3 (local.get $sum)))) (i32.const 3)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $next))))

  ;; Lane k = a[2k] * b[2k] + a[2k+1] * b[2k+1] (i16) for signed bytes a and bytes b in [0, 127]:
  ;; i16x8.relaxed_dot_i8x16_i7x16_s written in plain SIMD. Exact (no lane can overflow: |a| <= 127,
  ;; b <= 15 where it is used), so it is the relaxed instruction's value on every CPU, and
  ;; scripts/build-wasm.mjs puts that instruction in place of each call in the relaxed build.
  (func $rdot (param $a v128) (param $b v128) (result v128)
    (local $lo v128) (local $hi v128)
    (local.set $lo (i16x8.extmul_low_i8x16_s (local.get $a) (local.get $b)))
    (local.set $hi (i16x8.extmul_high_i8x16_s (local.get $a) (local.get $b)))
    (i16x8.add (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $lo) (local.get $hi))
      (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $lo) (local.get $hi))))

  ;; The scale of the block at p (IEEE half) as f32, exactly, and with no denormal operand (a
  ;; subnormal half's m 2^-24 is m times 2^-24; the bench's small synthetic weights have only
  ;; such scales: Q8_0 weighted row sums 4.2 -> 7.5 G weights/s, two threads).
  (func $bscale (param $p i32) (result f32)
    (select
      ;; exponent nonzero: sign, then exponent and mantissa rebased (15 -> 127) by an integer add
      (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p)) (i32.const 0x8000)) (i32.const 16))
        (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
      ;; exponent zero: +-m * 2^-24 (normal operands, an exact product)
      (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p)) (i32.const 0x3ff))) (f32.const 0x1p-24))
        (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p)) (i32.const 16))))
      (i32.and (i32.load16_u (local.get $p)) (i32.const 0x7c00))))

  ;; i32x4 partial sums of one block at p . the prepared block at x (q4_0: unsigned nibbles, not
  ;; corrected; bit 3 of q4: int8 activations); its lanes add up to the block's dot.
  (func $bdoti (param $q4 i32) (param $p i32) (param $x i32) (result v128)
    (local $v0 v128) (local $v1 v128) (local $m v128)
    (if (i32.and (local.get $q4) (i32.const 8)) ;; q4_0, int8 activations
      (then (return (i32x4.extadd_pairwise_i16x8_s (i16x8.add
        (call $rdot (v128.load offset=0 (local.get $x))
          (v128.and (local.tee $v0 (v128.load offset=2 (local.get $p))) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (call $rdot (v128.load offset=16 (local.get $x)) (i8x16.shr_u (local.get $v0) (i32.const 4))))))))
    (if (result v128) (local.get $q4)
      (then
        (local.set $m (v128.const i16x8 15 15 15 15 15 15 15 15))
        (local.set $v0 (v128.load8x8_u offset=2 (local.get $p)))
        (local.set $v1 (v128.load8x8_u offset=10 (local.get $p)))
        (i32x4.add
          (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=0 (local.get $x)))
                     (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=16 (local.get $x))))
          (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=32 (local.get $x)))
                     (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=48 (local.get $x))))))
      (else
        (i32x4.add
          (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=2 (local.get $p)) (v128.load offset=0 (local.get $x)))
                     (i32x4.dot_i16x8_s (v128.load8x8_s offset=10 (local.get $p)) (v128.load offset=16 (local.get $x))))
          (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=18 (local.get $p)) (v128.load offset=32 (local.get $x)))
                     (i32x4.dot_i16x8_s (v128.load8x8_s offset=26 (local.get $p)) (v128.load offset=48 (local.get $x))))))))

  ;; The term (d * dx) * f32(s) of the r (1..3) blocks left after the groups of four: lane k
  ;; for block k (blocks at p, prepared blocks at x, their dx at xd and corrections at xc), lanes
  ;; k >= r zero, so each block lands on the lane it would take in a whole group.
  (func $itail (param $q4 i32) (param $p i32) (param $x i32) (param $xd i32) (param $xc i32) (param $r i32) (result v128)
    (local $bb i32) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $h v128) (local $dx v128) (local $c v128)
    (local.set $bb (select (i32.const 18) (i32.const 34) (local.get $q4)))
    (local.set $s0 (call $bdoti (local.get $q4) (local.get $p) (local.get $x)))
    (local.set $h (v128.load16_lane 1 (local.get $p) (local.get $h)))
    (local.set $dx (v128.load32_lane 0 (local.get $xd) (local.get $dx)))
    (local.set $c (v128.load32_lane 0 (local.get $xc) (local.get $c)))
    (if (i32.gt_u (local.get $r) (i32.const 1)) (then
      (local.set $p (i32.add (local.get $p) (local.get $bb)))
      (local.set $s1 (call $bdoti (local.get $q4) (local.get $p) (i32.add (local.get $x) (i32.const 64))))
      (local.set $h (v128.load16_lane 3 (local.get $p) (local.get $h)))
      (local.set $dx (v128.load32_lane offset=4 1 (local.get $xd) (local.get $dx)))
      (local.set $c (v128.load32_lane offset=4 1 (local.get $xc) (local.get $c)))))
    (if (i32.gt_u (local.get $r) (i32.const 2)) (then
      (local.set $p (i32.add (local.get $p) (local.get $bb)))
      (local.set $s2 (call $bdoti (local.get $q4) (local.get $p) (i32.add (local.get $x) (i32.const 128))))
      (local.set $h (v128.load16_lane 5 (local.get $p) (local.get $h)))
      (local.set $dx (v128.load32_lane offset=8 2 (local.get $xd) (local.get $dx)))
      (local.set $c (v128.load32_lane offset=8 2 (local.get $xc) (local.get $c)))))
    (local.set $s0 (call $isum4 (local.get $s0) (local.get $s1) (local.get $s2) (v128.const i64x2 0 0)))
    (if (local.get $q4) (then (local.set $s0 (i32x4.sub (local.get $s0) (local.get $c)))))
    (f32x4.mul (f32x4.mul (call $hscale4 (local.get $h)) (local.get $dx)) (f32x4.convert_i32x4_s (local.get $s0))))

  ;; Four halves in the high 16 bits of h's i32 lanes (low bits zero) as f32x4, exactly, and with
  ;; no denormal operand (a subnormal half made the multiply by 2^112 of $bscale's trick a slow
  ;; microcoded case, ~2.5x slower decoding on such weights): the magnitude's exponent is rebased
  ;; by an integer add, and a subnormal half (exponent 0) is built as 2^-14 (1 + m/1024) - 2^-14.
  ;; The loops of $idot and $irows write the same steps out, the subnormal fix-up under a branch
  ;; taken only when a lane needs it (unconditional, it cost q8_0 ~17% on normal scales).
  (func $hscale4 (param $h v128) (result v128)
    (local $m16 v128) (local $e0 v128)
    (local.set $m16 (v128.and (i32x4.shr_u (local.get $h) (i32.const 3)) (v128.const i32x4 0x0fffe000 0x0fffe000 0x0fffe000 0x0fffe000)))
    (local.set $e0 (i32x4.eq (v128.and (local.get $m16) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000)) (v128.const i64x2 0 0)))
    (v128.or (v128.and (local.get $h) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
      (f32x4.sub (i32x4.add (local.get $m16) (i32x4.add (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000)
          (v128.and (local.get $e0) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000))))
        (v128.and (local.get $e0) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000)))))

  ;; Written and never read: storing a block's partial sums here makes V8 compute them before it
  ;; loads the next block (without it, it loaded a whole group's 32 vectors first and spilled
  ;; half of them: 40% slower). Each thread's instance has its own.
  (global $fence (mut v128) (v128.const i64x2 0 0))

  ;; int16 mode: dot of one row of nb blocks at p with the prepared x: q8_0 (q4 = 0) or q4_0 (q4 = 1).
  ;; The loops are written out (a call per group of blocks made them much slower).
  ;; @normal-scales begin
  (func $idot (param $q4 i32) (param $p i32) (param $x i32) (param $nb i32) (result f32)
    (local $b i32) (local $n4 i32) (local $xd i32) (local $xc i32) (local $acc v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $v0 v128) (local $v1 v128) (local $m v128)
    (local $z v128) (local $h v128) (local $d v128) (local $e0 v128)
    (local $cm v128) (local $ce v128) (local $cs v128) (local $cb v128) (local $c1 v128) (local $c14 v128) (local $i8 i32) (local $m8 v128)
    (if (i32.and (local.get $q4) (i32.const 4)) (then (return (call $idot_n (local.get $q4) (local.get $p) (local.get $x) (local.get $nb))))) ;; @dispatch
    (local.set $xd (i32.add (local.get $x) (i32.shl (local.get $nb) (i32.const 6))))
    (local.set $xc (i32.add (local.get $xd) (i32.shl (local.get $nb) (i32.const 2))))
    (local.set $n4 (i32.and (local.get $nb) (i32.const -4)))
    (local.set $m (v128.const i16x8 15 15 15 15 15 15 15 15))
    (local.set $m8 (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $i8 (i32.and (local.get $q4) (i32.const 8)))
    (local.set $cm (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff))
    (local.set $ce (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000))
    (local.set $cs (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
    (local.set $cb (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
    (local.set $c1 (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000))
    (local.set $c14 (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))
    (if (i32.and (local.get $q4) (i32.const 1))
      (then
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $b) (local.get $n4)))
          (if (local.get $i8)
            (then ;; int8 activations (q4_0): two 8-bit dot products a block
              (local.set $s0 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                (call $rdot (v128.load offset=0 (local.get $x)) (v128.and (local.tee $v0 (v128.load offset=2 (local.get $p))) (local.get $m8)))
                (call $rdot (v128.load offset=16 (local.get $x)) (i8x16.shr_u (local.get $v0) (i32.const 4))))))
              (local.set $s1 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                (call $rdot (v128.load offset=64 (local.get $x)) (v128.and (local.tee $v0 (v128.load offset=20 (local.get $p))) (local.get $m8)))
                (call $rdot (v128.load offset=80 (local.get $x)) (i8x16.shr_u (local.get $v0) (i32.const 4))))))
              (local.set $s2 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                (call $rdot (v128.load offset=128 (local.get $x)) (v128.and (local.tee $v0 (v128.load offset=38 (local.get $p))) (local.get $m8)))
                (call $rdot (v128.load offset=144 (local.get $x)) (i8x16.shr_u (local.get $v0) (i32.const 4))))))
              (local.set $s3 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                (call $rdot (v128.load offset=192 (local.get $x)) (v128.and (local.tee $v0 (v128.load offset=56 (local.get $p))) (local.get $m8)))
                (call $rdot (v128.load offset=208 (local.get $x)) (i8x16.shr_u (local.get $v0) (i32.const 4)))))))
            (else
              (local.set $v0 (v128.load8x8_u offset=2 (local.get $p)))
              (local.set $v1 (v128.load8x8_u offset=10 (local.get $p)))
              (local.set $s0 (i32x4.add
                (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=0 (local.get $x)))
                           (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=16 (local.get $x))))
                (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=32 (local.get $x)))
                           (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=48 (local.get $x))))))
              (global.set $fence (local.get $s0))
              (local.set $v0 (v128.load8x8_u offset=20 (local.get $p)))
              (local.set $v1 (v128.load8x8_u offset=28 (local.get $p)))
              (local.set $s1 (i32x4.add
                (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=64 (local.get $x)))
                           (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=80 (local.get $x))))
                (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=96 (local.get $x)))
                           (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=112 (local.get $x))))))
              (global.set $fence (local.get $s1))
              (local.set $v0 (v128.load8x8_u offset=38 (local.get $p)))
              (local.set $v1 (v128.load8x8_u offset=46 (local.get $p)))
              (local.set $s2 (i32x4.add
                (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=128 (local.get $x)))
                           (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=144 (local.get $x))))
                (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=160 (local.get $x)))
                           (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=176 (local.get $x))))))
              (global.set $fence (local.get $s2))
              (local.set $v0 (v128.load8x8_u offset=56 (local.get $p)))
              (local.set $v1 (v128.load8x8_u offset=64 (local.get $p)))
              (local.set $s3 (i32x4.add
                (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=192 (local.get $x)))
                           (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=208 (local.get $x))))
                (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=224 (local.get $x)))
                           (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=240 (local.get $x))))))))
          (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))))
          (local.set $s2 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))))
          (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s0) (local.get $s2))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s0) (local.get $s2))))
          (local.set $s0 (i32x4.sub (local.get $s0) (v128.load (i32.add (local.get $xc) (i32.shl (local.get $b) (i32.const 2))))))
          (local.set $h (v128.load16_lane offset=54 7 (local.get $p) (v128.load16_lane offset=36 5 (local.get $p)
            (v128.load16_lane offset=18 3 (local.get $p) (v128.load16_lane offset=0 1 (local.get $p) (local.get $z))))))
          (local.set $d (v128.and (i32x4.shr_s (local.get $h) (i32.const 3)) (local.get $cm)))
          (local.set $e0 (i32x4.eq (v128.and (local.get $d) (local.get $ce)) (local.get $z)))
          (local.set $d (i32x4.add (local.get $d) (local.get $cb)))
          (if (v128.any_true (local.get $e0)) (then
            (local.set $d (v128.or (v128.and (local.get $d) (local.get $cs))
              (f32x4.sub (v128.andnot (i32x4.add (local.get $d) (v128.and (local.get $e0) (local.get $c1))) (local.get $cs))
                (v128.and (local.get $e0) (local.get $c14)))))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (f32x4.mul (local.get $d)
              (v128.load (i32.add (local.get $xd) (i32.shl (local.get $b) (i32.const 2)))))
            (f32x4.convert_i32x4_s (local.get $s0)))))
          (local.set $p (i32.add (local.get $p) (i32.const 72)))
          (local.set $x (i32.add (local.get $x) (i32.const 256)))
          (local.set $b (i32.add (local.get $b) (i32.const 4)))
          (br $next))))
      (else
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $b) (local.get $n4)))
          (local.set $s0 (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=2 (local.get $p)) (v128.load offset=0 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=10 (local.get $p)) (v128.load offset=16 (local.get $x))))
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=18 (local.get $p)) (v128.load offset=32 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=26 (local.get $p)) (v128.load offset=48 (local.get $x))))))
          (global.set $fence (local.get $s0))
          (local.set $s1 (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=36 (local.get $p)) (v128.load offset=64 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=44 (local.get $p)) (v128.load offset=80 (local.get $x))))
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=52 (local.get $p)) (v128.load offset=96 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=60 (local.get $p)) (v128.load offset=112 (local.get $x))))))
          (global.set $fence (local.get $s1))
          (local.set $s2 (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=70 (local.get $p)) (v128.load offset=128 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=78 (local.get $p)) (v128.load offset=144 (local.get $x))))
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=86 (local.get $p)) (v128.load offset=160 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=94 (local.get $p)) (v128.load offset=176 (local.get $x))))))
          (global.set $fence (local.get $s2))
          (local.set $s3 (i32x4.add
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=104 (local.get $p)) (v128.load offset=192 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=112 (local.get $p)) (v128.load offset=208 (local.get $x))))
            (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=120 (local.get $p)) (v128.load offset=224 (local.get $x)))
                       (i32x4.dot_i16x8_s (v128.load8x8_s offset=128 (local.get $p)) (v128.load offset=240 (local.get $x))))))
          (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))))
          (local.set $s2 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))))
          (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s0) (local.get $s2))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s0) (local.get $s2))))
          (local.set $h (v128.load16_lane offset=102 7 (local.get $p) (v128.load16_lane offset=68 5 (local.get $p)
            (v128.load16_lane offset=34 3 (local.get $p) (v128.load16_lane offset=0 1 (local.get $p) (local.get $z))))))
          (local.set $d (v128.and (i32x4.shr_s (local.get $h) (i32.const 3)) (local.get $cm)))
          (local.set $e0 (i32x4.eq (v128.and (local.get $d) (local.get $ce)) (local.get $z)))
          (local.set $d (i32x4.add (local.get $d) (local.get $cb)))
          (if (v128.any_true (local.get $e0)) (then
            (local.set $d (v128.or (v128.and (local.get $d) (local.get $cs))
              (f32x4.sub (v128.andnot (i32x4.add (local.get $d) (v128.and (local.get $e0) (local.get $c1))) (local.get $cs))
                (v128.and (local.get $e0) (local.get $c14)))))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (f32x4.mul (local.get $d)
              (v128.load (i32.add (local.get $xd) (i32.shl (local.get $b) (i32.const 2)))))
            (f32x4.convert_i32x4_s (local.get $s0)))))
          (local.set $p (i32.add (local.get $p) (i32.const 136)))
          (local.set $x (i32.add (local.get $x) (i32.const 256)))
          (local.set $b (i32.add (local.get $b) (i32.const 4)))
          (br $next)))))
    (if (i32.lt_u (local.get $b) (local.get $nb)) (then
      (local.set $acc (f32x4.add (local.get $acc) (call $itail (i32.and (local.get $q4) (i32.const 9)) (local.get $p) (local.get $x)
        (i32.add (local.get $xd) (i32.shl (local.get $b) (i32.const 2))) (i32.add (local.get $xc) (i32.shl (local.get $b) (i32.const 2)))
        (i32.sub (local.get $nb) (local.get $b)))))))
    (call $hsum (local.get $acc)))
  ;; @normal-scales end

  ;; int16 mode: y[i] = W[row(i)] . x for i in [i0, i1) (row(i) as for $brows), each row summed
  ;; exactly as $idot sums it; the rows loop here, so that a row costs no call and no setup.
  ;; @normal-scales begin
  (func $irows (param $q4 i32) (param $w i32) (param $x i32) (param $y i32) (param $nb i32) (param $ids i32)
    (param $i0 i32) (param $i1 i32)
    (local $stride i32) (local $i i32) (local $p i32) (local $xp i32)
    (local $b i32) (local $n4 i32) (local $xd i32) (local $xc i32) (local $acc v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $v0 v128) (local $v1 v128) (local $m v128)
    (local $z v128) (local $h v128) (local $d v128) (local $e0 v128)
    (local $cm v128) (local $ce v128) (local $cs v128) (local $cb v128) (local $c1 v128) (local $c14 v128) (local $i8 i32) (local $m8 v128)
    (if (i32.and (local.get $q4) (i32.const 4)) (then (return (call $irows_n (local.get $q4) (local.get $w) (local.get $x) (local.get $y) (local.get $nb) (local.get $ids) (local.get $i0) (local.get $i1))))) ;; @dispatch
    (local.set $stride (i32.mul (local.get $nb) (select (i32.const 18) (i32.const 34) (i32.and (local.get $q4) (i32.const 1)))))
    (local.set $xd (i32.add (local.get $x) (i32.shl (local.get $nb) (i32.const 6))))
    (local.set $xc (i32.add (local.get $xd) (i32.shl (local.get $nb) (i32.const 2))))
    (local.set $n4 (i32.and (local.get $nb) (i32.const -4)))
    (local.set $m (v128.const i16x8 15 15 15 15 15 15 15 15))
    (local.set $m8 (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $i8 (i32.and (local.get $q4) (i32.const 8)))
    (local.set $cm (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff))
    (local.set $ce (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000))
    (local.set $cs (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
    (local.set $cb (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
    (local.set $c1 (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000))
    (local.set $c14 (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))
    (local.set $i (local.get $i0))
    (block $rows (loop $row
      (br_if $rows (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $p (local.get $i))
      (if (local.get $ids) (then (local.set $p (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $p (i32.add (local.get $w) (i32.mul (local.get $p) (local.get $stride))))
      (local.set $xp (local.get $x))
      (local.set $b (i32.const 0))
      (local.set $acc (local.get $z))
      (if (i32.and (local.get $q4) (i32.const 1))
        (then
          (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $b) (local.get $n4)))
            (if (local.get $i8)
              (then ;; int8 activations (q4_0): two 8-bit dot products a block
                (local.set $s0 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                  (call $rdot (v128.load offset=0 (local.get $xp)) (v128.and (local.tee $v0 (v128.load offset=2 (local.get $p))) (local.get $m8)))
                  (call $rdot (v128.load offset=16 (local.get $xp)) (i8x16.shr_u (local.get $v0) (i32.const 4))))))
                (local.set $s1 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                  (call $rdot (v128.load offset=64 (local.get $xp)) (v128.and (local.tee $v0 (v128.load offset=20 (local.get $p))) (local.get $m8)))
                  (call $rdot (v128.load offset=80 (local.get $xp)) (i8x16.shr_u (local.get $v0) (i32.const 4))))))
                (local.set $s2 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                  (call $rdot (v128.load offset=128 (local.get $xp)) (v128.and (local.tee $v0 (v128.load offset=38 (local.get $p))) (local.get $m8)))
                  (call $rdot (v128.load offset=144 (local.get $xp)) (i8x16.shr_u (local.get $v0) (i32.const 4))))))
                (local.set $s3 (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                  (call $rdot (v128.load offset=192 (local.get $xp)) (v128.and (local.tee $v0 (v128.load offset=56 (local.get $p))) (local.get $m8)))
                  (call $rdot (v128.load offset=208 (local.get $xp)) (i8x16.shr_u (local.get $v0) (i32.const 4)))))))
              (else
                (local.set $v0 (v128.load8x8_u offset=2 (local.get $p)))
                (local.set $v1 (v128.load8x8_u offset=10 (local.get $p)))
                (local.set $s0 (i32x4.add
                  (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=0 (local.get $xp)))
                             (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=16 (local.get $xp))))
                  (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=32 (local.get $xp)))
                             (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=48 (local.get $xp))))))
                (global.set $fence (local.get $s0))
                (local.set $v0 (v128.load8x8_u offset=20 (local.get $p)))
                (local.set $v1 (v128.load8x8_u offset=28 (local.get $p)))
                (local.set $s1 (i32x4.add
                  (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=64 (local.get $xp)))
                             (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=80 (local.get $xp))))
                  (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=96 (local.get $xp)))
                             (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=112 (local.get $xp))))))
                (global.set $fence (local.get $s1))
                (local.set $v0 (v128.load8x8_u offset=38 (local.get $p)))
                (local.set $v1 (v128.load8x8_u offset=46 (local.get $p)))
                (local.set $s2 (i32x4.add
                  (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=128 (local.get $xp)))
                             (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=144 (local.get $xp))))
                  (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=160 (local.get $xp)))
                             (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=176 (local.get $xp))))))
                (global.set $fence (local.get $s2))
                (local.set $v0 (v128.load8x8_u offset=56 (local.get $p)))
                (local.set $v1 (v128.load8x8_u offset=64 (local.get $p)))
                (local.set $s3 (i32x4.add
                  (i32x4.add (i32x4.dot_i16x8_s (v128.and (local.get $v0) (local.get $m)) (v128.load offset=192 (local.get $xp)))
                             (i32x4.dot_i16x8_s (v128.and (local.get $v1) (local.get $m)) (v128.load offset=208 (local.get $xp))))
                  (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v0) (i32.const 4)) (v128.load offset=224 (local.get $xp)))
                             (i32x4.dot_i16x8_s (i16x8.shr_u (local.get $v1) (i32.const 4)) (v128.load offset=240 (local.get $xp))))))))
            (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))))
            (local.set $s2 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))))
            (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s0) (local.get $s2))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s0) (local.get $s2))))
            (local.set $s0 (i32x4.sub (local.get $s0) (v128.load (i32.add (local.get $xc) (i32.shl (local.get $b) (i32.const 2))))))
            (local.set $h (v128.load16_lane offset=54 7 (local.get $p) (v128.load16_lane offset=36 5 (local.get $p)
              (v128.load16_lane offset=18 3 (local.get $p) (v128.load16_lane offset=0 1 (local.get $p) (local.get $z))))))
            (local.set $d (v128.and (i32x4.shr_s (local.get $h) (i32.const 3)) (local.get $cm)))
            (local.set $e0 (i32x4.eq (v128.and (local.get $d) (local.get $ce)) (local.get $z)))
            (local.set $d (i32x4.add (local.get $d) (local.get $cb)))
            (if (v128.any_true (local.get $e0)) (then
              (local.set $d (v128.or (v128.and (local.get $d) (local.get $cs))
                (f32x4.sub (v128.andnot (i32x4.add (local.get $d) (v128.and (local.get $e0) (local.get $c1))) (local.get $cs))
                  (v128.and (local.get $e0) (local.get $c14)))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
              (f32x4.mul (local.get $d)
                (v128.load (i32.add (local.get $xd) (i32.shl (local.get $b) (i32.const 2)))))
              (f32x4.convert_i32x4_s (local.get $s0)))))
            (local.set $p (i32.add (local.get $p) (i32.const 72)))
            (local.set $xp (i32.add (local.get $xp) (i32.const 256)))
            (local.set $b (i32.add (local.get $b) (i32.const 4)))
            (br $next))))
        (else
          (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $b) (local.get $n4)))
            (local.set $s0 (i32x4.add
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=2 (local.get $p)) (v128.load offset=0 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=10 (local.get $p)) (v128.load offset=16 (local.get $xp))))
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=18 (local.get $p)) (v128.load offset=32 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=26 (local.get $p)) (v128.load offset=48 (local.get $xp))))))
            (global.set $fence (local.get $s0))
            (local.set $s1 (i32x4.add
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=36 (local.get $p)) (v128.load offset=64 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=44 (local.get $p)) (v128.load offset=80 (local.get $xp))))
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=52 (local.get $p)) (v128.load offset=96 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=60 (local.get $p)) (v128.load offset=112 (local.get $xp))))))
            (global.set $fence (local.get $s1))
            (local.set $s2 (i32x4.add
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=70 (local.get $p)) (v128.load offset=128 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=78 (local.get $p)) (v128.load offset=144 (local.get $xp))))
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=86 (local.get $p)) (v128.load offset=160 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=94 (local.get $p)) (v128.load offset=176 (local.get $xp))))))
            (global.set $fence (local.get $s2))
            (local.set $s3 (i32x4.add
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=104 (local.get $p)) (v128.load offset=192 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=112 (local.get $p)) (v128.load offset=208 (local.get $xp))))
              (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=120 (local.get $p)) (v128.load offset=224 (local.get $xp)))
                         (i32x4.dot_i16x8_s (v128.load8x8_s offset=128 (local.get $p)) (v128.load offset=240 (local.get $xp))))))
            (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))))
            (local.set $s2 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))))
            (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s0) (local.get $s2))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s0) (local.get $s2))))
            (local.set $h (v128.load16_lane offset=102 7 (local.get $p) (v128.load16_lane offset=68 5 (local.get $p)
              (v128.load16_lane offset=34 3 (local.get $p) (v128.load16_lane offset=0 1 (local.get $p) (local.get $z))))))
            (local.set $d (v128.and (i32x4.shr_s (local.get $h) (i32.const 3)) (local.get $cm)))
            (local.set $e0 (i32x4.eq (v128.and (local.get $d) (local.get $ce)) (local.get $z)))
            (local.set $d (i32x4.add (local.get $d) (local.get $cb)))
            (if (v128.any_true (local.get $e0)) (then
              (local.set $d (v128.or (v128.and (local.get $d) (local.get $cs))
                (f32x4.sub (v128.andnot (i32x4.add (local.get $d) (v128.and (local.get $e0) (local.get $c1))) (local.get $cs))
                  (v128.and (local.get $e0) (local.get $c14)))))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
              (f32x4.mul (local.get $d)
                (v128.load (i32.add (local.get $xd) (i32.shl (local.get $b) (i32.const 2)))))
              (f32x4.convert_i32x4_s (local.get $s0)))))
            (local.set $p (i32.add (local.get $p) (i32.const 136)))
            (local.set $xp (i32.add (local.get $xp) (i32.const 256)))
            (local.set $b (i32.add (local.get $b) (i32.const 4)))
            (br $next)))))
      (if (i32.lt_u (local.get $b) (local.get $nb)) (then
        (local.set $acc (f32x4.add (local.get $acc) (call $itail (i32.and (local.get $q4) (i32.const 9)) (local.get $p) (local.get $xp)
          (i32.add (local.get $xd) (i32.shl (local.get $b) (i32.const 2))) (i32.add (local.get $xc) (i32.shl (local.get $b) (i32.const 2)))
          (i32.sub (local.get $nb) (local.get $b)))))))
      ;; (l0 + l2) + (l1 + l3), as $hsum
      (local.set $acc (f32x4.add (local.get $acc) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $acc) (local.get $acc))))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 2)))
        (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $row))))
  ;; @normal-scales end

  ;; int16 mode: one row against 4 prepared vectors (x0..x3): [row . x0, ..., row . x3], each
  ;; exactly $idot's result (so a batched result equals the unbatched one bit for bit). The row
  ;; is read from memory once: the later three dots find it in the L1 cache (decoding a block
  ;; once for the 4 vectors needed more registers than there are).
  (func $idot4 (param $q4 i32) (param $p i32) (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $nb i32)
    (result v128)
    (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
      (f32x4.splat (call $idot (local.get $q4) (local.get $p) (local.get $x0) (local.get $nb)))
      (call $idot (local.get $q4) (local.get $p) (local.get $x1) (local.get $nb)))
      (call $idot (local.get $q4) (local.get $p) (local.get $x2) (local.get $nb)))
      (call $idot (local.get $q4) (local.get $p) (local.get $x3) (local.get $nb))))

  ;; The i32 sums [s0, s1, s2, s3] of four blocks from their i32x4 partial sums s0..s3.
  (func $isum4 (param $s0 v128) (param $s1 v128) (param $s2 v128) (param $s3 v128) (result v128)
    (local.set $s0 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))))
    (local.set $s2 (i32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))))
    (i32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s0) (local.get $s2))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s0) (local.get $s2))))




  ;; f32 mode: the block's eight f32x4 of weights w0..w7 times x[0, 32) (f32 at x), summed in the
  ;; section's order and scaled by d.
  (func $fterm (param $d f32) (param $x i32) (param $w0 v128) (param $w1 v128) (param $w2 v128) (param $w3 v128)
    (param $w4 v128) (param $w5 v128) (param $w6 v128) (param $w7 v128) (result v128)
    (f32x4.mul (f32x4.splat (local.get $d)) (f32x4.add
      (f32x4.add (f32x4.add (f32x4.mul (local.get $w0) (v128.load offset=0 (local.get $x))) (f32x4.mul (local.get $w1) (v128.load offset=16 (local.get $x))))
                 (f32x4.add (f32x4.mul (local.get $w2) (v128.load offset=32 (local.get $x))) (f32x4.mul (local.get $w3) (v128.load offset=48 (local.get $x)))))
      (f32x4.add (f32x4.add (f32x4.mul (local.get $w4) (v128.load offset=64 (local.get $x))) (f32x4.mul (local.get $w5) (v128.load offset=80 (local.get $x))))
                 (f32x4.add (f32x4.mul (local.get $w6) (v128.load offset=96 (local.get $x))) (f32x4.mul (local.get $w7) (v128.load offset=112 (local.get $x))))))))

  ;; f32 mode: dot of one row of nb blocks at p with x (f32). Loops written out per format (a call
  ;; per block slowed the loop).
  (func $fdot (param $q4 i32) (param $p i32) (param $x i32) (param $nb i32) (result f32)
    (local $b i32) (local $acc v128) (local $v v128) (local $g v128) (local $lo v128) (local $hi v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (if (local.get $q4)
      (then
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $b) (local.get $nb)))
          (local.set $v (v128.load offset=2 (local.get $p)))
          (local.set $lo (i8x16.sub (v128.and (local.get $v) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
            (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8)))
          (local.set $hi (i8x16.sub (i8x16.shr_u (local.get $v) (i32.const 4)) (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8)))
          (local.set $g (i16x8.extend_low_i8x16_s (local.get $lo)))
          (local.set $t0 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=0 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=16 (local.get $x)))))
          (local.set $g (i16x8.extend_high_i8x16_s (local.get $lo)))
          (local.set $t1 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=32 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=48 (local.get $x)))))
          (local.set $g (i16x8.extend_low_i8x16_s (local.get $hi)))
          (local.set $t2 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=64 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=80 (local.get $x)))))
          (local.set $g (i16x8.extend_high_i8x16_s (local.get $hi)))
          (local.set $t3 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=96 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=112 (local.get $x)))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.splat (call $bscale (local.get $p)))
            (f32x4.add (f32x4.add (local.get $t0) (local.get $t1)) (f32x4.add (local.get $t2) (local.get $t3))))))
          (local.set $p (i32.add (local.get $p) (i32.const 18)))
          (local.set $x (i32.add (local.get $x) (i32.const 128)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $next))))
      (else
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $b) (local.get $nb)))
          (local.set $g (v128.load8x8_s offset=2 (local.get $p)))
          (local.set $t0 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=0 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=16 (local.get $x)))))
          (local.set $g (v128.load8x8_s offset=10 (local.get $p)))
          (local.set $t1 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=32 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=48 (local.get $x)))))
          (local.set $g (v128.load8x8_s offset=18 (local.get $p)))
          (local.set $t2 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=64 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=80 (local.get $x)))))
          (local.set $g (v128.load8x8_s offset=26 (local.get $p)))
          (local.set $t3 (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $g))) (v128.load offset=96 (local.get $x)))
            (f32x4.mul (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $g))) (v128.load offset=112 (local.get $x)))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.splat (call $bscale (local.get $p)))
            (f32x4.add (f32x4.add (local.get $t0) (local.get $t1)) (f32x4.add (local.get $t2) (local.get $t3))))))
          (local.set $p (i32.add (local.get $p) (i32.const 34)))
          (local.set $x (i32.add (local.get $x) (i32.const 128)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $next)))))
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 2 (local.get $acc)))
             (f32.add (f32x4.extract_lane 1 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))

  ;; The 32 weights of the block at p as eight f32x4 (unscaled integers), for the 4-vector dot.
  (func $fwiden (param $q4 i32) (param $p i32) (result v128 v128 v128 v128 v128 v128 v128 v128)
    (local $a v128) (local $b v128) (local $c v128) (local $e v128) (local $v v128)
    (if (local.get $q4)
      (then
        (local.set $v (v128.load offset=2 (local.get $p)))
        (local.set $a (i8x16.sub (v128.and (local.get $v) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
          (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8)))
        (local.set $c (i8x16.sub (i8x16.shr_u (local.get $v) (i32.const 4)) (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8)))
        (local.set $b (i16x8.extend_high_i8x16_s (local.get $a)))
        (local.set $a (i16x8.extend_low_i8x16_s (local.get $a)))
        (local.set $e (i16x8.extend_high_i8x16_s (local.get $c)))
        (local.set $c (i16x8.extend_low_i8x16_s (local.get $c))))
      (else
        (local.set $a (v128.load8x8_s offset=2 (local.get $p)))
        (local.set $b (v128.load8x8_s offset=10 (local.get $p)))
        (local.set $c (v128.load8x8_s offset=18 (local.get $p)))
        (local.set $e (v128.load8x8_s offset=26 (local.get $p)))))
    (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $a)))
    (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $a)))
    (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $b)))
    (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $b)))
    (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $c)))
    (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $c)))
    (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $e)))
    (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $e))))

  ;; f32 mode: one row against 4 vectors x0..x3 (f32), each lane in $fdot's order.
  (func $fdot4 (param $q4 i32) (param $p i32) (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32) (param $nb i32)
    (result v128)
    (local $b i32) (local $d f32) (local $bb i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128) (local $w4 v128) (local $w5 v128) (local $w6 v128) (local $w7 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $bb (select (i32.const 18) (i32.const 34) (local.get $q4)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $b) (local.get $nb)))
      (local.set $d (call $bscale (local.get $p)))
      (call $fwiden (local.get $q4) (local.get $p))
      (local.set $w7) (local.set $w6) (local.set $w5) (local.set $w4)
      (local.set $w3) (local.set $w2) (local.set $w1) (local.set $w0)
      (local.set $a0 (f32x4.add (local.get $a0) (call $fterm (local.get $d) (local.get $x0) (local.get $w0) (local.get $w1)
        (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7))))
      (local.set $a1 (f32x4.add (local.get $a1) (call $fterm (local.get $d) (local.get $x1) (local.get $w0) (local.get $w1)
        (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7))))
      (local.set $a2 (f32x4.add (local.get $a2) (call $fterm (local.get $d) (local.get $x2) (local.get $w0) (local.get $w1)
        (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7))))
      (local.set $a3 (f32x4.add (local.get $a3) (call $fterm (local.get $d) (local.get $x3) (local.get $w0) (local.get $w1)
        (local.get $w2) (local.get $w3) (local.get $w4) (local.get $w5) (local.get $w6) (local.get $w7))))
      (local.set $p (i32.add (local.get $p) (local.get $bb)))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 128)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 128)))
      (local.set $x2 (i32.add (local.get $x2) (i32.const 128)))
      (local.set $x3 (i32.add (local.get $x3) (i32.const 128)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $next)))
    (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))

  ;; One row dot in either mode (kind bit 1: int16).
  (func $bdot (param $kind i32) (param $p i32) (param $x i32) (param $nb i32) (result f32)
    (if (result f32) (i32.and (local.get $kind) (i32.const 2))
      (then (call $idot (i32.and (local.get $kind) (i32.const 13)) (local.get $p) (local.get $x) (local.get $nb)))
      (else (call $fdot (i32.and (local.get $kind) (i32.const 1)) (local.get $p) (local.get $x) (local.get $nb)))))

  ;; y[i] = W[row(i)] . x for i in [i0, i1); row(i) = ids[i] when ids != 0, else i.
  (func $brows (param $kind i32) (param $w i32) (param $x i32) (param $y i32) (param $nb i32) (param $ids i32)
    (param $i0 i32) (param $i1 i32)
    (local $stride i32) (local $i i32) (local $r i32)
    (if (i32.and (local.get $kind) (i32.const 2)) (then
      (call $irows (i32.and (local.get $kind) (i32.const 13)) (local.get $w) (local.get $x) (local.get $y) (local.get $nb) (local.get $ids)
        (local.get $i0) (local.get $i1))
      (return)))
    (local.set $stride (i32.mul (local.get $nb) (select (i32.const 18) (i32.const 34) (i32.and (local.get $kind) (i32.const 1)))))
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $r (local.get $i))
      (if (local.get $ids) (then (local.set $r (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 2)))
        (call $bdot (local.get $kind) (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride))) (local.get $x) (local.get $nb)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  (func (export "matvec_blocks") (param $w i32) (param $x i32) (param $y i32) (param $nb i32) (param $kind i32) (param $r0 i32) (param $r1 i32)
    (call $brows (local.get $kind) (local.get $w) (local.get $x) (local.get $y) (local.get $nb) (i32.const 0) (local.get $r0) (local.get $r1)))
  (func (export "matvec_rows_blocks") (param $w i32) (param $x i32) (param $y i32) (param $nb i32) (param $ids i32) (param $kind i32) (param $i0 i32) (param $i1 i32)
    (call $brows (local.get $kind) (local.get $w) (local.get $x) (local.get $y) (local.get $nb) (local.get $ids) (local.get $i0) (local.get $i1)))

  ;; ys[v*rows + i] = W[row(i)] . xs[v] for i in [i0, i1), v < nv (xs: nv vectors back to back,
  ;; f32 or prepared; ys: nv rows of `rows` f32): each row read once for 4 vectors at a time, then singly.
  ;; With owners != 0 (nv <= 32), owners[i] is row i's mask (bit v: vector v needs it): only those
  ;; are computed ($bbatch_row_own), every other output of the row is 0.
  (func $bbatch (param $kind i32) (param $w i32) (param $xs i32) (param $ys i32) (param $nb i32) (param $rows i32)
    (param $nv i32) (param $ids i32) (param $owners i32) (param $i0 i32) (param $i1 i32)
    (local $q4 i32) (local $stride i32) (local $xstride i32) (local $ystride i32) (local $i i32) (local $r i32) (local $v i32)
    (local $p i32) (local $x i32) (local $out i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local.set $q4 (i32.and (local.get $kind) (i32.const 1)))
    (local.set $stride (i32.mul (local.get $nb) (select (i32.const 18) (i32.const 34) (local.get $q4))))
    (local.set $xstride (i32.mul (local.get $nb) (select (i32.const 80) (i32.const 128) (i32.and (local.get $kind) (i32.const 2)))))
    (local.set $ystride (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $r (local.get $i))
      (if (local.get $ids) (then (local.set $r (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $p (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride))))
      (if (local.get $owners)
        (then
          (call $bbatch_row_own (local.get $kind) (local.get $p) (local.get $xs) (local.get $xstride)
            (i32.add (local.get $ys) (i32.shl (local.get $i) (i32.const 2))) (local.get $ystride) (local.get $nb) (local.get $nv)
            (i32.load (i32.add (local.get $owners) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.set $v (i32.const 0))
      (block $vdone (loop $vnext
        (br_if $vdone (i32.ge_u (local.get $v) (local.get $nv)))
        (local.set $x (i32.add (local.get $xs) (i32.mul (local.get $v) (local.get $xstride))))
        (local.set $out (i32.add (i32.add (local.get $ys) (i32.mul (local.get $v) (local.get $ystride)))
          (i32.shl (local.get $i) (i32.const 2))))
        (if (i32.le_u (i32.add (local.get $v) (i32.const 4)) (local.get $nv))
          (then
            (local.set $x1 (i32.add (local.get $x) (local.get $xstride)))
            (local.set $x2 (i32.add (local.get $x1) (local.get $xstride)))
            (local.set $x3 (i32.add (local.get $x2) (local.get $xstride)))
            (call $store4
              (if (result v128) (i32.and (local.get $kind) (i32.const 2))
                (then (call $idot4 (i32.and (local.get $kind) (i32.const 13)) (local.get $p) (local.get $x) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $nb)))
                (else (call $fdot4 (local.get $q4) (local.get $p) (local.get $x) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $nb))))
              (local.get $out) (local.get $ystride))
            (local.set $v (i32.add (local.get $v) (i32.const 4)))
            (br $vnext)))
        (f32.store (local.get $out) (call $bdot (local.get $kind) (local.get $p) (local.get $x) (local.get $nb)))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $vnext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; One block row at p against the vectors whose bits are set in m (vector v at xs + v*xstride,
  ;; its output at out + v*ostride), every other output of the row set to 0. A lane of the
  ;; 4-vector dots equals the one-vector dot whatever the other lanes hold, so owned vectors go
  ;; 4 at a time (3 repeat their last), and 1 or 2 left one at a time.
  (func $bbatch_row_own (param $kind i32) (param $p i32) (param $xs i32) (param $xstride i32)
    (param $out i32) (param $ostride i32) (param $nb i32) (param $nv i32) (param $m i32)
    (local $q4 i32) (local $v i32) (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32) (local $r v128)
    (local.set $q4 (i32.and (local.get $kind) (i32.const 1)))
    (local.set $v (i32.const 0))
    (block $zdone (loop $znext
      (br_if $zdone (i32.ge_u (local.get $v) (local.get $nv)))
      (f32.store (i32.add (local.get $out) (i32.mul (local.get $v) (local.get $ostride))) (f32.const 0))
      (local.set $v (i32.add (local.get $v) (i32.const 1)))
      (br $znext)))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $m)))
      (if (i32.ge_u (i32.popcnt (local.get $m)) (i32.const 3))
        (then
          (global.set $owned_work (i32.add (global.get $owned_work)
            (select (i32.const 4) (i32.const 3) (i32.ge_u (i32.popcnt (local.get $m)) (i32.const 4)))))
          (local.set $v (i32.ctz (local.get $m)))
          (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
          (local.set $x0 (i32.add (local.get $xs) (i32.mul (local.get $v) (local.get $xstride))))
          (local.set $o0 (i32.add (local.get $out) (i32.mul (local.get $v) (local.get $ostride))))
          (local.set $v (i32.ctz (local.get $m)))
          (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
          (local.set $x1 (i32.add (local.get $xs) (i32.mul (local.get $v) (local.get $xstride))))
          (local.set $o1 (i32.add (local.get $out) (i32.mul (local.get $v) (local.get $ostride))))
          (local.set $v (i32.ctz (local.get $m)))
          (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
          (local.set $x2 (i32.add (local.get $xs) (i32.mul (local.get $v) (local.get $xstride))))
          (local.set $o2 (i32.add (local.get $out) (i32.mul (local.get $v) (local.get $ostride))))
          (local.set $v (call $low_or (local.get $m) (local.get $v)))
          (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
          (local.set $x3 (i32.add (local.get $xs) (i32.mul (local.get $v) (local.get $xstride))))
          (local.set $o3 (i32.add (local.get $out) (i32.mul (local.get $v) (local.get $ostride))))
          (local.set $r (if (result v128) (i32.and (local.get $kind) (i32.const 2))
            (then (call $idot4 (i32.and (local.get $kind) (i32.const 13)) (local.get $p) (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $nb)))
            (else (call $fdot4 (local.get $q4) (local.get $p) (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $nb)))))
          (f32.store (local.get $o0) (f32x4.extract_lane 0 (local.get $r)))
          (f32.store (local.get $o1) (f32x4.extract_lane 1 (local.get $r)))
          (f32.store (local.get $o2) (f32x4.extract_lane 2 (local.get $r)))
          (f32.store (local.get $o3) (f32x4.extract_lane 3 (local.get $r)))
          (br $next)))
      (global.set $owned_work (i32.add (global.get $owned_work) (i32.const 1)))
      (local.set $v (i32.ctz (local.get $m)))
      (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
      (f32.store (i32.add (local.get $out) (i32.mul (local.get $v) (local.get $ostride)))
        (call $bdot (local.get $kind) (local.get $p) (i32.add (local.get $xs) (i32.mul (local.get $v) (local.get $xstride))) (local.get $nb)))
      (br $next))))

  (func (export "matvec_batch_blocks") (param $w i32) (param $xs i32) (param $ys i32) (param $nb i32) (param $rows i32) (param $nv i32) (param $kind i32) (param $owners i32) (param $r0 i32) (param $r1 i32)
    (call $bbatch (local.get $kind) (local.get $w) (local.get $xs) (local.get $ys) (local.get $nb) (local.get $rows) (local.get $nv) (i32.const 0) (local.get $owners) (local.get $r0) (local.get $r1)))
  (func (export "matvec_rows_batch_blocks") (param $w i32) (param $xs i32) (param $ys i32) (param $nb i32) (param $n i32) (param $nv i32) (param $ids i32) (param $kind i32) (param $owners i32) (param $i0 i32) (param $i1 i32)
    (call $bbatch (local.get $kind) (local.get $w) (local.get $xs) (local.get $ys) (local.get $nb) (local.get $n) (local.get $nv) (local.get $ids) (local.get $owners) (local.get $i0) (local.get $i1)))

  ;; ---------------------------------------------------------------------------------------
  ;; Weighted sums of block rows (W_out as neuron rows): the weights are widened to f32 here (the
  ;; coefficients are the activations, one per row, so there is no dot product to do in integers).
  ;; ---------------------------------------------------------------------------------------

  ;; The 32 weights of the block at p, times s, added into y[0, 32) (f32).
  (func $bacc (param $q4 i32) (param $p i32) (param $s f32) (param $y i32)
    (local $sv v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local.set $sv (f32x4.splat (f32.mul (local.get $s) (call $bscale (local.get $p)))))
    (if (local.get $q4)
      (then
        (local.set $v2 (v128.load8x8_u offset=2 (local.get $p)))
        (local.set $v3 (v128.load8x8_u offset=10 (local.get $p)))
        (local.set $v0 (i16x8.sub (v128.and (local.get $v2) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $v1 (i16x8.sub (v128.and (local.get $v3) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $v2 (i16x8.sub (i16x8.shr_u (local.get $v2) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $v3 (i16x8.sub (i16x8.shr_u (local.get $v3) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8))))
      (else
        (local.set $v0 (v128.load8x8_s offset=2 (local.get $p)))
        (local.set $v1 (v128.load8x8_s offset=10 (local.get $p)))
        (local.set $v2 (v128.load8x8_s offset=18 (local.get $p)))
        (local.set $v3 (v128.load8x8_s offset=26 (local.get $p)))))
    (v128.store offset=0 (local.get $y) (f32x4.add (v128.load offset=0 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v0))))))
    (v128.store offset=16 (local.get $y) (f32x4.add (v128.load offset=16 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v0))))))
    (v128.store offset=32 (local.get $y) (f32x4.add (v128.load offset=32 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v1))))))
    (v128.store offset=48 (local.get $y) (f32x4.add (v128.load offset=48 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v1))))))
    (v128.store offset=64 (local.get $y) (f32x4.add (v128.load offset=64 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v2))))))
    (v128.store offset=80 (local.get $y) (f32x4.add (v128.load offset=80 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v2))))))
    (v128.store offset=96 (local.get $y) (f32x4.add (v128.load offset=96 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v3))))))
    (v128.store offset=112 (local.get $y) (f32x4.add (v128.load offset=112 (local.get $y))
      (f32x4.mul (local.get $sv) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v3)))))))

  ;; Where block k0 of listed row i starts (row(i) = ids[i] when ids != 0, else i).
  (func $brow (param $w i32) (param $ids i32) (param $i i32) (param $stride i32) (param $k0 i32) (param $bb i32) (result i32)
    (if (local.get $ids) (then (local.set $i (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
    (i32.add (i32.add (local.get $w) (i32.mul (local.get $i) (local.get $stride))) (i32.mul (local.get $k0) (local.get $bb))))

  ;; Four rows' weighted blocks at once (same sums as four $bacc calls in row order, so the same
  ;; bits: each y lane gets ((((y + a0) + a1) + a2) + a3)): blocks [0, nk) of the rows at p0..p3
  ;; (consecutive blocks bb bytes apart) times c0..c3, added into y (nk * 32 floats). y is loaded
  ;; and stored once per four rows, and no call is made per block.
  (func $bacc4 (param $q4 i32) (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
    (param $c0 f32) (param $c1 f32) (param $c2 f32) (param $c3 f32) (param $y i32) (param $nk i32) (param $bb i32)
    (local $k i32) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $v v128) (local $lo v128) (local $hi v128)
    (if (local.get $q4)
      (then
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $k) (local.get $nk)))
        (local.set $s0 (f32x4.splat (f32.mul (local.get $c0) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p0)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x7c00))))))
        (local.set $s1 (f32x4.splat (f32.mul (local.get $c1) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p1)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x7c00))))))
        (local.set $s2 (f32x4.splat (f32.mul (local.get $c2) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p2)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x7c00))))))
        (local.set $s3 (f32x4.splat (f32.mul (local.get $c3) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p3)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x7c00))))))
        (local.set $lo (v128.load offset=0 (local.get $y)))
        (local.set $hi (v128.load offset=16 (local.get $y)))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=2 (local.get $p0)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=2 (local.get $p1)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=2 (local.get $p2)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=2 (local.get $p3)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=0 (local.get $y) (local.get $lo))
        (v128.store offset=16 (local.get $y) (local.get $hi))
        (local.set $lo (v128.load offset=32 (local.get $y)))
        (local.set $hi (v128.load offset=48 (local.get $y)))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=10 (local.get $p0)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=10 (local.get $p1)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=10 (local.get $p2)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (v128.and (v128.load8x8_u offset=10 (local.get $p3)) (v128.const i16x8 15 15 15 15 15 15 15 15)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=32 (local.get $y) (local.get $lo))
        (v128.store offset=48 (local.get $y) (local.get $hi))
        (local.set $lo (v128.load offset=64 (local.get $y)))
        (local.set $hi (v128.load offset=80 (local.get $y)))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=2 (local.get $p0)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=2 (local.get $p1)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=2 (local.get $p2)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=2 (local.get $p3)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=64 (local.get $y) (local.get $lo))
        (v128.store offset=80 (local.get $y) (local.get $hi))
        (local.set $lo (v128.load offset=96 (local.get $y)))
        (local.set $hi (v128.load offset=112 (local.get $y)))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=10 (local.get $p0)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=10 (local.get $p1)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=10 (local.get $p2)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (i16x8.sub (i16x8.shr_u (v128.load8x8_u offset=10 (local.get $p3)) (i32.const 4)) (v128.const i16x8 8 8 8 8 8 8 8 8)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=96 (local.get $y) (local.get $lo))
        (v128.store offset=112 (local.get $y) (local.get $hi))
          (local.set $p0 (i32.add (local.get $p0) (local.get $bb)))
          (local.set $p1 (i32.add (local.get $p1) (local.get $bb)))
          (local.set $p2 (i32.add (local.get $p2) (local.get $bb)))
          (local.set $p3 (i32.add (local.get $p3) (local.get $bb)))
          (local.set $y (i32.add (local.get $y) (i32.const 128)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $next))))
      (else
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $k) (local.get $nk)))
        (local.set $s0 (f32x4.splat (f32.mul (local.get $c0) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p0)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p0)) (i32.const 0x7c00))))))
        (local.set $s1 (f32x4.splat (f32.mul (local.get $c1) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p1)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p1)) (i32.const 0x7c00))))))
        (local.set $s2 (f32x4.splat (f32.mul (local.get $c2) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p2)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p2)) (i32.const 0x7c00))))))
        (local.set $s3 (f32x4.splat (f32.mul (local.get $c3) (select
          (f32.reinterpret_i32 (i32.or (i32.shl (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x8000)) (i32.const 16)) (i32.add (i32.shl (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x7fff)) (i32.const 13)) (i32.const 0x38000000))))
          (f32.copysign (f32.mul (f32.convert_i32_u (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x3ff))) (f32.const 0x1p-24)) (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p3)) (i32.const 16))))
          (i32.and (i32.load16_u (local.get $p3)) (i32.const 0x7c00))))))
        (local.set $lo (v128.load offset=0 (local.get $y)))
        (local.set $hi (v128.load offset=16 (local.get $y)))
        (local.set $v (v128.load8x8_s offset=2 (local.get $p0)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=2 (local.get $p1)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=2 (local.get $p2)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=2 (local.get $p3)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=0 (local.get $y) (local.get $lo))
        (v128.store offset=16 (local.get $y) (local.get $hi))
        (local.set $lo (v128.load offset=32 (local.get $y)))
        (local.set $hi (v128.load offset=48 (local.get $y)))
        (local.set $v (v128.load8x8_s offset=10 (local.get $p0)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=10 (local.get $p1)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=10 (local.get $p2)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=10 (local.get $p3)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=32 (local.get $y) (local.get $lo))
        (v128.store offset=48 (local.get $y) (local.get $hi))
        (local.set $lo (v128.load offset=64 (local.get $y)))
        (local.set $hi (v128.load offset=80 (local.get $y)))
        (local.set $v (v128.load8x8_s offset=18 (local.get $p0)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=18 (local.get $p1)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=18 (local.get $p2)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=18 (local.get $p3)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=64 (local.get $y) (local.get $lo))
        (v128.store offset=80 (local.get $y) (local.get $hi))
        (local.set $lo (v128.load offset=96 (local.get $y)))
        (local.set $hi (v128.load offset=112 (local.get $y)))
        (local.set $v (v128.load8x8_s offset=26 (local.get $p0)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s0) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=26 (local.get $p1)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=26 (local.get $p2)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s2) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (local.set $v (v128.load8x8_s offset=26 (local.get $p3)))
        (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $v))))))
        (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $s3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $v))))))
        (v128.store offset=96 (local.get $y) (local.get $lo))
        (v128.store offset=112 (local.get $y) (local.get $hi))
          (local.set $p0 (i32.add (local.get $p0) (local.get $bb)))
          (local.set $p1 (i32.add (local.get $p1) (local.get $bb)))
          (local.set $p2 (i32.add (local.get $p2) (local.get $bb)))
          (local.set $p3 (i32.add (local.get $p3) (local.get $bb)))
          (local.set $y (i32.add (local.get $y) (i32.const 128)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $next))))))

  ;; y[32 k0, 32 k1) = sum_i coef[i] * W[row(i)] over those column blocks, rows i in [i0, n)
  ;; (row(i) = ids[i] when ids != 0, else i), y zeroed first. Rows in order; within a block the
  ;; products of one row are added at once, so the order is the same for any split of the blocks.
  (func $baccum (param $q4 i32) (param $w i32) (param $coef i32) (param $y i32) (param $nb i32) (param $ids i32)
    (param $n i32) (param $k0 i32) (param $k1 i32) (param $i0 i32)
    (local $stride i32) (local $bb i32) (local $i i32) (local $r i32) (local $k i32) (local $p i32) (local $yp i32) (local $s f32)
    (local.set $bb (select (i32.const 18) (i32.const 34) (local.get $q4)))
    (local.set $stride (i32.mul (local.get $nb) (local.get $bb)))
    (memory.fill (i32.add (local.get $y) (i32.shl (local.get $k0) (i32.const 7))) (i32.const 0)
      (i32.shl (i32.sub (local.get $k1) (local.get $k0)) (i32.const 7)))
    (local.set $i (local.get $i0))
    (block $done4 (loop $next4 ;; rows four at a time (same order and bits as one at a time)
      (br_if $done4 (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
      (call $bacc4 (local.get $q4)
        (call $brow (local.get $w) (local.get $ids) (local.get $i) (local.get $stride) (local.get $k0) (local.get $bb))
        (call $brow (local.get $w) (local.get $ids) (i32.add (local.get $i) (i32.const 1)) (local.get $stride) (local.get $k0) (local.get $bb))
        (call $brow (local.get $w) (local.get $ids) (i32.add (local.get $i) (i32.const 2)) (local.get $stride) (local.get $k0) (local.get $bb))
        (call $brow (local.get $w) (local.get $ids) (i32.add (local.get $i) (i32.const 3)) (local.get $stride) (local.get $k0) (local.get $bb))
        (f32.load offset=0 (i32.add (local.get $coef) (i32.shl (local.get $i) (i32.const 2))))
        (f32.load offset=4 (i32.add (local.get $coef) (i32.shl (local.get $i) (i32.const 2))))
        (f32.load offset=8 (i32.add (local.get $coef) (i32.shl (local.get $i) (i32.const 2))))
        (f32.load offset=12 (i32.add (local.get $coef) (i32.shl (local.get $i) (i32.const 2))))
        (i32.add (local.get $y) (i32.shl (local.get $k0) (i32.const 7)))
        (i32.sub (local.get $k1) (local.get $k0)) (local.get $bb))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $next4)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $r (local.get $i))
      (if (local.get $ids) (then (local.set $r (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $s (f32.load (i32.add (local.get $coef) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $p (i32.add (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride))) (i32.mul (local.get $k0) (local.get $bb))))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $k0) (i32.const 7))))
      (local.set $k (local.get $k0))
      (block $kdone (loop $knext
        (br_if $kdone (i32.ge_u (local.get $k) (local.get $k1)))
        (call $bacc (local.get $q4) (local.get $p) (local.get $s) (local.get $yp))
        (local.set $p (i32.add (local.get $p) (local.get $bb)))
        (local.set $yp (i32.add (local.get $yp) (i32.const 128)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $knext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; Column split: blocks [k0, k1) of y for every listed row (kind bit 0: q4_0).
  (func (export "accum_rows_blocks") (param $w i32) (param $coef i32) (param $y i32) (param $nb i32) (param $ids i32) (param $n i32) (param $kind i32) (param $k0 i32) (param $k1 i32)
    (call $baccum (i32.and (local.get $kind) (i32.const 1)) (local.get $w) (local.get $coef) (local.get $y) (local.get $nb) (local.get $ids) (local.get $n) (local.get $k0) (local.get $k1) (i32.const 0)))
  ;; Row split: rows [i0, i1) into partial sum number i0 / chunk at parts + that * nb * 128 (all
  ;; columns); the host adds the partial sums.
  (func (export "accum_rows_part_blocks") (param $w i32) (param $coef i32) (param $parts i32) (param $nb i32) (param $ids i32) (param $chunk i32) (param $kind i32) (param $i0 i32) (param $i1 i32)
    (call $baccum (i32.and (local.get $kind) (i32.const 1)) (local.get $w) (local.get $coef)
      (i32.add (local.get $parts) (i32.shl (i32.mul (i32.div_u (local.get $i0) (local.get $chunk)) (local.get $nb)) (i32.const 7)))
      (local.get $nb) (local.get $ids) (local.get $i1) (i32.const 0) (local.get $nb) (local.get $i0)))

  ;; ys[v*cols + c] = sum_i coefs[i*nv + v] * W[row(i), c] for v < nv, c in blocks [k0, k1): each
  ;; listed block read once for all nv outputs (per output the same order as $baccum). The
  ;; coefficients come row-major, [n, nv], as for $accum_batch_any.
  ;; With owners != 0 (nv <= 32), row i is added only into the outputs whose bits are set in
  ;; owners[i] (what a coefficient of 0 gives elsewhere, bit for bit: see $accum_batch_own), and a
  ;; row without owners is not read.
  (func $baccum_batch (param $q4 i32) (param $w i32) (param $coefs i32) (param $ys i32) (param $nb i32) (param $ids i32)
    (param $n i32) (param $nv i32) (param $owners i32) (param $k0 i32) (param $k1 i32)
    (local $stride i32) (local $bb i32) (local $ystride i32) (local $i i32) (local $r i32) (local $k i32) (local $v i32) (local $p i32)
    (local $m i32) (local $mm i32)
    (local.set $bb (select (i32.const 18) (i32.const 34) (local.get $q4)))
    (local.set $stride (i32.mul (local.get $nb) (local.get $bb)))
    (local.set $ystride (i32.shl (local.get $nb) (i32.const 7)))
    (local.set $v (i32.const 0))
    (block $vdone (loop $vnext
      (br_if $vdone (i32.ge_u (local.get $v) (local.get $nv)))
      (memory.fill (i32.add (i32.add (local.get $ys) (i32.mul (local.get $v) (local.get $ystride))) (i32.shl (local.get $k0) (i32.const 7)))
        (i32.const 0) (i32.shl (i32.sub (local.get $k1) (local.get $k0)) (i32.const 7)))
      (local.set $v (i32.add (local.get $v) (i32.const 1)))
      (br $vnext)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $m (i32.const -1))
      (if (local.get $owners)
        (then
          (local.set $m (i32.load (i32.add (local.get $owners) (i32.shl (local.get $i) (i32.const 2)))))
          (global.set $owned_work (i32.add (global.get $owned_work) (i32.popcnt (local.get $m))))))
      (local.set $r (local.get $i))
      (if (local.get $ids) (then (local.set $r (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $k (select (local.get $k0) (local.get $k1) (local.get $m))) ;; no owner: no block of the row
      (block $kdone (loop $knext
        (br_if $kdone (i32.ge_u (local.get $k) (local.get $k1)))
        (local.set $p (i32.add (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $stride))) (i32.mul (local.get $k) (local.get $bb))))
        (if (local.get $owners)
          (then
            (local.set $mm (local.get $m))
            (block $odone (loop $onext
              (br_if $odone (i32.eqz (local.get $mm)))
              (local.set $v (i32.ctz (local.get $mm)))
              (local.set $mm (i32.and (local.get $mm) (i32.sub (local.get $mm) (i32.const 1))))
              (call $bacc (local.get $q4) (local.get $p)
                (f32.load (i32.add (local.get $coefs) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $nv)) (local.get $v)) (i32.const 2))))
                (i32.add (i32.add (local.get $ys) (i32.mul (local.get $v) (local.get $ystride))) (i32.shl (local.get $k) (i32.const 7))))
              (br $onext))))
          (else
            (local.set $v (i32.const 0))
            (block $vdone (loop $vnext
              (br_if $vdone (i32.ge_u (local.get $v) (local.get $nv)))
              (call $bacc (local.get $q4) (local.get $p)
                (f32.load (i32.add (local.get $coefs) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $nv)) (local.get $v)) (i32.const 2))))
                (i32.add (i32.add (local.get $ys) (i32.mul (local.get $v) (local.get $ystride))) (i32.shl (local.get $k) (i32.const 7))))
              (local.set $v (i32.add (local.get $v) (i32.const 1)))
              (br $vnext)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $knext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  (func (export "accum_rows_batch_blocks") (param $w i32) (param $coefs i32) (param $ys i32) (param $nb i32) (param $ids i32) (param $n i32) (param $nv i32) (param $kind i32) (param $owners i32) (param $k0 i32) (param $k1 i32)
    (call $baccum_batch (i32.and (local.get $kind) (i32.const 1)) (local.get $w) (local.get $coefs) (local.get $ys) (local.get $nb) (local.get $ids) (local.get $n) (local.get $nv) (local.get $owners) (local.get $k0) (local.get $k1)))

  ;; dst[32 k, 32 k + 32) = block k of src as f32, k in [k0, k1) (embedding rows).
  (func $bwiden (param $q4 i32) (param $src i32) (param $dst i32) (param $k0 i32) (param $k1 i32)
    (local $bb i32) (local $k i32) (local $y i32)
    (local.set $bb (select (i32.const 18) (i32.const 34) (local.get $q4)))
    (local.set $k (local.get $k0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $k) (local.get $k1)))
      (local.set $y (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 7))))
      (memory.fill (local.get $y) (i32.const 0) (i32.const 128))
      (call $bacc (local.get $q4) (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $bb))) (f32.const 1) (local.get $y))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next))))
  (func (export "widen_blocks") (param $src i32) (param $dst i32) (param $kind i32) (param $k0 i32) (param $k1 i32)
    (call $bwiden (i32.and (local.get $kind) (i32.const 1)) (local.get $src) (local.get $dst) (local.get $k0) (local.get $k1)))
  ;; Prompt blocks (matrix-matrix products), attention over a KV cache in this memory, and the
  ;; compute probe. Kept apart from the kernels above: nothing above calls into this part.
  ;; =======================================================================================

  ;; ---------------------------------------------------------------------------------------
  ;; Matrix-matrix products for a block of rows (a prompt's tokens). A weight row is read from
  ;; memory once per block instead of once per token, and every weight vector loaded serves
  ;; several tokens, so the work is bound by the multiply-adds, not by memory.
  ;;
  ;; $tile42: four tokens x two weight rows: returns [W0.x0, W0.x1, W0.x2, W0.x3] and the same
  ;; for W1 (f32 rows at p0, p1; f32 vectors x0..x3; cols a multiple of 4). Eight f32x4
  ;; accumulators, one per (token, row), 4 columns a step: each weight vector loaded serves 4
  ;; tokens, each x vector 2 rows. Lanes are reduced as $hsum4 does. (Measured with V8 11 on the
  ;; 2-core Zen 5, one thread: 4x2 and 2x4 tiles about 50 GFLOP/s; 3x3 and larger tiles run out
  ;; of registers, about 25; 8 columns a step, about 30; f32x4.relaxed_madd in place of mul and
  ;; add, no faster.)
  ;; ---------------------------------------------------------------------------------------

  ;; @relaxed-madd begin (scripts/build-wasm.mjs fuses the multiply-adds below in the relaxed-SIMD build)
  (func $tile42 (param $p0 i32) (param $p1 i32) (param $x0 i32) (param $x1 i32) (param $x2 i32) (param $x3 i32)
    (param $cols i32) (result v128 v128)
    (local $end i32) (local $w v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $end (i32.add (local.get $p0) (i32.shl (local.get $cols) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p0) (local.get $end)))
      (local.set $v0 (v128.load (local.get $x0)))
      (local.set $v1 (v128.load (local.get $x1)))
      (local.set $v2 (v128.load (local.get $x2)))
      (local.set $v3 (v128.load (local.get $x3)))
      (local.set $w (v128.load (local.get $p0)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (local.get $v0))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (local.get $v1))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (local.get $v2))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (local.get $v3))))
      (local.set $w (v128.load (local.get $p1)))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $w) (local.get $v0))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $w) (local.get $v1))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $w) (local.get $v2))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $w) (local.get $v3))))
      (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
      (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
      (local.set $x2 (i32.add (local.get $x2) (i32.const 16)))
      (local.set $x3 (i32.add (local.get $x3) (i32.const 16)))
      (br $next)))
    (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
    (call $hsum4 (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3)))

  ;; $tile24: two tokens x four weight rows, for the last one or two tokens of a block (where
  ;; $tile42 would compute four): returns [W0.x0, W0.x1, W1.x0, W1.x1] and the same for W2, W3.
  ;; One accumulator per (token, row), 4 columns a step, lanes reduced by $hsum4, as in $tile42:
  ;; every product gets the same bits in either tile, so a token's result does not depend on
  ;; how many tokens the block holds.
  (func $tile24 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32) (param $x0 i32) (param $x1 i32)
    (param $cols i32) (result v128 v128)
    (local $end i32) (local $w v128) (local $v0 v128) (local $v1 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $end (i32.add (local.get $p0) (i32.shl (local.get $cols) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p0) (local.get $end)))
      (local.set $v0 (v128.load (local.get $x0)))
      (local.set $v1 (v128.load (local.get $x1)))
      (local.set $w (v128.load (local.get $p0)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (local.get $v0))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (local.get $v1))))
      (local.set $w (v128.load (local.get $p1)))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (local.get $v0))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (local.get $v1))))
      (local.set $w (v128.load (local.get $p2)))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $w) (local.get $v0))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $w) (local.get $v1))))
      (local.set $w (v128.load (local.get $p3)))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $w) (local.get $v0))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $w) (local.get $v1))))
      (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
      (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
      (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
      (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
      (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
      (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
      (br $next)))
    (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
    (call $hsum4 (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3)))
  ;; @relaxed-madd end

  ;; ys[(t + m) * rows + r] = lane m of v (+ bias[r] when bias != 0), for m < min(left, 4).
  (func $store_lanes (param $v v128) (param $ys i32) (param $t i32) (param $r i32) (param $rows i32)
    (param $left i32) (param $bias i32)
    (local $p i32) (local $stride i32)
    (if (local.get $bias)
      (then (local.set $v (f32x4.add (local.get $v)
        (v128.load32_splat (i32.add (local.get $bias) (i32.shl (local.get $r) (i32.const 2))))))))
    (local.set $stride (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $p (i32.add (local.get $ys) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $rows)) (local.get $r)) (i32.const 2))))
    (f32.store (local.get $p) (f32x4.extract_lane 0 (local.get $v)))
    (if (i32.lt_u (local.get $left) (i32.const 2)) (then (return)))
    (local.set $p (i32.add (local.get $p) (local.get $stride)))
    (f32.store (local.get $p) (f32x4.extract_lane 1 (local.get $v)))
    (if (i32.lt_u (local.get $left) (i32.const 3)) (then (return)))
    (local.set $p (i32.add (local.get $p) (local.get $stride)))
    (f32.store (local.get $p) (f32x4.extract_lane 2 (local.get $v)))
    (if (i32.lt_u (local.get $left) (i32.const 4)) (then (return)))
    (local.set $p (i32.add (local.get $p) (local.get $stride)))
    (f32.store (local.get $p) (f32x4.extract_lane 3 (local.get $v))))

  ;; ys[b*rows + r] = W[r] . xs[b] (+ bias[r] when bias != 0) for b < nb, r in [r0, r1); W of
  ;; kind 0 f32, 1 bf16, 2 f16, [rows, cols] with cols a multiple of 4; xs [nb, cols] f32.
  ;; Rows go in blocks of 32, each first put into this thread's scratch (32 * cols floats at
  ;; scratch + (r0 / chunk) * 128 * cols): f32 rows copied (memory.copy: one stream from memory,
  ;; where the tiles' two rows a pass from memory ran at a third of it: [768, 2048] x 4 tokens,
  ;; one thread, 18 -> 26 GFLOP/s, x 16 27-30 -> 34), 16-bit rows widened exactly by $widen_*,
  ;; so widening is paid once per block, not once per token. Then, for every 4 tokens (their x, 16 * cols bytes,
  ;; stays in L1), every pair of the block's rows (the block stays in L2) is one $tile42. A last
  ;; group of fewer tokens, or a last single row, repeats a token or row and stores only its own.
  ;; The last one or two tokens (x0, x1; x1 = x0 for one) of a block against the block's rows
  ;; [rb, re) held at base: $tile24 over four rows at a time (rows past re repeat the last one).
  (func $gemm_tail (param $base i32) (param $rb i32) (param $re i32) (param $x0 i32) (param $x1 i32)
    (param $ys i32) (param $t i32) (param $rows i32) (param $cols i32) (param $left i32) (param $bias i32)
    (local $rs i32) (local $r i32) (local $last i32) (local $p0 i32) (local $lo v128) (local $hi v128)
    (local.set $rs (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $last (i32.add (local.get $base) (i32.mul (i32.sub (i32.sub (local.get $re) (local.get $rb)) (i32.const 1)) (local.get $rs))))
    (local.set $r (local.get $rb))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $r) (local.get $re)))
      (local.set $p0 (i32.add (local.get $base) (i32.mul (i32.sub (local.get $r) (local.get $rb)) (local.get $rs))))
      (call $tile24 (local.get $p0)
        (call $min_u (i32.add (local.get $p0) (local.get $rs)) (local.get $last))
        (call $min_u (i32.add (local.get $p0) (i32.shl (local.get $rs) (i32.const 1))) (local.get $last))
        (call $min_u (i32.add (local.get $p0) (i32.mul (local.get $rs) (i32.const 3))) (local.get $last))
        (local.get $x0) (local.get $x1) (local.get $cols))
      (local.set $hi)
      (local.set $lo)
      (call $store_lanes (local.get $lo) (local.get $ys) (local.get $t) (local.get $r) (local.get $rows) (local.get $left) (local.get $bias))
      (if (i32.lt_u (i32.add (local.get $r) (i32.const 1)) (local.get $re))
        (then (call $store_lanes (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $lo) (local.get $lo))
          (local.get $ys) (local.get $t) (i32.add (local.get $r) (i32.const 1)) (local.get $rows) (local.get $left) (local.get $bias))))
      (if (i32.lt_u (i32.add (local.get $r) (i32.const 2)) (local.get $re))
        (then (call $store_lanes (local.get $hi) (local.get $ys) (local.get $t) (i32.add (local.get $r) (i32.const 2))
          (local.get $rows) (local.get $left) (local.get $bias))))
      (if (i32.lt_u (i32.add (local.get $r) (i32.const 3)) (local.get $re))
        (then (call $store_lanes (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $hi) (local.get $hi))
          (local.get $ys) (local.get $t) (i32.add (local.get $r) (i32.const 3)) (local.get $rows) (local.get $left) (local.get $bias))))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $next))))

  (func $min_u (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_u (local.get $a) (local.get $b))))

  (func $gemm_any (param $kind i32) (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32)
    (param $rows i32) (param $nb i32) (param $bias i32) (param $scratch i32) (param $chunk i32)
    (param $r0 i32) (param $r1 i32)
    (local $rs i32) (local $rb i32) (local $re i32) (local $base i32) (local $t i32) (local $r i32) (local $left i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $p0 i32) (local $p1 i32)
    (local $lo v128) (local $hi v128)
    (local.set $rs (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $scratch (i32.add (local.get $scratch)
      (i32.mul (i32.div_u (local.get $r0) (local.get $chunk)) (i32.shl (local.get $rs) (i32.const 5)))))
    (local.set $rb (local.get $r0))
    (block $bdone (loop $bnext
      (br_if $bdone (i32.ge_u (local.get $rb) (local.get $r1)))
      (local.set $re (i32.add (local.get $rb) (i32.const 32)))
      (if (i32.gt_u (local.get $re) (local.get $r1)) (then (local.set $re (local.get $r1))))
      (if (i32.eqz (local.get $kind))
        (then
          (local.set $base (local.get $scratch))
          (memory.copy (local.get $scratch) (i32.add (local.get $w) (i32.mul (local.get $rb) (local.get $rs)))
            (i32.mul (i32.sub (local.get $re) (local.get $rb)) (local.get $rs))))
        (else
          (local.set $base (local.get $scratch))
          (if (i32.eq (local.get $kind) (i32.const 1))
            (then (call $widen_bf16 (i32.add (local.get $w) (i32.mul (local.get $rb) (i32.shl (local.get $cols) (i32.const 1))))
              (local.get $scratch) (i32.const 0) (i32.mul (i32.sub (local.get $re) (local.get $rb)) (local.get $cols))))
            (else (call $widen_f16 (i32.add (local.get $w) (i32.mul (local.get $rb) (i32.shl (local.get $cols) (i32.const 1))))
              (local.get $scratch) (i32.const 0) (i32.mul (i32.sub (local.get $re) (local.get $rb)) (local.get $cols)))))))
      (local.set $t (i32.const 0))
      (block $tdone (loop $tnext
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $nb)))
        (local.set $left (i32.sub (local.get $nb) (local.get $t)))
        (local.set $x0 (i32.add (local.get $xs) (i32.mul (local.get $t) (local.get $rs))))
        (if (i32.le_u (local.get $left) (i32.const 2))
          (then ;; the last one or two tokens: four rows a tile
            (call $gemm_tail (local.get $base) (local.get $rb) (local.get $re) (local.get $x0)
              (select (i32.add (local.get $x0) (local.get $rs)) (local.get $x0) (i32.eq (local.get $left) (i32.const 2)))
              (local.get $ys) (local.get $t) (local.get $rows) (local.get $cols) (local.get $left) (local.get $bias))
            (br $tdone)))
        (local.set $x1 (select (i32.add (local.get $x0) (local.get $rs)) (local.get $x0) (i32.gt_u (local.get $left) (i32.const 1))))
        (local.set $x2 (select (i32.add (local.get $x1) (local.get $rs)) (local.get $x1) (i32.gt_u (local.get $left) (i32.const 2))))
        (local.set $x3 (select (i32.add (local.get $x2) (local.get $rs)) (local.get $x2) (i32.gt_u (local.get $left) (i32.const 3))))
        (local.set $r (local.get $rb))
        (block $rdone (loop $rnext
          (br_if $rdone (i32.ge_u (local.get $r) (local.get $re)))
          (local.set $p0 (i32.add (local.get $base) (i32.mul (i32.sub (local.get $r) (local.get $rb)) (local.get $rs))))
          (local.set $p1 (select (i32.add (local.get $p0) (local.get $rs)) (local.get $p0)
            (i32.lt_u (i32.add (local.get $r) (i32.const 1)) (local.get $re))))
          (call $tile42 (local.get $p0) (local.get $p1) (local.get $x0) (local.get $x1) (local.get $x2) (local.get $x3) (local.get $cols))
          (local.set $hi)
          (local.set $lo)
          (call $store_lanes (local.get $lo) (local.get $ys) (local.get $t) (local.get $r) (local.get $rows) (local.get $left) (local.get $bias))
          (if (i32.lt_u (i32.add (local.get $r) (i32.const 1)) (local.get $re))
            (then (call $store_lanes (local.get $hi) (local.get $ys) (local.get $t) (i32.add (local.get $r) (i32.const 1))
              (local.get $rows) (local.get $left) (local.get $bias))))
          (local.set $r (i32.add (local.get $r) (i32.const 2)))
          (br $rnext)))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $tnext)))
      (local.set $rb (local.get $re))
      (br $bnext))))

  (func (export "gemm_f32") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $rows i32) (param $nb i32)
    (param $bias i32) (param $scratch i32) (param $chunk i32) (param $r0 i32) (param $r1 i32)
    (call $gemm_any (i32.const 0) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $rows) (local.get $nb)
      (local.get $bias) (local.get $scratch) (local.get $chunk) (local.get $r0) (local.get $r1)))
  (func (export "gemm_bf16") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $rows i32) (param $nb i32)
    (param $bias i32) (param $scratch i32) (param $chunk i32) (param $r0 i32) (param $r1 i32)
    (call $gemm_any (i32.const 1) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $rows) (local.get $nb)
      (local.get $bias) (local.get $scratch) (local.get $chunk) (local.get $r0) (local.get $r1)))
  (func (export "gemm_f16") (param $w i32) (param $xs i32) (param $ys i32) (param $cols i32) (param $rows i32) (param $nb i32)
    (param $bias i32) (param $scratch i32) (param $chunk i32) (param $r0 i32) (param $r1 i32)
    (call $gemm_any (i32.const 2) (local.get $w) (local.get $xs) (local.get $ys) (local.get $cols) (local.get $rows) (local.get $nb)
      (local.get $bias) (local.get $scratch) (local.get $chunk) (local.get $r0) (local.get $r1)))

  ;; The compute probe: units [u0, u1), each 64 $tile42 over 6 rows of 256 floats at buf (6 KiB,
  ;; in L1), that is 64 * 8 * 256 * 2 = 262144 flops a unit; the sum goes to sink so that nothing
  ;; is optimised away (racy stores from several threads are harmless: the value is never used).
  (func (export "compute_probe") (param $buf i32) (param $sink i32) (param $u0 i32) (param $u1 i32)
    (local $u i32) (local $k i32) (local $acc v128) (local $a v128) (local $b v128)
    (local.set $u (local.get $u0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $u) (local.get $u1)))
      (local.set $k (i32.const 0))
      (block $kdone (loop $knext
        (br_if $kdone (i32.ge_u (local.get $k) (i32.const 64)))
        (call $tile42 (local.get $buf) (i32.add (local.get $buf) (i32.const 1024))
          (i32.add (local.get $buf) (i32.const 2048)) (i32.add (local.get $buf) (i32.const 3072))
          (i32.add (local.get $buf) (i32.const 4096)) (i32.add (local.get $buf) (i32.const 5120)) (i32.const 256))
        (local.set $b)
        (local.set $a)
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.add (local.get $a) (local.get $b))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $knext)))
      (local.set $u (i32.add (local.get $u) (i32.const 1)))
      (br $next)))
    (v128.store (local.get $sink) (local.get $acc)))

  ;; ---------------------------------------------------------------------------------------
  ;; Attention over a KV cache in this memory. One layer's keys (values likewise): kv head g,
  ;; position j at base + (g * maxLen + j) * headDim * esize, so each head's positions are one
  ;; contiguous stream and a thread that takes whole heads reads whole streams. kind 0: f32
  ;; cache; kind 1: f16 cache (values rounded to the nearest half, ties to even; read back
  ;; exactly). Any headDim: vectors go 4 lanes at a time and the headDim % 4 tail lane by lane.
  ;; ---------------------------------------------------------------------------------------

  ;; e^x per lane: x clamped to [-87.33654, 88.72283], x = n ln2 + r with n = nearest(x log2 e),
  ;; e^r by the degree-7 polynomial of Cephes' expf (relative error about 1e-7), times 2^n
  ;; built in the exponent bits. n is rounded by adding and subtracting 1.5 * 2^23 (the same
  ;; round-to-nearest-even as f32x4.nearest for these magnitudes), whose sum also holds n in its
  ;; low mantissa bits, so no float-to-int conversion is needed; the clamp uses pmin/pmax (one
  ;; instruction each; a NaN input stays NaN).
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $t v128)
    (local.set $x (f32x4.pmin (f32x4.pmax (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))
      (v128.const f32x4 88.72283 88.72283 88.72283 88.72283)))
    (local.set $t (f32x4.add (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))
      (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $n (f32x4.sub (local.get $t) (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $r)) (local.get $r)) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    ;; bits(t) = bits(1.5 * 2^23) + n: (bits(t) + 127) << 23 drops the 2^22 bit and leaves (n + 127) << 23
    (f32x4.mul (local.get $p) (i32x4.shl (i32x4.add (local.get $t) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; Largest of the four lanes.
  (func $hmax (param $v v128) (result f32)
    (local $e v128)
    (local.set $e (f32x4.max (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32.max (f32x4.extract_lane 0 (local.get $e)) (f32x4.extract_lane 1 (local.get $e))))

  ;; f32 -> IEEE half per lane, rounded to nearest even (overflow to inf, NaN to a quiet NaN,
  ;; subnormal halves exact): the four halves in the low 8 bytes.
  (func $f2h4 (param $f v128) (result v128)
    (local $sign v128) (local $x v128) (local $o v128) (local $big v128)
    (local.set $sign (v128.and (local.get $f) (i32x4.splat (i32.const 0x80000000))))
    (local.set $x (v128.xor (local.get $f) (local.get $sign)))
    ;; normal halves: drop 13 mantissa bits with round to nearest even, rebias 127 -> 15
    (local.set $o (i32x4.shr_u (i32x4.add (i32x4.add (local.get $x) (i32x4.splat (i32.const 0xc8000fff)))
      (v128.and (i32x4.shr_u (local.get $x) (i32.const 13)) (i32x4.splat (i32.const 1)))) (i32.const 13)))
    ;; below 2^-14 (subnormal halves or zero): adding 0.5 rounds onto the 2^-24 grid
    (local.set $o (v128.bitselect (local.get $o)
      (i32x4.sub (f32x4.add (local.get $x) (f32x4.splat (f32.const 0.5))) (i32x4.splat (i32.const 0x3f000000)))
      (i32x4.ge_s (local.get $x) (i32x4.splat (i32.const 0x38800000)))))
    ;; 65520 and up: inf; NaN stays NaN
    (local.set $big (v128.bitselect (i32x4.splat (i32.const 0x7e00)) (i32x4.splat (i32.const 0x7c00))
      (i32x4.gt_s (local.get $x) (i32x4.splat (i32.const 0x7f800000)))))
    (local.set $o (v128.bitselect (local.get $big) (local.get $o)
      (i32x4.ge_s (local.get $x) (i32x4.splat (i32.const 0x47800000)))))
    (local.set $o (v128.or (local.get $o) (i32x4.shr_u (local.get $sign) (i32.const 16))))
    (i8x16.shuffle 0 1 4 5 8 9 12 13 0 1 4 5 8 9 12 13 (local.get $o) (local.get $o)))

  ;; Four cached values at p as f32 (kind 0 f32, 1 f16), and one.
  (func $kv4 (param $kind i32) (param $p i32) (result v128)
    (local $z v128)
    (if (result v128) (i32.eqz (local.get $kind))
      (then (v128.load (local.get $p)))
      (else (call $h2f_x4 (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $z)
        (v128.load64_zero (local.get $p)))))))
  (func $kv1 (param $kind i32) (param $p i32) (result f32)
    (if (result f32) (i32.eqz (local.get $kind))
      (then (f32.load (local.get $p)))
      (else (call $h2f (i32.load16_u (local.get $p))))))

  ;; Rows t in [t0, t1) of a block: src row t (nKv * headDim f32 at src + t * sstride) goes to
  ;; position pos0 + t of every kv head of the layer at dst.
  (func $kv_store_any (param $kind i32) (param $src i32) (param $sstride i32) (param $dst i32) (param $hd i32)
    (param $nkv i32) (param $maxLen i32) (param $pos0 i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $g i32) (local $s i32) (local $d i32) (local $c i32) (local $esize i32) (local $hd4 i32)
    (local.set $esize (select (i32.const 2) (i32.const 4) (local.get $kind)))
    (local.set $hd4 (i32.and (local.get $hd) (i32.const -4)))
    (local.set $t (local.get $t0))
    (block $tdone (loop $tnext
      (br_if $tdone (i32.ge_u (local.get $t) (local.get $t1)))
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $t) (local.get $sstride))))
      (local.set $g (i32.const 0))
      (block $gdone (loop $gnext
        (br_if $gdone (i32.ge_u (local.get $g) (local.get $nkv)))
        (local.set $d (i32.add (local.get $dst) (i32.mul (i32.mul (i32.add (i32.mul (local.get $g) (local.get $maxLen))
          (i32.add (local.get $pos0) (local.get $t))) (local.get $hd)) (local.get $esize))))
        (local.set $c (i32.const 0))
        (if (i32.eqz (local.get $kind))
          (then
            (block $cdone (loop $cnext
              (br_if $cdone (i32.ge_u (local.get $c) (local.get $hd4)))
              (v128.store (local.get $d) (v128.load (local.get $s)))
              (local.set $s (i32.add (local.get $s) (i32.const 16)))
              (local.set $d (i32.add (local.get $d) (i32.const 16)))
              (local.set $c (i32.add (local.get $c) (i32.const 4)))
              (br $cnext)))
            (block $cdone (loop $cnext
              (br_if $cdone (i32.ge_u (local.get $c) (local.get $hd)))
              (f32.store (local.get $d) (f32.load (local.get $s)))
              (local.set $s (i32.add (local.get $s) (i32.const 4)))
              (local.set $d (i32.add (local.get $d) (i32.const 4)))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $cnext))))
          (else
            (block $cdone (loop $cnext
              (br_if $cdone (i32.ge_u (local.get $c) (local.get $hd4)))
              (v128.store64_lane 0 (local.get $d) (call $f2h4 (v128.load (local.get $s))))
              (local.set $s (i32.add (local.get $s) (i32.const 16)))
              (local.set $d (i32.add (local.get $d) (i32.const 8)))
              (local.set $c (i32.add (local.get $c) (i32.const 4)))
              (br $cnext)))
            (block $cdone (loop $cnext
              (br_if $cdone (i32.ge_u (local.get $c) (local.get $hd)))
              (i32.store16 (local.get $d) (i32x4.extract_lane 0 (call $f2h4 (v128.load32_zero (local.get $s)))))
              (local.set $s (i32.add (local.get $s) (i32.const 4)))
              (local.set $d (i32.add (local.get $d) (i32.const 2)))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $cnext)))))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $gnext)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tnext))))

  (func (export "kv_store_f32") (param $src i32) (param $sstride i32) (param $dst i32) (param $hd i32) (param $nkv i32)
    (param $maxLen i32) (param $pos0 i32) (param $t0 i32) (param $t1 i32)
    (call $kv_store_any (i32.const 0) (local.get $src) (local.get $sstride) (local.get $dst) (local.get $hd) (local.get $nkv)
      (local.get $maxLen) (local.get $pos0) (local.get $t0) (local.get $t1)))
  (func (export "kv_store_f16") (param $src i32) (param $sstride i32) (param $dst i32) (param $hd i32) (param $nkv i32)
    (param $maxLen i32) (param $pos0 i32) (param $t0 i32) (param $t1 i32)
    (call $kv_store_any (i32.const 1) (local.get $src) (local.get $sstride) (local.get $dst) (local.get $hd) (local.get $nkv)
      (local.get $maxLen) (local.get $pos0) (local.get $t0) (local.get $t1)))

  ;; [q . k(p), q . k(p + rb), q . k(p + 2 rb), q . k(p + 3 rb)] over hd lanes (q f32, k cached).
  (func $dot4kv (param $kind i32) (param $q i32) (param $p i32) (param $rb i32) (param $hd i32) (result v128)
    (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $c i32) (local $hd4 i32) (local $qv v128) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $p1 (i32.add (local.get $p) (local.get $rb)))
    (local.set $p2 (i32.add (local.get $p1) (local.get $rb)))
    (local.set $p3 (i32.add (local.get $p2) (local.get $rb)))
    (local.set $hd4 (i32.and (local.get $hd) (i32.const -4)))
    (if (i32.eqz (local.get $kind))
      (then
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $c) (local.get $hd4)))
          (local.set $qv (v128.load (local.get $q)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $qv) (v128.load (local.get $p)))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $qv) (v128.load (local.get $p1)))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $qv) (v128.load (local.get $p2)))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $qv) (v128.load (local.get $p3)))))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $p1 (i32.add (local.get $p1) (i32.const 16)))
          (local.set $p2 (i32.add (local.get $p2) (i32.const 16)))
          (local.set $p3 (i32.add (local.get $p3) (i32.const 16)))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $next))))
      (else
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $c) (local.get $hd4)))
          (local.set $qv (v128.load (local.get $q)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $qv) (call $kv4 (i32.const 1) (local.get $p)))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $qv) (call $kv4 (i32.const 1) (local.get $p1)))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $qv) (call $kv4 (i32.const 1) (local.get $p2)))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $qv) (call $kv4 (i32.const 1) (local.get $p3)))))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $p (i32.add (local.get $p) (i32.const 8)))
          (local.set $p1 (i32.add (local.get $p1) (i32.const 8)))
          (local.set $p2 (i32.add (local.get $p2) (i32.const 8)))
          (local.set $p3 (i32.add (local.get $p3) (i32.const 8)))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $next)))))
    (local.set $v (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))
    (block $done (loop $next ;; the hd % 4 tail
      (br_if $done (i32.ge_u (local.get $c) (local.get $hd)))
      (local.set $v (f32x4.add (local.get $v) (f32x4.mul (v128.load32_splat (local.get $q))
        (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
          (f32x4.splat (call $kv1 (local.get $kind) (local.get $p)))
          (call $kv1 (local.get $kind) (local.get $p1)))
          (call $kv1 (local.get $kind) (local.get $p2)))
          (call $kv1 (local.get $kind) (local.get $p3))))))
      (local.set $q (i32.add (local.get $q) (i32.const 4)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (local.set $p (i32.add (local.get $p) (select (i32.const 2) (i32.const 4) (local.get $kind))))
      (local.set $p1 (i32.add (local.get $p1) (select (i32.const 2) (i32.const 4) (local.get $kind))))
      (local.set $p2 (i32.add (local.get $p2) (select (i32.const 2) (i32.const 4) (local.get $kind))))
      (local.set $p3 (i32.add (local.get $p3) (select (i32.const 2) (i32.const 4) (local.get $kind))))
      (br $next)))
    (local.get $v))

  ;; o[0, hd) = 0.
  (func $zero_row (param $o i32) (param $hd i32)
    (local $c i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $hd)))
      (f32.store (i32.add (local.get $o) (i32.shl (local.get $c) (i32.const 2))) (f32.const 0))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next))))

  ;; o[0, hd) += sum_j w[j] * V(p + j * rb) for j0 <= j < npos: 4 positions a pass (o read and
  ;; written once per 4) while 4 are left, then one at a time. Per element of o the terms are
  ;; added in position order, each pass's four as ((w0 v0 + w1 v1) + (w2 v2 + w3 v3)).
  (func $pv_accum (param $kind i32) (param $p i32) (param $w i32) (param $o i32) (param $j0 i32) (param $npos i32) (param $hd i32) (param $rb i32)
    (local $j i32) (local $c i32) (local $hd4 i32) (local $esize i32) (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $op i32) (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local.set $hd4 (i32.and (local.get $hd) (i32.const -4)))
    (local.set $esize (select (i32.const 2) (i32.const 4) (local.get $kind)))
    (local.set $j (local.get $j0))
    (block $jdone (loop $jnext
      (br_if $jdone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $npos)))
      (local.set $w0 (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $w1 (v128.load32_splat offset=4 (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $w2 (v128.load32_splat offset=8 (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $w3 (v128.load32_splat offset=12 (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $q0 (i32.add (local.get $p) (i32.mul (local.get $j) (local.get $rb))))
      (local.set $q1 (i32.add (local.get $q0) (local.get $rb)))
      (local.set $q2 (i32.add (local.get $q1) (local.get $rb)))
      (local.set $q3 (i32.add (local.get $q2) (local.get $rb)))
      (local.set $op (local.get $o))
      (local.set $c (i32.const 0))
      (if (i32.eqz (local.get $kind))
        (then
          (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $c) (local.get $hd4)))
            (v128.store (local.get $op) (f32x4.add (v128.load (local.get $op)) (f32x4.add
              (f32x4.add (f32x4.mul (local.get $w0) (v128.load (local.get $q0))) (f32x4.mul (local.get $w1) (v128.load (local.get $q1))))
              (f32x4.add (f32x4.mul (local.get $w2) (v128.load (local.get $q2))) (f32x4.mul (local.get $w3) (v128.load (local.get $q3)))))))
            (local.set $q0 (i32.add (local.get $q0) (i32.const 16)))
            (local.set $q1 (i32.add (local.get $q1) (i32.const 16)))
            (local.set $q2 (i32.add (local.get $q2) (i32.const 16)))
            (local.set $q3 (i32.add (local.get $q3) (i32.const 16)))
            (local.set $op (i32.add (local.get $op) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $next))))
        (else
          (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $c) (local.get $hd4)))
            (v128.store (local.get $op) (f32x4.add (v128.load (local.get $op)) (f32x4.add
              (f32x4.add (f32x4.mul (local.get $w0) (call $kv4 (i32.const 1) (local.get $q0)))
                         (f32x4.mul (local.get $w1) (call $kv4 (i32.const 1) (local.get $q1))))
              (f32x4.add (f32x4.mul (local.get $w2) (call $kv4 (i32.const 1) (local.get $q2)))
                         (f32x4.mul (local.get $w3) (call $kv4 (i32.const 1) (local.get $q3)))))))
            (local.set $q0 (i32.add (local.get $q0) (i32.const 8)))
            (local.set $q1 (i32.add (local.get $q1) (i32.const 8)))
            (local.set $q2 (i32.add (local.get $q2) (i32.const 8)))
            (local.set $q3 (i32.add (local.get $q3) (i32.const 8)))
            (local.set $op (i32.add (local.get $op) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $next)))))
      (block $done (loop $next ;; the hd % 4 tail
        (br_if $done (i32.ge_u (local.get $c) (local.get $hd)))
        (f32.store (local.get $op) (f32.add (f32.load (local.get $op)) (f32.add
          (f32.add (f32.mul (f32x4.extract_lane 0 (local.get $w0)) (call $kv1 (local.get $kind) (local.get $q0)))
                   (f32.mul (f32x4.extract_lane 0 (local.get $w1)) (call $kv1 (local.get $kind) (local.get $q1))))
          (f32.add (f32.mul (f32x4.extract_lane 0 (local.get $w2)) (call $kv1 (local.get $kind) (local.get $q2)))
                   (f32.mul (f32x4.extract_lane 0 (local.get $w3)) (call $kv1 (local.get $kind) (local.get $q3)))))))
        (local.set $q0 (i32.add (local.get $q0) (local.get $esize)))
        (local.set $q1 (i32.add (local.get $q1) (local.get $esize)))
        (local.set $q2 (i32.add (local.get $q2) (local.get $esize)))
        (local.set $q3 (i32.add (local.get $q3) (local.get $esize)))
        (local.set $op (i32.add (local.get $op) (i32.const 4)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $jnext)))
    (block $jdone (loop $jnext ;; the last npos % 4 positions
      (br_if $jdone (i32.ge_u (local.get $j) (local.get $npos)))
      (local.set $w0 (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $q0 (i32.add (local.get $p) (i32.mul (local.get $j) (local.get $rb))))
      (local.set $op (local.get $o))
      (local.set $c (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $hd4)))
        (v128.store (local.get $op) (f32x4.add (v128.load (local.get $op))
          (f32x4.mul (local.get $w0) (call $kv4 (local.get $kind) (local.get $q0)))))
        (local.set $q0 (i32.add (local.get $q0) (i32.shl (local.get $esize) (i32.const 2))))
        (local.set $op (i32.add (local.get $op) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $next)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $hd)))
        (f32.store (local.get $op) (f32.add (f32.load (local.get $op))
          (f32.mul (f32x4.extract_lane 0 (local.get $w0)) (call $kv1 (local.get $kind) (local.get $q0)))))
        (local.set $q0 (i32.add (local.get $q0) (local.get $esize)))
        (local.set $op (i32.add (local.get $op) (i32.const 4)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $jnext))))

  ;; One query head over positions 0 .. npos - 1 of one kv head (keys at kp, values at vp, rb
  ;; bytes a position): s_j = (q . k_j) * scale into the scores at s, p_j = e^(s_j - max s),
  ;; o = sum_j p_j v_j / sum_j p_j (the max-shifted softmax of the reference).
  (func $attend_one (param $kind i32) (param $q i32) (param $kp i32) (param $vp i32) (param $o i32) (param $s i32)
    (param $npos i32) (param $hd i32) (param $rb i32) (param $scale f32)
    (local $j i32) (local $n4 i32) (local $p i32) (local $tot f32)
    (local.set $n4 (i32.and (local.get $npos) (i32.const -4)))
    (local.set $p (local.get $kp))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $n4)))
      (v128.store (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))) (f32x4.mul (f32x4.splat (local.get $scale))
        (call $dot4kv (local.get $kind) (local.get $q) (local.get $p) (local.get $rb) (local.get $hd))))
      (local.set $p (i32.add (local.get $p) (i32.shl (local.get $rb) (i32.const 2))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $next)))
    (call $score_tail (local.get $kind) (local.get $q) (local.get $kp) (local.get $s) (local.get $n4) (local.get $npos)
      (local.get $hd) (local.get $rb) (local.get $scale))
    (local.set $tot (call $softmax_row (local.get $s) (local.get $npos)))
    (call $zero_row (local.get $o) (local.get $hd))
    (call $pv_accum (local.get $kind) (local.get $vp) (local.get $s) (local.get $o) (i32.const 0) (local.get $npos) (local.get $hd) (local.get $rb))
    (call $div_row (local.get $o) (local.get $hd) (local.get $tot)))

  ;; Scores of positions j0 .. npos - 1 one at a time (lane 0 of a 4-key pass over one key: the
  ;; same sum as that key's lane in a pass over four).
  (func $score_tail (param $kind i32) (param $q i32) (param $kp i32) (param $s i32) (param $j0 i32) (param $npos i32)
    (param $hd i32) (param $rb i32) (param $scale f32)
    (local $j i32)
    (local.set $j (local.get $j0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $npos)))
      (f32.store (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))) (f32x4.extract_lane 0 (f32x4.mul (f32x4.splat (local.get $scale))
        (call $dot4kv (local.get $kind) (local.get $q) (i32.add (local.get $kp) (i32.mul (local.get $j) (local.get $rb))) (i32.const 0) (local.get $hd)))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $next))))

  ;; The scores s[0, npos) become p_j = e^(s_j - max s) in place; returns sum_j p_j (4 lanes
  ;; over the first npos - npos % 4, $hsum, then the rest in order).
  (func $softmax_row (param $s i32) (param $npos i32) (result f32)
    (local $j i32) (local $n4 i32) (local $v v128) (local $mx v128) (local $m v128) (local $sum v128) (local $tot f32) (local $e f32)
    (local.set $n4 (i32.and (local.get $npos) (i32.const -4)))
    (local.set $mx (f32x4.splat (f32.const -inf)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $n4)))
      (local.set $mx (f32x4.max (local.get $mx) (v128.load (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $npos)))
      (local.set $mx (f32x4.max (local.get $mx) (v128.load32_splat (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $next)))
    (local.set $m (f32x4.splat (call $hmax (local.get $mx))))
    (local.set $j (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $n4)))
      (local.set $v (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2)))) (local.get $m))))
      (v128.store (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))) (local.get $v))
      (local.set $sum (f32x4.add (local.get $sum) (local.get $v)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $next)))
    (local.set $tot (call $hsum (local.get $sum)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $npos)))
      (local.set $e (f32x4.extract_lane 0 (call $exp4 (f32x4.sub
        (v128.load32_splat (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2)))) (local.get $m)))))
      (f32.store (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))) (local.get $e))
      (local.set $tot (f32.add (local.get $tot) (local.get $e)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $next)))
    (local.get $tot))

  ;; o[0, hd) /= tot.
  (func $div_row (param $o i32) (param $hd i32) (param $tot f32)
    (local $j i32) (local $v v128)
    (local.set $v (f32x4.splat (local.get $tot)))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $hd)))
      (v128.store (local.get $o) (f32x4.div (v128.load (local.get $o)) (local.get $v)))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $hd)))
      (f32.store (local.get $o) (f32.div (f32.load (local.get $o)) (local.get $tot)))
      (local.set $o (i32.add (local.get $o) (i32.const 4)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $next))))

  ;; Two query rows of one head at consecutive positions (row a over npos positions, row b over
  ;; npos + 1) on an f32 cache with hd % 4 = 0: the same numbers as $attend_one on each row, bit
  ;; for bit, with each key and value read once for both. Scores: 2 rows x 4 keys a pass (each
  ;; lane summed as $dot4kv sums it), row b's last npos % 4 ... by $score_tail; values: both rows'
  ;; passes of four positions together while both have four left, then each row alone.
  (func $attend_two (param $qa i32) (param $qb i32) (param $kp i32) (param $vp i32) (param $oa i32) (param $ob i32)
    (param $sa i32) (param $sb i32) (param $npos i32) (param $hd i32) (param $rb i32) (param $scale f32)
    (local $j i32) (local $n4 i32) (local $c i32) (local $hb i32) (local $p i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $x0 v128) (local $x1 v128) (local $k0 v128) (local $k1 v128) (local $k2 v128) (local $k3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $hb (i32.shl (local.get $hd) (i32.const 2)))
    ;; scores of positions 0 .. n4 - 1, n4 = (npos + 1) rounded down to 4, for both rows
    (local.set $n4 (i32.and (i32.add (local.get $npos) (i32.const 1)) (i32.const -4)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $n4)))
      (local.set $p (i32.add (local.get $kp) (i32.mul (local.get $j) (local.get $rb))))
      (local.set $p1 (i32.add (local.get $p) (local.get $rb)))
      (local.set $p2 (i32.add (local.get $p1) (local.get $rb)))
      (local.set $p3 (i32.add (local.get $p2) (local.get $rb)))
      (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
      (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
      (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $cdone (loop $cnext
        (br_if $cdone (i32.ge_u (local.get $c) (local.get $hb)))
        (local.set $x0 (v128.load (i32.add (local.get $qa) (local.get $c))))
        (local.set $x1 (v128.load (i32.add (local.get $qb) (local.get $c))))
        (local.set $k0 (v128.load (i32.add (local.get $p) (local.get $c))))
        (local.set $k1 (v128.load (i32.add (local.get $p1) (local.get $c))))
        (local.set $k2 (v128.load (i32.add (local.get $p2) (local.get $c))))
        (local.set $k3 (v128.load (i32.add (local.get $p3) (local.get $c))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $x0) (local.get $k0))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $x0) (local.get $k1))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $x0) (local.get $k2))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $x0) (local.get $k3))))
        (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $x1) (local.get $k0))))
        (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $x1) (local.get $k1))))
        (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $x1) (local.get $k2))))
        (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $x1) (local.get $k3))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $cnext)))
      (v128.store (i32.add (local.get $sa) (i32.shl (local.get $j) (i32.const 2)))
        (f32x4.mul (f32x4.splat (local.get $scale)) (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))
      (v128.store (i32.add (local.get $sb) (i32.shl (local.get $j) (i32.const 2)))
        (f32x4.mul (f32x4.splat (local.get $scale)) (call $hsum4 (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $next)))
    (call $score_tail (i32.const 0) (local.get $qa) (local.get $kp) (local.get $sa) (local.get $n4) (local.get $npos)
      (local.get $hd) (local.get $rb) (local.get $scale))
    (call $score_tail (i32.const 0) (local.get $qb) (local.get $kp) (local.get $sb) (local.get $n4) (i32.add (local.get $npos) (i32.const 1))
      (local.get $hd) (local.get $rb) (local.get $scale))
    (local.set $x0 (f32x4.splat (call $softmax_row (local.get $sa) (local.get $npos))))
    (local.set $x1 (f32x4.splat (call $softmax_row (local.get $sb) (i32.add (local.get $npos) (i32.const 1)))))
    (call $zero_row (local.get $oa) (local.get $hd))
    (call $zero_row (local.get $ob) (local.get $hd))
    (local.set $n4 (i32.and (local.get $npos) (i32.const -4)))
    (call $pv_two (local.get $vp) (local.get $sa) (local.get $sb) (local.get $oa) (local.get $ob) (local.get $n4) (local.get $hb) (local.get $rb))
    (call $pv_accum (i32.const 0) (local.get $vp) (local.get $sa) (local.get $oa) (local.get $n4) (local.get $npos) (local.get $hd) (local.get $rb))
    (call $pv_accum (i32.const 0) (local.get $vp) (local.get $sb) (local.get $ob) (local.get $n4) (i32.add (local.get $npos) (i32.const 1))
      (local.get $hd) (local.get $rb))
    (call $div_row (local.get $oa) (local.get $hd) (f32x4.extract_lane 0 (local.get $x0)))
    (call $div_row (local.get $ob) (local.get $hd) (f32x4.extract_lane 0 (local.get $x1))))

  ;; oa += sum_j wa[j] V_j and ob += sum_j wb[j] V_j over j < n4 (a multiple of 4), four
  ;; positions a pass in $pv_accum's order, each value vector loaded once for both rows (f32
  ;; cache, hb = hd * 4 a multiple of 16).
  (func $pv_two (param $vp i32) (param $wa i32) (param $wb i32) (param $oa i32) (param $ob i32) (param $n4 i32) (param $hb i32) (param $rb i32)
    (local $j i32) (local $c i32) (local $p i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $n4)))
      (local.set $a0 (v128.load32_splat offset=0 (i32.add (local.get $wa) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $a1 (v128.load32_splat offset=4 (i32.add (local.get $wa) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $a2 (v128.load32_splat offset=8 (i32.add (local.get $wa) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $a3 (v128.load32_splat offset=12 (i32.add (local.get $wa) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $b0 (v128.load32_splat offset=0 (i32.add (local.get $wb) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $b1 (v128.load32_splat offset=4 (i32.add (local.get $wb) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $b2 (v128.load32_splat offset=8 (i32.add (local.get $wb) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $b3 (v128.load32_splat offset=12 (i32.add (local.get $wb) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $p (i32.add (local.get $vp) (i32.mul (local.get $j) (local.get $rb))))
      (local.set $p1 (i32.add (local.get $p) (local.get $rb)))
      (local.set $p2 (i32.add (local.get $p1) (local.get $rb)))
      (local.set $p3 (i32.add (local.get $p2) (local.get $rb)))
      (local.set $c (i32.const 0))
      (block $cdone (loop $cnext
        (br_if $cdone (i32.ge_u (local.get $c) (local.get $hb)))
        (local.set $v0 (v128.load (i32.add (local.get $p) (local.get $c))))
        (local.set $v1 (v128.load (i32.add (local.get $p1) (local.get $c))))
        (local.set $v2 (v128.load (i32.add (local.get $p2) (local.get $c))))
        (local.set $v3 (v128.load (i32.add (local.get $p3) (local.get $c))))
        (v128.store (i32.add (local.get $oa) (local.get $c)) (f32x4.add (v128.load (i32.add (local.get $oa) (local.get $c))) (f32x4.add
          (f32x4.add (f32x4.mul (local.get $a0) (local.get $v0)) (f32x4.mul (local.get $a1) (local.get $v1)))
          (f32x4.add (f32x4.mul (local.get $a2) (local.get $v2)) (f32x4.mul (local.get $a3) (local.get $v3))))))
        (v128.store (i32.add (local.get $ob) (local.get $c)) (f32x4.add (v128.load (i32.add (local.get $ob) (local.get $c))) (f32x4.add
          (f32x4.add (f32x4.mul (local.get $b0) (local.get $v0)) (f32x4.mul (local.get $b1) (local.get $v1)))
          (f32x4.add (f32x4.mul (local.get $b2) (local.get $v2)) (f32x4.mul (local.get $b3) (local.get $v3))))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $cnext)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $next))))

  ;; Attention of n query rows of a block. Item i in [i0, i1) is query head h = i / n of row
  ;; t = i % n (a thread takes whole heads, whose keys and values then stay in its caches over
  ;; the rows). Row t sits at position pos0 + t and attends over positions 0 .. pos0 + t, whose
  ;; keys and values are already stored. q of (t, h) at qs + t * qstride + h * hd * 4, its output
  ;; at outs + t * ostride + h * hd * 4; kv head h / group of the layer's keys at kc and values at
  ;; vc (layout above). scale: the f32 bits of 1 / sqrt(hd). Scores: this thread's 2 (pos0 + n)
  ;; floats at scratch + (i0 / chunk) * 2 (pos0 + n) * 4. On an f32 cache with hd % 4 = 0 rows go
  ;; two at a time ($attend_two: the same bits as one at a time, so a row's result does not depend
  ;; on the block it came in).
  (func $attend_any (param $kind i32) (param $qs i32) (param $kc i32) (param $vc i32) (param $outs i32)
    (param $scratch i32) (param $n i32) (param $pos0 i32) (param $hd i32) (param $group i32) (param $maxLen i32)
    (param $qstride i32) (param $ostride i32) (param $scale i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $h i32) (local $t i32) (local $rb i32) (local $hb i32) (local $g i32) (local $q i32) (local $o i32)
    (local $positions i32) (local $two i32)
    (local.set $rb (i32.mul (local.get $hd) (select (i32.const 2) (i32.const 4) (local.get $kind))))
    (local.set $hb (i32.mul (local.get $maxLen) (local.get $rb)))
    (local.set $positions (i32.add (local.get $pos0) (local.get $n)))
    (local.set $scratch (i32.add (local.get $scratch) (i32.shl (i32.mul (i32.div_u (local.get $i0) (local.get $chunk))
      (local.get $positions)) (i32.const 3))))
    (local.set $two (i32.and (i32.eqz (local.get $kind)) (i32.eqz (i32.and (local.get $hd) (i32.const 3)))))
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $h (i32.div_u (local.get $i) (local.get $n)))
      (local.set $t (i32.rem_u (local.get $i) (local.get $n)))
      (local.set $g (i32.mul (i32.div_u (local.get $h) (local.get $group)) (local.get $hb)))
      (local.set $q (i32.add (i32.add (local.get $qs) (i32.mul (local.get $t) (local.get $qstride))) (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2))))
      (local.set $o (i32.add (i32.add (local.get $outs) (i32.mul (local.get $t) (local.get $ostride))) (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2))))
      (if (i32.and (local.get $two) (i32.and (i32.lt_u (i32.add (local.get $t) (i32.const 1)) (local.get $n))
            (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $i1))))
        (then
          (call $attend_two (local.get $q) (i32.add (local.get $q) (local.get $qstride))
            (i32.add (local.get $kc) (local.get $g)) (i32.add (local.get $vc) (local.get $g))
            (local.get $o) (i32.add (local.get $o) (local.get $ostride))
            (local.get $scratch) (i32.add (local.get $scratch) (i32.shl (local.get $positions) (i32.const 2)))
            (i32.add (i32.add (local.get $pos0) (local.get $t)) (i32.const 1))
            (local.get $hd) (local.get $rb) (f32.reinterpret_i32 (local.get $scale)))
          (local.set $i (i32.add (local.get $i) (i32.const 2))))
        (else
          (call $attend_one (local.get $kind) (local.get $q)
            (i32.add (local.get $kc) (local.get $g))
            (i32.add (local.get $vc) (local.get $g))
            (local.get $o) (local.get $scratch)
            (i32.add (i32.add (local.get $pos0) (local.get $t)) (i32.const 1))
            (local.get $hd) (local.get $rb) (f32.reinterpret_i32 (local.get $scale)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))))
      (br $next))))

  (func (export "attend_f32") (param $qs i32) (param $kc i32) (param $vc i32) (param $outs i32) (param $scratch i32)
    (param $n i32) (param $pos0 i32) (param $hd i32) (param $group i32) (param $maxLen i32) (param $qstride i32)
    (param $ostride i32) (param $scale i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (call $attend_any (i32.const 0) (local.get $qs) (local.get $kc) (local.get $vc) (local.get $outs) (local.get $scratch)
      (local.get $n) (local.get $pos0) (local.get $hd) (local.get $group) (local.get $maxLen) (local.get $qstride)
      (local.get $ostride) (local.get $scale) (local.get $chunk) (local.get $i0) (local.get $i1)))
  (func (export "attend_f16") (param $qs i32) (param $kc i32) (param $vc i32) (param $outs i32) (param $scratch i32)
    (param $n i32) (param $pos0 i32) (param $hd i32) (param $group i32) (param $maxLen i32) (param $qstride i32)
    (param $ostride i32) (param $scale i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (call $attend_any (i32.const 1) (local.get $qs) (local.get $kc) (local.get $vc) (local.get $outs) (local.get $scratch)
      (local.get $n) (local.get $pos0) (local.get $hd) (local.get $group) (local.get $maxLen) (local.get $qstride)
      (local.get $ostride) (local.get $scale) (local.get $chunk) (local.get $i0) (local.get $i1)))

  ;; ---------------------------------------------------------------------------------------
  ;; Row kernels for blocks: norms over rows r in [r0, r1) (row r of x at x + r * xstride, of
  ;; out at out + r * ostride; out may be x), elementwise activations, sums and products over
  ;; elements [i0, i1) of dense blocks, and RoPE. One call covers a prompt block's rows, split
  ;; over threads; a single vector is the same call over one row. Sums are f32 (4 lanes, then
  ;; $hsum, then the len % 4 tail).
  ;; ---------------------------------------------------------------------------------------

  ;; out = x / sqrt(mean(x^2) + eps) * w; eps as f32 bits.
  (func (export "rms_rows") (param $x i32) (param $xstride i32) (param $w i32) (param $out i32) (param $ostride i32)
    (param $len i32) (param $eps i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $p i32) (local $q i32) (local $c i32) (local $n4 i32) (local $acc v128) (local $ss f32) (local $s f32) (local $sv v128)
    (local.set $n4 (i32.and (local.get $len) (i32.const -4)))
    (local.set $r (local.get $r0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $p (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $xstride))))
      (local.set $q (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $ostride))))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $n4)))
        (local.set $sv (v128.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $sv) (local.get $sv))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $next)))
      (local.set $ss (call $hsum (local.get $acc)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $len)))
        (local.set $s (f32.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $ss (f32.add (local.get $ss) (f32.mul (local.get $s) (local.get $s))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next)))
      (local.set $s (f32.div (f32.const 1) (f32.sqrt (f32.add (f32.div (local.get $ss) (f32.convert_i32_u (local.get $len)))
        (f32.reinterpret_i32 (local.get $eps))))))
      (local.set $sv (f32x4.splat (local.get $s)))
      (local.set $c (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $n4)))
        (v128.store (i32.add (local.get $q) (i32.shl (local.get $c) (i32.const 2)))
          (f32x4.mul (f32x4.mul (v128.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))) (local.get $sv))
            (v128.load (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $next)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $len)))
        (f32.store (i32.add (local.get $q) (i32.shl (local.get $c) (i32.const 2)))
          (f32.mul (f32.mul (f32.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))) (local.get $s))
            (f32.load (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext))))

  ;; Sum of the len floats at p.
  (func $sum_f32 (param $p i32) (param $len i32) (result f32)
    (local $c i32) (local $n4 i32) (local $acc v128) (local $s f32)
    (local.set $n4 (i32.and (local.get $len) (i32.const -4)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $n4)))
      (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))))))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $next)))
    (local.set $s (call $hsum (local.get $acc)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $c) (local.get $len)))
      (local.set $s (f32.add (local.get $s) (f32.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $next)))
    (local.get $s))

  ;; out = (x - mean) / sqrt(var + eps) * w + b, var by a second pass over (x - mean)^2.
  (func (export "ln_rows") (param $x i32) (param $xstride i32) (param $w i32) (param $b i32) (param $out i32) (param $ostride i32)
    (param $len i32) (param $eps i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $p i32) (local $q i32) (local $c i32) (local $n4 i32) (local $acc v128) (local $m f32) (local $ss f32)
    (local $s f32) (local $d f32) (local $mv v128) (local $sv v128) (local $v v128)
    (local.set $n4 (i32.and (local.get $len) (i32.const -4)))
    (local.set $r (local.get $r0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $p (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $xstride))))
      (local.set $q (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $ostride))))
      (local.set $m (f32.div (call $sum_f32 (local.get $p) (local.get $len)) (f32.convert_i32_u (local.get $len))))
      (local.set $mv (f32x4.splat (local.get $m)))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $n4)))
        (local.set $v (f32x4.sub (v128.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))) (local.get $mv)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $next)))
      (local.set $ss (call $hsum (local.get $acc)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $len)))
        (local.set $d (f32.sub (f32.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))) (local.get $m)))
        (local.set $ss (f32.add (local.get $ss) (f32.mul (local.get $d) (local.get $d))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next)))
      (local.set $s (f32.div (f32.const 1) (f32.sqrt (f32.add (f32.div (local.get $ss) (f32.convert_i32_u (local.get $len)))
        (f32.reinterpret_i32 (local.get $eps))))))
      (local.set $sv (f32x4.splat (local.get $s)))
      (local.set $c (i32.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $n4)))
        (v128.store (i32.add (local.get $q) (i32.shl (local.get $c) (i32.const 2)))
          (f32x4.add (f32x4.mul (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))) (local.get $mv))
            (local.get $sv)) (v128.load (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 2)))))
            (v128.load (i32.add (local.get $b) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $next)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $len)))
        (f32.store (i32.add (local.get $q) (i32.shl (local.get $c) (i32.const 2)))
          (f32.add (f32.mul (f32.mul (f32.sub (f32.load (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2)))) (local.get $m))
            (local.get $s)) (f32.load (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 2)))))
            (f32.load (i32.add (local.get $b) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext))))

  ;; act(v) for four lanes: kind 0 silu v / (1 + e^-v), 1 relu max(v, 0) (NaN -> 0, as the host),
  ;; 2 gelu_tanh 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))) with tanh z = 1 - 2 / (e^2z + 1).
  (func $act4 (param $kind i32) (param $v v128) (result v128)
    (local $z v128)
    (if (i32.eqz (local.get $kind))
      (then (return (f32x4.div (local.get $v) (f32x4.add (f32x4.splat (f32.const 1)) (call $exp4 (f32x4.neg (local.get $v))))))))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (return (v128.and (local.get $v) (f32x4.gt (local.get $v) (f32x4.splat (f32.const 0)))))))
    (local.set $z (f32x4.mul (f32x4.splat (f32.const 0.7978845608028654)) (f32x4.add (local.get $v)
      (f32x4.mul (f32x4.splat (f32.const 0.044715)) (f32x4.mul (local.get $v) (f32x4.mul (local.get $v) (local.get $v)))))))
    (f32x4.mul (f32x4.mul (f32x4.splat (f32.const 0.5)) (local.get $v))
      (f32x4.sub (f32x4.splat (f32.const 2)) (f32x4.div (f32x4.splat (f32.const 2))
        (f32x4.add (call $exp4 (f32x4.add (local.get $z) (local.get $z))) (f32x4.splat (f32.const 1)))))))

  ;; out[i] = act(x[i]) for i in [i0, i1) (out may be x).
  (func (export "act_f32") (param $kind i32) (param $x i32) (param $out i32) (param $i0 i32) (param $i1 i32)
    (local $i i32)
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $i1)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (call $act4 (local.get $kind) (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (f32x4.extract_lane 0 (call $act4 (local.get $kind) (v128.load32_splat (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

;; HiRE-FFN group scores, bit for bit what hire/ffn/groups.ts computes on the host (neuronScores
  ;; then groupScores), for groups [g0, g1) of g neurons: pred at p holds [gate~ (n); up~ (n)] when
  ;; gated, else u~ (n). Neuron i scores s = act(pred[i]) rounded to f32, then |s * up~_i| (f32) when
  ;; gated, else |s|; act 0 is the host's silu estimate x / (1 + e), e = (1 - clamp(x, -30, 30) /
  ;; 1024)^1024 by ten squarings in f64, act 1 relu (x > 0 ? x : 0). out[grp] (f32) = the max of its
  ;; neurons' scores (mode 0; NaN never wins) or their sum in f64 (mode 1).
  (func (export "ffn_group_scores") (param $p i32) (param $n i32) (param $g i32) (param $act i32) (param $gated i32)
    (param $mode i32) (param $out i32) (param $g0 i32) (param $g1 i32)
    (local $grp i32) (local $i i32) (local $end i32) (local $x f64) (local $e f64) (local $s f32)
    (local $mx f32) (local $sum f64)
    (local $v v128) (local $m4 v128) (local $xa v128) (local $xb v128) (local $ea v128) (local $eb v128)
    (local.set $grp (local.get $g0))
    ;; max scores over groups of a multiple of 4: four neurons a step (the same values; the max
    ;; is taken with pmax from -inf, so a NaN score never wins, as on the host)
    (if (i32.and (i32.eqz (local.get $mode)) (i32.eqz (i32.and (local.get $g) (i32.const 3))))
      (then
        (block $gdone (loop $gnext
          (br_if $gdone (i32.ge_u (local.get $grp) (local.get $g1)))
          (local.set $i (i32.mul (local.get $grp) (local.get $g)))
          (local.set $end (i32.add (local.get $i) (local.get $g)))
          (local.set $m4 (f32x4.splat (f32.const -inf)))
          (block $done (loop $next
            (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
            (local.set $v (v128.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
            (if (local.get $act)
              (then (local.set $v (v128.and (local.get $v) (f32x4.gt (local.get $v) (f32x4.splat (f32.const 0))))))
              (else ;; the silu estimate, two lanes per f64x2 (written out: calls are not inlined)
                (local.set $xa (f64x2.promote_low_f32x4 (local.get $v)))
                (local.set $xb (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
                (local.set $ea (v128.bitselect (f64x2.splat (f64.const -30))
                  (v128.bitselect (f64x2.splat (f64.const 30)) (local.get $xa) (f64x2.gt (local.get $xa) (f64x2.splat (f64.const 30))))
                  (f64x2.lt (local.get $xa) (f64x2.splat (f64.const -30)))))
                (local.set $ea (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $ea) (f64x2.splat (f64.const 0x1p-10)))))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $ea (f64x2.mul (local.get $ea) (local.get $ea)))
                (local.set $xa (f64x2.div (local.get $xa) (f64x2.add (f64x2.splat (f64.const 1)) (local.get $ea))))
                (local.set $eb (v128.bitselect (f64x2.splat (f64.const -30))
                  (v128.bitselect (f64x2.splat (f64.const 30)) (local.get $xb) (f64x2.gt (local.get $xb) (f64x2.splat (f64.const 30))))
                  (f64x2.lt (local.get $xb) (f64x2.splat (f64.const -30)))))
                (local.set $eb (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $eb) (f64x2.splat (f64.const 0x1p-10)))))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $eb (f64x2.mul (local.get $eb) (local.get $eb)))
                (local.set $xb (f64x2.div (local.get $xb) (f64x2.add (f64x2.splat (f64.const 1)) (local.get $eb))))
                (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $xa)) (f32x4.demote_f64x2_zero (local.get $xb))))))
            (if (local.get $gated)
              (then (local.set $v (f32x4.mul (local.get $v)
                (v128.load (i32.add (local.get $p) (i32.shl (i32.add (local.get $n) (local.get $i)) (i32.const 2))))))))
            (local.set $m4 (f32x4.pmax (local.get $m4) (f32x4.abs (local.get $v))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $next)))
          (local.set $m4 (f32x4.pmax (local.get $m4) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m4) (local.get $m4))))
          (local.set $m4 (f32x4.pmax (local.get $m4) (i8x16.shuffle 4 5 6 7 0 1 2 3 8 9 10 11 12 13 14 15 (local.get $m4) (local.get $m4))))
          (f32.store (i32.add (local.get $out) (i32.shl (local.get $grp) (i32.const 2))) (f32x4.extract_lane 0 (local.get $m4)))
          (local.set $grp (i32.add (local.get $grp) (i32.const 1)))
          (br $gnext)))
        (return)))
    (block $gdone (loop $gnext
      (br_if $gdone (i32.ge_u (local.get $grp) (local.get $g1)))
      (local.set $i (i32.mul (local.get $grp) (local.get $g)))
      (local.set $end (i32.add (local.get $i) (local.get $g)))
      (local.set $mx (f32.const -inf))
      (local.set $sum (f64.const 0))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
        (if (i32.eqz (local.get $act))
          (then
            (local.set $e (f64.sub (f64.const 1) (f64.div
              (select (f64.const -30) (select (f64.const 30) (local.get $x) (f64.gt (local.get $x) (f64.const 30)))
                (f64.lt (local.get $x) (f64.const -30)))
              (f64.const 1024))))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $e (f64.mul (local.get $e) (local.get $e)))
            (local.set $s (f32.demote_f64 (f64.div (local.get $x) (f64.add (f64.const 1) (local.get $e))))))
          (else
            (local.set $s (select (f32.demote_f64 (local.get $x)) (f32.const 0) (f64.gt (local.get $x) (f64.const 0))))))
        (if (local.get $gated)
          (then (local.set $s (f32.abs (f32.mul (local.get $s)
            (f32.load (i32.add (local.get $p) (i32.shl (i32.add (local.get $n) (local.get $i)) (i32.const 2))))))))
          (else (local.set $s (f32.abs (local.get $s)))))
        (if (f32.gt (local.get $s) (local.get $mx)) (then (local.set $mx (local.get $s))))
        (local.set $sum (f64.add (local.get $sum) (f64.promote_f32 (local.get $s))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $grp) (i32.const 2)))
        (select (f32.demote_f64 (local.get $sum)) (local.get $mx) (local.get $mode)))
      (local.set $grp (i32.add (local.get $grp) (i32.const 1)))
      (br $gnext))))

  ;; out[i] = a[i] + b[i] (kind 0) or a[i] * b[i] (kind 1) for i in [i0, i1) (out may be a or b).
  (func (export "binop_f32") (param $kind i32) (param $a i32) (param $b i32) (param $out i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $o i32) (local $va v128) (local $vb v128)
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $i1)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (local.set $va (v128.load (i32.add (local.get $a) (local.get $o))))
      (local.set $vb (v128.load (i32.add (local.get $b) (local.get $o))))
      (v128.store (i32.add (local.get $out) (local.get $o))
        (if (result v128) (local.get $kind) (then (f32x4.mul (local.get $va) (local.get $vb))) (else (f32x4.add (local.get $va) (local.get $vb)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (f32.store (i32.add (local.get $out) (local.get $o))
        (if (result f32) (local.get $kind)
          (then (f32.mul (f32.load (i32.add (local.get $a) (local.get $o))) (f32.load (i32.add (local.get $b) (local.get $o)))))
          (else (f32.add (f32.load (i32.add (local.get $a) (local.get $o))) (f32.load (i32.add (local.get $b) (local.get $o)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  ;; RoPE (rotate_half) in place on rows r in [r0, r1): row r (nHeads heads of hd at x + r * xstride)
  ;; is rotated by the angles of position pos[r] (i32 at pos + 4r), whose cos[hd/2] and sin[hd/2]
  ;; (f32) are at table + pos[r] * hd * 4: a = x[i], b = x[i + hd/2] become a cos - b sin, b cos + a sin.
  (func (export "rope_rows") (param $x i32) (param $xstride i32) (param $nh i32) (param $hd i32) (param $table i32) (param $pos i32)
    (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $h i32) (local $i i32) (local $half i32) (local $h4 i32) (local $p i32) (local $t i32)
    (local $a v128) (local $b v128) (local $cs v128) (local $sn v128) (local $fa f32) (local $fb f32)
    (local.set $half (i32.shr_u (local.get $hd) (i32.const 1)))
    (local.set $h4 (i32.and (local.get $half) (i32.const -4)))
    (local.set $r (local.get $r0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $t (i32.add (local.get $table) (i32.shl (i32.mul (i32.load (i32.add (local.get $pos) (i32.shl (local.get $r) (i32.const 2))))
        (local.get $hd)) (i32.const 2))))
      (local.set $h (i32.const 0))
      (block $hdone (loop $hnext
        (br_if $hdone (i32.ge_u (local.get $h) (local.get $nh)))
        (local.set $p (i32.add (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $xstride)))
          (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $h4)))
          (local.set $a (v128.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $b (v128.load (i32.add (local.get $p) (i32.shl (i32.add (local.get $i) (local.get $half)) (i32.const 2)))))
          (local.set $cs (v128.load (i32.add (local.get $t) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $sn (v128.load (i32.add (local.get $t) (i32.shl (i32.add (local.get $i) (local.get $half)) (i32.const 2)))))
          (v128.store (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))
            (f32x4.sub (f32x4.mul (local.get $a) (local.get $cs)) (f32x4.mul (local.get $b) (local.get $sn))))
          (v128.store (i32.add (local.get $p) (i32.shl (i32.add (local.get $i) (local.get $half)) (i32.const 2)))
            (f32x4.add (f32x4.mul (local.get $b) (local.get $cs)) (f32x4.mul (local.get $a) (local.get $sn))))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $next)))
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $half)))
          (local.set $fa (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $fb (f32.load (i32.add (local.get $p) (i32.shl (i32.add (local.get $i) (local.get $half)) (i32.const 2)))))
          (f32.store (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))
            (f32.sub (f32.mul (local.get $fa) (f32.load (i32.add (local.get $t) (i32.shl (local.get $i) (i32.const 2)))))
              (f32.mul (local.get $fb) (f32.load (i32.add (local.get $t) (i32.shl (i32.add (local.get $i) (local.get $half)) (i32.const 2)))))))
          (f32.store (i32.add (local.get $p) (i32.shl (i32.add (local.get $i) (local.get $half)) (i32.const 2)))
            (f32.add (f32.mul (local.get $fb) (f32.load (i32.add (local.get $t) (i32.shl (local.get $i) (i32.const 2)))))
              (f32.mul (local.get $fa) (f32.load (i32.add (local.get $t) (i32.shl (i32.add (local.get $i) (local.get $half)) (i32.const 2)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hnext)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext))))

  ;; ---------------------------------------------------------------------------------------
  ;; The predictors' int8 / int4 matrices (matvec_q8 / matvec_q4 above) against nv prepared
  ;; vectors at once: ys[v*rows + r] = W[r] . xs[v] for r in [r0, r1), xs [nv, cols] prepared
  ;; x (one per vector), q4 = 1 for int4. Rows go in blocks of 16: each block is fetched from
  ;; memory by the first vector's pass and found in L1 by the others, so a batched decoding step
  ;; reads the predictor once, not once per sequence. Each row is summed by the unbatched kernel
  ;; itself, so every result is bit for bit the unbatched one. Appended at the end of the module
  ;; so that no earlier function's index moves (see the note on the q4 loop above).
  ;; ---------------------------------------------------------------------------------------
  (func (export "matvec_q_batch") (param $q4 i32) (param $w i32) (param $s i32) (param $xs i32) (param $ys i32)
    (param $cols i32) (param $gs i32) (param $rows i32) (param $nv i32) (param $r0 i32) (param $r1 i32)
    (local $rb i32) (local $re i32) (local $v i32)
    (local.set $rb (local.get $r0))
    (block $bdone (loop $bnext
      (br_if $bdone (i32.ge_u (local.get $rb) (local.get $r1)))
      (local.set $re (i32.add (local.get $rb) (i32.const 16)))
      (if (i32.gt_u (local.get $re) (local.get $r1)) (then (local.set $re (local.get $r1))))
      (local.set $v (i32.const 0))
      (block $vdone (loop $vnext
        (br_if $vdone (i32.ge_u (local.get $v) (local.get $nv)))
        (if (local.get $q4)
          (then (call $matvec_q4 (local.get $w) (local.get $s)
            (i32.add (local.get $xs) (i32.shl (i32.mul (local.get $v) (local.get $cols)) (i32.const 2)))
            (i32.add (local.get $ys) (i32.shl (i32.mul (local.get $v) (local.get $rows)) (i32.const 2)))
            (local.get $cols) (local.get $gs) (local.get $rb) (local.get $re)))
          (else (call $matvec_q8 (local.get $w) (local.get $s)
            (i32.add (local.get $xs) (i32.shl (i32.mul (local.get $v) (local.get $cols)) (i32.const 2)))
            (i32.add (local.get $ys) (i32.shl (i32.mul (local.get $v) (local.get $rows)) (i32.const 2)))
            (local.get $cols) (local.get $gs) (local.get $rb) (local.get $re))))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $vnext)))
      (local.set $rb (local.get $re))
      (br $bnext))))

  ;; Appended at the end of the module like matvec_q_batch (no earlier function index moves).
  ;; One row of each of several sequences (a batched decoding step), each with its own cache.
  ;; Item i in [i0, i1) is kv head g = i % nkv of sequence s = i / nkv: it stores that head's key
  ;; and value rows at the sequence's position, then attends the group of query heads g * group ..
  ;; (g + 1) * group - 1 over positions 0 .. pos, each by $attend_one with the same operands as
  ;; $attend_any gives it for a one-row block: the same bits as attending the sequences one by one.
  ;; Sequence s's 32-byte descriptor at desc + 32 s: q, k, v (its new key and value rows, f32),
  ;; keys, values (its layer of the cache, layout above), out, pos, maxLen (i32 each). Scores:
  ;; `spos` floats a part at scratch + (i0 / chunk) * spos * 4.
  (func $attend_seqs_any (param $kind i32) (param $desc i32) (param $hd i32) (param $nkv i32) (param $group i32)
    (param $scale i32) (param $scratch i32) (param $spos i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $d i32) (local $g i32) (local $h i32) (local $h1 i32) (local $rb i32) (local $hb i32)
    (local $kp i32) (local $vp i32) (local $pos i32) (local $maxLen i32)
    (local.set $rb (i32.mul (local.get $hd) (select (i32.const 2) (i32.const 4) (local.get $kind))))
    (local.set $scratch (i32.add (local.get $scratch) (i32.shl (i32.mul (i32.div_u (local.get $i0) (local.get $chunk))
      (local.get $spos)) (i32.const 2))))
    (local.set $i (local.get $i0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $d (i32.add (local.get $desc) (i32.shl (i32.div_u (local.get $i) (local.get $nkv)) (i32.const 5))))
      (local.set $g (i32.rem_u (local.get $i) (local.get $nkv)))
      (local.set $pos (i32.load offset=24 (local.get $d)))
      (local.set $maxLen (i32.load offset=28 (local.get $d)))
      (local.set $hb (i32.mul (i32.mul (local.get $g) (local.get $maxLen)) (local.get $rb)))
      (local.set $kp (i32.add (i32.load offset=12 (local.get $d)) (local.get $hb)))
      (local.set $vp (i32.add (i32.load offset=16 (local.get $d)) (local.get $hb)))
      (call $kv_store_any (local.get $kind) (i32.add (i32.load offset=4 (local.get $d)) (i32.shl (i32.mul (local.get $g) (local.get $hd)) (i32.const 2)))
        (i32.const 0) (local.get $kp) (local.get $hd) (i32.const 1) (local.get $maxLen) (local.get $pos) (i32.const 0) (i32.const 1))
      (call $kv_store_any (local.get $kind) (i32.add (i32.load offset=8 (local.get $d)) (i32.shl (i32.mul (local.get $g) (local.get $hd)) (i32.const 2)))
        (i32.const 0) (local.get $vp) (local.get $hd) (i32.const 1) (local.get $maxLen) (local.get $pos) (i32.const 0) (i32.const 1))
      (local.set $h (i32.mul (local.get $g) (local.get $group)))
      (local.set $h1 (i32.add (local.get $h) (local.get $group)))
      (block $hdone (loop $hnext
        (br_if $hdone (i32.ge_u (local.get $h) (local.get $h1)))
        (call $attend_one (local.get $kind)
          (i32.add (i32.load (local.get $d)) (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))
          (local.get $kp) (local.get $vp)
          (i32.add (i32.load offset=20 (local.get $d)) (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))
          (local.get $scratch) (i32.add (local.get $pos) (i32.const 1))
          (local.get $hd) (local.get $rb) (f32.reinterpret_i32 (local.get $scale)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hnext)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))

  (func (export "attend_seqs_f32") (param $desc i32) (param $hd i32) (param $nkv i32) (param $group i32) (param $scale i32)
    (param $scratch i32) (param $spos i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (call $attend_seqs_any (i32.const 0) (local.get $desc) (local.get $hd) (local.get $nkv) (local.get $group) (local.get $scale)
      (local.get $scratch) (local.get $spos) (local.get $chunk) (local.get $i0) (local.get $i1)))
  (func (export "attend_seqs_f16") (param $desc i32) (param $hd i32) (param $nkv i32) (param $group i32) (param $scale i32)
    (param $scratch i32) (param $spos i32) (param $chunk i32) (param $i0 i32) (param $i1 i32)
    (call $attend_seqs_any (i32.const 1) (local.get $desc) (local.get $hd) (local.get $nkv) (local.get $group) (local.get $scale)
      (local.get $scratch) (local.get $spos) (local.get $chunk) (local.get $i0) (local.get $i1)))

  ;; ---------------------------------------------------------------------------------------
  ;; The predictors' int8 / int4 matrices (as matvec_q8 / matvec_q4 read them) against a ROUNDED
  ;; x: x rounded to 8 bits per quantisation group (quant-x.ts roundQuantX), every product an
  ;; integer. For the FFN predictors, whose scores only pick groups (the softmax predictor keeps
  ;; f32 products: certified mode bounds its error with them). gs must be a multiple of 32.
  ;; Rounded x, nb = cols + 8 ng bytes per vector: cols int8 values (q4: each 32 columns as the
  ;; 16 even ones, then the 16 odd ones: the low and high nibbles of 16 weight bytes), then ng f32
  ;; dx (the group's scale: max |x| / 127), then ng i32 corr (q4: 8 * the group's sum of values,
  ;; since its dots take the unsigned nibbles u = n ^ 8 = n + 8; q8: 0).
  ;; Row r: group g's exact integer dot d_g on i32x4 lanes (q4: two
  ;; i16x8.relaxed_dot_i8x16_i7x16_s per 32 columns, x signed and u unsigned: the relaxed build
  ;; only, the plain one has no such instruction and the backend keeps f32 there; q8: four
  ;; i32x4.dot_i16x8_s of the widened values), lane 0 less corr_g; acc (f32x4) += f32(lanes) *
  ;; (s[r, g] * dx_g); y[r] = (l0 + l2) + (l1 + l3). No lane can overflow: |x| <= 127, |w| <= 127.
  ;; Appended at the end of the module (no earlier function index moves).
  ;; ---------------------------------------------------------------------------------------
  (func $matvec_qi (param $q4 i32) (param $w i32) (param $s i32) (param $x i32) (param $y i32)
    (param $cols i32) (param $gs i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $g i32) (local $ng i32) (local $c i32) (local $p i32) (local $sp i32) (local $xp i32)
    (local $dxp i32) (local $rowBytes i32) (local $isum v128) (local $acc v128) (local $u v128) (local $m4 v128) (local $x88 v128)
    (local.set $m4 (v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f))
    (local.set $x88 (v128.const i32x4 0x88888888 0x88888888 0x88888888 0x88888888))
    (local.set $ng (i32.div_u (local.get $cols) (local.get $gs)))
    (local.set $rowBytes (select (i32.shr_u (local.get $cols) (i32.const 1)) (local.get $cols) (local.get $q4)))
    (local.set $dxp (i32.add (local.get $x) (local.get $cols)))
    (local.set $r (local.get $r0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $p (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $sp (i32.add (local.get $s) (i32.shl (i32.mul (local.get $r) (local.get $ng)) (i32.const 2))))
      (local.set $xp (local.get $x))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $g (i32.const 0))
      (block $gdone (loop $gnext
        (br_if $gdone (i32.ge_u (local.get $g) (local.get $ng)))
        (local.set $isum (v128.const i32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (if (local.get $q4)
          (then
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $c) (local.get $gs)))
              (local.set $u (v128.xor (v128.load (local.get $p)) (local.get $x88)))
              (local.set $isum (i32x4.add (local.get $isum) (i32x4.extadd_pairwise_i16x8_s (i16x8.add
                (call $rdot (v128.load (local.get $xp)) (v128.and (local.get $u) (local.get $m4)))
                (call $rdot (v128.load offset=16 (local.get $xp)) (i8x16.shr_u (local.get $u) (i32.const 4)))))))
              (local.set $p (i32.add (local.get $p) (i32.const 16)))
              (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
              (local.set $c (i32.add (local.get $c) (i32.const 32)))
              (br $next))))
          (else
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $c) (local.get $gs)))
              (local.set $isum (i32x4.add (local.get $isum) (i32x4.add
                (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $p)) (v128.load8x8_s (local.get $xp)))
                           (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $p)) (v128.load8x8_s offset=8 (local.get $xp))))
                (i32x4.add (i32x4.dot_i16x8_s (v128.load8x8_s offset=16 (local.get $p)) (v128.load8x8_s offset=16 (local.get $xp)))
                           (i32x4.dot_i16x8_s (v128.load8x8_s offset=24 (local.get $p)) (v128.load8x8_s offset=24 (local.get $xp)))))))
              (local.set $p (i32.add (local.get $p) (i32.const 32)))
              (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
              (local.set $c (i32.add (local.get $c) (i32.const 32)))
              (br $next)))))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
          (f32x4.convert_i32x4_s (i32x4.sub (local.get $isum)
            (v128.load32_zero (i32.add (local.get $dxp) (i32.shl (i32.add (local.get $ng) (local.get $g)) (i32.const 2))))))
          (f32x4.splat (f32.mul (f32.load (local.get $sp)) (f32.load (i32.add (local.get $dxp) (i32.shl (local.get $g) (i32.const 2)))))))))
        (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $gnext)))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2)))
        (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 2 (local.get $acc)))
          (f32.add (f32x4.extract_lane 1 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext))))

  ;; $matvec_qi against nv rounded vectors of xb bytes each (ys [nv, rows]), rows in blocks of 16
  ;; read from memory by the first vector's pass and from L1 by the others; every result bit for
  ;; bit one vector's (nv = 1 is the one-vector call).
  (func (export "matvec_qi_batch") (param $q4 i32) (param $w i32) (param $s i32) (param $xs i32) (param $ys i32)
    (param $cols i32) (param $gs i32) (param $rows i32) (param $nv i32) (param $xb i32) (param $r0 i32) (param $r1 i32)
    (local $rb i32) (local $re i32) (local $v i32)
    (local.set $rb (local.get $r0))
    (block $bdone (loop $bnext
      (br_if $bdone (i32.ge_u (local.get $rb) (local.get $r1)))
      (local.set $re (i32.add (local.get $rb) (i32.const 16)))
      (if (i32.gt_u (local.get $re) (local.get $r1)) (then (local.set $re (local.get $r1))))
      (local.set $v (i32.const 0))
      (block $vdone (loop $vnext
        (br_if $vdone (i32.ge_u (local.get $v) (local.get $nv)))
        (call $matvec_qi (local.get $q4) (local.get $w) (local.get $s)
          (i32.add (local.get $xs) (i32.mul (local.get $v) (local.get $xb)))
          (i32.add (local.get $ys) (i32.shl (i32.mul (local.get $v) (local.get $rows)) (i32.const 2)))
          (local.get $cols) (local.get $gs) (local.get $rb) (local.get $re))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $vnext)))
      (local.set $rb (local.get $re))
      (br $bnext))))
)
