/* What the data-facing subcommands share: a model loaded from a netfile and its evaluation. */
#ifndef CLCNN_CLI_MODEL_H
#define CLCNN_CLI_MODEL_H
#include "clcnn/data.h"
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
	/* the data input: the first image input (per-sample C x H x W, nd 3), else the first feature
	 * vector (per-sample F, nd 1: c = F, h = w = 1) */
	const char *image;
	const char *label; /* name of the class-index input, or NULL */
	int nd, c, h, w, classes, batch;
};

/*
 * Open a context, load and build the netfile for batch; prints "clcnn CMD: ..." on failure.
 * input_grads: also compute gradients of the graph's non-scalar inputs (clcnn run --backward).
 */
int cli_model_open(const char *cmd, const char *netfile, int batch, struct cli_model *m);
int cli_model_open_ex(const char *cmd, const char *netfile, int batch, int input_grads, struct cli_model *m);
/* The same on the device CLCNN_DEVICE=device would choose (NULL: the environment's). */
int cli_model_open_on(const char *cmd, const char *netfile, int batch, const char *device, struct cli_model *m);
int cli_model_open_dev(const char *cmd, const char *netfile, int batch, int input_grads, const char *device,
		       struct cli_model *m);
/* For inference only (predict, bench --inference): built forward-only, no gradient buffers. */
int cli_model_open_forward(const char *cmd, const char *netfile, int batch, struct cli_model *m);
void cli_model_close(struct cli_model *m);
/*
 * 1 when path names an ONNX model (".onnx"): its weights come with it (no --weights needed, and no
 * initialisation may overwrite them). cli_model_open gives such a model, for train, eval and bench, a
 * class-index input "label" and "loss = cross_entropy(<output>, label)": an export has no loss.
 */
int cli_model_is_onnx(const char *path);
/*
 * A .onnx model's normalisation (metadata_props clcnn.mean and clcnn.std, as a clcnn export writes
 * them) into mean and std (len bytes each) when *mean and *std are NULL (not given on the command
 * line) and the model has both; then points *mean and *std at them. Errors are left to the load.
 */
void cli_onnx_normalize(const char *path, const char **mean, const char **std, char *mbuf, char *sbuf, size_t len);
/* CLI_OK when every graph input is the data or the label input; else prints why and CLI_ERROR. */
int cli_model_check_inputs(const char *cmd, const struct cli_model *m, const char *netfile);
/* The layer type of the model's loss node ("cross_entropy", "triplet_margin_loss", ...), or "" without one. */
const char *cli_model_loss_op(const struct cli_model *m);
/* "1x28x28" or "8": the per-sample shape of the model's data input (buf of len bytes). */
void cli_model_shape(const struct cli_model *m, char *buf, size_t len);

/* Where a command's data comes from: --data, --format, --val-split, --label-column, --resize, --layout. */
struct cli_data_opts {
	const char *path, *format, *label_column, *resize, *layout;
	double val_split;
};
/* The data flags every data-reading command takes: entries of a struct cli_flag table. */
/* clang-format off */
#define CLI_DATA_FLAGS(d) \
	{"data", FLAG_STR, &(d).path, 0, 0, " PATH", \
	 "dataset: a folder of IDX, CIFAR or CSV files or of images (DIR/train/CLASS/*.png), or a CSV file" \
	 " (default " CLI_DEFAULT_DATA ")"}, \
	{"format", FLAG_STR, &(d).format, 0, 0, " NAME", \
	 "auto | idx | imagefolder | cifar10 | cifar100 | csv (default auto: detected)"}, \
	{"val-split", FLAG_DOUBLE, &(d).val_split, 0, 0.99, NULL, \
	 "hold out this fraction of the training split as the test split (a fixed permutation)"}, \
	{"label-column", FLAG_STR, &(d).label_column, 0, 0, " COL", \
	 "CSV: the label column, a header name or 0-based index (default the last)"}, \
	{"resize", FLAG_STR, &(d).resize, 0, 0, " HOW", \
	 "image folders: stretch (default) or crop (the centered square) to the model's input"}, \
	{"layout", FLAG_STR, &(d).layout, 0, 0, " HOW", \
	 "4-D IDX images: nhwc | nchw | auto (default: NCHW when dimension 1 looks like channels)"}
/* clang-format on */
/* Defaults of struct cli_data_opts (before parsing). */
void cli_data_defaults(struct cli_data_opts *d);
/*
 * Open split ("train" or "test") of the data for model m: images decoded to the model's input shape,
 * checked against it (shape, kind, labels < the model's classes). Prints "clcnn CMD: ..." and returns
 * CLI_USAGE (bad --format/--resize) or CLI_ERROR; CLI_OK with *out.
 */
int cli_source_open(const char *cmd, const struct cli_model *m, const struct cli_data_opts *d, const char *split,
		    struct clcnn_source **out);

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
/*
 * As cli_inputs_read, with fallback (described by what, e.g. "the statistics of the training set")
 * instead of Fashion-MNIST's statistics when the weights carry none (or weights is NULL), without a
 * warning.
 */
int cli_inputs_read_ex(const char *cmd, const struct cli_model *m, const char *weights, const char *mean,
		       const char *std, const struct clcnn_normalize *fallback, struct cli_inputs *in);
void cli_inputs_free(struct cli_inputs *in);

/*
 * Evaluate in eval mode on the first n samples of the loader's source, in order (a loader of batch
 * m->batch that normalises and does not augment): accuracy, and when confusion is non-NULL the
 * classes x classes matrix (rows = true class). loss receives the mean loss over the n samples when
 * the graph has one (NAN when it cannot be had, see model.c). Returns 0, or a status after printing
 * "clcnn CMD: ..." (read error, context error or out of memory).
 */
int cli_evaluate(const char *cmd, struct cli_model *m, struct clcnn_loader *l, int n, double *accuracy, double *loss,
		 long *confusion);
#endif
