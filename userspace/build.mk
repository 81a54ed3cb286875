# libsnapvm (userspace/lib/, its debug support in userspace/lib/debug/) and the
# snapvm launcher (userspace/launcher/: main.c, one file per subcommand, and
# its OCI, JSON and SHA-256 helpers).
LIBSNAPVM := $(BUILD)/libsnapvm.a
LIBSNAPVM_SRCS := $(wildcard userspace/lib/*.c userspace/lib/debug/*.c)
LIBSNAPVM_OBJS := $(LIBSNAPVM_SRCS:%.c=$(BUILD)/%.o)
LIBSNAPVM_HDRS := $(wildcard userspace/lib/*.h userspace/lib/debug/*.h layout/*.h uapi/*.h)
LIBSNAPVM_LIBS := -lelf -lseccomp
# The launcher's helpers (OCI, JSON, SHA-256; oci_fuzz links them too) and
# its commands (main.c and the subcommands).
LAUNCHER_HELPER_SRCS := $(addprefix userspace/launcher/,oci.c jsonx.c sha256.c)
LAUNCHER_SRCS := $(wildcard userspace/launcher/*.c)
LAUNCHER_OBJS := $(LAUNCHER_SRCS:%.c=$(BUILD)/%.o)
LAUNCHER_HDRS := $(wildcard userspace/launcher/*.h)
LAUNCHER_LIBS := -ljansson

$(BUILD)/userspace/%.o: userspace/%.c $(LIBSNAPVM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(LAUNCHER_OBJS): $(LAUNCHER_HDRS)

$(LIBSNAPVM): $(LIBSNAPVM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(if $^,ar rcs $@ $^,ar rc $@)

PROGRAMS += $(BUILD)/snapvm
$(BUILD)/snapvm: $(LAUNCHER_OBJS) $(LIBSNAPVM)
	$(CC) $(LDFLAGS) -o $@ $(LAUNCHER_OBJS) $(LIBSNAPVM) $(LIBSNAPVM_LIBS) $(LAUNCHER_LIBS)

# snapvm-runc (userspace/runc/): the OCI runtime containerd's runc shim
# drives (docs/runc.md); it reads config.json through the launcher's jsonx.
RUNC_SRCS := $(wildcard userspace/runc/*.c) userspace/launcher/jsonx.c
RUNC_OBJS := $(RUNC_SRCS:%.c=$(BUILD)/%.o)
$(RUNC_OBJS): $(wildcard userspace/runc/*.h) $(LAUNCHER_HDRS)
PROGRAMS += $(BUILD)/snapvm-runc
$(BUILD)/snapvm-runc: $(RUNC_OBJS) $(LIBSNAPVM)
	$(CC) $(LDFLAGS) -o $@ $(RUNC_OBJS) $(LIBSNAPVM) $(LIBSNAPVM_LIBS) $(LAUNCHER_LIBS) -lutil
