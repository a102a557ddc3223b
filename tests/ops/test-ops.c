/*
 * The generic op test: every registered op class, every case of its table, on the OpenCL device
 * against the double-precision C reference — forward output, updated buffers, and every gradient —
 * plus finite-difference checks:
 *   - central differences in double on the reference (h = 1e-6), element-wise bound
 *     1e-6 * (1 + |analytic|) + 1e-9 * sum|out * g|  (truncation ~h^2, rounding ~1e-16 * L / h);
 *   - central differences in float on the device (h = 1e-2) against the device's own analytic
 *     gradient, bounded by: the reference's own truncation error at the same h (measured in double),
 *     plus the forward error the op's tolerance allows in L = sum(out * g), divided by h, plus the op's
 *     tolerance on the gradient itself.
 * Usage: test-ops [op-name...]   (CLCNN_TEST_OPS="conv2d relu" also filters; CLCNN_TEST_CASE=TEXT runs
 * only the cases whose arguments contain TEXT, e.g. "algo=winograd_fused")
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "testutil.h"

#define FD_SAMPLES 24
#define DEV_FD_SAMPLES 3

static const char **filter;
static int nfilter;

struct tensors {
	int n;
	size_t count[CLCNN_OP_MAX_IN + 2 * CLCNN_OP_MAX_PARAM];
	double *host[CLCNN_OP_MAX_IN + 2 * CLCNN_OP_MAX_PARAM];
};

static int parse_shapes(const char *text, struct clcnn_shape *s)
{
	int n = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", text);
	for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		s[n] = (struct clcnn_shape){0, {0}};
		if (strcmp(tok, "scalar") != 0)
			for (char *sv = NULL, *d = strtok_r(tok, "x", &sv); d; d = strtok_r(NULL, "x", &sv))
				s[n].d[s[n].ndim++] = atoi(d);
		n++;
	}
	return n;
}

static double *dalloc(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof(double));
	ck_assert(p != NULL);
	return p;
}

static void default_param_fill(const struct clcnn_param_spec *p, double *x, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++) {
		switch (p->kind == CLCNN_PARAM_BUFFER ? p->init : CLCNN_INIT_DEFAULT_WEIGHT) {
		case CLCNN_INIT_ZEROS: x[i] = 0; break;
		case CLCNN_INIT_ONES: x[i] = 1; break;
		case CLCNN_INIT_CONST: x[i] = p->init_value; break;
		default: x[i] = clcnn_test_uniform(rng, -1, 1); break;
		}
	}
}

/* Everything one case needs on the host. */
struct harness {
	struct clcnn_op *op;
	struct clcnn_context *ctx;
	int train;
	uint32_t seed;
	double *in[CLCNN_OP_MAX_IN], *param[CLCNN_OP_MAX_PARAM], *gout;
	size_t in_n[CLCNN_OP_MAX_IN], param_n[CLCNN_OP_MAX_PARAM], out_n;
	cl_mem d_in[CLCNN_OP_MAX_IN], d_param[CLCNN_OP_MAX_PARAM], d_gparam[CLCNN_OP_MAX_PARAM];
	cl_mem d_gin[CLCNN_OP_MAX_IN], d_out, d_gout, d_state, d_scratch;
	const char *label;
};

static void upload(struct harness *h, cl_mem m, const double *x, size_t n)
{
	float *f = malloc((n ? n : 1) * sizeof(float));
	ck_assert(f != NULL);
	for (size_t i = 0; i < n; i++)
		f[i] = (float)x[i];
	ck_assert_msg(clcnn_buffer_write(h->ctx, m, 0, n * sizeof(float), f) == 0, "%s", clcnn_context_error(h->ctx));
	free(f);
}

static double *download(struct harness *h, cl_mem m, size_t n)
{
	float *f = malloc((n ? n : 1) * sizeof(float));
	double *d = dalloc(n);
	ck_assert(f != NULL);
	ck_assert_msg(clcnn_buffer_read(h->ctx, m, 0, n * sizeof(float), f) == 0, "%s", clcnn_context_error(h->ctx));
	for (size_t i = 0; i < n; i++)
		d[i] = f[i];
	free(f);
	return d;
}

static cl_mem dbuf(struct harness *h, size_t floats)
{
	cl_mem m;
	ck_assert_msg(clcnn_buffer_new(h->ctx, (floats ? floats : 1) * sizeof(float), &m) == 0, "%s",
		      clcnn_context_error(h->ctx));
	return m;
}

/* Reference forward on copies of the parameters; returns out and (optionally) updated params. */
static double *ref_forward(struct harness *h, double *const *in, double **params_after)
{
	const struct clcnn_op *op = h->op;
	struct clcnn_ref_io io = {.train = h->train, .seed = h->seed};
	double *out = dalloc(h->out_n);
	double *pc[CLCNN_OP_MAX_PARAM] = {0};
	for (int i = 0; i < op->nin; i++)
		io.in[i] = in[i];
	for (int j = 0; j < op->nparam; j++) {
		pc[j] = dalloc(h->param_n[j]);
		memcpy(pc[j], h->param[j], h->param_n[j] * sizeof(double));
		io.param[j] = pc[j];
	}
	io.out = out;
	op->cls->ref_forward(op, &io);
	for (int j = 0; j < op->nparam; j++) {
		if (params_after)
			params_after[j] = pc[j];
		else
			free(pc[j]);
	}
	return out;
}

static double loss_of(const double *out, const double *g, size_t n, double *abs_sum)
{
	double l = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		l += out[i] * g[i];
		s += fabs(out[i] * g[i]);
	}
	if (abs_sum)
		*abs_sum = s;
	return l;
}

static int dev_forward(struct harness *h)
{
	struct clcnn_dev_io io = {.train = h->train,
				  .seed = h->seed,
				  .out = h->d_out,
				  .state = h->d_state,
				  .scratch = h->d_scratch};
	for (int i = 0; i < h->op->nin; i++)
		io.in[i] = h->d_in[i];
	for (int j = 0; j < h->op->nparam; j++)
		io.param[j] = h->d_param[j];
	return h->op->cls->forward(h->op, &io);
}

static void compare(struct harness *h, const char *what, const double *dev, const double *ref, size_t n, double tol)
{
	double worst = 0;
	size_t wi = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs(dev[i] - ref[i]) / (1 + fabs(ref[i]));
		if (!(e <= worst)) {
			worst = e;
			wi = i;
		}
	}
	ck_assert_msg(worst <= tol, "%s: %s differs at %zu: device %.9g, reference %.9g (rel err %.3g > tol %.3g)",
		      h->label, what, wi, n ? dev[wi] : 0.0, n ? ref[wi] : 0.0, worst, tol);
}

static void run_case(const struct clcnn_op_class *cls, const struct clcnn_op_case *c, int train)
{
	struct clcnn_shape shapes[CLCNN_OP_MAX_IN];
	int nin = parse_shapes(c->inputs, shapes);
	char err[2048], label[512];
	snprintf(label, sizeof label, "%s(%s) inputs %s %s", cls->name, c->args, c->inputs, train ? "train" : "eval");
	struct harness H = {.train = train, .seed = 12345u, .label = label};
	struct harness *h = &H;
	ck_assert_msg(clcnn_op_new(cls->name, c->args, nin, shapes, &h->op, err, sizeof err) == 0, "%s: %s", label,
		      err);
	struct clcnn_op *op = h->op;
	h->ctx = test_context();
	ck_assert_msg(clcnn_op_prepare(op, h->ctx) == 0, "%s: prepare: %s", label, clcnn_context_error(h->ctx));
	double tol = c->tol > 0 ? c->tol : cls->tol > 0 ? cls->tol : 1e-5;
	uint64_t rng = 0x5eed ^ (uint64_t)strlen(label);

	h->out_n = clcnn_shape_count(&op->out);
	for (int i = 0; i < op->nin; i++) {
		h->in_n[i] = clcnn_shape_count(&op->in[i]);
		h->in[i] = dalloc(h->in_n[i]);
		if (cls->fill)
			cls->fill(op, i, -1, h->in[i], h->in_n[i], &rng);
		else
			for (size_t k = 0; k < h->in_n[i]; k++)
				h->in[i][k] = clcnn_test_uniform(&rng, -1, 1);
		h->d_in[i] = dbuf(h, h->in_n[i]);
		upload(h, h->d_in[i], h->in[i], h->in_n[i]);
		/* the device sees float inputs: make the reference see exactly the same values */
		for (size_t k = 0; k < h->in_n[i]; k++)
			h->in[i][k] = (float)h->in[i][k];
		h->d_gin[i] = (op->nograd_in >> i) & 1 ? NULL : dbuf(h, h->in_n[i]);
	}
	for (int j = 0; j < op->nparam; j++) {
		h->param_n[j] = clcnn_shape_count(&op->param[j].shape);
		h->param[j] = dalloc(h->param_n[j]);
		if (cls->fill)
			cls->fill(op, -1, j, h->param[j], h->param_n[j], &rng);
		else
			default_param_fill(&op->param[j], h->param[j], h->param_n[j], &rng);
		for (size_t k = 0; k < h->param_n[j]; k++)
			h->param[j][k] = (float)h->param[j][k];
		h->d_param[j] = dbuf(h, h->param_n[j]);
		upload(h, h->d_param[j], h->param[j], h->param_n[j]);
		h->d_gparam[j] = op->param[j].kind == CLCNN_PARAM_WEIGHT ? dbuf(h, h->param_n[j]) : NULL;
	}
	h->d_out = dbuf(h, h->out_n);
	h->d_gout = dbuf(h, h->out_n);
	h->d_state = dbuf(h, op->state_bytes / sizeof(float) + 1);
	h->d_scratch = dbuf(h, op->scratch_bytes / sizeof(float) + 1);

	/* forward: output and updated buffers */
	double *params_after[CLCNN_OP_MAX_PARAM] = {0};
	double *ref_out = ref_forward(h, h->in, params_after);
	ck_assert_msg(dev_forward(h) == 0, "%s: forward: %s", label, clcnn_context_error(h->ctx));
	double *dev_out = download(h, h->d_out, h->out_n);
	compare(h, "forward output", dev_out, ref_out, h->out_n, tol);
	for (int j = 0; j < op->nparam; j++) {
		double *d = download(h, h->d_param[j], h->param_n[j]);
		char what[64];
		snprintf(what, sizeof what, "%s after forward", op->param[j].name);
		compare(h, what, d, params_after[j], h->param_n[j], tol);
		free(d);
		free(params_after[j]);
		upload(h, h->d_param[j], h->param[j], h->param_n[j]); /* restore for backward */
	}
	if (!cls->ref_backward) {
		/* not differentiable: nothing more to check */
		goto done;
	}

	/* backward: every gradient against the reference */
	h->gout = dalloc(h->out_n);
	for (size_t k = 0; k < h->out_n; k++)
		h->gout[k] = (float)clcnn_test_uniform(&rng, -1, 1);
	upload(h, h->d_gout, h->gout, h->out_n);
	double *ref_gin[CLCNN_OP_MAX_IN] = {0}, *ref_gp[CLCNN_OP_MAX_PARAM] = {0};
	{
		struct clcnn_ref_io io = {.train = train, .seed = h->seed, .out = ref_out, .grad_out = h->gout};
		double *pc[CLCNN_OP_MAX_PARAM];
		for (int i = 0; i < op->nin; i++) {
			io.in[i] = h->in[i];
			if (h->d_gin[i])
				io.grad_in[i] = ref_gin[i] = dalloc(h->in_n[i]);
		}
		for (int j = 0; j < op->nparam; j++) {
			pc[j] = dalloc(h->param_n[j]);
			memcpy(pc[j], h->param[j], h->param_n[j] * sizeof(double));
			io.param[j] = pc[j];
			if (h->d_gparam[j])
				io.grad_param[j] = ref_gp[j] = dalloc(h->param_n[j]);
		}
		cls->ref_backward(op, &io);
		for (int j = 0; j < op->nparam; j++)
			free(pc[j]);
	}
	{
		/* the device backward runs after a fresh forward (state from forward is an input to it) */
		ck_assert_msg(dev_forward(h) == 0, "%s: forward: %s", label, clcnn_context_error(h->ctx));
		for (int j = 0; j < op->nparam; j++)
			upload(h, h->d_param[j], h->param[j], h->param_n[j]);
		struct clcnn_dev_io io = {.train = train,
					  .seed = h->seed,
					  .out = h->d_out,
					  .grad_out = h->d_gout,
					  .state = h->d_state,
					  .scratch = h->d_scratch};
		for (int i = 0; i < op->nin; i++) {
			io.in[i] = h->d_in[i];
			io.grad_in[i] = h->d_gin[i];
		}
		for (int j = 0; j < op->nparam; j++) {
			io.param[j] = h->d_param[j];
			io.grad_param[j] = h->d_gparam[j];
		}
		ck_assert_msg(cls->backward(op, &io) == 0, "%s: backward: %s", label, clcnn_context_error(h->ctx));
	}
	double *dev_gin[CLCNN_OP_MAX_IN] = {0}, *dev_gp[CLCNN_OP_MAX_PARAM] = {0};
	for (int i = 0; i < op->nin; i++)
		if (h->d_gin[i]) {
			char what[64];
			snprintf(what, sizeof what, "gradient of input %d", i);
			dev_gin[i] = download(h, h->d_gin[i], h->in_n[i]);
			compare(h, what, dev_gin[i], ref_gin[i], h->in_n[i], tol);
		}
	for (int j = 0; j < op->nparam; j++)
		if (h->d_gparam[j]) {
			char what[64];
			snprintf(what, sizeof what, "gradient of %s", op->param[j].name);
			dev_gp[j] = download(h, h->d_gparam[j], h->param_n[j]);
			compare(h, what, dev_gp[j], ref_gp[j], h->param_n[j], tol);
		}

	if (!(c->flags & CLCNN_CASE_NO_FD)) {
		/* finite differences over every differentiable tensor */
		double S;
		loss_of(ref_out, h->gout, h->out_n, &S);
		for (int t = 0; t < op->nin + op->nparam; t++) {
			int is_in = t < op->nin, j = t - op->nin;
			double *x = is_in ? h->in[t] : h->param[j];
			const double *an = is_in ? ref_gin[t] : ref_gp[j];
			const double *an_dev = is_in ? dev_gin[t] : dev_gp[j];
			size_t n = is_in ? h->in_n[t] : h->param_n[j];
			if (!an)
				continue;
			size_t step = n > FD_SAMPLES ? n / FD_SAMPLES : 1;
			int dev_done = 0;
			for (size_t k = (n > FD_SAMPLES ? (size_t)(rng % step) : 0); k < n; k += step) {
				double x0 = x[k], hh = 1e-6;
				x[k] = x0 + hh;
				double *op_ = ref_forward(h, h->in, NULL);
				double lp = loss_of(op_, h->gout, h->out_n, NULL);
				x[k] = x0 - hh;
				double *om = ref_forward(h, h->in, NULL);
				double lm = loss_of(om, h->gout, h->out_n, NULL);
				free(op_);
				free(om);
				double fd = (lp - lm) / (2 * hh);
				ck_assert_msg(
					fabs(fd - an[k]) <= 1e-6 * (1 + fabs(an[k])) + 1e-9 * S,
					"%s: reference gradient of %s%d[%zu]: analytic %.10g, finite difference %.10g",
					label, is_in ? "input " : "param ", is_in ? t : j, k, an[k], fd);
				if (dev_done < DEV_FD_SAMPLES && !cls->stochastic) {
					/* float finite difference on the device, same element */
					double hd = 1e-2, L[2], Lr[2], gsum = 0;
					for (size_t q = 0; q < h->out_n; q++)
						gsum += fabs(h->gout[q]) * (1 + fabs(ref_out[q]));
					for (int s = 0; s < 2; s++) {
						x[k] = x0 + (s ? -hd : hd);
						upload(h, is_in ? h->d_in[t] : h->d_param[j], x, n);
						for (int jj = 0; jj < op->nparam; jj++)
							upload(h, h->d_param[jj], h->param[jj], h->param_n[jj]);
						ck_assert(dev_forward(h) == 0);
						double *o = download(h, h->d_out, h->out_n);
						L[s] = loss_of(o, h->gout, h->out_n, NULL);
						free(o);
						double *r = ref_forward(h, h->in, NULL);
						Lr[s] = loss_of(r, h->gout, h->out_n, NULL);
						free(r);
					}
					x[k] = x0;
					upload(h, is_in ? h->d_in[t] : h->d_param[j], x, n);
					double fd_dev = (L[0] - L[1]) / (2 * hd), fd_ref = (Lr[0] - Lr[1]) / (2 * hd);
					double bound = fabs(fd_ref - an[k]) + 2 * tol * gsum / (2 * hd) +
						       tol * (1 + fabs(an[k])) + 1e-6;
					ck_assert_msg(fabs(fd_dev - an_dev[k]) <= bound,
						      "%s: device gradient of %s%d[%zu]: analytic %.7g, float finite "
						      "difference %.7g (bound %.3g)",
						      label, is_in ? "input " : "param ", is_in ? t : j, k, an_dev[k],
						      fd_dev, bound);
					dev_done++;
				}
				x[k] = x0;
			}
		}
	}
	for (int i = 0; i < op->nin; i++) {
		free(ref_gin[i]);
		free(dev_gin[i]);
	}
	for (int j = 0; j < op->nparam; j++) {
		free(ref_gp[j]);
		free(dev_gp[j]);
	}
	free(h->gout);
done:
	free(ref_out);
	free(dev_out);
	for (int i = 0; i < op->nin; i++) {
		free(h->in[i]);
		clcnn_buffer_free(h->d_in[i]);
		clcnn_buffer_free(h->d_gin[i]);
	}
	for (int j = 0; j < op->nparam; j++) {
		free(h->param[j]);
		clcnn_buffer_free(h->d_param[j]);
		clcnn_buffer_free(h->d_gparam[j]);
	}
	clcnn_buffer_free(h->d_out);
	clcnn_buffer_free(h->d_gout);
	clcnn_buffer_free(h->d_state);
	clcnn_buffer_free(h->d_scratch);
	clcnn_op_free(op);
	clcnn_context_close(h->ctx);
}

static int selected(const char *name)
{
	if (!nfilter)
		return 1;
	for (int i = 0; i < nfilter; i++)
		if (!strcmp(filter[i], name))
			return 1;
	return 0;
}

START_TEST(test_class)
{
	const struct clcnn_op_class *cls = clcnn_op_classes[_i];
	if (!selected(cls->name))
		return;
	const char *only = getenv("CLCNN_TEST_CASE");
	int ncases = 0;
	for (const struct clcnn_op_case *c = cls->cases; c && c->inputs; c++, ncases++) {
		if (only && !strstr(c->args, only))
			continue;
		if (!(c->flags & CLCNN_CASE_EVAL))
			run_case(cls, c, 1);
		if (!(c->flags & CLCNN_CASE_TRAIN))
			run_case(cls, c, 0);
	}
	ck_assert_msg(ncases > 0, "%s has no test cases", cls->name);
}
END_TEST

int main(int argc, char **argv)
{
	test_require_device();
	static const char *names[64];
	for (int i = 1; i < argc && nfilter < 64; i++)
		names[nfilter++] = argv[i];
	char *env = getenv("CLCNN_TEST_OPS") ? strdup(getenv("CLCNN_TEST_OPS")) : NULL;
	for (char *save = NULL, *t = env ? strtok_r(env, " ,", &save) : NULL; t && nfilter < 64;
	     t = strtok_r(NULL, " ,", &save))
		names[nfilter++] = t;
	filter = names;
	int n = 0;
	while (clcnn_op_classes[n])
		n++;
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("every op vs reference");
	/* per op class: conv2d's table (every algorithm forced, each case a set of kernel builds) took
	 * 810 s from a cold POCL cache beside test-conv on this 2-CPU machine, 1319 s under a heavier load */
	tcase_set_timeout(tc, 1800);
	tcase_add_loop_test(tc, test_class, 0, n);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
