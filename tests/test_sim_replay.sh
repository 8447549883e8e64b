# tests/test_sim_replay.sh: `hlreplay --sim` (harness/hlreplay.c, the capture
# program build/bin/hlreplay-sim, sim/capture.c): the simulator columns of
# the row, a hand-computed false-sharing case through the whole path,
# determinism (also whatever the trace's path and the environment), threads
# in turn, allocator accesses captured for every allocator but glibc's (the
# baselines through their capture builds), the fairness bounds of a trace
# where no object crosses threads and of cache-thrash, hot-line attribution,
# and usage errors.
# Alone: HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_sim_replay.sh
source "$(dirname "$0")/lib.sh"

R=$(cd "$HL_BIN" && pwd)/hlreplay
T=$(mktemp -d "$HL_TMP/test_sim_replay.XXXXXX")
CONF=$(cd "$(dirname "$0")/.." && pwd)/sim/presets/skylake.conf

# col CSV NAME: the value of column NAME in the CSV row
col() {
  /usr/bin/python3 -c 'import csv, sys; print(next(csv.DictReader(open(sys.argv[1])))[sys.argv[2]])' "$1" "$2"
}

gen "$T/tt.hlt" threadtest --threads 2 --objects 300 --iterations 2 --seed 3

# Without --sim the columns are NA, with the reason.
expect_ok "native row" "$R" "$T/tt.hlt" --alloc unit --format csv -q
cp "$HL_TMP/out" "$T/native.csv"
expect_eq "no --sim: sim_transfers NA" "$(col "$T/native.csv" sim_transfers)" NA
case "$(col "$T/native.csv" na_reasons)" in
  *"sim_transfers: no --sim"*) pass ;;
  *) fail "no --sim reason missing" ;;
esac
expect_fail "--sim-top without --sim" "need --sim" "$R" "$T/tt.hlt" --alloc unit --sim-top 3
expect_fail "bad --sim-page-size" "4K, 2M or 1G" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --sim-page-size 64K
expect_fail "missing config" "nope.conf" "$R" "$T/tt.hlt" --alloc unit --sim "$T/nope.conf"

if [ "${HL_SANITIZED:-0}" = 1 ]; then
  # the capture program exists in the normal build only: a clear refusal
  expect_fail "sanitized build: --sim refused" "hlreplay-sim" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF"
  finish test_sim_replay
  exit
fi

# A project allocator: its own accesses are captured.
expect_ok "unit --sim" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --sim-top 5 --format csv \
  --sim-report "$T/unit1.rep" -q
cp "$HL_TMP/out" "$T/unit1.csv"
expect_eq "unit capture" "$(col "$T/unit1.csv" sim_capture)" full
expect_eq "threads in turn by default" "$(col "$T/unit1.csv" mode)" threads-in-turn
expect_fail "--sim refuses free-running threads" "threads in turn" \
  "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --threads-as-traced -q
expect_ok "unit --sim --serial" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --serial --format csv -q
expect_eq "serial mode on request" "$(col "$HL_TMP/out" mode)" serial
expect_eq "sim_config" "$(col "$T/unit1.csv" sim_config)" "skylake, 4 cores, 4K pages, prefetch L1D+L2, physical mapping"
[ "$(col "$T/unit1.csv" sim_alloc_accesses)" -gt 0 ] && pass || fail "unit: sim_alloc_accesses > 0"
# touch model: each of the 300 x 2 = 600 allocations (threadtest shares
# --objects among the threads) written once when allocated and read once
# before its free (8 bytes: one copy each); the slot table is not simulated
expect_eq "unit: app accesses = 2 per object" "$(col "$T/unit1.csv" sim_app_accesses)" 1200
grep -q "allocator: unit_" "$T/unit1.rep" && pass || fail "report names a unit_ function: $(cat "$T/unit1.rep")"
grep -q "^hottest lines" "$T/unit1.rep" && pass || fail "report has the hot lines"

# Determinism: the same trace twice gives byte-identical sim columns and report.
expect_ok "unit --sim again" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --sim-top 5 --format csv \
  --sim-report "$T/unit2.rep" -q
cp "$HL_TMP/out" "$T/unit2.csv"
simcols() { /usr/bin/python3 -c '
import csv, sys
r = next(csv.DictReader(open(sys.argv[1])))
print(",".join(r[k] for k in r if k.startswith("sim_")))' "$1"; }
expect_eq "deterministic sim columns" "$(simcols "$T/unit2.csv")" "$(simcols "$T/unit1.csv")"
cmp -s "$T/unit1.rep" "$T/unit2.rep" && pass || fail "reports differ: $(diff "$T/unit1.rep" "$T/unit2.rep" | head)"

# ... also with a larger environment and the trace path spelled differently
# (the allocator's own malloc'd records must not move with them)
expect_ok "unit --sim, other environment" env HL_PADDING=$(printf '%04000d' 0) \
  "$R" "$T/../$(basename "$T")/tt.hlt" --alloc unit --sim "$CONF" --sim-top 5 --format csv \
  --sim-report "$T/unit3.rep" -q
cp "$HL_TMP/out" "$T/unit3.csv"
expect_eq "sim columns independent of environment" "$(simcols "$T/unit3.csv")" "$(simcols "$T/unit1.csv")"
cmp -s "$T/unit1.rep" "$T/unit3.rep" && pass || fail "reports differ: $(diff "$T/unit1.rep" "$T/unit3.rep" | head)"

# A baseline library: its capture build (the application's accesses are the
# same as for any allocator; its own are below, with the other baselines).
expect_ok "jemalloc --sim (LD_PRELOAD)" "$R" "$T/tt.hlt" --alloc jemalloc --sim "$CONF" --format csv -q
expect_eq "jemalloc: app accesses" "$(col "$HL_TMP/out" sim_app_accesses)" 1200

# Hand-computed: threads 0 and 1 take turns writing 8 bytes of one 64-byte
# aligned object, K=50 rounds: 2K = 100 writes alternate between cores 0 and
# 1, every one after the first takes the line from the other core: 99
# transfers, all false sharing (bytes 0-7 against 8-15), 99 invalidations.
# With the second word 64 bytes further (padded) the cores never share a line.
mk() { # FILE OFFSET
  { echo "heaplab-trace 1"; echo "threads 2"; echo "0 start"; echo "1 start"
    echo "0 memalign 0 128 64"
    for i in $(seq 50); do echo "0 write 0 0 8"; echo "1 write 0 $2 8"; done
    echo "0 free 0"; echo "0 end"; echo "1 end"; } >"$1.txt"
  "$HL_BIN/hltrace" pack "$1.txt" -o "$1" || fail "pack $1"
}
mk "$T/fs.hlt" 8
mk "$T/pad.hlt" 64
for a in system unit; do
  expect_ok "false sharing $a" "$R" "$T/fs.hlt" --alloc $a --sim "$CONF" --access traced --format csv -q
  cp "$HL_TMP/out" "$T/fs.csv"
  if [ $a = system ]; then # placement only: the allocator adds nothing
    expect_eq "fs $a transfers" "$(col "$T/fs.csv" sim_transfers)" 99
    expect_eq "fs $a invalidations" "$(col "$T/fs.csv" sim_invalidations)" 99
  fi
  expect_eq "fs $a app accesses" "$(col "$T/fs.csv" sim_app_accesses)" 100
  [ "$(col "$T/fs.csv" sim_false_sharing)" -ge 99 ] && pass || fail "fs $a: false sharing $(col "$T/fs.csv" sim_false_sharing) < 99"
  expect_ok "padded $a" "$R" "$T/pad.hlt" --alloc $a --sim "$CONF" --access traced --format csv -q \
    --sim-top 3 --sim-report "$T/pad.rep"
  cp "$HL_TMP/out" "$T/pad.csv"
  if [ $a = system ]; then
    expect_eq "padded $a transfers" "$(col "$T/pad.csv" sim_transfers)" 0
    expect_eq "padded $a false sharing" "$(col "$T/pad.csv" sim_false_sharing)" 0
  else # only the allocator's own lines may move
    [ "$(col "$T/pad.csv" sim_false_sharing)" -lt 99 ] && pass || fail "padded $a: false sharing"
  fi
done
# the hot line of the false-sharing case is the object, by id, size and owner
expect_ok "fs report" "$R" "$T/fs.hlt" --alloc system --sim "$CONF" --access traced --sim-top 1 \
  --sim-report "$T/fs.rep" -q
grep -Eq "^  0x[0-9a-f]+ +99 +0 +0 +99 +0 +99  object 0 \(128 B, allocated by thread 0\)" "$T/fs.rep" &&
  pass || fail "fs hot line attribution: $(cat "$T/fs.rep" | tail -3)"

# ---- like with like (threads in turn, capture builds of the baselines) ----
ALL="system jemalloc mimalloc tcmalloc unit stable ravioli arena arena-preload null"
BASELINES="jemalloc mimalloc tcmalloc"
CAPLIB=$(cd "$HL_BIN/.." && pwd)/capture/baselines/lib
for b in $BASELINES arena-preload; do # what each library is, and that it ran whole
  expect_ok "$b --sim" "$R" "$T/tt.hlt" --alloc $b --sim "$CONF" --format csv -q --sim-top 20 \
    --sim-report "$T/$b.rep"
  cp "$HL_TMP/out" "$T/$b.csv"
  expect_eq "$b: full capture" "$(col "$T/$b.csv" sim_capture)" full
  [ "$(col "$T/$b.csv" sim_alloc_accesses)" -gt 0 ] && pass || fail "$b: allocator accesses > 0"
  grep -q "^simulated: .*capture: full: " "$T/$b.rep" && pass || fail "$b report: capture full"
done
for b in $BASELINES; do
  case "$(col "$T/$b.csv" served_by)" in
    lib*.so*) pass ;; *) fail "$b served_by: $(col "$T/$b.csv" served_by)" ;; esac
  # the library that answered is the capture build (baseline.c checks the folder)
  grep -q "libjemalloc.so.2\|libmimalloc.so.2\|libtcmalloc_minimal.so.4" <<<"$(col "$T/$b.csv" served_by)" &&
    pass || fail "$b: a capture build serves malloc"
done
[ -f "$CAPLIB/libjemalloc.so.2" ] && pass || fail "capture builds in $CAPLIB (make capture-baselines)"
# hot lines name each library's own functions
grep -Eq "allocator: (je_|tcache_|arena_)" "$T/jemalloc.rep" && pass || fail "jemalloc functions named: $(grep allocator: "$T/jemalloc.rep" | head -3)"
grep -Eq "allocator: _?mi_" "$T/mimalloc.rep" && pass || fail "mimalloc functions named: $(grep allocator: "$T/mimalloc.rep" | head -3)"
grep -Eq "allocator: .*(tcmalloc|ThreadCache|CentralFreeList|PageHeap)" "$T/tcmalloc.rep" && pass ||
  fail "tcmalloc functions named: $(grep allocator: "$T/tcmalloc.rep" | head -3)"
grep -Eq "allocator: arena_" "$T/arena-preload.rep" && pass || fail "libhlarena.so functions named"
# glibc's malloc alone is placement only, and says why
expect_ok "system --sim report" "$R" "$T/tt.hlt" --alloc system --sim "$CONF" --format csv -q \
  --sim-report "$T/system.rep"
expect_eq "system: placement" "$(col "$HL_TMP/out" sim_capture)" placement
grep -q "capture: placement: .*glibc's malloc is part of the C library" "$T/system.rep" && pass ||
  fail "system report says why: $(head -1 "$T/system.rep")"
# a library that is not a capture build (the Debian one, named by the
# user's HEAPLAB_BASELINE_DIR) is placement only, and said so
mkdir -p "$T/debian"
cp "$(ldconfig -p | awk '$1 == "libjemalloc.so.2" { print $NF; exit }')" "$T/debian/libjemalloc.so.2"
if [ -e "$T/debian/libjemalloc.so.2" ]; then
  expect_ok "Debian jemalloc --sim" env HEAPLAB_BASELINE_DIR="$T/debian" "$R" "$T/tt.hlt" --alloc jemalloc \
    --sim "$CONF" --format csv -q --sim-report "$T/deb.rep"
  expect_eq "Debian jemalloc: placement" "$(col "$HL_TMP/out" sim_capture)" placement
  grep -q "is not a capture build" "$T/deb.rep" && pass || fail "Debian jemalloc report: $(head -1 "$T/deb.rep")"
fi

# No object crosses threads (threadtest, 4 threads, 80000 objects): every
# allocator's cross-core transfers stay within one small bound, 10% of the
# allocations. What remains is each design's own: thread set-up and exit
# (arenas chosen, caches flushed, statistics merged: jemalloc 282,
# mimalloc 1100) and tcmalloc's central free lists, which its thread caches
# fill from and overflow into (4097). Served from one arena on one OS
# thread (--serial), the baselines interleaved the threads' objects: 17k to
# 52k transfers on this trace. Ravioli is held to its own bound: its pages
# pass between threads through the shared pool (21863, issue 17), and the
# misses that move them are allocator reuse; with keep=N a thread keeps its
# emptied pages and ravioli is within the common bound.
gen "$T/tt4.hlt" threadtest --threads 4 --objects 20000 --iterations 4 --seed 3
for a in $ALL; do
  expect_ok "tt4 $a" "$R" "$T/tt4.hlt" --alloc $a --sim "$CONF" --format csv -q
  n=$(col "$HL_TMP/out" sim_transfers)
  if [ $a = ravioli ]; then
    [ "$n" -le 24000 ] && pass || fail "tt4 ravioli: $n transfers > 24000 (30% of allocations)"
    # those misses move pages one thread emptied into the pool and another
    # took: allocator reuse (hl_alloc_dead), not the program's true sharing
    reuse=$(col "$HL_TMP/out" sim_alloc_reuse) true=$(col "$HL_TMP/out" sim_true_sharing)
    [ "$reuse" -gt $((10 * true)) ] && pass ||
      fail "tt4 ravioli: allocator reuse $reuse not 10x its true sharing $true"
    # and the shared pool is where they come from: a thread that keeps its
    # emptied pages (keep=N instead of the seed's two-page rule) stays within
    # the baselines' bound, with no allocator reuse left
    expect_ok "tt4 ravioli keep" "$R" "$T/tt4.hlt" --alloc ravioli --options keep=4096 --sim "$CONF" \
      --format csv -q
    n=$(col "$HL_TMP/out" sim_transfers) reuse=$(col "$HL_TMP/out" sim_alloc_reuse)
    [ "$n" -le 8000 ] && [ "$reuse" -eq 0 ] && pass ||
      fail "tt4 ravioli keep=4096: $n transfers (bound 8000), $reuse allocator reuse"
  else
    [ "$n" -le 8000 ] && pass || fail "tt4 $a: $n transfers > 8000 (10% of the 80000 allocations)"
  fi
done
for b in system $BASELINES; do
  expect_ok "tt4 $b serial" "$R" "$T/tt4.hlt" --alloc $b --sim "$CONF" --serial --format csv -q
  [ "$(col "$HL_TMP/out" sim_transfers)" -gt 10000 ] && pass ||
    fail "serial mode still interleaves $b's threads: $(col "$HL_TMP/out" sim_transfers)"
done

# cache-thrash, 4 threads: jemalloc's and mimalloc's false sharing in turn is
# under 1% of what one OS thread for all (--serial, the old simulated
# replay) gave: their thread caches hand each thread objects of its own
# runs. tcmalloc's is not, and that is its design, not the harness: a thread
# cache starts with a batch of one object from the central free list
# (slow start), so the four threads' first objects are neighbours, and the
# hottest line is those objects, false sharing.
gen "$T/ct.hlt" cache-thrash --threads 4 --iterations 3000 --repetitions 4 --seed 3
for b in $BASELINES; do
  expect_ok "ct $b serial" "$R" "$T/ct.hlt" --alloc $b --sim "$CONF" --serial --format csv -q
  old=$(col "$HL_TMP/out" sim_false_sharing)
  expect_ok "ct $b in turn" "$R" "$T/ct.hlt" --alloc $b --sim "$CONF" --format csv -q \
    --sim-top 1 --sim-report "$T/ct-$b.rep"
  new=$(col "$HL_TMP/out" sim_false_sharing)
  if [ $b = tcmalloc ]; then
    grep -Eq "^  0x[0-9a-f]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]{4,} +[0-9]+ +[0-9]+  object [0-9]+ \(8 B" "$T/ct-$b.rep" &&
      pass || fail "ct tcmalloc: the hot line is the threads' neighbouring objects: $(tail -1 "$T/ct-$b.rep")"
  else
    [ "$old" -gt 1000 ] && [ $((new * 100)) -lt "$old" ] && pass ||
      fail "ct $b: false sharing $new in turn, $old serial (want < 1%)"
  fi
done

# Determinism: every allocator, twice and from three spellings of the trace
# path (lengths 6, 40+, and relative), byte-identical simulator columns.
mkdir -p "$T/a/much/longer/directory/name/for/the/trace"
cp "$T/tt.hlt" "$T/a/much/longer/directory/name/for/the/trace/tt.hlt"
for a in $ALL; do
  sums=$( (cd "$T" && "$R" tt.hlt --alloc $a --sim "$CONF" --format csv -q | simcols /dev/stdin
    "$R" "$T/a/much/longer/directory/name/for/the/trace/tt.hlt" --alloc $a --sim "$CONF" --format csv -q |
      simcols /dev/stdin
    cd a/much && env HL_PADDING=$(printf '%03000d' 0) "$R" ../../tt.hlt --alloc $a --sim "$CONF" --format csv -q |
      simcols /dev/stdin
    "$R" ../../tt.hlt --alloc $a --sim "$CONF" --format csv -q | simcols /dev/stdin) | sort -u | wc -l)
  expect_eq "$a: identical from 3 paths, twice" "$sums" 1
done

# --sim-page-size 2M: fewer page walks than 4K on the same run
expect_ok "2M pages" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --sim-page-size 2M --format csv -q
expect_eq "2M config" "$(col "$HL_TMP/out" sim_config)" "skylake, 4 cores, 2M pages, prefetch L1D+L2, physical mapping"
[ "$(col "$HL_TMP/out" sim_walks)" -lt "$(col "$T/unit1.csv" sim_walks)" ] && pass || fail "2M: fewer walks"

# ---- --sim-report: a path that cannot be written fails before the simulation, once ----
expect_fail "--sim-report in a missing folder" "^hlreplay: --sim-report $T/none/r.txt: cannot write in $T/none" \
  "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" -q --sim-report "$T/none/r.txt"
expect_eq "--sim-report error printed once" "$(grep -c -- '--sim-report' "$HL_TMP/err")" 1
expect_fail "--sim-report naming a folder" "--sim-report $T: is a folder" \
  "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" -q --sim-report "$T"
expect_ok "--sim-report written whole" test -s "$T/unit1.rep" -a ! -e "$T/unit1.rep.tmp"
# ---- the native columns of a simulated row are NA: they measured the simulator ----
for c in wall_s peak_rss_kib minor_faults cycles; do
  expect_eq "--sim row: $c is NA" "$(col "$T/unit1.csv" $c)" NA
done
if grep -q "wall_s: --sim: the simulator's own time and memory" "$T/unit1.csv"; then pass; else
  fail "--sim row: wall_s has no NA reason"; fi

finish test_sim_replay
