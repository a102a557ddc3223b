/*
 * Graphs: a DAG of named layer nodes, built from the C API or a netfile, run forward and backward
 * on the context's device through one in-order queue.
 *
 * Life of a graph:
 *   clcnn_graph_new / clcnn_graph_load  -> declare inputs and nodes
 *   clcnn_graph_build(g, batch)         -> shape inference, schedule, memory plan, device buffers;
 *                                          parameters are created (initialised by the seed given to
 *                                          clcnn_graph_init_params, PyTorch defaults otherwise)
 *   clcnn_graph_set_input / forward / backward / read ...
 * Building again with another batch size keeps parameter values.
 *
 * Parameter names are PyTorch state-dict keys: "<node>.weight", "<node>.bias",
 * "<node>.running_mean", "<node>.running_var", "<node>.num_batches_tracked".
 */
#ifndef CLCNN_GRAPH_H
#define CLCNN_GRAPH_H

#include "clcnn/clcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

struct clcnn_graph;

CLCNN_API int clcnn_graph_new(struct clcnn_context *ctx, struct clcnn_graph **out);
CLCNN_API void clcnn_graph_free(struct clcnn_graph *g);

/**
 * Declare a graph input with its per-sample shape (batch excluded): {1, 28, 28} for images,
 * ndim 0 for one class index per sample (stored as float), {10} for a target vector.
 */
CLCNN_API int clcnn_graph_input(struct clcnn_graph *g, const char *name, int ndim, const int *dims);

/**
 * Add node `name` of layer type `op` ("conv2d", "relu", ...). inputs: comma-separated names of
 * nodes or graph inputs; NULL or "" means the previously added node (or input). args: "k=v, ..."
 * with PyTorch names. Names are letters, digits and '_' (not starting with a digit), unique among
 * inputs and nodes. Duplicate names, unknown types, bad args and a wrong number of inputs fail
 * here with a message naming the node. Inputs may name nodes added later (any declaration order
 * works); unknown inputs, cycles and dangling nodes (reaching neither the loss nor the output) are
 * reported by clcnn_graph_build.
 *
 * Weight sharing: args "share=OWNER" (and no other key) make the node the layer OWNER, added
 * before and of the same type, applied to other inputs: it takes OWNER's arguments and
 * parameters, backward sums every user's gradient into them, and the parameters keep OWNER's
 * names. clcnn_graph_build fails when the node's inputs give parameters of other shapes.
 */
CLCNN_API int clcnn_graph_add(struct clcnn_graph *g, const char *name, const char *op, const char *inputs,
			      const char *args);

/** Parse a netfile (docs/netfile.md). Errors read "path:line:column: message". */
CLCNN_API int clcnn_graph_load(struct clcnn_context *ctx, const char *path, struct clcnn_graph **out);
/** Same from text; filename is only used in messages. */
CLCNN_API int clcnn_graph_parse(struct clcnn_context *ctx, const char *text, const char *filename,
				struct clcnn_graph **out);

/**
 * Ask for the gradient of graph input `input` (read with clcnn_graph_read_input_grad after
 * backward). Takes effect at the next clcnn_graph_build; without it no input gradient is computed.
 */
CLCNN_API int clcnn_graph_want_input_grad(struct clcnn_graph *g, const char *input);

/** The loss node (backward starts there; default: the last node whose type is a loss). */
CLCNN_API int clcnn_graph_set_loss(struct clcnn_graph *g, const char *node);
/** The prediction node used by eval/predict (default: the loss node's first input, else the last node). */
CLCNN_API int clcnn_graph_set_output(struct clcnn_graph *g, const char *node);
CLCNN_API const char *clcnn_graph_loss_name(const struct clcnn_graph *g);
CLCNN_API const char *clcnn_graph_output_name(const struct clcnn_graph *g);

/**
 * Shape inference (errors name the node and the shapes), cycle/dangling checks, topological
 * schedule, memory plan (buffers reused by liveness; activations backward needs are kept),
 * device allocation. Parameters are created on first build.
 */
CLCNN_API int clcnn_graph_build(struct clcnn_graph *g, int batch);
CLCNN_API int clcnn_graph_batch(const struct clcnn_graph *g);

/**
 * Device bytes the built plan allocates: the buffer pool of activations and their gradients,
 * parameters with their gradients, state, the shared workspace.
 */
CLCNN_API size_t clcnn_graph_peak_bytes(const struct clcnn_graph *g);

/**
 * Keep the output of `node` readable with clcnn_graph_read after forward and backward; NULL keeps
 * every node (and writes nothing in place: the memory of a plan without liveness, a debugging and
 * comparison switch that leaves every result bitwise the same). Without it the memory plan lets an
 * activation's buffer go to other tensors after its last reader (the forward of its consumers and
 * the backward of those that read it); graph inputs, the loss and the output node are always
 * kept. On a built graph the plan is made again at once (parameters stay; input and output
 * values are lost). Errors: no such node.
 */
CLCNN_API int clcnn_graph_keep(struct clcnn_graph *g, const char *node);

/**
 * Operator fusion on (default: the context's CLCNN_FUSE, on) or off: a batchnorm whose only reader
 * is a relu (or leaky_relu with slope >= 0) writes relu(y) itself and masks the gradient inside
 * its own backward, so the relu runs no pass; every result is bitwise the same either way. Not
 * where the batchnorm's output is kept (clcnn_graph_keep). On a built graph the plan is made again
 * at once, as clcnn_graph_keep does.
 */
CLCNN_API int clcnn_graph_set_fusion(struct clcnn_graph *g, int on);

/**
 * Build for inference only (1) or for training too (0, the default); takes effect at the next
 * clcnn_graph_build. A forward-only graph plans no backward: no gradient buffers for parameters or
 * activations, no loss seed, and every activation's buffer goes to other tensors after its last
 * forward reader, so it needs less device memory (clcnn_graph_plan_info) for the same outputs,
 * bitwise. The loss node stays: clcnn_graph_forward runs it (its label input must be set),
 * clcnn_graph_forward_to the output skips it. clcnn_graph_backward, clcnn_graph_loss and trainers
 * refuse the graph. Parameter values survive rebuilding either way.
 */
CLCNN_API int clcnn_graph_set_forward_only(struct clcnn_graph *g, int on);

/** The numbers of a built graph's memory plan (docs/cost.md, "Memory plan"). */
struct clcnn_graph_plan_info {
	size_t peak_bytes;        /**< clcnn_graph_peak_bytes: what is allocated */
	size_t forward_peak;      /**< largest live tensors during forward + parameters + state + workspace */
	size_t backward_peak;     /**< the same during backward, with parameter gradients (0 without a loss) */
	size_t step_peak;         /**< at the optimizer step: parameters + gradients + state + kept tensors */
	size_t pool_bytes;        /**< the buffer pool of activations and activation gradients */
	int pool_buffers;         /**< buffers in the pool */
	size_t all_values_bytes;  /**< every graph input and node output: what keeping everything costs */
	size_t kept_for_backward; /**< activations alive when backward starts */
	int inplace_nodes;        /**< nodes writing their output over their input */
	int fused_nodes;          /**< activations applied by their producer (operator fusion), no pass of their own */
};
CLCNN_API int clcnn_graph_plan_info(const struct clcnn_graph *g, struct clcnn_graph_plan_info *info);
/** Human-readable plan / DAG with shapes and parameter counts; *text is malloc'ed. */
CLCNN_API int clcnn_graph_describe(const struct clcnn_graph *g, int with_plan, char **text);
/** Graphviz DOT of the DAG; *text is malloc'ed. */
CLCNN_API int clcnn_graph_dot(const struct clcnn_graph *g, char **text);

/* ---- nodes and inputs */
CLCNN_API int clcnn_graph_node_count(const struct clcnn_graph *g);
/** Name, op type and output shape (with batch) of node i in schedule order. Strings owned by g. */
CLCNN_API int clcnn_graph_node_info(const struct clcnn_graph *g, int i, const char **name, const char **op, int *ndim,
				    int dims[CLCNN_MAX_DIMS]);
CLCNN_API int clcnn_graph_input_count(const struct clcnn_graph *g);
CLCNN_API int clcnn_graph_input_info(const struct clcnn_graph *g, int i, const char **name, int *ndim,
				     int dims[CLCNN_MAX_DIMS]);

/*
 * ---- what each node costs and sees (docs/cost.md)
 *
 * Work on a graph whose shapes are inferred: after clcnn_graph_build, which needs no device on a
 * context from clcnn_context_open_host. Before that they fail with CLCNN_ERR_INVALID.
 */

/** One node: its output, parameters, forward FLOPs and receptive field on the graph's image input. */
struct clcnn_node_cost {
	const char *name, *op; /**< owned by g */
	int ndim;              /**< output shape, batch included */
	int dims[CLCNN_MAX_DIMS];
	size_t params;      /**< elements of the node's parameters, buffers (running statistics) included */
	size_t trainable;   /**< of which trained */
	const char *shares; /**< the owner whose parameters the node uses (share=OWNER), else NULL */
	/**
	 * Forward FLOPs at the built batch in eval mode: a multiply-add counts 2 (conv2d, linear: bias
	 * adds not counted), every other arithmetic operation, comparison or elementary function 1,
	 * copies 0 (the table per layer is in docs/cost.md).
	 */
	double flops;
	/**
	 * Receptive field per spatial axis (0 = H, 1 = W) on the 4-D graph inputs (Araujo et al. 2019):
	 * rf_size input pixels seen by one output element, rf_jump input pixels between two adjacent
	 * output elements, rf_start the first input position seen by output element 0 (negative where
	 * it reaches into padding): output position p sees [p rf_jump + rf_start, ... + rf_size). A
	 * node that merges several inputs sees the union of their fields (and takes the largest jump).
	 * rf_whole[a]: every output element sees the whole input along axis a (global pooling, a linear
	 * layer after a flatten, a reduced loss); rf_size is then the input's size, rf_jump and rf_start
	 * 0. rf_known is 0 when the node depends on no 4-D graph input (a feature-vector model); all
	 * rf_* are 0 then.
	 */
	int rf_known;
	int rf_whole[2];
	long long rf_size[2], rf_jump[2], rf_start[2];
};
/** Cost of node i in schedule order (the order of clcnn_graph_node_info). */
CLCNN_API int clcnn_graph_node_cost(const struct clcnn_graph *g, int i, struct clcnn_node_cost *cost);

/** Totals of the graph: parameters once per tensor (not again for nodes that share them), FLOPs of all nodes. */
struct clcnn_graph_cost {
	size_t params, trainable;
	double flops;
};
CLCNN_API int clcnn_graph_total_cost(const struct clcnn_graph *g, struct clcnn_graph_cost *total);

/* ---- parameters */
struct clcnn_param_info {
	const char *name; /**< "<node>.<param>" */
	int ndim;         /**< 0 for scalars (num_batches_tracked) */
	int dims[CLCNN_MAX_DIMS];
	size_t count;
	int trainable; /**< 0 for buffers (running statistics) */
	int int64;     /**< stored as I64 in checkpoints */
};
CLCNN_API int clcnn_graph_param_count(const struct clcnn_graph *g);
CLCNN_API int clcnn_graph_param_info(const struct clcnn_graph *g, int i, struct clcnn_param_info *info);
CLCNN_API int clcnn_graph_param_find(const struct clcnn_graph *g, const char *name);
CLCNN_API int clcnn_graph_param_read(struct clcnn_graph *g, int i, float *dst);
CLCNN_API int clcnn_graph_param_write(struct clcnn_graph *g, int i, const float *src);
/** Gradient of trainable parameter i after backward. */
CLCNN_API int clcnn_graph_grad_read(struct clcnn_graph *g, int i, float *dst);

/**
 * (Re)initialise every parameter from seed: "default" = PyTorch's per-layer defaults;
 * "kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal" replace the weight
 * initialiser of conv/linear layers (biases and norms keep their defaults).
 */
CLCNN_API int clcnn_graph_init_params(struct clcnn_graph *g, uint64_t seed, const char *scheme);

/* ---- running */

/**
 * Copy batch x per-sample floats of input `name` to the device. Nodes that read the input directly
 * check it first: class indices of nll_loss/cross_entropy must be integers in 0..C-1 or the
 * ignore_index, else CLCNN_ERR_INVALID with a message naming the input, the sample (its index in
 * this batch), the value and the node ("input 'label': sample 17 has class 12, but node 'loss'
 * (cross_entropy) has 10 classes (0..9, or ignore_index -100)"); nothing is copied then.
 */
CLCNN_API int clcnn_graph_set_input(struct clcnn_graph *g, const char *name, const float *data);
/** Forward in training (1) or eval (0) mode; seed makes dropout/noise reproducible per step. */
CLCNN_API int clcnn_graph_forward(struct clcnn_graph *g, int train, uint32_t seed);
/**
 * Forward of `node` and of the nodes it depends on only (one branch of a Siamese model, a feature
 * map): each computes what clcnn_graph_forward would, with the same per-node randomness; the other
 * kept nodes (clcnn_graph_keep) keep their previous outputs, and clcnn_graph_backward is refused until a whole forward.
 */
CLCNN_API int clcnn_graph_forward_to(struct clcnn_graph *g, const char *node, int train, uint32_t seed);
/** Backward from the loss node (d loss = 1), after forward. Parameter gradients are overwritten. */
CLCNN_API int clcnn_graph_backward(struct clcnn_graph *g);
/**
 * Read a node's output (count = batch x per-sample) after forward. Blocks. Only values the plan
 * keeps (graph inputs, the loss, the output, clcnn_graph_keep) can be read; others fail with
 * CLCNN_ERR_INVALID naming the node.
 */
CLCNN_API int clcnn_graph_read(struct clcnn_graph *g, const char *node, float *dst);
/**
 * Read the gradient with respect to a graph input after backward (zeros when the loss does not
 * depend on it). Fails unless clcnn_graph_want_input_grad asked for it before the build. Blocks.
 */
CLCNN_API int clcnn_graph_read_input_grad(struct clcnn_graph *g, const char *input, float *dst);
/** Scalar value of the loss node after forward (the sum of its elements for reduction=none). Blocks. */
CLCNN_API int clcnn_graph_loss(struct clcnn_graph *g, float *loss);
/**
 * When on, every node's output is checked for NaN/Inf after forward/backward (slow); the first
 * node producing one fails the call with CLCNN_ERR_NUMERIC naming it.
 */
CLCNN_API void clcnn_graph_check_numerics(struct clcnn_graph *g, int on);

/**
 * Data parallelism: this graph's batch is samples first .. first + batch - 1 of a global batch
 * (default 0). Random layers (dropout, gaussian_noise) key their draws on the global element index,
 * so that members running parts of a batch draw what one process running all of it draws.
 */
CLCNN_API void clcnn_graph_set_sample_offset(struct clcnn_graph *g, uint32_t first);

/**
 * Per-node timing of forward and backward (blocking per node; for `clcnn bench`). Timings are in
 * schedule order; *timings is malloc'ed. Leaves outputs and gradients undefined.
 */
struct clcnn_node_timing {
	const char *name, *op, *algo;
	double forward_s, backward_s;
	double flops; /**< forward FLOPs of the node for the built batch (0 when not meaningful) */
};
CLCNN_API int clcnn_graph_profile(struct clcnn_graph *g, int iters, struct clcnn_node_timing **timings, int *n);

/** Hash of the graph's structure (nodes, types, args, shapes) for checkpoint compatibility. */
CLCNN_API uint64_t clcnn_graph_hash(const struct clcnn_graph *g);

/**
 * Weights only, for inference or fine-tuning (PyTorch state_dict layout, loads in torch with
 * safetensors.torch.load_file). meta_kv is NULL or a NULL-terminated list of key, value strings
 * stored as safetensors metadata; the file is written atomically (temp file, fsync, rename).
 * Loading checks every name, shape and dtype and reports all mismatches at once; extra
 * "optimizer.*" entries are ignored.
 */
CLCNN_API int clcnn_graph_save_weights(struct clcnn_graph *g, const char *path, const char *const *meta_kv);
CLCNN_API int clcnn_graph_load_weights(struct clcnn_graph *g, const char *path);

/*
 * ---- what a weights file says about the model's inputs
 *
 * A checkpoint (clcnn_trainer_save) or weights file (clcnn_graph_save_weights) carries string
 * metadata given by the caller as meta_kv; `clcnn train` writes the keys below, so that inference
 * normalises inputs as training did and prints class names. The functions reading them take the
 * path of a safetensors file and write a message naming the file into err (errlen bytes, may be
 * NULL) on failure: CLCNN_ERR_IO when it cannot be read, CLCNN_ERR_FORMAT when it is not
 * safetensors or a value is malformed, CLCNN_ERR_NO_MEMORY. A key that is absent is not an error.
 */
#define CLCNN_META_MEAN "clcnn.mean"       /**< per-channel means, comma-separated: "0.286", "0.485,0.456,0.406" */
#define CLCNN_META_STD "clcnn.std"         /**< per-channel standard deviations, as CLCNN_META_MEAN */
#define CLCNN_META_CLASSES "clcnn.classes" /**< JSON array of class names, index = class: ["cat","dog"] */
#define CLCNN_META_INPUT "clcnn.input"     /**< per-sample input shape, informative: "1x28x28", "8" */
/** the format of the training data, as clcnn_data_format_name: "idx", "imagefolder", "csv", ... */
#define CLCNN_META_FORMAT "clcnn.dataset_format"
/** how the training files stored a sample (struct clcnn_source_info.layout): "NCHW", "NHWC", "CSV", "files" */
#define CLCNN_META_LAYOUT "clcnn.input_layout"

/**
 * Value of metadata key in the weights file at path. On success *value is a malloc'ed copy (free()
 * it), or NULL when the key is absent.
 */
CLCNN_API int clcnn_weights_meta(const char *path, const char *key, char **value, char *err, size_t errlen);

/** Channels (or features of a feature vector) a normalisation holds one mean and std for. */
#define CLCNN_MAX_CHANNELS 64
/** Bytes that always hold one list of clcnn_normalize_format: 15 characters and a comma per value. */
#define CLCNN_NORMALIZE_TEXT_MAX (16 * CLCNN_MAX_CHANNELS + 1)

/**
 * Input normalisation x' = (x - mean[c]) / std[c], as torchvision's Normalize. channels is 0 for
 * none (the identity), 1 for one mean/std shared by every channel, else one pair per channel.
 */
struct clcnn_normalize {
	int channels;
	float mean[CLCNN_MAX_CHANNELS], std[CLCNN_MAX_CHANNELS];
};

/**
 * Parse comma-separated means and standard deviations ("0.485, 0.456, 0.406"). Both lists have the
 * same length (1..CLCNN_MAX_CHANNELS), or one of them has a single value used for every channel.
 * Values must be finite and std > 0; otherwise CLCNN_ERR_INVALID with a message in err.
 */
CLCNN_API int clcnn_normalize_parse(const char *mean, const char *std, struct clcnn_normalize *n, char *err,
				    size_t errlen);
/**
 * Format n as the values of CLCNN_META_MEAN and CLCNN_META_STD (the shortest decimals that read
 * back as the same floats) into mean and std, len bytes each (CLCNN_NORMALIZE_TEXT_MAX is always
 * enough).
 * CLCNN_ERR_INVALID when n has no channels or len is too small.
 */
CLCNN_API int clcnn_normalize_format(const struct clcnn_normalize *n, char *mean, char *std, size_t len);
/**
 * Read CLCNN_META_MEAN and CLCNN_META_STD of the weights file at path into *n; n->channels is 0 when
 * the file carries neither. Only one of them, or a malformed value, is CLCNN_ERR_FORMAT.
 */
CLCNN_API int clcnn_normalize_from_weights(const char *path, struct clcnn_normalize *n, char *err, size_t errlen);
/**
 * Normalise one sample of c planes of h x w floats in place. CLCNN_ERR_INVALID (nothing changed)
 * when n has several channels and they are not c. For a feature vector of F values pass c = F,
 * h = w = 1.
 */
CLCNN_API int clcnn_normalize_apply(const struct clcnn_normalize *n, float *chw, int c, int h, int w);

/**
 * Class names from a JSON array of strings (the value of CLCNN_META_CLASSES). On success *names is a
 * NULL-terminated array of *count strings (count may be NULL), freed with clcnn_classes_free.
 * CLCNN_ERR_FORMAT when json is not an array of strings.
 */
CLCNN_API int clcnn_classes_parse(const char *json, char ***names, int *count, char *err, size_t errlen);
/** The JSON array of count names for CLCNN_META_CLASSES; *json is malloc'ed (free() it). */
CLCNN_API int clcnn_classes_format(const char *const *names, int count, char **json);
/**
 * Class names stored in the weights file at path, as clcnn_classes_parse; *names is NULL and *count
 * 0 when the file has none.
 */
CLCNN_API int clcnn_classes_from_weights(const char *path, char ***names, int *count, char *err, size_t errlen);
/** Free a list of clcnn_classes_parse or clcnn_classes_from_weights; NULL is a no-op. */
CLCNN_API void clcnn_classes_free(char **names);

#ifdef __cplusplus
}
#endif
#endif
