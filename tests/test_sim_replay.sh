# tests/test_sim_replay.sh: `hlreplay --sim` (harness/hlreplay.c, the capture
# program build/bin/hlreplay-sim, sim/capture.c): the simulator columns of
# the row, a hand-computed false-sharing case through the whole path,
# determinism, allocator accesses captured for a project allocator and not
# for a Debian baseline, hot-line attribution, and usage errors.
# Alone: HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_sim_replay.sh
source "$(dirname "$0")/lib.sh"

R=$HL_BIN/hlreplay
T=$(mktemp -d "$HL_TMP/test_sim_replay.XXXXXX")
CONF=$(dirname "$0")/../sim/presets/skylake.conf

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
expect_eq "unit capture" "$(col "$T/unit1.csv" sim_capture)" "app+allocator"
expect_eq "threads in turn by default" "$(col "$T/unit1.csv" mode)" threads-in-turn
expect_fail "--sim refuses free-running threads" "threads in turn" \
  "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --threads-as-traced -q
expect_ok "unit --sim --serial" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --serial --format csv -q
expect_eq "serial mode on request" "$(col "$HL_TMP/out" mode)" serial
expect_eq "sim_config" "$(col "$T/unit1.csv" sim_config)" "skylake, 4 cores, 4K pages"
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

# A Debian baseline: placement only, said so.
expect_ok "system --sim" "$R" "$T/tt.hlt" --alloc system --sim "$CONF" --format csv -q
case "$(col "$HL_TMP/out" sim_capture)" in
  "app only (placement): libc.so.6 is a Debian library") pass ;;
  *) fail "system sim_capture: $(col "$HL_TMP/out" sim_capture)" ;;
esac
if [ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] || ldconfig -p 2>/dev/null | grep -q libjemalloc.so.2; then
  expect_ok "jemalloc --sim (LD_PRELOAD)" "$R" "$T/tt.hlt" --alloc jemalloc --sim "$CONF" --format csv -q
  case "$(col "$HL_TMP/out" sim_capture)" in
    "app only (placement): libjemalloc.so.2 is a Debian library") pass ;;
    *) fail "jemalloc sim_capture: $(col "$HL_TMP/out" sim_capture)" ;;
  esac
  expect_eq "jemalloc: app accesses" "$(col "$HL_TMP/out" sim_app_accesses)" 1200
fi

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
grep -Eq "^  0x[0-9a-f]+ +99 +0 +99 +99  object 0 \(128 B, allocated by thread 0\)" "$T/fs.rep" &&
  pass || fail "fs hot line attribution: $(cat "$T/fs.rep" | tail -3)"

# --sim-page-size 2M: fewer page walks than 4K on the same run
expect_ok "2M pages" "$R" "$T/tt.hlt" --alloc unit --sim "$CONF" --sim-page-size 2M --format csv -q
expect_eq "2M config" "$(col "$HL_TMP/out" sim_config)" "skylake, 4 cores, 2M pages"
[ "$(col "$HL_TMP/out" sim_walks)" -lt "$(col "$T/unit1.csv" sim_walks)" ] && pass || fail "2M: fewer walks"

finish test_sim_replay
