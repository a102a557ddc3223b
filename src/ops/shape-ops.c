/* identity and flatten: ops that keep the data and change at most the shape (device side: a copy). */
#include <string.h>

#include "ops/op.h"

struct flatten_args {
	int start_dim, end_dim;
};

static const struct clcnn_arg flatten_keys[] = {
	{"start_dim", CLCNN_ARG_INT, offsetof(struct flatten_args, start_dim), "1", NULL, "first dim to flatten"},
	{"end_dim", CLCNN_ARG_INT, offsetof(struct flatten_args, end_dim), "-1", NULL, "last dim to flatten"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static int identity_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	op->out = op->in[0];
	return 0;
}

static int flatten_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct flatten_args *a = op->args;
	const struct clcnn_shape *in = &op->in[0];
	int nd = in->ndim, s = a->start_dim < 0 ? a->start_dim + nd : a->start_dim,
	    e = a->end_dim < 0 ? a->end_dim + nd : a->end_dim;
	if (nd == 0 || s < 0 || s >= nd || e < 0 || e >= nd || s > e)
		return clcnn_op_invalid(err, errlen, "flatten: start_dim=%d, end_dim=%d do not fit a %d-D input",
					a->start_dim, a->end_dim, nd);
	struct clcnn_shape o = {0, {0}};
	for (int i = 0; i < s; i++)
		o.d[o.ndim++] = in->d[i];
	int prod = 1;
	for (int i = s; i <= e; i++)
		prod *= in->d[i];
	o.d[o.ndim++] = prod;
	for (int i = e + 1; i < nd; i++)
		o.d[o.ndim++] = in->d[i];
	op->out = o;
	return 0;
}

static void copy_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	memcpy(io->out, io->in[0], clcnn_shape_count(&op->out) * sizeof(double));
}

static void copy_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	if (io->grad_in[0])
		memcpy(io->grad_in[0], io->grad_out, clcnn_shape_count(&op->out) * sizeof(double));
}

static int dev_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return clcnn_buffer_copy(op->ctx, io->in[0], io->out, clcnn_shape_count(&op->out) * sizeof(float));
}

static int dev_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	if (!io->grad_in[0])
		return 0;
	return clcnn_buffer_copy(op->ctx, io->grad_out, io->grad_in[0], clcnn_shape_count(&op->out) * sizeof(float));
}

static const struct clcnn_op_case identity_cases[] = {
	{"", "1x1x1x1", 0, 0},
	{"", "3x5x7x2", 0, 0},
	{"", "4x9", 0, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case flatten_cases[] = {
	{"", "3x5x7x2", 0, 0},
	{"start_dim=2", "2x3x5x7", 0, 0},
	{"start_dim=0, end_dim=1", "2x3x5x7", 0, 0},
	{"", "4x9", 0, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_arg no_keys[] = {{NULL, 0, 0, NULL, NULL, NULL}};

/* a copy: no arithmetic (docs/cost.md) */
static double copy_flops(const struct clcnn_op *op)
{
	(void)op;
	return 0;
}

const struct clcnn_op_class clcnn_op_identity = {
	.name = "identity",
	.family = "common",
	.doc = "output = input",
	.args_size = 0,
	.args = no_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = identity_setup,
	.ref_forward = copy_forward,
	.ref_backward = copy_backward,
	.forward = dev_forward,
	.backward = dev_backward,
	.saves = clcnn_saves_nothing,
	.cases = identity_cases,
	.tol = 0,
	.flops = copy_flops,
};

const struct clcnn_op_class clcnn_op_flatten = {
	.name = "flatten",
	.family = "common",
	.doc = "flatten dims start_dim..end_dim into one (torch.nn.Flatten)",
	.args_size = sizeof(struct flatten_args),
	.args = flatten_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = flatten_setup,
	.ref_forward = copy_forward,
	.ref_backward = copy_backward,
	.forward = dev_forward,
	.backward = dev_backward,
	.saves = clcnn_saves_nothing,
	.cases = flatten_cases,
	.tol = 0,
	.flops = copy_flops,
};
