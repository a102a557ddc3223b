/*
 * batchnorm2d / batchnorm1d (torch.nn.BatchNorm2d / BatchNorm1d): per-channel normalisation of an
 * input viewed as (N, C, S), S = H*W for 4-D input, L for 3-D, 1 for (N, F).
 *
 * Training normalises with the batch mean and BIASED variance and moves the running statistics
 * towards the batch mean and UNBIASED variance (momentum m: new = (1-m)*old + m*batch; momentum=none:
 * cumulative average with factor 1/num_batches_tracked). Eval uses the running statistics, except
 * with track_running_stats=false, where PyTorch uses the batch statistics in eval too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../cl/batchnorm.h" /* BN_STATS_*, shared with the kernels */
#include "clcnn/parallel.h"
#include "ops/op.h"

struct bn_args {
	int num_features; /* 0: inferred from the input */
	double eps;
	double momentum; /* NAN: cumulative moving average */
	int affine;
	int track_running_stats;
	int sync_bn;
};

static const struct clcnn_arg bn_keys[] = {
	{"num_features", CLCNN_ARG_INT, offsetof(struct bn_args, num_features), "0", NULL,
	 "channels C; 0 = take them from the input"},
	{"eps", CLCNN_ARG_FLOAT, offsetof(struct bn_args, eps), "1e-5", NULL, "added to the variance"},
	{"momentum", CLCNN_ARG_OPT_FLOAT, offsetof(struct bn_args, momentum), "0.1", NULL,
	 "running-statistics factor; none = cumulative moving average"},
	{"affine", CLCNN_ARG_BOOL, offsetof(struct bn_args, affine), "true", NULL, "learn weight and bias"},
	{"track_running_stats", CLCNN_ARG_BOOL, offsetof(struct bn_args, track_running_stats), "true", NULL,
	 "keep running_mean/running_var for eval"},
	{"sync_bn", CLCNN_ARG_BOOL, offsetof(struct bn_args, sync_bn), "false", NULL,
	 "data-parallel training: statistics of every member's batch (torch.nn.SyncBatchNorm)"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

/* The (N, C, S) view and where each parameter sits in op->param (-1: absent). */
struct bn_view {
	int n, c, s;
	int w, b, rm, rv, nbt;
};

static struct bn_view bn_view(const struct clcnn_op *op)
{
	const struct bn_args *a = op->args;
	const struct clcnn_shape *in = &op->in[0];
	struct bn_view v = {in->d[0], in->d[1], 1, -1, -1, -1, -1, -1};
	for (int i = 2; i < in->ndim; i++)
		v.s *= in->d[i];
	int j = 0;
	if (a->affine) {
		v.w = j++;
		v.b = j++;
	}
	if (a->track_running_stats) {
		v.rm = j++;
		v.rv = j++;
		v.nbt = j++;
	}
	return v;
}

static void bn_param(struct clcnn_op *op, const char *name, int ndim, int c, enum clcnn_param_kind kind,
		     enum clcnn_init init, int int64)
{
	struct clcnn_param_spec *p = &op->param[op->nparam++];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->shape = (struct clcnn_shape){ndim, {ndim ? c : 0, 0, 0, 0}};
	p->kind = kind;
	p->init = init;
	p->int64 = int64;
}

static int bn_setup(struct clcnn_op *op, char *err, size_t errlen, int min_nd, int max_nd)
{
	const struct bn_args *a = op->args;
	const struct clcnn_shape *in = &op->in[0];
	const char *name = op->cls->name;
	char s[64];
	if (in->ndim < min_nd || in->ndim > max_nd) {
		if (min_nd == max_nd)
			return clcnn_op_invalid(err, errlen, "%s: expected %dD input (got %dD input)", name, min_nd,
						in->ndim);
		return clcnn_op_invalid(err, errlen, "%s: expected %dD or %dD input (got %dD input)", name, min_nd,
					max_nd, in->ndim);
	}
	int c = in->d[1];
	if (a->num_features && a->num_features != c)
		return clcnn_op_invalid(err, errlen, "%s: num_features=%d but the input %s has %d channels", name,
					a->num_features, clcnn_shape_str(in, s, sizeof s), c);
	if (!(a->eps >= 0))
		return clcnn_op_invalid(err, errlen, "%s: eps must be >= 0, got %g", name, a->eps);
	if (!isnan(a->momentum) && !(a->momentum >= 0 && a->momentum <= 1))
		return clcnn_op_invalid(err, errlen, "%s: momentum must be in [0, 1] or none, got %g", name,
					a->momentum);
	/*
	 * PyTorch raises this at run time in training. Without running statistics every mode uses the
	 * batch statistics, so it is known now; otherwise forward() rejects training on such a batch
	 * (eval of a single sample is legitimate).
	 */
	if (clcnn_shape_count(in) / (size_t)c == 1 && !a->track_running_stats)
		return clcnn_op_invalid(err, errlen,
					"%s: expected more than 1 value per channel when training, got input size %s "
					"(track_running_stats=false uses batch statistics in eval too)",
					name, clcnn_shape_str(in, s, sizeof s));
	op->out = *in;
	op->nparam = 0;
	if (a->affine) {
		bn_param(op, "weight", 1, c, CLCNN_PARAM_WEIGHT, CLCNN_INIT_ONES, 0);
		bn_param(op, "bias", 1, c, CLCNN_PARAM_WEIGHT, CLCNN_INIT_ZEROS, 0);
	}
	if (a->track_running_stats) {
		bn_param(op, "running_mean", 1, c, CLCNN_PARAM_BUFFER, CLCNN_INIT_ZEROS, 0);
		bn_param(op, "running_var", 1, c, CLCNN_PARAM_BUFFER, CLCNN_INIT_ONES, 0);
		bn_param(op, "num_batches_tracked", 0, c, CLCNN_PARAM_BUFFER, CLCNN_INIT_ZEROS, 1);
	}
	struct bn_view v = bn_view(op);
	/* state: mean and 1/sqrt(var + eps) per channel; scratch: per-plane partial sums + per-channel sums */
	op->state_bytes = 2 * (size_t)c * sizeof(float);
	op->scratch_bytes = (2 * (size_t)v.n * (size_t)c + 2 * (size_t)c) * sizeof(float);
	return 0;
}

static int bn2d_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	return bn_setup(op, err, errlen, 4, 4);
}

static int bn1d_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	return bn_setup(op, err, errlen, 2, 3);
}

/* ------------------------------------------------------------------ C reference */

/* Statistics the op normalises with: batch (biased variance) or running. */
static void bn_ref_stats(const struct bn_view *v, const double *x, double *const *param, int batch, int c, double *mean,
			 double *var)
{
	if (!batch) {
		*mean = param[v->rm][c];
		*var = param[v->rv][c];
		return;
	}
	double m = (double)v->n * v->s, sum = 0, sq = 0;
	for (int n = 0; n < v->n; n++)
		for (int s = 0; s < v->s; s++)
			sum += x[((size_t)n * v->c + c) * v->s + s];
	*mean = sum / m;
	for (int n = 0; n < v->n; n++)
		for (int s = 0; s < v->s; s++) {
			double d = x[((size_t)n * v->c + c) * v->s + s] - *mean;
			sq += d * d;
		}
	*var = sq / m;
}

static void bn_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct bn_args *a = op->args;
	struct bn_view v = bn_view(op);
	int batch = io->train || !a->track_running_stats, update = io->train && a->track_running_stats;
	double factor = a->momentum;
	if (update) {
		io->param[v.nbt][0] += 1;
		if (isnan(a->momentum))
			factor = 1.0 / io->param[v.nbt][0];
	}
	double m = (double)v.n * v.s;
	for (int c = 0; c < v.c; c++) {
		double mean, var;
		bn_ref_stats(&v, io->in[0], io->param, batch, c, &mean, &var);
		double invstd = 1 / sqrt(var + a->eps);
		double w = v.w >= 0 ? io->param[v.w][c] : 1, b = v.b >= 0 ? io->param[v.b][c] : 0;
		for (int n = 0; n < v.n; n++)
			for (int s = 0; s < v.s; s++) {
				size_t i = ((size_t)n * v.c + c) * v.s + s;
				io->out[i] = (io->in[0][i] - mean) * invstd * w + b;
			}
		if (update) {
			io->param[v.rm][c] = (1 - factor) * io->param[v.rm][c] + factor * mean;
			io->param[v.rv][c] = (1 - factor) * io->param[v.rv][c] + factor * var * m / (m - 1);
		}
	}
}

/*
 * With batch statistics, y = w * xhat + b with xhat = (x - mean) * invstd depending on every x of
 * the channel: dx = w * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)).
 * With running statistics the map is affine: dx = w * invstd * dy.
 */
static void bn_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct bn_args *a = op->args;
	struct bn_view v = bn_view(op);
	int batch = io->train || !a->track_running_stats;
	double m = (double)v.n * v.s;
	for (int c = 0; c < v.c; c++) {
		double mean, var;
		bn_ref_stats(&v, io->in[0], io->param, batch, c, &mean, &var);
		double invstd = 1 / sqrt(var + a->eps), w = v.w >= 0 ? io->param[v.w][c] : 1;
		double sdy = 0, sdyx = 0;
		for (int n = 0; n < v.n; n++)
			for (int s = 0; s < v.s; s++) {
				size_t i = ((size_t)n * v.c + c) * v.s + s;
				sdy += io->grad_out[i];
				sdyx += io->grad_out[i] * (io->in[0][i] - mean) * invstd;
			}
		if (v.w >= 0 && io->grad_param[v.w])
			io->grad_param[v.w][c] = sdyx;
		if (v.b >= 0 && io->grad_param[v.b])
			io->grad_param[v.b][c] = sdy;
		if (!io->grad_in[0])
			continue;
		for (int n = 0; n < v.n; n++)
			for (int s = 0; s < v.s; s++) {
				size_t i = ((size_t)n * v.c + c) * v.s + s;
				double dy = io->grad_out[i], xhat = (io->in[0][i] - mean) * invstd;
				io->grad_in[0][i] =
					batch ? w * invstd / m * (m * dy - sdy - xhat * sdyx) : w * invstd * dy;
			}
	}
}

/* ------------------------------------------------------------------ device */

/* GPU kernels for planes (S > 1): a work-group per plane and one element per work-item. */
static int bn_gpu_planes(const struct clcnn_op *op, const struct bn_view *v)
{
	return clcnn_is_gpu(op->ctx) && v->s > 1;
}

static int bn_options_wg(const struct clcnn_op *op, const struct bn_view *v, int wg, char *buf, size_t n)
{
	const struct bn_args *a = op->args;
	int len = snprintf(buf, n, "-DC=%d -DS=%d -DAFFINE=%d", v->c, v->s, a->affine);
	if (wg && len >= 0 && (size_t)len < n)
		len += snprintf(buf + len, n - (size_t)len, " -DBN_WG=%d", wg);
	char fuse[64]; /* a fused activation (op.h) */
	if (len >= 0 && (size_t)len < n)
		len += snprintf(buf + len, n - (size_t)len, "%s",
				clcnn_fuse_options(op->fused.kind, op->fused.slope, fuse, sizeof fuse));
	return len;
}

/*
 * Items of the per-plane reduction groups on a GPU: the smallest power of two that covers a plane,
 * at least lim.simd, at most 256 and what the device, the profile and the built kernel allow (the
 * kernel is built to ask). 0 when the CPU kernels run.
 */
static int bn_wg(struct clcnn_op *op, const struct bn_view *v)
{
	if (!bn_gpu_planes(op, v))
		return 0;
	const struct clcnn_device_limits *lim = &op->ctx->lim;
	size_t max = lim->max_wg < lim->max_items[0] ? lim->max_wg : lim->max_items[0], wg = 1;
	while (wg * 2 <= max && wg * 2 <= 256)
		wg *= 2;
	while (wg / 2 >= (size_t)v->s && wg / 2 >= (size_t)lim->simd)
		wg /= 2;
	for (;;) {
		char opts[160];
		cl_kernel k;
		bn_options_wg(op, v, (int)wg, opts, sizeof opts);
		if (wg == 1 || clcnn_kernel_get(op->ctx, "batchnorm", opts, "bn_plane_stats_wg", &k) ||
		    clcnn_kernel_max_wg(op->ctx, k) >= wg)
			return (int)wg; /* a build failure is reported by the caller's own get */
		wg /= 2;
	}
}

/* Features per channel work-item: with S = 1 the kernels take 8 adjacent features as a float8. */
static int bn_fv(const struct bn_view *v)
{
	return v->s == 1 && v->c % 8 == 0 ? 8 : 1;
}

/* Per-plane reductions: a work-item per plane (CPU), or a group of wg items per plane (GPU). */
static int bn_run_planes(struct clcnn_context *ctx, cl_kernel k, int planes, int wg)
{
	if (!wg)
		return clcnn_op_run1d(ctx, k, (size_t)planes);
	size_t global = (size_t)planes * (size_t)wg, local = (size_t)wg;
	return clcnn_kernel_run(ctx, k, 1, &global, &local);
}

/* Channel kernels: one work-item per FV channels. */
static int bn_run_channels(struct clcnn_context *ctx, cl_kernel k, const struct bn_view *v)
{
	return clcnn_op_run1d(ctx, k, (size_t)(v->c / bn_fv(v)));
}

/*
 * Elementwise kernels: one plane per work-item (POCL runs work-items as scalar loops: the plane's
 * loop carries the vectors), or for S = 1 FV features of one row on a (C / FV, N) grid.
 */
static int bn_run_elementwise(struct clcnn_op *op, cl_kernel k, const struct bn_view *v)
{
	struct clcnn_context *ctx = op->ctx;
	if (bn_gpu_planes(op, v))
		return clcnn_op_run1d(ctx, k, (size_t)v->n * (size_t)v->c * (size_t)v->s);
	if (v->s > 1) {
		size_t planes = (size_t)v->n * v->c, local = 8;
		return clcnn_kernel_run(ctx, k, 1, &planes, &local);
	}
	size_t g0 = (size_t)(v->c / bn_fv(v)), g1 = (size_t)v->n, items = clcnn_op_local1d(ctx, k), l0 = 1;
	while (l0 < g0 && l0 * 2 <= items)
		l0 *= 2;
	size_t global[2] = {g0, g1}, local[2] = {l0, items / l0 ? items / l0 : 1};
	return clcnn_kernel_run(ctx, k, 2, global, local);
}

static cl_mem bn_buf(const cl_mem *arr, int idx)
{
	return idx >= 0 ? arr[idx] : NULL;
}

/* ------------------------------------------------------------------ sync_bn (clcnn/parallel.h) */

/* The members' batches are normalised together: training, sync on, and a group of several. */
static int bn_sync(const struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct bn_args *a = op->args;
	return io->train && (a->sync_bn || io->sync_bn) && io->coll && io->coll->size > 1;
}

/* The values per channel of the global batch, from the last forward (backward's weights m_k / M). */
struct bn_sync_state {
	double count;
};

static void bn_destroy(struct clcnn_op *op)
{
	free(op->priv);
	op->priv = NULL;
}

/* A local failure before a collective call: release the members that wait in it, then fail. */
static int bn_sync_fail(struct clcnn_op *op, const struct clcnn_dev_io *io, int rc)
{
	if (io->coll->abort)
		io->coll->abort(io->coll->user, clcnn_context_error(op->ctx));
	return rc;
}

static int bn_coll_failed(struct clcnn_op *op, const struct clcnn_dev_io *io, int rc, const char *what)
{
	const struct clcnn_collective *c = io->coll;
	const char *why = c->error ? c->error(c->user) : NULL;
	return clcnn_fail(op->ctx, rc ? rc : CLCNN_ERR_INVALID, "sync_bn %s (member %d of %d): %s", what, c->rank,
			  c->size, why ? why : "the collective failed");
}

/*
 * state holds this member's [mean, M2] per channel (BN_STATS_LOCAL). Gather every member's
 * (count, mean[C], M2[C]) and merge them in member order (Chan et al.: the mean moves by
 * delta * n_b / n, M2 gains delta^2 * n_a * n_b / n), in double; state becomes [mean, invstd] of
 * the global batch, and with `update` scratch's head [mean, unbiased variance] for the running
 * statistics. Every member computes the same bits from the same gathered values.
 */
static int bn_sync_stats(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct bn_view *v, int update)
{
	const struct bn_args *a = op->args;
	const struct clcnn_collective *c = io->coll;
	size_t C = (size_t)v->c, per = 1 + 2 * C;
	if (!c->allgather)
		return bn_sync_fail(op, io,
				    clcnn_fail(op->ctx, CLCNN_ERR_INVALID,
					       "%s: sync_bn needs a collective with allgather (this one has none)",
					       op->cls->name));
	if (!op->priv && !(op->priv = calloc(1, sizeof(struct bn_sync_state))))
		return bn_sync_fail(op, io, clcnn_fail(op->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory"));
	float *f = malloc(3 * C * sizeof *f);
	double *in = malloc(per * sizeof *in), *all = malloc(per * (size_t)c->size * sizeof *all);
	int rc = 0;
	if (!f || !in || !all)
		rc = bn_sync_fail(op, io, clcnn_fail(op->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory"));
	if (!rc && (rc = clcnn_buffer_read(op->ctx, io->state, 0, 2 * C * sizeof *f, f)))
		rc = bn_sync_fail(op, io, rc);
	if (!rc) {
		in[0] = (double)v->n * v->s;
		for (size_t k = 0; k < 2 * C; k++)
			in[1 + k] = f[k];
		if ((rc = c->allgather(c->user, in, per, all)))
			rc = bn_coll_failed(op, io, rc, "statistics allgather");
	}
	double total = 0;
	for (int m = 0; m < c->size && !rc; m++)
		total += all[(size_t)m * per];
	if (!rc && total <= 1)
		rc = clcnn_fail(op->ctx, CLCNN_ERR_INVALID,
				"%s: expected more than 1 value per channel when training, got %g over the group",
				op->cls->name, total);
	for (size_t ch = 0; ch < C && !rc; ch++) {
		double n = 0, mean = 0, m2 = 0;
		for (int m = 0; m < c->size; m++) {
			const double *q = all + (size_t)m * per;
			double nb = q[0], d = q[1 + ch] - mean;
			if (nb == 0)
				continue;
			double nab = n + nb;
			mean += d * nb / nab;
			m2 += q[1 + C + ch] + d * d * n * nb / nab;
			n = nab;
		}
		f[ch] = (float)mean;
		f[C + ch] = (float)(1 / sqrt(m2 / n + a->eps));
		f[2 * C + ch] = (float)(m2 / (n - 1));
	}
	if (!rc)
		((struct bn_sync_state *)op->priv)->count = total;
	if (!rc)
		rc = clcnn_buffer_write(op->ctx, io->state, 0, 2 * C * sizeof *f, f);
	if (!rc && update) {
		memcpy(f + C, f + 2 * C, C * sizeof *f);
		rc = clcnn_buffer_write(op->ctx, io->scratch, 0, 2 * C * sizeof *f, f);
	}
	free(f), free(in), free(all);
	return rc;
}

/*
 * Backward: scratch's channel sums (sum dy, sum dy * xhat) of this member become the group's,
 * each member's weighted by its share m_k / M of the values (its dy is the gradient of its own
 * mean loss; the global loss weighs it by that share). bn_input_grad then divides by the local m_k:
 * dx_k = w * invstd * (dy_k - S1 / m_k - xhat * S2 / m_k), which is the joined batch's input
 * gradient over the share (the trainer scales this member's gradients by the share again).
 */
static int bn_sync_grad(struct clcnn_op *op, const struct clcnn_dev_io *io, const struct bn_view *v)
{
	const struct clcnn_collective *c = io->coll;
	size_t C = (size_t)v->c, off = 2 * (size_t)v->n * C * sizeof(float);
	const struct bn_sync_state *st = op->priv;
	if (!st || !(st->count > 0))
		return bn_sync_fail(op, io,
				    clcnn_fail(op->ctx, CLCNN_ERR_INVALID, "%s: sync_bn backward without its forward",
					       op->cls->name));
	float *f = malloc(2 * C * sizeof *f);
	if (!f)
		return bn_sync_fail(op, io, clcnn_fail(op->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory"));
	int rc = clcnn_buffer_read(op->ctx, io->scratch, off, 2 * C * sizeof *f, f);
	if (rc)
		rc = bn_sync_fail(op, io, rc);
	if (!rc) {
		float share = (float)((double)v->n * v->s / st->count);
		for (size_t k = 0; k < 2 * C; k++)
			f[k] *= share;
		if ((rc = c->allreduce_sum(c->user, f, 2 * C)))
			rc = bn_coll_failed(op, io, rc, "gradient sums allreduce");
	}
	if (!rc)
		rc = clcnn_buffer_write(op->ctx, io->scratch, off, 2 * C * sizeof *f, f);
	free(f);
	return rc;
}

static int bn_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct bn_args *a = op->args;
	struct bn_view v = bn_view(op);
	struct clcnn_context *ctx = op->ctx;
	int batch = io->train || !a->track_running_stats, update = io->train && a->track_running_stats;
	int sync = bn_sync(op, io);
	char opts[160], s[64];
	if (batch && !sync && (size_t)v.n * v.s == 1)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "%s: expected more than 1 value per channel when training, got input size %s",
				  op->cls->name, clcnn_shape_str(&op->in[0], s, sizeof s));
	int wg = bn_wg(op, &v), gpu = bn_gpu_planes(op, &v);
	bn_options_wg(op, &v, wg, opts, sizeof opts);
	cl_kernel k;
	int planes = v.n * v.c, rows = v.s == 1 ? v.n : planes, rc;
	int mode = sync ? BN_STATS_LOCAL : update ? BN_STATS_UPDATE : batch ? BN_STATS_BATCH : BN_STATS_RUNNING;
	if (batch && v.s > 1) {
		if ((rc = clcnn_kernel_get(ctx, "batchnorm", opts, wg ? "bn_plane_stats_wg" : "bn_plane_stats", &k)) ||
		    (rc = clcnn_kernel_args(ctx, k, KARG(io->in[0]), KARG(io->scratch), KARG(planes))) ||
		    (rc = bn_run_planes(ctx, k, planes, wg)))
			return sync ? bn_sync_fail(op, io, rc) : rc;
	}
	cl_mem rm = bn_buf(io->param, v.rm), rv = bn_buf(io->param, v.rv), nbt = bn_buf(io->param, v.nbt);
	float eps = (float)a->eps, mom = isnan(a->momentum) ? -1.0f : (float)a->momentum;
	if ((rc = clcnn_kernel_get(ctx, "batchnorm", opts, "bn_channel_stats", &k)) ||
	    (rc = clcnn_kernel_args(ctx, k, KARG(io->in[0]), KARG(io->scratch), KARG(io->state), KARG(rm), KARG(rv),
				    KARG(nbt), KARG(v.n), KARG(eps), KARG(mom), KARG(mode))) ||
	    (rc = bn_run_channels(ctx, k, &v)))
		return sync ? bn_sync_fail(op, io, rc) : rc;
	if (sync && (rc = bn_sync_stats(op, io, &v, update)))
		return rc;
	if (sync && update &&
	    ((rc = clcnn_kernel_get(ctx, "batchnorm", opts, "bn_running_update", &k)) ||
	     (rc = clcnn_kernel_args(ctx, k, KARG(io->scratch), KARG(rm), KARG(rv), KARG(nbt), KARG(mom))) ||
	     (rc = bn_run_channels(ctx, k, &v))))
		return rc;
	cl_mem w = bn_buf(io->param, v.w), b = bn_buf(io->param, v.b);
	if ((rc = clcnn_kernel_get(ctx, "batchnorm", opts, gpu ? "bn_normalize_flat" : "bn_normalize", &k)) ||
	    (rc = clcnn_kernel_args(ctx, k, KARG(io->in[0]), KARG(io->out), KARG(io->state), KARG(w), KARG(b),
				    KARG(nbt), KARG(rows), KARG(update))))
		return rc;
	return bn_run_elementwise(op, k, &v);
}

static int bn_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct bn_args *a = op->args;
	struct bn_view v = bn_view(op);
	struct clcnn_context *ctx = op->ctx;
	int batch = io->train || !a->track_running_stats, planes = v.n * v.c, rows = v.s == 1 ? v.n : planes, rc;
	cl_mem dw = v.w >= 0 ? io->grad_param[v.w] : NULL, db = v.b >= 0 ? io->grad_param[v.b] : NULL;
	cl_mem w = bn_buf(io->param, v.w), b = bn_buf(io->param, v.b); /* a fused activation's mask: op.h */
	char opts[160];
	int wg = bn_wg(op, &v), gpu = bn_gpu_planes(op, &v);
	bn_options_wg(op, &v, wg, opts, sizeof opts);
	cl_kernel k;
	/* channel sums of dy and dy * xhat: needed for dw, db, and dx through the batch statistics */
	if (dw || db || (batch && io->grad_in[0])) {
		if (v.s > 1 &&
		    ((rc = clcnn_kernel_get(ctx, "batchnorm", opts, wg ? "bn_plane_grad_wg" : "bn_plane_grad", &k)) ||
		     (rc = clcnn_kernel_args(ctx, k, KARG(io->in[0]), KARG(io->grad_out), KARG(io->state), KARG(w),
					     KARG(b), KARG(io->scratch), KARG(planes))) ||
		     (rc = bn_run_planes(ctx, k, planes, wg))))
			return rc;
		if ((rc = clcnn_kernel_get(ctx, "batchnorm", opts, "bn_channel_grad", &k)) ||
		    (rc = clcnn_kernel_args(ctx, k, KARG(io->in[0]), KARG(io->grad_out), KARG(io->state), KARG(w),
					    KARG(b), KARG(io->scratch), KARG(dw), KARG(db), KARG(v.n))) ||
		    (rc = bn_run_channels(ctx, k, &v)))
			return rc;
	}
	if (!io->grad_in[0])
		return 0;
	if (bn_sync(op, io) && (rc = bn_sync_grad(op, io, &v)))
		return rc;
	float inv_m = (float)(1.0 / ((double)v.n * v.s));
	if ((rc = clcnn_kernel_get(ctx, "batchnorm", opts, gpu ? "bn_input_grad_flat" : "bn_input_grad", &k)) ||
	    (rc = clcnn_kernel_args(ctx, k, KARG(io->in[0]), KARG(io->grad_out), KARG(io->state), KARG(w), KARG(b),
				    KARG(io->scratch), KARG(io->grad_in[0]), KARG(rows), KARG(batch), KARG(inv_m))))
		return rc;
	return bn_run_elementwise(op, k, &v);
}

/* ------------------------------------------------------------------ operator fusion (op.h) */

/*
 * relu or leaky_relu after batchnorm: bn_normalize writes act(y), and backward masks dy inside
 * bn_plane_grad / bn_channel_grad / bn_input_grad (cl/batchnorm.cl) by the sign of y, recomputed
 * from x, the statistics (state) and w, b exactly as forward computed it, in training and in eval
 * (an affine map there). So backward still reads only x: the output is not kept for it.
 */
static int bn_can_fuse(const struct clcnn_op *op, const struct clcnn_fused_act *f)
{
	(void)op;
	return f->kind == CLCNN_FUSED_RELU || f->kind == CLCNN_FUSED_LEAKY_RELU;
}

/* ------------------------------------------------------------------ tests */

/*
 * Inputs with a channel offset (mean far from 0 exercises the two-pass variance), positive
 * running variances, weights away from 0, num_batches_tracked = 3 so momentum=none's factor 1/4
 * differs from a first step's 1.
 */
static void bn_fill(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	struct bn_view v = bn_view(op);
	for (size_t i = 0; i < n; i++) {
		if (input >= 0)
			x[i] = 0.5 * (double)((i / (size_t)v.s) % (size_t)v.c) + clcnn_test_uniform(rng, -1, 1);
		else if (param == v.w)
			x[i] = clcnn_test_uniform(rng, 0.5, 1.5);
		else if (param == v.b || param == v.rm)
			x[i] = clcnn_test_uniform(rng, -1, 1);
		else if (param == v.rv)
			x[i] = clcnn_test_uniform(rng, 0.5, 2);
		else
			x[i] = 3;
	}
}

static const struct clcnn_op_case bn2d_cases[] = {
	{"", "1x1x7x5", 0, 0},
	{"", "3x3x7x13", 0, 0},
	{"", "2x3x1x1", 0, 0},
	{"", "3x8x1x1", 0, 0}, /* S = 1 with C % 8 == 0: float8 feature lanes */
	{"", "2x4x16x16", 0, 0},
	{"", "2x3x29x31", 0, 0}, /* planes longer than a GPU work-group: items stride several times */
	{"momentum=none", "3x3x5x7", 0, 0},
	{"momentum=0.3, eps=1e-3", "2x3x9x3", 0, 0},
	{"affine=false", "3x3x7x5", 0, 0},
	{"track_running_stats=false", "3x3x5x7", 0, 0},
	{"affine=false, track_running_stats=false", "1x3x7x13", 0, 0},
	{"num_features=3", "1x3x13x7", 0, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case bn1d_cases[] = {
	{"", "3x5", 0, 0},
	{"", "1x3", CLCNN_CASE_EVAL, 0}, /* one value per feature: training is an error (test-norm.c) */
	{"", "2x1", 0, 0},
	{"", "13x7", 0, 0},
	{"momentum=none", "7x3", 0, 0},
	{"affine=false", "5x3", 0, 0},
	{"track_running_stats=false", "3x5", 0, 0},
	{"", "5x16", 0, 0}, /* C % 8 == 0: float8 feature lanes */
	{"momentum=none, affine=false", "3x8", 0, 0},
	{"track_running_stats=false", "4x24", 0, 0},
	{"", "3x3x7", 0, 0},
	{"", "1x3x13", 0, 0},
	{NULL, NULL, 0, 0},
};

/*
 * Tolerance: the batch statistics and the channel sums of dy, dy * xhat are sums of m <= 512 float
 * terms (float8 lanes, then merged in order): relative error ~(m/8 + 3) * 2^-24 <= 4e-6 of the sum
 * of |terms|. The input gradient w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) cancels terms
 * of the size of the result's scale, so a few such errors add up: measured <= 4.4e-6 over the cases.
 */
#define BN_TOL 2e-5

/*
 * Eval-mode forward (docs/cost.md): per channel 1/sqrt(var + eps) (3); per element (x - mean) * invstd
 * (2) and the affine w * xhat + b (2). Without running statistics eval normalises with the batch's:
 * their mean (1 add per element, 1 division per channel) and biased variance (subtract, square, add
 * per element, 1 division per channel) come first.
 */
static double bn_flops(const struct clcnn_op *op)
{
	const struct bn_args *a = op->args;
	struct bn_view v = bn_view(op);
	double elems = (double)v.n * v.c * v.s, per_elem = a->affine ? 4 : 2, per_chan = 3;
	if (!a->track_running_stats) {
		per_elem += 4;
		per_chan += 2;
	}
	return elems * per_elem + (double)v.c * per_chan;
}

const struct clcnn_op_class clcnn_op_batchnorm2d = {
	.name = "batchnorm2d",
	.family = "batchnorm",
	.doc = "batch normalisation over (N, H, W) per channel (torch.nn.BatchNorm2d)",
	.args_size = sizeof(struct bn_args),
	.args = bn_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = bn2d_setup,
	.ref_forward = bn_ref_forward,
	.ref_backward = bn_ref_backward,
	.forward = bn_forward,
	.backward = bn_backward,
	.saves = clcnn_saves_input0, /* the statistics are its state */
	.can_fuse = bn_can_fuse,
	.destroy = bn_destroy,
	.fill = bn_fill,
	.cases = bn2d_cases,
	.tol = BN_TOL,
	.flops = bn_flops,
};

const struct clcnn_op_class clcnn_op_batchnorm1d = {
	.name = "batchnorm1d",
	.family = "batchnorm",
	.doc = "batch normalisation of (N, F) or (N, C, L) per feature (torch.nn.BatchNorm1d)",
	.args_size = sizeof(struct bn_args),
	.args = bn_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = bn1d_setup,
	.ref_forward = bn_ref_forward,
	.ref_backward = bn_ref_backward,
	.forward = bn_forward,
	.backward = bn_backward,
	.saves = clcnn_saves_input0, /* the statistics are its state */
	.can_fuse = bn_can_fuse,
	.destroy = bn_destroy,
	.fill = bn_fill,
	.cases = bn1d_cases,
	.tol = BN_TOL,
	.flops = bn_flops,
};
