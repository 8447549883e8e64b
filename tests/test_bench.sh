# tests/test_bench.sh: the hlbench command end to end, against the real hlreplay and
# hltrace: a tiny matrix, its results folder, config errors, failed and timed-out
# runs, an interrupt, and --jobs-out/--collect. Only system and null are used, so it
# also runs in sanitizer builds (no LD_PRELOAD baselines there); jemalloc's served_by
# is checked in normal builds only.
source tests/lib.sh
B=$HL_BIN/hlbench
PY=/usr/bin/python3
D=$HL_TMP/bench
rm -rf "$D"
mkdir -p "$D"

if [ ! -x "$HL_BIN/hlreplay" ]; then
  echo "test_bench: SKIPPED: $HL_BIN/hlreplay is not built, so hlbench has nothing to drive"
  finish test_bench
  exit
fi

# csv FILE EXPR: evaluate a Python expression over rows (a list of dicts) and header.
csv() {
  "$PY" - "$1" "$2" <<'PY'
import csv, sys
with open(sys.argv[1], newline='') as f:
    r = list(csv.reader(f))
header, rows = r[0], [dict(zip(r[0], x)) for x in r[1:]]
assert all(len(x) == len(header) for x in r[1:]), "ragged rows"
print(eval(sys.argv[2]))
PY
}
# the one run folder under $1 (fails when there is not exactly one)
run_dir() {
  local dirs
  dirs=$(find "$1" -mindepth 1 -maxdepth 1 -type d)
  [ "$(printf '%s\n' "$dirs" | grep -c .)" -eq 1 ] && printf '%s\n' "$dirs"
}
check() { # DESC, then a command that must succeed
  local desc=$1; shift
  if "$@"; then pass; else fail "$desc"; fi
}

expect_ok "help" "$B" --help
check "help names --jobs-out" grep -q -- "--jobs-out" "$HL_TMP/out"

# ---- a tiny matrix: 1 workload, system + null, 1 thread, 2 repeats ----
cat >"$D/tiny.conf" <<'EOF'
# tiny matrix for tests
allocators = system null
threads = 1
repeats = 2
workload tt = gen threadtest --iterations 2 --objects 2000 --size 32   # small
EOF
R=$D/r1
expect_ok "tiny bench" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$R"
cp "$HL_TMP/out" "$D/tiny.out"
cp "$HL_TMP/err" "$D/tiny.err"
RUN=$(run_dir "$R")
check "one run folder, no leftover .tmp" test -n "$RUN" -a -z "$(find "$R" -name '.*tmp*')"
check "bench.csv" test -f "$RUN/bench.csv"
check "meta.json" test -f "$RUN/meta.json"
check "summary.txt" test -f "$RUN/summary.txt"
check "trace generated" test -s "$RUN/traces/tt-t1.hlt"
check "2 allocators x 2 repeats = 4 rows" test "$(csv "$RUN/bench.csv" 'len(rows)')" = 4
check "leading columns" test "$(csv "$RUN/bench.csv" '",".join(header[:5])')" = "run_id,workload,repeat,bench_mode,seed"
# The rest of the header is hlreplay's own, in its order.
"$HL_BIN/hlreplay" "$RUN/traces/tt-t1.hlt" --alloc null --format csv >"$D/one.csv" 2>/dev/null
check "hlreplay's columns in hlreplay's order" \
  test "$(csv "$RUN/bench.csv" '",".join(header[5:])')" = "$(head -n1 "$D/one.csv" | tr -d '\r')"
check "all ok" test "$(csv "$RUN/bench.csv" 'sorted(set(x["status"] for x in rows))')" = "['ok']"
check "repeats interleaved" test "$(csv "$RUN/bench.csv" '[x["repeat"] for x in rows]')" = "['1', '1', '2', '2']"
check "allocators in config order" \
  test "$(csv "$RUN/bench.csv" '[x["allocator"] for x in rows]')" = "['system', 'null', 'system', 'null']"
check "run_id is the folder name" \
  test "$(csv "$RUN/bench.csv" 'rows[0]["run_id"]')" = "$(basename "$RUN")"
check "trace column relative to the run folder" \
  test "$(csv "$RUN/bench.csv" 'rows[0]["trace"]')" = "traces/tt-t1.hlt"
check "meta.json parses" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$RUN/meta.json"
check "meta.json fields" "$PY" - "$RUN/meta.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for k in ("run_id", "date_utc", "hostname", "git", "compiler", "cflags", "machine",
          "packages", "hardware_counters", "served_by", "config", "command_line"):
    assert k in m, k
assert m["run_id"] in sys.argv[1]
assert "allocators = system null" in m["config"]
assert set(m["packages"]) == {"libjemalloc2", "libmimalloc2.0", "libtcmalloc-minimal4"}
assert m["served_by"]["system"] and m["served_by"]["null"]
assert m["runs"] == {"planned": 4, "done": 4, "failed": 0}
assert isinstance(m["hardware_counters"]["cycles_available"], bool)
assert m["git"]["commit"]
PY
check "summary printed on stdout" grep -q "^== tt, threads 1 ==" "$D/tiny.out"
check "summary.txt is what was printed" cmp -s "$D/tiny.out" "$RUN/summary.txt"
check "null marked as the harness floor" grep -q "^null (harness floor) " "$D/tiny.out"
check "summary header with units" grep -q "wall_s median.*RSS growth MiB" "$D/tiny.out"
check "system ratio is 1.00" grep -Eq "^system +2/2 .* 1\.00 " "$D/tiny.out"
check "progress lines" grep -Eq '^\[1/4\] tt t=1 system rep 1/2: [0-9.]+ s' "$D/tiny.err"

# --only-alloc and --repeats override the config
expect_ok "only-alloc" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/r2" \
  --only-alloc null --repeats 3
RUN=$(run_dir "$D/r2")
check "only-alloc null x 3 repeats = 3 rows" test "$(csv "$RUN/bench.csv" 'len(rows)')" = 3
expect_fail "only-alloc not in the config" "'jemalloc' is not among" \
  "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/r2" --only-alloc jemalloc

# ---- config errors: FILE:LINE, exit 2, nothing written ----
bad() { # NAME LINE_REGEX CONFIG_LINES...
  local name=$1 re=$2; shift 2
  printf '%s\n' "$@" >"$D/$name.conf"
  expect_fail "config: $name" "$name\.conf:$re" "$B" --config "$D/$name.conf" --bin "$HL_BIN" \
    --results "$D/rbad"
}
bad unknown_key "2: expected a key" "allocators = system" "colour = blue" "workload a = file tiny.conf"
bad unknown_alloc "1: expected an allocator" "allocators = system no_such_alloc" \
  "workload tt = gen threadtest"
bad missing_trace "2: expected a readable trace file" "allocators = system" \
  "workload a = file does-not-exist.hlt"
bad folder_trace "2: expected a readable trace file, got '/': a folder" "allocators = system" \
  "workload a = file /"
bad no_equals "1: expected 'key = value'" "allocators system"
bad bad_threads "2: expected a thread count" "allocators = system" "threads = 0" \
  "workload tt = gen threadtest"
bad dup_key "3: expected each key once" "allocators = system" "repeats = 1" "repeats = 2" \
  "workload tt = gen threadtest"
bad reserved_opt "2: expected model options only" "allocators = system" \
  "workload tt = gen threadtest --threads 8"
bad page_size "2: expected 0 \(allocator default\) or a power of two" "allocators = system" \
  "page_sizes = 0 3000" "workload tt = gen threadtest"
bad no_workload "1: expected at least one 'workload" "allocators = system"
bad sim_threads_alone "3: expected a 'sim = PRESET' line: sim_threads needs" "allocators = system" \
  "workload tt = gen threadtest" "sim_threads = 4"
bad native_no_alone "3: expected a 'sim = PRESET' line: native = no needs" "allocators = system" \
  "workload tt = gen threadtest" "native = no"
bad sim_page "2: expected simulated page sizes 4K, 2M or 1G, got '8K'" "allocators = system" \
  "sim_page_sizes = 4K 8K" "workload tt = gen threadtest"
bad vary_seed "2: expected 'vary_seed = yes' or 'vary_seed = no'" "allocators = system" \
  "vary_seed = 1" "workload tt = gen threadtest"
bad sim_page_arg "2: expected hlreplay options other than" "allocators = system" \
  "replay_args = --sim-page-size 2M" "workload tt = gen threadtest"
expect_fail "config: missing config file" "no-such\.conf:0: expected a readable config file" \
  "$B" --config "$D/no-such.conf" --bin "$HL_BIN" --results "$D/rbad"
expect_fail "no --config" "expected exactly one of --config" "$B" --bin "$HL_BIN"
expect_fail "bad --repeats" "--repeats: expected a count" "$B" --config "$D/tiny.conf" --repeats 0
check "config errors write nothing" test ! -e "$D/rbad" -o -z "$(ls -A "$D/rbad" 2>/dev/null)"

# ---- a failing run: a corrupt trace is recorded as an error, exit 1 ----
head -c 300 "$(run_dir "$R")/traces/tt-t1.hlt" >"$D/corrupt.hlt"
cat >"$D/corrupt.conf" <<'EOF'
allocators = system null
repeats = 2
workload good = gen threadtest --iterations 1 --objects 500
workload broken = file corrupt.hlt
EOF
"$B" --config "$D/corrupt.conf" --bin "$HL_BIN" --results "$D/r3" >"$D/corrupt.out" 2>"$D/corrupt.err"
rc=$?
check "failed runs: exit 1 (got $rc)" test $rc -eq 1
RUN=$(run_dir "$D/r3")
check "failed runs: run folder still written" test -f "$RUN/bench.csv" -a -f "$RUN/meta.json"
check "failed runs: 8 rows" test "$(csv "$RUN/bench.csv" 'len(rows)')" = 8
check "failed runs: status error with hlreplay's message" \
  test "$(csv "$RUN/bench.csv" 'all(x["status"].startswith("error: ") and "corrupt.hlt" in x["status"] for x in rows if x["workload"] == "broken")')" = True
check "failed runs: metrics NA" \
  test "$(csv "$RUN/bench.csv" 'set(x["wall_s"] for x in rows if x["workload"] == "broken")')" = "{'NA'}"
check "failed runs: cell still identified" \
  test "$(csv "$RUN/bench.csv" '[x["allocator"] for x in rows if x["workload"] == "broken"]')" = "['system', 'null', 'system', 'null']"
check "failed runs: good ones ok" \
  test "$(csv "$RUN/bench.csv" 'set(x["status"] for x in rows if x["workload"] == "good")')" = "{'ok'}"
check "failed runs: listed after the summary" grep -q "4 of 8 runs failed" "$D/corrupt.out"
check "failed runs: NA in the summary, never 0" grep -Eq "^system +0/2 +NA +NA +NA " "$D/corrupt.out"
check "failed runs: stderr kept in logs/" test "$(ls "$RUN/logs" | wc -l)" -eq 4
check "failed runs: meta counts them" "$PY" -c \
  'import json,sys; assert json.load(open(sys.argv[1]))["runs"]["failed"] == 4' "$RUN/meta.json"

# ---- a run over its timeout is killed and recorded ----
"$HL_BIN/hltrace" gen threadtest --iterations 20 --objects 100000 -o "$D/slow.hlt" 2>/dev/null ||
  fail "gen slow trace"
printf 'allocators = system\nrepeats = 1\nworkload slow = file slow.hlt\n' >"$D/slow.conf"
"$B" --config "$D/slow.conf" --bin "$HL_BIN" --results "$D/r4" --timeout 0.02 >/dev/null 2>&1
rc=$?
check "timeout: exit 1 (got $rc)" test $rc -eq 1
RUN=$(run_dir "$D/r4")
check "timeout: status" test "$(csv "$RUN/bench.csv" 'rows[0]["status"]')" = "timeout: killed after 0.02 s"
check "timeout: no hlreplay left behind" \
  test -z "$(pgrep -f "hlreplay slow.hlt" 2>/dev/null)"

# ---- an interrupt leaves no run folder behind ----
"$B" --config "$D/slow.conf" --bin "$HL_BIN" --results "$D/r5" --repeats 1000 >/dev/null 2>"$D/int.err" &
pid=$!
for _ in $(seq 100); do # until the first run has started
  grep -q "^\[" "$D/int.err" 2>/dev/null && break
  sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
check "interrupt: exit 130 (got $rc)" test $rc -eq 130
check "interrupt: nothing left in results" test -z "$(ls -A "$D/r5" 2>/dev/null)"
check "interrupt: said so" grep -q "removed the unfinished" "$D/int.err"

# ---- --jobs-out: one command per run, then --collect ----
expect_ok "jobs-out" "$B" --config "$D/tiny.conf" --bin "$HL_BIN" --results "$D/r6" \
  --jobs-out "$D/jobs.txt"
check "jobs-out: 2 allocators x 2 repeats = 4 lines" test "$(wc -l <"$D/jobs.txt")" -eq 4
RUN=$(run_dir "$D/r6")
check "jobs-out: run folder prepared" test -s "$RUN/traces/tt-t1.hlt" -a -f "$RUN/jobs.tsv"
check "jobs-out: meta says jobs" "$PY" -c \
  'import json,sys; assert json.load(open(sys.argv[1]))["mode"] == "jobs"' "$RUN/meta.json"
check "jobs-out: each line runs hlreplay" test "$(grep -c "hlreplay' 'traces/tt-t1.hlt' --alloc" "$D/jobs.txt")" -eq 4
# Run all but the last job, as an engine would, then collect: one run is missing.
head -n 3 "$D/jobs.txt" | while IFS= read -r job; do bash -c "$job" || echo "job failed: $job" >&2; done
"$B" --collect "$RUN" >"$D/collect.out" 2>&1
rc=$?
check "collect with a job missing: exit 1 (got $rc)" test $rc -eq 1
check "collect: missing job recorded" \
  test "$(csv "$RUN/bench.csv" 'rows[3]["status"]')" = "error: job not run (no exit status in jobs/0004.rc)"
tail -n 1 "$D/jobs.txt" | bash
expect_ok "collect" "$B" --collect "$RUN"
check "collect: 4 ok rows" test "$(csv "$RUN/bench.csv" '[x["status"] for x in rows]')" = "['ok', 'ok', 'ok', 'ok']"
check "collect: summary" grep -q "^null (harness floor) " "$RUN/summary.txt"
check "collect: meta served_by filled" "$PY" -c \
  'import json,sys; m=json.load(open(sys.argv[1])); assert m["served_by"]["null"] and m["runs"]["done"] == 4' \
  "$RUN/meta.json"
expect_fail "collect: not a jobs folder" "jobs.tsv" "$B" --collect "$D"

# ---- hlreplay output hlbench must survive: a stand-in hlreplay that prints RFC 4180
# quoting, an extra column, two rows, a non-ok status, or crashes. (The real one does
# not misbehave on demand; everything above runs against the real one.) ----
F=$D/fakebin
mkdir -p "$F"
cat >"$F/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'system\tstand-in\nnull\tstand-in\n'; exit 0; fi
case "$(basename "$1")" in
  quoted.hlt) printf 'allocator,served_by,wall_s,status,extra_col\n%s,"lib ""q"", v1\nline 2",0.5,ok,"a,b"\r\n' "$3" ;;
  tworows.hlt) printf 'allocator,status\nx,ok\ny,ok\n' ;;
  crash.hlt) echo "about to crash" >&2; kill -SEGV $$ ;;
  notok.hlt) printf 'allocator,status\n%s,"failed: out of memory"\n' "$3" ;;
esac
SH
chmod +x "$F/hlreplay"
for t in quoted tworows crash notok; do : >"$D/$t.hlt"; done
printf 'allocators = system null\nrepeats = 1\n' >"$D/odd.conf"
for t in quoted tworows crash notok; do echo "workload $t = file $t.hlt" >>"$D/odd.conf"; done
"$B" --config "$D/odd.conf" --bin "$F" --results "$D/r8" >"$D/odd.out" 2>"$D/odd.err"
rc=$?
check "odd output: exit 1 (got $rc)" test $rc -eq 1
RUN=$(run_dir "$D/r8")
check "odd output: quoted field with comma, quote and newline" \
  test "$(csv "$RUN/bench.csv" 'rows[0]["served_by"] == "lib \"q\", v1\nline 2"')" = True
check "odd output: unknown column copied" test "$(csv "$RUN/bench.csv" 'rows[0]["extra_col"]')" = "a,b"
check "odd output: quoted run ok" test "$(csv "$RUN/bench.csv" 'rows[0]["status"]')" = ok
check "odd output: two rows refused" test "$(csv "$RUN/bench.csv" 'rows[2]["status"]')" = \
  "error: hlreplay printed 3 CSV lines, expected a header and one row"
check "odd output: crash recorded" test "$(csv "$RUN/bench.csv" 'rows[4]["status"]')" = \
  "error: killed by signal 11 (Segmentation fault); last stderr line: about to crash"
check "odd output: non-ok status kept and counted" \
  test "$(csv "$RUN/bench.csv" 'rows[6]["status"]')" = "failed: out of memory"
check "odd output: 6 of 8 failed" grep -q "^6 of 8 runs failed" "$D/odd.out"
check "odd output: median from the quoted row" grep -Eq "^system +1/1 +0\.5000 " "$D/odd.out"

# ---- a page-size sweep runs only the allocators with the tunable at each size; the
# others once, at their default (page size 0) ----
P=$D/pagedbin
mkdir -p "$P"
cat >"$P/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'system\tstand-in\t-\nsweeper\tstand-in\tpage-size,moves\n'; exit 0; fi
page=0; alloc=; prev=
for a in "$@"; do [ "$prev" = --page-size ] && page=$a; [ "$prev" = --alloc ] && alloc=$a; prev=$a; done
[ "$alloc" = system ] && [ "$page" != 0 ] && { echo "system got --page-size" >&2; exit 2; }
printf 'allocator,page_size_bytes,wall_s,status\n%s,%s,0.1,ok\n' "$alloc" "$page"
SH
chmod +x "$P/hlreplay"
: >"$D/one.hlt"
printf 'allocators = system sweeper\nrepeats = 1\npage_sizes = 0 4K 64K\nworkload one = file one.hlt\n' >"$D/paged.conf"
expect_ok "page sweep" "$B" --config "$D/paged.conf" --bin "$P" --results "$D/r9"
RUN=$(run_dir "$D/r9")
check "page sweep: system once at 0, sweeper at 0, 4K and 64K" \
  test "$(csv "$RUN/bench.csv" 'sorted((x["allocator"], x["page_size_bytes"]) for x in rows)')" = \
  "[('sweeper', '0'), ('sweeper', '4096'), ('sweeper', '65536'), ('system', '0')]"

# sweep_workloads / sim_workloads: the expensive passes only where asked
cat >"$P/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'sweeper\tstand-in\tpage-size\n'; exit 0; fi
page=0; sim=NA; prev=
for a in "$@"; do [ "$prev" = --page-size ] && page=$a; [ "$prev" = --sim ] && sim=sim; prev=$a; done
printf 'allocator,page_size_bytes,sim_config,wall_s,status\nsweeper,%s,%s,0.1,ok\n' "$page" "$sim"
SH
: >"$D/two.hlt"
printf 'l1d = 32K 8 lru\n' >"$D/machine.conf"
printf 'allocators = sweeper\nrepeats = 1\npage_sizes = 0 64K\nsim = machine.conf\nsweep_workloads = two\nsim_workloads = one\nworkload one = file one.hlt\nworkload two = file two.hlt\n' >"$D/subset.conf"
expect_ok "subsets" "$B" --config "$D/subset.conf" --bin "$P" --results "$D/r11"
RUN=$(run_dir "$D/r11")
check "subsets: 'two' swept, only 'one' simulated" \
  test "$(csv "$RUN/bench.csv" 'sorted((x["workload"], x["page_size_bytes"], x["bench_mode"]) for x in rows)')" = \
  "[('one', '0', 'native'), ('one', '0', 'sim'), ('two', '0', 'native'), ('two', '65536', 'native')]"
printf 'allocators = sweeper\nsweep_workloads = nope\nworkload one = file one.hlt\n' >"$D/badsub.conf"
expect_fail "subsets: unknown workload" "badsub.conf:2: expected the name of a workload of this file, got 'nope'" \
  "$B" --config "$D/badsub.conf" --bin "$P"

# allocator variants NAME:OPTIONS: --options passed, the variant's name in bench.csv (a
# stand-in name this build's registry does not know: hlbench checks the options of the
# allocators its own build knows itself, tests/test_options.sh)
cat >"$P/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'standin\tstand-in\t-\n'; exit 0; fi
opts=none; prev=
for a in "$@"; do [ "$prev" = --options ] && opts=$a; prev=$a; done
printf 'allocator,extra,wall_s,status\nstandin,"%s",0.1,ok\n' "$opts"
SH
printf 'allocators = standin standin:hysteresis=0,x=1\nrepeats = 1\nworkload one = file one.hlt\n' >"$D/variant.conf"
expect_ok "variants" "$B" --config "$D/variant.conf" --bin "$P" --results "$D/r12"
RUN=$(run_dir "$D/r12")
check "variants: named apart, options passed" \
  test "$(csv "$RUN/bench.csv" '[(x["allocator"], x["extra"]) for x in rows]')" = \
  "[('standin', 'none'), ('standin:hysteresis=0,x=1', 'hysteresis=0,x=1')]"
# the harness's own key in a variant: remote-free=... becomes --remote-free, the rest --options
cat >"$P/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'standin\tstand-in\t-\n'; exit 0; fi
opts=none rf=none; prev=
for a in "$@"; do [ "$prev" = --options ] && opts=$a; [ "$prev" = --remote-free ] && rf=$a; prev=$a; done
printf 'allocator,extra,remote_free,wall_s,status\nstandin,"%s",%s,0.1,ok\n' "$opts" "$rf"
SH
printf 'allocators = standin standin:remote-free=request standin:x=1,remote-free=send\nrepeats = 1\nworkload one = file one.hlt\n' >"$D/rfvar.conf"
expect_ok "variants: remote-free" "$B" --config "$D/rfvar.conf" --bin "$P" --results "$D/r12b"
RUN=$(run_dir "$D/r12b")
check "variants: remote-free passed as the harness's option, not the allocator's" \
  test "$(csv "$RUN/bench.csv" '[(x["allocator"], x["extra"], x["remote_free"]) for x in rows]')" = \
  "[('standin', 'none', 'none'), ('standin:remote-free=request', 'none', 'request'), ('standin:x=1,remote-free=send', 'x=1', 'send')]"
printf 'allocators = system:remote-free=maybe\nworkload one = file one.hlt\n' >"$D/badrf.conf"
expect_fail "variants: bad remote-free" "badrf.conf:1: expected remote-free=send or remote-free=request" \
  "$B" --config "$D/badrf.conf" --bin "$P"
printf 'allocators = system:\nworkload one = file one.hlt\n' >"$D/badvar.conf"
expect_fail "variants: empty options" "expected an allocator NAME or NAME:key=value" "$B" --config "$D/badvar.conf" --bin "$P"
printf 'allocators = nope:a=1\nworkload one = file one.hlt\n' >"$D/badvar2.conf"
expect_fail "variants: unknown base allocator" "got 'nope'" "$B" --config "$D/badvar2.conf" --bin "$P"

# ---- sim = PRESET: every cell once more through the simulator, marked bench_mode=sim,
# left out of the summary's timing ----
cat >"$P/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'system\tstand-in\t-\n'; exit 0; fi
sim=NA; prev=
for a in "$@"; do [ "$prev" = --sim ] && sim=$(basename "$a"); prev=$a; done
wall=0.1; [ "$sim" != NA ] && wall=9.9
printf 'allocator,wall_s,sim_config,status\nsystem,%s,%s,ok\n' "$wall" "$sim"
SH
printf 'l1d = 32K 8 lru\n' >"$D/machine.conf"
printf 'allocators = system\nrepeats = 2\nsim = machine.conf\nworkload one = file one.hlt\n' >"$D/sim.conf"
expect_ok "sim runs" "$B" --config "$D/sim.conf" --bin "$P" --results "$D/r10"
RUN=$(run_dir "$D/r10")
check "sim: two native repeats and one simulated run" \
  test "$(csv "$RUN/bench.csv" '[(x["bench_mode"], x["repeat"], x["sim_config"]) for x in rows]')" = \
  "[('native', '1', 'NA'), ('native', '2', 'NA'), ('sim', '1', 'machine.conf')]"
check "sim: the summary's median is the native one" grep -Eq "^system +2/2 +0\.1000 " "$RUN/summary.txt"
printf 'allocators = system\nsim = nowhere.conf\nworkload one = file one.hlt\n' >"$D/nosim.conf"
expect_fail "sim: missing preset" "expected a readable simulator config" "$B" --config "$D/nosim.conf" --bin "$P"
printf 'allocators = system\nreplay_args = --sim x\nworkload one = file one.hlt\n' >"$D/simarg.conf"
expect_fail "sim: not through replay_args" "got '--sim'" "$B" --config "$D/simarg.conf" --bin "$P"

# ---- the simulated pass alone (native = no), at its own thread counts, each repeat on
# traces of its own seed (vary_seed), the swept workload at every simulated page size ----
cat >"$P/hltrace" <<'SH'
#!/bin/bash
out=; prev=
for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
printf '%s\n' "$*" >"$out"
SH
cat >"$P/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'system\tstand-in\t-\n'; exit 0; fi
page=preset; prev=
for a in "$@"; do [ "$prev" = --sim-page-size ] && page=$a; prev=$a; done
printf 'allocator,wall_s,sim_config,trace,status\nsystem,1,%s,%s,ok\n' "$page" "$1"
SH
chmod +x "$P/hltrace" "$P/hlreplay"
cat >"$D/simonly.conf" <<'CONF'
allocators = system
threads = 1
sim_threads = 2 4
repeats = 2
seed = 7
vary_seed = yes
native = no
sim = machine.conf
sim_page_sizes = 4K 2M
sweep_workloads = sw
workload sw = gen list
workload ns = gen xmalloc
CONF
expect_ok "sim only" "$B" --config "$D/simonly.conf" --bin "$P" --results "$D/r15"
RUN=$(run_dir "$D/r15")
check "sim only: no native run, sim_threads, a seed per repeat, pages for the swept one" \
  test "$(csv "$RUN/bench.csv" '" ".join("/".join(x[k] for k in ("bench_mode", "repeat", "seed", "trace", "sim_config")) for x in rows)')" = \
  "$(printf '%s ' sim/1/7/traces/sw-t2-s7.hlt/4K sim/1/7/traces/sw-t2-s7.hlt/2M \
     sim/1/7/traces/sw-t4-s7.hlt/4K sim/1/7/traces/sw-t4-s7.hlt/2M \
     sim/1/7/traces/ns-t2-s7.hlt/preset sim/1/7/traces/ns-t4-s7.hlt/preset \
     sim/2/8/traces/sw-t2-s8.hlt/4K sim/2/8/traces/sw-t2-s8.hlt/2M \
     sim/2/8/traces/sw-t4-s8.hlt/4K sim/2/8/traces/sw-t4-s8.hlt/2M \
     sim/2/8/traces/ns-t2-s8.hlt/preset sim/2/8/traces/ns-t4-s8.hlt/preset | sed 's/ $//')"
check "sim only: each trace generated once with its seed and threads" \
  test "$(ls "$RUN/traces" | tr '\n' ' ')$(cat "$RUN/traces/sw-t4-s8.hlt")" = \
  "ns-t2-s7.hlt ns-t2-s8.hlt ns-t4-s7.hlt ns-t4-s8.hlt sw-t2-s7.hlt sw-t2-s8.hlt sw-t4-s7.hlt sw-t4-s8.hlt gen list --threads 4 --seed 8 -o traces/sw-t4-s8.hlt"
check "sim only: no native table, simulated pages in the titles" \
  test "$(grep -c '^wall_s' "$RUN/summary.txt")$(grep -c '^== sw, threads 4, simulated pages 2M ==' "$RUN/summary.txt")" = 01
expect_ok "sim only: jobs" "$B" --config "$D/simonly.conf" --bin "$P" --results "$D/r16" \
  --jobs-out "$D/simjobs.txt"
check "sim only: jobs carry the simulated page" \
  test "$(grep -c -- "--sim-page-size 2M" "$D/simjobs.txt")" -eq 4
RUN=$(run_dir "$D/r16")
while IFS= read -r job; do bash -c "$job" >/dev/null 2>&1; done <"$D/simjobs.txt"
expect_ok "sim only: collect" "$B" --collect "$RUN"
check "sim only: collected rows keep seed and page" \
  test "$(csv "$RUN/bench.csv" '" ".join(x["seed"] + "/" + x["sim_config"] for x in rows[:2])')" = "7/4K 7/2M"

# ---- a moving allocator's counters: a table of its own, rates per 1000 events and
# quotients of columns, computed from the run's row; allocators without them left out ----
cat >"$P/hlreplay" <<'SH'
#!/bin/bash
if [ "$1" = --list ]; then printf 'system\tstand-in\t-\nmover\tstand-in\t-\n'; exit 0; fi
name=; prev=
for a in "$@"; do [ "$prev" = --alloc ] && name=$a; prev=$a; done
printf 'allocator,wall_s,events,objects,remote_free,alloc_moves,alloc_fixups,alloc_cells_allocated,'
printf 'alloc_messages,alloc_free_requests,alloc_transfer_pages,alloc_pages_handed,'
printf 'alloc_transfer_bytes,alloc_accesses,alloc_access_lines,alloc_access_pages,status\n'
if [ "$name" = mover ]; then
  printf 'mover,0.1,4000,100,request,500,1200,650,8,2,16,4,20480,50,175,60,ok\n'
else
  printf 'system,0.1,4000,100,direct,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,ok\n'
fi
SH
printf 'allocators = system mover\nrepeats = 1\nworkload one = file one.hlt\n' >"$D/moves.conf"
expect_ok "moves table" "$B" --config "$D/moves.conf" --bin "$P" --results "$D/r14"
RUN=$(run_dir "$D/r14")
check "moves table: titled" grep -q "where a moving allocator's work goes" "$RUN/summary.txt"
check "moves table: rates and quotients of the row" grep -Eq \
  "^mover +request +125(\.0+)? +300(\.0+)? +6\.50* +2\.00* +0\.50* +4\.00* +0\.250* +5\.00* +3\.50* +1\.20* *$" \
  "$RUN/summary.txt"
check "moves table: no row for an allocator without the counters" \
  test "$(sed -n '/where a moving/,$p' "$RUN/summary.txt" | grep -c '^system ')" -eq 0

# ---- a preloaded baseline says which library served (normal builds only) ----
if [ "${HL_SANITIZED:-0}" != 1 ] && "$HL_BIN/hlreplay" --list | grep -q '^jemalloc'; then
  sed 's/^allocators = .*/allocators = system jemalloc/; s/^repeats = .*/repeats = 1/' \
    "$D/tiny.conf" >"$D/je.conf"
  expect_ok "jemalloc bench" "$B" --config "$D/je.conf" --bin "$HL_BIN" --results "$D/r7"
  RUN=$(run_dir "$D/r7")
  check "jemalloc served_by in bench.csv" \
    test "$(csv "$RUN/bench.csv" '"jemalloc" in rows[1]["served_by"]')" = True
  check "jemalloc served_by in meta.json" "$PY" -c \
    'import json,sys; assert "jemalloc" in json.load(open(sys.argv[1]))["served_by"]["jemalloc"]' \
    "$RUN/meta.json"
fi

finish test_bench
