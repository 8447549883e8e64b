#!/usr/bin/python3
"""plots/bench_plots.py: figures from one benchmark run (results/<run>/bench.csv).

Writes PNG and PDF into plots/out/<run>/:
  time_vs_glibc     median replay wall time per allocator and workload, relative to
                    glibc (system) at the same thread count, with min..max spread
  time_vs_glibc_gnuplot  the same figure drawn by gnuplot (plots/time_vs_glibc.gp)
                    from time_vs_glibc.dat, which this script writes
  rss_vs_glibc      the same for RSS growth during the replay (peak - start)
  scaling           events per second against threads, one line per allocator
  sim_cache         simulated L1D and LLC misses per 1000 trace events
  sim_tlb           simulated dTLB misses and page walks per 1000 trace events
  sim_transfers     simulated cross-core (cache-to-cache) transfers per 1000 events
  sim_sharing       those transfers split into true and false sharing (stacked)
  page_size_sweep   per allocator with a page-size sweep (ravioli): TLB misses and
                    walks, and memory in MiB (peak RSS growth, bytes the allocator
                    still mapped at the end) against the page size (log2 axis)
Every allocator keeps one colour in every figure. Cells that did not run ok are left
out and listed on stderr; metrics that are NA are never plotted as zero. A figure
whose columns are absent from bench.csv, or NA in every ok row, is not drawn: the
script says why on stderr and in figures.txt, and removes any older copy of it from
the output folder, so no stale or empty figure can pass for a result.

usage: /usr/bin/python3 plots/bench_plots.py [RUN_DIR] [--out DIR] [--no-gnuplot]
       (RUN_DIR defaults to the newest folder in results/)
"""
import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# One colour per allocator, everywhere (matplotlib's tab10 in a fixed order); the
# gnuplot figure is handed the same colours.
ALLOCATOR_ORDER = ["system", "jemalloc", "mimalloc", "tcmalloc", "arena", "ravioli",
                   "stable", "unit", "null"]
ALLOCATOR_LABEL = {"system": "glibc", "null": "null (harness floor)"}

# Figures drawn from simulator columns: name -> (title, [(column, panel label)]).
SIM_FIGURES = {
    "sim_cache": ("Simulated cache misses", [("sim_l1d_misses", "L1D misses"),
                                             ("sim_llc_misses", "LLC misses")]),
    "sim_tlb": ("Simulated TLB misses and page walks", [("sim_dtlb_misses", "dTLB misses"),
                                                        ("sim_walks", "page walks")]),
    "sim_transfers": ("Simulated cross-core cache-to-cache transfers",
                      [("sim_transfers", "cross-core transfers")]),
}


def colour(allocator):
    tab = plt.get_cmap("tab10").colors
    if ":" in allocator:  # a variant (NAME:OPTIONS): its base's colour, lighter
        base = colour(allocator.split(":", 1)[0])
        return tuple(0.55 * c + 0.45 for c in base)
    if allocator in ALLOCATOR_ORDER:
        return tab[ALLOCATOR_ORDER.index(allocator) % len(tab)]
    # Unknown names: a stable choice (Python's hash() is salted per process).
    return tab[sum(allocator.encode()) % len(tab)]


def label(allocator):
    return ALLOCATOR_LABEL.get(allocator, allocator)


def newest_run(results):
    runs = [os.path.join(results, d) for d in os.listdir(results)
            if os.path.isfile(os.path.join(results, d, "bench.csv"))]
    if not runs:
        sys.exit(f"bench_plots: no run with a bench.csv in {results}/ (run `make bench` first)")
    # hlbench names runs YYYYmmdd-HHMMSS-host, so the newest sorts last; other folders
    # (results/paper, copies) count by modification time, after every dated run.
    dated = [d for d in runs if re.match(r"\d{8}-\d{6}-", os.path.basename(d))]
    if dated:
        return max(dated, key=os.path.basename)
    return max(runs, key=lambda d: os.path.getmtime(os.path.join(d, "bench.csv")))


def number(row, column):
    """A measured value, or None for NA or an absent column (never 0)."""
    value = row.get(column)
    if value is None or value in ("", "NA"):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def page_size(row):
    """The page-size tunable of a row: 0 (the allocator's default) when NA or absent."""
    return int(number(row, "page_size_bytes") or 0)


NEEDED = {"workload", "allocator", "threads", "wall_s", "events_per_s", "peak_rss_kib",
          "rss_before_kib", "status"}


def load_rows(run, quiet=False):
    """The ok rows of RUN/bench.csv and its header; failed rows are listed on stderr."""
    path = os.path.join(run, "bench.csv")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = reader.fieldnames or []
    except OSError as e:
        sys.exit(f"bench_plots: {path}: {e.strerror}")
    if not rows or NEEDED - set(header):
        sys.exit(f"bench_plots: {path}: expected columns {sorted(NEEDED)}")
    ok = []
    for r in rows:
        if not r["status"].startswith("ok"):
            if not quiet:
                print(f"bench_plots: left out {r['workload']} t={r['threads']} {r['allocator']}: "
                      f"{r['status']}", file=sys.stderr)
            continue
        ok.append(r)
    return ok, header


def is_simulated(r):
    """A row of hlbench's simulated pass (bench_mode=sim): its wall time is the
    simulator's, so it feeds the simulator figures, never the timing ones."""
    return r.get("bench_mode") == "sim"


def cells_of(rows, simulated=True):
    """(workload, threads, allocator) -> rows at the allocator's default page size.
    Rows of a page-size sweep (page_size_bytes != 0) go to page_size_sweep only;
    simulated rows only when `simulated`."""
    cells = defaultdict(list)
    for r in rows:
        if page_size(r) == 0 and (simulated or not is_simulated(r)):
            cells[(r["workload"], int(r["threads"]), r["allocator"])].append(r)
    return cells


def load(run):
    rows, _ = load_rows(run)
    return cells_of(rows)


def metric(rows, fn):
    return [v for v in (fn(r) for r in rows) if v is not None]


def rss_growth_mib(r):
    peak, before = number(r, "peak_rss_kib"), number(r, "rss_before_kib")
    return None if peak is None or before is None else (peak - before) / 1024.0


def allocators_of(cells):
    present = {k[2] for k in cells}
    return [a for a in ALLOCATOR_ORDER if a in present] + sorted(present - set(ALLOCATOR_ORDER))


def panel_grid(count, width=3.6, height=3.0, cols=4):
    cols = max(1, min(cols, count))
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.8),
                             squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def shared_legend(fig, axes, title, bottom_in=0.0):
    handles, labels = [], []
    for ax in axes:  # the union, first seen first, so no allocator is missing from it
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    # Title first, legend under it, panels below both; measured in inches so that
    # short and tall figures alike keep them apart.
    height = fig.get_figheight()
    ncol = max(1, min(len(labels), 5))
    rows = (len(labels) + ncol - 1) // ncol
    fig.suptitle(title, y=1 - 0.08 / height, va="top", fontsize="medium")
    legend_top = 1 - 0.42 / height
    fig.legend(handles, labels, loc="upper center", ncol=ncol, fontsize="small",
               bbox_to_anchor=(0.5, legend_top))
    fig.tight_layout(rect=(0, bottom_in / height, 1, legend_top - (0.2 * rows + 0.02) / height))


class Report:
    """What was drawn and what was not (and why): stderr and OUT/figures.txt."""

    def __init__(self, out):
        self.out = out
        self.lines = []

    def drawn(self, name):
        self.lines.append(f"drawn {name}")
        print(f"bench_plots: wrote {os.path.join(self.out, name)}.png and .pdf")

    def skipped(self, name, why):
        for ext in ("png", "pdf"):  # an older copy must not pass for this run's figure
            path = os.path.join(self.out, f"{name}.{ext}")
            if os.path.exists(path):
                os.remove(path)
        self.lines.append(f"not drawn {name}: {why}")
        print(f"bench_plots: not drawn: {name}: {why}", file=sys.stderr)

    def write(self):
        with open(os.path.join(self.out, "figures.txt"), "w") as f:
            f.write("\n".join(self.lines) + "\n")


def save(fig, out, report, tight=True):
    if tight:
        fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(f"{out}.{ext}", dpi=130)
    plt.close(fig)
    report.drawn(os.path.basename(out))


def relative(cells, fn):
    """{workload: {threads: {allocator: (median/glibc, lo, hi)}}} for every cell where
    both the allocator and glibc have values (NA stays absent, never zero)."""
    table = defaultdict(lambda: defaultdict(dict))
    for (w, t, a), rows in cells.items():
        if a == "system":
            continue
        base = metric(cells.get((w, t, "system"), []), fn)
        mine = metric(rows, fn)
        if not base or not mine or statistics.median(base) <= 0:
            continue
        b = statistics.median(base)
        table[w][t][a] = (statistics.median(mine) / b, min(mine) / b, max(mine) / b)
    return table


def relative_bars(cells, fn, ylabel, title, out, report, what):
    """One panel per workload; in each, bars per allocator at each thread count: the
    allocator's median relative to glibc's median in the same cell, min..max as error."""
    table = relative(cells, fn)
    name = os.path.basename(out)
    if not table:
        report.skipped(name, f"no cell has both glibc (system) and another allocator with "
                             f"{what} measured")
        return table
    workloads = sorted(table)
    allocs = [a for a in allocators_of(cells) if a != "system"]
    width = 0.8 / max(1, len(allocs))
    fig, axes = panel_grid(len(workloads))
    for ax, w in zip(axes, workloads):
        threads = sorted({k[1] for k in cells if k[0] == w})
        for i, a in enumerate(allocs):
            xs, ys, lo, hi = [], [], [], []
            for g, t in enumerate(threads):
                if a not in table[w].get(t, {}):
                    continue
                m, mn, mx = table[w][t][a]
                xs.append(g + (i - (len(allocs) - 1) / 2) * width)
                ys.append(m)
                lo.append(m - mn)
                hi.append(mx - m)
            if xs:
                ax.bar(xs, ys, width, yerr=[lo, hi], capsize=1.5, color=colour(a), label=label(a),
                       error_kw={"elinewidth": 0.7})
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(threads)))
        ax.set_xticklabels([str(t) for t in threads])
        ax.set_xlabel("threads")
        ax.set_ylabel(ylabel)
        ax.set_title(w)
    shared_legend(fig, axes, title)
    save(fig, out, report, tight=False)
    return table


def gnuplot_time(cells, table, out, report):
    """time_vs_glibc again, drawn by gnuplot from a data file written here: one line per
    (workload, threads), one column per allocator, NA where there is no value."""
    name = os.path.basename(out) + "_gnuplot"
    if not table:
        report.skipped(name, "no time ratios to draw (see time_vs_glibc)")
        return
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        report.skipped(name, "gnuplot is not installed (Debian gnuplot-nox; `make deps`)")
        return
    allocs = [a for a in allocators_of(cells) if a != "system"]
    dat = out + ".dat"
    with open(dat, "w") as f:
        f.write("# time / glibc time, median over repeats; written by plots/bench_plots.py\n")
        f.write("cell " + " ".join(label(a).split()[0] for a in allocs) + "\n")
        for w in sorted(table):
            for t in sorted(table[w]):
                vals = [f"{table[w][t][a][0]:.6g}" if a in table[w][t] else "NA" for a in allocs]
                f.write(f"{w}/t{t} " + " ".join(vals) + "\n")
    colours = " ".join(to_hex(colour(a)) for a in allocs)
    script = os.path.join(HERE, "time_vs_glibc.gp")
    for term, ext in (("pngcairo size 1400,600", "png"), ("pdfcairo size 7.5in,3.6in", "pdf")):
        cmd = [gnuplot, "-e", f"datafile='{dat}'; outfile='{out}_gnuplot.{ext}'; "
                              f"term='{term}'; colours='{colours}'; n={len(allocs)}", script]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bench_plots: gnuplot failed on {script}:\n{p.stderr}")
    report.drawn(name)


def scaling(cells, out, report):
    name = os.path.basename(out)
    workloads = sorted({k[0] for k in cells if metric(cells[k], lambda r: number(r, "events_per_s"))})
    if not workloads:
        report.skipped(name, "events_per_s is NA in every ok row")
        return
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
    shared_legend(fig, axes, "Replay throughput against threads (median, min..max)")
    save(fig, out, report, tight=False)


# ---- simulator figures ----

def columns_state(rows, header, columns):
    """None when every column has a value in some ok row; otherwise why not."""
    absent = [c for c in columns if c not in header]
    if absent:
        return "column" + ("s " if len(absent) > 1 else " ") + ", ".join(absent) + \
            " absent from bench.csv"
    empty = [c for c in columns if all(number(r, c) is None for r in rows)]
    if empty:
        return ", ".join(empty) + " NA in every ok row"
    return None


def per_event(r, column):
    v, ev = number(r, column), number(r, "events")
    return None if v is None or not ev else v * 1000.0 / ev


def sim_cells(cells, columns):
    """Per workload, its largest thread count whose cells have the columns measured
    (cross-core counts need several threads): [(workload, threads)]."""
    picked = []
    for w in sorted({k[0] for k in cells}):
        threads = [t for t in sorted({k[1] for k in cells if k[0] == w})
                   if any(per_event(r, c) is not None
                          for (w2, t2, _), rows in cells.items() if (w2, t2) == (w, t)
                          for r in rows for c in columns)]
        if threads:
            picked.append((w, max(threads)))
    return picked


def sim_picked(cells, rows, header, name, columns, never, report):
    """sim_cells of a simulator figure, or None once its absence is reported:
    the columns (and events) absent or all NA, or `never` measured in one cell."""
    why = columns_state(rows, header, columns + ["events"])
    if why:
        report.skipped(name, why)
        return None
    picked = sim_cells(cells, columns)
    if not picked:
        report.skipped(name, never)
        return None
    return picked


def capture_note(cells):
    """Which access streams the simulator saw per allocator (sim_capture), and the
    simulated machine (sim_config): stated on every simulator figure."""
    caps, configs = defaultdict(set), set()
    for (_, _, a), rows in cells.items():
        for r in rows:
            if r.get("sim_capture") not in (None, "", "NA"):
                caps[r["sim_capture"]].add(label(a))
            if r.get("sim_config") not in (None, "", "NA"):
                configs.add(r["sim_config"])
    parts = [f"{c}: {', '.join(sorted(a))}" for c, a in sorted(caps.items())]
    note = "capture " + "; ".join(parts) if parts else "capture: not recorded"
    note += (". full: the allocator's own loads and stores and the application's; placement "
             "(marked bars): the application's at the addresses the allocator chose, only.")
    if configs:
        note = "simulated machine " + ", ".join(sorted(configs)) + ". " + note
    return note


def placement_only(cells, allocator):
    """Whether the simulator saw only the placement of `allocator`'s objects in
    some run (sim_capture; glibc's malloc, or a library that is not a capture
    build): its bars are marked, never shown unmarked beside full captures."""
    return any(r.get("sim_capture") == "placement"
               for (_, _, a), rows in cells.items() if a == allocator for r in rows)


def sim_label(cells, allocator):
    return label(allocator) + (" [placement only]" if placement_only(cells, allocator) else "")


def grouped_sim(ax, cells, picked, fn, allocs):
    width = 0.8 / max(1, len(allocs))
    for i, a in enumerate(allocs):
        xs, ys, lo, hi = [], [], [], []
        for g, (w, t) in enumerate(picked):
            v = metric(cells.get((w, t, a), []), fn)
            if v:
                m = statistics.median(v)
                xs.append(g + (i - (len(allocs) - 1) / 2) * width)
                ys.append(m)
                lo.append(m - min(v))
                hi.append(max(v) - m)
        if xs:
            marked = placement_only(cells, a)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=1.2, color=colour(a),
                   label=sim_label(cells, a), error_kw={"elinewidth": 0.6},
                   hatch="xx" if marked else None, edgecolor="black" if marked else None,
                   linewidth=0.3 if marked else 0)
    ax.set_xticks(range(len(picked)))
    ax.set_xticklabels([f"{w}\nt={t}" for w, t in picked], fontsize="x-small", rotation=30,
                       ha="right")


def sim_figure(cells, rows, header, name, title, panels, out, report):
    columns = [c for c, _ in panels]
    picked = sim_picked(cells, rows, header, name, columns,
                        f"{', '.join(columns)} never measured together with events", report)
    if not picked:
        return
    allocs = allocators_of(cells)
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(7, 0.9 * len(picked) + 3),
                                                      3.2 * len(panels) + 1.2), squeeze=False)
    axes = list(axes.flat)
    for ax, (col, what) in zip(axes, panels):
        grouped_sim(ax, cells, picked, lambda r, c=col: per_event(r, c), allocs)
        ax.set_ylabel(f"{what}\nper 1000 trace events")
        ax.set_ylim(bottom=0)
    fig.text(0.01, 0.005, capture_note(cells), fontsize="x-small")
    shared_legend(fig, axes, f"{title} (median over repeats, min..max; "
                             f"largest thread count per workload)", bottom_in=0.3)
    save(fig, out, report, tight=False)


def sim_sharing(cells, rows, header, out, report):
    """The sharing classes stacked per allocator. Since the simulator classifies
    every L2 miss over its copy's lifetime (sim/README.md, "Miss classes") the
    CSV has sim_alloc_reuse, and the stack is misses: true sharing, false
    sharing, allocator reuse. Older runs classified each transfer as true or
    false at the moment it happened; they are drawn as that, and say so."""
    name = os.path.basename(out)
    misses = "sim_alloc_reuse" in header
    columns = ["sim_true_sharing", "sim_false_sharing"] + (["sim_alloc_reuse"] if misses else [])
    picked = sim_picked(cells, rows, header, name, columns,
                        "the sharing classes never measured together with events", report)
    if not picked:
        return
    allocs = allocators_of(cells)
    width = 0.8 / max(1, len(allocs))
    hatches = ["", "///", "..."]
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(picked) + 3), 4.6))
    for i, a in enumerate(allocs):
        xs, stacks = [], [[] for _ in columns]
        for g, (w, t) in enumerate(picked):
            vals = [metric(cells.get((w, t, a), []), lambda r, c=c: per_event(r, c))
                    for c in columns]
            if all(vals):
                xs.append(g + (i - (len(allocs) - 1) / 2) * width)
                for k, v in enumerate(vals):
                    stacks[k].append(statistics.median(v))
        if xs:
            # placement-only bars: a dashed red outline (hatching marks the classes here)
            edge, style, lw = (("red", "--", 1.0) if placement_only(cells, a)
                               else ("black", "-", 0.3))
            bottom = [0.0] * len(xs)
            for k, stack in enumerate(stacks):
                ax.bar(xs, stack, width, bottom=bottom, color=colour(a),
                       alpha=1.0 if k == 0 else 0.45, hatch=hatches[k], edgecolor=edge,
                       linestyle=style, linewidth=lw, label=sim_label(cells, a) if k == 0 else None)
                bottom = [b + v for b, v in zip(bottom, stack)]
    names = ["solid: true sharing", "hatched: false sharing", "dotted: allocator reuse"]
    for k in range(len(columns)):
        ax.bar([0], [0], color="white", edgecolor="black", hatch=hatches[k], label=names[k])
    ax.set_xticks(range(len(picked)))
    ax.set_xticklabels([f"{w}\nt={t}" for w, t in picked], fontsize="x-small", rotation=30,
                       ha="right")
    if misses:
        ax.set_ylabel("L2 misses by sharing class\nper 1000 trace events")
        title = ("Simulated sharing misses, classified over the copy's lifetime: true sharing "
                 "(solid), false sharing (hatched), allocator reuse (dotted), medians")
    else:
        ax.set_ylabel("cache-to-cache transfers\nper 1000 trace events")
        title = ("Simulated cross-core transfers, classified when they happened (older "
                 "simulator): true sharing (solid) and false sharing (hatched), medians")
    ax.set_ylim(bottom=0)
    fig.text(0.01, 0.005, capture_note(cells), fontsize="x-small")
    shared_legend(fig, [ax], title, bottom_in=0.3)
    save(fig, out, report, tight=False)


# ---- page-size sweep ----

def sweep_rss_mib(r):
    """Peak RSS growth of a native row (a simulated row's RSS is the simulator's)."""
    return None if is_simulated(r) else rss_growth_mib(r)


def sweep_mapped_mib(r):
    """The allocator's own count of bytes mapped when the replay ended."""
    v = number(r, "alloc_bytes_mapped")
    return None if is_simulated(r) or v is None else v / (1 << 20)


def sweep_series(rows):
    """{(workload, threads, allocator): {page_size: [rows]}} for allocators run at two
    or more explicit page sizes (0, the default, cannot sit on a log axis)."""
    by = defaultdict(lambda: defaultdict(list))
    for r in rows:
        p = page_size(r)
        if p > 0:
            by[(r["workload"], int(r["threads"]), r["allocator"])][p].append(r)
    return {k: v for k, v in by.items() if len(v) >= 2}


def page_label(p):
    for unit, n in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if p >= n and p % n == 0:
            return f"{p // n}{unit}"
    return str(p)


def page_size_sweep(rows, out, report):
    name = os.path.basename(out)
    series = sweep_series(rows)
    if not series:
        report.skipped(name, "no allocator ran at two or more explicit page sizes "
                             "(page_sizes in the bench config)")
        return
    tlb_cols = [("sim_dtlb_misses", "dTLB misses", "o", "-"),
                ("sim_stlb_misses", "STLB misses", "s", "--"),
                ("sim_walks", "page walks", "^", ":")]
    # Memory against page size: the trace (so the live data) is the same at every
    # page size, so what changes is the allocator's overhead.
    mem_cols = [(sweep_rss_mib, "peak RSS growth", "s", "--"),
                (sweep_mapped_mib, "mapped at the end (allocator's count)", "o", "-")]
    # One row of panels per workload (its largest swept thread count).
    picked = {}
    for (w, t, a) in series:
        picked[w] = max(picked.get(w, 0), t)
    workloads = sorted(picked)
    have_tlb = any(per_event(r, c) is not None for s in series.values() for rs in s.values()
                   for r in rs for c, *_ in tlb_cols)
    have_mem = any(f(r) is not None for s in series.values() for rs in s.values() for r in rs
                   for f, *_ in mem_cols)
    if not have_tlb and not have_mem:
        report.skipped(name, "the sweep's rows have neither simulated TLB counts nor "
                             "native peak RSS or alloc_bytes_mapped")
        return
    kinds = [k for k, have in (("tlb", have_tlb), ("mem", have_mem)) if have]
    fig, axes = plt.subplots(len(workloads), len(kinds),
                             figsize=(5.2 * len(kinds), 3.3 * len(workloads) + 1.0), squeeze=False)
    for row_axes, w in zip(axes, workloads):
        for ax, kind in zip(row_axes, kinds):
            sizes = set()
            for (w2, t, a), by in sorted(series.items()):
                if w2 != w or t != picked[w]:
                    continue
                cols = tlb_cols if kind == "tlb" else mem_cols
                for col, what, marker, style in cols:
                    fn = (lambda r, c=col: per_event(r, c)) if kind == "tlb" else col
                    pts = [(p, statistics.median(v)) for p, rs in sorted(by.items())
                           if (v := metric(rs, fn))]
                    if pts:
                        xs, ys = zip(*pts)
                        sizes.update(xs)
                        ax.plot(xs, ys, marker=marker, linestyle=style, color=colour(a),
                                label=f"{label(a)}: {what}")
            ax.set_xscale("log", base=2)
            if sizes:
                ax.set_xticks(sorted(sizes))
                ax.set_xticklabels([page_label(p) for p in sorted(sizes)], fontsize="small")
            ax.minorticks_off()
            ax.set_xlabel("allocator page size (bytes, log2 scale)")
            if kind == "tlb":
                ax.set_ylabel("per 1000 trace events")
                ax.set_title(f"{w} t={picked[w]}: simulated TLB", fontsize="medium")
            else:
                ax.set_ylabel("MiB")
                ax.set_title(f"{w} t={picked[w]}: memory (same live data at every size)",
                             fontsize="medium")
            ax.set_ylim(bottom=0)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="x-small")
            else:
                ax.text(0.5, 0.5, "NA in this workload's rows", ha="center", va="center",
                        transform=ax.transAxes)
    fig.suptitle("Page-size sweep (medians over repeats)")
    save(fig, out, report)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", help="results/<run> folder (default: the newest)")
    ap.add_argument("--out", help="output folder (default: plots/out/<run name>)")
    ap.add_argument("--no-gnuplot", action="store_true", help="skip the gnuplot figure")
    args = ap.parse_args()
    run = args.run or newest_run(os.path.join(HERE, "..", "results"))
    out = args.out or os.path.join(HERE, "out", os.path.basename(os.path.normpath(run)))
    os.makedirs(out, exist_ok=True)
    rows, header = load_rows(run)
    cells = cells_of(rows, simulated=False)  # timing, RSS, scaling
    sim_cells_all = cells_of(rows)  # the simulator figures (native rows there are NA)
    if not rows:
        sys.exit(f"bench_plots: {run}: no successful runs to plot")
    swept = len(rows) - sum(len(v) for v in sim_cells_all.values())
    if swept:
        print(f"bench_plots: {swept} rows at an explicit page size are drawn only in "
              f"page_size_sweep", file=sys.stderr)
    report = Report(out)
    table = relative_bars(cells, lambda r: number(r, "wall_s"), "time / glibc (lower: better)",
                          "Replay wall time relative to glibc (median, min..max)",
                          os.path.join(out, "time_vs_glibc"), report, "wall_s")
    if args.no_gnuplot:
        report.skipped("time_vs_glibc_gnuplot", "--no-gnuplot given")
    else:
        gnuplot_time(cells, table, os.path.join(out, "time_vs_glibc"), report)
    relative_bars(cells, rss_growth_mib, "RSS growth / glibc (lower: better)",
                  "Peak RSS growth during replay relative to glibc (median, min..max)",
                  os.path.join(out, "rss_vs_glibc"), report, "RSS growth")
    scaling(cells, os.path.join(out, "scaling"), report)
    for name, (title, panels) in SIM_FIGURES.items():
        sim_figure(sim_cells_all, rows, header, name, title, panels, os.path.join(out, name),
                   report)
    sim_sharing(sim_cells_all, rows, header, os.path.join(out, "sim_sharing"), report)
    page_size_sweep(rows, os.path.join(out, "page_size_sweep"), report)
    report.write()


if __name__ == "__main__":
    main()
