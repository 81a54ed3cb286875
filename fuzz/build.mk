# libFuzzer harnesses: every fuzz/*_fuzz.c, linked with libsnapvm's sources
# compiled again by clang with the fuzzer's coverage and ASan + UBSan.
#
#   make fuzz [FUZZ_SECONDS=N]   build, then run each harness N seconds
#                                (default 60); fails on any crash, whose
#                                input is kept under build/fuzz/artifacts/
#   make fuzz-build              build only (make check runs each for 10 s)
#
# Seeds live in fuzz/corpus/<harness>/; what the fuzzer finds on the way
# is kept in build/fuzz/corpus/<harness>/ for the next run.
FUZZ_CC := clang
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Wshadow \
	-Wno-unused-parameter -Wno-gnu-variable-sized-type-not-at-end \
	-Werror=implicit-function-declaration -I$(ROOT) $(FUZZ_SAN)
FUZZ_SECONDS ?= 60

FUZZERS := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard fuzz/*_fuzz.c))
FUZZ_LIB := $(FUZZ_DIR)/libsnapvm.a
FUZZ_LIB_OBJS := $(LIBSNAPVM_SRCS:%.c=$(FUZZ_DIR)/%.o)

$(FUZZ_DIR)/userspace/%.o: userspace/%.c $(LIBSNAPVM_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/%_fuzz: fuzz/%_fuzz.c $(FUZZ_LIB) $(LIBSNAPVM_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_EXTRA) $(FUZZ_LIB) \
		$(LIBSNAPVM_LIBS)

# oci_fuzz: the launcher's OCI parsers (userspace/launcher/'s helpers), and jansson.
FUZZ_LAUNCHER_OBJS := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(LAUNCHER_HELPER_SRCS))
$(FUZZ_LAUNCHER_OBJS): $(LAUNCHER_HDRS)
$(FUZZ_DIR)/oci_fuzz: $(FUZZ_LAUNCHER_OBJS)
$(FUZZ_DIR)/oci_fuzz: FUZZ_EXTRA = $(FUZZ_LAUNCHER_OBJS) $(LAUNCHER_LIBS)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZERS)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run-tap --keep $(FUZZERS)
