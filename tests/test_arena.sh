# tests/test_arena.sh: the arena allocator as a real malloc
# (build/lib/libhlarena.so, LD_PRELOAD) and through hlreplay:
#   - tests/arena/conform.c: alignment of every call, realloc contents,
#     malloc(0), ENOMEM/EINVAL cases, fork while threads allocate, and proof
#     that libhlarena.so defines malloc;
#   - real programs give the same output as under glibc: python3 building
#     and dropping large dicts and strings; gcc compiling and linking a
#     multi-file C program (the program's output compared); xz -T2 round
#     trip and sort --parallel=2 on a generated file;
#   - HLARENA_STATS=1 makes the library say it served the process;
#   - `hlreplay --alloc arena-preload` re-executes itself under the library
#     and its served_by names libhlarena.so;
#   - misuse (tests/arena/misuse.c) aborts as alloc/arena/README.md says;
#   - fork never deadlocks against stdio's locks or from a signal handler
#     that interrupted malloc (tests/arena/fork.c), and mallinfo2,
#     malloc_trim and malloc_stats report and trim the arena's heap
#     (tests/arena/mallinfo.c), each beside glibc as the reference;
#   - hlreplay --alloc arena --verify on every generator at 1, 2, 4 threads
#     (default sizes; small ones in sanitized builds) and on the shipped
#     traces (normal build only), also in checked mode.
# The LD_PRELOAD parts are skipped in sanitized builds (a note, no result):
# a sanitizer runtime owns malloc there. Alone:
#   HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_arena.sh
source "$(dirname "$0")/lib.sh"

T=$(mktemp -d "$HL_TMP/test_arena.XXXXXX")
SRC=$(cd "$(dirname "$0")/arena" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# ---- replay with --verify (all builds) ----
# Sanitized builds replay small traces (TSan takes minutes on a default larson).
small_args() {
  [ "${HL_SANITIZED:-0}" = 1 ] || return 0
  case $1 in
    threadtest) echo --iterations 3 --objects 4000 ;;
    larson) echo --slots 300 --rounds 20 --generations 2 ;;
    xmalloc) echo --objects 20000 --batch 100 ;;
    mstress) echo --scale 5 --rounds 2 ;;
    list | tree) echo --nodes 3000 ;;
    graph) echo --nodes 3000 --edges 10000 --walks 20 --length 100 ;;
    pipeline) echo --messages 3000 ;;
    cache-thrash | cache-scratch) echo --iterations 500 ;;
  esac
}
for model in threadtest larson xmalloc mstress list tree graph pipeline cache-thrash cache-scratch; do
  for t in 1 2 4; do
    # shellcheck disable=SC2046
    "$HL_BIN/hltrace" gen "$model" --threads "$t" --seed 7 $(small_args "$model") \
      -o "$T/$model-$t.hlt" 2>"$T/gen.err" || { fail "gen $model $t"; continue; }
    expect_ok "replay --verify $model t$t" "$HL_BIN/hlreplay" "$T/$model-$t.hlt" --alloc arena --verify -q
  done
done
shopt -s nullglob
[ "${HL_SANITIZED:-0}" = 1 ] && traces=() || traces=("$ROOT"/build/traces/*.hlt)
for f in "${traces[@]}"; do
  expect_ok "replay --verify $(basename "$f")" "$HL_BIN/hlreplay" "$f" --alloc arena --verify -q
done
expect_ok "replay --verify checked mode" "$HL_BIN/hlreplay" "$T/larson-2.hlt" --alloc arena \
  --verify -q --options checked=1
expect_fail "bad option refused" "arena: unknown option 'nosuch'" "$HL_BIN/hlreplay" "$T/larson-1.hlt" \
  --alloc arena -q --options nosuch=1

if [ "${HL_SANITIZED:-0}" = 1 ]; then
  echo "note: sanitized build: libhlarena.so (unsanitized, LD_PRELOAD) is tested with the normal build only"
  finish test_arena; exit
fi
LIB=$(cd "$HL_BIN/.." && pwd)/lib/libhlarena.so
if [ ! -f "$LIB" ]; then
  fail "$LIB not built"
  finish test_arena; exit
fi

# ---- arena-preload: hlreplay re-executes itself with libhlarena.so ----
expect_ok "replay --verify through arena-preload" "$HL_BIN/hlreplay" "$T/larson-2.hlt" \
  --alloc arena-preload --verify
if grep -q "^served_by  *libhlarena.so (hlarena " "$HL_TMP/out"; then pass; else
  fail "arena-preload: served_by does not name libhlarena.so"; fi

# ---- conformance ----
expect_ok "compile conform.c" gcc -D_GNU_SOURCE -O1 -w -o "$T/conform" "$SRC/conform.c" -pthread -ldl
expect_ok "conformance under libhlarena.so" env LD_PRELOAD="$LIB" "$T/conform"
expect_eq "conform says ok" "$(LD_PRELOAD="$LIB" "$T/conform" | tail -n 1 | cut -c1-12)" "conform: ok "
expect_status "without the preload conform sees glibc and fails" 1 "$T/conform"

# ---- issue 18, fork and the statistics API (tests/arena/fork.c, mallinfo.c) ----
# fork.c stdio: one thread forks in a loop (children malloc, then _exit or exec
# /bin/true) while others run getline/getdelim (realloc under a FILE's lock) and
# fflush(NULL) (the stdio list lock, then every FILE's); signal: a SIGALRM handler
# (setitimer) forks while the only thread is in malloc/free; signal-mt: a SIGUSR1
# handler (pthread_kill) forks while other threads allocate too. A deadlock hangs,
# so every run is under `timeout` and fails instead. glibc (no preload) is the
# reference for stdio only: in signal its children work on the heap the
# interrupted malloc left half-updated and may abort or (about one run in six
# here) hang, and signal-mt deadlocks glibc's own fork (its arena lock is held
# by the interrupted frame), so both run under libhlarena.so only.
expect_ok "compile fork.c" gcc -D_GNU_SOURCE -O1 -w -o "$T/fork" "$SRC/fork.c" -pthread
expect_ok "glibc: fork against stdio locks (fork.c's reference)" env TMPDIR="$T" timeout 60 \
  "$T/fork" stdio
for what in stdio signal signal-mt; do
  expect_ok "libhlarena.so: fork $what (no deadlock, children malloc)" env TMPDIR="$T" \
    LD_PRELOAD="$LIB" timeout 60 "$T/fork" "$what"
done
# mallinfo.c: 100 MiB of small objects allocated, written, freed, malloc_trim(0):
# mallinfo2's uordblks falls, RSS falls, malloc_stats names hlarena (glibc is the
# reference for the rest); also with purge=0, which malloc_trim overrides.
expect_ok "compile mallinfo.c" gcc -D_GNU_SOURCE -O1 -w -o "$T/mallinfo" "$SRC/mallinfo.c" -ldl
expect_ok "glibc: mallinfo2, malloc_trim, malloc_stats (mallinfo.c's reference)" timeout 60 \
  "$T/mallinfo"
for opts in "" purge=0; do
  expect_ok "libhlarena.so${opts:+ ($opts)}: mallinfo2, malloc_trim, malloc_stats" \
    env HLARENA_OPTIONS="$opts" LD_PRELOAD="$LIB" timeout 60 "$T/mallinfo"
  if grep -q "^mallinfo: ok (hlarena" "$HL_TMP/out"; then pass; else
    fail "mallinfo.c${opts:+ ($opts)} was not served by libhlarena.so: $(tail -n 1 "$HL_TMP/out")"; fi
done

# ---- real programs: same output as glibc ----
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
cat >"$T/dicts.py" <<'EOF'
import hashlib
h = hashlib.sha256()
for round in range(4):
    d = {i: str(i) * (i % 37 + 1) for i in range(200000)}
    s = [v * 3 for v in d.values() if len(v) % 5 == 0]
    big = "".join(s[:5000])
    h.update(big.encode())
    h.update(str(len(d)).encode())
    t = {k: v for k, v in d.items() if k % 3 == 0}
    h.update(str(sum(len(v) for v in t.values())).encode())
    del d, s, t, big
print(h.hexdigest())
EOF
glibc_py=$("$PY" "$T/dicts.py")
arena_py=$(HLARENA_STATS=1 LD_PRELOAD="$LIB" "$PY" "$T/dicts.py" 2>"$T/py.err")
expect_eq "python3 dicts/strings: same output" "$arena_py" "$glibc_py"
if grep -q "^hlarena: served pid" "$T/py.err"; then pass; else fail "python3 was not served by libhlarena.so"; fi

mkdir -p "$T/prog"
cat >"$T/prog/main.c" <<'EOF'
#include <stdio.h>
#include "lib.h"
int main(void) {
  printf("fib(30)=%ld sum=%ld\n", fib(30), table_sum(1000));
  return 0;
}
EOF
cat >"$T/prog/lib.h" <<'EOF'
long fib(int n);
long table_sum(int n);
EOF
cat >"$T/prog/fib.c" <<'EOF'
#include "lib.h"
long fib(int n) { long a = 0, b = 1; for (int i = 0; i < n; i++) { long t = a + b; a = b; b = t; } return a; }
EOF
cat >"$T/prog/table.c" <<'EOF'
#include <stdlib.h>
#include "lib.h"
long table_sum(int n) {
  long *t = malloc(sizeof *t * (size_t)n), s = 0;
  for (int i = 0; i < n; i++) t[i] = (long)i * i;
  for (int i = 0; i < n; i++) s += t[i];
  free(t);
  return s;
}
EOF
expect_ok "gcc (glibc) builds the program" gcc -O2 -o "$T/prog/glibc" "$T/prog/main.c" \
  "$T/prog/fib.c" "$T/prog/table.c"
expect_ok "gcc under libhlarena.so compiles and links it" env LD_PRELOAD="$LIB" gcc -O2 \
  -o "$T/prog/arena" "$T/prog/main.c" "$T/prog/fib.c" "$T/prog/table.c"
expect_eq "the program gcc built under arena prints the same" "$("$T/prog/arena" 2>&1)" \
  "$("$T/prog/glibc" 2>&1)"

"$PY" -c "
import random
r = random.Random(5)
for i in range(400000):
    print(r.randrange(10**9), 'x' * r.randrange(40))
" >"$T/big.txt"
expect_ok "xz -T2 compresses under libhlarena.so" env LD_PRELOAD="$LIB" xz -T2 -k -3 "$T/big.txt"
expect_ok "xz -dc under libhlarena.so" sh -c "LD_PRELOAD='$LIB' xz -dc '$T/big.txt.xz' >'$T/big.round'"
if cmp -s "$T/big.txt" "$T/big.round"; then pass; else fail "xz round trip differs"; fi
sort --parallel=2 -S 8M "$T/big.txt" >"$T/sorted.glibc"
expect_ok "sort --parallel=2 under libhlarena.so" sh -c \
  "LD_PRELOAD='$LIB' sort --parallel=2 -S 8M '$T/big.txt' >'$T/sorted.arena'"
if cmp -s "$T/sorted.glibc" "$T/sorted.arena"; then pass; else fail "sort output differs"; fi

# ---- misuse ----
expect_ok "compile misuse.c" gcc -O0 -fno-builtin -w -o "$T/misuse" "$SRC/misuse.c"
misuse() { # misuse WANT_STATUS OPTIONS WHAT [STDERR_REGEX]
  # (the subshell keeps bash's "Aborted" notice out of the test output)
  (env HLARENA_OPTIONS="$2" LD_PRELOAD="$LIB" "$T/misuse" "$3" >"$T/m.out" 2>"$T/m.err"; exit $?) 2>/dev/null
  local rc=$? re=${4:-^arena: .*aborting}
  if [ "$rc" = "$1" ]; then pass; else fail "misuse $3 ($2): exit $rc, expected $1"; fi
  if [ "$1" = 134 ]; then
    if grep -Eq "$re" "$T/m.err"; then pass; else fail "misuse $3 ($2): stderr lacks /$re/"; fi
  fi
}
misuse 134 "" large-double "double free of a large allocation"
misuse 134 "" huge-double "not a live huge allocation"
misuse 134 checked=1 small-double "double free"
misuse 134 checked=1 large-double
misuse 134 checked=1 interior
misuse 134 checked=1 foreign
misuse 0 checked=1 none
misuse 0 "" none
misuse 134 "bogus=1" none "^hlarena: HLARENA_OPTIONS: arena: unknown option 'bogus'"

# ---- issue 18: impossible sizes, and misuse in the release build ----
# tests/arena/overflow.c: every call that rounds a size (the aligned ones at
# 16 B..4 MiB, valloc, pvalloc, malloc, calloc, realloc, reallocarray) fails
# with ENOMEM near SIZE_MAX, never hands out a block of a wrapped size; glibc
# (the same program without the preload) is the reference. libhlarena.so is
# built with -DNDEBUG: misuse is reported by its own checks, never by assert
# (which would print through malloc, under its locks). Everything under a
# timeout: a deadlock fails the test instead of hanging it.
expect_ok "compile overflow.c" gcc -D_GNU_SOURCE -O1 -fno-builtin -w -o "$T/overflow" \
  "$SRC/overflow.c" -ldl
expect_ok "glibc: impossible sizes fail with ENOMEM (overflow.c's reference)" timeout 120 \
  "$T/overflow"
expect_ok "libhlarena.so: impossible sizes fail with ENOMEM" env LD_PRELOAD="$LIB" timeout 120 \
  "$T/overflow"
if grep -q "^overflow: ok.*libhlarena" "$HL_TMP/out"; then pass; else
  fail "overflow.c was not served by libhlarena.so: $(tail -n 1 "$HL_TMP/out")"; fi
if nm -D "$LIB" | grep -q __assert_fail; then fail "libhlarena.so calls assert (no -DNDEBUG)"; else pass; fi
misuse_rel() { # misuse_rel WANT_STATUS OPTIONS WHAT [STDERR_REGEX]; LIBRARY="" runs glibc
  (ulimit -c 0; env HLARENA_OPTIONS="$2" LD_PRELOAD="${LIBRARY-$LIB}" timeout 20 "$T/misuse" "$3" \
    >"$T/m.out" 2>"$T/m.err"; exit $?) 2>/dev/null
  local rc=$? re=${4:-^arena: .*aborting} who=${LIBRARY-libhlarena.so}
  who="misuse $3 (${who:-glibc}${2:+, $2})"
  if [ "$rc" = "$1" ]; then pass; else fail "$who: exit $rc, expected $1"; fi
  if [ "$1" = 134 ] && [ -n "$4" ]; then
    if grep -Eq "$re" "$T/m.err"; then pass; else fail "$who: stderr lacks /$re/"; fi
  fi
  if grep -q "Assertion" "$T/m.err"; then fail "$who: an assert fired"; else pass; fi
}
for opts in "" arenas=1; do
  misuse_rel 134 "$opts" large-double-merged "^arena: double free of a large allocation"
  misuse_rel 134 "$opts" large-double-alone "^arena: double free \(its chunk is no longer in use\)"
  # (the spare is reused by the arena this thread allocates from: with several
  # arenas a migration in between leaves it unused, and the radix map catches it)
  misuse_rel 134 "$opts" large-double-reused \
    "^arena: double free${opts:+, or free of a pointer into no live slab}"
  misuse_rel 134 "$opts" large-interior "^arena: double free of a large .* not an allocation's start"
  misuse_rel 134 "$opts" large-interior-header "^arena: free of a misaligned pointer"
  misuse_rel 134 "$opts" small-double-emptied "^arena: double free, or free of a pointer into no live slab"
  misuse_rel 134 "$opts" small-interior-flushed "^arena: free of a pointer that is not an object start"
  misuse_rel 134 "$opts" realloc-freed-large "^arena: realloc of a freed large allocation"
  misuse_rel 134 "$opts" realloc-freed-huge "^arena: realloc of a chunk-aligned pointer that is not a live"
  misuse_rel 134 "$opts" realloc-interior "^arena: realloc of a pointer that is not an object start"
done
for what in large-double-merged large-double-alone large-double-reused large-interior \
  small-double-emptied small-interior-flushed realloc-freed-large realloc-freed-huge; do
  misuse_rel 134 checked=1 "$what" "^arena: .*aborting"
done
# glibc (no preload) rejects the same programs, so they are misuse a real malloc
# catches, not arena quirks (it misses the reused chunk, and crashes on the huge ones)
for what in large-double-merged large-double-alone large-interior large-interior-header \
  small-double-emptied small-interior-flushed realloc-interior; do
  LIBRARY="" misuse_rel 134 "" "$what"
done
LIBRARY="" misuse_rel 0 "" none

finish test_arena
