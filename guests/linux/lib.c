/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * lib.c - the Linux personality's freestanding helpers: memcpy and friends,
 * the host calls, exit, formatted output and panic.
 */
#include "guests/linux/lx.h"

/* ---- freestanding helpers ---- */

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* HOST_CALL with out_cap in EBP/RBP: the compiler may not give us EBP, so
 * the asm saves it and loads the capacity from EAX. */
long lx_hostcall(uint32_t fn, const void *in, size_t in_len, void *out, size_t out_cap)
{
	uintptr_t a = out_cap;

#if LX_AMD64
	__asm__ volatile("push %%rbp\n\tmov %%rax, %%rbp\n\tmov %[nr], %%eax\n\t"
			 "outl %%eax, %%dx\n\tpop %%rbp"
			 : "+a"(a)
			 : [nr] "i"(SNAPVM_HC_HOST_CALL), "d"((uint16_t)SNAPVM_PORT_HYPERCALL),
			   "b"((uintptr_t)fn), "c"(in), "S"(in_len), "D"(out)
			 : "memory");
#else
	__asm__ volatile("push %%ebp\n\tmov %%eax, %%ebp\n\tmov %[nr], %%eax\n\t"
			 "outl %%eax, %%dx\n\tpop %%ebp"
			 : "+a"(a)
			 : [nr] "i"(SNAPVM_HC_HOST_CALL), "d"((uint16_t)SNAPVM_PORT_HYPERCALL),
			   "b"((uintptr_t)fn), "c"(in), "S"(in_len), "D"(out)
			 : "memory");
#endif
	return (long)a;
}

long lx_hypercall(uintptr_t nr, uintptr_t a0, uintptr_t a1)
{
	__asm__ volatile("outl %%eax, %%dx"
			 : "+a"(nr)
			 : "d"((uint16_t)SNAPVM_PORT_HYPERCALL), "b"(a0), "c"(a1), "S"(0), "D"(0)
			 : "memory");
	return (long)nr;
}

void lx_exit(int status)
{
	lx_flush();
	lx_hostcall(LX_HC_FILES_RESET, NULL, 0, NULL, 0);
	for (;;)
		lx_hypercall(SNAPVM_HC_EXIT, (unsigned)status & 0xff, 0);
}

/* ---- formatted output ---- */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, unsigned long long v, unsigned base, int width, char pad,
		    int neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int lx_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';
		unsigned long long v;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		while (*fmt == 'l' || *fmt == 'z') {
			lng += *fmt == 'z' ? 1 : 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
			if (lng >= 2)
				v = (unsigned long long)va_arg(ap, long long);
			else if (lng)
				v = (unsigned long long)(long long)va_arg(ap, long);
			else
				v = (unsigned long long)(long long)va_arg(ap, int);
			if ((long long)v < 0)
				put_num(&o, -(unsigned long long)v, 10, width, pad, 1);
			else
				put_num(&o, v, 10, width, pad, 0);
			break;
		case 'u':
		case 'x':
			if (lng >= 2)
				v = va_arg(ap, unsigned long long);
			else if (lng)
				v = va_arg(ap, unsigned long);
			else
				v = va_arg(ap, unsigned);
			put_num(&o, v, *fmt == 'x' ? 16 : 10, width, pad, 0);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, width, pad, 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			while (*s)
				put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		default:
			put(&o, *fmt);
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int lx_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = lx_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void lx_eprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = lx_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	lx_flush();
	lx_hostcall(LX_HC_STDERR, buf, (size_t)n, NULL, 0);
}

void lx_panic(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	lx_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (;;)
		lx_hypercall(SNAPVM_HC_ABORT, 1, (uintptr_t)buf);
}
