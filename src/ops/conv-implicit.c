/*
 * conv2d "implicit": stride-1 convolution as a shifted implicit GEMM (cl/convgemm.cl). The batch goes in
 * chunks of images; each chunk's input is copied once into a zero-padded channel-major layout (rows of
 * pitch wp, images of rpi rows) in which every tap of every output column is one contiguous vector load,
 * so no im2col matrix (9x the input) is written or read. The input gradient runs the same kernel on the
 * padded output gradient (whose layout has the same wp and rpi) with the weights transposed per group and
 * rotated 180 degrees; the weight gradient is a dot product along the columns in slices whose partial sums
 * are added in a fixed order (no atomics: reproducible on every device).
 */
#include "ops/conv-stride1.h"

/* The padded layout of one side (input of forward, or output gradient for the input gradient). */
struct pad_layout {
	int sh, sw;      /* source plane */
	int c;           /* source channels */
	int gr, wp, rpi; /* zero rows between images, row pitch, rows per image (sh + gr) */
	int pt, pl;      /* padding of the convolution read through it */
	int xoff;        /* offset of tap (0, 0) of column 0 in a channel */
};

/* Columns of the widest tile: the copies leave that much slack for either variant. */
static int tile_columns(const struct clcnn_context *ctx)
{
	struct conv_s1_tile a = clcnn_conv_s1_tile(ctx, 0), b = clcnn_conv_s1_tile(ctx, 1);
	return a.tnv * a.vw > b.tnv * b.vw ? a.tnv * a.vw : b.tnv * b.vw;
}

static int max2(int a, int b)
{
	return a > b ? a : b;
}

/* Images share their zero rows (gr of them) and rows share their zero columns (one row pitch wp). */
static struct pad_layout layout(struct conv_s1_side s)
{
	struct pad_layout l = {.sh = s.sh, .sw = s.sw, .c = s.c, .pt = s.pt, .pl = s.pl};
	l.gr = max2(s.pt, s.pb);
	l.wp = s.sw + max2(s.pl, s.pr);
	l.rpi = s.sh + l.gr;
	/* one row of front slack, then gr zero rows: tap (0,0) of column 0 sits pt rows up, pl left */
	l.xoff = (1 + l.gr - s.pt) * l.wp - s.pl;
	return l;
}

static struct pad_layout fwd_layout(const struct conv_geom *g)
{
	return layout(clcnn_conv_s1_input(g));
}

static struct pad_layout bwd_layout(const struct conv_geom *g)
{
	return layout(clcnn_conv_s1_grad_out(g));
}

/*
 * Stride 1 on CPUs: the kernels are CPU designs (a 6 x 4 or 7 x 3 tile of 16-float vectors is 384 or
 * 336 floats a work-item, the weight gradient's TMW x KH*KW vectors grow with the kernel), which a
 * GPU would spill; GPUs take direct, im2col, gemm1x1 or depthwise (or algorithms of their own).
 */
static int is_stride1(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	if ((ctx && clcnn_is_gpu(ctx)) || !clcnn_conv_s1_applies(g))
		return 0;
	/* every index the kernels form stays an int */
	struct pad_layout f = fwd_layout(g), b = bwd_layout(g);
	double rows = (double)g->n * f.rpi + f.gr + 2, per = rows * f.wp + 64;
	return f.wp == b.wp && f.rpi == b.rpi && per * (g->cin > g->cout ? g->cin : g->cout) < 2e9;
}

static size_t round_up(size_t a, size_t b)
{
	return (a + b - 1) / b * b;
}

/* Floats per channel of a chunk of nb images: the data, plus what the last column tile's taps reach. */
static int channel_stride(const struct conv_geom *g, const struct pad_layout *l, int nb, int tn)
{
	size_t q = (size_t)nb * l->rpi * l->wp;
	size_t reach = round_up(q, (size_t)tn) + (size_t)l->xoff + (size_t)(g->kh - 1) * g->dh * l->wp +
		       (size_t)(g->kw - 1) * g->dw + (size_t)tn;
	size_t data = ((size_t)1 + l->gr + (size_t)nb * l->rpi) * l->wp;
	return (int)round_up(reach > data ? reach : data, (size_t)l->wp);
}

/* Images per chunk (the one policy, conv.c): the padded copies of both sides count. */
static int chunk_images(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	struct pad_layout f = fwd_layout(g);
	return clcnn_conv_chunk(ctx, g, ((size_t)g->cin + g->cout) * f.rpi * f.wp * sizeof(float), 1, 0);
}

/* Column slices of the weight gradient: enough work-items for the cores, slices of >= 4096 columns. */
static int slices(const struct conv_geom *g, int q)
{
	int items = (g->cgo + 2) / 3 * g->cgi * g->groups;
	int s = (64 + items - 1) / items, most = q / 4096;
	if (s > most)
		s = most;
	return s < 1 ? 1 : s;
}

/* Zero-padded channel-major copy of images n0.. (nb) of src into dst + off (l's layout, cs per channel). */
static int pad_copy(struct clcnn_op *op, const struct pad_layout *l, cl_mem src, cl_mem dst, int off, int cs, int n0,
		    int nb)
{
	char o[192];
	snprintf(o, sizeof o, "-DCONVGEMM_PAD -DSH=%d -DSW=%d -DWP=%d -DRPI=%d -DGR=%d -DC=%d", l->sh, l->sw, l->wp,
		 l->rpi, l->gr, l->c);
	cl_kernel k;
	int rc = clcnn_conv_s1_kernel(op, o, "convgemm_pad", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(dst), KARG(off), KARG(cs), KARG(n0), KARG(nb));
	if (rc)
		return rc;
	const size_t global[2] = {(size_t)nb + 2, (size_t)l->c}, local[2] = {1, 8};
	return clcnn_kernel_run(op->ctx, k, 2, global, local);
}

/* What the GEMM kernel computes: out channels, oh x ow, of images n0.. from a padded copy. */
struct gemm_side {
	const struct pad_layout *l;
	int narrow; /* tile variant */
	int cgi, cgo, oh, ow, flip;
	cl_mem xp, w, bias, out;
	int xp_off, w_off, cs, has_bias;
};

static int gemm(struct clcnn_op *op, const struct gemm_side *s, int n0, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_s1_tile t = clcnn_conv_s1_tile(op->ctx, s->narrow);
	char o[400];
	snprintf(o, sizeof o,
		 "-DCONVGEMM_FWD -DVW=%d -DTM=%d -DTNV=%d -DHW_FMA=%d -DKH=%d -DKW=%d -DDH=%d -DDW=%d -DFLIP=%d "
		 "-DCGI=%d -DCGO=%d -DCOUT=%d -DOH=%d -DOW=%d -DWP=%d -DRPI=%d -DXOFF=%d",
		 t.vw, t.tm, t.tnv, t.hw_fma, g->kh, g->kw, g->dh, g->dw, s->flip, s->cgi, s->cgo, s->cgo * g->groups,
		 s->oh, s->ow, s->l->wp, s->l->rpi, s->l->xoff);
	cl_kernel k;
	int rc = clcnn_conv_s1_kernel(op, o, "convgemm_fwd", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(s->xp), KARG(s->xp_off), KARG(s->cs), KARG(s->w),
				       KARG(s->w_off), KARG(s->bias), KARG(s->has_bias), KARG(s->out), KARG(n0),
				       KARG(nb));
	if (rc)
		return rc;
	const size_t tn = (size_t)t.tnv * t.vw, q = (size_t)nb * s->l->rpi * s->l->wp;
	const size_t global[3] = {(size_t)(s->cgo + t.tm - 1) / t.tm, (q + tn - 1) / tn, (size_t)g->groups};
	const size_t local[3] = {16, 1, 1};
	return clcnn_kernel_run(op->ctx, k, 3, global, local);
}

static int forward_tiled(struct clcnn_op *op, const struct clcnn_dev_io *io, int narrow)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct pad_layout l = fwd_layout(g);
	const int nbmax = chunk_images(op->ctx, g);
	struct gemm_side s = {.l = &l,
			      .narrow = narrow,
			      .cgi = g->cgi,
			      .cgo = g->cgo,
			      .oh = g->ho,
			      .ow = g->wo,
			      .flip = g->flip,
			      .xp = io->scratch,
			      .w = io->param[0],
			      .bias = g->bias ? io->param[1] : io->param[0],
			      .out = io->out,
			      .cs = channel_stride(g, &l, nbmax, tile_columns(op->ctx)),
			      .has_bias = g->bias};
	int rc = 0;
	for (int n0 = 0; !rc && n0 < g->n; n0 += nbmax) {
		int nb = g->n - n0 < nbmax ? g->n - n0 : nbmax;
		rc = pad_copy(op, &l, io->in[0], io->scratch, 0, s.cs, n0, nb);
		if (!rc)
			rc = gemm(op, &s, n0, nb);
	}
	return rc;
}

/*
 * Backward scratch (floats): the padded input, channel-major [cin][cs] or, for the weight gradient as a
 * plain GEMM (groups 1), pixel-major [cs][cip] | padded output gradient [cout][cs] | transposed weights |
 * weight-gradient partial sums [slices][...].
 */
struct bwd_parts {
	int cs, nbmax, slices, nn, cip;
	size_t dy, wt, part, end;
};

/*
 * The weight gradient as a GEMM over the columns (convgemm_bwd_wt) for 1x1 kernels, groups 1, 16+
 * input channels (padded to the vector width); else the dot-product kernel, whose TMW x KHW
 * accumulators suit 3x3 but not 1x1. CPU ms per call, dot -> GEMM: 32x256x14x14->1024 1x1 40 -> 23;
 * 3x3: 32x256x14x14->256 ~43 -> 45, 128x32x14x14->64 7.0 -> 10.3 (short slices), 1 input channel
 * 2.4 -> 7.2.
 */
static int weights_nn(const struct conv_geom *g)
{
	return g->groups == 1 && g->cin >= 16 && g->kh * g->kw == 1;
}

static struct bwd_parts bwd_parts(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	struct pad_layout f = fwd_layout(g), b = bwd_layout(g);
	struct bwd_parts p;
	const struct conv_s1_tile t = clcnn_conv_s1_tile(ctx, 1);
	int tn = tile_columns(ctx), khw = g->kh * g->kw;
	p.nbmax = chunk_images(ctx, g);
	int csf = channel_stride(g, &f, p.nbmax, tn), csb = channel_stride(g, &b, p.nbmax, tn);
	p.cs = csf > csb ? csf : csb;
	p.nn = weights_nn(g);
	p.cip = (int)round_up((size_t)g->cin, (size_t)t.vw);
	int q = p.nbmax * f.rpi * f.wp;
	size_t wc = (size_t)g->cout * g->cgi * khw, per_part = (size_t)g->cout * khw * p.cip;
	/*
	 * The GEMM sums each weight along a slice in one float, so slices stay short (512 columns: about
	 * the rounding of the dot kernel's 16 lanes over 8000 columns), and their partial sums (at most
	 * 32 MB) are added in order.
	 */
	p.slices = (q + 511) / 512;
	if (p.nn && (size_t)p.slices * per_part > ((size_t)8 << 20))
		p.nn = 0;
	if (!p.nn) {
		per_part = wc;
		p.slices = slices(g, q);
	}
	p.dy = (size_t)(p.nn ? p.cip : g->cin) * p.cs;
	p.wt = p.dy + (size_t)g->cout * p.cs;
	p.part = p.wt + wc;
	p.end = p.part + (size_t)p.slices * per_part;
	return p;
}

/* Weight gradient of one chunk (its copies in scratch): slices, then their fixed-order sum into dW. */
static int weights_chunk(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct bwd_parts *p, int nb,
			 int accumulate)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_s1_tile t = clcnn_conv_s1_tile(op->ctx, 0);
	const struct pad_layout f = fwd_layout(g), b = bwd_layout(g);
	const int tmw = t.vw == 16 ? 3 : 2;
	char o[320];
	snprintf(o, sizeof o,
		 "-DCONVGEMM_BWD_W -DVW=%d -DTMW=%d -DHW_FMA=%d -DKH=%d -DKW=%d -DDH=%d -DDW=%d -DFLIP=%d -DCGI=%d "
		 "-DCGO=%d -DWP=%d -DXOFF=%d",
		 t.vw, tmw, t.hw_fma, g->kh, g->kw, g->dh, g->dw, g->flip, g->cgi, g->cgo, f.wp, f.xoff);
	int q = nb * f.rpi * f.wp, qv = (int)round_up((size_t)q, (size_t)t.vw);
	int slice = (int)round_up((size_t)(qv + p->slices - 1) / p->slices, (size_t)t.vw);
	int nslices = (qv + slice - 1) / slice;
	int gy_off = (int)p->dy + (1 + b.gr) * b.wp, cs = p->cs, groups = g->groups, part_off = (int)p->part;
	cl_kernel k;
	int rc = clcnn_conv_s1_kernel(op, o, "convgemm_bwd_w", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(gy_off), KARG(cs), KARG(io->scratch),
				       KARG(cs), KARG(io->scratch), KARG(part_off), KARG(slice), KARG(qv),
				       KARG(groups));
	if (!rc) {
		const size_t global[3] = {(size_t)(g->cgo + tmw - 1) / tmw, (size_t)g->cgi,
					  (size_t)g->groups * (size_t)nslices};
		const size_t local[3] = {1, 1, 1};
		rc = clcnn_kernel_run(op->ctx, k, 3, global, local);
	}
	return rc ? rc : clcnn_conv_s1_sum_parts(op, io->scratch, p->part, nslices, io->grad_param[0], accumulate);
}

/* Pixel-major padded copy of images n0.. of the input into scratch at 0 (cs positions of cip floats). */
static int padt_copy(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct bwd_parts *p, int n0, int nb)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct pad_layout l = fwd_layout(g);
	char o[192];
	snprintf(o, sizeof o, "-DCONVGEMM_PADT -DSH=%d -DSW=%d -DWP=%d -DRPI=%d -DGR=%d -DC=%d -DCIP=%d", l.sh, l.sw,
		 l.wp, l.rpi, l.gr, l.c, p->cip);
	cl_kernel k;
	int off = 0, npos = p->cs;
	int rc = clcnn_conv_s1_kernel(op, o, "convgemm_padt", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->scratch), KARG(off), KARG(npos), KARG(n0),
				       KARG(nb));
	if (rc)
		return rc;
	const size_t global = (size_t)(p->cs / l.wp), local = 8;
	return clcnn_kernel_run(op->ctx, k, 1, &global, &local);
}

/* Weight gradient of one chunk as a GEMM over its columns (groups 1), then the ordered slice sum. */
static int weights_chunk_nn(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct bwd_parts *p, int nb,
			    int accumulate)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_s1_tile t = clcnn_conv_s1_tile(op->ctx, 1);
	const struct pad_layout f = fwd_layout(g), b = bwd_layout(g);
	const int khw = g->kh * g->kw, tn = t.tnv * t.vw;
	char o[400];
	snprintf(o, sizeof o,
		 "-DCONVGEMM_BWD_WT -DVW=%d -DTM=%d -DTNV=%d -DHW_FMA=%d -DKH=%d -DKW=%d -DDH=%d -DDW=%d -DCOUT=%d "
		 "-DCIP=%d -DWP=%d -DXOFF=%d",
		 t.vw, t.tm, t.tnv, t.hw_fma, g->kh, g->kw, g->dh, g->dw, g->cout, p->cip, f.wp, f.xoff);
	int q = nb * f.rpi * f.wp, slice = (q + p->slices - 1) / p->slices, nslices = (q + slice - 1) / slice;
	int gy_off = (int)p->dy + (1 + b.gr) * b.wp, cs = p->cs, part_off = (int)p->part;
	cl_kernel k;
	int rc = clcnn_conv_s1_kernel(op, o, "convgemm_bwd_wt", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(gy_off), KARG(cs), KARG(io->scratch),
				       KARG(io->scratch), KARG(part_off), KARG(slice), KARG(q));
	if (!rc) {
		const size_t global[3] = {(size_t)(g->cout + t.tm - 1) / t.tm, ((size_t)khw * p->cip + tn - 1) / tn,
					  (size_t)nslices};
		const size_t local[3] = {1, 1, 1};
		rc = clcnn_kernel_run(op->ctx, k, 3, global, local);
	}
	if (rc)
		return rc;
	snprintf(o, sizeof o, "-DCONVGEMM_SUMT -DKH=%d -DKW=%d -DFLIP=%d -DCOUT=%d -DC=%d -DCIP=%d", g->kh, g->kw,
		 g->flip, g->cout, g->cin, p->cip);
	rc = clcnn_conv_s1_kernel(op, o, "convgemm_sumt", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(part_off), KARG(nslices),
				       KARG(io->grad_param[0]), KARG(accumulate));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)g->cout * g->cin * khw);
}

static int backward_tiled(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights,
			  int narrow)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct pad_layout f = fwd_layout(g), b = bwd_layout(g);
	const struct bwd_parts p = bwd_parts(op->ctx, g);
	/* the input gradient: the forward kernel over the output gradient, groups' channels swapped */
	struct gemm_side s = {.l = &b,
			      .narrow = narrow,
			      .cgi = g->cgo,
			      .cgo = g->cgi,
			      .oh = g->h,
			      .ow = g->w,
			      .flip = g->flip,
			      .xp = io->scratch,
			      .xp_off = (int)p.dy,
			      .w = io->scratch,
			      .w_off = (int)p.wt,
			      .bias = io->scratch,
			      .out = io->grad_in[0],
			      .cs = p.cs,
			      .has_bias = 0};
	int rc = want_data ? clcnn_conv_s1_transposed_weights(op, io->param[0], io->scratch, p.wt) : 0;
	for (int n0 = 0; !rc && n0 < g->n; n0 += p.nbmax) {
		int nb = g->n - n0 < p.nbmax ? g->n - n0 : p.nbmax;
		rc = pad_copy(op, &b, io->grad_out, io->scratch, (int)p.dy, p.cs, n0, nb);
		if (!rc && want_weights && p.nn) {
			rc = padt_copy(op, io, &p, n0, nb);
			if (!rc)
				rc = weights_chunk_nn(op, io, &p, nb, n0 > 0);
		} else if (!rc && want_weights) {
			rc = pad_copy(op, &f, io->in[0], io->scratch, 0, p.cs, n0, nb);
			if (!rc)
				rc = weights_chunk(op, io, &p, nb, n0 > 0);
		}
		if (!rc && want_data)
			rc = gemm(op, &s, n0, nb);
	}
	return rc;
}

static int implicit_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return forward_tiled(op, io, 0);
}

static int implicit_both(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights)
{
	return backward_tiled(op, io, want_data, want_weights, 0);
}
CONV_BACKWARD_FROM(implicit, implicit_both)

static int narrow_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return forward_tiled(op, io, 1);
}

/* The weight gradient does not use the tile: narrow's is implicit's. */
static int narrow_both(struct clcnn_op *op, const struct clcnn_dev_io *io, int want_data, int want_weights)
{
	return backward_tiled(op, io, want_data, want_weights, 1);
}
CONV_BACKWARD_FROM(narrow, narrow_both)

static size_t implicit_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir)
{
	(void)nb; /* chunks of its own size */
	if (dir == CONV_FWD) {
		struct pad_layout l = fwd_layout(g);
		return (size_t)g->cin * channel_stride(g, &l, chunk_images(ctx, g), tile_columns(ctx)) * sizeof(float);
	}
	return bwd_parts(ctx, g).end * sizeof(float);
}

/* Few input taps (a first layer), groups 1, output rows of at least 4: the shallow forward kernel. */
static int is_shallow(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	return is_stride1(ctx, g) && g->groups == 1 && g->cgi * g->kh * g->kw <= 27 && g->wo >= 4;
}

static int shallow_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct pad_layout l = fwd_layout(g);
	const struct conv_s1_tile t = clcnn_conv_s1_tile(op->ctx, 0);
	const int nbmax = chunk_images(op->ctx, g), cs = channel_stride(g, &l, nbmax, tile_columns(op->ctx));
	const int sv = g->wo >= 16 && t.vw >= 16 ? 16 : g->wo >= 8 ? 8 : 4;
	cl_mem bias = g->bias ? io->param[1] : io->param[0];
	int has_bias = g->bias;
	char o[400];
	snprintf(o, sizeof o,
		 "-DCONVGEMM_SHALLOW -DSV=%d -DHW_FMA=%d -DKH=%d -DKW=%d -DDH=%d -DDW=%d -DFLIP=%d -DCGI=%d -DCOUT=%d "
		 "-DOH=%d -DOW=%d -DWP=%d -DRPI=%d -DXOFF=%d",
		 sv, t.hw_fma, g->kh, g->kw, g->dh, g->dw, g->flip, g->cgi, g->cout, g->ho, g->wo, l.wp, l.rpi, l.xoff);
	cl_kernel k;
	int rc = clcnn_conv_s1_kernel(op, o, "convgemm_shallow", &k);
	for (int n0 = 0; !rc && n0 < g->n; n0 += nbmax) {
		int nb = g->n - n0 < nbmax ? g->n - n0 : nbmax;
		rc = pad_copy(op, &l, io->in[0], io->scratch, 0, cs, n0, nb);
		if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(cs), KARG(io->param[0]), KARG(bias),
					       KARG(has_bias), KARG(io->out), KARG(n0), KARG(nb));
		if (!rc) {
			const size_t global = (size_t)nb * g->ho, local = 8;
			rc = clcnn_kernel_run(op->ctx, k, 1, &global, &local);
		}
	}
	return rc;
}

CONV_ALGO_DEFINE(shallow, .programs = {"convgemm"}, .applicable = is_shallow, .forward = shallow_forward,
		 .backward_data = implicit_backward_data, .backward_weights = implicit_backward_weights,
		 .backward = implicit_backward, .scratch_bytes = implicit_scratch);
CONV_ALGO_DEFINE(implicit, .programs = {"convgemm"}, .applicable = is_stride1, .forward = implicit_forward,
		 .backward_data = implicit_backward_data, .backward_weights = implicit_backward_weights,
		 .backward = implicit_backward, .scratch_bytes = implicit_scratch);
/* The same with the narrow register tile. */
CONV_ALGO_DEFINE(implicit48, .programs = {"convgemm"}, .applicable = is_stride1, .forward = narrow_forward,
		 .backward_data = narrow_backward_data, .backward_weights = narrow_backward_weights,
		 .backward = narrow_backward, .scratch_bytes = implicit_scratch);
