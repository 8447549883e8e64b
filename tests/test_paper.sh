# tests/test_paper.sh: paper/make_numbers.py on synthetic runs (tests/synth_bench.awk):
# with ravioli, the generated numbers and words are the ones the data imply; without,
# they are visible n/a markers, the headline count says so and --strict fails. Then
# the paper itself is built from each (when latexmk is installed: make paper-deps).
source tests/lib.sh
[ "${HL_SANITIZED:-0}" = 1 ] && { finish test_paper; exit 0; }
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  fail "Debian's python3-matplotlib is missing (make deps installs it)"; finish test_paper; exit
fi
N=paper/make_numbers.py
mkmeta() { # RUN_DIR: a meta.json as hlbench writes it, with the fields the paper uses
  cat >"$1/meta.json" <<'JSON'
{
  "run_id": "syn-1", "mode": "run", "date_utc": "2026-01-02T03:04:05Z", "elapsed_s": 600.0,
  "git": {"commit": "0123456789abcdef", "dirty": false},
  "compiler": "cc (Debian 12.2.0) 12.2.0", "cflags": "-O2 -g -std=c11 -D_GNU_SOURCE",
  "machine": {"cpu_model": "Test CPU #1 @ 3GHz", "online_cores": 16, "mem_total_kib": 16777216,
              "os_page_size_bytes": 4096, "kernel": "Linux 6.1 #1 SMP x86_64", "glibc": "2.36",
              "transparent_hugepage": "always [madvise] never", "cpu_governor": null},
  "packages": {"libjemalloc2": "5.3.0-1", "libmimalloc2.0": "2.0.9+ds-2", "libtcmalloc-minimal4": "2.10-1"},
  "hardware_counters": {"cycles_available": false, "cycles_error": "No such file or directory"},
  "served_by": {"system": "libc.so.6 (glibc 2.36)", "jemalloc": ["a", "b"]},
  "allocators_known": {"system": "glibc malloc", "ravioli": "compacted per-thread heaps_%&"},
  "runs": {"planned": 10, "done": 10, "failed": 0},
  "config_file": "harness/syn.conf",
  "config": "allocators = system jemalloc mimalloc tcmalloc arena ravioli stable unit null\nthreads = 1 2 4\nrepeats = 3\npage_sizes = 0 4K 32K 256K 2M\nworkload larson = gen larson --rounds 5  # comment\nworkload xmalloc = gen xmalloc --size 64\n"
}
JSON
}
macro() { sed -n "s/^\\\\newcommand{\\\\$2}{\\(.*\\)}\$/\\1/p" "$1/numbers.tex"; }

# ---- with ravioli: every headline present ----
full="$HL_TMP/full"; mkdir -p "$full"
awk -f tests/synth_bench.awk >"$full/bench.csv"; mkmeta "$full"
expect_ok "plots" /usr/bin/python3 plots/bench_plots.py "$full" --out "$HL_TMP/ffigs"
expect_ok "numbers" /usr/bin/python3 $N "$full" --figures "$HL_TMP/ffigs" --out "$HL_TMP/fgen" --strict
g="$HL_TMP/fgen"
# larson t=4: ravioli 1.2 * 4 * 1.10 s over jemalloc's 0.8 * 4 * 1.10 s
expect_eq "time ratio" "$(macro "$g" RavioliVsJemallocTimeRatio)" "1.50"
expect_eq "time word" "$(macro "$g" RavioliVsJemallocTimeWord)" "slower"
expect_eq "larson threads" "$(macro "$g" LarsonThreads)" "4"
expect_eq "LLC ratio (50t / 100t)" "$(macro "$g" RavioliVsJemallocLlcRatio)" "0.50"
expect_eq "LLC word" "$(macro "$g" RavioliVsJemallocLlcWord)" "fewer"
expect_eq "dTLB ratio (equal)" "$(macro "$g" RavioliVsJemallocDtlbRatio)" "1.00"
expect_eq "dTLB word (a tie)" "$(macro "$g" RavioliVsJemallocDtlbWord)" "about the same"
expect_eq "transfers ratio (40*6t / 40*2t)" "$(macro "$g" RavioliVsJemallocTransfersRatio)" "3.00"
expect_eq "transfers word" "$(macro "$g" RavioliVsJemallocTransfersWord)" "more"
expect_eq "sweep small page" "$(macro "$g" SweepSmallPage)" "4~KiB"
expect_eq "sweep large page" "$(macro "$g" SweepLargePage)" "2~MiB"
expect_eq "sweep dTLB at 4K (3000 per 400000 events)" "$(macro "$g" SweepDtlbSmall)" "7.50"
expect_eq "sweep dTLB at 2M" "$(macro "$g" SweepDtlbLarge)" "0.75"
expect_eq "sweep RSS growth at 2M ((8192 + 2048 - 1024) KiB)" "$(macro "$g" SweepRssLarge)" "9.00"
expect_eq "sweep RSS growth at 4K ((8192 + 4 - 1024) KiB)" "$(macro "$g" SweepRssSmall)" "7.00"
expect_eq "sweep mapped at 2M (1 MiB + 8 MiB)" "$(macro "$g" SweepMappedLarge)" "9.00"
expect_eq "no headline missing" "$(macro "$g" MissingHeadlines)" "0"
# the preset's geometry, from sim/presets/skylake.conf (sim_config names it first)
expect_eq "preset name" "$(macro "$g" SimPreset)" "skylake"
expect_eq "preset cores" "$(macro "$g" SimPresetCores)" "$(sed -n 's/^cores *= *\([0-9]*\).*/\1/p' sim/presets/skylake.conf)"
# geometric mean over the 6 cells of jemalloc / glibc: 0.8 everywhere
expect_eq "jemalloc vs glibc" "$(macro "$g" TimeVsGlibcJemalloc)" "0.80"
expect_eq "fastest baseline" "$(macro "$g" FastestBaseline)" "mimalloc"
expect_eq "cores from meta.json" "$(macro "$g" OnlineCores)" "16"
expect_eq "TeX specials escaped" "$(macro "$g" CpuModel)" 'Test CPU \#1 @ 3GHz'
expect_eq "false-sharing share of ravioli (60 of 960)" "$(macro "$g" FalseSharingShareRavioli)" '6\%'
grep -q "ravioli.*slower" <<<"$(macro "$g" ConclusionRavioli)" && pass || fail "conclusion does not say slower"
grep -q '\\nodata' "$g/numbers.tex" && fail "n/a in a complete run: $(grep nodata "$g/numbers.tex" | head -3)" || pass
grep -q "includegraphics.*page_size_sweep.pdf" "$g/figures.tex" && pass || fail "sweep figure not included"
grep -q "^\\\\texttt{larson} & 4 & " "$g/workloads.tex" && pass || fail "workloads table: $(cat "$g/workloads.tex")"

# ---- without ravioli: n/a, counted, --strict fails ----
part="$HL_TMP/part"; mkdir -p "$part"
awk -v ravioli=0 -f tests/synth_bench.awk >"$part/bench.csv"; mkmeta "$part"
expect_ok "plots without ravioli" /usr/bin/python3 plots/bench_plots.py "$part" --out "$HL_TMP/pfigs"
expect_ok "numbers without ravioli" /usr/bin/python3 $N "$part" --figures "$HL_TMP/pfigs" --out "$HL_TMP/pgen"
g="$HL_TMP/pgen"
grep -q "n/a HEADLINE .RavioliVsJemallocTimeRatio: no ravioli rows" "$HL_TMP/err" && pass ||
  fail "missing headline not reported on stderr"
expect_eq "time ratio is n/a" "$(macro "$g" RavioliVsJemallocTimeRatio)" '\nodata{no ravioli rows}'
[ "$(macro "$g" MissingHeadlines)" -gt 0 ] 2>/dev/null && pass || fail "MissingHeadlines not > 0"
grep -q "FigPageSizeSweep.*nofigure{no allocator ran at two or more" "$g/figures.tex" && pass ||
  fail "missing sweep figure not explained"
expect_eq "the others still there" "$(macro "$g" TimeVsGlibcJemalloc)" "0.80"
expect_fail "--strict with a missing headline" "headline values missing" \
  /usr/bin/python3 $N "$part" --figures "$HL_TMP/pfigs" --out "$HL_TMP/sgen" --strict
expect_fail "no run" "no such file" /usr/bin/python3 $N "$HL_TMP/nothing" --out "$HL_TMP/x"

# ---- the PDF, from both (once: the sanitized builds share this script, not C code) ----
if [ "${HL_SANITIZED:-0}" = 1 ]; then
  :
elif ! command -v latexmk >/dev/null; then
  fail "latexmk not installed (make paper-deps; make test installs it)"
else
  for which in full part; do
    d="$HL_TMP/tex-$which"; mkdir -p "$d"
    cp paper/paper.tex "$d/" && cp -r "$HL_TMP/${which:0:1}gen" "$d/gen"
    expect_ok "latexmk ($which)" sh -c "cd '$d' && latexmk -pdf -interaction=nonstopmode -halt-on-error paper.tex"
    [ -s "$d/paper.pdf" ] && pass || fail "no PDF ($which)"
  done
fi
finish test_paper
