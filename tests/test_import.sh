# tests/test_import.sh: `hltrace import` (workloads/import/) on inputs made
# here, so it runs in every build (sanitized too): a hand-made recorder log
# exercising each rule (realloc halves with the old address reused in
# between, realloc(p, 0), realloc(NULL, n), unknown and NULL frees, an empty
# slot, events after a thread's exit record), glibc mtrace logs (hand-written
# and, where libc_malloc_debug.so exists, a real one from a program whose
# path holds a blank; failed calls of any size; callers of every shape; cut
# at every byte; empty), and malformed inputs, which must fail with the
# file, the byte offset and no output.
# The recorder itself is tested by tests/test_record.sh. Alone:
#   HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_import.sh
source "$(dirname "$0")/lib.sh"

H=$HL_BIN/hltrace
T=$(mktemp -d "$HL_TMP/test_import.XXXXXX")

# expect_same DESC GOT_FILE WANT_FILE
expect_same() {
  if cmp -s "$2" "$3"; then pass; else
    fail "$1: $2 differs from $3:"; diff "$3" "$2" | head -20 | sed 's/^/    /' >&2; fi
}
# expect_grep DESC REGEX FILE
expect_grep() {
  if grep -Eq -- "$2" "$3"; then pass; else
    fail "$1: /$2/ not in $3:"; sed 's/^/    /' "$3" | head -20 >&2; fi
}

# ---- a hand-made recorder log (workloads/recorder/record_format.h) ----
le() { # le VALUE BYTES: little-endian bytes of VALUE
  local v=$1 i
  for ((i = 0; i < $2; i++)); do printf "\\x$(printf %02x $(((v >> (8 * i)) & 255)))"; done
}
raw_header() { printf 'HLRAW01\n'; le 1 4; le 40 4; le 4242 4; le 1 4; le 0 8; le 0 8; le 0 24; }
# raw_rec SEQ OP THREAD ADDR OLD SIZE [KIND ALIGN_LOG2]; ops: 1 alloc, 2 free,
# 3 realloc-out, 4 realloc-in, 5 thread exit
raw_rec() {
  le "$1" 8; le "$4" 8; le "$5" 8; le "$6" 8; le "$3" 4; le "$2" 1; le "${7:-0}" 1
  le "${8:-0}" 1; le 0 1
}
raw_empty() { le 0 40; }
{
  raw_header
  raw_rec 0 1 0 0x1000 0 16          # t0 malloc 16 -> object 0
  raw_rec 1 1 1 0x2000 0 32 2 6      # t1 memalign(64, 32) -> object 1
  raw_rec 2 3 0 0x1000 0 0           # t0 realloc(0x1000, 64) begins: 0x1000 leaves
  raw_rec 3 1 1 0x1000 0 8           # t1 is handed 0x1000 meanwhile -> object 2
  raw_rec 4 4 0 0x3000 0x1000 64     # t0's realloc returns 0x3000: object 0
  raw_rec 5 2 1 0x3000 0 0           # t1 frees it (cross-thread)
  raw_rec 6 2 0 0x9999 0 0           # free of an unknown address: dropped
  raw_rec 7 2 0 0 0 0                # free(NULL): dropped
  raw_empty                          # slot 8 never written: lost
  raw_rec 9 5 1 0 0 0                # t1's exit record...
  raw_rec 10 2 1 0x1000 0 0          # ...but a later destructor frees: end after this
  raw_rec 11 3 0 0x2000 0 0          # realloc(0x2000, 0)...
  raw_rec 12 4 0 0 0x2000 0          # ...returns NULL: glibc freed it
  raw_rec 13 4 2 0x4000 0 5          # t2 realloc(NULL, 5): a malloc
  raw_rec 14 5 2 0 0 0
  le 0 20                            # the file grows ahead: a partial empty slot
} >"$T/a.raw"
cat >"$T/a.expected" <<'EOF'
heaplab-trace 2
threads 3
meta tool hltrace import record
meta recorder.pid 4242
meta recorder.ppid 1
meta import.unknown_dropped 1
meta import.null_frees 1
meta import.failed 0
meta import.lost 1
meta import.untraced_reallocs 0
0 start
0 malloc 0 16
1 start
1 memalign 1 32 64
1 malloc 2 8
0 realloc 0 64
1 free 0
1 free 2
1 end
0 free 1
2 start
2 malloc 3 5
2 end
EOF
expect_ok "import record (hand-made log)" "$H" import record "$T/a.raw" -o "$T/a.hlt"
expect_grep "import prints the drop counts" "^dropped unknown address: 1$" "$HL_TMP/err"
expect_grep "import prints lost records" "^lost records \(cut-off writers\): 1$" "$HL_TMP/err"
expect_ok "imported log passes check" "$H" check "$T/a.hlt"
"$H" dump "$T/a.hlt" >"$T/a.dump" 2>&1
expect_same "import record: exact trace" "$T/a.dump" "$T/a.expected"

# ---- a realloc of a block from before recording started ----
# The program holds the new block from then on: a malloc of the new size,
# counted, whose later free and realloc are traced. realloc(untraced, 0)
# that frees is an unknown free; a failed one is a failed call.
{
  raw_header
  raw_rec 0 3 0 0x7000 0 0           # realloc(0x7000, 48), 0x7000 never seen
  raw_rec 1 4 0 0x8000 0x7000 48     # -> 0x8000: object 0, a malloc of 48
  raw_rec 2 3 0 0x8000 0 0           # realloc(0x8000, 96): traced now
  raw_rec 3 4 0 0x9000 0x8000 96
  raw_rec 4 3 0 0x7100 0 0           # realloc(0x7100, 0) frees an untraced block
  raw_rec 5 4 0 0 0x7100 0
  raw_rec 6 3 0 0x7200 0 0           # realloc(0x7200, 64) of an untraced block fails
  raw_rec 7 4 0 0 0x7200 64
  raw_rec 8 2 0 0x9000 0 0           # free: the imported object
  raw_rec 9 5 0 0 0 0
} >"$T/untraced.raw"
cat >"$T/untraced.expected" <<'EOF'
heaplab-trace 2
threads 1
meta tool hltrace import record
meta recorder.pid 4242
meta recorder.ppid 1
meta import.unknown_dropped 1
meta import.null_frees 0
meta import.failed 1
meta import.lost 0
meta import.untraced_reallocs 1
0 start
0 malloc 0 48
0 realloc 0 96
0 free 0
0 end
EOF
expect_ok "import record: realloc of an untraced block" "$H" import record "$T/untraced.raw" -o "$T/untraced.hlt"
expect_grep "untraced realloc counted on stderr" "^realloc of an untraced block \(imported as malloc\): 1$" "$HL_TMP/err"
"$H" dump "$T/untraced.hlt" >"$T/untraced.dump" 2>&1
expect_same "import record: untraced realloc: exact trace" "$T/untraced.dump" "$T/untraced.expected"

# ---- malformed recorder logs: file, byte offset, non-zero exit, no output ----
head -c 30 "$T/a.raw" >"$T/short.raw"
expect_fail "raw: truncated header" "short.raw: byte 30, .*truncated" "$H" import record "$T/short.raw" -o "$T/x.hlt"
{ printf 'XLRAW01\n'; tail -c +9 "$T/a.raw"; } >"$T/magic.raw"
expect_fail "raw: bad magic" "magic.raw: byte 0, .*bad magic" "$H" import record "$T/magic.raw" -o "$T/x.hlt"
{ head -c 8 "$T/a.raw"; le 7 4; tail -c +13 "$T/a.raw"; } >"$T/version.raw"
expect_fail "raw: version" "version.raw: byte 8, .*version 7" "$H" import record "$T/version.raw" -o "$T/x.hlt"
cp "$T/a.raw" "$T/seq.raw"   # slot 3 (byte 64 + 120) claims sequence number 9
le 9 1 | dd of="$T/seq.raw" bs=1 seek=184 conv=notrunc 2>/dev/null
expect_fail "raw: sequence number" "seq.raw: byte 184, event 3: .*sequence number 9" "$H" import record "$T/seq.raw" -o "$T/x.hlt"
cp "$T/a.raw" "$T/op.raw"    # slot 1's op byte (64 + 40 + 36)
le 9 1 | dd of="$T/op.raw" bs=1 seek=140 conv=notrunc 2>/dev/null
expect_fail "raw: unknown op" "op.raw: byte 140, event 1: unknown record op 9" "$H" import record "$T/op.raw" -o "$T/x.hlt"
{ cat "$T/a.raw"; printf 'junk'; } >"$T/tail.raw"   # 64 + 15 * 40 = 664: the partial slot
expect_fail "raw: partial record" "tail.raw: byte 664, .*truncated record" "$H" import record "$T/tail.raw" -o "$T/x.hlt"
{ raw_header; raw_rec 0 4 0 0x5000 0x1000 8; } >"$T/half.raw"
expect_fail "raw: realloc without its first half" "half.raw: byte 64, event 0: .*no first half" "$H" import record "$T/half.raw" -o "$T/x.hlt"
expect_fail "raw: missing file" "nope.raw: .*cannot open" "$H" import record "$T/nope.raw" -o "$T/x.hlt"
expect_ok "failed imports leave no output" test ! -e "$T/x.hlt"

# ---- mtrace: a hand-written log with every line shape ----
cat >"$T/m.mtrace" <<'EOF'
= Start
@ ./prog:[0x401136] + 0x4052a0 0x10
@ ./prog:(main+0x1d)[0x401150] + 0x4052c0 0x20
+ 0x405300 0
@ ./prog:[0x40116a] < 0x4052a0
@ ./prog:[0x40116a] > 0x405400 0x64
@ ./prog:[0x40117a] ! 0x405400 0xffffff
@ ./prog:[0x40118a] - 0x4052c0
@ ./prog:[0x40118b] - 0x777777
@ ./prog:[0x40118c] + (nil) 0x1000000000
- 0x405400
= End
EOF
cat >"$T/m.expected" <<'EOF'
heaplab-trace 2
threads 1
meta tool hltrace import mtrace
meta import.unknown_dropped 1
meta import.null_frees 0
meta import.failed 2
meta import.untraced_reallocs 0
0 start
0 malloc 0 16
0 malloc 1 32
0 malloc 2 0
0 realloc 0 100
0 free 1
0 free 0
EOF
expect_ok "import mtrace (hand-written)" "$H" import mtrace "$T/m.mtrace" -o "$T/m.hlt"
"$H" dump "$T/m.hlt" >"$T/m.dump" 2>&1
expect_same "import mtrace: exact trace" "$T/m.dump" "$T/m.expected"

# ---- mtrace: a real log of tests/record/seq.c ----
seq_expected() { # the trace of seq.c as mtrace sees it: every alloc a malloc
  cat <<'EOF'
heaplab-trace 2
threads 1
0 start
0 malloc 0 100
0 malloc 1 200
0 realloc 0 5000
0 realloc 0 50
0 malloc 2 30
0 malloc 3 70
0 malloc 4 256
0 malloc 5 40
0 malloc 6 10
0 free 1
0 free 2
0 free 0
0 free 3
0 free 4
0 free 5
0 free 6
0 malloc 7 7
EOF
}
if ! command -v gcc >/dev/null; then
  echo "note: no gcc: the real mtrace log is not tested"
elif ! mkdir -p "$T/my app" ||
  ! gcc -O0 -fno-builtin -DSEQ_MTRACE -o "$T/my app/seqm" "$(dirname "$0")/record/seq.c" 2>"$T/cc.err"; then
  fail "compile tests/record/seq.c"; head -5 "$T/cc.err" >&2
else
  # glibc >= 2.34 keeps mtrace in libc_malloc_debug.so: preloaded, mtrace() works.
  # The program's path, which glibc writes as the caller, holds a blank.
  MALLOC_TRACE="$T/seq.mtrace" LD_PRELOAD=libc_malloc_debug.so.0 "$T/my app/seqm" 2>/dev/null
  [ -s "$T/seq.mtrace" ] || MALLOC_TRACE="$T/seq.mtrace" "$T/my app/seqm" # older glibc: in libc
  if [ ! -s "$T/seq.mtrace" ]; then
    echo "note: mtrace() wrote nothing here (no libc_malloc_debug.so?): the real mtrace log is not tested"
  else
    expect_ok "import a real mtrace log" "$H" import mtrace "$T/seq.mtrace" -o "$T/seq.hlt"
    "$H" dump "$T/seq.hlt" 2>&1 | grep -v '^meta ' >"$T/seq.dump"
    seq_expected >"$T/seq.expected"
    expect_same "real mtrace log: exact trace" "$T/seq.dump" "$T/seq.expected"
  fi
fi

# ---- malformed mtrace: file, line, byte offset, non-zero exit ----
printf '= Start\n@ ./p:[0x1] + 0x10 0x10\n@ ./p:[0x1] * 0x10\n' >"$T/op.mtrace"
expect_fail "mtrace: unknown op" "op.mtrace:3: byte 32, .*expected an operation" "$H" import mtrace "$T/op.mtrace" -o "$T/x.hlt"
printf '+ 0x10 0x10\n- zz\n' >"$T/addr.mtrace"
expect_fail "mtrace: bad address" "addr.mtrace:2: byte 12, .*expected an address" "$H" import mtrace "$T/addr.mtrace" -o "$T/x.hlt"
printf '+ 0x10\n' >"$T/size.mtrace"
expect_fail "mtrace: missing size" "size.mtrace:1: byte 0, .*expected a size" "$H" import mtrace "$T/size.mtrace" -o "$T/x.hlt"
printf '+ 0x10 0x10\n< 0x10\n- 0x10\n' >"$T/half.mtrace"
expect_fail "mtrace: '<' without '>'" "half.mtrace:3: byte 19, .*expected '>'" "$H" import mtrace "$T/half.mtrace" -o "$T/x.hlt"
printf '+ 0x10 0x10 extra\n' >"$T/extra.mtrace"
expect_fail "mtrace: trailing text" "extra.mtrace:1: byte 0, .*unexpected text" "$H" import mtrace "$T/extra.mtrace" -o "$T/x.hlt"
expect_ok "failed mtrace imports leave no output" test ! -e "$T/x.hlt"

# ---- mtrace: a realloc of a block from before tracing started ----
cat >"$T/untraced.mtrace" <<'EOF'
= Start
@ ./prog:[0x40116a] < 0x7000
@ ./prog:[0x40116a] > 0x8000 0x30
- 0x8000
- 0x7100
= End
EOF
cat >"$T/untraced-m.expected" <<'EOF'
heaplab-trace 2
threads 1
meta tool hltrace import mtrace
meta import.unknown_dropped 1
meta import.null_frees 0
meta import.failed 0
meta import.untraced_reallocs 1
0 start
0 malloc 0 48
0 free 0
EOF
expect_ok "mtrace: realloc of an untraced block" "$H" import mtrace "$T/untraced.mtrace" -o "$T/untraced-m.hlt"
"$H" dump "$T/untraced-m.hlt" >"$T/untraced-m.dump" 2>&1
expect_same "mtrace: untraced realloc: exact trace" "$T/untraced-m.dump" "$T/untraced-m.expected"
printf '< 0x10\n> (nil) 0x10\n' >"$T/nilnew.mtrace"
expect_fail "mtrace: '>' with a null address" "nilnew.mtrace:2: byte 7, .*null address" "$H" import mtrace "$T/nilnew.mtrace" -o "$T/x.hlt"

# ---- mtrace: failed calls are dropped and counted, whatever size they asked ----
# glibc logs a failed malloc/calloc/memalign as "+ (nil) SIZE" and a failed
# realloc as "! OLD SIZE"; the size of a failed call may be anything (a
# malloc(SIZE_MAX) is the usual way to get one), and nothing was allocated.
cat >"$T/failed.mtrace" <<'EOF'
= Start
@ ./prog:[0x401136] + (nil) 0x7fffffffffffffff
@ ./prog:(main+0x2a)[0x401140] + (nil) 0xfffffffffffffff0
@ ./prog:[0x401150] + 0x4052a0 0x10
@ ./prog:[0x40116a] ! 0x4052a0 0x7fffffffffffffff
@ ./prog:[0x40116b] ! (nil) 0xffffffffffffffff
- 0x4052a0
= End
EOF
cat >"$T/failed.expected" <<'EOF'
heaplab-trace 2
threads 1
meta tool hltrace import mtrace
meta import.unknown_dropped 0
meta import.null_frees 0
meta import.failed 4
meta import.untraced_reallocs 0
0 start
0 malloc 0 16
0 free 0
EOF
expect_ok "mtrace: failed calls of any size" "$H" import mtrace "$T/failed.mtrace" -o "$T/failed.hlt"
expect_grep "mtrace: failed calls counted on stderr" "^dropped failed call: 4$" "$HL_TMP/err"
"$H" dump "$T/failed.hlt" >"$T/failed.dump" 2>&1
expect_same "mtrace: failed calls: exact trace" "$T/failed.dump" "$T/failed.expected"
printf '+ 0x10 0x1000000000001\n' >"$T/huge.mtrace"   # a block that did get 2^48 + 1 bytes
expect_fail "mtrace: size over 2^48" "huge.mtrace:1: byte 0, .*size over 2\^48" "$H" import mtrace "$T/huge.mtrace" -o "$T/x.hlt"

# ---- mtrace: the caller "@ DSO:[ADDR]" / "@ DSO:(SYM+OFF)[ADDR]" / "@ [ADDR]" ----
# glibc's tr_where prints the DSO's file name as it is: it may hold blanks
# (and even ']'); the caller ends at the "[0x...]" before the operation.
cat >"$T/caller.mtrace" <<'EOF'
= Start
@ /opt/my app/p:[0x1] + 0x1000 0x10
@ /opt/my app/lib x.so:(do_work+0x1d)[0x7f0000001234] + 0x2000 0x20
@ /opt/odd ]dir [0x9]/p:(f-0x4)[0x3] - 0x1000
@ [0x7f0000005678] - 0x2000
@ (sym+0x4)[0x5] + 0x3000 0x30
EOF
cat >"$T/caller.expected" <<'EOF'
0 start
0 malloc 0 16
0 malloc 1 32
0 free 0
0 free 1
0 malloc 2 48
EOF
expect_ok "mtrace: callers with blanks in the path" "$H" import mtrace "$T/caller.mtrace" -o "$T/caller.hlt"
"$H" dump "$T/caller.hlt" 2>&1 | grep -v '^meta \|^heaplab-trace\|^threads' >"$T/caller.dump"
expect_same "mtrace: callers with blanks: exact trace" "$T/caller.dump" "$T/caller.expected"
printf '+ 0x10 0x10\n@ ./p + 0x20 0x10\n' >"$T/nocaller.mtrace"
expect_fail "mtrace: caller without [ADDR]" "nocaller.mtrace:2: byte 12, .*expected a caller .*got '@ ./p \+ 0x20 0x10'" "$H" import mtrace "$T/nocaller.mtrace" -o "$T/x.hlt"
printf '@ ./p:[zz] + 0x20 0x10\n' >"$T/badcaller.mtrace"
expect_fail "mtrace: caller with a bad [ADDR]" "badcaller.mtrace:1: byte 0, .*expected a caller" "$H" import mtrace "$T/badcaller.mtrace" -o "$T/x.hlt"

# ---- mtrace: a log cut at any byte is an error, or its complete lines ----
# A log cut while being written (or copied) must never turn its last line
# into a different record: "+ 0x4052a0 0x446" cut by two bytes reads as a
# valid "+ 0x4052a0 0x44".
printf '= Start\n@ ./p:[0x1] + 0x4052a0 0x446\n' | head -c -2 >"$T/cut.mtrace"
expect_fail "mtrace: cut last line" "cut.mtrace:2: byte 35, .*truncated.*expected a newline.*got the end of the file" "$H" import mtrace "$T/cut.mtrace" -o "$T/x.hlt"
expect_ok "failed cut import leaves no output" test ! -e "$T/x.hlt"
cat >"$T/full.mtrace" <<'EOF'
= Start
@ ./p:[0x1] + 0x4052a0 0x446
@ /opt/my app/p:(main+0x1d)[0x2] + 0x4052c0 0x20
- 0x4052a0
= End
EOF
bad=""
for ((i = 0; i <= $(wc -c <"$T/full.mtrace"); i++)); do
  head -c "$i" "$T/full.mtrace" >"$T/part.mtrace"
  "$H" import mtrace "$T/part.mtrace" -o "$T/part.hlt" >/dev/null 2>"$T/part.err"
  rc=$?
  if [ "$i" -eq 0 ] || [ -z "$(tail -c 1 "$T/part.mtrace")" ]; then # cut at a line end
    [ $rc -eq 0 ] || bad="$bad $i"
  elif [ $rc -ne 1 ] || ! grep -q "truncated" "$T/part.err"; then
    bad="$bad $i"
  fi
done
expect_eq "mtrace: cut at every byte: error or the complete lines (wrong at these cuts)" "${bad:0:60}" ""

# ---- an empty log is imported with a warning, not silently ----
: >"$T/empty.mtrace"
expect_ok "mtrace: empty log" "$H" import mtrace "$T/empty.mtrace" -o "$T/empty.hlt"
expect_grep "mtrace: empty log warns" "warning: .*empty.mtrace: 0 events" "$HL_TMP/err"
printf '= Start\n= End\n' >"$T/nocalls.mtrace"
expect_ok "mtrace: log without calls" "$H" import mtrace "$T/nocalls.mtrace" -o "$T/nocalls.hlt"
expect_grep "mtrace: log without calls warns" "warning: .*nocalls.mtrace: 0 events" "$HL_TMP/err"

# ---- usage ----
expect_ok "import --help" "$H" import --help
expect_grep "--help names the formats" "mtrace" "$HL_TMP/out"
expect_fail "import: unknown format" "unknown format 'ltrace'" "$H" import ltrace "$T/m.mtrace" -o "$T/x.hlt"
expect_fail "import: -o required" "-o TRACE is required" "$H" import mtrace "$T/m.mtrace"

finish test_import
