/* Helpers shared by the check suites. */
#ifndef CLCNN_TESTUTIL_H
#define CLCNN_TESTUTIL_H
#include <check.h>
#include <stdlib.h>

#include <stdint.h>

#include "clcnn/clcnn.h"
#include "clcnn/graph.h"

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

/*
 * Every input of g at this batch filled from seed (a 64-bit LCG): image-like inputs in [-1, 1), inputs
 * without dimensions (labels) with classes 0-2 (mlp-csv.net has 3); zero_every > 0 also sets every zero_every-th image
 * value to an exact 0 (ties in pooling, relu's kink).
 */
void test_fill_inputs(struct clcnn_graph *g, int batch, uint64_t seed, int zero_every);

/* Exit 77 from main when no OpenCL device exists and CI is not set (call before srunner). */
void test_require_device(void);

/* Run a suite built by make_suite; returns the process exit status. */
int test_run_suite(Suite *s);

/* A fresh temporary directory (mkdtemp under $TMPDIR); caller removes it with test_rmtree. */
char *test_tmpdir(void);
void test_rmtree(const char *path);
#endif
