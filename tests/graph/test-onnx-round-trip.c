/*
 * clcnn -> ONNX -> clcnn: a graph exported with clcnn_graph_export_onnx and loaded back from the
 * .onnx (clcnn_graph_load) computes the same output bit for bit in eval mode, for every shipped
 * model (the netfiles in models/) and for netfiles using every exportable layer, including the ones the
 * exporter writes as decompositions (blur pooling, divisor pooling, SiLU, GELU's tanh form,
 * softplus with beta, logsigmoid, softmin, batch statistics, a Reshape merging dims), which the
 * importer must read back as those layers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/onnx.h"
#include "graph/graph-private.h"
#include "testutil.h"

/* Fill every graph input of g with values from seed (class index 0 for 0-dim inputs). */
static void feed(struct clcnn_graph *g, int batch, uint64_t seed)
{
	for (int i = 0; i < clcnn_graph_input_count(g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(g, i, &name, &nd, dims);
		size_t c = (size_t)batch;
		for (int k = 0; k < nd; k++)
			c *= (size_t)dims[k];
		float *x = malloc(c * sizeof *x);
		uint64_t st = seed;
		for (size_t k = 0; k < c; k++) {
			st = st * 6364136223846793005ULL + 1442695040888963407ULL;
			x[k] = nd ? (float)((st >> 40) & 0xFFFF) / 32768.0f - 1 : 0;
		}
		ck_assert_int_eq(clcnn_graph_set_input(g, name, x), 0);
		free(x);
	}
}

static int output_count(const struct clcnn_graph *g)
{
	return (int)clcnn_shape_count(&g->values[g->ninputs + g->output].shape);
}

/* Running statistics away from their initial 0 / 1, so that the round trip carries them. */
static void perturb_buffers(struct clcnn_graph *g)
{
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info info;
		clcnn_graph_param_info(g, i, &info);
		if (info.trainable || info.int64)
			continue;
		float *v = malloc(info.count * sizeof *v);
		for (size_t k = 0; k < info.count; k++)
			v[k] = strstr(info.name, "var") ? 0.5f + 0.1f * (float)(k % 7) : 0.05f * (float)(k % 5) - 0.1f;
		ck_assert_int_eq(clcnn_graph_param_write(g, i, v), 0);
		free(v);
	}
}

/* Export net (random parameters, perturbed running statistics), load the .onnx back and assert the
 * two graphs compute the same output bit for bit on the same batch of 2, in eval mode. */
static void round_trip_one(struct clcnn_context *ctx, const char *net, const char *out)
{
	struct clcnn_graph *a, *b;
	ck_assert_msg(clcnn_graph_load(ctx, net, &a) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(a, 2) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(a, 3, "default"), 0);
	perturb_buffers(a);
	ck_assert_msg(clcnn_graph_export_onnx(a, out, NULL) == 0, "%s: %s", net, clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_load(ctx, out, &b) == 0, "%s: import: %s", net, clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(b, 2) == 0, "%s: import: %s", net, clcnn_context_error(ctx));
	feed(a, 2, 99);
	feed(b, 2, 99);
	ck_assert_int_eq(clcnn_graph_forward(a, 0, 1), 0);
	ck_assert_msg(clcnn_graph_forward(b, 0, 1) == 0, "%s", clcnn_context_error(ctx));
	const char *oa = clcnn_graph_output_name(a), *ob = clcnn_graph_output_name(b);
	int na = output_count(a), nb = output_count(b);
	ck_assert_msg(na == nb, "%s: output %s has %d values, imported %s %d", net, oa, na, ob, nb);
	float *ya = malloc((size_t)na * sizeof *ya), *yb = malloc((size_t)nb * sizeof *yb);
	ck_assert_int_eq(clcnn_graph_read(a, oa, ya), 0);
	ck_assert_int_eq(clcnn_graph_read(b, ob, yb), 0);
	for (int i = 0; i < na; i++)
		ck_assert_msg(memcmp(&ya[i], &yb[i], sizeof(float)) == 0, "%s: output[%d] %.9g, round trip %.9g", net,
			      i, ya[i], yb[i]);
	free(ya);
	free(yb);
	clcnn_graph_free(a);
	clcnn_graph_free(b);
}

/*
 * clcnn -> ONNX -> clcnn (clcnn_graph_load of the .onnx): every shipped model computes the same
 * output bit for bit in eval mode, since the import turns each exported operator, and each of the
 * exporter's decompositions (antialiased.net's maxblurpool2d / blurpool2d as MaxPool + Pad +
 * depthwise blur Conv), back into the layer it came from, with the same parameters.
 */
START_TEST(round_trip)
{
	DIR *d = opendir(MODELS_DIR);
	ck_assert_ptr_nonnull(d);
	char *dir = test_tmpdir();
	struct clcnn_context *ctx = test_context_fixed();
	struct dirent *de;
	int count = 0, antialiased = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".net"))
			continue;
		char net[512], out[512];
		snprintf(net, sizeof net, "%s/%s", MODELS_DIR, de->d_name);
		snprintf(out, sizeof out, "%s/%s.onnx", dir, de->d_name);
		round_trip_one(ctx, net, out);
		antialiased += !strcmp(de->d_name, "antialiased.net");
		count++;
	}
	closedir(d);
	ck_assert_int_ge(count, 8); /* every shipped model */
	ck_assert_int_eq(antialiased, 1);
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/*
 * The round trip of every exportable layer with its decomposition traps (tools/check-onnx-export.sh's
 * all-layers netfile): ceil-mode and divisor_override average pooling (Conv of ones times
 * reciprocal divisors), the three blur paddings, SiLU, GELU's tanh form, softplus with beta and
 * threshold (a Where), logsigmoid and softmin (Neg), dropout and noise (Identity in eval).
 */
static const char all_layers[] =
	"x = input(shape=(3,9,9))\n"
	"label = input()\n"
	"c1 = conv2d(x, out_channels=4, kernel_size=3, padding=(0,1,2,0), flip=true)\n"
	"bn = batchnorm2d(c1)\n"
	"r = relu(bn)\n"
	"mp = maxpool2d(r, kernel_size=2, stride=2, ceil_mode=true)\n"
	"mq = maxpool2d(r, kernel_size=2, stride=2, padding=1, ceil_mode=true)\n"
	"ap = avgpool2d(r, kernel_size=3, stride=2, padding=1, ceil_mode=true)\n"
	"apx = avgpool2d(r, kernel_size=2, ceil_mode=true, count_include_pad=false)\n"
	"apd = avgpool2d(r, kernel_size=2, divisor_override=3)\n"
	"bp = blurpool2d(r)\n"
	"mbp = maxblurpool2d(r, pad_type=replicate)\n"
	"bz = blurpool2d(r, filt_size=4, pad_type=zero)\n"
	"dil = conv2d(r, out_channels=4, kernel_size=2, dilation=2, groups=2, stride=(1,2), bias=false)\n"
	"mpd = maxpool2d(r, kernel_size=3, stride=2, padding=1, dilation=2)\n"
	"a1 = leaky_relu(mp, negative_slope=0.2)\n"
	"a2 = elu(a1, alpha=0.7)\n"
	"a3 = prelu(a2, num_parameters=4)\n"
	"a4 = gelu(a3)\n"
	"a5 = gelu(a4, approximate=tanh)\n"
	"a6 = silu(a5)\n"
	"a7 = hardtanh(a6, min_val=-0.3, max_val=0.8)\n"
	"a8 = softplus(a7)\n"
	"a9 = softplus(a8, beta=2, threshold=1)\n"
	"a10 = logsigmoid(a9)\n"
	"a11 = tanh(a10)\n"
	"a12 = sigmoid(a11)\n"
	"a13 = softmin(a12)\n"
	"a14 = logsoftmax(a13, dim=-1)\n"
	"a15 = softmax(a14, dim=2)\n"
	"a16 = dropout(a15)\n"
	"a17 = gaussian_noise(a16)\n"
	"a18 = add(a17, mp, a1)\n"
	"g1 = global_avgpool2d(a18)\n"
	"g2 = global_maxpool2d(ap)\n"
	"g3 = global_avgpool2d(apx)\n"
	"g4 = global_avgpool2d(apd)\n"
	"g5 = global_maxpool2d(bp)\n"
	"g6 = global_avgpool2d(mbp)\n"
	"g7 = global_avgpool2d(bz)\n"
	"g8 = global_maxpool2d(dil)\n"
	"g9 = global_avgpool2d(mpd)\n"
	"g10 = global_maxpool2d(mq)\n"
	"cat1 = concat(g1, g2, g3, g4, g5)\n"
	"cat = concat(cat1, g6, g7, g8, g9, g10)\n"
	"fl = flatten(cat)\n"
	"fc = linear(fl, out_features=8)\n"
	"b1 = batchnorm1d(fc)\n"
	"out = identity(b1)\n"
	"loss = cross_entropy(out, label)\n";

/* batch statistics in eval (ReduceMean ... Sqrt, Div), a Reshape merging two dims (flatten
 * start_dim=2), batchnorm1d on 3-D and 2-D input: tools/check-onnx-export.sh's batch-stats netfile */
static const char batch_stats[] = "x = input(shape=(3,6,5))\n"
				  "label = input()\n"
				  "bn = batchnorm2d(x, track_running_stats=false)\n"
				  "bn2 = batchnorm2d(bn, affine=false, momentum=0.3)\n"
				  "bs = batchnorm2d(bn2, affine=false, track_running_stats=false)\n"
				  "c = conv2d(bs, out_channels=4, kernel_size=3)\n"
				  "ap = avgpool2d(c, kernel_size=2, ceil_mode=true, padding=1)\n"
				  "fl = flatten(ap, start_dim=2)\n"
				  "b1 = batchnorm1d(fl)\n"
				  "f2 = flatten(b1)\n"
				  "b2 = batchnorm1d(f2, track_running_stats=false)\n"
				  "fc = linear(b2, out_features=5, bias=false)\n"
				  "sm = softmax(fc)\n"
				  "loss = nll_loss(sm, label)\n";

/* a model whose output is an Identity of its input */
static const char identity_only[] = "x = input(shape=(3,4,4))\nout = identity(x)\n";

START_TEST(round_trip_all_layers)
{
	static const char *const text[3] = {all_layers, batch_stats, identity_only};
	/* the decompositions came back as their layers, not as convolutions and arithmetic */
	static const char *const want[][3] = {
		{"0", "ap", "avgpool2d"},      {"0", "apd", "avgpool2d"},  {"0", "bp", "blurpool2d"},
		{"0", "mbp", "maxblurpool2d"}, {"0", "bz", "blurpool2d"},  {"0", "a5", "gelu"},
		{"0", "a6", "silu"},           {"0", "a9", "softplus"},    {"0", "a10", "logsigmoid"},
		{"0", "a13", "softmin"},       {"1", "bn", "batchnorm2d"}, {"1", "bs", "batchnorm2d"},
		{"1", "fl", "flatten"},        {"1", "b2", "batchnorm1d"}, {"2", "out", "identity"},
	};
	char *dir = test_tmpdir();
	struct clcnn_context *ctx = test_context_fixed();
	for (int t = 0; t < 3; t++) {
		char net[512], out[512];
		snprintf(net, sizeof net, "%s/net%d.net", dir, t);
		snprintf(out, sizeof out, "%s/net%d.onnx", dir, t);
		FILE *f = fopen(net, "w");
		ck_assert_ptr_nonnull(f);
		fputs(text[t], f);
		fclose(f);
		round_trip_one(ctx, net, out);
		struct clcnn_graph *g;
		ck_assert_msg(clcnn_graph_load(ctx, out, &g) == 0, "%s", clcnn_context_error(ctx));
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
			if (want[i][0][0] - '0' != t)
				continue;
			int found = 0;
			for (int k = 0; k < g->nnodes; k++)
				if (!strcmp(g->nodes[k].name, want[i][1])) {
					ck_assert_str_eq(g->nodes[k].cls->name, want[i][2]);
					found = 1;
				}
			ck_assert_msg(found, "net %d: no node %s", t, want[i][1]);
		}
		clcnn_graph_free(g);
	}
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("onnx-round-trip");
	TCase *tc = tcase_create("onnx-round-trip");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, round_trip_all_layers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
