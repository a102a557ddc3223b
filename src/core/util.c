/* Small helpers: hashing, strings, time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clcnn-private.h"

uint64_t clcnn_hash(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

uint64_t clcnn_hash_str(uint64_t h, const char *s)
{
	/* include the terminator so ("ab","c") and ("a","bc") differ */
	return clcnn_hash(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

char *clcnn_strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

int clcnn_strcatf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (*len + (size_t)n + 1 > *cap) {
		size_t nc = (*cap ? *cap * 2 : 256);
		while (nc < *len + (size_t)n + 1)
			nc *= 2;
		char *b = realloc(*buf, nc);
		if (!b)
			return -1;
		*buf = b;
		*cap = nc;
	}
	va_start(ap, fmt);
	vsnprintf(*buf + *len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
	return 0;
}

const char *clcnn_fuse_options(int kind, float slope, char *buf, size_t n)
{
	if (kind)
		snprintf(buf, n, " -DFUSE=%d -DFUSE_SLOPE=%af", kind, (double)slope);
	else if (n)
		buf[0] = 0;
	return buf;
}

double clcnn_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
