/* The tool's host allocations, with a failure injected at the Nth in the test build (cli-alloc.h). */
#include "cli-alloc.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef CLI_FAILALLOC
/* 1 when this call is the one to fail; counts calls from 1. */
static int inject(void)
{
	static long calls, fail_at = -1;
	if (fail_at < 0) {
		const char *v = getenv("CLCNN_TEST_FAILALLOC");
		fail_at = v ? atol(v) : 0;
	}
	if (++calls != fail_at)
		return 0;
	fprintf(stderr, "failalloc: failing allocation %ld\n", calls);
	return 1;
}
#else
static int inject(void)
{
	return 0;
}
#endif

void *cli_malloc(size_t size)
{
	return inject() ? NULL : malloc(size);
}

void *cli_calloc(size_t n, size_t size)
{
	return inject() ? NULL : calloc(n, size);
}
