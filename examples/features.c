/*
 * A model whose input is a feature vector, not an image: a two-layer perceptron learns a rule no
 * straight line separates (class 1 when the two features have the same sign relative to the
 * centre: XOR of the signs), from points this program draws. The features come on different scales
 * (a temperature around 20 with spread 10, a ratio around 0 with spread 1), so they are
 * standardised per feature with clcnn_normalize_apply, as with per-channel image statistics.
 *
 *   features
 *
 * Exits 1 unless the loss fell to a third and the test accuracy reached 95 %.
 * Build: cc features.c $(pkg-config --cflags --libs clcnn)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <clcnn/clcnn.h>
#include <clcnn/graph.h>
#include <clcnn/train.h>

#define F 2    /* features per sample */
#define N 2048 /* training samples */
#define N_TEST 512
#define BATCH 64
#define EPOCHS 40

/* A uniform float in [-1, 1) from a 64-bit xorshift state (no libm, same numbers everywhere). */
static float uniform(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (float)(*s >> 40) / (float)(1 << 23) - 1.0f;
}

/* n samples: features (n x F) and labels (n), normalised as the model sees them. */
static void draw(float *x, float *y, int n, uint64_t *s, const struct clcnn_normalize *norm)
{
	for (int i = 0; i < n; i++) {
		float a = uniform(s), b = uniform(s);
		x[i * F] = 20 + 10 * a; /* centre 20 */
		x[i * F + 1] = b;       /* centre 0 */
		y[i] = (a > 0) == (b > 0) ? 1.0f : 0.0f;
		clcnn_normalize_apply(norm, x + i * F, F, 1, 1); /* one "channel" per feature */
	}
}

static int build_mlp(struct clcnn_graph *g)
{
	const int features[1] = {F};
	int rc = clcnn_graph_input(g, "x", 1, features);
	if (!rc)
		rc = clcnn_graph_input(g, "label", 0, NULL);
	if (!rc)
		rc = clcnn_graph_add(g, "fc1", "linear", "x", "out_features=32");
	if (!rc)
		rc = clcnn_graph_add(g, "act", "relu", NULL, NULL);
	if (!rc)
		rc = clcnn_graph_add(g, "fc2", "linear", NULL, "out_features=2");
	if (!rc)
		rc = clcnn_graph_add(g, "loss", "cross_entropy", "fc2, label", NULL);
	return rc;
}

/* Mean loss over the batches of x/y in eval mode, and the accuracy. */
static int evaluate(struct clcnn_graph *g, const float *x, const float *y, int n, double *loss, double *accuracy)
{
	float scores[BATCH * 2], l;
	int correct = 0;
	*loss = 0;
	for (int start = 0; start < n; start += BATCH) {
		if (clcnn_graph_set_input(g, "x", x + start * F) || clcnn_graph_set_input(g, "label", y + start) ||
		    clcnn_graph_forward(g, 0, 0) || clcnn_graph_read(g, "fc2", scores) || clcnn_graph_loss(g, &l))
			return -1;
		*loss += l / (n / BATCH);
		for (int i = 0; i < BATCH; i++)
			correct += (scores[2 * i + 1] > scores[2 * i]) == (y[start + i] > 0.5f);
	}
	*accuracy = (double)correct / n;
	return 0;
}

int main(void)
{
	static float x[N * F], y[N], xt[N_TEST * F], yt[N_TEST];
	/* the statistics of the distribution drawn (uniform: std = half-width / sqrt(3)) */
	struct clcnn_normalize norm;
	char err[4096] = "";
	if (clcnn_normalize_parse("20, 0", "5.7735, 0.57735", &norm, err, sizeof err))
		return fprintf(stderr, "features: %s\n", err), 1;
	uint64_t seed = 12345;
	draw(x, y, N, &seed, &norm);
	draw(xt, yt, N_TEST, &seed, &norm);

	struct clcnn_context *ctx = NULL;
	struct clcnn_graph *g = NULL;
	struct clcnn_trainer *tr = NULL;
	struct clcnn_optimizer_config opt;
	struct clcnn_schedule_config sched;
	clcnn_optimizer_defaults(&opt, CLCNN_OPT_ADAM);
	opt.lr = 0.01;
	clcnn_schedule_defaults(&sched, CLCNN_SCHED_CONSTANT);
	double loss0, loss, acc0, acc;
	int failed = 1;
	if (clcnn_context_open(&ctx, NULL, err, sizeof err))
		goto out;
	if (clcnn_graph_new(ctx, &g) || build_mlp(g) || clcnn_graph_build(g, BATCH) ||
	    clcnn_graph_init_params(g, 7, "default") || clcnn_trainer_new(g, &opt, &sched, 7, &tr) ||
	    evaluate(g, xt, yt, N_TEST, &loss0, &acc0))
		goto out;
	printf("before training: test loss %.4f, accuracy %.4f\n", loss0, acc0);
	for (int epoch = 0; epoch < EPOCHS; epoch++)
		for (int start = 0; start < N; start += BATCH)
			if (clcnn_graph_set_input(g, "x", x + start * F) ||
			    clcnn_graph_set_input(g, "label", y + start) || clcnn_trainer_step(tr, NULL))
				goto out;
	if (evaluate(g, xt, yt, N_TEST, &loss, &acc))
		goto out;
	printf("after %d epochs: test loss %.4f, accuracy %.4f\n", EPOCHS, loss, acc);
	failed = !(loss < loss0 / 3 && acc >= 0.95);
	if (failed)
		snprintf(err, sizeof err, "did not learn: loss %.4f -> %.4f, accuracy %.4f", loss0, loss, acc);
out:
	if (failed)
		fprintf(stderr, "features: %s\n", err[0] || !ctx ? err : clcnn_context_error(ctx));
	clcnn_trainer_free(tr);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	return failed;
}
