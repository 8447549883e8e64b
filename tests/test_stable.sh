# tests/test_stable.sh: the `stable` allocator (alloc/stable/) end to end:
# hlreplay --verify on every generator's trace (1 and 4 threads, threaded and
# serial), with default options and with tiny collection volumes so typed
# objects are promoted (moved) many times, in checked mode (the full
# invariant walk after every operation) on small traces, and on the shipped
# recorded traces; bad options are refused.
source tests/lib.sh
R=$HL_BIN/hlreplay
T=$HL_BIN/hltrace

expect_ok "list" $R --list
if grep -q "^stable	" "$HL_TMP/out"; then pass; else fail "--list lacks stable"; fi

small() { # MODEL THREADS: small parameters per model
  case $1 in
    threadtest) echo --iterations 2 --objects 3000 --size 40 ;;
    larson) echo --slots 200 --rounds 20 --generations 3 ;;
    xmalloc) echo --objects 4000 --batch 50 ;;
    mstress) echo --scale 1 --rounds 2 ;;
    list|tree) echo --nodes 800 --walks 2 --rounds 3 ;;
    graph) echo --nodes 600 --edges 2000 --walks 5 --length 50 --rounds 3 ;;
    pipeline) echo --messages 200 --nodes 16 ;;
    cache-thrash|cache-scratch) echo --iterations 50 --repetitions 10 ;;
    survivors) echo --objects 500 --passes 3 --churn 20 ;;
    treepass) echo --trees 20 --nodes 63 ;;
  esac
}
models=$($T gen --help 2>&1 | sed -n 's/^  \([a-z-]*\) .*/\1/p' | sort -u)
known="threadtest larson xmalloc mstress list tree graph pipeline cache-thrash cache-scratch survivors treepass"
for m in $models; do case " $known " in *" $m "*) ;; *) fail "model $m has no small parameters here" ;; esac; done
for m in $known; do
  for t in 1 4; do
    f="$HL_TMP/s-$m-$t.hlt"
    if ! $T gen $m --threads $t --seed 7 $(small $m) -o "$f" 2>"$HL_TMP/generr"; then
      fail "gen $m --threads $t"; cat "$HL_TMP/generr" >&2; continue
    fi
    for mode in --threads-as-traced --serial; do
      expect_ok "$m t$t $mode verify" $R "$f" --alloc stable --verify $mode -q
      expect_ok "$m t$t $mode verify, promoting" $R "$f" --alloc stable --verify $mode -q \
        --options minor=8K,cohorts=2,major=256K,card=256
      case $m in list|tree)
        # typed objects were promoted: alloc_moves counts the copies
        mv=$(awk '$1 == "alloc_moves" { print $2 }' "$HL_TMP/out")
        if [ "$t" = 1 ] && ! [ "${mv:-0}" -gt 0 ] 2>/dev/null; then fail "$m t$t $mode: no moves ($mv)"; else pass; fi ;;
      esac
    done
  done
done
# checked mode (full invariant walk after every operation) on the linked ones
for m in list tree graph pipeline xmalloc; do
  f="$HL_TMP/c-$m.hlt"
  $T gen $m --threads 2 --seed 3 $(small $m) -o "$f" 2>/dev/null || fail "gen $m (checked)"
  expect_ok "$m checked" $R "$f" --alloc stable --verify -q --options minor=4K,cohorts=1,major=64K,checked=1
  expect_ok "$m checked pinned" $R "$f" --alloc stable --verify -q --options pin=all,minor=4K,checked=1
  expect_ok "$m raw" $R "$f" --alloc stable --verify -q --options raw=1
  if grep -Eq '^alloc_moves +0$' "$HL_TMP/out"; then pass; else fail "$m raw=1 moved objects"; fi
done
for f in build/traces/*.hlt; do
  [ -e "$f" ] || continue
  expect_ok "$(basename $f) verify" $R "$f" --alloc stable --verify -q
  expect_ok "$(basename $f) verify promoting" $R "$f" --alloc stable --verify -q --options minor=16K,cohorts=2
done
expect_fail "bad option" "unknown option" $R "$HL_TMP/c-list.hlt" --alloc stable --options nope=1
expect_fail "bad card" "option 'card': expected a power of two" $R "$HL_TMP/c-list.hlt" --alloc stable --options card=1000
finish test_stable.sh
