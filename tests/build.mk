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

# linux_signal_test runs this freestanding static program (raw system
# calls, Linux's signal frames by hand) on both layouts. -O1: its fault
# sites are asm labels that must exist once.
LX_SIGNAL_PROG_FLAGS := -static -nostdlib -ffreestanding -fno-pie -no-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -O1 -g -Wall -Wextra -Wno-unused-parameter \
	-mgeneral-regs-only -Wl,-z,noexecstack -Wl,--build-id=none
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
