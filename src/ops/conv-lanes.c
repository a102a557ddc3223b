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
 * the forward and the weight gradient take them as they are (SY, SX). The input gradient of a strided
 * convolution runs by phases (cl/convgemm.cl, LANES_WPH): each of the sy x sx classes of input pixels
 * (row mod sy, column mod sx) is a stride-1 convolution of the output gradient with its own taps of the
 * kernel (3x3/2: 2x2, 2x1, 1x2, 1x1), so no multiply meets the zeros that a stride-1 form of the
 * transposed convolution would put between the output gradient's pixels. That needs dilation 1 and a
 * kernel at least the stride on each axis (every phase has a tap); other strided geometries take
 * im2col's input gradient.
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

/* Strided, with the input gradient by phases. */
static int phased(const struct conv_geom *g)
{
	return strided(g) && g->dh == 1 && g->dw == 1 && g->kh >= g->sh && g->kw >= g->sw;
}

/* Taps of phase r along an axis of k taps at stride s. */
static int phase_taps(int r, int s, int k)
{
	return (k - r + s - 1) / s;
}

/*
 * The phases' planes, jm x im (rows j of input row SY j + ry - PT, the most any phase has); the output
 * gradient's copy padded by py, px = the first phase's taps - 1 on top and left, to jm + py rows.
 */
struct phases {
	int n, jm, im, py, px;
};

static struct phases phases_of(const struct conv_geom *g)
{
	return (struct phases){g->sh * g->sw, (g->h + g->pt + g->sh - 1) / g->sh, (g->w + g->pl + g->sw - 1) / g->sw,
			       phase_taps(0, g->sh, g->kh) - 1, phase_taps(0, g->sw, g->kw) - 1};
}

/*
 * The output gradient: padded for the input gradient at stride 1 or by phases (its rows up to jm + py:
 * the phases read past ho); as it is (the weight gradient's) for im2col's input gradient.
 */
static struct side gy_side(const struct conv_geom *g)
{
	if (phased(g)) {
		const struct phases f = phases_of(g);
		return side_of((struct conv_s1_side){g->cout, g->ho, g->wo, f.py, f.jm - g->ho, f.px, f.im - g->wo});
	}
	if (strided(g))
		return side_of((struct conv_s1_side){g->cout, g->ho, g->wo, 0, 0, 0, 0});
	return side_of(clcnn_conv_s1_grad_out(g));
}

/* Floats of the input gradient's output planes per image: the image, or the phases' planes. */
static size_t grad_in_floats(const struct conv_geom *g)
{
	if (phased(g)) {
		const struct phases f = phases_of(g);
		return (size_t)f.n * g->cin * f.jm * f.im;
	}
	return (size_t)g->cin * g->h * g->w;
}

/* The lane group is the vector width; the GEMM's tile is the narrow one (see implicit48). */
static struct conv_s1_tile tile(const struct clcnn_context *ctx)
{
	return clcnn_conv_s1_tile(ctx, 1);
}

/*
 * CPUs only: a CPU register tile (7 x 3 vectors of the batch's lanes), too big for a GPU's registers.
 * Padding at most the taps' reach (the stride-1 input gradient's is then >= 0); strided where im2col
 * applies (the input gradient of the strided geometries that do not run by phases).
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
	most = most > (double)grad_in_floats(g) ? most : (double)grad_in_floats(g);
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
	size_t per_out = backward ? grad_in_floats(g) : (size_t)g->cout * g->ho * g->wo;
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

/* The taps of one GEMM: the forward's, the stride-1 input gradient's (stride 1) or a phase's. */
struct taps {
	int kh, kw, dh, dw, flip, sy, sx;
};

/* The GEMM: out [groups of lanes][cgo*groups][oh*ow][VW] from the padded copy s and weights w. */
static int gemm(struct clcnn_op *op, const struct side *s, struct taps k_, int cgi, int cgo, int oh, int ow, cl_mem xb,
		size_t xb_off, cl_mem w, size_t w_off, cl_mem out, size_t out_off, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_s1_tile t = tile(op->ctx);
	char o[400];
	snprintf(o, sizeof o,
		 "-DLANES_FWD -DVW=%d -DTM=%d -DTNV=%d -DHW_FMA=%d -DKH=%d -DKW=%d -DDH=%d -DDW=%d -DFLIP=%d -DCGI=%d "
		 "-DCGO=%d -DCIN=%d -DCOUT=%d -DOH=%d -DOW=%d -DHP=%d -DWP=%d -DSY=%d -DSX=%d",
		 t.vw, t.tm, t.tnv, t.hw_fma, k_.kh, k_.kw, k_.dh, k_.dw, k_.flip, cgi, cgo, cgi * g->groups,
		 cgo * g->groups, oh, ow, s->hp, s->wp, k_.sy, k_.sx);
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
			rc = gemm(op, &a, (struct taps){g->kh, g->kw, g->dh, g->dw, g->flip, g->sh, g->sw}, g->cgi,
				  g->cgo, g->ho, g->wo, io->scratch, p.xb, io->param[0], 0, io->scratch, p.out, nb);
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

/* The phases' weights into wph at off (floats): per phase, transposed per group and reversed (LANES_WPH). */
static int phase_weights(struct clcnn_op *op, cl_mem w, cl_mem wph, size_t off)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	char o[160];
	snprintf(o, sizeof o, "-DLANES_WPH -DKH=%d -DKW=%d -DCGI=%d -DCGO=%d -DFLIP=%d -DSY=%d -DSX=%d", g->kh, g->kw,
		 g->cgi, g->cgo, g->flip, g->sh, g->sw);
	cl_kernel k;
	int o32 = (int)off, groups = g->groups;
	int rc = clcnn_conv_s1_kernel(op, o, "lanes_wph", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(w), KARG(wph), KARG(o32), KARG(groups));
	if (rc)
		return rc;
	const size_t global[3] = {(size_t)g->cgo * g->kh * g->kw, (size_t)g->cgi, (size_t)g->groups},
		     local[3] = {8, 1, 1};
	return clcnn_kernel_run(op->ctx, k, 3, global, local);
}

/*
 * The input gradient of one chunk by phases: each phase's GEMM over the output gradient's copy (at gyb)
 * into its plane (pstride floats apart, from out), then all planes into grad_in at once.
 */
static int phases_chunk(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct parts *p, int n0, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_s1_tile t = tile(op->ctx);
	const struct side b = gy_side(g);
	const struct phases f = phases_of(g);
	const size_t pstride = (size_t)p->groups_max * t.vw * g->cin * f.jm * f.im;
	size_t w_off = p->wt;
	int rc = 0;
	for (int ry = 0; !rc && ry < g->sh; ry++)
		for (int rx = 0; !rc && rx < g->sw; rx++) {
			const int ty = phase_taps(ry, g->sh, g->kh), tx = phase_taps(rx, g->sw, g->kw);
			/* tap u of the phase reads row j + u + (py - (ty - 1)) of the copy */
			const size_t at = p->gyb + ((size_t)(f.py - ty + 1) * b.wp + (f.px - tx + 1)) * t.vw;
			rc = gemm(op, &b, (struct taps){ty, tx, 1, 1, 0, 1, 1}, g->cgo, g->cgi, f.jm, f.im, io->scratch,
				  at, io->scratch, w_off, io->scratch, p->out + (size_t)(ry * g->sw + rx) * pstride,
				  nb);
			w_off += (size_t)g->cout * g->cgi * ty * tx;
		}
	char o[192];
	snprintf(o, sizeof o,
		 "-DLANES_OUT_PHASE -DVW=%d -DCOUT=%d -DJM=%d -DIM=%d -DH=%d -DW=%d -DPT=%d -DPL=%d -DSY=%d -DSX=%d",
		 t.vw, g->cin, f.jm, f.im, g->h, g->w, g->pt, g->pl, g->sh, g->sw);
	cl_kernel k;
	int o32 = (int)p->out, ps = (int)pstride;
	if (!rc)
		rc = clcnn_conv_s1_kernel(op, o, "lanes_out_phase", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(o32), KARG(ps), KARG(io->grad_in[0]),
				       KARG(n0), KARG(nb));
	if (rc)
		return rc;
	const size_t global[2] = {(size_t)g->cin, (size_t)(nb + t.vw - 1) / t.vw}, local[2] = {8, 1};
	return clcnn_kernel_run(op->ctx, k, 2, global, local);
}

static int lanes_backward_both(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct side a = in_side(g), b = gy_side(g);
	const struct parts p = parts_of(op->ctx, g, 1);
	if (strided(g) && !phased(g) && want_data) { /* im2col's, after the weights (it reuses the scratch) */
		int rc = want_weights ? lanes_backward_both(op, io, 0, 1) : 0;
		return rc ? rc : clcnn_conv_algo_im2col.backward_data(op, io);
	}
	int rc = !want_data  ? 0
		 : phased(g) ? phase_weights(op, io->param[0], io->scratch, p.wt)
			     : clcnn_conv_s1_transposed_weights(op, io->param[0], io->scratch, p.wt);
	for (int n0 = 0; !rc && n0 < g->n; n0 += p.nbmax) {
		int nb = g->n - n0 < p.nbmax ? g->n - n0 : p.nbmax;
		rc = copy_in(op, &b, io->grad_out, io->scratch, p.gyb, n0, nb);
		if (!rc && want_weights) {
			rc = copy_in(op, &a, io->in[0], io->scratch, p.xb, n0, nb);
			if (!rc)
				rc = weights_chunk(op, io, &p, nb, n0 > 0);
		}
		if (!rc && want_data && phased(g)) {
			rc = phases_chunk(op, io, &p, n0, nb);
		} else if (!rc && want_data) {
			rc = gemm(op, &b, (struct taps){g->kh, g->kw, g->dh, g->dw, g->flip, 1, 1}, g->cgo, g->cgi,
				  g->h, g->w, io->scratch, p.gyb, io->scratch, p.wt, io->scratch, p.out, nb);
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
	if (strided(g) && !phased(g) && dir == CONV_BWD_DATA)
		return clcnn_conv_algo_im2col.scratch_bytes(ctx, g, nb, dir);
	return parts_of(ctx, g, dir != CONV_FWD).end * sizeof(float); /* chunks of its own */
}

CONV_ALGO_DEFINE(lanes, .programs = {"convgemm"}, .applicable = applicable, .forward = lanes_forward,
		 .backward_data = lanes_backward_data, .backward_weights = lanes_backward_weights,
		 .backward = lanes_backward, .scratch_bytes = lanes_scratch);
