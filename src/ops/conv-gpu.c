/*
 * conv2d igemm_gpu, igemm_gpu32 and igemm_gpu128: implicit-GEMM convolution for GPUs (cl/convgpu.cl),
 * one kernel source at three starting tiles (enum conv_gpu_size). No im2col
 * matrix: each work-group gathers its TSK x TSN tile of patches straight from the tensor into __local
 * memory beside a tile of weights, and each work-item accumulates a WPTM x WPTN register tile. The
 * input gradient is the transposed problem gathered from the output gradient; the weight gradient
 * splits K = batch x output plane into a fixed number of slices (from the geometry alone), each
 * written to scratch, then added in order: no atomics, the same bits on every run. Tiles shrink to
 * the context's limits (work-group size, __local bytes); a GPU algorithm, it is a candidate only
 * where clcnn_is_gpu().
 */
#include <limits.h>
#include <string.h>

#include "ops/conv-gpu.h"

int clcnn_conv_gpu_threads(const struct conv_gpu_tile *t)
{
	return (t->tsm / t->wptm) * (t->tsn / t->wptn);
}

size_t clcnn_conv_gpu_local_bytes(const struct conv_gpu_tile *t)
{
	return (size_t)t->tsk * (size_t)(t->tsm + 1 + t->tsn + 1) * sizeof(float);
}

/* The kernels' loads need whole tile rows per pass: THREADS a multiple of TSK, dividing both tiles. */
static int loads_fit(const struct conv_gpu_tile *t)
{
	int n = clcnn_conv_gpu_threads(t);
	return n % t->tsk == 0 && (t->tsk * t->tsm) % n == 0 && (t->tsk * t->tsn) % n == 0;
}

/*
 * Too many work-items: more outputs each (up to 8 x 8), then a smaller tile; too much __local: a
 * shorter k step, then a smaller tile. Every field stays a power of two.
 */
static const struct conv_gpu_tile start_tiles[CONV_GPU_SIZES] = {
	[CONV_GPU_64] = {64, 64, 16, 4, 4},
	[CONV_GPU_32] = {32, 32, 16, 4, 4},
	[CONV_GPU_128] = {128, 128, 8, 8, 8},
};

static const char *const size_suffix[CONV_GPU_SIZES] =
	{[CONV_GPU_64] = "", [CONV_GPU_32] = "32", [CONV_GPU_128] = "128"};

int clcnn_conv_gpu_fit(int size, size_t maxwg, uint64_t local, struct conv_gpu_tile *out)
{
	if (size < 0 || size >= CONV_GPU_SIZES)
		return 0;
	struct conv_gpu_tile t = start_tiles[size];
	for (int i = 0; i < 32; i++) {
		int over_wg = (size_t)clcnn_conv_gpu_threads(&t) > maxwg;
		int over_local = local && clcnn_conv_gpu_local_bytes(&t) > local;
		if (!over_wg && !over_local && loads_fit(&t)) {
			*out = t;
			return 1;
		}
		if (over_wg && t.wptn < 8) {
			t.wptn *= 2;
		} else if (over_wg && t.wptm < 8) {
			t.wptm *= 2;
		} else if (!over_wg && t.tsk > 1 && (over_local || !loads_fit(&t))) {
			t.tsk /= 2;
		} else if (t.tsm > 4) {
			t.tsm /= 2;
			t.tsn /= 2;
			t.wptm = t.wptm > t.tsm ? t.tsm : t.wptm;
			t.wptn = t.wptn > t.tsn ? t.tsn : t.wptn;
		} else {
			return 0;
		}
	}
	return 0;
}

/* The tile the context's limits allow (before any kernel is built). */
static int lim_tile(const struct clcnn_context *ctx, int size, struct conv_gpu_tile *t)
{
	size_t wg = ctx->lim.max_wg;
	if (ctx->lim.max_items[0] && ctx->lim.max_items[0] < wg)
		wg = ctx->lim.max_items[0];
	return clcnn_conv_gpu_fit(size, wg, ctx->lim.local_mem, t);
}

static size_t weight_count(const struct conv_geom *g)
{
	return (size_t)g->cout * g->cgi * g->kh * g->kw;
}

/* Weight-gradient slicing: slice length (a multiple of 16) and the number of slices it makes. */
static void slicing(const struct conv_geom *g, int slices, int *len, int *count)
{
	long long k = (long long)g->n * g->ho * g->wo, s = slices > 0 ? slices : 1;
	long long l = (k + s - 1) / s;
	l = (l + 15) / 16 * 16;
	*len = (int)l;
	*count = (int)((k + l - 1) / l);
}

/* Most floats of weight-gradient slices kept in scratch (64 MB). */
#define MAX_PART_FLOATS ((size_t)16 << 20)

/*
 * About 256 work-groups of 64 x 64 outputs in all (enough for the multiprocessors of a large GPU),
 * slices of at least 512 values of K, at most 64 slices and 64 MB of them.
 */
int clcnn_conv_gpu_slices(const struct conv_geom *g)
{
	long long k = (long long)g->n * g->ho * g->wo;
	long long tiles = (long long)((g->cgo + 63) / 64) * ((g->cgi * g->kh * g->kw + 63) / 64) * g->groups;
	long long s = (256 + tiles - 1) / tiles, most = k / 512;
	if (s > most)
		s = most;
	if (s > 64)
		s = 64;
	while (s > 1 && (size_t)s * weight_count(g) > MAX_PART_FLOATS)
		s /= 2;
	return s < 1 ? 1 : (int)s;
}

size_t clcnn_conv_gpu_weights_scratch(const struct conv_geom *g, int slices)
{
	int len, count;
	slicing(g, slices, &len, &count);
	return count > 1 ? (size_t)count * weight_count(g) * sizeof(float) : 0;
}

/* Every index the kernels form stays an int, and dead columns' offsets (1 << 28) stay outside every plane. */
static int fits_int(const struct conv_geom *g)
{
	double in = (double)g->n * g->cin * g->h * g->w, out = (double)g->n * g->cout * g->ho * g->wo;
	double part = (double)clcnn_conv_gpu_slices(g) * (double)weight_count(g);
	double reach = (double)(g->h > g->w ? g->h : g->w) + g->pt + g->pb + g->pl + g->pr +
		       (double)(g->kh > g->kw ? g->kh : g->kw) * (g->dh > g->dw ? g->dh : g->dw);
	return in < INT_MAX && out < INT_MAX && part < INT_MAX && reach < (1 << 26);
}

static int applies(const struct clcnn_context *ctx, const struct conv_geom *g, int size)
{
	struct conv_gpu_tile t;
	if (!fits_int(g))
		return 0;
	return !ctx || (clcnn_is_gpu(ctx) && lim_tile(ctx, size, &t));
}

static int hw_fma(const struct clcnn_context *ctx)
{
	cl_device_fp_config fp = 0;
	clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
	return (fp & CL_FP_FMA) != 0;
}

/*
 * Kernel `name` (compiled with `define`) with the largest tile the context allows: the limits first,
 * then the kernel's own CL_KERNEL_WORK_GROUP_SIZE (registers), rebuilding with a smaller tile while
 * it is below the tile's work-items.
 */
static int tiled_kernel(struct clcnn_op *op, int size, const char *define, const char *name, cl_kernel *k,
			struct conv_gpu_tile *t)
{
	const struct conv_priv *p = op->priv;
	struct clcnn_context *ctx = op->ctx;
	if (!lim_tile(ctx, size, t))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "conv2d igemm_gpu%s: no tile fits %zu work-items and %llu bytes of __local memory",
				  size_suffix[size], ctx->lim.max_wg, (unsigned long long)ctx->lim.local_mem);
	char fma[16] = ""; /* conv_prepare adds HW_FMA to the GPU options; on other profiles it is ours */
	if (!strstr(p->opts, "-DHW_FMA="))
		snprintf(fma, sizeof fma, " -DHW_FMA=%d", hw_fma(ctx));
	for (;;) {
		char o[512];
		snprintf(o, sizeof o, "%s -D%s%s -DTSM=%d -DTSN=%d -DTSK=%d -DWPTM=%d -DWPTN=%d", p->opts, define, fma,
			 t->tsm, t->tsn, t->tsk, t->wptm, t->wptn);
		int rc = clcnn_kernel_get(ctx, "convgpu", o, name, k);
		if (rc)
			return rc;
		size_t most = clcnn_kernel_max_wg(ctx, *k);
		if ((size_t)clcnn_conv_gpu_threads(t) <= most)
			return 0;
		struct conv_gpu_tile s;
		if (!clcnn_conv_gpu_fit(size, most, ctx->lim.local_mem, &s) ||
		    clcnn_conv_gpu_threads(&s) >= clcnn_conv_gpu_threads(t))
			return clcnn_fail(ctx, CLCNN_ERR_INVALID,
					  "conv2d igemm_gpu%s: kernel %s allows %zu work-items a group, no tile fits",
					  size_suffix[size], name, most);
		*t = s;
	}
}

/* Launch over (tiles of n columns, tiles of m rows, z): one work-group a tile. */
static int run_tiles(struct clcnn_op *op, cl_kernel k, const struct conv_gpu_tile *t, size_t n, size_t m, size_t z)
{
	const size_t threads = (size_t)clcnn_conv_gpu_threads(t);
	const size_t global[3] = {(n + t->tsn - 1) / t->tsn * threads, (m + t->tsm - 1) / t->tsm, z};
	const size_t local[3] = {threads, 1, 1};
	return clcnn_kernel_run(op->ctx, k, 3, global, local);
}

static int forward(struct clcnn_op *op, const struct clcnn_dev_io *io, int size)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	struct conv_gpu_tile t;
	cl_kernel k;
	int has_bias = g->bias, n = g->n;
	cl_mem b = g->bias ? io->param[1] : io->param[0]; /* any valid buffer when unused */
	int rc = tiled_kernel(op, size, "CONVGPU_FWD", "convgpu_fwd", &k, &t);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->param[0]), KARG(b), KARG(has_bias),
				       KARG(io->out), KARG(n));
	return rc ? rc : run_tiles(op, k, &t, (size_t)g->n * g->ho * g->wo, (size_t)g->cgo, (size_t)g->groups);
}

static int backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io, int size)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	struct conv_gpu_tile t;
	cl_kernel k;
	int has_bias = 0, n = g->n;
	int rc = tiled_kernel(op, size, "CONVGPU_BWD_DATA", "convgpu_bwd_data", &k, &t);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->param[0]), KARG(io->param[0]),
				       KARG(has_bias), KARG(io->grad_in[0]), KARG(n));
	return rc ? rc : run_tiles(op, k, &t, (size_t)g->n * g->h * g->w, (size_t)g->cgi, (size_t)g->groups);
}

int clcnn_conv_gpu_weights(struct clcnn_op *op, const struct clcnn_dev_io *io, int size, int slices)
{
	const struct conv_priv *p = op->priv;
	const struct conv_geom *g = &p->g;
	struct conv_gpu_tile t;
	cl_kernel k;
	int len, count, n = g->n, off = 0;
	slicing(g, slices, &len, &count);
	/* one slice goes straight to dW */
	cl_mem part = count > 1 ? io->scratch : io->grad_param[0];
	int rc = tiled_kernel(op, size, "CONVGPU_BWD_W", "convgpu_bwd_w", &k, &t);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->in[0]), KARG(part), KARG(off), KARG(n),
				       KARG(len), KARG(count));
	if (!rc)
		rc = run_tiles(op, k, &t, (size_t)g->cgi * g->kh * g->kw, (size_t)g->cgo,
			       (size_t)g->groups * (size_t)count);
	if (rc || count == 1)
		return rc;
	int total = (int)weight_count(g);
	rc = clcnn_kernel_get(op->ctx, "convgpu", "-DCONVGPU_SUM", "convgpu_sum", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(off), KARG(total), KARG(count),
				       KARG(io->grad_param[0]));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)total);
}

static size_t gpu_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	(void)ctx;
	(void)nb;
	return dir == CONV_BWD_WEIGHTS ? clcnn_conv_gpu_weights_scratch(g, clcnn_conv_gpu_slices(g)) : 0;
}

/* The three algorithms: the same functions at their starting tile. */
#define CONV_GPU_ALGO(name, size) \
	static int name##_applies(const struct clcnn_context *ctx, const struct conv_geom *g) \
	{ \
		return applies(ctx, g, size); \
	} \
	static int name##_forward(struct clcnn_op *op, const struct clcnn_dev_io *io) \
	{ \
		return forward(op, io, size); \
	} \
	static int name##_backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io) \
	{ \
		return backward_data(op, io, size); \
	} \
	static int name##_backward_weights(struct clcnn_op *op, const struct clcnn_dev_io *io) \
	{ \
		const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g; \
		return clcnn_conv_gpu_weights(op, io, size, clcnn_conv_gpu_slices(g)); \
	} \
	CONV_ALGO_DEFINE(name, .programs = {"convgpu"}, .applicable = name##_applies, .forward = name##_forward, \
			 .backward_data = name##_backward_data, .backward_weights = name##_backward_weights, \
			 .scratch_bytes = gpu_scratch)

CONV_GPU_ALGO(igemm_gpu, CONV_GPU_64);
CONV_GPU_ALGO(igemm_gpu32, CONV_GPU_32);
CONV_GPU_ALGO(igemm_gpu128, CONV_GPU_128);
