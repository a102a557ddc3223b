/*
 * ONNX interchange: import an ONNX model (opsets 7-17, what PyTorch 1.13 exports by default) as a
 * clcnn netfile and weights, or load it directly as a graph; export a built clcnn graph to ONNX.
 * Part of libclcnn (no extra dependency: the protobuf wire format is read and written by clcnn).
 */
#ifndef CLCNN_ONNX_API_H
#define CLCNN_ONNX_API_H

#include "clcnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Import the ONNX model at onnx_path: write a readable netfile (node names from the ONNX graph,
 * sanitised) to netfile_out and its weights (safetensors, PyTorch state-dict names where they can be
 * recovered; "clcnn.*" metadata_props as metadata) to weights_out; either may be NULL to skip it.
 * Nothing is written unless the whole model imports. An unsupported operator is an error naming
 * the node, the op type, the opset and the supported ops. Errors (CLCNN_ERR_IO, CLCNN_ERR_FORMAT,
 * CLCNN_ERR_NO_MEMORY) go to ctx's message. Needs no device: a host context will do.
 */
CLCNN_API int clcnn_onnx_import(struct clcnn_context *ctx, const char *onnx_path, const char *netfile_out,
				const char *weights_out);

/**
 * clcnn_graph_load accepts a ".onnx" file as well as a netfile; the model's initializers become the
 * graph's parameters once it is built (clcnn_graph_build), as if loaded with clcnn_graph_load_weights.
 */

struct clcnn_onnx_export_options {
	int opset;                 /**< 0: 14 (PyTorch 1.13's default); 13..17 */
	int training;              /**< BatchNormalization training_mode (opset 14+), live Dropout and noise */
	const char *const *meta;   /**< NULL-terminated key, value, ... pairs for metadata_props, or NULL */
};

/**
 * Export the built graph g (its current parameters) to path as ONNX, batch dimension symbolic ("N").
 * Every clcnn layer maps to ONNX operators (a layer without an equivalent as its decomposition, or
 * refused naming the node and the layer). Loss nodes and label inputs are left out: the ONNX graph
 * ends at the graph's output (by default the loss's input). Parameters become initializers under
 * their state-dict names; opt may be NULL (opset 14, eval, no metadata). Written atomically.
 * Errors: CLCNN_ERR_INVALID (not built, opset outside 13..17, a refused layer), CLCNN_ERR_IO,
 * CLCNN_ERR_NO_MEMORY, or the status of reading a parameter from the device.
 */
CLCNN_API int clcnn_graph_export_onnx(struct clcnn_graph *g, const char *path,
				      const struct clcnn_onnx_export_options *opt);

#ifdef __cplusplus
}
#endif
#endif
