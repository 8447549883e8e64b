#!/usr/bin/python3
"""paper/reproduce.py: rerun the reference run's benchmark matrix on this machine, on
new traces, and check the paper's claims (paper/claims.conf) on the new run
(`make reproduce`).

    /usr/bin/python3 paper/reproduce.py [--ref results/paper] [--bin build/bin]
        [--out DIR] [--seed-offset 100] [--claims paper/claims.conf] [--new RUN_DIR]
        [--hlbench-arg ARG ...]

1. For each part of the reference run (results/paper/main, pagesize, scaling; or the
   reference itself when it is one results run), reads the configuration it was made
   with (meta.json's `config`: the whole config text hlbench stores) and its seed.
2. Runs that matrix again with paper/run.py into OUT/PART (default
   results/rerun-YYYYmmdd-HHMMSS), with each part's seed moved by --seed-offset, so
   the rerun replays new traces drawn from the same generators: a claim is tested on
   data it was not derived from. --seed-offset 0 replays the reference's own traces.
   With --new RUN_DIR it runs nothing and checks that run instead.
3. For each claim prints the reference value, the new value and HOLDS / DOES NOT HOLD
   (with the reason), or UNTESTED when the reference run itself has no value for it
   (the paper prints n/a for it). A claim that does not hold on the reference run
   itself is marked so.

Exit status: 0 every tested claim holds (and at least one was tested); 1 a claim does
not hold, or none could be tested, or some benchmark runs failed; 2 usage, config or
setup error.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import claims as claimlib  # noqa: E402
import run as paperrun  # noqa: E402


def die(msg):
    print(f"reproduce: {msg}", file=sys.stderr)
    sys.exit(2)


def stored_config(ref):
    path = os.path.join(ref, "meta.json")
    try:
        meta = json.load(open(path))
    except OSError as e:
        die(f"{path}: {e.strerror} (is {ref} a results run?)")
    except ValueError as e:
        die(f"{path}: not JSON: {e}")
    text, cfg_path = meta.get("config"), meta.get("config_file")
    if not text:
        die(f"{path}: no 'config' (the reference run's matrix) stored")
    return meta, text, cfg_path or ""


def config_seed(text):
    for line in text.splitlines():
        m = paperrun.SEED_LINE.match(line.split("#", 1)[0])
        if m:
            return int(m.group(2))
    return 1  # hlbench's default


def fmt(v):
    return "NA" if v is None else f"{v:.4g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", default="results/paper", help="the reference run")
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--out", help="where the new run goes (default "
                    "results/rerun-YYYYmmdd-HHMMSS)")
    ap.add_argument("--seed-offset", type=int, default=100,
                    help="added to each part's seed (default 100: new traces)")
    ap.add_argument("--claims", default=os.path.join(HERE, "claims.conf"))
    ap.add_argument("--new", help="check this existing run instead of running the matrix")
    ap.add_argument("--hlbench-arg", action="append", default=[],
                    help="an extra hlbench option (repeatable), e.g. --hlbench-arg=--repeats=5")
    args = ap.parse_args()

    try:
        ref_parts = claimlib.run_parts(args.ref)
        claims = claimlib.parse(args.claims)
    except claimlib.ClaimError as e:
        die(f"{e} (the reference run; REF=DIR to choose another)")
    bench_failed = False
    if args.new:
        new = args.new
        try:
            claimlib.run_parts(new)
        except claimlib.ClaimError as e:
            die(str(e))
    else:
        new = args.out or os.path.join("results", "rerun-" + time.strftime("%Y%m%d-%H%M%S"))
        if os.path.exists(new):
            die(f"{new} exists; choose another --out")
        single = ref_parts == [args.ref]
        for part in ref_parts:
            meta, text, cfg_path = stored_config(part)
            name = os.path.basename(os.path.normpath(part))
            seed = config_seed(text) + args.seed_offset
            try:
                rc = paperrun.run_part(name, text, cfg_path, new if single else
                                       os.path.join(new, name), args.bin, seed,
                                       args.hlbench_arg)
            except (paperrun.RunError, OSError) as e:
                die(str(e))
            bench_failed |= rc != 0

    ref_run, new_run = claimlib.Run(args.ref), claimlib.Run(new)
    print(f"reproduce: reference {args.ref}, new run {new}")
    width = max(len(c.id) for c in claims)
    print(f"{'claim':<{width}}  {'reference':>10}  {'new':>10}  verdict")
    held = failed = untested = 0
    for c in claims:
        ref_v, new_v = ref_run.value(c), new_run.value(c)
        if ref_v is None:
            verdict, why = "UNTESTED", "the reference run has no value (the paper prints n/a)"
            untested += 1
        else:
            ok, why = claimlib.holds(c, new_v, ref_v)
            ref_ok, _ = claimlib.holds(c, ref_v, ref_v)
            if not ref_ok:
                why += "; the reference run does not satisfy it either"
            verdict = "HOLDS" if ok else "DOES NOT HOLD"
            held += ok
            failed += not ok
        print(f"{c.id:<{width}}  {fmt(ref_v):>10}  {fmt(new_v):>10}  {verdict}: "
              f"{c.relation()}, tol {c.tol:.0%}; {why}")
    print(f"reproduce: {held} hold, {failed} do not hold, {untested} untested "
          f"(of {len(claims)} claims)")
    if bench_failed:
        print(f"reproduce: some benchmark runs failed (see {new}/summary.txt)", file=sys.stderr)
    if failed or bench_failed:
        sys.exit(1)
    if held == 0:
        print("reproduce: no claim could be tested", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
