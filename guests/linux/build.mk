# The Linux personality (guests/linux/): a ring-0 guest kernel that runs an
# unmodified static Linux program in ring 3, built for both layouts as
# build/guests/<arch>/linux.elf and embedded in libsnapvm
# (userspace/lib/linux_personality.c).
LX_HDRS := guests/linux/lx.h guests/linux/mm.h guests/linux/sys.h guests/linux/syscalls.h layout/abi.h layout/common.h layout/linux.h
LX_PERSONALITIES := $(BUILD)/guests/i686/linux.elf $(BUILD)/guests/amd64/linux.elf
GUESTS += $(LX_PERSONALITIES)

# $(1) = arch
define lx_arch_rules
$(BUILD)/guests/$(1)/obj/linux/%.o: guests/linux/%.c $(LX_HDRS)
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) -c -o $$@ $$<
$(BUILD)/guests/$(1)/obj/linux/entry.o: guests/linux/$(1).S
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) -c -o $$@ $$<
$(BUILD)/guests/$(1)/linux.elf: $(BUILD)/guests/$(1)/obj/linux/entry.o \
		$(BUILD)/guests/$(1)/obj/linux/kernel.o $(BUILD)/guests/$(1)/obj/linux/lib.o \
		$(BUILD)/guests/$(1)/obj/linux/mm.o $(BUILD)/guests/$(1)/obj/linux/io.o \
		$(BUILD)/guests/$(1)/obj/linux/syscalls.o $(BUILD)/guests/$(1)/obj/linux/files.o \
		$(BUILD)/guests/$(1)/obj/linux/process.o $(BUILD)/guests/$(1)/obj/linux/signal.o \
		guests/$(1)/link.ld
	$(CC) $(GUEST_CFLAGS_$(1)) $(GUEST_LDFLAGS) -T guests/$(1)/link.ld -o $$@ \
		$$(filter %.o,$$^) -lgcc
endef
$(foreach arch,$(GUEST_ARCHES),$(eval $(call lx_arch_rules,$(arch))))

# libsnapvm carries both personalities (and so does the fuzzers' copy of it).
LX_PERSONALITY_OBJS := $(BUILD)/userspace/lib/linux_personality.o \
	$(BUILD)/pic/userspace/lib/linux_personality.o $(BUILD)/fuzz/userspace/lib/linux_personality.o
$(LX_PERSONALITY_OBJS): $(LX_PERSONALITIES)
$(LX_PERSONALITY_OBJS): CFLAGS += -DLX_PERSONALITY_DIR='"$(BUILD)/guests"'
$(LX_PERSONALITY_OBJS): FUZZ_CFLAGS += -DLX_PERSONALITY_DIR='"$(BUILD)/guests"'
