#!/usr/bin/python3
"""paper/figures.py: the figures of the paper's second edition, from one results run.

Writes PDF (for LaTeX) and PNG into OUT (default paper/gen/figures/):
  ratios     forest plots, one panel per metric: ravioli's ratio to arena, jemalloc,
             mimalloc and tcmalloc on every workload (simulated L1D, LLC and dTLB
             misses, cross-core transfers, false-sharing misses at each workload's
             largest simulated thread count; native wall time and peak RSS growth at
             its largest native thread count when the run has native rows), with the
             ratio of sums and the geometric mean as the last two rows
  breakdown  where each allocator's simulated work goes per workload: application and
             allocator accesses per trace event, true- and false-sharing misses per
             1000 events, and the moving allocators' moves and fixups per 1000 events
  ablation   ravioli's variants against plain ravioli (geometric mean of ratios per
             simulated metric), and the message-size workloads pipeline-msgN: transfers
             and L1D misses per 1000 events against the message size
  pagesize   the page-size sweep: dTLB and L1D misses per 1000 events against the
             allocator's page size, one line per simulated MMU page size, the other
             allocators as horizontal reference lines
  scaling    transfers and false-sharing misses per 1000 events against the simulated
             thread count, one line per allocator
Every statistic is plots/bench_stats.py's (ratios of medians paired by seed, +1 on
simulator counts, geometric means of per-workload ratios, ratios of sums of per-1000-
event rates, 95% percentile bootstrap intervals over seeds); an interval exists only
where every cell has two seeds or more, so a single-seed run is drawn as point
estimates with no error bars, and each caption says so. glibc (allocator `system`) is
simulated placement only (the application's accesses at glibc's addresses, not glibc's
own work): it is always grey with open markers and a dotted line, and named so in the
legend.

Print size: the figures are drawn at their final width, 3.4 in (one column) or 7 in
(both columns; WIDTH says which), with no text under 7 pt, and saved at exactly that
size, so LaTeX must include them at natural size (\\includegraphics without a width, or
width=\\linewidth in a figure of the matching kind) and never shrink them. A figure
whose data is absent is not drawn: the reason goes to stderr and OUT/figures.txt
(`NAME: not drawn: WHY`), and any older copy of it is removed, so no stale figure can
pass for this run's.

usage: /usr/bin/python3 paper/figures.py RUN [--out DIR]
       import: figures.draw_all(run_path, out_dir) -> {name: (pdf path or None,
               caption text or the reason it was not drawn)}
"""
import argparse
import json
import math
import os
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "plots"))
import claims  # noqa: E402
import bench_stats  # noqa: E402
from bench_plots import number  # noqa: E402

ONE_COLUMN, TWO_COLUMNS = 3.4, 7.0  # inches, the paper's column and text widths
WIDTH = {"ratios": "two columns", "breakdown": "two columns", "ablation": "two columns",
         "pagesize": "two columns", "scaling": "two columns"}
MIN_POINTS = 7.0

# Font sizes for the final width: the smallest text (ticks, legend) is 7 pt.
STYLE = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "legend.title_fontsize": 7,
    "figure.titlesize": 8, "lines.linewidth": 1.2, "lines.markersize": 4,
    "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4, "ytick.minor.width": 0.4, "grid.linewidth": 0.4,
    "pdf.fonttype": 42, "ps.fonttype": 42,  # embedded TrueType: journals reject Type 3
    "savefig.dpi": 300, "figure.constrained_layout.use": True,
}

# One colour and marker per allocator in every figure: Okabe-Ito's colour-blind-safe
# set, then Paul Tol's wine and olive for the last two variants, each chosen by hand
# so that a variant never shares its base's colour (nor is only a lighter copy of it).
STYLE_OF = {  # name: (colour, marker)
    "system": ("#7f7f7f", "o"),
    "jemalloc": ("#E69F00", "s"),
    "mimalloc": ("#56B4E9", "^"),
    "tcmalloc": ("#009E73", "v"),
    "arena": ("#CC79A7", "D"),
    "ravioli": ("#D55E00", "o"),
    "ravioli8": ("#0072B2", "X"),
    "ravioli16": ("#000000", "P"),
    "ravioli:hysteresis=0": ("#882255", "h"),
    "ravioli:remote-free=request": ("#999933", "<"),
}
ORDER = list(STYLE_OF)
FALLBACK = ["#332288", "#44AA99", "#AA4499", "#117733", "#88CCEE", "#DDCC77"]
PLACEMENT_NOTE = "placement only"
SUBJECT = "ravioli"
BASELINES = ["arena", "jemalloc", "mimalloc", "tcmalloc"]
VARIANTS = ["ravioli8", "ravioli16", "ravioli:hysteresis=0", "ravioli:remote-free=request"]

SIM_METRICS = [("sim_l1d_misses", "L1D misses"), ("sim_llc_misses", "LLC misses"),
               ("sim_dtlb_misses", "dTLB misses"), ("sim_transfers", "transfers"),
               ("sim_false_sharing", "false sharing")]
NATIVE_METRICS = [("wall_s", "wall time"), ("rss_growth_kib", "peak RSS growth")]
PER_K = "per 1000 trace events"
PLUS_ONE = "(count + 1) " + PER_K  # the +1 of bench_stats, which also lets a log axis show 0


def colour(a):
    if a in STYLE_OF:
        return STYLE_OF[a][0]
    return FALLBACK[sum(a.encode()) % len(FALLBACK)]  # stable: hash() is salted


def marker(a):
    return STYLE_OF.get(a, (None, "o"))[1]


def is_placement(a):
    return a == "system"


def label(a, sizes=None):
    if a == "system":
        return f"glibc ({PLACEMENT_NOTE})"
    if sizes and a in sizes:
        return f"{a} ({sizes[a]})"
    return a


def line_style(a, **kw):
    """Keyword arguments for ax.plot / errorbar: the allocator's colour and marker;
    glibc open and dotted (placement only), variants dashed."""
    st = dict(color=colour(a), marker=marker(a), label=kw.pop("label", label(a)))
    if is_placement(a):
        st.update(markerfacecolor="white", linestyle=":")
    elif ":" in a or a in VARIANTS:
        st.update(linestyle="--")
    st.update(kw)
    return st


def by_order(names):
    names = set(names)
    return [a for a in ORDER if a in names] + sorted(names - set(ORDER) - {"null"})


# -- reading the run --------------------------------------------------------------

def seed_of(r):
    """The pairing key claims.Run uses: the seed, or the repeat in a run without one."""
    s = r.get("seed")
    return s if s not in (None, "", "NA") else "r" + r["repeat"]


def cell_values(run, key, fn):
    """{seed: fn(row)} over the ok rows of one cell, None values left out."""
    out = {}
    for r in run.cells.get(key, []):
        v = fn(r)
        if v is not None:
            out[seed_of(r)] = v
    return out


def per_k(column, plus_one=False):
    """A row -> column per 1000 trace events (with the +1 count rule if asked)."""
    def fn(r):
        v, ev = number(r, column), number(r, "events")
        if v is None or not ev:
            return None
        return (v + (1 if plus_one else 0)) * 1000.0 / ev
    return fn


def per_event(column):
    def fn(r):
        v, ev = number(r, column), number(r, "events")
        return None if v is None or not ev else v / ev
    return fn


def native(fn):
    return lambda r: None if r.get("bench_mode") == "sim" else fn(r)


def sim_keys(run):
    """The simulated cells: (workload, threads, allocator, page, sim_page)."""
    return [k for k, rows in run.cells.items() if k[4] != 0]


def native_keys(run):
    return [k for k in run.cells if k[4] == 0]


def max_threads(keys):
    out = {}
    for w, t, *_ in keys:
        out[w] = max(out.get(w, 0), t)
    return out


def main_spage(run):
    """The simulated MMU page of the default cells: 4 KiB, claims.Run's default, when
    any cell has it, else the most common."""
    pages = [k[4] for k in sim_keys(run)]
    if not pages or 4096 in pages:
        return 4096
    return max(set(pages), key=pages.count)


def uncertainty(counts, drawn="whiskers"):
    """The caption's sentence on seeds and intervals, from the seed counts of the cells
    drawn: how many, and what the whiskers (or bands) are, or that there are none."""
    counts = [c for c in counts if c]
    if not counts:
        return ""
    lo, hi = min(counts), max(counts)
    n = f"{lo}" if lo == hi else f"{lo} to {hi}"
    text = f"{n} seed{'s' if hi > 1 else ''} per cell"
    if hi < 2:
        return text + (": no confidence interval exists with one seed, so these are point "
                       "estimates without error bars.")
    text += (f"; {drawn}: 95% percentile bootstrap intervals over the seeds "
             f"({bench_stats.BOOTSTRAP_RESAMPLES} resamples, seeds paired across allocators)")
    if lo < 2:
        text += ", where every cell of the statistic has two seeds or more (the others: none)"
    return text + "."


def span(ns):
    """'19' or '17 to 19'."""
    ns = sorted(ns)
    return "no" if not ns else str(ns[0]) if ns[0] == ns[-1] else f"{ns[0]} to {ns[-1]}"


def threads_phrase(ts):
    ts = sorted(set(ts))
    if len(ts) == 1:
        return f"thread count {ts[0]}"
    return f"thread count ({', '.join(map(str, ts[:-1]))} or {ts[-1]}, by workload)"


def capture_phrase(run, allocators):
    """Which of the drawn allocators the simulator saw fully, which placement only."""
    cap = defaultdict(set)
    for k in sim_keys(run):
        if k[2] in allocators:
            for r in run.cells[k]:
                cap[k[2]].add(r.get("sim_capture") or "?")
    part = sorted(a for a, c in cap.items() if c != {"full"})
    full = [a for a in by_order(cap) if a not in part]
    text = ("simulated with every access captured (the allocators' own loads and stores "
            "as well as the application's) for " + ", ".join(full or ["none"]))
    if part:
        text += ("; " + ", ".join(label(a).split(" (")[0] for a in part)
                 + " placement only (the application's accesses at the addresses it "
                   "chose, not the allocator's own work: grey, open markers, dotted)")
    return text


def sim_preset(run):
    for k in sim_keys(run):
        for r in run.cells[k]:
            return (r.get("sim_config") or "?").split(",")[0]
    return "?"


def variant_sizes(run_path):
    """{allocator: 'NN B ravioli'} from the runs' meta.json (hlreplay --list), so the
    ablation's legend says what ravioli8 and ravioli16 are."""
    out = {}
    try:
        parts = claims.run_parts(run_path)
    except claims.ClaimError:
        return out
    for part in parts:
        try:
            known = json.load(open(os.path.join(part, "meta.json"))).get("allocators_known")
        except (OSError, ValueError):
            continue
        for a, text in (known or {}).items():
            m = re.search(r"\((\d+)-byte ravioli\)", text or "")
            if m:
                out[a] = f"{m.group(1)} B ravioli"
    return out


# -- drawing helpers --------------------------------------------------------------

NICE = [m * 10 ** e for e in range(-4, 8) for m in (1, 2, 5)]


def log_ticks(ax, axis, lo, hi, most=5):
    """Labelled ticks at 1-2-5 values inside [lo, hi] (at most `most`), so that a narrow
    log range still shows numbers; minor ticks off (their labels would be unreadable)."""
    inside = [v for v in NICE if lo <= v <= hi]
    if len(inside) > most:  # decades only, every k-th one counted from 1
        decades = [v for v in inside if f"{v:g}".lstrip("0.").startswith("1")]
        step = math.ceil(len(decades) / most)
        inside = [v for v in decades if round(math.log10(v)) % step == 0] or decades[:1]
    if len(inside) < 2:  # a range inside one 1-2-5 step: its two ends
        inside = [lo, hi]
    # powers of ten far from 1 as 10^k: "10000" beside "100" runs into its neighbour
    fmt = [f"$10^{{{round(math.log10(v))}}}$"
           if (v >= 1e4 or v < 1e-2) and f"{v:g}".lstrip("0.").startswith("1") else f"{v:g}"
           for v in inside]
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(inside))
    target.set_ticklabels(fmt)
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


def log_limits(values, pad=1.6):
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not vals:
        return 0.5, 2.0
    return min(vals) / pad, max(vals) * pad


def legend_axis(fig, ax, handles, labels, ncol):
    """The shared legend in its own axis at the top (constrained layout of matplotlib
    3.6 ignores a figure legend, so it would overlap the panels)."""
    ax.axis("off")
    ax.legend(handles, labels, loc="center", ncol=ncol, frameon=False, handlelength=2.2,
              columnspacing=1.2, borderaxespad=0)


def check_print(fig, name):
    """Warn (stderr) about text under 7 pt or outside the canvas: the two complaints
    the first edition's figures got. Returns the warnings."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    warnings = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if t.get_fontsize() < MIN_POINTS - 0.01:
            warnings.append(f"'{t.get_text()[:30]}' is {t.get_fontsize():.1f} pt")
        e = t.get_window_extent(renderer)
        if e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1:
            warnings.append(f"'{t.get_text()[:30]}' is cut off at the edge")
    for w in warnings:
        print(f"figures: {name}: {w}", file=sys.stderr)
    return warnings


class Report:
    """What was drawn (and its caption) and what was not (and why)."""

    def __init__(self, out):
        self.out = out
        self.result = {}

    def drawn(self, name, fig, caption):
        check_print(fig, name)
        for ext in ("pdf", "png"):
            fig.savefig(os.path.join(self.out, f"{name}.{ext}"))  # exact size: no "tight"
        plt.close(fig)
        pdf = os.path.join(self.out, name + ".pdf")
        self.result[name] = (pdf, caption)
        print(f"figures: wrote {pdf} and .png", file=sys.stderr)

    def skipped(self, name, why):
        for ext in ("pdf", "png"):  # an older copy must not pass for this run's figure
            path = os.path.join(self.out, f"{name}.{ext}")
            if os.path.exists(path):
                os.remove(path)
        self.result[name] = (None, why)
        print(f"figures: {name}: not drawn: {why}", file=sys.stderr)

    def write(self):
        with open(os.path.join(self.out, "figures.txt"), "w") as f:
            for name, (path, text) in self.result.items():
                state = "drawn" if path else "not drawn"
                f.write(f"{name}: {state}: {' '.join(text.split())}\n")


def point_ci(stat):
    """bench_stats' (point, lo, hi) -> (point, [[below], [above]] or None)."""
    p, lo, hi = stat
    if p is None:
        return None, None
    if lo is None or hi is None:
        return p, None
    return p, (max(0.0, p - lo), max(0.0, hi - p))


def errorbar(ax, x, y, err, horizontal, **style):
    """One point with its interval whisker (none when err is None)."""
    kw = dict(linestyle="none", capsize=0, elinewidth=0.9, markersize=style.pop("ms", 4))
    kw.update(style)
    if horizontal:
        ax.errorbar([x], [y], xerr=None if err is None else [[err[0]], [err[1]]], **kw)
    else:
        ax.errorbar([x], [y], yerr=None if err is None else [[err[0]], [err[1]]], **kw)


# -- figure 1: ratios -------------------------------------------------------------

def ratio_rows(run, metric, workloads, base, threads_of, spage):
    """Per workload: (ratio, err, seeds) of ravioli / base; plus the geometric mean's
    and the ratio of sums' (point, err) and the workloads they cover."""
    count = bench_stats.is_count(metric)
    per_w, pairs, rate_pairs = {}, [], []
    for w in workloads:
        t = threads_of.get(w)
        if t is None:
            continue
        ka, kb = (w, t, SUBJECT, 0, spage), (w, t, base, 0, spage)
        if count:
            fn, rate = (lambda r, m=metric: number(r, m)), per_k(metric)
        elif metric == "wall_s":
            fn, rate = native(lambda r: number(r, "wall_s")), native(per_k("wall_s"))
        else:  # rss growth: memory is not a per-event quantity, so the sums are of KiB
            fn = rate = native(lambda r: claims.derived(r, "rss_growth_kib"))
        va = cell_values(run, ka, fn)
        a, b = bench_stats.paired(va, cell_values(run, kb, fn))
        ra, rb = bench_stats.paired(cell_values(run, ka, rate), cell_values(run, kb, rate))
        if not a:
            continue
        p, err = point_ci(bench_stats.ratio_ci(a, b, count))
        if p is None or p <= 0:  # a zero or negative RSS growth has no log ratio
            continue
        per_w[w] = (p, err, len(a))
        # The summary rows cover the generated workloads (those with seeds), as the
        # paper's tables do: a recorded trace is one run, with nothing to resample.
        if any(not str(k).startswith("r") for k in va):
            pairs.append((a, b))
            rate_pairs.append((ra, rb))
    gm = point_ci(bench_stats.geomean_ci(pairs, count)) if pairs else (None, None)
    sums = point_ci(bench_stats.sums_ci(rate_pairs)) if rate_pairs else (None, None)
    return per_w, gm, sums


def fig_ratios(run, rep):
    name = "ratios"
    skeys, nkeys = sim_keys(run), native_keys(run)
    spage = main_spage(run)
    sim_t, nat_t = max_threads([k for k in skeys if k[4] == spage]), max_threads(nkeys)
    present = {k[2] for k in run.cells}
    bases = [b for b in BASELINES if b in present]
    if SUBJECT not in present or not bases:
        rep.skipped(name, f"the run has no {SUBJECT} rows, or none of "
                          f"{', '.join(BASELINES)} to compare it with")
        return
    panels = []  # (title, metric, {base: rows})
    for metric, title in SIM_METRICS + NATIVE_METRICS:
        sim = metric.startswith("sim_")
        tmap, sp = (sim_t, spage) if sim else (nat_t, 0)
        ws = sorted(tmap)
        res = {b: ratio_rows(run, metric, ws, b, tmap, sp) for b in bases}
        if any(r[0] for r in res.values()):
            panels.append((title + (" (sim.)" if sim else " (native)"), metric, res))
    if not panels:
        rep.skipped(name, f"no workload has both {SUBJECT} and a baseline with a simulated "
                          f"or native metric")
        return
    workloads = sorted({w for _, _, res in panels for r in res.values() for w in r[0]})
    rows = workloads + ["ratio of sums", "geometric mean"]
    ypos = {r: len(rows) - 1 - i for i, r in enumerate(rows)}  # first workload on top
    ncols = min(4, len(panels) + 1)  # +1: a slot for the legend when there is room
    nrows = math.ceil((len(panels) + 1) / ncols)
    panel_h = 0.115 * len(rows) + 0.55
    fig = plt.figure(figsize=(TWO_COLUMNS, panel_h * nrows + 0.25))
    gs = fig.add_gridspec(nrows, ncols)
    axes = [fig.add_subplot(gs[i // ncols, i % ncols]) for i in range(len(panels))]
    dodge = {b: (i - (len(bases) - 1) / 2) * 0.17 for i, b in enumerate(bases)}
    seeds = []
    for i, (ax, (title, metric, res)) in enumerate(zip(axes, panels)):
        xs = []
        ax.axhspan(-0.5, 1.5, color="#eeeeee", zorder=0, linewidth=0)
        ax.axhline(1.5, color="black", linewidth=0.5)
        for b in bases:
            per_w, gm, sums = res[b]
            st = dict(color=colour(b), marker=marker(b))
            for w, (p, err, n) in per_w.items():
                errorbar(ax, p, ypos[w] + dodge[b], err, True, ms=3.2, **st)
                xs += [p] + ([p - err[0], p + err[1]] if err else [])
                seeds.append(n)
            for row, (p, err), big in (("ratio of sums", sums, False),
                                       ("geometric mean", gm, True)):
                if p is None:
                    continue
                errorbar(ax, p, ypos[row] + dodge[b], err, True, ms=5 if big else 4,
                         markerfacecolor=colour(b) if big else "white",
                         elinewidth=1.4 if big else 0.9, **st)
                xs += [p] + ([p - err[0], p + err[1]] if err else [])
        ax.axvline(1.0, color="black", linewidth=0.7, zorder=1)
        ax.set_xscale("log")
        lo, hi = log_limits(xs + [1.0])
        ax.set_xlim(lo, hi)
        log_ticks(ax, "x", lo, hi, most=4)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_yticks([ypos[r] for r in rows])
        if i % ncols == 0:
            ax.set_yticklabels(rows)
            for t in ax.get_yticklabels()[-2:]:  # the two aggregate rows
                t.set_fontweight("bold")
        else:
            ax.set_yticklabels([])
        ax.set_title(title)
        ax.set_xlabel("ratio (log scale)")
        ax.grid(axis="x", which="major", color="#dddddd")
        ax.set_axisbelow(True)
    handles = [Line2D([], [], linestyle="none", color=colour(b), marker=marker(b),
                      markersize=4, label=f"{SUBJECT} / {b}") for b in bases]
    handles += [Line2D([], [], linestyle="none", color="black", marker="o",
                       markerfacecolor="white", markersize=4, label="ratio of sums"),
                Line2D([], [], linestyle="none", color="black", marker="o", markersize=5,
                       label="geometric mean")]
    if len(panels) % ncols:  # the legend in the free slot of the last row
        lax = fig.add_subplot(gs[nrows - 1, ncols - 1])
        legend_axis(fig, lax, handles, [h.get_label() for h in handles], 1)
    else:
        axes[-1].legend(handles=handles, loc="best", frameon=True)
    sim_ts = sorted({sim_t[w] for w in workloads if w in sim_t})
    nat_ts = sorted({nat_t[w] for w in workloads if w in nat_t})
    native_drawn = any(not m.startswith("sim_") for _, m, _ in panels)
    cap = (f"Ratio of {SUBJECT} to each baseline, per workload (ratio of medians over "
           f"seeds paired by trace seed; below 1: {SUBJECT} lower), log scale. Simulated "
           f"panels: {sim_preset(run)} preset at each workload's largest simulated "
           f"{threads_phrase(sim_ts)}, counts with +1 so that a zero stays finite; "
           + capture_phrase(run, set(bases) | {SUBJECT}) + ". ")
    if native_drawn:
        cap += (f"Native panels: measured wall time of the replay loop and peak RSS "
                f"growth (peak minus start) at the largest native {threads_phrase(nat_ts)}"
                f"; the ratio of sums of wall time is of time per 1000 events, of RSS of "
                f"KiB. ")
    else:
        cap += "The run has no native rows, so wall time and RSS are not shown. "
    cap += ("Last rows: ratio of sums of rates per 1000 trace events (open) and the "
            "geometric mean (filled, shaded) over the generated workloads with both sides "
            "(the recorded traces, one run each without a seed, are shown but not "
            "summed). glibc is not a baseline here: "
            "its simulated counts are placement only. " + uncertainty(seeds))
    rep.drawn(name, fig, cap)


# -- figure 2: breakdown ----------------------------------------------------------

def dot_panel(ax, workloads, allocs, values, xlabel, title, labels):
    """A dot plot: one row per workload, the allocators dodged inside it; values[(w, a)]
    = (point, err) on a log x axis. Returns the points drawn."""
    dodge = {a: (i - (len(allocs) - 1) / 2) * (0.8 / max(1, len(allocs)))
             for i, a in enumerate(allocs)}
    xs = []
    for a in allocs:
        for i, w in enumerate(workloads):
            if (w, a) not in values:
                continue
            p, err = values[(w, a)]
            if p is None or p <= 0:
                continue
            st = dict(color=colour(a), marker=marker(a), ms=3)
            if is_placement(a):
                st["markerfacecolor"] = "white"
            errorbar(ax, p, len(workloads) - 1 - i + dodge[a], err, True, **st)
            xs += [p] + ([p - err[0], p + err[1]] if err else [])
    ax.set_xscale("log")
    lo, hi = log_limits(xs)
    ax.set_xlim(lo, hi)
    log_ticks(ax, "x", lo, hi, most=4)
    ax.set_ylim(-0.6, len(workloads) - 0.4)
    ax.set_yticks([len(workloads) - 1 - i for i in range(len(workloads))])
    ax.set_yticklabels(workloads if labels else [])  # first workload on top
    for y in range(len(workloads) - 1):  # rules between workloads, to read rows across
        ax.axhline(y + 0.5, color="#e4e4e4", linewidth=0.5, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return xs


def fig_breakdown(run, rep):
    name = "breakdown"
    spage = main_spage(run)
    keys = [k for k in sim_keys(run) if k[3] == 0 and k[4] == spage]
    tmap = max_threads(keys)
    allocs = [a for a in by_order({k[2] for k in keys}) if a not in VARIANTS and ":" not in a]
    workloads = sorted(tmap)
    if not keys or not allocs:
        rep.skipped(name, "the run has no simulated rows")
        return
    seeds = []

    def collect(fn, alloc_list, key_of):
        out = {}
        for w in workloads:
            for a in alloc_list:
                vals = list(cell_values(run, key_of(w, a), fn).values())
                if vals:
                    out[(w, a)] = point_ci(bench_stats.median_ci(vals))
                    seeds.append(len(vals))
        return out

    def skey(w, a):
        return (w, tmap[w], a, 0, spage)

    panels = [("per trace event", "application\naccesses",
               collect(per_event("sim_app_accesses"), allocs, skey), allocs),
              ("per trace event", "allocator\naccesses",
               collect(per_event("sim_alloc_accesses"),
                       [a for a in allocs if not is_placement(a)], skey),
               [a for a in allocs if not is_placement(a)]),
              ("(count + 1) per\n1000 trace events", "true-sharing\nmisses",
               collect(per_k("sim_true_sharing", True), allocs, skey), allocs),
              ("(count + 1) per\n1000 trace events", "false-sharing\nmisses",
               collect(per_k("sim_false_sharing", True), allocs, skey), allocs)]
    # The moving allocators' own counters: native rows when the run has them (the
    # brief's source), else the simulated pass's rows, whose allocator ran the same code.
    nkeys = native_keys(run)
    nat_t = max_threads(nkeys)
    movers, source = [], None
    for src, kk, tm, sp in (("native", nkeys, nat_t, 0), ("simulated", keys, tmap, spage)):
        movers = [a for a in by_order({k[2] for k in kk})
                  if any((number(r, "alloc_moves") or 0) > 0
                         for k in kk if k[2] == a for r in run.cells[k])]
        if movers:
            source = (src, tm, sp)
            break
    moves = {}
    if movers:
        src, tm, sp = source
        mover = SUBJECT if SUBJECT in movers else movers[0]
        for col, tag in (("alloc_moves", "moves"), ("alloc_fixups", "fixups")):
            for w in workloads:
                if w not in tm:
                    continue
                vals = list(cell_values(run, (w, tm[w], mover, 0, sp),
                                        per_k(col)).values())
                if vals:
                    moves[(w, tag)] = point_ci(bench_stats.median_ci(vals))
        if not moves:
            movers = []
    n = len(panels) + (1 if movers else 0)
    fig = plt.figure(figsize=(TWO_COLUMNS, 0.17 * len(workloads) + 1.35))
    gs = fig.add_gridspec(2, n, height_ratios=[0.22, 0.17 * len(workloads) + 0.9])
    axes = [fig.add_subplot(gs[1, i]) for i in range(n)]
    for i, (ax, (xl, title, vals, al)) in enumerate(zip(axes, panels)):
        dot_panel(ax, workloads, al, vals, xl, title, i == 0)
    if movers:
        ax = axes[-1]
        xs = []
        for j, tag in enumerate(["moves", "fixups"]):
            for i, w in enumerate(workloads):
                if (w, tag) not in moves:
                    continue
                p, err = moves[(w, tag)]
                if p is None or p <= 0:
                    continue
                errorbar(ax, p, len(workloads) - 1 - i + (0.15 if j == 0 else -0.15), err,
                         True, color=colour(mover), marker="^" if j == 0 else "s", ms=3,
                         markerfacecolor=colour(mover) if j == 0 else "white")
                xs += [p] + ([p - err[0], p + err[1]] if err else [])
        ax.set_xscale("log")
        lo, hi = log_limits(xs)
        ax.set_xlim(lo, hi)
        log_ticks(ax, "x", lo, hi, most=4)
        ax.set_ylim(-0.6, len(workloads) - 0.4)
        ax.set_yticks(range(len(workloads)))
        ax.set_yticklabels([])
        for y in range(len(workloads) - 1):
            ax.axhline(y + 0.5, color="#e4e4e4", linewidth=0.5, zorder=0)
        ax.set_xlabel("per 1000\ntrace events")
        where = "sim." if source[0] == "simulated" else "native"
        ax.set_title(f"{mover} moves\nand fixups ({where})")
    handles = [Line2D([], [], linestyle="none", color=colour(a), marker=marker(a),
                      markersize=4, markerfacecolor="white" if is_placement(a) else colour(a),
                      label=label(a)) for a in allocs]
    if movers:
        handles += [Line2D([], [], linestyle="none", color=colour(mover), marker="^",
                           markersize=4, label=f"{mover} moves"),
                    Line2D([], [], linestyle="none", color=colour(mover), marker="s",
                           markerfacecolor="white", markersize=4, label=f"{mover} fixups")]
    legend_axis(fig, fig.add_subplot(gs[0, :]), handles, [h.get_label() for h in handles],
                min(len(handles), 4))
    ts = sorted(set(tmap.values()))
    cap = (f"Where the simulated work goes ({sim_preset(run)} preset, each workload at its "
           f"largest simulated {threads_phrase(ts)}): medians over seeds of accesses per "
           f"trace event by the application and by the allocator's own code, and of "
           f"true- and false-sharing L2 misses per 1000 trace events (count + 1, so that "
           f"a zero is drawn at 1000/events on the log axes); "
           + capture_phrase(run, set(allocs))
           + ", so glibc has no allocator accesses. ")
    if movers:
        mts = sorted(set(source[1].values()))
        cap += (f"Right: objects {mover} moved and pointers it rewrote per 1000 trace events "
                + (f"(native runs at the largest native {threads_phrase(mts)}). "
                   if source[0] == "native" else
                   "(the simulated runs': the run has no native rows). "))
    cap += uncertainty(seeds, "whiskers (of each median)")
    rep.drawn(name, fig, cap)


# -- figure 3: ablation -----------------------------------------------------------

MSG_RE = re.compile(r"^pipeline-msg(\d+)$")


def fig_ablation(run, rep, sizes):
    name = "ablation"
    spage = main_spage(run)
    keys = [k for k in sim_keys(run) if k[3] == 0 and k[4] == spage]
    tmap = max_threads(keys)
    present = {k[2] for k in keys}
    variants = [v for v in by_order(present)
                if v in VARIANTS or (v.startswith(SUBJECT) and v != SUBJECT)]
    msg_ws = sorted((int(MSG_RE.match(w).group(1)), w) for w in tmap if MSG_RE.match(w))
    have_forest = SUBJECT in present and variants
    have_msg = len(msg_ws) >= 2
    if not have_forest and not have_msg:
        rep.skipped(name, f"the run has neither {SUBJECT} variants ({', '.join(VARIANTS)}) "
                          f"with plain {SUBJECT}, nor two pipeline-msgN workloads, in its "
                          f"simulated pass")
        return
    seeds, shared = [], set()
    ncol = (1 if have_forest else 0) + (2 if have_msg else 0)
    fig = plt.figure(figsize=(TWO_COLUMNS if ncol > 1 else ONE_COLUMN, 2.9))
    widths = ([1.25] if have_forest else []) + ([1, 1] if have_msg else [])
    gs = fig.add_gridspec(2, ncol, height_ratios=[0.5, 2.4], width_ratios=widths)
    col = 0
    drawn = set()
    if have_forest:
        ax = fig.add_subplot(gs[1, 0])
        col = 1
        metrics = SIM_METRICS
        dodge = {v: (i - (len(variants) - 1) / 2) * 0.17 for i, v in enumerate(variants)}
        xs = []
        for m_i, (metric, title) in enumerate(metrics):
            y0 = len(metrics) - 1 - m_i
            for v in variants:
                ws = sorted(w for w in tmap if (w, tmap[w], v, 0, spage) in run.cells
                            and (w, tmap[w], SUBJECT, 0, spage) in run.cells)
                pairs = []
                for w in ws:
                    fn = (lambda r, m=metric: number(r, m))
                    a, b = bench_stats.paired(
                        cell_values(run, (w, tmap[w], v, 0, spage), fn),
                        cell_values(run, (w, tmap[w], SUBJECT, 0, spage), fn))
                    if a:
                        pairs.append((a, b))
                        seeds.append(len(a))
                if not pairs:
                    continue
                shared.add(len(pairs))
                p, err = point_ci(bench_stats.geomean_ci(pairs, True))
                if p is None:
                    continue
                st = line_style(v)
                errorbar(ax, p, y0 + dodge[v], err, True, color=st["color"],
                         marker=st["marker"], ms=4.5)
                xs += [p] + ([p - err[0], p + err[1]] if err else [])
            if m_i:
                ax.axhline(y0 + 0.5, color="#e4e4e4", linewidth=0.5, zorder=0)
        ax.axvline(1.0, color="black", linewidth=0.7)
        ax.set_xscale("log")
        lo, hi = log_limits(xs + [1.0], pad=1.1)
        ax.set_xlim(lo, hi)
        log_ticks(ax, "x", lo, hi, most=4)
        ax.set_ylim(-0.5, len(metrics) - 0.5)
        ax.set_yticks(range(len(metrics)))
        ax.set_yticklabels([t for _, t in reversed(metrics)])
        ax.set_xlabel(f"variant / {SUBJECT}, geometric mean\nratio (log scale)")
        ax.set_title(f"{SUBJECT} variants (simulated)")
        drawn |= set(variants)
    if have_msg:
        allocs = [a for a in by_order({k[2] for k in keys if MSG_RE.match(k[0])})]
        xs_nodes = [n for n, _ in msg_ws]
        for j, (col_name, title) in enumerate((("sim_transfers", "cross-core transfers"),
                                               ("sim_l1d_misses", "L1D misses"))):
            ax = fig.add_subplot(gs[1, col + j])
            ys = []
            for a in allocs:
                pts = []
                for n, w in msg_ws:
                    vals = list(cell_values(run, (w, tmap[w], a, 0, spage),
                                            per_k(col_name, True)).values())
                    if vals:
                        seeds.append(len(vals))
                        p, err = point_ci(bench_stats.median_ci(vals))
                        pts.append((n, p, err))
                if not pts:
                    continue
                st = line_style(a, label=label(a, sizes))
                ax.plot([p[0] for p in pts], [p[1] for p in pts], markersize=3.5, **st)
                for n, p, err in pts:
                    if err:
                        ax.plot([n, n], [p - err[0], p + err[1]], color=st["color"],
                                linewidth=0.9)
                    ys += [p] + ([p - err[0], p + err[1]] if err else [])
                drawn.add(a)
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs_nodes)
            ax.set_xticklabels([str(n) for n in xs_nodes])
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlim(xs_nodes[0] / 1.6, xs_nodes[-1] * 1.6)
            ax.set_yscale("log")
            lo, hi = log_limits(ys, pad=1.3)
            ax.set_ylim(lo, hi)
            log_ticks(ax, "y", lo, hi)
            ax.set_xlabel("message size\n(nodes, log scale)")
            ax.set_ylabel(f"{title},\n{PLUS_ONE.replace('(count + 1) ', '')}")
            ax.set_title(f"{title} (simulated)")
            ax.grid(which="major", color="#e4e4e4")
    # one legend entry per allocator, in the fixed order, with its line style (the
    # variants' markers in the left panel are those of their dashed lines)
    uniq = [Line2D([], [], **line_style(a, label=label(a, sizes))) for a in by_order(drawn)]
    legend_axis(fig, fig.add_subplot(gs[0, :]), uniq, [h.get_label() for h in uniq],
                min(len(uniq), 4 if ncol > 1 else 2))
    ts = sorted({tmap[w] for w in tmap})
    cap = ""
    if have_forest:
        cap += (f"Left: each {SUBJECT} variant against plain {SUBJECT}, geometric mean over "
                f"the {span(shared)} workloads "
                f"they share of the per-workload ratio of medians (simulated counts, +1; "
                f"below 1: the variant has fewer), log scale. ")
    if have_msg:
        cap += (f"{'Right' if have_forest else 'The figure'}: the message-size workloads "
                f"pipeline-msg{{{','.join(str(n) for n, _ in msg_ws)}}} (each message of "
                f"that many 16-byte nodes sent as one), cross-core transfers and L1D "
                f"misses per 1000 trace events (median over seeds of count + 1) against "
                f"the message size. ")
    cap += (f"Simulated on the {sim_preset(run)} preset at {threads_phrase(ts)}; "
            + capture_phrase(run, present) + ". " + uncertainty(seeds))
    rep.drawn(name, fig, cap)


# -- figure 4: pagesize -----------------------------------------------------------

def human_bytes(b):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return f"{b >> shift}{unit}"
    return str(b)


def log2_x_log_y(ax, xs, xlabels, xpad, ys):
    """The sweep and scaling panels' axes: the x values themselves as ticks on a log2
    axis, a log y axis fitted to the values drawn."""
    ax.set_xscale("log", base=2)
    if xs:
        ax.set_xticks(xs)
        ax.set_xticklabels(xlabels)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(xs[0] / xpad, xs[-1] * xpad)
    ax.set_yscale("log")
    lo, hi = log_limits(ys, pad=1.4)
    ax.set_ylim(lo, hi)
    log_ticks(ax, "y", lo, hi)
    ax.grid(which="major", color="#e4e4e4")


def band(ax, xs, los, his, c):
    if all(v is not None for v in los + his):
        ax.fill_between(xs, los, his, color=c, alpha=0.18, linewidth=0)


def fig_pagesize(run, rep):
    name = "pagesize"
    keys = sim_keys(run)
    sweepers = by_order({k[2] for k in keys if k[3] != 0})
    workloads = sorted({k[0] for k in keys if k[3] != 0})
    if not workloads:
        rep.skipped(name, "the run's simulated pass has no page-size sweep (no row with "
                          "page_size_bytes != 0)")
        return
    tmap = max_threads([k for k in keys if k[0] in workloads])
    mmus = sorted({k[4] for k in keys if k[0] in workloads})
    dash = {m: ls for m, ls in zip(mmus, ["-", "--", "-.", ":"])}
    metrics = [("sim_dtlb_misses", "dTLB misses"), ("sim_l1d_misses", "L1D misses")]
    ncol = len(workloads)
    fig = plt.figure(figsize=(TWO_COLUMNS if ncol > 1 else ONE_COLUMN, 0.45 + 2.0 * 2))
    gs = fig.add_gridspec(3, ncol, height_ratios=[0.45, 2, 2])
    others = set()
    seeds, pages = [], set()
    for c, w in enumerate(workloads):
        t = tmap[w]
        for r, (col, title) in enumerate(metrics):
            ax = fig.add_subplot(gs[1 + r, c])
            ys = []
            for m in mmus:
                for a in sweepers:
                    pts = []
                    for p in sorted({k[3] for k in keys if k[0] == w and k[2] == a
                                     and k[4] == m and k[3] != 0}):
                        vals = list(cell_values(run, (w, t, a, p, m),
                                                per_k(col, True)).values())
                        if vals:
                            seeds.append(len(vals))
                            pages.add(p)
                            pts.append((p,) + point_ci(bench_stats.median_ci(vals)))
                    if not pts:
                        continue
                    x = [q[0] for q in pts]
                    y = [q[1] for q in pts]
                    ax.plot(x, y, color=colour(a), marker=marker(a), linestyle=dash[m],
                            markersize=3.5, linewidth=1.5)
                    band(ax, x, [q[1] - q[2][0] if q[2] else None for q in pts],
                         [q[1] + q[2][1] if q[2] else None for q in pts], colour(a))
                    ys += y
                # the reference lines: every allocator at its default page size
                for a in by_order({k[2] for k in keys if k[0] == w and k[4] == m}):
                    vals = list(cell_values(run, (w, t, a, 0, m), per_k(col, True)).values())
                    if not vals:
                        continue
                    seeds.append(len(vals))
                    p, err = point_ci(bench_stats.median_ci(vals))
                    others.add(a)
                    ax.axhline(p, color=colour(a), linestyle=dash[m], linewidth=0.8,
                               alpha=0.9 if not is_placement(a) else 1.0)
                    if err:
                        ax.axhspan(p - err[0], p + err[1], color=colour(a), alpha=0.12,
                                   linewidth=0)
                    ys.append(p)
            ps = sorted(pages)
            log2_x_log_y(ax, ps, [human_bytes(p) for p in ps], 1.5, ys)
            if r == 0:
                ax.set_title(f"{w} ({t} threads)")
            if r == len(metrics) - 1:
                ax.set_xlabel(f"{'/'.join(sweepers)} page size (bytes, log$_2$)")
            if c == 0:
                ax.set_ylabel(f"{title}\n(count + 1) per\n1000 trace events")
    handles = [Line2D([], [], color=colour(a), marker=marker(a), linewidth=1.5,
                      markersize=3.5, label=f"{a}, sweep") for a in sweepers]
    handles += [Line2D([], [], color=colour(a), linewidth=0.8,
                       label=(label(a) if is_placement(a) else a)
                       + (", default page" if a in sweepers else ""))
                for a in by_order(others)]
    handles += [Line2D([], [], color="black", linestyle=dash[m], linewidth=1.0,
                       label=f"MMU page {human_bytes(m)}") for m in mmus]
    legend_axis(fig, fig.add_subplot(gs[0, :]), handles, [h.get_label() for h in handles],
                min(len(handles), 4 if ncol > 1 else 2))
    cap = (f"The page-size sweep: simulated dTLB and L1D misses per 1000 trace events "
           f"(median over seeds of count + 1) against {'/'.join(sweepers)}'s page size "
           f"(log$_2$ axis), one line per simulated MMU page size "
           f"({', '.join(human_bytes(m) for m in mmus)}; line style); the other allocators, "
           f"and {'/'.join(sweepers)} at its default page size, as horizontal lines at "
           f"each MMU page size. {sim_preset(run)} preset, "
           f"{threads_phrase(tmap.values())}; " + capture_phrase(run, others | set(sweepers))
           + " (glibc's reference lines are grey). " + uncertainty(seeds, "bands"))
    rep.drawn(name, fig, cap)


# -- figure 5: scaling ------------------------------------------------------------

def fig_scaling(run, rep):
    name = "scaling"
    keys = [k for k in sim_keys(run) if k[3] == 0]
    counts = defaultdict(set)
    for k in keys:
        counts[k[0]].add(k[1])
    best = max((len(v) for v in counts.values()), default=0)
    if best < 2:
        rep.skipped(name, "no workload's simulated pass ran at two thread counts or more "
                          "(sim_threads)")
        return
    # the workloads of the widest sweep (the scaling run's 1..64, not the main run's 1, 4)
    workloads = sorted(w for w, v in counts.items() if len(v) == best)
    spages = {w: max({k[4] for k in keys if k[0] == w},
                     key=lambda p: (p == 4096, p)) for w in workloads}
    metrics = [("sim_transfers", "cross-core transfers"),
               ("sim_false_sharing", "false-sharing misses")]
    ncol = min(len(workloads), 4)
    nrow_w = math.ceil(len(workloads) / ncol)
    fig = plt.figure(figsize=(TWO_COLUMNS if ncol > 1 else ONE_COLUMN,
                              0.45 + 1.85 * 2 * nrow_w))
    gs = fig.add_gridspec(1 + 2 * nrow_w, ncol, height_ratios=[0.45] + [1.85] * 2 * nrow_w)
    allocs = by_order({k[2] for k in keys if k[0] in workloads})
    seeds, threads = [], set()
    for i, w in enumerate(workloads):
        ts = sorted(counts[w])
        threads |= set(ts)
        for r, (col, title) in enumerate(metrics):
            ax = fig.add_subplot(gs[1 + 2 * (i // ncol) + r, i % ncol])
            ys = []
            for a in allocs:
                pts = []
                for t in ts:
                    vals = list(cell_values(run, (w, t, a, 0, spages[w]),
                                            per_k(col, True)).values())
                    if vals:
                        seeds.append(len(vals))
                        pts.append((t,) + point_ci(bench_stats.median_ci(vals)))
                if not pts:
                    continue
                x, y = [q[0] for q in pts], [q[1] for q in pts]
                ax.plot(x, y, markersize=3.5, **line_style(a))
                band(ax, x, [q[1] - q[2][0] if q[2] else None for q in pts],
                     [q[1] + q[2][1] if q[2] else None for q in pts], colour(a))
                ys += y + [q[1] + q[2][1] for q in pts if q[2]] + \
                    [q[1] - q[2][0] for q in pts if q[2]]
            log2_x_log_y(ax, ts, [str(t) for t in ts], 1.3, ys)
            if r == 0:
                ax.set_title(f"{w} (simulated)")
            else:
                ax.set_xlabel("simulated cores (threads, log$_2$)")
            if i % ncol == 0:
                ax.set_ylabel(f"{title}\n(count + 1) per\n1000 trace events")
    handles = [Line2D([], [], **line_style(a)) for a in allocs]
    legend_axis(fig, fig.add_subplot(gs[0, :]), handles, [h.get_label() for h in handles],
                min(len(handles), 4 if ncol > 1 else 2))
    presets = sorted({(r.get("sim_config") or "?").split(",")[0]
                      for w in workloads for k in keys if k[0] == w for r in run.cells[k]})
    cap = (f"Scaling in the simulator: cross-core transfers and false-sharing L2 misses per "
           f"1000 trace events (median over seeds of count + 1, so that zero is drawn at "
           f"1000/events on the log axis) against the number of simulated cores, one "
           f"thread each ({', '.join(map(str, sorted(threads)))}; {', '.join(presets)} "
           f"preset). These are simulated cores, not native threads: no native run used "
           f"more cores than the machine has. " + capture_phrase(run, set(allocs))
           + ". " + uncertainty(seeds, "bands"))
    rep.drawn(name, fig, cap)


# -- entry points -----------------------------------------------------------------

FIGURES = ["ratios", "breakdown", "ablation", "pagesize", "scaling"]


def draw_all(run_path, out_dir):
    """Draw every figure of RUN into OUT_DIR; {name: (pdf path or None, caption text or
    the reason it was not drawn)}. OUT_DIR/figures.txt lists the same."""
    os.makedirs(out_dir, exist_ok=True)
    rep = Report(out_dir)
    try:
        run = claims.Run(run_path)
    except (claims.ClaimError, SystemExit) as e:  # load_rows exits on a malformed csv
        for n in FIGURES:
            rep.skipped(n, f"the run cannot be read: {e}")
        rep.write()
        return rep.result
    sizes = variant_sizes(run_path)
    with plt.rc_context(STYLE):
        if not run.cells:
            for n in FIGURES:
                rep.skipped(n, f"{run_path} has no ok rows")
        else:
            fig_ratios(run, rep)
            fig_breakdown(run, rep)
            fig_ablation(run, rep, sizes)
            fig_pagesize(run, rep)
            fig_scaling(run, rep)
    rep.write()
    return rep.result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a results run (a folder with bench.csv, or of such folders)")
    ap.add_argument("--out", default=os.path.join(HERE, "gen", "figures"))
    args = ap.parse_args()
    result = draw_all(args.run, args.out)
    for n, (path, text) in result.items():
        print(f"{n}: {path or 'not drawn'}\n    {text}")
    return 0 if any(p for p, _ in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
