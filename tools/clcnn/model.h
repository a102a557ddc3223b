/* What the data-facing subcommands share: a model loaded from a netfile and its evaluation. */
#ifndef CLCNN_CLI_MODEL_H
#define CLCNN_CLI_MODEL_H
#include "clcnn/graph.h"
#include "clcnn/train.h"
#include "io/dataset.h"

#define CLI_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
/* Fashion-MNIST's statistics: train's defaults, and the fallback for weights without metadata. */
#define CLI_DEFAULT_MEAN "0.2860"
#define CLI_DEFAULT_STD "0.3530"

struct cli_model {
	struct clcnn_context *ctx;
	struct clcnn_graph *g;
	const char *image; /* name of the image input (per-sample C x H x W) */
	const char *label; /* name of the class-index input, or NULL */
	int c, h, w, classes, batch;
};

/*
 * Open a context, load and build the netfile for batch; prints "clcnn CMD: ..." on failure.
 * input_grads: also compute gradients of the graph's non-scalar inputs (clcnn run --backward).
 */
int cli_model_open(const char *cmd, const char *netfile, int batch, struct cli_model *m);
int cli_model_open_ex(const char *cmd, const char *netfile, int batch, int input_grads, struct cli_model *m);
void cli_model_close(struct cli_model *m);
/* Check that the dataset's images fit the model input; prints an error naming both. */
int cli_model_check_data(const char *cmd, const struct cli_model *m, const struct clcnn_dataset *d, const char *dir);

/* How a command feeds a model and names its outputs (from a weights file, see cli_inputs_read). */
struct cli_inputs {
	struct clcnn_normalize norm;
	char **classes; /* one name per model class, or NULL */
};

/*
 * norm: --mean and --std where given (each may be NULL), else the metadata of the weights file, else
 * Fashion-MNIST's statistics, with one warning naming the file when weights is not NULL. classes:
 * the file's class names when it has one per model class (else NULL, with a warning when it has
 * another number). Prints errors: CLI_USAGE for bad --mean/--std, CLI_ERROR for a bad file.
 */
int cli_inputs_read(const char *cmd, const struct cli_model *m, const char *weights, const char *mean, const char *std,
		    struct cli_inputs *in);
void cli_inputs_free(struct cli_inputs *in);

/*
 * Evaluate on d in eval mode, inputs normalised by norm: accuracy, and when confusion is non-NULL the
 * classes x classes matrix (rows = true class). loss receives the mean loss when the graph has one.
 * Returns 0, or a status after printing "clcnn CMD: ..." (context error or out of memory).
 */
int cli_evaluate(const char *cmd, struct cli_model *m, const struct clcnn_dataset *d,
		 const struct clcnn_normalize *norm, double *accuracy, double *loss, long *confusion);
#endif
