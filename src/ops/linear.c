/* linear (torch.nn.Linear): y = x W^T + b on 2-D input (N, in_features); flatten first for images. */
#include <string.h>

#include "device/gemm.h"
#include "ops/op.h"

struct linear_args {
	int in_features; /* 0: taken from the input */
	int out_features;
	int bias;
};

static const struct clcnn_arg linear_keys[] = {
	{"in_features", CLCNN_ARG_INT, offsetof(struct linear_args, in_features), "0", NULL,
	 "input features (0: taken from the input; otherwise checked against it)"},
	{"out_features", CLCNN_ARG_INT, offsetof(struct linear_args, out_features), NULL, NULL, "output features"},
	{"bias", CLCNN_ARG_BOOL, offsetof(struct linear_args, bias), "true", NULL, "learn an additive bias"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static int linear_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct linear_args *a = op->args;
	const struct clcnn_shape *in = &op->in[0];
	char s[64];
	if (in->ndim != 2)
		return clcnn_op_invalid(err, errlen,
					"linear: input must be 2-D (N, in_features), got %s; put a flatten "
					"before it",
					clcnn_shape_str(in, s, sizeof s));
	if (a->in_features && a->in_features != in->d[1])
		return clcnn_op_invalid(err, errlen, "linear: in_features=%d but the input %s has %d features",
					a->in_features, clcnn_shape_str(in, s, sizeof s), in->d[1]);
	if (a->out_features < 1)
		return clcnn_op_invalid(err, errlen, "linear: out_features must be >= 1, got %d", a->out_features);
	int nin = in->d[1], nout = a->out_features;
	op->out = clcnn_shape2(in->d[0], nout);
	op->nparam = a->bias ? 2 : 1;
	op->param[0] = (struct clcnn_param_spec){.name = "weight",
						 .shape = clcnn_shape2(nout, nin),
						 .kind = CLCNN_PARAM_WEIGHT,
						 .init = CLCNN_INIT_DEFAULT_WEIGHT,
						 .fan_in = nin,
						 .fan_out = nout};
	if (a->bias)
		op->param[1] = (struct clcnn_param_spec){.name = "bias",
							 .shape = {1, {nout, 0, 0, 0}},
							 .kind = CLCNN_PARAM_WEIGHT,
							 .init = CLCNN_INIT_DEFAULT_BIAS,
							 .fan_in = nin,
							 .fan_out = nout};
	return 0;
}

static void linear_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct linear_args *a = op->args;
	int n = op->in[0].d[0], nin = op->in[0].d[1], nout = a->out_features;
	for (int i = 0; i < n; i++)
		for (int o = 0; o < nout; o++) {
			double s = a->bias ? io->param[1][o] : 0.0;
			for (int k = 0; k < nin; k++)
				s += io->in[0][(size_t)i * nin + k] * io->param[0][(size_t)o * nin + k];
			io->out[(size_t)i * nout + o] = s;
		}
}

static void linear_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct linear_args *a = op->args;
	int n = op->in[0].d[0], nin = op->in[0].d[1], nout = a->out_features;
	const double *x = io->in[0], *w = io->param[0], *gy = io->grad_out;
	double *gx = io->grad_in[0], *gw = io->grad_param[0], *gb = a->bias ? io->grad_param[1] : NULL;
	if (gx)
		memset(gx, 0, (size_t)n * nin * sizeof *gx);
	if (gw)
		memset(gw, 0, (size_t)nout * nin * sizeof *gw);
	if (gb)
		memset(gb, 0, (size_t)nout * sizeof *gb);
	for (int i = 0; i < n; i++)
		for (int o = 0; o < nout; o++) {
			double g = gy[(size_t)i * nout + o];
			if (gb)
				gb[o] += g;
			for (int k = 0; k < nin; k++) {
				if (gx)
					gx[(size_t)i * nin + k] += g * w[(size_t)o * nin + k];
				if (gw)
					gw[(size_t)o * nin + k] += g * x[(size_t)i * nin + k];
			}
		}
}

/*
 * Scratch: the GEMM's workspace for x * W^T (on CPUs it transposes an operand: ~1.2x faster,
 * 64x256x3136), or for backward with a fused activation dy masked (n x out). The memory plan decides
 * fusion after prepare(), so the room for the mask is always counted (batch x out floats).
 */
static int linear_prepare(struct clcnn_op *op)
{
	const struct linear_args *a = op->args;
	int n = op->in[0].d[0];
	size_t ws = clcnn_gemm_workspace_bytes(op->ctx, NULL, 0, 1, n, a->out_features, op->in[0].d[1], 1);
	size_t mask = (size_t)n * (size_t)a->out_features * sizeof(float);
	op->scratch_bytes = ws > mask ? ws : mask;
	return 0;
}

_Static_assert((int)CLCNN_FUSED_RELU == (int)CLCNN_GEMM_ACT_RELU &&
		       (int)CLCNN_FUSED_LEAKY_RELU == (int)CLCNN_GEMM_ACT_LEAKY_RELU,
	       "a fused activation is the GEMM's epilogue activation of the same number");

static int linear_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct linear_args *a = op->args;
	int n = op->in[0].d[0], nin = op->in[0].d[1], nout = a->out_features;
	/*
	 * y [n x out] = act(x [n x in] * W^T + b), act the fused activation (none unless the plan fused
	 * one): the GEMM applies the bias and act as it stores; scratch holds its workspace.
	 */
	struct clcnn_gemm_workspace ws = {io->scratch, op->scratch_bytes, 0, 1};
	return clcnn_gemm_with(op->ctx, NULL, op->scratch_bytes ? &ws : NULL,
			       &(struct clcnn_gemm_args){.m = n,
							 .n = nout,
							 .k = nin,
							 .alpha = 1.0f,
							 .a = {io->in[0], 0, nin},
							 .b = {io->param[0], 0, nin, 0, 1},
							 .c = {io->out, 0, nout},
							 .bias = a->bias ? io->param[1] : NULL,
							 .act = op->fused.kind,
							 .act_slope = op->fused.slope});
}

/* Output features per work-item of cl/linear.cl's gradient kernels (LVW): a vector of 16 on CPUs, one on GPUs. */
static int linear_lvw(const struct clcnn_op *op)
{
	return clcnn_is_gpu(op->ctx) ? 1 : 16;
}

/*
 * With a fused activation: dy masked as the activation's backward would (by the sign of the output,
 * which saves() keeps) into scratch, the bias gradient summed in the same pass; returns the
 * gradient the products read. Without: dy itself.
 */
static int linear_act_grad(struct clcnn_op *op, const struct clcnn_dev_io *io, cl_mem *gy)
{
	const struct linear_args *a = op->args;
	int n = op->in[0].d[0], nout = a->out_features;
	cl_mem gb = a->bias ? io->grad_param[1] : NULL;
	char opts[128], fuse[64];
	int lvw = linear_lvw(op);
	snprintf(opts, sizeof opts, "-DBIAS=%d -DLVW=%d%s", gb != NULL, lvw,
		 clcnn_fuse_options(op->fused.kind, op->fused.slope, fuse, sizeof fuse));
	cl_kernel k;
	int rc = clcnn_kernel_get(op->ctx, "linear", opts, "linear_act_grad", &k);
	cl_mem gbuf = gb ? gb : io->scratch; /* not written without BIAS */
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->out), KARG(io->grad_out), KARG(io->scratch), KARG(gbuf),
				       KARG(n), KARG(nout));
	if (!rc)
		rc = clcnn_op_run1d(op->ctx, k, ((size_t)nout + (size_t)lvw - 1) / (size_t)lvw);
	*gy = io->scratch;
	return rc;
}

static int linear_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct linear_args *a = op->args;
	int n = op->in[0].d[0], nin = op->in[0].d[1], nout = a->out_features;
	cl_mem gy = io->grad_out;
	int rc = op->fused.kind ? linear_act_grad(op, io, &gy) : 0;
	if (!rc && io->grad_in[0]) /* gx [n x in] = gy [n x out] * W */
		rc = clcnn_gemm(op->ctx, &(struct clcnn_gemm_args){.m = n,
								   .n = nin,
								   .k = nout,
								   .alpha = 1.0f,
								   .a = {gy, 0, nout},
								   .b = {io->param[0], 0, nin},
								   .c = {io->grad_in[0], 0, nin}});
	if (!rc && io->grad_param[0]) /* gW [out x in] = gy^T * x: the batch is the GEMM's k, summed in order */
		rc = clcnn_gemm(op->ctx, &(struct clcnn_gemm_args){.m = nout,
								   .n = nin,
								   .k = n,
								   .alpha = 1.0f,
								   .a = {gy, 0, nout, 0, 1},
								   .b = {io->in[0], 0, nin},
								   .c = {io->grad_param[0], 0, nin}});
	if (!rc && a->bias && io->grad_param[1] && !op->fused.kind) {
		cl_kernel k;
		int lvw = linear_lvw(op);
		char opts[16];
		snprintf(opts, sizeof opts, "-DLVW=%d", lvw);
		rc = clcnn_kernel_get(op->ctx, "linear", opts, "linear_bias_grad", &k);
		if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(io->grad_out), KARG(io->grad_param[1]), KARG(n),
					       KARG(nout));
		if (!rc)
			rc = clcnn_op_run1d(op->ctx, k, ((size_t)nout + (size_t)lvw - 1) / (size_t)lvw);
	}
	return rc;
}

static const struct clcnn_op_case linear_cases[] = {
	{"out_features=5", "3x7", CLCNN_CASE_TRAIN, 0},
	{"out_features=1", "1x13", CLCNN_CASE_TRAIN, 0},
	{"out_features=7", "1x1", CLCNN_CASE_TRAIN, 0},
	{"out_features=13, bias=false", "3x9", CLCNN_CASE_TRAIN, 0},
	/* past one GEMM tile in every dimension, with ragged edges and a vectorised k */
	{"in_features=70, out_features=37", "17x70", CLCNN_CASE_TRAIN, 0},
	/*
	 * The small-batch GEMV of the forward (gemm_gemv): one row, a vector tail and a ragged last
	 * work-item; three rows; few outputs against many rows (the short operand is then W).
	 * 3137 terms: the typical error of .tol below grows with sqrt(k), sqrt(3137 / 70) ~ 6.7x, to
	 * ~2e-5 (measured 1.1e-5 here, 1.4e-5 through the transposing GEMM); 1e-4 still sees a dropped
	 * term, |x w| ~ 0.25 against 1e-4 * (1 + |y|) with |y| ~ sqrt(3137) / 3 ~ 19.
	 */
	{"out_features=257", "1x3137", CLCNN_CASE_TRAIN, 1e-4},
	{"out_features=7", "3x5", CLCNN_CASE_TRAIN, 0},
	{"out_features=3", "41x19", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* Backward reads x, and the output when it masks dy for a fused activation. */
static unsigned linear_saves(const struct clcnn_op *op)
{
	return CLCNN_SAVES_IN(0) | (op->fused.kind ? CLCNN_SAVES_OUT : 0);
}

/* relu or leaky_relu (slope >= 0) after a linear layer: its GEMM applies it (clcnn_gemm_args.act) */
static int linear_can_fuse(const struct clcnn_op *op, const struct clcnn_fused_act *f)
{
	(void)op;
	return f->kind == CLCNN_FUSED_RELU || f->kind == CLCNN_FUSED_LEAKY_RELU;
}

static double linear_flops(const struct clcnn_op *op)
{
	return 2.0 * op->in[0].d[0] * op->in[0].d[1] * op->out.d[1];
}

/* every output feature sees every input feature: all of the image when they came from a flatten */
static void linear_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	(void)op;
	w->kernel[0] = w->kernel[1] = 0;
}

const struct clcnn_op_class clcnn_op_linear = {
	.name = "linear",
	.family = "linear",
	.doc = "fully connected layer y = x W^T + b (torch.nn.Linear); 2-D input",
	.args_size = sizeof(struct linear_args),
	.args = linear_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = linear_setup,
	.prepare = linear_prepare,
	.ref_forward = linear_ref_forward,
	.ref_backward = linear_ref_backward,
	.forward = linear_forward,
	.backward = linear_backward,
	.saves = linear_saves,
	.can_fuse = linear_can_fuse,
	.cases = linear_cases,
	.flops = linear_flops,
	/*
	 * Each output is a float32 dot product of at most 70 terms (forward, input gradient) or 17
	 * (weight gradient: the batch) with |terms| <= 1: error <= 70 * 2^-24 * sum|terms| ~ 3e-4 worst
	 * case, ~sqrt(70) * 2^-24 * 5 ~ 3e-6 typical relative to 1 + |y|; 1e-5 keeps a dropped term
	 * (>= 1e-3) visible.
	 */
	.tol = 1e-5,
	.window = linear_window,
};
