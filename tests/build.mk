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
