# Freestanding guests: a runtime per arch (guests/i686/, guests/amd64/, plus
# the arch-neutral guests/lib/) and the test guests in guests/test/, each
# built for both layouts as build/guests/<arch>/<name>.elf (write-to-text is
# amd64 only: i686 text is writable by design, see layout/i686.h; so is
# core-bomb: it builds 4-level page tables; and gdb-remap: i686 guests run
# with paging off and cannot remap a page).
GUEST_NAMES := hello entry-state direct-write gdt-accessed triple-fault endless-loop hypercall-args \
	unknown-hypercall beyond-max-gpa invalid-opcode snapshot-state call-loop \
	abort-huge-page isolation endless-write abort-escape big-bss host-calls crash debugee \
	buffer-calls untouched-abort
GUEST_NAMES_i686 := $(GUEST_NAMES)
GUEST_NAMES_amd64 := $(GUEST_NAMES) write-to-text core-bomb gdb-remap
GUEST_ARCHES := i686 amd64

GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
	-Werror=implicit-function-declaration -ffreestanding -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-tree-loop-distribute-patterns \
	-mgeneral-regs-only -I$(ROOT)
GUEST_CFLAGS_i686 := -m32 -march=i686
# No red zone: exceptions push onto the interrupted code's stack.
GUEST_CFLAGS_amd64 := -m64 -mno-red-zone -mcmodel=small
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
	-Wl,-z,noexecstack
GUEST_HDRS := $(wildcard guests/include/*.h guests/lib/*.h guests/test/*.h layout/*.h)

# $(1) = arch
define guest_arch_rules
GUEST_RT_OBJS_$(1) := $(BUILD)/guests/$(1)/obj/start.o $(BUILD)/guests/$(1)/obj/runtime.o \
	$(BUILD)/guests/$(1)/obj/lib/runtime.o
GUESTS += $(patsubst %,$(BUILD)/guests/$(1)/%.elf,$(GUEST_NAMES_$(1)))
# Keep the objects: make would delete them as intermediate files.
.SECONDARY: $$(GUEST_RT_OBJS_$(1)) $(patsubst %,$(BUILD)/guests/$(1)/obj/test/%.o,$(GUEST_NAMES_$(1)))

$(BUILD)/guests/$(1)/obj/%.o: guests/$(1)/%.S
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) -c -o $$@ $$<
$(BUILD)/guests/$(1)/obj/%.o: guests/$(1)/%.c $(GUEST_HDRS)
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) -c -o $$@ $$<
$(BUILD)/guests/$(1)/obj/lib/%.o: guests/lib/%.c $(GUEST_HDRS)
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) -c -o $$@ $$<
$(BUILD)/guests/$(1)/obj/test/%.o: guests/test/%.c $(GUEST_HDRS)
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) -c -o $$@ $$<
$(BUILD)/guests/$(1)/%.elf: $(BUILD)/guests/$(1)/obj/test/%.o $$(GUEST_RT_OBJS_$(1)) \
		guests/$(1)/link.ld
	$(CC) $(GUEST_CFLAGS_$(1)) $(GUEST_LDFLAGS) -T guests/$(1)/link.ld -o $$@ \
		$$< $$(GUEST_RT_OBJS_$(1)) -lgcc
endef
$(foreach arch,$(GUEST_ARCHES),$(eval $(call guest_arch_rules,$(arch))))

# launcher_test recomputes direct-write's checksum with this header.
$(BUILD)/tests/kselftest/launcher_test: guests/test/direct-write.h
# debug_test knows the gdb-remap guest by this header.
$(BUILD)/tests/kselftest/debug_test: guests/test/gdb-remap.h
include guests/linux/build.mk
