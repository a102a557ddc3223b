/*
 * Train LeNet-5 on Fashion-MNIST through the public API: the graph built with clcnn_graph_add (the
 * same nodes as models/lenet5.net, so examples/infer.c runs the result with that netfile), the IDX
 * files read with clcnn_dataset_load, Adam, and a checkpoint that records the normalisation and the
 * class names.
 *
 *   train [DATA_DIR [CHECKPOINT [TRAIN_IMAGES [EPOCHS]]]]
 *
 * Defaults: /usr/share/datasets/fashion-mnist, lenet5.safetensors, all 60000 images, 2 epochs.
 * TRAIN_IMAGES limits the training set (and the test set to a fifth of it) for a quick run. Exits 1
 * when the test accuracy is below 65 %, which any working setup clears even on 2000 images.
 * Build: cc train.c $(pkg-config --cflags --libs clcnn clcnn-data)
 */
#include <stdio.h>
#include <stdlib.h>

#include <clcnn/clcnn.h>
#include <clcnn/data.h>
#include <clcnn/graph.h>
#include <clcnn/train.h>

#define BATCH 64
#define MEAN 0.2860f /* Fashion-MNIST's training set */
#define STD 0.3530f

/* LeNet-5 with ReLU and max pooling, as models/lenet5.net. */
static int build_lenet5(struct clcnn_graph *g)
{
	static const char *const nodes[][4] = {
		/* name, op, inputs ("" = the previous node), arguments */
		{"c1", "conv2d", "image", "out_channels=6, kernel_size=5, padding=2"},
		{"r1", "relu", "", ""},
		{"p1", "maxpool2d", "", "kernel_size=2"},
		{"c3", "conv2d", "", "out_channels=16, kernel_size=5"},
		{"r3", "relu", "", ""},
		{"p3", "maxpool2d", "", "kernel_size=2"},
		{"flat", "flatten", "", ""},
		{"fc5", "linear", "", "out_features=120"},
		{"r5", "relu", "", ""},
		{"fc6", "linear", "", "out_features=84"},
		{"r6", "relu", "", ""},
		{"fc7", "linear", "", "out_features=10"},
		{"loss", "cross_entropy", "fc7, label", ""},
	};
	const int image[3] = {1, 28, 28};
	int rc = clcnn_graph_input(g, "image", 3, image);
	if (!rc)
		rc = clcnn_graph_input(g, "label", 0, NULL);
	for (size_t i = 0; !rc && i < sizeof nodes / sizeof nodes[0]; i++)
		rc = clcnn_graph_add(g, nodes[i][0], nodes[i][1], nodes[i][2], nodes[i][3]);
	return rc;
}

/* Fraction of the first n test images (a multiple of BATCH) classified right, in eval mode. */
static int test_accuracy(struct clcnn_graph *g, const struct clcnn_dataset *test, int n, float *x, float *y,
			 double *accuracy)
{
	float scores[BATCH * 10];
	int correct = 0;
	for (int start = 0; start + BATCH <= n; start += BATCH) {
		clcnn_dataset_gather(test, NULL, start, BATCH, MEAN, STD, x, y);
		if (clcnn_graph_set_input(g, "image", x) || clcnn_graph_set_input(g, "label", y) ||
		    clcnn_graph_forward(g, 0, 0) || clcnn_graph_read(g, "fc7", scores))
			return -1;
		for (int i = 0; i < BATCH; i++) {
			int best = 0;
			for (int k = 1; k < 10; k++)
				best = scores[i * 10 + k] > scores[i * 10 + best] ? k : best;
			correct += best == (int)y[i];
		}
	}
	*accuracy = (double)correct / n;
	return 0;
}

/* The metadata clcnn predict, eval and examples/infer.c read back (see clcnn/graph.h). */
static int save(struct clcnn_trainer *tr, const char *path, int epoch)
{
	const struct clcnn_normalize norm = {1, {MEAN}, {STD}};
	char mean[64], std[64], *classes = NULL;
	int rc = clcnn_normalize_format(&norm, mean, std, sizeof mean);
	if (!rc)
		rc = clcnn_classes_format(clcnn_dataset_fashion_mnist_classes(), 10, &classes);
	const char *meta[] =
		{CLCNN_META_MEAN, mean, CLCNN_META_STD, std, CLCNN_META_INPUT, "1x28x28", CLCNN_META_CLASSES,
		 classes,         NULL};
	if (!rc)
		rc = clcnn_trainer_save(tr, path, epoch, meta);
	free(classes);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
	const char *out = argc > 2 ? argv[2] : "lenet5.safetensors";
	int limit = argc > 3 ? atoi(argv[3]) : 0, epochs = argc > 4 ? atoi(argv[4]) : 2;
	char err[4096] = "";
	struct clcnn_context *ctx = NULL;
	struct clcnn_graph *g = NULL;
	struct clcnn_trainer *tr = NULL;
	struct clcnn_dataset train = {0}, test = {0};
	float *x = NULL, *y = NULL;
	int *perm = NULL, failed = 1;
	double accuracy = 0;

	if (clcnn_dataset_load(dir, "train", 10, &train, err, sizeof err) ||
	    clcnn_dataset_load(dir, "t10k", 10, &test, err, sizeof err))
		goto out;
	int n = limit > 0 && limit < train.n ? limit : train.n;
	int n_test = (limit > 0 && limit / 5 < test.n ? limit / 5 : test.n) / BATCH * BATCH;
	x = malloc((size_t)BATCH * 28 * 28 * sizeof *x);
	y = malloc(BATCH * sizeof *y);
	perm = malloc((size_t)train.n * sizeof *perm);
	if (!x || !y || !perm || n < BATCH || n_test < BATCH || epochs < 1) {
		snprintf(err, sizeof err, "out of memory, or fewer than %d images or no epochs to train", BATCH);
		goto out;
	}

	struct clcnn_optimizer_config opt;
	struct clcnn_schedule_config sched;
	clcnn_optimizer_defaults(&opt, CLCNN_OPT_ADAM);
	opt.lr = 0.003; /* higher than the default 0.001: a few epochs should get somewhere */
	clcnn_schedule_defaults(&sched, CLCNN_SCHED_CONSTANT);
	if (clcnn_context_open(&ctx, NULL, err, sizeof err))
		goto out;
	if (clcnn_graph_new(ctx, &g) || build_lenet5(g) || clcnn_graph_build(g, BATCH) ||
	    clcnn_graph_init_params(g, 1, "default") || clcnn_trainer_new(g, &opt, &sched, 1, &tr))
		goto out;

	for (int epoch = 1; epoch <= epochs; epoch++) {
		/* the trainer keeps the shuffling state, so a resumed run would shuffle alike */
		uint64_t rng = clcnn_trainer_rng(tr);
		clcnn_dataset_shuffle(perm, n, &rng);
		clcnn_trainer_set_rng(tr, rng);
		double loss_sum = 0;
		int steps = n / BATCH;
		for (int s = 0; s < steps; s++) {
			float loss;
			clcnn_dataset_gather(&train, perm, s * BATCH, BATCH, MEAN, STD, x, y);
			if (clcnn_graph_set_input(g, "image", x) || clcnn_graph_set_input(g, "label", y) ||
			    clcnn_trainer_step(tr, &loss))
				goto out;
			loss_sum += loss;
		}
		if (test_accuracy(g, &test, n_test, x, y, &accuracy) || save(tr, out, epoch))
			goto out;
		printf("epoch %d: train loss %.4f, test accuracy %.4f (%d images)\n", epoch, loss_sum / steps, accuracy,
		       n_test);
		fflush(stdout);
	}
	printf("saved %s\n", out);
	failed = accuracy < 0.65;
	if (failed)
		snprintf(err, sizeof err, "test accuracy %.4f is below 0.65: something is wrong", accuracy);
out:
	if (failed)
		fprintf(stderr, "train: %s\n", err[0] || !ctx ? err : clcnn_context_error(ctx));
	free(x);
	free(y);
	free(perm);
	clcnn_trainer_free(tr);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	clcnn_dataset_free(&train);
	clcnn_dataset_free(&test);
	return failed;
}
