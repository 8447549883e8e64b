# tests/test_unit.sh: the `unit` allocator (alloc/unit/) end to end: hlreplay
# --verify on the synthetic generators' traces, one OS thread per traced
# thread and serial, plus a hand-written trace with every kind and op.
source tests/lib.sh
R=$HL_BIN/hlreplay
T=$HL_BIN/hltrace

expect_ok "list" $R --list
if grep -q "^unit	" "$HL_TMP/out"; then pass; else fail "--list lacks unit"; fi

$T gen threadtest --threads 4 --iterations 3 --objects 8000 --size 40 --seed 1 -o "$HL_TMP/u-tt.hlt" || fail "gen threadtest"
$T gen larson --threads 4 --slots 300 --rounds 30 --generations 4 --seed 2 -o "$HL_TMP/u-larson.hlt" || fail "gen larson"
$T gen xmalloc --threads 4 --objects 8000 --batch 50 --seed 3 -o "$HL_TMP/u-xm.hlt" || fail "gen xmalloc"
cat >"$HL_TMP/u-every.txt" <<'TXT'
heaplab-trace 1
threads 2
meta note every kind, large objects, cross-thread realloc and free
0 start
1 start
0 malloc 1 100
0 calloc 2 64
0 memalign 3 100 256
0 posix_memalign 4 72 64
0 aligned_alloc 5 128 128
0 valloc 6 10
0 pvalloc 7 5000
0 malloc 8 300000
0 calloc 9 200000
0 memalign 10 70000 8192
0 write 1 0 100
0 read 1 10 20
0 link 2 8 1
0 send 1 1
1 realloc 1 4000
1 realloc 8 400
1 realloc 2 100000
1 free 1
0 free 3
0 free 4
1 free 5
1 free 6
0 free 7
1 free 8
1 free 9
0 free 10
0 free 2
0 end
1 end
TXT
$T pack "$HL_TMP/u-every.txt" -o "$HL_TMP/u-every.hlt" || fail "pack every"

for t in u-tt u-larson u-xm u-every; do
  for mode in --threads-as-traced --serial; do
    expect_ok "$t $mode verify" $R "$HL_TMP/$t.hlt" --alloc unit --verify $mode
    # the allocator's statistics are measured, not NA
    if grep -Eq '^alloc_transfers +[0-9]' "$HL_TMP/out" && grep -Eq '^alloc_bytes_mapped +[0-9]' "$HL_TMP/out"; then pass
    else fail "$t $mode: unit stats missing"; sed 's/^/    /' "$HL_TMP/out" | head -40 >&2; fi
  done
done
finish test_unit.sh
