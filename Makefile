# heaplab: build, test and benchmark memory allocators.
#
#   make            build everything into build/ (commands in build/bin/)
#   make deps       install the Debian packages heaplab uses, where missing
#   make test       unit + integration tests, again under ASan+UBSan and under TSan,
#                   and a short fuzz run of the trace reader
#   make bench      the benchmark matrix of harness/bench.conf (QUICK=1: harness/bench-quick.conf)
#   make plots      figures from results/RUN (default: the newest run) into plots/out/RUN
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
HL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -pthread
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
ARENA_FACE   = alloc/arena/arena_malloc.c
ALLOC_SRC    = $(sort $(filter-out $(ARENA_FACE),$(wildcard alloc/*.c alloc/*/*.c)))
ARENA_SO_SRC = $(sort $(filter-out alloc/arena/arena_alloc.c,$(wildcard alloc/arena/*.c)))
TRACE_SRC    = $(sort $(wildcard workloads/trace/*.c workloads/gen/*.c workloads/import/*.c))
HARNESS_SRC  = $(sort $(filter-out harness/hl%.c,$(wildcard harness/*.c)))
SIM_SRC      = $(sort $(filter-out sim/hl%.c,$(wildcard sim/*.c)))
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

.PHONY: all deps test fuzz fuzz-build bench plots clean format help
.DEFAULT_GOAL := all

all: $(COMMANDS) $(TESTS) $(PRELOADS) $(SHIPPED_TRACES)

help:
	@sed -n '2,15p' Makefile | sed 's/^# \{0,1\}//'

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
	@$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -pthread -fPIC -shared \
	  -fvisibility=hidden $(RECORDER_SRC) -ldl -o $@

# The arena allocator as a malloc replacement for any program (LD_PRELOAD):
# its core plus the malloc face, unsanitized like the recorder, only the
# malloc API (and hlarena_version) exported.
$(BUILD)/lib/libhlarena.so: $(ARENA_SO_SRC) $(wildcard alloc/arena/*.h)
	@mkdir -p $(dir $@)
	@echo "  SO      $@"
	@$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -pthread -fPIC -shared \
	  -fvisibility=hidden -ftls-model=initial-exec $(ARENA_SO_SRC) -o $@

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

# libFuzzer targets: the trace reader built with clang's fuzzer runtime.
build/fuzz/%: tests/fuzz/%.c $(TRACE_SRC) alloc/kind.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@$(CLANG) -g -O1 -std=c11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all $< $(filter %.c,$(filter-out $<,$^)) -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- packages ----
# Everything comes from Debian. dpkg-query decides what is missing, so a
# machine that has it all runs no apt-get at all.
DEB_PACKAGES = build-essential clang libclang-rt-dev git xz-utils \
               libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev \
               libpapi-dev papi-tools linux-perf valgrind \
               gnuplot-nox python3-matplotlib
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make deps: all Debian packages present"; fi

# ---- tests ----
test: deps
	$(MAKE) all
	$(MAKE) SAN=asan all
	$(MAKE) SAN=tsan all
	$(MAKE) fuzz-build
	tests/run.sh build build/asan build/tsan

fuzz-build: $(FUZZERS)

# A longer fuzz campaign: make fuzz FUZZ_SECONDS=600
fuzz: fuzz-build
	@for f in $(FUZZERS); do \
	  c=tests/fuzz/corpus/$$(basename $$f); mkdir -p build/fuzz/new-$$(basename $$f); \
	  $$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/new-$$(basename $$f) $$c || exit 1; \
	done

# ---- benchmarks ----
bench: deps all
	$(BUILD)/bin/hlbench --config $(BENCH_CONFIG) --bin $(BUILD)/bin --results results

# ---- figures ----
RUN ?=
plots: deps
	/usr/bin/python3 plots/bench_plots.py $(RUN)

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
