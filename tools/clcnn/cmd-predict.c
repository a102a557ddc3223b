/*
 * clcnn predict: classify images (PNG, JPEG, PGM, PPM; gray or RGB) with a trained model; top-k
 * classes with probabilities, named by the checkpoint or by --labels FILE.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "io/io.h"
#include "model.h"

static const char *weights, *mean, *std, *labels;
static int topk, invert;

static const struct cli_flag flags[] = {
	{"weights", FLAG_STR, &weights, 0, 0, " CKPT",
	 "checkpoint or weights file (safetensors); required unless the model is .onnx"},
	{"top", FLAG_INT, &topk, 1, 1000, NULL, "how many classes to show (default 3)"},
	{"labels", FLAG_STR, &labels, 0, 0, " FILE", "class names, one per line (default: the checkpoint's)"},
	{"invert", FLAG_BOOL, &invert, 0, 0, NULL, "invert gray levels (dark object on light background)"},
	{"mean", FLAG_STR, &mean, 0, 0, " X[,X...]", "normalisation mean per channel (default: the checkpoint's)"},
	{"std", FLAG_STR, &std, 0, 0, " X[,X...]", "normalisation std per channel (default: the checkpoint's)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f,
		"usage: clcnn predict NETFILE --weights CKPT IMAGE...\n"
		"       clcnn predict MODEL.onnx IMAGE...\n\n"
		"Classify images (PNG, JPEG, PGM, PPM), converted to the model's channels (gray or RGB) and\n"
		"resized to its input.\n"
		"Prints the top classes with their softmax probabilities, named when the checkpoint names them.\n"
		"Inputs are normalised with the checkpoint's mean and std unless --mean/--std are given.\n\noptions:\n");
	cli_print_flags(f, flags);
}

/*
 * Class names from file (one per line, a trailing '\r' dropped) into *names; they must be exactly
 * the model's classes. CLI_OK, or CLI_ERROR after a message.
 */
static int read_labels(const char *file, int classes, char ***names)
{
	*names = NULL;
	FILE *f = fopen(file, "r");
	if (!f) {
		cli_error("predict", "%s: cannot open the --labels file", file);
		return CLI_ERROR;
	}
	/* the lines, then one block as the checkpoint's names are (clcnn_classes_free frees it) */
	char **v = cli_calloc((size_t)classes + 1, sizeof *v), line[4096], *json = NULL;
	int n = 0, rc = v ? CLI_OK : CLI_ERROR;
	while (rc == CLI_OK && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (n == classes) {
			n++;
			break;
		}
		if (!(v[n++] = strdup(line)))
			rc = CLI_ERROR;
	}
	fclose(f);
	if (rc != CLI_OK)
		cli_error("predict", "out of host memory");
	else if (n != classes) {
		cli_error("predict", "%s: %s%d class names, but the model has %d classes (one name per line)", file,
			  n > classes ? "more than " : "", n > classes ? classes : n, classes);
		rc = CLI_ERROR;
	} else if (clcnn_classes_format((const char *const *)v, n, &json) ||
		   clcnn_classes_parse(json, names, NULL, line, sizeof line)) {
		cli_error("predict", "out of host memory");
		rc = CLI_ERROR;
	}
	for (int i = 0; v && i < classes; i++)
		free(v[i]);
	free(v);
	free(json);
	return rc;
}

/* The topk classes by softmax probability, with their names when known. */
static void print_top(const char *path, const float *out, int K, char *const *names)
{
	float mx = out[0];
	for (int k = 1; k < K; k++)
		mx = out[k] > mx ? out[k] : mx;
	double sum = 0;
	for (int k = 0; k < K; k++)
		sum += exp((double)out[k] - mx);
	printf("%s:\n", path);
	/* ranked by (score descending, index ascending): the next one comes after the previous one */
	int prev = -1;
	for (int t = 0; t < topk && t < K; t++) {
		int best = -1;
		for (int k = 0; k < K; k++) {
			int after = prev < 0 || out[k] < out[prev] || (out[k] == out[prev] && k > prev);
			if (after && (best < 0 || out[k] > out[best]))
				best = k;
		}
		if (best < 0)
			break;
		prev = best;
		double p = exp((double)out[best] - mx) / sum;
		if (names)
			printf("  %d %-12s %.4f\n", best, names[best], p);
		else
			printf("  %d %.4f\n", best, p);
	}
}

int cmd_predict(int argc, char **argv)
{
	topk = 3;
	char **pos = cli_calloc((size_t)argc + 1, sizeof *pos);
	if (!pos) {
		cli_error("predict", "out of host memory");
		return CLI_ERROR;
	}
	int npos, pr = cli_parse("predict", argc, argv, flags, pos, argc, &npos, help);
	if (pr) {
		free(pos);
		return pr > 0 ? CLI_OK : CLI_USAGE;
	}
	if (npos < 2 || (!weights && !cli_model_is_onnx(pos[0]))) {
		cli_error("predict",
			  "expected NETFILE, --weights CKPT and at least one IMAGE (see clcnn predict --help)");
		free(pos);
		return CLI_USAGE;
	}
	struct cli_model m;
	if (cli_model_open_forward("predict", pos[0], 1, &m)) {
		free(pos);
		return CLI_ERROR;
	}
	if (cli_model_check_inputs("predict", &m, pos[0])) {
		cli_model_close(&m);
		free(pos);
		return CLI_ERROR;
	}
	if (m.nd != 3) {
		cli_error("predict",
			  "%s: the model's input '%s' is a feature vector of %d values, not an image; clcnn eval "
			  "--data FILE.csv classifies feature vectors",
			  pos[0], m.image, m.c);
		cli_model_close(&m);
		free(pos);
		return CLI_USAGE;
	}
	int rc = CLI_OK, K = m.classes;
	size_t per = (size_t)m.c * (size_t)m.h * (size_t)m.w;
	float *img = cli_malloc(per * sizeof(float)), *out = cli_malloc((size_t)(K ? K : 1) * sizeof(float));
	struct cli_inputs in = {0};
	char omean[256], ostd[256];
	if (!img || !out) {
		cli_error("predict", "out of host memory for a %dx%dx%d image", m.c, m.h, m.w);
		rc = CLI_ERROR;
	} else if (weights && clcnn_graph_load_weights(m.g, weights)) {
		cli_error("predict", "%s", clcnn_context_error(m.ctx));
		rc = CLI_ERROR;
	} else {
		if (!weights)
			cli_onnx_normalize(pos[0], &mean, &std, omean, ostd, sizeof omean);
		rc = cli_inputs_read("predict", &m, weights, mean, std, &in);
	}
	if (rc == CLI_OK && labels) {
		clcnn_classes_free(in.classes);
		in.classes = NULL;
		rc = read_labels(labels, K, &in.classes);
	}
	for (int i = 1; rc == CLI_OK && i < npos; i++) {
		char err[4096];
		if (clcnn_image_load(pos[i], m.c, m.h, m.w, img, err, sizeof err)) {
			cli_error("predict", "%s", err);
			rc = CLI_ERROR;
			break;
		}
		for (size_t k = 0; invert && k < per; k++)
			img[k] = 1 - img[k];
		clcnn_normalize_apply(&in.norm, img, m.c, m.h, m.w);
		/* forward to the output only: the loss (and its label input) is not run */
		const char *o = clcnn_graph_output_name(m.g);
		if (clcnn_graph_set_input(m.g, m.image, img) || clcnn_graph_forward_to(m.g, o, 0, 0) ||
		    clcnn_graph_read(m.g, o, out)) {
			cli_error("predict", "%s", clcnn_context_error(m.ctx));
			rc = CLI_ERROR;
			break;
		}
		print_top(pos[i], out, K, in.classes);
	}
	cli_inputs_free(&in);
	free(img);
	free(out);
	free(pos);
	cli_model_close(&m);
	return rc;
}
