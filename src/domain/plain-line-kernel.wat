;; The cleaner's plain-line scan (clean-csv.ts, rewritePlain), 16 bytes at a time. Compiled by
;; scripts/build-wasm.mjs into plain-line-kernel.wasm.ts; plain-line-kernel.ts loads it and states the contract.
;;
;; plain(start, end, delimiter, trecho, notes) works on the line memory[start, end), which holds no quote, CR or
;; LF, and may read (never change) the 15 bytes after `end`:
;;   - every delimiter in it becomes a comma, in place;
;;   - memory[notes] receives where field `trecho` starts and memory[notes + 4] where it ends (-1 and -1 when the
;;     line has fewer fields; trecho -1 for none);
;;   - from memory[notes + 8] on, the start and end of each field holding a comma, in order, as i32 pairs;
;; and returns how many i32 it wrote from notes + 8 (twice the number of such fields).
;;
;; Most 16-byte blocks take the vector path alone: the delimiters are counted, and the bytes are looked at one by
;; one (through their bit masks) only in a block that holds a comma or the end of field `trecho`.
(module
  (memory (export "memory") 1)

  (func (export "plain")
    (param $start i32) (param $end i32) (param $delimiter i32) (param $trecho i32) (param $notes i32)
    (result i32)
    (local $pos i32) (local $left i32) (local $field i32) (local $fieldStart i32) (local $comma i32)
    (local $from i32) (local $to i32) (local $noted i32) (local $dm i32) (local $cm i32) (local $m i32)
    (local $bit i32) (local $at i32) (local $n i32)
    (local $v v128) (local $isDelimiter v128) (local $isComma v128) (local $lanes v128)
    (local $delimiters v128) (local $commas v128)

    (local.set $delimiters (i8x16.splat (local.get $delimiter)))
    (local.set $commas (i8x16.splat (i32.const 44)))
    (local.set $fieldStart (local.get $start))
    (local.set $from (select (local.get $start) (i32.const -1) (i32.eqz (local.get $trecho))))
    (local.set $to (i32.const -1))
    (local.set $noted (i32.add (local.get $notes) (i32.const 8)))
    (local.set $pos (local.get $start))

    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $pos) (local.get $end)))
        (local.set $v (v128.load align=1 (local.get $pos)))
        (local.set $isDelimiter (i8x16.eq (local.get $v) (local.get $delimiters)))
        (local.set $isComma (i8x16.eq (local.get $v) (local.get $commas)))
        (local.set $left (i32.sub (local.get $end) (local.get $pos)))
        (if (i32.lt_u (local.get $left) (i32.const 16))
          (then
            ;; The last block: lanes past the line's end are neither delimiters nor commas, so they are
            ;; written back unchanged.
            (local.set $lanes
              (i8x16.lt_u
                (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
                (i8x16.splat (local.get $left))))
            (local.set $isDelimiter (v128.and (local.get $isDelimiter) (local.get $lanes)))
            (local.set $isComma (v128.and (local.get $isComma) (local.get $lanes)))))
        ;; With a comma for delimiter, a comma is a delimiter.
        (local.set $isComma (v128.andnot (local.get $isComma) (local.get $isDelimiter)))
        (v128.store align=1 (local.get $pos)
          (v128.bitselect (local.get $commas) (local.get $v) (local.get $isDelimiter)))
        (local.set $dm (i8x16.bitmask (local.get $isDelimiter)))
        (local.set $cm (i8x16.bitmask (local.get $isComma)))

        (block $slow
          ;; A comma, or a field holding one that may end here.
          (br_if $slow (i32.or (local.get $cm) (local.get $comma)))
          (if (local.get $dm)
            (then
              (local.set $n (i32.popcnt (local.get $dm)))
              ;; The block ends no field from `trecho` on, or field `trecho` has ended already.
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
    (i32.store (local.get $notes) (local.get $from))
    (i32.store offset=4 (local.get $notes) (local.get $to))
    (i32.shr_u (i32.sub (local.get $noted) (i32.add (local.get $notes) (i32.const 8))) (i32.const 2))))
