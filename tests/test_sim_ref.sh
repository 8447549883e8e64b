# tests/test_sim_ref.sh: differential test of hlsim against tests/sim_ref.py,
# an independent Python model written from sim/README.md alone. Seeded random
# multi-core traces (a shared region across a 4 KiB boundary, private regions,
# strided streams, pages spread for the TLBs, frees, unaligned and
# line-spanning accesses) run on tiny configs (so evictions, inclusion
# victims, dirty LLC victims, TLB misses and prefetches are frequent) covering
# lru and plru at every level, lines of 16/32/64 bytes, 4K/2M/1G pages, phys
# off and on (several seeds and bit widths), prefetchers off, next-line,
# stream and both. Every column of every row of the per-core CSV (--csv) and
# of the lines CSV (--lines-csv) must be equal. Then each of the model's
# deliberate rule breaks (`sim_ref.py --break RULE`) must make some case
# differ, which shows the comparison can see those rules.
# Run by tests/run.sh; alone:
#   HL_BIN=build/bin HL_TMP=$(mktemp -d) bash tests/test_sim_ref.sh
# A mismatch names the case and the first differing cell, and leaves the
# case's config and trace under $HL_TMP to reproduce it with.
source "$(dirname "$0")/lib.sh"

S=$HL_BIN/hlsim
REF=(/usr/bin/python3 "$(dirname "$0")/sim_ref.py")
T=$(mktemp -d "$HL_TMP/test_sim_ref.XXXXXX")

# Every key is given, so the preset's defaults (prefetchers, phys) play no part.
BASE="name=tiny cores=2 line=64 page=4K
  l1d.size=512 l1d.ways=2 l1d.policy=lru l2.size=2K l2.ways=4 l2.policy=lru
  llc.size=8K llc.ways=8 llc.policy=lru
  l1d.prefetch=off l1d.prefetch.degree=1
  l2.prefetch=off l2.prefetch.streams=4 l2.prefetch.degree=2 l2.prefetch.distance=4
  phys=off phys.seed=1 phys.bits=32
  dtlb.4k.entries=4 dtlb.4k.ways=2 stlb.4k.entries=16 stlb.4k.ways=4
  dtlb.2m.entries=4 dtlb.2m.ways=4 stlb.2m.entries=16 stlb.2m.ways=4
  dtlb.1g.entries=2 dtlb.1g.ways=2 stlb.1g.entries=4 stlb.1g.ways=4"

# One case a line: its name, then the keys it changes from BASE.
CASES=(
  "lru-l64-4k-plain      cores=2"
  "plru-l64-4k-phys-nl   cores=4 l1d.size=1K l1d.ways=4 l1d.policy=plru l2.size=4K l2.policy=plru llc.size=16K llc.ways=16 llc.policy=plru phys=on phys.seed=7 l1d.prefetch=next-line l1d.prefetch.degree=2"
  "mixed-l32-2m-phys-st  cores=3 line=32 page=2M l1d.size=256 l2.size=1K l2.ways=2 l2.policy=plru llc.size=4K llc.ways=4 phys=on phys.seed=3 phys.bits=33 l2.prefetch=stream"
  "dm-l16-4k-both        cores=4 line=16 l1d.size=256 l1d.ways=1 l1d.policy=plru l2.size=1K llc.size=4K llc.policy=plru l1d.prefetch=next-line l2.prefetch=stream l2.prefetch.streams=2 l2.prefetch.distance=3"
  "wide-l64-2m-both      cores=2 page=2M l1d.size=1K l1d.ways=8 l1d.policy=plru l2.size=4K l2.ways=8 llc.ways=4 l1d.prefetch=next-line l1d.prefetch.degree=3 l2.prefetch=stream l2.prefetch.streams=8 l2.prefetch.degree=4 l2.prefetch.distance=8"
  "l32-4k-phys-both      cores=3 line=32 l1d.ways=4 l2.ways=2 llc.policy=plru phys=on phys.seed=12345 phys.bits=34 l1d.prefetch=next-line l1d.prefetch.degree=2 l2.prefetch=stream l2.prefetch.streams=2 l2.prefetch.degree=3 l2.prefetch.distance=6"
  "plru-l16-2m-phys      cores=4 line=16 page=2M l1d.policy=plru l2.policy=plru llc.size=16K llc.ways=4 llc.policy=plru phys=on phys.seed=99 phys.bits=36"
  "tiny-l64-4k-phys-st1  cores=2 l1d.size=256 l1d.ways=1 l2.size=1K l2.ways=2 l2.policy=plru llc.size=4K llc.ways=2 llc.policy=plru phys=on phys.seed=3735928559 phys.bits=40 l2.prefetch=stream l2.prefetch.streams=1 l2.prefetch.degree=1 l2.prefetch.distance=1"
  "l32-1g-phys-nl        cores=3 line=32 page=1G l2.policy=plru phys=on phys.seed=5 phys.bits=36 l1d.prefetch=next-line"
)
ACCESSES=3000
if [ "${HL_SANITIZED:-0}" = 1 ]; then ACCESSES=800; CASES=("${CASES[@]:0:6}"); fi

# write_config FILE KEY=VALUE...: BASE with the given keys replaced
write_config() {
  local file=$1 kv; shift
  declare -A value=(); local order=()
  for kv in $BASE "$@"; do
    [ -n "${value[${kv%%=*}]+set}" ] || order+=("${kv%%=*}")
    value[${kv%%=*}]=${kv#*=}
  done
  for kv in "${order[@]}"; do echo "$kv = ${value[$kv]}"; done >"$file"
}
# key_of CASE_FIELDS KEY DEFAULT: a key's value in a case, else the default
key_of() {
  local kv
  for kv in $1; do [ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return; }; done
  echo "$3"
}

# Does one invocation write both CSVs? (Else two runs per case.)
printf '0 W 0x40 8\n1 W 0x48 8\n' >"$T/probe.txt"
write_config "$T/probe.conf"
ONE_RUN=0
if "$S" --config "$T/probe.conf" --csv --lines-csv "$T/probe.lines" "$T/probe.txt" >"$T/probe.csv" 2>/dev/null &&
   head -c 5 "$T/probe.csv" | grep -q '^core,' && [ -s "$T/probe.lines" ]; then ONE_RUN=1; fi

# run_hlsim CFG TRACE OUT_PREFIX: OUT_PREFIX.cores.csv and OUT_PREFIX.lines.csv
run_hlsim() {
  if [ $ONE_RUN = 1 ]; then
    "$S" --config "$1" --csv --lines-csv "$3.lines.csv" "$2" >"$3.cores.csv"
  else
    "$S" --config "$1" --csv "$2" >"$3.cores.csv" &&
      "$S" --config "$1" --lines-csv "$3.lines.csv" "$2" >/dev/null
  fi
}

agreeing=()   # the cases where hlsim and the model agree, for the self-check
n=0
for case in "${CASES[@]}"; do
  n=$((n + 1))
  name=${case%% *}; keys=${case#* }
  dir=$T/$name; mkdir -p "$dir"
  write_config "$dir/config.conf" $keys   # split into KEY=VALUE words on purpose
  if ! "${REF[@]}" gen --seed "$n" --cores "$(key_of "$keys" cores 2)" --accesses $ACCESSES \
       --line "$(key_of "$keys" line 64)" --page "$(key_of "$keys" page 4K)" >"$dir/trace.txt"; then
    fail "$name: generating the trace"; continue
  fi
  if ! run_hlsim "$dir/config.conf" "$dir/trace.txt" "$dir/hlsim" 2>"$dir/hlsim.err"; then
    fail "$name: hlsim failed: $(head -3 "$dir/hlsim.err")"; continue
  fi
  if ! "${REF[@]}" --config "$dir/config.conf" "$dir/trace.txt" --csv "$dir/ref.cores.csv" \
       --lines-csv "$dir/ref.lines.csv" 2>"$dir/ref.err"; then
    fail "$name: sim_ref.py failed: $(tail -3 "$dir/ref.err")"; continue
  fi
  same=1
  for csv in cores lines; do
    if "${REF[@]}" compare "$dir/ref.$csv.csv" "$dir/hlsim.$csv.csv" >"$dir/diff.$csv"; then pass; else
      same=0
      fail "$name: $csv CSV: $(cat "$dir/diff.$csv")"
      echo "    reproduce: $S --config $dir/config.conf --csv --lines-csv L.csv $dir/trace.txt" >&2
      echo "           vs: ${REF[*]} --config $dir/config.conf $dir/trace.txt --lines-csv L.csv" >&2
    fi
  done
  [ $same = 1 ] && agreeing+=("$name")
done

# Statements the README makes in words, as small traces with hand-worked
# counts: both sides must give them (a misreading the two share would pass the
# comparison above but not these). BASE: prefetchers and phys off.
csv_field() { # FILE ROW COLUMN
  awk -F, -v row="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
    NR > 1 && $1 == row { print $c }' "$1"
}
# directed NAME TRACE_TEXT ROW=COLUMN=VALUE...
directed() {
  local name=$1 text=$2 want side row col value; shift 2
  local dir=$T/directed-$name; mkdir -p "$dir"
  write_config "$dir/config.conf"
  printf '%s\n' "$text" >"$dir/trace.txt"
  run_hlsim "$dir/config.conf" "$dir/trace.txt" "$dir/hlsim" 2>/dev/null
  "${REF[@]}" --config "$dir/config.conf" "$dir/trace.txt" --csv "$dir/ref.cores.csv" 2>/dev/null
  for want in "$@"; do
    IFS='=' read -r row col value <<<"$want"
    for side in hlsim ref; do
      expect_eq "$name: $side $row.$col" "$(csv_field "$dir/$side.cores.csv" "$row" "$col")" "$value"
    done
  done
}
# "Two cores that only read a line never count sharing (the second one's miss
# is cold, its data a clean forward)"
directed readers "0 R 0x1000 8
1 R 0x1000 8" 1=cold=1 1=clean_forwards=1 total=transfers=0 total=false_sharing=0
# a value written by one core and read by another: true sharing, a transfer,
# the owner writes back
directed true "0 W 0x1000 8
1 R 0x1004 4" 1=true_sharing=1 1=transfers=1 0=writebacks=1 0=cold=1
# freed by one core, reused by another: allocator reuse, not true sharing
directed reuse "0 W 0x1000 8
0 F 0x1000 8
1 W 0x1000 8" 1=alloc_reuse=1 1=true_sharing=0 1=transfers=1 1=invalidations=1
# two cores take turns writing bytes 0-7 and 8-15 of one line, 50 times each:
# 99 transfers, all false sharing (the first of core 1's is cold false
# sharing), 99 invalidations
pingpong=$(for _ in $(seq 50); do printf '0 W 0x2000 8\n1 W 0x2008 8\n'; done)
directed pingpong "$pingpong" total=transfers=99 total=false_sharing=99 total=invalidations=99 total=cold=1

# The self-check: each broken rule must change some agreeing case's CSVs.
for rule in cold-false touched-not-written clean-as-transfer; do
  found=""
  for name in "${agreeing[@]}"; do
    dir=$T/$name
    "${REF[@]}" --break "$rule" --config "$dir/config.conf" "$dir/trace.txt" \
      --csv "$dir/broken.cores.csv" --lines-csv "$dir/broken.lines.csv" 2>/dev/null || continue
    if ! "${REF[@]}" compare "$dir/broken.cores.csv" "$dir/hlsim.cores.csv" >/dev/null ||
       ! "${REF[@]}" compare "$dir/broken.lines.csv" "$dir/hlsim.lines.csv" >/dev/null; then
      found=$name; break
    fi
  done
  if [ -n "$found" ]; then pass
  elif [ ${#agreeing[@]} = 0 ]; then fail "self-check --break $rule: no case agrees to check it on"
  else fail "self-check --break $rule: no case differs, the comparison cannot see this rule"; fi
done

finish test_sim_ref.sh
