# ofa: one Makefile.  `make help` lists the targets.
.DEFAULT_GOAL := all
SHELL := /bin/bash

# Debian packages the build, tests and demo need (make deps installs the missing ones as root).
DEB_PKGS := build-essential pkg-config libopenblas-dev libhdf5-dev hdf5-tools libopenmpi-dev openmpi-bin \
            libyaml-dev libcunit1-dev libutf8proc-dev zlib1g-dev
# The PyTorch side of the benchmarks and golden generators (make bench-deps / make golden).
DEB_PY_PKGS := python3-torch python3-h5py python3-numpy

PKGS := openblas hdf5-serial yaml-0.1 cunit libutf8proc ompi
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
BUILD ?= build
OPT ?= -O2
SAN ?=
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS := -std=c11 -Wall -Wextra -Werror $(OPT) -g -D_GNU_SOURCE -I. $(SAN) -DOFA_VERSION='"$(VERSION)"'
LDLIBS = $(PKG_LIBS) -lm -lpthread

LIB_DIRS := core nn datasets supernet models models/bert trainers coordinator evaluator
LIB_SRCS := $(wildcard $(addsuffix /*.c,$(LIB_DIRS)))
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRCS)) $(BUILD)/tests/runner.o $(BUILD)/tests/testutil.o
TEST_NAMES := $(patsubst tests/test_%.c,%,$(TEST_SRCS))

.PHONY: all help deps bench-deps test check-mpi demo asan bench golden clean check-pkgs
all: check-pkgs $(BUILD)/ofa $(BUILD)/libofa.a $(BUILD)/ofa_tests

help:
	@echo "make            build build/ofa, build/libofa.a and build/ofa_tests"
	@echo "make deps       install the Debian packages the build needs (as root; prints the apt line otherwise)"
	@echo "make demo       deps + build + ofa run configs/demo_sst2.yaml on real SST-2, then the depth x width grid"
	@echo "make test       deps + build + unit and integration tests (CUnit)"
	@echo "make check-mpi  the MPI job tests alone (mpirun --oversubscribe; also part of make test)"
	@echo "make asan       the tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "make bench      ofa vs PyTorch (../shared/bench/torch_peer.py) on the same work"
	@echo "make golden     regenerate the PyTorch golden files in tests/golden/ (needs python3-torch)"

check-pkgs:
	@pkg-config --exists $(PKGS) || { echo "missing build dependencies; run 'make deps' (as root) or:"; \
	  echo "  apt-get install $(DEB_PKGS)"; exit 2; }

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	elif pkg-config --exists $(PKGS); then echo "deps: not root; optional packages missing: $$missing"; \
	else echo "deps: missing packages; run as root: apt-get install $$missing"; exit 2; fi

bench-deps:
	@missing=$$(for p in $(DEB_PY_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "bench-deps: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "bench-deps: run as root: apt-get install $$missing"; exit 2; fi

# the git revision shown by `ofa --version`: main.o is rebuilt when it changes
$(BUILD)/git-rev: FORCE
	@mkdir -p $(BUILD)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
$(BUILD)/cli/main.o: $(BUILD)/git-rev
$(BUILD)/cli/main.o: CFLAGS += -DOFA_GIT_REV='"$(GIT_REV)"'
FORCE:
# The float kernels' element-wise loops (GELU's erf) vectorize only with gcc's dynamic cost model,
# and the erf clamp becomes a blend only without trapping-math; neither changes a result (IEEE
# arithmetic as written, no fast-math; ofa never reads floating-point exception flags).
$(BUILD)/nn/kernels_f32.o: CFLAGS += -fvect-cost-model=dynamic -fno-trapping-math
# the inference forward's embedding sums and copies, likewise
$(BUILD)/models/bert/infer.o: CFLAGS += -fvect-cost-model=dynamic

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libofa.a: $(LIB_OBJS)
	@rm -f $@
	@echo "AR $@"
	@ar rcs $@ $^

$(BUILD)/ofa: $(CLI_OBJS) $(BUILD)/libofa.a
	@echo "LD $@"
	@$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libofa.a $(LDLIBS)

# The runner's suite list is generated from the tests/test_*.c file names.
$(BUILD)/tests/suites.h: $(TEST_SRCS) Makefile
	@mkdir -p $(dir $@)
	@{ for n in $(TEST_NAMES); do echo "SUITE($$n)"; done; } > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/runner.o: $(BUILD)/tests/suites.h
$(BUILD)/tests/runner.o: CFLAGS += -I$(BUILD)/tests

$(BUILD)/ofa_tests: $(TEST_OBJS) $(BUILD)/libofa.a
	@echo "LD $@"
	@$(CC) $(CFLAGS) -o $@ $(TEST_OBJS) $(BUILD)/libofa.a $(LDLIBS)

# GLUE data: GLUE_DIR, else ../shared/data/glue when it exists.
GLUE_DIR ?= $(shell [ -d ../shared/data/glue ] && cd ../shared/data/glue && pwd)
export GLUE_DIR
export OFA_BIN := $(abspath $(BUILD)/ofa)

test: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/ofa_tests

check-mpi: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/ofa_tests mpi

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1 OFA_BIN=$(abspath build-asan/ofa) OFA_TEST_QUICK=1 build-asan/ofa_tests

demo: deps
	@$(MAKE) --no-print-directory all
	@if [ -z "$(GLUE_DIR)" ]; then echo "demo: no GLUE data: set GLUE_DIR to a glue_data folder (see docs/data.md)"; exit 2; fi
	$(BUILD)/ofa run configs/demo_sst2.yaml
	$(BUILD)/ofa eval runs/demo-sst2/teacher.h5
	$(BUILD)/ofa eval runs/demo-sst2/supernet.h5 --grid

bench: deps bench-deps
	@$(MAKE) --no-print-directory all
	bench/run.sh

golden: bench-deps
	/usr/bin/python3 tests/golden/make_golden.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_supernet.py tests/golden

clean:
	rm -rf build build-asan

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d)
