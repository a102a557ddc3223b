/*
 * Classify image files with a trained model, as `clcnn predict` does, through the public API only:
 *
 *   infer models/lenet5.net lenet5.safetensors shirt.png boot.pgm
 *
 * The checkpoint says how the model wants its inputs normalised and what its classes are called
 * (`clcnn train` and examples/train.c store both); the netfile's first input is the image.
 * Prints "FILE: CLASS NAME" per image (just the class index when the checkpoint names none).
 * Build: cc infer.c $(pkg-config --cflags --libs clcnn clcnn-data)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clcnn/clcnn.h>
#include <clcnn/data.h>
#include <clcnn/graph.h>
#include <clcnn/train.h>

/* Classes of the output node: its size per sample. */
static int output_size(const struct clcnn_graph *g)
{
	for (int i = 0; i < clcnn_graph_node_count(g); i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_node_info(g, i, &name, &op, &nd, dims);
		if (!strcmp(name, clcnn_graph_output_name(g)))
			return nd == 2 ? dims[1] : 0;
	}
	return 0;
}

/* Inputs other than the image (a class label for the loss) need some value: 0 does. */
static int zero_labels(struct clcnn_graph *g)
{
	static const float zero = 0;
	for (int i = 0; i < clcnn_graph_input_count(g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(g, i, &name, &nd, dims);
		if (nd == 0 && clcnn_graph_set_input(g, name, &zero))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s NETFILE CHECKPOINT IMAGE...\n", argv[0]);
		return 2;
	}
	char err[4096] = "";
	struct clcnn_context *ctx = NULL;
	struct clcnn_graph *g = NULL;
	struct clcnn_normalize norm;
	char **names = NULL;
	float *x = NULL, *scores = NULL;
	const char *image;
	int nd, dims[CLCNN_MAX_DIMS], failed = 1;

	/* the model, its weights, and what the checkpoint says about its inputs and outputs */
	if (clcnn_context_open(&ctx, NULL, err, sizeof err))
		goto out;
	if (clcnn_graph_load(ctx, argv[1], &g) || clcnn_graph_build(g, 1) || clcnn_graph_load_weights(g, argv[2]))
		goto out;
	if (clcnn_normalize_from_weights(argv[2], &norm, err, sizeof err) ||
	    clcnn_classes_from_weights(argv[2], &names, NULL, err, sizeof err))
		goto out;
	clcnn_graph_input_info(g, 0, &image, &nd, dims); /* C x H x W */
	int classes = output_size(g);
	if (nd != 3 || classes < 1) {
		snprintf(err, sizeof err, "%s: expected an image input and class scores", argv[1]);
		goto out;
	}
	x = malloc((size_t)dims[0] * (size_t)dims[1] * (size_t)dims[2] * sizeof *x);
	scores = malloc((size_t)classes * sizeof *scores);
	if (!x || !scores) {
		snprintf(err, sizeof err, "out of memory");
		goto out;
	}

	for (int i = 3; i < argc; i++) {
		/* decode + resize, normalise as in training, run, take the best score */
		if (clcnn_image_load(argv[i], dims[0], dims[1], dims[2], x, err, sizeof err) ||
		    clcnn_normalize_apply(&norm, x, dims[0], dims[1], dims[2]))
			goto out;
		if (clcnn_graph_set_input(g, image, x) || zero_labels(g) || clcnn_graph_forward(g, 0, 0) ||
		    clcnn_graph_read(g, clcnn_graph_output_name(g), scores))
			goto out;
		int best = 0;
		for (int k = 1; k < classes; k++)
			best = scores[k] > scores[best] ? k : best;
		printf("%s: %d%s%s\n", argv[i], best, names ? " " : "", names ? names[best] : "");
	}
	failed = 0;
out:
	if (failed)
		fprintf(stderr, "infer: %s\n", err[0] || !ctx ? err : clcnn_context_error(ctx));
	free(x);
	free(scores);
	clcnn_classes_free(names);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	return failed;
}
