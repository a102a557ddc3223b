/*
 * bench-op: time one op's device forward and backward (every gradient) on random data.
 *   bench-op TYPE ARGS SHAPE[;SHAPE...] [-r REPS] [-n] [--no-input-grad] [--no-weight-grad]
 *   bench-op conv2d "out_channels=64, kernel_size=3, padding=1" 64x32x28x28
 * One warm-up call of each (builds kernels, lets autotuning decide), then REPS timed calls, each
 * enqueue + clFinish; prints the median and the minimum (the minimum is the better estimate on a
 * shared, noisy machine), the least CPU time of a call (all threads: steadier still under load) and
 * GFLOP/s where the op counts FLOPs (backward = 2x forward).
 * --no-weight-grad: backward times the input gradient alone (GFLOP/s then counts both gradients).
 * -n: no timing, just the algorithm choice. Set POCL_CACHE_DIR (and CLCNN_CACHE_DIR) to keep kernels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/op.h"

/* CPU seconds of the whole process (all POCL worker threads): on a loaded machine the work an
 * algorithm does is steadier than its wall time. */
static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int parse_shapes(const char *s, struct clcnn_shape *out)
{
	int n = 0;
	while (*s && n < CLCNN_OP_MAX_IN) {
		struct clcnn_shape sh = {0, {0, 0, 0, 0}};
		char *end;
		do {
			long v = strtol(s, &end, 10);
			if (end == s)
				return -1;
			sh.d[sh.ndim++] = (int)v;
			s = end;
		} while (*s == 'x' && s++ && sh.ndim < 4);
		out[n++] = sh;
		if (*s == ';')
			s++;
		else if (*s)
			return -1;
	}
	return n;
}

static cl_mem random_buffer(struct clcnn_context *ctx, size_t n, uint64_t *rng)
{
	cl_mem m = NULL;
	float *f = malloc((n ? n : 1) * sizeof *f);
	if (!f || clcnn_buffer_new(ctx, (n ? n : 1) * sizeof(float), &m)) {
		free(f);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		f[i] = (float)clcnn_test_uniform(rng, -1, 1);
	if (n && clcnn_buffer_write(ctx, m, 0, n * sizeof(float), f)) {
		clcnn_buffer_free(m);
		m = NULL;
	}
	free(f);
	return m;
}

/* Median and minimum seconds of reps calls of forward (backward = 0) or backward. */
static int time_calls(struct clcnn_op *op, const struct clcnn_dev_io *io, int backward, int reps, double *med,
		      double *min, double *cpu)
{
	double *t = calloc((size_t)reps, sizeof *t);
	if (!t)
		return -1;
	*cpu = 1e30;
	for (int r = -1; r < reps; r++) {
		double t0 = clcnn_now(), c0 = cpu_now();
		int rc = backward ? op->cls->backward(op, io) : op->cls->forward(op, io);
		if (!rc)
			rc = clcnn_context_finish(op->ctx);
		if (rc) {
			free(t);
			return rc;
		}
		if (r >= 0) {
			t[r] = clcnn_now() - t0;
			c0 = cpu_now() - c0;
			*cpu = c0 < *cpu ? c0 : *cpu;
		}
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_double);
	*med = t[reps / 2];
	*min = t[0];
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	int reps = 10, no_time = 0, input_grad = 1, weight_grad = 1;
	const char *pos[3];
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-r") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-n"))
			no_time = 1;
		else if (!strcmp(argv[i], "--no-input-grad"))
			input_grad = 0;
		else if (!strcmp(argv[i], "--no-weight-grad"))
			weight_grad = 0;
		else if (npos < 3)
			pos[npos++] = argv[i];
	}
	struct clcnn_shape shapes[CLCNN_OP_MAX_IN];
	int nin = npos == 3 ? parse_shapes(pos[2], shapes) : -1;
	if (nin < 1 || reps < 1) {
		fprintf(stderr, "usage: bench-op TYPE ARGS SHAPE[;SHAPE...] [-r REPS] [-n] [--no-input-grad] "
				"[--no-weight-grad]\n");
		return 2;
	}
	char err[1024];
	struct clcnn_op *op = NULL;
	if (clcnn_op_new(pos[0], pos[1], nin, shapes, &op, err, sizeof err)) {
		fprintf(stderr, "bench-op: %s\n", err);
		return 1;
	}
	struct clcnn_context *ctx = NULL;
	if (clcnn_context_open(&ctx, NULL, err, sizeof err) || clcnn_op_prepare(op, ctx)) {
		fprintf(stderr, "bench-op: %s\n", ctx ? clcnn_context_error(ctx) : err);
		return 1;
	}
	uint64_t rng = 42;
	struct clcnn_dev_io io = {.train = 1, .seed = 1};
	for (int i = 0; i < op->nin; i++) {
		io.in[i] = random_buffer(ctx, clcnn_shape_count(&op->in[i]), &rng);
		io.grad_in[i] = input_grad && !((op->nograd_in >> i) & 1)
					? random_buffer(ctx, clcnn_shape_count(&op->in[i]), &rng)
					: NULL;
	}
	for (int j = 0; j < op->nparam; j++) {
		io.param[j] = random_buffer(ctx, clcnn_shape_count(&op->param[j].shape), &rng);
		if (weight_grad && op->param[j].kind == CLCNN_PARAM_WEIGHT)
			io.grad_param[j] = random_buffer(ctx, clcnn_shape_count(&op->param[j].shape), &rng);
	}
	io.out = random_buffer(ctx, clcnn_shape_count(&op->out), &rng);
	io.grad_out = random_buffer(ctx, clcnn_shape_count(&op->out), &rng);
	io.state = random_buffer(ctx, op->state_bytes / sizeof(float) + 1, &rng);
	io.scratch = random_buffer(ctx, op->scratch_bytes / sizeof(float) + 1, &rng);
	double flops = op->cls->flops ? op->cls->flops(op) : 0, fm = 0, fmin = 0, bm = 0, bmin = 0, fc = 0, bc = 0;
	int rc = 0;
	if (!no_time) {
		rc = time_calls(op, &io, 0, reps, &fm, &fmin, &fc);
		if (!rc && op->cls->backward)
			rc = time_calls(op, &io, 1, reps, &bm, &bmin, &bc);
	} else {
		rc = op->cls->forward(op, &io);
		if (!rc && op->cls->backward)
			rc = op->cls->backward(op, &io);
		if (!rc)
			rc = clcnn_context_finish(ctx);
	}
	if (rc) {
		fprintf(stderr, "bench-op: %s\n", clcnn_context_error(ctx));
		return 1;
	}
	const char *algo = op->cls->algo ? op->cls->algo(op) : "";
	printf("%s(%s) %s  algo %s\n", pos[0], pos[1], pos[2], algo && *algo ? algo : "-");
	if (!no_time) {
		printf("  fwd  median %8.3f ms  min %8.3f ms  cpu %8.3f ms", fm * 1e3, fmin * 1e3, fc * 1e3);
		if (flops > 0)
			printf("  %7.1f GFLOP/s (min)", flops / fmin * 1e-9);
		printf("\n  bwd  median %8.3f ms  min %8.3f ms  cpu %8.3f ms", bm * 1e3, bmin * 1e3, bc * 1e3);
		if (flops > 0 && bmin > 0)
			printf("  %7.1f GFLOP/s (min)", 2 * flops / bmin * 1e-9);
		printf("\n");
	}
	clcnn_op_free(op);
	clcnn_context_close(ctx);
	return 0;
}
