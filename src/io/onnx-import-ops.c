/*
 * ONNX import, one mapping per operator: layers (Conv, pooling, BatchNormalization, activations,
 * Gemm, MatMul+Add, Add, Concat, Dropout), patterns folded into a layer (a zero Pad into
 * the padding of the Conv or AveragePool after it, GELU's erf form), and the shape computations of
 * `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat, Constant, Cast, Reshape) evaluated on
 * static shapes at load time, where dim 0 is the batch. Conventions: ../shared/research/onnx.md B3.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"
#include "io/io.h"
#include "io/onnx-import.h"

const char onnx_imp_supported[] =
	"Add, AveragePool, BatchNormalization, Cast, Clip, Concat, Constant, Conv, Div (GELU), Dropout, Elu, "
	"Erf (GELU), Flatten, Gather, Gelu, Gemm, GlobalAveragePool, GlobalMaxPool, Identity, LeakyRelu, "
	"LogSoftmax, MatMul, MaxPool, Mul (GELU), Pad (before Conv/AveragePool), PRelu, Relu, Reshape, Shape, "
	"Sigmoid, Softmax, Softplus, Squeeze, Tanh, Unsqueeze; and clcnn's exported decompositions: blur "
	"pooling (MaxPool, reflect/edge Pad, blur Conv), SiLU, GELU's tanh form, softplus with beta (Greater, "
	"Where), logsigmoid and softmin (Neg), batch statistics (ReduceMean, Sub, Sqrt), divisor pooling";

/* ---- small helpers */

/* The shortest decimal that reads back as the same float: 0.1f is written "0.1", not 0.100000001. */
const char *imp_fmt(double v, char *buf, size_t len)
{
	for (int p = 1; p <= 9; p++) {
		snprintf(buf, len, "%.*g", p, v);
		if (strtof(buf, NULL) == imp_to_float(v))
			break;
	}
	return buf;
}

static int out_val(struct onnx_imp *im, const struct onnx_node *n, int k, int idx, int kind)
{
	if (idx >= n->noutputs || !*n->outputs[idx])
		return -2; /* an absent optional output */
	int v = imp_add(im, n->outputs[idx], kind, k);
	return v < 0 ? -1 : v;
}

/* Mark outputs from..noutputs-1 as not computed. */
static int unused_outputs(struct onnx_imp *im, const struct onnx_node *n, int k, int from)
{
	for (int i = from; i < n->noutputs; i++)
		if (out_val(im, n, k, i, IMP_UNUSED) == -1)
			return CLCNN_ERR_NO_MEMORY;
	return 0;
}

const char *imp_shape_str(const int64_t *d, int nd, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < nd && o + 24 < len; i++) {
		if (d[i] == ONNX_IMP_BATCH || (d[i] == -1 && i == 0)) /* runtime shapes hold -1 at the batch */
			o += (size_t)snprintf(buf + o, len - o, "%sN", i ? "x" : "");
		else
			o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : "", (long long)d[i]);
	}
	if (!nd)
		snprintf(buf, len, "scalar");
	return buf;
}

static int need_ndim(struct onnx_imp *im, const struct onnx_node *n, int v, int lo, int hi)
{
	const struct onnx_imp_val *x = &im->vals[v];
	if (x->ndim >= lo && x->ndim <= hi)
		return 0;
	char s[96];
	if (lo == hi)
		return imp_fail(im, n, "input '%s' has shape %s: clcnn maps this operator for %d-D tensors only",
				x->onnx, imp_shape_str(x->dims, x->ndim, s, sizeof s), lo);
	return imp_fail(im, n, "input '%s' has shape %s: clcnn maps this operator for %d-D to %d-D tensors", x->onnx,
			imp_shape_str(x->dims, x->ndim, s, sizeof s), lo, hi);
}

static int need_float(struct onnx_imp *im, const struct onnx_node *n, int v)
{
	if (!im->vals[v].is_int)
		return 0;
	return imp_fail(im, n, "constant '%s' holds integers where float weights are expected", im->vals[v].onnx);
}

/* A new float or int64 constant (values copied; i or f NULL: zeros). */
int imp_new_const(struct onnx_imp *im, const char *onnx, int from, int is_int, const int64_t *dims, int ndim,
		  const int64_t *i, const float *f)
{
	int v = imp_add(im, onnx, IMP_CONST, from);
	if (v < 0)
		return CLCNN_ERR_NO_MEMORY;
	struct onnx_imp_val *x = &im->vals[v];
	x->ndim = ndim;
	x->count = 1;
	for (int d = 0; d < ndim; d++)
		x->dims[d] = dims[d], x->count *= (size_t)dims[d];
	x->is_int = is_int;
	size_t bytes = (x->count ? x->count : 1) * 8;
	if (is_int) {
		x->i = calloc(1, bytes);
		if (!x->i)
			return imp_nomem(im);
		if (i)
			memcpy(x->i, i, x->count * sizeof *x->i);
	} else {
		x->f = calloc(1, bytes);
		if (!x->f)
			return imp_nomem(im);
		if (f)
			memcpy(x->f, f, x->count * sizeof *x->f);
	}
	return 0;
}

/* A runtime output for node n named `name` with shape dims. */
int imp_runtime_out(struct onnx_imp *im, const struct onnx_node *n, int k, const char *name, const int64_t *dims,
		    int ndim)
{
	int v = out_val(im, n, k, 0, IMP_RUNTIME);
	if (v == -1)
		return CLCNN_ERR_NO_MEMORY;
	return v < 0 ? 0 : imp_set_runtime(im, v, name, dims, ndim);
}

/* ", key=a" or ", key=(a,b)"; nothing when both equal def */
static void pr2(struct onnx_imp *im, const char *key, int64_t a, int64_t b, int64_t def)
{
	if (a == def && b == def)
		return;
	if (a == b)
		imp_printf(im, ", %s=%lld", key, (long long)a);
	else
		imp_printf(im, ", %s=(%lld,%lld)", key, (long long)a, (long long)b);
}

/* A one-input layer keeping the input's shape: name = op(x<keys>). */
int imp_unary(struct onnx_imp *im, const struct onnx_node *n, int k, const char *op, const char *keys)
{
	int x, rc = imp_runtime(im, n, 0, &x);
	if (rc)
		return rc;
	const char *name = imp_name(im, n, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, op, &x, 1);
	imp_printf(im, "%s", keys);
	imp_end(im, n);
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, im->vals[x].dims, sizeof dims);
	return imp_runtime_out(im, n, k, name, dims, im->vals[x].ndim);
}

/* Output 0 of n is the same tensor as value v (Identity, a no-op Reshape or Cast). */
int imp_alias(struct onnx_imp *im, const struct onnx_node *n, int k, int v)
{
	const struct onnx_imp_val *x = &im->vals[v];
	if (x->kind == IMP_CONST)
		return imp_new_const(im, n->outputs[0], k, x->is_int, x->dims, x->ndim, x->i, x->f);
	char name[256];
	snprintf(name, sizeof name, "%s", x->node);
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, x->dims, sizeof dims);
	int nd = x->ndim;
	return imp_runtime_out(im, n, k, name, dims, nd);
}

/* auto_pad (deprecated, still written by some exporters): pads from the static input size */
static int auto_pads(struct onnx_imp *im, const struct onnx_node *n, const int64_t *in, const int64_t *kern,
		     const int64_t *stride, const int64_t *dil, int64_t *pads)
{
	const char *a = imp_attr_s(n, "auto_pad");
	if (!a || !strcmp(a, "NOTSET"))
		return 0;
	int upper = !strcmp(a, "SAME_UPPER"), lower = !strcmp(a, "SAME_LOWER");
	if (!upper && !lower && strcmp(a, "VALID"))
		return imp_fail(im, n, "auto_pad '%s' unknown (NOTSET, SAME_UPPER, SAME_LOWER, VALID)", a);
	for (int d = 0; d < 2; d++) {
		int64_t total = 0;
		if (upper || lower) {
			int64_t out = (in[d] + stride[d] - 1) / stride[d];
			total = (out - 1) * stride[d] + dil[d] * (kern[d] - 1) + 1 - in[d];
			total = total > 0 ? total : 0;
		}
		/* SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning */
		pads[d] = upper ? total / 2 : total - total / 2;
		pads[d + 2] = total - pads[d];
	}
	return 0;
}

/* Kernel, stride, dilation (>= 1) and pads (>= 0) in a range where the size arithmetic cannot overflow. */
static int check_window(struct onnx_imp *im, const struct onnx_node *n, const int64_t *kern, const int64_t *stride,
			const int64_t *dil, const int64_t *pads)
{
	const int64_t lim = 1 << 20;
	for (int d = 0; d < 2; d++)
		if (kern[d] < 1 || kern[d] > lim || stride[d] < 1 || stride[d] > lim || dil[d] < 1 || dil[d] > lim)
			return imp_fail(im, n, "kernel %lld, stride %lld or dilation %lld out of range (1..%lld)",
					(long long)kern[d], (long long)stride[d], (long long)dil[d], (long long)lim);
	for (int d = 0; d < 4; d++)
		if (pads[d] < 0 || pads[d] > lim)
			return imp_fail(im, n, "pad %lld out of range (0..%lld)", (long long)pads[d], (long long)lim);
	return 0;
}

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d)
{
	return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode)
{
	int64_t num = in + 2 * p - d * (k - 1) - 1;
	int64_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
	if (ceil_mode && (o - 1) * s >= in + p)
		o--; /* the last window must start inside the input or the left padding */
	return o;
}

/* ---- layers */

static int map_conv(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, w, rc = imp_input(im, n, 0, &x);
	if (rc)
		return rc;
	int64_t pre[4] = {0, 0, 0, 0}; /* a folded zero Pad: top, left, bottom, right */
	if (im->vals[x].kind == IMP_PAD) {
		memcpy(pre, im->vals[x].pads, sizeof pre);
		x = im->vals[x].src;
	} else if ((rc = imp_runtime(im, n, 0, &x))) {
		return rc;
	}
	if ((rc = need_ndim(im, n, x, 4, 4)) || (rc = imp_const(im, n, 1, &w)) || (rc = need_float(im, n, w)))
		return rc;
	const struct onnx_imp_val *W = &im->vals[w];
	if (W->ndim != 4)
		return imp_fail(im, n, "weight '%s' has %d dims, 4 expected", W->onnx, W->ndim);
	int64_t group = imp_attr_i(n, "group", 1), M = W->dims[0], C = im->vals[x].dims[1];
	if (group < 1 || group > C || W->dims[1] * group != C || M % group)
		return imp_fail(im, n,
				"weight '%s' (%lldx%lldx%lldx%lld) does not fit %lld input channels in %lld groups",
				W->onnx, (long long)M, (long long)W->dims[1], (long long)W->dims[2],
				(long long)W->dims[3], (long long)C, (long long)group);
	int64_t kern[2] = {W->dims[2], W->dims[3]}, stride[2] = {1, 1}, dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
	imp_attr_ints(n, "strides", stride, 2);
	imp_attr_ints(n, "dilations", dil, 2);
	imp_attr_ints(n, "pads", pads, 4);
	if ((rc = check_window(im, n, kern, stride, dil, pads)) ||
	    (rc = auto_pads(im, n, im->vals[x].dims + 2, kern, stride, dil, pads)))
		return rc;
	for (int i = 0; i < 4; i++)
		pads[i] += pre[i];
	int b = -1;
	if (n->ninputs > 2 && *n->inputs[2]) {
		if ((rc = imp_const(im, n, 2, &b)) || (rc = need_float(im, n, b)))
			return rc;
		if (im->vals[b].count != (size_t)M)
			return imp_fail(im, n, "bias '%s' has %zu values for %lld output channels", im->vals[b].onnx,
					im->vals[b].count, (long long)M);
	}
	const char *name = imp_name(im, n, n->inputs[1]);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, "conv2d", &x, 1);
	imp_printf(im, ", out_channels=%lld", (long long)M);
	pr2(im, "kernel_size", kern[0], kern[1], -1);
	pr2(im, "stride", stride[0], stride[1], 1);
	if (pads[0] == pads[2] && pads[1] == pads[3])
		pr2(im, "padding", pads[0], pads[1], 0);
	else /* ONNX (top, left, bottom, right) -> clcnn (top, bottom, left, right) */
		imp_printf(im, ", padding=(%lld,%lld,%lld,%lld)", (long long)pads[0], (long long)pads[2],
			   (long long)pads[1], (long long)pads[3]);
	pr2(im, "dilation", dil[0], dil[1], 1);
	if (group != 1)
		imp_printf(im, ", groups=%lld", (long long)group);
	if (b < 0)
		imp_printf(im, ", bias=false");
	imp_end(im, n);
	W = &im->vals[w];
	if ((rc = imp_weight(im, name, "weight", W->f, W->dims, 4, 0)))
		return rc;
	if (b >= 0 && (rc = imp_weight(im, name, "bias", im->vals[b].f, &M, 1, 0)))
		return rc;
	const int64_t *in = im->vals[x].dims;
	int64_t od[4] = {-1, M, conv_out(in[2], kern[0], stride[0], pads[0], pads[2], dil[0]),
			 conv_out(in[3], kern[1], stride[1], pads[1], pads[3], dil[1])};
	if (od[2] < 1 || od[3] < 1)
		return imp_fail(im, n, "the kernel is larger than the padded input");
	return imp_runtime_out(im, n, k, name, od, 4);
}

static int map_pool(struct onnx_imp *im, const struct onnx_node *n, int k, int avg)
{
	int x, rc = imp_input(im, n, 0, &x);
	if (rc)
		return rc;
	int64_t pre[4] = {0, 0, 0, 0};
	int folded = 0;
	if (avg && im->vals[x].kind == IMP_PAD) {
		memcpy(pre, im->vals[x].pads, sizeof pre);
		x = im->vals[x].src;
		folded = 1;
	} else if ((rc = imp_runtime(im, n, 0, &x))) {
		return rc;
	}
	if ((rc = need_ndim(im, n, x, 4, 4)))
		return rc;
	int64_t kern[2] = {0, 0}, stride[2] = {1, 1}, dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
	if (imp_attr_ints(n, "kernel_shape", kern, 2) != 2)
		return imp_fail(im, n, "kernel_shape must give 2 sizes (2-D pooling)");
	imp_attr_ints(n, "strides", stride, 2);
	imp_attr_ints(n, "dilations", dil, 2);
	imp_attr_ints(n, "pads", pads, 4);
	if ((rc = check_window(im, n, kern, stride, dil, pads)) ||
	    (rc = auto_pads(im, n, im->vals[x].dims + 2, kern, stride, dil, pads)))
		return rc;
	int ceil_mode = (int)imp_attr_i(n, "ceil_mode", 0);
	int include = (int)imp_attr_i(n, "count_include_pad", 0); /* ONNX's default, unlike PyTorch's */
	if (folded) {
		if (include == 0 && (pads[0] || pads[1] || pads[2] || pads[3]))
			return imp_fail(im, n,
					"a Pad before an AveragePool that pads again without counting the "
					"padding cannot be folded");
		for (int i = 0; i < 4; i++)
			pads[i] += pre[i];
		include = 1; /* the Pad's zeros are part of every window */
	}
	if (pads[0] != pads[2] || pads[1] != pads[3])
		return imp_fail(im, n,
				"asymmetric pads (top %lld, left %lld, bottom %lld, right %lld): clcnn's %s pads both "
				"sides equally",
				(long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3],
				avg ? "avgpool2d" : "maxpool2d");
	if (avg && (dil[0] != 1 || dil[1] != 1))
		return imp_fail(im, n, "dilations: clcnn's avgpool2d has none");
	const char *name = imp_name(im, n, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, avg ? "avgpool2d" : "maxpool2d", &x, 1);
	pr2(im, "kernel_size", kern[0], kern[1], -1);
	pr2(im, "stride", stride[0], stride[1], -1); /* always written: clcnn's default is the kernel size */
	pr2(im, "padding", pads[0], pads[1], 0);
	if (!avg)
		pr2(im, "dilation", dil[0], dil[1], 1);
	if (ceil_mode)
		imp_printf(im, ", ceil_mode=true");
	if (avg)
		imp_printf(im, ", count_include_pad=%s", include ? "true" : "false");
	imp_end(im, n);
	const int64_t *in = im->vals[x].dims;
	int64_t od[4] = {-1, in[1], pool_out(in[2], kern[0], stride[0], pads[0], dil[0], ceil_mode),
			 pool_out(in[3], kern[1], stride[1], pads[1], dil[1], ceil_mode)};
	if (od[2] < 1 || od[3] < 1)
		return imp_fail(im, n, "the window is larger than the padded input");
	if ((rc = imp_runtime_out(im, n, k, name, od, 4)))
		return rc;
	return unused_outputs(im, n, k, 1); /* MaxPool's Indices */
}

static int map_global(struct onnx_imp *im, const struct onnx_node *n, int k, const char *op)
{
	int x, rc = imp_runtime(im, n, 0, &x);
	if (rc || (rc = need_ndim(im, n, x, 4, 4)))
		return rc;
	const char *name = imp_name(im, n, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, op, &x, 1);
	imp_end(im, n);
	int64_t od[4] = {-1, im->vals[x].dims[1], 1, 1};
	return imp_runtime_out(im, n, k, name, od, 4);
}

static int map_batchnorm(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, p[4], rc = imp_runtime(im, n, 0, &x);
	if (rc || (rc = need_ndim(im, n, x, 2, 4)))
		return rc;
	int64_t C = im->vals[x].dims[1];
	for (int i = 0; i < 4; i++) {
		if ((rc = imp_const(im, n, i + 1, &p[i])) || (rc = need_float(im, n, p[i])))
			return rc;
		if (im->vals[p[i]].count != (size_t)C)
			return imp_fail(im, n, "'%s' has %zu values for %lld channels", im->vals[p[i]].onnx,
					im->vals[p[i]].count, (long long)C);
	}
	const char *name = imp_name(im, n, n->inputs[1]);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	float eps = imp_attr_f(n, "epsilon", 1e-5f), mom = imp_attr_f(n, "momentum", 0.9f);
	imp_begin(im, name, im->vals[x].ndim == 4 ? "batchnorm2d" : "batchnorm1d", &x, 1);
	/* ONNX: running = running * momentum + batch * (1 - momentum), PyTorch's momentum is the complement */
	char b1[32];
	imp_printf(im, ", eps=%s, momentum=%.6g", imp_fmt(eps, b1, sizeof b1), 1.0 - (double)mom);
	imp_end(im, n);
	static const char *const what[4] = {"weight", "bias", "running_mean", "running_var"};
	for (int i = 0; i < 4; i++)
		if ((rc = imp_weight(im, name, what[i], im->vals[p[i]].f, &C, 1, 0)))
			return rc;
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, im->vals[x].dims, sizeof dims);
	if ((rc = imp_runtime_out(im, n, k, name, dims, im->vals[x].ndim)))
		return rc;
	return unused_outputs(im, n, k, 1); /* training_mode's running statistics (clcnn updates its own) */
}

static int map_prelu(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, s, rc = imp_runtime(im, n, 0, &x);
	if (rc || (rc = imp_const(im, n, 1, &s)) || (rc = need_float(im, n, s)))
		return rc;
	int64_t cnt = (int64_t)im->vals[s].count;
	if (cnt != 1 && (im->vals[x].ndim < 2 || cnt != im->vals[x].dims[1]))
		return imp_fail(im, n, "slope '%s' has %lld values: clcnn's prelu takes 1 or one per channel",
				im->vals[s].onnx, (long long)cnt);
	const char *name = imp_name(im, n, n->inputs[1]);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, "prelu", &x, 1);
	imp_printf(im, ", num_parameters=%lld", (long long)cnt);
	imp_end(im, n);
	if ((rc = imp_weight(im, name, "weight", im->vals[s].f, &cnt, 1, 0)))
		return rc;
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, im->vals[x].dims, sizeof dims);
	return imp_runtime_out(im, n, k, name, dims, im->vals[x].ndim);
}

int imp_map_softmax(struct onnx_imp *im, const struct onnx_node *n, int k, const char *op)
{
	int x, rc = imp_runtime(im, n, 0, &x);
	if (rc)
		return rc;
	const struct onnx_imp_val *X = &im->vals[x];
	int64_t axis = imp_attr_i(n, "axis", im->opset && im->opset < 13 ? 1 : -1);
	if (axis < 0)
		axis += X->ndim;
	if (axis < 1 || axis >= X->ndim)
		return imp_fail(im, n, "axis %lld of a %d-D tensor: clcnn normalises along one non-batch dim",
				(long long)imp_attr_i(n, "axis", 0), X->ndim);
	/* before opset 13 the input is coerced to 2-D at axis: one softmax over all dims from axis */
	for (int d = (int)axis + 1; im->opset && im->opset < 13 && d < X->ndim; d++)
		if (X->dims[d] != 1)
			return imp_fail(im, n,
					"opset %lld normalises over dims %lld.. together (shape coerced to 2-D); clcnn "
					"normalises along one dim: flatten first",
					(long long)im->opset, (long long)axis);
	char keys[32];
	snprintf(keys, sizeof keys, ", dim=%lld", (long long)axis);
	return imp_unary(im, n, k, op, keys);
}

static int map_gemm(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int a, bw, c = -1, rc = imp_runtime(im, n, 0, &a);
	if (rc || (rc = need_ndim(im, n, a, 2, 2)) || (rc = imp_const(im, n, 1, &bw)) || (rc = need_float(im, n, bw)))
		return rc;
	if (imp_attr_i(n, "transA", 0))
		return imp_fail(im, n, "transA=1: clcnn's linear takes the samples as rows");
	const struct onnx_imp_val *B = &im->vals[bw];
	int tb = (int)imp_attr_i(n, "transB", 0);
	float alpha = imp_attr_f(n, "alpha", 1.0f), beta = imp_attr_f(n, "beta", 1.0f);
	if (B->ndim != 2 || B->dims[0] < 1 || B->dims[1] < 1)
		return imp_fail(im, n, "B '%s' must be a non-empty matrix", B->onnx);
	int64_t K = im->vals[a].dims[1], M = tb ? B->dims[0] : B->dims[1];
	if ((tb ? B->dims[1] : B->dims[0]) != K)
		return imp_fail(im, n, "B '%s' (%lldx%lld, transB=%d) does not take %lld input features", B->onnx,
				(long long)B->dims[0], (long long)B->dims[1], tb, (long long)K);
	if (n->ninputs > 2 && *n->inputs[2]) {
		if ((rc = imp_const(im, n, 2, &c)) || (rc = need_float(im, n, c)))
			return rc;
		if (im->vals[c].count != (size_t)M && im->vals[c].count != 1)
			return imp_fail(im, n, "C '%s' has %zu values: a bias needs %lld or 1", im->vals[c].onnx,
					im->vals[c].count, (long long)M);
	}
	float *w = malloc((size_t)(M * K) * sizeof *w), *bias = malloc((size_t)M * sizeof *bias);
	if (!w || !bias) {
		free(w);
		free(bias);
		return imp_nomem(im);
	}
	B = &im->vals[bw];
	for (int64_t o = 0; o < M; o++)
		for (int64_t i = 0; i < K; i++) /* clcnn's linear weight is [out, in], as PyTorch's */
			w[o * K + i] = alpha * B->f[tb ? o * K + i : i * M + o];
	for (int64_t o = 0; c >= 0 && o < M; o++)
		bias[o] = beta * im->vals[c].f[im->vals[c].count == 1 ? 0 : o];
	const char *name = imp_name(im, n, n->inputs[1]);
	if (name) {
		imp_begin(im, name, "linear", &a, 1);
		imp_printf(im, ", out_features=%lld%s", (long long)M, c < 0 ? ", bias=false" : "");
		imp_end(im, n);
	}
	int64_t wd[2] = {M, K};
	rc = name ? imp_weight(im, name, "weight", w, wd, 2, 0) : CLCNN_ERR_NO_MEMORY;
	if (!rc && c >= 0)
		rc = imp_weight(im, name, "bias", bias, &M, 1, 0);
	free(w);
	free(bias);
	int64_t od[2] = {-1, M};
	return rc ? rc : imp_runtime_out(im, n, k, name, od, 2);
}

static int map_matmul(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int a, bw, rc = imp_runtime(im, n, 0, &a);
	if (rc || (rc = need_ndim(im, n, a, 2, 2)) || (rc = imp_const(im, n, 1, &bw)) || (rc = need_float(im, n, bw)))
		return rc;
	const struct onnx_imp_val *B = &im->vals[bw];
	int64_t K = im->vals[a].dims[1];
	if (B->ndim != 2 || B->dims[0] != K || B->dims[1] < 1)
		return imp_fail(im, n, "B '%s' must be a %lld x M matrix", B->onnx, (long long)K);
	int64_t M = B->dims[1];
	float *w = malloc((size_t)(M * K) * sizeof *w);
	if (!w)
		return imp_nomem(im);
	for (int64_t o = 0; o < M; o++)
		for (int64_t i = 0; i < K; i++)
			w[o * K + i] = B->f[i * M + o];
	int v = out_val(im, n, k, 0, IMP_MATMUL);
	if (v < 0) {
		free(w);
		return v == -1 ? CLCNN_ERR_NO_MEMORY : 0;
	}
	struct onnx_imp_val *x = &im->vals[v];
	x->src = a;
	x->w = w;
	x->wout = M;
	x->win = K;
	x->ndim = 2;
	x->dims[0] = -1;
	x->dims[1] = M;
	return 0;
}

/* MatMul + Add(bias) -> linear with bias */
static int matmul_bias(struct onnx_imp *im, const struct onnx_node *n, int k, int mm, int c)
{
	struct onnx_imp_val *x = &im->vals[mm];
	const struct onnx_imp_val *C = &im->vals[c];
	if (C->is_int || (C->count != (size_t)x->wout && C->count != 1))
		return imp_fail(im, n, "'%s' (%zu values) is no bias of the MatMul's %lld outputs", C->onnx, C->count,
				(long long)x->wout);
	const struct onnx_node *mn = &im->g->nodes[x->from];
	const char *name = imp_name(im, mn, mn->inputs[1]);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	x = &im->vals[mm];
	int src = x->src;
	imp_begin(im, name, "linear", &src, 1);
	imp_printf(im, ", out_features=%lld", (long long)x->wout);
	imp_end(im, n);
	int64_t wd[2] = {x->wout, x->win}, M = x->wout;
	int rc = imp_weight(im, name, "weight", x->w, wd, 2, 0);
	float *bias = malloc((size_t)M * sizeof *bias);
	if (!rc && !bias)
		rc = imp_nomem(im);
	for (int64_t o = 0; !rc && o < M; o++)
		bias[o] = im->vals[c].f[im->vals[c].count == 1 ? 0 : o];
	if (!rc)
		rc = imp_weight(im, name, "bias", bias, &M, 1, 0);
	free(bias);
	int64_t od[2] = {-1, M};
	return rc ? rc : imp_runtime_out(im, n, k, name, od, 2);
}

static int map_add(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int a, b, rc = imp_input(im, n, 0, &a);
	if (rc || (rc = imp_input(im, n, 1, &b)))
		return rc;
	int ka = im->vals[a].kind, kb = im->vals[b].kind, handled = 0;
	if (ka == IMP_GELU2 || kb == IMP_GELU2 || (ka == IMP_CONST && kb == IMP_CONST))
		return imp_map_arith(im, n, k, &handled);
	if (ka == IMP_MATMUL && kb == IMP_CONST)
		return matmul_bias(im, n, k, a, b);
	if (kb == IMP_MATMUL && ka == IMP_CONST)
		return matmul_bias(im, n, k, b, a);
	if ((rc = imp_runtime(im, n, 0, &a)) || (rc = imp_runtime(im, n, 1, &b)))
		return rc;
	const struct onnx_imp_val *A = &im->vals[a], *B = &im->vals[b];
	int same = A->ndim == B->ndim;
	for (int d = 1; same && d < A->ndim; d++)
		same = A->dims[d] == B->dims[d];
	char s1[96], s2[96];
	if (!same)
		return imp_fail(im, n, "adds %s and %s: clcnn's add takes tensors of one shape (no broadcasting)",
				imp_shape_str(A->dims, A->ndim, s1, sizeof s1),
				imp_shape_str(B->dims, B->ndim, s2, sizeof s2));
	const char *name = imp_name(im, n, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	int ins[2] = {a, b};
	imp_begin(im, name, "add", ins, 2);
	imp_end(im, n);
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, im->vals[a].dims, sizeof dims);
	return imp_runtime_out(im, n, k, name, dims, im->vals[a].ndim);
}

static int map_concat(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int ins[8], nconst = 0;
	if (n->ninputs < 1)
		return imp_fail(im, n, "no inputs");
	for (int i = 0; i < n->ninputs; i++) {
		int v, rc = imp_input(im, n, i, &v);
		if (rc)
			return rc;
		nconst += im->vals[v].kind == IMP_CONST;
	}
	int handled = 0;
	if (nconst == n->ninputs) /* a shape being computed */
		return imp_map_shape_op(im, n, k, &handled);
	if (n->ninputs < 2 || n->ninputs > 8)
		return imp_fail(im, n, "%d inputs: clcnn's concat takes 2 to 8", n->ninputs);
	for (int i = 0; i < n->ninputs; i++) {
		int rc = imp_runtime(im, n, i, &ins[i]);
		if (rc)
			return rc;
	}
	const struct onnx_imp_val *A = &im->vals[ins[0]];
	int64_t axis = imp_attr_i(n, "axis", 1), total = 0;
	if (axis < 0)
		axis += A->ndim;
	if (axis < 1 || axis >= A->ndim)
		return imp_fail(im, n, "axis %lld: clcnn concatenates along a non-batch dim", (long long)axis);
	for (int i = 0; i < n->ninputs; i++) {
		const struct onnx_imp_val *B = &im->vals[ins[i]];
		int ok = B->ndim == A->ndim;
		for (int d = 1; ok && d < A->ndim; d++)
			ok = d == axis || B->dims[d] == A->dims[d];
		if (!ok)
			return imp_fail(im, n, "input '%s' does not match the others outside the axis", B->onnx);
		total += B->dims[axis];
	}
	const char *name = imp_name(im, n, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, "concat", ins, n->ninputs);
	imp_printf(im, ", dim=%lld", (long long)axis);
	imp_end(im, n);
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, im->vals[ins[0]].dims, sizeof dims);
	dims[axis] = total;
	return imp_runtime_out(im, n, k, name, dims, im->vals[ins[0]].ndim);
}

static int map_clip(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	double lo = -INFINITY, hi = INFINITY;
	if (im->opset && im->opset < 11) {
		lo = imp_attr_f(n, "min", -FLT_MAX);
		hi = imp_attr_f(n, "max", FLT_MAX);
	} else {
		for (int i = 1; i < 3 && i < n->ninputs; i++) {
			int c, rc;
			if (!*n->inputs[i])
				continue;
			if ((rc = imp_const(im, n, i, &c)))
				return rc;
			if (im->vals[c].count != 1)
				return imp_fail(im, n, "'%s' must be a scalar", im->vals[c].onnx);
			*(i == 1 ? &lo : &hi) = imp_cval(&im->vals[c], 0);
		}
	}
	if (lo == 0 && hi >= FLT_MAX)
		return imp_unary(im, n, k, "relu", "");
	if (lo <= -FLT_MAX || hi >= FLT_MAX)
		return imp_fail(im, n, "a clamp with one bound other than Relu's: clcnn's hardtanh takes both");
	char keys[96], b1[32], b2[32];
	snprintf(keys, sizeof keys, ", min_val=%s, max_val=%s", imp_fmt(lo, b1, sizeof b1), imp_fmt(hi, b2, sizeof b2));
	return imp_unary(im, n, k, "hardtanh", keys);
}

static int map_dropout(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	double p = imp_attr_f(n, "ratio", 0.5f);
	if (n->ninputs > 1 && *n->inputs[1]) {
		int c, rc = imp_const(im, n, 1, &c);
		if (rc)
			return rc;
		p = imp_cval(&im->vals[c], 0);
	}
	char keys[48], b1[32];
	snprintf(keys, sizeof keys, ", p=%s", imp_fmt(p, b1, sizeof b1));
	int rc = imp_unary(im, n, k, "dropout", keys); /* identity in eval mode, as the export's */
	return rc ? rc : unused_outputs(im, n, k, 1);
}

/* ---- dispatch */

int imp_map_node(struct onnx_imp *im, int k)
{
	const struct onnx_node *n = &im->g->nodes[k];
	const char *t = n->op_type;
	char keys[64], b1[32];
	if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx"))
		goto unsupported;
	if (n->noutputs < 1 || !*n->outputs[0])
		return imp_fail(im, n, "no output");
	if (!strcmp(t, "Conv"))
		return map_conv(im, n, k);
	if (!strcmp(t, "MaxPool") || !strcmp(t, "AveragePool"))
		return map_pool(im, n, k, t[0] == 'A');
	if (!strcmp(t, "GlobalAveragePool"))
		return map_global(im, n, k, "global_avgpool2d");
	if (!strcmp(t, "GlobalMaxPool"))
		return map_global(im, n, k, "global_maxpool2d");
	if (!strcmp(t, "BatchNormalization"))
		return map_batchnorm(im, n, k);
	if (!strcmp(t, "Relu"))
		return imp_unary(im, n, k, "relu", "");
	if (!strcmp(t, "Sigmoid"))
		return imp_unary(im, n, k, "sigmoid", "");
	if (!strcmp(t, "Tanh"))
		return imp_unary(im, n, k, "tanh", "");
	if (!strcmp(t, "Softplus"))
		return imp_unary(im, n, k, "softplus", "");
	if (!strcmp(t, "LeakyRelu")) {
		snprintf(keys, sizeof keys, ", negative_slope=%s",
			 imp_fmt(imp_attr_f(n, "alpha", 0.01f), b1, sizeof b1));
		return imp_unary(im, n, k, "leaky_relu", keys);
	}
	if (!strcmp(t, "Elu")) {
		snprintf(keys, sizeof keys, ", alpha=%s", imp_fmt(imp_attr_f(n, "alpha", 1.0f), b1, sizeof b1));
		return imp_unary(im, n, k, "elu", keys);
	}
	if (!strcmp(t, "Gelu")) {
		const char *a = imp_attr_s(n, "approximate");
		int tanh_form = a && !strcmp(a, "tanh");
		return imp_unary(im, n, k, "gelu", tanh_form ? ", approximate=tanh" : "");
	}
	if (!strcmp(t, "PRelu"))
		return map_prelu(im, n, k);
	if (!strcmp(t, "Softmax"))
		return imp_map_softmax(im, n, k, "softmax");
	if (!strcmp(t, "LogSoftmax"))
		return imp_map_softmax(im, n, k, "logsoftmax");
	if (!strcmp(t, "Gemm"))
		return map_gemm(im, n, k);
	if (!strcmp(t, "MatMul"))
		return map_matmul(im, n, k);
	if (!strcmp(t, "Add"))
		return map_add(im, n, k);
	if (!strcmp(t, "Concat"))
		return map_concat(im, n, k);
	if (!strcmp(t, "Flatten"))
		return imp_map_flatten(im, n, k);
	if (!strcmp(t, "Clip"))
		return map_clip(im, n, k);
	if (!strcmp(t, "Dropout"))
		return map_dropout(im, n, k);
	if (!strcmp(t, "Identity")) {
		int x, rc = imp_input(im, n, 0, &x);
		if (!rc && im->vals[x].kind != IMP_CONST)
			rc = imp_runtime(im, n, 0, &x);
		/* an Identity of a graph input is a layer (clcnn's identity): a graph output needs a node */
		if (!rc && im->vals[x].kind == IMP_RUNTIME && im->vals[x].from < 0)
			return imp_unary(im, n, k, "identity", "");
		return rc ? rc : imp_alias(im, n, k, x);
	}
	int handled = 0, rc = imp_map_shape_op(im, n, k, &handled);
	if (handled)
		return rc;
	rc = imp_map_arith(im, n, k, &handled);
	if (handled)
		return rc;
unsupported:
	return clcnn_io_fail(im->err, im->errlen, CLCNN_ERR_FORMAT,
			     "%s: node '%s': unsupported operator %s%s%s (opset %lld); clcnn imports: %s", im->file,
			     n->name && *n->name ? n->name : "(unnamed)", n->domain && *n->domain ? n->domain : "",
			     n->domain && *n->domain ? "." : "", t, (long long)im->opset, onnx_imp_supported);
}
