/*
 * clcnn probe deform, and what both probes share: classifying a batch, the per-sample RNG. The
 * deformations are the training augmentation's (clcnn_augment_sample), one kind at a time at
 * increasing strengths, so what the probe measures is what `--augment` would have trained for.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset.h"
#include "io/source.h"
#include "probe.h"

uint64_t probe_rng(uint64_t seed, int sample, int tag)
{
	uint64_t st =
		seed ^ (0xD1B54A32D192ED03ULL * ((uint64_t)sample + 1)) ^ (0x9E3779B97F4A7C15ULL * ((uint64_t)tag + 1));
	clcnn_rng_next(&st);
	return st;
}

void probe_top1(const float *logits, int count, int classes, int *top)
{
	for (int i = 0; i < count; i++) {
		const float *row = logits + (size_t)i * (size_t)classes;
		int best = 0;
		for (int k = 1; k < classes; k++)
			if (row[k] > row[best])
				best = k;
		top[i] = best;
	}
}

int probe_classify(const struct probe_net *net, float *images, const float *labels, int count, float *logits, int *top,
		   char *err, size_t errlen)
{
	size_t per = (size_t)net->c * (size_t)net->h * (size_t)net->w;
	for (int i = 0; net->norm && net->norm->channels && i < count; i++)
		clcnn_normalize_apply(net->norm, images + (size_t)i * per, net->c, net->h, net->w);
	/* pad a short batch with its first image; those outputs are not looked at */
	for (int i = count; i < net->batch; i++)
		memcpy(images + (size_t)i * per, images, per * sizeof(float));
	int rc = clcnn_graph_set_input(net->g, net->input, images);
	if (!rc && net->label) {
		float *lab = calloc((size_t)net->batch, sizeof *lab);
		if (!lab) {
			snprintf(err, errlen, "out of host memory for %d labels", net->batch);
			return CLCNN_ERR_NO_MEMORY;
		}
		for (int i = 0; labels && i < count; i++)
			lab[i] = labels[i];
		rc = clcnn_graph_set_input(net->g, net->label, lab);
		free(lab);
	}
	if (!rc)
		rc = clcnn_graph_forward(net->g, 0, 0);
	if (!rc)
		rc = clcnn_graph_read(net->g, clcnn_graph_output_name(net->g), logits);
	if (rc) {
		snprintf(err, errlen, "%s", clcnn_context_error(net->ctx));
		return rc;
	}
	if (top)
		probe_top1(logits, count, net->classes, top);
	return 0;
}

const char *probe_deform_name(enum probe_deform_kind k)
{
	return k == PROBE_ELASTIC ? "elastic" : k == PROBE_ROTATE ? "rotate" : "scale";
}

const char *probe_deform_unit(enum probe_deform_kind k)
{
	return k == PROBE_ELASTIC ? "px" : k == PROBE_ROTATE ? "deg" : "";
}

/* The augmentation of one kind at one strength. */
static struct clcnn_augment deform_of(enum probe_deform_kind k, double strength)
{
	struct clcnn_augment a = {0};
	if (k == PROBE_ELASTIC)
		a.elastic = strength;
	else if (k == PROBE_ROTATE)
		a.rotate = strength;
	else
		a.scale = strength;
	return a;
}

int probe_deform(const struct probe_net *net, const struct probe_data *d, const struct probe_deform_options *o,
		 struct probe_deform_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (o->levels < 1 || o->levels > PROBE_MAX_LEVELS || d->n < 1 || net->classes < 1) {
		snprintf(err, errlen, "probe_deform: %d levels (1..%d), %d images, %d classes", o->levels,
			 PROBE_MAX_LEVELS, d->n, net->classes);
		return CLCNN_ERR_INVALID;
	}
	int B = net->batch, L = o->levels;
	size_t per = (size_t)net->c * (size_t)net->h * (size_t)net->w;
	float *x = malloc((size_t)B * per * sizeof *x),
	      *logits = malloc((size_t)B * (size_t)net->classes * sizeof *logits);
	float *tmp = malloc(((size_t)net->c + 2) * (size_t)net->h * (size_t)net->w * sizeof *tmp);
	int *base = malloc((size_t)B * sizeof *base), *top = malloc((size_t)B * sizeof *top);
	long correct0 = 0, correct[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS] = {{0}},
	     same[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS] = {{0}};
	int rc = 0;
	if (!x || !logits || !tmp || !base || !top) {
		snprintf(err, errlen, "out of host memory for a batch of %d images", B);
		rc = CLCNN_ERR_NO_MEMORY;
	}
	for (int first = 0; !rc && first < d->n; first += B) {
		int count = d->n - first < B ? d->n - first : B;
		const float *src = d->images + (size_t)first * per, *lab = d->labels + first;
		memcpy(x, src, (size_t)count * per * sizeof *x);
		if ((rc = probe_classify(net, x, lab, count, logits, base, err, errlen)))
			break;
		for (int i = 0; i < count; i++)
			correct0 += base[i] == (int)lab[i];
		for (int k = 0; !rc && k < PROBE_DEFORM_KINDS; k++)
			for (int l = 0; !rc && l < L; l++) {
				struct clcnn_augment a = deform_of(k, o->max[k] * (l + 1) / L);
				memcpy(x, src, (size_t)count * per * sizeof *x);
				for (int i = 0; i < count; i++) {
					uint64_t rng = probe_rng(o->seed, first + i, k * PROBE_MAX_LEVELS + l);
					clcnn_augment_sample(&a, x + (size_t)i * per, net->c, net->h, net->w, tmp,
							     &rng);
				}
				if ((rc = probe_classify(net, x, lab, count, logits, top, err, errlen)))
					break;
				for (int i = 0; i < count; i++) {
					correct[k][l] += top[i] == (int)lab[i];
					same[k][l] += top[i] == base[i];
				}
			}
	}
	if (!rc) {
		r->n = d->n;
		r->levels = L;
		r->accuracy = (double)correct0 / d->n;
		for (int k = 0; k < PROBE_DEFORM_KINDS; k++)
			for (int l = 0; l < L; l++) {
				r->strength[k][l] = o->max[k] * (l + 1) / L;
				r->acc[k][l] = (double)correct[k][l] / d->n;
				r->consistency[k][l] = (double)same[k][l] / d->n;
			}
	}
	free(x);
	free(logits);
	free(tmp);
	free(base);
	free(top);
	return rc;
}
