// SPDX-License-Identifier: GPL-2.0 OR MIT
/* info.c - what the host offers libsnapvm: KVM, its capabilities and the
 * snapvm.ko module, for `snapvm info` and for tests deciding to SKIP. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "uapi/snapvm.h"
#include "userspace/lib/internal.h"

void snapvm_host_info(struct snapvm_host_info *info)
{
	struct snapvm_error err;
	int fd;

	memset(info, 0, sizeof(*info));
	snapvm_kvm_host_info(info);
	info->module_api_expected = SNAPVM_API_VERSION;
	fd = open("/dev/snapvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		info->module_api_version = -errno;
	} else {
		info->module_api_version = ioctl(fd, SNAPVM_GET_API_VERSION);
		if (info->module_api_version < 0)
			info->module_api_version = -errno;
		/* Version 1 modules have no SNAPVM_GET_FEATURES: none then. */
		info->module_features = ioctl(fd, SNAPVM_GET_FEATURES);
		if (info->module_features < 0)
			info->module_features = 0;
		close(fd);
	}
	if (snapvm_memory_resolve(SNAPVM_MEMORY_AUTO, &info->default_memory, &err))
		info->default_memory = SNAPVM_MEMORY_KMOD; /* and unusable: see the version */
}
