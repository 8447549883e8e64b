# tests/test_bench_faults.sh: hlbench when the world around it fails (issue 19): stdout
# full or closed, SIGTERM/SIGHUP/SIGKILL, run folders a killed hlbench left behind, a
# disk or file size limit that fills while the results are written, and replay_args
# that hlreplay rejects. Only system and null are used (sanitizer builds too).
source tests/lib.sh
B=$HL_BIN/hlbench
D=$HL_TMP/bench_faults
rm -rf "$D"
mkdir -p "$D"

if [ ! -x "$HL_BIN/hlreplay" ]; then
  echo "test_bench_faults: SKIPPED: $HL_BIN/hlreplay is not built, so hlbench has nothing to drive"
  finish test_bench_faults
  exit
fi

check() { # DESC, then a command that must succeed
  local desc=$1; shift
  if "$@"; then pass; else fail "$desc"; fi
}
# the one finished run folder under $1 (fails when there is not exactly one)
run_dir() {
  local dirs
  dirs=$(find "$1" -mindepth 1 -maxdepth 1 -type d -not -name '.*')
  [ "$(printf '%s\n' "$dirs" | grep -c .)" -eq 1 ] && printf '%s\n' "$dirs"
}
# the unfinished (.NAME.tmp) folders under $1, one a line
tmp_dirs() { find "$1" -mindepth 1 -maxdepth 1 -type d -name '.*.tmp' 2>/dev/null; }
# killed ERRFILE CMD...: start CMD in the background (stdout to /dev/null, stderr to
# ERRFILE), wait until a run has started, SIGKILL it and wait; its pid in $pid. (Inside
# a subshell with a silent stderr, so bash's "Killed" notice stays out of the output.)
killed() {
  local err=$1; shift
  ( "$@" >/dev/null 2>"$err" & echo $! >"$err.pid"; wait ) 2>/dev/null &
  local sub=$!
  wait_progress "$err"
  pid=$(cat "$err.pid")
  kill -KILL "$pid"
  wait $sub
}
# wait until FILE has a progress line ("[ 1/N] ..."): a run has started
wait_progress() {
  for _ in $(seq 200); do
    grep -q '^\[' "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

cat >"$D/tiny.conf" <<'EOF'
allocators = system null
threads = 1
repeats = 2
workload tt = gen threadtest --iterations 2 --objects 2000 --size 32
EOF
# a replay slow enough to be caught running
"$HL_BIN/hltrace" gen threadtest --iterations 20 --objects 100000 -o "$D/slow.hlt" 2>/dev/null ||
  fail "gen slow trace"
printf 'allocators = system\nrepeats = 1\nworkload slow = file slow.hlt\n' >"$D/slow.conf"

# ---- stdout: every write checked; a full or closed stdout is exit 3, said on stderr,
# and the results folder is still complete ----
full() { # CMD...: run with stdout on /dev/full, stderr in $HL_TMP/err; its exit status
  "$@" >/dev/full 2>"$HL_TMP/err"
}
full "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/o1"
rc=$?
check "stdout full: exit 3 (got $rc)" test $rc -eq 3
check "stdout full: said so" grep -qx "hlbench: writing to standard output: No space left on device" "$HL_TMP/err"
RUN=$(run_dir "$D/o1")
check "stdout full: run folder complete" test -n "$RUN" -a -s "$RUN/bench.csv" -a -s "$RUN/meta.json"
check "stdout full: no marker left in it" test ! -e "$RUN/.owner"
"$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/o2" 2>"$D/pipe.err" | true
rc=${PIPESTATUS[0]}
check "stdout closed (SIGPIPE): exit 3, not killed (got $rc)" test "$rc" -eq 3
check "stdout closed: said so" grep -qx "hlbench: writing to standard output: Broken pipe" "$D/pipe.err"
full "$B" --help
rc=$?
check "help to a full stdout: exit 3 (got $rc)" test $rc -eq 3
full "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/o3" --jobs-out -
rc=$?
check "jobs list to a full stdout: exit 3 (got $rc)" test $rc -eq 3
check "jobs list to a full stdout: said so" grep -q "writing to standard output: No space left" "$HL_TMP/err"
while IFS= read -r job; do bash -c "$job" >/dev/null 2>&1; done < <("$B" --config "$D/tiny.conf" \
  --bin "$HL_BIN" --results "$D/o4" --jobs-out - 2>/dev/null)
full "$B" --collect "$(run_dir "$D/o4")"
rc=$?
check "collect to a full stdout: exit 3 (got $rc)" test $rc -eq 3
check "collect to a full stdout: bench.csv still written" \
  test "$(grep -c ',tt,[12],native,' "$(run_dir "$D/o4")/bench.csv")" -eq 4

# ---- SIGTERM and SIGHUP: like SIGINT (tests/test_bench.sh), exit 130, folder removed ----
for sig in TERM HUP; do
  "$B" --config "$D/slow.conf" --bin "$HL_BIN" --results "$D/s$sig" --repeats 1000 >/dev/null \
    2>"$D/$sig.err" &
  pid=$!
  wait_progress "$D/$sig.err"
  kill -$sig $pid
  wait $pid
  rc=$?
  check "SIG$sig: exit 130 (got $rc)" test $rc -eq 130
  check "SIG$sig: nothing left in results" test -z "$(ls -A "$D/s$sig" 2>/dev/null)"
done

# ---- SIGKILL cannot be handled: the folder stays, with a marker naming its hlbench; the
# next hlbench into the same results removes it (only generated traces in it) and says so ----
R=$D/k
killed "$D/kill.err" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$R" --repeats 5000
LEFT=$(tmp_dirs "$R")
check "SIGKILL: a .tmp folder is left" test -n "$LEFT" -a -s "$LEFT/traces/tt-t1.hlt"
check "SIGKILL: its marker names the pid" grep -qx "pid=$pid" "$LEFT/.owner"
expect_ok "after SIGKILL: next bench" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$R"
check "after SIGKILL: stale folder reported with size and pid" grep -Eq \
  "^hlbench: removed $LEFT \([0-9.]+ KiB\), left by hlbench pid $pid .*no measurements" "$HL_TMP/err"
check "after SIGKILL: stale folder removed" test ! -e "$LEFT"
check "after SIGKILL: the new run finished" test -s "$(run_dir "$R")/bench.csv"

# the hlreplay a killed hlbench was running dies with it (it runs in its own process
# group, out of reach of a Ctrl-C meant for hlbench, and must not run on unseen; quiet,
# so no write to its closed stderr kills it by SIGPIPE first)
"$HL_BIN/hltrace" gen threadtest --iterations 50 --objects 100000 -o "$D/orphan.hlt" 2>/dev/null ||
  fail "gen orphan trace"
printf 'allocators = system\nrepeats = 1\nreplay_args = --quiet\nworkload orphan = file orphan.hlt\n' \
  >"$D/orphan.conf"
( "$B" --config "$D/orphan.conf" --bin "$HL_BIN" --results "$D/k1" --repeats 1000 >/dev/null \
  2>"$D/orphan.err" & echo $! >"$D/orphan.pid"; wait ) 2>/dev/null &
sub=$!
for _ in $(seq 200); do pgrep -f "$D/orphan.hlt" >/dev/null && break; sleep 0.05; done
kill -KILL "$(cat "$D/orphan.pid")"
wait $sub
for _ in $(seq 10); do pgrep -f "$D/orphan.hlt" >/dev/null || break; sleep 0.05; done
check "SIGKILL: its running hlreplay died with it" test -z "$(pgrep -f "$D/orphan.hlt")"

# a stale folder that holds measurements is reported, never removed
killed "$D/kill2.err" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/k2" --repeats 5000
LEFT=$(tmp_dirs "$D/k2")
echo "run_id,workload" >"$LEFT/bench.csv" # as if killed while writing its results
expect_ok "stale with measurements: next bench" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" \
  --results "$D/k2"
check "stale with measurements: reported, what to do" grep -Eq \
  "^hlbench: $LEFT \(.*\) was left by hlbench pid $pid .*holds bench.csv, partial measurements, so it is not removed.*rm -rf '$LEFT'" \
  "$HL_TMP/err"
check "stale with measurements: kept" test -s "$LEFT/bench.csv"

# another host's folder, and one without a marker (an older hlbench's): left alone, reported
mkdir -p "$D/k3/.20200101-000000-far.tmp/traces" "$D/k3/.20200101-000000-old.tmp/traces"
printf 'pid=1\nhost=elsewhere.invalid\nstarted=2020-01-01T00:00:00Z\n' \
  >"$D/k3/.20200101-000000-far.tmp/.owner"
touch -d '2 hours ago' "$D/k3/.20200101-000000-old.tmp"
# this host, but another container's pids: a pid seen gone here may be running there
mkdir -p "$D/k3/.20200101-000000-ns.tmp/traces"
printf 'pid=999999999\nhost=%s\npid_ns=pid:[1]\nstarted=2020-01-01T00:00:00Z\n' "$(uname -n)" \
  >"$D/k3/.20200101-000000-ns.tmp/.owner"
expect_ok "foreign folders: bench" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/k3"
check "another host's folder: reported" grep -q \
  "20200101-000000-far.tmp (.*) is the run folder of hlbench pid 1 on host elsewhere.invalid" "$HL_TMP/err"
check "unmarked folder: reported" grep -q "20200101-000000-old.tmp (.*) .*without an owner marker" \
  "$HL_TMP/err"
check "another pid namespace's folder: reported" grep -q \
  "20200101-000000-ns.tmp (.*) is the run folder of hlbench pid 999999999 on host .* in another pid namespace" \
  "$HL_TMP/err"
check "foreign folders: kept" test -d "$D/k3/.20200101-000000-far.tmp" -a -d "$D/k3/.20200101-000000-old.tmp" \
  -a -d "$D/k3/.20200101-000000-ns.tmp"

# a live hlbench's folder is never touched
"$B" --config "$D/slow.conf" --bin "$HL_BIN" --results "$D/k4" --repeats 1000 >/dev/null \
  2>"$D/live.err" &
pid=$!
wait_progress "$D/live.err"
LIVE=$(tmp_dirs "$D/k4")
expect_ok "live folder: another bench beside it" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" \
  --results "$D/k4"
check "live folder: noted as running" grep -q "^hlbench: note: $LIVE is the run folder of hlbench pid $pid, still running" \
  "$HL_TMP/err"
check "live folder: untouched" test -n "$LIVE" -a -f "$LIVE/.owner" -a -d "$LIVE/traces"
kill -TERM $pid
wait $pid

# ---- the results cannot be written (file size limit): exit 3, the run folder kept as
# .tmp with what could be written, the rows still reachable (here: on stderr, since the
# limit also stops the copy to $TMPDIR), and the next hlbench reports the folder ----
# hlbench and hlreplay copied out of the checkout: git must not run under the limit here
mkdir -p "$D/fbin" "$D/dump"
cp "$HL_BIN/hlbench" "$HL_BIN/hlreplay" "$D/fbin/"
"$HL_BIN/hltrace" gen threadtest --iterations 2 --objects 2000 --size 32 -o "$D/one.hlt" 2>/dev/null
printf 'allocators = system null\nrepeats = 2\nworkload tt = file one.hlt\n' >"$D/file.conf"
# stderr through a pipe: a file would be under the limit too
(ulimit -f 2; TMPDIR=$D/dump "$D/fbin/hlbench" --config "$D/file.conf" --results "$D/f1" \
  2>&1 >/dev/null; echo "rc=$?") | cat >"$D/fsize.err"
check "file size limit: exit 3" grep -qx "rc=3" "$D/fsize.err"
check "file size limit: bench.csv named" grep -q "cannot write .*/bench.csv: File too large" "$D/fsize.err"
check "file size limit: folder kept, not removed" grep -q "Nothing measured is deleted" "$D/fsize.err"
LEFT=$(tmp_dirs "$D/f1")
check "file size limit: the .tmp folder is there" test -n "$LEFT" -a -s "$LEFT/summary.txt"
check "file size limit: all 4 rows on stderr" test "$(sed -n '/^hlbench: ---- bench.csv ----$/,/^hlbench: ---- end of bench.csv ----$/p' \
  "$D/fsize.err" | grep -c '^[0-9]\{8\}-[0-9]\{6\}-.*,tt,[12],native,')" -eq 4
expect_ok "file size limit: next bench" "$D/fbin/hlbench" --config "$D/file.conf" --results "$D/f1"
check "file size limit: next bench reports the kept folder" \
  grep -q "^hlbench: $LEFT (.*) was left by hlbench pid .*partial measurements, so it is not removed" "$HL_TMP/err"
check "file size limit: still there" test -s "$LEFT/summary.txt"

# bench.csv alone cannot be written (a stand-in hlreplay puts a folder in its way): the
# other files are written, bench.csv goes to $TMPDIR, whose path is on stderr
F=$D/blockbin
mkdir -p "$F"
cat >"$F/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'system\tstand-in\nnull\tstand-in\n'; exit 0; fi
mkdir -p bench.csv
printf 'allocator,wall_s,status\n%s,0.5,ok\n' "$3"
SH
chmod +x "$F/hlreplay"
printf 'allocators = system null\nrepeats = 1\nworkload one = file one.hlt\n' >"$D/block.conf"
TMPDIR=$D/dump expect_status "bench.csv blocked: exit 3" 3 "$B" --config "$D/block.conf" --bin "$F" \
  --results "$D/f2"
LEFT=$(tmp_dirs "$D/f2")
NAME=$(basename "$LEFT" .tmp)
NAME=${NAME#.}
check "bench.csv blocked: the rest written into the kept folder" \
  test -s "$LEFT/meta.json" -a -s "$LEFT/summary.txt"
check "bench.csv blocked: rows in \$TMPDIR" test "$(cat "$D/dump/hlbench-$NAME-bench.csv" 2>/dev/null | grep -c ',one,1,native,')" = 2
check "bench.csv blocked: stderr says where" grep -q "bench.csv (every run's row) is in $D/dump/hlbench-$NAME-bench.csv" "$HL_TMP/err"
check "bench.csv blocked: summary still printed" grep -q "^system " "$HL_TMP/out"

# a real full disk, where this test may mount a small tmpfs (root): a stand-in hlreplay
# fills it, then hlbench must write its results there
M=$D/mnt
mkdir -p "$M"
if mount -t tmpfs -o size=512k tmpfs "$M" 2>/dev/null; then
  trap 'umount "$M" 2>/dev/null' EXIT
  F=$D/fillbin
  mkdir -p "$F"
  cat >"$F/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'system\tstand-in\nnull\tstand-in\n'; exit 0; fi
cat /dev/zero >../filler 2>/dev/null
printf 'allocator,wall_s,status\n%s,0.5,ok\n' "$3"
SH
  chmod +x "$F/hlreplay"
  TMPDIR=$D/dump expect_status "disk full: exit 3" 3 "$B" --config "$D/block.conf" --bin "$F" \
    --results "$M/r"
  check "disk full: said so" grep -q "No space left on device, the disk is full. Nothing measured is deleted" "$HL_TMP/err"
  LEFT=$(tmp_dirs "$M/r")
  NAME=$(basename "$LEFT" .tmp)
  NAME=${NAME#.}
  check "disk full: folder kept" test -n "$LEFT" -a -f "$LEFT/.owner"
  check "disk full: rows in \$TMPDIR" test "$(cat "$D/dump/hlbench-$NAME-bench.csv" 2>/dev/null | grep -c ',one,1,native,')" = 2
  umount "$M"
else
  echo "test_bench_faults: (no tmpfs could be mounted: the real full-disk case is not run)"
fi

# ---- replay_args that hlreplay rejects stop hlbench before the first run, at their line ----
printf 'allocators = system null\nrepeats = 1\n\n# a typo\nreplay_args = --acess none\nworkload tt = file one.hlt\n' \
  >"$D/typo.conf"
expect_fail "replay_args: unknown option" \
  "typo.conf:5: expected replay_args that hlreplay accepts, got '--acess none': hlreplay: unknown or incomplete option '--acess'" \
  "$B" --config "$D/typo.conf" --bin "$HL_BIN" --results "$D/ra"
check "replay_args: exit 2" test "$(
  "$B" --config "$D/typo.conf" --bin "$HL_BIN" --results "$D/ra" >/dev/null 2>&1
  echo $?
)" = 2
check "replay_args: usage hint left out" test "$(grep -c 'hlreplay --help' "$HL_TMP/err")" = 0
printf 'allocators = system\nreplay_args = --access sometimes\nworkload tt = file one.hlt\n' >"$D/value.conf"
expect_fail "replay_args: bad value" "value.conf:2: .*--access: expected auto, traced, touch or none, got 'sometimes'" \
  "$B" --config "$D/value.conf" --bin "$HL_BIN" --results "$D/ra"
check "replay_args: nothing written" test -z "$(ls -A "$D/ra" 2>/dev/null)"
printf 'allocators = system null\nrepeats = 1\nreplay_args = --access none\nworkload tt = file one.hlt\n' \
  >"$D/good.conf"
expect_ok "replay_args: good ones run" "$B" --config "$D/good.conf" --bin "$HL_BIN" --results "$D/rg"
check "replay_args: no trial trace left" test ! -e "$(run_dir "$D/rg")/.replay-check.hlt"

# ---- long options are spelled out whole (getopt_long took any unique prefix) ----
expect_fail "hlbench --conf (a prefix) refused" "unknown option '--conf': .*--config\\?" \
  "$B" --conf "$D/good.conf" --bin "$HL_BIN" --results "$D/rp"
expect_fail "hlmicro --round (a prefix) refused" "unknown option '--round': .*--rounds\\?" \
  "$HL_BIN/hlmicro" --round 3
expect_fail "hlqueuebench --pair (a prefix) refused" "unknown option '--pair': .*--pairs\\?" \
  "$HL_BIN/hlqueuebench" --pair 2
expect_fail "hlmicro --help to a full device" "hlmicro: writing to standard output" \
  bash -c '"$0" --help >/dev/full' "$HL_BIN/hlmicro"

finish test_bench_faults
