# Benchmarks (bench/README.md): snapvm-bench (bench/*.c, linked with
# libsnapvm) and its guests (guests/bench/*.c, built with the guest runtime of
# guests/build.mk for both layouts as build/guests/<arch>/bench-<name>.elf).
#
#   make bench                  natively when /dev/kvm runs guest code at CPU speed,
#                               else in the test VM (where snapvm.ko is loaded)
#   make bench BENCH_WHERE=vm   always in the test VM; BENCH_WHERE=native: never
#   make bench BENCH_ONLY=restore,start BENCH_SCALE=0.5
#   make bench BENCH_VM_SMP=1   the test VM with one vCPU (default 2: scaling needs two)
#
# Results: build/bench/results.json, build/bench/table.txt, build/bench/bench.svg.

BENCH_DIR := $(BUILD)/bench
BENCH_BIN := $(BENCH_DIR)/snapvm-bench
BENCH_OBJS := $(patsubst bench/%.c,$(BENCH_DIR)/obj/%.o,$(wildcard bench/*.c))
BENCH_HDRS := $(wildcard bench/*.h guests/bench/*.h userspace/lib/snapvm.h userspace/lib/internal.h \
	tests/kselftest/linux_helpers.h \
	layout/*.h uapi/*.h)

# In the test VM every KVM exit costs ~50 us: each benchmark repeats for a time
# budget (scaled by BENCH_SCALE) instead of a fixed count.
BENCH_WHERE ?= auto
BENCH_ONLY ?=
BENCH_SCALE ?= 1
BENCH_VM_TIMEOUT ?= 900
# Two vCPUs for the scaling benchmark (two threads, a sandbox each); the
# second is offline for the others (--spare-cpus-offline: QEMU's TCG with two
# vCPUs and nested SVM can hang the VM, see bench/README.md).
BENCH_VM_SMP ?= 2
# 100 sandboxes + the 64 MiB snapshots + pinned scratch fit in the VM's default 4 GiB.
BENCH_ARGS = --guests $(BUILD)/guests --out $(BENCH_DIR)/results.json --plot-data $(BENCH_DIR) \
	--table $(BENCH_DIR)/table.txt --scale $(BENCH_SCALE) $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

BENCHES += $(BENCH_BIN)

$(BENCH_DIR)/obj/%.o: bench/%.c $(BENCH_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# --wrap=ioctl: every ioctl, libsnapvm's too, goes through the counter in
# bench/harness.c (a request's KVM exits are counted, not assumed).
$(BENCH_BIN): $(BENCH_OBJS) $(LIBSNAPVM)
	$(CC) $(LDFLAGS) -pthread -Wl,--wrap=ioctl -o $@ $(BENCH_OBJS) $(LIBSNAPVM) \
		$(LIBSNAPVM_LIBS) -lm

# The benchmark guests: bench_guest name, source (guests/bench/<source>.c), extra flags.
# $(1) = arch, $(2) = name, $(3) = source, $(4) = extra flags
define bench_guest_rules
BENCHES += $(BUILD)/guests/$(1)/bench-$(2).elf
.SECONDARY: $(BUILD)/guests/$(1)/obj/bench/$(2).o
$(BUILD)/guests/$(1)/obj/bench/$(2).o: guests/bench/$(3).c $(GUEST_HDRS) guests/bench/bench_guest.h
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_CFLAGS_$(1)) $(4) -c -o $$@ $$<
$(BUILD)/guests/$(1)/bench-$(2).elf: $(BUILD)/guests/$(1)/obj/bench/$(2).o $$(GUEST_RT_OBJS_$(1)) \
		guests/$(1)/link.ld
	$(CC) $(GUEST_CFLAGS_$(1)) $(GUEST_LDFLAGS) -T guests/$(1)/link.ld -o $$@ \
		$$< $$(GUEST_RT_OBJS_$(1)) -lgcc
endef
bench_guest = $(foreach arch,$(GUEST_ARCHES),$(eval $(call bench_guest_rules,$(arch),$(1),$(2),$(3))))
$(call bench_guest,empty,empty,)
$(call bench_guest,hypercall,hypercall,)
$(call bench_guest,service-small,service,)
$(call bench_guest,service-small-cold,service,-DBENCH_SERVICE_COLD)
$(call bench_guest,service,service,-DBENCH_SERVICE_BIG)
$(call bench_guest,service-cold,service,-DBENCH_SERVICE_BIG -DBENCH_SERVICE_COLD)

# Natively when this machine's KVM runs guest code at CPU speed (snapvm.ko is
# then usually missing: module-backed figures say so), else in the test VM
# with the module built for its kernel. gnuplot draws the plot here either way.
bench: $(SETUP_STAMP) $(BENCHES)
	@mkdir -p $(BENCH_DIR)
	@rm -f $(BENCH_DIR)/results.json $(BENCH_DIR)/*.dat
	@if [ "$(BENCH_WHERE)" = native ] || \
	    { [ "$(BENCH_WHERE)" = auto ] && $(BENCH_BIN) --probe; }; then \
		echo "make bench: running natively (BENCH_WHERE=$(BENCH_WHERE))"; \
		$(BENCH_BIN) $(BENCH_ARGS); \
	else \
		echo "make bench: running in the test VM (BENCH_WHERE=$(BENCH_WHERE))"; \
		$(MAKE) --no-print-directory kmod KDIR=$(VM_KDIR) >/dev/null && \
		SNAPVM_BENCH_WHERE="test VM (QEMU TCG, nested KVM)" SNAPVM_VM_SMP=$(BENCH_VM_SMP) \
		tests/vm/run --timeout $(BENCH_VM_TIMEOUT) -- $(BENCH_BIN) $(BENCH_ARGS) \
			--spare-cpus-offline; \
	fi; test -f $(BENCH_DIR)/results.json
	gnuplot -e "datadir='$(BENCH_DIR)'" bench/plot.gp
	@echo "make bench: $(BENCH_DIR)/results.json, $(BENCH_DIR)/table.txt, $(BENCH_DIR)/bench.svg"
