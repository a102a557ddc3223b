/* Loading a model for the data-facing subcommands, and evaluating it on a dataset. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"

int cli_model_open(const char *cmd, const char *netfile, int batch, struct cli_model *m)
{
	return cli_model_open_ex(cmd, netfile, batch, 0, m);
}

int cli_model_open_ex(const char *cmd, const char *netfile, int batch, int input_grads, struct cli_model *m)
{
	memset(m, 0, sizeof *m);
	m->ctx = cli_open_context();
	if (!m->ctx)
		return CLI_ERROR;
	if (clcnn_graph_load(m->ctx, netfile, &m->g)) {
		cli_error(cmd, "%s", clcnn_context_error(m->ctx));
		cli_model_close(m);
		return CLI_ERROR;
	}
	for (int i = 0; i < clcnn_graph_input_count(m->g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(m->g, i, &name, &nd, dims);
		if (nd == 3 && !m->image) {
			m->image = name;
			m->c = dims[0];
			m->h = dims[1];
			m->w = dims[2];
		} else if (nd == 0 && !m->label) {
			m->label = name;
		}
		if (input_grads && nd > 0 && clcnn_graph_want_input_grad(m->g, name)) {
			cli_error(cmd, "%s", clcnn_context_error(m->ctx));
			cli_model_close(m);
			return CLI_ERROR;
		}
	}
	if (!m->image) {
		cli_error(cmd, "%s: the model has no image input (declare one like: image = input(shape=(1,28,28)))",
			  netfile);
		cli_model_close(m);
		return CLI_ERROR;
	}
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

void cli_model_close(struct cli_model *m)
{
	clcnn_graph_free(m->g);
	clcnn_context_close(m->ctx);
	memset(m, 0, sizeof *m);
}

int cli_model_check_data(const char *cmd, const struct cli_model *m, const struct clcnn_dataset *d, const char *dir)
{
	if (d->c == m->c && d->h == m->h && d->w == m->w)
		return CLI_OK;
	cli_error(cmd, "%s: images are %dx%dx%d but the model's input '%s' is %dx%dx%d", dir, d->c, d->h, d->w,
		  m->image, m->c, m->h, m->w);
	return CLI_ERROR;
}

int cli_inputs_read(const char *cmd, const struct cli_model *m, const char *weights, const char *mean, const char *std,
		    struct cli_inputs *in)
{
	memset(in, 0, sizeof *in);
	char err[4200], fmean[64] = CLI_DEFAULT_MEAN, fstd[64] = CLI_DEFAULT_STD;
	struct clcnn_normalize fnorm = {0};
	if (weights && (!mean || !std)) {
		if (clcnn_normalize_from_weights(weights, &fnorm, err, sizeof err)) {
			cli_error(cmd, "%s", err);
			return CLI_ERROR;
		}
		if (fnorm.channels)
			clcnn_normalize_format(&fnorm, fmean, fstd, sizeof fmean);
		else
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

int cli_evaluate(const char *cmd, struct cli_model *m, const struct clcnn_dataset *d,
		 const struct clcnn_normalize *norm, double *accuracy, double *loss, long *confusion)
{
	int B = m->batch, K = m->classes;
	size_t per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
	float *img = cli_calloc((size_t)B * per, sizeof(float)), *lab = cli_calloc((size_t)B, sizeof(float));
	float *out = cli_calloc((size_t)B * (size_t)(K ? K : 1), sizeof(float));
	if (!img || !lab || !out) {
		cli_error(cmd, "out of host memory for an evaluation batch of %d", B);
		free(img);
		free(lab);
		free(out);
		return CLCNN_ERR_NO_MEMORY;
	}
	int rc = 0;
	long correct = 0;
	double loss_sum = 0;
	int batches = 0;
	for (int start = 0; !rc && start < d->n; start += B) {
		int count = d->n - start < B ? d->n - start : B;
		clcnn_dataset_gather(d, NULL, start, count, 0.0f, 1.0f, img, lab);
		for (int i = 0; i < count; i++)
			clcnn_normalize_apply(norm, img + (size_t)i * per, d->c, d->h, d->w);
		/* pad a last partial batch with copies of its first sample; their outputs are ignored */
		for (int i = count; i < B; i++) {
			memcpy(img + (size_t)i * per, img, per * sizeof(float));
			lab[i] = lab[0];
		}
		rc = clcnn_graph_set_input(m->g, m->image, img);
		if (!rc && m->label)
			rc = clcnn_graph_set_input(m->g, m->label, lab);
		if (!rc)
			rc = clcnn_graph_forward(m->g, 0, 0);
		if (!rc)
			rc = clcnn_graph_read(m->g, clcnn_graph_output_name(m->g), out);
		if (!rc && loss && clcnn_graph_loss_name(m->g) && count == B) {
			float l;
			rc = clcnn_graph_loss(m->g, &l);
			loss_sum += l;
			batches++;
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
	}
	if (rc)
		cli_error(cmd, "evaluation: %s", clcnn_context_error(m->ctx));
	free(img);
	free(lab);
	free(out);
	*accuracy = d->n ? (double)correct / d->n : 0;
	if (loss)
		*loss = batches ? loss_sum / batches : NAN;
	return rc;
}
