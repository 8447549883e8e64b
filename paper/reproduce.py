#!/usr/bin/python3
"""paper/reproduce.py: rerun the reference run's benchmark matrix on this machine and
check the paper's claims (paper/claims.conf) on the new run (`make reproduce`).

    /usr/bin/python3 paper/reproduce.py [--ref results/paper] [--bin build/bin]
        [--results results] [--claims paper/claims.conf] [--new RUN_DIR]
        [--hlbench-arg ARG ...]

1. Reads the configuration the reference run was made with (meta.json's `config`, the
   whole config text hlbench stores) and writes it to build/reproduce/REF_ID.conf, with
   each `workload NAME = file PATH` and the `sim = PATH` preset made absolute (hlbench
   resolves PATH against the config file's folder, which was that of meta.json's
   `config_file`).
2. Runs `hlbench --config THAT --bin BIN --results RESULTS` (progress on stderr) into a
   new results run. With --new RUN_DIR it runs nothing and checks that run instead.
3. For each claim prints the reference value, the new value and HOLDS / DOES NOT HOLD
   (with the reason), or UNTESTED when the reference run itself has no value for it
   (the paper does not make that claim: it prints n/a there).

Exit status: 0 every tested claim holds (and at least one was tested); 1 a claim does
not hold, or none could be tested, or some benchmark runs failed; 2 usage, config or
setup error.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import claims as claimlib  # noqa: E402


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


# The config lines that name a file, relative to the config's folder: a recorded
# trace workload and the simulator preset.
PATH_LINES = (re.compile(r"^(\s*workload\s+\S+\s*=\s*file\s+)(\S+)(.*)$"),
              re.compile(r"^(\s*sim\s*=\s*)(\S+)(.*)$"))


def absolute_files(text, cfg_path):
    """The config text with the paths it names (`file PATH` workloads, `sim = PATH`)
    made absolute (see the banner)."""
    base = os.path.dirname(cfg_path) if cfg_path else "."
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for pattern in PATH_LINES:
            m = pattern.match(line)
            if m and not os.path.isabs(m.group(2)):
                p = os.path.abspath(os.path.join(base, m.group(2)))
                if not os.path.exists(p):
                    die(f"the reference config's line {n} names {m.group(2)}, which is {p} "
                        f"here and does not exist (run `make` to unpack the shipped traces)")
                line = m.group(1) + p + m.group(3)
        out.append(line)
    return "\n".join(out) + "\n"


def runs_in(results):
    try:
        return {d for d in os.listdir(results) if os.path.isfile(os.path.join(results, d, "bench.csv"))}
    except FileNotFoundError:
        return set()


def fmt(v):
    return "NA" if v is None else f"{v:.4g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", default="results/paper", help="the reference run")
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--results", default="results")
    ap.add_argument("--claims", default=os.path.join(HERE, "claims.conf"))
    ap.add_argument("--new", help="check this existing run instead of running the matrix")
    ap.add_argument("--hlbench-arg", action="append", default=[],
                    help="an extra hlbench option (repeatable), e.g. --hlbench-arg=--repeats=5")
    args = ap.parse_args()

    if not os.path.isfile(os.path.join(args.ref, "bench.csv")):
        die(f"{args.ref}/bench.csv: no such file (the reference run; REF=DIR to choose another)")
    try:
        claims = claimlib.parse(args.claims)
    except claimlib.ClaimError as e:
        die(str(e))
    bench_failed = False
    if args.new:
        new = args.new
        if not os.path.isfile(os.path.join(new, "bench.csv")):
            die(f"{new}/bench.csv: no such file")
    else:
        meta, text, cfg_path = stored_config(args.ref)
        conf_dir = os.path.join("build", "reproduce")
        os.makedirs(conf_dir, exist_ok=True)
        conf = os.path.join(conf_dir, f"{meta.get('run_id', 'ref')}.conf")
        with open(conf, "w") as f:
            f.write(f"# written by paper/reproduce.py from {args.ref}/meta.json "
                    f"(originally {cfg_path or 'unknown'})\n" + absolute_files(text, cfg_path))
        hlbench = os.path.join(args.bin, "hlbench")
        if not os.access(hlbench, os.X_OK):
            die(f"{hlbench}: not found (run `make`)")
        before = runs_in(args.results)
        cmd = [hlbench, "--config", conf, "--bin", args.bin, "--results", args.results] + \
            args.hlbench_arg
        print("reproduce: " + " ".join(cmd), file=sys.stderr)
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
        if rc not in (0, 1):
            die(f"hlbench exited {rc}; no new run to check")
        bench_failed = rc == 1
        made = sorted(runs_in(args.results) - before)
        if len(made) != 1:
            die(f"expected one new run in {args.results}/, found {len(made)}")
        new = os.path.join(args.results, made[0])

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
