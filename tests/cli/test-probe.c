/*
 * clcnn probe's measurements (tools/clcnn/probe*.c) on models whose answers are known, with weights
 * written by the test:
 *   - 1x1 convolutions and a global average pool: exactly invariant to circular shifts (consistency 1,
 *     every feature map's equivariance error ~0);
 *   - a model reading one fixed pixel (a 1x1 average pool at stride 4, then a linear on one position):
 *     not invariant (consistency well below 1) and its subsampled map aliased under a 1-pixel shift,
 *     yet exactly equivariant to shifts by its jump;
 *   - a model whose output ignores its input: consistency 1 under every deformation;
 * plus the receptive fields of models/fmnist.net and models/antialiased.net, and the shift itself.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "probe.h"
#include "testutil.h"

enum {
	N = 40,    /* images */
	BATCH = 16 /* the last batch is short */
};

static const char GAP_NET[] = "image = input(shape=(2,8,8))\n"
			      "label = input()\n"
			      "c1 = conv2d(image, out_channels=4, kernel_size=1)\n"
			      "r1 = relu\n"
			      "c2 = conv2d(out_channels=3, kernel_size=1)\n"
			      "gap = global_avgpool2d\n"
			      "flat = flatten\n"
			      "fc = linear(out_features=3)\n"
			      "loss = cross_entropy(fc, label)\n";

static const char PIXEL_NET[] = "image = input(shape=(1,16,16))\n"
				"label = input()\n"
				"s = avgpool2d(image, kernel_size=1, stride=4)\n"
				"flat = flatten\n"
				"fc = linear(out_features=2)\n"
				"loss = cross_entropy(fc, label)\n";

struct fixture {
	struct clcnn_context *ctx;
	struct clcnn_graph *g;
	struct probe_net net;
	struct probe_data d;
	float *images, *labels;
	struct clcnn_normalize norm;
};

static void fixture_open(struct fixture *f, const char *text, int c, int h, int w, int classes)
{
	memset(f, 0, sizeof *f);
	f->ctx = test_context();
	ck_assert_msg(clcnn_graph_parse(f->ctx, text, "probe.net", &f->g) == 0, "%s", clcnn_context_error(f->ctx));
	ck_assert_msg(clcnn_graph_build(f->g, BATCH) == 0, "%s", clcnn_context_error(f->ctx));
	ck_assert_int_eq(clcnn_graph_init_params(f->g, 7, "default"), 0);
	size_t per = (size_t)c * h * w;
	f->images = malloc(N * per * sizeof(float));
	f->labels = malloc(N * sizeof(float));
	uint64_t rng = 12345;
	for (size_t i = 0; i < N * per; i++)
		f->images[i] = (float)(probe_rng(rng, (int)i, 1) >> 11) * (1.0f / 9007199254740992.0f);
	for (int i = 0; i < N; i++)
		f->labels[i] = (float)(probe_rng(rng, i, 2) % (uint64_t)classes);
	f->net = (struct probe_net){.ctx = f->ctx,
				    .g = f->g,
				    .input = "image",
				    .label = "label",
				    .c = c,
				    .h = h,
				    .w = w,
				    .batch = BATCH,
				    .classes = classes};
	f->d = (struct probe_data){.n = N, .images = f->images, .labels = f->labels};
}

static void fixture_close(struct fixture *f)
{
	free(f->images);
	free(f->labels);
	clcnn_graph_free(f->g);
	clcnn_context_close(f->ctx);
}

/* The pixel model: class 0 when pixel (4, 4) is above 0.5, else class 1 (normalised by mean 0.5). */
static void pixel_weights(struct fixture *f, int constant)
{
	float wt[2 * 16] = {0}, b[2] = {0, 0};
	if (constant) {
		b[0] = 1;
	} else {
		wt[0 * 16 + 5] = 1; /* position (1, 1) of the 4x4 map = pixel (4, 4) */
		wt[1 * 16 + 5] = -1;
	}
	ck_assert_int_eq(clcnn_graph_param_write(f->g, clcnn_graph_param_find(f->g, "fc.weight"), wt), 0);
	ck_assert_int_eq(clcnn_graph_param_write(f->g, clcnn_graph_param_find(f->g, "fc.bias"), b), 0);
	ck_assert_int_eq(clcnn_normalize_parse("0.5", "1", &f->norm, NULL, 0), 0);
	f->net.norm = &f->norm;
}

static const struct probe_node_eq *node(const struct probe_shift_result *r, const char *name)
{
	for (int j = 0; j < r->nnodes; j++)
		if (!strcmp(r->nodes[j].name, name))
			return &r->nodes[j];
	ck_abort_msg("no 4-D node %s", name);
	return NULL;
}

START_TEST(shift_image)
{
	float src[2 * 3] = {1, 2, 3, 4, 5, 6}, dst[6];
	probe_shift_image(src, dst, 1, 2, 3, 0, 1, PROBE_SHIFT_ZERO);
	const float zero[6] = {0, 1, 2, 0, 4, 5};
	ck_assert_mem_eq(dst, zero, sizeof zero);
	probe_shift_image(src, dst, 1, 2, 3, 1, -1, PROBE_SHIFT_CIRCULAR);
	const float circ[6] = {5, 6, 4, 2, 3, 1};
	ck_assert_mem_eq(dst, circ, sizeof circ);
}
END_TEST

START_TEST(gap_is_invariant)
{
	struct fixture f;
	fixture_open(&f, GAP_NET, 2, 8, 8, 3);
	struct probe_shift_options o = {.max_shift = 3, .mode = PROBE_SHIFT_CIRCULAR, .seed = 5};
	struct probe_shift_result r;
	char err[1024];
	ck_assert_msg(probe_shift(&f.net, &f.d, &o, &r, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(r.n, N);
	ck_assert_double_eq(r.consistency, 1.0);
	ck_assert_double_eq_tol(r.shifted_accuracy, r.accuracy, 1e-12);
	ck_assert_int_eq(r.nnodes, 4); /* c1, r1, c2, gap */
	for (int j = 0; j < r.nnodes; j++) {
		const struct probe_node_eq *e = &r.nodes[j];
		ck_assert_msg(e->geom.known && e->wrap, "%s: known %d wrap %d", e->name, e->geom.known, e->wrap);
		for (int k = 0; k < PROBE_EQ_KINDS; k++) {
			ck_assert_int_eq(e->compared[k], (long)e->h * e->w);
			ck_assert_msg(e->error[k] < 1e-5, "%s: error %g at shift %d", e->name, e->error[k],
				      e->shift[k][0]);
		}
	}
	ck_assert_int_eq(node(&r, "gap")->geom.global, 1);
	ck_assert_int_eq(node(&r, "c1")->shift[PROBE_EQ_JUMP][0], 3); /* jump 1: the largest multiple up to 3 */
	probe_shift_result_free(&r);

	/* zero fill: the 1x1 maps still match where content stays; the global pool has no such place */
	o.mode = PROBE_SHIFT_ZERO;
	ck_assert_msg(probe_shift(&f.net, &f.d, &o, &r, err, sizeof err) == 0, "%s", err);
	const struct probe_node_eq *c2 = node(&r, "c2"), *gap = node(&r, "gap");
	ck_assert_int_eq(c2->wrap, 0);
	ck_assert_int_eq(c2->compared[PROBE_EQ_PIXEL], 7 * 7);
	ck_assert_int_eq(c2->compared[PROBE_EQ_JUMP], 5 * 5);
	ck_assert_double_lt(c2->error[PROBE_EQ_PIXEL], 1e-6);
	ck_assert_double_lt(c2->error[PROBE_EQ_JUMP], 1e-6);
	ck_assert_int_eq(gap->compared[PROBE_EQ_PIXEL], 0);
	ck_assert(isnan(gap->error[PROBE_EQ_PIXEL]));
	probe_shift_result_free(&r);
	fixture_close(&f);
}
END_TEST

START_TEST(fixed_pixel_is_not)
{
	struct fixture f;
	fixture_open(&f, PIXEL_NET, 1, 16, 16, 2);
	pixel_weights(&f, 0);
	struct probe_shift_options o = {.max_shift = 3, .mode = PROBE_SHIFT_CIRCULAR, .seed = 5};
	struct probe_shift_result r;
	char err[1024];
	ck_assert_msg(probe_shift(&f.net, &f.d, &o, &r, err, sizeof err) == 0, "%s", err);
	/* the class is pixel (4, 4) > 0.5: the unshifted accuracy is the labels' agreement with it */
	long agree = 0;
	for (int i = 0; i < N; i++)
		agree += (f.images[i * 256 + 4 * 16 + 4] > 0.5f ? 0 : 1) == (int)f.labels[i];
	ck_assert_double_eq_tol(r.accuracy, (double)agree / N, 1e-12);
	/* two shifts read two random pixels: the same class about half the time */
	ck_assert_msg(r.consistency < 0.8 && r.consistency > 0.2, "consistency %g", r.consistency);
	const struct probe_node_eq *s = node(&r, "s");
	ck_assert_int_eq(s->geom.jump[0], 4);
	ck_assert_int_eq(s->geom.size[0], 1);
	ck_assert_int_eq(s->wrap, 1);
	/* a shift by the jump moves the map by one position, exactly; one pixel aliases */
	ck_assert_int_eq(s->shift[PROBE_EQ_JUMP][0], 4);
	ck_assert_double_lt(s->error[PROBE_EQ_JUMP], 1e-6);
	ck_assert_msg(s->error[PROBE_EQ_PIXEL] > 0.2, "1-pixel error %g", s->error[PROBE_EQ_PIXEL]);
	probe_shift_result_free(&r);

	o.mode = PROBE_SHIFT_ZERO;
	ck_assert_msg(probe_shift(&f.net, &f.d, &o, &r, err, sizeof err) == 0, "%s", err);
	s = node(&r, "s");
	/* content at rows 4..15 after a shift of 4: map rows 1..3 compared */
	ck_assert_int_eq(s->compared[PROBE_EQ_JUMP], 3 * 3);
	ck_assert_double_lt(s->error[PROBE_EQ_JUMP], 1e-6);
	ck_assert_int_eq(s->compared[PROBE_EQ_PIXEL], 3 * 3);
	ck_assert_msg(s->error[PROBE_EQ_PIXEL] > 0.2, "1-pixel error %g", s->error[PROBE_EQ_PIXEL]);
	ck_assert_double_lt(r.consistency, 0.8);
	probe_shift_result_free(&r);
	fixture_close(&f);
}
END_TEST

START_TEST(deform)
{
	struct fixture f;
	fixture_open(&f, PIXEL_NET, 1, 16, 16, 2);
	pixel_weights(&f, 1);
	struct probe_deform_options o = {.levels = 3, .max = {2.0, 30, 0.2}, .seed = 9};
	struct probe_deform_result r;
	char err[1024];
	/* an output that ignores the input: class 0 always, whatever the deformation */
	ck_assert_msg(probe_deform(&f.net, &f.d, &o, &r, err, sizeof err) == 0, "%s", err);
	long zeros = 0;
	for (int i = 0; i < N; i++)
		zeros += f.labels[i] == 0;
	ck_assert_double_eq_tol(r.accuracy, (double)zeros / N, 1e-12);
	for (int k = 0; k < PROBE_DEFORM_KINDS; k++)
		for (int l = 0; l < 3; l++) {
			ck_assert_double_eq(r.consistency[k][l], 1.0);
			ck_assert_double_eq_tol(r.acc[k][l], r.accuracy, 1e-12);
		}
	ck_assert_double_eq_tol(r.strength[PROBE_ROTATE][0], 10, 1e-12);
	ck_assert_double_eq_tol(r.strength[PROBE_ELASTIC][2], 2.0, 1e-12);

	/* one pixel read: deformations move it, more often the stronger they are */
	pixel_weights(&f, 0);
	struct probe_deform_result r2;
	ck_assert_msg(probe_deform(&f.net, &f.d, &o, &r, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(probe_deform(&f.net, &f.d, &o, &r2, err, sizeof err) == 0, "%s", err);
	ck_assert_mem_eq(&r, &r2, sizeof r); /* seeded: the same deformations */
	ck_assert_msg(r.consistency[PROBE_ROTATE][2] < 0.9, "rotate 30: %g", r.consistency[PROBE_ROTATE][2]);
	ck_assert_msg(r.consistency[PROBE_ELASTIC][2] < 0.9, "elastic 2: %g", r.consistency[PROBE_ELASTIC][2]);
	for (int k = 0; k < PROBE_DEFORM_KINDS; k++)
		ck_assert_msg(r.consistency[k][2] < 1.0, "%s: %g", probe_deform_name(k), r.consistency[k][2]);
	fixture_close(&f);
}
END_TEST

/* The receptive fields of the shipped Fashion-MNIST models (hand-computed from their netfiles). */
START_TEST(geometry)
{
	struct clcnn_context *ctx = test_context();
	struct {
		const char *model, *node;
		int jump, start, size;
	} want[] = {
		{"fmnist.net", "c1", 1, -1, 3},
		{"fmnist.net", "p1", 2, -1, 4},
		{"fmnist.net", "c2", 2, -3, 8},
		{"fmnist.net", "p2", 4, -3, 10},
		/* max 2 at stride 1 (size 4), blur 3 padded 1 at stride 2 */
		{"antialiased.net", "p1", 2, -2, 6},
		{"antialiased.net", "c2", 2, -4, 10},
		{"antialiased.net", "p2", 4, -6, 16},
		{"antialiased.net", "p3", 8, -14, 32},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/../../models/%s", getenv("CLCNN_DATA_DIR"), want[i].model);
		struct clcnn_graph *g;
		ck_assert_msg(clcnn_graph_load(ctx, path, &g) == 0, "%s", clcnn_context_error(ctx));
		ck_assert_msg(clcnn_graph_build(g, 1) == 0, "%s", clcnn_context_error(ctx));
		int n = clcnn_graph_node_count(g), found = 0;
		struct probe_geom *geo = calloc((size_t)n, sizeof *geo);
		probe_geometry(g, "image", geo);
		for (int j = 0; j < n; j++) {
			const char *name;
			clcnn_graph_node_info(g, j, &name, NULL, NULL, NULL);
			if (strcmp(name, want[i].node))
				continue;
			found = 1;
			ck_assert_msg(geo[j].known && geo[j].jump[0] == want[i].jump &&
					      geo[j].jump[1] == want[i].jump && geo[j].start[0] == want[i].start &&
					      geo[j].size[1] == want[i].size,
				      "%s %s: known %d jump %d start %d size %d", want[i].model, want[i].node,
				      geo[j].known, geo[j].jump[0], geo[j].start[0], geo[j].size[0]);
		}
		ck_assert_msg(found, "%s has no node %s", want[i].model, want[i].node);
		free(geo);
		clcnn_graph_free(g);
	}
	clcnn_context_close(ctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("probe");
	tcase_add_test(tc, shift_image);
	tcase_add_test(tc, gap_is_invariant);
	tcase_add_test(tc, fixed_pixel_is_not);
	tcase_add_test(tc, deform);
	tcase_add_test(tc, geometry);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
