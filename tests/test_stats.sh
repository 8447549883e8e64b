# tests/test_stats.sh: plots/bench_stats.py, the statistics of every table, figure and claim,
# against hand-computed cases: ratios of medians (and the +1 rule for counts), pairing by
# seed, geometric means, ratios of sums, and bootstrap intervals that contain their point,
# repeat exactly, and are absent when there is one seed.
source tests/lib.sh
[ "${HL_SANITIZED:-0}" = 1 ] && { finish test_stats; exit 0; }
st() { /usr/bin/python3 -c "import sys; sys.path.insert(0, 'plots'); import bench_stats as s; print($1)"; }

expect_eq "ratio of medians" "$(st 's.ratio_of_medians([1, 2, 3], [2, 4, 6])')" "0.5"
expect_eq "a count gets +1: (2 + 1) / (4 + 1)" "$(st 's.ratio_of_medians([1, 2, 3], [2, 4, 6], True)')" "0.6"
expect_eq "zero counts on both sides: the same" "$(st 's.ratio_of_medians([0, 0], [0, 0], True)')" "1.0"
expect_eq "zero time on one side: no ratio" "$(st 's.ratio_of_medians([1], [0])')" "None"
expect_eq "paired by key, unpaired dropped" \
  "$(st 's.paired({1: "a", 2: "b", 3: "c"}, {3: "y", 2: "x", 4: "z"})')" "(['b', 'c'], ['x', 'y'])"
expect_eq "geometric mean of 2 and 8" "$(st 's.geomean([2, 8])')" "4.0"
expect_eq "geometric mean with a zero: none" "$(st 's.geomean([2, 0])')" "None"
expect_eq "geometric mean of ratios 2 and 1/2" \
  "$(st 's.geomean_of_ratios([([2], [1]), ([1], [2])])')" "1.0"
expect_eq "ratio of sums: (1 + 3) / (2 + 2)" \
  "$(st 's.ratio_of_sums([([1, 1], [2, 2]), ([3, 3], [2, 2])])')" "1.0"
expect_eq "one seed: a point, no interval" "$(st 's.geomean_ci([([2], [1])])')" "(2.0, None, None)"
expect_eq "the same ratio at every seed: a point interval" \
  "$(st 's.ratio_ci([2, 4, 6], [1, 2, 3])')" "(2.0, 2.0, 2.0)"
# seeds whose ratios differ: the interval holds the point, has width, and repeats exactly
pairs='[([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 1.1, 1.3, 1.2, 1.9]), ([3.0, 1.0, 2.0, 2.5, 1.5], [1.0, 1.0, 1.0, 1.0, 1.0])]'
ci=$(st "s.geomean_ci($pairs)")
expect_eq "interval holds its point and has width" \
  "$(st "(lambda p, lo, hi: lo <= p <= hi and lo < hi)(*s.geomean_ci($pairs))")" "True"
expect_eq "the interval repeats exactly" "$(st "s.geomean_ci($pairs)")" "$ci"
expect_eq "ratio of sums' interval holds its point" \
  "$(st "(lambda p, lo, hi: lo <= p <= hi)(*s.sums_ci($pairs))")" "True"
finish test_stats
