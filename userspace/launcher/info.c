// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * info.c - `snapvm info`: what the host offers (KVM, the module, memory,
 * layouts).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "layout/amd64.h"
#include "layout/i686.h"
#include "uapi/snapvm.h"
#include "userspace/launcher/cli.h"
#include "userspace/launcher/oci.h"
#include "userspace/lib/snapvm.h"

static const char *memory_default(enum snapvm_memory memory)
{
	return memory == SNAPVM_MEMORY_KMOD ? "kmod (/dev/snapvm exists)"
					    : "memfd (no /dev/snapvm)";
}

int cmd_info(void)
{
	struct snapvm_host_info info;

	snapvm_host_info(&info);
	printf("snapvm %s\n", SNAPVM_VERSION);
	if (info.kvm_api_version < 0)
		printf("KVM API: /dev/kvm unusable: %s\n", strerror(-info.kvm_api_version));
	else
		printf("KVM API version %d (/dev/kvm), CPU vendor %s\n", info.kvm_api_version,
		       info.cpu_vendor[0] ? info.cpu_vendor : "unknown");
	for (unsigned int i = 0; i < info.ncaps; i++)
		printf("  %-34s %d\n", info.caps[i].name, info.caps[i].value);
	if (info.module_api_version < 0)
		printf("module API: /dev/snapvm unusable: %s\n",
		       strerror(-info.module_api_version));
	else
		printf("module API version %d (/dev/snapvm; this snapvm speaks %d)%s\n",
		       info.module_api_version, info.module_api_expected,
		       info.module_api_version == info.module_api_expected ? "" : ": MISMATCH");
	if (info.module_api_version >= 0)
		printf("module features: 0x%x%s\n", info.module_features,
		       info.module_features & SNAPVM_FEATURE_DUP_READONLY ? " (DUP_READONLY)" : "");
	printf("memory: default %s\n", memory_default(info.default_memory));
	printf("layouts: i686 (ELF32 i386, scratch below 0x%llx), amd64 (ELF64 x86-64, "
	       "GPAs up to 0x%llx)\n",
	       (unsigned long long)I686_APIC_BASE_GPA, (unsigned long long)AMD64_MAX_GPA);
	return info.kvm_api_version < 0 ? EX_UNAVAILABLE : 0;
}
