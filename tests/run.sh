#!/usr/bin/env bash
# tests/run.sh BUILD_DIR...: run every test program and test script against
# each build (normal, sanitized), then print the total as
# "heaplab tests: N passed, M failed". Exit non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
total_pass=0 total_fail=0 broken=0
run_one() { # label, command...
  local label=$1; shift
  local out rc line
  out=$("$@" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed' | tail -n1)
  if [ -z "$line" ]; then
    printf '%s\n' "$out" | tail -n 20
    echo "$label: BROKEN (exit $rc, no summary line)"; broken=$((broken + 1)); return
  fi
  [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -v -E '^[^ ]+: [0-9]+ passed' | tail -n 40
  local p f
  p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$line")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  echo "[$label] $line"
}
for build in "$@"; do
  case "$build" in */asan|*/tsan) san=1 ;; *) san=0 ;; esac
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$build" env HL_BIN="$build/bin" HL_TMP="$tmp" HL_SANITIZED=$san "$t"
  done
  for s in tests/test_*.sh; do
    [ -f "$s" ] || continue
    run_one "$build" env HL_BIN="$build/bin" HL_TMP="$tmp" HL_SANITIZED=$san bash "$s"
  done
  rm -rf "$tmp"
done
# Every fuzz target briefly (FUZZ_SECONDS each, default 10: about a minute for
# all), from its seed corpus, with its dictionary when it has one. A run must
# end without a crash and with some input past the format's header (the
# target's "fuzz depth" line, tests/fuzz/fuzz_util.h): a fuzzer stuck at the
# magic tests nothing.
for f in build/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f"); corpus="tests/fuzz/corpus/$name"; dict="tests/fuzz/$name.dict"; work=$(mktemp -d)
  args=(-max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=0)
  [ -f "$dict" ] && args+=(-dict="$dict")
  if "$f" "${args[@]}" "$work" "$corpus" >"$work.log" 2>&1; then
    depth=$(grep -Eo 'fuzz depth: [0-9]+ of [0-9]+' "$work.log" | tail -n1)
    if [ -n "$depth" ] && [ "$(awk '{print $3}' <<<"$depth")" -eq 0 ]; then
      tail -n 5 "$work.log"
      echo "[fuzz] $name: SHALLOW: no input got past the header ($corpus stale?)"; total_fail=$((total_fail + 1))
    else
      echo "[fuzz] $name: $(grep -Eo 'Done [0-9]+ runs' "$work.log" | tail -n1), no crash"; total_pass=$((total_pass + 1))
    fi
  else
    tail -n 30 "$work.log"; echo "[fuzz] $name: CRASH (reproducer above)"; total_fail=$((total_fail + 1))
  fi
  rm -rf "$work" "$work.log"
done
total_fail=$((total_fail + broken))
echo "heaplab tests: $total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
