# tests/test_traces.sh: the shipped recorded traces are valid and replay correctly.
source tests/lib.sh
n=0
for xz in workloads/traces/*.hlt.xz; do
  name=$(basename "$xz" .hlt.xz)
  trace="$HL_TMP/$name.hlt"
  xz -dc "$xz" >"$trace" || fail "$name: cannot unpack"
  expect_ok "$name: check" "$HL_BIN/hltrace" check "$trace"
  grep -q "$name" workloads/traces/NOTES.md && pass || fail "$name: no provenance in NOTES.md"
  grep -q "= file ../build/traces/$name.hlt" harness/bench.conf && pass || fail "$name: not in bench.conf"
  # Replaying millions of events under a sanitizer is slow and adds nothing here.
  if [ "${HL_SANITIZED:-0}" != 1 ]; then
    for a in system unit; do
      expect_ok "$name: $a --verify" "$HL_BIN/hlreplay" "$trace" --alloc $a --verify -q
    done
  fi
  n=$((n + 1))
done
[ $n -ge 4 ] && pass || fail "expected at least 4 shipped traces, found $n"
finish test_traces
