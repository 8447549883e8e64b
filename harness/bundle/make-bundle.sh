#!/bin/sh
# harness/bundle/make-bundle.sh: `make bench-bundle`. Packs what it takes to run the
# benchmark matrix on another Linux x86-64 machine with only gcc, make and xz: the
# sources (Makefile, alloc/, workloads/, harness/, sim/; traces are generated there
# from the configs, recorded ones ship compressed), the configs, run.sh, and this
# machine's Debian baseline libraries (jemalloc, mimalloc, tcmalloc) with their
# non-glibc dependencies, versions and copyright files.
#
#   harness/bundle/make-bundle.sh OUT.tar.gz
set -eu
out=${1:?usage: make-bundle.sh OUT.tar.gz}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
cd "$(dirname "$0")/../.."
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo "-dirty" || true)
name=heaplab-bundle-$commit$dirty
root=$(mktemp -d "${TMPDIR:-/tmp}/heaplab-bundle.XXXXXX")
trap 'rm -rf "$root"' EXIT
stage=$root/$name
mkdir -p "$stage/baselines/deps" "$stage/baselines/licenses"

# Sources as this working tree has them (tracked and untracked-not-ignored files).
git ls-files -co --exclude-standard -- Makefile .clang-format alloc workloads harness sim |
  while read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done | tar -cf - -T - | tar -xf - -C "$stage"
cp harness/bundle/run.sh "$stage/run.sh"
{ echo "heaplab commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$dirty, bundled $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)";
  echo "built for: Linux x86-64, glibc >= $(ldd --version | head -n1 | awk '{print $NF}') (Ubuntu 24.04: 2.39)"; } >"$stage/COMMIT"

# The baselines: what harness/preload.c preloads, by soname, from the system's paths.
# The Debian package owning a file (usrmerge: dpkg may know it under /usr or not).
owner() {
  for p in "$1" "$(readlink -f "$1")" "/usr$1" "/usr$(readlink -f "$1")" "${1#/usr}"; do
    o=$(dpkg -S "$p" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$o" ] && { echo "$o"; return; }
  done
  echo unknown
}
glibc_part() { case $1 in linux-vdso.so.*|libc.so.*|libm.so.*|ld-linux*|libpthread.so.*|libdl.so.*|librt.so.*) return 0;; esac; return 1; }
versions=$stage/baselines/VERSIONS
echo "# the baseline libraries in this folder: soname, Debian package and version, source file" >"$versions"
for soname in libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4; do
  path=$(ldconfig -p | awk -v s="$soname" '$1 == s && /x86-64/ { print $NF; exit }')
  [ -n "$path" ] || { echo "make-bundle: $soname not installed here (make deps)" >&2; exit 1; }
  cp -L "$path" "$stage/baselines/$soname"
  pkg=$(owner "$path")
  ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo unknown)
  echo "$soname $pkg $ver $(readlink -f "$path")" >>"$versions"
  [ -f "/usr/share/doc/$pkg/copyright" ] && cp "/usr/share/doc/$pkg/copyright" "$stage/baselines/licenses/$pkg.copyright"
  # its dependencies outside glibc (the C++ runtime), for a system that lacks them
  ldd "$path" | awk '$2 == "=>" { print $1, $3 }' | while read -r dep dpath; do
    glibc_part "$dep" && continue
    [ -f "$stage/baselines/deps/$dep" ] && continue
    cp -L "$dpath" "$stage/baselines/deps/$dep"
    dpkg_=$(owner "$dpath")
    echo "deps/$dep $dpkg_ $(dpkg-query -W -f='${Version}' "$dpkg_" 2>/dev/null || echo unknown) (needed by $soname)" >>"$versions"
    [ -f "/usr/share/doc/$dpkg_/copyright" ] && cp "/usr/share/doc/$dpkg_/copyright" "$stage/baselines/licenses/$dpkg_.copyright"
  done
done
cat >"$stage/README.txt" <<TXT
heaplab benchmark bundle ($name)

  ./run.sh                                  # build, then the thread-scaling matrix
  ./run.sh harness/bench.conf               # or any other config in harness/
  ./run.sh harness/bench-scaling.conf --only-alloc system,jemalloc --repeats 5

Needs gcc, make, xz (Ubuntu 24.04: apt-get install build-essential xz-utils).
The baseline allocators are the Debian builds in baselines/ (VERSIONS, licenses/),
preloaded from there. Results go to results/<run>/: copy that folder back into a
heaplab checkout's results/ and run \`make plots RUN=results/<run>\` there.
Details: harness/BENCH.md, "Scaling beyond this machine".
TXT
mkdir -p "$(dirname "$out")"
tar -czf "$out" -C "$root" "$name"
echo "make-bundle: $out ($(du -h "$out" | cut -f1)): $name/ with $(find "$stage" -type f | wc -l) files; baselines:"
sed 's/^/  /' "$versions"
