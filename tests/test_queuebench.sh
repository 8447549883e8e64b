# tests/test_queuebench.sh: hlqueuebench (harness/hlqueuebench.c): a small run
# prints both modes for every pair count, as a table and as CSV; every run
# checks its own messages (order, payload, checksum: a lost one fails the
# command); the LD_PRELOAD child proves its library; bad usage is refused.
source tests/lib.sh
Q=$HL_BIN/hlqueuebench

expect_ok "help" $Q --help
if grep -q -- "--preload" "$HL_TMP/out"; then pass; else fail "help lacks --preload"; fi

expect_ok "table" $Q --pairs 2 --messages 20000 --repeats 1 -q
rows=$(grep -Ec '^[12] +glibc +[0-9]+ +[0-9]+ +[0-9.]+$' "$HL_TMP/out")
expect_eq "table rows for 1 and 2 pairs" "$rows" 2
if grep -q "served by: libc.so" "$HL_TMP/out" || [ "${HL_SANITIZED:-0}" = 1 ]; then pass; else fail "glibc not proven"; fi

expect_ok "csv" $Q --pairs 2 --messages 20000 --repeats 2 --size 128 --inflight 64 --csv
expect_eq "csv header" "$(head -1 "$HL_TMP/out" | cut -d, -f1-3)" "pairs,malloc,served_by"
expect_eq "csv rows" "$(tail -n +2 "$HL_TMP/out" | wc -l)" 2
# both modes measured (positive rates), the ratio is their quotient
awk -F, 'NR > 1 { if (!($9 > 0 && $12 > 0)) bad = 1; r = $9 / $12; d = r - $15; if (d < 0) d = -d; if (d > 0.001 * r + 0.001) bad = 1 } END { exit bad }' "$HL_TMP/out" && pass || fail "csv rates or ratio wrong"
# progress goes to stderr
expect_ok "progress" $Q --pairs 1 --messages 1000 --repeats 1
if grep -q "hlqueuebench: glibc: 1 pair" "$HL_TMP/err"; then pass; else fail "no progress on stderr"; fi

if [ "${HL_SANITIZED:-0}" != 1 ]; then
  expect_ok "preload jemalloc" $Q --pairs 1 --messages 20000 --repeats 1 --preload jemalloc -q
  if grep -Eq '^1 +jemalloc +[0-9]+ +[0-9]+' "$HL_TMP/out" && grep -q "served by: libjemalloc" "$HL_TMP/out"; then pass
  else fail "jemalloc row or proof missing"; sed 's/^/    /' "$HL_TMP/out" >&2; fi
fi
# the check has teeth: a message that never arrives fails the run
expect_fail "skipped message detected" "received .* checksum MISMATCH" $Q --pairs 2 --messages 5000 --repeats 1 -q --debug-skip 100
expect_fail "bad pairs" "bad --pairs" $Q --pairs 0
expect_fail "bad size" "bad --size" $Q --size 20
expect_fail "bad preload" "not a preloadable" $Q --preload system
expect_fail "stray argument" "unexpected argument" $Q extra
finish test_queuebench.sh
