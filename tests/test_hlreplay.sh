# tests/test_hlreplay.sh: the hlreplay command end to end, every allocator.
source tests/lib.sh
R=$HL_BIN/hlreplay
T=$HL_BIN/hltrace

expect_ok "help" $R --help
expect_ok "list" $R --list
for a in system jemalloc mimalloc tcmalloc null; do
  if grep -q "^$a	" "$HL_TMP/out"; then pass; else fail "--list lacks $a"; fi
done
expect_fail "unknown allocator" "unknown allocator 'nope'; known allocators: system" $R x.hlt --alloc nope
expect_fail "no --alloc" "--alloc NAME is required" $R x.hlt
expect_fail "no trace" "expected a TRACE" $R --alloc system
expect_fail "bad access model" "expected auto, traced, touch or none" $R x.hlt --alloc system --access sometimes
expect_fail "missing trace file" "no-such-file.hlt" $R "$HL_TMP/no-such-file.hlt" --alloc system
printf 'definitely not a trace' >"$HL_TMP/bad.hlt"
expect_fail "corrupt trace" "bad.hlt: byte 0, event 0" $R "$HL_TMP/bad.hlt" --alloc system
expect_fail "page size without the tunable" "allocator 'system' has no page size tunable" \
  $R "$HL_TMP/bad.hlt" --alloc system --page-size 64K

# Traces: every generator with cross-thread traffic, and a hand-written one with every op.
$T gen threadtest --threads 2 --iterations 3 --objects 2000 --size 24 --seed 1 -o "$HL_TMP/tt.hlt" || fail "gen threadtest"
$T gen larson --threads 4 --slots 200 --rounds 400 --generations 3 --seed 2 -o "$HL_TMP/larson.hlt" || fail "gen larson"
$T gen xmalloc --threads 4 --objects 4000 --batch 50 --seed 3 -o "$HL_TMP/xm.hlt" || fail "gen xmalloc"
cat >"$HL_TMP/every.txt" <<'TXT'
heaplab-trace 1
threads 2
meta note every op once
0 start
1 start
0 malloc 1 100
0 calloc 2 64
0 memalign 3 100 256
0 posix_memalign 4 72 64
0 aligned_alloc 5 128 128
0 valloc 6 10
0 pvalloc 7 5000
0 write 1 0 100
0 read 1 10 20
0 link 2 8 1
0 send 1 1
1 realloc 1 4000
1 read 1 0 100
1 write 1 100 3900
0 barrier 7 2
1 barrier 7 2
1 free 1
0 link 2 8 null
0 free 2
0 free 3
1 free 4
1 free 5
0 free 6
0 free 7
0 end
1 end
TXT
expect_ok "pack every-op trace" $T pack "$HL_TMP/every.txt" -o "$HL_TMP/every.hlt"

allocs="system jemalloc mimalloc tcmalloc"
[ "${HL_SANITIZED:-0}" = 1 ] && allocs="system" # a sanitizer owns malloc: no LD_PRELOAD there
declare -A soname=([system]="libc.so.6|sanitizer" [jemalloc]=libjemalloc.so.2 [mimalloc]=libmimalloc.so.2 [tcmalloc]=libtcmalloc_minimal.so.4)
# Does the library itself define every call the every-op trace makes? (Debian's
# jemalloc has no pvalloc: such a call must fail cleanly, never fall through to glibc.)
lacks() { # allocator -> the kinds its library does not define
  [ "$1" = system ] && return
  local lib
  lib=$(ldconfig -p | awk -v so="${soname[$1]}" '$1 == so {print $NF; exit}')
  for k in malloc calloc memalign posix_memalign aligned_alloc valloc pvalloc; do
    nm -D --defined-only "$lib" | awk '{print $3}' | grep -qx $k || echo $k
  done
}
for a in $allocs; do
  missing=$(lacks $a)
  for tr in tt larson xm every; do
    for mode in --threads-as-traced --serial --threads-in-turn; do
      if [ $tr = every ] && [ -n "$missing" ]; then
        expect_fail "$a lacks $missing" "allocator does not provide $missing" $R "$HL_TMP/$tr.hlt" --alloc $a $mode -q
        continue
      fi
      expect_ok "$a $tr $mode verify" $R "$HL_TMP/$tr.hlt" --alloc $a $mode --verify --format csv -q
      # one header and one row; status ok; served_by proves the library
      if [ "$(wc -l <"$HL_TMP/out")" = 2 ] && tail -n1 "$HL_TMP/out" | grep -Eq ",ok,"; then pass; else fail "$a $tr: row"; cat "$HL_TMP/out" >&2; fi
      if tail -n1 "$HL_TMP/out" | grep -Eq "${soname[$a]}"; then pass; else fail "$a $tr: served_by does not name ${soname[$a]}"; fi
    done
  done
done
if [ "${HL_SANITIZED:-0}" = 1 ]; then
  expect_fail "preload refused under a sanitizer" "cannot work in a sanitizer build" $R "$HL_TMP/tt.hlt" --alloc jemalloc
else
  # A preload that did not take effect must never report under the wrong name.
  expect_fail "preload marker without LD_PRELOAD" "served by libc.so.6" \
    env HEAPLAB_PRELOADED=jemalloc $R "$HL_TMP/tt.hlt" --alloc jemalloc
  expect_fail "system while jemalloc is preloaded" "served by libjemalloc.so.2" \
    env LD_PRELOAD=libjemalloc.so.2 $R "$HL_TMP/tt.hlt" --alloc system
fi

# The CSV row: the documented columns, NA (with a reason) rather than 0 for what was not measured.
expect_ok "csv row" $R "$HL_TMP/tt.hlt" --alloc system --format csv -q
head -n1 "$HL_TMP/out" | grep -q '^allocator,served_by,trace,threads,mode,access_model,' && pass || fail "csv header"
/usr/bin/python3 - "$HL_TMP/out" <<'PY' && pass || fail "csv row contents"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1, rows
r = rows[0]
assert r["status"] == "ok" and r["access_model"] == "touch" and r["mode"] == "threads-as-traced", r
assert int(r["events"]) > 0 and float(r["wall_s"]) > 0 and int(r["peak_rss_kib"]) > 0, r
for m in ("cycles", "instructions", "l1d_misses", "llc_misses", "dtlb_misses"):
    if r[m] == "NA":
        assert m + ": " in r["na_reasons"], (m, r["na_reasons"])
    else:
        assert int(r[m]) >= 0, (m, r[m])
assert r["alloc_bytes_live"] == "NA" and "alloc_bytes_live: not exposed" in r["na_reasons"]
PY
# Memory honesty: the harness must not malloc-and-free before the run (an
# allocator that keeps freed memory resident would then serve the trace from
# it and look smaller). With the touch model every live byte is resident, so
# the RSS growth must cover the trace's peak live bytes.
$T gen threadtest --threads 1 --iterations 10 --objects 100000 --size 64 --seed 4 -o "$HL_TMP/rss.hlt" || fail "gen rss"
live=$($T stats "$HL_TMP/rss.hlt" | awk '/^live bytes:/ {gsub(",", "", $4); print $4}')
for a in $allocs; do
  $R "$HL_TMP/rss.hlt" --alloc $a --access touch --format csv -q >"$HL_TMP/rss.csv" 2>&1 || fail "$a rss run"
  /usr/bin/python3 - "$HL_TMP/rss.csv" "$live" "$a" <<'PY' && pass || fail "$a: RSS growth below the live bytes"
import csv, sys
r = next(csv.DictReader(open(sys.argv[1])))
growth = (int(r["peak_rss_kib"]) - int(r["rss_before_kib"])) * 1024
live = int(sys.argv[2])
if growth < 0.9 * live:
    sys.exit(f"{sys.argv[3]}: RSS grew {growth} bytes for {live} live bytes")
PY
done
expect_ok "text output" $R "$HL_TMP/every.hlt" --alloc system
grep -q "^access_model *traced" "$HL_TMP/out" && pass || fail "every-op trace uses the traced model"
grep -q "access model traced" "$HL_TMP/err" && pass || fail "access model printed on stderr"
expect_ok "null, no access" $R "$HL_TMP/larson.hlt" --alloc null --access none
expect_fail "null verify refused" "nothing to verify" $R "$HL_TMP/larson.hlt" --alloc null --verify
# ---- messages of several objects, and remote frees as free requests ----
expect_fail "bad --remote-free" "--remote-free: expected send or request, got 'maybe'" \
  $R "$HL_TMP/tt.hlt" --alloc system --remote-free maybe
expect_ok "help names --remote-free" $R --help
grep -q -- "--remote-free send|request" "$HL_TMP/out" && pass || fail "--help lacks --remote-free"
# Each round every thread sends objects to the next thread as one message of
# three (links among them), the receiver reads and frees one of them; the
# others are freed a round later by the thread after it: a remote free.
{
  echo "heaplab-trace 2"; echo "threads 4"
  for t in 0 1 2 3; do echo "$t start"; done
  id=0
  for r in 0 1 2 3 4 5 6 7; do
    for t in 0 1 2 3; do
      to=$(((t + 1) % 4)); nx=$(((t + 2) % 4)); a=$id b=$((id + 1)) c=$((id + 2)); id=$((id + 3))
      echo "$t malloc $a 48"; echo "$t calloc $b 32"; echo "$t malloc $c 24"
      echo "$t write $a 0 48"; echo "$t write $c 0 24"
      echo "$t link $a 8 $b"; echo "$t link $b 0 $c"
      echo "$t sendpart $a $to"; echo "$nx malloc $((id++)) 8"; echo "$t sendpart $b $to"
      echo "$t send $c $to"
      echo "$to read $a 16 32"; echo "$to read $c 0 24"; echo "$to free $c"
      [ $r -gt 0 ] && echo "$nx free $((a - 16))" && echo "$nx free $((b - 16))"
    done
  done
  for t in 0 1 2 3; do echo "$t end"; done
} >"$HL_TMP/sets.txt"
expect_ok "pack the message trace" $T pack "$HL_TMP/sets.txt" -o "$HL_TMP/sets.hlt"
col() { # csv file, column -> the value in its one row
  /usr/bin/python3 -c 'import csv,sys; print(next(csv.DictReader(open(sys.argv[1])))[sys.argv[2]])' "$1" "$2"
}
owned="ravioli"
for a in system $owned; do
  for mode in --threads-as-traced --serial --threads-in-turn; do
    expect_ok "$a sets $mode verify" $R "$HL_TMP/sets.hlt" --alloc $a $mode --verify --format csv -q
    cp "$HL_TMP/out" "$HL_TMP/sets.csv"
    expect_eq "$a sets $mode status" "$(col "$HL_TMP/sets.csv" status)" ok
    want=send; [ $a = system ] && want=direct
    expect_eq "$a sets $mode remote_free" "$(col "$HL_TMP/sets.csv" remote_free)" $want
  done
done
expect_ok "system --remote-free request" $R "$HL_TMP/sets.hlt" --alloc system --remote-free request --verify --format csv
cp "$HL_TMP/out" "$HL_TMP/sets.csv"
expect_eq "system request: remote_free direct" "$(col "$HL_TMP/sets.csv" remote_free)" direct
grep -q "has no per-thread owners, so a remote free is a plain free" "$HL_TMP/err" && pass ||
  fail "system request: no note that it changes nothing"
# ravioli's free requests: usable once alloc/ravioli has free_post, a clear
# refusal until then.
if grep -q '\.free_post *= *rv_' alloc/ravioli/*.c; then
  for mode in --threads-as-traced --serial --threads-in-turn; do
    expect_ok "ravioli request $mode verify" $R "$HL_TMP/sets.hlt" --alloc ravioli $mode \
      --remote-free request --verify --format csv -q
    cp "$HL_TMP/out" "$HL_TMP/sets.csv"
    expect_eq "ravioli request $mode remote_free" "$(col "$HL_TMP/sets.csv" remote_free)" request
    expect_eq "ravioli request $mode status" "$(col "$HL_TMP/sets.csv" status)" ok
  done
  # 7 rounds x 4 threads x 2 remote frees, requested instead of handed over
  expect_ok "ravioli request, text" $R "$HL_TMP/sets.hlt" --alloc ravioli --remote-free request
  grep -q "56 frees posted to their owner" "$HL_TMP/err" && pass || fail "ravioli: 56 requests expected"
else
  expect_fail "ravioli request without free_post" "has no free requests \\(free_post\\); use --remote-free send" \
    $R "$HL_TMP/sets.hlt" --alloc ravioli --remote-free request
fi
# ---- a trace bigger than the machine: refused before the replay ----
# One 64 GiB object: without the check jemalloc, mimalloc, arena and ravioli
# take the machine's memory and are killed by the OOM killer (exit 137, no
# row). The check needs only the trace, so it runs for every allocator that
# really allocates; null allocates nothing and replays it.
printf 'heaplab-trace 2\nthreads 1\n0 start\n0 malloc 0 16\n0 malloc 1 68719476736\n0 free 1\n0 free 0\n0 end\n' >"$HL_TMP/huge.txt"
expect_ok "pack a 64 GiB trace" $T pack "$HL_TMP/huge.txt" -o "$HL_TMP/huge.hlt"
# (A sanitizer build cannot preload a library: those are left out there.)
skip='no-memory'
[ "${HL_SANITIZED:-0}" = 1 ] && skip='no-memory|preload'
for a in $(awk -F'\t' -v skip="$skip" '$3 !~ skip {print $1}' <($R --list)); do
  expect_fail "64 GiB object under $a: refused, not OOM-killed" \
    "huge.hlt: the trace holds 64.0 GiB live at once \\(68719476752 bytes, at event 2\\), more than the .* available .*OOM killer" \
    timeout 60 $R "$HL_TMP/huge.hlt" --alloc $a -q
done
expect_ok "64 GiB object under null (allocates nothing)" $R "$HL_TMP/huge.hlt" --alloc null -q
expect_fail "--max-memory below a small trace's peak" "more than the 1.0 KiB allowed \\(--max-memory\\)" \
  $R "$HL_TMP/tt.hlt" --alloc system -q --max-memory 1K
expect_ok "--max-memory above it" $R "$HL_TMP/tt.hlt" --alloc system -q --max-memory 1G
# (A sanitizer's malloc aborts on a failed 64 GiB request instead of returning NULL.)
[ "${HL_SANITIZED:-0}" = 1 ] ||
  expect_fail "--max-memory none: the malloc itself fails, cleanly" "malloc of object 1 \\(68719476736 bytes\\) failed" \
    $R "$HL_TMP/huge.hlt" --alloc system -q --max-memory none
expect_fail "--max-memory junk" "--max-memory: expected a byte count" $R "$HL_TMP/tt.hlt" --alloc system --max-memory lots
if [ -x "$HL_BIN/hlreplay-sim" ]; then
  expect_fail "64 GiB object under --sim: refused" "the trace holds 64.0 GiB live at once" \
    timeout 60 $R "$HL_TMP/huge.hlt" --alloc ravioli -q --sim sim/presets/skylake.conf
fi

# ---- missing-value reasons are whole (they were cut at 95 characters) ----
$R "$HL_TMP/tt.hlt" --alloc system -q --format csv >"$HL_TMP/reasons.csv" 2>/dev/null
if grep -q 'no hardware PMU' "$HL_TMP/reasons.csv"; then
  if grep -q 'without counter passthrough)' "$HL_TMP/reasons.csv"; then pass; else
    fail "a hardware counter's NA reason is cut: $(grep -o 'no hardware PMU[^;]*' "$HL_TMP/reasons.csv" | head -1)"; fi
fi

# ---- the metrics row lost to a write error is an error ----
for f in text csv; do
  expect_fail "row ($f) to /dev/full" "hlreplay: writing to standard output" \
    bash -c '"$0" "$1" --alloc system -q --format "$2" >/dev/full' $R "$HL_TMP/tt.hlt" $f
done

# ---- long options are spelled out whole (getopt_long took any unique prefix) ----
expect_fail "--threads-as (a prefix) refused" "unknown option '--threads-as': .*--threads-as-traced\\?" \
  $R "$HL_TMP/tt.hlt" --alloc system --threads-as
expect_fail "--all=system (a prefix) refused" "unknown option '--all=system': .*--alloc\\?" \
  $R "$HL_TMP/tt.hlt" --all=system
expect_fail "--form csv (a prefix with its value apart) refused" "unknown option '--form'" \
  $R "$HL_TMP/tt.hlt" --alloc system --form csv
expect_fail "--threads 4: ambiguous, refused" "unknown or incomplete option '--threads'" \
  $R "$HL_TMP/tt.hlt" --alloc system --threads 4
expect_ok "--format=csv (whole, with =)" $R "$HL_TMP/tt.hlt" --alloc=system --format=csv -q
finish test_hlreplay
