/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * buffer-calls.h - the buffer calls the buffer-calls guest serves, for
 * call_test (`snapvm call`): one that works and one for each way a call
 * can go wrong. Pure C.
 */
#ifndef SNAPVM_GUEST_BUFFER_CALLS_H
#define SNAPVM_GUEST_BUFFER_CALLS_H

enum buffer_calls_function {
	BUFFER_ECHO = 1,  /* the input, byte for byte */
	BUFFER_FAIL = 2,  /* -BUFFER_FAIL_ERROR: the function's own error */
	BUFFER_CLAIM = 3, /* claims one byte more than the output area holds */
	BUFFER_SPIN = 4,  /* spins forever */
	BUFFER_EXIT = 5,  /* EXIT with the first input byte (0 without input) */
	BUFFER_ABORT = 6, /* ABORT with BUFFER_ABORT_MESSAGE */
};
#define BUFFER_FAIL_ERROR    42
#define BUFFER_ABORT_MESSAGE "buffer-calls: deliberate abort"

#endif /* SNAPVM_GUEST_BUFFER_CALLS_H */
