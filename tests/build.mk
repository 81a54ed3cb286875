# Tests: every tests/unit/*_test.c is a host-only TAP binary, every
# tests/kselftest/*_test.c a TAP binary run inside the test VM. Both may use
# libsnapvm.
TEST_HDRS := $(wildcard tests/*.h uapi/*.h layout/*.h userspace/*.h)

UNIT_TESTS += $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/*_test.c))
KSELFTESTS += $(patsubst tests/kselftest/%.c,$(BUILD)/tests/kselftest/%,$(wildcard tests/kselftest/*_test.c))

$(BUILD)/tests/%: tests/%.c $(LIBSNAPVM) $(TEST_HDRS) $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBSNAPVM) $(LIBSNAPVM_LIBS) -lpthread
