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

# linux_probe_test runs this freestanding static Linux program (raw system
# calls, no libc) under the Linux personality and natively, for both ABIs.
LINUX_PROBE_FLAGS := -std=gnu11 -O2 -g -Wall -Wextra -ffreestanding -fno-builtin -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib -static -no-pie \
	-Wl,--build-id=none -Wl,-z,noexecstack
LINUX_PROBES := $(BUILD)/tests/kselftest/linux_probe.i386 $(BUILD)/tests/kselftest/linux_probe.amd64
$(BUILD)/tests/kselftest/linux_probe.i386: tests/kselftest/linux_probe.c guests/linux/syscalls.h
	@mkdir -p $(dir $@)
	$(CC) -m32 -march=i686 $(LINUX_PROBE_FLAGS) -o $@ $< -lgcc
$(BUILD)/tests/kselftest/linux_probe.amd64: tests/kselftest/linux_probe.c guests/linux/syscalls.h
	@mkdir -p $(dir $@)
	$(CC) -m64 $(LINUX_PROBE_FLAGS) -o $@ $< -lgcc
$(BUILD)/tests/kselftest/linux_probe_test: $(LINUX_PROBES)
