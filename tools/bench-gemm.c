/*
 * bench-gemm: GFLOP/s of each GEMM algorithm on the shapes convolution and linear layers produce.
 *   bench-gemm [-a ALGO]... [-s [NN|NT|TN|TT:]MxNxK]... [-r REPS] [-p PEAK_GFLOPS] [-b BATCH]
 *              [--tm N --tnv N --vw N --lx N --dm N --dn N] [--no-ws]
 * Each case: one warm-up run (compiles the kernel), then the median of REPS timed runs, each
 * enqueue + clFinish; the workspace (for A * B^T on CPUs) is reserved before timing unless --no-ws. Set POCL_CACHE_DIR (and CLCNN_CACHE_DIR) to keep compiled kernels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/gemm.h"

struct shape {
	int ta, tb, m, n, k;
	const char *why;
};

static const struct shape default_shapes[] = {
	{0, 0, 1024, 1024, 1024, "square"},
	{0, 0, 128, 6272, 576, "conv fwd 3x3 64->128 @56x56 (W * col)"},
	{0, 0, 64, 12544, 288, "conv fwd 3x3 32->64 @112x112"},
	{1, 0, 576, 6272, 128, "conv bwd-data (W^T * dY)"},
	{0, 1, 128, 576, 6272, "conv bwd-weights (dY * col^T)"},
	{0, 1, 128, 256, 3136, "linear fwd (X * W^T)"},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int parse_shape(const char *s, struct shape *out)
{
	memset(out, 0, sizeof *out);
	if (strlen(s) > 3 && s[2] == ':') {
		out->ta = s[0] == 'T';
		out->tb = s[1] == 'T';
		s += 3;
	}
	out->why = "command line";
	return sscanf(s, "%dx%dx%d", &out->m, &out->n, &out->k) == 3 ? 0 : -1;
}

/* Time one case; returns the median seconds or a negative value on failure. */
static double run_case(struct clcnn_context *ctx, const struct clcnn_gemm_config *cf, struct clcnn_gemm_workspace *ws,
		       const struct shape *s, int batch, int reps, cl_mem a, cl_mem b, cl_mem c)
{
	int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
	size_t sa = (size_t)s->m * s->k, sb = (size_t)s->k * s->n, sc = (size_t)s->m * s->n;
	double t[64];
	for (int r = -1; r < reps; r++) {
		double t0 = clcnn_now();
		int rc = clcnn_gemm_with(ctx, cf, ws,
					 &(struct clcnn_gemm_args){.m = s->m,
								   .n = s->n,
								   .k = s->k,
								   .batch = batch,
								   .alpha = 1.0f,
								   .a = {a, 0, lda, sa, s->ta},
								   .b = {b, 0, ldb, sb, s->tb},
								   .c = {c, 0, s->n, sc}});
		if (!rc)
			rc = clcnn_context_finish(ctx);
		if (rc) {
			fprintf(stderr, "bench-gemm: %s\n", clcnn_context_error(ctx));
			return -1;
		}
		if (r >= 0)
			t[r] = clcnn_now() - t0;
	}
	qsort(t, (size_t)reps, sizeof t[0], cmp_double);
	return t[reps / 2];
}

static int algo_by_name(const char *name)
{
	for (int i = 0; i < CLCNN_GEMM_ALGO_COUNT; i++)
		if (strcmp(name, clcnn_gemm_algo_name((enum clcnn_gemm_algo)i)) == 0)
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	struct shape shapes[32];
	int nshapes = 0, algos[CLCNN_GEMM_ALGO_COUNT], nalgos = 0, reps = 5, batch = 1, use_ws = 1;
	double peak = 336.0;
	struct clcnn_gemm_config base;
	memset(&base, 0, sizeof base);
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--no-ws")) {
			use_ws = 0;
			continue;
		}
		int *tile = !strcmp(o, "--tm")    ? &base.tm
			    : !strcmp(o, "--tnv") ? &base.tnv
			    : !strcmp(o, "--vw")  ? &base.vw
			    : !strcmp(o, "--lx")  ? &base.lx
			    : !strcmp(o, "--dm")  ? &base.dm
			    : !strcmp(o, "--dn")  ? &base.dn
						  : NULL;
		if (!v) {
			fprintf(stderr, "bench-gemm: %s needs a value\n", o);
			return 2;
		}
		i++;
		if (tile) {
			*tile = atoi(v);
		} else if (!strcmp(o, "-a")) {
			int x = algo_by_name(v);
			if (x < 0 || nalgos == CLCNN_GEMM_ALGO_COUNT) {
				fprintf(stderr, "bench-gemm: unknown algorithm %s\n", v);
				return 2;
			}
			algos[nalgos++] = x;
		} else if (!strcmp(o, "-s") && nshapes < 32) {
			if (parse_shape(v, &shapes[nshapes++])) {
				fprintf(stderr, "bench-gemm: shape %s is not [NN:]MxNxK\n", v);
				return 2;
			}
		} else if (!strcmp(o, "-r")) {
			reps = atoi(v);
		} else if (!strcmp(o, "-p")) {
			peak = atof(v);
		} else if (!strcmp(o, "-b")) {
			batch = atoi(v);
		} else {
			fprintf(stderr,
				"usage: bench-gemm [-a ALGO]... [-s [NT:]MxNxK]... [-r REPS] [-p PEAK] [-b BATCH] "
				"[--tm --tnv --vw --lx --dm --dn N] [--no-ws]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > 64 || batch < 1) {
		fprintf(stderr, "bench-gemm: reps must be 1..64 and batch >= 1\n");
		return 2;
	}
	if (!nshapes) {
		nshapes = (int)CLCNN_ARRAY_LEN(default_shapes);
		memcpy(shapes, default_shapes, sizeof default_shapes);
	}
	if (!nalgos) {
		algos[nalgos++] = CLCNN_GEMM_CPU_VEC;
		algos[nalgos++] = CLCNN_GEMM_GPU_TILED;
		if (clcnn_gemm_algo_available(CLCNN_GEMM_CLBLAST))
			algos[nalgos++] = CLCNN_GEMM_CLBLAST;
	}

	struct clcnn_context *ctx;
	char err[8192];
	if (clcnn_context_open(&ctx, NULL, err, sizeof err)) {
		fprintf(stderr, "bench-gemm: %s\n", err);
		clcnn_context_close(ctx);
		return 1;
	}
	printf("device: %s; median of %d runs, batch %d, %% of %.0f GFLOP/s peak\n", clcnn_context_device(ctx)->name,
	       reps, batch, peak);
	int status = 0;
	struct clcnn_gemm_workspace ws = {0};
	for (int si = 0; si < nshapes && !status; si++) {
		const struct shape *s = &shapes[si];
		size_t na = (size_t)s->m * s->k * batch, nb = (size_t)s->k * s->n * batch,
		       nc = (size_t)s->m * s->n * batch;
		cl_mem a = NULL, b = NULL, c = NULL;
		if (clcnn_buffer_new(ctx, na * 4, &a) || clcnn_buffer_new(ctx, nb * 4, &b) ||
		    clcnn_buffer_new(ctx, nc * 4, &c) || clcnn_buffer_fill(ctx, a, 0.5f, na) ||
		    clcnn_buffer_fill(ctx, b, 0.25f, nb)) {
			fprintf(stderr, "bench-gemm: %s\n", clcnn_context_error(ctx));
			status = 1;
		}
		for (int ai = 0; ai < nalgos && !status; ai++) {
			struct clcnn_gemm_config cf = base;
			cf.algo = (enum clcnn_gemm_algo)algos[ai];
			if (use_ws &&
			    clcnn_gemm_workspace_reserve(ctx, &ws,
							 clcnn_gemm_workspace_bytes(ctx, &cf, s->ta, s->tb, s->m, s->n,
										    s->k, batch))) {
				fprintf(stderr, "bench-gemm: %s\n", clcnn_context_error(ctx));
				status = 1;
				break;
			}
			double sec = run_case(ctx, &cf, use_ws ? &ws : NULL, s, batch, reps, a, b, c);
			if (sec < 0) {
				status = 1;
				break;
			}
			double gf = 2.0 * s->m * s->n * s->k * batch / sec * 1e-9;
			char dims[48];
			snprintf(dims, sizeof dims, "%dx%dx%d", s->m, s->n, s->k);
			printf("%-9s %c%c %-16s %9.3f ms %7.1f GFLOP/s %5.1f %%  (%s)\n", clcnn_gemm_algo_name(cf.algo),
			       s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', dims, sec * 1e3, gf, 100.0 * gf / peak, s->why);
			fflush(stdout);
		}
		clcnn_buffer_free(a);
		clcnn_buffer_free(b);
		clcnn_buffer_free(c);
	}
	clcnn_gemm_workspace_release(&ws);
	clcnn_context_close(ctx);
	return status;
}
