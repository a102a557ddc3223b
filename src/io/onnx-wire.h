/*
 * Internals shared by the ONNX reader files (onnx-read.c: messages, onnx-tensor.c: tensor data) and
 * the model code (onnx-model.c). Not part of the io API.
 */
#ifndef CLCNN_ONNX_WIRE_H
#define CLCNN_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "io/io.h"
#include "io/onnx.h"

/* Limits on what a header may make the reader allocate for one tensor. */
#define ONNX_MAX_TENSOR_BYTES ((uint64_t)4 << 30)

/* The unread bytes of one message. */
struct onnx_cur {
	const uint8_t *p, *end;
};

struct onnx_rd {
	const uint8_t *base; /* start of the file, for byte offsets in messages */
	const char *dir;     /* folder of external data files, NULL: refused */
	char msg[1024];      /* the error, without the file name, prefixed with context on the way out */
};

int onnx_fail(struct onnx_rd *r, int status, const char *fmt, ...) CLCNN_IO_PRINTF(3, 4);
/* Prefix the message with a context ("node 'conv1'") while unwinding; returns status. */
int onnx_wrap(struct onnx_rd *r, int status, const char *fmt, ...) CLCNN_IO_PRINTF(3, 4);
int onnx_nomem(struct onnx_rd *r, size_t bytes);
int onnx_varint(struct onnx_rd *r, struct onnx_cur *c, uint64_t *v);
int onnx_key(struct onnx_rd *r, struct onnx_cur *c, uint32_t *field, int *wt);
int onnx_bytes(struct onnx_rd *r, struct onnx_cur *c, struct onnx_cur *sub);
int onnx_skip(struct onnx_rd *r, struct onnx_cur *c, int wt);
int onnx_expect(struct onnx_rd *r, uint32_t field, const char *what, int wt, int want);
/* A length-delimited field (a sub-message, bytes): the wire type checked, then its bytes as *sub. */
int onnx_message(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, struct onnx_cur *sub);
int onnx_int(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, int64_t *v);
int onnx_str(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, char **s, size_t *len);
int onnx_grow(struct onnx_rd *r, void **arr, int *n, int *cap, size_t es);
int onnx_repeated(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, int scalar_wt,
		  void **arr, int *n, int *cap);
int onnx_entry(struct onnx_rd *r, struct onnx_cur *c, char **key, char **value);
uint32_t onnx_le32(const uint8_t *p);
uint64_t onnx_le64(const uint8_t *p);

/* TensorProto into t (zeroed or cleared), data converted to host order; errors name the tensor. */
int onnx_read_tensor(struct onnx_rd *r, struct onnx_cur *c, struct onnx_tensor *t);
/* Free what t holds and zero it (t itself is not freed). */
void onnx_tensor_clear(struct onnx_tensor *t);
/* 1 on a little-endian host. */
int onnx_host_le(void);

#endif
