# heaplab: build, test and benchmark memory allocators.
#
#   make            build everything into build/ (commands in build/bin/)
#   make deps       install the Debian packages heaplab uses, where missing
#   make test       unit + integration tests, again under ASan+UBSan and under TSan,
#                   and a short run of every fuzz target (make fuzz: a longer one)
#   make capture-baselines  jemalloc, mimalloc and tcmalloc rebuilt from Debian's sources
#                   with the capture instrumentation, for `hlreplay --sim` (bench and test need it)
#   make bench      the benchmark matrix of harness/bench.conf (QUICK=1: harness/bench-quick.conf),
#                   then the unit-queue and fast-path benchmarks (hlqueuebench, hlmicro);
#                   without QUICK also the large Cachegrind comparison and the --sim speed
#   make plots      figures from results/RUN (default: the newest run) into plots/out/RUN
#   make paper      paper/paper.pdf from the reference run results/paper (PAPER_RUN=DIR)
#   make paper-run  make a reference run of paper/runs/*.conf into PAPER_OUT (results/paper-new)
#   make reproduce  rerun the reference run's matrix here on new seeds, check paper/claims.conf
#   make bench-bundle  a self-contained tarball to run the scaling matrix elsewhere
#   make clean      remove build/
#
# Conventions that keep this file short: in workloads/, harness/ and sim/, a
# file named hl*.c is a command (build/bin/hl*); every other .c file belongs to
# its module's library. workloads/recorder/*.c form the LD_PRELOAD recorder
# (build/lib/libhlrecord.so). tests/test_*.c are test programs, tests/test_*.sh
# test scripts, tests/fuzz/fuzz_*.c libFuzzer targets; all found by wildcard.

CC       ?= gcc
CLANG    ?= clang
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -pthread
HL_CFLAGS = $(BASE_CFLAGS)
# a library preloaded into other programs: never sanitized (a sanitizer
# runtime cannot be preloaded into a plain program), only its API exported,
# built as a release (-DNDEBUG: an assert inside malloc would print through
# malloc, under its locks; misuse is reported by the library's own checks)
PRELOAD_CFLAGS = $(CFLAGS) $(BASE_CFLAGS) -fPIC -fvisibility=hidden -DNDEBUG
LDLIBS   = -ldl -lpthread -lm

# SAN=asan builds everything a second time, into build/asan, with
# AddressSanitizer and UndefinedBehaviorSanitizer; SAN=tsan likewise.
ifeq ($(SAN),asan)
BUILD    ?= build/asan
HL_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),tsan)
BUILD    ?= build/tsan
HL_CFLAGS += -fsanitize=thread
else
BUILD    ?= build
endif

QUICK    ?=
BENCH_CONFIG ?= $(if $(QUICK),harness/bench-quick.conf,harness/bench.conf)
FUZZ_SECONDS ?= 20

# alloc/arena/arena_malloc.c defines malloc itself: only libhlarena.so has it.
# The library also needs the options parser (alloc/options.c) for HLARENA_OPTIONS.
ARENA_FACE   = alloc/arena/arena_malloc.c
ALLOC_SRC    = $(sort $(filter-out $(ARENA_FACE),$(wildcard alloc/*.c alloc/*/*.c)))
ARENA_SO_SRC = $(sort $(filter-out alloc/arena/arena_alloc.c,$(wildcard alloc/arena/*.c)) alloc/options.c)
TRACE_SRC    = $(sort $(wildcard workloads/trace/*.c workloads/gen/*.c workloads/import/*.c))
HARNESS_SRC  = $(sort $(filter-out harness/hl%.c,$(wildcard harness/*.c)))
SIM_SRC      = $(sort $(filter-out sim/hl%.c sim/capture%.c,$(wildcard sim/*.c)))
RECORDER_SRC = $(sort $(wildcard workloads/recorder/*.c))
COMMANDS     = $(patsubst %.c,$(BUILD)/bin/%,$(notdir $(wildcard workloads/hl*.c harness/hl*.c sim/hl*.c)))
PRELOADS     = $(if $(RECORDER_SRC),$(BUILD)/lib/libhlrecord.so) \
               $(if $(wildcard $(ARENA_FACE)),$(BUILD)/lib/libhlarena.so)
# Recorded traces of real programs ship xz-compressed; the build unpacks them.
SHIPPED_TRACES = $(patsubst workloads/traces/%.hlt.xz,build/traces/%.hlt,$(wildcard workloads/traces/*.hlt.xz))
TEST_SRC     = $(sort $(wildcard tests/test_*.c))
TESTS        = $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
FUZZ_SRC     = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS      = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

LIBS = $(BUILD)/libhlharness.a $(BUILD)/libhlsim.a $(BUILD)/libhltrace.a $(BUILD)/libhlalloc.a

# Recorded into every result's metadata.
BUILD_INFO = -DHL_BUILD_CC='"$(shell $(CC) --version | head -n1)"' \
             -DHL_BUILD_CFLAGS='"$(CFLAGS) $(HL_CFLAGS)"'

.PHONY: all deps paper-deps capture-baselines test fuzz fuzz-build bench bench-queue bench-micro bench-sim plots paper paper-run reproduce bench-bundle \
        clean format help
.DEFAULT_GOAL := all

all: $(COMMANDS) $(TESTS) $(PRELOADS) $(SHIPPED_TRACES)

help:
	@sed -n '3,/^#$$/p' Makefile | sed 's/^# \{0,1\}//'

$(BUILD)/%.o: %.c $(wildcard */*.h */*/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(HL_CFLAGS) $(BUILD_INFO) -MMD -c $< -o $@

$(BUILD)/libhlalloc.a: $(ALLOC_SRC:%.c=$(BUILD)/%.o)
	@echo "  AR      $@"; rm -f $@; ar rcs $@ $^
$(BUILD)/libhltrace.a: $(TRACE_SRC:%.c=$(BUILD)/%.o)
	@echo "  AR      $@"; rm -f $@; ar rcs $@ $^
$(BUILD)/libhlharness.a: $(HARNESS_SRC:%.c=$(BUILD)/%.o)
	@echo "  AR      $@"; rm -f $@; ar rcs $@ $^
$(BUILD)/libhlsim.a: $(SIM_SRC:%.c=$(BUILD)/%.o)
	@echo "  AR      $@"; rm -f $@; ar rcs $@ $^

# The recorder is preloaded into other programs: position-independent, and
# never sanitized (a sanitizer runtime cannot be preloaded into a plain program).
$(BUILD)/lib/libhlrecord.so: $(RECORDER_SRC) $(wildcard workloads/recorder/*.h)
	@mkdir -p $(dir $@)
	@echo "  SO      $@"
	@$(CC) $(PRELOAD_CFLAGS) -shared $(RECORDER_SRC) -ldl -o $@

# The arena allocator as a malloc replacement for any program (LD_PRELOAD):
# its core plus the malloc face, unsanitized like the recorder, only the
# malloc API (and hlarena_version) exported.
$(BUILD)/lib/libhlarena.so: $(ARENA_SO_SRC) $(wildcard alloc/arena/*.h) alloc/options.h
	@mkdir -p $(dir $@)
	@echo "  SO      $@"
	@$(CC) $(PRELOAD_CFLAGS) -ftls-model=initial-exec -shared $(ARENA_SO_SRC) -o $@

# Link a program from its object and the libraries. Commands export their
# symbols (-rdynamic) so dladdr() can name them.
define LINK_RULE
$(1): $(2) $$(LIBS)
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	@$$(CC) $$(CFLAGS) $$(HL_CFLAGS) -rdynamic $$< $$(LIBS) $$(LDLIBS) -o $$@
endef
$(foreach dir,workloads harness sim,$(eval $(call LINK_RULE,$$(BUILD)/bin/%,$$(BUILD)/$(dir)/%.o)))
$(eval $(call LINK_RULE,$$(BUILD)/tests/%,$$(BUILD)/tests/%.o))

build/traces/%.hlt: workloads/traces/%.hlt.xz
	@mkdir -p $(dir $@)
	@echo "  XZ      $@"
	@xz -dc $< >$@.tmp && mv $@.tmp $@

# libFuzzer targets (tests/fuzz/fuzz_NAME.c -> build/fuzz/fuzz_NAME), built with
# clang's fuzzer runtime, one recipe for all: the target's source and the C
# sources it links, FUZZ_DEPS_fuzz_NAME when the target sets it, else the trace
# library (FUZZ_DEPS: the reader, writer, text form, generators, importers).
# Each has a seed corpus tests/fuzz/corpus/fuzz_NAME/ and, when the format has
# tokens worth knowing, a dictionary tests/fuzz/fuzz_NAME.dict (`make fuzz` and
# tests/run.sh pass it with -dict=). The targets:
#   fuzz_trace_reader   binary traces (versions 1 and 2) and text that starts with the header
#   fuzz_trace_text     the text form: any input to `hltrace pack`'s parser, and round trips
#   fuzz_import_mtrace  glibc MALLOC_TRACE logs (`hltrace import mtrace`)
#   fuzz_import_record  the recorder's raw logs (`hltrace import record`)
#   fuzz_bench_config   hlbench's config files (harness/bench_config.c)
#   fuzz_sim_input      the simulator's access traces, and its config files (inputs
#                       starting with "#conf", sim/sim_config.c)
FUZZ_DEPS                   = $(TRACE_SRC) alloc/kind.c
FUZZ_DEPS_fuzz_sim_input    = $(SIM_SRC)
FUZZ_DEPS_fuzz_bench_config = harness/bench_config.c harness/bench_util.c sim/sim_config.c $(ALLOC_SRC)
define FUZZ_RULE
build/fuzz/$(1): tests/fuzz/$(1).c $$(or $$(FUZZ_DEPS_$(1)),$$(FUZZ_DEPS)) $$(wildcard */*.h */*/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  FUZZ    $$@"
	@$$(CLANG) -g -O1 -std=c11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all $$< $$(filter %.c,$$(filter-out $$<,$$^)) -ldl -lpthread -lm -o $$@
endef
$(foreach f,$(FUZZ_SRC:tests/fuzz/%.c=%),$(eval $(call FUZZ_RULE,$(f))))
# -dict=FILE for a target that has a dictionary
fuzz_dict = $(if $(wildcard tests/fuzz/$(1).dict),-dict=tests/fuzz/$(1).dict)

# ---- access capture: build/bin/hlreplay-sim (`hlreplay --sim`, sim/README.md) ----
# The project's allocator sources (every alloc/*.c and alloc/*/*.c except the
# Debian baselines' alloc/baseline/ and any malloc-API face that defines
# malloc itself) are compiled again with -fsanitize=thread into build/capture/,
# their memcpy/memset/memmove and pthread mutex/spin lock calls renamed to
# hl_capture_* (libc is not instrumented), their own malloc calls likewise
# (sim/capture_malloc.c: deterministic placement), and linked WITHOUT libtsan against
# our runtime sim/capture*.c. Every __tsan_* or hl_capture_* symbol the capture
# objects need must be defined by the runtime: checked here by `nm` (a missing
# callback stops the build with its name), and the link would fail anyway.
# The normal build only (a sanitizer build owns the __tsan_* names itself).
ifeq ($(SAN),)
CAPTURE          = build/capture
CAPTURE_FACES    = $(shell grep -lP '^[a-z_ ]*[ *]malloc\s*\x28' $(ALLOC_SRC) 2>/dev/null)
CAPTURE_PLAIN    = $(filter alloc/baseline/%,$(ALLOC_SRC)) $(CAPTURE_FACES)
CAPTURE_ALLOC    = $(filter-out $(CAPTURE_PLAIN),$(ALLOC_SRC))
CAPTURE_RT_SRC   = $(sort $(wildcard sim/capture*.c))
CAPTURE_RT       = $(CAPTURE_RT_SRC:%.c=$(CAPTURE)/%.o)
CAPTURE_OBJS     = $(CAPTURE_ALLOC:%.c=$(CAPTURE)/%.o)
# gcc expands a constant-size memcpy/memset/memmove inline, past the
# instrumentation: -fno-builtin-* keeps each one a call (then renamed below)
CAPTURE_CFLAGS   = -fsanitize=thread -fno-builtin-memcpy -fno-builtin-memset -fno-builtin-memmove
# libc calls renamed in every capture object (a library that defines malloc
# keeps its malloc family: CAPTURE_LIBC_CALLS only)
CAPTURE_LIBC_CALLS = memcpy memmove memset __memcpy_chk __memmove_chk __memset_chk \
                   pthread_mutex_lock pthread_mutex_trylock \
                   pthread_mutex_unlock pthread_spin_lock pthread_spin_trylock pthread_spin_unlock
CAPTURE_LIBC     = $(CAPTURE_LIBC_CALLS) malloc calloc realloc free posix_memalign aligned_alloc memalign
CAPTURE_HARNESS  = $(CAPTURE)/harness/replay.o $(CAPTURE)/harness/preload.o \
                   $(filter-out build/harness/replay.o build/harness/preload.o,$(HARNESS_SRC:%.c=build/%.o))
CAPTURE_PROGRAMS = build/bin/hlreplay-sim $(CAPTURE)/tests/atomics $(CAPTURE)/lib/libhlarena.so
all: $(CAPTURE_PROGRAMS)

$(CAPTURE)/alloc/%.o: alloc/%.c $(wildcard */*.h */*/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC/CAP  $<"
	@$(CC) $(CFLAGS) $(HL_CFLAGS) $(CAPTURE_CFLAGS) -MMD -c $< -o $@.tmp
	@objcopy $(foreach f,$(CAPTURE_LIBC),--redefine-sym $(f)=hl_capture_$(f)) $@.tmp $@
	@rm -f $@.tmp
# uninstrumented parts of the capture program: the runtime and the replay's hooks
define CAPTURE_PLAIN_RULE
$$(CAPTURE)/$(1)/%.o: $(1)/%.c $$(wildcard */*.h */*/*.h) Makefile
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$< (capture)"
	@$$(CC) $$(CFLAGS) $$(HL_CFLAGS) $$(BUILD_INFO) -DHL_CAPTURE -MMD -c $$< -o $$@
endef
$(foreach dir,sim harness,$(eval $(call CAPTURE_PLAIN_RULE,$(dir))))

$(CAPTURE)/callbacks.ok: $(CAPTURE_OBJS) $(CAPTURE_RT)
	@mkdir -p $(dir $@)
	@nm -u $(CAPTURE_OBJS) | awk '$$1 == "U" && $$2 ~ /^(__tsan_|hl_capture_)/ {print $$2}' \
	  | sort -u >$(CAPTURE)/callbacks.needed
	@nm --defined-only $(CAPTURE_RT) | awk '$$2 == "T" {print $$3}' | sort -u >$(CAPTURE)/callbacks.have
	@missing=$$(comm -23 $(CAPTURE)/callbacks.needed $(CAPTURE)/callbacks.have); \
	if [ -n "$$missing" ]; then \
	  echo "capture: the instrumented allocators need callbacks sim/capture.c lacks:" $$missing >&2; \
	  exit 1; fi
	@touch $@

$(CAPTURE)/libhlalloc.a: $(CAPTURE_OBJS) $(CAPTURE_PLAIN:%.c=build/%.o)
	@echo "  AR      $@"; rm -f $@; ar rcs $@ $^

build/bin/hlreplay-sim: $(CAPTURE)/harness/hlreplay.o $(CAPTURE_HARNESS) $(CAPTURE)/libhlalloc.a \
                        $(CAPTURE_RT) $(CAPTURE)/callbacks.ok build/libhlsim.a build/libhltrace.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(HL_CFLAGS) -rdynamic $< $(CAPTURE_HARNESS) $(CAPTURE)/libhlalloc.a \
	  $(CAPTURE_RT) build/libhlsim.a build/libhltrace.a $(LDLIBS) -o $@
	@if readelf -d $@ | grep -q 'libtsan'; then echo "capture: $@ links libtsan" >&2; rm -f $@; exit 1; fi

# libhlarena.so's capture build, which hlreplay-sim preloads for arena-preload
# (harness/preload.c): the same sources and flags as build/lib's, instrumented,
# its __tsan_* calls left for hlreplay-sim (linked -rdynamic) to answer.
$(CAPTURE)/pic/%.o: %.c $(wildcard */*.h */*/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC/CAP  $< (libhlarena.so)"
	@$(CC) $(PRELOAD_CFLAGS) -ftls-model=initial-exec $(CAPTURE_CFLAGS) -c $< -o $@.tmp
	@objcopy $(foreach f,$(CAPTURE_LIBC_CALLS),--redefine-sym $(f)=hl_capture_$(f)) $@.tmp $@
	@rm -f $@.tmp
$(CAPTURE)/lib/libhlarena.so: $(ARENA_SO_SRC:%.c=$(CAPTURE)/pic/%.o)
	@mkdir -p $(dir $@)
	@echo "  SO      $@"
	@$(CC) $(CFLAGS) -pthread -shared $^ -o $@
	@if readelf -d $@ | grep -q 'libtsan'; then echo "capture: $@ links libtsan" >&2; rm -f $@; exit 1; fi

# the runtime's atomics checked by a tiny instrumented program (tests/test_capture.sh)
$(CAPTURE)/tests/%: tests/capture/%.c $(CAPTURE_RT) $(CAPTURE)/callbacks.ok build/libhlsim.a
	@mkdir -p $(dir $@)
	@echo "  CC/CAP  $<"
	@$(CC) $(CFLAGS) $(HL_CFLAGS) $(CAPTURE_CFLAGS) -c $< -o $@.tmp.o
	@objcopy $(foreach f,$(CAPTURE_LIBC),--redefine-sym $(f)=hl_capture_$(f)) $@.tmp.o $@.o
	@rm -f $@.tmp.o
	@$(CC) $(CFLAGS) $(HL_CFLAGS) -rdynamic $@.o $(CAPTURE_RT) build/libhlsim.a $(LDLIBS) -o $@
endif

# The Debian baselines' capture builds, from Debian's source packages of the
# installed versions (sim/capture-baselines.sh; minutes the first time, then
# cached in build/capture/baselines/ until a baseline package changes). The
# instrumentation and the renamed calls are the ones above.
CAPTURE_BASELINES = build/capture/baselines
capture-baselines: deps
	@CAPTURE_CFLAGS="$(CAPTURE_CFLAGS)" CAPTURE_RENAME="$(CAPTURE_LIBC_CALLS)" \
	  bash sim/capture-baselines.sh $(CAPTURE_BASELINES)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- packages ----
# Everything comes from Debian. dpkg-query decides what is missing, so a
# machine that has it all runs no apt-get at all.
# autoconf, automake, libtool and cmake: the baselines' own build systems, for
# their capture builds (sim/capture-baselines.sh)
DEB_PACKAGES = build-essential clang libclang-rt-dev git xz-utils \
               autoconf automake libtool cmake \
               libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev \
               libpapi-dev papi-tools linux-perf valgrind \
               gnuplot-nox python3-matplotlib
# The paper's LaTeX toolchain, apart: only `make paper` needs it. These three are
# enough (the Computer Modern fonts come with texlive-base, a dependency).
PAPER_PACKAGES = latexmk texlive-latex-base texlive-latex-recommended
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps paper-deps: PKGS = $(if $(filter paper-deps,$@),$(PAPER_PACKAGES),$(DEB_PACKAGES))
deps paper-deps:
	@missing=$$(for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "make $@: installing" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make $@: all Debian packages present"; fi

# ---- tests ----
test: deps paper-deps
	$(MAKE) all
	$(MAKE) capture-baselines
	$(MAKE) SAN=asan all
	$(MAKE) SAN=tsan all
	$(MAKE) fuzz-build
	tests/run.sh build build/asan build/tsan

fuzz-build: $(FUZZERS)

# A longer fuzz campaign, every target in turn: make fuzz FUZZ_SECONDS=600
# (new inputs go to build/fuzz/new-NAME/, crashes to ./crash-*)
fuzz: fuzz-build
	@set -e; $(foreach f,$(FUZZ_SRC:tests/fuzz/%.c=%), \
	  mkdir -p build/fuzz/new-$(f); \
	  build/fuzz/$(f) -max_total_time=$(FUZZ_SECONDS) $(call fuzz_dict,$(f)) \
	    build/fuzz/new-$(f) tests/fuzz/corpus/$(f);)

# ---- benchmarks ----
bench: deps all capture-baselines
	$(BUILD)/bin/hlbench --config $(BENCH_CONFIG) --bin $(BUILD)/bin --results results
	$(MAKE) --no-print-directory bench-queue
	$(MAKE) --no-print-directory bench-micro
	$(if $(QUICK),,$(MAKE) --no-print-directory bench-sim)

# Unit-heap queue messaging against malloc/free queues (glibc and the Debian
# baselines, in the same run), into the newest results run.
bench-queue:
	@run=$$(ls -td results/2*/ | head -n1); \
	echo "make bench: unit queue vs malloc/free queues -> $${run}queuebench.csv"; \
	$(BUILD)/bin/hlqueuebench --csv --preload jemalloc,mimalloc,tcmalloc \
	  $(if $(QUICK),--messages 20000 --repeats 1) >$${run}queuebench.csv.tmp && \
	mv $${run}queuebench.csv.tmp $${run}queuebench.csv && cat $${run}queuebench.csv

# Each allocator's fast path (one alloc+free pair at a time through the allocator
# interface) against jemalloc in the same run (harness/hlmicro.c), into the newest run.
bench-micro:
	@run=$$(ls -td results/2*/ | head -n1); \
	echo "make bench: fast paths, ns per alloc+free pair -> $${run}microbench.csv"; \
	$(BUILD)/bin/hlmicro --csv $(if $(QUICK),--pairs 200000 --rounds 3) >$${run}microbench.csv.tmp && \
	mv $${run}microbench.csv.tmp $${run}microbench.csv && cat $${run}microbench.csv

# The simulator's validation against Cachegrind at large sizes and the speed of
# `hlreplay --sim`, written into the newest run folder (the one just made);
# part of `make bench` except with QUICK=1 (the comparison takes minutes).
bench-sim:
	@run=$$(ls -td results/*/ | head -n1); cg=0; \
	echo "make bench: Cachegrind comparison (large) -> $${run}cachegrind.txt"; \
	if command -v valgrind >/dev/null; then \
	  bash sim/cachegrind-compare.sh --large $(BUILD)/bin/hlsim >$${run}cachegrind.txt || cg=$$?; \
	else echo "NA: valgrind not installed" >$${run}cachegrind.txt; fi; \
	cat $${run}cachegrind.txt; \
	echo "make bench: hlreplay --sim speed -> $${run}sim-speed.txt"; \
	bash sim/speed.sh $(BUILD)/bin >$${run}sim-speed.txt && cat $${run}sim-speed.txt || exit 1; \
	[ $$cg = 0 ] || { echo "make bench: hlsim disagrees with Cachegrind (see $${run}cachegrind.txt)" >&2; exit 1; }

# ---- figures ----
RUN ?=
plots: deps
	/usr/bin/python3 plots/bench_plots.py $(RUN)

# ---- the paper ----
# Numbers, tables and figures from the reference run PAPER_RUN and the independent
# rerun PAPER_RERUN (paper/make_numbers.py, which draws paper/figures.py's figures).
# Values the runs lack print as a red "n/a (not in run)" and the build succeeds;
# STRICT=1 fails it when a headline value is missing.
PAPER_RUN   ?= results/paper
PAPER_RERUN ?= results/paper-rerun
STRICT      ?=
paper: paper-deps
	@[ -f $(PAPER_RUN)/bench.csv ] || ls $(PAPER_RUN)/*/bench.csv >/dev/null 2>&1 || { echo "make paper: no bench.csv in $(PAPER_RUN) or its parts: the reference run is made by make paper-run (or: make paper PAPER_RUN=results/RUN)" >&2; exit 1; }
	/usr/bin/python3 paper/make_numbers.py $(PAPER_RUN) $(if $(wildcard $(PAPER_RERUN)),--rerun $(PAPER_RERUN)) $(if $(STRICT),--strict)
	cd paper && latexmk -pdf -interaction=nonstopmode -halt-on-error -quiet paper.tex
	@grep -o 'Output written on paper.pdf ([0-9]* pages*' paper/paper.log | sed 's/^/make paper: /'
	@n=$$(cat paper/gen/*.tex | grep -o 'nodata{' | wc -l); f=$$(grep -o 'nofigure{' paper/gen/figures.tex | wc -l); \
	  echo "make paper: paper/paper.pdf from $(PAPER_RUN); red n/a markers defined: $$n values, $$f figures"

# ---- running elsewhere ----
# A self-contained tarball: sources, configs, run.sh and this machine's baseline
# libraries (harness/BENCH.md, "Scaling beyond this machine").
BUNDLE ?= build/heaplab-bundle.tar.gz
bench-bundle: deps
	harness/bundle/make-bundle.sh $(BUNDLE)

# ---- the reference run and its reproduction ----
# paper-run: every part of the paper's matrix (paper/runs/*.conf) into PAPER_OUT/PART
# (about an hour on two cores; copy it to results/paper to make it the reference).
# reproduce: reruns the matrix stored in each part of REF's meta.json on new seeds into
# results/rerun-DATE (OUT=DIR to choose) and checks paper/claims.conf on both; exit 1
# when a claim does not hold. NEW=DIR checks an existing rerun instead (results/paper-rerun).
PAPER_OUT ?= results/paper-new
paper-run: deps all capture-baselines
	/usr/bin/python3 paper/run.py --out $(PAPER_OUT) --bin $(BUILD)/bin
REF ?= results/paper
reproduce: deps all capture-baselines
	/usr/bin/python3 paper/reproduce.py --ref $(REF) --bin $(BUILD)/bin $(if $(OUT),--out $(OUT)) $(if $(NEW),--new $(NEW))

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
