/*
 * Loss family edge cases: PyTorch's choices at the kinks (checked on the reference and on the
 * device with values from PyTorch 1.13), the NaN of a mean over nothing, bad labels (refused by
 * clcnn_graph_set_input with a message naming the sample; NaN, never an out-of-bounds read, when
 * they reach a kernel another way), setup's messages for invalid configurations, shapes and
 * reductions, and large inputs through the chunked device reduction (bit-for-bit deterministic).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "ops/op.h"
#include "testutil.h"

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

/* Reference and device results of one forward + backward. */
struct res {
	size_t out_n, in_n[3];
	double *ref_out, *dev_out, *ref_g[3], *dev_g[3]; /* grads NULL where the input has none */
};

static cl_mem upload(struct clcnn_context *ctx, const double *x, size_t n)
{
	cl_mem m;
	float *f = malloc((n ? n : 1) * sizeof *f);
	ck_assert(f != NULL);
	for (size_t i = 0; i < n; i++)
		f[i] = (float)x[i];
	ck_assert_msg(clcnn_buffer_new(ctx, (n ? n : 1) * sizeof *f, &m) == 0, "%s", clcnn_context_error(ctx));
	ck_assert(clcnn_buffer_write(ctx, m, 0, n * sizeof *f, f) == 0);
	free(f);
	return m;
}

static double *download(struct clcnn_context *ctx, cl_mem m, size_t n)
{
	float *f = malloc((n ? n : 1) * sizeof *f);
	double *d = calloc(n ? n : 1, sizeof *d);
	ck_assert(f && d);
	ck_assert_msg(clcnn_buffer_read(ctx, m, 0, n * sizeof *f, f) == 0, "%s", clcnn_context_error(ctx));
	for (size_t i = 0; i < n; i++)
		d[i] = f[i];
	free(f);
	return d;
}

/* Inputs are rounded to float first, so reference and device see the same values. */
static void run(struct clcnn_context *ctx, const char *type, const char *args, const char *shapes, double **in,
		const double *gout, struct res *r)
{
	struct clcnn_shape sh[3];
	int nin = parse_shapes(shapes, sh);
	struct clcnn_op *op;
	char err[512];
	ck_assert_msg(clcnn_op_new(type, args, nin, sh, &op, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s", clcnn_context_error(ctx));
	memset(r, 0, sizeof *r);
	r->out_n = clcnn_shape_count(&op->out);
	struct clcnn_ref_io rio = {.train = 1, .grad_out = gout};
	struct clcnn_dev_io dio = {.train = 1};
	r->ref_out = calloc(r->out_n, sizeof(double));
	rio.out = r->ref_out;
	for (int i = 0; i < nin; i++) {
		r->in_n[i] = clcnn_shape_count(&sh[i]);
		for (size_t k = 0; k < r->in_n[i]; k++)
			in[i][k] = (float)in[i][k];
		rio.in[i] = in[i];
		dio.in[i] = upload(ctx, in[i], r->in_n[i]);
		if (!((op->nograd_in >> i) & 1)) {
			rio.grad_in[i] = r->ref_g[i] = calloc(r->in_n[i], sizeof(double));
			ck_assert(clcnn_buffer_new(ctx, r->in_n[i] * sizeof(float), &dio.grad_in[i]) == 0);
		}
	}
	op->cls->ref_forward(op, &rio);
	op->cls->ref_backward(op, &rio);
	ck_assert(clcnn_buffer_new(ctx, r->out_n * sizeof(float), &dio.out) == 0);
	dio.grad_out = upload(ctx, gout, r->out_n);
	ck_assert(clcnn_buffer_new(ctx, op->state_bytes + 4, &dio.state) == 0);
	ck_assert(clcnn_buffer_new(ctx, op->scratch_bytes + 4, &dio.scratch) == 0);
	ck_assert_msg(op->cls->forward(op, &dio) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(op->cls->backward(op, &dio) == 0, "%s", clcnn_context_error(ctx));
	r->dev_out = download(ctx, dio.out, r->out_n);
	for (int i = 0; i < nin; i++) {
		if (dio.grad_in[i])
			r->dev_g[i] = download(ctx, dio.grad_in[i], r->in_n[i]);
		clcnn_buffer_free(dio.in[i]);
		clcnn_buffer_free(dio.grad_in[i]);
	}
	clcnn_buffer_free(dio.out);
	clcnn_buffer_free(dio.grad_out);
	clcnn_buffer_free(dio.state);
	clcnn_buffer_free(dio.scratch);
	clcnn_op_free(op);
}

static void res_free(struct res *r)
{
	free(r->ref_out);
	free(r->dev_out);
	for (int i = 0; i < 3; i++) {
		free(r->ref_g[i]);
		free(r->dev_g[i]);
	}
}

/* got[i] == want[i] within 1e-6 relative (NaN only equal to NaN), for the reference and the device. */
static void expect(const char *what, const double *ref, const double *dev, const double *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const double got[2] = {ref[i], dev[i]};
		for (int d = 0; d < 2; d++) {
			int ok = isnan(want[i]) ? isnan(got[d]) : fabs(got[d] - want[i]) <= 1e-6 * (1 + fabs(want[i]));
			ck_assert_msg(ok, "%s[%zu] on the %s: got %.9g, want %.9g", what, i, d ? "device" : "reference",
				      got[d], want[i]);
		}
	}
}

START_TEST(l1_zero_gradient_at_equality)
{
	struct clcnn_context *ctx = test_context();
	double x[] = {1, 2, -0.5}, y[] = {1, 1, -0.5}, g[] = {1}, *in[] = {x, y};
	struct res r;
	run(ctx, "l1_loss", "reduction=sum", "3;3", in, g, &r);
	expect("l1 out", r.ref_out, r.dev_out, (double[]){1}, 1);
	expect("l1 dx", r.ref_g[0], r.dev_g[0], (double[]){0, 1, 0}, 3);
	expect("l1 dy", r.ref_g[1], r.dev_g[1], (double[]){0, -1, 0}, 3);
	res_free(&r);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(smooth_l1_kinks)
{
	struct clcnn_context *ctx = test_context();
	double x[] = {1, 2, 0.5, -1}, y[] = {1, 1, 1, 0}, g[] = {1}, *in[] = {x, y};
	struct res r;
	/* beta = 0: |d| values, but PyTorch's gradient at d = 0 is -1 for input AND target */
	run(ctx, "smooth_l1_loss", "beta=0, reduction=sum", "4;4", in, g, &r);
	expect("beta0 out", r.ref_out, r.dev_out, (double[]){2.5}, 1);
	expect("beta0 dx", r.ref_g[0], r.dev_g[0], (double[]){-1, 1, -1, -1}, 4);
	expect("beta0 dy", r.ref_g[1], r.dev_g[1], (double[]){-1, -1, 1, 1}, 4);
	res_free(&r);
	/* beta = 1 at |d| = beta: both sides agree (0.5), gradient +-1 */
	run(ctx, "smooth_l1_loss", "beta=1, reduction=sum", "4;4", in, g, &r);
	expect("beta1 out", r.ref_out, r.dev_out, (double[]){0 + 0.5 + 0.125 + 0.5}, 1);
	expect("beta1 dx", r.ref_g[0], r.dev_g[0], (double[]){0, 1, -0.5, -1}, 4);
	res_free(&r);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(margin_ranking_hinge_passes_gradient)
{
	struct clcnn_context *ctx = test_context();
	/* -y (x1 - x2) + margin: element 0 exactly 0 (clamp_min passes the gradient), element 1 < 0 */
	double x1[] = {0, 2}, x2[] = {0.25, 0}, yy[] = {-1, 1}, g[] = {1, 1}, *in[] = {x1, x2, yy};
	struct res r;
	run(ctx, "margin_ranking_loss", "margin=0.25, reduction=none", "2;2;2", in, g, &r);
	expect("out", r.ref_out, r.dev_out, (double[]){0, 0}, 2);
	expect("dx1", r.ref_g[0], r.dev_g[0], (double[]){1, 0}, 2);
	expect("dx2", r.ref_g[1], r.dev_g[1], (double[]){-1, 0}, 2);
	/* PyTorch differentiates y too (it may be learned): -(x1 - x2) where the hinge is on */
	expect("dy", r.ref_g[2], r.dev_g[2], (double[]){0.25, 0}, 2);
	res_free(&r);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(triplet_kinks)
{
	struct clcnn_context *ctx = test_context();
	/* row 0: swap tie d(a,n) == d(p,n) == 1 splits in half; row 1: hinge exactly 0 passes (PyTorch values) */
	double a[] = {1, 0, 0, 0}, p[] = {-1, 0, 1, 0}, n[] = {0, 0, 0, 1.5}, g[] = {0.75}, *in[] = {a, p, n};
	struct res r;
	run(ctx, "triplet_margin_loss", "margin=0.5, eps=0, swap=true, reduction=sum", "2x2;2x2;2x2", in, g, &r);
	expect("out", r.ref_out, r.dev_out, (double[]){1.5}, 1);
	expect("da", r.ref_g[0], r.dev_g[0], (double[]){0.375, 0, -0.75, 0.75}, 4);
	expect("dp", r.ref_g[1], r.dev_g[1], (double[]){-0.375, 0, 0.75, 0}, 4);
	expect("dn", r.ref_g[2], r.dev_g[2], (double[]){0, 0, 0, -0.75}, 4);
	res_free(&r);
	/* eps goes into the difference: identical vectors are eps * sqrt(D) apart, the hinge is 0 */
	double z1[] = {0, 0, 0}, z2[] = {0, 0, 0}, z3[] = {0, 0, 0}, g1[] = {1}, *in2[] = {z1, z2, z3};
	run(ctx, "triplet_margin_loss", "margin=0", "1x3;1x3;1x3", in2, g1, &r);
	double s = 1 / sqrt(3.0);
	expect("zero out", r.ref_out, r.dev_out, (double[]){0}, 1);
	expect("zero da", r.ref_g[0], r.dev_g[0], (double[]){0, 0, 0}, 3);
	expect("zero dp", r.ref_g[1], r.dev_g[1], (double[]){-s, -s, -s}, 3);
	expect("zero dn", r.ref_g[2], r.dev_g[2], (double[]){s, s, s}, 3);
	res_free(&r);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(bce_clamps)
{
	struct clcnn_context *ctx = test_context();
	double x[] = {0, 1, 0, 1}, y[] = {1, 0, 0, 1}, g[] = {1, 1, 1, 1}, *in[] = {x, y};
	struct res r;
	run(ctx, "bce_loss", "reduction=none", "4;4", in, g, &r);
	expect("out", r.ref_out, r.dev_out, (double[]){100, 100, 0, 0}, 4);
	expect("dx", r.ref_g[0], r.dev_g[0], (double[]){-1e12, 1e12, 0, 0}, 4);
	res_free(&r);
	/* logits of +-100 must not overflow: softplus(100) = 100 */
	double l[] = {-100, 100, 100, -100}, t[] = {1, 0, 1, 0}, *in2[] = {l, t};
	run(ctx, "bce_with_logits_loss", "pos_weight=(2), reduction=none", "4;4", in2, g, &r);
	expect("logits out", r.ref_out, r.dev_out, (double[]){200, 100, 0, 0}, 4);
	expect("logits dx", r.ref_g[0], r.dev_g[0], (double[]){-2, 1, 0, 0}, 4);
	res_free(&r);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(everything_ignored_is_nan)
{
	struct clcnn_context *ctx = test_context();
	double x[6] = {0.1, -0.2, 0.3, 0.5, 1, -1}, t[] = {-100, -100}, g[] = {1}, zero[6] = {0}, *in[] = {x, t};
	const char *args[] = {"", "weight=(1, 2, 3), label_smoothing=0.1", "reduction=sum"};
	const char *types[] = {"nll_loss", "cross_entropy", "cross_entropy"};
	for (int i = 0; i < 3; i++) {
		struct res r;
		run(ctx, types[i], args[i], "2x3;2", in, g, &r);
		/* PyTorch 1.13: mean over no targets is 0/0 = NaN, sum is 0; gradients are 0 */
		expect(types[i], r.ref_out, r.dev_out, (double[]){i == 2 ? 0 : NAN}, 1);
		expect("grad", r.ref_g[0], r.dev_g[0], zero, 6);
		res_free(&r);
	}
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(bad_targets_give_nan)
{
	struct clcnn_context *ctx = test_context();
	/* PyTorch raises "Target 3 is out of bounds"; a kernel cannot, so the sample's loss is NaN (labels
	 * from a graph input are refused before: see set_input_refuses_bad_labels) */
	double x[6] = {0.1, -0.2, 0.3, 0.5, 1, -1}, t[] = {3, 1}, g[] = {1, 1}, *in[] = {x, t};
	struct res r;
	run(ctx, "cross_entropy", "reduction=none", "2x3;2", in, g, &r);
	ck_assert(isnan(r.ref_out[0]) && isnan(r.dev_out[0]));
	ck_assert(!isnan(r.ref_out[1]) && !isnan(r.dev_out[1]));
	ck_assert(isnan(r.ref_g[0][0]) && isnan(r.dev_g[0][0]));
	res_free(&r);
	t[0] = 0.5; /* not an integer */
	run(ctx, "nll_loss", "reduction=sum", "2x3;2", in, g, &r);
	ck_assert(isnan(r.ref_out[0]) && isnan(r.dev_out[0]));
	res_free(&r);
	/* far outside the classes (an index computed from them would read far out of bounds): NaN */
	const double far[] = {1e9, -1e9, INFINITY, -3};
	for (int i = 0; i < 4; i++) {
		t[0] = far[i];
		run(ctx, "cross_entropy", "reduction=none", "2x3;2", in, g, &r);
		ck_assert_msg(isnan(r.ref_out[0]) && isnan(r.dev_out[0]), "label %g", far[i]);
		ck_assert(!isnan(r.dev_out[1]) && isnan(r.dev_g[0][0]) && !isnan(r.dev_g[0][3]));
		res_free(&r);
	}
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(pair_losses)
{
	struct clcnn_context *ctx = test_context();
	/* contrastive, eps 0: row 0 similar at d = 5 -> 12.5; row 1 dissimilar at d = 0.5 < margin 2 ->
	 * 1.5^2 / 2; row 2 dissimilar at d = 0: loss margin^2 / 2 and no gradient (norm backward) */
	double a[] = {3, 0, 0.5, 0, 1, 1}, b[] = {0, 4, 0, 0, 1, 1}, y[] = {1, 0, 0}, g[] = {1, 1, 1};
	double *in[] = {a, b, y};
	struct res r;
	run(ctx, "contrastive_loss", "margin=2, eps=0, reduction=none", "3x2;3x2;3", in, g, &r);
	expect("contrastive out", r.ref_out, r.dev_out, (double[]){12.5, 1.125, 2}, 3);
	/* dL/dd = y d - (1 - y) max(0, m - d); dd/dx1 = (x1 - x2) / d */
	expect("contrastive dx1", r.ref_g[0], r.dev_g[0], (double[]){3, -4, -1.5, 0, 0, 0}, 6);
	expect("contrastive dx2", r.ref_g[1], r.dev_g[1], (double[]){-3, 4, 1.5, 0, 0, 0}, 6);
	ck_assert(r.ref_g[2] == NULL && r.dev_g[2] == NULL); /* y is a label */
	res_free(&r);
	/* cosine: y = 1 -> 1 - cos; y = -1 -> max(0, cos - margin); y = 0.5 and 0 -> 0 (PyTorch's where) */
	double u[] = {1, 0, 1, 0, 1, 1, 2, 0}, v[] = {1, 1, 1, 1, 3, 3, 1, 0}, t[] = {1, -1, 0.5, 0};
	double g4[] = {1, 1, 1, 1}, *in2[] = {u, v, t}, c = 1 / sqrt(2.0);
	run(ctx, "cosine_embedding_loss", "margin=0.5, reduction=none", "4x2;4x2;4", in2, g4, &r);
	expect("cosine out", r.ref_out, r.dev_out, (double[]){1 - c, c - 0.5, 0, 0}, 4);
	/* row 0: -(v/den - cos u/m1) = -(1/sqrt2 (1,1) - 1/sqrt2 (1,0)); row 1: the opposite */
	expect("cosine dx1", r.ref_g[0], r.dev_g[0], (double[]){0, -c, 0, c, 0, 0, 0, 0}, 8);
	res_free(&r);
	run(ctx, "cosine_embedding_loss", "margin=0.5", "4x2;4x2;4", in2, g, &r);
	expect("cosine mean over all rows", r.ref_out, r.dev_out, (double[]){(1 - c + c - 0.5) / 4}, 1);
	res_free(&r);
	clcnn_context_close(ctx);
}
END_TEST

/* A graph whose input 'label' feeds a loss directly: bad labels are refused by set_input, naming the
 * input, the sample, the value and the node; nothing is copied; good labels still train. */
static struct clcnn_graph *label_graph(struct clcnn_context *ctx, const char *text, int batch)
{
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_parse(ctx, text, "labels.net", &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s", clcnn_context_error(ctx));
	return g;
}

static void expect_refused(struct clcnn_graph *g, struct clcnn_context *ctx, const float *labels, const char *msg)
{
	ck_assert_int_eq(clcnn_graph_set_input(g, "label", labels), CLCNN_ERR_INVALID);
	ck_assert_msg(strcmp(clcnn_context_error(ctx), msg) == 0, "\n got  '%s'\n want '%s'", clcnn_context_error(ctx),
		      msg);
}

START_TEST(set_input_refuses_bad_labels)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = label_graph(ctx,
					    "x = input(shape=(10))\nlabel = input()\n"
					    "loss = cross_entropy(x, label)\n",
					    20);
	float x[200], lab[20];
	for (int i = 0; i < 200; i++)
		x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
	for (int i = 0; i < 20; i++)
		lab[i] = (float)(i % 10);
	lab[3] = -100; /* ignore_index is a label too */
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", x), 0);
	ck_assert_msg(clcnn_graph_set_input(g, "label", lab) == 0, "%s", clcnn_context_error(ctx));
	float good, again;
	ck_assert_msg(clcnn_graph_forward(g, 1, 1) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_loss(g, &good), 0);
	ck_assert(isfinite(good) && good > 0);
	lab[17] = 12;
	expect_refused(
		g, ctx, lab,
		"input 'label': sample 17 has class 12, but node 'loss' (cross_entropy) has 10 classes (0..9, or "
		"ignore_index -100)");
	lab[17] = 10;
	expect_refused(
		g, ctx, lab,
		"input 'label': sample 17 has class 10, but node 'loss' (cross_entropy) has 10 classes (0..9, or "
		"ignore_index -100)");
	lab[17] = 7;
	lab[0] = -1;
	expect_refused(g, ctx, lab,
		       "input 'label': sample 0 has class -1, but node 'loss' (cross_entropy) has 10 classes (0..9, or "
		       "ignore_index -100)");
	lab[0] = 2.5f;
	expect_refused(g, ctx, lab,
		       "input 'label': sample 0 has label 2.5, which is not a class index: node 'loss' (cross_entropy) "
		       "takes integers 0..9 (or ignore_index -100)");
	lab[0] = NAN;
	expect_refused(g, ctx, lab,
		       "input 'label': sample 0 has label nan, which is not a class index: node 'loss' "
		       "(cross_entropy) takes integers 0..9 (or ignore_index -100)");
	/* the refused labels never reached the device: the loss is still the good one */
	ck_assert(clcnn_graph_forward(g, 1, 1) == 0);
	ck_assert_int_eq(clcnn_graph_loss(g, &again), 0);
	ck_assert(again == good);
	/* an input that no loss reads as labels is not checked */
	x[5] = 1e9f;
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", x), 0);
	clcnn_graph_free(g);

	/* nll_loss with spatial targets and another ignore_index; -100 is then a bad label */
	g = label_graph(ctx,
			"x = input(shape=(3,2,2))\nlabel = input(shape=(2,2))\n"
			"nll = nll_loss(x, label, ignore_index=7)\n",
			2);
	float t[8] = {0, 1, 2, 7, 2, 1, 0, 0};
	ck_assert_msg(clcnn_graph_set_input(g, "label", t) == 0, "%s", clcnn_context_error(ctx));
	t[6] = 3;
	expect_refused(g, ctx, t,
		       "input 'label': sample 1 (position 2 of 4) has class 3, but node 'nll' (nll_loss) has 3 classes "
		       "(0..2, or ignore_index 7)");
	t[6] = -100;
	expect_refused(g, ctx, t,
		       "input 'label': sample 1 (position 2 of 4) has class -100, but node 'nll' (nll_loss) has 3 "
		       "classes (0..2, or ignore_index 7)");
	clcnn_graph_free(g);

	/* one input read by two losses: each checks it with its own class count */
	g = label_graph(ctx,
			"a = input(shape=(5))\nb = input(shape=(3))\nlabel = input()\n"
			"la = cross_entropy(a, label)\nlb = nll_loss(b, label)\ntotal = add(la, lb)\n",
			4);
	float l4[4] = {0, 1, 2, 2};
	ck_assert_msg(clcnn_graph_set_input(g, "label", l4) == 0, "%s", clcnn_context_error(ctx));
	l4[1] = 4;
	expect_refused(g, ctx, l4,
		       "input 'label': sample 1 has class 4, but node 'lb' (nll_loss) has 3 classes (0..2, or "
		       "ignore_index -100)");
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* Large inputs go through many chunks of the two-pass reduction: still close to the reference and
 * bit-for-bit repeatable. */
START_TEST(large_reductions)
{
	struct clcnn_context *ctx = test_context();
	uint64_t rng = 7;
	size_t n = 100003;
	double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), g[] = {1}, *in[] = {x, y};
	ck_assert(x && y);
	for (size_t i = 0; i < n; i++) {
		x[i] = clcnn_test_uniform(&rng, -1, 1);
		y[i] = clcnn_test_uniform(&rng, -1, 1);
	}
	struct res r, r2;
	run(ctx, "mse_loss", "", "100003;100003", in, g, &r);
	run(ctx, "mse_loss", "", "100003;100003", in, g, &r2);
	/* chains of <= 2 * 317 float additions of positive terms: <= 634 * 2^-24 ~ 4e-5 worst case */
	ck_assert_msg(fabs(r.dev_out[0] - r.ref_out[0]) <= 4e-5 * r.ref_out[0], "mse %.9g vs %.9g", r.dev_out[0],
		      r.ref_out[0]);
	ck_assert(r.dev_out[0] == r2.dev_out[0]);
	res_free(&r);
	res_free(&r2);
	/* batch 128 x 10 classes, the training shape */
	double logits[1280], t[128];
	for (int i = 0; i < 1280; i++)
		logits[i] = clcnn_test_uniform(&rng, -3, 3);
	for (int i = 0; i < 128; i++)
		t[i] = i % 10;
	double *in2[] = {logits, t};
	run(ctx, "cross_entropy", "label_smoothing=0.1", "128x10;128", in2, g, &r);
	ck_assert_msg(fabs(r.dev_out[0] - r.ref_out[0]) <= 1e-5 * (1 + r.ref_out[0]), "ce %.9g vs %.9g", r.dev_out[0],
		      r.ref_out[0]);
	for (int i = 0; i < 1280; i++)
		ck_assert(fabs(r.dev_g[0][i] - r.ref_g[0][i]) <= 1e-6);
	res_free(&r);
	free(x);
	free(y);
	clcnn_context_close(ctx);
}
END_TEST

/* ------------------------------------------------------------------ setup (no device) */

static void expect_invalid(const char *type, const char *args, const char *shapes, const char *msg)
{
	struct clcnn_shape sh[4];
	int nin = parse_shapes(shapes, sh);
	struct clcnn_op *op = NULL;
	char err[512] = "";
	ck_assert_msg(clcnn_op_new(type, args, nin, sh, &op, err, sizeof err) == CLCNN_ERR_INVALID,
		      "%s(%s) %s was accepted", type, args, shapes);
	ck_assert_msg(strcmp(err, msg) == 0, "%s(%s) %s:\n got  '%s'\n want '%s'", type, args, shapes, err, msg);
	ck_assert(op == NULL);
}

START_TEST(invalid_configurations)
{
	expect_invalid("mse_loss", "", "2x3;2x4", "mse_loss: input shapes 2x3 and 2x4 differ");
	expect_invalid("l1_loss", "", "2x3;3x2", "l1_loss: input shapes 2x3 and 3x2 differ");
	expect_invalid("bce_loss", "", "2x3;6", "bce_loss: input shapes 2x3 and 6 differ");
	expect_invalid("mse_loss", "", "2x3", "mse_loss takes 2 inputs, got 1");
	expect_invalid("mse_loss", "reduction=avg", "3;3",
		       "bad value 'avg' for reduction: expected one of none, mean, sum");
	expect_invalid("margin_ranking_loss", "", "4;4;5", "margin_ranking_loss: input shapes 4, 4 and 5 differ");
	expect_invalid("smooth_l1_loss", "beta=-1", "3;3", "smooth_l1_loss: beta must be >= 0, got -1");
	expect_invalid("bce_with_logits_loss", "pos_weight=(1, 2, 3)", "2x5;2x5",
		       "bce_with_logits_loss: pos_weight has 3 values, expected 1 or 5 (the last dim of input 2x5)");
	expect_invalid("nll_loss", "weight=(1, 2, 3)", "3x4;3", "nll_loss: weight has 3 values, input has C=4 classes");
	expect_invalid("nll_loss", "", "3x4x5x6;3x5",
		       "nll_loss: target shape 3x5 does not match input 3x4x5x6: expected 3x5x6");
	expect_invalid("cross_entropy", "", "3x4;2",
		       "cross_entropy: target shape 2 does not match input 3x4: expected 3");
	expect_invalid("cross_entropy", "", "3x4;3x4",
		       "cross_entropy: probability targets (target shape 3x4 = input shape) are not supported; give "
		       "class indices of shape 3");
	expect_invalid("nll_loss", "", "3x4;3x4", "nll_loss: target shape 3x4 does not match input 3x4: expected 3");
	expect_invalid("cross_entropy", "", "scalar;scalar",
		       "cross_entropy: input must be (N,C), (N,C,d1,...) or (C), got a scalar");
	expect_invalid("cross_entropy", "label_smoothing=1.5", "3x4;3",
		       "cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5");
	expect_invalid("cross_entropy", "label_smoothing=-0.1", "3x4;3",
		       "cross_entropy: label_smoothing must be between 0.0 and 1.0, got -0.1");
	expect_invalid("nll_loss", "label_smoothing=0.1", "3x4;3",
		       "unknown key 'label_smoothing' for nll_loss; known keys: weight ignore_index reduction");
	expect_invalid("triplet_margin_loss", "", "3x5;3x5;3x4",
		       "triplet_margin_loss: anchor, positive and negative shapes 3x5, 3x5 and 3x4 differ");
	expect_invalid("triplet_margin_loss", "", "2x3x4;2x3x4;2x3x4",
		       "triplet_margin_loss: expected (N,D) or (D) inputs, got 2x3x4");
	expect_invalid("triplet_margin_loss", "p=0", "3x5;3x5;3x5", "triplet_margin_loss: p must be > 0, got 0");
	expect_invalid("contrastive_loss", "", "3x5;3x4;3", "contrastive_loss: x1 and x2 shapes 3x5 and 3x4 differ");
	expect_invalid("contrastive_loss", "", "3x5;3x5;5",
		       "contrastive_loss: y has shape 5, expected 3 (one label per row of x1 3x5)");
	expect_invalid("contrastive_loss", "", "5;5;5",
		       "contrastive_loss: y has shape 5, expected scalar (one label per row of x1 5)");
	expect_invalid("contrastive_loss", "eps=-1", "3x5;3x5;3", "contrastive_loss: eps must be >= 0, got -1");
	expect_invalid("cosine_embedding_loss", "", "2x3x4;2x3x4;2",
		       "cosine_embedding_loss: expected (N,D) or (D) inputs, got 2x3x4");
	expect_invalid("cosine_embedding_loss", "", "3x5;3x5", "cosine_embedding_loss takes 3 inputs, got 2");
	expect_invalid("cosine_embedding_loss", "eps=0", "3x5;3x5;3",
		       "unknown key 'eps' for cosine_embedding_loss; known keys: margin reduction");
}
END_TEST

static struct clcnn_op *make(const char *type, const char *args, const char *shapes)
{
	struct clcnn_shape sh[4];
	int nin = parse_shapes(shapes, sh);
	struct clcnn_op *op;
	char err[512];
	ck_assert_msg(clcnn_op_new(type, args, nin, sh, &op, err, sizeof err) == 0, "%s", err);
	return op;
}

START_TEST(shapes_and_flags)
{
	char buf[64];
	struct clcnn_op *op = make("cross_entropy", "", "3x4x5x6;3x5x6");
	ck_assert_int_eq(op->out.ndim, 0); /* mean: a 0-dim scalar */
	ck_assert_uint_eq(op->nograd_in, 2u);
	ck_assert_uint_eq(op->state_bytes, sizeof(float)); /* total weight for the mean backward */
	clcnn_op_free(op);
	op = make("cross_entropy", "reduction=none", "3x4x5x6;3x5x6");
	ck_assert_str_eq(clcnn_shape_str(&op->out, buf, sizeof buf), "3x5x6");
	ck_assert_uint_eq(op->state_bytes, 0);
	clcnn_op_free(op);
	op = make("nll_loss", "reduction=none", "4;scalar");
	ck_assert_int_eq(op->out.ndim, 0);
	clcnn_op_free(op);
	op = make("mse_loss", "reduction=none", "2x3x5x7;2x3x5x7");
	ck_assert_str_eq(clcnn_shape_str(&op->out, buf, sizeof buf), "2x3x5x7");
	ck_assert_uint_eq(op->nograd_in, 0);
	clcnn_op_free(op);
	op = make("bce_loss", "reduction=sum", "2x3;2x3");
	ck_assert_int_eq(op->out.ndim, 0);
	ck_assert_uint_eq(op->nograd_in, 0); /* PyTorch 1.13 differentiates bce's target (-logit(x)) */
	clcnn_op_free(op);
	op = make("margin_ranking_loss", "", "5;5;5");
	ck_assert_uint_eq(op->nograd_in, 0); /* y has a gradient, as in PyTorch */
	clcnn_op_free(op);
	op = make("contrastive_loss", "reduction=none", "6x7;6x7;6");
	ck_assert_str_eq(clcnn_shape_str(&op->out, buf, sizeof buf), "6");
	ck_assert_uint_eq(op->nograd_in, 4u);
	clcnn_op_free(op);
	op = make("cosine_embedding_loss", "reduction=none", "7;7;scalar");
	ck_assert_int_eq(op->out.ndim, 0);
	ck_assert_uint_eq(op->nograd_in, 4u);
	clcnn_op_free(op);
	op = make("cosine_embedding_loss", "", "6x7;6x7;6");
	ck_assert_int_eq(op->out.ndim, 0);
	clcnn_op_free(op);
	op = make("triplet_margin_loss", "reduction=none", "6x7;6x7;6x7");
	ck_assert_str_eq(clcnn_shape_str(&op->out, buf, sizeof buf), "6");
	ck_assert_uint_eq(op->nograd_in, 0);
	clcnn_op_free(op);
	op = make("triplet_margin_loss", "reduction=none", "7;7;7");
	ck_assert_int_eq(op->out.ndim, 0);
	clcnn_op_free(op);
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("loss");
	TCase *tc = tcase_create("setup");
	tcase_add_test(tc, invalid_configurations);
	tcase_add_test(tc, shapes_and_flags);
	suite_add_tcase(s, tc);
	tc = tcase_create("device");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, l1_zero_gradient_at_equality);
	tcase_add_test(tc, smooth_l1_kinks);
	tcase_add_test(tc, margin_ranking_hinge_passes_gradient);
	tcase_add_test(tc, triplet_kinks);
	tcase_add_test(tc, bce_clamps);
	tcase_add_test(tc, everything_ignored_is_nan);
	tcase_add_test(tc, bad_targets_give_nan);
	tcase_add_test(tc, pair_losses);
	tcase_add_test(tc, set_input_refuses_bad_labels);
	tcase_add_test(tc, large_reductions);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
