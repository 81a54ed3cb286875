# snapvm top-level build: the kernel module (via kbuild), libsnapvm and the
# launcher, the guests, the tests and the benchmarks.
#
#   make            build everything (runs the set-up first when needed)
#   make setup      install what a fresh Debian machine needs (idempotent)
#   make check      host unit tests (and 10 s of each fuzzer) + kselftests in
#                   ONE boot of the test VM
#   make check-debug  kselftests under a KASAN/lockdep/kmemleak kernel, built
#                   once per machine (tests/vm/check-debug; slow, not in check)
#   make fuzz       run each libFuzzer harness FUZZ_SECONDS (see fuzz/build.mk)
#   make demo       run the hello guests (natively with usable KVM, else in the VM)
#   make bench      benchmarks (see bench/README)
#
# Each part describes its own targets in a <dir>/build.mk included below; they
# append to the lists declared here.

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(ROOT)/build
CACHE := $(ROOT)/.cache

# The test VM's kernel release, written by the set-up (e.g. 6.1.0-56-amd64).
VM_KVER = $(shell cat $(CACHE)/kver 2>/dev/null)
VM_KDIR = /usr/src/linux-headers-$(VM_KVER)
# The module is built for the running kernel when its build dir exists (a
# real KVM host), else for the test VM's kernel. `make check` always builds
# for the test VM, where it is loaded.
HOST_KDIR := /lib/modules/$(shell uname -r)/build
KDIR ?= $(if $(wildcard $(HOST_KDIR)/Makefile),$(HOST_KDIR),$(VM_KDIR))

CC := gcc
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
	-Werror=implicit-function-declaration -I$(ROOT) -I$(CACHE)/kselftest
LDFLAGS :=

# Lists the parts append to.
PROGRAMS :=      # host programs (launcher, tools)
UNIT_TESTS :=    # host-only test binaries (TAP)
KSELFTESTS :=    # test binaries run inside the test VM (TAP)
GUESTS :=        # freestanding guest ELF files
BENCHES :=       # benchmark binaries

SETUP_STAMP := $(CACHE)/setup.done

.PHONY: all setup kmod check demo bench clean format
# Everything `make install` installs (programs, lib, sdk) and the tests.
all: kmod programs lib sdk guests tests

$(SETUP_STAMP): tests/vm/setup
	tests/vm/setup
setup:
	tests/vm/setup

kmod: $(SETUP_STAMP)
	$(MAKE) -C $(KDIR) M=$(ROOT) W=1 modules

include userspace/build.mk guests/build.mk tests/build.mk bench/build.mk examples/build.mk \
	fuzz/build.mk install.mk

.PHONY: programs guests tests
programs: $(PROGRAMS)
guests: $(GUESTS)
tests: $(UNIT_TESTS) $(KSELFTESTS)

# One boot of the test VM runs every kselftest; the host runs the unit tests,
# the style checks and tests/docs-tap (the docs agree with the code).
# tests/tap-summary prints the closing "N passed, N failed, N skipped (...)"
# line; a skip not listed in tests/expected-skips counts as a failure.
check: $(SETUP_STAMP)
	$(MAKE) kmod KDIR=$(VM_KDIR)
	$(MAKE) programs guests tests fuzz-build
	@mkdir -p $(BUILD)/check
	@rm -f $(BUILD)/check/*.tap
	-tests/run-tap --out $(BUILD)/check/unit.tap tests/style-tap tests/docs-tap $(UNIT_TESTS) \
		fuzz/run-tap
	-tests/vm/run --timeout 3000 -- $(ROOT)/tests/run-tap --out $(BUILD)/check/kselftest.tap $(KSELFTESTS)
	@tests/tap-summary $(BUILD)/check/unit.tap $(BUILD)/check/kselftest.tap

# The kselftests under a debug kernel (KASAN, lockdep, kmemleak, DEBUG_VM)
# built from linux-source-6.1 into ~/.cache/snapvm once per machine.
# CHECK_DEBUG_TESTS picks kselftests (default: ground, module, module_v2,
# module_lazy, launcher, snapshot, isolation, embed). Verdict and dmesg in build/check-debug/.
.PHONY: check-debug
check-debug: $(SETUP_STAMP) programs guests tests
	tests/vm/check-debug $(CHECK_DEBUG_TESTS)

# The hello guests of both layouts: natively when this machine's KVM runs
# them, else inside the test VM (with snapvm.ko loaded). DEMO_WHERE=vm
# insists on the test VM.
DEMO_WHERE ?= auto
DEMO_CMD = for g in $(BUILD)/guests/i686/hello.elf $(BUILD)/guests/amd64/hello.elf; do \
	echo "$$ snapvm run $$g"; $(BUILD)/snapvm run $$g || exit; done
demo: $(SETUP_STAMP) programs guests
	@if [ "$(DEMO_WHERE)" != vm ] && [ -c /dev/kvm ] && $(BUILD)/snapvm run $(BUILD)/guests/amd64/hello.elf >/dev/null 2>&1; then \
		$(DEMO_CMD); \
	else \
		echo "(no usable /dev/kvm here: running the demo in the test VM)"; \
		$(MAKE) --no-print-directory kmod KDIR=$(VM_KDIR) >/dev/null && \
		tests/vm/run -- sh -c '$(DEMO_CMD)'; \
	fi

clean:
	-$(MAKE) -C $(KDIR) M=$(ROOT) clean
	rm -rf $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -Ev '^(kmod|uapi)/')
