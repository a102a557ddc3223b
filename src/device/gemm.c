/*
 * GEMM dispatch: validates the call once, then maps each transposition case onto the kernels of
 * cl/gemm.cl (or CLBlast). Kernels index with int, so every addressed range must stay below 2^31.
 */
#include <limits.h>
#include <string.h>

/* gemm.h first: it fixes the OpenCL target version before CLBlast includes CL/opencl.h */
#include "device/gemm.h"

#ifdef CLCNN_HAVE_CLBLAST
#include <clblast_c.h>
#endif

/* One GEMM call with its operands, after validation. */
struct gemm_call {
	int ta, tb, m, n, k, batch;
	float alpha, beta;
	cl_mem a, b, c, bias;
	int act;     /* CLCNN_GEMM_ACT_* after the bias */
	float slope; /* leaky_relu's */
	int off_a, lda, stride_a, off_b, ldb, stride_b, off_c, ldc, stride_c;
	int hw_fma; /* the device has fused multiply-add in hardware */
};

const char *clcnn_gemm_algo_name(enum clcnn_gemm_algo algo)
{
	static const char *const names[] = {"auto", "cpu-vec", "gpu-tiled", "clblast", "naive"};
	return (unsigned)algo < CLCNN_ARRAY_LEN(names) ? names[algo] : "?";
}

int clcnn_gemm_algo_available(enum clcnn_gemm_algo algo)
{
#ifndef CLCNN_HAVE_CLBLAST
	if (algo == CLCNN_GEMM_CLBLAST)
		return 0;
#endif
	return (unsigned)algo < CLCNN_GEMM_ALGO_COUNT;
}

static int is_cpu(const struct clcnn_context *ctx)
{
	return !clcnn_is_gpu(ctx);
}

/* What the device says about its float vectors and FMA; cheap queries, so asked per call. */
static void device_float_traits(const struct clcnn_context *ctx, int *vw, int *hw_fma)
{
	cl_uint w = 0;
	cl_device_fp_config fp = 0;
	clGetDeviceInfo(ctx->device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
	clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
	*vw = w >= 16 ? 16 : 8;
	*hw_fma = (fp & CL_FP_FMA) != 0;
}

/*
 * Fill the zero fields of cfg with this device's defaults. CPU_VEC tiles were measured on POCL 3.1
 * (AVX-512, 32 vector registers): 6 x 4 float16 accumulators + 4 B vectors + 1 broadcast = 29
 * registers; with 8-wide (AVX2, 16 registers) the tile shrinks to 6 x 2 + 2 + 1 = 15.
 */
static struct clcnn_gemm_config resolve(const struct clcnn_context *ctx, const struct clcnn_gemm_config *in,
					int *hw_fma)
{
	struct clcnn_gemm_config c;
	memset(&c, 0, sizeof c);
	if (in)
		c = *in;
	if (c.algo == CLCNN_GEMM_AUTO)
		c.algo = is_cpu(ctx) ? CLCNN_GEMM_CPU_VEC : CLCNN_GEMM_GPU_TILED;
	int vw;
	device_float_traits(ctx, &vw, hw_fma);
#define DEFAULT(f, v) \
	if (c.f <= 0) \
	c.f = (v)
	DEFAULT(vw, vw);
	DEFAULT(tm, 6);
	DEFAULT(tnv, c.vw == 16 ? 4 : 2);
	DEFAULT(lx, 16);
	DEFAULT(dm, c.vw == 16 ? 6 : 3);
	DEFAULT(dn, 4);
	DEFAULT(tsm, 64);
	DEFAULT(tsn, 64);
	DEFAULT(tsk, 16);
	DEFAULT(wptm, 4);
	DEFAULT(wptn, 4);
#undef DEFAULT
	return c;
}

/* The largest element index a batched operand touches, for the 2^31 check. */
static int fits(size_t off, size_t stride, int batch, int rows, int ld, const char *what, struct clcnn_context *ctx)
{
	size_t last = off + stride * (size_t)(batch - 1) + (size_t)(rows > 0 ? rows - 1 : 0) * (size_t)ld + (size_t)ld;
	if (off > INT_MAX || stride > INT_MAX || last > INT_MAX)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "gemm: operand %s addresses element %zu, beyond 2^31", what,
				  last);
	return 0;
}

static int validate(struct clcnn_context *ctx, struct gemm_call *g, size_t off_a, size_t stride_a, size_t off_b,
		    size_t stride_b, size_t off_c, size_t stride_c)
{
	if (g->m < 0 || g->n < 0 || g->k < 0 || g->batch < 0)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "gemm: negative size m=%d n=%d k=%d batch=%d", g->m, g->n,
				  g->k, g->batch);
	/* stored shapes: A is k x m when transposed, B is n x k when transposed */
	int a_rows = g->ta ? g->k : g->m, a_cols = g->ta ? g->m : g->k;
	int b_rows = g->tb ? g->n : g->k, b_cols = g->tb ? g->k : g->n;
	if (g->lda < (a_cols > 1 ? a_cols : 1) || g->ldb < (b_cols > 1 ? b_cols : 1) || g->ldc < (g->n > 1 ? g->n : 1))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "gemm: leading dimensions lda=%d ldb=%d ldc=%d too small for %s%s m=%d n=%d k=%d",
				  g->lda, g->ldb, g->ldc, g->ta ? "T" : "N", g->tb ? "T" : "N", g->m, g->n, g->k);
	if (g->m == 0 || g->n == 0 || g->batch == 0)
		return 0;
	int rc = fits(off_a, stride_a, g->batch, a_rows, g->lda, "A", ctx);
	if (!rc)
		rc = fits(off_b, stride_b, g->batch, b_rows, g->ldb, "B", ctx);
	if (!rc)
		rc = fits(off_c, stride_c, g->batch, g->m, g->ldc, "C", ctx);
	if (rc)
		return rc;
	g->off_a = (int)off_a, g->stride_a = (int)stride_a;
	g->off_b = (int)off_b, g->stride_b = (int)stride_b;
	g->off_c = (int)off_c, g->stride_c = (int)stride_c;
	return 0;
}

/*
 * Arguments shared by every kernel but gemm_naive (same order in cl/gemm.cl), then for the kernels
 * with an epilogue (epi: all but gemm_gpu) the bias: C stands in where there is none (BIAS 0 never reads it).
 */
static int set_args(struct clcnn_context *ctx, cl_kernel kr, const struct gemm_call *g, int epi)
{
	cl_mem bias = g->bias ? g->bias : g->c;
	const struct clcnn_karg args[] = {KARG(g->m),        KARG(g->n),     KARG(g->k),     KARG(g->alpha),
					  KARG(g->a),        KARG(g->off_a), KARG(g->lda),   KARG(g->stride_a),
					  KARG(g->b),        KARG(g->off_b), KARG(g->ldb),   KARG(g->stride_b),
					  KARG(g->beta),     KARG(g->c),     KARG(g->off_c), KARG(g->ldc),
					  KARG(g->stride_c), KARG(bias)};
	return clcnn_kernel_set_args(ctx, kr, args, CLCNN_ARRAY_LEN(args) - (epi ? 0 : 1));
}

/* The epilogue's options for the kernels that apply it themselves (cl/gemm.cl): -DBIAS, -DFUSE. */
static const char *epilogue_opts(const struct gemm_call *g, char *buf, size_t n)
{
	char fuse[64];
	snprintf(buf, n, " -DBIAS=%d%s", g->bias != NULL, clcnn_fuse_options(g->act, g->slope, fuse, sizeof fuse));
	return buf;
}

static size_t div_up(size_t a, size_t b)
{
	return (a + b - 1) / b;
}

/* Vectors per row of gemm_cpu's tile: a narrow C (a classifier's 10 outputs) would spend most of a
 * wide tile on clamped columns. */
static int cpu_tnv(const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	int tnv = (int)div_up((size_t)g->n, (size_t)cf->vw);
	return tnv > cf->tnv ? cf->tnv : tnv;
}

/*
 * Whether gemm_cpu reads B packed (gemm_pack, cl/gemm.cl says why): when a column panel (k rows of
 * the tile's width) outgrows L1 and m is large enough to pay for the copy (one pass over B against 2m
 * flops per element of it); not ldb, so that clcnn_gemm_workspace_bytes can tell without it. Xeon,
 * median of 9, with and without: NN 512x256x4608 5.7 vs 15.3 ms, 1024x1024x1024 8.4 vs 19.7;
 * 128x6272x576 4.9 vs 4.6 (m below 256: not packed).
 */
static int packs_b(const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	return !g->tb && g->m >= 256 && (size_t)g->k * (size_t)(cpu_tnv(cf, g) * cf->vw) * sizeof(float) > 32768;
}

static size_t packed_b_floats(const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	size_t tn = (size_t)(cpu_tnv(cf, g) * cf->vw);
	return div_up((size_t)g->n, tn) * tn * (size_t)g->k * (size_t)g->batch;
}

/*
 * Whether gemm_cpu reads A^T packed in row tiles (PACKED_A): A^T is stored k x m, so a work-item
 * reads TM floats from each of k rows lda apart, the same aliasing as B's panels. Xeon, best of 6
 * alternated runs, packed against in place: TN 4608x512x512 13.1 vs 19.4 ms, 4608x256x512 7.4 vs
 * 9.4, 576x6272x128 4.5 vs 5.6, 256x196x1024 0.95 vs 1.10; 147x12544x64 1.64 vs 1.45 (m below 256:
 * not packed).
 */
static int packs_a(const struct gemm_call *g)
{
	return g->ta && g->m >= 256 && g->n >= 64;
}

/* Per batch entry even where A is shared (packed once then): clcnn_gemm_workspace_bytes cannot tell. */
static size_t packed_a_floats(const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	return div_up((size_t)g->m, (size_t)cf->tm) * (size_t)cf->tm * (size_t)g->k * (size_t)g->batch;
}

/* Room for floats in ws, growing it unless it is a view; 0 when there is none. */
static int ws_room(struct clcnn_context *ctx, struct clcnn_gemm_workspace *ws, size_t floats, int *rc)
{
	*rc = 0;
	if (!ws || floats > INT_MAX || ws->off + floats > INT_MAX)
		return 0;
	size_t need = (ws->off + floats) * sizeof(float);
	if (ws->view)
		return ws->bytes >= need;
	*rc = clcnn_gemm_workspace_reserve(ctx, ws, need);
	return !*rc;
}

/* dst + dst_off = X (rows x cols, ld, batch stride) in panels of pw columns (gemm_pack). */
static int run_pack(struct clcnn_context *ctx, int vw, int pw, int rows, int cols, cl_mem x, int off, int ld,
		    int stride, int batch, cl_mem dst, int dst_off)
{
	char opts[96];
	snprintf(opts, sizeof opts, "-DGEMM_KERNEL_PACK -DVW=%d -DPW=%d", vw, pw);
	cl_kernel kr;
	int rc = clcnn_kernel_get(ctx, "gemm", opts, "gemm_pack", &kr);
	if (!rc)
		rc = clcnn_kernel_args(ctx, kr, KARG(rows), KARG(cols), KARG(x), KARG(off), KARG(ld), KARG(stride),
				       KARG(dst), KARG(dst_off));
	if (rc)
		return rc;
	size_t global[3] = {div_up((size_t)rows, 16) * 16, div_up((size_t)cols, (size_t)pw), (size_t)batch};
	size_t local[3] = {16, 1, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

/* Outer-product kernel; g->tb must be 0 here (the callers arrange that). ws (may be NULL): room to
 * pack B and A^T into where packs_b and packs_a say so; without room they are read in place. */
static int run_cpu_outer(struct clcnn_context *ctx, const struct clcnn_gemm_config *cf, const struct gemm_call *g,
			 int store_t, struct clcnn_gemm_workspace *ws)
{
	int tnv = cpu_tnv(cf, g), tn = tnv * cf->vw, rc = 0;
	struct gemm_call s = *g;
	/* B's panels, then A^T's row tiles, from ws->off */
	size_t fb = packs_b(cf, g) ? packed_b_floats(cf, g) : 0, fa = packs_a(g) ? packed_a_floats(cf, g) : 0;
	int packed_b = fb > 0, packed_a = fa > 0;
	if ((fa || fb) && !ws_room(ctx, ws, fa + fb, &rc)) {
		if (rc)
			return rc;
		packed_a = packed_b = 0;
	}
	if (packed_b) {
		rc = run_pack(ctx, cf->vw, tn, g->k, g->n, g->b, g->off_b, g->ldb, g->stride_b, g->batch, ws->mem,
			      (int)ws->off);
		s.b = ws->mem, s.off_b = (int)ws->off, s.ldb = tn, s.stride_b = (int)(fb / (size_t)g->batch);
	}
	if (!rc && packed_a) {
		int off = (int)(ws->off + fb);
		/* one shared A (batch stride 0) is packed once */
		int nb = g->stride_a ? g->batch : 1;
		rc = run_pack(ctx, cf->vw, cf->tm, g->k, g->m, g->a, g->off_a, g->lda, g->stride_a, nb, ws->mem, off);
		s.a = ws->mem, s.off_a = off, s.lda = cf->tm;
		s.stride_a = g->stride_a ? (int)(fa / (size_t)g->batch) : 0;
	}
	if (rc)
		return rc;
	char opts[256], epi[64];
	snprintf(opts, sizeof opts,
		 "-DGEMM_KERNEL_CPU -DHW_FMA=%d -DVW=%d -DTM=%d -DTNV=%d -DTRANS_A=%d -DSTORE_T=%d -DPACKED_B=%d "
		 "-DPACKED_A=%d%s",
		 g->hw_fma, cf->vw, cf->tm, tnv, g->ta, store_t, packed_b, packed_a, epilogue_opts(g, epi, sizeof epi));
	cl_kernel kr;
	rc = clcnn_kernel_get(ctx, "gemm", opts, "gemm_cpu", &kr);
	if (!rc)
		rc = set_args(ctx, kr, &s, 1);
	if (rc)
		return rc;
	size_t global[3] = {div_up((size_t)g->m, (size_t)cf->tm), div_up((size_t)g->n, (size_t)(tnv * cf->vw)),
			    (size_t)g->batch};
	/* a fixed local size: POCL compiles one work-group function per local size */
	size_t local[3] = {(size_t)cf->lx, 1, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

static int run_cpu_dot(struct clcnn_context *ctx, const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	char opts[160], epi[64];
	snprintf(opts, sizeof opts, "-DGEMM_KERNEL_CPU_DOT -DHW_FMA=%d -DVW=%d -DDM=%d -DDN=%d%s", g->hw_fma, cf->vw,
		 cf->dm, cf->dn, epilogue_opts(g, epi, sizeof epi));
	cl_kernel kr;
	int rc = clcnn_kernel_get(ctx, "gemm", opts, "gemm_cpu_dot", &kr);
	if (!rc)
		rc = set_args(ctx, kr, g, 1);
	if (rc)
		return rc;
	size_t global[3] = {div_up((size_t)g->m, (size_t)cf->dm), div_up((size_t)g->n, (size_t)cf->dn),
			    (size_t)g->batch};
	size_t local[3] = {(size_t)cf->lx, 1, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

/* Enqueue dst = src^T for every batch entry (src rows x cols, dst cols x rows from dst_off, packed). */
static int run_transpose(struct clcnn_context *ctx, int rows, int cols, cl_mem src, int off, int ld, int stride,
			 cl_mem dst, int dst_off, int batch)
{
	cl_kernel kr;
	int rc = clcnn_kernel_get(ctx, "gemm", "-DGEMM_KERNEL_TRANSPOSE", "gemm_transpose", &kr);
	int dst_stride = rows * cols;
	if (!rc)
		rc = clcnn_kernel_args(ctx, kr, KARG(rows), KARG(cols), KARG(src), KARG(off), KARG(ld), KARG(stride),
				       KARG(dst), KARG(dst_off), KARG(dst_stride));
	if (rc)
		return rc;
	size_t global[3] = {div_up((size_t)cols, 16), div_up((size_t)rows, 16), (size_t)batch};
	size_t local[3] = {8, 1, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

/*
 * A * B^T on CPU_VEC transposes one operand so that gemm_cpu can run; its vectors then run along
 * n (B transposed) or along m (A transposed, computed as (B A^T^T)^T). Transpose the smaller one,
 * unless it is narrower than one tile: then most of every vector would be clamped padding.
 */
static int nt_transposes_b(const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	int wide = cf->tnv * cf->vw;
	return g->n >= wide && (g->n <= g->m || g->m < wide);
}

/*
 * A * B^T with at most GEMV_ROWS rows of A or of B (a linear layer's forward at a small batch) runs
 * gemm_gemv: one pass over the long operand, no transposed copy. Measured on POCL 3.1 (EPYC, 2 vCPUs)
 * for 1 x 256 x 3136: the transposing path took 0.28-0.70 ms (a 3.2 MB copy every call).
 */
#define GEMV_ROWS 4
#define GEMV_NR 4 /* rows of the long operand per work-item */
#define GEMV_LX 8 /* work-items per group: 64 rows of a 256-wide layer make 8 groups for the cores */

static int uses_gemv(const struct gemm_call *g)
{
	return g->tb && !g->ta && (g->m <= GEMV_ROWS || g->n <= GEMV_ROWS);
}

static int run_cpu_gemv(struct clcnn_context *ctx, const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	int short_b = g->n < g->m; /* the operand with fewer rows stays in L1 */
	char opts[192], epi[64];
	snprintf(opts, sizeof opts, "-DGEMM_KERNEL_GEMV -DHW_FMA=%d -DVW=%d -DSR=%d -DNR=%d -DSHORT_B=%d%s", g->hw_fma,
		 cf->vw, short_b ? g->n : g->m, GEMV_NR, short_b, epilogue_opts(g, epi, sizeof epi));
	cl_kernel kr;
	int rc = clcnn_kernel_get(ctx, "gemm", opts, "gemm_gemv", &kr);
	if (!rc)
		rc = set_args(ctx, kr, g, 1);
	if (rc)
		return rc;
	size_t global[3] = {div_up((size_t)(short_b ? g->m : g->n), GEMV_NR), 1, (size_t)g->batch};
	size_t local[3] = {GEMV_LX, 1, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

/*
 * GPU_TILED's small-m A * B^T: one work-group per row of the long operand (a 64 x 64 block tile
 * would leave 63 of its 64 rows idle at m = 1). The group is 64 items, or the largest power of two
 * that the device and the built kernel allow (clcnn_group_sum needs a power of two).
 */
static int run_gpu_gemv(struct clcnn_context *ctx, const struct gemm_call *g)
{
	int short_b = g->n < g->m;
	size_t wg = 64, lim = ctx->lim.max_wg < ctx->lim.max_items[0] ? ctx->lim.max_wg : ctx->lim.max_items[0];
	cl_kernel kr;
	for (;;) {
		while (wg > 1 && wg > lim)
			wg /= 2;
		char opts[224], epi[64];
		snprintf(opts, sizeof opts, "-DGEMM_KERNEL_GEMV_GPU -DHW_FMA=%d -DSR=%d -DSHORT_B=%d -DGEMV_WG=%zu%s",
			 g->hw_fma, short_b ? g->n : g->m, short_b, wg, epilogue_opts(g, epi, sizeof epi));
		int rc = clcnn_kernel_get(ctx, "gemm", opts, "gemm_gemv_gpu", &kr);
		if (rc)
			return rc;
		size_t kmax = clcnn_kernel_max_wg(ctx, kr);
		if (wg <= kmax || wg == 1)
			break;
		lim = kmax;
	}
	int rc = set_args(ctx, kr, g, 1);
	if (rc)
		return rc;
	size_t global[3] = {(size_t)(short_b ? g->m : g->n) * wg, 1, (size_t)g->batch};
	size_t local[3] = {wg, 1, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

/* C[z][i][j] = act(C[z][i][j] + bias[j]): the epilogue of the kernels that do not apply it, after their product. */
static int run_epilogue(struct clcnn_context *ctx, const struct gemm_call *g)
{
	cl_kernel kr;
	char opts[96], epi[64];
	snprintf(opts, sizeof opts, "-DGEMM_KERNEL_EPILOGUE%s", epilogue_opts(g, epi, sizeof epi));
	int rc = clcnn_kernel_get(ctx, "gemm", opts, "gemm_epilogue", &kr);
	cl_mem bias = g->bias ? g->bias : g->c; /* not read without BIAS */
	if (!rc)
		rc = clcnn_kernel_args(ctx, kr, KARG(g->m), KARG(g->n), KARG(g->c), KARG(g->off_c), KARG(g->ldc),
				       KARG(g->stride_c), KARG(bias));
	if (rc)
		return rc;
	size_t global[3] = {(size_t)g->n, (size_t)g->m, (size_t)g->batch};
	return clcnn_kernel_run(ctx, kr, 3, global, NULL);
}

/* Floats of workspace CPU_VEC uses: the transposed operand of A * B^T, or B packed. */
static size_t cpu_workspace_floats(const struct clcnn_gemm_config *cf, const struct gemm_call *g)
{
	if (!g->tb)
		return (packs_b(cf, g) ? packed_b_floats(cf, g) : 0) + (packs_a(g) ? packed_a_floats(cf, g) : 0);
	if (g->ta || uses_gemv(g))
		return 0;
	return (size_t)(nt_transposes_b(cf, g) ? g->n : g->m) * (size_t)g->k * (size_t)g->batch;
}

static int run_cpu(struct clcnn_context *ctx, const struct clcnn_gemm_config *cf, const struct gemm_call *g,
		   struct clcnn_gemm_workspace *ws)
{
	if (!g->tb)
		return run_cpu_outer(ctx, cf, g, 0, ws);
	struct gemm_call s = *g;
	if (!g->ta) {
		int rc = 0;
		if (g->k < 1 || !ws_room(ctx, ws, cpu_workspace_floats(cf, g), &rc))
			return rc ? rc : run_cpu_dot(ctx, cf, g);
		const int off = (int)ws->off;
		if (nt_transposes_b(cf, g)) {
			/* B (n x k) -> B^T (k x n) in the workspace, then the plain product */
			rc = run_transpose(ctx, g->n, g->k, g->b, g->off_b, g->ldb, g->stride_b, ws->mem, off,
					   g->batch);
			s.tb = 0;
			s.b = ws->mem, s.off_b = off, s.ldb = g->n, s.stride_b = g->n * g->k;
			return rc ? rc : run_cpu_outer(ctx, cf, &s, 0, NULL);
		}
		/* A (m x k) -> A^T (k x m): A^T^T B^T, the case below */
		rc = run_transpose(ctx, g->m, g->k, g->a, g->off_a, g->lda, g->stride_a, ws->mem, off, g->batch);
		if (rc)
			return rc;
		s.ta = 1;
		s.a = ws->mem, s.off_a = off, s.lda = g->m, s.stride_a = g->m * g->k;
	}
	/* A^T B^T = (B A)^T: B (n x k) and A (k x m) as stored form a plain product, written transposed */
	struct gemm_call t = s;
	t.ta = t.tb = 0;
	t.m = s.n, t.n = s.m;
	t.a = s.b, t.off_a = s.off_b, t.lda = s.ldb, t.stride_a = s.stride_b;
	t.b = s.a, t.off_b = s.off_a, t.ldb = s.lda, t.stride_b = s.stride_a;
	return run_cpu_outer(ctx, cf, &t, 1, NULL);
}

/* Bytes of __local gemm_gpu declares for a tile (As and Bs, each row padded by one float). */
static uint64_t gpu_local_bytes(int tsm, int tsn, int tsk)
{
	return (uint64_t)tsk * (uint64_t)(tsm + 1 + tsn + 1) * sizeof(float);
}

/*
 * Shrink the tiles the caller did not fix until a work-group of (tsn/wptn) x (tsm/wptm) items fits
 * max_wg and the device's per-dimension limits, and the __local tiles fit its __local memory: the
 * larger block side halves first, then the k slice (for __local only). The 64 x 64 default with 4 x 4
 * per work-item is a 256-item group; under a 64-item limit it becomes 32 x 32 (64 items).
 */
static void gpu_fit(const struct clcnn_context *ctx, const struct clcnn_gemm_config *in, struct clcnn_gemm_config *c,
		    size_t max_wg)
{
	const struct clcnn_device_limits *lim = &ctx->lim;
	int fix_m = in && in->tsm > 0, fix_n = in && in->tsn > 0, fix_k = in && in->tsk > 0;
	for (;;) {
		size_t rm = (size_t)(c->tsm / c->wptm), rn = (size_t)(c->tsn / c->wptn);
		int over_n = rn > lim->max_items[0] || rm * rn > max_wg;
		int over_m = rm > lim->max_items[1] || rm * rn > max_wg;
		int shrink_n = !fix_n && c->tsn > c->wptn && over_n && (c->tsn >= c->tsm || fix_m || !over_m);
		int shrink_m = !fix_m && c->tsm > c->wptm && over_m && !shrink_n;
		if (shrink_n)
			c->tsn /= 2;
		else if (shrink_m)
			c->tsm /= 2;
		else
			break;
	}
	while (lim->local_mem && gpu_local_bytes(c->tsm, c->tsn, c->tsk) > lim->local_mem) {
		if (!fix_k && c->tsk > 1)
			c->tsk /= 2;
		else if (!fix_n && c->tsn > c->wptn && c->tsn >= c->tsm)
			c->tsn /= 2;
		else if (!fix_m && c->tsm > c->wptm)
			c->tsm /= 2;
		else
			break; /* the launch check names the kernel and the sizes */
	}
}

static int gpu_kernel(struct clcnn_context *ctx, const struct clcnn_gemm_config *cf, const struct gemm_call *g,
		      cl_kernel *kr)
{
	char opts[192];
	snprintf(opts, sizeof opts,
		 "-DGEMM_KERNEL_GPU -DHW_FMA=%d -DTSM=%d -DTSN=%d -DTSK=%d -DWPTM=%d -DWPTN=%d -DTRANS_A=%d "
		 "-DTRANS_B=%d",
		 g->hw_fma, cf->tsm, cf->tsn, cf->tsk, cf->wptm, cf->wptn, g->ta, g->tb);
	return clcnn_kernel_get(ctx, "gemm", opts, "gemm_gpu", kr);
}

/*
 * in: the caller's config (tiles it fixed stay fixed); cf: with defaults. The tiles are fitted to the
 * context's limits, then to the built kernel's own work-group limit (its registers and __local may
 * allow fewer items than the device), rebuilding with smaller tiles until the group fits.
 */
static int run_gpu(struct clcnn_context *ctx, const struct clcnn_gemm_config *in, const struct clcnn_gemm_config *cf,
		   const struct gemm_call *g)
{
	if (cf->tsm % cf->wptm || cf->tsn % cf->wptn)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "gemm: tile %dx%d not divisible by %dx%d per work-item",
				  cf->tsm, cf->tsn, cf->wptm, cf->wptn);
	struct clcnn_gemm_config c = *cf;
	size_t max_wg = ctx->lim.max_wg;
	cl_kernel kr;
	for (;;) {
		gpu_fit(ctx, in, &c, max_wg);
		int rc = gpu_kernel(ctx, &c, g, &kr);
		if (rc)
			return rc;
		size_t items = (size_t)(c.tsm / c.wptm) * (size_t)(c.tsn / c.wptn);
		size_t kmax = clcnn_kernel_max_wg(ctx, kr);
		if (items <= kmax || kmax >= max_wg)
			break; /* fits, or nothing smaller to try: the launch check explains */
		max_wg = kmax;
	}
	int rc = set_args(ctx, kr, g, 0);
	if (rc)
		return rc;
	int rtsm = c.tsm / c.wptm, rtsn = c.tsn / c.wptn;
	size_t global[3] = {div_up((size_t)g->n, (size_t)c.tsn) * (size_t)rtsn,
			    div_up((size_t)g->m, (size_t)c.tsm) * (size_t)rtsm, (size_t)g->batch};
	size_t local[3] = {(size_t)rtsn, (size_t)rtsm, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

static int run_naive(struct clcnn_context *ctx, const struct gemm_call *g)
{
	cl_kernel kr;
	char opts[48];
	snprintf(opts, sizeof opts, "-DGEMM_KERNEL_NAIVE -DHW_FMA=%d", g->hw_fma);
	int rc = clcnn_kernel_get(ctx, "gemm", opts, "gemm_naive", &kr);
	if (rc)
		return rc;
	/* element strides of op(A) along m and k, op(B) along k and n */
	int sam = g->ta ? 1 : g->lda, sak = g->ta ? g->lda : 1;
	int sbk = g->tb ? 1 : g->ldb, sbn = g->tb ? g->ldb : 1;
	rc = clcnn_kernel_args(ctx, kr, KARG(g->m), KARG(g->n), KARG(g->k), KARG(g->alpha), KARG(g->a), KARG(g->off_a),
			       KARG(sam), KARG(sak), KARG(g->stride_a), KARG(g->b), KARG(g->off_b), KARG(sbk),
			       KARG(sbn), KARG(g->stride_b), KARG(g->beta), KARG(g->c), KARG(g->off_c), KARG(g->ldc),
			       KARG(g->stride_c));
	if (rc)
		return rc;
	size_t global[3] = {(size_t)g->n, (size_t)g->m, (size_t)g->batch};
	size_t local[3] = {16, 4, 1};
	return clcnn_kernel_run(ctx, kr, 3, global, local);
}

#ifdef CLCNN_HAVE_CLBLAST
static int run_clblast(struct clcnn_context *ctx, const struct gemm_call *g)
{
	if (g->k == 0)
		return run_naive(ctx, g); /* CLBlast rejects k == 0; the result is just beta * C */
	CLBlastTranspose ta = g->ta ? CLBlastTransposeYes : CLBlastTransposeNo;
	CLBlastTranspose tb = g->tb ? CLBlastTransposeYes : CLBlastTransposeNo;
	CLBlastStatusCode s;
	if (g->batch == 1)
		s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n, (size_t)g->k, g->alpha,
				 g->a, (size_t)g->off_a, (size_t)g->lda, g->b, (size_t)g->off_b, (size_t)g->ldb,
				 g->beta, g->c, (size_t)g->off_c, (size_t)g->ldc, &ctx->queue, NULL);
	else
		s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, (size_t)g->m, (size_t)g->n, (size_t)g->k,
					       g->alpha, g->a, (size_t)g->off_a, (size_t)g->lda, (size_t)g->stride_a,
					       g->b, (size_t)g->off_b, (size_t)g->ldb, (size_t)g->stride_b, g->beta,
					       g->c, (size_t)g->off_c, (size_t)g->ldc, (size_t)g->stride_c,
					       (size_t)g->batch, &ctx->queue, NULL);
	if (s != CLBlastSuccess)
		return clcnn_fail(ctx, CLCNN_ERR_OPENCL, "CLBlast SGEMM %dx%dx%d failed with status %d", g->m, g->n,
				  g->k, (int)s);
	return 0;
}
#else
static int run_clblast(struct clcnn_context *ctx, const struct gemm_call *g)
{
	(void)g;
	return clcnn_fail(ctx, CLCNN_ERR_INVALID,
			  "gemm: algorithm clblast is not available: clcnn was built without CLBlast "
			  "(meson option clblast)");
}
#endif

int clcnn_gemm_workspace_reserve(struct clcnn_context *ctx, struct clcnn_gemm_workspace *ws, size_t bytes)
{
	if (bytes == 0 || (ws->mem && ws->bytes >= bytes))
		return 0;
	if (ws->view) /* the caller's scratch: growing it would lose the caller's buffer */
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "gemm: a workspace view of %zu bytes cannot grow to %zu",
				  ws->bytes, bytes);
	clcnn_gemm_workspace_release(ws);
	int rc = clcnn_buffer_new(ctx, bytes, &ws->mem);
	if (!rc)
		ws->bytes = bytes;
	return rc;
}

void clcnn_gemm_workspace_release(struct clcnn_gemm_workspace *ws)
{
	if (!ws || ws->view)
		return;
	clcnn_buffer_free(ws->mem);
	ws->mem = NULL;
	ws->bytes = 0;
}

size_t clcnn_gemm_workspace_bytes(const struct clcnn_context *ctx, const struct clcnn_gemm_config *cfg, int trans_a,
				  int trans_b, int m, int n, int k, int batch)
{
	struct gemm_call g = {.ta = !!trans_a, .tb = !!trans_b, .m = m, .n = n, .k = k, .batch = batch};
	struct clcnn_gemm_config cf = resolve(ctx, cfg, &g.hw_fma);
	if (cf.algo != CLCNN_GEMM_CPU_VEC || m <= 0 || n <= 0 || k <= 0 || batch <= 0)
		return 0;
	return cpu_workspace_floats(&cf, &g) * sizeof(float);
}

int clcnn_gemm_with(struct clcnn_context *ctx, const struct clcnn_gemm_config *cfg, struct clcnn_gemm_workspace *ws,
		    const struct clcnn_gemm_args *args)
{
	if (!ctx->cl)
		return clcnn_fail_no_device(ctx, "gemm");
	const struct clcnn_gemm_operand *a = &args->a, *b = &args->b, *c = &args->c;
	struct gemm_call g = {
		.ta = !!a->trans,
		.tb = !!b->trans,
		.m = args->m,
		.n = args->n,
		.k = args->k,
		.batch = args->batch ? args->batch : 1,
		.alpha = args->alpha,
		.beta = args->beta,
		.a = a->mem,
		.b = b->mem,
		.c = c->mem,
		.bias = args->bias,
		.act = args->act,
		.slope = args->act_slope,
		.lda = a->ld,
		.ldb = b->ld,
		.ldc = c->ld,
	};
	if (g.act < CLCNN_GEMM_ACT_NONE || g.act > CLCNN_GEMM_ACT_LEAKY_RELU || !(g.slope >= 0.0f))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "gemm: activation %d with slope %g: not one of none, relu and leaky_relu with a "
				  "slope >= 0",
				  g.act, (double)g.slope);
	int rc = validate(ctx, &g, a->off, a->stride, b->off, b->stride, c->off, c->stride);
	if (rc || g.m == 0 || g.n == 0)
		return rc;
	struct clcnn_gemm_config cf = resolve(ctx, cfg, &g.hw_fma);
	switch (cf.algo) {
	case CLCNN_GEMM_CPU_VEC:
		if (cf.vw != 8 && cf.vw != 16)
			return clcnn_fail(ctx, CLCNN_ERR_INVALID, "gemm: vector width %d is not 8 or 16", cf.vw);
		/* every CPU_VEC kernel applies the epilogue itself */
		return uses_gemv(&g) ? run_cpu_gemv(ctx, &cf, &g) : run_cpu(ctx, &cf, &g, ws);
	case CLCNN_GEMM_GPU_TILED:
		if (uses_gemv(&g))
			return run_gpu_gemv(ctx, &g); /* applies the epilogue itself */
		rc = run_gpu(ctx, cfg, &cf, &g);
		break;
	case CLCNN_GEMM_CLBLAST: rc = run_clblast(ctx, &g); break;
	case CLCNN_GEMM_NAIVE: rc = run_naive(ctx, &g); break;
	default: return clcnn_fail(ctx, CLCNN_ERR_INVALID, "gemm: unknown algorithm %d", (int)cf.algo);
	}
	return rc || (!g.bias && !g.act) ? rc : run_epilogue(ctx, &g);
}

int clcnn_gemm(struct clcnn_context *ctx, const struct clcnn_gemm_args *args)
{
	return clcnn_gemm_with(ctx, NULL, NULL, args);
}
