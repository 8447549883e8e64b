# tests/test_sim.sh: the hlsim command (sim/hlsim.c): --help, the presets,
# config errors with file:line, trace errors with file:line, usage errors,
# and a small trace whose counts are worked out below. Run by tests/run.sh;
# alone: HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_sim.sh
source "$(dirname "$0")/lib.sh"

S=$HL_BIN/hlsim
T=$(mktemp -d "$HL_TMP/test_sim.XXXXXX")

# expect_grep DESC REGEX FILE
expect_grep() {
  if grep -Eq -- "$2" "$3"; then pass; else
    fail "$1: /$2/ not in $3:"; sed 's/^/    /' "$3" | head -20 >&2; fi
}
# csv_field FILE ROW COLUMN: one value of the CSV report
csv_field() {
  awk -F, -v row="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
    NR > 1 && $1 == row { print $c }' "$1"
}
expect_field() { # DESC FILE ROW COLUMN VALUE
  local got; got=$(csv_field "$2" "$3" "$4")
  if [ "$got" = "$5" ]; then pass; else fail "$1: $3.$4 = '$got', expected $5"; fi
}

expect_ok "help" "$S" --help
expect_grep "help names the trace format" "CORE R\|W\|F ADDR SIZE" "$HL_TMP/out"
expect_fail "no trace" "no trace given" "$S"
expect_fail "unknown option" "unknown option --bogus" "$S" --bogus x
expect_fail "bad page size" "page-size" "$S" --page-size 64K x
expect_fail "missing trace file" "nope.txt" "$S" "$T/nope.txt"

# A small trace on two cores, on the Skylake preset with the prefetchers and
# the physical mapping off (plain.conf). Line 0x1000 (64 bytes):
#   0 W 0x1000 8   core 0: miss at every level, M (a cold miss)
#   1 W 0x1008 8   core 1: RFO, core 0 owns it M: transfer 1, core 0
#                  invalidated; core 1's first copy, of a line core 0 wrote
#                  bytes 0..8 of, using 8..16: (cold) false sharing
#   0 R 0x1000 8   core 0: core 1 owns it M: transfer 2, core 1 writes back;
#                  core 0 lost its copy to a write of bytes it does not use:
#                  false sharing
#   1 R 0x1008 8   core 1: S hit, nothing
#   0 R 0x2000 200 core 0: 0x2000..0x20c8 spans 4 lines, all cold misses
# core 0: 3 accesses, 6 line accesses, 6 L1D misses (0x1000 twice), 1 transfer
cat >"$T/small.txt" <<'T_EOF'
# two cores, one falsely shared line
0 W 0x1000 8
1 W 0x1008 8   # a trailing comment
0 R 0x1000 8

1 r 4104 8
0 R 0x2000 200
T_EOF
{ cat sim/presets/skylake.conf; printf 'l1d.prefetch = off\nl2.prefetch = off\nphys = off\n'; } >"$T/plain.conf"
expect_ok "small trace" "$S" --config "$T/plain.conf" --csv --lines-csv "$T/lines.csv" "$T/small.txt"
cp "$HL_TMP/out" "$T/small.csv"
expect_field "accesses" "$T/small.csv" total accesses 5
expect_field "core 0 line accesses" "$T/small.csv" 0 l1d_accesses 6
expect_field "core 0 L1D misses" "$T/small.csv" 0 l1d_misses 6
expect_field "core 1 L1D misses" "$T/small.csv" 1 l1d_misses 1
expect_field "transfers" "$T/small.csv" total transfers 2
expect_field "false sharing" "$T/small.csv" total false_sharing 2
expect_field "true sharing" "$T/small.csv" total true_sharing 0
expect_field "cold misses" "$T/small.csv" total cold 5
expect_field "clean forwards" "$T/small.csv" total clean_forwards 0
expect_eq "lines csv" "$(cat "$T/lines.csv")" "line,transfers,clean_forwards,true_sharing,false_sharing,alloc_reuse,invalidations
0x1000,2,0,0,2,0,1"
expect_field "invalidations" "$T/small.csv" total invalidations 1
expect_field "writebacks" "$T/small.csv" 1 writebacks 1
expect_field "LLC misses" "$T/small.csv" total llc_misses 5
expect_field "walks" "$T/small.csv" total walks 3
expect_ok "text report" "$S" --config sim/presets/zen3.conf --page-size 2M --top 3 "$T/small.txt"
expect_grep "config line" "config zen3: 8 cores, 64-byte lines, 2M pages" "$HL_TMP/out"
expect_grep "prefetch and mapping line" "prefetch: L1D next-line degree 1, L2 stream 32 streams degree 2 distance 20; physical mapping 40 bits seed 1" "$HL_TMP/out"
expect_grep "hot line" "0x0000000000001000 +2 +0 +0 +2 +0 +1" "$HL_TMP/out"
"$S" --top 3 "$T/small.txt" >"$T/a.txt" 2>&1
"$S" --top 3 - <"$T/small.txt" >"$T/b.txt" 2>&1
if cmp -s "$T/a.txt" "$T/b.txt"; then pass; else fail "stdin and file reports differ"; fi

printf 'cores = 1\n' >"$T/one.conf"
printf '0 R 0x10 8\n4 R 0x10 8\n' >"$T/core.txt"

# the binary form: same report, errors with the byte offset
expect_ok "pack" "$S" --pack "$T/small.bin" "$T/small.txt"
expect_ok "binary trace" "$S" --config "$T/plain.conf" --csv "$T/small.bin"
if cmp -s "$HL_TMP/out" "$T/small.csv"; then pass; else fail "binary and text reports differ"; fi
head -c 20 "$T/small.bin" >"$T/cut.bin"
expect_fail "truncated binary" "cut.bin: byte 18: access 3: truncated" "$S" "$T/cut.bin"
printf '\211hlsim\n\003' >"$T/v3.bin"
expect_fail "binary version" "v3.bin: byte 0: not an hlsim binary trace" "$S" "$T/v3.bin"
expect_fail "pack: bad text" "core.txt:2: core 4 out of range" "$S" --pack "$T/x.bin" --config "$T/one.conf" "$T/core.txt"
if [ ! -e "$T/x.bin" ]; then pass; else fail "a failed pack left its output"; fi

# trace errors: file:line, non-zero exit
printf '0 R 0x10 8\n4 R 0x10 8\n' >"$T/core.txt"
expect_fail "core out of range" "core.txt:2: core 4 out of range" "$S" "$T/core.txt"
printf '0 X 0x10 8\n' >"$T/op.txt"
expect_fail "bad op" "op.txt:1: expected R, W or F" "$S" "$T/op.txt"
# a free record: core 0 writes a line and frees it, core 1 writes it: the
# miss moved a dead value, allocator reuse; through --pack too
printf '0 W 0x4000 64\n0 F 0x4000 64\n1 W 0x4000 64\n' >"$T/free.txt"
expect_ok "free record" "$S" --config "$T/plain.conf" --csv "$T/free.txt"
expect_field "allocator reuse" "$HL_TMP/out" total alloc_reuse 1
expect_field "no true sharing" "$HL_TMP/out" total true_sharing 0
expect_ok "pack with frees" "$S" --pack "$T/free.bin" "$T/free.txt"
expect_ok "binary frees" "$S" --config "$T/plain.conf" --csv "$T/free.bin"
expect_field "allocator reuse, binary" "$HL_TMP/out" total alloc_reuse 1
printf '# c\n0 R 0x10 0\n' >"$T/size.txt"
expect_fail "size 0" "size.txt:2: bad size" "$S" "$T/size.txt"
printf '0 R zz 8\n' >"$T/addr.txt"
expect_fail "bad address" "addr.txt:1: bad address" "$S" "$T/addr.txt"
printf '0 R 0x10 8 9\n' >"$T/extra.txt"
expect_fail "extra field" "extra.txt:1: unexpected" "$S" "$T/extra.txt"
{ printf '0 R 0x10 8\n0 R 0x'; printf '\0'; printf '10 8\n'; } >"$T/nul.txt"
expect_fail "a NUL byte is named, not 'line too long'" "nul.txt:2: a NUL byte at column 7" "$S" "$T/nul.txt"
head -c 300 /dev/zero | tr '\0' ' ' >"$T/long.txt"
expect_fail "line too long" "long.txt:1: line too long \\(over 255 bytes\\)" "$S" "$T/long.txt"
printf '0 R 0x10 8' >"$T/nonl.txt"
expect_ok "last line without its newline" "$S" --config "$T/plain.conf" --csv "$T/nonl.txt"
expect_fail "report to a full device" "hlsim: writing to standard output" \
  bash -c '"$0" "$1" >/dev/full' "$S" "$T/free.txt"

# config errors: file:line for syntax and keys, the key for geometry
printf 'cores = 2\nl1d.sise = 32K\n' >"$T/key.conf"
expect_fail "unknown key" "key.conf:2: unknown key 'l1d.sise'" "$S" --config "$T/key.conf" "$T/small.txt"
printf '# x\ncores 2\n' >"$T/eq.conf"
expect_fail "no =" "eq.conf:2: expected 'key = value'" "$S" --config "$T/eq.conf" "$T/small.txt"
printf 'l1d.policy = random\n' >"$T/pol.conf"
expect_fail "bad policy" "pol.conf:1: l1d.policy: 'random' is not lru or plru" "$S" --config "$T/pol.conf" "$T/small.txt"
printf 'l2.size = 300K\n' >"$T/geo.conf"
expect_fail "bad geometry" "geo.conf: l2.size" "$S" --config "$T/geo.conf" "$T/small.txt"
printf 'l2.size = 16K\n' >"$T/small-l2.conf"
expect_fail "L2 smaller than L1D" "small-l2.conf: l2.size: 16384 is smaller than l1d.size" "$S" --config "$T/small-l2.conf" "$T/small.txt"
printf 'llc.size = 128K\n' >"$T/small-llc.conf"
expect_fail "LLC smaller than L2" "small-llc.conf: llc.size: 131072 is smaller than l2.size" "$S" --config "$T/small-llc.conf" "$T/small.txt"
printf 'l2.prefetch = next-line\n' >"$T/pf.conf"
expect_fail "bad prefetcher" "pf.conf:1: l2.prefetch: 'next-line' is not off or stream" "$S" --config "$T/pf.conf" "$T/small.txt"
# physical memory the run outgrows: 1G pages, 32 address bits: 4 frames
printf 'page = 1G\nphys.bits = 32\n' >"$T/tiny-phys.conf"
printf '0 R 0x0 8\n0 R 0x40000000 8\n0 R 0x80000000 8\n0 R 0xc0000000 8\n0 R 0x100000000 8\n' >"$T/five.txt"
expect_fail "physical memory exhausted" "more than the 4 pages of phys.bits = 32" "$S" --config "$T/tiny-phys.conf" "$T/five.txt"
printf 'cores = 1\n' >"$T/one.conf"
expect_fail "core beyond config" "small.txt:3: core 1 out of range" "$S" --config "$T/one.conf" "$T/small.txt"
expect_fail "missing config" "nope.conf" "$S" --config "$T/nope.conf" "$T/small.txt"

expect_ok "bench" "$S" --bench --accesses 20000
expect_grep "bench rate" "million accesses/s" "$HL_TMP/out"

# Agreement with Cachegrind on one core of identical geometry: D1, L2 and LLC
# misses within 1% on three programs (random reads, streaming passes, a
# pointer chase; sim/cachegrind-compare.sh says what differs). Plain build
# only: the counts are the same in every build, and the sanitizer builds run
# the hand-computed cases. `make deps` installs Valgrind, so its absence is a
# failure, not a skip. About 3 seconds.
if [ "${HL_SANITIZED:-0}" = 0 ] && ! command -v valgrind >/dev/null; then
  fail "cachegrind agreement: valgrind is not installed (make deps installs it)"
elif [ "${HL_SANITIZED:-0}" = 0 ]; then
  expect_ok "cachegrind agreement" bash sim/cachegrind-compare.sh "$S" 8192
  expect_eq "cachegrind: three programs checked" \
    "$(awk '$NF == "checked" { print $1 }' "$HL_TMP/out" | tr '\n' ' ')" "random stream chase "
fi

finish test_sim.sh
