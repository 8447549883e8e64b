# tests/test_record.sh: the LD_PRELOAD recorder (workloads/recorder/,
# build/lib/libhlrecord.so) end to end with `hltrace import record`:
#   - tests/record/seq.c, a known sequence of every malloc-API call, must
#     dump to exactly the expected trace;
#   - tests/record/threads.c (4 threads, cross-thread frees and reallocs)
#     must finish, import, pass check, and hold exactly the calls it made;
#   - tests/record/forkexec.c must leave one log per process image;
#   - tests/record/exit.c keeps its records through _exit();
#   - without HEAPLAB_RECORD nothing is written.
# The test programs are compiled here with gcc into $HL_TMP. Skipped (a note,
# no result) in sanitized builds: the recorder is only built unsanitized, in
# the normal build's lib/ folder. Alone:
#   HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_record.sh
source "$(dirname "$0")/lib.sh"

H=$HL_BIN/hltrace
LIB=$(cd "$HL_BIN/.." && pwd)/lib/libhlrecord.so
SRC=$(cd "$(dirname "$0")/record" && pwd)
T=$(mktemp -d "$HL_TMP/test_record.XXXXXX")

if [ "${HL_SANITIZED:-0}" = 1 ]; then
  echo "note: sanitized build: the recorder (an unsanitized LD_PRELOAD library) is tested with the normal build only"
  finish test_record; exit
fi
if [ ! -f "$LIB" ]; then
  echo "note: $LIB not built: recorder not tested"
  finish test_record; exit
fi

expect_same() {
  if cmp -s "$2" "$3"; then pass; else
    fail "$1: $2 differs from $3:"; diff "$3" "$2" | head -20 | sed 's/^/    /' >&2; fi
}
# record PREFIX PROGRAM ARGS...: run under the recorder, killed after 60 s.
# Not through timeout(1): the preload would record timeout's own process too.
record() {
  local prefix=$1 pid watchdog rc; shift
  LD_PRELOAD="$LIB" HEAPLAB_RECORD="$prefix" "$@" &
  pid=$!
  (trap 'kill $sleeper 2>/dev/null; exit 0' TERM
    sleep 60 & sleeper=$!
    wait $sleeper && kill -9 "$pid") >/dev/null 2>&1 &
  watchdog=$!
  wait "$pid"; rc=$?
  kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null
  return $rc
}

for p in seq threads forkexec exit; do
  if ! gcc -O0 -fno-builtin -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
    -o "$T/$p" "$SRC/$p.c" 2>"$T/cc.err"; then
    fail "compile tests/record/$p.c"; head -5 "$T/cc.err" >&2
  fi
done

# ---- the known sequence, exactly ----
mkdir "$T/seq.d"
expect_ok "seq runs under the recorder" record "$T/seq.d/r" "$T/seq"
expect_eq "seq: one log, PREFIX.PID.raw" "$(cd "$T/seq.d" && ls | sed -E 's/^r\.[0-9]+\.raw$/r.PID.raw/')" "r.PID.raw"
raw=$(ls "$T"/seq.d/r.*.raw 2>/dev/null | head -1)
expect_ok "import seq" "$H" import record "$raw" -o "$T/seq.hlt"
expect_ok "seq trace passes check" "$H" check "$T/seq.hlt"
"$H" dump "$T/seq.hlt" 2>&1 | grep -v '^meta ' >"$T/seq.dump"
cat >"$T/seq.expected" <<'EOF'
heaplab-trace 2
threads 1
0 start
0 malloc 0 100
0 calloc 1 200
0 realloc 0 5000
0 realloc 0 50
0 malloc 2 30
0 posix_memalign 3 70 64
0 aligned_alloc 4 256 128
0 memalign 5 40 32
0 valloc 6 10
0 free 1
0 free 2
0 free 0
0 free 3
0 free 4
0 free 5
0 free 6
0 malloc 7 7
EOF
expect_same "seq: exact trace" "$T/seq.dump" "$T/seq.expected"
expect_ok "seq: free(NULL) counted" grep -q '^meta import.null_frees 1$' <("$H" dump "$T/seq.hlt")

# ---- threads: finishes, and every call it made is there ----
mkdir "$T/thr.d"
expect_ok "threads finishes under the recorder (timeout 60 s)" record "$T/thr.d/r" "$T/threads"
raw=$(ls "$T"/thr.d/r.*.raw 2>/dev/null | head -1)
expect_ok "import threads" "$H" import record "$raw" -o "$T/thr.hlt"
cp "$HL_TMP/err" "$T/thr.import"
expect_ok "threads: no unknown address" grep -q '^dropped unknown address: 0$' "$T/thr.import"
expect_ok "threads: no alloc at a live address" grep -q '^alloc at a live address: 0$' "$T/thr.import"
expect_ok "threads trace passes check" "$H" check "$T/thr.hlt"
"$H" dump "$T/thr.hlt" >"$T/thr.dump" 2>&1
# The program's own blocks: malloc of 1001..1004, each realloc'ed to +1000 and freed.
counts=$(awk '$2 == "malloc" && $4 >= 1001 && $4 <= 1004 { mine[$3] = 1; m++ }
  $2 == "realloc" && ($3 in mine) { r++ }
  $2 == "free" && ($3 in mine) { f++ }
  $2 == "start" { s++ } $2 == "end" { e++ }
  END { printf "%d %d %d %d %d", m, r, f, s, e }' "$T/thr.dump")
expect_eq "threads: mallocs, reallocs, frees of the program's blocks; starts; ends" "$counts" "80000 80000 80000 5 4"

# ---- fork + exec: one log per process image ----
mkdir "$T/fe.d"
expect_ok "forkexec runs under the recorder" record "$T/fe.d/r" "$T/forkexec"
expect_eq "forkexec: three logs" "$(ls "$T/fe.d" | wc -l)" 3
expect_eq "forkexec: the exec'd image has PREFIX.PID.1.raw" "$(ls "$T/fe.d" | grep -cE '^r\.[0-9]+\.1\.raw$')" 1
sizes=""
for raw in "$T"/fe.d/r.*.raw; do
  expect_ok "import $(basename "$raw")" "$H" import record "$raw" -o "$T/fe.hlt"
  expect_ok "check $(basename "$raw")" "$H" check "$T/fe.hlt"
  sizes="$sizes $("$H" dump "$T/fe.hlt" | awk '$2 == "malloc" { print $4 }' | sort -n | tr '\n' ,)"
done
# Each process image sees only its own block (sorted by file name they differ
# in order, so compare as a set).
expect_eq "forkexec: parent 1001, child 2002, exec'd 3003" "$(tr ' ' '\n' <<<"$sizes" | sort | tr -d '\n')" "1001,2002,3003,"

# ---- _exit keeps the records ----
mkdir "$T/exit.d"
expect_ok "exit runs under the recorder" record "$T/exit.d/r" "$T/exit"
raw=$(ls "$T"/exit.d/r.*.raw 2>/dev/null | head -1)
expect_ok "import exit" "$H" import record "$raw" -o "$T/exit.hlt"
expect_eq "exit: both mallocs despite _exit" "$("$H" dump "$T/exit.hlt" | awk '$2 == "malloc" { printf "%s,", $4 }')" "11,22,"

# ---- off without HEAPLAB_RECORD ----
mkdir "$T/off.d"
(cd "$T/off.d" && LD_PRELOAD="$LIB" "$T/seq")
expect_eq "no HEAPLAB_RECORD: runs, writes nothing" "$?,$(ls "$T/off.d" | wc -l)" "0,0"

finish test_record
