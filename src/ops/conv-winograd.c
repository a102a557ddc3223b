/*
 * conv2d "winograd": F(4x4, 3x3) and F(2x2, 5x5) for stride-1, dilation-1 3x3 and 5x5 convolutions
 * without groups (cl/winograd.cl). One pipeline, specialised by the kernel size r and the output tile m
 * = 7 - r, so that both cut the images into 6x6 input tiles (stride m) transformed into 36 points; the
 * filters likewise (once per call); the 36 points are 36 independent GEMMs over the channels, run as one
 * batched device GEMM (clcnn_gemm, batch 36), and each m x m output tile comes back through A^T . A. The
 * GEMMs do 36 multiplies per output channel, input channel and tile of m^2 outputs, against r^2 m^2 for
 * a direct tile: 4x fewer for 3x3 (36 against 144), 2.8x for 5x5 (36 against 100), with transforms that
 * cost O(channels), not O(channels^2), per tile.
 *
 * The input gradient is the same pipeline over the output gradient padded by r - 1 - padding with the
 * filters transposed and rotated. The weight gradient is the transposed bilinear form: with y = A^T
 * [(G g G^T) . (B^T d B)] A, dL/dg = G^T [(A dy A^T) . (B^T d B)] G, so the input tiles transform as in
 * the forward, each m x m output-gradient tile becomes A dy A^T, and the sum over tiles and images is the
 * k of 36 GEMMs [K x P] * [P x C] (accumulated over chunks), followed by one G^T . G per filter.
 *
 * The points are 0, -1, 1, 1/2, -2 and infinity for both (cl/winograd.cl). Accuracy: a transformed
 * point sums L products (input channels forward, output channels for the input gradient, images x tiles
 * for the weight gradient), and the transforms weigh each product by up to sum |A^T| |G| |B^T| per axis:
 * 29.6 for 3x3 where a direct tap has 3 (Lavin's 0, +-1, +-2: 48, and twice the measured error), 42.3
 * for 5x5 where a direct tap has 5. Measured on [-1, 1] data: see WINOGRAD_TOL in conv.c, where the
 * tests' tolerances are argued, and test-conv's winograd accuracy test. The filters are transformed
 * again at every call (36 x K x C floats, small beside the tiles).
 */
#include "ops/conv-winograd.h"
#include "device/gemm.h"
#include "ops/conv-stride1.h"

/*
 * One use of the pipeline: a source of ci channels and its plane, into co channels of an oh x ow plane,
 * with r x r filters and m x m output tiles.
 */
struct pipe {
	int ci, co, h, w, pt, pl, oh, ow, r, m, th, tw, nbmax;
	size_t u, v, mo, end; /* offsets in floats of the filters (or dW's sum), V and M; the scratch used */
};

static struct pipe pipe_of(const struct clcnn_context *ctx, const struct conv_geom *g, enum conv_dir d)
{
	const int r = g->kh, m = 7 - r, e = r - 1; /* e: the taps' reach */
	struct pipe p;
	if (d == CONV_BWD_DATA)
		p = (struct pipe){g->cout, g->cin, g->ho, g->wo, e - g->pt, e - g->pl, g->h, g->w, r, m, .end = 0};
	else
		p = (struct pipe){g->cin, g->cout, g->h, g->w, g->pt, g->pl, g->ho, g->wo, r, m, .end = 0};
	p.th = (p.oh + m - 1) / m;
	p.tw = (p.ow + m - 1) / m;
	const size_t tiles = (size_t)p.th * p.tw;
	/* the one chunk policy (conv.c) over the transformed input and output of an image */
	p.nbmax = clcnn_conv_chunk(ctx, g, 36 * ((size_t)p.ci + p.co) * tiles * sizeof(float), 1, 0);
	p.u = 0;
	p.v = p.u + 36 * (size_t)p.ci * p.co;
	p.mo = p.v + 36 * (size_t)p.ci * tiles * p.nbmax;
	p.end = p.mo + 36 * (size_t)p.co * tiles * p.nbmax;
	return p;
}

/*
 * 3x3 or 5x5, stride 1, dilation 1, one group, padding at most r - 1 (so that the input gradient's is >=
 * 0), and every index of the kernels and the GEMM an int. The kernels are plain work-item code and the
 * GEMM is the device's own, so GPUs (profiles) run it too.
 */
static int applicable(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	if ((g->kh != 3 && g->kh != 5) || g->kw != g->kh || g->dh != 1 || g->dw != 1 || g->groups != 1 ||
	    !clcnn_conv_s1_applies(g))
		return 0;
	const double limit = 2e9;
	return (double)pipe_of(ctx, g, CONV_FWD).end < limit && (double)pipe_of(ctx, g, CONV_BWD_DATA).end < limit &&
	       (double)g->n * g->cin * g->h * g->w < limit && (double)g->n * g->cout * g->ho * g->wo < limit;
}

static int launch(struct clcnn_op *op, const char *opts, const char *name, cl_kernel *k)
{
	return clcnn_kernel_get(op->ctx, "winograd", opts, name, k);
}

/*
 * Tiles per work-item in the tile transforms (TV of cl/winograd.cl): on CPUs up to 8 of a tile row as
 * vector lanes; GPUs one each (consecutive work-items along the tiles are then coalesced).
 */
static int tile_lanes(const struct clcnn_context *ctx, const struct pipe *pp)
{
	return clcnn_is_gpu(ctx) ? 1 : pp->tw >= 8 ? 8 : pp->tw >= 4 ? 4 : pp->tw >= 2 ? 2 : 1;
}

/* Work-items of a tile transform over `planes` channels of nb images: one per tile row (per tile at tv 1). */
static size_t tile_items(const struct pipe *pp, int planes, int nb, int tv)
{
	return (size_t)planes * nb * pp->th * (tv == 1 ? pp->tw : 1);
}

/* V of images n0 .. n0+nb-1 of src into scratch at off: [36][ci][P], or [36][P][ci] when pc. */
static int input_transform(struct clcnn_op *op, const struct pipe *pp, cl_mem src, cl_mem dst, size_t off, int n0,
			   int nb, int pc)
{
	const int tv = tile_lanes(op->ctx, pp);
	char o[224];
	snprintf(o, sizeof o,
		 "-DWINO_IN -DR=%d -DC=%d -DH=%d -DW=%d -DPT=%d -DPL=%d -DTH=%d -DTW=%d -DPC_LAYOUT=%d -DTV=%d", pp->r,
		 pp->ci, pp->h, pp->w, pp->pt, pp->pl, pp->th, pp->tw, pc, tv);
	cl_kernel k;
	int o32 = (int)off, P = nb * pp->th * pp->tw;
	int rc = launch(op, o, "wino_in", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(dst), KARG(o32), KARG(n0), KARG(P));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, tile_items(pp, pp->ci, nb, tv));
}

int clcnn_wino_filter_transform(struct clcnn_op *op, cl_mem w, int r, int ko, int ki, int trans, int rot, cl_mem dst,
				size_t off)
{
	char o[128];
	snprintf(o, sizeof o, "-DWINO_WT -DR=%d -DKO=%d -DKI=%d -DTRANSW=%d -DROT=%d", r, ko, ki, trans, rot);
	cl_kernel k;
	int o32 = (int)off;
	int rc = launch(op, o, "wino_wt", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(w), KARG(dst), KARG(o32));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)ko * ki);
}

static int output_transform(struct clcnn_op *op, const struct pipe *pp, cl_mem m, size_t off, cl_mem y, cl_mem bias,
			    int has_bias, int n0, int nb)
{
	const int tv = tile_lanes(op->ctx, pp);
	char o[160];
	snprintf(o, sizeof o, "-DWINO_OUT -DR=%d -DK=%d -DOH=%d -DOW=%d -DTH=%d -DTW=%d -DTV=%d", pp->r, pp->co, pp->oh,
		 pp->ow, pp->th, pp->tw, tv);
	cl_kernel k;
	int o32 = (int)off, P = nb * pp->th * pp->tw;
	int rc = launch(op, o, "wino_out", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(m), KARG(o32), KARG(y), KARG(bias), KARG(has_bias), KARG(n0),
				       KARG(P));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, tile_items(pp, pp->co, nb, tv));
}

/* The 36 GEMMs of a chunk of P tiles: M [36][co][P] = U [36][co][ci] * V [36][ci][P]. */
static int transformed_gemm(struct clcnn_op *op, const struct pipe *pp, cl_mem s, int P)
{
	return clcnn_gemm(op->ctx, &(struct clcnn_gemm_args){
					   .m = pp->co,
					   .n = P,
					   .k = pp->ci,
					   .batch = 36,
					   .alpha = 1.0f,
					   .a = {s, pp->u, pp->ci, (size_t)pp->co * pp->ci, 0},
					   .b = {s, pp->v, P, (size_t)pp->ci * P, 0},
					   .c = {s, pp->mo, P, (size_t)pp->co * P, 0},
				   });
}

/* src (ci channels) -> out (co channels) with U already at pp->u. */
static int run_pipe(struct clcnn_op *op, const struct pipe *pp, int n, cl_mem src, cl_mem s, cl_mem out, cl_mem bias,
		    int has_bias)
{
	int rc = 0;
	for (int n0 = 0; !rc && n0 < n; n0 += pp->nbmax) {
		const int nb = n - n0 < pp->nbmax ? n - n0 : pp->nbmax;
		rc = input_transform(op, pp, src, s, pp->v, n0, nb, 0);
		if (!rc)
			rc = transformed_gemm(op, pp, s, nb * pp->th * pp->tw);
		if (!rc)
			rc = output_transform(op, pp, s, pp->mo, out, bias, has_bias, n0, nb);
	}
	return rc;
}

static int wino_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct pipe pp = pipe_of(op->ctx, g, CONV_FWD);
	int rc = clcnn_wino_filter_transform(op, io->param[0], pp.r, g->cout, g->cin, 0, g->flip, io->scratch, pp.u);
	return rc ? rc
		  : run_pipe(op, &pp, g->n, io->in[0], io->scratch, io->out, g->bias ? io->param[1] : io->param[0],
			     g->bias);
}

/* dX: the forward pipeline over dY padded by r - 1 - padding, filters transposed and rotated. */
static int wino_backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct pipe pp = pipe_of(op->ctx, g, CONV_BWD_DATA);
	int rc = clcnn_wino_filter_transform(op, io->param[0], pp.r, g->cin, g->cout, 1, !g->flip, io->scratch, pp.u);
	return rc ? rc : run_pipe(op, &pp, g->n, io->grad_out, io->scratch, io->grad_in[0], io->scratch, 0);
}

/* A dY A^T of each m x m tile of the output gradient, [36][cout][P] at off. */
static int grad_out_transform(struct clcnn_op *op, const struct pipe *pp, cl_mem gy, cl_mem dst, size_t off, int n0,
			      int nb)
{
	const int tv = tile_lanes(op->ctx, pp);
	char o[160];
	snprintf(o, sizeof o, "-DWINO_GY -DR=%d -DK=%d -DOH=%d -DOW=%d -DTH=%d -DTW=%d -DTV=%d", pp->r, pp->co, pp->oh,
		 pp->ow, pp->th, pp->tw, tv);
	cl_kernel k;
	int o32 = (int)off, P = nb * pp->th * pp->tw;
	int rc = launch(op, o, "wino_gy", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(gy), KARG(dst), KARG(o32), KARG(n0), KARG(P));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, tile_items(pp, pp->co, nb, tv));
}

/* dW: sum over chunks of [36][cout][cin] += Y^[36][cout][P] * V[36][P][cin], then G^T . G per filter. */
static int wino_backward_weights(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct pipe pp = pipe_of(op->ctx, g, CONV_BWD_WEIGHTS);
	cl_mem s = io->scratch;
	int rc = 0;
	for (int n0 = 0; !rc && n0 < g->n; n0 += pp.nbmax) {
		const int nb = g->n - n0 < pp.nbmax ? g->n - n0 : pp.nbmax, P = nb * pp.th * pp.tw;
		rc = input_transform(op, &pp, io->in[0], s, pp.v, n0, nb, 1);
		if (!rc)
			rc = grad_out_transform(op, &pp, io->grad_out, s, pp.mo, n0, nb);
		if (!rc)
			rc = clcnn_gemm(op->ctx, &(struct clcnn_gemm_args){
							 .m = g->cout,
							 .n = g->cin,
							 .k = P,
							 .batch = 36,
							 .alpha = 1.0f,
							 .beta = n0 ? 1.0f : 0.0f,
							 .a = {s, pp.mo, P, (size_t)g->cout * P, 0},
							 .b = {s, pp.v, g->cin, (size_t)P * g->cin, 0},
							 .c = {s, pp.u, g->cin, (size_t)g->cout * g->cin, 0},
						 });
	}
	if (rc)
		return rc;
	char o[96];
	snprintf(o, sizeof o, "-DWINO_DW -DR=%d -DK=%d -DC=%d -DFLIP=%d", pp.r, g->cout, g->cin, g->flip);
	cl_kernel k;
	int o32 = (int)pp.u;
	rc = launch(op, o, "wino_dw", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(s), KARG(o32), KARG(io->grad_param[0]));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)g->cout * g->cin);
}

static size_t wino_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	(void)nb; /* chunks of its own */
	return pipe_of(ctx, g, dir).end * sizeof(float);
}

CONV_ALGO_DEFINE(winograd, .programs = {"winograd", "gemm"}, .applicable = applicable, .forward = wino_forward,
		 .backward_data = wino_backward_data, .backward_weights = wino_backward_weights,
		 .scratch_bytes = wino_scratch);
