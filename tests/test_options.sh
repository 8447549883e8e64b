# tests/test_options.sh: allocator options end to end (alloc/options.h). Every
# allocator `hlreplay --list` names refuses an unknown key with exit 2 and a message
# naming it, before anything runs (baselines included: no preload is attempted), and
# lists its keys with `--options help`; bad values and malformed strings are refused
# with the key and what it takes; valid options still replay; hlbench refuses a bad
# variant (system:foo=1, ravioli:keep=x) with the config's file and line before any
# run; libhlarena.so with a bad HLARENA_OPTIONS says so and aborts, as it always did.
source tests/lib.sh
R=$HL_BIN/hlreplay
B=$HL_BIN/hlbench
T=$HL_TMP/options
rm -rf "$T"
mkdir -p "$T"

gen "$T/tt.hlt" threadtest --threads 2 --iterations 2 --objects 300 --size 48

# ---- every allocator: an unknown key, exit 2, the key and the allocator named ----
allocs=$("$R" --list | cut -f1)
expect_ok "hlreplay --list" test -n "$allocs"
for a in $allocs; do
  expect_status "$a: unknown key exits 2" 2 "$R" "$T/tt.hlt" --alloc "$a" --options nosuchkey=1
  if grep -q "^hlreplay: --options: $a: unknown option 'nosuchkey' (" "$HL_TMP/err"; then pass
  else fail "$a: message: $(head -1 "$HL_TMP/err")"; fi
  if [ -s "$HL_TMP/out" ]; then fail "$a: a refused run printed a row"; else pass; fi
  expect_ok "$a: --options help" "$R" --alloc "$a" --options help
  if head -1 "$HL_TMP/out" | grep -Eq "^$a (options \(key=value|takes no options)"; then pass
  else fail "$a: help: $(head -1 "$HL_TMP/out")"; fi
  # a key given on the help is accepted by the parser: each key=its syntax's first value
  if grep -q "^  [a-z_0-9]*=" "$HL_TMP/out"; then
    expect_status "$a: no trailing comma" 2 "$R" "$T/tt.hlt" --alloc "$a" --options checked=0,
    if grep -q "empty option" "$HL_TMP/err"; then pass; else fail "$a: trailing comma: $(cat "$HL_TMP/err")"; fi
  else
    expect_status "$a: takes no options: even a valid-looking one" 2 "$R" "$T/tt.hlt" --alloc "$a" --options checked=1
    if grep -q "$a takes no options" "$HL_TMP/err"; then pass; else fail "$a: $(cat "$HL_TMP/err")"; fi
  fi
done

# ---- values and syntax: the key and what it takes ----
expect_status "keep=70000" 2 "$R" "$T/tt.hlt" --alloc ravioli --options keep=70000
expect_eq "keep=70000 message" "$(head -1 "$HL_TMP/err")" \
  "hlreplay: --options: ravioli: option 'keep': expected an integer 0..65536, got '70000'"
expect_status "arena chek=1" 2 "$R" "$T/tt.hlt" --alloc arena --options chek=1
if grep -q "arena: unknown option 'chek' (known: reserve, arenas, pools, dirty_min, lg_dirty, purge, checked, prot_none)" "$HL_TMP/err"
then pass; else fail "arena chek: $(cat "$HL_TMP/err")"; fi
if grep -q "hlreplay --alloc arena --options help" "$HL_TMP/err"; then pass; else fail "no pointer to the help"; fi
expect_status "missing '='" 2 "$R" "$T/tt.hlt" --alloc ravioli --options checked
if grep -q "ravioli: expected key=value, got 'checked'" "$HL_TMP/err"; then pass; else fail "missing =: $(cat "$HL_TMP/err")"; fi
expect_status "a key twice" 2 "$R" "$T/tt.hlt" --alloc ravioli --options keep=1,keep=2
if grep -q "option 'keep' given twice" "$HL_TMP/err"; then pass; else fail "twice: $(cat "$HL_TMP/err")"; fi
expect_status "stable card=1000" 2 "$R" "$T/tt.hlt" --alloc stable --options card=1000
if grep -q "stable: option 'card': expected a power of two 128..64K" "$HL_TMP/err"; then pass
else fail "card: $(cat "$HL_TMP/err")"; fi
expect_status "stable's old 'check'" 2 "$R" "$T/tt.hlt" --alloc stable --options check=1
expect_status "arena reserve=1T" 2 "$R" "$T/tt.hlt" --alloc arena --options reserve=1T
if grep -q "option 'reserve': expected a byte size (suffix k, m or g), got '1T'" "$HL_TMP/err"
then pass; else fail "reserve=1T: $(cat "$HL_TMP/err")"; fi
expect_status "overflow" 2 "$R" "$T/tt.hlt" --alloc arena --options reserve=99999999999G
if grep -q "(too large)" "$HL_TMP/err"; then pass; else fail "overflow: $(cat "$HL_TMP/err")"; fi

# ---- valid options still replay, suffixes in either case ----
expect_ok "ravioli keep=4,checked=1,batch=8" "$R" "$T/tt.hlt" --alloc ravioli -q --verify --options keep=4,checked=1,batch=8
expect_ok "ravioli8 hysteresis=0" "$R" "$T/tt.hlt" --alloc ravioli8 -q --options hysteresis=0
expect_ok "arena reserve=1g,checked=1" "$R" "$T/tt.hlt" --alloc arena -q --verify --options reserve=1g,checked=1
expect_ok "arena reserve=1G,dirty_min=64k" "$R" "$T/tt.hlt" --alloc arena -q --options reserve=1G,dirty_min=64k
expect_ok "stable card=256,minor=8K,checked=1" "$R" "$T/tt.hlt" --alloc stable -q --verify --options card=256,minor=8K,checked=1,pin=none
expect_ok "system, empty options" "$R" "$T/tt.hlt" --alloc system -q --options ""
expect_ok "null, no options" "$R" "$T/tt.hlt" --alloc null -q

# ---- hlbench: a bad variant stops it at the config's line, before any run ----
if [ -x "$B" ]; then
  BL=("$B")
  printf 'allocators = system\nrepeats = 1\nworkload tt = file tt.hlt\n' >"$T/ok.conf"
  printf '# bad variant\nallocators = null system:foo=1\nrepeats = 1\nworkload tt = file tt.hlt\n' >"$T/bad1.conf"
  expect_status "hlbench system:foo=1 exits 2" 2 "${BL[@]}" --config "$T/bad1.conf" --bin "$HL_BIN" --results "$T/r1"
  if grep -q "bad1.conf:2: expected options the allocator takes, got 'system:foo=1': system: unknown option 'foo' (system takes no options" "$HL_TMP/err"
  then pass; else fail "hlbench system:foo=1: $(cat "$HL_TMP/err")"; fi
  if [ -e "$T/r1" ] && [ -n "$(ls -A "$T/r1")" ]; then fail "hlbench wrote results before refusing"; else pass; fi
  if grep -q "null" "$HL_TMP/out"; then fail "hlbench ran something: $(head -3 "$HL_TMP/out")"; else pass; fi
  printf 'allocators = ravioli:keep=x\nworkload tt = file tt.hlt\n' >"$T/bad2.conf"
  expect_status "hlbench ravioli:keep=x exits 2" 2 "${BL[@]}" --config "$T/bad2.conf" --bin "$HL_BIN" --results "$T/r2"
  if grep -q "bad2.conf:1: .*ravioli: option 'keep': expected an integer 0..65536, got 'x'" "$HL_TMP/err"
  then pass; else fail "hlbench ravioli:keep=x: $(cat "$HL_TMP/err")"; fi
  printf 'allocators = ravioli:keep=4,remote-free=request,checked=0\nworkload tt = file tt.hlt\n' >"$T/bad3.conf"
  expect_status "hlbench: the harness's remote-free key is not the allocator's" 0 \
    "$B" --config "$T/bad3.conf" --bin "$HL_BIN" --results "$T/r3" --jobs-out "$T/jobs.txt"
  printf 'allocators = system ravioli:keep=4,checked=1 stable:card=256\nrepeats = 1\nworkload tt = file tt.hlt\n' >"$T/good.conf"
  expect_ok "hlbench good variants run" "$B" --config "$T/good.conf" --bin "$HL_BIN" --results "$T/r4"
  n=$(cat "$T"/r4/*/bench.csv 2>/dev/null | grep -c ',ok,')
  expect_eq "hlbench good variants: 3 rows ok" "$n" 3
else
  echo "test_options: hlbench not built, its checks skipped"
fi

# ---- libhlarena.so: HLARENA_OPTIONS read by the same table; a bad one aborts ----
LIB=$HL_BIN/../lib/libhlarena.so
if [ "${HL_SANITIZED:-0}" = 0 ] && [ -f "$LIB" ]; then
  (env HLARENA_OPTIONS=nosuchkey=1 LD_PRELOAD="$LIB" /bin/true >"$T/a.out" 2>"$T/a.err"; exit $?) 2>/dev/null
  expect_eq "libhlarena.so bad HLARENA_OPTIONS aborts" "$?" 134
  if grep -q "^hlarena: HLARENA_OPTIONS: arena: unknown option 'nosuchkey' (known: reserve," "$T/a.err"
  then pass; else fail "libhlarena.so message: $(cat "$T/a.err")"; fi
  (env HLARENA_OPTIONS=arenas=0 LD_PRELOAD="$LIB" /bin/true >"$T/a.out" 2>"$T/a.err"; exit $?) 2>/dev/null
  expect_eq "libhlarena.so arenas=0 aborts" "$?" 134
  if grep -q "option 'arenas': expected an integer 1..1024, got '0'" "$T/a.err"; then pass
  else fail "libhlarena.so arenas=0: $(cat "$T/a.err")"; fi
  expect_ok "libhlarena.so good HLARENA_OPTIONS" env HLARENA_OPTIONS=checked=1,reserve=1G,arenas=2 LD_PRELOAD="$LIB" sort "$T/ok.conf"
  expect_ok "libhlarena.so empty HLARENA_OPTIONS" env HLARENA_OPTIONS= LD_PRELOAD="$LIB" /bin/true
  expect_ok "arena-preload with HLARENA_OPTIONS" env HLARENA_OPTIONS=checked=1 "$R" "$T/tt.hlt" --alloc arena-preload -q --verify
  expect_status "arena-preload --options refused" 2 "$R" "$T/tt.hlt" --alloc arena-preload --options checked=1
  if grep -q "HLARENA_OPTIONS" "$HL_TMP/err"; then pass; else fail "arena-preload hint: $(cat "$HL_TMP/err")"; fi
else
  echo "test_options: libhlarena.so checks skipped (sanitized build, or no library)"
fi

finish test_options
