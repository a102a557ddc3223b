/*
 * ONNX import: what is evaluated at load time instead of becoming a layer.
 *  - Shape computations on static shapes (PyTorch's `x.view(x.size(0), -1)` is Shape -> Gather ->
 *    Unsqueeze -> Concat -> Reshape): Shape of a runtime tensor is a constant whose dim 0 is the
 *    batch symbol ONNX_IMP_BATCH; Gather, Unsqueeze, Squeeze, Concat, Cast, Constant, ConstantOfShape,
 *    Slice, Transpose and Reshape
 *    of constants are computed; a Reshape of a runtime tensor must come out as a flatten to
 *    [N, features] (or change nothing). Folding instead of matching patterns keeps working when
 *    exporters reorder the chain (ncnn#1707).
 *  - Flatten, and the Reshapes and Squeezes that are one (imp_flatten).
 *  - Arithmetic patterns: a constant-zero Pad (folded into the next Conv/AveragePool), and GELU
 *    written with Erf: x * 0.5 * (1 + erf(x / sqrt(2))) in the orders PyTorch emits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"
#include "io/onnx-import.h"

static int64_t ival(const struct onnx_imp_val *v, size_t k)
{
	float x = v->is_int ? 0.0f : v->f[k];
	return v->is_int ? v->i[k] : (x > -9e18f && x < 9e18f) ? (int64_t)x : 0; /* NaN: 0 */
}

/* axes from the attribute (before opset 13) or input 1 (from 13) */
static int get_axes(struct onnx_imp *im, const struct onnx_node *n, int64_t *axes, int *naxes)
{
	*naxes = imp_attr_ints(n, "axes", axes, ONNX_MAX_DIMS);
	if (*naxes > ONNX_MAX_DIMS)
		return imp_fail(im, n, "more than %d axes", ONNX_MAX_DIMS);
	if (n->ninputs > 1 && *n->inputs[1]) {
		int c, rc = imp_const(im, n, 1, &c);
		if (rc)
			return rc;
		if (im->vals[c].count > ONNX_MAX_DIMS)
			return imp_fail(im, n, "more than %d axes", ONNX_MAX_DIMS);
		*naxes = (int)im->vals[c].count;
		for (int i = 0; i < *naxes; i++)
			axes[i] = ival(&im->vals[c], (size_t)i);
	}
	return 0;
}

/* A flatten node from x to [N, features] (Flatten, and the Reshapes and Squeezes that are one). */
int imp_flatten(struct onnx_imp *im, const struct onnx_node *n, int k, int x)
{
	int64_t f = 1;
	for (int d = 1; d < im->vals[x].ndim; d++)
		f *= im->vals[x].dims[d];
	if (im->vals[x].ndim == 2)
		return imp_alias(im, n, k, x);
	const char *name = imp_name(im, n, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, "flatten", &x, 1);
	imp_end(im, n);
	int64_t od[2] = {-1, f};
	return imp_runtime_out(im, n, k, name, od, 2);
}

int imp_map_flatten(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, rc = imp_runtime(im, n, 0, &x);
	if (rc)
		return rc;
	int64_t axis = imp_attr_i(n, "axis", 1);
	if (axis < 0)
		axis += im->vals[x].ndim;
	if (axis != 1)
		return imp_fail(im, n, "axis %lld: clcnn flattens everything after the batch (axis 1)",
				(long long)imp_attr_i(n, "axis", 1));
	return imp_flatten(im, n, k, x);
}

/*
 * A Reshape keeping the batch that merges one run of dims, start..end, into one: clcnn's
 * flatten(start_dim, end_dim) (what the export writes for it). Returns 0 when t is another
 * reshape; else 1, with the mapping's status in *rc.
 */
static int flatten_dims(struct onnx_imp *im, const struct onnx_node *n, int k, int x, const int64_t *t, int nd, int *rc)
{
	const struct onnx_imp_val *X = &im->vals[x];
	int s = 1;
	while (s < nd && s < X->ndim && t[s] == X->dims[s])
		s++;
	if (s >= nd || s >= X->ndim || t[s] < 1)
		return 0;
	int e = s;
	int64_t prod = X->dims[s];
	while (prod < t[s] && e + 1 < X->ndim)
		prod *= X->dims[++e];
	if (prod != t[s] || e == s || X->ndim - (e - s) != nd)
		return 0;
	for (int d = s + 1; d < nd; d++)
		if (t[d] != X->dims[d + e - s])
			return 0;
	const char *name = imp_name(im, n, NULL);
	if (!name)
		return *rc = CLCNN_ERR_NO_MEMORY, 1;
	imp_begin(im, name, "flatten", &x, 1);
	imp_printf(im, ", start_dim=%d, end_dim=%d", s, e);
	imp_end(im, n);
	int64_t od[ONNX_MAX_DIMS];
	for (int d = 0; d < nd; d++)
		od[d] = d ? t[d] : -1;
	*rc = imp_runtime_out(im, n, k, name, od, nd);
	return 1;
}

static int fold_shape(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, rc = imp_input(im, n, 0, &x);
	if (rc)
		return rc;
	if (im->vals[x].kind != IMP_CONST && (rc = imp_runtime(im, n, 0, &x)))
		return rc;
	const struct onnx_imp_val *X = &im->vals[x];
	int64_t d[ONNX_MAX_DIMS], nd = X->ndim;
	int64_t start = imp_attr_i(n, "start", 0), end = imp_attr_i(n, "end", nd);
	start = start < 0 ? start + nd : start;
	end = end < 0 ? end + nd : end;
	start = start < 0 ? 0 : start > nd ? nd : start;
	end = end < start ? start : end > nd ? nd : end;
	for (int64_t i = start; i < end; i++)
		d[i - start] = X->kind == IMP_RUNTIME && i == 0 ? ONNX_IMP_BATCH : X->dims[i];
	int64_t len = end - start;
	return imp_new_const(im, n->outputs[0], k, 1, &len, 1, d, NULL);
}

static int fold_gather(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, ix, rc = imp_const(im, n, 0, &x);
	if (rc || (rc = imp_const(im, n, 1, &ix)))
		return rc;
	const struct onnx_imp_val *X = &im->vals[x], *I = &im->vals[ix];
	int64_t axis = imp_attr_i(n, "axis", 0);
	if (axis < 0)
		axis += X->ndim;
	if (axis != 0 || X->ndim < 1 || !I->is_int)
		return imp_fail(im, n, "only integer indices along axis 0 of a constant are folded");
	size_t inner = 1;
	for (int d = 1; d < X->ndim; d++)
		inner *= (size_t)X->dims[d];
	int64_t dims[ONNX_MAX_DIMS];
	int nd = I->ndim + X->ndim - 1;
	if (nd > ONNX_MAX_DIMS)
		return imp_fail(im, n, "result of more than %d dims", ONNX_MAX_DIMS);
	for (int d = 0; d < I->ndim; d++)
		dims[d] = I->dims[d];
	for (int d = 1; d < X->ndim; d++)
		dims[I->ndim + d - 1] = X->dims[d];
	if ((rc = imp_new_const(im, n->outputs[0], k, X->is_int, dims, nd, NULL, NULL)))
		return rc;
	X = &im->vals[x], I = &im->vals[ix];
	struct onnx_imp_val *Y = &im->vals[im->nvals - 1];
	for (size_t j = 0; j < I->count; j++) {
		int64_t at = I->i[j] < 0 ? I->i[j] + X->dims[0] : I->i[j];
		if (at < 0 || at >= X->dims[0])
			return imp_fail(im, n, "index %lld out of range (dim %lld)", (long long)I->i[j],
					(long long)X->dims[0]);
		for (size_t e = 0; e < inner; e++) {
			if (X->is_int)
				Y->i[j * inner + e] = X->i[(size_t)at * inner + e];
			else
				Y->f[j * inner + e] = X->f[(size_t)at * inner + e];
		}
	}
	return 0;
}

/* Unsqueeze / Squeeze of a constant: the values stay, the dims change */
static int fold_squeeze(struct onnx_imp *im, const struct onnx_node *n, int k, int un)
{
	int x, rc = imp_input(im, n, 0, &x);
	int64_t axes[ONNX_MAX_DIMS];
	int na;
	if (rc || (rc = get_axes(im, n, axes, &na)))
		return rc;
	const struct onnx_imp_val *X = &im->vals[x];
	int64_t dims[ONNX_MAX_DIMS];
	int nd = 0;
	if (un) {
		int out = X->ndim + na, src = 0;
		if (out > ONNX_MAX_DIMS)
			return imp_fail(im, n, "result of more than %d dims", ONNX_MAX_DIMS);
		for (int d = 0; d < out; d++) {
			int ins = 0;
			for (int a = 0; a < na; a++)
				ins |= (axes[a] < 0 ? axes[a] + out : axes[a]) == d;
			dims[nd++] = ins ? 1 : X->dims[src++];
		}
	} else {
		for (int d = 0; d < X->ndim; d++) {
			int drop = !na && X->dims[d] == 1;
			for (int a = 0; a < na; a++)
				drop |= (axes[a] < 0 ? axes[a] + X->ndim : axes[a]) == d;
			if (drop && d == 0 && X->kind == IMP_RUNTIME)
				return imp_fail(im, n, "squeezes the batch dim");
			if (!drop)
				dims[nd++] = X->dims[d];
		}
	}
	if (X->kind == IMP_CONST)
		return imp_new_const(im, n->outputs[0], k, X->is_int, dims, nd, X->i, X->f);
	if (un || (rc = imp_runtime(im, n, 0, &x)))
		return rc ? rc : imp_fail(im, n, "adds a dim to a computed tensor: clcnn tensors keep their rank");
	if (nd == 2)
		return imp_flatten(im, n, k, x); /* NxCx1x1 -> NxC */
	if (nd == im->vals[x].ndim)
		return imp_alias(im, n, k, x);
	return imp_fail(im, n, "squeezes to %d dims: only a squeeze to [N, features] is supported", nd);
}

static int fold_concat(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int64_t vals[64], cnt = 0;
	int is_int = 1;
	for (int i = 0; i < n->ninputs; i++) {
		int v, rc = imp_const(im, n, i, &v);
		if (rc)
			return rc;
		const struct onnx_imp_val *C = &im->vals[v];
		if (C->ndim > 1 || !C->is_int || cnt + (int64_t)C->count > 64)
			return imp_fail(im, n,
					"only short 1-D integer constants (shapes) are concatenated at load time");
		for (size_t j = 0; j < C->count; j++)
			vals[cnt++] = C->i[j];
	}
	return imp_new_const(im, n->outputs[0], k, is_int, &cnt, 1, vals, NULL);
}

static int fold_constant(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	const struct onnx_attr *a = n->nattrs > 0 ? &n->attrs[0] : NULL;
	if (!a)
		return imp_fail(im, n, "no value attribute");
	if (!strcmp(a->name, "value") && a->type == ONNX_ATTR_TENSOR && a->t)
		return imp_add_tensor(im, n->outputs[0], a->t, k);
	int64_t one = 1;
	if (!strcmp(a->name, "value_float"))
		return imp_new_const(im, n->outputs[0], k, 0, NULL, 0, NULL, &a->f);
	if (!strcmp(a->name, "value_int"))
		return imp_new_const(im, n->outputs[0], k, 1, NULL, 0, &a->i, NULL);
	if (!strcmp(a->name, "value_floats")) {
		one = a->nfloats;
		return imp_new_const(im, n->outputs[0], k, 0, &one, 1, NULL, a->floats);
	}
	if (!strcmp(a->name, "value_ints")) {
		one = a->nints;
		return imp_new_const(im, n->outputs[0], k, 1, &one, 1, a->ints, NULL);
	}
	return imp_fail(im, n, "attribute '%s': only value, value_float(s) and value_int(s) are supported", a->name);
}

static int fold_cast(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, rc = imp_input(im, n, 0, &x);
	if (rc)
		return rc;
	int64_t to = imp_attr_i(n, "to", 0);
	int to_float = to == ONNX_FLOAT || to == ONNX_DOUBLE || to == ONNX_FLOAT16;
	if (im->vals[x].kind != IMP_CONST) {
		if (!to_float)
			return imp_fail(im, n, "casts a computed tensor to type %lld: clcnn computes in float",
					(long long)to);
		return (rc = imp_runtime(im, n, 0, &x)) ? rc : imp_alias(im, n, k, x);
	}
	const struct onnx_imp_val *X = &im->vals[x];
	if ((rc = imp_new_const(im, n->outputs[0], k, !to_float, X->dims, X->ndim, NULL, NULL)))
		return rc;
	X = &im->vals[x];
	struct onnx_imp_val *Y = &im->vals[im->nvals - 1];
	for (size_t j = 0; j < X->count; j++) {
		if (to_float)
			Y->f[j] = (float)imp_cval(X, j);
		else
			Y->i[j] = ival(X, j);
	}
	return 0;
}

static int fold_reshape(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, s, rc = imp_input(im, n, 0, &x);
	if (rc || (rc = imp_const(im, n, 1, &s)))
		return rc;
	if (im->vals[x].kind != IMP_CONST && (rc = imp_runtime(im, n, 0, &x)))
		return rc;
	const struct onnx_imp_val *X = &im->vals[x], *S = &im->vals[s];
	int runtime = X->kind == IMP_RUNTIME, allowzero = (int)imp_attr_i(n, "allowzero", 0);
	if (!S->is_int || S->ndim != 1 || S->count > ONNX_MAX_DIMS)
		return imp_fail(im, n, "shape '%s' must be a 1-D integer tensor of at most %d dims", S->onnx,
				ONNX_MAX_DIMS);
	int64_t t[ONNX_MAX_DIMS], known = 1, infer = -1;
	int nd = (int)S->count;
	/* the batch of a runtime tensor: the batch symbol, 0 (copy dim 0), or the size the export fixed */
	for (int d = 0; d < nd; d++) {
		t[d] = S->i[d];
		if (t[d] == 0 && !allowzero && d < X->ndim)
			t[d] = runtime && d == 0 ? ONNX_IMP_BATCH : X->dims[d];
		if (runtime && d == 0 && t[d] > 0 && t[d] == im->export_batch) {
			/* the export traced one batch size into the shape: clcnn runs any */
			imp_printf(
				im,
				"# ONNX Reshape %s: its shape fixes the batch at %lld (the export's); any batch runs\n",
				n->name ? n->name : "", (long long)t[d]);
			t[d] = ONNX_IMP_BATCH;
		}
		if (t[d] == -1) {
			if (infer >= 0)
				return imp_fail(im, n, "shape '%s' has two -1 dims", S->onnx);
			infer = d;
		} else if (t[d] != ONNX_IMP_BATCH) {
			if (t[d] < 0 || t[d] > INT32_MAX || (known *= t[d]) > INT32_MAX)
				return imp_fail(im, n, "shape '%s' has dim %lld", S->onnx, (long long)t[d]);
		}
	}
	char s1[96], s2[96];
	if (!runtime) {
		for (int d = 0; d < nd; d++)
			if (t[d] == ONNX_IMP_BATCH || t[d] > INT32_MAX)
				return imp_fail(im, n, "shape '%s' does not fit %zu constant values", S->onnx,
						X->count);
		if (infer >= 0)
			t[infer] = known ? (int64_t)X->count / known : 0;
		size_t cnt = 1;
		for (int d = 0; d < nd; d++)
			cnt *= (size_t)t[d];
		if (cnt != X->count)
			return imp_fail(im, n, "cannot reshape %zu values to %s", X->count,
					imp_shape_str(t, nd, s1, sizeof s1));
		return imp_new_const(im, n->outputs[0], k, X->is_int, t, nd, X->i, X->f);
	}
	int64_t feat = 1;
	for (int d = 1; d < X->ndim; d++)
		feat *= X->dims[d];
	/* [-1, features] also keeps the batch */
	if (nd >= 1 && infer == 0 && known == feat)
		t[0] = ONNX_IMP_BATCH, infer = -1;
	int batch_first = nd >= 1 && t[0] == ONNX_IMP_BATCH;
	for (int d = 1; d < nd; d++)
		batch_first &= t[d] != ONNX_IMP_BATCH;
	if (batch_first && infer > 0)
		t[infer] = known ? feat / known : 0;
	if (batch_first && nd == 2 && t[1] == feat)
		return imp_flatten(im, n, k, x);
	int same = batch_first && nd == X->ndim;
	for (int d = 1; same && d < nd; d++)
		same = t[d] == X->dims[d];
	if (same)
		return imp_alias(im, n, k, x);
	if (batch_first && flatten_dims(im, n, k, x, t, nd, &rc))
		return rc;
	return imp_fail(im, n,
			"Reshape of %s to %s cannot be folded: clcnn maps only a flatten of adjacent dims after "
			"the batch (and a reshape that changes nothing)",
			imp_shape_str(X->dims, X->ndim, s1, sizeof s1), imp_shape_str(t, nd, s2, sizeof s2));
}

static int fold_pad(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, rc = imp_runtime(im, n, 0, &x);
	if (rc)
		return rc;
	const char *mode = imp_attr_s(n, "mode");
	if (mode && strcmp(mode, "constant"))
		return imp_fail(im, n, "mode '%s': only a constant zero Pad is folded (into Conv or AveragePool)",
				mode);
	int64_t pads[2 * ONNX_MAX_DIMS] = {0};
	int np = imp_attr_ints(n, "pads", pads, 2 * ONNX_MAX_DIMS);
	double value = imp_attr_f(n, "value", 0.0f);
	if (n->ninputs > 1 && *n->inputs[1]) {
		int c;
		if ((rc = imp_const(im, n, 1, &c)))
			return rc;
		np = (int)im->vals[c].count;
		for (int i = 0; i < np && i < 2 * ONNX_MAX_DIMS; i++)
			pads[i] = ival(&im->vals[c], (size_t)i);
	}
	if (n->ninputs > 2 && *n->inputs[2]) {
		int c;
		if ((rc = imp_const(im, n, 2, &c)))
			return rc;
		value = im->vals[c].count ? imp_cval(&im->vals[c], 0) : 0.0;
	}
	const struct onnx_imp_val *X = &im->vals[x];
	if (value != 0.0)
		return imp_fail(im, n, "pads with %g: only zero padding is folded", value);
	if (X->ndim != 4 || np != 8 || pads[0] || pads[1] || pads[4] || pads[5])
		return imp_fail(im, n, "only padding of H and W of a 4-D tensor is folded");
	for (int i = 0; i < 8; i++)
		if (pads[i] < 0 || pads[i] > (1 << 20))
			return imp_fail(im, n, "pads must be 0..%d (negative pads crop: not supported)", 1 << 20);
	int v = imp_add(im, n->outputs[0], IMP_PAD, k);
	if (v < 0)
		return CLCNN_ERR_NO_MEMORY;
	struct onnx_imp_val *P = &im->vals[v];
	P->src = x;
	P->pads[0] = pads[2], P->pads[1] = pads[3], P->pads[2] = pads[6], P->pads[3] = pads[7];
	P->ndim = 4;
	memcpy(P->dims, im->vals[x].dims, sizeof P->dims);
	P->dims[2] += pads[2] + pads[6];
	P->dims[3] += pads[3] + pads[7];
	return 0;
}

int imp_map_const_op(struct onnx_imp *im, const struct onnx_node *n, int k, int *handled);

int imp_map_shape_op(struct onnx_imp *im, const struct onnx_node *n, int k, int *handled)
{
	const char *t = n->op_type;
	*handled = 1;
	if (!strcmp(t, "Shape"))
		return fold_shape(im, n, k);
	if (!strcmp(t, "Gather"))
		return fold_gather(im, n, k);
	if (!strcmp(t, "Unsqueeze") || !strcmp(t, "Squeeze"))
		return fold_squeeze(im, n, k, t[0] == 'U');
	if (!strcmp(t, "Concat"))
		return fold_concat(im, n, k);
	if (!strcmp(t, "Constant"))
		return fold_constant(im, n, k);
	if (!strcmp(t, "Cast"))
		return fold_cast(im, n, k);
	if (!strcmp(t, "Reshape"))
		return fold_reshape(im, n, k);
	if (!strcmp(t, "Pad"))
		return fold_pad(im, n, k);
	return imp_map_const_op(im, n, k, handled);
}

/* ---- arithmetic: constants folded, GELU's erf form recognised */

static int near(const struct onnx_imp_val *c, double want)
{
	return c->kind == IMP_CONST && c->count == 1 && fabs(imp_cval(c, 0) - want) <= 1e-5 * fabs(want);
}

/* A pattern step: output kind on runtime source src. */
static int step(struct onnx_imp *im, const struct onnx_node *n, int k, int kind, int src)
{
	int v = imp_add(im, n->outputs[0], kind, k);
	if (v < 0)
		return CLCNN_ERR_NO_MEMORY;
	im->vals[v].src = src;
	im->vals[v].ndim = im->vals[src].ndim;
	memcpy(im->vals[v].dims, im->vals[src].dims, sizeof im->vals[v].dims);
	return 0;
}

static int gelu(struct onnx_imp *im, const struct onnx_node *n, int k, int src)
{
	struct onnx_node as_gelu = *n; /* named as nn.GELU's module ("acts_7"), not as a functional Mul */
	as_gelu.op_type = "Gelu";
	const char *name = imp_name(im, &as_gelu, NULL);
	if (!name)
		return CLCNN_ERR_NO_MEMORY;
	imp_begin(im, name, "gelu", &src, 1);
	imp_end(im, n);
	int64_t dims[ONNX_MAX_DIMS];
	memcpy(dims, im->vals[src].dims, sizeof dims);
	return imp_runtime_out(im, n, k, name, dims, im->vals[src].ndim);
}

static int fold_binary(struct onnx_imp *im, const struct onnx_node *n, int k, int a, int b, char op)
{
	const struct onnx_imp_val *A = &im->vals[a], *B = &im->vals[b];
	if (A->count != B->count && A->count != 1 && B->count != 1)
		return imp_fail(im, n, "constants of %zu and %zu values do not broadcast at load time", A->count,
				B->count);
	const struct onnx_imp_val *big = A->count >= B->count ? A : B;
	int is_int = A->is_int && B->is_int;
	int rc = imp_new_const(im, n->outputs[0], k, is_int, big->dims, big->ndim, NULL, NULL);
	if (rc)
		return rc;
	A = &im->vals[a], B = &im->vals[b], big = A->count >= B->count ? A : B;
	struct onnx_imp_val *Y = &im->vals[im->nvals - 1];
	for (size_t j = 0; j < Y->count; j++) {
		size_t ja = A->count == 1 ? 0 : j, jb = B->count == 1 ? 0 : j;
		if (is_int) {
			int64_t x = A->i[ja], y = B->i[jb];
			if (x == ONNX_IMP_BATCH || y == ONNX_IMP_BATCH)
				return imp_fail(im, n, "arithmetic on the batch size cannot be folded");
			int64_t z = 0;
			int bad = op == '+'   ? __builtin_add_overflow(x, y, &z)
				  : op == '*' ? __builtin_mul_overflow(x, y, &z)
					      : (!y || (x == INT64_MIN && y == -1));
			if (bad)
				return imp_fail(im, n, "integer overflow or division by zero");
			Y->i[j] = op == '/' ? x / y : z;
		} else {
			double x = imp_cval(A, ja), y = imp_cval(B, jb);
			Y->f[j] = imp_to_float(op == '+' ? x + y : op == '*' ? x * y : x / y);
		}
	}
	return 0;
}

/*
 * y = c * layer(x) for a Conv, Gemm, linear or BatchNormalization whose output nothing else reads:
 * c goes into the layer's weight and bias (c (Wx + b) = (cW) x + cb), y is the layer's node.
 */
static int scale_producer(struct onnx_imp *im, const struct onnx_node *n, int k, int a, double c, int *done)
{
	const struct onnx_imp_val *A = &im->vals[a];
	*done = 0;
	if (A->from < 0 || imp_consumers(im, A->onnx) != 1)
		return 0;
	const char *op = im->g->nodes[A->from].op_type;
	if (strcmp(op, "Conv") && strcmp(op, "Gemm") && strcmp(op, "BatchNormalization") && strcmp(op, "Add") &&
	    strcmp(op, "MatMul"))
		return 0;
	char wn[300], bn[300];
	snprintf(wn, sizeof wn, "%s.weight", A->node);
	snprintf(bn, sizeof bn, "%s.bias", A->node);
	int found = 0;
	for (int i = 0; i < im->nw; i++)
		found += !strcmp(im->w[i].name, wn);
	if (!found)
		return 0;
	for (int i = 0; i < im->nw; i++)
		if (!strcmp(im->w[i].name, wn) || !strcmp(im->w[i].name, bn))
			for (size_t j = 0; j < im->w[i].count; j++)
				im->w[i].data[j] = imp_to_float(im->w[i].data[j] * c);
	*done = 1;
	char b[32];
	imp_printf(im, "# ONNX %s %s: the scale %s is folded into %s's weights\n", n->op_type, n->name ? n->name : "",
		   imp_fmt(c, b, sizeof b), A->node);
	return imp_alias(im, n, k, a);
}

int imp_map_arith(struct onnx_imp *im, const struct onnx_node *n, int k, int *handled)
{
	const char *t = n->op_type;
	char op = !strcmp(t, "Add") ? '+' : !strcmp(t, "Mul") ? '*' : !strcmp(t, "Div") ? '/' : 0;
	*handled = 1;
	int a, b, rc;
	if (!strcmp(t, "Erf")) {
		if ((rc = imp_input(im, n, 0, &a)))
			return rc;
		if (im->vals[a].kind != IMP_GELU1)
			return imp_fail(im, n, "Erf is supported only inside GELU: x * 0.5 * (1 + erf(x / sqrt(2)))");
		return step(im, n, k, IMP_GELU2, im->vals[a].src);
	}
	if (!op) {
		*handled = 0;
		return 0;
	}
	if ((rc = imp_input(im, n, 0, &a)) || (rc = imp_input(im, n, 1, &b)))
		return rc;
	if (im->vals[a].kind == IMP_MATMUL && (rc = imp_runtime(im, n, 0, &a)))
		return rc;
	if (im->vals[b].kind == IMP_MATMUL && (rc = imp_runtime(im, n, 1, &b)))
		return rc;
	const struct onnx_imp_val *A = &im->vals[a], *B = &im->vals[b];
	if (A->kind == IMP_CONST && B->kind == IMP_CONST)
		return fold_binary(im, n, k, a, b, op);
	/* commutative ops: put the constant or the later pattern step second */
	if (op != '/' && (A->kind == IMP_CONST || (A->kind == IMP_RUNTIME && B->kind != IMP_CONST))) {
		int s = a;
		a = b, b = s;
		A = &im->vals[a], B = &im->vals[b];
	}
	if (op == '/' && A->kind == IMP_RUNTIME && near(B, sqrt(2.0)))
		return step(im, n, k, IMP_GELU1, a);
	/* x is read twice in GELU: a tensor read once is only being scaled */
	int twice = A->kind == IMP_RUNTIME && imp_consumers(im, A->onnx) > 1;
	if (op == '*' && twice && near(B, sqrt(0.5)))
		return step(im, n, k, IMP_GELU1, a);
	if (op == '*' && twice && near(B, 0.5))
		return step(im, n, k, IMP_HALF, a);
	if (op == '+' && A->kind == IMP_GELU2 && near(B, 1.0))
		return step(im, n, k, IMP_GELU3, A->src);
	if (op == '*' && A->kind == IMP_GELU3 && B->kind == IMP_RUNTIME && A->src == b)
		return step(im, n, k, IMP_GELU4, b);
	if (op == '*' && A->kind == IMP_GELU4 && near(B, 0.5))
		return gelu(im, n, k, A->src);
	if (op == '*' &&
	    ((A->kind == IMP_GELU3 && B->kind == IMP_HALF) || (A->kind == IMP_HALF && B->kind == IMP_GELU3)) &&
	    A->src == B->src)
		return gelu(im, n, k, A->src);
	if ((op == '*' || op == '/') && A->kind == IMP_RUNTIME && B->kind == IMP_CONST && B->count == 1) {
		int done = 0;
		rc = scale_producer(im, n, k, a, op == '*' ? imp_cval(B, 0) : 1.0 / imp_cval(B, 0), &done);
		if (rc || done)
			return rc;
	}
	return imp_fail(im, n,
			"%s of '%s' and '%s': clcnn maps element-wise arithmetic only as GELU's "
			"x * 0.5 * (1 + erf(x / sqrt(2))), a MatMul's bias, a scale folded into the Conv, Gemm or "
			"BatchNormalization before it (when nothing else reads that layer's output), or on constants",
			t, n->inputs[0], n->inputs[1]);
}

/* ---- more constant folding: what PyTorch's exporter computes a Pad's pads with */

static int fold_constant_of_shape(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int s, rc = imp_const(im, n, 0, &s);
	if (rc)
		return rc;
	const struct onnx_imp_val *S = &im->vals[s];
	if (!S->is_int || S->ndim != 1 || S->count > ONNX_MAX_DIMS)
		return imp_fail(im, n, "the shape must be a 1-D integer tensor of at most %d dims", ONNX_MAX_DIMS);
	int64_t dims[ONNX_MAX_DIMS];
	size_t cnt = 1;
	for (size_t d = 0; d < S->count; d++) {
		dims[d] = S->i[d];
		if (dims[d] < 0 || dims[d] > 65536)
			return imp_fail(im, n, "dim %lld out of what is folded at load time", (long long)dims[d]);
		cnt *= (size_t)dims[d];
	}
	if (cnt > 65536)
		return imp_fail(im, n, "%zu values: too many to fold at load time", cnt);
	const struct onnx_attr *a = clcnn_onnx_attr(n, "value");
	const struct onnx_tensor *t = a && a->type == ONNX_ATTR_TENSOR ? a->t : NULL;
	int is_int = t && t->dtype != ONNX_FLOAT && t->dtype != ONNX_DOUBLE;
	if ((rc = imp_new_const(im, n->outputs[0], k, is_int, dims, (int)S->count, NULL, NULL)))
		return rc;
	struct onnx_imp_val *Y = &im->vals[im->nvals - 1];
	if (t && t->count >= 1 && t->data) {
		int v = imp_add_tensor(im, "", t, k); /* the fill value, converted as a Constant's */
		if (v)
			return v;
		struct onnx_imp_val *F = &im->vals[im->nvals - 1];
		Y = &im->vals[im->nvals - 2];
		for (size_t j = 0; j < Y->count; j++) {
			if (is_int)
				Y->i[j] = F->i[0];
			else
				Y->f[j] = F->f[0];
		}
	}
	return 0;
}

/* element offset of multi-index idx in dims */
static size_t offset(const int64_t *dims, int nd, const int64_t *idx)
{
	size_t o = 0;
	for (int d = 0; d < nd; d++)
		o = o * (size_t)dims[d] + (size_t)idx[d];
	return o;
}

static int next_index(const int64_t *dims, int nd, int64_t *idx)
{
	for (int d = nd - 1; d >= 0; d--) {
		if (++idx[d] < dims[d])
			return 1;
		idx[d] = 0;
	}
	return 0;
}

static int fold_slice(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, rc = imp_const(im, n, 0, &x);
	if (rc)
		return rc;
	int nd = im->vals[x].ndim;
	int64_t st[ONNX_MAX_DIMS], en[ONNX_MAX_DIMS], ax[ONNX_MAX_DIMS], sp[ONNX_MAX_DIMS];
	int64_t *arr[4] = {st, en, ax, sp};
	int cnt[4] = {0, 0, -1, -1};
	if (im->opset && im->opset < 10) {
		cnt[0] = imp_attr_ints(n, "starts", st, ONNX_MAX_DIMS);
		cnt[1] = imp_attr_ints(n, "ends", en, ONNX_MAX_DIMS);
		int na = imp_attr_ints(n, "axes", ax, ONNX_MAX_DIMS);
		cnt[2] = na ? na : -1;
	} else {
		for (int q = 0; q < 4; q++) {
			int c;
			if (q + 1 >= n->ninputs || !*n->inputs[q + 1])
				continue;
			if ((rc = imp_const(im, n, q + 1, &c)))
				return rc;
			if (im->vals[c].count > ONNX_MAX_DIMS || !im->vals[c].is_int)
				return imp_fail(im, n, "'%s' must hold at most %d integers", im->vals[c].onnx,
						ONNX_MAX_DIMS);
			cnt[q] = (int)im->vals[c].count;
			for (int i = 0; i < cnt[q]; i++)
				arr[q][i] = im->vals[c].i[i];
		}
	}
	const struct onnx_imp_val *X = &im->vals[x];
	int64_t lo[ONNX_MAX_DIMS], step_[ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS];
	for (int d = 0; d < nd; d++)
		lo[d] = 0, step_[d] = 1, dims[d] = X->dims[d];
	for (int i = 0; i < cnt[0] && i < cnt[1]; i++) {
		int64_t a = cnt[2] >= 0 ? ax[i] : i, s = cnt[3] >= 0 ? sp[i] : 1;
		a = a < 0 ? a + nd : a;
		if (a < 0 || a >= nd || !s || s > INT32_MAX || s < -INT32_MAX)
			return imp_fail(im, n, "bad axis or step");
		int64_t D = X->dims[a], b = st[i], e = en[i];
		b = b < 0 ? b + D : b;
		e = e < 0 ? e + D : e;
		if (s > 0) {
			b = b < 0 ? 0 : b > D ? D : b;
			e = e < 0 ? 0 : e > D ? D : e;
			dims[a] = e > b ? (e - b + s - 1) / s : 0;
		} else {
			b = b < 0 ? -1 : b > D - 1 ? D - 1 : b;
			e = e < -1 ? -1 : e > D - 1 ? D - 1 : e;
			dims[a] = b > e ? (b - e + (-s) - 1) / (-s) : 0;
		}
		lo[a] = b, step_[a] = s;
	}
	if ((rc = imp_new_const(im, n->outputs[0], k, X->is_int, dims, nd, NULL, NULL)))
		return rc;
	X = &im->vals[x];
	struct onnx_imp_val *Y = &im->vals[im->nvals - 1];
	int64_t idx[ONNX_MAX_DIMS] = {0}, src[ONNX_MAX_DIMS];
	for (size_t j = 0; j < Y->count; j++) {
		for (int d = 0; d < nd; d++)
			src[d] = lo[d] + idx[d] * step_[d];
		size_t o = offset(X->dims, nd, src);
		if (X->is_int)
			Y->i[j] = X->i[o];
		else
			Y->f[j] = X->f[o];
		next_index(dims, nd, idx);
	}
	return 0;
}

static int fold_transpose(struct onnx_imp *im, const struct onnx_node *n, int k)
{
	int x, rc = imp_const(im, n, 0, &x);
	if (rc)
		return rc;
	int nd = im->vals[x].ndim;
	int64_t perm[ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS];
	if (!imp_attr_ints(n, "perm", perm, ONNX_MAX_DIMS))
		for (int d = 0; d < nd; d++)
			perm[d] = nd - 1 - d;
	for (int d = 0; d < nd; d++) {
		if (perm[d] < 0 || perm[d] >= nd)
			return imp_fail(im, n, "bad perm");
		dims[d] = im->vals[x].dims[perm[d]];
	}
	if ((rc = imp_new_const(im, n->outputs[0], k, im->vals[x].is_int, dims, nd, NULL, NULL)))
		return rc;
	const struct onnx_imp_val *X = &im->vals[x];
	struct onnx_imp_val *Y = &im->vals[im->nvals - 1];
	int64_t idx[ONNX_MAX_DIMS] = {0}, src[ONNX_MAX_DIMS];
	for (size_t j = 0; j < Y->count; j++) {
		for (int d = 0; d < nd; d++)
			src[perm[d]] = idx[d];
		size_t o = offset(X->dims, nd, src);
		if (X->is_int)
			Y->i[j] = X->i[o];
		else
			Y->f[j] = X->f[o];
		next_index(dims, nd, idx);
	}
	return 0;
}

int imp_map_const_op(struct onnx_imp *im, const struct onnx_node *n, int k, int *handled)
{
	const char *t = n->op_type;
	*handled = 1;
	if (!strcmp(t, "ConstantOfShape"))
		return fold_constant_of_shape(im, n, k);
	if (!strcmp(t, "Slice"))
		return fold_slice(im, n, k);
	if (!strcmp(t, "Transpose"))
		return fold_transpose(im, n, k);
	*handled = 0;
	return 0;
}
