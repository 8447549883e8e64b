"""paper/claims.py: the paper's claims (paper/claims.conf) evaluated on a results run.

Shared by paper/make_numbers.py (which prints the claims and their values in the paper)
and paper/reproduce.py (which checks them on a new run). The claims file format:

    group NAME = WORKLOAD ...                a named list of workloads, for gm()
    ID: EXPRESSION OP BOUND tol TOLERANCE    # comment

EXPRESSION is arithmetic (+ - * / and parentheses, numbers) over these functions:
    m(METRIC, WORKLOAD, ALLOCATOR[, THREADS[, PAGE_SIZE[, SIM_PAGE]]])
        the median of METRIC over the ok rows of that cell
    gm(METRIC, A, B, GROUP[, THREADS[, PAGE_SIZE]])
        the geometric mean over the workloads of GROUP of the ratio median(A) /
        median(B) (plots/bench_stats.py: runs paired by seed, +1 on simulator counts)
    gm_lo(...), gm_hi(...)
        the bounds of its 95% bootstrap confidence interval (same arguments)
    r_lo(METRIC, WORKLOAD, A, B[, THREADS[, PAGE_SIZE]]), r_hi(...)
        the bounds of the interval of one workload's ratio of medians
THREADS defaults to the largest thread count WORKLOAD ran with in the mode METRIC comes
from (the simulated pass for a sim_* column, native runs for the others), PAGE_SIZE to 0
(the allocator's default), SIM_PAGE (the simulated MMU page in bytes) to 4096. METRIC
is a bench.csv column, or a derived one: rss_growth_kib (peak_rss_kib - rss_before_kib),
overhead_mapped (alloc_bytes_mapped / alloc_bytes_live), sim_per_event_X (column X per
1000 trace events). A cell with no ok row, or a metric NA in all of them, makes the
expression NA; so does division by zero, and a group with a workload that has no value
on either side. An NA claim never holds.

A run is a results folder with a bench.csv, or a folder of such folders (the paper's
reference run: results/paper/main, pagesize, scaling), read as one; a cell found in two
of them is an error (it would count its runs twice).

OP BOUND and the tolerance T (a fraction, or a percentage with %):
    < B, <= B   the value is below B, forgiving T of B:   value < B * (1 + T)
    > B, >= B   the value is above B, forgiving T of B:   value > B * (1 - T)
    ~ ref       the value is within T of the reference run's: |v - ref| <= T * |ref|
    side B      the value is on the same side of B as the reference run's value (a
                direction: "faster than", "fewer than"); a value within T * B of B is
                too close to call and does not hold unless the reference was too
The last two depend on a reference run, so on the reference run itself they hold by
construction: the paper's pre-registered claims use fixed bounds only.
"""
import ast
import math
import os
import re
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plots"))
from bench_plots import load_rows, number, page_size  # noqa: E402
import bench_stats  # noqa: E402

GROUP_RE = re.compile(r"^group\s+([A-Za-z0-9_.-]+)\s*=\s*(.+)$")
CLAIM_RE = re.compile(r"^([A-Za-z0-9_.-]+)\s*:\s*(.+?)\s+(<=|>=|<|>|~|side)\s+(\S+)\s+"
                      r"tol\s+([0-9.]+)(%?)\s*$")


class ClaimError(Exception):
    pass


class Claim:
    def __init__(self, ident, expr, op, bound, tol, line, text):
        self.id, self.expr, self.op, self.tol, self.line, self.text = ident, expr, op, tol, line, text
        self.bound = None if bound == "ref" else float(bound)
        self.tree = ast.parse(expr, mode="eval")

    def relation(self):
        b = "the reference value" if self.op == "~" else f"{self.bound:g}"
        if self.op == "side":
            return f"same side of {b} as the reference"
        return f"{self.op} {b}"


# name -> (first argument index of GROUP or None, argument count range)
FUNCTIONS = {"m": (None, 3, 6), "gm": (3, 4, 6), "gm_lo": (3, 4, 6), "gm_hi": (3, 4, 6),
             "r_lo": (None, 4, 6), "r_hi": (None, 4, 6)}


def parse(path):
    """The claims of a claims file; each claim's .groups holds the file's groups."""
    claims, seen, groups = [], set(), {}
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        raise ClaimError(f"{path}: {e.strerror}")
    for n, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        g = GROUP_RE.match(text)
        if g:
            if g.group(1) in groups:
                raise ClaimError(f"{path}:{n}: group '{g.group(1)}' defined twice")
            groups[g.group(1)] = g.group(2).split()
            continue
        m = CLAIM_RE.match(text)
        if not m:
            raise ClaimError(f"{path}:{n}: expected 'ID: EXPRESSION OP BOUND tol T', got '{text}'")
        ident, expr, op, bound, tol, pct = m.groups()
        if ident in seen:
            raise ClaimError(f"{path}:{n}: claim '{ident}' defined twice")
        seen.add(ident)
        if (op == "~") != (bound == "ref"):
            raise ClaimError(f"{path}:{n}: '~' takes 'ref' as its bound, and only '~' does")
        try:
            if bound != "ref":
                float(bound)
            claim = Claim(ident, expr, op, bound, float(tol) / (100 if pct else 1), n, text)
        except (ValueError, SyntaxError) as e:
            raise ClaimError(f"{path}:{n}: {e}")
        check_tree(claim.tree, f"{path}:{n}", groups)
        claim.groups = groups
        claims.append(claim)
    if not claims:
        raise ClaimError(f"{path}: no claims")
    return claims


ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
           ast.USub, ast.UAdd, ast.Constant, ast.Call, ast.Name, ast.Load)


def check_tree(tree, where, groups):
    """Only arithmetic and the functions above with constant arguments: a claims file
    is data."""
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED):
            raise ClaimError(f"{where}: '{type(node).__name__}' is not allowed in an expression")
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS:
            raise ClaimError(f"{where}: unknown name '{node.id}' (known: "
                             f"{', '.join(FUNCTIONS)})")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS \
                    or node.keywords:
                raise ClaimError(f"{where}: only {', '.join(FUNCTIONS)} may be called")
            group_at, lo, hi = FUNCTIONS[node.func.id]
            if not lo <= len(node.args) <= hi or not all(isinstance(a, ast.Constant)
                                                         for a in node.args):
                raise ClaimError(f"{where}: {node.func.id}() takes {lo} to {hi} constant "
                                 f"arguments")
            if group_at is not None and node.args[group_at].value not in groups:
                raise ClaimError(f"{where}: no group '{node.args[group_at].value}' "
                                 f"(define it with 'group NAME = WORKLOAD ...' above)")


def derived(row, metric):
    # hlbench's simulated pass (bench_mode=sim) gives only simulator counts: its
    # time and memory are the simulator's own.
    if row.get("bench_mode") == "sim" and not metric.startswith("sim_"):
        return None
    if metric == "rss_growth_kib":
        peak, before = number(row, "peak_rss_kib"), number(row, "rss_before_kib")
        return None if peak is None or before is None else peak - before
    if metric == "overhead_mapped":
        mapped, live = number(row, "alloc_bytes_mapped"), number(row, "alloc_bytes_live")
        return None if mapped is None or not live else mapped / live
    if metric.startswith("sim_per_event_"):
        v, ev = number(row, metric[len("sim_per_event_"):]), number(row, "events")
        return None if v is None or not ev else v * 1000.0 / ev
    return number(row, metric)


def sim_page(row):
    """The simulated MMU page of a row of the simulated pass, in bytes (from its
    sim_config, "..., 2M pages, ..."); 0 for a native row."""
    if row.get("bench_mode") != "sim":
        return 0
    m = re.search(r"(\d+)([KMG]) pages", row.get("sim_config") or "")
    return int(m.group(1)) << {"K": 10, "M": 20, "G": 30}[m.group(2)] if m else 4096


def run_parts(path):
    """The results folders of a run: itself, or its sub-folders with a bench.csv."""
    if os.path.isfile(os.path.join(path, "bench.csv")):
        return [path]
    try:
        parts = sorted(os.path.join(path, d) for d in os.listdir(path)
                       if os.path.isfile(os.path.join(path, d, "bench.csv")))
    except OSError as e:
        raise ClaimError(f"{path}: {e.strerror}")
    if not parts:
        raise ClaimError(f"{path}: no bench.csv, nor a folder of runs with one")
    return parts


class Run:
    """The ok rows of one results run (or of its parts), indexed by cell."""

    def __init__(self, path):
        self.path = path
        self.cells = defaultdict(list)
        self.max_threads = {}
        owner = {}
        for part in run_parts(path):
            rows, self.header = load_rows(part, quiet=True)
            for r in rows:
                t, mode = int(r["threads"]), r.get("bench_mode") == "sim"
                key = (r["workload"], t, r["allocator"], page_size(r), sim_page(r))
                if owner.setdefault(key, part) != part:
                    raise ClaimError(f"{path}: the cell {key} is in both {owner[key]} and "
                                     f"{part}")
                self.cells[key].append(r)
                wm = (r["workload"], mode)
                self.max_threads[wm] = max(self.max_threads.get(wm, 0), t)

    def _key(self, metric, workload, allocator, threads, page, spage):
        sim = metric.startswith("sim_")
        if threads is None:
            threads = self.max_threads.get((workload, sim))
        if spage is None:
            spage = 4096 if sim else 0
        return (workload, threads, allocator, int(page), int(spage))

    def values(self, metric, workload, allocator, threads=None, page=0, spage=None):
        """{pairing key: value} of a cell: keyed by seed (by repeat without one)."""
        out = {}
        for r in self.cells.get(self._key(metric, workload, allocator, threads, page, spage),
                                []):
            v = derived(r, metric)
            if v is not None:
                seed = r.get("seed")
                out[seed if seed not in (None, "", "NA") else "r" + r["repeat"]] = v
        return out

    def median(self, metric, workload, allocator, threads=None, page=0, spage=None):
        vals = list(self.values(metric, workload, allocator, threads, page, spage).values())
        return statistics.median(vals) if vals else None

    def pairs(self, metric, workloads, a, b, threads=None, page=0):
        """[(a values, b values)] per workload, paired by seed; None if a workload has
        no pair."""
        out = []
        for w in workloads:
            va, vb = bench_stats.paired(self.values(metric, w, a, threads, page),
                                        self.values(metric, w, b, threads, page))
            if not va:
                return None
            out.append((va, vb))
        return out

    def value(self, claim):
        """The claim's expression on this run, or None (NA)."""
        return evaluate(claim.tree.body, self, claim.groups)


def call(name, args, run, groups):
    if name == "m":
        return run.median(*args)
    count = bench_stats.is_count(args[0])
    if name.startswith("gm"):
        metric, a, b, group = args[:4]
        pairs = run.pairs(metric, groups[group], a, b, *args[4:])
        if pairs is None:
            return None
        point, lo, hi = bench_stats.geomean_ci(pairs, count)
    else:
        metric, w, a, b = args[:4]
        pairs = run.pairs(metric, [w], a, b, *args[4:])
        if pairs is None:
            return None
        point, lo, hi = bench_stats.ratio_ci(pairs[0][0], pairs[0][1], count)
    return {"gm": point, "gm_lo": lo, "gm_hi": hi, "r_lo": lo, "r_hi": hi}[name]


def evaluate(node, run, groups=None):
    if isinstance(node, ast.Constant):
        return float(node.value) if isinstance(node.value, (int, float)) else None
    if isinstance(node, ast.Call):
        return call(node.func.id, [a.value for a in node.args], run, groups or {})
    if isinstance(node, ast.UnaryOp):
        v = evaluate(node.operand, run, groups)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    a, b = evaluate(node.left, run, groups), evaluate(node.right, run, groups)
    if a is None or b is None:
        return None
    if isinstance(node.op, ast.Add):
        return a + b
    if isinstance(node.op, ast.Sub):
        return a - b
    if isinstance(node.op, ast.Mult):
        return a * b
    return None if b == 0 else a / b


def holds(claim, value, ref):
    """(holds: bool, why: str) for a value, given the reference run's value ref."""
    if value is None:
        return False, "NA: a cell of the expression has no ok run with this metric"
    if not math.isfinite(value):
        return False, "not finite"
    t, b = claim.tol, claim.bound
    if claim.op in ("<", "<="):
        lim = b * (1 + t) if b >= 0 else b * (1 - t)
        ok = value < lim if claim.op == "<" else value <= lim
        return ok, f"limit {lim:.4g} ({claim.op} {b:g} with tolerance {t:.0%})"
    if claim.op in (">", ">="):
        lim = b * (1 - t) if b >= 0 else b * (1 + t)
        ok = value > lim if claim.op == ">" else value >= lim
        return ok, f"limit {lim:.4g} ({claim.op} {b:g} with tolerance {t:.0%})"
    if ref is None:
        return False, "the reference value is NA, so there is nothing to compare with"
    if claim.op == "~":
        ok = abs(value - ref) <= t * abs(ref)
        return ok, f"within {t:.0%} of the reference {ref:.4g}: {'yes' if ok else 'no'}"
    band = t * abs(b)

    def side(v):
        return 0 if abs(v - b) <= band else (1 if v > b else -1)

    s_new, s_ref = side(value), side(ref)
    names = {1: f"above {b:g}", -1: f"below {b:g}", 0: f"within {t:.0%} of {b:g}"}
    return s_new == s_ref, f"{names[s_new]}; reference {names[s_ref]}"
