# Tests: every tests/unit/*_test.c is a host-only TAP binary, every
# tests/kselftest/*_test.c a TAP binary run inside the test VM. Both may use
# libsnapvm.
TEST_HDRS := $(wildcard tests/*.h tests/kselftest/*.h uapi/*.h layout/*.h userspace/lib/*.h)

UNIT_TESTS += $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/*_test.c))
KSELFTESTS += $(patsubst tests/kselftest/%.c,$(BUILD)/tests/kselftest/%,$(wildcard tests/kselftest/*_test.c))

$(BUILD)/tests/%: tests/%.c $(LIBSNAPVM) $(TEST_HDRS) $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBSNAPVM) $(LIBSNAPVM_LIBS) -lpthread

# module_test compares snapvm.ko's answers to a 32-bit caller (compat_ioctl)
# with its own: this static -m32 program is that caller.
COMPAT32_HELPER := $(BUILD)/tests/kselftest/module_compat32
$(COMPAT32_HELPER): tests/kselftest/module_compat32.c tests/kselftest/module_transcript.h $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -m32 -static $(CFLAGS) -o $@ $<
$(BUILD)/tests/kselftest/module_test: $(COMPAT32_HELPER) tests/kselftest/module_transcript.h

# Freestanding static Linux programs the Linux-personality suites run on
# both layouts (raw system calls, no libc), under snapvm and natively.
LX_TEST_PROG_FLAGS := -static -nostdlib -ffreestanding -fno-builtin -fno-pie -no-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -g -Wall -Wextra \
	-Wl,-z,noexecstack -Wl,--build-id=none

# linux_signal_test's program: Linux's signal frames by hand. -O1: its fault
# sites are asm labels that must exist once; no FP/SSE in handlers.
LX_SIGNAL_PROG_FLAGS := $(LX_TEST_PROG_FLAGS) -O1 -Wno-unused-parameter -mgeneral-regs-only
$(BUILD)/tests/kselftest/linux_signal_prog64: tests/kselftest/linux_signal_prog.c
	@mkdir -p $(dir $@)
	$(CC) -m64 $(LX_SIGNAL_PROG_FLAGS) -o $@ $<
$(BUILD)/tests/kselftest/linux_signal_prog32: tests/kselftest/linux_signal_prog.c
	@mkdir -p $(dir $@)
	$(CC) -m32 $(LX_SIGNAL_PROG_FLAGS) -o $@ $<
$(BUILD)/tests/kselftest/linux_signal_test: $(BUILD)/tests/kselftest/linux_signal_prog64 \
	$(BUILD)/tests/kselftest/linux_signal_prog32
# runc_cli_test runs linux_signal_test's program and the guests in containers.
$(BUILD)/tests/kselftest/runc_cli_test: $(BUILD)/tests/kselftest/linux_signal_prog64 \
	$(BUILD)/tests/kselftest/linux_signal_prog32

# linux_probe_test's prober of the personality's system calls.
LINUX_PROBE_FLAGS := $(LX_TEST_PROG_FLAGS) -std=gnu11 -O2
LINUX_PROBES := $(BUILD)/tests/kselftest/linux_probe.i386 $(BUILD)/tests/kselftest/linux_probe.amd64
$(BUILD)/tests/kselftest/linux_probe.i386: tests/kselftest/linux_probe.c guests/linux/syscalls.h
	@mkdir -p $(dir $@)
	$(CC) -m32 -march=i686 $(LINUX_PROBE_FLAGS) -o $@ $< -lgcc
$(BUILD)/tests/kselftest/linux_probe.amd64: tests/kselftest/linux_probe.c guests/linux/syscalls.h
	@mkdir -p $(dir $@)
	$(CC) -m64 $(LINUX_PROBE_FLAGS) -o $@ $< -lgcc
$(BUILD)/tests/kselftest/linux_probe_test: $(LINUX_PROBES)
# linux_clock_test runs this static program (glibc, no vDSO in the guest:
# every clock call is a system call) on both layouts.
LX_CLOCK_PROGS := $(BUILD)/tests/kselftest/linux_clock_prog.amd64 \
	$(BUILD)/tests/kselftest/linux_clock_prog.i386
$(BUILD)/tests/kselftest/linux_clock_prog.amd64: tests/kselftest/linux_clock_prog.c
	@mkdir -p $(dir $@)
	$(CC) -static -O2 -Wall -o $@ $<
$(BUILD)/tests/kselftest/linux_clock_prog.i386: tests/kselftest/linux_clock_prog.c
	@mkdir -p $(dir $@)
	$(CC) -m32 -static -O2 -Wall -o $@ $<
$(BUILD)/tests/kselftest/linux_clock_test: $(LX_CLOCK_PROGS)
