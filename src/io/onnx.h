/*
 * ONNX models in memory: the subset of onnx.proto that clcnn reads and writes (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto), parsed from and serialised to the protobuf
 * wire format by a small hand-written codec (onnx-read.c, onnx-write.c); import (ONNX -> clcnn graph)
 * and export (clcnn graph -> ONNX) build on it. Field numbers: ../shared/research/onnx.md, B2.
 *
 * Every string is NUL-terminated and owned by the model; after a read none is NULL (an absent
 * string field is ""), except dim_params of dims that have no name. Tensor data are converted to
 * host order on read (raw_data little-endian, float_data, int32_data, int64_data, double_data,
 * uint64_data, external files) and written back as raw_data. Tensors of a data type clcnn does not
 * know keep their raw_data bytes as they are (nbytes = their length) and are refused by import.
 */
#ifndef CLCNN_ONNX_H
#define CLCNN_ONNX_H

#include <stddef.h>
#include <stdint.h>

#define ONNX_MAX_DIMS 8

/*
 * TensorProto.DataType values clcnn knows (others are read as raw bytes and refused by import).
 * clcnn_onnx_dtype_size also knows UINT16 (4), INT16 (5), UINT32 (12), UINT64 (13), BFLOAT16 (16).
 */
enum onnx_dtype {
	ONNX_UNDEFINED = 0,
	ONNX_FLOAT = 1,
	ONNX_UINT8 = 2,
	ONNX_INT8 = 3,
	ONNX_INT32 = 6,
	ONNX_INT64 = 7,
	ONNX_BOOL = 9,
	ONNX_FLOAT16 = 10,
	ONNX_DOUBLE = 11,
};

/* AttributeProto.AttributeType */
enum onnx_attr_type {
	ONNX_ATTR_UNDEFINED = 0,
	ONNX_ATTR_FLOAT = 1,
	ONNX_ATTR_INT = 2,
	ONNX_ATTR_STRING = 3,
	ONNX_ATTR_TENSOR = 4,
	ONNX_ATTR_GRAPH = 5,
	ONNX_ATTR_FLOATS = 6,
	ONNX_ATTR_INTS = 7,
	ONNX_ATTR_STRINGS = 8,
};

struct onnx_tensor {
	char *name;
	int dtype; /* enum onnx_dtype */
	int ndim;
	int64_t dims[ONNX_MAX_DIMS];
	size_t count;  /* product of dims (1 for ndim 0) */
	size_t nbytes; /* count * element size */
	void *data;    /* host order, malloc'ed, nbytes (NULL when count is 0) */
};

struct onnx_attr {
	char *name;
	int type; /* enum onnx_attr_type */
	float f;
	int64_t i;
	char *s; /* STRING (bytes may hold NUL: slen) */
	size_t slen;
	struct onnx_tensor *t; /* TENSOR */
	float *floats;
	int nfloats;
	int64_t *ints;
	int nints;
	char **strings;
	int nstrings;
	/* GRAPH / GRAPHS attributes (If, Loop) are not kept: import refuses those nodes by op type */
};

struct onnx_node {
	char *name, *op_type, *domain; /* domain "" = the default ai.onnx */
	char **inputs;                 /* "" = an absent optional input */
	int ninputs;
	char **outputs;
	int noutputs;
	struct onnx_attr *attrs;
	int nattrs;
};

struct onnx_value_info {
	char *name;
	int elem_type; /* enum onnx_dtype, 0 unknown */
	int ndim;      /* -1: no shape given */
	int64_t dims[ONNX_MAX_DIMS]; /* -1: symbolic or unknown */
	char *dim_params[ONNX_MAX_DIMS]; /* symbolic names ("N", "batch_size") or NULL */
};

struct onnx_graph {
	char *name;
	struct onnx_node *nodes;
	int nnodes;
	struct onnx_tensor *inits; /* initializers */
	int ninits;
	struct onnx_value_info *inputs, *outputs, *value_infos;
	int ninputs, noutputs, nvalue_infos;
};

struct onnx_opset {
	char *domain; /* "" or "ai.onnx" = the default domain */
	int64_t version;
};

struct onnx_model {
	int64_t ir_version;
	char *producer_name, *producer_version, *domain, *doc_string;
	int64_t model_version;
	struct onnx_opset *opsets;
	int nopsets;
	struct onnx_graph graph;
	char **meta_keys, **meta_values; /* metadata_props */
	int nmeta;
};

/*
 * Read path: bounded lengths (every length checked against what is left) and nesting, packed and
 * unpacked repeated scalars, 10-byte negative varints, unaligned raw_data, external_data files
 * resolved next to the model (absolute paths, "..", and symlinks leaving the model's folder are
 * refused; offset/length checked against the file). Errors: CLCNN_ERR_IO / CLCNN_ERR_FORMAT /
 * CLCNN_ERR_NO_MEMORY, one message naming the file and, where it applies, the node or tensor.
 * A file without a graph is CLCNN_ERR_FORMAT; sparse initializers and segmented tensors are
 * refused; graph attributes (If, Loop bodies) are skipped, leaving an attribute of type GRAPH.
 * A tensor's data may not exceed 4 GiB. On failure *out is NULL.
 */
int clcnn_onnx_read(const char *path, struct onnx_model **out, char *err, size_t errlen);
/* The same from bytes; dir resolves external data (NULL: refuse it); name is used in messages. */
int clcnn_onnx_parse(const void *buf, size_t len, const char *dir, const char *name, struct onnx_model **out,
		     char *err, size_t errlen);
/*
 * Serialise m to path atomically (temp file + rename); tensors as raw_data. A model the writer
 * cannot express (a tensor whose nbytes disagrees with dims and dtype, an attribute of type GRAPH
 * or UNDEFINED, a TENSOR attribute without a tensor) is CLCNN_ERR_INVALID, naming the part.
 */
int clcnn_onnx_write(const char *path, const struct onnx_model *m, char *err, size_t errlen);
/* Serialise into a malloc'ed buffer (*buf, *len). */
int clcnn_onnx_serialize(const struct onnx_model *m, unsigned char **buf, size_t *len, char *err, size_t errlen);
/* Free a model and everything in it; NULL is a no-op. */
void clcnn_onnx_free(struct onnx_model *m);

/* Opset version of the default domain (0 when the model imports none). */
int64_t clcnn_onnx_opset(const struct onnx_model *m);
/* Attribute of n by name, or NULL. */
const struct onnx_attr *clcnn_onnx_attr(const struct onnx_node *n, const char *name);
/* Initializer of g by name, or NULL. */
const struct onnx_tensor *clcnn_onnx_init(const struct onnx_graph *g, const char *name);
/* Size in bytes of one element of dtype, 0 for an unknown type. */
size_t clcnn_onnx_dtype_size(int dtype);

/*
 * Building a model (export): each returns 0 or CLCNN_ERR_NO_MEMORY (CLCNN_ERR_INVALID for a negative
 * count, a dtype of unknown size, negative dims or more than ONNX_MAX_DIMS); strings and arrays are
 * copied, NULL strings become "". A model from clcnn_onnx_new has ir_version 8, producer "clcnn"
 * (version CLCNN_VERSION_STRING), graph name "clcnn", one default-domain opset. On failure the
 * model is unchanged but still valid for clcnn_onnx_free.
 */
int clcnn_onnx_new(int64_t opset, struct onnx_model **out);
struct onnx_node *clcnn_onnx_add_node(struct onnx_graph *g, const char *op_type, const char *name,
				      const char *const *inputs, int ninputs, const char *const *outputs,
				      int noutputs); /* NULL when out of memory */
int clcnn_onnx_attr_int(struct onnx_node *n, const char *name, int64_t v);
int clcnn_onnx_attr_float(struct onnx_node *n, const char *name, float v);
int clcnn_onnx_attr_ints(struct onnx_node *n, const char *name, const int64_t *v, int count);
int clcnn_onnx_attr_floats(struct onnx_node *n, const char *name, const float *v, int count);
int clcnn_onnx_attr_string(struct onnx_node *n, const char *name, const char *v);
int clcnn_onnx_add_init(struct onnx_graph *g, const char *name, int dtype, const int64_t *dims, int ndim,
			const void *data); /* data: count elements of dtype, host order */
/*
 * Graph input/output: dims -1 with a dim_param name for symbolic ones (dim_params may be NULL; a
 * name is kept only where the dim is -1). ndim -1: no shape at all (rank unknown).
 */
int clcnn_onnx_add_io(struct onnx_graph *g, int output, const char *name, int elem_type, const int64_t *dims,
		      int ndim, const char *const *dim_params);
int clcnn_onnx_add_meta(struct onnx_model *m, const char *key, const char *value);

#endif
