#!/usr/bin/python3
"""paper/make_numbers.py: every number, table and data-dependent sentence of the paper,
generated from the reference run (results/paper: its parts main, ablation, pagesize,
scaling, each a results folder with bench.csv and meta.json) and the independent rerun
(results/paper-rerun) into paper/gen/.

    /usr/bin/python3 paper/make_numbers.py RUN [--rerun DIR] [--figures DIR]
        [--out paper/gen] [--claims paper/claims.conf] [--strict]

Writes:
  numbers.tex     macros: the runs' provenance (machine, commits, packages, when the
                  claims were committed), the matrix (seeds, threads, page sizes, from
                  the runs' stored configs), the simulator presets, the statistics used,
                  the headline ratios with their intervals and words
  summary.tex     table rows: per metric, ravioli against each other allocator: the
                  geometric mean of per-workload ratios [95% interval] and the ratio of
                  sums of per-1000-event rates [interval]
  ablation.tex    table rows: each ravioli variant against plain ravioli
  floor.tex       table rows: the harness floor (null) per workload, natively
  allocators.tex  table rows: allocator, what it is, served by, how each side was seen
  workloads.tex   table rows: workload, parts, threads, events, how its trace was made
  claims.tex      table rows: paper/claims.conf on the reference run and on the rerun
  figures.tex     one macro per figure of paper/figures.py: the figure, or a red box
                  with the reason it was not drawn

Statistics: plots/bench_stats.py (runs paired by seed, +1 on simulator counts, 95%
percentile bootstrap over seeds). A value the run lacks becomes \\nodata{why} (a red
"n/a (not in run)" in the PDF), never a made-up or zero number; every one is listed on
stderr. A *headline* value (abstract and conclusions) that is missing is counted in
\\MissingHeadlines and shown in a red box on the first page; --strict (make paper
STRICT=1) makes this script exit 1 instead.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "plots"))
sys.path.insert(0, HERE)
import bench_stats  # noqa: E402
import claims as claimlib  # noqa: E402
import run as paperrun  # noqa: E402

DESIGN = "ravioli"
OTHERS = ["arena", "jemalloc", "mimalloc", "tcmalloc", "system"]
LABEL = {"system": "glibc", "null": "null"}
# metric -> (row label, unit note)
SIM_METRICS = [("sim_transfers", "cross-core transfers"),
               ("sim_false_sharing", "false-sharing misses"),
               ("sim_l1d_misses", "L1D misses"),
               ("sim_llc_misses", "LLC misses"),
               ("sim_dtlb_misses", "dTLB misses"),
               ("sim_alloc_accesses", "allocator accesses")]
NATIVE_METRICS = [("wall_s", "wall time"), ("rss_growth_kib", "peak RSS growth")]
NO_DATA = r"\nodata{no ok run}"


def tex_escape(s):
    s = str(s)
    repl = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
            "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}",
            "<": r"$<$", ">": r"$>$", "|": r"$|$"}
    return "".join(repl.get(c, c) for c in s)


DIGITS = "Zero One Two Three Four Five Six Seven Eight Nine".split()


def breakable(tex):
    """Escaped text with break points after separators and inside long runs of
    letters and digits (a library's version hash), so a narrow table column can wrap."""
    tex = re.sub(r"([;,:=/-])", r"\1\\allowbreak{}", tex)
    return re.sub(r"([0-9a-f]{12})(?=[0-9a-f])", r"\1\\allowbreak{}", tex)


def macro_name(*parts):
    """CamelCase letters only, digits spelled (TeX names have no digits):
    ('sim_transfers', 'ravioli16') -> SimTransfersRavioliOneSix."""
    out = ""
    for p in parts:
        text = re.sub(r"\d", lambda m: " " + DIGITS[int(m.group())] + " ", str(p))
        for w in re.split(r"[^A-Za-z]+", text):
            out += w[:1].upper() + w[1:]
    return out


def label(a):
    return LABEL.get(a, a)


def fmt_ratio(v):
    if v is None:
        return None
    if 0 < v < 0.1:
        return f"{v:.2g}"
    return f"{v:.2f}" if v < 10 else (f"{v:.1f}" if v < 100 else f"{v:,.0f}".replace(",", "{,}"))


def fmt_ci(point, lo, hi):
    """"2.31 [1.90, 2.80]"; the interval left out when there is none (one seed)."""
    if point is None:
        return None
    if lo is None or hi is None:
        return f"{fmt_ratio(point)} [one seed]"
    return f"{fmt_ratio(point)} [{fmt_ratio(lo)}, {fmt_ratio(hi)}]"


def word(point, lo, hi, less, more):
    """The direction a ratio's interval supports: `less`, `more`, or no clear
    difference when the interval holds 1 (or there is none)."""
    if point is None:
        return None
    if lo is not None and hi is not None:
        if hi < 1:
            return less
        if lo > 1:
            return more
    return "no clear difference"


def fmt_bytes(b):
    for unit, n in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= n and b % n == 0:
            return f"{b // n}~{unit}"
    return f"{b}~bytes"


def listing(items):
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class Out:
    """Collects macros; remembers which ones are missing and which are headlines."""

    def __init__(self):
        self.macros = {}
        self.missing = []  # (macro, why, headline)

    def set(self, name, value):
        if name in self.macros:
            raise SystemExit(f"numbers: macro {name} defined twice (a bug in numbers.py)")
        self.macros[name] = value

    def na(self, name, why, headline=False):
        self.set(name, rf"\nodata{{{tex_escape(why)}}}")
        self.missing.append((name, why, headline))

    def value(self, name, v, why, headline=False):
        if v is None:
            self.na(name, why, headline)
        else:
            self.set(name, v)

    def write(self, path):
        with open(path, "w") as f:
            f.write("% paper/gen/numbers.tex: GENERATED by paper/make_numbers.py; do not edit.\n")
            for k, v in self.macros.items():
                f.write(f"\\newcommand{{\\{k}}}{{{v}}}\n")


# ---- the runs ----

class Part:
    """One part of a run (a results folder): its meta.json and its config's keys."""

    def __init__(self, path):
        self.path, self.name = path, os.path.basename(os.path.normpath(path))
        mp = os.path.join(path, "meta.json")
        try:
            self.meta = json.load(open(mp))
        except OSError as e:
            sys.exit(f"numbers: {mp}: {e.strerror}")
        except ValueError as e:
            sys.exit(f"numbers: {mp}: not JSON: {e}")
        self.keys, self.workloads = {}, []
        for line in (self.meta.get("config") or "").splitlines():
            line = re.sub(r"(^|\s)#.*", "", line).strip()
            m = re.match(r"workload\s+(\S+)\s*=\s*(.+)$", line)
            if m:
                self.workloads.append((m.group(1), m.group(2)))
            elif "=" in line:
                k, v = line.split("=", 1)
                self.keys[k.strip()] = v.strip()

    def words(self, key, default=""):
        return self.keys.get(key, default).split()


def load_parts(path):
    """The parts of a run in paper/run.py's order (main first), others after."""
    try:
        parts = [Part(p) for p in claimlib.run_parts(path)]
    except claimlib.ClaimError as e:
        sys.exit(f"numbers: {e}")
    order = {n: i for i, n in enumerate(paperrun.PARTS)}
    return sorted(parts, key=lambda p: (order.get(p.name, len(order)), p.name))


def part_named(parts, name):
    return next((p for p in parts if p.name == name), parts[0])


def seeds_text(part):
    seed, reps = int(part.keys.get("seed", "1")), int(part.keys.get("repeats", "3"))
    if part.keys.get("vary_seed") == "yes" and reps > 1:
        return f"{seed}--{seed + reps - 1}"
    return str(seed)


# ---- provenance and matrix ----

def provenance(o, parts):
    main = part_named(parts, "main")
    meta = main.meta
    mach = meta.get("machine") or {}
    o.set("RunId", tex_escape(meta.get("run_id", main.name)))
    o.set("RunDate", tex_escape(meta.get("date_utc", "unknown")[:10]))
    total = sum(p.meta.get("elapsed_s") or 0 for p in parts)
    o.set("RunElapsedMin", f"{total / 60:.0f}")
    git = meta.get("git") or {}
    o.set("RunCommit", tex_escape(str(git.get("commit", "unknown"))[:12]))
    dirty = [p.name for p in parts if (p.meta.get("git") or {}).get("dirty")]
    o.set("RunDirty", "from a clean checkout" if not dirty else
          "with uncommitted files present (" + tex_escape(", ".join(dirty)) +
          ": their meta.json lists them)")
    o.set("Compiler", tex_escape(meta.get("compiler", "unknown")))
    o.set("CompilerFlags", tex_escape(meta.get("cflags", "unknown")))
    o.set("CpuModel", tex_escape(mach.get("cpu_model") or "unknown"))
    o.value("OnlineCores", str(mach["online_cores"]) if mach.get("online_cores") else None,
            "cores not in meta.json", True)
    o.value("MemTotalGiB", f"{mach['mem_total_kib'] / 1048576:.0f}"
            if mach.get("mem_total_kib") else None, "memory not in meta.json")
    o.set("Kernel", tex_escape(mach.get("kernel") or "unknown"))
    o.set("Glibc", tex_escape(mach.get("glibc") or "unknown"))
    o.set("OsPageSize", fmt_bytes(mach["os_page_size_bytes"])
          if mach.get("os_page_size_bytes") else r"\nodata{page size}")
    o.set("Thp", tex_escape(mach.get("transparent_hugepage") or "not reported"))
    hw = meta.get("hardware_counters") or {}
    o.set("HardwareCounters", "available" if hw.get("cycles_available") is True else
          "not available (perf\\_event\\_open: " + tex_escape(hw.get("cycles_error") or
                                                           "unknown") + ")")
    pk = meta.get("packages") or {}
    for name, pkg in (("Jemalloc", "libjemalloc2"), ("Mimalloc", "libmimalloc2.0"),
                      ("Tcmalloc", "libtcmalloc-minimal4")):
        o.set(f"Pkg{name}", tex_escape(pk.get(pkg, "not recorded")))
    runs = [p.meta.get("runs") or {} for p in parts]
    for k in ("planned", "done", "failed"):
        o.set("Runs" + k.capitalize(), f"{sum(r.get(k) or 0 for r in runs):,}"
              .replace(",", "{,}"))


def git_commit_of(path_in_repo, before_iso):
    """The last commit that changed a file before a date: when the claims were fixed."""
    try:
        out = subprocess.run(["git", "-C", os.path.join(HERE, ".."), "log", "-1",
                              f"--before={before_iso}", "--format=%h %cI", "--",
                              path_in_repo], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.split() if out.returncode == 0 and out.stdout.strip() else None


def preregistration(o, parts, rerun_parts):
    """When the claims were committed against when the runs were made."""
    main = part_named(parts, "main")
    date = main.meta.get("date_utc")
    c = git_commit_of("paper/claims.conf", date) if date else None
    o.value("ClaimsCommit", tex_escape(c[0]) if c else None,
            "no git history of paper/claims.conf before the run")
    o.value("ClaimsDate", tex_escape(c[1].replace("T", " ")[:19]) if c else None,
            "no git history")
    o.set("RunDateTime", tex_escape((date or "unknown").replace("T", " ")[:19]))
    if rerun_parts:
        rm = part_named(rerun_parts, "main").meta
        o.set("RerunDateTime", tex_escape((rm.get("date_utc") or "unknown")
                                          .replace("T", " ")[:19]))
        o.set("RerunCommit", tex_escape(str((rm.get("git") or {}).get("commit", "?"))[:12]))
        o.set("RerunSeeds", seeds_text(part_named(rerun_parts, "main")))
    else:
        for k in ("RerunDateTime", "RerunCommit", "RerunSeeds"):
            o.na(k, "no rerun (make reproduce OUT=results/paper-rerun)")


def matrix(o, parts, gen):
    main = part_named(parts, "main")
    o.set("SeedsMain", seeds_text(main))
    o.set("Repeats", main.keys.get("repeats", "3"))
    o.set("NativeThreads", listing(main.words("threads", "1")))
    o.set("SimThreads", listing(main.words("sim_threads") or main.words("threads", "1")))
    by = {p.name: p for p in parts}
    if "scaling" in by:
        o.set("ScalingThreads", listing(by["scaling"].words("sim_threads")))
        o.set("ScalingMaxThreads", by["scaling"].words("sim_threads")[-1])
    else:
        o.na("ScalingThreads", "no scaling part")
        o.na("ScalingMaxThreads", "no scaling part")
    if "pagesize" in by:
        o.set("SweptPageSizes", listing(fmt_bytes(claim_size(x)) for x in
                                        by["pagesize"].words("page_sizes") if x != "0"))
        o.set("SimPageSizes", listing(fmt_bytes(claim_size(x)) for x in
                                      by["pagesize"].words("sim_page_sizes")))
    else:
        o.na("SweptPageSizes", "no pagesize part")
        o.na("SimPageSizes", "no pagesize part")
    if "ablation" in by:
        o.set("AblationVariants", listing(r"\texttt{" + tex_escape(a) + "}"
                                          for a in by["ablation"].words("allocators")))
    else:
        o.na("AblationVariants", "no ablation part")
    o.set("Parts", listing(r"\texttt{" + p.name + "}" for p in parts))
    o.set("NumParts", str(len(parts)))
    o.set("BootstrapResamples", f"{bench_stats.BOOTSTRAP_RESAMPLES:,}".replace(",", "{,}"))
    o.set("ConfidencePct", f"{bench_stats.CONFIDENCE:.0%}".replace("%", r"\%"))
    allocs = main.words("allocators")
    o.set("NumAllocators", str(len(allocs)))
    o.set("AllocatorList", listing(r"\texttt{" + tex_escape(label(a)) + "}" for a in allocs))


def claim_size(text):
    m = re.match(r"^(\d+)([KMG]?)$", text)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)] if m else 0


def tables_allocators(parts, run, gen):
    """Who is who, and how each allocator was seen (natively: which library served;
    simulated: whole or placement only)."""
    main = part_named(parts, "main")
    known = {}
    served = {}
    for p in parts:
        known.update(p.meta.get("allocators_known") or {})
        served.update(p.meta.get("served_by") or {})
    seen = {}
    for key, rows in run.cells.items():
        for r in rows:
            if r.get("bench_mode") == "sim" and r.get("sim_capture") not in (None, "", "NA"):
                seen[key[2]] = "placement only" if r["sim_capture"].startswith(
                    ("placement", "app only")) else "whole"
    allocs = []
    for p in parts:
        for a in p.words("allocators"):
            if a not in allocs:
                allocs.append(a)
    with open(os.path.join(gen, "allocators.tex"), "w") as f:
        f.write("% GENERATED by paper/make_numbers.py\n\\newcommand{\\AllocatorRows}{%\n")
        for a in allocs:
            base = a.split(":", 1)[0]
            s = served.get(a) or served.get(base)
            s = "; ".join(s) if isinstance(s, list) else s
            what = known.get(base, "").split("\t")[0]  # hlreplay --list: summary, flags
            if ":" in a:
                what = f"{what} (option {a.split(':', 1)[1]})"
            native = breakable(tex_escape(s)) if s and a in main.words("allocators") else "--"
            f.write(f"\\texttt{{{breakable(tex_escape(label(a)))}}} & {tex_escape(what)} & "
                    f"{native} & {seen.get(a, '--')} \\tabularnewline\n")
        f.write("}\n")


def tables_workloads(parts, run, gen):
    rows = {}
    for p in parts:
        for w, src in p.workloads:
            rows.setdefault(w, [src, []])[1].append(p.name)
    with open(os.path.join(gen, "workloads.tex"), "w") as f:
        f.write("% GENERATED by paper/make_numbers.py\n\\newcommand{\\WorkloadRows}{%\n")
        for w, (src, names) in rows.items():
            threads = sorted({k[1] for k in run.cells if k[0] == w})
            # A generator with rounds of threads (mstress) traces more logical threads
            # than the config asked for: the config's count is in the trace's name.
            asked = {}
            for k, rs in run.cells.items():
                if k[0] == w:
                    for r in rs:
                        m = re.search(r"-t(\d+)(-s\d+)?\.hlt$", r.get("trace") or "")
                        if m:
                            asked.setdefault(int(m.group(1)), set()).add(k[1])
            shown = ", ".join(
                str(t) + (f" ({'/'.join(map(str, sorted(lg)))} logical)"
                          if lg != {t} else "") for t, lg in sorted(asked.items())) \
                if asked else ", ".join(map(str, threads))
            ev = [claimlib.number(r, "events") for k, rs in run.cells.items()
                  if k[0] == w and k[1] == (threads[-1] if threads else 0) for r in rs]
            ev = [e for e in ev if e is not None]
            ev_tex = (f"{statistics.median(ev) / 1000:,.0f}k".replace(",", "{,}")
                      if ev else "--")
            src_tex = tex_escape(re.sub(r"^gen\s+", "", src))
            f.write(f"\\texttt{{{tex_escape(w)}}} & {', '.join(names)} & "
                    f"{shown or '--'} & {ev_tex} & "
                    f"\\texttt{{\\scriptsize {src_tex}}} \\tabularnewline\n")
        f.write("}\n")


# ---- the results ----

def group_workloads(run, mode_sim, allocs):
    """The generated workloads (the ones with seeds) every allocator of `allocs` ran in
    the mode, at the default page sizes."""
    per = {}
    for (w, t, a, p, sp), rows in run.cells.items():
        if p != 0 or sp not in (0, 4096) or a not in allocs:
            continue
        if any((r.get("bench_mode") == "sim") != mode_sim for r in rows):
            continue
        if not any(r.get("seed") not in (None, "", "NA") for r in rows):
            continue
        per.setdefault(w, set()).add(a)
    return sorted(w for w, s in per.items() if s >= set(allocs) and not w.startswith(
        ("sweep-", "scale-")))


def per_event(run, metric, workloads, a, b):
    """Pairs of per-1000-event rates (for the ratio of sums)."""
    return run.pairs("sim_per_event_" + metric, workloads, a, b)


def summary(o, run, gen):
    """The main table and the headline macros."""
    lines = []
    for metric, name in SIM_METRICS + NATIVE_METRICS:
        sim = metric.startswith("sim_")
        cells_gm, cells_sum = [], []
        for b in OTHERS:
            ws = group_workloads(run, sim, [DESIGN, b])
            if metric == "sim_alloc_accesses" and placement_only(run, b):
                # its own accesses were never seen: there is nothing to compare
                cells_gm.append("not seen")
                cells_sum.append("not seen")
                continue
            pairs = run.pairs(metric, ws, DESIGN, b) if ws else None
            count = bench_stats.is_count(metric)
            gm = bench_stats.geomean_ci(pairs, count) if pairs else (None, None, None)
            rates = per_event(run, metric, ws, DESIGN, b) if sim and ws else pairs
            sm = bench_stats.sums_ci(rates) if rates else (None, None, None)
            key = macro_name("Gm", metric, b)
            headline = b in ("arena", "jemalloc") and metric in (
                "sim_transfers", "sim_l1d_misses", "sim_dtlb_misses", "wall_s")
            o.value(key, fmt_ci(*gm), f"no {DESIGN} and {b} rows for {metric}", headline)
            o.value(key + "Word", word(*gm, "fewer" if sim else "less", "more"),
                    f"no {DESIGN} and {b} rows", headline)
            o.value(key + "Point", fmt_ratio(gm[0]), "no rows", headline)
            o.value(key + "Ci", None if gm[0] is None else
                    (f"[{fmt_ratio(gm[1])}, {fmt_ratio(gm[2])}]" if gm[1] is not None
                     else "[one seed: no interval]"), "no rows", headline)
            o.set(key + "N", str(len(ws)))
            cells_gm.append(fmt_ci(*gm) or "--")
            cells_sum.append(fmt_ci(*sm) or "--")
        lines.append(f"{name} & geo.\\ mean & " + " & ".join(cells_gm) + r" \\")
        lines.append(r" & ratio of sums & " + " & ".join(cells_sum) + r" \\[2pt]")
    with open(os.path.join(gen, "summary.tex"), "w") as f:
        f.write("% GENERATED by paper/make_numbers.py\n")
        f.write("\\newcommand{\\SummaryHead}{metric & summary & " +
                " & ".join(r"\texttt{" + label(b) + "}" for b in OTHERS) + "}\n")
        f.write("\\newcommand{\\SummaryRows}{%\n" + "\n".join(lines) + "\n}\n")


def placement_only(run, allocator):
    return any(r.get("bench_mode") == "sim" and (r.get("sim_capture") or "").startswith(
        ("placement", "app only")) for k, rows in run.cells.items() if k[2] == allocator
        for r in rows)


def groups(o, run, claims_path):
    """The claims file's named groups (messages: ravioli's design case) as macros: ravioli
    against arena, jemalloc and mimalloc on the group's transfers and false sharing."""
    try:
        named = claimlib.parse(claims_path)[0].groups
    except (claimlib.ClaimError, IndexError):
        named = {}
    for g in ("messages",):
        ws = named.get(g, [])
        for metric in ("sim_transfers", "sim_false_sharing", "sim_l1d_misses"):
            for b in ("arena", "jemalloc", "mimalloc"):
                pairs = run.pairs(metric, ws, DESIGN, b) if ws else None
                gm = bench_stats.geomean_ci(pairs, True) if pairs else (None, None, None)
                key = macro_name("Group", g, metric, b)
                o.value(key + "Point", fmt_ratio(gm[0]), f"no {g} rows")
                o.value(key + "Ci", f"[{fmt_ratio(gm[1])}, {fmt_ratio(gm[2])}]"
                        if gm[1] is not None else None, f"no interval for {g}")
        o.set(macro_name("Group", g, "Workloads"),
              listing(r"\texttt{" + tex_escape(w) + "}" for w in ws) or r"\nodata{no group}")


def miss_classes(o, run):
    """Of each allocator's coherence misses (true sharing, false sharing, allocator reuse)
    over the generated workloads, the share that is allocator reuse: lines another
    thread wrote and the allocator handed out again."""
    for a in (DESIGN, "arena", "jemalloc"):
        ws = group_workloads(run, True, [a])
        tot = {c: sum(run.median(c, w, a) or 0 for w in ws)
               for c in ("sim_true_sharing", "sim_false_sharing", "sim_alloc_reuse")}
        all_ = sum(tot.values())
        o.value(macro_name("ReuseShare", a), f"{100 * tot['sim_alloc_reuse'] / all_:.0f}\\%"
                if all_ else None, f"no {a} coherence misses")


# The variants paper.tex names: their macros exist (n/a when absent) in every build.
PAPER_VARIANTS = ["ravioli8", "ravioli16", "ravioli:hysteresis=0", "ravioli:keep=1024",
                  "ravioli:remote-free=request"]


def ablation(o, run, gen):
    present = {k[2] for k in run.cells if k[2].startswith(DESIGN + ":") or
               re.match(rf"^{DESIGN}\d+", k[2])}
    variants = [v for v in PAPER_VARIANTS if v in present] + sorted(present -
                                                                   set(PAPER_VARIANTS))
    for v in PAPER_VARIANTS:
        if v not in present:
            for metric, _ in SIM_METRICS:
                o.na(macro_name("Abl", v, metric), f"no {v} rows")
    lines = []
    for v in variants:
        ws = group_workloads(run, True, [DESIGN, v])
        cells = []
        for metric, _ in SIM_METRICS:
            pairs = run.pairs(metric, ws, v, DESIGN) if ws else None
            gm = bench_stats.geomean_ci(pairs, True) if pairs else (None, None, None)
            cells.append(fmt_ci(*gm) or "--")
            o.value(macro_name("Abl", v, metric), fmt_ci(*gm), f"no {v} rows")
        lines.append(f"\\texttt{{{breakable(tex_escape(v))}}} & {len(ws)} & " + " & ".join(cells)
                     + r" \\")
    with open(os.path.join(gen, "ablation.tex"), "w") as f:
        f.write("% GENERATED by paper/make_numbers.py\n")
        f.write("\\newcommand{\\AblationHead}{variant & workloads & " +
                " & ".join(n for _, n in SIM_METRICS) + "}\n")
        f.write("\\newcommand{\\AblationRows}{%\n" + ("\n".join(lines) or
                                                    r"\multicolumn{8}{l}{\nodata{no variants}}\\")
                + "\n}\n")


def one_workload(o, run, name, metric, workload, a, b):
    """A macro: one workload's ratio a/b with its interval."""
    pairs = run.pairs(metric, [workload], a, b)
    ci = bench_stats.ratio_ci(*pairs[0], bench_stats.is_count(metric)) if pairs else \
        (None, None, None)
    o.value(name, fmt_ci(*ci), f"no {a} and {b} rows on {workload}")


def floor(o, run, gen):
    """The harness's own share of a native replay: null (no allocator) against glibc,
    and ravioli's and jemalloc's time above that floor."""
    ws = group_workloads(run, False, ["null", "system"])
    pairs = run.pairs("wall_s", ws, "null", "system") if ws else None
    gm = bench_stats.geomean_ci(pairs) if pairs else (None, None, None)
    o.value("FloorShareGm", fmt_ci(*gm), "no null rows")
    lines = []
    for w in ws:
        n, s = run.median("wall_s", w, "null"), run.median("wall_s", w, "system")
        r, j = run.median("wall_s", w, DESIGN), run.median("wall_s", w, "jemalloc")
        share = n / s if n is not None and s else None
        above = ((r - n) / (j - n) if None not in (r, j, n) and j - n > 0 else None)
        lines.append(f"\\texttt{{{tex_escape(w)}}} & {fmt_ratio(share) or '--'} & "
                     f"{fmt_ratio(r / j) if r and j else '--'} & {fmt_ratio(above) or '--'} \\\\")
    # above the floor, over all workloads: per-seed differences, then the usual statistic
    above_pairs = []
    for w in ws:
        r, j, n = (run.values("wall_s", w, a) for a in (DESIGN, "jemalloc", "null"))
        keys = sorted(set(r) & set(j) & set(n), key=str)
        ra = [r[k] - n[k] for k in keys]
        ja = [j[k] - n[k] for k in keys]
        if keys and all(x > 0 for x in ra + ja):
            above_pairs.append((ra, ja))
    gm2 = bench_stats.geomean_ci(above_pairs) if above_pairs else (None, None, None)
    o.value("AboveFloorGm", fmt_ci(*gm2), "no null, ravioli and jemalloc rows")
    o.set("AboveFloorN", str(len(above_pairs)))
    with open(os.path.join(gen, "floor.tex"), "w") as f:
        f.write("% GENERATED by paper/make_numbers.py\n\\newcommand{\\FloorRows}{%\n" +
                "\n".join(lines) + "\n}\n")


def pagesize_and_scaling(o, run):
    dt = [run.median("sim_dtlb_misses", "sweep-tree", DESIGN, 4, p, sp)
          for p, sp in ((0, 4096), (2097152, 2097152))]
    o.value("PagesizeDtlbTree", fmt_ratio(dt[1] / dt[0]) if None not in dt and dt[0] else None,
            "no sweep-tree rows")
    for w in ("scale-xmalloc", "scale-threadtest", "scale-pipeline"):
        for a in ("jemalloc", DESIGN):
            ts = sorted({k[1] for k in run.cells if k[0] == w and k[2] == a})
            v = run.median("sim_per_event_sim_transfers", w, a, ts[-1]) if ts else None
            o.value(macro_name("Scale", w, a), fmt_ratio(v), f"no {w} rows")


def claims_table(o, run, rerun, gen, claims_path):
    try:
        claims = claimlib.parse(claims_path)
    except claimlib.ClaimError as e:
        sys.exit(f"numbers: {e}")
    held = {"ref": 0, "rerun": 0}
    failed = []
    with open(os.path.join(gen, "claims.tex"), "w") as f:
        f.write("% GENERATED by paper/make_numbers.py\n\\newcommand{\\ClaimRows}{%\n")
        for c in claims:
            cells = []
            for name, r in (("ref", run), ("rerun", rerun)):
                if r is None:
                    cells += [r"\nodata{no rerun}", "--"]
                    continue
                v = r.value(c)
                ok, _ = claimlib.holds(c, v, v)
                held[name] += ok
                if not ok:
                    failed.append((c.id, name))
                cells += [f"{v:.3g}" if v is not None else "NA",
                          r"\textbf{held}" if ok else r"\textcolor{red}{\textbf{not held}}"]
            f.write(f"\\texttt{{\\small {tex_escape(c.id)}}} & {tex_escape(c.op)} "
                    f"{c.bound:g} & " + " & ".join(cells) + " \\\\\n")
        f.write("}\n")
    o.set("ClaimsTotal", str(len(claims)))
    o.set("ClaimsHeldRef", str(held["ref"]))
    o.value("ClaimsHeldRerun", str(held["rerun"]) if rerun else None, "no rerun")
    fr = sorted({cid for cid, n in failed if n == "ref"})
    o.set("ClaimsFailedRef", tex_escape(", ".join(fr)) if fr else "none")
    fn = sorted({cid for cid, n in failed if n == "rerun"})
    o.set("ClaimsFailedRerun", tex_escape(", ".join(fn)) if fn else
          ("none" if rerun else r"\nodata{no rerun}"))


def figures(o, run_path, figdir, gen):
    """paper/figures.py draws into figdir; one macro per figure."""
    why = "not drawn"
    try:
        import figures as figlib
        drawn = figlib.draw_all(run_path, figdir)
    except ImportError as e:
        drawn, why = {}, f"paper/figures.py cannot be loaded: {e}"
    names = ["ratios", "breakdown", "ablation", "pagesize", "scaling"]
    with open(os.path.join(gen, "figures.tex"), "w") as f:
        f.write("% GENERATED by paper/make_numbers.py: one macro per figure\n")
        for name in names:
            nm = "Fig" + macro_name(name)
            path, text = drawn.get(name, (None, why))
            # drawn at their final width (figures.WIDTH): never scaled here
            wide = getattr(sys.modules.get("figures"), "WIDTH", {}).get(name) != "one column"
            env = "figure*" if wide else "figure"
            if path and os.path.exists(path):
                body = (f"\\includegraphics{{{os.path.abspath(path)}}}")
                cap = tex_escape(text)
            else:
                body = f"\\nofigure{{{tex_escape(text)}}}"
                cap = "Not drawn."
                o.missing.append((nm, f"figure {name}: {text}", False))
            f.write(f"\\newcommand{{\\{nm}}}{{\\begin{{{env}}}[tbp]\\centering {body}"
                    f"\\caption{{{cap}}}\\label{{fig:{name}}}\\end{{{env}}}}}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="the reference run (results/paper)")
    ap.add_argument("--rerun", help="the independent rerun (results/paper-rerun)")
    ap.add_argument("--figures", default=os.path.join(HERE, "gen", "figures"))
    ap.add_argument("--out", default=os.path.join(HERE, "gen"))
    ap.add_argument("--claims", default=os.path.join(HERE, "claims.conf"))
    ap.add_argument("--strict", action="store_true", help="exit 1 if a headline is missing")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    parts = load_parts(args.run)
    try:
        run = claimlib.Run(args.run)
        rerun = claimlib.Run(args.rerun) if args.rerun else None
    except claimlib.ClaimError as e:
        sys.exit(f"numbers: {e}")
    if not run.cells:
        sys.exit(f"numbers: {args.run}: no ok rows")
    o = Out()
    provenance(o, parts)
    preregistration(o, parts, load_parts(args.rerun) if args.rerun else None)
    matrix(o, parts, args.out)
    tables_allocators(parts, run, args.out)
    tables_workloads(parts, run, args.out)
    summary(o, run, args.out)
    ablation(o, run, args.out)
    floor(o, run, args.out)
    pagesize_and_scaling(o, run)
    groups(o, run, args.claims)
    one_workload(o, run, "HysteresisOffThrashTransfers", "sim_transfers", "cache-thrash",
                 "ravioli:hysteresis=0", DESIGN)
    one_workload(o, run, "KeepThreadtestTransfers", "sim_transfers", "threadtest",
                 "ravioli:keep=1024", DESIGN)
    miss_classes(o, run)
    claims_table(o, run, rerun, args.out, args.claims)
    figures(o, args.run, args.figures, args.out)
    heads = [m for m in o.missing if m[2]]
    o.set("MissingHeadlines", str(len(heads)))
    o.set("MissingHeadlineList", tex_escape(", ".join(sorted({m[1] for m in heads}))) or "none")
    o.set("MissingValues", str(len(o.missing)))
    o.write(os.path.join(args.out, "numbers.tex"))
    for name, why, headline in o.missing:
        print(f"numbers: n/a {'HEADLINE ' if headline else ''}\\{name}: {why}", file=sys.stderr)
    print(f"numbers: wrote {args.out}/numbers.tex and tables from {args.run}: "
          f"{len(o.macros)} macros, {len(o.missing)} n/a ({len(heads)} headline)", file=sys.stderr)
    if heads and args.strict:
        sys.exit(f"numbers: --strict: {len(heads)} headline values missing from {args.run}")


if __name__ == "__main__":
    main()
