/*
 * Host allocations of the command-line tool, so that every out-of-memory path can be tested: in the
 * test build (CLI_FAILALLOC defined, the clcnn-failalloc binary) the Nth call fails, N taken from the
 * environment variable CLCNN_TEST_FAILALLOC, and says so on stderr. Otherwise malloc and calloc.
 */
#ifndef CLCNN_CLI_ALLOC_H
#define CLCNN_CLI_ALLOC_H
#include <stddef.h>

void *cli_malloc(size_t size);
void *cli_calloc(size_t n, size_t size);
#endif
