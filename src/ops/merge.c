/*
 * add (sum of 2..8 same-shape inputs: residual connections) and concat (torch.cat along dim).
 * Both are memory-bound: add sums in input order in one pass; concat copies each input's rows into
 * its column range of the output (and back for the gradient) with one strided-copy kernel.
 */
#include <string.h>

#include "ops/op.h"

struct concat_args {
	int dim;
};

static const struct clcnn_arg concat_keys[] = {
	{"dim", CLCNN_ARG_INT, offsetof(struct concat_args, dim), "1", NULL,
	 "dimension to concatenate along (negative counts from the end)"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg no_keys[] = {{NULL, 0, 0, NULL, NULL, NULL}};

static int add_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	for (int i = 1; i < op->nin; i++)
		if (!clcnn_shape_equal(&op->in[i], &op->in[0])) {
			char a[64], b[64];
			return clcnn_op_invalid(err, errlen, "add: input %d has shape %s but input 0 has shape %s", i,
						clcnn_shape_str(&op->in[i], a, sizeof a),
						clcnn_shape_str(&op->in[0], b, sizeof b));
		}
	op->out = op->in[0];
	return 0;
}

/* The concatenation axis (resolved), rows = product of the dims before it, width of input i = the rest. */
struct concat_view {
	int dim;
	size_t rows, width[CLCNN_OP_MAX_IN], offset[CLCNN_OP_MAX_IN], out_width;
};

static struct concat_view concat_view(const struct clcnn_op *op)
{
	const struct concat_args *a = op->args;
	struct concat_view v = {a->dim < 0 ? a->dim + op->in[0].ndim : a->dim, 1, {0}, {0}, 0};
	for (int d = 0; d < v.dim; d++)
		v.rows *= (size_t)op->in[0].d[d];
	for (int i = 0; i < op->nin; i++) {
		v.width[i] = clcnn_shape_count(&op->in[i]) / v.rows;
		v.offset[i] = v.out_width;
		v.out_width += v.width[i];
	}
	return v;
}

static int concat_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct concat_args *a = op->args;
	int nd = op->in[0].ndim;
	char s0[64], s1[64];
	if (nd == 0)
		return clcnn_op_invalid(err, errlen, "concat: zero-dimensional inputs cannot be concatenated");
	if (a->dim < -nd || a->dim >= nd)
		return clcnn_op_invalid(err, errlen, "concat: dim=%d is out of range for %d-D inputs (expected %d..%d)",
					a->dim, nd, -nd, nd - 1);
	int dim = a->dim < 0 ? a->dim + nd : a->dim;
	struct clcnn_shape o = op->in[0];
	for (int i = 1; i < op->nin; i++) {
		const struct clcnn_shape *s = &op->in[i];
		int ok = s->ndim == nd;
		for (int d = 0; ok && d < nd; d++)
			ok = d == dim || s->d[d] == op->in[0].d[d];
		if (!ok)
			return clcnn_op_invalid(err, errlen,
						"concat: input %d has shape %s but input 0 has shape %s: shapes must "
						"match except in dim %d",
						i, clcnn_shape_str(s, s1, sizeof s1),
						clcnn_shape_str(&op->in[0], s0, sizeof s0), dim);
		o.d[dim] += s->d[dim];
	}
	op->out = o;
	return 0;
}

/* ------------------------------------------------------------------ C reference */

static void add_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	size_t n = clcnn_shape_count(&op->out);
	for (size_t k = 0; k < n; k++) {
		double s = 0;
		for (int i = 0; i < op->nin; i++)
			s += io->in[i][k];
		io->out[k] = s;
	}
}

static void add_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	for (int i = 0; i < op->nin; i++)
		if (io->grad_in[i])
			memcpy(io->grad_in[i], io->grad_out, clcnn_shape_count(&op->out) * sizeof(double));
}

static void concat_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	struct concat_view v = concat_view(op);
	for (int i = 0; i < op->nin; i++)
		for (size_t r = 0; r < v.rows; r++)
			for (size_t j = 0; j < v.width[i]; j++)
				io->out[r * v.out_width + v.offset[i] + j] = io->in[i][r * v.width[i] + j];
}

static void concat_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	struct concat_view v = concat_view(op);
	for (int i = 0; i < op->nin; i++)
		if (io->grad_in[i])
			for (size_t r = 0; r < v.rows; r++)
				for (size_t j = 0; j < v.width[i]; j++)
					io->grad_in[i][r * v.width[i] + j] =
						io->grad_out[r * v.out_width + v.offset[i] + j];
}

/* ------------------------------------------------------------------ device */

/* -DNIN, and the fused activation's options */
static void add_options(const struct clcnn_op *op, char *opts, size_t n)
{
	char fuse[64];
	snprintf(opts, n, "-DNIN=%d%s", op->nin, clcnn_fuse_options(op->fused.kind, op->fused.slope, fuse, sizeof fuse));
}

static int add_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	char opts[96];
	add_options(op, opts, sizeof opts);
	cl_kernel k;
	int n = (int)clcnn_shape_count(&op->out), rc;
	cl_mem in[CLCNN_OP_MAX_IN];
	for (int i = 0; i < CLCNN_OP_MAX_IN; i++)
		in[i] = i < op->nin ? io->in[i] : NULL;
	if ((rc = clcnn_kernel_get(op->ctx, "merge", opts, "merge_add", &k)) ||
	    (rc = clcnn_kernel_args(op->ctx, k, KARG(in[0]), KARG(in[1]), KARG(in[2]), KARG(in[3]), KARG(in[4]),
				    KARG(in[5]), KARG(in[6]), KARG(in[7]), KARG(io->out), KARG(n))))
		return rc;
	return clcnn_op_run1d(op->ctx, k, (size_t)n);
}

/* With a fused activation: one pass writes dy masked by the output to every input's gradient. */
static int add_backward_fused(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	char opts[96];
	add_options(op, opts, sizeof opts);
	int n = (int)clcnn_shape_count(&op->out), want = 0, rc;
	cl_mem g[CLCNN_OP_MAX_IN];
	for (int i = 0; i < CLCNN_OP_MAX_IN; i++) {
		want |= i < op->nin && io->grad_in[i] ? 1 << i : 0;
		g[i] = i < op->nin && io->grad_in[i] ? io->grad_in[i] : io->grad_out; /* never written */
	}
	if (!want)
		return 0;
	cl_kernel k;
	if ((rc = clcnn_kernel_get(op->ctx, "merge", opts, "merge_add_grad", &k)) ||
	    (rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->out), KARG(g[0]), KARG(g[1]), KARG(g[2]),
				    KARG(g[3]), KARG(g[4]), KARG(g[5]), KARG(g[6]), KARG(g[7]), KARG(want), KARG(n))))
		return rc;
	return clcnn_op_run1d(op->ctx, k, (size_t)n);
}

static int add_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	if (op->fused.kind)
		return add_backward_fused(op, io);
	size_t bytes = clcnn_shape_count(&op->out) * sizeof(float);
	for (int i = 0; i < op->nin; i++) {
		int rc = io->grad_in[i] ? clcnn_buffer_copy(op->ctx, io->grad_out, io->grad_in[i], bytes) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* dst[r * dst_stride + dst_off + j] = src[r * src_stride + src_off + j] for j < width, r < rows. */
static int concat_copy(struct clcnn_op *op, cl_mem src, size_t src_stride, size_t src_off, cl_mem dst,
		       size_t dst_stride, size_t dst_off, size_t width, size_t rows)
{
	cl_kernel k;
	int a[4] = {(int)src_stride, (int)src_off, (int)dst_stride, (int)dst_off}, w = (int)width, r = (int)rows, rc;
	if ((rc = clcnn_kernel_get(op->ctx, "merge", "", "merge_copy_rows", &k)) ||
	    (rc = clcnn_kernel_args(op->ctx, k, KARG(src), KARG(a[0]), KARG(a[1]), KARG(dst), KARG(a[2]), KARG(a[3]),
				    KARG(w), KARG(r))))
		return rc;
	/* groups of clcnn_op_local1d items (64 on CPUs): that many values of one long row, or several short rows */
	size_t items = clcnn_op_local1d(op->ctx, k), l0 = 1;
	while (l0 < width && l0 * 2 <= items)
		l0 *= 2;
	size_t global[2] = {width, rows}, local[2] = {l0, items / l0 ? items / l0 : 1};
	return clcnn_kernel_run(op->ctx, k, 2, global, local);
}

static int concat_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	struct concat_view v = concat_view(op);
	for (int i = 0; i < op->nin; i++) {
		int rc = concat_copy(op, io->in[i], v.width[i], 0, io->out, v.out_width, v.offset[i], v.width[i],
				     v.rows);
		if (rc)
			return rc;
	}
	return 0;
}

static int concat_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	struct concat_view v = concat_view(op);
	for (int i = 0; i < op->nin; i++) {
		int rc = io->grad_in[i] ? concat_copy(op, io->grad_out, v.out_width, v.offset[i], io->grad_in[i],
						      v.width[i], 0, v.width[i], v.rows)
					: 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ tests */

static const struct clcnn_op_case add_cases[] = {
	{"", "1x1x7x5;1x1x7x5", 0, 0},
	{"", "3x3x7x13;3x3x7x13;3x3x7x13", 0, 0},
	{"", "2x3x5x7;2x3x5x7;2x3x5x7;2x3x5x7;2x3x5x7;2x3x5x7;2x3x5x7;2x3x5x7", 0, 0},
	{"", "4x9;4x9", 0, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case concat_cases[] = {
	{"", "1x1x7x5;1x3x7x5", 0, 0},
	{"", "3x3x7x13;3x1x7x13;3x2x7x13", 0, 0},
	{"dim=0", "1x3x7x5;3x3x7x5", 0, 0},
	{"dim=2", "2x3x5x7;2x3x1x7", 0, 0},
	{"dim=-1", "3x3x7x5;3x3x7x2", 0, 0},
	{"", "4x9;4x3;4x1", 0, 0},
	{"dim=1", "2x1x3x3;2x2x3x3;2x1x3x3;2x3x3x3;2x1x3x3;2x2x3x3;2x1x3x3;2x1x3x3", 0, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/* k inputs: k - 1 adds per output element */
static double add_flops(const struct clcnn_op *op)
{
	return (double)clcnn_shape_count(&op->out) * (op->nin - 1);
}

/* Backward copies dy; with a fused activation it reads the output for the mask. */
static unsigned add_saves(const struct clcnn_op *op)
{
	return op->fused.kind ? CLCNN_SAVES_OUT : 0;
}

/* relu or leaky_relu (slope >= 0) after a residual sum: merge_add applies it */
static int add_can_fuse(const struct clcnn_op *op, const struct clcnn_fused_act *f)
{
	(void)op;
	return f->kind == CLCNN_FUSED_RELU || f->kind == CLCNN_FUSED_LEAKY_RELU;
}

/* a copy */
static double concat_flops(const struct clcnn_op *op)
{
	(void)op;
	return 0;
}

const struct clcnn_op_class clcnn_op_add = {
	.name = "add",
	.family = "merge",
	.doc = "element-wise sum of 2..8 inputs of one shape (residual connections)",
	.args_size = 0,
	.args = no_keys,
	.min_in = 2,
	.max_in = CLCNN_OP_MAX_IN,
	.setup = add_setup,
	.ref_forward = add_ref_forward,
	.ref_backward = add_ref_backward,
	.forward = add_forward,
	.backward = add_backward,
	.saves = add_saves,
	.can_fuse = add_can_fuse,
	.cases = add_cases,
	/* sequential float sum of k <= 8 terms: |error| <= (k-1) * 2^-24 * sum|x_i| <= 7 * 6e-8 * 8 */
	.tol = 4e-6,
	.flops = add_flops,
};

const struct clcnn_op_class clcnn_op_concat = {
	.name = "concat",
	.family = "merge",
	.doc = "concatenate 2..8 inputs along dim (torch.cat)",
	.args_size = sizeof(struct concat_args),
	.args = concat_keys,
	.min_in = 2,
	.max_in = CLCNN_OP_MAX_IN,
	.setup = concat_setup,
	.ref_forward = concat_ref_forward,
	.ref_backward = concat_ref_backward,
	.forward = concat_forward,
	.backward = concat_backward,
	.saves = clcnn_saves_nothing,
	.cases = concat_cases,
	/* copies are exact */
	.tol = 1e-12,
	.flops = concat_flops,
};
