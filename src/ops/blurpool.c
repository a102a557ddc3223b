/*
 * Anti-aliased downsampling (Zhang 2019, "Making Convolutional Networks Shift-Invariant Again",
 * github.com/adobe/antialiased-cnns):
 *   blurpool2d    = pad ((f-1)//2 before, ceil((f-1)/2) after; reflect, replicate or zero), then a
 *                   depthwise conv with the normalised outer product of binomial row f, at stride s;
 *   maxblurpool2d = MaxPool2d(kernel_size, stride=1) followed by blurpool2d (the reference's
 *                   "MaxBlurPool"); forward keeps the max argmax and the pooled plane.
 * No learnable parameters. Kernels in cl/pool.cl.
 */
#include <math.h>
#include <string.h>

#include "../../cl/pool.h" /* BLUR_PAD_*: the kernel ids, shared with the kernels */
#include "ops/pool.h"

static const char *const pad_types[] =
	{[BLUR_PAD_REFLECT] = "reflect", [BLUR_PAD_REPLICATE] = "replicate", [BLUR_PAD_ZERO] = "zero", NULL};

#define MAX_FILT 7

struct blur_args {
	int kernel_size[2]; /* maxblurpool2d only */
	int filt_size, stride, pad_type;
};

static const struct clcnn_arg blurpool_keys[] = {
	{"filt_size", CLCNN_ARG_INT, offsetof(struct blur_args, filt_size), "3", NULL,
	 "blur filter width 1..7 (binomial row: 2=[1,1], 3=[1,2,1], ...)"},
	{"stride", CLCNN_ARG_INT, offsetof(struct blur_args, stride), "2", NULL, "downsampling step"},
	{"pad_type", CLCNN_ARG_ENUM, offsetof(struct blur_args, pad_type), "reflect", pad_types,
	 "padding of the blur: reflect (as the reference), replicate or zero"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg maxblurpool_keys[] = {
	{"kernel_size", CLCNN_ARG_INT2, offsetof(struct blur_args, kernel_size), "2", NULL,
	 "max-pool window (h,w), applied at stride 1 without padding"},
	{"filt_size", CLCNN_ARG_INT, offsetof(struct blur_args, filt_size), "3", NULL,
	 "blur filter width 1..7 (binomial row: 2=[1,1], 3=[1,2,1], ...)"},
	{"stride", CLCNN_ARG_INT, offsetof(struct blur_args, stride), "2", NULL, "downsampling step of the blur"},
	{"pad_type", CLCNN_ARG_ENUM, offsetof(struct blur_args, pad_type), "reflect", pad_types,
	 "padding of the blur: reflect (as the reference), replicate or zero"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

extern const struct clcnn_op_class clcnn_op_maxblurpool2d;

/* The blur stage: its input plane h x w (for maxblurpool2d, the max-pooled plane). */
struct blur_geom {
	int n, c, h, w, oh, ow;
	int fs, s, pad_before, mode;
	int maxblur;
	struct clcnn_pool_geom max; /* maxblurpool2d: the max stage */
};

static int blur_geom(const struct clcnn_op *op, struct blur_geom *b, char *err, size_t errlen)
{
	const struct blur_args *a = op->args;
	const char *name = op->cls->name;
	int rc = clcnn_pool_check_4d(op, err, errlen);
	if (rc)
		return rc;
	*b = (struct blur_geom){.n = op->in[0].d[0],
				.c = op->in[0].d[1],
				.h = op->in[0].d[2],
				.w = op->in[0].d[3],
				.fs = a->filt_size,
				.s = a->stride,
				.pad_before = (a->filt_size - 1) / 2,
				.mode = a->pad_type,
				.maxblur = op->cls == &clcnn_op_maxblurpool2d};
	if (b->maxblur) {
		int kh = a->kernel_size[0], kw = a->kernel_size[1];
		if (kh < 1 || kw < 1) {
			if (kh == kw)
				return clcnn_op_invalid(err, errlen, "%s: kernel_size must be >= 1, got %d", name, kh);
			return clcnn_op_invalid(err, errlen, "%s: kernel_size must be >= 1, got (%d,%d)", name, kh, kw);
		}
		if (kh > b->h || kw > b->w)
			return clcnn_op_invalid(err, errlen, "%s: kernel %d larger than input %s %d", name,
						kh > b->h ? kh : kw, kh > b->h ? "height" : "width",
						kh > b->h ? b->h : b->w);
		b->max = (struct clcnn_pool_geom){.n = b->n,
						  .c = b->c,
						  .h = b->h,
						  .w = b->w,
						  .oh = b->h - kh + 1,
						  .ow = b->w - kw + 1,
						  .kh = kh,
						  .kw = kw,
						  .sh = 1,
						  .sw = 1,
						  .dh = 1,
						  .dw = 1};
		b->h = b->max.oh;
		b->w = b->max.ow;
	}
	if (b->fs < 1 || b->fs > MAX_FILT)
		return clcnn_op_invalid(err, errlen, "%s: filt_size must be 1 to %d, got %d", name, MAX_FILT, b->fs);
	if (b->s < 1)
		return clcnn_op_invalid(err, errlen, "%s: stride must be >= 1, got %d", name, b->s);
	/* reflection cannot reach further than the plane (PyTorch's ReflectionPad2d rule) */
	int pad = b->fs / 2;
	if (b->mode == BLUR_PAD_REFLECT && (pad >= b->h || pad >= b->w))
		return clcnn_op_invalid(err, errlen,
					"%s: reflect padding %d must be smaller than the %s %s %d (use "
					"pad_type=replicate or zero)",
					name, pad, b->maxblur ? "max-pooled" : "input",
					pad >= b->h ? "height" : "width", pad >= b->h ? b->h : b->w);
	/* padded size h + fs - 1, so the output is ceil(h / s) */
	b->oh = (b->h - 1) / b->s + 1;
	b->ow = (b->w - 1) / b->s + 1;
	return 0;
}

static struct blur_geom geom_of(const struct clcnn_op *op)
{
	struct blur_geom b = {0}; /* setup has checked the geometry */
	char e[8];
	blur_geom(op, &b, e, sizeof e);
	return b;
}

static int blur_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	struct blur_geom b;
	int rc = blur_geom(op, &b, err, errlen);
	if (rc)
		return rc;
	op->out = clcnn_shape4(b.n, b.c, b.oh, b.ow);
	if (b.maxblur) {
		size_t mid = (size_t)b.n * b.c * b.h * b.w;
		op->state_bytes = mid * sizeof(cl_int);  /* argmax of the max stage */
		op->scratch_bytes = mid * sizeof(float); /* pooled plane (forward) or its gradient */
	}
	return 0;
}

/* ------------------------------------------------------------------ C reference */

/* Binomial coefficient row fs-1, normalised to sum 1. */
static double tap(int fs, int i)
{
	double c = 1;
	for (int k = 0; k < i; k++)
		c = c * (fs - 1 - k) / (k + 1);
	return c / ldexp(1.0, fs - 1);
}

/* Padded coordinate q (from -pad_before) to the plane index it reads; -1 reads a zero. */
static int pad_src(int q, int n, int mode)
{
	if (q >= 0 && q < n)
		return q;
	if (mode == BLUR_PAD_REFLECT)
		return q < 0 ? -q : 2 * (n - 1) - q;
	if (mode == BLUR_PAD_REPLICATE)
		return q < 0 ? 0 : n - 1;
	return -1;
}

/* Index into the op's input plane p of blur-input element (i, j): itself, or for maxblurpool2d
 * the argmax of its max window. */
static size_t src_index(const struct blur_geom *b, const double *x, size_t p, int i, int j)
{
	if (!b->maxblur)
		return (p * b->h + i) * b->w + j;
	const double *plane = x + p * b->max.h * b->max.w;
	return p * b->max.h * b->max.w + (size_t)clcnn_pool_ref_argmax(&b->max, plane, i, j);
}

/* out = sum of taps over the padded window; backward adds each tap's share to what it read. */
static void blur_ref(const struct clcnn_op *op, const struct clcnn_ref_io *io, int backward)
{
	struct blur_geom b = geom_of(op);
	if (backward)
		memset(io->grad_in[0], 0, clcnn_shape_count(&op->in[0]) * sizeof(double));
	for (size_t p = 0; p < (size_t)b.n * b.c; p++)
		for (int oh = 0; oh < b.oh; oh++)
			for (int ow = 0; ow < b.ow; ow++) {
				size_t o = (p * b.oh + oh) * b.ow + ow;
				double sum = 0;
				for (int i = 0; i < b.fs; i++)
					for (int j = 0; j < b.fs; j++) {
						int si = pad_src(oh * b.s - b.pad_before + i, b.h, b.mode);
						int sj = pad_src(ow * b.s - b.pad_before + j, b.w, b.mode);
						if (si < 0 || sj < 0)
							continue;
						size_t e = src_index(&b, io->in[0], p, si, sj);
						double wgt = tap(b.fs, i) * tap(b.fs, j);
						if (backward)
							io->grad_in[0][e] += wgt * io->grad_out[o];
						else
							sum += wgt * io->in[0][e];
					}
				if (!backward)
					io->out[o] = sum;
			}
}

static void blur_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	blur_ref(op, io, 0);
}

static void blur_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	if (io->grad_in[0])
		blur_ref(op, io, 1);
}

/* ------------------------------------------------------------------ device */

/*
 * src -> dst through kernel fwd or bwd (cl/pool.cl): on GPUs one work-item per element it writes
 * (blurpool_*), on CPUs one per row with explicit vector lanes (blurrow_*).
 */
static int blur_launch(struct clcnn_op *op, const struct blur_geom *b, int backward, cl_mem src, cl_mem dst)
{
	char opt[200];
	cl_kernel k;
	int H = b->h, W = b->w, OH = b->oh, OW = b->ow, rc;
	if (clcnn_is_gpu(op->ctx)) {
		const char *name = backward ? "blurpool_bwd" : "blurpool_fwd";
		snprintf(opt, sizeof opt, "-DFS=%d -DBS=%d -DPAD_MODE=%d", b->fs, b->s, b->mode);
		rc = clcnn_pool_kernel(op->ctx, name, opt, &k);
		if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(dst), KARG(H), KARG(W), KARG(OH), KARG(OW));
		return rc ? rc : clcnn_pool_run3d(op->ctx, k, backward ? W : OW, backward ? H : OH, b->n * b->c);
	}
	const int pv = OW >= 8 ? 8 : OW >= 4 ? 4 : OW >= 2 ? 2 : 1, rows = b->n * b->c * (backward ? H : OH);
	snprintf(opt, sizeof opt, "-DFS=%d -DBS=%d -DSW=%d -DPAD_MODE=%d -DPIH=%d -DPIW=%d -DPOH=%d -DPOW=%d -DPV=%d",
		 b->fs, b->s, b->s, b->mode, H, W, OH, OW, pv);
	rc = clcnn_pool_kernel(op->ctx, backward ? "blurrow_bwd" : "blurrow_fwd", opt, &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(dst), KARG(rows));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)rows);
}

static int blur_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	struct blur_geom b = geom_of(op);
	if (!b.maxblur)
		return blur_launch(op, &b, 0, io->in[0], io->out);
	int rc = clcnn_pool_dev_max_forward(op->ctx, &b.max, io->in[0], io->scratch, io->state);
	return rc ? rc : blur_launch(op, &b, 0, io->scratch, io->out);
}

static int blur_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	struct blur_geom b = geom_of(op);
	if (!io->grad_in[0])
		return 0;
	if (!b.maxblur)
		return blur_launch(op, &b, 1, io->grad_out, io->grad_in[0]);
	int rc = blur_launch(op, &b, 1, io->grad_out, io->scratch);
	return rc ? rc : clcnn_pool_dev_max_backward(op->ctx, &b.max, io->scratch, io->state, io->grad_in[0]);
}

/* ------------------------------------------------------------------ cases and classes */

/*
 * Same in training and evaluation: most cases run in training mode only. Every filt_size and pad
 * type; planes as small as the padding allows (reflect 5 on 3 rows, replicate 5 on 1 row, where one
 * input feeds every tap of a window).
 */
static const struct clcnn_op_case blurpool_cases[] = {
	{"", "1x1x7x9", 0, 0},
	{"filt_size=1", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=2", "3x3x13x6", CLCNN_CASE_TRAIN, 0},
	{"filt_size=4", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=5", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	{"filt_size=5", "3x2x3x4", CLCNN_CASE_TRAIN, 0},
	{"filt_size=6, stride=3", "1x1x13x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=7, stride=1", "1x1x7x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=3, stride=1", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	{"filt_size=5, stride=3", "3x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=2, pad_type=replicate", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=3, pad_type=replicate", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	{"filt_size=4, pad_type=replicate, stride=3", "3x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=5, pad_type=replicate", "1x2x1x5", CLCNN_CASE_TRAIN, 0},
	{"filt_size=2, pad_type=zero", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	{"filt_size=3, pad_type=zero", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"filt_size=4, pad_type=zero", "3x2x2x3", CLCNN_CASE_TRAIN, 0},
	{"filt_size=5, pad_type=zero, stride=1", "1x1x7x9", CLCNN_CASE_TRAIN, 0},
	/* rows wide enough for the CPU row kernels' whole 8-lane chunks between the edges */
	{"", "2x3x37x41", CLCNN_CASE_TRAIN, 0},
	{"filt_size=5, pad_type=replicate", "1x2x19x35", CLCNN_CASE_TRAIN, 0},
	{"filt_size=4, stride=3, pad_type=zero", "1x2x20x50", CLCNN_CASE_TRAIN, 0},
	{"filt_size=7, stride=1", "1x2x9x23", CLCNN_CASE_TRAIN, 0},
	{"filt_size=2, stride=2", "1x1x6x33", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case maxblurpool_cases[] = {
	{"", "1x1x7x9", 0, 0},
	{"kernel_size=3, filt_size=4", "3x3x13x6", CLCNN_CASE_TRAIN, 0},
	{"filt_size=5, pad_type=replicate", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=(2,3), filt_size=2, stride=1, pad_type=zero", "3x1x13x6", CLCNN_CASE_TRAIN, 0},
	{"filt_size=3, stride=3", "1x3x7x9", CLCNN_CASE_TRAIN, 0},
	{"kernel_size=3, filt_size=5, pad_type=zero", "3x2x5x6", CLCNN_CASE_TRAIN, 0},
	{"", "2x3x29x33", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/* The blur counts as the dense fs x fs depthwise filter it defines (2 per tap), the max stage one
 * comparison per tap. */
static double blur_flops(const struct clcnn_op *op)
{
	struct blur_geom b = geom_of(op);
	double max_stage = b.maxblur ? (double)b.n * b.c * b.h * b.w * b.max.kh * b.max.kw : 0;
	return max_stage + 2.0 * (double)clcnn_shape_count(&op->out) * b.fs * b.fs;
}

/*
 * maxblurpool2d: a kh window at stride 1 (no padding), then the fs blur at stride s padded by
 * (fs - 1) / 2 before = one (kh + fs - 1) window at stride s with that padding
 */
static void blur_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	const struct blur_args *a = op->args;
	int maxblur = op->cls == &clcnn_op_maxblurpool2d;
	for (int i = 0; i < 2; i++) {
		w->kernel[i] = a->filt_size + (maxblur ? a->kernel_size[i] - 1 : 0);
		w->stride[i] = a->stride;
		w->pad[i] = (a->filt_size - 1) / 2;
	}
}

/*
 * Tolerances (|dev - ref| <= tol * (1 + |ref|), values of magnitude <= ~3): the taps are exact
 * dyadic floats, so only summation rounds. Forward: FS row sums then FS rows, ~2 * 7 * 2^-24
 * = 8e-7 relative to sum |tap * x|; backward gathers at most the same number of products per input.
 * -> 2e-6. maxblurpool2d adds the max stage's gradient sum of <= KH*KW terms -> 4e-6.
 */
const struct clcnn_op_class clcnn_op_blurpool2d = {
	.name = "blurpool2d",
	.family = "pool",
	.doc = "anti-aliased downsampling: binomial blur, depthwise, at a stride (Zhang 2019 BlurPool)",
	.args_size = sizeof(struct blur_args),
	.args = blurpool_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = blur_setup,
	.ref_forward = blur_ref_forward,
	.ref_backward = blur_ref_backward,
	.forward = blur_forward,
	.backward = blur_backward,
	.saves = clcnn_saves_nothing, /* the argmax is its state */
	.cases = blurpool_cases,
	.tol = 2e-6,
	.flops = blur_flops,
	.window = blur_window,
};

const struct clcnn_op_class clcnn_op_maxblurpool2d = {
	.name = "maxblurpool2d",
	.family = "pool",
	.doc = "anti-aliased max pooling: max over kernel_size at stride 1, then blurpool2d (Zhang 2019)",
	.args_size = sizeof(struct blur_args),
	.args = maxblurpool_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = blur_setup,
	.ref_forward = blur_ref_forward,
	.ref_backward = blur_ref_backward,
	.forward = blur_forward,
	.backward = blur_backward,
	.saves = clcnn_saves_nothing, /* the argmax is its state */
	.fill = clcnn_pool_fill_distinct,
	.cases = maxblurpool_cases,
	.tol = 4e-6,
	.flops = blur_flops,
	.window = blur_window,
};
