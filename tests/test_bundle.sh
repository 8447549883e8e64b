# tests/test_bundle.sh: running elsewhere. HEAPLAB_BASELINE_DIR (baselines preloaded
# from a folder, as a bench bundle does) and `make bench-bundle`'s tarball contents.
# The full path (extract, build with gcc+make, run) is checked by hand: harness/BENCH.md.
source tests/lib.sh
# LD_PRELOAD of a baseline cannot work in a sanitizer build.
[ "${HL_SANITIZED:-0}" = 1 ] && { finish test_bundle; exit 0; }
lib=$(ldconfig -p | awk '$1 == "libjemalloc.so.2" && /x86-64/ { print $NF; exit }')
if [ -z "$lib" ]; then fail "libjemalloc2 not installed (make deps)"; finish test_bundle; exit; fi
gen "$HL_TMP/t.hlt" threadtest --threads 2 --iterations 2 --objects 2000 --size 32
mkdir -p "$HL_TMP/bl"
cp -L "$lib" "$HL_TMP/bl/libjemalloc.so.2"
HEAPLAB_BASELINE_DIR="$HL_TMP/bl" expect_ok "jemalloc from a baseline folder" \
  "$HL_BIN/hlreplay" "$HL_TMP/t.hlt" --alloc jemalloc --format csv -q
grep -q "libjemalloc.so.2 (jemalloc" "$HL_TMP/out" && pass || fail "served_by: $(cat "$HL_TMP/out")"
HEAPLAB_BASELINE_DIR="$HL_TMP/bl" expect_fail "a library missing from the folder" \
  "HEAPLAB_BASELINE_DIR=.*/bl but .*/bl/libmimalloc.so.2 cannot be read" \
  "$HL_BIN/hlreplay" "$HL_TMP/t.hlt" --alloc mimalloc -q
HEAPLAB_BASELINE_DIR="$HL_TMP/bl" expect_ok "glibc is never preloaded" \
  "$HL_BIN/hlreplay" "$HL_TMP/t.hlt" --alloc system --format csv -q
expect_ok "make-bundle" sh harness/bundle/make-bundle.sh "$HL_TMP/b.tar.gz"
tar -tzf "$HL_TMP/b.tar.gz" | sed 's|^[^/]*/||' >"$HL_TMP/list"
for f in run.sh README.txt COMMIT Makefile harness/bench-scaling.conf harness/hlbench.c \
         alloc/alloc.h sim/sim.c baselines/VERSIONS baselines/libjemalloc.so.2 \
         baselines/libmimalloc.so.2 baselines/libtcmalloc_minimal.so.4 \
         baselines/deps/libstdc++.so.6; do
  grep -qx "$f" "$HL_TMP/list" && pass || fail "bundle lacks $f"
done
grep -q "^tests/\|^plots/\|^paper/\|^results/" "$HL_TMP/list" && fail "bundle carries more than it needs" || pass
mkdir -p "$HL_TMP/x" && tar -xzf "$HL_TMP/b.tar.gz" -C "$HL_TMP/x"
v=$(ls "$HL_TMP"/x/*/baselines/VERSIONS)
for so in libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4; do
  grep -q "^$so lib[a-z0-9.-]* [0-9]" "$v" && pass || fail "VERSIONS has no package version for $so: $(cat "$v")"
done
cmp -s "$lib" "$(dirname "$v")/libjemalloc.so.2" && pass || fail "bundled jemalloc is not this machine's"
[ -x "$(dirname "$v")/../run.sh" ] && pass || fail "run.sh not executable"
finish test_bundle
