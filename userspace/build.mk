# libsnapvm and the snapvm launcher.
LIBSNAPVM := $(BUILD)/libsnapvm.a
LIBSNAPVM_SRCS := $(filter-out userspace/main.c,$(wildcard userspace/*.c))
LIBSNAPVM_OBJS := $(LIBSNAPVM_SRCS:%.c=$(BUILD)/%.o)
LIBSNAPVM_LIBS := -lelf -lseccomp
# The launcher's own parts (userspace/launcher/, install.mk): OCI JSON.
LAUNCHER_LIBS := -ljansson

$(BUILD)/userspace/%.o: userspace/%.c $(wildcard userspace/*.h layout/*.h uapi/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBSNAPVM): $(LIBSNAPVM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(if $^,ar rcs $@ $^,ar rc $@)

ifneq ($(wildcard userspace/main.c),)
PROGRAMS += $(BUILD)/snapvm
$(BUILD)/snapvm: $(BUILD)/userspace/main.o $(LIBSNAPVM)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBSNAPVM) $(LIBSNAPVM_LIBS) $(LAUNCHER_LIBS)
endif
