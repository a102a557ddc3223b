/* clcnn train --pairs: inputs, sampling order and feeding of each step (train-pairs.h). */
#include "train-pairs.h"

#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "io/dataset.h"

/* "anchor, positive, label": the input names for messages. */
static void list_inputs(const struct embed_inputs *ei, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < ei->n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", ei->name[i]);
}

/* The inputs --pairs feeds, in declaration order. */
static int find_inputs(struct train_pairs *tp, const struct train_opts *o, const struct cli_model *m)
{
	if (embed_inputs_find("train", m, o->netfile, &tp->ei))
		return CLI_ERROR;
	const struct embed_inputs *ei = &tp->ei;
	int want_data = tp->triplet ? 3 : 2, want_scalar = tp->triplet ? 0 : 1;
	if (ei->ndata != want_data || ei->n - ei->ndata != want_scalar) {
		char names[512];
		list_inputs(ei, names, sizeof names);
		cli_error(
			"train",
			"--pairs %s feeds %s, in declaration order; %s has %d data input%s and %d per-sample scalar%s "
			"(%s)",
			o->pairs,
			tp->triplet ? "three data inputs (anchor, positive, negative)"
				    : "two data inputs (x1, x2) and one per-sample scalar (same: 1 similar, 0 not)",
			o->netfile, ei->ndata, ei->ndata == 1 ? "" : "s", ei->n - ei->ndata,
			ei->n - ei->ndata == 1 ? "" : "s", names);
		return CLI_USAGE;
	}
	for (int i = 0, d = 0; i < ei->n; i++) {
		if (ei->is_data[i])
			tp->data[d++] = ei->name[i];
		else
			tp->same = ei->name[i];
	}
	return 0;
}

/* P x K of batch-hard: --per-class K, else the smallest K dividing B that leaves P <= the classes. */
static int choose_pk(struct train_pairs *tp, const struct train_opts *o)
{
	int B = tp->B, classes = tp->ix.populated, K = o->per_class;
	for (int k = 1; !K && k <= B; k++)
		if (B % k == 0 && B / k <= classes)
			K = k;
	if (!K || B % K || B / K < 2 || B / K > classes) {
		cli_error(
			"train",
			"--mining batch-hard: a batch of %d cannot be cut into P classes x K samples with 2 <= P <= %d "
			"(the classes with samples)%s",
			B, classes, o->per_class ? " and K the --per-class given: choose --batch = P x K" : "");
		return CLI_USAGE;
	}
	tp->K = K;
	tp->P = B / K;
	fprintf(stderr, "batch-hard mining: %d classes x %d samples per batch\n", tp->P, tp->K);
	return 0;
}

int train_pairs_inputs(struct train_pairs *tp, const struct train_opts *o, const struct cli_model *m)
{
	memset(tp, 0, sizeof *tp);
	tp->triplet = !strcmp(o->pairs, "triplet");
	tp->batch_hard = !strcmp(o->mining, "batch-hard");
	tp->B = o->batch;
	tp->per = (size_t)m->c * (size_t)m->h * (size_t)m->w;
	tp->per_step = tp->batch_hard ? tp->B : tp->triplet ? 3 * tp->B : 2 * tp->B;
	int rc = find_inputs(tp, o, m);
	if (rc)
		return rc;
	if (!clcnn_graph_loss_name(m->g)) {
		cli_error("train", "%s: the model has no loss node (triplet_margin_loss or contrastive_loss)",
			  o->netfile);
		return CLI_ERROR;
	}
	return 0;
}

int train_pairs_open(struct train_pairs *tp, const struct train_opts *o, struct clcnn_source *train, int ntrain)
{
	int rc;
	float *labels = cli_malloc((size_t)ntrain * sizeof(float) + 1), *sample = cli_malloc(tp->per * sizeof(float));
	char err[4200];
	rc = CLI_ERROR;
	if (!labels || !sample) {
		cli_error("train", "out of host memory for the labels of %d samples", ntrain);
		goto done;
	}
	/* the labels of the training samples (IDX, CIFAR and CSV are memory-mapped: a quick pass) */
	for (int i = 0; i < ntrain; i++) {
		if (clcnn_source_read(train, i, sample, &labels[i], err, sizeof err)) {
			cli_error("train", "%s", err);
			goto done;
		}
	}
	int irc = pair_index_build(labels, ntrain, clcnn_source_info(train)->classes, &tp->ix, err, sizeof err);
	if (irc) {
		cli_error("train", "--pairs %s: %s: %s", o->pairs, o->data.path, err);
		rc = irc == -3 ? CLI_USAGE : CLI_ERROR;
		goto done;
	}
	if (tp->batch_hard && (rc = choose_pk(tp, o)))
		goto done;
	rc = CLI_ERROR;
	size_t B = (size_t)tp->B;
	tp->target = cli_calloc(B, sizeof(float));
	if (tp->batch_hard) {
		tp->gather = cli_malloc(2 * B * tp->per * sizeof(float));
		tp->emb = cli_malloc(B * (size_t)tp->ei.dim * sizeof(float));
		tp->dist = cli_malloc(B * sizeof(float));
		tp->pos = cli_malloc(B * sizeof(int));
		tp->neg = cli_malloc(B * sizeof(int));
	}
	if (!tp->target || (tp->batch_hard && (!tp->gather || !tp->emb || !tp->dist || !tp->pos || !tp->neg))) {
		cli_error("train", "out of host memory for the pairs of a batch of %d", tp->B);
		goto done;
	}
	rc = 0;
done:
	free(labels);
	free(sample);
	return rc;
}

void train_pairs_close(struct train_pairs *tp)
{
	pair_index_free(&tp->ix);
	free(tp->gather);
	free(tp->emb);
	free(tp->dist);
	free(tp->target);
	free(tp->pos);
	free(tp->neg);
	memset(tp, 0, sizeof *tp);
}

void train_pairs_order(struct train_pairs *tp, const int *perm, int steps, uint64_t *rng, int *order)
{
	int B = tp->B;
	for (int s = 0; s < steps; s++) {
		int *o = order + (size_t)s * (size_t)tp->per_step;
		const int *anchors = perm + (size_t)s * (size_t)B;
		if (tp->batch_hard) {
			pairs_sample_pk(&tp->ix, tp->P, tp->K, rng, o);
			continue;
		}
		memcpy(o, anchors, (size_t)B * sizeof(int));
		if (tp->triplet)
			pairs_random_triplets(&tp->ix, anchors, B, rng, o + B, o + 2 * B);
		else
			pairs_random_pairs(&tp->ix, anchors, B, rng, o + B, tp->target);
	}
}

/* Batch-hard: embed the batch, then the hardest positive and negative of each of its samples. */
static int mine(struct train_pairs *tp, struct cli_model *m, const float *img, const float *lab, uint32_t seed)
{
	int B = tp->B, rc = 0;
	for (int j = 0; !rc && j < tp->ei.n; j++)
		rc = clcnn_graph_set_input(m->g, tp->ei.name[j], tp->ei.is_data[j] ? img : tp->target);
	if (!rc)
		rc = clcnn_graph_forward(m->g, 1, seed);
	if (!rc)
		rc = clcnn_graph_read(m->g, clcnn_graph_output_name(m->g), tp->emb);
	if (rc)
		return rc;
	pairs_batch_hard(tp->emb, B, tp->ei.dim, lab, tp->pos, tp->neg, tp->dist);
	size_t bytes = tp->per * sizeof(float);
	for (int i = 0; i < B; i++) {
		/* P >= 2 gives every sample a negative; a -1 would fall back on the sample itself */
		int p = tp->pos[i], n = tp->neg[i] >= 0 ? tp->neg[i] : i;
		if (tp->triplet) {
			memcpy(tp->gather + (size_t)i * tp->per, img + (size_t)p * tp->per, bytes);
			memcpy(tp->gather + ((size_t)B + (size_t)i) * tp->per, img + (size_t)n * tp->per, bytes);
		} else {
			/* contrastive: even pairs the hardest positive, odd ones the hardest negative */
			int q = i % 2 == 0 ? p : n;
			memcpy(tp->gather + (size_t)i * tp->per, img + (size_t)q * tp->per, bytes);
		}
	}
	return 0;
}

int train_pairs_feed(struct train_pairs *tp, struct cli_model *m, const float *img, const float *lab, uint32_t seed)
{
	int B = tp->B, rc;
	size_t stride = (size_t)B * tp->per;
	const float *x[3] = {img, img + stride, img + 2 * stride};
	const float *partner_lab = lab + B;
	if (tp->batch_hard) {
		if ((rc = mine(tp, m, img, lab, seed)))
			return rc;
		x[1] = tp->gather;
		x[2] = tp->gather + stride;
	}
	for (int j = 0; j < (tp->triplet ? 3 : 2); j++)
		if ((rc = clcnn_graph_set_input(m->g, tp->data[j], x[j])))
			return rc;
	if (tp->triplet)
		return 0;
	/* same: from the labels, so that it is right whichever way the partner was drawn */
	for (int i = 0; i < B; i++) {
		int partner = tp->batch_hard ? (i % 2 == 0 ? tp->pos[i] : tp->neg[i] >= 0 ? tp->neg[i] : i) : -1;
		float pl = tp->batch_hard ? lab[partner] : partner_lab[i];
		tp->target[i] = lab[i] == pl;
	}
	return clcnn_graph_set_input(m->g, tp->same, tp->target);
}
