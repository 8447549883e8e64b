# tests/test_gen_models.sh: the generators' size distributions (--sizes) and
# the models with links, reads, writes, sends and barriers (mstress, list,
# tree, graph, pipeline, cache-thrash, cache-scratch), and issue 17's
# message workloads (pipeline --whole, xmalloc --message, survivors,
# treepass): whole messages (sendparts closed by a send), every node read
# by its receiver, and the old defaults' traces unchanged.
#
# Each model at 1 and 4 threads (small parameters): the trace passes
# `hltrace check`; its op counts (from `hltrace stats --format csv`) equal
# the formulas of its --help; the same arguments give identical bytes and
# another seed other events. --sizes: fixed is exact, uniform stays in range
# with the right mean, powerlaw's fraction below a size follows its CDF, and
# fitted reproduces the sizes of a hand-written trace. Last, `hltrace stats`
# over time (live-bytes samples, lifetime buckets) on hand-written traces.
source "$(dirname "$0")/lib.sh"

HT="$HL_BIN/hltrace"
D="$HL_TMP/genm"
mkdir -p "$D"



# stats FILE: `hltrace stats --format csv` into the associative array S
# (S[op_alloc], S[cross_thread_frees] ...), plus S[meta.KEY] from the dump.
declare -A S
stats() {
  S=()
  local k v
  while IFS=, read -r k v; do S[$k]=$v; done < <("$HT" stats --format csv "$1")
  while read -r _ k v; do S[meta.$k]=$v; done < <("$HT" dump "$1" | grep '^meta ')
}

# counts DESC ALLOCS LINKS READS WRITES SENDS BARRIERS EVENTS: the op counts.
counts() {
  local desc=$1
  expect_eq "$desc: allocs" "${S[op_alloc]}" "$2"
  expect_eq "$desc: frees" "${S[op_free]}" "$2"
  expect_eq "$desc: links" "${S[op_link]}" "$3"
  expect_eq "$desc: reads" "${S[op_read]}" "$4"
  expect_eq "$desc: writes" "${S[op_write]}" "$5"
  expect_eq "$desc: sends" "${S[op_send]}" "$6"
  expect_eq "$desc: barriers" "${S[op_barrier]}" "$7"
  expect_eq "$desc: events" "${S[events]}" "$8"
  expect_eq "$desc: meta expect.events" "${S[meta.expect.events]}" "$8"
  expect_eq "$desc: live bytes at the end" "${S[live_bytes_final]}" 0
  expect_eq "$desc: starts = ends" "${S[op_start]}" "${S[op_end]}"
}

# determinism MODEL ARGS...: same seed, same bytes (also through -o -);
# another seed, other events.
determinism() {
  local model=$1
  shift
  local base="$D/det-$model"
  "$HT" gen "$model" "$@" --seed 7 -o "$base.a" 2>/dev/null
  "$HT" gen "$model" "$@" --seed 7 -o "$base.b" 2>/dev/null
  "$HT" gen "$model" "$@" --seed 8 -o "$base.c" 2>/dev/null
  "$HT" gen "$model" "$@" --seed 7 -o - >"$base.d" 2>/dev/null
  if cmp -s "$base.a" "$base.b"; then pass; else fail "$model $*: same seed, different bytes"; fi
  if cmp -s "$base.a" "$base.d"; then pass; else fail "$model $*: -o - differs from -o FILE"; fi
  if cmp -s <("$HT" dump "$base.a" | grep -E '^[0-9]') <("$HT" dump "$base.c" | grep -E '^[0-9]'); then
    fail "$model $*: seeds 7 and 8 give the same events"
  else pass; fi
}

# sizes FILE: "count min max mean" of the allocation sizes.
sizes() {
  "$HT" dump "$1" | awk '$2 == "malloc" || $2 == "calloc" {
      n++; s += $4; if (min == "" || $4 + 0 < min) min = $4 + 0; if ($4 + 0 > max) max = $4 + 0 }
    END { printf "%d %d %d %.3f\n", n, min, max, n ? s / n : 0 }'
}
# below FILE X: the fraction of allocations smaller than X bytes.
below() {
  "$HT" dump "$1" | awk -v x="$2" '$2 == "malloc" { n++; if ($4 + 0 < x) b++ }
    END { printf "%.5f\n", n ? b / n : 0 }'
}

# ---- the dispatcher ----
expect_ok "gen --help" "$HT" gen --help
cp "$HL_TMP/out" "$D/help.txt"
for m in mstress list tree graph pipeline cache-thrash cache-scratch survivors treepass; do
  if grep -q "^  $m " "$D/help.txt"; then pass; else fail "gen --help does not list $m"; fi
  expect_ok "$m --help" "$HT" gen $m --help
  for word in --threads --seed Reference default Trace; do
    if grep -q -- "$word" "$HL_TMP/out"; then pass; else fail "$m --help does not mention $word"; fi
  done
done
"$HT" gen list --help >"$HL_TMP/out"
for word in --sizes fixed:N uniform:MIN:MAX powerlaw:MIN:MAX:A fitted:TRACE "default fixed:16"; do
  if grep -q -- "$word" "$HL_TMP/out"; then pass; else fail "list --help does not mention $word"; fi
done

# ---- size distributions (through `list`: one node per allocation) ----
N=20000
SZ="--nodes $N --walks 0 --rounds 1"
gen "$D/fixed.hlt" list $SZ --sizes fixed:48
expect_eq "fixed:48" "$(sizes "$D/fixed.hlt")" "$N 48 48 48.000"
gen "$D/fixed.hlt" list $SZ --sizes fixed:3
expect_eq "fixed:3 raised to the 8-byte next field" "$(sizes "$D/fixed.hlt")" "$N 8 8 8.000"
gen "$D/uniform.hlt" list $SZ --sizes uniform:16:1024
read -r n min max mean < <(sizes "$D/uniform.hlt")
if [ "$min" -ge 16 ] && [ "$max" -le 1024 ]; then pass; else fail "uniform:16:1024: sizes $min..$max"; fi
# mean 520, standard deviation 291: the standard error over 20000 is 2.1
expect_near "uniform:16:1024 mean" "$mean" 520 10
expect_eq "meta param.sizes" "$("$HT" dump "$D/uniform.hlt" | awk '$2 == "param.sizes" { print $3 }')" \
  uniform:16:1024
gen "$D/power.hlt" list $SZ --sizes powerlaw:8:1024:1
read -r n min max mean < <(sizes "$D/power.hlt")
if [ "$min" -ge 8 ] && [ "$max" -le 1024 ]; then pass; else fail "powerlaw:8:1024:1: sizes $min..$max"; fi
# P(size < s) = (1 - (8/s)^1) / (1 - (8/1024)^1): 0.88189 at 64, 0.50394 at 16,
# 0.99213 at 512 (standard errors below 0.004)
expect_near "powerlaw P(size < 64)" "$(below "$D/power.hlt" 64)" 0.88189 0.012
expect_near "powerlaw P(size < 16)" "$(below "$D/power.hlt" 16)" 0.50394 0.012
expect_near "powerlaw P(size < 512)" "$(below "$D/power.hlt" 512)" 0.99213 0.003
gen "$D/power2.hlt" list $SZ --sizes powerlaw:16:4096:1.5
# (1 - (16/32)^1.5) / (1 - (16/4096)^1.5) = 0.64660
expect_near "powerlaw:16:4096:1.5 P(size < 32)" "$(below "$D/power2.hlt" 32)" 0.64660 0.012
# fitted: a trace with three 16-byte and one 4096-byte allocation
cat >"$D/fit.txt" <<'EOF'
heaplab-trace 1
threads 1
0 start
0 malloc 1 16
0 malloc 2 4096
0 free 1
0 malloc 3 16
0 realloc 3 100
0 calloc 4 16
EOF
expect_ok "pack fit.txt" "$HT" pack "$D/fit.txt" -o "$D/fit.hlt"
gen "$D/fitted.hlt" list $SZ --sizes "fitted:$D/fit.hlt"
read -r n min max mean < <(sizes "$D/fitted.hlt")
expect_eq "fitted: only the trace's sizes" \
  "$("$HT" dump "$D/fitted.hlt" | awk '$2 == "malloc" { print $4 }' | sort -un | tr '\n' ' ')" "16 4096 "
expect_near "fitted: a quarter are 4096" "$(below "$D/fitted.hlt" 4096)" 0.75 0.015
determinism list --threads 1 --nodes 100 --walks 1 --rounds 1 --sizes powerlaw:8:1024:1

# ---- mstress: allocs = R*150*s*sum_{k<T}(k%8+1), barriers (2R-1)T ----
for T in 1 4; do
  f="$D/mstress-$T.hlt"
  gen "$f" mstress --threads $T --scale 1 --rounds 3 --transfers 50
  stats "$f"
  w=0; for ((k = 0; k < T; k++)); do w=$((w + k % 8 + 1)); done
  a=$((3 * 150 * w)) b=$(((2 * 3 - 1) * T))
  counts "mstress T=$T" $a 0 0 0 0 $b $((2 * a + 2 * T * 3 + b))
  expect_eq "mstress T=$T: trace threads" "${S[threads]}" $((3 * T))
  expect_eq "mstress T=$T: calloc" "${S[kind_calloc]}" $a
  # Objects migrate through the transfer array: some frees are cross-thread.
  if [ "${S[cross_thread_frees]}" -gt 0 ]; then pass; else fail "mstress T=$T: no cross-thread frees"; fi
done
gen "$D/mstress-lifo.hlt" mstress --threads 2 --scale 1 --rounds 1 --lifo 100
gen "$D/mstress-1.hlt" mstress --threads 1 --scale 1 --rounds 1
stats "$D/mstress-1.hlt"
expect_eq "mstress T=1 R=1: no cross-thread frees" "${S[cross_thread_frees]}" 0
determinism mstress --threads 4 --scale 1 --rounds 2
expect_fail "mstress: too many threads" "more than 4096 threads" \
  "$HT" gen mstress --threads 100 --rounds 41 -o "$D/bad.hlt"

# ---- list: N allocs, N-1 links, W*N reads per thread and round ----
for T in 1 4; do
  f="$D/list-$T.hlt"
  gen "$f" list --threads $T --nodes 300 --walks 3 --rounds 2
  stats "$f"
  r=$((T * 2))
  counts "list T=$T" $((r * 300)) $((r * 299)) $((r * 900)) 0 0 0 $((r * (3 * 300 - 1 + 900) + 2 * T))
  expect_eq "list T=$T: cross-thread frees" "${S[cross_thread_frees]}" 0
done
determinism list --threads 4 --nodes 100 --walks 1 --rounds 2

# ---- tree: reads D + W*N, D = sum floor(log2 i) ----
for T in 1 4; do
  f="$D/tree-$T.hlt"
  gen "$f" tree --threads $T --nodes 1000 --walks 2 --rounds 2
  stats "$f"
  r=$((T * 2)) d=$((1001 * 9 - 1024 + 2)) # k = floor(log2 1000) = 9
  counts "tree T=$T" $((r * 1000)) $((r * 999)) $((r * (d + 2000))) 0 0 0 \
    $((r * (3 * 1000 - 1 + d + 2000) + 2 * T))
  expect_eq "tree T=$T: height" "${S[meta.expect.height]}" 9
done
gen "$D/tree-1node.hlt" tree --nodes 1 --walks 1 --rounds 1
determinism tree --threads 4 --nodes 100 --walks 1 --rounds 2

# ---- graph: links 2E, reads W*L ----
for T in 1 4; do
  f="$D/graph-$T.hlt"
  gen "$f" graph --threads $T --nodes 200 --edges 700 --walks 5 --length 40 --rounds 2
  stats "$f"
  r=$((T * 2))
  counts "graph T=$T" $((r * 200)) $((r * 1400)) $((r * 200)) 0 0 0 $((r * (400 + 1400 + 200) + 2 * T))
  expect_eq "graph T=$T: fields" "${S[meta.expect.fields]}" 4
done
# fewer edges than nodes: walks jump over nodes without edges
gen "$D/graph-sparse.hlt" graph --nodes 50 --edges 10 --walks 3 --length 30 --rounds 1
gen "$D/graph-empty.hlt" graph --nodes 5 --edges 0 --walks 1 --length 3 --rounds 1
determinism graph --threads 1 --nodes 100 --edges 300 --walks 2 --length 20 --rounds 1

# ---- pipeline: sends = reads = M*K*(T-1), writes M*K*(T-2) ----
for T in 1 4; do
  f="$D/pipeline-$T.hlt"
  gen "$f" pipeline --threads $T --messages 60 --nodes 9 --inflight 3 --sizes uniform:8:200
  stats "$f"
  mk=$((60 * 9))
  if [ $T = 1 ]; then
    counts "pipeline T=1" $mk $((60 * 8)) $mk 0 0 0 $((4 * mk - 60 + 2))
    expect_eq "pipeline T=1: cross-thread frees" "${S[cross_thread_frees]}" 0
  else
    counts "pipeline T=$T" $mk $((60 * 8)) $((mk * (T - 1))) $((mk * (T - 2))) $((mk * (T - 1))) 0 \
      $((mk * (3 * T - 1) - 60 + 2 * T))
    expect_eq "pipeline T=$T: every free cross-thread" "${S[cross_thread_frees]}" $mk
  fi
done
gen "$D/pipeline-2.hlt" pipeline --threads 2 --messages 5 --nodes 1 --interleave 1
determinism pipeline --threads 4 --messages 20 --nodes 5

# ---- issue 17: whole messages ----
# msgs FILE: the messages of a trace, one line each: "SENDER TARGET OBJECTS",
# OBJECTS its object ids in order (sendparts, then the closing send). Fails
# the test when a thread does anything between a message's sendparts and its
# send, or changes the target within one.
msgs() {
  "$HT" dump "$1" | awk '
    $1 ~ /^[0-9]+$/ {
      t = $1
      if (open[t] != "" && $2 != "sendpart" && $2 != "send") { print "BROKEN " t " " $2; open[t] = "" }
      if ($2 == "sendpart" || $2 == "send") {
        if (open[t] != "" && to[t] != $4) print "BROKEN target " t
        to[t] = $4; open[t] = open[t] " " $3
        if ($2 == "send") { print t, $4, open[t]; open[t] = "" }
      }
    }
    END { for (t in open) if (open[t] != "") print "BROKEN unsent " t }'
}
# msgsizes FILE: "SIZE COUNT" lines, the number of messages of each size.
msgsizes() { msgs "$1" | awk '{ print NF - 2 }' | sort -n | uniq -c | awk '{ print $2, $1 }' | tr '\n' ' '; }
# sendparts: op_sendpart of the last stats (0 when absent).
sendparts() { echo "${S[op_sendpart]:-0}"; }

# ---- pipeline --whole 1: one message per message, every stage reads every node ----
for T in 1 4; do
  f="$D/pipew-$T.hlt"
  gen "$f" pipeline --whole 1 --threads $T --messages 40 --nodes 6 --inflight 3 --sizes uniform:8:100
  stats "$f"
  mk=$((40 * 6))
  if [ $T = 1 ]; then
    counts "pipeline --whole T=1" $mk $((40 * 5)) $mk $mk 0 0 $((5 * mk - 40 + 2))
    expect_eq "pipeline --whole T=1: sendparts" "$(sendparts)" 0
  else
    counts "pipeline --whole T=$T" $mk $((40 * 5)) $((mk * (T - 1))) $((mk * (T - 1))) \
      $((40 * (T - 1))) 0 $((3 * mk * T - 40 + 2 * T))
    expect_eq "pipeline --whole T=$T: sendparts" "$(sendparts)" $((40 * 5 * (T - 1)))
    expect_eq "pipeline --whole T=$T: meta expect.send_parts" "${S[meta.expect.send_parts]}" \
      $((40 * 5 * (T - 1)))
    expect_eq "pipeline --whole T=$T: every free cross-thread" "${S[cross_thread_frees]}" $mk
    expect_eq "pipeline --whole T=$T: messages of 6 nodes" "$(msgsizes "$f")" "6 $((40 * (T - 1))) "
    # A message is a list in order: consecutive ids, the closing send last.
    expect_eq "pipeline --whole T=$T: messages are whole lists" \
      "$(msgs "$f" | awk '{ for (i = 4; i <= NF; i++) if ($i != $(i-1) + 1) bad++ } END { print bad + 0 }')" 0
    # Stage s sends only to s+1.
    expect_eq "pipeline --whole T=$T: stage s sends to s+1" \
      "$(msgs "$f" | awk '$2 != $1 + 1 { bad++ } END { print bad + 0 }')" 0
  fi
  # Every node is read whole once by each receiving stage (by thread 0 when
  # T = 1), in list order, before it is sent on or freed; the builder writes
  # its payload.
  expect_eq "pipeline --whole T=$T: each node read whole by every stage" \
    "$("$HT" dump "$f" | awk -v T=$T '
        $2 == "malloc" { size[$3] = $4 }
        $2 == "read" { if ($4 != 0 || $5 != size[$3] || rd[$3 "," $1]++) bad++; n++ }
        $2 == "free" && !rd[$3 "," $1] { bad++ }
        END { print bad + 0, n }')" "0 $((mk * (T > 1 ? T - 1 : 1)))"
done
gen "$D/pipew-k1.hlt" pipeline --whole 1 --threads 3 --messages 7 --nodes 1 --interleave 1
stats "$D/pipew-k1.hlt"
expect_eq "pipeline --whole, 1-node messages: no sendparts" "$(sendparts)" 0
expect_eq "pipeline --whole, 1-node messages: sends" "${S[op_send]}" 14
determinism pipeline --whole 1 --threads 4 --messages 20 --nodes 5

# ---- xmalloc --message 1: each batch one message to consumer P + b mod C ----
for T in 1 4 5; do
  for H in 1 0; do
    f="$D/xmm-$T-$H.hlt"
    gen "$f" xmalloc --message 1 --threads $T --objects 1000 --batch 64 --header $H --queue-limit 3
    stats "$f"
    nb=16 a=$((1000 + H * 16)) # ceil(1000/64) = 16 batches, the last of 40
    expect_eq "xmalloc --message T=$T H=$H: allocs" "${S[op_alloc]}" $a
    expect_eq "xmalloc --message T=$T H=$H: frees" "${S[op_free]}" $a
    expect_eq "xmalloc --message T=$T H=$H: live bytes at the end" "${S[live_bytes_final]}" 0
    if [ $T = 1 ]; then
      expect_eq "xmalloc --message T=1: no sends" "${S[op_send]}/$(sendparts)" 0/0
      expect_eq "xmalloc --message T=1 H=$H: events" "${S[events]}" $((2 * a + 2))
      continue
    fi
    expect_eq "xmalloc --message T=$T H=$H: sends" "${S[op_send]}" $nb
    expect_eq "xmalloc --message T=$T H=$H: sendparts" "$(sendparts)" $((a - nb))
    expect_eq "xmalloc --message T=$T H=$H: events" "${S[events]}" $((3 * a + 2 * T))
    expect_eq "xmalloc --message T=$T H=$H: meta expect.events" "${S[meta.expect.events]}" \
      $((3 * a + 2 * T))
    expect_eq "xmalloc --message T=$T H=$H: message sizes" "$(msgsizes "$f")" \
      "$((40 + H)) 1 $((64 + H)) 15 "
    # Batch b (numbered as claimed: by the first object allocated for it,
    # its smallest id) goes from its producer to consumer P + b mod C, and
    # everything in it is freed by that consumer.
    P=$((T / 2)) C=$((T - T / 2))
    expect_eq "xmalloc --message T=$T H=$H: batch b to consumer P + b mod C" \
      "$(msgs "$f" | awk '{ m = $3; for (i = 4; i <= NF; i++) if ($i < m) m = $i; print m, $1, $2 }' |
        sort -n | awk -v P=$P -v C=$C '$2 >= P || $3 != P + (NR - 1) % C { bad++ } END { print bad + 0 }')" 0
    expect_eq "xmalloc --message T=$T H=$H: sent by the allocating thread, freed by the receiver" \
      "$("$HT" dump "$f" | awk '
          $2 == "malloc" { by[$3] = $1 }
          $2 == "sendpart" || $2 == "send" { if (by[$3] != $1) bad++; to[$3] = $4 }
          $2 == "free" { if (to[$3] != $1) bad++ }
          END { print bad + 0 }')" 0
  done
done
determinism xmalloc --message 1 --threads 4 --objects 500 --batch 32

# ---- survivors: allocs = writes = frees = T*(N + C*(W-1)), reads T*S*W ----
for T in 1 4; do
  f="$D/surv-$T.hlt"
  gen "$f" survivors --threads $T --objects 500 --free-percent 85 --passes 4 --churn 7
  stats "$f"
  a=$((500 + 7 * 3)) s=$((500 - 500 * 85 / 100)) # 75 survivors
  counts "survivors T=$T" $((T * a)) 0 $((T * s * 4)) $((T * a)) 0 0 $((T * (3 * a + s * 4) + 2 * T))
  expect_eq "survivors T=$T: meta expect.survivors" "${S[meta.expect.survivors]}" $s
  expect_eq "survivors T=$T: cross-thread frees" "${S[cross_thread_frees]}" 0
  # Each pass reads every live object once, whole: the reads of a pass are
  # exactly the live set (75 distinct objects).
  expect_eq "survivors T=$T: each pass reads the 75 survivors whole" \
    "$("$HT" dump "$f" | awk -v S=$s '
        $2 == "malloc" { size[$3] = $4; live[$3] = 1 }
        $2 == "free" { delete live[$3] }
        $2 == "read" { if ($4 != 0 || $5 != size[$3] || !live[$3]) bad++
                       if (seen[$1 "," $3 "," np[$1]]++) np[$1]++; r[$1]++ }
        END { for (t in r) if (r[t] != 4 * S) bad++; print bad + 0 }')" 0
done
# The 85% are freed at random, in random order: the survivors (read in the
# first pass) are spread over all 500 allocations, and the frees go up and
# down. Sizes: uniform:16:256 by default.
expect_eq "survivors: survivors spread, frees in random order" \
  "$("$HT" dump "$D/surv-1.hlt" | awk '
      $2 == "malloc" { if ($4 < 16 || $4 > 256) bad++ }
      $2 == "read" && r++ < 75 { if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
      $2 == "free" && f++ < 425 { if (f > 1 && $3 < prev) down++; prev = $3 }
      END { print bad + 0, (min < 50 && max > 450), (down > 100) }')" "0 1 1"
gen "$D/surv-order0.hlt" survivors --objects 200 --free-percent 50 --passes 2 --churn 0 --order 0
expect_eq "survivors --order 0 --churn 0: passes in allocation order" \
  "$("$HT" dump "$D/surv-order0.hlt" | awk '$2 == "read" { if (n++ % 100 && $3 <= prev) bad++; prev = $3 } END { print bad + 0, n }')" \
  "0 200"
gen "$D/surv-keep.hlt" survivors --objects 50 --free-percent 0 --passes 1 --churn 3
stats "$D/surv-keep.hlt"
expect_eq "survivors --free-percent 0: reads" "${S[op_read]}" 50
determinism survivors --threads 2 --objects 300 --passes 3 --churn 5

# ---- treepass: Q = P*R trees of N nodes, each one message ----
for T in 1 3 4; do
  f="$D/treepass-$T.hlt"
  gen "$f" treepass --threads $T --trees 9 --nodes 20 --inflight 2 --sizes uniform:8:64
  stats "$f"
  P=$((T > 1 ? T / 2 : 1))
  q=$((P * 9)) qn=$((P * 9 * 20))
  if [ $T = 1 ]; then
    counts "treepass T=1" $qn $((qn - q)) $qn $qn 0 0 $((5 * qn - q + 2))
    expect_eq "treepass T=1: sendparts" "$(sendparts)" 0
    expect_eq "treepass T=1: cross-thread frees" "${S[cross_thread_frees]}" 0
  else
    counts "treepass T=$T" $qn $((qn - q)) $qn $qn $q 0 $((6 * qn - q + 2 * T))
    expect_eq "treepass T=$T: sendparts" "$(sendparts)" $((qn - q))
    expect_eq "treepass T=$T: every free cross-thread" "${S[cross_thread_frees]}" $qn
    expect_eq "treepass T=$T: messages of 20 nodes" "$(msgsizes "$f")" "20 $q "
    # Producer p's tree j goes to consumer P + (p + j) mod C; the root (the
    # first node allocated) closes the message.
    expect_eq "treepass T=$T: tree j of producer p to P + (p + j) mod C, root last" \
      "$(msgs "$f" | awk -v P=$P -v C=$((T - P)) '
          { if ($2 != P + ($1 + j[$1]++) % C) bad++; for (i = 3; i < NF; i++) if ($i <= $NF) bad++ }
          END { print bad + 0 }')" 0
  fi
  # The receiver walks each tree depth first: every node read whole, then
  # freed, by one thread, parents before children (pre-order), the walk
  # following the links.
  expect_eq "treepass T=$T: depth-first walks over the links" \
    "$("$HT" dump "$f" | awk '
        $2 == "malloc" { size[$3] = $4 }
        $2 == "link" { parent[$5] = $3 }
        $2 == "read" { if ($4 != 0 || $5 != size[$3] || ($3 in parent && !(parent[$3] in gone))) bad++; last = $3; who = $1 }
        $2 == "free" { if ($3 != last || $1 != who) bad++; gone[$3] = 1 }
        END { print bad + 0 }')" 0
done
# Pre-order on a 7-node tree: root, left subtree (1, 3, 4), right (2, 5, 6).
gen "$D/treepass-7.hlt" treepass --threads 2 --trees 1 --nodes 7
expect_eq "treepass: pre-order walk" \
  "$("$HT" dump "$D/treepass-7.hlt" | awk '$2 == "read" { printf "%s ", $3 }')" "0 1 3 4 2 5 6 "
determinism treepass --threads 4 --trees 5 --nodes 15

# ---- the old defaults' traces are unchanged ----
# Hashes of traces made before pipeline --whole and xmalloc --message existed.
# The first 9 bytes (magic and format version) are left out: the version is
# the trace writer's business (it moved to 2 with sendpart), the rest is the
# generator's.
old_hash() { # EXPECTED ARGS...
  local want=$1
  shift
  "$HT" gen "$@" -o "$D/old.hlt" 2>/dev/null
  expect_eq "unchanged trace: $*" "$(tail -c +10 "$D/old.hlt" | sha256sum | cut -c1-64)" "$want"
}
old_hash 26b88e5ae020eac3442a369a8381748594272beda263d52161d7d5b0a0fe7019 \
  pipeline --threads 4 --messages 20 --nodes 5 --seed 3
old_hash 215229d319bcb46d6ab1e7425ea8ddc0ad9e6d997cf4b17c8f8f20c76a1416ef \
  pipeline --threads 1 --messages 10 --nodes 4
old_hash e661ed1f6614b058d6c98ef677b6ec50df1598d8c7ea791c6c63b3de93c058ee \
  pipeline --threads 3 --messages 30 --nodes 7 --inflight 2 --sizes uniform:8:200 --whole 0
old_hash b75e1eda48421befc6b05cad956baad005e44e0040f9ee09aa99f1937bea61e7 \
  xmalloc --threads 4 --objects 1000 --batch 64
old_hash 929c28145263c5969172fd4c76c6fe2d395995de4d00c2483e04d48c2b45c4c0 \
  xmalloc --threads 1 --objects 300 --batch 50 --size 0
old_hash 4e8c076df3636eaf946b32f8390225e62eee04d79382befd6e7aae2b6ec988f8 \
  xmalloc --threads 6 --objects 2000 --batch 100 --header 0 --message 0

# ---- cache-thrash: allocs T*I, writes T*I*R, events T*I*(R+2) + 2T ----
for T in 1 4; do
  f="$D/thrash-$T.hlt"
  gen "$f" cache-thrash --threads $T --iterations 30 --repetitions 7 --size 8
  stats "$f"
  counts "cache-thrash T=$T" $((T * 30)) 0 0 $((T * 30 * 7)) 0 0 $((T * 30 * 9 + 2 * T))
  expect_eq "cache-thrash T=$T: cross-thread frees" "${S[cross_thread_frees]}" 0
  # every write covers the whole 8-byte object
  expect_eq "cache-thrash T=$T: write extents" \
    "$("$HT" dump "$f" | awk '$2 == "write" { print $4, $5 }' | sort -u)" "0 8"
done
determinism cache-thrash --threads 4 --iterations 20 --repetitions 3

# ---- cache-scratch: allocs T*(I+1), sends T-1, events T*I*(R+2) + 5T - 1 ----
for T in 1 4; do
  f="$D/scratch-$T.hlt"
  gen "$f" cache-scratch --threads $T --iterations 30 --repetitions 7 --size 8
  stats "$f"
  counts "cache-scratch T=$T" $((T * 31)) 0 0 $((T * 30 * 7)) $((T - 1)) 0 $((T * 30 * 9 + 5 * T - 1))
  expect_eq "cache-scratch T=$T: cross-thread frees" "${S[cross_thread_frees]}" $((T - 1))
  # Each thread's first free is of object t, thread 0's hand-out: by another
  # thread than the allocator for every t > 0.
  expect_eq "cache-scratch T=$T: first frees cross-thread" \
    "$("$HT" dump "$f" | awk '$2 == "malloc" { by[$3] = $1 }
        $2 == "free" && !seen[$1]++ { if ($3 != $1) bad++; else if (by[$3] != $1) x++ }
        END { print bad + 0, x + 0 }')" "0 $((T - 1))"
done
determinism cache-scratch --threads 4 --iterations 20 --repetitions 3

# ---- bad --sizes: message, exit status 2, no file ----
bad() { # DESC REGEX ARGS...
  local desc=$1 re=$2
  shift 2
  rm -f "$D/bad.hlt"
  expect_fail "$desc" "$re" "$HT" gen "$@"
  "$HT" gen "$@" >/dev/null 2>&1
  expect_eq "$desc (exit status)" "$?" 2
  if [ -e "$D/bad.hlt" ]; then fail "$desc: left $D/bad.hlt behind"; else pass; fi
}
bad "sizes: unknown kind" "--sizes 'normal:3'" list --sizes normal:3 -o "$D/bad.hlt"
bad "sizes: min > max" "MIN is larger than MAX" list --sizes uniform:50:10 -o "$D/bad.hlt"
bad "sizes: powerlaw min 0" "expected fixed:N" tree --sizes powerlaw:0:10:1 -o "$D/bad.hlt"
bad "sizes: powerlaw alpha" "expected fixed:N" tree --sizes powerlaw:1:10:-1 -o "$D/bad.hlt"
bad "sizes: trailing field" "expected fixed:N" graph --sizes fixed:8:9 -o "$D/bad.hlt"
bad "sizes: too big" "expected fixed:N" graph --sizes fixed:281474976710657 -o "$D/bad.hlt"
bad "sizes: fitted, no file" "fitted" pipeline --sizes "fitted:$D/nosuch.hlt" -o "$D/bad.hlt"
bad "sizes: fitted, bad trace" "fitted" pipeline --sizes "fitted:$D/fit.txt" -o "$D/bad.hlt"
bad "sizes: not for mstress" "unknown option '--sizes'" mstress --sizes fixed:8 -o "$D/bad.hlt"
bad "pipeline --whole 2" "--whole 2 is out of range 0..1" pipeline --whole 2 -o "$D/bad.hlt"
bad "xmalloc --message 2" "--message 2 is out of range 0..1" xmalloc --message 2 -o "$D/bad.hlt"
bad "survivors: all freed" "--free-percent 100 is out of range 0..99" \
  survivors --free-percent 100 -o "$D/bad.hlt"
bad "treepass: no nodes" "--nodes 0 is out of range" treepass --nodes 0 -o "$D/bad.hlt"
bad "treepass: overflow" "too many events" treepass --threads 4096 --trees 1000000000 \
  --nodes 10000000 -o "$D/bad.hlt"

# ---- hltrace stats: live bytes over time, lifetimes ----
# 10 events, so 10 samples, one after each. Live bytes / objects after each
# event: 0/0 100/1 150/2 150/2 50/1 1050/2 60/2 10/1 17/2 10/1. Lifetimes
# (event of the free minus event of the alloc, 0-based): object 1: 4-1 = 3,
# object 2: 7-2 = 5, object 4: 9-8 = 1; object 3 is never freed.
cat >"$D/life.txt" <<'EOF'
heaplab-trace 1
threads 2
0 start
0 malloc 1 100
0 malloc 2 50
1 start
1 free 1
0 malloc 3 1000
0 realloc 3 10
0 free 2
0 malloc 4 7
0 free 4
EOF
expect_ok "pack life.txt" "$HT" pack "$D/life.txt" -o "$D/life.hlt"
expect_ok "stats csv life" "$HT" stats --format csv "$D/life.hlt"
cp "$HL_TMP/out" "$D/life.csv"
expect_eq "stats: live bytes samples" \
  "$(grep -E '^live_after_event_[0-9]+_bytes,' "$D/life.csv" | sed -E 's/^live_after_event_([0-9]+)_bytes,/\1:/' | tr '\n' ' ')" \
  "1:0 2:100 3:150 4:150 5:50 6:1050 7:60 8:10 9:17 10:10 "
expect_eq "stats: live objects samples" \
  "$(grep -E '^live_after_event_[0-9]+_objects,' "$D/life.csv" | cut -d, -f2 | tr '\n' ' ')" \
  "0 1 2 2 1 2 2 1 2 1 "
expect_eq "stats: lifetime buckets" "$(grep -E '^lifetime_' "$D/life.csv" | tr '\n' ' ')" \
  "lifetime_hist_1,1 lifetime_hist_2,1 lifetime_hist_4,1 lifetime_never_freed,1 "
expect_ok "stats text life" "$HT" stats "$D/life.hlt"
cp "$HL_TMP/out" "$D/life.out"
if grep -Eq '^ +6 +1050 +2$' "$D/life.out"; then pass; else fail "stats text: no sample '6 1050 2'"; fi
if grep -Eq '^  4-7 +1 ' "$D/life.out"; then pass; else fail "stats text: no lifetime bucket 4-7"; fi
if grep -Eq '^  never freed +1 ' "$D/life.out"; then pass; else fail "stats text: no never-freed line"; fi
# 30 events (a start and 29 one-byte mallocs): 20 samples, after events
# ceil(1.5 i) = 2 3 5 6 8 9 ... 30, where live bytes = event - 1.
{
  echo "heaplab-trace 1"
  echo "threads 1"
  echo "0 start"
  for i in $(seq 1 29); do echo "0 malloc $i 1"; done
} >"$D/thirty.txt"
expect_ok "pack thirty.txt" "$HT" pack "$D/thirty.txt" -o "$D/thirty.hlt"
"$HT" stats --format csv "$D/thirty.hlt" >"$D/thirty.csv"
expect_eq "stats: 20 samples" "$(grep -c '^live_after_event_.*_bytes,' "$D/thirty.csv")" 20
expect_eq "stats: sample spacing" \
  "$(grep -E '^live_after_event_[0-9]+_bytes,' "$D/thirty.csv" | head -5 | cut -d_ -f4 | tr '\n' ' ')" \
  "2 3 5 6 8 "
expect_eq "stats: last sample" "$(grep -E '^live_after_event_30_bytes,' "$D/thirty.csv")" \
  "live_after_event_30_bytes,29"
expect_eq "stats: never freed" "$(grep '^lifetime_never_freed,' "$D/thirty.csv")" \
  "lifetime_never_freed,29"
# From stdin (read into memory for the two passes): the same numbers.
"$HT" stats --format csv - <"$D/life.hlt" >"$D/life-stdin.csv"
expect_eq "stats from stdin" "$(grep -v -E '^(file_bytes|bytes_per_event),' "$D/life.csv")" \
  "$(cat "$D/life-stdin.csv")"
head -c 20 "$D/life.hlt" >"$D/life-trunc.hlt"
expect_fail "stats: truncated trace" "byte [0-9]+, event [0-9]+" "$HT" stats "$D/life-trunc.hlt"
expect_fail "stats: truncated trace on stdin" "<stdin>: byte" \
  sh -c "exec \"\$0\" stats - <\"\$1\"" "$HT" "$D/life-trunc.hlt"

finish test_gen_models
