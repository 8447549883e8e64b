#!/usr/bin/env bash
# sim/speed.sh: how fast `hlreplay --sim` is, against the bare simulator and
# against the native serial replay of the same trace.
#
#   sim/speed.sh [BIN] [CONFIG]     (default build/bin, sim/presets/skylake.conf)
#
# Prints, for a few workloads and every allocator the simulator sees whole
# (heaplab's unit, arena and ravioli, whose compaction makes the most
# accesses per event, and the capture builds of jemalloc, mimalloc and
# tcmalloc; `make capture-baselines`) and glibc (placement only):
#   turn_s     CPU time of `hlreplay --threads-in-turn`: the same replay as
#              the simulated one (one OS thread per traced thread, in turn,
#              so each allocator does the same work), without the simulator
#   serial_s   CPU time of `hlreplay --serial` (one OS thread: the fastest
#              native replay; a library allocator then does other work)
#   sim_s      CPU time of the replay under `hlreplay --sim` (threads in turn)
#   slowdown   sim_s / turn_s: the simulator's own cost (target: at most 30)
#   vs_serial  sim_s / serial_s: that and the hand-overs together
#   accesses   simulated accesses (sim_app_accesses + sim_alloc_accesses)
#   Macc/s     accesses / sim_s, millions (target: at least 30)
#   lines      line pieces simulated (an object copy spans several lines)
#   Mlines/s   lines / sim_s, millions
#   l1d_miss   simulated L1D miss rate per line (the simulator's cost grows
#              with it: each miss walks the L2, LLC and directory tables)
# and first the bare simulator's own rate (`hlsim --bench`, typical mix).
# Both replays time only the replay loop (cpu_s: the process's CPU time
# during the loop, steadier than wall time on a shared machine), not loading
# the trace.
# QUICK=1 uses smaller traces. Exit status 0 unless a command fails.
set -eu
BIN=${1:-build/bin}
CONF=${2:-sim/presets/skylake.conf}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
scale=${QUICK:+1}
scale=${scale:-4}

echo "# sim/speed.sh on $(uname -m), $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%M:%SZ); config $CONF"
"$BIN/hlsim" --bench --config "$CONF" --accesses $((scale * 5000000)) | grep '^bench:'

gen() { "$BIN/hltrace" gen "$@" >/dev/null; }
gen threadtest --threads 4 --objects $((scale * 25000)) --iterations 10 --seed 1 -o "$T/threadtest.hlt"
gen larson --threads 4 --generations 2 --rounds $((scale * 5)) --seed 1 -o "$T/larson.hlt"
gen cache-thrash --threads 4 --iterations $((scale * 250)) --seed 1 -o "$T/cache-thrash.hlt"
gen xmalloc --threads 4 --objects $((scale * 65536)) --seed 1 -o "$T/xmalloc.hlt"

field() { /usr/bin/python3 -c 'import csv, sys
r = next(csv.DictReader(open(sys.argv[1])))
print(" ".join(r[k] for k in sys.argv[2:]))' "$@"; }

printf '%-13s %-8s %9s %8s %8s %8s %8s %9s %11s %7s %11s %8s %8s\n' workload alloc events turn_s \
  serial_s sim_s slowdown vs_serial accesses Macc/s lines Mlines/s l1d_miss
for w in threadtest larson cache-thrash xmalloc; do
  for a in unit arena ravioli system jemalloc mimalloc tcmalloc; do
    "$BIN/hlreplay" "$T/$w.hlt" --alloc $a --threads-in-turn --format csv -q >"$T/native.csv"
    "$BIN/hlreplay" "$T/$w.hlt" --alloc $a --serial --format csv -q >"$T/serial.csv"
    "$BIN/hlreplay" "$T/$w.hlt" --alloc $a --sim "$CONF" --format csv -q \
      --sim-report "$T/report.txt" --sim-top 0 >"$T/sim.csv"
    read -r events native < <(field "$T/native.csv" events cpu_s)
    read -r serial < <(field "$T/serial.csv" cpu_s)
    read -r sim app alloc < <(field "$T/sim.csv" cpu_s sim_app_accesses sim_alloc_accesses)
    read -r lines l1miss < <(awk '$1 == "total" { print $5, $6 }' "$T/report.txt")
    awk -v w=$w -v a=$a -v e="$events" -v n="$native" -v r="$serial" -v s="$sim" \
      -v acc=$((app + alloc)) -v lines="$lines" -v l1miss="$l1miss" 'BEGIN {
      printf "%-13s %-8s %9d %8.3f %8.3f %8.3f %8.1f %9.1f %11.0f %7.1f %11.0f %8.1f %7.1f%%\n", w, a,
        e, n, r, s, s / n, s / r, acc, acc / s / 1e6, lines, lines / s / 1e6, 100 * l1miss / lines }'
  done
done
