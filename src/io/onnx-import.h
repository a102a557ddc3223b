/*
 * ONNX import, internal: an ONNX graph (struct onnx_model) translated to netfile text plus the
 * parameter values taken from its initializers. Shared by onnx-import.c (entry points, values,
 * constant folding, netfile text, weights) and onnx-import-ops.c (one mapping per operator).
 *
 * Every ONNX tensor name gets a value: a constant (initializer, Constant node, or a folded shape
 * computation), a runtime tensor (a clcnn graph input or node, with its static shape; dim 0 is the
 * batch), or a pattern half-matched (a zero Pad waiting for its pooling, a MatMul waiting for its
 * bias, the steps of GELU's erf form). A pattern half becomes a node or an error when something
 * else reads it.
 */
#ifndef CLCNN_ONNX_IMPORT_H
#define CLCNN_ONNX_IMPORT_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "io/onnx.h"

/* double -> float without the undefined behaviour of an out-of-range conversion: +-inf instead */
static inline float imp_to_float(double d)
{
	return d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
}

/* The batch dimension inside a folded shape constant (Shape of a runtime tensor, dim 0). */
#define ONNX_IMP_BATCH INT64_MIN

enum onnx_imp_kind {
	IMP_CONST,
	IMP_RUNTIME,
	IMP_PAD,    /* a constant-zero Pad of src: pads[4] = top, left, bottom, right */
	IMP_MATMUL, /* MatMul(src, W): w = W transposed, [out, in] */
	IMP_GELU1,  /* src / sqrt(2) */
	IMP_GELU2,  /* erf(src / sqrt(2)) */
	IMP_GELU3,  /* 1 + erf(...) */
	IMP_GELU4,  /* src * (1 + erf(...)) */
	IMP_HALF,   /* src * 0.5 */
	IMP_UNUSED, /* an output clcnn does not compute (BatchNormalization's running stats, a mask) */
};

struct onnx_imp_val {
	char *onnx; /* the ONNX tensor name */
	int kind;
	int ndim;
	int64_t dims[ONNX_MAX_DIMS]; /* runtime: dims[0] is the batch (-1); const: the tensor's */
	/* IMP_CONST: count values, int64 (is_int) or float; ONNX_IMP_BATCH may appear in i */
	int is_int;
	size_t count;
	int64_t *i;
	float *f;
	/* IMP_RUNTIME: the clcnn input or node name */
	char *node;
	/* patterns */
	int src; /* value index of the runtime input */
	int64_t pads[4];
	float *w;
	int64_t wout, win;
	int from; /* ONNX node index that made it (-1: a graph input or initializer) */
};

struct onnx_imp_weight {
	char *name;
	int int64;
	int ndim;
	int64_t dims[4];
	size_t count;
	float *data;
};

struct onnx_imp {
	char *err;
	size_t errlen;
	const char *file;
	const struct onnx_model *m;
	const struct onnx_graph *g;
	int64_t opset;
	int64_t export_batch; /* dim 0 of the data input when the export fixed it, else -1 */
	struct onnx_imp_val *vals;
	int nvals, capvals;
	char **names; /* clcnn names in use */
	int nnames, capnames;
	char *text;
	size_t len, cap;
	int nomem;
	struct onnx_imp_weight *w;
	int nw, capw;
	char **outs; /* per graph output */
};

/* The result: netfile text and parameter values (struct onnx_imp_weight), owned by the caller. */
struct onnx_import_result {
	char *text;
	struct onnx_imp_weight *w;
	int nw;
	char **outputs; /* the clcnn node computing each ONNX graph output, NULL when none does */
	int noutputs;
	char **meta; /* metadata_props keys "clcnn.*" and their values, key, value, ... (2 * nmeta) */
	int nmeta;
};

/*
 * Translate m (read from file, used in messages). Errors in err: CLCNN_ERR_FORMAT (what the model
 * says cannot be imported), CLCNN_ERR_NO_MEMORY.
 */
int onnx_import_model(const struct onnx_model *m, const char *file, struct onnx_import_result *out, char *err,
		      size_t errlen);
void onnx_import_result_free(struct onnx_import_result *r);
/* Write r's weights as safetensors (BatchNorm's num_batches_tracked as I64 0, r's meta as metadata). */
int onnx_import_write_weights(const struct onnx_import_result *r, const char *path, char *err, size_t errlen);
/* clcnn_graph_load's ".onnx" branch: the graph, its parameters pending until the first build. */
struct clcnn_context;
struct clcnn_graph;
int onnx_graph_load(struct clcnn_context *ctx, const char *path, struct clcnn_graph **out);
/* A netfile identifier for an ONNX name: [A-Za-z0-9_], not starting with a digit, never empty. */
void onnx_import_sanitize(const char *name, char *buf, size_t len);

/* onnx-import.c, for the op mappings */
int imp_fail(struct onnx_imp *im, const struct onnx_node *n, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
int imp_nomem(struct onnx_imp *im);
/* Value of an ONNX tensor name, -1 when unknown (reported with the node). */
int imp_find(struct onnx_imp *im, const char *onnx);
/* How many node inputs and graph outputs read the ONNX tensor onnx. */
int imp_consumers(const struct onnx_imp *im, const char *onnx);
/* Add a value named onnx (replacing nothing: SSA); returns its index or -1 (out of memory). */
int imp_add(struct onnx_imp *im, const char *onnx, int kind, int from);
/* Input k of n as a value: fails naming the node when it is missing or unknown. */
int imp_input(struct onnx_imp *im, const struct onnx_node *n, int k, int *v);
/* Input k as a runtime value: materialises a pending MatMul, refuses other pattern halves. */
int imp_runtime(struct onnx_imp *im, const struct onnx_node *n, int k, int *v);
/* Input k as a constant (an initializer, Constant or folded value). */
int imp_const(struct onnx_imp *im, const struct onnx_node *n, int k, int *v);
/* Append printf text to the netfile. */
void imp_printf(struct onnx_imp *im, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* A unique clcnn node name for n (its weight's module path when it has one, else its ONNX name). */
const char *imp_name(struct onnx_imp *im, const struct onnx_node *n, const char *weight);
/* Start "name = op(in, ..." for node n; the caller adds ", key=value" items and calls imp_end. */
void imp_begin(struct onnx_imp *im, const char *name, const char *op, const int *ins, int nins);
void imp_end(struct onnx_imp *im, const struct onnx_node *n);
/* Set value v (from imp_add) to the runtime node `name` of shape dims. */
int imp_set_runtime(struct onnx_imp *im, int v, const char *name, const int64_t *dims, int ndim);
/* Add a parameter "<node>.<what>" (data copied, count floats). */
int imp_weight(struct onnx_imp *im, const char *node, const char *what, const float *data, const int64_t *dims,
	       int ndim, int int64);
/* Float attributes / int attributes with defaults. */
float imp_attr_f(const struct onnx_node *n, const char *name, float def);
int64_t imp_attr_i(const struct onnx_node *n, const char *name, int64_t def);
/* A STRING attribute ("" when it has no bytes), NULL when absent or of another type. */
const char *imp_attr_s(const struct onnx_node *n, const char *name);
/* Up to max ints of attribute name into v; returns the count, 0 when absent. */
int imp_attr_ints(const struct onnx_node *n, const char *name, int64_t *v, int max);
/* Float value of constant v at index k (int constants converted). */
double imp_cval(const struct onnx_imp_val *v, size_t k);

/* The shortest decimal reading back as the float (float)v, in buf. */
const char *imp_fmt(double v, char *buf, size_t len);
/* onnx-import-ops.c helpers shared with onnx-import-fold.c */
const char *imp_shape_str(const int64_t *d, int nd, char *buf, size_t len);
int imp_alias(struct onnx_imp *im, const struct onnx_node *n, int k, int v);
int imp_new_const(struct onnx_imp *im, const char *onnx, int from, int is_int, const int64_t *dims, int ndim,
		  const int64_t *i, const float *f);
int imp_unary(struct onnx_imp *im, const struct onnx_node *n, int k, const char *op, const char *keys);
int imp_runtime_out(struct onnx_imp *im, const struct onnx_node *n, int k, const char *name, const int64_t *dims,
		    int ndim);
int imp_flatten(struct onnx_imp *im, const struct onnx_node *n, int k, int x);
/* Flatten (axis 1 only: clcnn keeps the batch dim) */
int imp_map_flatten(struct onnx_imp *im, const struct onnx_node *n, int k);
/* onnx-import-fold.c: shape computations and arithmetic patterns; *handled = 0 for other op types */
int imp_map_shape_op(struct onnx_imp *im, const struct onnx_node *n, int k, int *handled);
int imp_map_arith(struct onnx_imp *im, const struct onnx_node *n, int k, int *handled);
/* An ONNX tensor (Constant's value) as a constant value named onnx. */
int imp_add_tensor(struct onnx_imp *im, const char *onnx, const struct onnx_tensor *t, int from);

/* Softmax / LogSoftmax (op "softmax", "logsoftmax", or "softmin" for a Softmax of Neg(x)) */
int imp_map_softmax(struct onnx_imp *im, const struct onnx_node *n, int k, const char *op);
/* onnx-import-patterns.c: the exporter's decompositions (blur pooling, SiLU, ...) starting at node
 * k read back as one layer; *used = the nodes it took (0: no pattern, map node k alone). */
int imp_match_pattern(struct onnx_imp *im, int k, int *used);

/* onnx-import-ops.c: map node index k; 0 or an error already in im->err. */
int imp_map_node(struct onnx_imp *im, int k);
/* The supported op types, comma-separated. */
extern const char onnx_imp_supported[];

#endif
