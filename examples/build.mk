# Examples (examples/*/): their guests, built with the guest runtime of
# guests/build.mk for both layouts, and their host programs, linked here
# with the in-tree libsnapvm (their own Makefiles use pkg-config instead).
EXAMPLE_DIGEST := $(BUILD)/examples/digest
EXAMPLE_DIGEST_GUEST_SRCS := examples/digest/guest.c examples/digest/sha256.c
EXAMPLE_HDRS := $(wildcard examples/*/*.h) $(GUEST_HDRS)

# $(1) = arch
define example_arch_rules
GUESTS += $(EXAMPLE_DIGEST)/$(1)/digest.elf
$(EXAMPLE_DIGEST)/$(1)/obj/%.o: examples/digest/%.c $(EXAMPLE_HDRS)
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) -c -o $$@ $$<
$(EXAMPLE_DIGEST)/$(1)/digest.elf: $(EXAMPLE_DIGEST)/$(1)/obj/guest.o \
		$(EXAMPLE_DIGEST)/$(1)/obj/sha256.o $$(GUEST_RT_OBJS_$(1)) guests/$(1)/link.ld
	$(CC) $(GUEST_CFLAGS_$(1)) $(GUEST_LDFLAGS) -T guests/$(1)/link.ld -o $$@ \
		$(EXAMPLE_DIGEST)/$(1)/obj/guest.o $(EXAMPLE_DIGEST)/$(1)/obj/sha256.o \
		$$(GUEST_RT_OBJS_$(1)) -lgcc
endef
$(foreach arch,$(GUEST_ARCHES),$(eval $(call example_arch_rules,$(arch))))

PROGRAMS += $(EXAMPLE_DIGEST)/digest-host
$(EXAMPLE_DIGEST)/digest-host: examples/digest/host.c $(LIBSNAPVM) userspace/lib/snapvm.h layout/abi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(ROOT)/userspace/lib -o $@ $< $(LIBSNAPVM) $(LIBSNAPVM_LIBS)
