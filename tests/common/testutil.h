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
