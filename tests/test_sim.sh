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
expect_grep "help names the trace format" "CORE R\|W ADDR SIZE" "$HL_TMP/out"
expect_fail "no trace" "no trace given" "$S"
expect_fail "unknown option" "unknown option --bogus" "$S" --bogus x
expect_fail "bad page size" "page-size" "$S" --page-size 64K x
expect_fail "missing trace file" "nope.txt" "$S" "$T/nope.txt"

# A small trace on two cores. Line 0x1000 (64 bytes):
#   0 W 0x1000 8   core 0: miss at every level, M
#   1 W 0x1008 8   core 1: RFO, core 0 owns it M: transfer 1 (false sharing:
#                  bytes 8..16 versus 0..8), core 0 invalidated
#   0 R 0x1000 8   core 0: core 1 owns it M: transfer 2 (false: core 0's last
#                  tenure touched 0..8, core 1 8..16), core 1 writes back
#   1 R 0x1008 8   core 1: S hit, nothing
#   0 R 0x2000 200 core 0: 0x2000..0x20c8 spans 4 lines, all compulsory misses
# core 0: 3 accesses, 6 line accesses, 6 L1D misses (0x1000 twice), 1 transfer
cat >"$T/small.txt" <<'T_EOF'
# two cores, one falsely shared line
0 W 0x1000 8
1 W 0x1008 8   # a trailing comment
0 R 0x1000 8

1 r 4104 8
0 R 0x2000 200
T_EOF
expect_ok "small trace" "$S" --config sim/presets/skylake.conf --csv "$T/small.txt"
cp "$HL_TMP/out" "$T/small.csv"
expect_field "accesses" "$T/small.csv" total accesses 5
expect_field "core 0 line accesses" "$T/small.csv" 0 l1d_accesses 6
expect_field "core 0 L1D misses" "$T/small.csv" 0 l1d_misses 6
expect_field "core 1 L1D misses" "$T/small.csv" 1 l1d_misses 1
expect_field "transfers" "$T/small.csv" total transfers 2
expect_field "false sharing" "$T/small.csv" total false_sharing 2
expect_field "true sharing" "$T/small.csv" total true_sharing 0
expect_field "invalidations" "$T/small.csv" total invalidations 1
expect_field "writebacks" "$T/small.csv" 1 writebacks 1
expect_field "LLC misses" "$T/small.csv" total llc_misses 5
expect_field "walks" "$T/small.csv" total walks 3
expect_ok "text report" "$S" --config sim/presets/zen3.conf --page-size 2M --top 3 "$T/small.txt"
expect_grep "config line" "config zen3: 8 cores, 64-byte lines, 2M pages" "$HL_TMP/out"
expect_grep "hot line" "0x0000000000001000 +2 +0 +2 +1" "$HL_TMP/out"
"$S" --top 3 "$T/small.txt" >"$T/a.txt" 2>&1
"$S" --top 3 - <"$T/small.txt" >"$T/b.txt" 2>&1
if cmp -s "$T/a.txt" "$T/b.txt"; then pass; else fail "stdin and file reports differ"; fi

printf 'cores = 1\n' >"$T/one.conf"
printf '0 R 0x10 8\n4 R 0x10 8\n' >"$T/core.txt"

# the binary form: same report, errors with the byte offset
expect_ok "pack" "$S" --pack "$T/small.bin" "$T/small.txt"
expect_ok "binary trace" "$S" --config sim/presets/skylake.conf --csv "$T/small.bin"
if cmp -s "$HL_TMP/out" "$T/small.csv"; then pass; else fail "binary and text reports differ"; fi
head -c 20 "$T/small.bin" >"$T/cut.bin"
expect_fail "truncated binary" "cut.bin: byte 18: access 3: truncated" "$S" "$T/cut.bin"
printf '\211hlsim\n\002' >"$T/v2.bin"
expect_fail "binary version" "v2.bin: byte 0: not an hlsim binary trace" "$S" "$T/v2.bin"
expect_fail "pack: bad text" "core.txt:2: core 4 out of range" "$S" --pack "$T/x.bin" --config "$T/one.conf" "$T/core.txt"
if [ ! -e "$T/x.bin" ]; then pass; else fail "a failed pack left its output"; fi

# trace errors: file:line, non-zero exit
printf '0 R 0x10 8\n4 R 0x10 8\n' >"$T/core.txt"
expect_fail "core out of range" "core.txt:2: core 4 out of range" "$S" "$T/core.txt"
printf '0 X 0x10 8\n' >"$T/op.txt"
expect_fail "bad op" "op.txt:1: expected R or W" "$S" "$T/op.txt"
printf '# c\n0 R 0x10 0\n' >"$T/size.txt"
expect_fail "size 0" "size.txt:2: bad size" "$S" "$T/size.txt"
printf '0 R zz 8\n' >"$T/addr.txt"
expect_fail "bad address" "addr.txt:1: bad address" "$S" "$T/addr.txt"
printf '0 R 0x10 8 9\n' >"$T/extra.txt"
expect_fail "extra field" "extra.txt:1: unexpected" "$S" "$T/extra.txt"

# config errors: file:line for syntax and keys, the key for geometry
printf 'cores = 2\nl1d.sise = 32K\n' >"$T/key.conf"
expect_fail "unknown key" "key.conf:2: unknown key 'l1d.sise'" "$S" --config "$T/key.conf" "$T/small.txt"
printf '# x\ncores 2\n' >"$T/eq.conf"
expect_fail "no =" "eq.conf:2: expected 'key = value'" "$S" --config "$T/eq.conf" "$T/small.txt"
printf 'l1d.policy = random\n' >"$T/pol.conf"
expect_fail "bad policy" "pol.conf:1: l1d.policy: 'random' is not lru or plru" "$S" --config "$T/pol.conf" "$T/small.txt"
printf 'l2.size = 300K\n' >"$T/geo.conf"
expect_fail "bad geometry" "geo.conf: l2.size" "$S" --config "$T/geo.conf" "$T/small.txt"
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
