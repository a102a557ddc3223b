/* Loading a model for the data-facing subcommands, opening its data, and evaluating it. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli-alloc.h"
#include "cli.h"
#include "io/onnx.h"

int cli_model_open(const char *cmd, const char *netfile, int batch, struct cli_model *m)
{
	return cli_model_open_ex(cmd, netfile, batch, 0, m);
}

int cli_model_is_onnx(const char *path)
{
	size_t n = strlen(path);
	return n > 5 && !strcasecmp(path + n - 5, ".onnx");
}

void cli_onnx_normalize(const char *path, const char **mean, const char **std, char *mbuf, char *sbuf, size_t len)
{
	char err[1024];
	struct onnx_model *om = NULL;
	if (*mean || *std || !cli_model_is_onnx(path) || clcnn_onnx_read(path, &om, err, sizeof err))
		return;
	const char *m = NULL, *s = NULL;
	for (int i = 0; i < om->nmeta; i++) {
		if (om->meta_keys[i] && !strcmp(om->meta_keys[i], CLCNN_META_MEAN))
			m = om->meta_values[i];
		if (om->meta_keys[i] && !strcmp(om->meta_keys[i], CLCNN_META_STD))
			s = om->meta_values[i];
	}
	if (m && s) {
		snprintf(mbuf, len, "%s", m);
		snprintf(sbuf, len, "%s", s);
		*mean = mbuf;
		*std = sbuf;
	}
	clcnn_onnx_free(om);
}

/* An imported model to train or evaluate: the loss PyTorch's training script had outside the export. */
static int add_onnx_loss(struct clcnn_graph *g)
{
	const char *out = clcnn_graph_output_name(g);
	char in[300];
	snprintf(in, sizeof in, "%s, label", out ? out : "");
	if (!out || clcnn_graph_input(g, "label", 0, NULL) || clcnn_graph_add(g, "loss", "cross_entropy", in, NULL))
		return -1;
	return 0;
}

static int model_open(const char *cmd, const char *netfile, int batch, int input_grads, const char *device,
		      int forward_only, struct cli_model *m);

int cli_model_open_ex(const char *cmd, const char *netfile, int batch, int input_grads, struct cli_model *m)
{
	return cli_model_open_dev(cmd, netfile, batch, input_grads, NULL, m);
}

int cli_model_open_on(const char *cmd, const char *netfile, int batch, const char *device, struct cli_model *m)
{
	return cli_model_open_dev(cmd, netfile, batch, 0, device, m);
}

int cli_model_open_dev(const char *cmd, const char *netfile, int batch, int input_grads, const char *device,
		       struct cli_model *m)
{
	return model_open(cmd, netfile, batch, input_grads, device, 0, m);
}

int cli_model_open_forward(const char *cmd, const char *netfile, int batch, struct cli_model *m)
{
	return model_open(cmd, netfile, batch, 0, NULL, 1, m);
}

static int model_open(const char *cmd, const char *netfile, int batch, int input_grads, const char *device,
		      int forward_only, struct cli_model *m)
{
	memset(m, 0, sizeof *m);
	m->ctx = cli_open_context_on(device);
	if (!m->ctx)
		return CLI_ERROR;
	if (clcnn_graph_load(m->ctx, netfile, &m->g)) {
		cli_error(cmd, "%s", clcnn_context_error(m->ctx));
		cli_model_close(m);
		return CLI_ERROR;
	}
	if (cli_model_is_onnx(netfile) && (!strcmp(cmd, "train") || !strcmp(cmd, "eval") || !strcmp(cmd, "bench")) &&
	    add_onnx_loss(m->g)) {
		cli_error(cmd, "%s: adding a cross_entropy loss to the imported model: %s", netfile,
			  clcnn_context_error(m->ctx));
		cli_model_close(m);
		return CLI_ERROR;
	}
	const char *vec = NULL;
	int features = 0;
	for (int i = 0; i < clcnn_graph_input_count(m->g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(m->g, i, &name, &nd, dims);
		if (nd == 3 && !m->image) {
			m->image = name;
			m->nd = 3;
			m->c = dims[0];
			m->h = dims[1];
			m->w = dims[2];
		} else if (nd == 1 && !vec) {
			vec = name;
			features = dims[0];
		} else if (nd == 0 && !m->label) {
			m->label = name;
		}
		if (input_grads && nd > 0 && clcnn_graph_want_input_grad(m->g, name)) {
			cli_error(cmd, "%s", clcnn_context_error(m->ctx));
			cli_model_close(m);
			return CLI_ERROR;
		}
	}
	/* no image: a feature-vector model (an MLP over CSV columns) */
	if (!m->image && vec) {
		m->image = vec;
		m->nd = 1;
		m->c = features;
		m->h = m->w = 1;
	}
	if (!m->image) {
		cli_error(cmd,
			  "%s: the model has no data input (declare one like: image = input(shape=(1,28,28)), or "
			  "x = input(shape=(8)) for feature vectors)",
			  netfile);
		cli_model_close(m);
		return CLI_ERROR;
	}
	clcnn_graph_set_forward_only(m->g, forward_only);
	if (clcnn_graph_build(m->g, batch)) {
		cli_error(cmd, "%s: %s", netfile, clcnn_context_error(m->ctx));
		cli_model_close(m);
		return CLI_ERROR;
	}
	m->batch = batch;
	const char *out = clcnn_graph_output_name(m->g);
	for (int i = 0; out && i < clcnn_graph_node_count(m->g); i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_node_info(m->g, i, &name, &op, &nd, dims);
		if (!strcmp(name, out))
			m->classes = nd == 2 ? dims[1] : 0;
	}
	return CLI_OK;
}

int cli_model_check_inputs(const char *cmd, const struct cli_model *m, const char *netfile)
{
	for (int i = 0; i < clcnn_graph_input_count(m->g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(m->g, i, &name, &nd, dims);
		if (name == m->image || (m->label && name == m->label))
			continue;
		cli_error(cmd,
			  "%s: the input '%s' would not be fed: clcnn %s feeds one data input ('%s') and one "
			  "class-index input ('%s'); run a model with more inputs from C (clcnn_graph_set_input) or "
			  "with clcnn run",
			  netfile, name, cmd, m->image, m->label ? m->label : "none");
		return CLI_ERROR;
	}
	return CLI_OK;
}

void cli_model_close(struct cli_model *m)
{
	clcnn_graph_free(m->g);
	clcnn_context_close(m->ctx);
	memset(m, 0, sizeof *m);
}

void cli_model_shape(const struct cli_model *m, char *buf, size_t len)
{
	if (m->nd == 1)
		snprintf(buf, len, "%d", m->c);
	else
		snprintf(buf, len, "%dx%dx%d", m->c, m->h, m->w);
}

void cli_data_defaults(struct cli_data_opts *d)
{
	*d = (struct cli_data_opts){.path = CLI_DEFAULT_DATA, .format = "auto", .resize = "stretch", .layout = "auto"};
}

int cli_source_open(const char *cmd, const struct cli_model *m, const struct cli_data_opts *d, const char *split,
		    struct clcnn_source **out)
{
	*out = NULL;
	char err[4200];
	struct clcnn_source_options so = {.split = split, .label_column = d->label_column, .val_split = d->val_split};
	if (clcnn_data_format_parse(d->format, &so.format, err, sizeof err)) {
		cli_error(cmd, "--format: %s", err);
		return CLI_USAGE;
	}
	if (strcmp(d->resize, "stretch") && strcmp(d->resize, "crop")) {
		cli_error(cmd, "bad value '%s' for --resize: expected stretch or crop", d->resize);
		return CLI_USAGE;
	}
	so.center_crop = !strcmp(d->resize, "crop");
	if (!strcmp(d->layout, "nhwc")) {
		so.layout = CLCNN_LAYOUT_NHWC;
	} else if (!strcmp(d->layout, "nchw")) {
		so.layout = CLCNN_LAYOUT_NCHW;
	} else if (strcmp(d->layout, "auto")) {
		cli_error(cmd, "bad value '%s' for --layout: expected auto, nhwc or nchw", d->layout);
		return CLI_USAGE;
	}
	if (access(d->path, F_OK) != 0) {
		cli_error(cmd, "%s: dataset does not exist%s", d->path,
			  strcmp(d->path, CLI_DEFAULT_DATA) ? ""
							    : " (install dataset-fashion-mnist or pass --data PATH)");
		return CLI_ERROR;
	}
	/* images are decoded straight to the model's input; feature vectors are what the file holds */
	if (m->nd == 3) {
		so.channels = m->c;
		so.height = m->h;
		so.width = m->w;
	}
	struct clcnn_source *s;
	if (clcnn_source_open(d->path, &so, &s, err, sizeof err)) {
		cli_error(cmd, "%s", err);
		return CLI_ERROR;
	}
	const struct clcnn_source_info *in = clcnn_source_info(s);
	char want[64], have[64];
	cli_model_shape(m, want, sizeof want);
	if (in->nd == 1)
		snprintf(have, sizeof have, "feature vectors of %d values", in->c);
	else
		snprintf(have, sizeof have, "images of %dx%dx%d", in->c, in->h, in->w);
	if (in->nd != m->nd || in->c != m->c || in->h != m->h || in->w != m->w) {
		cli_error(cmd, "%s (%s, %s split): %s, but the model's input '%s' is %s%s", d->path,
			  clcnn_data_format_name(in->format), split, have, m->image, want,
			  m->nd == 1 ? " (a feature vector)" : "");
		clcnn_source_close(s);
		return CLI_ERROR;
	}
	if (in->classes > m->classes) {
		cli_error(cmd, "%s (%s split): %d classes (labels 0..%d), but the model's output '%s' has %d", d->path,
			  split, in->classes, in->classes - 1, clcnn_graph_output_name(m->g), m->classes);
		clcnn_source_close(s);
		return CLI_ERROR;
	}
	*out = s;
	return CLI_OK;
}

int cli_inputs_read(const char *cmd, const struct cli_model *m, const char *weights, const char *mean, const char *std,
		    struct cli_inputs *in)
{
	return cli_inputs_read_ex(cmd, m, weights, mean, std, NULL, in);
}

int cli_inputs_read_ex(const char *cmd, const struct cli_model *m, const char *weights, const char *mean,
		       const char *std, const struct clcnn_normalize *fallback, struct cli_inputs *in)
{
	memset(in, 0, sizeof *in);
	char err[4200], fmean[CLCNN_NORMALIZE_TEXT_MAX] = CLI_DEFAULT_MEAN,
			fstd[CLCNN_NORMALIZE_TEXT_MAX] = CLI_DEFAULT_STD;
	struct clcnn_normalize fnorm = {0};
	if (fallback)
		clcnn_normalize_format(fallback, fmean, fstd, sizeof fmean);
	if (weights && (!mean || !std)) {
		if (clcnn_normalize_from_weights(weights, &fnorm, err, sizeof err)) {
			cli_error(cmd, "%s", err);
			return CLI_ERROR;
		}
		if (fnorm.channels)
			clcnn_normalize_format(&fnorm, fmean, fstd, sizeof fmean);
		else if (!fallback)
			fprintf(stderr,
				"clcnn %s: warning: %s has no normalisation metadata (%s, %s); using Fashion-MNIST's "
				"mean %s and std %s (--mean and --std choose others)\n",
				cmd, weights, CLCNN_META_MEAN, CLCNN_META_STD, mean ? mean : fmean, std ? std : fstd);
	}
	int given = mean || std;
	if (clcnn_normalize_parse(mean ? mean : fmean, std ? std : fstd, &in->norm, err, sizeof err)) {
		cli_error(cmd, "%s%s", given ? "--mean/--std: " : "", err);
		return given ? CLI_USAGE : CLI_ERROR;
	}
	if (in->norm.channels > 1 && in->norm.channels != m->c) {
		cli_error(cmd, "the normalisation has %d channels but the model's input '%s' has %d", in->norm.channels,
			  m->image, m->c);
		return given ? CLI_USAGE : CLI_ERROR;
	}
	int n = 0;
	if (weights && clcnn_classes_from_weights(weights, &in->classes, &n, err, sizeof err)) {
		cli_error(cmd, "%s", err);
		return CLI_ERROR;
	}
	if (in->classes && n != m->classes) {
		fprintf(stderr, "clcnn %s: warning: %s names %d classes but the model has %d; printing class indices\n",
			cmd, weights, n, m->classes);
		clcnn_classes_free(in->classes);
		in->classes = NULL;
	}
	return CLI_OK;
}

void cli_inputs_free(struct cli_inputs *in)
{
	clcnn_classes_free(in->classes);
	in->classes = NULL;
}

/*
 * The mean loss of a last partial batch. The graph's loss is a mean over the whole batch, and the
 * padding samples would count in it. For nll_loss and cross_entropy, the padding gets the label -100,
 * PyTorch's (and clcnn's) default ignore_index: those samples then contribute nothing and the mean
 * divides by the real samples only, so the graph itself computes the exact loss of the real samples
 * (class weights and label smoothing included). With another ignore_index, -100 is out of range and
 * the loss is NaN: that batch's loss is then left out. For other losses a partial batch is left out.
 */
#define CLI_IGNORE_INDEX -100.0f

const char *cli_model_loss_op(const struct cli_model *m)
{
	const char *loss = clcnn_graph_loss_name(m->g);
	for (int i = 0; loss && i < clcnn_graph_node_count(m->g); i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_node_info(m->g, i, &name, &op, &nd, dims);
		if (!strcmp(name, loss))
			return op;
	}
	return "";
}

static int loss_ignores_labels(const struct cli_model *m)
{
	const char *op = cli_model_loss_op(m);
	return !strcmp(op, "cross_entropy") || !strcmp(op, "nll_loss");
}

int cli_evaluate(const char *cmd, struct cli_model *m, struct clcnn_loader *l, int n, double *accuracy, double *loss,
		 long *confusion)
{
	int B = m->batch, K = m->classes;
	size_t per = (size_t)m->c * (size_t)m->h * (size_t)m->w;
	float *img = cli_calloc((size_t)B * per, sizeof(float)), *lab = cli_calloc((size_t)B, sizeof(float));
	float *out = cli_calloc((size_t)B * (size_t)(K ? K : 1), sizeof(float));
	if (!img || !lab || !out) {
		cli_error(cmd, "out of host memory for an evaluation batch of %d", B);
		free(img);
		free(lab);
		free(out);
		return CLCNN_ERR_NO_MEMORY;
	}
	char err[4200];
	int rc = clcnn_loader_start(l, NULL, n, 0, err, sizeof err), ignores = loss_ignores_labels(m);
	int read_failed = rc != 0;
	long correct = 0, seen = 0, loss_samples = 0;
	double loss_sum = 0;
	while (!rc) {
		const float *bi, *bl;
		int count;
		if ((rc = clcnn_loader_next(l, &bi, &bl, &count, NULL, err, sizeof err))) {
			read_failed = 1;
			break;
		}
		if (!count)
			break;
		memcpy(img, bi, (size_t)count * per * sizeof(float));
		memcpy(lab, bl, (size_t)count * sizeof(float));
		/* pad a last partial batch with copies of its first sample; their outputs are ignored */
		for (int i = count; i < B; i++) {
			memcpy(img + (size_t)i * per, img, per * sizeof(float));
			lab[i] = ignores ? CLI_IGNORE_INDEX : lab[0];
		}
		rc = clcnn_graph_set_input(m->g, m->image, img);
		if (!rc && m->label)
			rc = clcnn_graph_set_input(m->g, m->label, lab);
		if (!rc)
			rc = clcnn_graph_forward(m->g, 0, 0);
		if (!rc)
			rc = clcnn_graph_read(m->g, clcnn_graph_output_name(m->g), out);
		if (!rc && loss && clcnn_graph_loss_name(m->g) && (count == B || ignores)) {
			float lb;
			rc = clcnn_graph_loss(m->g, &lb);
			/* a mean over the batch's real samples: weighted by them */
			if (!rc && (count == B || isfinite(lb))) {
				loss_sum += (double)lb * count;
				loss_samples += count;
			}
		}
		for (int i = 0; !rc && i < count; i++) {
			int best = 0;
			for (int k = 1; k < K; k++)
				if (out[(size_t)i * (size_t)K + (size_t)k] > out[(size_t)i * (size_t)K + (size_t)best])
					best = k;
			int truth = (int)lab[i];
			correct += best == truth;
			if (confusion && truth >= 0 && truth < K)
				confusion[truth * K + best]++;
		}
		seen += count;
	}
	if (rc)
		cli_error(cmd, "evaluation: %s", read_failed ? err : clcnn_context_error(m->ctx));
	free(img);
	free(lab);
	free(out);
	*accuracy = seen ? (double)correct / (double)seen : 0;
	if (loss)
		*loss = loss_samples ? loss_sum / (double)loss_samples : NAN;
	return rc;
}
