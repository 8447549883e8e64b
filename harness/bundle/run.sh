#!/bin/sh
# run.sh: build heaplab from this bundle and run the thread-scaling matrix with the
# bundled baseline libraries (made by `make bench-bundle`; harness/BENCH.md, "Scaling
# beyond this machine").
#
#   ./run.sh [CONFIG] [hlbench options...]     CONFIG: default harness/bench-scaling.conf
#
# Needs gcc, make and xz (Ubuntu 24.04: build-essential xz-utils). Writes
# results/<YYYYmmdd-HHMMSS>-<host>/ here; copy that folder back into a heaplab
# checkout's results/ and run `make plots RUN=results/<that name>` there.
set -eu
cd "$(dirname "$0")"
here=$(pwd)
config=harness/bench-scaling.conf
case "${1:-}" in -*|"") ;; *) config=$1; shift ;; esac
[ -f "$config" ] || { echo "run.sh: $config: no such config" >&2; exit 2; }
for tool in gcc make xz; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (Ubuntu/Debian: apt-get install build-essential xz-utils)" >&2; exit 2; }
done
echo "run.sh: $(ldd --version 2>&1 | head -n1); $(gcc --version | head -n1)" >&2
cores=$(nproc)
echo "run.sh: building with $cores jobs" >&2
make -j"$cores" CC=gcc all >build.log 2>&1 || { tail -n 30 build.log >&2; echo "run.sh: build failed (build.log)" >&2; exit 2; }

# The baselines are the Debian builds shipped in baselines/ (see baselines/VERSIONS):
# the harness preloads them from there (HEAPLAB_BASELINE_DIR) and refuses a run whose
# malloc came from anywhere else. Their C++ runtime dependencies come from this system
# when it has them, else from baselines/deps (then LD_LIBRARY_PATH says so).
export HEAPLAB_BASELINE_DIR="$here/baselines"
deps_note="system libraries"
for lib in baselines/*.so.*; do
  if env -u LD_LIBRARY_PATH ldd "$lib" 2>/dev/null | grep -q "not found"; then
    export LD_LIBRARY_PATH="$here/baselines/deps${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    deps_note="baselines/deps (the system lacks: $(env -u LD_LIBRARY_PATH ldd baselines/*.so.* | grep 'not found' | awk '{print $1}' | sort -u | tr '\n' ' '))"
    break
  fi
done
echo "run.sh: baseline dependencies from $deps_note" >&2
max=$(sed -n 's/^threads *= *//p' "$config" | tr ' ' '\n' | sort -n | tail -n1)
if [ -n "$max" ] && [ "$max" -gt "$cores" ]; then
  echo "run.sh: WARNING: up to $max threads on $cores cores: the larger counts time-share" >&2
fi

mkdir -p results
before=$(ls results)
rc=0
build/bin/hlbench --config "$config" --bin build/bin --results results "$@" || rc=$?
[ $rc -le 1 ] || exit $rc
run=$(ls results | grep -vxF "$before" | tail -n1 || true)
if [ -n "$run" ]; then
  { echo "bundle: $(cat COMMIT)"; echo "baseline dependencies: $deps_note";
    echo "HEAPLAB_BASELINE_DIR=$HEAPLAB_BASELINE_DIR"; echo; cat baselines/VERSIONS; } >"results/$run/bundle.txt"
  echo "run.sh: results/$run (bundle.txt says which libraries). Copy it back:" >&2
  echo "  scp -r $(hostname):$here/results/$run results/ && make plots RUN=results/$run" >&2
fi
exit $rc
