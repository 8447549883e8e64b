#!/usr/bin/python3
"""paper/run.py: make the paper's reference run (`make paper-run`): every part of the
matrix in paper/runs/ (main, ablation, pagesize, scaling .conf) through hlbench, each
into a folder of its own under OUT (results/paper/main, ...), read together by
paper/make_numbers.py, paper/claims.py and plots/bench_plots.py.

    /usr/bin/python3 paper/run.py [--out results/paper] [--parts main,ablation,pagesize,scaling]
        [--bin build/bin] [--seed N] [--force] [--hlbench-arg ARG ...]

--seed N replaces each part's `seed` (its repeats then use N, N+1, ...): the
independent rerun (paper/reproduce.py) draws new traces this way. Each part's folder
keeps what hlbench wrote except the traces (regenerated from the config and seed by
anyone): bench.csv, meta.json (with the whole config), summary.txt, git.diff. OUT must
not exist yet (a reference run is never overwritten) unless --force. hlbench's progress
goes to stderr as it runs; a part whose runs failed is kept and reported, and the exit
status is then 1.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "runs")
PARTS = ["main", "ablation", "pagesize", "scaling"]
KEPT = ["bench.csv", "meta.json", "summary.txt", "git.diff"]

# The config lines that name a file, relative to the config's folder: a recorded
# trace workload and the simulator preset.
PATH_LINES = (re.compile(r"^(\s*workload\s+\S+\s*=\s*file\s+)(\S+)(.*)$"),
              re.compile(r"^(\s*sim\s*=\s*)(\S+)(.*)$"))
SEED_LINE = re.compile(r"^(\s*seed\s*=\s*)(\S+)(.*)$")


class RunError(Exception):
    pass


def moved_config(text, cfg_path, new_dir, seed=None):
    """The config text as it must read in new_dir: the paths it names (relative to the
    config's folder, as hlbench resolves them) made relative to new_dir, so the copy,
    and the copy meta.json stores, work in any checkout; with seed, its seed
    replaced."""
    base = os.path.dirname(cfg_path) if cfg_path else "."
    out, seeded = [], False
    for n, line in enumerate(text.splitlines(), 1):
        for pattern in PATH_LINES:
            m = pattern.match(line)
            if m and not os.path.isabs(m.group(2)):
                p = os.path.join(base, m.group(2))
                if not os.path.exists(p):
                    raise RunError(f"{cfg_path}:{n} names {m.group(2)}, which is {p} here and "
                                   f"does not exist (run `make` to unpack the shipped traces)")
                line = m.group(1) + os.path.relpath(p, new_dir) + m.group(3)
        m = SEED_LINE.match(line)
        if m and seed is not None:
            line, seeded = f"{m.group(1)}{seed}{m.group(3)}", True
        out.append(line)
    if seed is not None and not seeded:
        out.append(f"seed = {seed}")
    return "\n".join(out) + "\n"


def runs_in(results):
    try:
        return {d for d in os.listdir(results)
                if os.path.isfile(os.path.join(results, d, "bench.csv"))}
    except FileNotFoundError:
        return set()


def run_part(name, text, cfg_path, out_dir, bin_dir, seed=None, extra=()):
    """Run one part's config through hlbench and keep its results in out_dir.
    Returns hlbench's exit status (0, or 1 when some runs failed)."""
    work = os.path.join("build", "paper-run")
    results = os.path.join(work, "results")
    os.makedirs(results, exist_ok=True)
    conf = cfg_path
    try:
        same = seed is None and open(cfg_path).read() == text
    except OSError:
        same = False
    if not same:
        # A rerun with new seeds, or a matrix as a meta.json stored it: a copy.
        conf = os.path.join(work, f"{name}.conf")
        with open(conf, "w") as f:
            f.write(f"# paper/run.py: {cfg_path}" +
                    (f", seed = {seed}" if seed is not None else "") + "\n" +
                    moved_config(text, cfg_path, work, seed))
    hlbench = os.path.join(bin_dir, "hlbench")
    if not os.access(hlbench, os.X_OK):
        raise RunError(f"{hlbench}: not found (run `make`)")
    before = runs_in(results)
    cmd = [hlbench, "--config", conf, "--bin", bin_dir, "--results", results] + list(extra)
    print(f"run: {name}: " + " ".join(cmd), file=sys.stderr)
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
    made = sorted(runs_in(results) - before)
    if rc not in (0, 1) or len(made) != 1:
        raise RunError(f"{name}: hlbench exited {rc} and made {len(made)} runs; "
                       f"nothing kept")
    src = os.path.join(results, made[0])
    os.makedirs(out_dir, exist_ok=True)
    for f in KEPT:
        if os.path.exists(os.path.join(src, f)):
            shutil.copy2(os.path.join(src, f), os.path.join(out_dir, f))
    shutil.rmtree(src)  # the traces: regenerated from the config by anyone
    print(f"run: {name}: {out_dir}" + (" (some runs failed: see its summary.txt)"
                                       if rc == 1 else ""), file=sys.stderr)
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="results/paper")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--force", action="store_true", help="write into an existing OUT")
    ap.add_argument("--hlbench-arg", action="append", default=[],
                    help="an extra hlbench option (repeatable), e.g. --hlbench-arg=--repeats=1")
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    for p in parts:
        if p not in PARTS:
            sys.exit(f"run: --parts: unknown part '{p}' (known: {', '.join(PARTS)})")
    if os.path.exists(args.out) and not args.force:
        sys.exit(f"run: {args.out} exists; a reference run is never overwritten "
                 f"(--out elsewhere, or --force)")
    failed = False
    try:
        for p in parts:
            cfg = os.path.join(RUNS, f"{p}.conf")
            text = open(cfg).read()
            rel = os.path.relpath(cfg)
            failed |= run_part(p, text, rel, os.path.join(args.out, p), args.bin, args.seed,
                               args.hlbench_arg) != 0
    except (RunError, OSError) as e:
        sys.exit(f"run: {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
