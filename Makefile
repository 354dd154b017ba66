# ofa: one Makefile.  `make help` lists the targets.
.DEFAULT_GOAL := all
SHELL := /bin/bash

# Debian packages the build, tests and demo need (make deps installs the missing ones as root).
DEB_PKGS := build-essential pkg-config libopenblas-dev libhdf5-dev hdf5-tools libopenmpi-dev openmpi-bin \
            libyaml-dev libcunit1-dev libutf8proc-dev zlib1g-dev liblapacke-dev libpng-dev libcjson-dev \
            dataset-fashion-mnist
# The PyTorch side of the benchmarks and golden generators (make bench-deps / make golden; scipy
# for the FID reference, scipy.linalg.sqrtm); node and npm (Debian's nodejs and npm when neither
# is on the PATH) for ONNX Runtime (onnxruntime-node, which make bench-deps installs into
# build/ort/), the inference peer of make bench.
DEB_PY_PKGS := python3-torch python3-h5py python3-numpy python3-scipy

# Libraries: each from explicit folders when given (module-loaded installs, e.g. on RHEL-like
# clusters), else from pkg-config (Debian's names, the default):
#   make MPICC=mpicc HDF5_DIR=$HDF5_ROOT OPENBLAS_DIR=$OPENBLAS_ROOT [YAML_DIR=... CUNIT_DIR=... UTF8PROC_DIR=...
#        LAPACKE_DIR=... PNG_DIR=... ZLIB_DIR=... CJSON_DIR=...]
# X_DIR means X_INC=$(X_DIR)/include and X_LIB=$(X_DIR)/lib64 and/or /lib (those that exist);
# X_INC / X_LIB alone set split layouts (each may list several folders).  Named library folders
# are also recorded as the binary's run path, so build/ofa runs without the modules loaded.
# MPICC replaces CC and pkg-config's ompi.  EXTRA_LIBS adds link flags (e.g. -lz -ldl for a
# static HDF5).  README.md, "Build elsewhere", documents these.
PKG_CONFIG ?= pkg-config
DEPS := OPENBLAS HDF5 YAML CUNIT UTF8PROC LAPACKE PNG ZLIB CJSON
OPENBLAS_PC := openblas
OPENBLAS_LINK := -lopenblas
HDF5_PC := hdf5-serial
HDF5_LINK := -lhdf5
YAML_PC := yaml-0.1
YAML_LINK := -lyaml
CUNIT_PC := cunit
CUNIT_LINK := -lcunit
UTF8PROC_PC := libutf8proc
UTF8PROC_LINK := -lutf8proc
# LAPACKE: the C interface to LAPACK (LAPACKE_dsyevd for FID); OpenBLAS's own library has no
# LAPACKE symbols (Debian's liblapacke calls the LAPACK that OpenBLAS provides).
LAPACKE_PC := lapacke
LAPACKE_LINK := -llapacke
# libpng: image grids (ofa translate); zlib: the gzip'd Fashion-MNIST IDX files.
PNG_PC := libpng
PNG_LINK := -lpng
ZLIB_PC := zlib
ZLIB_LINK := -lz
# cJSON: Hugging Face config.json and the safetensors header (ofa import).
CJSON_PC := libcjson
CJSON_LINK := -lcjson
define dep_dirs
$(1)_INC ?= $$(if $$($(1)_DIR),$$($(1)_DIR)/include)
$(1)_LIB ?= $$(if $$($(1)_DIR),$$(or $$(wildcard $$($(1)_DIR)/lib64 $$($(1)_DIR)/lib),$$($(1)_DIR)/lib))
endef
$(foreach d,$(DEPS),$(eval $(call dep_dirs,$(d))))
comma := ,
EXPLICIT_DEPS := $(foreach d,$(DEPS),$(if $(strip $($(d)_INC)$($(d)_LIB)),$(d)))
PKGS := $(strip $(foreach d,$(filter-out $(EXPLICIT_DEPS),$(DEPS)),$($(d)_PC)) $(if $(MPICC),,ompi))
DEP_CFLAGS := $(foreach d,$(EXPLICIT_DEPS),$(addprefix -I,$($(d)_INC)))
DEP_LIBS := $(foreach d,$(EXPLICIT_DEPS),$(foreach l,$($(d)_LIB),-L$(l) -Wl$(comma)-rpath$(comma)$(l)) $($(d)_LINK))

ifneq ($(MPICC),)
CC := $(MPICC)
endif
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
BUILD ?= build
PREFIX ?= /usr/local
OPT ?= -O2
SAN ?=
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

PKG_CFLAGS := $(DEP_CFLAGS) $(if $(PKGS),$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))
PKG_LIBS := $(DEP_LIBS) $(if $(PKGS),$(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)) $(EXTRA_LIBS)
CFLAGS := -std=c11 -Wall -Wextra -Werror $(OPT) -g -D_GNU_SOURCE -I. $(SAN) -DOFA_VERSION='"$(VERSION)"'
LDLIBS = $(PKG_LIBS) -lm -lpthread

LIB_DIRS := core nn datasets supernet models models/bert models/gan trainers coordinator evaluator
LIB_SRCS := $(wildcard $(addsuffix /*.c,$(LIB_DIRS)))
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRCS)) $(BUILD)/tests/runner.o $(BUILD)/tests/testutil.o $(BUILD)/tests/bert_file.o
TEST_NAMES := $(patsubst tests/test_%.c,%,$(TEST_SRCS))

.PHONY: lint all help deps bench-deps bench-mobile bench-gan test check-mpi check-build demo demo-gan asan bench golden clean check-pkgs install fuzz
all: check-pkgs $(BUILD)/ofa $(BUILD)/libofa.a $(BUILD)/ofa_tests $(BUILD)/bench/mobile_latency $(BUILD)/bench/student_distill \
     $(BUILD)/bench/strassen_probe

help:
	@echo "make            build build/ofa, build/libofa.a and build/ofa_tests"
	@echo "make deps       install the Debian packages the build needs (as root; prints the apt line otherwise)"
	@echo "make demo       deps + build + ofa run configs/demo_sst2.yaml on real SST-2, then the depth x width grid"
	@echo "make demo-gan   deps + build + ofa run configs/demo_gan.yaml (FID net, a small CycleGAN teacher, student, prune, supernet, search), eval and grids"
	@echo "make test       deps + build + unit and integration tests (CUnit)"
	@echo "make check-mpi  the MPI job tests alone (mpirun --oversubscribe; also part of make test)"
	@echo "make check-build  build + install with explicit library folders, pkg-config disabled (part of make test)"
	@echo "make install    build/ofa to PREFIX/bin (default /usr/local), sbatch script, configs + Python tools to PREFIX/share/ofa"
	@echo "make lint       the layering of docs/architecture.md over every #include, and every config key read (part of make test)"
	@echo "make asan       the tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "make fuzz       libFuzzer + ASan on the config, GLUE TSV, checkpoint, arch and vocab readers,"
	@echo "                FUZZ_SECONDS (180) each, from tests/fuzz/corpus/ (needs clang: apt-get install clang libclang-rt-dev)"
	@echo "make bench      ofa vs PyTorch (../shared/bench/torch_peer.py) on the same work"
	@echo "make bench-mobile  MobileResNet batch-1 latency, ofa vs ../shared/bench/torch_peer_gan.py --gen mobile"
	@echo "make bench-gan  CycleGAN training step and ResNet generator forward, ofa vs ../shared/bench/torch_peer_gan.py"
	@echo "make golden     regenerate the PyTorch/scipy golden files in tests/golden/ (needs python3-torch, python3-scipy)"

check-pkgs:
	@[ -z "$(PKGS)" ] || $(PKG_CONFIG) --exists $(PKGS) || { \
	  echo "missing build dependencies: $(PKG_CONFIG) does not know all of: $(strip $(PKGS))"; \
	  echo "on Debian, run 'make deps' (as root) or: apt-get install $(DEB_PKGS)"; \
	  echo "elsewhere, name the folders: make MPICC=mpicc HDF5_DIR=... OPENBLAS_DIR=... YAML_DIR=... CUNIT_DIR=..." \
	       "UTF8PROC_DIR=... LAPACKE_DIR=... PNG_DIR=... ZLIB_DIR=... (or X_INC=... X_LIB=...; see README.md)"; exit 2; }
	@for kv in $(foreach d,$(EXPLICIT_DEPS),$(d)_INC=$($(d)_INC) $(d)_LIB=$($(d)_LIB)); do \
	  v=$${kv#*=}; [ -z "$$v" ] || [ -d "$$v" ] || { echo "$$kv: no such folder"; exit 2; }; done
	@[ -z "$(MPICC)" ] || command -v $(firstword $(MPICC)) >/dev/null || { echo "MPICC=$(MPICC): not found"; exit 2; }

deps:
	@if ! command -v dpkg >/dev/null; then echo "deps: not Debian: install the libraries yourself (README.md, Build elsewhere)"; exit 0; fi; \
	missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	elif [ -z "$(PKGS)" ] || $(PKG_CONFIG) --exists $(PKGS); then echo "deps: not root; optional packages missing: $$missing"; \
	else echo "deps: missing packages; run as root: apt-get install $$missing"; exit 2; fi

bench-deps:
	@missing=$$(for p in $(DEB_PY_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "bench-deps: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "bench-deps: run as root: apt-get install $$missing"; exit 2; fi
	@# ONNX Runtime's CPU library for the inference comparison (its install script only fetches GPU parts)
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || \
	  echo "bench-deps: apt-get install nodejs npm failed; make bench skips ONNX Runtime"; fi
	@if command -v npm >/dev/null && [ ! -d $(BUILD)/ort/node_modules/onnxruntime-node ]; then \
	  mkdir -p $(BUILD)/ort && (cd $(BUILD)/ort && npm install --silent --ignore-scripts onnxruntime-node@1.30.0 >/dev/null) || \
	  echo "bench-deps: npm install onnxruntime-node failed; make bench skips ONNX Runtime"; fi

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
# AdamW's and the gradient norm's loops (nn/optim.c): sqrtf as an instruction, not a libm call that
# may set errno; the same IEEE arithmetic per element
$(BUILD)/nn/optim.o: CFLAGS += -fvect-cost-model=dynamic -fno-trapping-math -fno-math-errno
# the image layers' short im2col row copies (nn/conv.inc): vectorized loops instead of memcpy calls
$(BUILD)/nn/conv_f32.o: CFLAGS += -fvect-cost-model=dynamic
# the inference forward's embedding sums and copies, likewise
$(BUILD)/models/bert/infer.o: CFLAGS += -fvect-cost-model=dynamic
# Strassen's sums of activation blocks (nn/strassen.c), likewise
$(BUILD)/nn/strassen.o: CFLAGS += -fvect-cost-model=dynamic

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

# bench/mobile_latency: the MobileResNet generator's batch-1 latency (bench/mobile_gan.sh runs it
# against ../shared/bench/torch_peer_gan.py)
$(BUILD)/bench/mobile_latency: $(BUILD)/bench/mobile_latency.o $(BUILD)/libofa.a
	@echo "LD $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libofa.a $(LDLIBS)

# bench/student_distill: GAN Compression's student and prune steps measured on a trained teacher
$(BUILD)/bench/student_distill: $(BUILD)/bench/student_distill.o $(BUILD)/libofa.a
	@echo "LD $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libofa.a $(LDLIBS)

# bench/strassen_probe: what Strassen's algorithm could save on inference's products
# (docs/results.md; ofa itself does not use it).  Built for this CPU, so its block sums vectorize
# as an implementation's would.
$(BUILD)/bench/strassen_probe.o: CFLAGS += -O3 -march=native
$(BUILD)/bench/strassen_probe: $(BUILD)/bench/strassen_probe.o $(BUILD)/libofa.a
	@echo "LD $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libofa.a $(LDLIBS)

# The runner's suite list is generated from the tests/test_*.c file names.
$(BUILD)/tests/suites.h: $(TEST_SRCS) Makefile
	@mkdir -p $(dir $@)
	@{ for n in $(TEST_NAMES); do echo "SUITE($$n)"; done; } > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/runner.o: $(BUILD)/tests/suites.h
$(BUILD)/tests/runner.o: CFLAGS += -I$(BUILD)/tests

$(BUILD)/ofa_tests: $(TEST_OBJS) $(BUILD)/libofa.a
	@echo "LD $@"
	@$(CC) $(CFLAGS) -o $@ $(TEST_OBJS) $(BUILD)/libofa.a $(LDLIBS)

# make install PREFIX=/opt/ofa [DESTDIR=staging]: PREFIX/bin/ofa, PREFIX/share/ofa/slurm/ofa.sbatch
# (its default OFA_BIN is the installed binary) and README.md, PREFIX/share/ofa/configs/*.yaml.
SHARE = $(DESTDIR)$(PREFIX)/share/ofa
install: check-pkgs $(BUILD)/ofa
	@echo "INSTALL $(DESTDIR)$(PREFIX)"
	@install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/slurm $(SHARE)/configs $(SHARE)/tools
	@install -m 0755 $(BUILD)/ofa $(DESTDIR)$(PREFIX)/bin/ofa
	@sed 's|^OFA_BIN=$${OFA_BIN:-build/ofa}$$|OFA_BIN=$${OFA_BIN:-$(PREFIX)/bin/ofa}|' slurm/ofa.sbatch >$(SHARE)/slurm/ofa.sbatch.tmp
	@grep -qF 'OFA_BIN=$${OFA_BIN:-$(PREFIX)/bin/ofa}' $(SHARE)/slurm/ofa.sbatch.tmp || \
	  { echo "install: slurm/ofa.sbatch lost its OFA_BIN=\$${OFA_BIN:-build/ofa} line"; rm -f $(SHARE)/slurm/ofa.sbatch.tmp; exit 1; }
	@chmod 0755 $(SHARE)/slurm/ofa.sbatch.tmp && mv -f $(SHARE)/slurm/ofa.sbatch.tmp $(SHARE)/slurm/ofa.sbatch
	@install -m 0644 slurm/README.md $(SHARE)/slurm/README.md
	@install -m 0644 configs/*.yaml $(SHARE)/configs/
	@install -m 0755 tools/*.py $(SHARE)/tools/

# The build without pkg-config, as on a cluster with module-loaded libraries (make test runs it):
# a fresh folder, every library folder named, pkg-config pointed at a missing program; then make
# install, and the installed binary must run, find every library and carry a run path.  The
# folders are Debian's (DEBIAN_DIRS) unless every one was named on the command line (then those,
# e.g. on a cluster).  Also: without folders or pkg-config the build stops at once, naming them.
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
DEBIAN_DIRS := MPICC=mpicc HDF5_DIR=/usr/lib/$(MULTIARCH)/hdf5/serial \
  OPENBLAS_INC=/usr/include/$(MULTIARCH)/openblas-pthread OPENBLAS_LIB=/usr/lib/$(MULTIARCH)/openblas-pthread \
  YAML_INC=/usr/include YAML_LIB=/usr/lib/$(MULTIARCH) CUNIT_INC=/usr/include CUNIT_LIB=/usr/lib/$(MULTIARCH) \
  UTF8PROC_INC=/usr/include UTF8PROC_LIB=/usr/lib/$(MULTIARCH) \
  LAPACKE_INC=/usr/include LAPACKE_LIB=/usr/lib/$(MULTIARCH) \
  PNG_INC=/usr/include PNG_LIB=/usr/lib/$(MULTIARCH) ZLIB_INC=/usr/include ZLIB_LIB=/usr/lib/$(MULTIARCH) \
  CJSON_INC=/usr/include CJSON_LIB=/usr/lib/$(MULTIARCH)
CHECK_BUILD_DIR ?= build-check
NO_PKG_CONFIG := PKG_CONFIG=/nonexistent/pkg-config PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=/nonexistent
CHECK_DIRS := $(if $(PKGS),$(DEBIAN_DIRS))
CHECK_SKIP := $(if $(PKGS),$(if $(wildcard /usr/lib/$(MULTIARCH)/hdf5/serial),,yes))
check-build:
ifeq ($(CHECK_SKIP),yes)
	@echo "check-build: skipped (not Debian's layout; name every library folder and MPICC to run it)"
else
	@rm -rf $(CHECK_BUILD_DIR) && mkdir -p $(CHECK_BUILD_DIR)
	@echo "check-build: make $(NO_PKG_CONFIG) $(or $(CHECK_DIRS),(your folders)) install, in $(CHECK_BUILD_DIR)/"
	@if $(MAKE) --no-print-directory -s $(NO_PKG_CONFIG) MPICC= HDF5_DIR= HDF5_INC= HDF5_LIB= check-pkgs \
	     >$(CHECK_BUILD_DIR)/nodirs.log 2>&1 || ! grep -q 'HDF5_DIR=' $(CHECK_BUILD_DIR)/nodirs.log; then \
	  echo "check-build: FAILED: without folders or pkg-config the build did not stop with a hint:"; \
	  cat $(CHECK_BUILD_DIR)/nodirs.log; exit 1; fi
	@$(MAKE) --no-print-directory $(NO_PKG_CONFIG) $(CHECK_DIRS) BUILD=$(CHECK_BUILD_DIR)/build \
	  PREFIX=$(abspath $(CHECK_BUILD_DIR))/prefix install
	@p=$(CHECK_BUILD_DIR)/prefix; fail() { echo "check-build: FAILED: $$*"; exit 1; }; \
	$$p/bin/ofa --version | grep -q '^ofa ' || fail "$$p/bin/ofa --version"; \
	$$p/bin/ofa help run >/dev/null || fail "$$p/bin/ofa help run"; \
	! ldd $$p/bin/ofa | grep 'not found' || fail "libraries not found"; \
	readelf -d $$p/bin/ofa | grep -qE 'R(UN)?PATH' || fail "no run path recorded"; \
	grep -qF 'OFA_BIN=$${OFA_BIN:-$(abspath $(CHECK_BUILD_DIR))/prefix/bin/ofa}' $$p/share/ofa/slurm/ofa.sbatch || \
	  fail "the installed sbatch script does not default to the installed binary"; \
	bash -n $$p/share/ofa/slurm/ofa.sbatch || fail "installed ofa.sbatch"; \
	ls $$p/share/ofa/configs/demo_sst2.yaml $$p/share/ofa/slurm/README.md >/dev/null || fail "share/ofa incomplete"
	@rm -rf $(CHECK_BUILD_DIR)
	@echo "check-build: ok (built without pkg-config, installed, runs)"
endif

# GLUE data: GLUE_DIR, else ../shared/data/glue when it exists.
GLUE_DIR ?= $(shell [ -d ../shared/data/glue ] && cd ../shared/data/glue && pwd)
export GLUE_DIR
export OFA_BIN := $(abspath $(BUILD)/ofa)

# the layers of docs/architecture.md, checked over every #include (make test runs it)
lint:
	@bash tools/lint_layers.sh
	@bash tools/check_config_keys.sh

test: deps lint
	@$(MAKE) --no-print-directory all
	$(BUILD)/ofa_tests
	@$(MAKE) --no-print-directory check-build

check-mpi: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/ofa_tests mpi

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	  OFA_BIN=$(abspath build-asan/ofa) OFA_TEST_QUICK=1 build-asan/ofa_tests

demo: deps
	@$(MAKE) --no-print-directory all
	@if [ -z "$(GLUE_DIR)" ]; then echo "demo: no GLUE data: set GLUE_DIR to a glue_data folder (see docs/data.md)"; exit 2; fi
	$(BUILD)/ofa run configs/demo_sst2.yaml
	$(BUILD)/ofa eval runs/demo-sst2/teacher.h5
	$(BUILD)/ofa eval runs/demo-sst2/supernet.h5 --grid

# Fashion-MNIST comes from Debian's dataset-fashion-mnist (make deps) or FMNIST_DIR
demo-gan: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/ofa run configs/demo_gan.yaml
	$(BUILD)/ofa eval runs/demo-gan/teacher.h5 --split test
	$(BUILD)/ofa eval runs/demo-gan/supernet.h5 --split test --grid
	$(BUILD)/ofa translate runs/demo-gan/teacher.h5 --direction AtoB --n 12 -o runs/demo-gan/sneaker_to_boot
	$(BUILD)/ofa translate runs/demo-gan/teacher.h5 --direction BtoA --n 12 -o runs/demo-gan/boot_to_sneaker
	$(BUILD)/ofa translate runs/demo-gan/supernet.h5 --n 12 -o runs/demo-gan/supernet_sneaker_to_boot

bench: deps bench-deps
	@$(MAKE) --no-print-directory all
	bench/run.sh

bench-mobile: deps bench-deps
	@$(MAKE) --no-print-directory all
	bench/mobile_gan.sh

bench-gan: deps bench-deps
	@$(MAKE) --no-print-directory all
	bench/gan.sh

golden: bench-deps
	/usr/bin/python3 tests/golden/make_golden.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_supernet.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_fid.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_conv.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_cyclegan.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_fidnet.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_hf.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_mobile.py tests/golden
	/usr/bin/python3 tests/golden/make_golden_distill.py tests/golden

# Fuzzing (tests/fuzz/README.md; docs/results.md has a 60 s run): each target tests/fuzz/fuzz_<name>.c is linked with libFuzzer and
# AddressSanitizer (Debian's clang) against the library built the same way in build-fuzz/, then run
# for FUZZ_SECONDS from its committed seeds (tests/fuzz/corpus/<name>/, read only; what it finds
# goes to build-fuzz/corpus/<name>/).  A crash, sanitizer report, leak or timeout fails the target:
# its input is left in build-fuzz/ (crash-*, leak-*, timeout-*).  The last lines give each target's
# executions and coverage (libFuzzer's final "cov:").
FUZZ_SECONDS ?= 180
FUZZ_TARGETS := config glue h5 arch vocab
FUZZ_CC ?= clang
FUZZ_DIR := build-fuzz
FUZZ_FLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -I. -DOFA_VERSION='"$(VERSION)"' -fsanitize=fuzzer-no-link,address \
  -fno-omit-frame-pointer
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(LIB_SRCS))
$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC(fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -c $< -o $@
$(FUZZ_DIR)/libofa.a: $(FUZZ_LIB_OBJS)
	@rm -f $@ && ar rcs $@ $^
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_DIR)/libofa.a tests/fuzz/lsan.supp
	@echo "LD(fuzz) $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address $(PKG_CFLAGS) $< -o $@ $(FUZZ_DIR)/libofa.a $(LDLIBS)
fuzz:
	@command -v $(FUZZ_CC) >/dev/null && echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
	  | $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null || { \
	  echo "fuzz: needs clang with libFuzzer: apt-get install clang libclang-rt-dev (make deps does not install it)"; exit 2; }
	@$(MAKE) --no-print-directory $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))
	@rm -f $(FUZZ_DIR)/summary.txt; fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s from tests/fuzz/corpus/$$t"; \
	  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t \
	    >$(FUZZ_DIR)/$$t.log 2>&1; st=$$?; \
	  line=$$(grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_DIR)/$$t.log | tail -1); \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$t.log | tail -1); \
	  cov=$$(echo "$$line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p'); \
	  if [ $$st -eq 0 ] && [ -n "$$line" ]; then r="ok"; else r="FAILED (exit $$st; see $(FUZZ_DIR)/$$t.log)"; fail=1; fi; \
	  echo "fuzz $$t: $$r: $${execs:-?} executions in $(FUZZ_SECONDS) s, cov $${cov:-?}, crashes $$([ $$st -eq 0 ] && echo 0 || echo 1)" \
	    | tee -a $(FUZZ_DIR)/summary.txt; \
	done; exit $$fail

clean:
	rm -rf build build-asan build-nopc build-fuzz $(CHECK_BUILD_DIR)

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/bench/mobile_latency.d $(BUILD)/bench/student_distill.d \
    $(BUILD)/bench/strassen_probe.d
