# tests/test_ravioli.sh: the `ravioli` allocator (alloc/ravioli/) end to end:
# hlreplay --verify on generated traces without cross-thread ops (threadtest,
# list, tree, graph) and on pipeline (explicit sends), at page sizes 1K, 4K
# (default), 64K and 2M, with the invariant walk on (checked=1) for small
# ones; bad page sizes and options refused; its stats columns filled; and
# whole-structure messages and free requests with every invariant walked;
# ravioli8 and ravioli16 (64- and 128-byte ravioli) verified, and the C test
# built again against each.
source tests/lib.sh
R=$HL_BIN/hlreplay

expect_ok "list" $R --list
if grep -q "^ravioli	" "$HL_TMP/out"; then pass; else fail "--list lacks ravioli"; fi

gen "$HL_TMP/tt.hlt" threadtest --threads 1 --iterations 3 --objects 3000 --size 40 --seed 1
gen "$HL_TMP/tt4.hlt" threadtest --threads 4 --iterations 2 --objects 4000 --size 24 --seed 2
gen "$HL_TMP/list.hlt" list --threads 1 --nodes 300 --rounds 3 --walks 2 --seed 3
gen "$HL_TMP/tree.hlt" tree --threads 1 --nodes 300 --rounds 3 --walks 2 --seed 4
gen "$HL_TMP/graph.hlt" graph --threads 1 --nodes 200 --edges 600 --rounds 2 --walks 20 --seed 5
gen "$HL_TMP/pipe.hlt" pipeline --threads 3 --messages 200 --nodes 8 --seed 6

for t in tt tt4 list tree graph pipe; do
  for ps in 1K 4K 64K 2M; do
    expect_ok "verify $t page $ps" $R --alloc ravioli --verify --page-size $ps "$HL_TMP/$t.hlt"
    if grep -Eq '^status +ok' "$HL_TMP/out"; then pass; else fail "$t $ps: status not ok"; fi
  done
  expect_ok "verify $t checked" $R --alloc ravioli --verify --options checked=1 "$HL_TMP/$t.hlt"
  expect_ok "verify $t serial, no hysteresis" $R --alloc ravioli --verify --serial \
    --options hysteresis=0 "$HL_TMP/$t.hlt"
done

# traces with remote frees and uses: the harness inserts the owner's sends
gen "$HL_TMP/larson.hlt" larson --threads 3 --slots 200 --rounds 20 --generations 3 --seed 7
gen "$HL_TMP/xm.hlt" xmalloc --threads 3 --objects 3000 --batch 50 --seed 8
gen "$HL_TMP/ms.hlt" mstress --threads 3 --scale 2 --rounds 2 --seed 9
gen "$HL_TMP/scratch.hlt" cache-scratch --threads 3 --iterations 50 --repetitions 10 --seed 10
for t in larson xm ms scratch; do
  for mode in --threads-as-traced --serial; do
    expect_ok "verify $t $mode" $R --alloc ravioli --verify $mode "$HL_TMP/$t.hlt"
  done
  h=$(awk '$1 == "handover_sends" {print $2}' "$HL_TMP/out")
  tr=$(awk '$1 == "alloc_transfers" {print $2}' "$HL_TMP/out")
  # every inserted send is a transfer (cache-scratch also has the trace's own sends)
  if [ "${tr:-0}" -ge "${h:-1}" ] && { [ "$t" = scratch ] || [ "${h:-0}" -gt 0 ]; }; then pass
  else fail "$t: $h inserted sends, $tr transfers"; fi
done
# the shipped recorded traces (python3-threads frees across threads), normal build only
if [ "${HL_SANITIZED:-0}" != 1 ]; then
  for f in build/traces/*.hlt; do
    expect_ok "verify $(basename "$f")" $R --alloc ravioli --verify "$f"
  done
fi

# stats: every ravioli column measured; pipeline moves objects between threads
expect_ok "pipeline stats" $R --alloc ravioli --verify "$HL_TMP/pipe.hlt"
for col in alloc_objects_live alloc_pages alloc_pool_pages alloc_pages_returned alloc_moves \
  alloc_fixups alloc_transfers alloc_transfer_bytes; do
  if grep -Eq "^$col +[0-9]+$" "$HL_TMP/out"; then pass; else fail "ravioli $col not a number"; fi
done
tr=$(awk '$1 == "alloc_transfers" {print $2}' "$HL_TMP/out")
if [ "${tr:-0}" -gt 0 ]; then pass; else fail "pipeline: no transfers counted ($tr)"; fi
expect_ok "system stats" $R --alloc system "$HL_TMP/tt.hlt"
if grep -Eq '^alloc_fixups +NA' "$HL_TMP/out"; then pass; else fail "system: alloc_fixups not NA"; fi

# hysteresis off returns more pages on a churning trace
expect_ok "hyst on" $R --alloc ravioli --page-size 1K "$HL_TMP/tt.hlt"
on=$(awk '$1 == "alloc_pages_returned" {print $2}' "$HL_TMP/out")
expect_ok "hyst off" $R --alloc ravioli --page-size 1K --options hysteresis=0 "$HL_TMP/tt.hlt"
off=$(awk '$1 == "alloc_pages_returned" {print $2}' "$HL_TMP/out")
if [ "${off:-0}" -gt "${on:-0}" ]; then pass; else fail "hysteresis=0 returned $off pages, on $on"; fi

expect_fail "page size 3000" "ravioli|Invalid argument" $R --alloc ravioli --page-size 3000 "$HL_TMP/tt.hlt"
expect_fail "page size 512" "ravioli|Invalid argument" $R --alloc ravioli --page-size 512 "$HL_TMP/tt.hlt"
expect_fail "page size 4M" "ravioli|Invalid argument" $R --alloc ravioli --page-size 4M "$HL_TMP/tt.hlt"
expect_fail "bad option" "ravioli|Invalid argument" $R --alloc ravioli --options nosuch=1 "$HL_TMP/tt.hlt"

# a hand-written trace: a send, then the receiver grows, reads and keeps it;
# objects left at the end are freed by the harness through thread 0's
# context, after both threads ended (their heaps are orphans by then)
cat >"$HL_TMP/hand.txt" <<'TXT'
heaplab-trace 1
threads 2
0 start
1 start
0 malloc 1 100
0 malloc 2 64
0 write 1 0 100
0 link 2 8 1
0 send 1 1
1 realloc 1 4000
1 read 1 0 100
1 malloc 3 5000
1 link 3 16 1
0 end
1 end
TXT
expect_ok "pack hand" "$HL_BIN/hltrace" pack "$HL_TMP/hand.txt" -o "$HL_TMP/hand.hlt"
for mode in --threads-as-traced --serial; do
  expect_ok "hand $mode" $R --alloc ravioli --verify --options checked=1 $mode "$HL_TMP/hand.hlt"
done
# an op on another thread's object: the harness hands it over first (one inserted send)
cat >"$HL_TMP/remote.txt" <<'TXT'
heaplab-trace 1
threads 2
0 start
1 start
0 malloc 1 100
1 free 1
0 end
1 end
TXT
expect_ok "pack remote" "$HL_BIN/hltrace" pack "$HL_TMP/remote.txt" -o "$HL_TMP/remote.hlt"
for mode in --threads-as-traced --serial; do
  expect_ok "remote free $mode" $R --alloc ravioli --verify --options checked=1 $mode "$HL_TMP/remote.hlt"
  if grep -Eq '^handover_sends +1$' "$HL_TMP/out" && grep -Eq '^alloc_transfers +1$' "$HL_TMP/out"; then pass
  else fail "remote free $mode: expected one inserted send and one transfer: $(grep -E '^(handover_sends|alloc_transfers)' "$HL_TMP/out" | tr '\n' ' ')"; fi
done

# messages as the design means them: whole linked structures sent as one
# message (their pages handed over in place when they are the sender's top),
# and remote frees posted to the owner as free requests; every invariant
# walked after every operation (a walk of the whole heap: small traces), the
# contents verified
gen "$HL_TMP/pw.hlt" pipeline --threads 3 --whole 1 --messages 30 --nodes 150 --seed 11
gen "$HL_TMP/tp.hlt" treepass --threads 4 --trees 12 --nodes 127 --seed 12
gen "$HL_TMP/xmm.hlt" xmalloc --threads 4 --objects 1200 --batch 60 --message 1 --seed 13
gen "$HL_TMP/sv.hlt" survivors --threads 2 --objects 300 --passes 3 --churn 30 --seed 14
gen "$HL_TMP/larson-s.hlt" larson --threads 3 --slots 60 --rounds 4 --generations 3 --seed 15
gen "$HL_TMP/xm-s.hlt" xmalloc --threads 3 --objects 900 --batch 30 --seed 16
for a in ravioli ravioli16; do
  for t in xmm sv; do
    expect_ok "$a verify $t" $R --alloc $a --verify --options checked=1 "$HL_TMP/$t.hlt"
  done
  for t in pw tp; do
    expect_ok "$a whole messages $t" $R --alloc $a --verify --options checked=1 "$HL_TMP/$t.hlt"
    m=$(awk '$1 == "alloc_messages" {print $2}' "$HL_TMP/out")
    h=$(awk '$1 == "alloc_pages_handed" {print $2}' "$HL_TMP/out")
    if [ "${m:-0}" -gt 0 ] && [ "${h:-0}" -gt 0 ]; then pass
    else fail "$a $t: $m messages, $h pages handed over in place"; fi
  done
  for t in larson-s xm-s; do
    expect_ok "$a free requests $t" $R --alloc $a --verify --options checked=1 --remote-free request \
      "$HL_TMP/$t.hlt"
    q=$(awk '$1 == "alloc_free_requests" {print $2}' "$HL_TMP/out")
    h=$(awk '$1 == "handover_sends" {print $2}' "$HL_TMP/out")
    if [ "${q:-0}" -gt 0 ] && grep -Eq '^remote_free +request$' "$HL_TMP/out"; then pass
    else fail "$a $t: $q free requests, $h hand-overs"; fi
  done
done

# 64- and 128-byte ravioli: registered as ravioli8 and ravioli16 (the same
# sources built again, alloc/ravioli/ravioli8.c and ravioli16.c); verified
# replays, and the same C test built here against each (plain build only:
# the sanitizer runs already cover the code paths with 32-byte ravioli)
for w in 8 16; do
  expect_ok "ravioli$w verify tt4" $R --alloc ravioli$w --verify "$HL_TMP/tt4.hlt"
  for t in list pipe; do
    expect_ok "ravioli$w verify $t" $R --alloc ravioli$w --verify --options checked=1 "$HL_TMP/$t.hlt"
  done
  expect_ok "ravioli$w identify" $R --alloc ravioli$w "$HL_TMP/list.hlt"
  if grep -Eq "^served_by .*$((w * 8))-byte ravioli" "$HL_TMP/out"; then pass
  else fail "ravioli$w does not serve $((w * 8))-byte ravioli"; fi
  if [ "${HL_SANITIZED:-0}" = 0 ]; then
    if ${CC:-gcc} -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I. -pthread \
      -DRV_RAVIOLO_WORDS=$w tests/test_ravioli.c alloc/ravioli/ravioli$w.c alloc/kind.c \
      alloc/hooks.c alloc/options.c -o "$HL_TMP/test_ravioli$w" 2>"$HL_TMP/err"; then
      pass
      if "$HL_TMP/test_ravioli$w" >"$HL_TMP/out$w" 2>&1 &&
        grep -q "test_ravioli: [0-9]* passed, 0 failed" "$HL_TMP/out$w"; then
        pass
      else
        fail "$((w * 8))-byte ravioli: test_ravioli failed"; tail -20 "$HL_TMP/out$w" >&2
      fi
    else
      fail "$((w * 8))-byte ravioli do not build"; head -20 "$HL_TMP/err" >&2
    fi
  fi
done

finish test_ravioli.sh
