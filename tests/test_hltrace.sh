# tests/test_hltrace.sh: the hltrace command (workloads/hltrace.c): pack/dump
# round trip, check on good and bad traces, stats numbers computed by hand,
# --help, usage errors. Run by tests/run.sh; alone:
#   HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_hltrace.sh
source "$(dirname "$0")/lib.sh"

H=$HL_BIN/hltrace
T=$(mktemp -d "$HL_TMP/test_hltrace.XXXXXX")

# expect_grep DESC REGEX FILE
expect_grep() {
  if grep -Eq -- "$2" "$3"; then pass; else
    fail "$1: /$2/ not in $3:"; sed 's/^/    /' "$3" | head -20 >&2; fi
}

# A hand-written trace. Labels 1..4 become objects 0..3. Live bytes after
# each event: 100, 150, 1150, 1050, 1500 (the peak), 1000, 1016, 1000 (final).
# Objects 2 and 4 are allocated by thread 0 and freed by thread 1: 2
# cross-thread frees. 11 events.
cat >"$T/a.txt" <<'EOF'
heaplab-trace 1
threads 2
meta purpose test_hltrace
# comments and blank lines are ignored

0 start
1 start
0 malloc 1 100
0 malloc 2 50       # a trailing comment
1 calloc 3 1000
0 free 1
0 realloc 2 500
1 free 2
0 memalign 4 16 64
1 free 4
1 end
EOF
# What dump must print for it: dense ids, no comments.
cat >"$T/a.expected" <<'EOF'
heaplab-trace 1
threads 2
meta purpose test_hltrace
0 start
1 start
0 malloc 0 100
0 malloc 1 50
1 calloc 2 1000
0 free 0
0 realloc 1 500
1 free 1
0 memalign 3 16 64
1 free 3
1 end
EOF

# ---- pack / dump round trip ----
expect_ok "pack" "$H" pack "$T/a.txt" -o "$T/a.hlt"
expect_ok "dump" "$H" dump "$T/a.hlt" -o "$T/a.dump"
expect_ok "dump is the dense-id text" cmp "$T/a.dump" "$T/a.expected"
expect_ok "pack the dump" "$H" pack "$T/a.dump" -o "$T/b.hlt"
expect_ok "binary -> text -> binary is byte-identical" cmp "$T/a.hlt" "$T/b.hlt"
"$H" dump "$T/a.hlt" >"$T/a.stdout" 2>"$T/err"
expect_ok "dump to stdout = dump -o" cmp "$T/a.stdout" "$T/a.dump"
"$H" dump - <"$T/a.hlt" >"$T/a.stdin" 2>"$T/err"
expect_ok "dump from stdin" cmp "$T/a.stdin" "$T/a.dump"
"$H" pack - -o - <"$T/a.txt" >"$T/c.hlt" 2>"$T/err"
expect_ok "pack stdin to stdout" cmp "$T/c.hlt" "$T/a.hlt"
expect_ok "binary starts with the magic" bash -c "head -c 8 '$T/a.hlt' | od -An -tx1 | grep -q '89 48 4c 54 0d 0a 1a 0a'"

# ---- check ----
expect_ok "check good" "$H" check "$T/a.hlt"
expect_grep "check prints ok and the count" "^$T/a.hlt: ok, 11 events$" "$HL_TMP/out"
size=$(wc -c <"$T/a.hlt")
head -c $((size - 1)) "$T/a.hlt" >"$T/trunc.hlt"
expect_fail "check truncated" "trunc.hlt: byte [0-9]+, event [0-9]+: truncated" "$H" check "$T/trunc.hlt"
expect_fail "check good + bad fails" "byte [0-9]+, event [0-9]+" "$H" check "$T/a.hlt" "$T/trunc.hlt"
expect_grep "the good one is still reported ok" "a.hlt: ok, 11 events" "$HL_TMP/out"
# Byte 32 is the tag of the first event (11 header bytes + 21 meta bytes):
# turning start (0x07) into op 10 must be reported right there.
cp "$T/a.hlt" "$T/corrupt.hlt"
printf '\x0a' | dd of="$T/corrupt.hlt" bs=1 seek=32 conv=notrunc 2>/dev/null
expect_fail "check corrupt tag" "corrupt.hlt: byte 32, event 0: unknown op 10" "$H" check "$T/corrupt.hlt"
printf 'not a trace at all\n' >"$T/text.hlt"
expect_fail "check text file" "byte 0, event 0: bad magic" "$H" check "$T/text.hlt"
expect_fail "check missing file" "nope.hlt: byte 0, event 0: cannot open" "$H" check "$T/nope.hlt"
expect_status "check exit status 1 on a bad trace" 1 "$H" check "$T/trunc.hlt"

# ---- pack errors: file, line, byte, event; nothing written ----
cat >"$T/bad.txt" <<'EOF'
heaplab-trace 1
threads 1
0 start
0 malloc 1 8
0 free 1
0 free 1
EOF
# Line 6 starts at byte 16 + 10 + 8 + 13 + 9 = 56.
expect_fail "pack double free" "bad.txt:6: byte 56, event 3: free of object 0 which was already freed at event 2" \
  "$H" pack "$T/bad.txt" -o "$T/bad.hlt"
expect_ok "failed pack leaves no output" test ! -e "$T/bad.hlt"
expect_ok "failed pack leaves no temporary file" bash -c "! ls '$T' | grep -q 'bad.hlt.tmp'"
printf 'heaplab-trace 1\nthreads 1\n0 start\n0 frob 1\n' >"$T/op.txt"
expect_fail "pack unknown op" "op.txt:4: byte 34, event 1: unknown op 'frob'" "$H" pack "$T/op.txt" -o "$T/op.hlt"
expect_fail "dump of a bad trace" "byte [0-9]+, event [0-9]+" "$H" dump "$T/trunc.hlt" -o "$T/trunc.txt"
expect_ok "failed dump leaves no output" test ! -e "$T/trunc.txt"

# ---- stats ----
expect_ok "stats" "$H" stats "$T/a.hlt"
cp "$HL_TMP/out" "$T/stats.txt"
expect_grep "stats events" "^events: 11 in $size bytes" "$T/stats.txt"
expect_grep "stats peak and final live bytes" "^live bytes: peak 1500, final 1000$" "$T/stats.txt"
expect_grep "stats cross-thread frees" "^cross-thread frees: 2 " "$T/stats.txt"
expect_grep "stats objects" "^objects: 4 allocated, 3 freed, 1 live at the end" "$T/stats.txt"
expect_grep "stats alloc kinds" "alloc +4 \(malloc 2, calloc 1, memalign 1\)" "$T/stats.txt"
expect_grep "stats histogram 64-127" "^  64-127 +1 " "$T/stats.txt"
expect_grep "stats histogram 512-1023" "^  512-1023 +1 " "$T/stats.txt"
expect_grep "stats meta" "purpose=test_hltrace" "$T/stats.txt"
expect_ok "stats csv" "$H" stats --format csv "$T/a.hlt"
cp "$HL_TMP/out" "$T/stats.csv"
expect_grep "csv header" "^metric,value$" "$T/stats.csv"
expect_grep "csv events" "^events,11$" "$T/stats.csv"
expect_grep "csv peak" "^live_bytes_peak,1500$" "$T/stats.csv"
expect_grep "csv final" "^live_bytes_final,1000$" "$T/stats.csv"
expect_grep "csv cross-thread frees" "^cross_thread_frees,2$" "$T/stats.csv"
expect_fail "stats of a bad trace" "byte [0-9]+, event [0-9]+" "$H" stats "$T/trunc.hlt"
expect_fail "stats unknown format" "unknown format" "$H" stats --format xml "$T/a.hlt"
# Input that cannot be reopened (a pipe, a FIFO, process substitution) is
# read once into memory: the counting pass must not consume it.
expect_ok "stats of <(cat trace)" "$H" stats <(cat "$T/a.hlt")
expect_grep "stats of <(cat) counts the events" "^events: 11 " "$HL_TMP/out"
rm -f "$T/fifo" && mkfifo "$T/fifo"
(cat "$T/a.hlt" >"$T/fifo" &)
expect_ok "stats of a FIFO" timeout 20 "$H" stats "$T/fifo"
expect_grep "stats of a FIFO counts the events" "^events: 11 " "$HL_TMP/out"

# ---- messages of several objects (format version 2) ----
# Thread 0 sends objects 0, 1 and 2 to thread 1 as one message (two sendpart,
# then the send that closes it; thread 1's start interleaves), then object 3
# alone. 10 events, 2 messages, 4 objects sent: 2.00 objects per message.
cat >"$T/m.txt" <<'EOF'
heaplab-trace 2
threads 2
0 start
0 malloc 0 16
0 malloc 1 16
0 malloc 2 16
0 malloc 3 16
0 sendpart 0 1
1 start
0 sendpart 1 1
0 send 2 1
0 send 3 1
EOF
expect_ok "pack sendpart" "$H" pack "$T/m.txt" -o "$T/m.hlt"
expect_eq "a version 2 file" "02" "$(head -c 9 "$T/m.hlt" | tail -c 1 | od -An -tx1 | tr -d ' ')"
expect_ok "dump sendpart" "$H" dump "$T/m.hlt" -o "$T/m.dump"
expect_ok "sendpart dump is the text" cmp "$T/m.dump" "$T/m.txt"
expect_ok "pack the sendpart dump" "$H" pack "$T/m.dump" -o "$T/m2.hlt"
expect_ok "sendpart binary -> text -> binary is byte-identical" cmp "$T/m.hlt" "$T/m2.hlt"
expect_ok "check sendpart" "$H" check "$T/m.hlt"
expect_ok "stats sendpart" "$H" stats "$T/m.hlt"
cp "$HL_TMP/out" "$T/m.stats"
expect_grep "stats counts sendpart" "^  sendpart +2$" "$T/m.stats"
expect_grep "stats messages" "^messages: 2 \(2.00 objects per message, largest 3\)$" "$T/m.stats"
expect_ok "stats csv sendpart" "$H" stats --format csv "$T/m.hlt"
cp "$HL_TMP/out" "$T/m.csv"
expect_grep "csv op_sendpart" "^op_sendpart,2$" "$T/m.csv"
expect_grep "csv messages" "^messages,2$" "$T/m.csv"
expect_grep "csv largest message" "^message_objects_max,3$" "$T/m.csv"
# Refusals name the file, line, byte and event.
sed 's/^0 send 2 1$/0 free 2/' "$T/m.txt" >"$T/m_between.txt"
# Line 11 starts at byte 16 + 10 + 8 + 4 * 14 + 15 + 8 + 15 = 128.
expect_fail "pack: another op inside a message" \
  "m_between.txt:11: byte 128, event 8: free by thread 0 while it builds a message for thread 1" \
  "$H" pack "$T/m_between.txt" -o "$T/m_between.hlt"
head -n 10 "$T/m.txt" >"$T/m_open.txt"
expect_fail "pack: a message left open" "m_open.txt:.*left its message for thread 1 open" \
  "$H" pack "$T/m_open.txt" -o "$T/m_open.hlt"
sed 's/^0 sendpart 1 1$/0 sendpart 0 1/' "$T/m.txt" >"$T/m_twice.txt"
expect_fail "pack: an object twice in a message" "m_twice.txt:10: .*joins a message once" \
  "$H" pack "$T/m_twice.txt" -o "$T/m_twice.hlt"
sed 's/^0 send 2 1$/0 send 2 0/' "$T/m.txt" >"$T/m_target.txt"
expect_fail "pack: a different destination" "m_target.txt:11: .*a message has one destination" \
  "$H" pack "$T/m_target.txt" -o "$T/m_target.hlt"
sed 's/^heaplab-trace 2$/heaplab-trace 1/' "$T/m.txt" >"$T/m_v1.txt"
expect_fail "pack: sendpart in a version 1 text" "m_v1.txt:8: .*sendpart in a version 1 trace" \
  "$H" pack "$T/m_v1.txt" -o "$T/m_v1.hlt"
# The same bytes with the version byte set to 1: op 10 is unknown there.
cp "$T/m.hlt" "$T/m_v1.hlt"
printf '\x01' | dd of="$T/m_v1.hlt" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_fail "check: op 10 in a version 1 file" \
  "m_v1.hlt: byte [0-9]+, event 5: unknown op 10 .*needs format version 2" "$H" check "$T/m_v1.hlt"
expect_ok "a version 1 file still checks" "$H" check "$T/a.hlt"

# ---- help and usage errors ----
expect_ok "--help" "$H" --help
expect_grep "--help lists the commands" "dump TRACE" "$HL_TMP/out"
for cmd in dump pack stats check; do
  expect_ok "$cmd --help" "$H" $cmd --help
  expect_grep "$cmd --help text" "^usage: hltrace $cmd" "$HL_TMP/out"
done
expect_ok "gen --help" "$H" gen --help
expect_fail "no command" "usage: hltrace" "$H"
expect_fail "unknown command" "unknown command 'frobnicate'.*|usage: hltrace" "$H" frobnicate
expect_status "unknown command exits 2" 2 "$H" frobnicate
expect_fail "pack without -o" "-o TRACE is required" "$H" pack "$T/a.txt"
expect_status "pack without -o exits 2" 2 "$H" pack "$T/a.txt"
expect_fail "dump unknown option" "unknown option '--bogus'" "$H" dump --bogus "$T/a.hlt"
expect_status "dump unknown option exits 2" 2 "$H" dump --bogus "$T/a.hlt"
expect_fail "dump two files" "expected one TRACE" "$H" dump "$T/a.hlt" "$T/b.hlt"
expect_fail "check nothing" "expected at least one TRACE" "$H" check
expect_status "-o without a name exits 2" 2 "$H" dump "$T/a.hlt" -o

# ---- CRLF text: the \r of a line end never reaches a meta value ----
printf 'heaplab-trace 2\r\nthreads 1\r\nmeta purpose crlf test\r\n0 start\r\n0 malloc 0 16\r\n0 free 0\r\n0 end\r\n' >"$T/crlf.txt"
expect_ok "pack a CRLF text" "$H" pack "$T/crlf.txt" -o "$T/crlf.hlt"
expect_ok "dump it" "$H" dump "$T/crlf.hlt"
expect_grep "CRLF: the meta value ends before the \\r" "^meta purpose crlf test$" "$HL_TMP/out"
if grep -q $'\r' "$HL_TMP/out"; then fail "CRLF: a \\r survived into the dump"; else pass; fi
printf 'heaplab-trace 2\nthreads 1\nmeta purpose a\rb\n0 start\n0 end\n' >"$T/cr.txt"
expect_fail "a \\r inside a meta value" "cr.txt:3: .*carriage return" "$H" pack "$T/cr.txt" -o "$T/cr.hlt"
# ---- a write error on standard output is an error, not exit 0 ----
for cmd in "stats" "stats --format csv" "check" "dump"; do
  expect_fail "hltrace $cmd > /dev/full" "hltrace: writing to standard output" \
    bash -c '"$0" $1 "$2" >/dev/full' "$H" "$cmd" "$T/a.hlt"
done
rm -rf "$T"
finish test_hltrace
