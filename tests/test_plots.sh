# tests/test_plots.sh: plots/bench_plots.py (and plots/time_vs_glibc.gp) on bench.csv
# files made here: an old-style run, a run with the simulator and allocator-statistics
# columns and a ravioli page-size sweep, and runs where those columns are absent or NA.
source tests/lib.sh
P=plots/bench_plots.py
# Pure Python: nothing a sanitizer build could change, so run with the normal build only.
[ "${HL_SANITIZED:-0}" = 1 ] && { finish test_plots; exit 0; }
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  fail "Debian's python3-matplotlib is missing (make deps installs it)"; finish test_plots; exit
fi
have_gnuplot=1
command -v gnuplot >/dev/null || { have_gnuplot=0; fail "gnuplot missing (make deps installs gnuplot-nox)"; }
figs_exist() { # DIR FIGURE...: each FIGURE.png and .pdf written and not empty
  local d=$1 f ext; shift
  for f in "$@"; do for ext in png pdf; do
    [ -s "$d/$f.$ext" ] && pass || fail "missing $d/$f.$ext"
  done; done
}
figs_absent() {
  local d=$1 f; shift
  for f in "$@"; do
    [ ! -e "$d/$f.png" ] && [ ! -e "$d/$f.pdf" ] && pass || fail "$d/$f drawn although it has no data"
  done
}

# ---- 1. the old columns only: the three native figures, simulator figures reported ----
run="$HL_TMP/plotrun"
mkdir -p "$run"
{
  echo "run_id,workload,repeat,allocator,threads,wall_s,events_per_s,peak_rss_kib,rss_before_kib,status"
  for t in 1 2; do
    for rep in 1 2; do
      echo "r,tt,$rep,system,$t,1.0,1000000,2048,1024,ok"
      echo "r,tt,$rep,jemalloc,$t,0.5,2000000,1536,1024,ok"
      echo "r,tt,$rep,null,$t,0.1,9000000,NA,1024,ok"          # NA peak: never plotted as 0
    done
  done
  echo "r,tt,3,mimalloc,1,NA,NA,NA,NA,error: it crashed"       # failed: left out, said so
} >"$run/bench.csv"
expect_ok "plots from a run" /usr/bin/python3 $P "$run" --out "$HL_TMP/figs"
figs_exist "$HL_TMP/figs" time_vs_glibc rss_vs_glibc scaling
[ $have_gnuplot = 1 ] && figs_exist "$HL_TMP/figs" time_vs_glibc_gnuplot
grep -q "left out tt t=1 mimalloc: error: it crashed" "$HL_TMP/err" && pass || fail "failed run not reported"
for f in sim_cache sim_tlb sim_transfers sim_sharing; do
  grep -q "not drawn: $f: columns .* absent from bench.csv" "$HL_TMP/err" && pass ||
    fail "absent simulator columns of $f not reported"
  grep -q "^not drawn $f: " "$HL_TMP/figs/figures.txt" && pass || fail "$f not in figures.txt"
done
grep -q "not drawn: page_size_sweep: no allocator ran at two or more explicit page sizes" \
  "$HL_TMP/err" && pass || fail "missing sweep not reported"
figs_absent "$HL_TMP/figs" sim_cache sim_tlb sim_transfers sim_sharing page_size_sweep
# The gnuplot data: jemalloc's median time over glibc's in tt/t1 is 0.5/1.0.
if [ $have_gnuplot = 1 ]; then
  expect_eq "gnuplot data header" "$(sed -n 2p "$HL_TMP/figs/time_vs_glibc.dat")" "cell jemalloc null"
  expect_near "gnuplot data jemalloc tt/t1" \
    "$(awk '$1 == "tt/t1" { print $2 }' "$HL_TMP/figs/time_vs_glibc.dat")" 0.5 1e-9
fi

# ---- 2. every column, new allocators, a ravioli page-size sweep ----
# Values are computed here (awk) from the allocator, thread count and repeat, so the
# medians the figures show are known: e.g. ravioli's LLC misses are half jemalloc's.
full="$HL_TMP/fullrun"
mkdir -p "$full"
awk -f tests/synth_bench.awk >"$full/bench.csv"
expect_ok "plots with simulator columns" /usr/bin/python3 $P "$full" --out "$HL_TMP/full"
all_figs="time_vs_glibc rss_vs_glibc scaling sim_cache sim_tlb sim_transfers sim_sharing page_size_sweep"
figs_exist "$HL_TMP/full" $all_figs
[ $have_gnuplot = 1 ] && figs_exist "$HL_TMP/full" time_vs_glibc_gnuplot
for f in $all_figs; do
  grep -qx "drawn $f" "$HL_TMP/full/figures.txt" && pass || fail "figures.txt lacks 'drawn $f'"
done
grep -q "not drawn" "$HL_TMP/err" && fail "a figure was not drawn: $(grep 'not drawn' "$HL_TMP/err")" || pass
grep -q "12 rows at an explicit page size are drawn only in page_size_sweep" "$HL_TMP/err" && pass ||
  fail "sweep rows not counted"
# ravioli on larson t=1: median wall 1.2 * 1.10 over glibc's 1.0 * 1.10
if [ $have_gnuplot = 1 ]; then
  col=$(sed -n 2p "$HL_TMP/full/time_vs_glibc.dat" | tr ' ' '\n' | grep -nx ravioli | cut -d: -f1)
  expect_near "gnuplot data ravioli larson/t1" \
    "$(awk -v c="$col" '$1 == "larson/t1" { print $c }' "$HL_TMP/full/time_vs_glibc.dat")" 1.2 1e-9
fi

# ---- 3. the same columns, all NA: reported, not drawn; stale copies removed ----
/usr/bin/python3 -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0].keys()), lineterminator="\n")
w.writeheader()
for r in rows:
    w.writerow({k: ("NA" if k.startswith("sim_") else v) for k, v in r.items()})' "$full/bench.csv" >"$HL_TMP/na.csv"
mkdir -p "$HL_TMP/narun" && mv "$HL_TMP/na.csv" "$HL_TMP/narun/bench.csv"
# into the folder that holds the full run's figures: they must not survive
expect_ok "plots with NA simulator columns" /usr/bin/python3 $P "$HL_TMP/narun" --out "$HL_TMP/full"
for f in sim_cache sim_tlb sim_transfers sim_sharing; do
  grep -q "not drawn: $f: .*NA in every ok row" "$HL_TMP/err" && pass || fail "all-NA $f not reported"
done
figs_absent "$HL_TMP/full" sim_cache sim_tlb sim_transfers sim_sharing
# the sweep still has its memory panel (RSS growth, bytes mapped), so it is drawn
figs_exist "$HL_TMP/full" page_size_sweep time_vs_glibc

# ---- 4. the default run: the newest dated run, never results/paper by its name ----
for d in paper 20260101-000000-a 20261231-000000-b; do mkdir -p "$HL_TMP/res/$d"; echo x >"$HL_TMP/res/$d/bench.csv"; done
expect_eq "newest run" "$(cd plots && /usr/bin/python3 -c "import bench_plots as b; print(b.newest_run('$HL_TMP/res'))")" \
  "$HL_TMP/res/20261231-000000-b"

# ---- 5. bad input ----
printf 'workload,allocator\nx,y\n' >"$run/bench.csv"
expect_fail "missing columns" "expected columns" /usr/bin/python3 $P "$run" --out "$HL_TMP/figs2"
expect_fail "no such run" "bench.csv" /usr/bin/python3 $P "$HL_TMP/nothing" --out "$HL_TMP/figs3"
finish test_plots
