/*
 * conv2d device algorithms direct, im2col, gemm1x1 and depthwise (cl/conv.cl + the GEMM of
 * src/device/gemm.h), and the bias gradient all algorithms share. Each one enqueues only: no host
 * sync, no allocation; workspace comes from io->scratch as sized by scratch_bytes(). Every reduction
 * runs in a fixed order (no atomics), so results are reproducible on every device.
 */
#include <string.h>

#include "device/gemm.h"
#include "ops/conv-private.h"

static int kernel(struct clcnn_op *op, const char *name, cl_kernel *k)
{
	const struct conv_priv *p = op->priv;
	return clcnn_kernel_get(op->ctx, "conv", p->opts, name, k);
}

static int is_gpu(const struct clcnn_context *ctx)
{
	return clcnn_is_gpu(ctx);
}

/*
 * GPU programs (GPU=1 in cl/conv.cl) take one value per work-item over a flat 1-D grid: groups of 64
 * (two warps, one wavefront; fewer only where the kernel's registers demand), and no grid dimension
 * near a group limit however large the batch.
 */
static int run_flat(struct clcnn_op *op, cl_kernel k, size_t n)
{
	const size_t local = 0; /* picked: 64 within the kernel's and the device's limits */
	return clcnn_kernel_run(op->ctx, k, 1, &n, &local);
}

/*
 * A 3-D launch over (x, y, z) with a fixed local size (POCL builds one work-group function per size);
 * on GPUs the same grid flattened (GRID3 in cl/conv.cl).
 */
static int run3(struct clcnn_op *op, cl_kernel k, size_t x, size_t y, size_t z)
{
	if (is_gpu(op->ctx))
		return run_flat(op, k, x * y * z);
	const size_t global[3] = {x, y, z}, local[3] = {16, 1, 1};
	return clcnn_kernel_run(op->ctx, k, 3, global, local);
}

/*
 * CPU: n work-items that each loop over a plane or row (per values each); small groups keep both
 * cores busy on small batches. GPU: one work-item per value (n * per).
 */
static int run_planes(struct clcnn_op *op, cl_kernel k, size_t n, size_t per)
{
	if (is_gpu(op->ctx))
		return run_flat(op, k, n * per);
	const size_t local = 8;
	return clcnn_kernel_run(op->ctx, k, 1, &n, &local);
}

static size_t plane(const struct conv_geom *g)
{
	return (size_t)g->ho * (size_t)g->wo;
}

static size_t weight_count(const struct conv_geom *g)
{
	return (size_t)g->cout * (size_t)g->cgi * (size_t)g->kh * (size_t)g->kw;
}

/* Pre-fill y with the bias so that a GEMM can accumulate into it (beta = 1); returns the beta to use. */
static int bias_fill(struct clcnn_op *op, const struct clcnn_dev_io *io, float *beta)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	*beta = 0.0f;
	if (!g->bias)
		return 0;
	cl_kernel k;
	int N = g->n;
	int rc = kernel(op, "conv_bias_fill", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->out), KARG(io->param[1]), KARG(N));
	if (!rc)
		rc = run_planes(op, k, (size_t)N * (size_t)g->cout, plane(g));
	*beta = 1.0f;
	return rc;
}

/* out[i] = sum over n of part[off + n * count + i], n in order. */
static int sum_batch(struct clcnn_op *op, cl_mem part, int off, cl_mem out, int count, int nbatch)
{
	cl_kernel k;
	int rc = kernel(op, "conv_sum_batch", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(part), KARG(off), KARG(out), KARG(count), KARG(nbatch));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)count);
}

size_t clcnn_conv_bias_scratch(const struct conv_geom *g)
{
	return g->bias ? (size_t)g->n * (size_t)g->cout * sizeof(float) : 0;
}

/* GPU: one work-group of up to 64 items per plane, partial sums in __local (conv_bias_partial). */
static int bias_partial_gpu(struct clcnn_op *op, cl_kernel k, const struct clcnn_dev_io *io, size_t planes)
{
	int N = ((const struct conv_priv *)op->priv)->g.n, off = 0;
	size_t wg = clcnn_kernel_max_wg(op->ctx, k);
	wg = wg < 64 ? wg : 64;
	int rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->scratch), KARG(off), KARG(N),
				   KARG_LOCAL(wg * sizeof(float)));
	const size_t global = planes * wg;
	return rc ? rc : clcnn_kernel_run(op->ctx, k, 1, &global, &wg);
}

int clcnn_conv_bias_grad(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int N = g->n, off = 0;
	const size_t planes = (size_t)N * (size_t)g->cout;
	int rc = kernel(op, "conv_bias_partial", &k);
	if (!rc && is_gpu(op->ctx)) {
		rc = bias_partial_gpu(op, k, io, planes);
	} else if (!rc) {
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->scratch), KARG(off), KARG(N));
		if (!rc)
			rc = run_planes(op, k, planes, 1);
	}
	return rc ? rc : sum_batch(op, io->scratch, 0, io->grad_param[1], g->cout, N);
}

/* ------------------------------------------------------------------ direct */

static int any_config(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	(void)ctx;
	(void)g;
	return 1;
}

static int direct_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int N = g->n, has_bias = g->bias;
	cl_mem b = g->bias ? io->param[1] : io->param[0]; /* any valid buffer when unused */
	int rc = kernel(op, "conv_direct_fwd", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->param[0]), KARG(b), KARG(io->out), KARG(N),
				       KARG(has_bias));
	return rc ? rc : run3(op, k, (size_t)g->wo, (size_t)g->ho, (size_t)g->n * (size_t)g->cout);
}

static int direct_backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int N = g->n;
	int rc = kernel(op, "conv_direct_bwd_data", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->param[0]), KARG(io->grad_in[0]),
				       KARG(N));
	return rc ? rc : run3(op, k, (size_t)g->w, (size_t)g->h, (size_t)g->n * (size_t)g->cin);
}

/* Per-image partial sums into scratch, then the fixed-order sum over the batch. */
static int direct_backward_weights(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int N = g->n;
	int rc = kernel(op, "conv_direct_bwd_weights", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->in[0]), KARG(io->scratch), KARG(N));
	if (!rc)
		rc = run3(op, k, (size_t)(g->kh * g->kw), (size_t)g->cgi, (size_t)g->n * (size_t)g->cout);
	return rc ? rc : sum_batch(op, io->scratch, 0, io->grad_param[0], (int)weight_count(g), g->n);
}

static size_t direct_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	(void)ctx;
	(void)nb;
	return dir == CONV_BWD_WEIGHTS ? (size_t)g->n * weight_count(g) * sizeof(float) : 0;
}

/* ------------------------------------------------------------------ im2col + GEMM */

/* Images n0 .. n0+nb-1 of an N x C x plane tensor into channel-major [C][nb*plane] at dst + dst_off. */
static int to_cn(struct clcnn_op *op, cl_mem src, cl_mem dst, int dst_off, int C, int n0, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int rc = kernel(op, "conv_to_cn", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(dst), KARG(dst_off), KARG(C), KARG(n0), KARG(nb));
	return rc ? rc : run_planes(op, k, (size_t)C * (size_t)nb, plane(g));
}

static int im2col(struct clcnn_op *op, cl_mem x, cl_mem col, int n0, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int off = 0;
	int rc = kernel(op, "conv_im2col", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(x), KARG(col), KARG(off), KARG(n0), KARG(nb));
	return rc ? rc : run_planes(op, k, (size_t)nb * (size_t)g->cin * (size_t)(g->kh * g->kw), plane(g));
}

static int col2im(struct clcnn_op *op, cl_mem col, cl_mem gx, int n0, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int off = 0;
	int rc = kernel(op, "conv_col2im", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(col), KARG(off), KARG(gx), KARG(n0), KARG(nb));
	return rc ? rc : run_planes(op, k, (size_t)nb * (size_t)g->cin, (size_t)g->h * (size_t)g->w);
}

/* Channel-major [CO][nb*plane] at scratch + src_off back into y's images n0.., adding the bias. */
static int from_cn(struct clcnn_op *op, const struct clcnn_dev_io *io, int src_off, int n0, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int has_bias = g->bias;
	cl_mem b = g->bias ? io->param[1] : io->param[0]; /* any valid buffer when unused */
	int rc = kernel(op, "conv_from_cn", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(src_off), KARG(io->out), KARG(b),
				       KARG(has_bias), KARG(n0), KARG(nb));
	return rc ? rc : run_planes(op, k, (size_t)nb * (size_t)g->cout, plane(g));
}

/* Batched transpose of R x C matrices (offsets and batch strides in floats): 8x8 tiles, one element on GPUs. */
static int transpose(struct clcnn_op *op, cl_mem src, int src_off, int src_stride, cl_mem dst, int dst_off,
		     int dst_stride, int R, int C, int batch)
{
	cl_kernel k;
	int rc = kernel(op, "conv_transpose", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(src_off), KARG(src_stride), KARG(dst), KARG(dst_off),
				       KARG(dst_stride), KARG(R), KARG(C), KARG(batch));
	if (rc)
		return rc;
	return is_gpu(op->ctx) ? run_flat(op, k, (size_t)C * (size_t)R * (size_t)batch)
			       : run3(op, k, (size_t)(C + 7) / 8, (size_t)(R + 7) / 8, (size_t)batch);
}

/*
 * Whether the weight gradient goes as dW^T = col * gy (pixel-major): a plain product with a long k,
 * which the outer-product GEMM runs faster than gy^T * col^T without a workspace on POCL
 * (288x64x1764: 0.26 vs 0.46 ms; 9x32x50176: 0.19 vs 0.32 ms), worth its two small transposes.
 * Its output columns are the group's output channels, so it needs enough of them to fill the GEMM's
 * 64-wide column panels.
 */
static int weights_transposed(const struct conv_geom *g)
{
	return g->cgo >= 32;
}

/*
 * The batch goes in chunks of p->nb images so that the workspace stays near the caches. Scratch holds
 * col [CI*KH*KW][nb*P] at 0 and a channel-major [CO][nb*P] block after it: one GEMM per group spans
 * the whole chunk (a long n or k keeps the GEMM efficient where per-image products are small).
 */
static int im2col_forward_with(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct clcnn_gemm_config *cfg)
{
	const struct conv_priv *p = op->priv;
	const struct conv_geom *g = &p->g;
	const int P = (int)plane(g), kg = g->cgi * g->kh * g->kw;
	/* the GEMM's own workspace after col and the output block of a whole chunk */
	struct clcnn_gemm_workspace ws = {io->scratch, op->scratch_bytes,
					  ((size_t)g->cin * g->kh * g->kw + (size_t)g->cout) * (size_t)p->nb * P, 1};
	int rc = 0;
	for (int n0 = 0; !rc && n0 < g->n; n0 += p->nb) {
		const int nb = g->n - n0 < p->nb ? g->n - n0 : p->nb, ld = nb * P;
		const int yt = g->cin * g->kh * g->kw * ld;
		rc = im2col(op, io->in[0], io->scratch, n0, nb);
		/* y^T_group [cgo x ld] = W_group [cgo x kg] * col_group [kg x ld] */
		for (int grp = 0; !rc && grp < g->groups; grp++)
			rc = clcnn_gemm_with(op->ctx, cfg, &ws,
					     &(struct clcnn_gemm_args){.m = g->cgo,
								       .n = ld,
								       .k = kg,
								       .alpha = 1.0f,
								       .a = {io->param[0], (size_t)grp * g->cgo * kg,
									     kg},
								       .b = {io->scratch, (size_t)grp * kg * ld, ld},
								       .c = {io->scratch,
									     (size_t)yt + (size_t)grp * g->cgo * ld,
									     ld}});
		if (!rc)
			rc = from_cn(op, io, yt, n0, nb);
	}
	return rc;
}

/*
 * Scratch of the backward passes, per chunk of nb images (ld = nb*P columns):
 *   col [CI*KH*KW][ld] | gy^T channel-major [CO][ld] | gy pixel-major [ld][CO] | dW^T [CI*KH*KW/groups][CO]
 * The weight gradient accumulates over chunks in order (beta = 1 after the first), as gy^T * col^T or,
 * when weights_transposed(), as dW^T = col * gy followed by one transpose; the data gradient is
 * W^T * gy^T into the col area, then col2im.
 */
static size_t bwd_offsets(const struct conv_geom *g, int nb, size_t *gt, size_t *gp, size_t *wt)
{
	size_t ld = (size_t)nb * plane(g), ktot = (size_t)g->cin * g->kh * g->kw;
	*gt = ktot * ld;
	*gp = *gt + (size_t)g->cout * ld;
	*wt = *gp + (weights_transposed(g) ? (size_t)g->cout * ld : 0);
	return *wt + (weights_transposed(g) ? (size_t)g->cout * g->cgi * g->kh * g->kw : 0);
}

static int im2col_backward_with(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights,
				const struct clcnn_gemm_config *cfg)
{
	const struct conv_priv *p = op->priv;
	const struct conv_geom *g = &p->g;
	const int P = (int)plane(g), kg = g->cgi * g->kh * g->kw, tr = want_weights && weights_transposed(g);
	size_t gt, gp, wt;
	/* dW^T stays put while the chunks accumulate into it; the GEMM's own workspace after it */
	struct clcnn_gemm_workspace ws = {io->scratch, op->scratch_bytes, bwd_offsets(g, p->nb, &gt, &gp, &wt), 1};
	int rc = 0;
	for (int n0 = 0; !rc && n0 < g->n; n0 += p->nb) {
		const int nb = g->n - n0 < p->nb ? g->n - n0 : p->nb, ld = nb * P;
		size_t unused;
		bwd_offsets(g, nb, &gt, &gp, &unused); /* a short last chunk packs its parts tighter */
		if (want_data || !tr)
			rc = to_cn(op, io->grad_out, io->scratch, (int)gt, g->cout, n0, nb);
		if (!rc && want_weights)
			rc = im2col(op, io->in[0], io->scratch, n0, nb);
		if (!rc && tr) {
			/* gy_j [CO x P] -> [P x CO] per image: together the pixel-major [ld x CO] */
			rc = transpose(op, io->grad_out, n0 * g->cout * P, g->cout * P, io->scratch, (int)gp,
				       g->cout * P, g->cout, P, nb);
			/* dW^T_group [kg x cgo] (+)= col_group [kg x ld] * gy_group [ld x cgo] */
			for (int grp = 0; !rc && grp < g->groups; grp++)
				rc = clcnn_gemm_with(op->ctx, cfg, &ws,
						     &(struct clcnn_gemm_args){.m = kg,
									       .n = g->cgo,
									       .k = ld,
									       .alpha = 1.0f,
									       .beta = n0 ? 1.0f : 0.0f,
									       .a = {io->scratch, (size_t)grp * kg * ld,
										     ld},
									       .b = {io->scratch,
										     gp + (size_t)grp * g->cgo,
										     g->cout},
									       .c = {io->scratch,
										     wt + (size_t)grp * kg * g->cgo,
										     g->cgo}});
		} else if (!rc && want_weights) {
			/* dW_group [cgo x kg] (+)= gy^T_group [cgo x ld] * col_group^T [ld x kg] */
			for (int grp = 0; !rc && grp < g->groups; grp++)
				rc = clcnn_gemm_with(op->ctx, cfg, NULL,
						     &(struct clcnn_gemm_args){.m = g->cgo,
									       .n = kg,
									       .k = ld,
									       .alpha = 1.0f,
									       .beta = n0 ? 1.0f : 0.0f,
									       .a = {io->scratch,
										     gt + (size_t)grp * g->cgo * ld,
										     ld},
									       .b = {io->scratch, (size_t)grp * kg * ld,
										     ld, 0, 1},
									       .c = {io->grad_param[0],
										     (size_t)grp * g->cgo * kg, kg}});
		}
		if (!rc && want_data) {
			/* dcol_group [kg x ld] = W_group^T [kg x cgo] * gy^T_group [cgo x ld], then gather */
			for (int grp = 0; !rc && grp < g->groups; grp++)
				rc = clcnn_gemm_with(op->ctx, cfg, &ws,
						     &(struct clcnn_gemm_args){.m = kg,
									       .n = ld,
									       .k = g->cgo,
									       .alpha = 1.0f,
									       .a = {io->param[0],
										     (size_t)grp * g->cgo * kg, kg, 0,
										     1},
									       .b = {io->scratch,
										     gt + (size_t)grp * g->cgo * ld,
										     ld},
									       .c = {io->scratch, (size_t)grp * kg * ld,
										     ld}});
			if (!rc)
				rc = col2im(op, io->scratch, io->grad_in[0], n0, nb);
		}
	}
	if (!rc && tr) /* dW^T_group [kg x cgo] -> dW_group [cgo x kg] */
		rc = transpose(op, io->scratch, (int)wt, kg * g->cgo, io->grad_param[0], 0, kg * g->cgo, kg, g->cgo,
			       g->groups);
	return rc;
}

static int im2col_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return im2col_forward_with(op, io, NULL);
}

static int im2col_backward_both(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights)
{
	return im2col_backward_with(op, io, want_data, want_weights, NULL);
}
CONV_BACKWARD_FROM(im2col, im2col_backward_both)

/* im2col_clblast: the same with CLBlast's SGEMM, on GPUs (CLBlast runs at ~3 % of peak on POCL). */
static const struct clcnn_gemm_config clblast = {.algo = CLCNN_GEMM_CLBLAST};

static int im2col_clblast_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return im2col_forward_with(op, io, &clblast);
}

static int im2col_clblast_both(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights)
{
	return im2col_backward_with(op, io, want_data, want_weights, &clblast);
}
CONV_BACKWARD_FROM(im2col_clblast, im2col_clblast_both)

static int has_clblast(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	(void)g;
	return clcnn_gemm_algo_available(CLCNN_GEMM_CLBLAST) && (!ctx || is_gpu(ctx));
}

/* The parts above, then the workspace of the GEMMs that take one (the NN and TN products; the
 * A * B^T of the weight gradient without weights_transposed() runs the kernel that needs none). */
static size_t im2col_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	size_t gt, gp, wt;
	const int ld = nb * (int)plane(g), kg = g->cgi * g->kh * g->kw;
	if (dir == CONV_FWD)
		return ((size_t)g->cin * g->kh * g->kw + (size_t)g->cout) * (size_t)ld * sizeof(float) +
		       clcnn_gemm_workspace_bytes(ctx, NULL, 0, 0, g->cgo, ld, kg, 1);
	size_t ws = clcnn_gemm_workspace_bytes(ctx, NULL, 1, 0, kg, ld, g->cgo, 1);
	if (weights_transposed(g)) {
		size_t w = clcnn_gemm_workspace_bytes(ctx, NULL, 0, 0, kg, g->cgo, ld, 1);
		ws = w > ws ? w : ws;
	}
	return bwd_offsets(g, nb, &gt, &gp, &wt) * sizeof(float) + ws;
}

/* ------------------------------------------------------------------ 1x1: the input already is the col matrix */

static int is_1x1(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	(void)ctx;
	return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && !g->pt && !g->pb && !g->pl && !g->pr;
}

static int gemm1x1_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const int P = (int)plane(g);
	float beta;
	int rc = bias_fill(op, io, &beta);
	/* y_n[group] [cgo x P] = W_group [cgo x cgi] * x_n[group] [cgi x P], batched over n */
	for (int grp = 0; !rc && grp < g->groups; grp++)
		rc = clcnn_gemm(op->ctx,
				&(struct clcnn_gemm_args){.m = g->cgo,
							  .n = P,
							  .k = g->cgi,
							  .batch = g->n,
							  .alpha = 1.0f,
							  .beta = beta,
							  .a = {io->param[0], (size_t)grp * g->cgo * g->cgi, g->cgi},
							  .b = {io->in[0], (size_t)grp * g->cgi * P, P,
								(size_t)g->cin * P},
							  .c = {io->out, (size_t)grp * g->cgo * P, P,
								(size_t)g->cout * P}});
	return rc;
}

static int gemm1x1_backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const int P = (int)plane(g);
	int rc = 0;
	for (int grp = 0; !rc && grp < g->groups; grp++)
		rc = clcnn_gemm(op->ctx, &(struct clcnn_gemm_args){.m = g->cgi,
								   .n = P,
								   .k = g->cgo,
								   .batch = g->n,
								   .alpha = 1.0f,
								   .a = {io->param[0], (size_t)grp * g->cgo * g->cgi,
									 g->cgi, 0, 1},
								   .b = {io->grad_out, (size_t)grp * g->cgo * P, P,
									 (size_t)g->cout * P},
								   .c = {io->grad_in[0], (size_t)grp * g->cgi * P, P,
									 (size_t)g->cin * P}});
	return rc;
}

/* dW_group = sum over n in order of gy_n[group] * x_n[group]^T; batched over groups. */
static int gemm1x1_backward_weights(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const int P = (int)plane(g);
	int rc = 0;
	for (int n = 0; !rc && n < g->n; n++)
		rc = clcnn_gemm(op->ctx, &(struct clcnn_gemm_args){.m = g->cgo,
								   .n = g->cgi,
								   .k = P,
								   .batch = g->groups,
								   .alpha = 1.0f,
								   .beta = n ? 1.0f : 0.0f,
								   .a = {io->grad_out, (size_t)n * g->cout * P, P,
									 (size_t)g->cgo * P},
								   .b = {io->in[0], (size_t)n * g->cin * P, P,
									 (size_t)g->cgi * P, 1},
								   .c = {io->grad_param[0], 0, g->cgi,
									 (size_t)g->cgo * g->cgi}});
	return rc;
}

static size_t no_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	(void)ctx;
	(void)g;
	(void)nb;
	(void)dir;
	return 0;
}

/* ------------------------------------------------------------------ depthwise */

static int is_depthwise(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	(void)ctx;
	return g->groups == g->cin && g->cgi == 1;
}

/* Row kernels: (src, w, [b,] dst, N [, has_bias]) over one row per work-item. */
static int depthwise_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int N = g->n, has_bias = g->bias;
	cl_mem b = g->bias ? io->param[1] : io->param[0]; /* any valid buffer when unused */
	int rc = kernel(op, "conv_dw_fwd", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->param[0]), KARG(b), KARG(io->out), KARG(N),
				       KARG(has_bias));
	return rc ? rc : run_planes(op, k, (size_t)N * (size_t)g->cout * (size_t)g->ho, (size_t)g->wo);
}

static int depthwise_backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int N = g->n;
	int rc = kernel(op, "conv_dw_bwd_data", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->param[0]), KARG(io->grad_in[0]),
				       KARG(N));
	return rc ? rc : run_planes(op, k, (size_t)N * (size_t)g->cin * (size_t)g->h, (size_t)g->w);
}

/* Per-image partial sums into scratch, then the fixed-order sum over the batch. */
static int depthwise_backward_weights(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	cl_kernel k;
	int N = g->n;
	int rc = kernel(op, "conv_dw_bwd_weights", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->in[0]), KARG(io->scratch), KARG(N));
	if (!rc)
		rc = run_planes(op, k, (size_t)N * (size_t)g->cout * (size_t)(g->kh * g->kw), 1);
	return rc ? rc : sum_batch(op, io->scratch, 0, io->grad_param[0], (int)weight_count(g), g->n);
}

/* ------------------------------------------------------------------ the algorithms */

CONV_ALGO_DEFINE(direct, .programs = {"conv"}, .applicable = any_config, .forward = direct_forward,
		 .backward_data = direct_backward_data, .backward_weights = direct_backward_weights,
		 .scratch_bytes = direct_scratch);
CONV_ALGO_DEFINE(im2col, .programs = {"conv", "gemm"}, .applicable = any_config, .forward = im2col_forward,
		 .backward_data = im2col_backward_data, .backward_weights = im2col_backward_weights,
		 .backward = im2col_backward, .scratch_bytes = im2col_scratch);
CONV_ALGO_DEFINE(im2col_clblast, .programs = {"conv"}, .applicable = has_clblast, .forward = im2col_clblast_forward,
		 .backward_data = im2col_clblast_backward_data, .backward_weights = im2col_clblast_backward_weights,
		 .backward = im2col_clblast_backward, .scratch_bytes = im2col_scratch);
CONV_ALGO_DEFINE(gemm1x1, .programs = {"gemm"}, .applicable = is_1x1, .forward = gemm1x1_forward,
		 .backward_data = gemm1x1_backward_data, .backward_weights = gemm1x1_backward_weights,
		 .scratch_bytes = no_scratch);
CONV_ALGO_DEFINE(depthwise, .programs = {"conv"}, .applicable = is_depthwise, .forward = depthwise_forward,
		 .backward_data = depthwise_backward_data, .backward_weights = depthwise_backward_weights,
		 .scratch_bytes = direct_scratch);
