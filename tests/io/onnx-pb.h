/*
 * A tiny protobuf encoder for the ONNX codec tests: messages written byte by byte, so that the
 * wire traps (packed and unpacked scalars, long varints, bad lengths) are spelled out in the test.
 * Static inline: each test file uses a part of it.
 */
#ifndef CLCNN_TEST_ONNX_PB_H
#define CLCNN_TEST_ONNX_PB_H

#include <string.h>

#include "io/onnx.h"
#include "testutil.h"

struct pb {
	unsigned char b[8192];
	size_t n;
};

static inline void pb_raw(struct pb *p, const void *d, size_t n)
{
	ck_assert_uint_le(p->n + n, sizeof p->b);
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static inline void pb_varint(struct pb *p, uint64_t v)
{
	do {
		unsigned char c = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		pb_raw(p, &c, 1);
	} while (v);
}

static inline void pb_key(struct pb *p, unsigned field, int wt)
{
	pb_varint(p, (uint64_t)field << 3 | (unsigned)wt);
}

static inline void pb_int(struct pb *p, unsigned field, int64_t v)
{
	pb_key(p, field, 0);
	pb_varint(p, (uint64_t)v);
}

static inline void pb_bytes(struct pb *p, unsigned field, const void *d, size_t n)
{
	pb_key(p, field, 2);
	pb_varint(p, n);
	pb_raw(p, d, n);
}

static inline void pb_str(struct pb *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static inline void pb_msg(struct pb *p, unsigned field, const struct pb *m)
{
	pb_bytes(p, field, m->b, m->n);
}

static inline void pb_f32(struct pb *p, unsigned field, float v)
{
	pb_key(p, field, 5);
	pb_raw(p, &v, 4); /* the test host is little-endian, as the wire */
}

/* A model holding graph g (and opset 13). */
static inline void pb_model(struct pb *out, const struct pb *g)
{
	struct pb o = {0};
	out->n = 0;
	pb_int(out, 1, 8);
	pb_msg(out, 7, g);
	pb_int(&o, 2, 13);
	pb_msg(out, 8, &o);
}

/* A graph with one initializer t. */
static inline void pb_model_tensor(struct pb *out, const struct pb *t)
{
	struct pb g = {0};
	pb_msg(&g, 5, t);
	pb_model(out, &g);
}

/* A graph with one node n. */
static inline void pb_model_node(struct pb *out, const struct pb *n)
{
	struct pb g = {0};
	pb_msg(&g, 1, n);
	pb_model(out, &g);
}

static inline struct onnx_model *parse_ok(const struct pb *p)
{
	struct onnx_model *m = NULL;
	char err[1024] = "";
	int rc = clcnn_onnx_parse(p->b, p->n, NULL, "m.onnx", &m, err, sizeof err);
	ck_assert_msg(rc == 0, "parse failed: %s", err);
	ck_assert_ptr_nonnull(m);
	return m;
}

static inline void parse_fails(const struct pb *p, int status, const char *msg)
{
	struct onnx_model *m = (void *)1;
	char err[1024] = "";
	int rc = clcnn_onnx_parse(p->b, p->n, NULL, "m.onnx", &m, err, sizeof err);
	ck_assert_msg(rc == status, "rc %d (want %d): %s", rc, status, err);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err, msg);
}

static inline void tensor_header(struct pb *t, const char *name, int dtype, const int64_t *dims, int ndim)
{
	for (int d = 0; d < ndim; d++)
		pb_int(t, 1, dims[d]);
	pb_int(t, 2, dtype);
	pb_str(t, 8, name);
}

#endif
