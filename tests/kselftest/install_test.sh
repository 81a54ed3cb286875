#!/bin/bash
# tests/kselftest/install_test.sh - the installed packages, end to end, inside
# the test VM (TAP): the .debs of `make deb` go into a writable overlay of the
# VM's root; DKMS builds snapvm.ko for the VM's kernel and modprobe loads it;
# the udev rule makes /dev/snapvm crw-rw---- root kvm; an unprivileged member
# of group kvm runs the hello guests of both layouts, builds a guest of each
# layout with the installed SDK and a host program with `pkg-config --cflags
# --libs snapvm` and runs them, and runs a snapshot that went through an OCI
# layout and a skopeo copy. Afterwards the tree's own snapvm.ko is loaded
# again for the tests that follow.
#
# The VM has no udevd: `udevadm test` runs the installed rules for the
# device in-process, and the node gets the GROUP and MODE it reports (what
# udevd would apply), so the test checks the rule's effect, not a hand-made
# chmod.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEBS=$ROOT/build/deb
USER_NAME=snapvm-test
n=0 status=0 planned=10

echo "TAP version 13"
echo "1..$planned"
result() { # result OK? NAME [DETAILS]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | tail -n 30 | sed 's/^/# /'
		status=1
	fi
}
skip_rest() { # skip_rest REASON
	while [ "$n" -lt "$planned" ]; do
		n=$((n + 1))
		echo "ok $n # SKIP $1"
	done
	exit "$status"
}

debs=()
for p in snapvm libsnapvm0 libsnapvm-dev snapvm-dkms; do
	f=$(ls "$DEBS/${p}"_*.deb 2>/dev/null | head -1)
	[ -n "$f" ] || skip_rest "no $DEBS/${p}_*.deb (run 'make deb' first)"
	debs+=("$f")
done
[ "$(id -u)" = 0 ] || skip_rest "needs root (runs in the test VM)"
[ -e /dev/kvm ] || skip_rest "no /dev/kvm"
kver=$(uname -r)

# The overlay: the VM's root (the host's /, read-only) below, a tmpfs above.
# The VM's initramfs does not load overlayfs: take it from the VM's kernel
# package that tests/vm/setup unpacked.
if ! grep -qw overlay /proc/filesystems; then
	insmod "$(ls "$ROOT"/.cache/kernel/"$kver"/lib/modules/"$kver"/kernel/fs/overlayfs/overlay.ko* |
		head -1)" 2>/dev/null
fi
ovl=$(mktemp -d /tmp/install_test.XXXXXX)
M=$ovl/merged
mkdir -p "$ovl/upper" "$ovl/work" "$M"
had_tree_module=0
cleanup() {
	# Whatever happened, the tree's module is loaded again if it was.
	if [ "$had_tree_module" = 1 ] && ! grep -q '^snapvm ' /proc/modules; then
		insmod "$ROOT/kmod/snapvm.ko" 2>/dev/null
	fi
	for d in "$ROOT" dev/pts dev sys proc tmp; do
		umount -l "$M/${d#/}" 2>/dev/null
	done
	umount -l "$M" 2>/dev/null
	rm -rf "$ovl"
}
trap cleanup EXIT
out=$(mount -t overlay overlay -o "lowerdir=/,upperdir=$ovl/upper,workdir=$ovl/work" "$M" 2>&1 &&
	mount --bind /proc "$M/proc" && mount --rbind /sys "$M/sys" &&
	mount --bind /dev "$M/dev" && mount -t tmpfs -o mode=1777 tmpfs "$M/tmp" &&
	mkdir -p "$M$ROOT" && mount --bind "$ROOT" "$M$ROOT" 2>&1)
[ $? = 0 ] || { result 1 "a writable overlay of the VM's root" "$out"; skip_rest "no overlay"; }
in_root() { chroot "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	DEBIAN_FRONTEND=noninteractive "$@"; }

# 1. The packages, installed (man-db's index update is skipped: slow under TCG).
rm -f "$M/var/lib/man-db/auto-update"
out=$(in_root dpkg -i "${debs[@]}" 2>&1)
rc=$?
in_root dpkg-query -W -f='${Package} ${Status}\n' snapvm libsnapvm0 libsnapvm-dev snapvm-dkms \
	>"$ovl/status" 2>&1
[ "$rc" = 0 ] && [ "$(grep -c 'install ok installed' "$ovl/status")" = 4 ]
result $? "dpkg -i installs snapvm, libsnapvm0, libsnapvm-dev and snapvm-dkms" "$out"

# 2. DKMS: built and installed for the VM's kernel (snapvm-dkms' postinst
# does it when the kernel's headers are there; else it is done here).
# dpkg's output above is kept: the postinst says "Building for KVER".
dpkg_out=$out
out=
if ! in_root dkms status -m snapvm -k "$kver" 2>/dev/null | grep -q installed; then
	echo "# dkms: snapvm-dkms' postinst did not build the module; dkms install does"
	out=$(in_root dkms install -m snapvm -v "$(dpkg-deb -f "${debs[3]}" Version)" -k "$kver" 2>&1)
elif printf '%s\n' "$dpkg_out" | grep -q "Building for .*$kver"; then
	echo "# dkms: snapvm-dkms' postinst built and installed the module (dkms autoinstall)"
fi
ko=$(in_root modinfo -k "$kver" -n snapvm 2>/dev/null)
in_root dkms status -m snapvm -k "$kver" 2>&1 | grep -q "snapvm/.*, $kver, .*: installed" &&
	[ -n "$ko" ] && [ "$(modinfo -F vermagic "$M$ko" | cut -d' ' -f1)" = "$kver" ]
result $? "dkms builds and installs snapvm.ko for $kver ($ko)" \
	"$out$(in_root dkms status 2>&1)$(cat "$M/var/lib/dkms/snapvm/"*/build/make.log 2>/dev/null)"

# 3. modprobe loads the DKMS module (the tree's one goes first).
if grep -q '^snapvm ' /proc/modules; then
	had_tree_module=1
	rmmod snapvm
fi
out=$(in_root modprobe -v snapvm 2>&1)
[ $? = 0 ] && grep -q '^snapvm ' /proc/modules && printf '%s\n' "$out" | grep -q "insmod $ko"
result $? "modprobe snapvm loads the DKMS-built module" "$out"

# 4. The udev rule: /dev/snapvm gets group kvm and mode 0660, as /dev/kvm.
# `udevadm test` runs the rules for the device and sets the node's
# permissions itself ("Setting permissions ..."); should it only report
# them, the GROUP and MODE it found are applied here, as udevd would.
apply_rules() { # apply_rules NODE SYSPATH
	local report group mode
	report=$(in_root udevadm test --action=add "$2" 2>&1)
	printf '%s\n' "$report" | grep -E "Setting permissions $1|GROUP|MODE"
	printf '%s\n' "$report" | grep -q "Setting permissions $1" && return 0
	group=$(printf '%s\n' "$report" | sed -n 's/.* GROUP \([0-9][0-9]*\)$/\1/p' | tail -1)
	mode=$(printf '%s\n' "$report" | sed -n 's/.* MODE \(0[0-7]*\)$/\1/p' | tail -1)
	[ -n "$group" ] && [ -n "$mode" ] || { printf '%s\n' "$report"; return 1; }
	chgrp "$group" "$1" && chmod "$mode" "$1"
}
out=$(apply_rules /dev/kvm /sys/class/misc/kvm 2>&1 && apply_rules /dev/snapvm /sys/class/misc/snapvm 2>&1)
rc=$?
got=$(in_root stat -c '%A %U %G' /dev/snapvm)
[ "$rc" = 0 ] && [ "$got" = "crw-rw---- root kvm" ] &&
	printf '%s\n' "$out" | grep -q '60-snapvm.rules'
result $? "/dev/snapvm is crw-rw---- root kvm after udevadm test runs the rules (got: $got)" "$out"
echo "# udevadm: $(printf '%s\n' "$out" | grep -E 'snapvm' | tr '\n' ' ')"

# An unprivileged user in group kvm.
in_root useradd -m -G kvm -s /bin/bash "$USER_NAME" >/dev/null 2>&1
# runuser opens a PAM session, so pam_limits applies the snapvm package's
# /etc/security/limits.d/snapvm.conf (RLIMIT_MEMLOCK for group kvm).
as_user() { in_root runuser -u "$USER_NAME" -- env HOME="/home/$USER_NAME" "$@"; }
W=/home/$USER_NAME

# 5. The hello guests, both layouts, on snapvm.ko's memory.
out=$(for a in i686 amd64; do
	as_user /usr/bin/snapvm run --memory=kmod "$ROOT/build/guests/$a/hello.elf" || exit
done 2>&1)
rc=$?
[ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | grep -ci hello)" -ge 2 ]
result $? "a member of kvm runs hello (i686, amd64) with the installed snapvm" "$out"

# 6. Guests built with the installed SDK (pkg-config snapvm-guest-<arch>).
cat >"$M$W/guest.c" <<'EOF'
#include <rt.h>

int main(void)
{
	rt_printf("sdk guest on %s\n", RT_ARCH);
	return 42;
}
EOF
out=$(for a in i686 amd64; do
	as_user sh -c "cd $W && cc \$(pkg-config --cflags snapvm-guest-$a) -o guest-$a.elf guest.c \
		\$(pkg-config --libs snapvm-guest-$a)" || exit
	as_user /usr/bin/snapvm run "$W/guest-$a.elf"
	rc=$?
	[ "$rc" = 42 ] || { echo "guest-$a.elf exited $rc"; exit 1; }
done 2>&1)
rc=$?
[ "$rc" = 0 ] && printf '%s\n' "$out" | grep -q 'sdk guest on i686' &&
	printf '%s\n' "$out" | grep -q 'sdk guest on amd64'
result $? "a guest built with the installed SDK runs (i686, amd64)" "$out"

# 7. A host program built with pkg-config --cflags --libs snapvm.
cat >"$M$W/host.c" <<'EOF'
#include <stdio.h>
#include <snapvm.h>

int main(int argc, char **argv)
{
	struct snapvm_error err;
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sandbox;
	struct snapvm_outcome outcome;

	if (argc != 2)
		return 64;
	if (snapvm_snapshot_from_elf(argv[1], NULL, &snap, &err) ||
	    snapvm_sandbox_create(snap, NULL, &sandbox, &err) ||
	    snapvm_sandbox_run(sandbox, 10000, &outcome, &err)) {
		fprintf(stderr, "host: %s\n", err.message);
		return err.status;
	}
	printf("host: the guest exited with %d\n", snapvm_outcome_exit_status(&outcome));
	snapvm_sandbox_destroy(sandbox);
	snapvm_snapshot_put(snap);
	return 0;
}
EOF
out=$(as_user sh -c "cd $W && cc -Wall -o host host.c \$(pkg-config --cflags --libs snapvm)" 2>&1 &&
	as_user sh -c "ldd $W/host | grep 'libsnapvm.so.0 => /.*/x86_64-linux-gnu/libsnapvm.so.0'" &&
	for a in i686 amd64; do as_user "$W/host" "$W/guest-$a.elf" || exit; done 2>&1)
rc=$?
[ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | grep -c 'host: the guest exited with 42')" = 2 ]
result $? "a host program built with pkg-config snapvm runs both SDK guests" "$out"

# 8. A snapshot through OCI: export, skopeo copy, import, run.
out=$(as_user sh -c "cd $W && snapvm run --snapshot-out=app.snap $ROOT/build/guests/amd64/snapshot-state.elf >/dev/null &&
	snapvm snapshot export app.snap --oci=layout:v1 &&
	skopeo inspect oci:layout:v1 >/dev/null &&
	skopeo --tmpdir $W copy -q oci:layout:v1 oci:copy:v1 &&
	snapvm snapshot import --oci=copy:v1 copy.snap &&
	cmp app.snap copy.snap && snapvm run --from=copy.snap >/dev/null; echo status \$?" 2>&1)
printf '%s\n' "$out" | grep -q '^status 11$'
result $? "a snapshot exported, copied by skopeo and imported runs (status 11)" "$out"

# 9. Tampered: the imported layer's blob changed -> 65.
out=$(as_user sh -c "cd $W && f=copy/blobs/sha256/\$(sha256sum app.snap | cut -c1-64) &&
	printf x | dd of=\$f bs=1 seek=4096 conv=notrunc status=none &&
	snapvm snapshot import --oci=copy:v1 bad.snap; echo status \$?" 2>&1)
printf '%s\n' "$out" | grep -q '^status 65$' && [ ! -e "$M$W/bad.snap" ]
result $? "import of a tampered layer exits 65" "$out"

# 10. Back to the tree's module for the tests that follow.
out=$({ ! grep -q '^snapvm ' /proc/modules || rmmod snapvm; } 2>&1 &&
	if [ "$had_tree_module" = 1 ]; then insmod "$ROOT/kmod/snapvm.ko"; fi 2>&1)
result $? "the DKMS module unloads (the tree's snapvm.ko is back)" "$out"
exit "$status"
