#!/usr/bin/python3
"""plots/bench_plots.py: figures from one benchmark run (results/<run>/bench.csv).

Writes PNG and PDF into plots/out/<run>/:
  time_vs_glibc     median replay wall time per allocator and workload, relative to
                    glibc (system) at the same thread count, with min..max spread
  rss_vs_glibc      the same for RSS growth during the replay (peak - start)
  scaling           events per second against threads, one line per allocator
Every allocator keeps one colour in every figure. Cells that did not run ok are left
out and listed on stderr; metrics that are NA are never plotted as zero.

usage: /usr/bin/python3 plots/bench_plots.py [RUN_DIR] [--out DIR]
       (RUN_DIR defaults to the newest folder in results/)
"""
import argparse
import csv
import os
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

# One colour per allocator, everywhere (matplotlib's tab10 in a fixed order).
ALLOCATOR_ORDER = ["system", "jemalloc", "mimalloc", "tcmalloc", "arena", "ravioli",
                   "stable", "unit", "null"]
ALLOCATOR_LABEL = {"system": "glibc", "null": "null (harness floor)"}


def colour(allocator):
    tab = plt.get_cmap("tab10").colors
    if allocator in ALLOCATOR_ORDER:
        return tab[ALLOCATOR_ORDER.index(allocator) % len(tab)]
    return tab[(hash(allocator) % 3) + 7]


def label(allocator):
    return ALLOCATOR_LABEL.get(allocator, allocator)


def newest_run(results):
    runs = [os.path.join(results, d) for d in os.listdir(results)
            if os.path.isfile(os.path.join(results, d, "bench.csv"))]
    if not runs:
        sys.exit(f"bench_plots: no run with a bench.csv in {results}/ (run `make bench` first)")
    return max(runs, key=lambda d: os.path.basename(d))


def number(row, column):
    """A measured value, or None for NA (never 0)."""
    value = row.get(column, "NA")
    return None if value in ("", "NA") else float(value)


def load(run):
    path = os.path.join(run, "bench.csv")
    try:
        rows = list(csv.DictReader(open(path, newline="")))
    except OSError as e:
        sys.exit(f"bench_plots: {path}: {e.strerror}")
    needed = {"workload", "allocator", "threads", "wall_s", "events_per_s", "peak_rss_kib",
              "rss_before_kib", "status"}
    if not rows or needed - set(rows[0]):
        sys.exit(f"bench_plots: {path}: expected columns {sorted(needed)}")
    cells = defaultdict(list)  # (workload, threads, allocator) -> rows
    for r in rows:
        if not r["status"].startswith("ok"):
            print(f"bench_plots: left out {r['workload']} t={r['threads']} {r['allocator']}: "
                  f"{r['status']}", file=sys.stderr)
            continue
        cells[(r["workload"], int(r["threads"]), r["allocator"])].append(r)
    return cells


def metric(rows, fn):
    values = [v for v in (fn(r) for r in rows) if v is not None]
    return values


def rss_growth_mib(r):
    peak, before = number(r, "peak_rss_kib"), number(r, "rss_before_kib")
    return None if peak is None or before is None else (peak - before) / 1024.0


def allocators_of(cells):
    present = {k[2] for k in cells}
    return [a for a in ALLOCATOR_ORDER if a in present] + sorted(present - set(ALLOCATOR_ORDER))


def relative_bars(cells, fn, ylabel, title, out):
    """Grouped bars: each allocator's median relative to glibc's median, per cell."""
    groups = sorted({(k[0], k[1]) for k in cells})
    allocs = [a for a in allocators_of(cells) if a != "system"]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups) + 2), 4.5))
    width = 0.8 / max(1, len(allocs))
    for i, a in enumerate(allocs):
        xs, ys, lo, hi = [], [], [], []
        for g, (w, t) in enumerate(groups):
            base = metric(cells.get((w, t, "system"), []), fn)
            mine = metric(cells.get((w, t, a), []), fn)
            if not base or not mine or statistics.median(base) <= 0:
                continue  # NA stays absent, never drawn as zero
            b = statistics.median(base)
            m = statistics.median(mine) / b
            xs.append(g + (i - (len(allocs) - 1) / 2) * width)
            ys.append(m)
            lo.append(m - min(mine) / b)
            hi.append(max(mine) / b - m)
        if xs:
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, color=colour(a), label=label(a))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{w}\n{t} thr" for w, t in groups])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", ncol=2)
    save(fig, out)


def scaling(cells, out):
    workloads = sorted({k[0] for k in cells})
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4), squeeze=False)
    for ax, w in zip(axes[0], workloads):
        for a in allocators_of(cells):
            pts = []
            for t in sorted({k[1] for k in cells if k[0] == w}):
                v = metric(cells.get((w, t, a), []), lambda r: number(r, "events_per_s"))
                if v:
                    m = statistics.median(v) / 1e6
                    pts.append((t, m, m - min(v) / 1e6, max(v) / 1e6 - m))
            if pts:
                t, m, lo, hi = zip(*pts)
                ax.errorbar(t, m, yerr=[lo, hi], marker="o", capsize=2, color=colour(a),
                            label=label(a))
        ax.set_title(w)
        ax.set_xlabel("threads")
        ax.set_ylabel("million events per second")
        threads = sorted({k[1] for k in cells if k[0] == w})
        ax.set_xscale("log", base=2)
        ax.set_xticks(threads)
        ax.set_xticklabels([str(t) for t in threads])
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
    axes[0][0].legend(fontsize="small")
    fig.suptitle("Replay throughput against threads (median, min..max)")
    save(fig, out)


def save(fig, out):
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(f"{out}.{ext}", dpi=130)
    plt.close(fig)
    print(f"bench_plots: wrote {out}.png and .pdf")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", help="results/<run> folder (default: the newest)")
    ap.add_argument("--out", help="output folder (default: plots/out/<run name>)")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    run = args.run or newest_run(os.path.join(here, "..", "results"))
    out = args.out or os.path.join(here, "out", os.path.basename(os.path.normpath(run)))
    os.makedirs(out, exist_ok=True)
    cells = load(run)
    if not cells:
        sys.exit(f"bench_plots: {run}: no successful runs to plot")
    relative_bars(cells, lambda r: number(r, "wall_s"), "wall time / glibc's (lower is better)",
                  "Replay wall time relative to glibc (median, min..max)",
                  os.path.join(out, "time_vs_glibc"))
    relative_bars(cells, rss_growth_mib, "RSS growth / glibc's (lower is better)",
                  "Peak RSS growth during replay relative to glibc (median, min..max)",
                  os.path.join(out, "rss_vs_glibc"))
    scaling(cells, os.path.join(out, "scaling"))


if __name__ == "__main__":
    main()
