"""paper/claims.py: the paper's claims (paper/claims.conf) evaluated on a results run.

Shared by paper/make_numbers.py (which prints the claims and their values in the paper)
and paper/reproduce.py (which checks them on a new run). The claims file format:

    ID: EXPRESSION OP BOUND tol TOLERANCE    # comment

EXPRESSION is arithmetic (+ - * / and parentheses, numbers) over medians:
    m(METRIC, WORKLOAD, ALLOCATOR[, THREADS[, PAGE_SIZE]])
the median of METRIC over the ok rows of that cell; THREADS defaults to the largest
thread count WORKLOAD ran with, PAGE_SIZE to 0 (the allocator's default). METRIC is a
bench.csv column, or a derived one: rss_growth_kib (peak_rss_kib - rss_before_kib),
overhead_mapped (alloc_bytes_mapped / alloc_bytes_live), sim_per_event_X (column X per
1000 trace events). A cell with no ok row, or a metric NA in all of them, makes the
expression NA; so does division by zero. An NA claim never holds.

OP BOUND and the tolerance T (a fraction, or a percentage with %):
    < B, <= B   the value is below B, forgiving T of B:   value < B * (1 + T)
    > B, >= B   the value is above B, forgiving T of B:   value > B * (1 - T)
    ~ ref       the value is within T of the reference run's: |v - ref| <= T * |ref|
    side B      the value is on the same side of B as the reference run's value (a
                direction: "faster than", "fewer than"); a value within T * B of B is
                too close to call and does not hold unless the reference was too
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


def parse(path):
    claims, seen = [], set()
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        raise ClaimError(f"{path}: {e.strerror}")
    for n, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].strip()
        if not text:
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
        check_tree(claim.tree, f"{path}:{n}")
        claims.append(claim)
    if not claims:
        raise ClaimError(f"{path}: no claims")
    return claims


ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
           ast.USub, ast.UAdd, ast.Constant, ast.Call, ast.Name, ast.Load)


def check_tree(tree, where):
    """Only arithmetic and m(...) calls with constant arguments: a claims file is data."""
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED):
            raise ClaimError(f"{where}: '{type(node).__name__}' is not allowed in an expression")
        if isinstance(node, ast.Name) and node.id != "m":
            raise ClaimError(f"{where}: unknown name '{node.id}' (only m(...) is known)")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id != "m" or node.keywords:
                raise ClaimError(f"{where}: only m(METRIC, WORKLOAD, ALLOCATOR[, THREADS"
                                 f"[, PAGE_SIZE]]) may be called")
            if not 3 <= len(node.args) <= 5 or not all(isinstance(a, ast.Constant)
                                                       for a in node.args):
                raise ClaimError(f"{where}: m() takes 3 to 5 constant arguments")


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


class Run:
    """The ok rows of one results run, indexed by cell."""

    def __init__(self, path):
        self.path = path
        rows, self.header = load_rows(path, quiet=True)
        self.cells = defaultdict(list)
        self.max_threads = {}
        for r in rows:
            t = int(r["threads"])
            self.cells[(r["workload"], t, r["allocator"], page_size(r))].append(r)
            self.max_threads[r["workload"]] = max(self.max_threads.get(r["workload"], 0), t)

    def median(self, metric, workload, allocator, threads=None, page=0):
        if threads is None:
            threads = self.max_threads.get(workload)
        vals = [v for v in (derived(r, metric) for r in
                            self.cells.get((workload, threads, allocator, int(page)), []))
                if v is not None]
        return statistics.median(vals) if vals else None

    def value(self, claim):
        """The claim's expression on this run, or None (NA)."""
        return evaluate(claim.tree.body, self)


def evaluate(node, run):
    if isinstance(node, ast.Constant):
        return float(node.value) if isinstance(node.value, (int, float)) else None
    if isinstance(node, ast.Call):
        return run.median(*[a.value for a in node.args])
    if isinstance(node, ast.UnaryOp):
        v = evaluate(node.operand, run)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    a, b = evaluate(node.left, run), evaluate(node.right, run)
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
