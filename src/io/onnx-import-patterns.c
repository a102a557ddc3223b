/*
 * ONNX import: the decompositions clcnn's exporter (src/graph/onnx-export-ops.c) writes for layers
 * ONNX has no operator for, read back as those layers, so that clcnn -> ONNX -> clcnn computes the
 * same bits. A pattern is a run of consecutive nodes (the exporter writes a layer's nodes together)
 * whose intermediate tensors nothing else reads, with every constant checked against what the
 * exporter would write: the blur filter of that size, the Pad's mode and amounts, the pooling
 * divisors, the scalars of SiLU / GELU / softplus. Anything else is left to the per-operator
 * mappings, which report what they cannot import.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"
#include "io/onnx-import.h"

#define MAX_BLUR 7 /* blurpool2d's filt_size range, 1..7 */

/* Node k of the graph when it has type t in the default domain and exactly one output, else NULL. */
static const struct onnx_node *at(const struct onnx_imp *im, int k, const char *t)
{
	if (k >= im->g->nnodes)
		return NULL;
	const struct onnx_node *n = &im->g->nodes[k];
	if (strcmp(n->op_type, t) || (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")))
		return NULL;
	return n->noutputs == 1 && *n->outputs[0] ? n : NULL;
}

/* n reads tensor t as input i (and has exactly nin inputs, trailing absent ones aside). */
static int reads(const struct onnx_node *n, int nin, int i, const char *t)
{
	int have = n->ninputs;
	while (have > nin && !*n->inputs[have - 1])
		have--;
	return have == nin && i < nin && !strcmp(n->inputs[i], t);
}

/* An intermediate tensor of a pattern: read exactly uses times (by the pattern), no graph output. */
static int internal(const struct onnx_imp *im, const struct onnx_node *n, int uses)
{
	return imp_consumers(im, n->outputs[0]) == uses;
}

/* The float constant named t, or NULL. */
static const struct onnx_imp_val *fconst(struct onnx_imp *im, const char *t)
{
	int v = imp_find(im, t);
	return v >= 0 && im->vals[v].kind == IMP_CONST && !im->vals[v].is_int ? &im->vals[v] : NULL;
}

/* t is a one-element float constant with exactly the bits of v (a scalar the exporter writes). */
static int scalar_is(struct onnx_imp *im, const char *t, float v)
{
	const struct onnx_imp_val *c = fconst(im, t);
	return c && c->count == 1 && !memcmp(&c->f[0], &v, sizeof v);
}

/* t is a one-element float constant (its value in *v). */
static int scalar(struct onnx_imp *im, const char *t, float *v)
{
	const struct onnx_imp_val *c = fconst(im, t);
	if (!c || c->count != 1)
		return 0;
	*v = c->f[0];
	return 1;
}

/* Attribute name is absent or holds exactly the ints want[0..n-1]. */
static int ints_are(const struct onnx_node *n, const char *name, const int64_t *want, int cnt)
{
	int64_t v[8];
	int got = imp_attr_ints(n, name, v, 8);
	if (!got && !clcnn_onnx_attr(n, name))
		return 1;
	return got == cnt && !memcmp(v, want, (size_t)cnt * sizeof *v);
}

/* auto_pad absent or NOTSET */
static int no_auto_pad(const struct onnx_node *n)
{
	const char *a = imp_attr_s(n, "auto_pad");
	return !a || !strcmp(a, "NOTSET");
}

/*
 * Map the pattern as a one-input layer: a copy of its last node reading the pattern's input x
 * (so that imp_unary / imp_runtime see the runtime tensor) and writing the pattern's output.
 */
static struct onnx_node as_unary(const struct onnx_node *last, char **x)
{
	struct onnx_node n = *last;
	n.inputs = x;
	n.ninputs = 1;
	return n;
}

/* ------------------------------------------------------------------ activations */

/* silu: Mul(x, Sigmoid(x)) */
static int silu(struct onnx_imp *im, int k, int *used)
{
	const struct onnx_node *s = at(im, k, "Sigmoid"), *m = at(im, k + 1, "Mul");
	if (!s || !m || s->ninputs != 1 || !internal(im, s, 1))
		return 0;
	char *x = s->inputs[0];
	if (!(reads(m, 2, 0, x) && reads(m, 2, 1, s->outputs[0])) &&
	    !(reads(m, 2, 1, x) && reads(m, 2, 0, s->outputs[0])))
		return 0;
	struct onnx_node f = as_unary(m, &x);
	*used = 2;
	return imp_unary(im, &f, k + 1, "silu", "");
}

/* logsigmoid: Neg(Softplus(Neg(x))); softmin: Softmax(Neg(x)) */
static int negated(struct onnx_imp *im, int k, int *used)
{
	const struct onnx_node *a = at(im, k, "Neg");
	if (!a || a->ninputs != 1 || !internal(im, a, 1))
		return 0;
	char *x = a->inputs[0];
	const struct onnx_node *sp = at(im, k + 1, "Softplus"), *b = at(im, k + 2, "Neg");
	if (sp && b && reads(sp, 1, 0, a->outputs[0]) && internal(im, sp, 1) && reads(b, 1, 0, sp->outputs[0])) {
		struct onnx_node f = as_unary(b, &x);
		*used = 3;
		return imp_unary(im, &f, k + 2, "logsigmoid", "");
	}
	const struct onnx_node *sm = at(im, k + 1, "Softmax");
	if (sm && reads(sm, 1, 0, a->outputs[0])) {
		struct onnx_node f = as_unary(sm, &x);
		*used = 2;
		return imp_map_softmax(im, &f, k + 1, "softmin");
	}
	return 0;
}

/* softplus(beta, threshold): Where(Greater(beta x, threshold), x, Softplus(beta x) / beta) */
static int softplus(struct onnx_imp *im, int k, int *used)
{
	const struct onnx_node *mul = at(im, k, "Mul"), *sp = at(im, k + 1, "Softplus"), *div = at(im, k + 2, "Div"),
			       *gt = at(im, k + 3, "Greater"), *wh = at(im, k + 4, "Where");
	if (!mul || !sp || !div || !gt || !wh || mul->ninputs != 2)
		return 0;
	char *x = mul->inputs[0];
	const char *bx = mul->outputs[0];
	float beta, thr;
	if (!scalar(im, mul->inputs[1], &beta) || !internal(im, mul, 2) || !reads(sp, 1, 0, bx) ||
	    !internal(im, sp, 1) || !reads(div, 2, 0, sp->outputs[0]) || !scalar_is(im, div->inputs[1], beta) ||
	    !internal(im, div, 1) || !reads(gt, 2, 0, bx) || !scalar(im, gt->inputs[1], &thr) || !internal(im, gt, 1) ||
	    !reads(wh, 3, 0, gt->outputs[0]) || !reads(wh, 3, 1, x) || !reads(wh, 3, 2, div->outputs[0]))
		return 0;
	if (!(beta > 0) || !isfinite(thr))
		return 0;
	char keys[96], b1[32], b2[32];
	snprintf(keys, sizeof keys, ", beta=%s, threshold=%s", imp_fmt(beta, b1, sizeof b1),
		 imp_fmt(thr, b2, sizeof b2));
	struct onnx_node f = as_unary(wh, &x);
	*used = 5;
	return imp_unary(im, &f, k + 4, "softplus", keys);
}

/* gelu(approximate=tanh): x * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) * 0.5, as the exporter's nine nodes */
static int gelu_tanh(struct onnx_imp *im, int k, int *used)
{
	static const char *const type[9] = {"Mul", "Mul", "Mul", "Add", "Mul", "Tanh", "Add", "Mul", "Mul"};
	const struct onnx_node *n[9];
	for (int i = 0; i < 9; i++)
		if (!(n[i] = at(im, k + i, type[i])) || (i < 8 && !internal(im, n[i], 1)))
			return 0;
	if (n[0]->ninputs != 2)
		return 0;
	char *x = n[0]->inputs[0];
	const char *o[9];
	for (int i = 0; i < 9; i++)
		o[i] = n[i]->outputs[0];
	if (!reads(n[0], 2, 1, x) || !reads(n[1], 2, 0, o[0]) || !reads(n[1], 2, 1, x) || !reads(n[2], 2, 0, o[1]) ||
	    !scalar_is(im, n[2]->inputs[1], 0.044715f) || !reads(n[3], 2, 0, x) || !reads(n[3], 2, 1, o[2]) ||
	    !reads(n[4], 2, 0, o[3]) || !scalar_is(im, n[4]->inputs[1], 0.7978845608028654f) ||
	    !reads(n[5], 1, 0, o[4]) || !reads(n[6], 2, 0, o[5]) || !scalar_is(im, n[6]->inputs[1], 1.0f) ||
	    !reads(n[7], 2, 0, x) || !reads(n[7], 2, 1, o[6]) || !reads(n[8], 2, 0, o[7]) ||
	    !scalar_is(im, n[8]->inputs[1], 0.5f))
		return 0;
	struct onnx_node f = as_unary(n[8], &x);
	*used = 9;
	return imp_unary(im, &f, k + 8, "gelu", ", approximate=tanh");
}

/* ------------------------------------------------------------------ pooling */

/* Binomial row fs-1 normalised to sum 1 (the exporter's blur_tap, blurpool.c's tap). */
static double blur_tap(int fs, int i)
{
	double c = 1;
	for (int j = 0; j < i; j++)
		c = c * (fs - 1 - j) / (j + 1);
	return c / ldexp(1.0, fs - 1);
}

/* W is a float [C, 1, fs, fs] constant holding the blur filter of size fs in every channel. */
static int is_blur(const struct onnx_imp_val *W, int64_t C)
{
	if (!W || W->ndim != 4 || W->dims[0] != C || W->dims[1] != 1 || W->dims[2] != W->dims[3] || W->dims[2] < 1 ||
	    W->dims[2] > MAX_BLUR)
		return 0;
	int fs = (int)W->dims[2];
	for (int64_t c = 0; c < C; c++)
		for (int i = 0; i < fs; i++)
			for (int j = 0; j < fs; j++) {
				float t = (float)(blur_tap(fs, i) * blur_tap(fs, j));
				if (memcmp(&W->f[(c * fs + i) * fs + j], &t, sizeof t))
					return 0;
			}
	return 1;
}

/*
 * blurpool2d: [Pad(reflect | edge, (fs-1)/2 before, the rest after)] then a depthwise Conv with
 * the blur filter at the stride (zero padding inside the Conv); maxblurpool2d puts a
 * MaxPool(kernel, stride 1, no padding) in front.
 */
static int blurpool(struct onnx_imp *im, int k, int *used)
{
	int j = k;
	const struct onnx_node *mp = at(im, j, "MaxPool"), *pad, *conv;
	static const int64_t one[2] = {1, 1}, zero[4] = {0, 0, 0, 0};
	int64_t kern[2];
	char *x = im->g->nodes[k].ninputs ? im->g->nodes[k].inputs[0] : NULL;
	const char *cur = x;
	if (!x || !*x)
		return 0;
	if (mp) {
		if (mp->ninputs != 1 || imp_attr_ints(mp, "kernel_shape", kern, 2) != 2 ||
		    !ints_are(mp, "strides", one, 2) || !ints_are(mp, "pads", zero, 4) ||
		    !ints_are(mp, "dilations", one, 2) || imp_attr_i(mp, "ceil_mode", 0) ||
		    imp_attr_i(mp, "storage_order", 0) || !no_auto_pad(mp) || !internal(im, mp, 1) || kern[0] < 1 ||
		    kern[1] < 1)
			return 0;
		cur = mp->outputs[0];
		j++;
	}
	const char *mode = "zero";
	int64_t pads[8] = {0};
	if ((pad = at(im, j, "Pad"))) {
		const char *m = imp_attr_s(pad, "mode");
		int pv = pad->ninputs > 1 ? imp_find(im, pad->inputs[1]) : -1;
		if (!reads(pad, 2, 0, cur) || !m || !internal(im, pad, 1) || pv < 0 || im->vals[pv].kind != IMP_CONST ||
		    !im->vals[pv].is_int || im->vals[pv].count != 8)
			return 0;
		if (!strcmp(m, "reflect"))
			mode = "reflect";
		else if (!strcmp(m, "edge"))
			mode = "replicate";
		else
			return 0;
		memcpy(pads, im->vals[pv].i, sizeof pads);
		cur = pad->outputs[0];
		j++;
	}
	if (!(conv = at(im, j, "Conv")) || !reads(conv, 2, 0, cur))
		return 0;
	int xv = imp_find(im, x);
	if (xv < 0 || im->vals[xv].kind != IMP_RUNTIME || im->vals[xv].ndim != 4)
		return 0;
	int64_t C = im->vals[xv].dims[1];
	const struct onnx_imp_val *W = fconst(im, conv->inputs[1]);
	if (!is_blur(W, C))
		return 0;
	int64_t fs = W->dims[2], b = (fs - 1) / 2, a = fs - 1 - b, stride[2] = {0, 0};
	int64_t ks[2] = {fs, fs}, cpads[4] = {b, b, a, a}, want[8] = {0, 0, b, b, 0, 0, a, a};
	if (imp_attr_i(conv, "group", 1) != C || !ints_are(conv, "kernel_shape", ks, 2) ||
	    !ints_are(conv, "dilations", one, 2) || !no_auto_pad(conv) ||
	    imp_attr_ints(conv, "strides", stride, 2) != 2 || stride[0] != stride[1] || stride[0] < 1 ||
	    stride[0] > 1 << 20)
		return 0;
	if (pad ? memcmp(pads, want, sizeof pads) || !ints_are(conv, "pads", zero, 4) || fs < 2
		: !ints_are(conv, "pads", cpads, 4))
		return 0;
	if (!mp && !pad && fs < 2)
		return 0; /* a 1x1 depthwise Conv of ones: nothing says it was a blur; a conv2d computes it */
	/* the layer reads x itself: map it through a unary view of the first node */
	struct onnx_node f = as_unary(&im->g->nodes[k], &x);
	int rc = imp_runtime(im, &f, 0, &xv);
	if (rc)
		return rc;
	const char *name = imp_name(im, conv, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, mp ? "maxblurpool2d" : "blurpool2d", &xv, 1);
	if (mp && kern[0] == kern[1])
		imp_printf(im, ", kernel_size=%lld", (long long)kern[0]);
	else if (mp)
		imp_printf(im, ", kernel_size=(%lld,%lld)", (long long)kern[0], (long long)kern[1]);
	imp_printf(im, ", filt_size=%lld, stride=%lld, pad_type=%s", (long long)fs, (long long)stride[0], mode);
	imp_end(im, conv);
	const int64_t *in = im->vals[xv].dims;
	int64_t h = in[2] - (mp ? kern[0] - 1 : 0), w = in[3] - (mp ? kern[1] - 1 : 0);
	if (h < 1 || w < 1)
		return imp_fail(im, mp, "the window is larger than the input");
	int64_t od[4] = {-1, C, (h - 1) / stride[0] + 1, (w - 1) / stride[0] + 1};
	*used = j - k + 1;
	return imp_runtime_out(im, conv, j, name, od, 4);
}

/* PyTorch's pooled size (the exporter's torch_pool_out). */
static int64_t torch_pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int ceil_mode)
{
	int64_t span = in + 2 * p - (k - 1) - 1;
	int64_t out = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
	if (ceil_mode && (out - 1) * s >= in + p)
		out--;
	return out;
}

/* The reciprocal divisors the exporter writes for this geometry match R's (out dims included). */
static int divisors_match(const struct onnx_imp_val *R, const int64_t *in, const int64_t *k, const int64_t *s,
			  const int64_t *p, const int64_t *out, int include, int64_t override)
{
	int64_t h = in[0], wd = in[1];
	for (int64_t oy = 0; oy < out[0]; oy++)
		for (int64_t ox = 0; ox < out[1]; ox++) {
			int64_t y0 = oy * s[0] - p[0], x0 = ox * s[1] - p[1], y1 = y0 + k[0], x1 = x0 + k[1];
			y1 = y1 < h + p[0] ? y1 : h + p[0];
			x1 = x1 < wd + p[1] ? x1 : wd + p[1];
			int64_t full = (y1 - y0) * (x1 - x0);
			y0 = y0 > 0 ? y0 : 0, x0 = x0 > 0 ? x0 : 0;
			y1 = y1 < h ? y1 : h, x1 = x1 < wd ? x1 : wd;
			int64_t div = override ? override : include ? full : (y1 - y0) * (x1 - x0);
			float r = 1.0f / (float)div;
			if (div < 1 || memcmp(&R->f[oy * out[1] + ox], &r, sizeof r))
				return 0;
		}
	return 1;
}

/*
 * avgpool2d with divisor_override, or count_include_pad with a ceil_mode window past the padding:
 * Mul(Conv(x, ones, group C), reciprocal divisors [1, 1, oh, ow]). The geometry is recovered by
 * trying the settings that could have written it and keeping the one whose divisors are these.
 */
static int avgpool(struct onnx_imp *im, int k, int *used)
{
	const struct onnx_node *conv = at(im, k, "Conv"), *mul = at(im, k + 1, "Mul");
	if (!conv || !mul || conv->ninputs != 2 || !internal(im, conv, 1) || !reads(mul, 2, 0, conv->outputs[0]))
		return 0;
	char *x = conv->inputs[0];
	int xv = imp_find(im, x);
	if (xv < 0 || im->vals[xv].kind != IMP_RUNTIME || im->vals[xv].ndim != 4)
		return 0;
	const int64_t *in = im->vals[xv].dims;
	int64_t C = in[1];
	const struct onnx_imp_val *W = fconst(im, conv->inputs[1]), *R = fconst(im, mul->inputs[1]);
	if (!W || !R || W->ndim != 4 || W->dims[0] != C || W->dims[1] != 1 || R->ndim != 4 || R->dims[0] != 1 ||
	    R->dims[1] != 1 || R->count < 1)
		return 0;
	for (size_t i = 0; i < W->count; i++)
		if (W->f[i] != 1.0f)
			return 0;
	static const int64_t one[2] = {1, 1};
	int64_t kern[2] = {W->dims[2], W->dims[3]}, s[2], pads[4] = {0, 0, 0, 0};
	imp_attr_ints(conv, "pads", pads, 4);
	if (imp_attr_i(conv, "group", 1) != C || !ints_are(conv, "kernel_shape", kern, 2) ||
	    !ints_are(conv, "dilations", one, 2) || !no_auto_pad(conv) || imp_attr_ints(conv, "strides", s, 2) != 2 ||
	    s[0] < 1 || s[1] < 1 || s[0] > 1 << 20 || s[1] > 1 << 20 || kern[0] > 1 << 20 || kern[1] > 1 << 20)
		return 0;
	for (int i = 0; i < 4; i++)
		if (pads[i] < 0 || pads[i] > 1 << 20)
			return 0;
	float r0 = R->f[0];
	int64_t ov = r0 > 0 && r0 <= 1 ? (int64_t)lround(1.0 / r0) : 0;
	for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++) {
		int64_t out[2], ok = 1;
		for (int a = 0; a < 2; a++) {
			out[a] = torch_pool_out(in[2 + a], kern[a], s[a], pads[a], ceil_mode);
			int64_t end = (out[a] - 1) * s[a] + kern[a] - in[2 + a] - pads[a];
			ok &= out[a] >= 1 && out[a] == R->dims[2 + a] && pads[2 + a] == (end > pads[a] ? end : pads[a]);
		}
		if (!ok)
			continue;
		/* the exporter decomposes for an override, or counting the padding past a ceil overhang */
		static const int cand[3][2] = {{1, 0}, {0, 1}, {1, 1}}; /* include, with override */
		for (int c = 0; c < 3; c++) {
			int64_t o = cand[c][1] ? ov : 0;
			if ((cand[c][1] && ov < 1) || !divisors_match(R, in + 2, kern, s, pads, out, cand[c][0], o))
				continue;
			struct onnx_node f = as_unary(mul, &x);
			int rc = imp_runtime(im, &f, 0, &xv);
			if (rc)
				return rc;
			const char *name = imp_name(im, mul, NULL);
			if (!name)
				return CLCNN_ERR_NO_MEMORY;
			imp_begin(im, name, "avgpool2d", &xv, 1);
			imp_printf(im, ", kernel_size=(%lld,%lld), stride=(%lld,%lld), padding=(%lld,%lld)",
				   (long long)kern[0], (long long)kern[1], (long long)s[0], (long long)s[1],
				   (long long)pads[0], (long long)pads[1]);
			imp_printf(im, ", ceil_mode=%s, count_include_pad=%s", ceil_mode ? "true" : "false",
				   cand[c][0] ? "true" : "false");
			if (o)
				imp_printf(im, ", divisor_override=%lld", (long long)o);
			imp_end(im, mul);
			int64_t od[4] = {-1, C, out[0], out[1]};
			*used = 2;
			return imp_runtime_out(im, mul, k + 1, name, od, 4);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ normalisation */

/* ReduceMean over every axis but the channels (1), keeping the dims: the batch statistics' mean. */
static int batch_mean(const struct onnx_node *n, int nd)
{
	static const int64_t axes[3] = {0, 2, 3};
	int64_t got[4];
	return n && imp_attr_i(n, "keepdims", 1) == 1 && imp_attr_ints(n, "axes", got, 4) == nd - 1 &&
	       ints_are(n, "axes", axes, nd - 1);
}

/* W is a float constant of C values shaped to broadcast over the channel axis of an nd-D tensor. */
static int channel_param(const struct onnx_imp_val *W, int64_t C, int nd)
{
	if (!W || W->count != (size_t)C || W->ndim != nd - 1 || W->dims[0] != C)
		return 0;
	for (int d = 1; d < W->ndim; d++)
		if (W->dims[d] != 1)
			return 0;
	return 1;
}

/*
 * batchnorm1d/2d(track_running_stats=false) in eval (the batch's statistics):
 * c = x - ReduceMean(x); Div(c, Sqrt(ReduceMean(c * c) + eps)) [* weight + bias].
 */
static int batch_stats(struct onnx_imp *im, int k, int *used)
{
	static const char *const type[9] = {"ReduceMean", "Sub", "Mul", "ReduceMean", "Add",
					    "Sqrt",       "Div", "Mul", "Add"};
	const struct onnx_node *n[9];
	for (int i = 0; i < 7; i++)
		if (!(n[i] = at(im, k + i, type[i])))
			return 0;
	if (n[0]->ninputs != 1)
		return 0;
	char *x = n[0]->inputs[0];
	int xv = imp_find(im, x);
	if (xv < 0 || im->vals[xv].kind != IMP_RUNTIME || im->vals[xv].ndim < 2 || im->vals[xv].ndim > 4)
		return 0;
	int nd = im->vals[xv].ndim;
	int64_t C = im->vals[xv].dims[1];
	const char *o[9];
	for (int i = 0; i < 7; i++)
		o[i] = n[i]->outputs[0];
	float eps;
	if (!batch_mean(n[0], nd) || !internal(im, n[0], 1) || !reads(n[1], 2, 0, x) || !reads(n[1], 2, 1, o[0]) ||
	    !internal(im, n[1], 3) || !reads(n[2], 2, 0, o[1]) || !reads(n[2], 2, 1, o[1]) || !internal(im, n[2], 1) ||
	    !reads(n[3], 1, 0, o[2]) || !batch_mean(n[3], nd) || !internal(im, n[3], 1) || !reads(n[4], 2, 0, o[3]) ||
	    !scalar(im, n[4]->inputs[1], &eps) || !(eps > 0) || !internal(im, n[4], 1) || !reads(n[5], 1, 0, o[4]) ||
	    !internal(im, n[5], 1) || !reads(n[6], 2, 0, o[1]) || !reads(n[6], 2, 1, o[5]))
		return 0;
	/* affine: Mul by the weight, Add the bias, both [C] broadcast over the channel axis */
	int affine = 0;
	const struct onnx_imp_val *W = NULL, *B = NULL;
	if ((n[7] = at(im, k + 7, "Mul")) && (n[8] = at(im, k + 8, "Add")) && internal(im, n[6], 1) &&
	    reads(n[7], 2, 0, o[6]) && internal(im, n[7], 1) && reads(n[8], 2, 0, n[7]->outputs[0])) {
		W = fconst(im, n[7]->inputs[1]);
		B = fconst(im, n[8]->inputs[1]);
		affine = channel_param(W, C, nd) && channel_param(B, C, nd);
	}
	const struct onnx_node *last = affine ? n[8] : n[6];
	struct onnx_node f = as_unary(last, &x);
	int rc = imp_runtime(im, &f, 0, &xv);
	if (rc)
		return rc;
	const char *name = imp_name(im, last, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	char b1[32];
	imp_begin(im, name, nd == 4 ? "batchnorm2d" : "batchnorm1d", &xv, 1);
	imp_printf(im, ", eps=%s, track_running_stats=false%s", imp_fmt(eps, b1, sizeof b1),
		   affine ? "" : ", affine=false");
	imp_end(im, last);
	if (affine && ((rc = imp_weight(im, name, "weight", W->f, &C, 1, 0)) ||
		       (rc = imp_weight(im, name, "bias", B->f, &C, 1, 0))))
		return rc;
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, im->vals[xv].dims, sizeof dims);
	*used = affine ? 9 : 7;
	return imp_runtime_out(im, last, k + *used - 1, name, dims, nd);
}

/* ------------------------------------------------------------------ dispatch */

int imp_match_pattern(struct onnx_imp *im, int k, int *used)
{
	*used = 0;
	int (*const try[])(struct onnx_imp *, int, int *) = {avgpool,  blurpool,  silu,       negated,
							     softplus, gelu_tanh, batch_stats};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(try); i++) {
		int rc = try[i](im, k, used);
		if (rc || *used)
			return rc;
	}
	return 0;
}
