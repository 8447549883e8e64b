# tests/test_micro.sh: hlmicro (harness/hlmicro.c): a small run prints, per
# size, a row per allocator with the median ns per alloc+free pair (1 live and
# 1000 live) and the ratio to the reference measured in the same run, as a
# table and as CSV (the ratio is the quotient of the medians; the reference's
# own is 1); the LD_PRELOAD child proves its library; bad usage is refused.
# No timing is asserted: the figures are measured, the tests check their form.
source tests/lib.sh
M=$HL_BIN/hlmicro

expect_ok "help" $M --help
if grep -q -- "--reference" "$HL_TMP/out"; then pass; else fail "help lacks --reference"; fi

expect_ok "table" $M --alloc system,ravioli,null --reference system --sizes 16,40 --pairs 20000 --rounds 3 -q
expect_eq "table: a row per allocator and size" \
  "$(grep -Ec '^(system|ravioli|null) +[0-9.]+ \([0-9.]+\.\.[0-9.]+\) +[0-9.]+x +[0-9.]+ \([0-9.]+\.\.[0-9.]+\) +[0-9.]+x$' "$HL_TMP/out")" 6
expect_eq "table: the reference's ratio is 1" "$(grep -Ec '^system .* 1\.00x .* 1\.00x$' "$HL_TMP/out")" 2
if grep -q "ravioli: heaplab ravioli" "$HL_TMP/out"; then pass; else fail "ravioli not named in served by"; fi

expect_ok "csv" $M --alloc system,ravioli16,null --reference system --sizes 100 --pairs 20000 --rounds 1 --csv -q
expect_eq "csv header" "$(head -1 "$HL_TMP/out" | cut -d, -f1-4)" "allocator,served_by,size_bytes,pairs"
expect_eq "csv rows" "$(tail -n +2 "$HL_TMP/out" | wc -l)" 3
# every figure positive, each ratio the quotient of the medians
/usr/bin/python3 - "$HL_TMP/out" <<'PY' && pass || fail "csv figures or ratios wrong"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ref = next(r for r in rows if r["allocator"] == r["reference"])
for r in rows:
    for case in ("live1", "live1000"):
        ns, ratio = float(r[case + "_ns"]), float(r[case + "_ratio"])
        assert ns > 0 and float(r[case + "_min_ns"]) <= ns <= float(r[case + "_max_ns"]), r
        assert abs(ns / float(ref[case + "_ns"]) - ratio) <= 0.001 * ratio + 0.001, r
PY

# progress goes to stderr
expect_ok "progress" $M --alloc system,null --reference null --sizes 16 --pairs 1000 --rounds 1
if grep -q "hlmicro: round 1 of 1, 16 bytes" "$HL_TMP/err"; then pass; else fail "no progress on stderr"; fi

if [ "${HL_SANITIZED:-0}" != 1 ]; then
  expect_ok "preload jemalloc" $M --alloc jemalloc,system --sizes 16 --pairs 20000 --rounds 1 -q
  if grep -Eq '^jemalloc +[0-9.]+ .* 1\.00x' "$HL_TMP/out" && grep -q "jemalloc: libjemalloc" "$HL_TMP/out"; then pass
  else fail "jemalloc row or proof missing"; sed 's/^/    /' "$HL_TMP/out" >&2; fi
fi

expect_fail "unknown allocator" "unknown allocator" $M --alloc nosuch,system --reference system
expect_fail "reference not measured" "reference must be one of --alloc" $M --alloc system,null
expect_fail "even rounds" "bad --rounds" $M --rounds 2
expect_fail "bad size" "bad --sizes" $M --sizes 0
expect_fail "bad pairs" "bad --pairs" $M --pairs x
expect_fail "stray argument" "unexpected argument" $M stray

finish test_micro.sh
