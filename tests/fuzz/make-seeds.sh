#!/usr/bin/env bash
# tests/fuzz/make-seeds.sh [BIN_DIR [RECORDER_SO]]: regenerate the seeds of
# tests/fuzz/corpus/ that heaplab's own tools make (files named gen_*, real_*
# and rec_*), with hltrace (BIN_DIR, default build/bin), the recorder
# (RECORDER_SO, default build/lib/libhlrecord.so), gcc and glibc's
# libc_malloc_debug.so. The other seeds are written by hand (valid inputs of
# every shape and near-misses). Run it after a format change and commit the
# result; `make test` only reads the corpus. Sizes stay small (a few KiB at
# most): libFuzzer mutates small inputs best.
set -eu
cd "$(dirname "$0")/../.."
BIN=${1:-build/bin}
REC=$(realpath "${2:-build/lib/libhlrecord.so}")
H=$BIN/hltrace
C=tests/fuzz/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# ---- trace reader: binary traces of the generators (every event kind between them) ----
"$H" gen pipeline --threads 3 --whole 1 --messages 3 --nodes 3 --sizes uniform:16:200 \
  -o $C/fuzz_trace_reader/gen_pipeline_whole.hlt            # v2: sendpart, send, link, read, write
"$H" gen mstress --threads 2 --scale 1 --rounds 2 --transfers 10 \
  -o $C/fuzz_trace_reader/gen_mstress.hlt                   # barriers, calloc, 4 threads
"$H" gen larson --threads 2 --min-size 8 --max-size 5000 --slots 6 --rounds 3 --generations 2 \
  -o $C/fuzz_trace_reader/gen_larson.hlt                    # cross-thread frees
"$H" pack $C/fuzz_trace_text/all_ops_v2.txt -o $C/fuzz_trace_reader/gen_all_ops_v2.hlt

# ---- text form: dumps of small generated traces ----
"$H" gen treepass --threads 3 --trees 2 --nodes 7 --sizes powerlaw:16:512:1.5 -o "$T/t.hlt"
"$H" dump "$T/t.hlt" -o $C/fuzz_trace_text/gen_treepass.txt
"$H" gen graph --threads 2 --nodes 6 --edges 8 --walks 2 --length 4 --rounds 1 -o "$T/g.hlt"
"$H" dump "$T/g.hlt" -o $C/fuzz_trace_text/gen_graph.txt          # links to null
"$H" gen xmalloc --threads 2 --objects 16 --batch 4 --message 1 -o "$T/x.hlt"
"$H" dump "$T/x.hlt" -o $C/fuzz_trace_text/gen_xmalloc_message.txt

# ---- mtrace: a real log of tests/record/seq.c, from a folder with a blank in its name ----
mkdir -p "$T/my app"
gcc -O0 -fno-builtin -DSEQ_MTRACE -o "$T/my app/seqm" tests/record/seq.c
(cd "$T/my app" && MALLOC_TRACE="$T/seq.mtrace" LD_PRELOAD=libc_malloc_debug.so.0 ./seqm)
cp "$T/seq.mtrace" $C/fuzz_import_mtrace/real_seq.mtrace

# ---- recorder logs: tests/record/seq.c (every kind, realloc) and a small threaded program ----
cat >"$T/threads.c" <<'EOF'
/* three threads in turn: each allocates (two kinds), reallocs, frees a block
   of the previous thread and exits; main frees the last ones */
#include <pthread.h>
#include <stdlib.h>
static void *blocks[4];
static void *work(void *arg) {
  long k = (long)arg;
  void *p = malloc(16 + k), *q = NULL;
  if (posix_memalign(&q, 64, 100)) abort();
  p = realloc(p, 4000 + k);
  if (k > 0) free(blocks[k - 1]);
  blocks[k] = p;
  free(q);
  return NULL;
}
int main(void) {
  for (long k = 0; k < 3; k++) {
    pthread_t t;
    if (pthread_create(&t, NULL, work, (void *)k) || pthread_join(t, NULL)) return 1;
  }
  free(blocks[2]);
  return 0;
}
EOF
gcc -O0 -fno-builtin -o "$T/seq" tests/record/seq.c
gcc -O0 -fno-builtin -pthread -o "$T/threads" "$T/threads.c"
(cd "$T" && LD_PRELOAD="$REC" HEAPLAB_RECORD="$T/seq" ./seq && LD_PRELOAD="$REC" HEAPLAB_RECORD="$T/thr" ./threads)
# The log grows in chunks ahead of its writers: keep the records and one empty slot.
trim() { # RAW OUT
  python3 - "$1" "$2" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
last = max(i for i in range((len(d) - 64) // 40) if any(d[64 + 40 * i:104 + 40 * i]))
open(sys.argv[2], 'wb').write(d[:64 + 40 * (last + 2)])
EOF
}
trim "$(ls "$T"/seq.*.raw)" $C/fuzz_import_record/rec_seq.raw
trim "$(ls "$T"/thr.*.raw)" $C/fuzz_import_record/rec_threads.raw
# near-misses of the real log
R=$C/fuzz_import_record
s=$R/rec_seq.raw
{ printf 'XLRAW01\n'; tail -c +9 $s; } >$R/rec_bad_magic.raw
{ head -c 8 $s; printf '\002\000\000\000'; tail -c +13 $s; } >$R/rec_bad_version.raw
{ head -c 184 $s; printf '\011'; tail -c +186 $s; } >$R/rec_bad_seq.raw          # slot 3 says 9
{ cat $s; printf 'junk'; } >$R/rec_bad_partial_slot.raw
{ head -c 104 $s; head -c 40 /dev/zero; tail -c +145 $s; } >$R/rec_lost_slot.raw # slot 1 empty
find $C -type f -printf '%s\n' | awk '{s += $1; n++} END {print "corpus: " n " files, " s " bytes"}'
