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


def panel_grid(count, width=3.6, height=3.0, cols=4):
    cols = min(cols, count)
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.8),
                             squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def relative_bars(cells, fn, ylabel, title, out):
    """One panel per workload; in each, bars per allocator at each thread count: the
    allocator's median relative to glibc's median in the same cell, min..max as error."""
    workloads = sorted({k[0] for k in cells})
    allocs = [a for a in allocators_of(cells) if a != "system"]
    width = 0.8 / max(1, len(allocs))
    fig, axes = panel_grid(len(workloads))
    for ax, w in zip(axes, workloads):
        threads = sorted({k[1] for k in cells if k[0] == w})
        for i, a in enumerate(allocs):
            xs, ys, lo, hi = [], [], [], []
            for g, t in enumerate(threads):
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
                ax.bar(xs, ys, width, yerr=[lo, hi], capsize=1.5, color=colour(a), label=label(a),
                       error_kw={"elinewidth": 0.7})
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(threads)))
        ax.set_xticklabels([str(t) for t in threads])
        ax.set_xlabel("threads")
        ax.set_ylabel(ylabel)
        ax.set_title(w)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize="small",
               bbox_to_anchor=(0.5, 0.995))
    fig.suptitle(title, y=0.965)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    save(fig, out, tight=False)


def scaling(cells, out):
    workloads = sorted({k[0] for k in cells})
    fig, axes = panel_grid(len(workloads))
    for ax, w in zip(axes, workloads):
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
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize="small",
               bbox_to_anchor=(0.5, 0.995))
    fig.suptitle("Replay throughput against threads (median, min..max)", y=0.965)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    save(fig, out, tight=False)


def save(fig, out, tight=True):
    if tight:
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
    relative_bars(cells, lambda r: number(r, "wall_s"), "time / glibc (lower: better)",
                  "Replay wall time relative to glibc (median, min..max)",
                  os.path.join(out, "time_vs_glibc"))
    relative_bars(cells, rss_growth_mib, "RSS growth / glibc (lower: better)",
                  "Peak RSS growth during replay relative to glibc (median, min..max)",
                  os.path.join(out, "rss_vs_glibc"))
    scaling(cells, os.path.join(out, "scaling"))


if __name__ == "__main__":
    main()
