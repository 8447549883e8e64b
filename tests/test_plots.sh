# tests/test_plots.sh: plots/bench_plots.py on a hand-made bench.csv.
source tests/lib.sh
P=plots/bench_plots.py
# Pure Python: nothing a sanitizer build could change, so run with the normal build only.
[ "${HL_SANITIZED:-0}" = 1 ] && { finish test_plots; exit 0; }
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  fail "Debian's python3-matplotlib is missing (make deps installs it)"; finish test_plots; exit
fi
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
for f in time_vs_glibc rss_vs_glibc scaling; do
  for ext in png pdf; do
    [ -s "$HL_TMP/figs/$f.$ext" ] && pass || fail "missing $f.$ext"
  done
done
grep -q "left out tt t=1 mimalloc: error: it crashed" "$HL_TMP/err" && pass || fail "failed run not reported"
printf 'workload,allocator\nx,y\n' >"$run/bench.csv"
expect_fail "missing columns" "expected columns" /usr/bin/python3 $P "$run" --out "$HL_TMP/figs2"
expect_fail "no such run" "bench.csv" /usr/bin/python3 $P "$HL_TMP/nothing" --out "$HL_TMP/figs3"
finish test_plots
