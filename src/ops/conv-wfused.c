/*
 * conv2d "winograd_fused": Winograd F(4x4, 3x3) and F(2x2, 5x5) for CPUs with the three passes of
 * "winograd" (conv-winograd.c: input transform, 36 batched GEMMs, output transform) fused into one kernel
 * (cl/winograd.cl, WFUSED), so that the transformed input and output (at 3x3 2.25 times the input and
 * output each, at 5x5 9 times the output) stay in the core's caches instead of going through memory. A work-item takes TV tiles as the
 * lanes of vectors and all channels: its V [36][C] and M [36][K] are __local, in work-groups of one.
 * Meant for the small-channel layers where the batched GEMMs are shallow (32 to 128 channels).
 *
 * Both kernel sizes cut 6x6 input tiles (stride m = 7 - r) into the same 36 points (cl/winograd.cl, R).
 * The input gradient is the same kernel over the output gradient padded by r - 1 - padding with the filters
 * transposed and rotated, as in conv-winograd.c; the weight gradient is winograd's own (its three
 * passes). The sum over channels runs in channel order, one FMA a product, as in the batched GEMM: the
 * rounding is winograd's (WINOGRAD_TOL in conv.c).
 */
#include "ops/conv-stride1.h"
#include "ops/conv-winograd.h"

/* One use of the kernel: ci channels of h x w, padded by pt, pl, into co channels of oh x ow; r x r taps. */
struct wf_pipe {
	int ci, co, h, w, pt, pl, oh, ow, r, th, tw, tv;
};

/* Bytes of __local memory of the kernel at tv lanes. */
static size_t local_bytes(int ci, int co, int tv)
{
	return 36 * ((size_t)ci + co) * tv * sizeof(float);
}

/*
 * Lanes (tiles per work-item): 16 (AVX-512's vector) where the __local blocks fit the device's limit
 * (at most half of it), else 8, 4, 2, 1; 0 where none fits.
 */
static int lanes_for(const struct clcnn_context *ctx, int ci, int co)
{
	const size_t lim = ctx && ctx->lim.local_mem ? ctx->lim.local_mem / 2 : 1u << 20;
	int tv = 16;
	while (tv && local_bytes(ci, co, tv) > lim)
		tv /= 2;
	return tv;
}

static struct wf_pipe pipe_of(const struct clcnn_context *ctx, const struct conv_geom *g, enum conv_dir d)
{
	const int r = g->kh, m = 7 - r, e = r - 1; /* e: the taps' reach */
	struct wf_pipe p;
	if (d == CONV_BWD_DATA)
		p = (struct wf_pipe){g->cout, g->cin, g->ho, g->wo, e - g->pt, e - g->pl, g->h, g->w, r, 0, 0, 0};
	else
		p = (struct wf_pipe){g->cin, g->cout, g->h, g->w, g->pt, g->pl, g->ho, g->wo, r, 0, 0, 0};
	p.th = (p.oh + m - 1) / m;
	p.tw = (p.ow + m - 1) / m;
	p.tv = lanes_for(ctx, p.ci, p.co);
	return p;
}

/*
 * Where winograd applies (3x3 or 5x5, stride 1, no dilation or groups, padding at most r - 1, int
 * indices), on CPUs (ctx NULL: the geometry alone), with the __local blocks of both directions within the
 * device's limit.
 */
static int applicable(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	if ((ctx && clcnn_is_gpu(ctx)) || !clcnn_conv_algo_winograd.applicable(ctx, g))
		return 0;
	return lanes_for(ctx, g->cin, g->cout) > 0;
}

/* src (ci channels) -> out (co channels) with U [36][co][ci] at the front of scratch. */
static int run_fused(struct clcnn_op *op, const struct wf_pipe *pp, int n, cl_mem src, cl_mem u, cl_mem out,
		     cl_mem bias, int has_bias)
{
	char o[224];
	snprintf(o, sizeof o,
		 "-DWFUSED -DR=%d -DC=%d -DK=%d -DH=%d -DW=%d -DPT=%d -DPL=%d -DOH=%d -DOW=%d -DTH=%d -DTW=%d -DTV=%d",
		 pp->r, pp->ci, pp->co, pp->h, pp->w, pp->pt, pp->pl, pp->oh, pp->ow, pp->th, pp->tw, pp->tv);
	cl_kernel k;
	int u_off = 0, P = n * pp->th * pp->tw;
	int rc = clcnn_kernel_get(op->ctx, "winograd", o, "wfused", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(u), KARG(u_off), KARG(out), KARG(bias),
				       KARG(has_bias), KARG(P));
	const size_t items = ((size_t)P + pp->tv - 1) / pp->tv, one = 1;
	return rc ? rc : clcnn_kernel_run(op->ctx, k, 1, &items, &one);
}

static int wf_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct wf_pipe pp = pipe_of(op->ctx, g, CONV_FWD);
	int rc = clcnn_wino_filter_transform(op, io->param[0], g->kh, g->cout, g->cin, 0, g->flip, io->scratch, 0);
	return rc ? rc
		  : run_fused(op, &pp, g->n, io->in[0], io->scratch, io->out, g->bias ? io->param[1] : io->param[0],
			      g->bias);
}

/* dX: the forward kernel over dY padded by r - 1 - padding, filters transposed and rotated. */
static int wf_backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct wf_pipe pp = pipe_of(op->ctx, g, CONV_BWD_DATA);
	int rc = clcnn_wino_filter_transform(op, io->param[0], g->kh, g->cin, g->cout, 1, !g->flip, io->scratch, 0);
	return rc ? rc : run_fused(op, &pp, g->n, io->grad_out, io->scratch, io->grad_in[0], io->scratch, 0);
}

/* dW: winograd's three passes (the sum over tiles is a deep GEMM there: nothing to fuse). */
static int wf_backward_weights(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return clcnn_conv_algo_winograd.backward_weights(op, io);
}

static size_t wf_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	if (dir == CONV_BWD_WEIGHTS)
		return clcnn_conv_algo_winograd.scratch_bytes(ctx, g, nb, dir);
	return 36 * (size_t)g->cin * g->cout * sizeof(float);
}

CONV_ALGO_DEFINE(winograd_fused, .programs = {"winograd", "gemm"}, .applicable = applicable, .forward = wf_forward,
		 .backward_data = wf_backward_data, .backward_weights = wf_backward_weights,
		 .scratch_bytes = wf_scratch);
