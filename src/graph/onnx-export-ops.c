/*
 * Each clcnn layer as ONNX operators (opsets 13-17, where every operator used here has one meaning):
 * a direct operator where ONNX has one with the same semantics, else the decomposition PyTorch's
 * exporter writes (Gelu with Erf, SiLU as x * Sigmoid(x), blur pooling as a depthwise Conv), and a
 * refusal naming the layer and the argument when there is no faithful form. Geometry comes from the
 * built op (resolved 'same' padding, default strides), never from re-parsing the netfile.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../cl/pool.h" /* BLUR_PAD_*: the pad_type values of blurpool2d */
#include "graph/onnx-export.h"
#include "ops/conv-private.h"

#define MAX_BLUR 7

static struct onnx_node *unary(struct onnx_export *ex, const char *type)
{
	return ex_op1(ex, type, ex_out(ex), ex_in(ex, 0));
}

/* ------------------------------------------------------------------ convolution, linear */

static int conv(struct onnx_export *ex, const struct clcnn_op *op)
{
	const struct conv_geom *cg = &((const struct conv_priv *)op->priv)->g;
	const char *w = ex_param(ex, 0, NULL, -1, cg->flip);
	const char *in[3] = {ex_in(ex, 0), w, cg->bias ? ex_param(ex, 1, NULL, -1, 0) : NULL};
	struct onnx_node *n = ex_op(ex, "Conv", ex_out(ex), in, cg->bias ? 3 : 2);
	int64_t k[2] = {cg->kh, cg->kw}, s[2] = {cg->sh, cg->sw}, d[2] = {cg->dh, cg->dw};
	int64_t pads[4] = {cg->pt, cg->pl, cg->pb, cg->pr};
	ex_attr_ints(ex, n, "kernel_shape", k, 2);
	ex_attr_ints(ex, n, "strides", s, 2);
	ex_attr_ints(ex, n, "pads", pads, 4);
	ex_attr_ints(ex, n, "dilations", d, 2);
	ex_attr_int(ex, n, "group", cg->groups);
	return ex->status;
}

static int linear(struct onnx_export *ex, const struct clcnn_op *op)
{
	int bias = op->nparam > 1;
	const char *in[3] = {ex_in(ex, 0), ex_param(ex, 0, NULL, -1, 0), bias ? ex_param(ex, 1, NULL, -1, 0) : NULL};
	struct onnx_node *n = ex_op(ex, "Gemm", ex_out(ex), in, bias ? 3 : 2);
	ex_attr_int(ex, n, "transB", 1);
	return ex->status;
}

/* ------------------------------------------------------------------ pooling */

/* PyTorch's pooled size (as pool.c): with ceil_mode a window starting in the right padding is dropped. */
static int torch_pool_out(int in, int k, int s, int p, int d, int ceil_mode)
{
	long long span = (long long)in + 2LL * p - (long long)d * (k - 1) - 1;
	long long out = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
	if (ceil_mode && (out - 1) * s >= (long long)in + p)
		out--;
	return (int)out;
}

/*
 * The window geometry. ONNX's ceil_mode keeps a last window starting in the right padding, which
 * PyTorch drops (onnx/onnx#4958), so ceil_mode is written as 1 only where PyTorch's size exceeds
 * the floor one (overhang: then the two ceil sizes agree), as PyTorch's exporter does, with the
 * symmetric pads (sym). pads holds the same geometry for floor rounding, the end pad grown just
 * enough for PyTorch's size: what a Conv standing in for the pooling needs.
 */
struct pool_win {
	int64_t k[2], s[2], d[2], pads[4], sym[4];
	int out[2], overhang;
};

static struct pool_win pool_win(const struct clcnn_op *op, int dilated)
{
	const int *k = ex_arg_int2(op, "kernel_size"), *s = ex_arg_int2(op, "stride"), *p = ex_arg_int2(op, "padding");
	const int *d = dilated ? ex_arg_int2(op, "dilation") : NULL;
	int ceil_mode = ex_arg_int(op, "ceil_mode");
	struct pool_win w = {.overhang = 0};
	for (int a = 0; a < 2; a++) {
		int st = s[0] == 0 && s[1] == 0 ? k[a] : s[a], dil = d ? d[a] : 1, in = op->in[0].d[2 + a];
		int o = torch_pool_out(in, k[a], st, p[a], dil, ceil_mode);
		int end = (o - 1) * st + dil * (k[a] - 1) + 1 - in - p[a];
		w.k[a] = k[a], w.s[a] = st, w.d[a] = dil, w.out[a] = o;
		w.pads[a] = w.sym[a] = w.sym[2 + a] = p[a];
		w.pads[2 + a] = end > p[a] ? end : p[a];
		w.overhang |= end > p[a];
	}
	return w;
}

static int maxpool(struct onnx_export *ex, const struct clcnn_op *op)
{
	struct pool_win w = pool_win(op, 1);
	struct onnx_node *n = unary(ex, "MaxPool");
	ex_attr_ints(ex, n, "kernel_shape", w.k, 2);
	ex_attr_ints(ex, n, "strides", w.s, 2);
	ex_attr_ints(ex, n, "pads", w.sym, 4);
	ex_attr_ints(ex, n, "dilations", w.d, 2);
	ex_attr_int(ex, n, "ceil_mode", w.overhang);
	return ex->status;
}

/*
 * Average pooling whose divisor ONNX's AveragePool cannot express (divisor_override, or
 * count_include_pad with a ceil_mode window running past the padding, where PyTorch clips the
 * divisor to the padded input and runtimes before opset 19 disagree): the window sums as a
 * depthwise Conv with a kernel of ones, times a per-position reciprocal divisor computed here.
 */
static int avgpool_decomposed(struct onnx_export *ex, const struct clcnn_op *op, const struct pool_win *w)
{
	int c = op->in[0].d[1], h = op->in[0].d[2], wd = op->in[0].d[3];
	int include = ex_arg_int(op, "count_include_pad"), override = ex_arg_int(op, "divisor_override");
	int64_t kd[4] = {c, 1, w->k[0], w->k[1]}, rd[4] = {1, 1, w->out[0], w->out[1]};
	size_t kn = (size_t)c * w->k[0] * w->k[1], rn = (size_t)w->out[0] * w->out[1];
	float *ones = malloc(kn * sizeof *ones), *recip = malloc(rn * sizeof *recip);
	if (!ones || !recip) {
		free(ones);
		free(recip);
		return ex_nomem(ex);
	}
	for (size_t i = 0; i < kn; i++)
		ones[i] = 1;
	for (int oy = 0; oy < w->out[0]; oy++)
		for (int ox = 0; ox < w->out[1]; ox++) {
			/* PyTorch's avg_pool2d: the window clipped to the padded input, then to the input */
			int y0 = oy * (int)w->s[0] - (int)w->pads[0], x0 = ox * (int)w->s[1] - (int)w->pads[1];
			int y1 = y0 + (int)w->k[0], x1 = x0 + (int)w->k[1];
			y1 = y1 < h + (int)w->pads[0] ? y1 : h + (int)w->pads[0];
			x1 = x1 < wd + (int)w->pads[1] ? x1 : wd + (int)w->pads[1];
			int full = (y1 - y0) * (x1 - x0);
			y0 = y0 > 0 ? y0 : 0, x0 = x0 > 0 ? x0 : 0;
			y1 = y1 < h ? y1 : h, x1 = x1 < wd ? x1 : wd;
			int div = override ? override : include ? full : (y1 - y0) * (x1 - x0);
			recip[(size_t)oy * w->out[1] + ox] = 1.0f / (float)div;
		}
	ex_init_f(ex, ex_tmp(ex, "ones"), kd, 4, ones);
	ex_init_f(ex, ex_tmp(ex, "reciprocal_divisor"), rd, 4, recip);
	free(ones);
	free(recip);
	const char *in[2] = {ex_in(ex, 0), ex_tmp(ex, "ones")};
	struct onnx_node *n = ex_op(ex, "Conv", ex_tmp(ex, "window_sum"), in, 2);
	ex_attr_ints(ex, n, "kernel_shape", w->k, 2);
	ex_attr_ints(ex, n, "strides", w->s, 2);
	ex_attr_ints(ex, n, "pads", w->pads, 4);
	ex_attr_int(ex, n, "group", c);
	ex_op2(ex, "Mul", ex_out(ex), ex_tmp(ex, "window_sum"), ex_tmp(ex, "reciprocal_divisor"));
	return ex->status;
}

static int avgpool(struct onnx_export *ex, const struct clcnn_op *op)
{
	struct pool_win w = pool_win(op, 0);
	int include = ex_arg_int(op, "count_include_pad");
	if (ex_arg_int(op, "divisor_override") || (include && w.overhang))
		return avgpool_decomposed(ex, op, &w);
	struct onnx_node *n = unary(ex, "AveragePool");
	ex_attr_ints(ex, n, "kernel_shape", w.k, 2);
	ex_attr_ints(ex, n, "strides", w.s, 2);
	ex_attr_ints(ex, n, "pads", w.sym, 4);
	ex_attr_int(ex, n, "ceil_mode", w.overhang);
	/* ONNX's default is 0, PyTorch's is true: always written */
	ex_attr_int(ex, n, "count_include_pad", include);
	return ex->status;
}

/* Binomial row fs-1 normalised to sum 1 (as blurpool.c's tap()). */
static double blur_tap(int fs, int i)
{
	double c = 1;
	for (int k = 0; k < i; k++)
		c = c * (fs - 1 - k) / (k + 1);
	return c / ldexp(1.0, fs - 1);
}

/*
 * blurpool2d: Pad (reflect / edge; zero padding goes into the Conv) of (fs-1)/2 before and the rest
 * after, then a depthwise Conv with the outer product of the binomial row at the stride.
 * maxblurpool2d puts a MaxPool(kernel_size, stride 1) in front.
 */
static int blurpool(struct onnx_export *ex, const struct clcnn_op *op, int maxblur)
{
	int fs = ex_arg_int(op, "filt_size"), s = ex_arg_int(op, "stride"), mode = ex_arg_int(op, "pad_type");
	int c = op->in[0].d[1], before = (fs - 1) / 2, after = fs - 1 - before;
	if (fs < 1 || fs > MAX_BLUR)
		return ex_refuse(ex, "filt_size %d outside 1..%d", fs, MAX_BLUR);
	char x[EX_NAME_MAX];
	snprintf(x, sizeof x, "%s", ex_in(ex, 0));
	if (maxblur) {
		const int *k = ex_arg_int2(op, "kernel_size");
		int64_t ks[2] = {k[0], k[1]}, one[2] = {1, 1};
		struct onnx_node *n = ex_op1(ex, "MaxPool", ex_tmp(ex, "max"), x);
		ex_attr_ints(ex, n, "kernel_shape", ks, 2);
		ex_attr_ints(ex, n, "strides", one, 2);
		snprintf(x, sizeof x, "%s", ex_tmp(ex, "max"));
	}
	int64_t conv_pads[4] = {0, 0, 0, 0};
	if (mode == BLUR_PAD_ZERO) {
		conv_pads[0] = conv_pads[1] = before;
		conv_pads[2] = conv_pads[3] = after;
	} else if (fs > 1) {
		int64_t pads[8] = {0, 0, before, before, 0, 0, after, after}, pd = 8;
		ex_init_i64(ex, ex_tmp(ex, "pads"), &pd, 1, pads);
		const char *in[2] = {x, ex_tmp(ex, "pads")};
		struct onnx_node *n = ex_op(ex, "Pad", ex_tmp(ex, "padded"), in, 2);
		ex_attr_string(ex, n, "mode", mode == BLUR_PAD_REFLECT ? "reflect" : "edge");
		snprintf(x, sizeof x, "%s", ex_tmp(ex, "padded"));
	}
	float filt[MAX_BLUR * MAX_BLUR];
	for (int i = 0; i < fs; i++)
		for (int j = 0; j < fs; j++)
			filt[i * fs + j] = (float)(blur_tap(fs, i) * blur_tap(fs, j));
	float *w = malloc((size_t)c * fs * fs * sizeof *w);
	if (!w)
		return ex_nomem(ex);
	for (int ch = 0; ch < c; ch++)
		memcpy(w + (size_t)ch * fs * fs, filt, (size_t)fs * fs * sizeof *w);
	int64_t wd[4] = {c, 1, fs, fs}, ks[2] = {fs, fs}, st[2] = {s, s};
	ex_init_f(ex, ex_tmp(ex, "blur"), wd, 4, w);
	free(w);
	const char *in[2] = {x, ex_tmp(ex, "blur")};
	struct onnx_node *n = ex_op(ex, "Conv", ex_out(ex), in, 2);
	ex_attr_ints(ex, n, "kernel_shape", ks, 2);
	ex_attr_ints(ex, n, "strides", st, 2);
	ex_attr_ints(ex, n, "pads", conv_pads, 4);
	ex_attr_int(ex, n, "group", c);
	return ex->status;
}

/* ------------------------------------------------------------------ activations */

static int prelu(struct onnx_export *ex, const struct clcnn_op *op)
{
	/* torch writes the slope as [C, 1, 1] so that it broadcasts over the channel axis */
	int64_t dims[4] = {op->param[0].shape.d[0], 1, 1, 1};
	int nd = dims[0] == 1 || op->in[0].ndim < 2 ? 1 : op->in[0].ndim - 1;
	ex_op2(ex, "PRelu", ex_out(ex), ex_in(ex, 0), ex_param(ex, 0, dims, nd, 0));
	return ex->status;
}

/* beta == 1 with the default threshold is ONNX's Softplus (past x = 20 the two differ by e^-20,
 * below float's resolution of x); otherwise Where(beta x > threshold, x, Softplus(beta x) / beta). */
static int softplus(struct onnx_export *ex, const struct clcnn_op *op)
{
	double beta = ex_arg_float(op, "beta"), thr = ex_arg_float(op, "threshold");
	if (beta == 1 && thr == 20) {
		unary(ex, "Softplus");
		return ex->status;
	}
	const char *x = ex_in(ex, 0);
	char bx[EX_NAME_MAX], sp[EX_NAME_MAX];
	ex_scalar(ex, ex_tmp(ex, "beta"), (float)beta);
	ex_op2(ex, "Mul", ex_tmp(ex, "beta_x"), x, ex_tmp(ex, "beta"));
	snprintf(bx, sizeof bx, "%s", ex_tmp(ex, "beta_x"));
	ex_op1(ex, "Softplus", ex_tmp(ex, "softplus"), bx);
	snprintf(sp, sizeof sp, "%s", ex_tmp(ex, "softplus"));
	ex_op2(ex, "Div", ex_tmp(ex, "smooth"), sp, ex_tmp(ex, "beta"));
	ex_scalar(ex, ex_tmp(ex, "threshold"), (float)thr);
	ex_op2(ex, "Greater", ex_tmp(ex, "linear"), bx, ex_tmp(ex, "threshold"));
	const char *in[3] = {ex_tmp(ex, "linear"), x, ex_tmp(ex, "smooth")};
	ex_op(ex, "Where", ex_out(ex), in, 3);
	return ex->status;
}

/* log sigmoid(x) = -softplus(-x) */
static int logsigmoid(struct onnx_export *ex)
{
	ex_op1(ex, "Neg", ex_tmp(ex, "neg"), ex_in(ex, 0));
	ex_op1(ex, "Softplus", ex_tmp(ex, "softplus"), ex_tmp(ex, "neg"));
	ex_op1(ex, "Neg", ex_out(ex), ex_tmp(ex, "softplus"));
	return ex->status;
}

/* Gelu arrives in opset 20: PyTorch's decompositions, x * (1 + erf(x / sqrt 2)) / 2 and the tanh form. */
static int gelu(struct onnx_export *ex, const struct clcnn_op *op)
{
	const char *x = ex_in(ex, 0);
	char inner[EX_NAME_MAX];
	if (ex_arg_int(op, "approximate")) {
		/* sqrt(2/pi) (x + 0.044715 x^3) */
		ex_op2(ex, "Mul", ex_tmp(ex, "x2"), x, x);
		ex_op2(ex, "Mul", ex_tmp(ex, "x3"), ex_tmp(ex, "x2"), x);
		ex_scalar(ex, ex_tmp(ex, "c"), 0.044715f);
		ex_op2(ex, "Mul", ex_tmp(ex, "cx3"), ex_tmp(ex, "x3"), ex_tmp(ex, "c"));
		ex_op2(ex, "Add", ex_tmp(ex, "poly"), x, ex_tmp(ex, "cx3"));
		ex_scalar(ex, ex_tmp(ex, "k"), 0.7978845608028654f);
		ex_op2(ex, "Mul", ex_tmp(ex, "arg"), ex_tmp(ex, "poly"), ex_tmp(ex, "k"));
		ex_op1(ex, "Tanh", ex_tmp(ex, "tanh"), ex_tmp(ex, "arg"));
	} else {
		ex_scalar(ex, ex_tmp(ex, "sqrt2"), 1.4142135623730951f);
		ex_op2(ex, "Div", ex_tmp(ex, "scaled"), x, ex_tmp(ex, "sqrt2"));
		ex_op1(ex, "Erf", ex_tmp(ex, "erf"), ex_tmp(ex, "scaled"));
	}
	snprintf(inner, sizeof inner, "%s", ex_tmp(ex, ex_arg_int(op, "approximate") ? "tanh" : "erf"));
	ex_scalar(ex, ex_tmp(ex, "one"), 1.0f);
	ex_op2(ex, "Add", ex_tmp(ex, "one_plus"), inner, ex_tmp(ex, "one"));
	ex_op2(ex, "Mul", ex_tmp(ex, "x_one_plus"), x, ex_tmp(ex, "one_plus"));
	ex_scalar(ex, ex_tmp(ex, "half"), 0.5f);
	ex_op2(ex, "Mul", ex_out(ex), ex_tmp(ex, "x_one_plus"), ex_tmp(ex, "half"));
	return ex->status;
}

static int silu(struct onnx_export *ex)
{
	ex_op1(ex, "Sigmoid", ex_tmp(ex, "sigmoid"), ex_in(ex, 0));
	ex_op2(ex, "Mul", ex_out(ex), ex_in(ex, 0), ex_tmp(ex, "sigmoid"));
	return ex->status;
}

static int hardtanh(struct onnx_export *ex, const struct clcnn_op *op)
{
	ex_scalar(ex, ex_tmp(ex, "min"), (float)ex_arg_float(op, "min_val"));
	ex_scalar(ex, ex_tmp(ex, "max"), (float)ex_arg_float(op, "max_val"));
	const char *in[3] = {ex_in(ex, 0), ex_tmp(ex, "min"), ex_tmp(ex, "max")};
	ex_op(ex, "Clip", ex_out(ex), in, 3);
	return ex->status;
}

/* softmax, logsoftmax, softmin (= softmax of -x) along dim; one axis from opset 13 on. */
static int softmax(struct onnx_export *ex, const struct clcnn_op *op, const char *type, int negate)
{
	int dim = ex_arg_int(op, "dim"), nd = op->in[0].ndim;
	const char *x = ex_in(ex, 0);
	if (negate) {
		ex_op1(ex, "Neg", ex_tmp(ex, "neg"), x);
		x = ex_tmp(ex, "neg");
	}
	struct onnx_node *n = ex_op1(ex, type, ex_out(ex), x);
	ex_attr_int(ex, n, "axis", dim < 0 ? dim + nd : dim);
	return ex->status;
}

/* ------------------------------------------------------------------ normalisation, regularisation */

/*
 * Without running statistics clcnn (like PyTorch) normalises with the batch's even in eval. An
 * inference export spells that out, (x - mean) / sqrt(var + eps) * weight + bias with ReduceMean
 * over every axis but the channels, rather than as a training_mode BatchNormalization: ONNX
 * Runtime's default graph optimisations compute the latter with the placeholder statistics.
 */
static int batch_stats(struct onnx_export *ex, const struct clcnn_op *op)
{
	int nd = op->in[0].ndim, affine = ex_arg_int(op, "affine");
	int64_t axes[4] = {0, 2, 3}, dims[3] = {op->in[0].d[1], 1, 1};
	const char *x = ex_in(ex, 0);
	struct onnx_node *n = ex_op1(ex, "ReduceMean", ex_tmp(ex, "mean"), x);
	ex_attr_ints(ex, n, "axes", axes, nd - 1);
	ex_attr_int(ex, n, "keepdims", 1);
	ex_op2(ex, "Sub", ex_tmp(ex, "centered"), x, ex_tmp(ex, "mean"));
	ex_op2(ex, "Mul", ex_tmp(ex, "squared"), ex_tmp(ex, "centered"), ex_tmp(ex, "centered"));
	n = ex_op1(ex, "ReduceMean", ex_tmp(ex, "var"), ex_tmp(ex, "squared"));
	ex_attr_ints(ex, n, "axes", axes, nd - 1);
	ex_attr_int(ex, n, "keepdims", 1);
	ex_scalar(ex, ex_tmp(ex, "eps"), (float)ex_arg_float(op, "eps"));
	ex_op2(ex, "Add", ex_tmp(ex, "var_eps"), ex_tmp(ex, "var"), ex_tmp(ex, "eps"));
	ex_op1(ex, "Sqrt", ex_tmp(ex, "std"), ex_tmp(ex, "var_eps"));
	ex_op2(ex, "Div", affine ? ex_tmp(ex, "normalized") : ex_out(ex), ex_tmp(ex, "centered"), ex_tmp(ex, "std"));
	if (affine) {
		/* weight and bias [C] reshaped to broadcast over the channel axis */
		char w[EX_NAME_MAX];
		const char *p = ex_param(ex, 0, dims, nd - 1, 0);
		snprintf(w, sizeof w, "%s", p ? p : "");
		ex_op2(ex, "Mul", ex_tmp(ex, "scaled"), ex_tmp(ex, "normalized"), w);
		p = ex_param(ex, 1, dims, nd - 1, 0);
		ex_op2(ex, "Add", ex_out(ex), ex_tmp(ex, "scaled"), p ? p : "");
	}
	return ex->status;
}

static int batchnorm(struct onnx_export *ex, const struct clcnn_op *op)
{
	int affine = ex_arg_int(op, "affine"), track = ex_arg_int(op, "track_running_stats");
	double momentum = ex_arg_float(op, "momentum");
	int c = op->in[0].d[1], train = ex->training;
	int64_t cd = c;
	if (!track && !train)
		return batch_stats(ex, op);
	if (train && ex->opset < 14)
		return ex_refuse(ex, "--training needs BatchNormalization's training_mode, opset 14 or later");
	if (ex->training && track && isnan(momentum))
		return ex_refuse(ex, "momentum=none (a cumulative average) has no ONNX training form");
	char in[4][EX_NAME_MAX];
	float *fill = malloc((size_t)c * sizeof *fill);
	if (!fill)
		return ex_nomem(ex);
	int j = 0;
	for (int k = 0; k < 4; k++) {
		int have = k < 2 ? affine : track;
		static const char *const what[4] = {"scale", "bias", "mean", "var"};
		if (have) {
			const char *p = ex_param(ex, j++, NULL, -1, 0);
			snprintf(in[k], sizeof in[k], "%s", p ? p : "");
			continue;
		}
		for (int i = 0; i < c; i++)
			fill[i] = k == 0 || k == 3 ? 1.0f : 0.0f;
		snprintf(in[k], sizeof in[k], "%s", ex_tmp(ex, what[k]));
		ex_init_f(ex, in[k], &cd, 1, fill);
	}
	free(fill);
	const char *ins[5] = {ex_in(ex, 0), in[0], in[1], in[2], in[3]};
	char rm[EX_NAME_MAX], rv[EX_NAME_MAX];
	snprintf(rm, sizeof rm, "%s/running_mean", ex_out(ex));
	snprintf(rv, sizeof rv, "%s/running_var", ex_out(ex));
	const char *outs[3] = {ex_out(ex), rm, rv};
	if (ex->status)
		return ex->status;
	/* training mode must name the running statistics' update too (onnx's shape inference insists);
	 * they are left as unused outputs */
	struct onnx_node *n =
		clcnn_onnx_add_node(ex->og, "BatchNormalization", ex_out(ex), ins, 5, outs, train ? 3 : 1);
	if (!n)
		return ex_nomem(ex);
	ex_attr_float(ex, n, "epsilon", (float)ex_arg_float(op, "eps"));
	/* ONNX weighs the old statistic by momentum, PyTorch the new one */
	ex_attr_float(ex, n, "momentum", isnan(momentum) ? 0.9f : (float)(1 - momentum));
	if (train)
		ex_attr_int(ex, n, "training_mode", 1);
	return ex->status;
}

static int dropout(struct onnx_export *ex, const struct clcnn_op *op)
{
	if (!ex->training) {
		unary(ex, "Identity");
		return ex->status;
	}
	ex_scalar(ex, ex_tmp(ex, "ratio"), (float)ex_arg_float(op, "p"));
	ex_init_bool(ex, ex_tmp(ex, "training_mode"), 1);
	const char *in[3] = {ex_in(ex, 0), ex_tmp(ex, "ratio"), ex_tmp(ex, "training_mode")};
	ex_op(ex, "Dropout", ex_out(ex), in, 3);
	return ex->status;
}

static int gaussian_noise(struct onnx_export *ex, const struct clcnn_op *op)
{
	if (!ex->training) {
		unary(ex, "Identity");
		return ex->status;
	}
	struct onnx_node *n = ex_op1(ex, "RandomNormalLike", ex_tmp(ex, "noise"), ex_in(ex, 0));
	ex_attr_float(ex, n, "scale", (float)ex_arg_float(op, "sigma"));
	ex_op2(ex, "Add", ex_out(ex), ex_in(ex, 0), ex_tmp(ex, "noise"));
	return ex->status;
}

/* ------------------------------------------------------------------ merging and shapes */

/* concat: one Concat. add: a chain of Adds in input order (what clcnn sums, in that order; importers
 * know Add better than the variadic Sum). */
static int merge(struct onnx_export *ex, const struct clcnn_op *op, int concat)
{
	const char *in[CLCNN_OP_MAX_IN];
	for (int j = 0; j < op->nin; j++)
		in[j] = ex_in(ex, j);
	if (concat) {
		struct onnx_node *n = ex_op(ex, "Concat", ex_out(ex), in, op->nin);
		int dim = ex_arg_int(op, "dim");
		ex_attr_int(ex, n, "axis", dim < 0 ? dim + op->in[0].ndim : dim);
		return ex->status;
	}
	char acc[EX_NAME_MAX], what[16];
	snprintf(acc, sizeof acc, "%s", in[0]);
	for (int j = 1; j < op->nin; j++) {
		snprintf(what, sizeof what, "sum%d", j);
		const char *out = j == op->nin - 1 ? ex_out(ex) : ex_tmp(ex, what);
		ex_op2(ex, "Add", out, acc, ex_in(ex, j));
		snprintf(acc, sizeof acc, "%s", out);
	}
	return ex->status;
}

/* Flatten(axis=1) when the result is (N, rest); otherwise a Reshape to the static shape with the
 * batch dimension copied (0) or, when it is flattened too, inferred (-1). */
static int flatten(struct onnx_export *ex, const struct clcnn_op *op)
{
	int nd = op->in[0].ndim, s = ex_arg_int(op, "start_dim"), e = ex_arg_int(op, "end_dim");
	s = s < 0 ? s + nd : s;
	e = e < 0 ? e + nd : e;
	if (s == 1 && e == nd - 1) {
		struct onnx_node *n = unary(ex, "Flatten");
		ex_attr_int(ex, n, "axis", 1);
		return ex->status;
	}
	int64_t shape[4], len = op->out.ndim;
	for (int i = 0; i < op->out.ndim; i++)
		shape[i] = op->out.d[i];
	shape[0] = s == 0 ? -1 : 0;
	ex_init_i64(ex, ex_tmp(ex, "shape"), &len, 1, shape);
	ex_op2(ex, "Reshape", ex_out(ex), ex_in(ex, 0), ex_tmp(ex, "shape"));
	return ex->status;
}

/* ------------------------------------------------------------------ dispatch */

int onnx_export_node(struct onnx_export *ex, int i)
{
	ex->node = i;
	const struct clcnn_op *op = ex->g->nodes[i].op;
	const char *t = op->cls->name;
	static const struct {
		const char *clcnn, *onnx;
	} direct[] = {
		{"identity", "Identity"},
		{"global_avgpool2d", "GlobalAveragePool"},
		{"global_maxpool2d", "GlobalMaxPool"},
		{"sigmoid", "Sigmoid"},
		{"tanh", "Tanh"},
		{"relu", "Relu"},
	};
	for (size_t k = 0; k < CLCNN_ARRAY_LEN(direct); k++)
		if (!strcmp(t, direct[k].clcnn)) {
			unary(ex, direct[k].onnx);
			return ex->status;
		}
	if (!strcmp(t, "conv2d"))
		return conv(ex, op);
	if (!strcmp(t, "linear"))
		return linear(ex, op);
	if (!strcmp(t, "maxpool2d"))
		return maxpool(ex, op);
	if (!strcmp(t, "avgpool2d"))
		return avgpool(ex, op);
	if (!strcmp(t, "blurpool2d") || !strcmp(t, "maxblurpool2d"))
		return blurpool(ex, op, t[0] == 'm');
	if (!strcmp(t, "leaky_relu") || !strcmp(t, "elu")) {
		int leaky = t[0] == 'l';
		struct onnx_node *n = unary(ex, leaky ? "LeakyRelu" : "Elu");
		ex_attr_float(ex, n, "alpha", (float)ex_arg_float(op, leaky ? "negative_slope" : "alpha"));
		return ex->status;
	}
	if (!strcmp(t, "prelu"))
		return prelu(ex, op);
	if (!strcmp(t, "softplus"))
		return softplus(ex, op);
	if (!strcmp(t, "logsigmoid"))
		return logsigmoid(ex);
	if (!strcmp(t, "gelu"))
		return gelu(ex, op);
	if (!strcmp(t, "silu"))
		return silu(ex);
	if (!strcmp(t, "hardtanh"))
		return hardtanh(ex, op);
	if (!strcmp(t, "softmax") || !strcmp(t, "logsoftmax") || !strcmp(t, "softmin"))
		return softmax(ex, op, t[0] == 'l' ? "LogSoftmax" : "Softmax", !strcmp(t, "softmin"));
	if (!strcmp(t, "batchnorm2d") || !strcmp(t, "batchnorm1d"))
		return batchnorm(ex, op);
	if (!strcmp(t, "dropout"))
		return dropout(ex, op);
	if (!strcmp(t, "gaussian_noise"))
		return gaussian_noise(ex, op);
	if (!strcmp(t, "add") || !strcmp(t, "concat"))
		return merge(ex, op, t[0] == 'c');
	if (!strcmp(t, "flatten"))
		return flatten(ex, op);
	if (clcnn_op_is_loss(op->cls))
		return ex_refuse(ex, "a loss is not part of an exported model; choose the prediction with @output");
	return ex_refuse(ex, "no ONNX mapping for this layer");
}
