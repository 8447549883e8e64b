# tests/test_capture.sh: the access-capture runtime (sim/capture.c) and the
# capture build (Makefile, build/capture/): atomics performed with the right
# values and reported per core, memcpy/memset/locks seen; a callback the
# runtime lacks fails the link and the Makefile's nm check; hlreplay-sim
# does not link libtsan, and the normal hlreplay carries no instrumentation.
# Alone: HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_capture.sh
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CAP=$(cd "$HL_BIN/.." && pwd)/capture
T=$(mktemp -d "$HL_TMP/test_capture.XXXXXX")

if [ "${HL_SANITIZED:-0}" = 1 ] || [ ! -d "$CAP" ]; then
  # the capture build exists in the normal build only (a sanitizer runtime
  # owns the __tsan_* names); test_sim_replay.sh checks the refusal there
  [ "${HL_SANITIZED:-0}" = 1 ] || fail "no $CAP: the normal build must make the capture programs"
  finish test_capture
  exit
fi

# The runtime's atomics, from an instrumented object (tests/capture/atomics.c).
expect_ok "atomics program" "$CAP/tests/atomics"
grep -q "capture-atomics: [1-9][0-9]* passed, 0 failed" "$HL_TMP/out" && pass ||
  fail "atomics: $(cat "$HL_TMP/out" "$HL_TMP/err")"

# hlreplay-sim defines the entry points itself and never links libtsan.
S=$HL_BIN/hlreplay-sim
if readelf -d "$S" | grep -q libtsan; then fail "hlreplay-sim links libtsan"; else pass; fi
nm "$S" | grep -q ' T __tsan_atomic64_compare_exchange_strong$' && pass || fail "runtime atomics in hlreplay-sim"
nm "$S" | grep -q ' T hl_capture_memcpy$' && pass || fail "memcpy interposer in hlreplay-sim"
# ... and the normal hlreplay has no instrumentation at all
if nm "$HL_BIN/hlreplay" | grep -q '__tsan_'; then fail "normal hlreplay is instrumented"; else pass; fi
# every callback the capture objects need is defined by the runtime (the
# Makefile's check wrote both lists)
expect_eq "callbacks needed, all defined" \
  "$(comm -23 "$CAP/callbacks.needed" "$CAP/callbacks.have")" ""
grep -q '^__tsan_func_entry$' "$CAP/callbacks.needed" && pass || fail "allocators are instrumented"
# ... and by the capture builds of the baselines (make capture-baselines)
BL=$CAP/baselines/lib
if [ -f "$BL/callbacks.needed" ]; then
  expect_eq "baselines' callbacks, all defined" "$(comm -23 "$BL/callbacks.needed" "$CAP/callbacks.have")" ""
  for so in libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4; do
    if readelf -d "$BL/$so" | grep -q libtsan; then fail "$so links libtsan"; else pass; fi
    nm -D --undefined-only "$BL/$so" | grep -q ' __tsan_func_entry$' && pass || fail "$so is instrumented"
    if nm -D --undefined-only "$BL/$so" | grep -Eq ' (memcpy|memset|memmove|__memcpy_chk|pthread_mutex_lock)(@|$)'; then
      fail "$so still calls libc's copies or locks"; else pass; fi
  done
else
  fail "no $BL/callbacks.needed: make capture-baselines"
fi
grep -q '^hl_capture_memcpy$' "$CAP/callbacks.needed" && pass || fail "memcpy renamed in the capture objects"
if grep -q '^memcpy$' <(nm -u "$CAP"/alloc/*.o "$CAP"/alloc/*/*.o | awk '{print $2}'); then
  fail "a capture object still calls libc memcpy"; else pass; fi

# A callback the runtime lacks must fail: gcc emits __tsan_volatile_read4
# for a volatile read under --param tsan-distinguish-volatile=1, which the
# runtime does not define (nothing of ours asks for it).
CC=${CC:-gcc}
cat >"$T/vol.c" <<'C_EOF'
volatile int hl_capture_test_word;
int hl_capture_test_read(void);
int hl_capture_test_read(void) { return hl_capture_test_word; }
int main(void) { return hl_capture_test_read(); }
C_EOF
RT="$CAP/sim/capture.o $CAP/sim/capture_sym.o $(cd "$HL_BIN/.." && pwd)/libhlsim.a -ldl -lpthread -lm"
expect_ok "plain instrumented object" $CC -O2 -fsanitize=thread -c "$T/vol.c" -o "$T/plain.o"
expect_ok "links against the runtime" $CC "$T/plain.o" $RT -o "$T/plain"
expect_ok "volatile-instrumented object" $CC -O2 -fsanitize=thread --param tsan-distinguish-volatile=1 \
  -c "$T/vol.c" -o "$T/vol.o"
expect_fail "missing callback fails the link" "undefined reference to .__tsan_volatile_read4" \
  $CC "$T/vol.o" $RT -o "$T/vol"
expect_fail "the Makefile's nm check names it" "lacks: __tsan_volatile_read4" \
  env -u MAKEFLAGS -u MAKELEVEL make -s -C "$ROOT" CAPTURE="$T/cap" CAPTURE_OBJS="$T/vol.o" \
  CAPTURE_RT="$CAP/sim/capture.o $CAP/sim/capture_sym.o" "$T/cap/callbacks.ok"

finish test_capture
