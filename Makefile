# SPDX-License-Identifier: GPL-2.0
# exofusion: `make` builds the module, the library and the tools;
# `make demo` shows rings working through the loaded module;
# `make check` runs every test; `make bench` the perf scenarios;
# `make install` or `make dkms-install` put it on a real machine.

PYTHON := /usr/bin/python3
PYTEST := $(PYTHON) -m pytest
VM := $(PYTHON) tools/vm/exovm.py

# The kernels `make check` boots and `make module` builds for (tools/vm/exovm.py
# --kernel: Debian's 6.1, 6.12 and 6.12 PREEMPT_RT, and the debug kernel of
# tools/vm/debug_kernel.py), e.g. `make check KERNELS=6.12-rt`. Each kernel's
# module is built in build/module/<release>/. KDIR=<tree> builds for that tree
# only; the running kernel's /lib/modules/$(uname -r)/build is built for too.
KERNELS ?= 6.1 6.12 6.12-rt debug
RUNNING_KDIR := $(wildcard /lib/modules/$(shell uname -r)/build)
ifdef KDIR
MODULE_KDIRS = $(KDIR)
else
MODULE_KDIRS = $(sort $(foreach d,$(RUNNING_KDIR) $(shell $(VM) kdirs $(KERNELS)),$(realpath $(d))))
endif
DEFAULT_KDIR = $(or $(KDIR),$(RUNNING_KDIR),$(firstword $(shell $(VM) kdirs $(firstword $(KERNELS)))))
# Warnings fail the module build in `make check` and `make lint`, not in
# users' builds (other compilers warn differently).
EXO_WERROR ?=
# The release a tree builds for (what `uname -r` says on that kernel).
kernel_release = sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(1)/include/generated/utsrelease.h

CXX := g++
# EXO_HOSTED: the core's platform is userspace/hosted/ (module/core/platform.h).
BASE_CXXFLAGS := -std=gnu++17 -g -Wall -Wextra -Werror -I. -MMD -MP -fno-exceptions -pthread \
	-DEXO_HOSTED
LDLIBS := -luring -lpthread -lrt

# The core sources the library shares with the module (hosted build).
CORE_SHARED_SRCS := module/core/ring/ring_layout.cpp module/core/ring/ring_view.cpp
LIB_SRCS := $(CORE_SHARED_SRCS) $(wildcard userspace/lib/*.cpp)
# The slab cache's core sources, hosted (its unit tests, fuzzing, benches).
SLAB_SRCS := $(wildcard module/core/slab/*.cpp) userspace/hosted/platform.cpp
# The core in full, with the user-space platform, for its unit tests.
# The NIC driver's core, hosted: its tests drive a simulated 8254x (tests/core/nic/).
NIC_SRCS := $(wildcard module/core/nic/*.cpp)
CORE_TEST_SRCS := $(wildcard module/core/ring/*.cpp) $(SLAB_SRCS) $(NIC_SRCS) \
	$(wildcard tests/core/*.cpp tests/core/nic/*.cpp)
STRESS_SRCS := tests/stress/ring_stress.cpp
# libexofiber: the fiber runtime (userspace/fibers/), over the slab core for
# its control blocks and libexofusion for the rings its fibers park on.
FIBER_SRCS := $(wildcard userspace/fibers/*.cpp userspace/fibers/*.S) $(SLAB_SRCS)
FIBER_TEST_SRCS := $(wildcard tests/fibers/*.cpp tests/fibers/*.S)
# libexofusion's public ring calls, against hostile peers (tests/lib/).
LIB_TEST_SRCS := $(wildcard tests/lib/*.cpp)
FUSIONCTL_SRCS := $(wildcard tools/fusionctl/*.cpp)
BENCH_SRCS := $(wildcard userspace/bench/*.cpp)

.PHONY: all setup module module-for debug-kernel userspace sanitizers check vm-suites demo \
	bench lint print-kdir clean
all: setup module userspace

setup:
	@sh tools/setup.sh

# exofusion.ko at the top links to the module of the running kernel, or of
# the first kernel (what `make demo` boots).
module: setup
	@set -e; for kdir in $(MODULE_KDIRS); do \
		$(MAKE) --no-print-directory module-for MODULE_KDIR=$$kdir; done
	@ln -sfn build/module/$$($(call kernel_release,$(DEFAULT_KDIR)))/exofusion.ko exofusion.ko

# One kernel's build: build/module/<release>/ holds links to the sources (so
# no object of one kernel is taken for another's) and the objects.
MODULE_SRCS = Kbuild VERSION $(shell find module uapi -type f \( -name '*.c' -o -name '*.h' -o \
	-name '*.cpp' \))
module-for:
	@out=build/module/$$($(call kernel_release,$(MODULE_KDIR))); \
	for f in $(MODULE_SRCS); do mkdir -p $$out/$$(dirname $$f); \
		ln -sfn $(CURDIR)/$$f $$out/$$f; done; \
	find -L $$out -type l -delete; echo $(MODULE_KDIR) >$$out/kdir; \
	$(MAKE) -C $(MODULE_KDIR) M=$(CURDIR)/$$out EXO_WERROR=$(EXO_WERROR) modules

# Built once per machine, cached outside the clone (see the README).
debug-kernel:
	$(PYTHON) tools/vm/debug_kernel.py build

comma := ,

# One set of rules per build variant: $(1) output directory, $(2) flags.
define variant
$(1)/obj/%.o: %.cpp
	@mkdir -p $$(@D)
	$$(CXX) $$(BASE_CXXFLAGS) $(2) -c -o $$@ $$<
$(1)/obj/%.o: %.S
	@mkdir -p $$(@D)
	$$(CC) -g -c -o $$@ $$<
$(1)/lib/libexofiber.a: $$(patsubst %,$(1)/obj/%.o,$$(basename $$(FIBER_SRCS)))
	@mkdir -p $$(@D)
	$$(AR) rcs $$@ $$^
$(1)/bin/fiber_tests: $$(patsubst %,$(1)/obj/%.o,$$(basename $$(FIBER_TEST_SRCS))) \
		$(1)/lib/libexofiber.a $(1)/lib/libexofusion.a
	@mkdir -p $$(@D)
	$$(CXX) $(2) -pthread -o $$@ $$^ -lgtest_main -lgtest $$(LDLIBS)
$(1)/bin/lib_tests: $$(patsubst %.cpp,$(1)/obj/%.o,$$(LIB_TEST_SRCS)) $(1)/lib/libexofusion.a
	@mkdir -p $$(@D)
	$$(CXX) $(2) -pthread -o $$@ $$^ -lgtest_main -lgtest $$(LDLIBS)
$(1)/lib/libexofusion.a: $$(patsubst %.cpp,$(1)/obj/%.o,$$(LIB_SRCS))
	@mkdir -p $$(@D)
	$$(AR) rcs $$@ $$^
$(1)/bin/core_tests: $$(patsubst %.cpp,$(1)/obj/%.o,$$(CORE_TEST_SRCS))
	@mkdir -p $$(@D)
	$$(CXX) $(2) -pthread -o $$@ $$^ -lgtest -lgtest_main
$(1)/bin/ring_stress: $$(patsubst %.cpp,$(1)/obj/%.o,$$(STRESS_SRCS)) $(1)/lib/libexofusion.a
	@mkdir -p $$(@D)
	$$(CXX) $(2) -o $$@ $$^ $$(LDLIBS)
-include $$(shell find $(1)/obj -name '*.d' 2>/dev/null)
endef

$(eval $(call variant,build,-O2))
$(eval $(call variant,build/asan,-O1 -fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=all))
$(eval $(call variant,build/tsan,-O1 -fsanitize=thread))

build/bin/fusionctl: $(patsubst %.cpp,build/obj/%.o,$(FUSIONCTL_SRCS)) build/lib/libexofusion.a
	@mkdir -p $(@D)
	$(CXX) -o $@ $^ $(LDLIBS)

# libFuzzer target of the core (clang): see tests/fuzz/README.md.
FUZZ_SRCS := tests/fuzz/ring_fuzz.cpp tests/core/checked_ring.cpp tests/core/test_region.cpp \
	module/core/ring/ring_io.cpp module/core/ring/ring_layout.cpp module/core/ring/ring_view.cpp \
	userspace/hosted/platform.cpp
build/bin/ring_fuzz: $(FUZZ_SRCS) $(wildcard tests/core/*.h module/core/*.h module/core/ring/*.h uapi/*.h)
	@mkdir -p $(@D)
	clang++ -std=gnu++17 -g -O1 -I. -DEXO_HOSTED -Wall -Wextra -Werror -fno-exceptions \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $(FUZZ_SRCS)

# libFuzzer target of the slab cache, checked against a model.
build/bin/slab_fuzz: tests/fuzz/slab_fuzz.cpp $(SLAB_SRCS) $(wildcard module/core/slab/*.h)
	@mkdir -p $(@D)
	clang++ -std=gnu++17 -g -O1 -I. -DEXO_HOSTED -Wall -Wextra -Werror -fno-exceptions \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		tests/fuzz/slab_fuzz.cpp $(SLAB_SRCS)

# libFuzzer target of the NIC core's rings against a hostile simulated 8254x.
NIC_FUZZ_SRCS := tests/fuzz/nic_fuzz.cpp tests/core/nic/sim_e1000.cpp $(NIC_SRCS) \
	userspace/hosted/platform.cpp
build/bin/nic_fuzz: $(NIC_FUZZ_SRCS) $(wildcard module/core/*.h module/core/nic/*.h tests/core/nic/*.h)
	@mkdir -p $(@D)
	clang++ -std=gnu++17 -g -O1 -I. -DEXO_HOSTED -Wall -Wextra -Werror -fno-exceptions \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $(NIC_FUZZ_SRCS)

# The hosted slab benchmark against other allocators (its own rules).
include userspace/bench/slab/slab.mk
# The fiber runtime's benchmark against boost.context/fiber, ucontext, threads and Go.
include userspace/bench/fibers/fibers.mk
# make install / uninstall, make dkms-install / dkms-remove, libexofusion.so.
include tools/packaging/packaging.mk

build/bin/uapi_dump: build/obj/tools/uapi_dump/uapi_dump.o
	@mkdir -p $(@D)
	$(CXX) -o $@ $^

build/bin/ring_uring_poll: build/obj/tests/stress/ring_uring_poll.o build/lib/libexofusion.a
	@mkdir -p $(@D)
	$(CXX) -o $@ $^ $(LDLIBS)

build/bin/exobench: $(patsubst %.cpp,build/obj/%.o,$(BENCH_SRCS)) build/lib/libexofusion.a
	@mkdir -p $(@D)
	$(CXX) -o $@ $^ $(LDLIBS)

userspace: build/lib/libexofusion.a build/bin/fusionctl build/bin/exobench $(SLABBENCH_BINS) \
	$(FIBERBENCH_BINS) \
	build/bin/core_tests build/bin/ring_stress build/bin/uapi_dump build/bin/ring_uring_poll \
	build/lib/libexofiber.a build/bin/fiber_tests build/bin/lib_tests

sanitizers: build/asan/bin/core_tests build/asan/bin/ring_stress \
	build/tsan/bin/core_tests build/tsan/bin/ring_stress build/bin/ring_fuzz build/bin/slab_fuzz \
	build/asan/bin/fiber_tests build/tsan/bin/fiber_tests \
	build/asan/bin/lib_tests build/tsan/bin/lib_tests \
	build/bin/nic_fuzz

# The host tests once, then the VM suite on each kernel; any failure fails.
check: export EXO_WERROR = 1
check: $(if $(filter debug,$(KERNELS)),debug-kernel) all sanitizers
	$(PYTEST) -q -rs tests/host
	$(MAKE) --no-print-directory vm-suites

# Seconds per kernel's suite (TCG; the debug kernel's checkers make it slower).
VM_TIMEOUT ?= 1800
VM_TIMEOUT_DEBUG ?= 5400
# The NICs tests/vm/test_nic.py drives (tests/nic.py): DUT, peer, a second DUT
# and the other two 8254x models.
VM_NICS := --nics 4 --nic-model e1000,e1000,e1000-82544gc,e1000-82545em
# One kernel after the other, two vCPUs each (two guests at once would share
# the same two cores). Each prints "vm-suite <kernel>: <pytest counts>".
vm-suites:
	@$(VM) kdirs --require $(KERNELS) >/dev/null
	@mkdir -p build; : >build/vm-suites.txt; failed=; for k in $(KERNELS); do \
		case $$k in debug) t=$(VM_TIMEOUT_DEBUG);; *) t=$(VM_TIMEOUT);; esac; \
		echo "vm-suite $$k: starting (timeout $$t s)"; start=$$(date +%s); \
		{ $(VM) --kernel $$k --timeout $$t $(VM_NICS) -- $(PYTEST) -q -rs -p no:cacheprovider tests/vm; \
			echo $$? >build/vm-suite-$$k.rc; } 2>&1 | tee build/vm-suite-$$k.log; \
		rc=$$(cat build/vm-suite-$$k.rc); [ "$$rc" = 0 ] || failed="$$failed $$k"; \
		counts=$$(grep -E '^[0-9]+ (passed|failed|skipped|errors?|deselected|xfailed)' \
			build/vm-suite-$$k.log | tail -n 1 | sed 's/ in [0-9.]*s.*//'); \
		echo "vm-suite $$k: $${counts:-no pytest summary} (exit $$rc, $$(( $$(date +%s) - start )) s)" \
			| tee -a build/vm-suites.txt; \
	done; echo "--- VM suites:"; cat build/vm-suites.txt; \
	[ -z "$$failed" ] || { echo "vm-suite failed on:$$failed"; exit 1; }

demo: all
	$(VM) --timeout 900 --nics 2 -- sh tools/demo.sh

# SUITES="fibers slab": only those suites' tests/bench/test_<suite>_*bench.py (default: all);
# report.py then replaces only their tables in README.md.
bench: all
	@mkdir -p build/bench
	$(PYTEST) -q -s $(if $(SUITES),$(foreach s,$(SUITES),$(or $(wildcard \
		tests/bench/test_$(s)_*bench.py),$(error SUITES: no tests/bench/test_$(s)_*bench.py))),tests/bench)
	$(PYTHON) tools/bench/report.py build/bench/results.jsonl

print-kdir:
	@echo $(DEFAULT_KDIR)

lint: export EXO_WERROR = 1
lint: module
	KDIR=$(DEFAULT_KDIR) sh tools/lint.sh

clean:
	rm -rf build exofusion.ko
	find module -name '*.o' -o -name '.*.cmd' -o -name '*.mod*' | xargs rm -f

# --- fuzzing (tests/fuzz/README.md) ------------------------------------------------
# module_fuzz: the loaded module's interface, from several processes and uids
# (tests/vm/test_module_fuzz.py runs it in make check). `make fuzz` runs it
# for FUZZ_DURATION seconds in the VM, then the core fuzzers as long each.
# FUZZ_SEED=N replays a module_fuzz seed. The guest gets FUZZ_SMP vCPUs: the
# workers leave one to the supervisor, so kernel-side races need three or more.
FUZZ_DURATION ?= 600
FUZZ_SEED ?=
FUZZ_SMP ?= 4
FUZZ_BINS += build/bin/module_fuzz

build/bin/module_fuzz: build/obj/tests/fuzz/module_fuzz.o
	@mkdir -p $(@D)
	$(CXX) -o $@ $^

userspace: $(FUZZ_BINS)

.PHONY: fuzz fuzz-module fuzz-core
fuzz: fuzz-module fuzz-core

fuzz-module: all
	$(VM) --smp $(FUZZ_SMP) --timeout $$(( $(FUZZ_DURATION) + 900 )) -- \
		env EXO_FUZZ_DURATION=$(FUZZ_DURATION) EXO_FUZZ_SEED=$(FUZZ_SEED) \
		$(PYTEST) -q -rs -s -p no:cacheprovider tests/vm/test_module_fuzz.py -k finds_nothing

fuzz-core: build/bin/ring_fuzz build/bin/slab_fuzz build/bin/nic_fuzz
	@mkdir -p build/fuzz/corpus build/fuzz/slab_corpus build/fuzz/nic_corpus
	build/bin/ring_fuzz -max_total_time=$(FUZZ_DURATION) -timeout=10 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus
	build/bin/slab_fuzz -max_total_time=$(FUZZ_DURATION) -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/slab- build/fuzz/slab_corpus
	build/bin/nic_fuzz -max_total_time=$(FUZZ_DURATION) -timeout=10 -len_control=0 -max_len=4096 \
		-artifact_prefix=build/fuzz/nic- build/fuzz/nic_corpus
