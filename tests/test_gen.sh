# tests/test_gen.sh: the synthetic workload generators (`hltrace gen`).
#
# For each model at 1 and 4 threads (small parameters): the trace passes
# `hltrace check`; the same arguments give identical bytes and another seed a
# different event order or content; the statistics of `hltrace dump` follow
# from the parameters (exact event counts, size bounds, cross-thread frees,
# nothing left live, THREAD_START first and THREAD_END last per thread).
# Bad arguments fail with a message, exit status 2 and no output file.
source "$(dirname "$0")/lib.sh"

HT="$HL_BIN/hltrace"
D="$HL_TMP/gen"
mkdir -p "$D"

# ---- helpers ----


# summarise FILE: the dump's statistics into the associative array S.
# Keys: threads events allocs frees starts ends other min max cross live
# badorder cross_fraction, and meta.KEY for every meta line.
declare -A S
summarise() {
  S=()
  local k v
  while IFS='=' read -r k v; do S[$k]=$v; done < <("$HT" dump "$1" | awk '
    $1 == "threads" { threads = $2; next }
    $1 == "meta" { meta[$2] = $3; next }
    $1 ~ /^[0-9]+$/ {
      t = $1; op = $2; events++
      if (!(t in first)) first[t] = op
      last[t] = op
      if (op == "start") starts++
      else if (op == "end") ends++
      else if (op == "malloc") {
        allocs++; owner[$3] = t; size[$3] = $4; live += $4
        if (min == "" || $4 + 0 < min + 0) min = $4
        if ($4 + 0 > max + 0) max = $4
      } else if (op == "free") {
        frees++; live -= size[$3]
        if (owner[$3] != t) cross++
      } else other++
    }
    END {
      for (t in first) if (first[t] != "start" || last[t] != "end") badorder++
      printf "threads=%d\nevents=%d\nallocs=%d\nfrees=%d\nstarts=%d\nends=%d\nother=%d\n",
             threads, events, allocs, frees, starts, ends, other
      printf "min=%s\nmax=%s\ncross=%d\nlive=%d\nbadorder=%d\n", min, max, cross, live, badorder
      printf "cross_fraction=%.6f\n", frees ? cross / frees : 0
      for (k in meta) printf "meta.%s=%s\n", k, meta[k]
    }')
}

# check_common DESC THREADS ALLOCS MIN MAX: what every model's trace obeys.
check_common() {
  local desc=$1 threads=$2 allocs=$3 min=$4 max=$5
  expect_eq "$desc: threads" "${S[threads]}" "$threads"
  expect_eq "$desc: allocs" "${S[allocs]}" "$allocs"
  expect_eq "$desc: frees" "${S[frees]}" "$allocs"
  expect_eq "$desc: events" "${S[events]}" "$((2 * allocs + 2 * threads))"
  expect_eq "$desc: thread starts" "${S[starts]}" "$threads"
  expect_eq "$desc: thread ends" "${S[ends]}" "$threads"
  expect_eq "$desc: start first, end last" "${S[badorder]}" 0
  expect_eq "$desc: only malloc/free events" "${S[other]}" 0
  expect_eq "$desc: live bytes at the end" "${S[live]}" 0
  expect_eq "$desc: meta expect.events" "${S[meta.expect.events]}" "${S[events]}"
  expect_eq "$desc: meta expect.live_bytes_at_end" "${S[meta.expect.live_bytes_at_end]}" 0
  expect_eq "$desc: meta heaplab_version" "${S[meta.heaplab_version]}" 1
  expect_eq "$desc: meta param.threads" "${S[meta.param.threads]}" "$threads"
  if [ "${S[min]}" -ge "$min" ] && [ "${S[max]}" -le "$max" ]; then pass; else
    fail "$desc: sizes ${S[min]}..${S[max]} outside [$min, $max]"
  fi
}

# events FILE: the dump without its header and meta lines.
events() { "$HT" dump "$1" | grep -E '^[0-9]'; }

# check_determinism MODEL THREADS ARGS...: same seed, same bytes; another
# seed (and another interleaving), other events.
check_determinism() {
  local model=$1 threads=$2
  shift 2
  local base="$D/det-$model-$threads"
  "$HT" gen "$model" --threads "$threads" "$@" --seed 7 -o "$base.a" 2>/dev/null
  "$HT" gen "$model" --threads "$threads" "$@" --seed 7 -o "$base.b" 2>/dev/null
  "$HT" gen "$model" --threads "$threads" "$@" --seed 8 -o "$base.c" 2>/dev/null
  "$HT" gen "$model" --threads "$threads" "$@" --seed 7 -o - >"$base.d" 2>/dev/null
  if cmp -s "$base.a" "$base.b"; then pass; else fail "$model T=$threads: same seed, different bytes"; fi
  if cmp -s "$base.a" "$base.d"; then pass; else fail "$model T=$threads: -o - differs from -o FILE"; fi
  if cmp -s "$base.a" "$base.c"; then fail "$model T=$threads: seeds 7 and 8 give the same bytes"; else pass; fi
  if cmp -s <(events "$base.a") <(events "$base.c"); then
    fail "$model T=$threads: seeds 7 and 8 give the same events"
  else pass; fi
}

# ---- the dispatcher ----

expect_ok "gen --help" "$HT" gen --help
for m in threadtest larson xmalloc; do
  if grep -q "^  $m " "$HL_TMP/out"; then pass; else fail "gen --help does not list $m"; fi
done
expect_fail "unknown model" "unknown model 'nosuch'" "$HT" gen nosuch -o "$D/x"
expect_status "unknown model" 2 "$HT" gen nosuch -o "$D/x"
expect_fail "no model" "missing MODEL" "$HT" gen

# ---- threadtest: 2*T*n*I + 2*T events, n = objects/T ----

T1="--iterations 3 --objects 1000 --size 24"
for threads in 1 3 4; do
  f="$D/tt-$threads.hlt"
  gen "$f" threadtest --threads $threads $T1
  summarise "$f"
  n=$((1000 / threads))
  check_common "threadtest T=$threads" $threads $((threads * n * 3)) 24 24
  expect_eq "threadtest T=$threads: cross-thread frees" "${S[cross]}" 0
  expect_eq "threadtest T=$threads: meta generator" "${S[meta.generator]}" threadtest
  expect_eq "threadtest T=$threads: meta param.objects" "${S[meta.param.objects]}" 1000
  expect_eq "threadtest T=$threads: meta seed" "${S[meta.seed]}" 1
done
check_determinism threadtest 4 $T1

# ---- larson: 2*T*(S + G*R) + 2*T events, R = rounds*S ----

L1="--slots 100 --rounds 1 --generations 4 --min-size 16 --max-size 256"
for threads in 1 4; do
  f="$D/larson-$threads.hlt"
  gen "$f" larson --threads $threads $L1
  summarise "$f"
  check_common "larson T=$threads" $threads $((threads * (100 + 4 * 100))) 16 256
  expect_eq "larson T=$threads: meta generator" "${S[meta.generator]}" larson
  expect_eq "larson T=$threads: meta param.min-size" "${S[meta.param.min-size]}" 16
  expect_near "larson T=$threads: cross-thread fraction vs meta" "${S[cross_fraction]}" \
    "${S[meta.expect.cross_thread_free_fraction]}" 0.03
done
# One thread frees only its own objects; four threads bleed. The expected
# value for these parameters (formula in `hltrace gen larson --help`) was
# checked against the mean of 300 seeds (0.45314, standard error 0.00025).
summarise "$D/larson-1.hlt"
expect_eq "larson T=1: cross-thread frees" "${S[cross]}" 0
expect_eq "larson T=1: stated fraction" "${S[meta.expect.cross_thread_free_fraction]}" 0.000000
summarise "$D/larson-4.hlt"
expect_eq "larson T=4: stated fraction" "${S[meta.expect.cross_thread_free_fraction]}" 0.453587
# No replacements: every object is freed by the thread G-1 places later.
gen "$D/larson-r0.hlt" larson --threads 4 --slots 10 --rounds 0 --generations 3
summarise "$D/larson-r0.hlt"
expect_eq "larson rounds=0: all frees cross-thread" "${S[cross_fraction]}" 1.000000
gen "$D/larson-g1.hlt" larson --threads 4 --slots 10 --rounds 2 --generations 1
summarise "$D/larson-g1.hlt"
expect_eq "larson generations=1: no cross-thread frees" "${S[cross]}" 0
check_determinism larson 4 $L1
check_determinism larson 1 $L1

# ---- xmalloc: 2*(O + H*ceil(O/B)) + 2*T events ----

X1="--objects 5000 --batch 64 --size 0"
for threads in 1 4; do
  f="$D/xmalloc-$threads.hlt"
  gen "$f" xmalloc --threads $threads $X1
  summarise "$f"
  # 79 batches; the batch headers are 8 + 8*64 = 520 bytes, within 8..2048.
  check_common "xmalloc T=$threads" $threads $((5000 + 79)) 8 2048
  expect_eq "xmalloc T=$threads: meta generator" "${S[meta.generator]}" xmalloc
  expect_eq "xmalloc T=$threads: meta batches" "${S[meta.expect.batches]}" 79
done
summarise "$D/xmalloc-1.hlt"
expect_eq "xmalloc T=1: no cross-thread frees" "${S[cross]}" 0
summarise "$D/xmalloc-4.hlt"
expect_eq "xmalloc T=4: every free cross-thread" "${S[cross]}" "${S[frees]}"
expect_eq "xmalloc T=4: stated fraction" "${S[meta.expect.cross_thread_free_fraction]}" 1
# Fixed size, no batch objects, an odd thread count and a tiny queue.
gen "$D/xmalloc-5.hlt" xmalloc --threads 5 --objects 1001 --batch 10 --size 48 --header 0 \
  --queue-limit 2 --interleave 1
summarise "$D/xmalloc-5.hlt"
check_common "xmalloc T=5" 5 1001 48 48
expect_eq "xmalloc T=5: every free cross-thread" "${S[cross]}" 1001
# The defaults (about 2 million events).
gen "$D/xmalloc-default.hlt" xmalloc
check_determinism xmalloc 4 $X1

# ---- bad arguments: message, exit status 2, no file ----

bad() { # DESC REGEX ARGS...
  local desc=$1 re=$2
  shift 2
  rm -f "$D/bad.hlt"
  expect_fail "$desc" "$re" "$HT" gen "$@"
  expect_status "$desc" 2 "$HT" gen "$@"
  if [ -e "$D/bad.hlt" ]; then fail "$desc: left $D/bad.hlt behind"; else pass; fi
}
bad "unknown option" "unknown option '--bogus'" threadtest --bogus 1 -o "$D/bad.hlt"
bad "threads 0" "--threads 0 is out of range" threadtest --threads 0 -o "$D/bad.hlt"
bad "threads too many" "out of range" larson --threads 100000 -o "$D/bad.hlt"
bad "min > max" "--min-size 300 is larger than --max-size 200" \
  larson --min-size 300 --max-size 200 -o "$D/bad.hlt"
bad "missing -o" "missing -o FILE" xmalloc --objects 10
bad "not a number" "'ten' is not an unsigned integer" xmalloc --objects ten -o "$D/bad.hlt"
bad "negative" "'-1' is not an unsigned integer" larson --slots=-1 -o "$D/bad.hlt"
bad "missing value" "--iterations needs a value" threadtest -o "$D/bad.hlt" --iterations
bad "stray argument" "unexpected argument 'extra'" threadtest extra -o "$D/bad.hlt"
bad "fewer objects than threads" "less than --threads" \
  threadtest --objects 3 --threads 4 -o "$D/bad.hlt"
bad "zero batch" "--batch 0 is out of range" xmalloc --batch 0 -o "$D/bad.hlt"

# ---- per-model help ----

for m in threadtest larson xmalloc; do
  expect_ok "$m --help" "$HT" gen $m --help
  for word in --threads --seed -o Reference default; do
    if grep -q -- "$word" "$HL_TMP/out"; then pass; else fail "$m --help does not mention $word"; fi
  done
done
"$HT" gen larson --help >"$HL_TMP/out"
for p in --min-size --max-size --slots --rounds --generations cross; do
  if grep -q -- "$p" "$HL_TMP/out"; then pass; else fail "larson --help does not mention $p"; fi
done

finish test_gen
