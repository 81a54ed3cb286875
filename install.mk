# Installing snapvm: the shared library, the guest SDK, `make install` /
# `make uninstall`, the DKMS sources and the Debian packages (`make deb`).
#
#   make install   [PREFIX=/usr/local] [DESTDIR=]   launcher, snapvm-runc
#                  (the OCI runtime containerd's runc shim calls), libsnapvm.so.0
#                  and libsnapvm.a, headers (snapvm.h, layout/, the module's
#                  uapi/snapvm.h), snapvm.pc, the guest SDK
#                  (headers, runtimes, linker scripts, snapvm-guest-<arch>.pc),
#                  man pages, the udev rule
#   make uninstall the same files, removed
#   make install-dkms  the module's sources and dkms.conf into
#                  $(DESTDIR)/usr/src/snapvm-VERSION (then `dkms install`)
#   make deb       snapvm, libsnapvm0, libsnapvm-dev and snapvm-dkms .debs
#                  into build/deb/ (debhelper + dh-dkms)

SNAPVM_VERSION := $(shell sed -n 's/^\#define SNAPVM_VERSION "\(.*\)"/\1/p' $(ROOT)/userspace/lib/snapvm.h)
SONAME := libsnapvm.so.0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
# udev reads /usr/local/lib/udev/rules.d as well as /usr/lib/udev/rules.d.
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
# The guest SDK's runtimes and linker scripts, one directory per layout.
GUESTLIBDIR ?= $(LIBDIR)/snapvm/guest

# Flags a packager adds (debian/rules passes dpkg-buildflags' here).
CFLAGS += $(EXTRA_CFLAGS)
LDFLAGS += $(EXTRA_LDFLAGS)

# --- libsnapvm.so.0: the library's sources again, position-independent, with
# every symbol hidden but those snapvm.h marks SNAPVM_API; the version script
# exports snapvm_* and keeps anything else local.
LIBSNAPVM_SO := $(BUILD)/libsnapvm.so.$(SNAPVM_VERSION)
LIBSNAPVM_PIC_OBJS := $(LIBSNAPVM_SRCS:%.c=$(BUILD)/pic/%.o)

$(BUILD)/pic/userspace/%.o: userspace/%.c $(LIBSNAPVM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(LIBSNAPVM_SO): $(LIBSNAPVM_PIC_OBJS) userspace/lib/libsnapvm.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=userspace/lib/libsnapvm.map \
		-Wl,-z,defs -Wl,-z,relro -Wl,-z,now -o $@ $(LIBSNAPVM_PIC_OBJS) $(LIBSNAPVM_LIBS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libsnapvm.so

# --- The guest SDK: each layout's runtime as one archive (start.o first: the
# pkg-config file asks the linker for _start), the runtime headers and
# snapvm-guest-<arch>.pc.
define guest_sdk_rules
GUEST_SDK += $(BUILD)/sdk/$(1)/libsnapvm-rt.a
$(BUILD)/sdk/$(1)/libsnapvm-rt.a: $$(GUEST_RT_OBJS_$(1))
	@mkdir -p $$(dir $$@)
	cp $(BUILD)/guests/$(1)/obj/start.o $(BUILD)/sdk/$(1)/rt-start.o
	cp $(BUILD)/guests/$(1)/obj/runtime.o $(BUILD)/sdk/$(1)/rt-arch.o
	cp $(BUILD)/guests/$(1)/obj/lib/runtime.o $(BUILD)/sdk/$(1)/rt-lib.o
	rm -f $$@
	ar rcs $$@ $(BUILD)/sdk/$(1)/rt-start.o $(BUILD)/sdk/$(1)/rt-arch.o $(BUILD)/sdk/$(1)/rt-lib.o
endef
$(foreach arch,$(GUEST_ARCHES),$(eval $(call guest_sdk_rules,$(arch))))

# The .pc files name the directories they are installed for: rebuilt when
# PREFIX or a directory changes.
PC_VARS := $(PREFIX)|$(LIBDIR)|$(INCLUDEDIR)|$(GUESTLIBDIR)|$(LIBSNAPVM_LIBS)|$(SNAPVM_VERSION)
PC_STAMP := $(BUILD)/pc/vars
$(PC_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PC_VARS)' | cmp -s - $@ || echo '$(PC_VARS)' >$@
.PHONY: FORCE

PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@GUESTLIBDIR@|$(GUESTLIBDIR)|g' \
	-e 's|@VERSION@|$(SNAPVM_VERSION)|g' -e 's|@LIBS_PRIVATE@|$(LIBSNAPVM_LIBS) -lpthread|g'
$(BUILD)/pc/%.pc: packaging/%.pc.in $(PC_STAMP)
	$(PC_SED) $< >$@
$(BUILD)/pc/snapvm-guest-%.pc: packaging/snapvm-guest.pc.in $(PC_STAMP)
	$(PC_SED) -e 's|@ARCH@|$*|g' -e 's|@ARCH_FLAGS@|$(GUEST_CFLAGS_$*)|g' $< >$@

PC_FILES := $(BUILD)/pc/snapvm.pc $(patsubst %,$(BUILD)/pc/snapvm-guest-%.pc,$(GUEST_ARCHES))

.PHONY: lib sdk install uninstall install-dkms deb
lib: $(LIBSNAPVM) $(LIBSNAPVM_SO)
sdk: $(GUEST_SDK) $(PC_FILES)

# What `make install` puts where: "SOURCE DEST MODE" (DEST relative to
# DESTDIR); the symlinks follow separately.
INSTALL_HEADERS := layout/abi.h layout/common.h layout/i686.h layout/amd64.h
INSTALL_FILES = \
	$(BUILD)/snapvm:$(BINDIR)/snapvm:755 \
	$(BUILD)/snapvm-runc:$(BINDIR)/snapvm-runc:755 \
	$(LIBSNAPVM_SO):$(LIBDIR)/$(notdir $(LIBSNAPVM_SO)):644 \
	$(LIBSNAPVM):$(LIBDIR)/libsnapvm.a:644 \
	userspace/lib/snapvm.h:$(INCLUDEDIR)/snapvm/snapvm.h:644 \
	$(foreach h,$(INSTALL_HEADERS),$(h):$(INCLUDEDIR)/snapvm/$(h):644) \
	uapi/snapvm.h:$(INCLUDEDIR)/snapvm/uapi/snapvm.h:644 \
	guests/include/rt.h:$(INCLUDEDIR)/snapvm/guest/rt.h:644 \
	$(foreach a,$(GUEST_ARCHES),$(BUILD)/sdk/$(a)/libsnapvm-rt.a:$(GUESTLIBDIR)/$(a)/libsnapvm-rt.a:644 \
		guests/$(a)/link.ld:$(GUESTLIBDIR)/$(a)/link.ld:644) \
	$(foreach p,$(PC_FILES),$(p):$(PKGCONFIGDIR)/$(notdir $(p)):644) \
	man/snapvm.1:$(MANDIR)/man1/snapvm.1:644 \
	man/libsnapvm.3:$(MANDIR)/man3/libsnapvm.3:644 \
	man/snapvm.4:$(MANDIR)/man4/snapvm.4:644 \
	man/snapvm-runc.8:$(MANDIR)/man8/snapvm-runc.8:644 \
	packaging/60-snapvm.rules:$(UDEVRULESDIR)/60-snapvm.rules:644
INSTALL_LINKS = $(LIBDIR)/$(SONAME):$(notdir $(LIBSNAPVM_SO)) $(LIBDIR)/libsnapvm.so:$(SONAME)

install: programs lib sdk
	@set -e; for f in $(INSTALL_FILES); do \
		src=$${f%%:*}; rest=$${f#*:}; dst=$${rest%:*}; mode=$${rest##*:}; \
		echo "install -m $$mode $$src $(DESTDIR)$$dst"; \
		install -D -m $$mode $$src "$(DESTDIR)$$dst"; \
	done
	@set -e; for l in $(INSTALL_LINKS); do \
		echo "ln -sf $${l#*:} $(DESTDIR)$${l%%:*}"; \
		ln -sf $${l#*:} "$(DESTDIR)$${l%%:*}"; \
	done
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# Removes exactly what install put there, then the directories of our own
# that are left empty.
uninstall:
	@for f in $(INSTALL_FILES); do rest=$${f#*:}; dst=$${rest%:*}; \
		echo "rm -f $(DESTDIR)$$dst"; rm -f "$(DESTDIR)$$dst"; done
	@for l in $(INSTALL_LINKS); do echo "rm -f $(DESTDIR)$${l%%:*}"; rm -f "$(DESTDIR)$${l%%:*}"; done
	-@rmdir "$(DESTDIR)$(INCLUDEDIR)/snapvm/layout" "$(DESTDIR)$(INCLUDEDIR)/snapvm/guest" \
		"$(DESTDIR)$(INCLUDEDIR)/snapvm/uapi" \
		"$(DESTDIR)$(INCLUDEDIR)/snapvm" $(foreach a,$(GUEST_ARCHES),"$(DESTDIR)$(GUESTLIBDIR)/$(a)") \
		"$(DESTDIR)$(GUESTLIBDIR)" "$(DESTDIR)$(LIBDIR)/snapvm" 2>/dev/null || true

# --- DKMS: the module's sources as dkms.conf expects them (the repository's
# Kbuild at the top, kmod/ and uapi/ below it).
DKMS_SRC_FILES := dkms.conf Kbuild kmod/Kbuild kmod/device.c kmod/region.c kmod/page.c \
	kmod/snapvm_internal.h uapi/snapvm.h
DKMS_DIR ?= /usr/src/snapvm-$(SNAPVM_VERSION)
install-dkms:
	@set -e; for f in $(DKMS_SRC_FILES); do \
		echo "install -m 644 $$f $(DESTDIR)$(DKMS_DIR)/$$f"; \
		install -D -m 644 $$f "$(DESTDIR)$(DKMS_DIR)/$$f"; \
	done

# --- Debian packages: built from a copy of the tracked files in
# build/deb/snapvm-VERSION, so the .debs land in build/deb/.
DEB_DIR := $(BUILD)/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/snapvm-$(SNAPVM_VERSION)
	git ls-files -z | xargs -0 cp --parents -t $(DEB_DIR)/snapvm-$(SNAPVM_VERSION)
	cd $(DEB_DIR)/snapvm-$(SNAPVM_VERSION) && dpkg-buildpackage -b -us -uc -j2
	@ls $(DEB_DIR)/*.deb

# --- Tests: tests/install-tap on the host with the unit tests (install
# listing, exports, headers, pkg-config, guest SDK, man pages, make deb,
# lintian), then tests/kselftest/install_test.sh in the test VM with the
# kselftests (the .debs installed, DKMS, the udev rule, an unprivileged kvm
# member running guests). It runs last there: it swaps snapvm.ko for the
# DKMS-built one and back.
UNIT_TESTS += $(ROOT)/tests/install-tap
KSELFTESTS += $(ROOT)/tests/kselftest/install_test.sh
