/*
 * conv2d "lanes": convolution with the batch in the vector lanes (cl/convgemm.cl, LANES_*).
 * A chunk of images is copied into [lane group][channel][padded row][padded column][VW images], so the
 * tap of an output pixel is one aligned vector for VW images at once and the GEMM computes nothing but
 * outputs (implicit's padded rows compute and drop 7 % of its columns at 28x28, 15 % at 14x14); the
 * results come back from [group][channel][pixel][VW] to NCHW in one more pass. The input gradient is the
 * same kernel over the padded output gradient with the weights transposed and rotated (as implicit);
 * the weight gradient sums over pixels and lanes per lane group, then over the groups in order.
 *
 * Strides above 1 change only where a pixel's taps start (the tap is still one vector of VW images), so
 * the forward and the weight gradient take them as they are (SY, SX); the input gradient of a strided
 * convolution is im2col's (a transposed convolution, whose stride-1 form here would multiply the zeros
 * between the output gradient's pixels).
 */
#include "ops/conv-stride1.h"

/* A padded side as lanes lays it out: every image keeps its own zero border, hp x wp. */
struct side {
	int c, sh, sw, pt, pl, hp, wp;
};

static struct side side_of(struct conv_s1_side s)
{
	return (struct side){s.c, s.sh, s.sw, s.pt, s.pl, s.sh + s.pt + s.pb, s.sw + s.pl + s.pr};
}

static struct side in_side(const struct conv_geom *g)
{
	return side_of(clcnn_conv_s1_input(g));
}

static int strided(const struct conv_geom *g)
{
	return g->sh > 1 || g->sw > 1;
}

/* The output gradient: padded for the input gradient at stride 1; as it is (the weight gradient's) else. */
static struct side gy_side(const struct conv_geom *g)
{
	if (strided(g))
		return side_of((struct conv_s1_side){g->cout, g->ho, g->wo, 0, 0, 0, 0});
	return side_of(clcnn_conv_s1_grad_out(g));
}

/* The lane group is the vector width; the GEMM's tile is the narrow one (see implicit48). */
static struct conv_s1_tile tile(const struct clcnn_context *ctx)
{
	return clcnn_conv_s1_tile(ctx, 1);
}

/*
 * CPUs only: a CPU register tile (7 x 3 vectors of the batch's lanes), too big for a GPU's registers.
 * Padding at most the taps' reach (the stride-1 input gradient's is then >= 0); strided where im2col
 * (its input gradient) applies.
 */
static int applicable(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	struct conv_geom s1 = *g;
	s1.sh = s1.sw = 1;
	if ((ctx && clcnn_is_gpu(ctx)) || !clcnn_conv_s1_applies(&s1) ||
	    (strided(g) && !clcnn_conv_algo_im2col.applicable(ctx, g)))
		return 0;
	/* every index the kernels form stays an int, for a chunk of up to 64 images */
	struct side a = in_side(g), b = gy_side(g);
	double most = (double)a.c * a.hp * a.wp;
	most = most > (double)b.c * b.hp * b.wp ? most : (double)b.c * b.hp * b.wp;
	return most * 64 < 2e9;
}

/* Floats of one image in each part of the scratch. */
struct parts {
	int nbmax, groups_max;
	size_t xb, gyb, out, wt, part, end; /* offsets (backward; forward uses xb and out) */
};

static struct parts parts_of(const struct clcnn_context *ctx, const struct conv_geom *g, int backward)
{
	const struct conv_s1_tile t = tile(ctx);
	struct side a = in_side(g), b = gy_side(g);
	size_t per_x = (size_t)a.c * a.hp * a.wp, per_gy = backward ? (size_t)b.c * b.hp * b.wp : 0;
	size_t per_out = backward ? (size_t)g->cin * g->h * g->w : (size_t)g->cout * g->ho * g->wo;
	struct parts p;
	/* the one chunk policy (conv.c), over the copies in and out, in whole lane groups */
	p.nbmax = clcnn_conv_chunk(ctx, g, (per_x + per_gy + per_out) * sizeof(float), t.vw, 0);
	p.groups_max = (p.nbmax + t.vw - 1) / t.vw;
	size_t lanes = (size_t)p.groups_max * t.vw, wc = (size_t)g->cout * g->cgi * g->kh * g->kw;
	p.xb = 0;
	p.gyb = lanes * per_x;
	p.out = p.gyb + lanes * per_gy;
	p.wt = p.out + lanes * per_out;
	p.part = p.wt + (backward ? wc : 0);
	p.end = p.part + (backward ? (size_t)p.groups_max * wc : 0);
	return p;
}

static int copy_in(struct clcnn_op *op, const struct side *s, cl_mem src, cl_mem dst, size_t off, int n0, int nb)
{
	const struct conv_s1_tile t = tile(op->ctx);
	char o[192];
	snprintf(o, sizeof o, "-DLANES_IN -DVW=%d -DC=%d -DSH=%d -DSW=%d -DHP=%d -DWP=%d -DPT=%d -DPL=%d", t.vw, s->c,
		 s->sh, s->sw, s->hp, s->wp, s->pt, s->pl);
	cl_kernel k;
	int o32 = (int)off;
	int rc = clcnn_conv_s1_kernel(op, o, "lanes_in", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(dst), KARG(o32), KARG(n0), KARG(nb));
	if (rc)
		return rc;
	const size_t global[3] = {(size_t)s->hp, (size_t)s->c, (size_t)(nb + t.vw - 1) / t.vw}, local[3] = {1, 8, 1};
	return clcnn_kernel_run(op->ctx, k, 3, global, local);
}

static int copy_out(struct clcnn_op *op, int c, int op_, cl_mem src, size_t off, cl_mem y, cl_mem bias, int has_bias,
		    int n0, int nb)
{
	const struct conv_s1_tile t = tile(op->ctx);
	char o[128];
	snprintf(o, sizeof o, "-DLANES_OUT -DVW=%d -DCOUT=%d -DOH=%d -DOW=1", t.vw, c, op_);
	cl_kernel k;
	int o32 = (int)off;
	int rc = clcnn_conv_s1_kernel(op, o, "lanes_out", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(o32), KARG(y), KARG(bias), KARG(has_bias), KARG(n0),
				       KARG(nb));
	if (rc)
		return rc;
	const size_t global[2] = {(size_t)c, (size_t)(nb + t.vw - 1) / t.vw}, local[2] = {8, 1};
	return clcnn_kernel_run(op->ctx, k, 2, global, local);
}

/* The GEMM: out [groups of lanes][cgo*groups][oh*ow][VW] from the padded copy s (strides sy, sx) and weights w. */
static int gemm(struct clcnn_op *op, const struct side *s, int sy, int sx, int cgi, int cgo, int oh, int ow, cl_mem xb,
		size_t xb_off, cl_mem w, size_t w_off, cl_mem out, size_t out_off, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_s1_tile t = tile(op->ctx);
	char o[400];
	snprintf(o, sizeof o,
		 "-DLANES_FWD -DVW=%d -DTM=%d -DTNV=%d -DHW_FMA=%d -DKH=%d -DKW=%d -DDH=%d -DDW=%d -DFLIP=%d -DCGI=%d "
		 "-DCGO=%d -DCIN=%d -DCOUT=%d -DOH=%d -DOW=%d -DHP=%d -DWP=%d -DSY=%d -DSX=%d",
		 t.vw, t.tm, t.tnv, t.hw_fma, g->kh, g->kw, g->dh, g->dw, g->flip, cgi, cgo, cgi * g->groups,
		 cgo * g->groups, oh, ow, s->hp, s->wp, sy, sx);
	cl_kernel k;
	int xo = (int)xb_off, wo = (int)w_off, oo = (int)out_off, groups = g->groups;
	int rc = clcnn_conv_s1_kernel(op, o, "lanes_fwd", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(xb), KARG(xo), KARG(w), KARG(wo), KARG(out), KARG(oo),
				       KARG(groups));
	if (rc)
		return rc;
	const size_t global[3] = {(size_t)(cgo + t.tm - 1) / t.tm, ((size_t)oh * ow + t.tnv - 1) / t.tnv,
				  (size_t)((nb + t.vw - 1) / t.vw) * g->groups};
	const size_t local[3] = {8, 1, 1};
	return clcnn_kernel_run(op->ctx, k, 3, global, local);
}

static int lanes_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct side a = in_side(g);
	const struct parts p = parts_of(op->ctx, g, 0);
	cl_mem bias = g->bias ? io->param[1] : io->param[0];
	int rc = 0;
	for (int n0 = 0; !rc && n0 < g->n; n0 += p.nbmax) {
		int nb = g->n - n0 < p.nbmax ? g->n - n0 : p.nbmax;
		rc = copy_in(op, &a, io->in[0], io->scratch, p.xb, n0, nb);
		if (!rc)
			rc = gemm(op, &a, g->sh, g->sw, g->cgi, g->cgo, g->ho, g->wo, io->scratch, p.xb, io->param[0], 0,
				  io->scratch, p.out, nb);
		if (!rc)
			rc = copy_out(op, g->cout, g->ho * g->wo, io->scratch, p.out, io->out, bias, g->bias, n0, nb);
	}
	return rc;
}

static int weights_chunk(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct parts *p, int nb,
			 int accumulate)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_s1_tile t = tile(op->ctx);
	const struct side a = in_side(g), b = gy_side(g);
	const int tmw = t.vw == 16 ? 3 : 2, ngroups = (nb + t.vw - 1) / t.vw;
	char o[400];
	snprintf(o, sizeof o,
		 "-DLANES_BWD_W -DVW=%d -DTMW=%d -DHW_FMA=%d -DKH=%d -DKW=%d -DDH=%d -DDW=%d -DFLIP=%d -DCGI=%d "
		 "-DCGO=%d -DCIN=%d -DCOUT=%d -DOH=%d -DOW=%d -DHP=%d -DWP=%d -DGHP=%d -DGWP=%d -DGPT=%d -DGPL=%d "
		 "-DSY=%d -DSX=%d",
		 t.vw, tmw, t.hw_fma, g->kh, g->kw, g->dh, g->dw, g->flip, g->cgi, g->cgo, g->cin, g->cout, g->ho,
		 g->wo, a.hp, a.wp, b.hp, b.wp, b.pt, b.pl, g->sh, g->sw);
	cl_kernel k;
	int gyo = (int)p->gyb, xo = (int)p->xb, po = (int)p->part, groups = g->groups;
	int rc = clcnn_conv_s1_kernel(op, o, "lanes_bwd_w", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(gyo), KARG(io->scratch), KARG(xo),
				       KARG(io->scratch), KARG(po), KARG(groups));
	if (!rc) {
		const size_t global[3] = {(size_t)(g->cgo + tmw - 1) / tmw, (size_t)g->cgi,
					  (size_t)ngroups * g->groups};
		const size_t local[3] = {1, 1, 1};
		rc = clcnn_kernel_run(op->ctx, k, 3, global, local);
	}
	return rc ? rc : clcnn_conv_s1_sum_parts(op, io->scratch, p->part, ngroups, io->grad_param[0], accumulate);
}

static int lanes_backward_both(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct side a = in_side(g), b = gy_side(g);
	const struct parts p = parts_of(op->ctx, g, 1);
	if (strided(g) && want_data) { /* im2col's input gradient, after the weights (it reuses the scratch) */
		int rc = want_weights ? lanes_backward_both(op, io, 0, 1) : 0;
		return rc ? rc : clcnn_conv_algo_im2col.backward_data(op, io);
	}
	int rc = want_data ? clcnn_conv_s1_transposed_weights(op, io->param[0], io->scratch, p.wt) : 0;
	for (int n0 = 0; !rc && n0 < g->n; n0 += p.nbmax) {
		int nb = g->n - n0 < p.nbmax ? g->n - n0 : p.nbmax;
		rc = copy_in(op, &b, io->grad_out, io->scratch, p.gyb, n0, nb);
		if (!rc && want_weights) {
			rc = copy_in(op, &a, io->in[0], io->scratch, p.xb, n0, nb);
			if (!rc)
				rc = weights_chunk(op, io, &p, nb, n0 > 0);
		}
		if (!rc && want_data) {
			rc = gemm(op, &b, 1, 1, g->cgo, g->cgi, g->h, g->w, io->scratch, p.gyb, io->scratch, p.wt,
				  io->scratch, p.out, nb);
			if (!rc)
				rc = copy_out(op, g->cin, g->h * g->w, io->scratch, p.out, io->grad_in[0], io->scratch,
					      0, n0, nb);
		}
	}
	return rc;
}

CONV_BACKWARD_FROM(lanes, lanes_backward_both)

static size_t lanes_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	if (strided(g) && dir == CONV_BWD_DATA)
		return clcnn_conv_algo_im2col.scratch_bytes(ctx, g, nb, dir);
	return parts_of(ctx, g, dir != CONV_FWD).end * sizeof(float); /* chunks of its own */
}

CONV_ALGO_DEFINE(lanes, .programs = {"convgemm"}, .applicable = applicable, .forward = lanes_forward,
		 .backward_data = lanes_backward_data, .backward_weights = lanes_backward_weights,
		 .backward = lanes_backward, .scratch_bytes = lanes_scratch);
