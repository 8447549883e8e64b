"""plots/bench_stats.py: the statistics every table, figure and claim of a run uses.

One definition, shared by plots/bench_plots.py, paper/make_numbers.py and
paper/claims.py, so a ratio means the same thing wherever it is printed:

  ratio of one workload   median(A) / median(B) over the cell's ok runs, the runs of
                          A and B paired by the seed of their trace (hlbench's
                          vary_seed: repeat r replays seed + r - 1) or, in a run made
                          without it, by repeat number
  geometric mean          exp(mean over workloads of log(ratio)): every workload
                          weighs the same, whatever its event count or its scale
  ratio of sums           sum over workloads of median(A) / the same of B, on counts
                          per 1000 trace events: the aggregate a large workload
                          dominates, shown beside the geometric mean, never instead
  confidence interval     95% percentile bootstrap: the seeds of each workload are
                          resampled with replacement (the same seeds for A and B, so
                          the pairing is kept), the statistic recomputed, 2000 times,
                          with a fixed generator seed, so a rerun prints the same
                          interval for the same data
  counts                  a simulator count (a `sim_*` column; the caller passes the
                          raw counts, equal traces making equal event counts) gets 1
                          added to each median before a ratio of one workload, so that a zero count on one side (no transfers on one
                          thread) is a large finite ratio instead of an infinite one,
                          and 0 / 0 is 1 (the same)

A workload whose cells lack a value on either side is left out of a geometric mean
and named by the caller (never counted as a ratio of 1).
"""
import math
import random
import statistics

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261207
CONFIDENCE = 0.95


def is_count(metric):
    """Simulator counts get the +1 of the banner."""
    return metric.startswith("sim_")


def paired(a, b):
    """Two {pairing key: value} maps -> ([a values], [b values]) over their common
    keys, in key order; unpaired values are dropped."""
    keys = sorted(set(a) & set(b), key=str)
    return [a[k] for k in keys], [b[k] for k in keys]


def ratio_of_medians(a, b, count=False):
    """median(a) / median(b), None if either is empty or b's median is 0."""
    if not a or not b:
        return None
    ma, mb = statistics.median(a), statistics.median(b)
    if count:
        ma, mb = ma + 1, mb + 1
    return None if mb == 0 else ma / mb


def geomean(values):
    vals = [v for v in values if v is not None]
    if not vals or any(v <= 0 for v in vals):
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def _resample(pairs, rng):
    """One bootstrap draw: each workload's paired seeds resampled with replacement."""
    out = []
    for a, b in pairs:
        idx = [rng.randrange(len(a)) for _ in a]
        out.append(([a[i] for i in idx], [b[i] for i in idx]))
    return out


def bootstrap(stat, pairs, resamples=BOOTSTRAP_RESAMPLES):
    """(point, low, high) of stat(pairs) with its percentile interval; pairs is a
    list of (a values, b values) per workload, paired position by position. The
    interval is None when a workload has a single seed (nothing to resample)."""
    point = stat(pairs)
    if point is None:
        return None, None, None
    if any(len(a) < 2 for a, _ in pairs):
        return point, None, None
    rng = random.Random(BOOTSTRAP_SEED)
    draws = sorted(v for v in (stat(_resample(pairs, rng)) for _ in range(resamples))
                   if v is not None)
    if len(draws) < resamples // 2:
        return point, None, None
    lo = draws[int(len(draws) * (1 - CONFIDENCE) / 2)]
    hi = draws[min(len(draws) - 1, int(len(draws) * (1 + CONFIDENCE) / 2))]
    return point, lo, hi


def geomean_of_ratios(pairs, count=False):
    """The geometric mean over workloads of median(A)/median(B)."""
    return geomean([ratio_of_medians(a, b, count) for a, b in pairs])


def ratio_of_sums(pairs):
    """sum of median(A) / sum of median(B) over the workloads; for counts the caller
    passes rates per 1000 trace events, so that each workload weighs by its rate."""
    if not pairs or any(not a or not b for a, b in pairs):
        return None
    sa = sum(statistics.median(a) for a, _ in pairs)
    sb = sum(statistics.median(b) for _, b in pairs)
    return None if sb == 0 else sa / sb


def geomean_ci(pairs, count=False):
    """(geometric mean of ratios, low, high)."""
    return bootstrap(lambda p: geomean_of_ratios(p, count), pairs)


def ratio_ci(a, b, count=False):
    """(ratio of medians of one workload, low, high)."""
    return bootstrap(lambda p: ratio_of_medians(p[0][0], p[0][1], count), [(a, b)])


def sums_ci(pairs):
    """(ratio of sums, low, high)."""
    return bootstrap(ratio_of_sums, pairs)


def median_ci(values):
    """(median, low, high) of one cell's values: the interval of the median itself
    (error bars of a per-allocator figure)."""
    if not values:
        return None, None, None
    return bootstrap(lambda p: statistics.median(p[0][0]), [(values, values)])
