;; Integer dot products for smart-folder search (knowledge-scoring.ts). For each of `rows` rows of
;; `dims` int8 values at $v, out[r] = sum_j v[r*dims+j] * q[j] as i32, with q `dims` int16 values
;; (the query, within ±4,095, so a row's sum cannot overflow for dims <= 4,096). 16 values per
;; step with WebAssembly SIMD: sign-extend to i16, multiply-add pairs into i32 lanes.
;; dims must be a multiple of 16. Assembled by wabt's wat2wasm into knowledge-dots-wasm.ts.
(module
  (memory (export "memory") 2)
  (func (export "dots") (param $v i32) (param $q i32) (param $rows i32) (param $dims i32) (param $out i32)
    (local $r i32) (local $j i32) (local $qp i32) (local $acc v128) (local $x v128)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (local.set $qp (local.get $q))
        (block $rowdone
          (loop $step
            (br_if $rowdone (i32.ge_u (local.get $j) (local.get $dims)))
            (local.set $x (v128.load (local.get $v)))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $x)) (v128.load (local.get $qp)))))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $x)) (v128.load offset=16 (local.get $qp)))))
            (local.set $v (i32.add (local.get $v) (i32.const 16)))
            (local.set $qp (i32.add (local.get $qp) (i32.const 32)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $step)))
        (i32.store (local.get $out)
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row)))))
