;; The cleaner's plain-line row (clean-csv.ts, rewritePlain), 16 bytes at a time. Compiled by
;; scripts/build-wasm.mjs into plain-line-kernel.wasm.ts; plain-line-kernel.ts loads it and lays out its memory:
;;
;;   [0, 8)       where field `trecho` of the last line starts and ends (-1, -1: the line has no such field)
;;   [8, 12)      the road slot the last line's `trecho` belongs in (-1: too long for one)
;;   [16, 34832)  256 road slots of 136 bytes: the length of a `trecho` (-1: empty slot) and of its road's clean
;;                field, then up to 64 bytes of each
;;   then the input, the notes (fields holding a comma, as i32 pairs) and the row written, where the caller says.
;;
;; row(start, end, delimiter, trecho, line, notes, dst) writes at dst the clean row of the line memory[start, end),
;; which holds no quote, CR or LF (and may be read up to 15 bytes past its end): its fields comma-separated, each
;; field holding a comma quoted, then `,line,`, then the road and a LF when the line has no field `trecho` (an
;; empty road) or its `trecho` is in its slot. It returns the row's length; minus the length when the road is
;; still to be appended (the caller decodes it, appends it and a LF, and may put it in the slot).
;;
;; Most 16-byte blocks take the vector path alone: the delimiters are counted, and the bytes are looked at one by
;; one (through their bit masks) only in a block that holds a comma or the end of field `trecho`.
(module
  (memory (export "memory") 1)

  (func (export "row")
    (param $start i32) (param $end i32) (param $delimiter i32) (param $trecho i32) (param $line i32)
    (param $notes i32) (param $dst i32)
    (result i32)
    (local $pos i32) (local $left i32) (local $field i32) (local $fieldStart i32) (local $comma i32)
    (local $from i32) (local $to i32) (local $noted i32) (local $dm i32) (local $cm i32) (local $m i32)
    (local $bit i32) (local $at i32) (local $n i32) (local $out i32) (local $k i32) (local $tail i32)
    (local $fs i32) (local $fe i32) (local $shift i32) (local $digits i32) (local $rest i32) (local $entry i32)
    (local $v v128) (local $isDelimiter v128) (local $isComma v128) (local $lanes v128)
    (local $delimiters v128) (local $commas v128)

    (local.set $delimiters (i8x16.splat (local.get $delimiter)))
    (local.set $commas (i8x16.splat (i32.const 44)))
    (local.set $fieldStart (local.get $start))
    (local.set $from (select (local.get $start) (i32.const -1) (i32.eqz (local.get $trecho))))
    (local.set $to (i32.const -1))
    (local.set $noted (local.get $notes))
    (local.set $pos (local.get $start))
    ;; The row's byte for the line's byte at `pos` is at `pos + shift`, until fields are quoted.
    (local.set $shift (i32.sub (local.get $dst) (local.get $start)))

    ;; Pass 1: copy with each delimiter a comma; find `trecho` and the fields holding a comma.
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $pos) (local.get $end)))
        (local.set $v (v128.load align=1 (local.get $pos)))
        (local.set $isDelimiter (i8x16.eq (local.get $v) (local.get $delimiters)))
        (local.set $isComma (i8x16.eq (local.get $v) (local.get $commas)))
        (local.set $left (i32.sub (local.get $end) (local.get $pos)))
        (if (i32.lt_u (local.get $left) (i32.const 16))
          (then
            ;; The last block: lanes past the line's end are neither delimiters nor commas (what is written
            ;; there is overwritten by what follows the line).
            (local.set $lanes
              (i8x16.lt_u
                (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
                (i8x16.splat (local.get $left))))
            (local.set $isDelimiter (v128.and (local.get $isDelimiter) (local.get $lanes)))
            (local.set $isComma (v128.and (local.get $isComma) (local.get $lanes)))))
        ;; With a comma for delimiter, a comma is a delimiter.
        (local.set $isComma (v128.andnot (local.get $isComma) (local.get $isDelimiter)))
        (v128.store align=1 (i32.add (local.get $pos) (local.get $shift))
          (v128.bitselect (local.get $commas) (local.get $v) (local.get $isDelimiter)))
        (local.set $dm (i8x16.bitmask (local.get $isDelimiter)))
        (local.set $cm (i8x16.bitmask (local.get $isComma)))

        (block $slow
          ;; A comma, or a field holding one that may end here.
          (br_if $slow (i32.or (local.get $cm) (local.get $comma)))
          (if (local.get $dm)
            (then
              (local.set $n (i32.popcnt (local.get $dm)))
              ;; Slow only when the block ends field `trecho - 1` or `trecho`.
              (br_if $slow
                (i32.and
                  (i32.ge_s (i32.add (local.get $field) (local.get $n)) (local.get $trecho))
                  (i32.le_s (local.get $field) (local.get $trecho))))
              (local.set $field (i32.add (local.get $field) (local.get $n)))
              (local.set $fieldStart
                (i32.sub (i32.add (local.get $pos) (i32.const 32)) (i32.clz (local.get $dm))))))
          (local.set $pos (i32.add (local.get $pos) (i32.const 16)))
          (br $blocks))

        ;; Byte by byte, through the block's masks: each delimiter and comma in turn.
        (local.set $m (i32.or (local.get $dm) (local.get $cm)))
        (block $bits_done
          (loop $bits
            (br_if $bits_done (i32.eqz (local.get $m)))
            (local.set $bit (i32.ctz (local.get $m)))
            (local.set $at (i32.add (local.get $pos) (local.get $bit)))
            (if (i32.and (i32.shr_u (local.get $dm) (local.get $bit)) (i32.const 1))
              (then
                (if (local.get $comma)
                  (then
                    (i32.store (local.get $noted) (local.get $fieldStart))
                    (i32.store offset=4 (local.get $noted) (local.get $at))
                    (local.set $noted (i32.add (local.get $noted) (i32.const 8)))
                    (local.set $comma (i32.const 0))))
                (local.set $field (i32.add (local.get $field) (i32.const 1)))
                (local.set $fieldStart (i32.add (local.get $at) (i32.const 1)))
                (if (i32.eq (local.get $field) (local.get $trecho))
                  (then (local.set $from (i32.add (local.get $at) (i32.const 1))))
                  (else
                    (if (i32.eq (local.get $field) (i32.add (local.get $trecho) (i32.const 1)))
                      (then (local.set $to (local.get $at)))))))
              (else (local.set $comma (i32.const 1))))
            (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
            (br $bits)))
        (local.set $pos (i32.add (local.get $pos) (i32.const 16)))
        (br $blocks)))

    (if (local.get $comma)
      (then
        (i32.store (local.get $noted) (local.get $fieldStart))
        (i32.store offset=4 (local.get $noted) (local.get $end))
        (local.set $noted (i32.add (local.get $noted) (i32.const 8)))))
    (if (i32.and (i32.ne (local.get $from) (i32.const -1)) (i32.eq (local.get $to) (i32.const -1)))
      (then (local.set $to (local.get $end))))
    (i32.store (i32.const 0) (local.get $from))
    (i32.store (i32.const 4) (local.get $to))

    ;; Pass 2: quote the noted fields, the last first, moving what follows each two bytes further per field
    ;; quoted before it.
    (local.set $n (i32.shr_u (i32.sub (local.get $noted) (local.get $notes)) (i32.const 2)))
    (local.set $out (i32.add (local.get $end) (i32.add (local.get $shift) (local.get $n))))
    (local.set $tail (i32.add (local.get $end) (local.get $shift)))
    (local.set $k (local.get $n))
    (block $quoted
      (loop $fields
        (br_if $quoted (i32.eqz (local.get $k)))
        (local.set $noted (i32.sub (local.get $noted) (i32.const 8)))
        (local.set $fs (i32.add (i32.load (local.get $noted)) (local.get $shift)))
        (local.set $fe (i32.add (i32.load offset=4 (local.get $noted)) (local.get $shift)))
        ;; What follows the field moves by k; its closing quote goes just before; the field moves by k - 1,
        ;; its opening quote just before it.
        (memory.copy
          (i32.add (local.get $fe) (local.get $k)) (local.get $fe) (i32.sub (local.get $tail) (local.get $fe)))
        (i32.store8 (i32.sub (i32.add (local.get $fe) (local.get $k)) (i32.const 1)) (i32.const 34))
        (local.set $k (i32.sub (local.get $k) (i32.const 2)))
        (memory.copy
          (i32.add (i32.add (local.get $fs) (local.get $k)) (i32.const 1))
          (local.get $fs)
          (i32.sub (local.get $fe) (local.get $fs)))
        (i32.store8 (i32.add (local.get $fs) (local.get $k)) (i32.const 34))
        (local.set $tail (local.get $fs))
        (br $fields)))

    ;; `,line,`: the digits written from the last.
    (i32.store8 (local.get $out) (i32.const 44))
    (local.set $digits (i32.const 1))
    (local.set $rest (local.get $line))
    (block $counted
      (loop $count
        (br_if $counted (i32.lt_u (local.get $rest) (i32.const 10)))
        (local.set $rest (i32.div_u (local.get $rest) (i32.const 10)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (br $count)))
    (local.set $out (i32.add (local.get $out) (local.get $digits)))
    (local.set $rest (local.get $line))
    (local.set $at (local.get $out))
    (loop $write
      (local.set $n (i32.div_u (local.get $rest) (i32.const 10)))
      (i32.store8 (local.get $at)
        (i32.add (i32.const 48) (i32.sub (local.get $rest) (i32.mul (local.get $n) (i32.const 10)))))
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (local.set $rest (local.get $n))
      (br_if $write (local.get $rest)))
    (i32.store8 offset=1 (local.get $out) (i32.const 44))
    (local.set $out (i32.add (local.get $out) (i32.const 2)))

    ;; The road: none, a remembered one, or the caller's to append (the slot it may remember it in at [8, 12)).
    (if (i32.ne (local.get $from) (i32.const -1))
      (then
        (local.set $n (i32.sub (local.get $to) (local.get $from)))
        (i32.store (i32.const 8) (i32.const -1))
        (if (i32.gt_u (local.get $n) (i32.const 64))
          (then (return (i32.sub (local.get $dst) (local.get $out)))))
        ;; The slot: a hash of the length and the first 16 bytes (those past the field zeroed).
        (local.set $v
          (v128.and
            (v128.load align=1 (local.get $from))
            (i8x16.lt_u
              (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
              (i8x16.splat (local.get $n)))))
        (local.set $entry
          (i32.add
            (i32.const 16)
            (i32.mul
              (i32.const 136)
              (i32.wrap_i64
                (i64.shr_u
                  (i64.mul
                    (i64.xor
                      (i64.xor
                        (i64x2.extract_lane 0 (local.get $v))
                        (i64.mul (i64x2.extract_lane 1 (local.get $v)) (i64.const 0x9e3779b97f4a7c15)))
                      (i64.extend_i32_u (local.get $n)))
                    (i64.const 0xff51afd7ed558ccd))
                  (i64.const 56))))))
        (i32.store (i32.const 8) (local.get $entry))
        (if (i32.ne (local.get $n) (i32.load (local.get $entry)))
          (then (return (i32.sub (local.get $dst) (local.get $out)))))
        (local.set $k (i32.const 0))
        (block $same
          (loop $compare
            (br_if $same (i32.ge_s (local.get $k) (local.get $n)))
            (local.set $m
              (i8x16.bitmask
                (i8x16.ne
                  (v128.load align=1 (i32.add (local.get $from) (local.get $k)))
                  (v128.load offset=8 align=1 (i32.add (local.get $entry) (local.get $k))))))
            (local.set $left (i32.sub (local.get $n) (local.get $k)))
            (if (i32.lt_u (local.get $left) (i32.const 16))
              (then
                (local.set $m
                  (i32.and (local.get $m) (i32.sub (i32.shl (i32.const 1) (local.get $left)) (i32.const 1))))))
            (if (local.get $m) (then (return (i32.sub (local.get $dst) (local.get $out)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $compare)))
        (local.set $n (i32.load offset=4 (local.get $entry)))
        (memory.copy (local.get $out) (i32.add (local.get $entry) (i32.const 72)) (local.get $n))
        (local.set $out (i32.add (local.get $out) (local.get $n)))))
    (i32.store8 (local.get $out) (i32.const 10))
    (i32.sub (i32.add (local.get $out) (i32.const 1)) (local.get $dst))))
