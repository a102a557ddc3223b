/*
 * conv2d (torch.nn.Conv2d semantics): arguments, validation and shape inference, the C reference, and
 * the per-direction choice among the device algorithms of conv-algo.c.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv-private.h"

/* ------------------------------------------------------------------ the list of conv-algos.h */

#define X(name, NAME, doc) &clcnn_conv_algo_##name,
const struct conv_algo *const clcnn_conv_algos[] = {CLCNN_CONV_ALGO_LIST(X) NULL};
#undef X
#define X(name, NAME, doc) doc,
const char *const clcnn_conv_algo_docs[] = {CLCNN_CONV_ALGO_LIST(X) NULL};
#undef X
/* the algo key's choices: index = enum conv_algo_id */
#define X(name, NAME, doc) #name,
static const char *const algo_names[] = {"auto", CLCNN_CONV_ALGO_LIST(X) NULL};
#undef X
_Static_assert(CLCNN_ARRAY_LEN(clcnn_conv_algos) == CONV_ALGO_COUNT + 1, "one table entry per algorithm");
_Static_assert(CLCNN_ARRAY_LEN(algo_names) == CONV_ALGO_END + 1, "algo= choices follow enum conv_algo_id");

const struct conv_algo *clcnn_conv_algo_find(const char *name)
{
	for (int i = 0; clcnn_conv_algos[i]; i++)
		if (!strcmp(clcnn_conv_algos[i]->name, name))
			return clcnn_conv_algos[i];
	return NULL;
}

const struct conv_algo *clcnn_conv_algo_by_id(enum conv_algo_id id)
{
	return id > CONV_ALGO_AUTO && id < CONV_ALGO_END ? clcnn_conv_algos[id - 1] : NULL;
}

/* ------------------------------------------------------------------ arguments */

static const char *const padding_modes[] = {"zeros", NULL};

static const struct clcnn_arg conv_keys[] = {
	{"in_channels", CLCNN_ARG_INT, offsetof(struct conv_args, in_channels), "0", NULL,
	 "input channels (0: taken from the input; otherwise checked against it)"},
	{"out_channels", CLCNN_ARG_INT, offsetof(struct conv_args, out_channels), NULL, NULL, "output channels"},
	{"kernel_size", CLCNN_ARG_INT2, offsetof(struct conv_args, kernel_size), NULL, NULL, "k or (kh,kw)"},
	{"stride", CLCNN_ARG_INT2, offsetof(struct conv_args, stride), "1", NULL, "s or (sh,sw)"},
	{"padding", CLCNN_ARG_PAD, offsetof(struct conv_args, padding), "0", NULL,
	 "p, (ph,pw), (top,bottom,left,right), same (stride 1; extra on bottom/right) or valid"},
	{"dilation", CLCNN_ARG_INT2, offsetof(struct conv_args, dilation), "1", NULL, "d or (dh,dw)"},
	{"groups", CLCNN_ARG_INT, offsetof(struct conv_args, groups), "1", NULL,
	 "channel groups; in_channels = depthwise"},
	{"bias", CLCNN_ARG_BOOL, offsetof(struct conv_args, bias), "true", NULL, "learn an additive bias"},
	{"padding_mode", CLCNN_ARG_ENUM, offsetof(struct conv_args, padding_mode), "zeros", padding_modes,
	 "padding values (zeros only)"},
	{"flip", CLCNN_ARG_BOOL, offsetof(struct conv_args, flip), "false", NULL,
	 "true convolution: the kernel rotated 180 degrees (PyTorch cross-correlates)"},
	{"algo", CLCNN_ARG_ENUM, offsetof(struct conv_args, algo), "auto", algo_names,
	 "device algorithm (overrides CLCNN_CONV_ALGO): auto (timed once per device and shape, remembered in the "
	 "cache)" CONV_ALGO_NAMES " (see Convolution algorithms)"},
	{"im2col_batch", CLCNN_ARG_INT, offsetof(struct conv_args, im2col_batch), "0", NULL,
	 "images per chunk of the im2col, implicit and lanes algorithms (0: each sizes its own)"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

/* One axis of the output size, or a message why there is none (64-bit sums: inputs are any ints). */
static int axis(const char *what, int in, int k, int s, int d, int p0, int p1, int *out, char *err, size_t errlen)
{
	long long span = (long long)d * (k - 1) + 1, padded = (long long)in + p0 + p1;
	if (span > padded) {
		if (d > 1)
			return clcnn_op_invalid(
				err, errlen,
				"conv2d: kernel %s %d (%lld with dilation %d) larger than padded input %s "
				"%lld (%d + padding %d + %d)",
				what, k, span, d, what, padded, in, p0, p1);
		return clcnn_op_invalid(err, errlen,
					"conv2d: kernel %s %d larger than padded input %s %lld (%d + padding %d + %d)",
					what, k, what, padded, in, p0, p1);
	}
	long long o = (padded - span) / s + 1;
	if (o > INT_MAX)
		return clcnn_op_invalid(err, errlen, "conv2d: output %s %lld (%d + padding %d + %d) is too large", what,
					o, in, p0, p1);
	*out = (int)o;
	return 0;
}

static int conv_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct conv_args *a = op->args;
	const struct clcnn_shape *in = &op->in[0];
	char s[64];
	if (in->ndim != 4)
		return clcnn_op_invalid(err, errlen, "conv2d: input must be 4-D (N, C, H, W), got %s",
					clcnn_shape_str(in, s, sizeof s));
	if (a->in_channels && a->in_channels != in->d[1])
		return clcnn_op_invalid(err, errlen, "conv2d: in_channels=%d but the input %s has %d channels",
					a->in_channels, clcnn_shape_str(in, s, sizeof s), in->d[1]);
	if (a->out_channels < 1)
		return clcnn_op_invalid(err, errlen, "conv2d: out_channels must be >= 1, got %d", a->out_channels);
	if (a->kernel_size[0] < 1 || a->kernel_size[1] < 1)
		return clcnn_op_invalid(err, errlen, "conv2d: kernel_size must be >= 1, got (%d,%d)", a->kernel_size[0],
					a->kernel_size[1]);
	if (a->stride[0] < 1 || a->stride[1] < 1)
		return clcnn_op_invalid(err, errlen, "conv2d: stride must be >= 1, got (%d,%d)", a->stride[0],
					a->stride[1]);
	if (a->dilation[0] < 1 || a->dilation[1] < 1)
		return clcnn_op_invalid(err, errlen, "conv2d: dilation must be >= 1, got (%d,%d)", a->dilation[0],
					a->dilation[1]);
	if (a->groups < 1)
		return clcnn_op_invalid(err, errlen, "conv2d: groups must be >= 1, got %d", a->groups);
	if (in->d[1] % a->groups)
		return clcnn_op_invalid(err, errlen, "conv2d: groups=%d does not divide in_channels=%d", a->groups,
					in->d[1]);
	if (a->out_channels % a->groups)
		return clcnn_op_invalid(err, errlen, "conv2d: groups=%d does not divide out_channels=%d", a->groups,
					a->out_channels);
	if (a->im2col_batch < 0)
		return clcnn_op_invalid(err, errlen, "conv2d: im2col_batch must be >= 0, got %d", a->im2col_batch);

	struct conv_geom g = {
		.n = in->d[0],
		.cin = in->d[1],
		.h = in->d[2],
		.w = in->d[3],
		.cout = a->out_channels,
		.kh = a->kernel_size[0],
		.kw = a->kernel_size[1],
		.sh = a->stride[0],
		.sw = a->stride[1],
		.dh = a->dilation[0],
		.dw = a->dilation[1],
		.groups = a->groups,
		.flip = a->flip,
		.bias = a->bias,
		.chunk = a->im2col_batch,
	};
	g.cgi = g.cin / g.groups;
	g.cgo = g.cout / g.groups;
	if (a->padding.same) {
		if (g.sh != 1 || g.sw != 1)
			return clcnn_op_invalid(err, errlen, "conv2d: padding=same needs stride 1, got stride (%d,%d)",
						g.sh, g.sw);
		/* PyTorch: total dilation*(k-1), the odd one out goes to the bottom / right */
		long long th64 = (long long)g.dh * (g.kh - 1), tw64 = (long long)g.dw * (g.kw - 1);
		if (th64 > INT_MAX || tw64 > INT_MAX)
			return clcnn_op_invalid(err, errlen,
						"conv2d: padding=same for kernel (%d,%d) with dilation (%d,%d) "
						"is too large",
						g.kh, g.kw, g.dh, g.dw);
		int th = (int)th64, tw = (int)tw64;
		g.pt = th / 2, g.pb = th - th / 2, g.pl = tw / 2, g.pr = tw - tw / 2;
	} else {
		g.pt = a->padding.t, g.pb = a->padding.b, g.pl = a->padding.l, g.pr = a->padding.r;
		if (g.pt < 0 || g.pb < 0 || g.pl < 0 || g.pr < 0)
			return clcnn_op_invalid(
				err, errlen, "conv2d: padding must be >= 0, got (top %d, bottom %d, left %d, right %d)",
				g.pt, g.pb, g.pl, g.pr);
	}
	int rc = axis("height", g.h, g.kh, g.sh, g.dh, g.pt, g.pb, &g.ho, err, errlen);
	if (!rc)
		rc = axis("width", g.w, g.kw, g.sw, g.dw, g.pl, g.pr, &g.wo, err, errlen);
	if (rc)
		return rc;
	/* the weight is a tensor too: at most INT_MAX elements, which also bounds the fans below */
	long long wcount = (long long)g.cout * g.cgi; /* each factor < 2^31: checked after every product */
	if (wcount > INT_MAX || (wcount *= g.kh) > INT_MAX || (wcount *= g.kw) > INT_MAX)
		return clcnn_op_invalid(err, errlen, "conv2d: weight %dx%dx%dx%d holds more than %d elements", g.cout,
					g.cgi, g.kh, g.kw, INT_MAX);
	if (a->algo != CONV_ALGO_AUTO) {
		const struct conv_algo *al = clcnn_conv_algo_by_id((enum conv_algo_id)a->algo);
		if (!al->applicable(NULL, &g))
			return clcnn_op_invalid(
				err, errlen,
				"conv2d: algo=%s does not apply to kernel %dx%d, stride (%d,%d), padding "
				"(%d,%d,%d,%d), groups %d of in_channels %d",
				al->name, g.kh, g.kw, g.sh, g.sw, g.pt, g.pb, g.pl, g.pr, g.groups, g.cin);
	}

	struct conv_priv *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, errlen, "conv2d: out of host memory");
		return CLCNN_ERR_NO_MEMORY;
	}
	free(op->priv);
	op->priv = p;
	p->g = g;
	op->out = clcnn_shape4(g.n, g.cout, g.ho, g.wo);
	int recept = g.kh * g.kw;
	op->nparam = g.bias ? 2 : 1;
	op->param[0] = (struct clcnn_param_spec){.name = "weight",
						 .shape = clcnn_shape4(g.cout, g.cgi, g.kh, g.kw),
						 .kind = CLCNN_PARAM_WEIGHT,
						 .init = CLCNN_INIT_DEFAULT_WEIGHT,
						 .fan_in = g.cgi * recept,
						 .fan_out = g.cout * recept};
	if (g.bias)
		op->param[1] = (struct clcnn_param_spec){.name = "bias",
							 .shape = {1, {g.cout, 0, 0, 0}},
							 .kind = CLCNN_PARAM_WEIGHT,
							 .init = CLCNN_INIT_DEFAULT_BIAS,
							 .fan_in = g.cgi * recept,
							 .fan_out = g.cout * recept};
	op->state_bytes = 0; /* backward needs only the input, which the executor keeps */
	op->scratch_bytes = 0;
	return 0;
}

static double conv_flops(const struct clcnn_op *op)
{
	const struct conv_args *a = op->args;
	const struct clcnn_shape *in = &op->in[0], *out = &op->out;
	return 2.0 * out->d[0] * out->d[1] * out->d[2] * out->d[3] * (double)(in->d[1] / a->groups) *
	       a->kernel_size[0] * a->kernel_size[1];
}

static void conv_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	const struct conv_args *a = op->args;
	for (int i = 0; i < 2; i++) {
		w->kernel[i] = a->kernel_size[i];
		w->stride[i] = a->stride[i];
		w->dilation[i] = a->dilation[i];
	}
	/* 'same' as conv_geom resolves it: dilation * (k - 1) / 2 before, the odd one after */
	w->pad[0] = a->padding.same ? a->dilation[0] * (a->kernel_size[0] - 1) / 2 : a->padding.t;
	w->pad[1] = a->padding.same ? a->dilation[1] * (a->kernel_size[1] - 1) / 2 : a->padding.l;
}

/* "fwd/bwd-data/bwd-weights" algorithm names, or one name when all agree; the string is the op's own
 * (a shared buffer made every conv of `clcnn bench` print the last one's names). */
static const char *conv_algo_name(const struct clcnn_op *op)
{
	struct conv_priv *p = op->priv;
	if (!p || !p->algo[0])
		return "";
	if (p->algo[0] == p->algo[1] && p->algo[1] == p->algo[2])
		return p->algo[0]->name;
	char *buf = p->algo_name;
	snprintf(buf, sizeof p->algo_name, "%s/%s/%s", p->algo[0]->name, p->algo[1] ? p->algo[1]->name : "-",
		 p->algo[2] ? p->algo[2]->name : "-");
	return buf;
}

static void conv_destroy(struct clcnn_op *op)
{
	free(op->priv);
	op->priv = NULL;
}

/* ------------------------------------------------------------------ reference */

/* Index into the weight of position (wy, wx) whose tap is (ky, kx); flip is its own inverse. */
static int wpos(const struct conv_geom *g, int ky, int kx)
{
	return g->flip ? (g->kh - 1 - ky) * g->kw + (g->kw - 1 - kx) : ky * g->kw + kx;
}

/*
 * Calls visit for every (output, input, weight) index triple of the convolution, straight from the
 * definition y[n,o,oy,ox] = b[o] + sum_{ci,ky,kx} x[n, g*cgi+ci, oy*sh-pt+ky*dh, ox*sw-pl+kx*dw] * w[o,ci,ky,kx]
 * (with w rotated 180 degrees when flip), taps in the zero padding skipped.
 */
#define CONV_FOR_EACH(g, BODY) \
	for (int n = 0; n < (g)->n; n++) \
		for (int o = 0; o < (g)->cout; o++) \
			for (int oy = 0; oy < (g)->ho; oy++) \
				for (int ox = 0; ox < (g)->wo; ox++) { \
					size_t yi = (((size_t)n * (g)->cout + o) * (g)->ho + oy) * (g)->wo + ox; \
					int grp = o / (g)->cgo; \
					for (int ci = 0; ci < (g)->cgi; ci++) \
						for (int ky = 0; ky < (g)->kh; ky++) \
							for (int kx = 0; kx < (g)->kw; kx++) { \
								int iy = oy * (g)->sh - (g)->pt + ky * (g)->dh; \
								int ix = ox * (g)->sw - (g)->pl + kx * (g)->dw; \
								if (iy < 0 || iy >= (g)->h || ix < 0 || ix >= (g)->w) \
									continue; \
								size_t xi = (((size_t)n * (g)->cin + grp * (g)->cgi + \
									      ci) * (g)->h + \
									     iy) * (g)->w + \
									    ix; \
								size_t wi = ((size_t)o * (g)->cgi + ci) * (g)->kh * \
										    (g)->kw + \
									    wpos(g, ky, kx); \
								BODY; \
							} \
				}

static void conv_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const double *x = io->in[0], *w = io->param[0], *b = g->bias ? io->param[1] : NULL;
	size_t ny = clcnn_shape_count(&op->out), plane = (size_t)g->ho * g->wo;
	for (size_t i = 0; i < ny; i++)
		io->out[i] = b ? b[(i / plane) % (size_t)g->cout] : 0.0;
	CONV_FOR_EACH(g, io->out[yi] += x[xi] * w[wi]);
}

static void conv_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const double *x = io->in[0], *w = io->param[0], *gy = io->grad_out;
	double *gx = io->grad_in[0], *gw = io->grad_param[0], *gb = g->bias ? io->grad_param[1] : NULL;
	size_t ny = clcnn_shape_count(&op->out), plane = (size_t)g->ho * g->wo;
	if (gx)
		memset(gx, 0, clcnn_shape_count(&op->in[0]) * sizeof *gx);
	if (gw)
		memset(gw, 0, clcnn_shape_count(&op->param[0].shape) * sizeof *gw);
	if (gb) {
		memset(gb, 0, (size_t)g->cout * sizeof *gb);
		for (size_t i = 0; i < ny; i++)
			gb[(i / plane) % (size_t)g->cout] += gy[i];
	}
	CONV_FOR_EACH(g, {
		if (gx)
			gx[xi] += gy[yi] * w[wi];
		if (gw)
			gw[wi] += gy[yi] * x[xi];
	});
}

/* ------------------------------------------------------------------ device dispatch */

static int is_cpu(const struct clcnn_context *ctx)
{
	return !clcnn_is_gpu(ctx);
}

/*
 * The one chunk policy of the algorithms that split the batch (im2col, implicit, shallow, lanes): a
 * chunk's workspace stays within 32 MB, the last-level cache of the CPUs measured (EPYC, 32 MB L3),
 * so that what one kernel copies is still cached when the GEMM streams it. im2col counts its forward
 * workspace (col and the output block), implicit its two padded copies, lanes its copies in and out.
 * On CPUs, im2col stops at enough output pixels (1536) to fill its GEMM's tiles: more images per
 * chunk lost there (CPU ms per forward: 32x256x14x14->256, 1 -> 8 images, 46.9 -> 36.2; 28x28 planes
 * keep 1-2 images, where 4+ lost 15 %). Chunks hold whole groups of `multiple` images.
 */
#define CONV_CHUNK_BUDGET ((size_t)32 << 20)

int clcnn_conv_chunk(const struct clcnn_context *ctx, const struct conv_geom *g, size_t bytes, int multiple, int pixels)
{
	size_t m = multiple > 1 ? (size_t)multiple : 1, nb = (size_t)g->chunk;
	if (g->chunk <= 0) {
		nb = bytes ? CONV_CHUNK_BUDGET / bytes : (size_t)g->n;
		size_t plane = (size_t)g->ho * g->wo;
		if (pixels > 0 && is_cpu(ctx) && plane && ((size_t)pixels + plane - 1) / plane < nb)
			nb = ((size_t)pixels + plane - 1) / plane;
		nb = nb / m * m;
		if (nb < m)
			nb = m;
	}
	return nb < (size_t)g->n ? (int)nb : g->n;
}

static int conv_prepare(struct clcnn_op *op)
{
	const struct conv_args *a = op->args;
	struct conv_priv *p = op->priv;
	const struct conv_geom *g = &p->g;
	struct clcnn_context *ctx = op->ctx;
	const struct conv_algo *forced = NULL;
	if (a->algo != CONV_ALGO_AUTO) {
		forced = clcnn_conv_algo_by_id((enum conv_algo_id)a->algo);
		/* the geometry suits it (conv_setup), this device may not: a CPU design on a GPU */
		if (!forced->applicable(ctx, g)) {
			clcnn_log(ctx, CLCNN_LOG_WARN,
				  "conv2d: algo=%s does not run on %s (%s kernels); choosing another", forced->name,
				  ctx->info.name ? ctx->info.name : "this device", clcnn_is_gpu(ctx) ? "GPU" : "CPU");
			forced = NULL;
		}
	} else if (ctx->opt.conv_algo && ctx->opt.conv_algo[0]) {
		forced = clcnn_conv_algo_find(ctx->opt.conv_algo);
		if (!forced)
			return clcnn_fail(ctx, CLCNN_ERR_INVALID,
					  "CLCNN_CONV_ALGO=%s: unknown convolution algorithm (%s)", ctx->opt.conv_algo,
					  CONV_ALGO_NAMES + 2);
		if (!forced->applicable(ctx, g)) {
			clcnn_log(ctx, CLCNN_LOG_DEBUG,
				  "CLCNN_CONV_ALGO=%s does not apply to this conv2d; using the default", forced->name);
			forced = NULL;
		}
	}
	size_t col_out = ((size_t)g->cin * g->kh * g->kw + (size_t)g->cout) * g->ho * g->wo * sizeof(float);
	p->nb = clcnn_conv_chunk(ctx, g, col_out, 1, 1536);
	snprintf(p->opts, sizeof p->opts,
		 "-DKH=%d -DKW=%d -DSH=%d -DSW=%d -DDH=%d -DDW=%d -DFLIP=%d -DCI=%d -DIH=%d -DIW=%d -DCO=%d -DOH=%d "
		 "-DOW=%d -DPT=%d -DPL=%d -DCGI=%d -DCGO=%d",
		 g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->flip, g->cin, g->h, g->w, g->cout, g->ho, g->wo, g->pt,
		 g->pl, g->cgi, g->cgo);
	if (clcnn_is_gpu(ctx)) {
		/* GPU-shaped kernels (cl/conv.cl), fma where the hardware has it, the profile's vectors */
		cl_device_fp_config fp = 0;
		if (ctx->device)
			clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
		size_t len = strlen(p->opts);
		snprintf(p->opts + len, sizeof p->opts - len, " -DGPU=1 -DVW=%d -DHW_FMA=%d", ctx->lim.vector_width,
			 (fp & CL_FP_FMA) != 0);
	}
	/* forced, or recorded by an earlier tuning, or tuned at the first call (scratch for any candidate) */
	size_t scratch = clcnn_conv_bias_scratch(g);
	for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++) {
		const struct conv_algo *a = forced;
		p->pending[d] = !a && clcnn_conv_tune_lookup(op, (enum conv_dir)d, &a) != 0;
		p->algo[d] = a ? a : &clcnn_conv_algo_im2col;
		size_t s = p->pending[d] ? clcnn_conv_tune_scratch(ctx, g, p->nb, (enum conv_dir)d)
					 : a->scratch_bytes(ctx, g, p->nb, (enum conv_dir)d);
		if (s > scratch)
			scratch = s;
	}
	op->scratch_bytes = scratch;
	return 0;
}

static int conv_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_priv *p = op->priv;
	int rc = p->pending[CONV_FWD] ? clcnn_conv_tune(op, io, CONV_FWD) : 0;
	return rc ? rc : p->algo[CONV_FWD]->forward(op, io);
}

static int conv_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct conv_priv *p = op->priv;
	int rc = 0;
	/* tuning first: its trial runs overwrite scratch and the gradients */
	if (io->grad_param[0] && io->grad_in[0] && (p->pending[CONV_BWD_WEIGHTS] || p->pending[CONV_BWD_DATA]))
		rc = clcnn_conv_tune_backward(op, io);
	else if (io->grad_param[0] && p->pending[CONV_BWD_WEIGHTS])
		rc = clcnn_conv_tune(op, io, CONV_BWD_WEIGHTS);
	else if (io->grad_in[0] && p->pending[CONV_BWD_DATA])
		rc = clcnn_conv_tune(op, io, CONV_BWD_DATA);
	const struct conv_algo *ad = p->algo[CONV_BWD_DATA], *aw = p->algo[CONV_BWD_WEIGHTS];
	/* the bias gradient first: it uses the front of scratch, which the algorithms then overwrite */
	if (!rc && p->g.bias && io->grad_param[1])
		rc = clcnn_conv_bias_grad(op, io);
	if (rc)
		return rc;
	if (io->grad_in[0] && io->grad_param[0] && ad == aw && ad->backward)
		return ad->backward(op, io);
	if (io->grad_param[0])
		rc = aw->backward_weights(op, io);
	if (!rc && io->grad_in[0])
		rc = ad->backward_data(op, io);
	return rc;
}

/* ------------------------------------------------------------------ cases */

#define T CLCNN_CASE_TRAIN /* conv has no train/eval difference */
/*
 * The larger GPU cases sum more products per value than .tol below allows for (L <= 288): the weight
 * and bias gradients L = batch x output plane, up to 5 x 17 x 17 = 1445, the input gradient L = output
 * channels x taps, up to 65 x 15 = 975. By the estimate of .tol (L * 2e-8), 2.9e-5: 5e-5 for the
 * cases with L > 500 (measured: 1.04e-5 at L = 1445, a weight gradient in two slices).
 */
#define IGEMM_TOL 5e-5
/*
 * Winograd F(4x4, 3x3) sums each value in a transformed domain: each transformed point sums L products
 * (input channels forward, output channels for the input gradient, images x tiles for the weight
 * gradient), and the transforms carry each product into a result with weight up to sum |A^T| |G| |B^T|
 * = 29.6 per axis where a direct tap has 3: 97 times (2-D) in the worst case, ~10 (its root) with
 * random signs. Rounding ~2^-24 sqrt(L) per sum gives ~10 x 9 taps x 2^-24 sqrt(L) = 5.4e-6 sqrt(L)
 * against 1 + |ref|; measured on [-1, 1] data up to 6.3e-6 sqrt(L) (forward, 256 channels; test-conv's
 * winograd accuracy test). The tolerance is twice that, 1.2e-5 sqrt(L), at the table's largest L, 125
 * (5 images x 25 tiles): 1.4e-4 (measured worst 4.7e-5, that weight gradient). The points 0, +-1, +-2
 * (Lavin's) have 256 in place of 97 and measured twice the error.
 */
#define WINOGRAD_TOL 1.4e-4
/*
 * F(2x2, 5x5) on the same points: sum |A^T| |G| |B^T| = 42.3 per axis where a direct tap has 5, 71.5
 * times (2-D) in the worst case, ~8.5 with random signs, over 25 taps: ~8.5 x 25 x 2^-24 sqrt(L) =
 * 1.27e-5 sqrt(L), 2.35 times the 3x3 estimate; measured up to 1.01e-5 sqrt(L) (forward, 256 channels),
 * 1.6 times the 3x3's. The tolerance is twice the estimate, 2.5e-5 sqrt(L), at the table's largest L,
 * 144 (the weight gradient of 23 x 23 outputs in 2x2 tiles): 3.0e-4.
 */
#define WINOGRAD5_TOL 3.0e-4
/* every configuration through the always-applicable algorithms */
#define BOTH(args, in) \
	{args ", algo=direct", in, T, 0}, \
	{ \
		args ", algo=im2col", in, T, 0 \
	}

static const struct clcnn_op_case conv_cases[] = {
	BOTH("out_channels=4, kernel_size=3", "1x1x7x13"),
	BOTH("out_channels=5, kernel_size=3, padding=1", "3x3x7x13"),
	BOTH("out_channels=4, kernel_size=(3,5), stride=2, padding=2", "3x3x13x7"),
	BOTH("out_channels=2, kernel_size=3, stride=3, padding=(1,0,2,1)", "3x1x13x7"),
	BOTH("out_channels=4, kernel_size=4, padding=same", "1x3x5x9"),
	BOTH("out_channels=3, kernel_size=(2,3), padding=same, dilation=2", "3x2x7x13"),
	BOTH("out_channels=4, kernel_size=3, dilation=2, padding=1", "1x3x9x5"),
	BOTH("out_channels=6, kernel_size=3, groups=2, padding=1", "3x4x7x5"),
	BOTH("out_channels=6, kernel_size=3, groups=3, padding=1, stride=2", "3x3x9x5"),
	BOTH("out_channels=3, kernel_size=(3,5), groups=3, padding=(1,2), bias=false", "1x3x5x9"),
	BOTH("out_channels=5, kernel_size=1", "3x3x5x9"),
	BOTH("out_channels=4, kernel_size=1, groups=2, bias=false", "1x4x7x13"),
	BOTH("out_channels=3, kernel_size=1, stride=2", "3x2x7x13"),
	BOTH("out_channels=3, kernel_size=3, flip=true, padding=(0,1,2,0)", "3x2x5x9"),
	BOTH("out_channels=3, kernel_size=(3,5), bias=false, flip=true, stride=(2,3), dilation=(2,1)", "3x3x13x7"),
	BOTH("out_channels=2, kernel_size=(5,9)", "3x3x5x9"),
	/* strided rows with unit-stride columns, and padding wider than the taps reach */
	BOTH("out_channels=3, kernel_size=(3,2), stride=(2,1), padding=(1,0,2,1)", "3x2x9x7"),
	BOTH("out_channels=2, kernel_size=(2,3), padding=(3,2)", "1x2x3x4"),
	BOTH("out_channels=3, kernel_size=3, padding=valid", "1x2x5x9"),
	/* chunks of 2 images, the last one partial; grouped so that every GEMM offset moves */
	{"out_channels=4, kernel_size=3, padding=1, groups=2, algo=im2col, im2col_batch=2", "3x2x7x5", T, 0},
	{"out_channels=3, kernel_size=(3,5), flip=true, stride=2, algo=im2col, im2col_batch=1", "3x1x9x13", T, 0},
	/* big enough per group (144 x 32) for the weight gradient as col * gy plus transposes */
	{"out_channels=64, kernel_size=3, padding=1, groups=2, algo=im2col, im2col_batch=2", "3x32x5x4", T, 0},
	/* m >= 256 and column panels past 32 KiB: each GEMM packs B (the forward 257 x 144 x 261, the input
	 * gradient 261 x 144 x 257, the weight gradient 261 x 257 x 144), the last chunk partial; the input
	 * gradient sums L = 257 x 9 = 2313 products (IGEMM_TOL's estimate: 4.6e-5; measured 1.07e-5, the same
	 * bits with B packed or not) */
	{"out_channels=257, kernel_size=3, padding=1, algo=im2col, im2col_batch=2", "3x29x9x8", T, IGEMM_TOL},
	{"out_channels=5, kernel_size=1, algo=gemm1x1", "3x3x5x9", T, 0},
	{"out_channels=4, kernel_size=1, groups=2, bias=false, algo=gemm1x1", "1x4x7x13", T, 0},
	{"out_channels=6, kernel_size=3, groups=3, padding=1, stride=2, algo=depthwise", "3x3x9x5", T, 0},
	{"out_channels=3, kernel_size=(3,5), groups=3, padding=(1,2), bias=false, algo=depthwise", "1x3x5x9", T, 0},
	{"out_channels=2, kernel_size=3, groups=2, dilation=2, padding=same, flip=true, algo=depthwise", "3x2x7x13", T,
	 0},
	{"out_channels=1, kernel_size=3, padding=1", "3x1x7x13", T, 0},
	/* the stride-1 configurations through the shifted implicit GEMM */
	{"out_channels=4, kernel_size=3, algo=implicit", "1x1x7x13", T, 0},
	{"out_channels=5, kernel_size=3, padding=1, algo=implicit", "3x3x7x13", T, 0},
	{"out_channels=4, kernel_size=4, padding=same, algo=implicit", "1x3x5x9", T, 0},
	{"out_channels=3, kernel_size=(2,3), padding=same, dilation=2, algo=implicit", "3x2x7x13", T, 0},
	{"out_channels=4, kernel_size=3, dilation=2, padding=1, algo=implicit", "1x3x9x5", T, 0},
	{"out_channels=6, kernel_size=3, groups=2, padding=1, algo=implicit", "3x4x7x5", T, 0},
	{"out_channels=3, kernel_size=(3,5), groups=3, padding=(1,2), bias=false, algo=implicit", "1x3x5x9", T, 0},
	{"out_channels=5, kernel_size=1, algo=implicit", "3x3x5x9", T, 0},
	{"out_channels=4, kernel_size=1, groups=2, bias=false, algo=implicit", "1x4x7x13", T, 0},
	{"out_channels=3, kernel_size=3, flip=true, padding=(0,1,2,0), algo=implicit", "3x2x5x9", T, 0},
	{"out_channels=2, kernel_size=(5,9), algo=implicit", "3x3x5x9", T, 0},
	{"out_channels=3, kernel_size=(3,2), padding=(1,0,0,1), algo=implicit", "3x2x9x7", T, 0},
	{"out_channels=3, kernel_size=3, padding=valid, algo=implicit", "1x2x5x9", T, 0},
	{"out_channels=13, kernel_size=3, padding=1, algo=implicit", "2x16x9x11", T, 0},
	/* 1x1, 16+ input channels: the weight gradient as a GEMM (channels padded to the vector width) */
	{"out_channels=9, kernel_size=1, algo=implicit", "2x20x5x7", T, 0},
	{"out_channels=5, kernel_size=1, bias=false, flip=true, algo=implicit", "3x17x6x5", T, 0},
	/* the narrow tile: row and column remainders, groups, flip */
	{"out_channels=13, kernel_size=3, padding=1, algo=implicit48", "2x16x9x11", T, 0},
	{"out_channels=6, kernel_size=3, groups=2, padding=1, bias=false, algo=implicit48", "3x4x7x5", T, 0},
	{"out_channels=3, kernel_size=(3,5), flip=true, padding=(0,1,2,0), algo=implicit48", "3x2x5x9", T, 0},
	/* several chunks of images (the weight gradient accumulates over them) */
	{"out_channels=5, kernel_size=3, padding=1, algo=implicit, im2col_batch=2", "5x3x7x6", T, 0},
	{"out_channels=5, kernel_size=3, padding=1, groups=1, algo=implicit48, im2col_batch=3", "5x4x6x7", T, 0},
	{"out_channels=6, kernel_size=1, algo=implicit, im2col_batch=2", "3x16x5x7", T, 0},
	{"out_channels=5, kernel_size=3, padding=1, algo=lanes, im2col_batch=2", "5x3x7x6", T, 0},
	{"out_channels=2, kernel_size=3, padding=1, algo=shallow, im2col_batch=2", "3x1x7x9", T, 0},
	/* the batch in the vector lanes: partial lane groups, groups, flip, dilation, even kernels */
	{"out_channels=13, kernel_size=3, padding=1, algo=lanes", "3x16x9x11", T, 0},
	{"out_channels=6, kernel_size=3, groups=2, padding=1, bias=false, algo=lanes", "3x4x7x5", T, 0},
	{"out_channels=3, kernel_size=(3,5), flip=true, padding=(0,1,2,0), algo=lanes", "3x2x5x9", T, 0},
	{"out_channels=3, kernel_size=(2,3), padding=same, dilation=2, algo=lanes", "3x2x7x13", T, 0},
	{"out_channels=4, kernel_size=4, padding=same, algo=lanes", "1x3x5x9", T, 0},
	{"out_channels=5, kernel_size=1, algo=lanes", "3x3x5x9", T, 0},
	/* strided lanes (the input gradient by phases, or im2col's with dilation): odd planes, stride 2, (2, 3)
	 * and (3, 2), asymmetric padding, flip, groups, dilation, 7x7/2 (ResNet's stem), chunks of 2 images */
	{"out_channels=13, kernel_size=3, stride=2, padding=1, algo=lanes", "3x5x9x11", T, 0},
	{"out_channels=3, kernel_size=3, stride=2, padding=(0,1,1,0), flip=true, bias=false, algo=lanes, "
	 "im2col_batch=2", "5x3x8x7", T, 0},
	{"out_channels=4, kernel_size=3, stride=(2,3), dilation=2, groups=2, padding=2, algo=lanes", "2x4x11x13", T, 0},
	{"out_channels=5, kernel_size=7, stride=2, padding=3, algo=lanes", "2x3x13x13", T, 0},
	{"out_channels=6, kernel_size=(3,4), stride=(3,2), groups=2, padding=(1,2,0,3), algo=lanes", "2x4x10x9", T, 0},
	/* few input taps: the shallow forward (8- and 16-lane rows, the last chunk overlapping, 4 lanes) */
	{"out_channels=5, kernel_size=3, padding=1, algo=shallow", "3x1x7x13", T, 0},
	{"out_channels=4, kernel_size=3, padding=1, algo=shallow", "2x3x5x20", T, 0},
	{"out_channels=3, kernel_size=(3,5), flip=true, padding=(0,1,2,0), bias=false, algo=shallow", "3x1x6x9", T, 0},
	{"out_channels=2, kernel_size=2, dilation=2, padding=same, algo=shallow", "1x2x7x5", T, 0},
	/*
	 * Winograd F(4x4, 3x3): odd planes (17x17, 27x27, 7x5) with partial edge tiles, padding 0, 1, 2,
	 * 'same' and asymmetric, channels not multiples of 16, flip, batch 1 and 5, chunks of 2 images (the
	 * weight gradient accumulates over them); WINOGRAD_TOL (the transforms amplify rounding).
	 */
	{"out_channels=13, kernel_size=3, padding=1, algo=winograd", "5x13x17x17", T, WINOGRAD_TOL},
	{"out_channels=19, kernel_size=3, padding=1, bias=false, algo=winograd", "1x17x17x17", T, WINOGRAD_TOL},
	{"out_channels=5, kernel_size=3, algo=winograd", "1x3x27x27", T, WINOGRAD_TOL},
	{"out_channels=4, kernel_size=3, padding=2, algo=winograd", "3x5x7x5", T, WINOGRAD_TOL},
	{"out_channels=6, kernel_size=3, padding=same, flip=true, bias=false, algo=winograd", "2x7x9x13", T,
	 WINOGRAD_TOL},
	{"out_channels=3, kernel_size=3, padding=(0,1,2,0), algo=winograd", "3x2x5x9", T, WINOGRAD_TOL},
	{"out_channels=5, kernel_size=3, padding=(2,0,1,2), flip=true, algo=winograd, im2col_batch=2", "5x3x7x6", T,
	 WINOGRAD_TOL},
	/*
	 * winograd_fused (CPUs; elsewhere the warning and another algorithm): odd planes with partial edge
	 * tiles, padding 0, 1, 2, 'same' and asymmetric, channels neither multiples of 8 (its output-channel
	 * blocks) nor of 16 (its lanes), lanes spanning tile rows and images, a last vector of tiles partly
	 * empty (125 tiles, 12, 1), flip, bias on and off, batch 1 to 5; WINOGRAD_TOL (winograd's rounding).
	 */
	{"out_channels=13, kernel_size=3, padding=1, algo=winograd_fused", "5x13x17x17", T, WINOGRAD_TOL},
	{"out_channels=19, kernel_size=3, padding=1, bias=false, algo=winograd_fused", "1x17x17x17", T, WINOGRAD_TOL},
	{"out_channels=21, kernel_size=3, padding=1, algo=winograd_fused", "3x37x7x7", T, WINOGRAD_TOL},
	{"out_channels=5, kernel_size=3, algo=winograd_fused", "1x3x27x27", T, WINOGRAD_TOL},
	{"out_channels=4, kernel_size=3, padding=2, algo=winograd_fused", "3x5x7x5", T, WINOGRAD_TOL},
	{"out_channels=6, kernel_size=3, padding=same, flip=true, bias=false, algo=winograd_fused", "2x7x9x13", T,
	 WINOGRAD_TOL},
	{"out_channels=3, kernel_size=3, padding=(0,1,2,0), algo=winograd_fused", "3x2x5x9", T, WINOGRAD_TOL},
	{"out_channels=5, kernel_size=3, padding=(2,0,1,2), flip=true, algo=winograd_fused", "5x3x7x6", T,
	 WINOGRAD_TOL},
	{"out_channels=2, kernel_size=3, padding=1, algo=winograd_fused", "1x1x3x3", T, WINOGRAD_TOL},
	/* winograd_fused at 5x5: odd planes, padding 0, 2, 4 and asymmetric, flip, 37 channels; WINOGRAD5_TOL */
	{"out_channels=13, kernel_size=5, padding=2, algo=winograd_fused", "5x13x9x9", T, WINOGRAD5_TOL},
	{"out_channels=21, kernel_size=5, padding=4, bias=false, algo=winograd_fused", "3x37x7x9", T, WINOGRAD5_TOL},
	{"out_channels=5, kernel_size=5, algo=winograd_fused", "1x3x27x27", T, WINOGRAD5_TOL},
	{"out_channels=5, kernel_size=5, padding=(4,0,2,3), flip=true, algo=winograd_fused", "5x3x7x6", T,
	 WINOGRAD5_TOL},
	/*
	 * F(2x2, 5x5): odd planes (9x9, 17x17, 27x27, 7x9) with partial edge tiles, padding 0, 2, 4 (the
	 * input gradient's 0), 'same' and asymmetric, odd channels, flip, batch 1 and 5, chunks of 2 images;
	 * WINOGRAD5_TOL.
	 */
	{"out_channels=13, kernel_size=5, padding=2, algo=winograd", "5x13x9x9", T, WINOGRAD5_TOL},
	{"out_channels=19, kernel_size=5, padding=2, bias=false, algo=winograd", "1x17x17x17", T, WINOGRAD5_TOL},
	{"out_channels=5, kernel_size=5, algo=winograd", "1x3x27x27", T, WINOGRAD5_TOL},
	{"out_channels=4, kernel_size=5, padding=4, algo=winograd", "3x5x7x9", T, WINOGRAD5_TOL},
	{"out_channels=6, kernel_size=5, padding=same, flip=true, bias=false, algo=winograd", "2x7x9x13", T,
	 WINOGRAD5_TOL},
	{"out_channels=3, kernel_size=5, padding=(0,1,3,4), algo=winograd", "3x2x7x9", T, WINOGRAD5_TOL},
	{"out_channels=5, kernel_size=5, padding=(4,0,2,3), flip=true, algo=winograd, im2col_batch=2", "5x3x7x6", T,
	 WINOGRAD5_TOL},
	/*
	 * The GPU implicit GEMM (forced here on any profile; test-conv-gpu runs these cases again under the
	 * GPU profile and its lowered limits): odd planes and channels, partial tiles in m, n and k,
	 * strides, asymmetric padding, dilation, groups, 1x1 to 7x7, flip, batch 1 and 5; IGEMM_TOL where
	 * L > 500.
	 */
	{"out_channels=13, kernel_size=3, padding=1, algo=igemm_gpu", "5x13x17x17", T, IGEMM_TOL},
	{"out_channels=5, kernel_size=3, stride=2, padding=(1,0,2,1), algo=igemm_gpu", "3x3x27x27", T, IGEMM_TOL},
	{"out_channels=4, kernel_size=3, dilation=2, padding=2, algo=igemm_gpu", "1x5x17x17", T, 0},
	{"out_channels=6, kernel_size=3, groups=2, padding=1, bias=false, algo=igemm_gpu", "2x10x17x17", T, IGEMM_TOL},
	{"out_channels=13, kernel_size=1, algo=igemm_gpu", "5x3x17x17", T, IGEMM_TOL},
	{"out_channels=5, kernel_size=5, stride=2, padding=2, algo=igemm_gpu", "2x3x27x27", T, 0},
	{"out_channels=5, kernel_size=7, stride=2, padding=3, algo=igemm_gpu", "1x3x27x27", T, 0},
	{"out_channels=3, kernel_size=(3,5), bias=false, flip=true, stride=(2,3), dilation=(2,1), algo=igemm_gpu",
	 "3x3x13x7", T, 0},
	{"out_channels=70, kernel_size=3, padding=1, algo=igemm_gpu", "2x13x9x9", T, IGEMM_TOL},
	{"out_channels=65, kernel_size=(3,5), padding=(2,0,1,2), flip=true, algo=igemm_gpu", "2x3x7x9", T, IGEMM_TOL},
	{"out_channels=6, kernel_size=3, groups=3, padding=1, stride=2, algo=igemm_gpu", "3x3x9x5", T, 0},
	{"out_channels=2, kernel_size=(2,3), padding=(3,2), algo=igemm_gpu", "1x2x3x4", T, 0},
	{"out_channels=13, kernel_size=3, padding=1, algo=igemm_gpu32", "5x13x17x17", T, IGEMM_TOL},
	{"out_channels=5, kernel_size=3, stride=2, padding=(1,0,2,1), groups=1, algo=igemm_gpu32", "3x3x27x27", T,
	 IGEMM_TOL},
	{"out_channels=3, kernel_size=(3,5), flip=true, stride=(2,3), dilation=(2,1), algo=igemm_gpu32", "3x3x13x7", T,
	 0},
	{"out_channels=70, kernel_size=3, groups=2, padding=1, algo=igemm_gpu32", "2x14x9x9", T, 0},
	/* igemm_gpu128: 128 x 128 tiles with 8 x 8 a work-item, k step 8 (tile edges, groups, odd k) */
	{"out_channels=13, kernel_size=3, padding=1, algo=igemm_gpu128", "5x13x17x17", T, IGEMM_TOL},
	{"out_channels=5, kernel_size=5, stride=2, padding=2, algo=igemm_gpu128", "2x3x27x27", T, 0},
	{"out_channels=3, kernel_size=(3,5), flip=true, stride=(2,3), dilation=(2,1), algo=igemm_gpu128", "3x3x13x7", T,
	 0},
	{"out_channels=140, kernel_size=3, groups=2, padding=1, algo=igemm_gpu128", "2x14x9x9", T, IGEMM_TOL},
#ifdef CLCNN_HAVE_CLBLAST
	/* CLBlast compiles for seconds and runs slowly on POCL: small cases, with and without groups */
	{"out_channels=5, kernel_size=3, padding=1, algo=im2col_clblast", "3x3x7x13", T, 0},
	{"out_channels=64, kernel_size=3, stride=2, padding=(1,0,2,1), groups=2, algo=im2col_clblast", "3x32x5x4", T,
	 0},
#endif
	{NULL, NULL, 0, 0},
};
#undef BOTH
#undef T
#undef IGEMM_TOL
#undef WINOGRAD_TOL
#undef WINOGRAD5_TOL

const struct clcnn_op_class clcnn_op_conv2d = {
	.name = "conv2d",
	.family = "conv",
	.doc = "2-D convolution (torch.nn.Conv2d; flip=true for true convolution)",
	.args_size = sizeof(struct conv_args),
	.args = conv_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = conv_setup,
	.prepare = conv_prepare,
	.ref_forward = conv_ref_forward,
	.ref_backward = conv_ref_backward,
	.forward = conv_forward,
	.backward = conv_backward,
	.saves = clcnn_saves_input0,
	.destroy = conv_destroy,
	.flops = conv_flops,
	.algo = conv_algo_name,
	.cases = conv_cases,
	/*
	 * Each device value is a float32 sum of L products of numbers in [-1, 1]: over the table L <= 144
	 * (16 channels x 3x3) for the output, <= 288 (32 outputs x 3x3) for the input gradient and <= 273
	 * (batch x plane, 3x7x13) for the weight and bias gradients. Rounding errors of a sum in any order
	 * are ~2^-24 times each partial sum with random signs, ~sqrt(L) * 2^-24 * sqrt(L)/3 ~ L * 2e-8
	 * <= 6e-6 against 1 + |ref| (the worst-case bound L^2 * 2^-24 is loose); measured worst 2.5e-6.
	 * 1e-5 keeps a systematic slip (a lost tap, an off-by-one padding row) visible.
	 */
	.tol = 1e-5,
	.window = conv_window,
};
