/*
 * clcnn probe shift | deform: what a trained classifier is invariant to. The model and its data are
 * opened as clcnn eval opens them (model.c); the measurements are probe-shift.c and probe.c; this file
 * parses the options and prints the tables, the JSON and the picture.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "io/io.h"
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

/* A JSON number (null for NaN and infinities). */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

static int write_shift_json(const char *cmd, const struct probe_shift_result *r)
{
	FILE *f = fopen(json, "w");
	if (!f) {
		cli_error(cmd, "%s: cannot write", json);
		return CLI_ERROR;
	}
	fprintf(f, "{\"samples\": %d, \"max_shift\": %d, \"mode\": \"%s\", \"seed\": %d, \"accuracy\": ", r->n,
		max_shift, shift_mode, seed);
	json_num(f, r->accuracy);
	fputs(", \"shifted_accuracy\": ", f);
	json_num(f, r->shifted_accuracy);
	fputs(", \"consistency\": ", f);
	json_num(f, r->consistency);
	fputs(",\n \"nodes\": [", f);
	for (int j = 0; j < r->nnodes; j++) {
		const struct probe_node_eq *e = &r->nodes[j];
		fprintf(f, "%s\n  {\"node\": \"%s\", \"op\": \"%s\", \"shape\": [%d, %d, %d], \"known\": %s",
			j ? "," : "", e->name, e->op, e->c, e->h, e->w, e->geom.known ? "true" : "false");
		if (e->geom.known && !e->geom.global)
			fprintf(f, ", \"jump\": [%d, %d], \"rf\": [%d, %d], \"rf_start\": [%d, %d]", e->geom.jump[0],
				e->geom.jump[1], e->geom.size[0], e->geom.size[1], e->geom.start[0], e->geom.start[1]);
		fprintf(f, ", \"global\": %s, \"wrap\": %s", e->geom.global ? "true" : "false",
			e->wrap ? "true" : "false");
		static const char *const kind[PROBE_EQ_KINDS] = {"pixel", "jump"};
		for (int k = 0; k < PROBE_EQ_KINDS; k++) {
			fprintf(f, ", \"%s\": {\"shift\": [%d, %d], \"positions\": %ld, \"error\": ", kind[k],
				e->shift[k][0], e->shift[k][1], e->compared[k]);
			json_num(f, e->error[k]);
			fputc('}', f);
		}
		fputc('}', f);
	}
	fputs("\n ]}\n", f);
	if (fclose(f)) {
		cli_error(cmd, "%s: cannot write", json);
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* "0.0123", "n/a" (nothing compared) */
static const char *fmt_err(char *buf, size_t n, double v, long positions)
{
	if (!positions || v != v)
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%.4f", v);
	return buf;
}

static void print_shift(const struct probe_shift_result *r, int circular)
{
	printf("%d %s images of %s, shifts up to %d px (%s), seed %d\n", r->n, split, data.path, max_shift,
	       circular ? "circular" : "zero fill", seed);
	printf("accuracy %.4f unshifted, %.4f shifted\n", r->accuracy, r->shifted_accuracy);
	printf("consistency %.4f (two random shifts of an image get the same class)\n\n", r->consistency);
	printf("equivariance error per feature map, ||node(shift(x)) - shift(node(x))|| / ||shift(node(x))||:\n"
	       "input shift (d, d); at the node d / jump (interpolated when not whole); positions compared per\n"
	       "map (all = every position, wrapping around)\n");
	/* columns as wide as the longest node and op names */
	int wn = 4, wo = 2;
	for (int j = 0; j < r->nnodes; j++) {
		int ln = (int)strlen(r->nodes[j].name), lo = (int)strlen(r->nodes[j].op);
		wn = ln > wn ? ln : wn;
		wo = lo > wo ? lo : wo;
	}
	printf("%-*s %-*s %-11s %5s %7s %9s %9s %6s %9s %9s\n", wn, "node", wo, "op", "output", "jump", "rf", "1px",
	       "positions", "shift", "error", "positions");
	for (int j = 0; j < r->nnodes; j++) {
		const struct probe_node_eq *e = &r->nodes[j];
		const struct probe_geom *g = &e->geom;
		char shape[48], jump[24], rf[24], shift[16], e0[24], e1[24], p0[24], p1[24];
		snprintf(shape, sizeof shape, "%dx%dx%d", e->c, e->h, e->w);
		if (!g->known)
			snprintf(jump, sizeof jump, "?"), snprintf(rf, sizeof rf, "?");
		else if (g->global)
			snprintf(jump, sizeof jump, "-"), snprintf(rf, sizeof rf, "all");
		else if (g->jump[0] == g->jump[1] && g->size[0] == g->size[1])
			snprintf(jump, sizeof jump, "%d", g->jump[0]), snprintf(rf, sizeof rf, "%d", g->size[0]);
		else
			snprintf(jump, sizeof jump, "%dx%d", g->jump[0], g->jump[1]),
				snprintf(rf, sizeof rf, "%dx%d", g->size[0], g->size[1]);
		if (e->shift[1][0] == e->shift[1][1])
			snprintf(shift, sizeof shift, "%d", e->shift[1][0]);
		else
			snprintf(shift, sizeof shift, "%d,%d", e->shift[1][0], e->shift[1][1]);
		for (int k = 0; k < PROBE_EQ_KINDS; k++) {
			char *p = k ? p1 : p0;
			if (e->wrap)
				snprintf(p, 24, "all");
			else if (e->compared[k])
				snprintf(p, 24, "%ld", e->compared[k]);
			else
				snprintf(p, 24, "-");
		}
		printf("%-*s %-*s %-11s %5s %7s %9s %9s %6s %9s %9s\n", wn, e->name, wo, e->op, shape, jump, rf,
		       fmt_err(e0, sizeof e0, e->error[0], e->compared[0]), p0, shift,
		       fmt_err(e1, sizeof e1, e->error[1], e->compared[1]), p1);
	}
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
	print_shift(&r, circular);
	rc = json ? write_shift_json(cmd, &r) : CLI_OK;
	probe_shift_result_free(&r);
	setup_close(&s);
	return rc;
}

static int write_deform_json(const char *cmd, const struct probe_deform_result *r)
{
	FILE *f = fopen(json, "w");
	if (!f) {
		cli_error(cmd, "%s: cannot write", json);
		return CLI_ERROR;
	}
	fprintf(f, "{\"samples\": %d, \"seed\": %d, \"accuracy\": ", r->n, seed);
	json_num(f, r->accuracy);
	fputs(",\n \"levels\": [", f);
	for (int k = 0, first = 1; k < PROBE_DEFORM_KINDS; k++)
		for (int l = 0; l < r->levels; l++, first = 0) {
			fprintf(f, "%s\n  {\"kind\": \"%s\", \"level\": %d, \"strength\": ", first ? "" : ",",
				probe_deform_name(k), l + 1);
			json_num(f, r->strength[k][l]);
			fputs(", \"accuracy\": ", f);
			json_num(f, r->acc[k][l]);
			fputs(", \"consistency\": ", f);
			json_num(f, r->consistency[k][l]);
			fputc('}', f);
		}
	fputs("\n ]}\n", f);
	if (fclose(f)) {
		cli_error(cmd, "%s: cannot write", json);
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* Accuracy above consistency, one curve per kind against the level (0: undeformed). */
static int draw_deform(const char *cmd, const char *netfile, const struct probe_deform_result *r)
{
	double x[PROBE_MAX_LEVELS + 1], acc[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS + 1],
		cons[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS + 1];
	char label[PROBE_DEFORM_KINDS][64], title[512];
	struct clcnn_plot_series sa[PROBE_DEFORM_KINDS], sc[PROBE_DEFORM_KINDS];
	for (int k = 0; k < PROBE_DEFORM_KINDS; k++) {
		x[0] = 0;
		acc[k][0] = r->accuracy;
		cons[k][0] = 1;
		for (int l = 0; l < r->levels; l++) {
			x[l + 1] = l + 1;
			acc[k][l + 1] = r->acc[k][l];
			cons[k][l + 1] = r->consistency[k][l];
		}
		double top = r->strength[k][r->levels - 1];
		if (k == PROBE_SCALE)
			snprintf(label[k], sizeof label[k], "zoom, up to 1 +- %g", top);
		else
			snprintf(label[k], sizeof label[k], "%s, up to %g %s",
				 k == PROBE_ELASTIC ? "elastic" : "rotation", top, probe_deform_unit(k));
		sa[k] = (struct clcnn_plot_series){label[k], r->levels + 1, x, acc[k]};
		sc[k] = (struct clcnn_plot_series){label[k], r->levels + 1, x, cons[k]};
	}
	struct clcnn_plot_panel panels[2] = {{"accuracy", PROBE_DEFORM_KINDS, sa},
					     {"consistency", PROBE_DEFORM_KINDS, sc}};
	snprintf(title, sizeof title, "%s under deformations (%d images)", netfile, r->n);
	char err[4200];
	if (clcnn_plot_panels(plot, title, "strength level (0 = undeformed)", 2, panels, err, sizeof err)) {
		cli_error(cmd, "%s", err);
		return CLI_ERROR;
	}
	return CLI_OK;
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
	printf("%d %s images of %s, seed %d\naccuracy %.4f undeformed\n\n", r.n, split, data.path, seed, r.accuracy);
	printf("%-8s %5s %10s %9s %12s\n", "kind", "level", "strength", "accuracy", "consistency");
	for (int k = 0; k < PROBE_DEFORM_KINDS; k++)
		for (int l = 0; l < r.levels; l++) {
			char st[32];
			snprintf(st, sizeof st, "%s%.3g%s%s", k == PROBE_SCALE ? "+-" : "", r.strength[k][l],
				 *probe_deform_unit(k) ? " " : "", probe_deform_unit(k));
			printf("%-8s %5d %10s %9.4f %12.4f\n", probe_deform_name(k), l + 1, st, r.acc[k][l],
			       r.consistency[k][l]);
		}
	rc = json ? write_deform_json(cmd, &r) : CLI_OK;
	if (!rc && plot)
		rc = draw_deform(cmd, pos[0], &r);
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
