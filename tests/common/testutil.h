/* Helpers shared by the check suites. */
#ifndef CLCNN_TESTUTIL_H
#define CLCNN_TESTUTIL_H
#include <check.h>
#include <stdlib.h>

#include "clcnn/clcnn.h"

/*
 * Open a context on the device the environment selects, inside the (forked) test.
 * Without a device the test process exits 77 (skip), unless CI=true, where it fails.
 */
struct clcnn_context *test_context(void);
struct clcnn_context *test_context_with(const struct clcnn_options *opt);
/* A context with the fixed convolution algorithms (CLCNN_TUNE=off) and no cache: two graphs of one
 * model run the same kernels, which a timed choice, or a record another test process writes between
 * them, would not guarantee. */
struct clcnn_context *test_context_fixed(void);
/* The whole file CLCNN_DATA_DIR/rel (tests/data by default), NUL-terminated; fails the test if absent. */
char *test_slurp(const char *rel);
/* A context with this cache and kernel dir (NULL: the environment's) logging at info level to fn. */
struct clcnn_context *test_context_logged(const char *cache, const char *kdir, clcnn_log_fn fn, void *user);

/* Exit 77 from main when no OpenCL device exists and CI is not set (call before srunner). */
void test_require_device(void);

/* Run a suite built by make_suite; returns the process exit status. */
int test_run_suite(Suite *s);

/* A fresh temporary directory (mkdtemp under $TMPDIR); caller removes it with test_rmtree. */
char *test_tmpdir(void);
void test_rmtree(const char *path);
#endif
