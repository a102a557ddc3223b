/*
 * Export of a built graph to ONNX, shared by the driver (onnx-export.c: which nodes, inputs, outputs,
 * weights, metadata) and the per-layer mappings (onnx-export-ops.c). Tensor names: a graph input or
 * node output keeps its clcnn name, a parameter its state-dict name ("c1.weight"), and a tensor made
 * by a decomposition is "<node>/<what>" (a '/' cannot occur in a clcnn name, so none collide).
 */
#ifndef CLCNN_GRAPH_ONNX_EXPORT_H
#define CLCNN_GRAPH_ONNX_EXPORT_H

#include "graph/graph-private.h"
#include "io/onnx.h"

/* Room for any tensor name: the driver refuses clcnn names longer than EX_NAME_MAX - 64, which
 * leaves room for the longest "/<what>" suffix and a state-dict suffix. */
#define EX_NAME_MAX 320

struct onnx_export {
	struct clcnn_graph *g;
	struct onnx_model *m;
	struct onnx_graph *og;
	const char *path; /* for messages */
	int opset, training;
	int node;                  /* the clcnn node being mapped */
	int status;                /* first failure (0 none); the message is in g->ctx */
	char name[8][EX_NAME_MAX]; /* ring of ex_tmp results */
	int next_name;
};

/* Map node i of ex->g (inputs already emitted under their value names). 0 or a status. */
int onnx_export_node(struct onnx_export *ex, int i);

/* ---- helpers for the mappings; each records the first failure in ex->status */

/*
 * "<node>/<what>" of the current node, in the next of 8 buffers: valid for the next 7 calls, so
 * a mapping names a tensor again by calling ex_tmp with the same what.
 */
const char *ex_tmp(struct onnx_export *ex, const char *what);
/* Name of the tensor holding value v (a graph input or a node output). */
const char *ex_value(const struct onnx_export *ex, int v);
/* Input j of the current node. */
const char *ex_in(const struct onnx_export *ex, int j);
/* Output name of the current node. */
const char *ex_out(const struct onnx_export *ex);
/* A node of op_type with one output; NULL after a failure. */
struct onnx_node *ex_op(struct onnx_export *ex, const char *op_type, const char *out, const char *const *in, int nin);
struct onnx_node *ex_op1(struct onnx_export *ex, const char *op_type, const char *out, const char *in);
struct onnx_node *ex_op2(struct onnx_export *ex, const char *op_type, const char *out, const char *a, const char *b);
void ex_attr_int(struct onnx_export *ex, struct onnx_node *n, const char *name, int64_t v);
void ex_attr_float(struct onnx_export *ex, struct onnx_node *n, const char *name, float v);
void ex_attr_string(struct onnx_export *ex, struct onnx_node *n, const char *name, const char *v);
void ex_attr_ints(struct onnx_export *ex, struct onnx_node *n, const char *name, const int64_t *v, int count);
/* Float initializer of dims; a 0-dim scalar when ndim is 0. */
void ex_init_f(struct onnx_export *ex, const char *name, const int64_t *dims, int ndim, const float *data);
void ex_scalar(struct onnx_export *ex, const char *name, float v);
void ex_init_bool(struct onnx_export *ex, const char *name, int v);
void ex_init_i64(struct onnx_export *ex, const char *name, const int64_t *dims, int ndim, const int64_t *data);
/*
 * Parameter j of the current node as an initializer under its state-dict name, reshaped to dims
 * (same count) when ndim >= 0 (else its own shape); flip180 rotates each kh x kw plane of a 4-D
 * weight (a clcnn conv with flip=true is a cross-correlation with the rotated kernel). Returns the
 * name, or NULL after a failure.
 */
const char *ex_param(struct onnx_export *ex, int j, const int64_t *dims, int ndim, int flip180);
/* Record CLCNN_ERR_NO_MEMORY (once) and return the status. */
int ex_nomem(struct onnx_export *ex);
/* Fail naming the file, the node and its layer. */
int ex_refuse(struct onnx_export *ex, const char *fmt, ...) CLCNN_PRINTF(2, 3);

/* Typed arguments of an op by key (the key table of its class; a missing key reads as 0). */
int ex_arg_int(const struct clcnn_op *op, const char *key);
double ex_arg_float(const struct clcnn_op *op, const char *key);
const int *ex_arg_int2(const struct clcnn_op *op, const char *key);

#endif
