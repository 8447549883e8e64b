#!/usr/bin/env bash
# sim/capture-baselines.sh: build the Debian baseline allocators (jemalloc,
# mimalloc, tcmalloc_minimal) a second time with the access-capture
# instrumentation, so `hlreplay --sim` (build/bin/hlreplay-sim) sees their
# loads and stores the way it sees heaplab's own allocators (sim/capture.h).
#
#   sim/capture-baselines.sh OUTDIR     (the Makefile: OUTDIR=build/capture/baselines)
#   sim/capture-baselines.sh --help
#
# Why: a comparison of simulated cache behaviour is only fair when the
# baselines' own metadata work is simulated too, not just where their
# objects land. So each library is rebuilt FROM DEBIAN'S SOURCE PACKAGE OF
# THE INSTALLED VERSION (dpkg-query on libjemalloc2, libmimalloc2.0,
# libtcmalloc-minimal4; a missing one: run `make deps`), with the package's
# own build system, its debian/rules configure options and Debian's compile
# flags, plus the capture flags
#   -fsanitize=thread -fno-builtin-memcpy -fno-builtin-memset -fno-builtin-memmove
# Its objects then have memcpy/memmove/memset (and their _FORTIFY_SOURCE
# __*_chk forms) and the pthread mutex/spin
# lock calls renamed to hl_capture_* (objcopy; libc is not instrumented; the
# libraries' own malloc/free are NOT renamed), and they are linked WITHOUT
# -fsanitize (so without libtsan: checked) into OUTDIR/lib/ under the Debian
# sonames (libjemalloc.so.2, libmimalloc.so.2, libtcmalloc_minimal.so.4),
# symbols and debug info kept (the simulator names functions from .symtab).
# Their __tsan_* and hl_capture_* symbols stay undefined and are resolved at
# load time from hlreplay-sim (linked -rdynamic); run them with
#   HEAPLAB_BASELINE_DIR=$PWD/OUTDIR/lib build/bin/hlreplay --sim CONF --alloc jemalloc ...
#
# Sources come through apt without touching the system's apt configuration:
# a private sources list (OUTDIR/apt/sources.list: a deb-src line for every
# `deb` entry of the system's sources.list, sources.list.d/*.list and
# sources.list.d/*.sources, found with apt-config, normally under /etc/apt/;
# same URIs, suites, components and signed-by; no host is named here) and
# private lists/cache dirs; `apt-get source --download-only PKG=VERSION`
# into OUTDIR/src/dl/ (kept: a rebuild does not download again), then
# `dpkg-source -x` (Debian's patches applied) into a fresh OUTDIR/src/NAME/.
#
# How each is built (configure options and flags are read from the package's
# debian/rules by make itself: `make -f debian/rules -n override_dh_auto_configure`,
# and dpkg-buildflags run in the rules' exported environment, so the rules'
# DEB_BUILD_MAINT_OPTIONS and DEB_*_MAINT_APPEND count):
# - jemalloc: the upstream configure shipped in the tarball (Debian runs
#   dh_autoreconf on it first; same configure.ac, so the same configuration),
#   dh_auto_configure's standard autoconf options plus the rules' (amd64:
#   --with-version=VERSION --with-lg-page=12 --with-lg-hugepage=21
#   --enable-prof). The capture flags go in EXTRA_CFLAGS/EXTRA_CXXFLAGS, which
#   jemalloc appends at build time only, so configure's test programs are
#   the package's own; `make lib/libjemalloc_pic.a`.
# - mimalloc: cmake when installed (dh_auto_configure's cmake options plus
#   the rules': RelWithDebInfo, MI_BUILD_STATIC/OBJECT/TESTS=OFF, ...),
#   only the objects of the `mimalloc` shared-library target compiled, with
#   Debian's CFLAGS and CPPFLAGS in CFLAGS as debhelper does for cmake.
#   Without cmake (not among `make deps`' packages) the single-file build
#   src/static.c, with the flags and defines that CMakeLists.txt gives the
#   shared target in that configuration (-std=gnu11 -O2 -g -DNDEBUG -fPIC,
#   -DMI_SHARED_LIB -DMI_SHARED_LIB_EXPORT -DMI_MALLOC_OVERRIDE, -Wall
#   -Wextra -Wno-unknown-pragmas -fvisibility=hidden -Wstrict-prototypes
#   -ftls-model=initial-exec -fno-builtin-malloc): the same code in one
#   translation unit (so the compiler may inline across files), marked
#   "single-file" in meta.tsv. HL_CAPTURE_NO_CMAKE=1 forces it (to test it).
# - tcmalloc_minimal (google-perftools): its tarball has no configure, so
#   `autoreconf -f -i` as dh_autoreconf does (needs the Debian packages
#   autoconf automake libtool), dh's standard autoconf options (the rules
#   add none), the capture flags added to CFLAGS/CXXFLAGS on make's command
#   line (again configure's test programs are untouched); only the objects of
#   libtcmalloc_minimal.la are built (its .lo and the convenience library
#   libtcmalloc_minimal_internal.la), and linked with g++ (libstdc++ as usual).
#
# Outputs: OUTDIR/lib/SONAME; OUTDIR/lib/callbacks.needed (the sorted
# __tsan_* and hl_capture_* symbols the three need, for the build to check
# against the runtime; any that build/capture/callbacks.have lacks is printed);
# OUTDIR/meta.tsv (one line per library: name, source package and version,
# soname, build system, configure options, CPPFLAGS, CFLAGS, CXXFLAGS,
# LDFLAGS; the harness copies it into results metadata); the noisy
# configure/make output in OUTDIR/log/NAME.log (its tail is printed on
# failure). Everything is written under a temporary name and moved into
# place, so an interrupted run never leaves a library that looks complete.
#
# Caching: when meta.tsv records the installed source versions, the three
# libraries exist and this script, CAPTURE_CFLAGS and CAPTURE_RENAME are
# unchanged (their sha256 in OUTDIR/.recipe),
# it prints "capture-baselines: up to date" and exits 0 at once; otherwise it
# rebuilds only what is out of date. Exit status: 0, or 1 with the reason.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sim/capture-baselines.sh OUTDIR
Builds jemalloc, mimalloc and tcmalloc_minimal from Debian's source packages
of the installed versions with the access-capture instrumentation
(-fsanitize=thread, libc calls renamed to hl_capture_*), as shared libraries
under their Debian sonames in OUTDIR/lib/ (for HEAPLAB_BASELINE_DIR and
`hlreplay --sim`). Also writes OUTDIR/lib/callbacks.needed and OUTDIR/meta.tsv;
logs in OUTDIR/log/. Does nothing when OUTDIR is up to date.
The Makefile runs it with OUTDIR=build/capture/baselines.
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "" | -*) usage >&2; exit 1 ;;
esac
[ $# -eq 1 ] || { usage >&2; exit 1; }

say() { echo "capture-baselines: $*" >&2; }
die() { say "$*"; exit 1; }

# name, binary package, soname
LIBS=(jemalloc mimalloc tcmalloc)
declare -A BINPKG=([jemalloc]=libjemalloc2 [mimalloc]=libmimalloc2.0 [tcmalloc]=libtcmalloc-minimal4)
declare -A SONAME=([jemalloc]=libjemalloc.so.2 [mimalloc]=libmimalloc.so.2 [tcmalloc]=libtcmalloc_minimal.so.4)
# The instrumentation and the renamed calls: the Makefile passes its own
# (CAPTURE_CFLAGS, CAPTURE_RENAME), the same as heaplab's capture objects get;
# these defaults are for a run by hand.
CAPTURE_FLAGS=${CAPTURE_CFLAGS:-"-fsanitize=thread -fno-builtin-memcpy -fno-builtin-memset -fno-builtin-memmove"}
RENAME_DEFAULT="memcpy memmove memset __memcpy_chk __memmove_chk __memset_chk"
RENAME_DEFAULT+=" pthread_mutex_lock pthread_mutex_trylock pthread_mutex_unlock"
RENAME_DEFAULT+=" pthread_spin_lock pthread_spin_trylock pthread_spin_unlock"
read -r -a RENAMED <<<"$(echo "${CAPTURE_RENAME:-$RENAME_DEFAULT}" | tr -s ' \n' '  ')"
META_HEADER="name	source_package	source_version	soname	build_system	configure_options	cppflags	cflags	cxxflags	ldflags"

script=$(readlink -f "${BASH_SOURCE[0]}")
root=$(dirname "$(dirname "$script")")
mkdir -p "$1"
out=$(cd "$1" && pwd)
# what the libraries are built by: this script, the capture flags and the renamed calls
recipe=$({ cat "$script"; echo "$CAPTURE_FLAGS"; echo "${RENAMED[*]}"; } | sha256sum | cut -d' ' -f1)

# ---- installed versions (one dpkg-query for the three) ----
declare -A SRCPKG SRCVER
while IFS='|' read -r pkg status spkg sver; do
  [ "${status:1:1}" = i ] || continue # installed (held or not)
  for n in "${LIBS[@]}"; do
    if [ "${BINPKG[$n]}" = "$pkg" ]; then SRCPKG[$n]=$spkg; SRCVER[$n]=$sver; fi
  done
done < <(dpkg-query -W -f='${Package}|${db:Status-Abbrev}|${source:Package}|${source:Version}\n' \
  "${BINPKG[@]}" 2>/dev/null || true)
for n in "${LIBS[@]}"; do
  [ -n "${SRCVER[$n]:-}" ] || die "${BINPKG[$n]} (the Debian $n) is not installed: run \`make deps\`"
done

# ---- what is up to date (meta.tsv rows) ----
declare -A ROW
current() { # NAME: built from the installed version by this script
  local n=$1 row=${ROW[$1]:-}
  [ -n "$row" ] && [ -f "$out/lib/${SONAME[$n]}" ] || return 1
  local f
  IFS=$'\t' read -r -a f <<<"$row"
  [ "${f[1]}" = "${SRCPKG[$n]}" ] && [ "${f[2]}" = "${SRCVER[$n]}" ]
}
load_meta() {
  ROW=()
  [ -f "$out/meta.tsv" ] && [ "$(cat "$out/.recipe" 2>/dev/null)" = "$recipe" ] || return 0
  local line
  while IFS= read -r line; do
    case "$line" in name$'\t'* | "") continue ;; esac
    ROW[${line%%$'\t'*}]=$line
  done <"$out/meta.tsv"
}

# the __tsan_*/hl_capture_* symbols the libraries need that the runtime lacks
report_missing() {
  local have=$root/build/capture/callbacks.have missing
  [ -f "$have" ] || return 0
  missing=$(comm -23 "$out/lib/callbacks.needed" <(sort -u "$have") | tr '\n' ' ')
  [ -z "$missing" ] || say "callbacks the runtime lacks (not in $have): $missing"
}

load_meta
stale=()
for n in "${LIBS[@]}"; do current "$n" || stale+=("$n"); done
if [ ${#stale[@]} -eq 0 ] && [ -f "$out/lib/callbacks.needed" ]; then
  say "up to date"
  report_missing
  exit 0
fi

# ---- one run at a time on OUTDIR; then look again (another run may have built it) ----
exec 9>"$out/.lock"
flock 9
load_meta
stale=()
for n in "${LIBS[@]}"; do current "$n" || stale+=("$n"); done

# The builds do not take the caller's flags or make options: the baselines
# are Debian's builds plus the capture flags, whoever runs this.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CFLAGS CXXFLAGS CPPFLAGS LDFLAGS \
  DEB_BUILD_OPTIONS DEB_BUILD_MAINT_OPTIONS GNUMAKEFLAGS
for v in $(compgen -e | grep -E '^DEB_[A-Z]+FLAGS_' || true); do unset "$v"; done
export LC_ALL=C
jobs=$(nproc)
mkdir -p "$out/lib" "$out/log" "$out/src/dl" "$out/apt/lists/partial" "$out/apt/cache/archives/partial"
declare -a TEMPS=()
trap 'rm -rf "${TEMPS[@]}"' EXIT

cur= # the library being worked on, for messages
LOG=/dev/null
run() { # CMD...: its output goes to $LOG; on failure the log's tail is shown
  if ! "$@" >>"$LOG" 2>&1; then
    local cmd="$*"
    [ ${#cmd} -le 200 ] || cmd="${cmd:0:200}..."
    say "$cur: failed: $cmd"
    echo "---- last lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
}

# ---- the private apt sources: deb-src for every `deb` entry the system has ----
# (where the system keeps them: apt-config, normally /etc/apt/sources.list and
# /etc/apt/sources.list.d/)
apt_sources() {
  local keys=$out/apt/keys sys_list sys_parts f
  eval "$(apt-config shell sys_list Dir::Etc::sourcelist/f sys_parts Dir::Etc::sourceparts/d)"
  rm -rf "$keys"
  mkdir -p "$keys"
  {
    # one-line entries: deb [options] URI SUITE [COMPONENT...]
    for f in "${sys_list:-/etc/apt/sources.list}" "${sys_parts:-/etc/apt/sources.list.d/}"*.list; do
      [ -f "$f" ] || continue
      sed 's/#.*//' "$f" | awk '
        $1 != "deb" { next }
        {
          opts = ""; i = 2
          if ($2 ~ /^\[/) { # [key=value ...], maybe spread over several words
            s = ""
            for (; i <= NF; i++) { s = s " " $i; if ($i ~ /\]$/) { i++; break } }
            gsub(/[][]/, "", s); n = split(s, o, " ")
            for (k = 1; k <= n; k++) if (o[k] ~ /^(signed-by|trusted)=/) opts = opts " " o[k]
          }
          if (i >= NF) next # no URI and suite
          line = "deb-src" (opts != "" ? " [" substr(opts, 2) "]" : "")
          for (; i <= NF; i++) line = line " " $i
          print line
        }'
    done
    # deb822 stanzas (Types, URIs, Suites, Components, Enabled, Trusted, Signed-By:
    # a keyring path or fingerprint, or a key inline, which goes to OUTDIR/apt/keys/)
    for f in "${sys_parts:-/etc/apt/sources.list.d/}"*.sources; do
      [ -f "$f" ] || continue
      awk -v keydir="$keys" -v base="$(basename "$f")" '
        function reset() { delete v; field = ""; inkey = 0 }
        function flush(   nu, ns, u, x, a, b, opts, sb, f) {
          if (inkey) close(keyfile)
          for (f in v) gsub(/^[ \t]+|[ \t]+$/, "", v[f])
          if (v["types"] ~ /(^|[ \t])deb([ \t]|$)/ && tolower(v["enabled"]) != "no" &&
              v["uris"] != "" && v["suites"] != "") {
            opts = ""
            sb = v["signed-by"]; gsub(/^[ \t,]+|[ \t,]+$/, "", sb); gsub(/[ \t,]+/, ",", sb)
            if (sb != "") opts = "signed-by=" sb
            if (tolower(v["trusted"]) == "yes") opts = opts (opts != "" ? " " : "") "trusted=yes"
            nu = split(v["uris"], a, /[ \t]+/); ns = split(v["suites"], b, /[ \t]+/)
            for (u = 1; u <= nu; u++) for (x = 1; x <= ns; x++)
              print "deb-src" (opts != "" ? " [" opts "]" : "") " " a[u] " " b[x] \
                (b[x] ~ /\/$/ ? "" : " " v["components"])
          }
          reset()
        }
        BEGIN { reset(); stanza = 0 }
        /^#/ { next }
        /^[ \t]*$/ { flush(); stanza++; next }
        /^[ \t]/ { # a continuation line: more of the field, or of the inline key
          if (inkey) { l = substr($0, 2); if (l == ".") l = ""; print l > keyfile }
          else if (field != "") { l = $0; gsub(/^[ \t]+|[ \t]+$/, "", l); v[field] = v[field] " " l }
          next
        }
        {
          if (inkey) { close(keyfile); inkey = 0 }
          field = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
          gsub(/^[ \t]+|[ \t]+$/, "", val)
          if (field == "signed-by" && val == "") {
            keyfile = keydir "/" base "." stanza ".asc"; printf "" > keyfile
            v[field] = keyfile; inkey = 1
          } else v[field] = val
        }
        END { flush() }' "$f"
    done
  } | sort -u
}

APT=()
apt_fetch() { # NAME...: the source packages' files into src/dl/ (one apt-get update)
  local list=$out/apt/sources.list
  apt_sources >"$list.tmp"
  [ -s "$list.tmp" ] || die "no \`deb\` entries in /etc/apt/sources.list{,.d/*.list,.d/*.sources} to derive deb-src from"
  mv "$list.tmp" "$list"
  APT=(apt-get -q -o Dir::Etc::SourceList="$list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$out/apt/lists" -o Dir::Cache="$out/apt/cache" -o Debug::NoLocking=1)
  # as root apt downloads as _apt, which cannot write OUTDIR: say that root is meant
  [ "$(id -u)" != 0 ] || APT+=(-o APT::Sandbox::User=root)
  cur="apt"
  LOG=$out/log/apt.log
  : >"$LOG"
  # a failing extra repository (one without sources) is not fatal: the
  # download below says whether the versions were found
  "${APT[@]}" update >>"$LOG" 2>&1 || say "warning: apt-get update reported errors (see $LOG)"
  local n tmp
  for n; do
    cur="$n ${SRCVER[$n]}"
    say "$cur: fetching"
    tmp=$out/src/dl/.tmp-$n
    rm -rf "$tmp"; mkdir -p "$tmp"; TEMPS+=("$tmp")
    if ! (cd "$tmp" && "${APT[@]}" source --download-only "${SRCPKG[$n]}=${SRCVER[$n]}") >>"$LOG" 2>&1; then
      tail -n 15 "$LOG" >&2
      die "$cur: Debian source package ${SRCPKG[$n]} version ${SRCVER[$n]} not found through apt (sources: $list; log: $LOG)"
    fi
    # the .dsc last: its presence means the download is complete
    find "$tmp" -maxdepth 1 -type f ! -name '*.dsc' -exec mv -f {} "$out/src/dl/" \;
    mv -f "$tmp"/*.dsc "$out/src/dl/"
    rm -rf "$tmp"
  done
}

dsc_of() { echo "$out/src/dl/${SRCPKG[$1]}_${SRCVER[$1]#*:}.dsc"; }

# ---- per-library builds: each leaves $OBJS (renamed PIC objects/archives),
# $LINKER, $LINKLIBS, and the meta fields, in $SRC (the unpacked source) ----
rules_configure_opts() { # the options debian/rules gives dh_auto_configure
  # shellcheck disable=SC1003 # tr's backslash
  make -s --no-print-directory -f debian/rules -n override_dh_auto_configure 2>/dev/null |
    tr '\n\\' '  ' | sed -n 's/^ *dh_auto_configure *-- *//p' | tr -s ' ' | sed 's/ *$//'
}
rules_flags() { # VAR: dpkg-buildflags --get VAR in debian/rules' exported environment
  make -s --no-print-directory -f debian/rules \
    --eval "hl-flags: ; @dpkg-buildflags --get $1" hl-flags | tr -s ' ' | sed 's/^ //; s/ $//'
}
# debhelper's standard options (Debian::Debhelper::Buildsystem::autoconf and ::cmake)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# shellcheck disable=SC2016 # ${prefix} is for configure
DH_AUTOCONF=(--build="$(dpkg-architecture -qDEB_BUILD_GNU_TYPE)" --prefix=/usr
  '--includedir=${prefix}/include' '--mandir=${prefix}/share/man' '--infodir=${prefix}/share/info'
  --sysconfdir=/etc --localstatedir=/var --disable-option-checking --disable-silent-rules
  "--libdir=\${prefix}/lib/$multiarch" --disable-maintainer-mode --disable-dependency-tracking)
autoconf_configure() { # ./configure as dh_auto_configure runs it, with the rules' options
  local opts=("${DH_AUTOCONF[@]}") extra
  # debhelper adds --runstatedir only where configure knows it
  if grep -q -- --runstatedir configure; then opts+=(--runstatedir=/run); fi
  read -r -a extra <<<"$CONFOPTS"
  run env CFLAGS="$CF" CXXFLAGS="$CXF" CPPFLAGS="$CPPF" LDFLAGS="$LDF" "$@" \
    ./configure "${opts[@]}" "${extra[@]}"
}
DH_CMAKE=(-DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_SYSCONFDIR=/etc
  -DCMAKE_INSTALL_LOCALSTATEDIR=/var -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
  -DFETCHCONTENT_FULLY_DISCONNECTED=ON -DCMAKE_INSTALL_RUNSTATEDIR=/run
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON "-GUnix Makefiles" -DCMAKE_VERBOSE_MAKEFILE=ON
  "-DCMAKE_INSTALL_LIBDIR=lib/$multiarch")

REDEFS=()
for f in "${RENAMED[@]}"; do REDEFS+=(--redefine-sym "$f=hl_capture_$f"); done
rename_into() { # SRC DST: an object or archive with the libc calls renamed
  run objcopy "${REDEFS[@]}" "$1" "$2"
}
mkvar() { # MAKEFILE-DIR VAR...: the values of make variables of a generated Makefile
  local dir=$1; shift
  local rule="hl-print: ; @:" v
  for v; do rule="$rule; echo '\$($v)'"; done
  make -s --no-print-directory -C "$dir" --eval "$rule" hl-print
}

build_jemalloc() {
  cd "$SRC"
  CONFOPTS=$(rules_configure_opts)
  say "$cur: configuring"
  autoconf_configure EXTRA_CFLAGS="$CAPTURE_FLAGS" EXTRA_CXXFLAGS="$CAPTURE_FLAGS"
  say "$cur: building"
  run make -j"$jobs" lib/libjemalloc_pic.a
  rename_into lib/libjemalloc_pic.a "$OBJDIR/libjemalloc_pic.a"
  # shellcheck disable=SC2054 # linker options
  OBJS=(-Wl,--whole-archive "$OBJDIR/libjemalloc_pic.a" -Wl,--no-whole-archive)
  local vars
  mapfile -t vars < <(mkvar . CC LIBS)
  [ ${#vars[@]} -eq 2 ] || die "$cur: cannot read CC and LIBS from jemalloc's Makefile"
  read -r -a LINKER <<<"${vars[0]}"
  read -r -a LINKLIBS <<<"${vars[1]}"
  BUILD_SYSTEM="autoconf (upstream configure) + make"
  CF_USED="$CF $CAPTURE_FLAGS"
  CXF_USED="$CXF $CAPTURE_FLAGS"
}

build_mimalloc() {
  cd "$SRC"
  CONFOPTS=$(rules_configure_opts)
  CF_USED="$CF $CPPF $CAPTURE_FLAGS" # debhelper gives cmake CPPFLAGS inside CFLAGS
  CXF_USED="$CXF $CPPF $CAPTURE_FLAGS"
  LINKER=(cc)
  LINKLIBS=()
  if command -v cmake >/dev/null && [ -z "${HL_CAPTURE_NO_CMAKE:-}" ]; then
    say "$cur: configuring"
    # shellcheck disable=SC2086
    run env CFLAGS="$CF_USED" CXXFLAGS="$CXF_USED" LDFLAGS="$LDF" \
      cmake -S . -B obj-capture "${DH_CMAKE[@]}" $CONFOPTS
    say "$cur: building"
    # only the shared target's objects (its own link would add libtsan)
    local objs
    objs=$(make -s --no-print-directory -C obj-capture help | sed -n 's/^\.\.\. \(src\/[^ ]*\.o\)$/\1/p')
    [ -n "$objs" ] || die "$cur: no object targets in cmake's Makefile"
    # shellcheck disable=SC2086
    run make -C obj-capture -j"$jobs" $objs
    OBJS=()
    local o
    for o in obj-capture/CMakeFiles/mimalloc.dir/src/*.c.o; do
      rename_into "$o" "$OBJDIR/$(basename "$o")"
      OBJS+=("$OBJDIR/$(basename "$o")")
    done
    # the libraries cmake links the target with (link.txt: after the objects)
    local w words
    read -r -a words <obj-capture/CMakeFiles/mimalloc.dir/link.txt
    for w in "${words[@]}"; do
      case "$w" in -l* | /*.so | /*.a) LINKLIBS+=("$w") ;; esac
    done
    LINKER=("$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' obj-capture/CMakeCache.txt)")
    BUILD_SYSTEM="cmake $(cmake --version | sed -n 's/^cmake version //p') + make"
  else
    say "$cur: building (single-file src/static.c: no cmake)"
    # as cmake's flags.make orders them: defines, includes, then the flags
    # shellcheck disable=SC2206 # CF_USED is words
    local args=(-DMI_MALLOC_OVERRIDE -DMI_SHARED_LIB -DMI_SHARED_LIB_EXPORT -Dmimalloc_EXPORTS
      -Iinclude $CF_USED -O2 -g -DNDEBUG -fPIC -Wall -Wextra -Wno-unknown-pragmas
      -fvisibility=hidden -Wstrict-prototypes -ftls-model=initial-exec -fno-builtin-malloc -std=gnu11)
    LINKLIBS=(-lpthread -lrt) # mi_libraries
    case " $CONFOPTS " in *" -DMI_USE_LIBATOMIC=ON "*) LINKLIBS+=(-latomic) ;; esac
    run "${LINKER[@]}" "${args[@]}" -c src/static.c -o "$OBJDIR/static.raw.o"
    rename_into "$OBJDIR/static.raw.o" "$OBJDIR/static.o"
    OBJS=("$OBJDIR/static.o")
    BUILD_SYSTEM="single-file src/static.c (CMakeLists flags for the shared target; no cmake)"
    CF_USED="${args[*]}"
  fi
}

la_field() { sed -n "s/^$2='\(.*\)'\$/\1/p" "$1"; } # LIBTOOL-FILE FIELD

build_tcmalloc() {
  cd "$SRC"
  local t
  for t in autoreconf libtoolize aclocal automake; do
    command -v $t >/dev/null ||
      die "$cur: needs $t: install the Debian packages autoconf automake libtool (gperftools ships no configure; Debian runs dh_autoreconf)"
  done
  CONFOPTS=$(rules_configure_opts)
  say "$cur: configuring"
  run autoreconf -f -i
  autoconf_configure
  CF_USED="$CF $CAPTURE_FLAGS"
  CXF_USED="$CXF $CAPTURE_FLAGS"
  say "$cur: building"
  local parts
  mapfile -t parts < <(mkvar . libtcmalloc_minimal_la_OBJECTS libtcmalloc_minimal_la_LIBADD CXX)
  if [ ${#parts[@]} -ne 3 ] || [ -z "${parts[0]}" ]; then
    die "$cur: cannot read libtcmalloc_minimal.la's objects from the Makefile"
  fi
  # shellcheck disable=SC2086
  run make -j"$jobs" CFLAGS="$CF_USED" CXXFLAGS="$CXF_USED" ${parts[0]} ${parts[1]}
  OBJS=()
  LINKLIBS=(-pthread)
  local lo la o i=0 pic deps
  for lo in ${parts[0]}; do
    pic=$(la_field "$lo" pic_object)
    if [ -z "$pic" ] || [ "$pic" = none ]; then die "$cur: $lo has no PIC object"; fi
    o=$OBJDIR/$((i++))-$(basename "$pic")
    rename_into "$(dirname "$lo")/$pic" "$o"
    OBJS+=("$o")
  done
  for la in ${parts[1]}; do
    case "$la" in
      *.la)
        o=$OBJDIR/$(basename "$la" .la).a
        rename_into "$(dirname "$la")/.libs/$(la_field "$la" old_library)" "$o"
        # shellcheck disable=SC2054 # linker options
        OBJS+=(-Wl,--whole-archive "$o" -Wl,--no-whole-archive)
        deps=$(la_field "$la" dependency_libs)
        for o in $deps; do case "$o" in -l* | -L* | -pthread) LINKLIBS+=("$o") ;; esac; done
        ;;
      *) LINKLIBS+=("$la") ;;
    esac
  done
  read -r -a LINKER <<<"${parts[2]}"
  BUILD_SYSTEM="autoreconf -f -i + configure + make (libtool)"
}

check_so() { # FILE SONAME: what the simulator relies on
  local f=$1 so=$2 und bad
  # (whole outputs first: `readelf | grep -q` can fail on SIGPIPE under pipefail)
  local dyn sections
  dyn=$(readelf -d "$f")
  sections=$(readelf -S "$f")
  grep -q "Library soname: \[$so\]" <<<"$dyn" || die "$cur: $f has no soname $so"
  if grep -q 'libtsan' <<<"$dyn"; then die "$cur: $f links libtsan"; fi
  und=$(nm -D --undefined-only "$f" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
  grep -q '^__tsan_func_entry$' <<<"$und" || die "$cur: $f calls no __tsan_* (not instrumented?)"
  bad=$(grep -xE "$(IFS='|'; echo "${RENAMED[*]}")" <<<"$und" | tr '\n' ' ' || true)
  [ -z "$bad" ] || die "$cur: $f still calls libc's $bad(not renamed)"
  bad=$(grep -xE '__(memcpy|memmove|memset|mempcpy)_chk|mempcpy|bzero|explicit_bzero|wmemcpy|wmemset' \
    <<<"$und" | tr '\n' ' ' || true)
  [ -z "$bad" ] || say "$cur: note: calls libc's $bad(not instrumented, not renamed: their accesses are not seen)"
  grep -q '\.debug_info' <<<"$sections" || die "$cur: $f has no debug info"
  grep -q '\.symtab' <<<"$sections" || die "$cur: $f has no .symtab"
}

write_meta() {
  local n
  {
    echo "$META_HEADER"
    for n in "${LIBS[@]}"; do [ -z "${ROW[$n]:-}" ] || echo "${ROW[$n]}"; done
  } >"$out/meta.tsv.tmp"
  mv "$out/meta.tsv.tmp" "$out/meta.tsv"
}

start=$SECONDS
if [ ${#stale[@]} -gt 0 ]; then
  # every library is rebuilt under this script's recipe
  if [ "$(cat "$out/.recipe" 2>/dev/null)" != "$recipe" ]; then
    echo "$recipe" >"$out/.recipe.tmp"
    mv "$out/.recipe.tmp" "$out/.recipe"
    write_meta
  fi
  need=()
  for n in "${stale[@]}"; do [ -f "$(dsc_of "$n")" ] || need+=("$n"); done
  [ ${#need[@]} -eq 0 ] || apt_fetch "${need[@]}"

  for n in "${stale[@]}"; do
    cur="$n ${SRCVER[$n]}"
    LOG=$out/log/$n.log
    : >"$LOG"
    SRC=$out/src/$n
    OBJDIR=$out/src/$n-objs
    rm -rf "$SRC" "$OBJDIR"
    mkdir -p "$OBJDIR"
    if ! dpkg-source -x "$(dsc_of "$n")" "$SRC" >>"$LOG" 2>&1; then
      # a damaged download: fetch it again, once
      rm -rf "$SRC"
      rm -f "$(dsc_of "$n")"
      apt_fetch "$n"
      cur="$n ${SRCVER[$n]}"
      LOG=$out/log/$n.log
      run dpkg-source -x "$(dsc_of "$n")" "$SRC"
    fi
    cd "$SRC"
    CF=$(rules_flags CFLAGS)
    CXF=$(rules_flags CXXFLAGS)
    CPPF=$(rules_flags CPPFLAGS)
    LDF=$(rules_flags LDFLAGS)
    "build_$n"
    cd "$SRC"
    say "$cur: linking"
    so=${SONAME[$n]}
    tmp=$out/lib/.$so.tmp
    TEMPS+=("$tmp")
    # shellcheck disable=SC2086 # LDFLAGS are words
    run "${LINKER[@]}" -shared -Wl,-soname,"$so" $LDF -o "$tmp" "${OBJS[@]}" "${LINKLIBS[@]}"
    check_so "$tmp" "$so"
    mv -f "$tmp" "$out/lib/$so"
    row="$n	${SRCPKG[$n]}	${SRCVER[$n]}	$so	$BUILD_SYSTEM	${CONFOPTS:-none}	$CPPF	$CF_USED	$CXF_USED	$LDF"
    ROW[$n]=$(tr -s ' ' <<<"$row")
    write_meta
    rm -rf "$OBJDIR"
  done
fi

# ---- the callbacks the three libraries need from the runtime ----
for n in "${LIBS[@]}"; do nm -D --undefined-only "$out/lib/${SONAME[$n]}"; done |
  awk '{print $NF}' | sed 's/@.*//' | grep -E '^(__tsan_|hl_capture_)' | sort -u >"$out/lib/callbacks.needed.tmp"
mv "$out/lib/callbacks.needed.tmp" "$out/lib/callbacks.needed"
say "built ${stale[*]:-nothing} in $((SECONDS - start)) s: $out/lib ($(wc -l <"$out/lib/callbacks.needed") callbacks needed)"
report_missing
