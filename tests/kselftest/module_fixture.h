/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module_fixture.h - the fixture most of snapvm.ko's kselftests start from:
 * /dev/snapvm open, and the pinned pages counted before the test. Include
 * after kselftest_harness.h and module_helpers.h.
 */
#ifndef SNAPVM_TESTS_MODULE_FIXTURE_H
#define SNAPVM_TESTS_MODULE_FIXTURE_H

FIXTURE(snapvm)
{
	int dev;
	long pinned_at_start;
};

FIXTURE_SETUP(snapvm)
{
	self->dev = snapvm_open();
	ASSERT_GE(self->dev, 0)
	TH_LOG("open /dev/snapvm: %s (is snapvm.ko loaded?)", strerror(errno));
	self->pinned_at_start = pinned_pages();
	ASSERT_GE(self->pinned_at_start, 0) TH_LOG("cannot read " PINNED_PAGES_PATH);
}

FIXTURE_TEARDOWN(snapvm)
{
	close(self->dev);
}

#endif /* SNAPVM_TESTS_MODULE_FIXTURE_H */
