# tests/test_paper.sh: paper/make_numbers.py on a synthetic reference run of two parts
# (main: native and simulated rows over three seeds; ablation: a ravioli variant), whose
# ratios are known by construction: the generated summary, ablation and claims tables and
# words are the ones the data imply; without ravioli they are visible n/a markers, the
# headline count says so and --strict fails; a cell in two parts is refused. Then the
# paper itself is built from it (when latexmk is installed: make paper-deps).
source tests/lib.sh
[ "${HL_SANITIZED:-0}" = 1 ] && { finish test_paper; exit 0; }
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  fail "Debian's python3-matplotlib is missing (make deps installs it)"; finish test_paper; exit
fi
N=paper/make_numbers.py

# synth DIR [ravioli=0]: DIR/main and DIR/ablation, each with bench.csv and meta.json.
# Per seed s (1..3), with f = 1 + 0.01 s: native wall_s = speed[a] * f at 1 and 2
# threads; simulated at 4 threads: transfers = 1000 * k[a] * f, L1D misses = 5000 * k[a]
# * f, dTLB misses 300 * f, false sharing 100 * fs[a] * f; so every ratio is the same
# for every seed and its interval is a point.
synth() {
  /usr/bin/python3 - "$@" <<'PY'
import csv, json, os, sys
out, with_ravioli = sys.argv[1], len(sys.argv) < 3
speed = {"system": 1.0, "jemalloc": 1.0, "arena": 0.8, "ravioli": 1.5, "null": 0.4,
         "ravioli16": 1.2}
k = {"system": 1, "jemalloc": 1, "arena": 1, "ravioli": 2, "null": 1, "ravioli16": 1}
fs = {"system": 1, "jemalloc": 1, "arena": 4, "ravioli": 1, "null": 1, "ravioli16": 1}
cols = ["run_id", "workload", "repeat", "bench_mode", "seed", "allocator", "served_by",
        "trace", "threads", "page_size_bytes", "events", "wall_s", "events_per_s", "peak_rss_kib",
        "rss_before_kib", "sim_config", "sim_capture", "sim_app_accesses",
        "sim_alloc_accesses", "sim_l1d_misses", "sim_llc_misses", "sim_dtlb_misses",
        "sim_transfers", "sim_true_sharing", "sim_false_sharing", "status"]
parts = {"main": ["system", "jemalloc", "arena", "ravioli", "null"], "ablation": ["ravioli16"]}
for part, allocs in parts.items():
    allocs = [a for a in allocs if with_ravioli or not a.startswith("ravioli")]
    if not allocs:
        continue
    d = os.path.join(out, part)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "bench.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for s in (1, 2, 3):
            fct = 1 + 0.01 * s
            for wl in ("wa", "wb"):
                for a in allocs:
                    modes = [("sim", 4)] if part == "ablation" else \
                        [("native", 1), ("native", 2), ("sim", 4)]
                    for mode, t in modes:
                        sim = mode == "sim"
                        row = {"run_id": part, "workload": wl, "repeat": s, "bench_mode": mode,
                               "seed": s, "allocator": a, "served_by": "lib" if not sim else "NA",
                               "trace": f"traces/{wl}-t{t}-s{s}.hlt", "threads": t,
                               "page_size_bytes": 0, "events": 100000,
                               "wall_s": speed[a] * fct, "events_per_s": 1e5 / (speed[a] * fct),
                               "peak_rss_kib": 2048 + 100 * k[a],
                               "rss_before_kib": 1024, "status": "ok"}
                        for c in cols:
                            row.setdefault(c, "NA")
                        if sim:
                            row.update({
                                "sim_config": "skylake, 4 cores, 4K pages",
                                "sim_capture": "placement" if a == "system" else "full",
                                "sim_app_accesses": 100000, "sim_alloc_accesses": 50000 * k[a],
                                "sim_l1d_misses": 5000 * k[a] * fct, "sim_llc_misses": 50 * fct,
                                "sim_dtlb_misses": 300 * fct,
                                "sim_transfers": 1000 * k[a] * fct,
                                "sim_true_sharing": 10, "sim_false_sharing": 100 * fs[a] * fct})
                        w.writerow([row[c] for c in cols])
    conf = (f"allocators = {' '.join(allocs)}\nthreads = 1 2\nsim_threads = 4\nrepeats = 3\n"
            f"vary_seed = yes\nseed = 1\nsim = ../../sim/presets/skylake.conf\n"
            f"workload wa = gen threadtest --objects 10\nworkload wb = gen xmalloc --size 64\n")
    meta = {"run_id": f"syn-{part}", "date_utc": "2026-01-02T03:04:05Z", "elapsed_s": 600.0,
            "git": {"commit": "0123456789abcdef", "dirty": False},
            "compiler": "cc (Debian 12.2.0) 12.2.0", "cflags": "-O2",
            "machine": {"cpu_model": "Test CPU #1 @ 3GHz", "online_cores": 2,
                        "mem_total_kib": 16777216, "os_page_size_bytes": 4096,
                        "kernel": "Linux 6.1", "glibc": "2.36",
                        "transparent_hugepage": "madvise"},
            "packages": {"libjemalloc2": "5.3.0-1"},
            "hardware_counters": {"cycles_available": False, "cycles_error": "ENOENT"},
            "served_by": {"system": "libc.so.6"},
            "allocators_known": {"ravioli": "compacted per-thread heaps_%&"},
            "runs": {"planned": 10, "done": 10, "failed": 0},
            "config_file": f"paper/runs/{part}.conf", "config": conf}
    json.dump(meta, open(os.path.join(d, "meta.json"), "w"))
PY
}
macro() { sed -n "s/^\\\\newcommand{\\\\$2}{\\(.*\\)}\$/\\1/p" "$1/numbers.tex"; }

cat >"$HL_TMP/claims.conf" <<'CLAIMS'
group both = wa wb
transfers-more: gm_lo("sim_transfers", "ravioli", "arena", "both") > 1.9 tol 0
false-sharing-less: gm_hi("sim_false_sharing", "ravioli", "arena", "both") < 1 tol 0
slower-than-jemalloc: gm("wall_s", "ravioli", "jemalloc", "both") < 1 tol 0
CLAIMS

# ---- with ravioli: every headline present ----
full="$HL_TMP/full"; synth "$full"
g="$HL_TMP/fgen"
expect_ok "numbers" /usr/bin/python3 $N "$full" --rerun "$full" --out "$g" \
  --figures "$g/figures" --claims "$HL_TMP/claims.conf" --strict
# transfers: (2040 + 1) / (1020 + 1) at every seed; the interval is a point
expect_eq "transfers vs arena" "$(macro "$g" GmSimTransfersArena)" "2.00 [2.00, 2.00]"
expect_eq "transfers word" "$(macro "$g" GmSimTransfersArenaWord)" "more"
# false sharing: 102 / 408 (+1 each) = 0.25
expect_eq "false sharing vs arena" "$(macro "$g" GmSimFalseSharingArenaPoint)" "0.25"
expect_eq "false sharing word" "$(macro "$g" GmSimFalseSharingArenaWord)" "fewer"
# dTLB misses equal: a ratio of 1 is no difference
expect_eq "dTLB: no difference" "$(macro "$g" GmSimDtlbMissesArenaWord)" "no clear difference"
# native time at 2 threads: 1.5 / 1.0
expect_eq "time vs jemalloc" "$(macro "$g" GmWallSJemalloc)" "1.50 [1.50, 1.50]"
expect_eq "time word" "$(macro "$g" GmWallSJemallocWord)" "more"
expect_eq "workloads in the mean" "$(macro "$g" GmWallSJemallocN)" "2"
# the harness floor: null 0.4 / glibc 1.0; above it ravioli (1.5-0.4) / jemalloc (1.0-0.4)
expect_eq "floor share" "$(macro "$g" FloorShareGm)" "0.40 [0.40, 0.40]"
expect_eq "above the floor" "$(macro "$g" AboveFloorGm)" "1.83 [1.83, 1.83]"
# the variant of the ablation part against plain ravioli of the main part: 1000 / 2000
grep -q '^\\texttt{ravioli16} & 2 & 0.50 \[0.50, 0.50\]' "$g/ablation.tex" && pass ||
  fail "ablation row: $(grep ravioli16 "$g/ablation.tex")"
grep -q 'ratio of sums & 2.00 \[2.00, 2.00\]' "$g/summary.tex" && pass ||
  fail "ratio of sums row: $(grep -m1 'ratio of sums' "$g/summary.tex")"
expect_eq "claims held (reference)" "$(macro "$g" ClaimsHeldRef)" "2"
expect_eq "claims held (rerun)" "$(macro "$g" ClaimsHeldRerun)" "2"
expect_eq "the failed claim named" "$(macro "$g" ClaimsFailedRef)" "slower-than-jemalloc"
expect_eq "seeds from the config" "$(macro "$g" SeedsMain)" "1--3"
expect_eq "native threads from the config" "$(macro "$g" NativeThreads)" "1 and 2"
expect_eq "cores from meta.json" "$(macro "$g" OnlineCores)" "2"
expect_eq "TeX specials escaped" "$(macro "$g" CpuModel)" 'Test CPU \#1 @ 3GHz'
expect_eq "no headline missing" "$(macro "$g" MissingHeadlines)" "0"
grep -q '^\\texttt{glibc} .* & placement only \\tabularnewline$' "$g/allocators.tex" && pass ||
  fail "glibc not marked placement only: $(grep glibc "$g/allocators.tex")"
grep -q '^\\texttt{wa} & main, ablation & 1, 2, 4 & 100k & ' "$g/workloads.tex" && pass ||
  fail "workloads table: $(head -3 "$g/workloads.tex")"

# ---- without ravioli: n/a, counted, --strict fails ----
part="$HL_TMP/part"; synth "$part" noravioli
g="$HL_TMP/pgen"
expect_ok "numbers without ravioli" /usr/bin/python3 $N "$part" --out "$g" --figures "$g/figures" \
  --claims "$HL_TMP/claims.conf"
grep -q "n/a HEADLINE .GmSimTransfersArena: no ravioli and arena rows" "$HL_TMP/err" && pass ||
  fail "missing headline not reported on stderr"
expect_eq "transfers n/a" "$(macro "$g" GmSimTransfersArena)" '\nodata{no ravioli and arena rows for sim\_transfers}'
[ "$(macro "$g" MissingHeadlines)" -gt 0 ] 2>/dev/null && pass || fail "MissingHeadlines not > 0"
expect_eq "no rerun: n/a" "$(macro "$g" ClaimsHeldRerun)" '\nodata{no rerun}'
expect_fail "--strict fails without ravioli" "headline values missing" \
  /usr/bin/python3 $N "$part" --out "$g" --figures "$g/figures" --claims "$HL_TMP/claims.conf" --strict

# ---- a cell in two parts is an error, not a doubled count ----
dup="$HL_TMP/dup"; mkdir -p "$dup/a" "$dup/b"
cp "$full"/main/* "$dup/a/"; cp "$full"/main/* "$dup/b/"
expect_fail "a cell in two parts" "is in both" /usr/bin/python3 $N "$dup" --out "$HL_TMP/dgen"

# ---- the PDF, when the LaTeX toolchain is there ----
if command -v latexmk >/dev/null 2>&1; then
  d="$HL_TMP/tex"; mkdir -p "$d"
  cp paper/paper.tex paper/related.tex paper/refs.bib "$d/"
  cp -r "$HL_TMP/fgen" "$d/gen"
  (cd "$d" && latexmk -pdf -interaction=nonstopmode -halt-on-error -quiet paper.tex \
    >"$HL_TMP/latex.out" 2>&1)
  expect_eq "the paper builds" "$?" 0
  grep -q "Output written on paper.pdf" "$d/paper.log" && pass || fail "no PDF written"
  grep -q "Citation .* undefined" "$d/paper.log" && fail "undefined citations: $(grep -m3 'Citation' "$d/paper.log")" || pass
  grep -q "There were undefined references" "$d/paper.log" &&
    fail "undefined references: $(grep -m3 'Reference' "$d/paper.log")" || pass
else
  echo "test_paper: latexmk not installed (make paper-deps): the PDF build is not tested"
fi
finish test_paper
