/*
 * clcnn probe shift | deform: what a trained classifier is invariant to. The model and its data are
 * opened as clcnn eval opens them (model.c); the measurements are probe-shift.c and probe.c; this file
 * parses the options and prints the tables, the JSON and the picture.
 */
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "model.h"
#include "probe.h"

static const char *weights, *split, *mean, *std, *json, *plot, *shift_mode;
static struct cli_data_opts data;
static int batch, samples, seed, max_shift, levels;
static double max_elastic, max_rotate, max_scale;

/* clang-format off */
#define COMMON_FLAGS \
	{"weights", FLAG_STR, &weights, 0, 0, " CKPT", \
	 "checkpoint or weights file (safetensors); required unless the model is .onnx"}, \
	CLI_DATA_FLAGS(data), \
	{"split", FLAG_STR, &split, 0, 0, " NAME", "test (default; t10k is the same) or train"}, \
	{"samples", FLAG_INT, &samples, 1, 1 << 30, NULL, "measure the first N images of the split (default 1000)"}, \
	{"batch", FLAG_INT, &batch, 1, 65536, NULL, "batch size (default 100)"}, \
	{"seed", FLAG_INT, &seed, 0, 2147483647, NULL, "seed of the random shifts and deformations (default 1)"}, \
	{"mean", FLAG_STR, &mean, 0, 0, " X[,X...]", "normalisation mean per channel (default: the checkpoint's)"}, \
	{"std", FLAG_STR, &std, 0, 0, " X[,X...]", "normalisation std per channel (default: the checkpoint's)"}, \
	{"json", FLAG_STR, &json, 0, 0, " FILE", "also write the results as JSON"}
#define SHIFT_FLAGS \
	{"max-shift", FLAG_INT, &max_shift, 1, 64, " K", \
	 "shift: offsets of the consistency test uniform in [-K, K] per axis (default 4)"}, \
	{"shift-mode", FLAG_STR, &shift_mode, 0, 0, " MODE", \
	 "shift: zero (what enters is black, what leaves is lost; default) or circular (wraps around)"}
#define DEFORM_FLAGS \
	{"levels", FLAG_INT, &levels, 1, PROBE_MAX_LEVELS, NULL, "deform: strengths per kind, evenly up to the max (default 5)"}, \
	{"max-elastic", FLAG_DOUBLE, &max_elastic, 0, 100, NULL, \
	 "deform: strongest elastic warp, its amplitude in pixels (default 2.5)"}, \
	{"max-rotate", FLAG_DOUBLE, &max_rotate, 0, 180, NULL, \
	 "deform: strongest rotation, angles uniform in [-X, X] degrees (default 30)"}, \
	{"max-scale", FLAG_DOUBLE, &max_scale, 0, 0.99, NULL, \
	 "deform: strongest zoom, factors uniform in [1 - X, 1 + X] (default 0.25)"}, \
	{"plot", FLAG_STR, &plot, 0, 0, " PNG", "deform: draw accuracy and consistency against the strength"}
#define END_FLAGS {NULL, 0, NULL, 0, 0, NULL, NULL}
/* clang-format on */

static const struct cli_flag shift_flags[] = {COMMON_FLAGS, SHIFT_FLAGS, END_FLAGS};
static const struct cli_flag deform_flags[] = {COMMON_FLAGS, DEFORM_FLAGS, END_FLAGS};
static const struct cli_flag deform_only[] = {DEFORM_FLAGS, END_FLAGS};

static const char shift_usage[] =
	"       clcnn probe shift NETFILE --weights CKPT [--max-shift K] [--shift-mode zero|circular] [options]\n";
static const char deform_usage[] =
	"       clcnn probe deform NETFILE --weights CKPT [--levels N] [--plot PNG] [options]\n";
static const char shift_text[] =
	"shift: (a) consistency, the probability that two random shifts of an image (offsets uniform in\n"
	"[-K, K] per axis) get the same top-1 class (Zhang 2019, \"Making Convolutional Networks\n"
	"Shift-Invariant Again\"), and the accuracy under shift; (b) per feature map (every node with a\n"
	"4-D output), the equivariance error ||node(shift(x)) - shift(node(x))|| / ||shift(node(x))||, the\n"
	"shift at the node being the input shift divided by the node's jump (its stride on the input). Two\n"
	"input shifts (dy = dx): 1 pixel (a fraction of a position where the jump is > 1: the unshifted map\n"
	"is linearly interpolated) and the largest multiple of the jump up to K (exact). Compared: the\n"
	"positions whose receptive field lies on image content in both images, or with --shift-mode\n"
	"circular and a map that tiles the input, every position, wrapping around.\n";
static const char deform_text[] =
	"deform: accuracy and consistency (the same top-1 class as the undeformed image) under random\n"
	"elastic warps, rotations and zooms of increasing strength, one kind at a time, made by the\n"
	"transforms of clcnn train --augment.\n";

static void help_shift(FILE *f)
{
	fprintf(f, "usage: clcnn probe shift NETFILE --weights CKPT [options]\n\n%s\noptions:\n", shift_text);
	cli_print_flags(f, shift_flags);
}

static void help_deform(FILE *f)
{
	fprintf(f, "usage: clcnn probe deform NETFILE --weights CKPT [options]\n\n%s\noptions:\n", deform_text);
	cli_print_flags(f, deform_flags);
}

static void help_all(FILE *f)
{
	fprintf(f,
		"usage: clcnn probe shift|deform NETFILE --weights CKPT [options]\n%s%s\n"
		"Measure what a trained classifier is invariant to, on the first --samples images of a split.\n\n"
		"%s\n%s\noptions:\n",
		shift_usage, deform_usage, shift_text, deform_text);
	cli_print_flags(f, shift_flags);
	cli_print_flags(f, deform_only);
}

/* The model, its normalisation and the images, opened as clcnn eval opens them. */
struct probe_setup {
	struct cli_model m;
	struct cli_inputs in;
	struct clcnn_source *src;
	float *images, *labels;
	struct probe_net net;
	struct probe_data d;
};

static void setup_close(struct probe_setup *s)
{
	free(s->images);
	free(s->labels);
	clcnn_source_close(s->src);
	cli_inputs_free(&s->in);
	cli_model_close(&s->m);
}

static int setup_open(const char *cmd, const char *netfile, struct probe_setup *s)
{
	memset(s, 0, sizeof *s);
	if (strcmp(split, "test") && strcmp(split, "t10k") && strcmp(split, "train")) {
		cli_error(cmd, "bad value '%s' for --split: expected test (or t10k) or train", split);
		return CLI_USAGE;
	}
	if (cli_model_open(cmd, netfile, batch, &s->m))
		return CLI_ERROR;
	int rc = CLI_ERROR;
	if (cli_model_check_inputs(cmd, &s->m, netfile))
		goto fail;
	if (s->m.nd != 3 || s->m.classes < 1) {
		cli_error(cmd,
			  "%s: clcnn probe measures image classifiers (an image input and an output of class scores)",
			  netfile);
		goto fail;
	}
	if (weights && clcnn_graph_load_weights(s->m.g, weights)) {
		cli_error(cmd, "%s", clcnn_context_error(s->m.ctx));
		goto fail;
	}
	char omean[256], ostd[256];
	if (!weights)
		cli_onnx_normalize(netfile, &mean, &std, omean, ostd, sizeof omean);
	if ((rc = cli_inputs_read(cmd, &s->m, weights, mean, std, &s->in)) != CLI_OK)
		goto fail;
	if ((rc = cli_source_open(cmd, &s->m, &data, !strcmp(split, "train") ? "train" : "test", &s->src)) != CLI_OK)
		goto fail;
	rc = CLI_ERROR;
	int n = clcnn_source_info(s->src)->n;
	n = samples < n ? samples : n;
	size_t per = (size_t)s->m.c * (size_t)s->m.h * (size_t)s->m.w;
	s->images = cli_malloc((size_t)(n ? n : 1) * per * sizeof(float));
	s->labels = cli_malloc((size_t)(n ? n : 1) * sizeof(float));
	if (!s->images || !s->labels) {
		cli_error(cmd, "out of host memory for %d images", n);
		goto fail;
	}
	char err[4200];
	for (int i = 0; i < n; i++)
		if (clcnn_source_read(s->src, i, s->images + (size_t)i * per, &s->labels[i], err, sizeof err)) {
			cli_error(cmd, "%s", err);
			goto fail;
		}
	if (!n) {
		cli_error(cmd, "%s: the %s split holds no images", data.path, split);
		goto fail;
	}
	s->net = (struct probe_net){.ctx = s->m.ctx,
				    .g = s->m.g,
				    .input = s->m.image,
				    .label = s->m.label,
				    .c = s->m.c,
				    .h = s->m.h,
				    .w = s->m.w,
				    .batch = batch,
				    .classes = s->m.classes,
				    .norm = &s->in.norm};
	s->d = (struct probe_data){.n = n, .images = s->images, .labels = s->labels};
	return CLI_OK;
fail:
	setup_close(s);
	return rc;
}

static int run_shift(int argc, char **argv)
{
	const char *cmd = "probe shift";
	char *pos[1];
	int npos, pr = cli_parse(cmd, argc, argv, shift_flags, pos, 1, &npos, help_shift);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || (!weights && !cli_model_is_onnx(pos[0]))) {
		cli_error(cmd, "expected NETFILE and --weights CKPT (see clcnn probe shift --help)");
		return CLI_USAGE;
	}
	if (strcmp(shift_mode, "zero") && strcmp(shift_mode, "circular")) {
		cli_error(cmd, "bad value '%s' for --shift-mode: expected zero or circular", shift_mode);
		return CLI_USAGE;
	}
	struct probe_setup s;
	int rc = setup_open(cmd, pos[0], &s);
	if (rc)
		return rc;
	int circular = !strcmp(shift_mode, "circular");
	struct probe_shift_options o = {.max_shift = max_shift,
					.mode = circular ? PROBE_SHIFT_CIRCULAR : PROBE_SHIFT_ZERO,
					.seed = (uint64_t)seed};
	struct probe_shift_result r;
	char err[4200];
	if (probe_shift(&s.net, &s.d, &o, &r, err, sizeof err)) {
		cli_error(cmd, "%s", err);
		setup_close(&s);
		return CLI_ERROR;
	}
	struct probe_about about = {split, data.path, seed};
	probe_print_shift(stdout, &about, &o, &r);
	rc = CLI_OK;
	if (json && probe_json_shift(json, &about, &o, &r, err, sizeof err)) {
		cli_error(cmd, "%s", err);
		rc = CLI_ERROR;
	}
	probe_shift_result_free(&r);
	setup_close(&s);
	return rc;
}

static int run_deform(int argc, char **argv)
{
	const char *cmd = "probe deform";
	char *pos[1];
	int npos, pr = cli_parse(cmd, argc, argv, deform_flags, pos, 1, &npos, help_deform);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || (!weights && !cli_model_is_onnx(pos[0]))) {
		cli_error(cmd, "expected NETFILE and --weights CKPT (see clcnn probe deform --help)");
		return CLI_USAGE;
	}
	struct probe_setup s;
	int rc = setup_open(cmd, pos[0], &s);
	if (rc)
		return rc;
	struct probe_deform_options o = {.levels = levels,
					 .max = {max_elastic, max_rotate, max_scale},
					 .seed = (uint64_t)seed};
	struct probe_deform_result r;
	char err[4200];
	if (probe_deform(&s.net, &s.d, &o, &r, err, sizeof err)) {
		cli_error(cmd, "%s", err);
		setup_close(&s);
		return CLI_ERROR;
	}
	struct probe_about about = {split, data.path, seed};
	probe_print_deform(stdout, &about, &r);
	rc = CLI_OK;
	if ((json && probe_json_deform(json, &about, &r, err, sizeof err)) ||
	    (plot && probe_plot_deform(plot, pos[0], &r, err, sizeof err))) {
		cli_error(cmd, "%s", err);
		rc = CLI_ERROR;
	}
	setup_close(&s);
	return rc;
}

static const char *const subcommands[] = {"shift", "deform", NULL};

static const char *sub_name(const void *table, int i)
{
	return ((const char *const *)table)[i];
}

int cmd_probe(int argc, char **argv)
{
	weights = mean = std = json = plot = NULL;
	split = "test";
	shift_mode = "zero";
	cli_data_defaults(&data);
	batch = 100;
	samples = 1000;
	seed = 1;
	max_shift = 4;
	levels = 5;
	max_elastic = 2.5;
	max_rotate = 30;
	max_scale = 0.25;
	if (argc < 2) {
		cli_error("probe", "expected shift or deform (see clcnn probe --help)");
		return CLI_USAGE;
	}
	if (cli_is_help(argv[1])) {
		help_all(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "shift"))
		return run_shift(argc - 1, argv + 1);
	if (!strcmp(argv[1], "deform"))
		return run_deform(argc - 1, argv + 1);
	const char *s = cli_suggest(argv[1], strlen(argv[1]), sub_name, subcommands);
	if (s)
		cli_error("probe", "unknown measurement '%s'; did you mean '%s'?", argv[1], s);
	else
		cli_error("probe", "unknown measurement '%s': expected shift or deform", argv[1]);
	return CLI_USAGE;
}
