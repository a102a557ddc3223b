/*
 * Pooling: maxpool2d, avgpool2d (torch.nn.MaxPool2d / AvgPool2d, PyTorch 1.13 semantics including
 * ceil_mode, count_include_pad and divisor_override) and global_avgpool2d / global_maxpool2d
 * (AdaptiveAvgPool2d(1) / AdaptiveMaxPool2d(1)). Kernels in cl/pool.cl.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "ops/pool.h"

struct pool_args {
	int kernel_size[2], stride[2], padding[2], dilation[2];
	int ceil_mode, count_include_pad, divisor_override;
};

static const struct clcnn_arg maxpool_keys[] = {
	{"kernel_size", CLCNN_ARG_INT2, offsetof(struct pool_args, kernel_size), NULL, NULL, "window (h,w)"},
	{"stride", CLCNN_ARG_INT2, offsetof(struct pool_args, stride), "0", NULL, "step (h,w); 0 = kernel_size"},
	{"padding", CLCNN_ARG_INT2, offsetof(struct pool_args, padding), "0", NULL,
	 "implicit -inf padding (h,w) on both sides, at most kernel_size/2"},
	{"dilation", CLCNN_ARG_INT2, offsetof(struct pool_args, dilation), "1", NULL, "spacing of window taps"},
	{"ceil_mode", CLCNN_ARG_BOOL, offsetof(struct pool_args, ceil_mode), "false", NULL,
	 "round the output size up (a window must still start inside the input or left padding)"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg avgpool_keys[] = {
	{"kernel_size", CLCNN_ARG_INT2, offsetof(struct pool_args, kernel_size), NULL, NULL, "window (h,w)"},
	{"stride", CLCNN_ARG_INT2, offsetof(struct pool_args, stride), "0", NULL, "step (h,w); 0 = kernel_size"},
	{"padding", CLCNN_ARG_INT2, offsetof(struct pool_args, padding), "0", NULL,
	 "implicit zero padding (h,w) on both sides, at most kernel_size/2"},
	{"ceil_mode", CLCNN_ARG_BOOL, offsetof(struct pool_args, ceil_mode), "false", NULL,
	 "round the output size up (a window must still start inside the input or left padding)"},
	{"count_include_pad", CLCNN_ARG_BOOL, offsetof(struct pool_args, count_include_pad), "true", NULL,
	 "divide by the window clipped to the padded input (else: to the real input)"},
	{"divisor_override", CLCNN_ARG_INT, offsetof(struct pool_args, divisor_override), "0", NULL,
	 "divide every window by this (0 = none)"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg no_keys[] = {{NULL, 0, 0, NULL, NULL, NULL}};

extern const struct clcnn_op_class clcnn_op_maxpool2d;

/* ------------------------------------------------------------------ shared helpers */

int clcnn_pool_check_4d(const struct clcnn_op *op, char *err, size_t errlen)
{
	char s[64];
	if (op->in[0].ndim != 4)
		return clcnn_op_invalid(err, errlen, "%s: input must be 4-D NCHW, got %s", op->cls->name,
					clcnn_shape_str(&op->in[0], s, sizeof s));
	if (clcnn_shape_count(&op->in[0]) > INT_MAX)
		return clcnn_op_invalid(err, errlen, "%s: input %s has more than 2^31 elements", op->cls->name,
					clcnn_shape_str(&op->in[0], s, sizeof s));
	return 0;
}

/* A GPU-profile work-group size for k: at least lim.simd items (a full warp), within what the kernel
 * and the device allow. */
static size_t gpu_group(struct clcnn_context *ctx, cl_kernel k, size_t want)
{
	size_t simd = ctx->lim.simd > 0 ? (size_t)ctx->lim.simd : 1, max = clcnn_kernel_max_wg(ctx, k);
	if (want < simd)
		want = simd;
	return want > max ? max : want;
}

int clcnn_pool_run3d(struct clcnn_context *ctx, cl_kernel k, int w, int h, int planes)
{
	size_t lx = w >= 64 ? 64 : (size_t)(w + 7) / 8 * 8, ly = 64 / lx;
	if (ly > (size_t)h)
		ly = (size_t)h;
	if (clcnn_is_gpu(ctx)) {
		/* short planes: widen x until the group fills a warp, then fit the kernel's limit */
		size_t group = gpu_group(ctx, k, lx * ly);
		if (lx * ly < group)
			lx = (group + ly - 1) / ly;
		while (lx * ly > group && ly > 1)
			ly /= 2;
		if (lx * ly > group)
			lx = group;
		if (lx > ctx->lim.max_items[0] && ctx->lim.max_items[0])
			lx = ctx->lim.max_items[0];
	}
	size_t global[3] = {(size_t)w, (size_t)h, (size_t)planes}, local[3] = {lx, ly, 1};
	return clcnn_kernel_run(ctx, k, 3, global, local);
}

static const char *pair_str(const int *v, char *buf, size_t n)
{
	if (v[0] == v[1])
		snprintf(buf, n, "%d", v[0]);
	else
		snprintf(buf, n, "(%d,%d)", v[0], v[1]);
	return buf;
}

/* PyTorch's pooling_output_shape: with ceil_mode the last window must start inside the input or
 * the left padding, so a window that would start in the right padding is dropped. */
static long long pool_out_size(int in, int k, int s, int p, int d, int ceil_mode)
{
	/* 64-bit: the arguments are any ints; >= 0 once setup has checked the kernel fits */
	long long span = (long long)in + 2LL * p - (long long)d * (k - 1) - 1;
	long long out = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
	if (ceil_mode && (out - 1) * s >= (long long)in + p)
		out--;
	return out;
}

static int pool_geom(const struct clcnn_op *op, struct clcnn_pool_geom *g, char *err, size_t errlen)
{
	const struct pool_args *a = op->args;
	const char *name = op->cls->name;
	int dilated = op->cls == &clcnn_op_maxpool2d;
	char b[32];
	int rc = clcnn_pool_check_4d(op, err, errlen);
	if (rc)
		return rc;
	*g = (struct clcnn_pool_geom){.n = op->in[0].d[0],
				      .c = op->in[0].d[1],
				      .h = op->in[0].d[2],
				      .w = op->in[0].d[3],
				      .kh = a->kernel_size[0],
				      .kw = a->kernel_size[1],
				      .sh = a->stride[0],
				      .sw = a->stride[1],
				      .ph = a->padding[0],
				      .pw = a->padding[1],
				      .dh = dilated ? a->dilation[0] : 1,
				      .dw = dilated ? a->dilation[1] : 1};
	if (g->kh < 1 || g->kw < 1)
		return clcnn_op_invalid(err, errlen, "%s: kernel_size must be >= 1, got %s", name,
					pair_str(a->kernel_size, b, sizeof b));
	if (g->sh == 0 && g->sw == 0) {
		g->sh = g->kh;
		g->sw = g->kw;
	} else if (g->sh < 1 || g->sw < 1) {
		return clcnn_op_invalid(err, errlen, "%s: stride must be >= 1 (or 0 for kernel_size), got %s", name,
					pair_str(a->stride, b, sizeof b));
	}
	if (g->dh < 1 || g->dw < 1)
		return clcnn_op_invalid(err, errlen, "%s: dilation must be >= 1, got %s", name,
					pair_str(a->dilation, b, sizeof b));
	if (g->ph < 0 || g->pw < 0)
		return clcnn_op_invalid(err, errlen, "%s: padding must be >= 0, got %s", name,
					pair_str(a->padding, b, sizeof b));
	for (int d = 0; d < 2; d++) {
		int k = d ? g->kw : g->kh, p = d ? g->pw : g->ph, dil = d ? g->dw : g->dh, in = d ? g->w : g->h;
		const char *dim = d ? "width" : "height";
		if (p > k / 2)
			return clcnn_op_invalid(err, errlen,
						"%s: padding %d is more than half of kernel_size %d in %s (PyTorch "
						"requires padding <= kernel_size / 2)",
						name, p, k, dim);
		long long ek = (long long)dil * (k - 1) + 1, padded = (long long)in + 2LL * p;
		if (ek > padded) {
			if (dil > 1)
				return clcnn_op_invalid(
					err, errlen,
					"%s: dilated kernel %lld (kernel_size %d, dilation %d) larger than "
					"padded input %s %lld",
					name, ek, k, dil, dim, padded);
			return clcnn_op_invalid(err, errlen, "%s: kernel %d larger than padded input %s %lld", name, k,
						dim, padded);
		}
		long long out = pool_out_size(in, k, d ? g->sw : g->sh, p, dil, a->ceil_mode);
		if (out > INT_MAX)
			return clcnn_op_invalid(err, errlen, "%s: output %s %lld is too large", name, dim, out);
	}
	if (!dilated && a->divisor_override < 0)
		return clcnn_op_invalid(err, errlen, "%s: divisor_override must be >= 1 (0 = none), got %d", name,
					a->divisor_override);
	g->oh = (int)pool_out_size(g->h, g->kh, g->sh, g->ph, g->dh, a->ceil_mode);
	g->ow = (int)pool_out_size(g->w, g->kw, g->sw, g->pw, g->dw, a->ceil_mode);
	return 0;
}

/* Setup already validated the args: the geometry cannot fail here. */
static struct clcnn_pool_geom geom_of(const struct clcnn_op *op)
{
	struct clcnn_pool_geom g;
	char e[8];
	pool_geom(op, &g, e, sizeof e);
	return g;
}

/* The geometry, and PV: vector lanes per chunk of a row, at most the narrower of the two rows, and on
 * a GPU profile at most the device's vector width (wide private vectors cost GPU registers). */
static char *geom_options(struct clcnn_context *ctx, const struct clcnn_pool_geom *g, char *buf, size_t n)
{
	int narrow = g->w < g->ow ? g->w : g->ow, pv = narrow >= 8 ? 8 : narrow >= 4 ? 4 : narrow >= 2 ? 2 : 1;
	while (clcnn_is_gpu(ctx) && pv > 1 && pv > ctx->lim.vector_width)
		pv /= 2;
	snprintf(buf, n,
		 "-DKH=%d -DKW=%d -DSH=%d -DSW=%d -DPH=%d -DPW=%d -DDH=%d -DDW=%d -DPIH=%d -DPIW=%d -DPOH=%d -DPOW=%d "
		 "-DPV=%d",
		 g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->h, g->w, g->oh, g->ow, pv);
	return buf;
}

int clcnn_pool_kernel(struct clcnn_context *ctx, const char *name, const char *options, cl_kernel *k)
{
	char opt[400];
	snprintf(opt, sizeof opt, "-DPOOL_KERNEL_%s %s", name, options);
	return clcnn_kernel_get(ctx, "pool", opt, name, k);
}

/* Row kernels (cl/pool.cl): one work-item per row of the plane side they write. */
static int run_rows(struct clcnn_context *ctx, cl_kernel k, int rows)
{
	size_t n = (size_t)rows, local = clcnn_is_gpu(ctx) ? gpu_group(ctx, k, 64) : 64;
	return clcnn_kernel_run(ctx, k, 1, &n, &local);
}

static int pool_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	struct clcnn_pool_geom g;
	int rc = pool_geom(op, &g, err, errlen);
	if (rc)
		return rc;
	op->out = clcnn_shape4(g.n, g.c, g.oh, g.ow);
	if (op->cls == &clcnn_op_maxpool2d)
		op->state_bytes = clcnn_shape_count(&op->out) * sizeof(cl_int);
	return 0;
}

void clcnn_pool_fill_distinct(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	(void)input;
	(void)param;
	size_t plane = (size_t)op->in[0].d[2] * (size_t)op->in[0].d[3];
	for (size_t p0 = 0; p0 < n; p0 += plane) {
		size_t m = plane < n - p0 ? plane : n - p0;
		double *v = x + p0;
		for (size_t i = 0; i < m; i++)
			v[i] = (double)i;
		for (size_t i = m - 1; i > 0; i--) {
			size_t j = (size_t)clcnn_test_uniform(rng, 0, (double)(i + 1));
			double t = v[i];
			v[i] = v[j > i ? i : j];
			v[j > i ? i : j] = t;
		}
		for (size_t i = 0; i < m; i++)
			v[i] = (v[i] - (double)(m - 1) / 2) * 0.05 + clcnn_test_uniform(rng, -0.004, 0.004);
	}
}

/* ------------------------------------------------------------------ max pooling */

int clcnn_pool_ref_argmax(const struct clcnn_pool_geom *g, const double *plane, int oh, int ow)
{
	double best = -INFINITY;
	int bi = -1;
	for (int i = 0; i < g->kh; i++) {
		int ih = oh * g->sh - g->ph + i * g->dh;
		if (ih < 0 || ih >= g->h)
			continue;
		for (int j = 0; j < g->kw; j++) {
			int iw = ow * g->sw - g->pw + j * g->dw;
			if (iw < 0 || iw >= g->w)
				continue;
			double v = plane[ih * g->w + iw];
			if (bi < 0 || v > best || isnan(v)) {
				best = v;
				bi = ih * g->w + iw;
			}
		}
	}
	return bi;
}

static void maxpool_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	struct clcnn_pool_geom g = geom_of(op);
	for (int p = 0; p < g.n * g.c; p++) {
		const double *x = io->in[0] + (size_t)p * g.h * g.w;
		double *y = io->out + (size_t)p * g.oh * g.ow;
		for (int oh = 0; oh < g.oh; oh++)
			for (int ow = 0; ow < g.ow; ow++)
				y[oh * g.ow + ow] = x[clcnn_pool_ref_argmax(&g, x, oh, ow)];
	}
}

static void maxpool_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	struct clcnn_pool_geom g = geom_of(op);
	if (!io->grad_in[0])
		return;
	memset(io->grad_in[0], 0, clcnn_shape_count(&op->in[0]) * sizeof(double));
	for (int p = 0; p < g.n * g.c; p++) {
		const double *x = io->in[0] + (size_t)p * g.h * g.w;
		double *gx = io->grad_in[0] + (size_t)p * g.h * g.w;
		const double *gy = io->grad_out + (size_t)p * g.oh * g.ow;
		for (int oh = 0; oh < g.oh; oh++)
			for (int ow = 0; ow < g.ow; ow++)
				gx[clcnn_pool_ref_argmax(&g, x, oh, ow)] += gy[oh * g.ow + ow];
	}
}

int clcnn_pool_dev_max_forward(struct clcnn_context *ctx, const struct clcnn_pool_geom *g, cl_mem x, cl_mem y,
			       cl_mem arg)
{
	char opt[224];
	cl_kernel k;
	int rows = g->n * g->c * g->oh;
	int rc = clcnn_pool_kernel(ctx, "maxpool_fwd", geom_options(ctx, g, opt, sizeof opt), &k);
	if (!rc)
		rc = clcnn_kernel_args(ctx, k, KARG(x), KARG(y), KARG(arg), KARG(rows));
	return rc ? rc : run_rows(ctx, k, rows);
}

int clcnn_pool_dev_max_backward(struct clcnn_context *ctx, const struct clcnn_pool_geom *g, cl_mem gy, cl_mem arg,
				cl_mem gx)
{
	char opt[224];
	cl_kernel k;
	int rows = g->n * g->c * g->h;
	int rc = clcnn_pool_kernel(ctx, "maxpool_bwd", geom_options(ctx, g, opt, sizeof opt), &k);
	if (!rc)
		rc = clcnn_kernel_args(ctx, k, KARG(gy), KARG(arg), KARG(gx), KARG(rows));
	return rc ? rc : run_rows(ctx, k, rows);
}

static int maxpool_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	struct clcnn_pool_geom g = geom_of(op);
	return clcnn_pool_dev_max_forward(op->ctx, &g, io->in[0], io->out, io->state);
}

static int maxpool_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	struct clcnn_pool_geom g = geom_of(op);
	if (!io->grad_in[0])
		return 0;
	return clcnn_pool_dev_max_backward(op->ctx, &g, io->grad_out, io->state, io->grad_in[0]);
}

/* ------------------------------------------------------------------ average pooling */

/* PyTorch's divisor for window (oh, ow), see avg_pool2d_out_frame. */
static int avg_divisor(const struct clcnn_pool_geom *g, const struct pool_args *a, int oh, int ow)
{
	int h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;
	int h1 = h0 + g->kh < g->h + g->ph ? h0 + g->kh : g->h + g->ph;
	int w1 = w0 + g->kw < g->w + g->pw ? w0 + g->kw : g->w + g->pw;
	if (a->divisor_override)
		return a->divisor_override;
	if (a->count_include_pad)
		return (h1 - h0) * (w1 - w0);
	int rh = (h1 < g->h ? h1 : g->h) - (h0 > 0 ? h0 : 0), rw = (w1 < g->w ? w1 : g->w) - (w0 > 0 ? w0 : 0);
	return rh * rw;
}

/* Forward sums each window's real elements; backward spreads each output gradient over them. */
static void avgpool_ref(const struct clcnn_op *op, const struct clcnn_ref_io *io, int backward)
{
	struct clcnn_pool_geom g = geom_of(op);
	const struct pool_args *a = op->args;
	if (backward)
		memset(io->grad_in[0], 0, clcnn_shape_count(&op->in[0]) * sizeof(double));
	for (int p = 0; p < g.n * g.c; p++)
		for (int oh = 0; oh < g.oh; oh++)
			for (int ow = 0; ow < g.ow; ow++) {
				size_t o = ((size_t)p * g.oh + oh) * g.ow + ow;
				double div = avg_divisor(&g, a, oh, ow), sum = 0;
				for (int i = 0; i < g.kh; i++)
					for (int j = 0; j < g.kw; j++) {
						int ih = oh * g.sh - g.ph + i, iw = ow * g.sw - g.pw + j;
						if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w)
							continue;
						size_t e = ((size_t)p * g.h + ih) * g.w + iw;
						if (backward)
							io->grad_in[0][e] += io->grad_out[o] / div;
						else
							sum += io->in[0][e];
					}
				if (!backward)
					io->out[o] = sum / div;
			}
}

static void avgpool_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	avgpool_ref(op, io, 0);
}

static void avgpool_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	if (io->grad_in[0])
		avgpool_ref(op, io, 1);
}

static int avgpool_launch(struct clcnn_op *op, const char *name, cl_mem src, cl_mem dst, int per_input)
{
	struct clcnn_pool_geom g = geom_of(op);
	const struct pool_args *a = op->args;
	char opt[288], base[224];
	cl_kernel k;
	int rows = g.n * g.c * (per_input ? g.h : g.oh);
	snprintf(opt, sizeof opt, "%s -DCOUNT_PAD=%d -DDIVISOR=%d", geom_options(op->ctx, &g, base, sizeof base),
		 a->count_include_pad, a->divisor_override);
	int rc = clcnn_pool_kernel(op->ctx, name, opt, &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(dst), KARG(rows));
	return rc ? rc : run_rows(op->ctx, k, rows);
}

static int avgpool_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return avgpool_launch(op, "avgpool_fwd", io->in[0], io->out, 0);
}

static int avgpool_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return io->grad_in[0] ? avgpool_launch(op, "avgpool_bwd", io->grad_out, io->grad_in[0], 1) : 0;
}

/* ------------------------------------------------------------------ global pooling */

extern const struct clcnn_op_class clcnn_op_global_maxpool2d;

static int global_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	int rc = clcnn_pool_check_4d(op, err, errlen);
	if (rc)
		return rc;
	op->out = clcnn_shape4(op->in[0].d[0], op->in[0].d[1], 1, 1);
	if (op->cls == &clcnn_op_global_maxpool2d)
		op->state_bytes = clcnn_shape_count(&op->out) * sizeof(cl_int);
	return 0;
}

static void global_avg_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	size_t hw = (size_t)op->in[0].d[2] * op->in[0].d[3], planes = clcnn_shape_count(&op->out);
	for (size_t p = 0; p < planes; p++) {
		double s = 0;
		for (size_t i = 0; i < hw; i++)
			s += io->in[0][p * hw + i];
		io->out[p] = s / (double)hw;
	}
}

static void global_avg_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	size_t hw = (size_t)op->in[0].d[2] * op->in[0].d[3], planes = clcnn_shape_count(&op->out);
	if (!io->grad_in[0])
		return;
	for (size_t p = 0; p < planes; p++)
		for (size_t i = 0; i < hw; i++)
			io->grad_in[0][p * hw + i] = io->grad_out[p] / (double)hw;
}

/* AdaptiveMaxPool2d's scan: first maximum wins, NaN propagates. */
static size_t global_argmax(const double *x, size_t hw)
{
	size_t bi = 0;
	for (size_t i = 1; i < hw; i++)
		if (x[i] > x[bi] || isnan(x[i]))
			bi = i;
	return bi;
}

static void global_max_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	size_t hw = (size_t)op->in[0].d[2] * op->in[0].d[3], planes = clcnn_shape_count(&op->out);
	for (size_t p = 0; p < planes; p++)
		io->out[p] = io->in[0][p * hw + global_argmax(io->in[0] + p * hw, hw)];
}

static void global_max_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	size_t hw = (size_t)op->in[0].d[2] * op->in[0].d[3], planes = clcnn_shape_count(&op->out);
	if (!io->grad_in[0])
		return;
	memset(io->grad_in[0], 0, planes * hw * sizeof(double));
	for (size_t p = 0; p < planes; p++)
		io->grad_in[0][p * hw + global_argmax(io->in[0] + p * hw, hw)] = io->grad_out[p];
}

/* One work-item per plane: (x, y[, arg], hw, planes) forward, (gy[, arg], gx, hw, planes) backward. */
static int global_launch(struct clcnn_op *op, const char *name, cl_mem a0, cl_mem a1, cl_mem arg, int forward)
{
	cl_kernel k;
	int hw = op->in[0].d[2] * op->in[0].d[3], planes = (int)clcnn_shape_count(&op->out);
	cl_mem second = forward ? a1 : arg, third = forward ? arg : a1;
	int rc = clcnn_pool_kernel(op->ctx, name, "", &k);
	if (rc)
		return rc;
	if (!arg)
		rc = clcnn_kernel_args(op->ctx, k, KARG(a0), KARG(a1), KARG(hw), KARG(planes));
	else
		rc = clcnn_kernel_args(op->ctx, k, KARG(a0), KARG(second), KARG(third), KARG(hw), KARG(planes));
	return rc ? rc : run_rows(op->ctx, k, planes);
}

static int global_avg_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return global_launch(op, "global_avg_fwd", io->in[0], io->out, NULL, 1);
}

static int global_avg_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return io->grad_in[0] ? global_launch(op, "global_avg_bwd", io->grad_out, io->grad_in[0], NULL, 0) : 0;
}

static int global_max_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return global_launch(op, "global_max_fwd", io->in[0], io->out, io->state, 1);
}

static int global_max_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return io->grad_in[0] ? global_launch(op, "global_max_bwd", io->grad_out, io->grad_in[0], io->state, 0) : 0;
}

/* ------------------------------------------------------------------ cases and classes */

/*
 * Pooling behaves the same in training and evaluation, so most cases run in training mode only;
 * the first case of each class runs both to show it. Shapes are odd and H != W; the ceil_mode
 * cases on 6x5 have, in height, a last window running past the padded edge (k3 s2 p1) and, in
 * width, a window that would start in the right padding and is dropped (k2 s2 p1).
 */
static const struct clcnn_op_case maxpool_cases[] = {
	{"kernel_size=2", "1x1x7x9", 0, 0},
	{"kernel_size=3, stride=2, padding=1", "3x3x13x6", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=1", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=2, stride=3", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=(3,2), stride=(2,1), padding=(1,0)", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, dilation=2, padding=1", "3x3x13x6", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=1, dilation=(2,1)", "1x1x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=2, ceil_mode=true", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=(3,2), stride=2, padding=1, ceil_mode=true", "3x3x6x5", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=true", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	/* rows wide enough for 8-lane chunks (the last one overlapping): k2 s2 pairs lanes, odd widths
	 * and ceil_mode leave a column, stride 1 loads whole, stride 3 gathers, padding masks borders */
	{"kernel_size=2", "2x3x6x20", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=2", "1x2x7x37", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=2, ceil_mode=true", "1x2x5x17", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=2, padding=1", "2x2x9x21", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=1, padding=1", "1x2x5x19", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=(2,3), stride=(1,3), dilation=(1,2)", "1x2x4x30", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case avgpool_cases[] = {
	{"kernel_size=2", "1x1x7x9", 0, 0},
	{"kernel_size=3, stride=2, padding=1", "3x3x13x6", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=2, padding=1, count_include_pad=false", "3x3x13x6", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=1", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=2, stride=3", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=(1,2), padding=(0,1)", "1x1x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=2, ceil_mode=true", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=(3,2), stride=2, padding=1, ceil_mode=true", "3x3x6x5", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=(3,2), stride=2, padding=1, ceil_mode=true, count_include_pad=false", "3x3x6x5", CLCNN_CASE_TRAIN,
	 0},
	{"kernel_size=3, stride=2, padding=1, ceil_mode=true, divisor_override=5", "1x3x6x5", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=2, padding=1, count_include_pad=false, divisor_override=3", "3x1x7x9", CLCNN_CASE_TRAIN, 0},
	/* 8-lane rows, as for maxpool2d */
	{"kernel_size=2", "2x3x6x20", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=2, padding=1, count_include_pad=false", "2x2x9x21", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, stride=1, padding=1, ceil_mode=true", "1x2x5x19", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case global_cases[] = {
	{"", "1x1x7x9", 0, 0},
	{"", "3x3x13x6", CLCNN_CASE_TRAIN, 0},
	{"", "3x2x1x1", CLCNN_CASE_TRAIN, 0},
	{"", "1x3x1x7", CLCNN_CASE_TRAIN, 0},
	{"", "1x2x17x15", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

static void pool_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	const struct pool_args *a = op->args;
	int dflt = a->stride[0] == 0 && a->stride[1] == 0; /* stride 0 = kernel_size, as pool_geom */
	for (int i = 0; i < 2; i++) {
		w->kernel[i] = a->kernel_size[i];
		w->stride[i] = dflt ? a->kernel_size[i] : a->stride[i];
		w->dilation[i] = op->cls == &clcnn_op_maxpool2d ? a->dilation[i] : 1;
		w->pad[i] = a->padding[i];
	}
}

/* max: one comparison per window tap; average: one add per tap and a division per output */
static double pool_flops(const struct clcnn_op *op)
{
	const struct pool_args *a = op->args;
	double taps = (double)a->kernel_size[0] * a->kernel_size[1];
	return (double)clcnn_shape_count(&op->out) * (op->cls == &clcnn_op_maxpool2d ? taps : taps + 1);
}

static void global_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	(void)op;
	w->kernel[0] = w->kernel[1] = 0;
}

static double global_flops(const struct clcnn_op *op)
{
	double hw = (double)op->in[0].d[2] * op->in[0].d[3];
	return (double)clcnn_shape_count(&op->out) * (op->cls == &clcnn_op_global_maxpool2d ? hw : hw + 1);
}

/*
 * Tolerances (|dev - ref| <= tol * (1 + |ref|), inputs and gradients of magnitude <= ~3):
 * max pooling copies values exactly; its gradient sums at most KH*KW <= 9 float terms:
 *   ~9 * 2^-24 = 5e-7 -> 1e-6.
 * avgpool2d sums <= 9 terms and divides (forward), or sums <= 9 quotients (backward):
 *   ~2 * 9 * 2^-24 = 1.1e-6 -> 2e-6.
 * global_avgpool2d sums a plane in 8 interleaved partial sums, combined pairwise, then the < 8
 *   tail: ~(HW/8 + 3 + 7) * 2^-24, HW <= 255 in the cases -> 42 * 6e-8 = 2.5e-6 -> 4e-6.
 * global_maxpool2d copies values (forward) and gradients (backward) exactly.
 */
const struct clcnn_op_class clcnn_op_maxpool2d = {
	.name = "maxpool2d",
	.family = "pool",
	.doc = "max over sliding windows (torch.nn.MaxPool2d); gradient to the first maximum",
	.args_size = sizeof(struct pool_args),
	.args = maxpool_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = pool_setup,
	.ref_forward = maxpool_ref_forward,
	.ref_backward = maxpool_ref_backward,
	.forward = maxpool_forward,
	.backward = maxpool_backward,
	.saves = clcnn_saves_nothing, /* the argmax is its state */
	.fill = clcnn_pool_fill_distinct,
	.cases = maxpool_cases,
	.tol = 1e-6,
	.flops = pool_flops,
	.window = pool_window,
};

const struct clcnn_op_class clcnn_op_avgpool2d = {
	.name = "avgpool2d",
	.family = "pool",
	.doc = "mean over sliding windows (torch.nn.AvgPool2d)",
	.args_size = sizeof(struct pool_args),
	.args = avgpool_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = pool_setup,
	.ref_forward = avgpool_ref_forward,
	.ref_backward = avgpool_ref_backward,
	.forward = avgpool_forward,
	.backward = avgpool_backward,
	.saves = clcnn_saves_nothing,
	.cases = avgpool_cases,
	.tol = 2e-6,
	.flops = pool_flops,
	.window = pool_window,
};

const struct clcnn_op_class clcnn_op_global_avgpool2d = {
	.name = "global_avgpool2d",
	.family = "pool",
	.doc = "mean of each channel plane, NxCxHxW -> NxCx1x1 (torch.nn.AdaptiveAvgPool2d(1))",
	.args_size = 0,
	.args = no_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = global_setup,
	.ref_forward = global_avg_ref_forward,
	.ref_backward = global_avg_ref_backward,
	.forward = global_avg_forward,
	.backward = global_avg_backward,
	.saves = clcnn_saves_nothing,
	.cases = global_cases,
	.tol = 4e-6,
	.flops = global_flops,
	.window = global_window,
};

const struct clcnn_op_class clcnn_op_global_maxpool2d = {
	.name = "global_maxpool2d",
	.family = "pool",
	.doc = "max of each channel plane, NxCxHxW -> NxCx1x1 (torch.nn.AdaptiveMaxPool2d(1))",
	.args_size = 0,
	.args = no_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = global_setup,
	.ref_forward = global_max_ref_forward,
	.ref_backward = global_max_ref_backward,
	.forward = global_max_forward,
	.backward = global_max_backward,
	.saves = clcnn_saves_nothing, /* the argmax is its state */
	.fill = clcnn_pool_fill_distinct,
	.cases = global_cases,
	.tol = 1e-7,
	.flops = global_flops,
	.window = global_window,
};
