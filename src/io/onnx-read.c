/*
 * ONNX reader: the protobuf wire format decoded by hand for the subset of onnx.proto in onnx.h.
 *
 * Every length is checked against the bytes left in the enclosing message, varints stop at 10
 * bytes, groups (wire types 3/4) and wire types 6/7 are refused, unknown fields of wire types
 * 0/1/2/5 are skipped. Nesting is bounded by construction: each message type has its own parser
 * and nothing recurses (graph attributes of If/Loop are skipped as bytes). Errors are built
 * innermost first into r->msg and prefixed with the node/attribute/tensor on the way out, so
 * the final message reads "file: node 'x': attribute 'y': problem".
 *
 * Tensor data (raw_data, typed fields, external files) is checked by onnx-tensor-read.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "io/onnx-wire.h"
#include "io/onnx.h"

int onnx_fail(struct onnx_rd *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
	return status;
}

/* Prefix the current message with a context ("node 'conv1'") while unwinding. */
int onnx_wrap(struct onnx_rd *r, int status, const char *fmt, ...)
{
	char ctx[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	size_t cl = strlen(ctx), ml = strlen(r->msg);
	if (cl + 2 >= sizeof r->msg)
		return status;
	if (ml > sizeof r->msg - cl - 3)
		ml = sizeof r->msg - cl - 3; /* the end of a very long message is lost */
	memmove(r->msg + cl + 2, r->msg, ml);
	memcpy(r->msg, ctx, cl);
	memcpy(r->msg + cl, ": ", 2);
	r->msg[cl + 2 + ml] = 0;
	return status;
}

int onnx_nomem(struct onnx_rd *r, size_t bytes)
{
	return onnx_fail(r, CLCNN_ERR_NO_MEMORY, "out of memory (%zu bytes)", bytes);
}

static size_t at(const struct onnx_rd *r, const struct onnx_cur *c)
{
	return (size_t)(c->p - r->base);
}

int onnx_varint(struct onnx_rd *r, struct onnx_cur *c, uint64_t *v)
{
	uint64_t x = 0;
	size_t start = at(r, c);
	for (int i = 0; i < 10; i++) {
		if (c->p >= c->end)
			return onnx_fail(r, CLCNN_ERR_FORMAT, "truncated varint at byte %zu", start);
		uint8_t b = *c->p++;
		/* the 10th byte carries only bit 63 */
		if (i == 9 && (b & 0x80))
			return onnx_fail(r, CLCNN_ERR_FORMAT, "varint at byte %zu is longer than 10 bytes", start);
		if (i == 9 && b > 1)
			return onnx_fail(r, CLCNN_ERR_FORMAT, "varint at byte %zu overflows 64 bits", start);
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return CLCNN_ERR_FORMAT; /* not reached: the 10th byte returns */
}

int onnx_key(struct onnx_rd *r, struct onnx_cur *c, uint32_t *field, int *wt)
{
	uint64_t k;
	size_t start = at(r, c);
	int rc = onnx_varint(r, c, &k);
	if (rc)
		return rc;
	*wt = (int)(k & 7);
	if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "invalid field number %llu at byte %zu",
				 (unsigned long long)(k >> 3), start);
	*field = (uint32_t)(k >> 3);
	if (*wt == 3 || *wt == 4)
		return onnx_fail(r, CLCNN_ERR_FORMAT,
				 "field %u at byte %zu is a group (wire type %d), which ONNX does not use", *field,
				 start, *wt);
	if (*wt == 6 || *wt == 7)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "field %u at byte %zu has invalid wire type %d", *field, start,
				 *wt);
	return 0;
}

int onnx_bytes(struct onnx_rd *r, struct onnx_cur *c, struct onnx_cur *sub)
{
	uint64_t n;
	size_t start = at(r, c);
	int rc = onnx_varint(r, c, &n);
	if (rc)
		return rc;
	size_t left = (size_t)(c->end - c->p);
	if (n > left)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "length %llu at byte %zu runs past the end (%zu bytes left)",
				 (unsigned long long)n, start, left);
	sub->p = c->p;
	sub->end = c->p + n;
	c->p += n;
	return 0;
}

static int need(struct onnx_rd *r, struct onnx_cur *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "truncated %zu-byte value at byte %zu", n, at(r, c));
	return 0;
}

uint32_t onnx_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t onnx_le64(const uint8_t *p)
{
	return (uint64_t)onnx_le32(p) | (uint64_t)onnx_le32(p + 4) << 32;
}

int onnx_skip(struct onnx_rd *r, struct onnx_cur *c, int wt)
{
	uint64_t v;
	struct onnx_cur sub;
	switch (wt) {
	case 0: return onnx_varint(r, c, &v);
	case 1:
		if (need(r, c, 8))
			return CLCNN_ERR_FORMAT;
		c->p += 8;
		return 0;
	case 2: return onnx_bytes(r, c, &sub);
	case 5:
		if (need(r, c, 4))
			return CLCNN_ERR_FORMAT;
		c->p += 4;
		return 0;
	}
	return onnx_fail(r, CLCNN_ERR_FORMAT, "invalid wire type %d", wt);
}

int onnx_message(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, struct onnx_cur *sub)
{
	int rc = onnx_expect(r, field, what, wt, 2);
	return rc ? rc : onnx_bytes(r, c, sub);
}

int onnx_expect(struct onnx_rd *r, uint32_t field, const char *what, int wt, int want)
{
	if (wt == want)
		return 0;
	return onnx_fail(r, CLCNN_ERR_FORMAT, "field %u (%s) has wire type %d, expected %d", field, what, wt, want);
}

int onnx_int(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, int64_t *v)
{
	uint64_t u;
	int rc = onnx_expect(r, field, what, wt, 0);
	if (!rc)
		rc = onnx_varint(r, c, &u);
	if (!rc)
		*v = (int64_t)u;
	return rc;
}

/* A length-delimited string, NUL-terminated, replacing *s (the last occurrence wins, as in protobuf). */
int onnx_str(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, char **s, size_t *len)
{
	struct onnx_cur sub;
	int rc = onnx_expect(r, field, what, wt, 2);
	if (!rc)
		rc = onnx_bytes(r, c, &sub);
	if (rc)
		return rc;
	size_t n = (size_t)(sub.end - sub.p);
	char *t = malloc(n + 1);
	if (!t)
		return onnx_nomem(r, n + 1);
	memcpy(t, sub.p, n);
	t[n] = 0;
	free(*s);
	*s = t;
	if (len)
		*len = n;
	return 0;
}

/* Grow *arr (elements of size es, *n used, *cap allocated) to hold one more; new bytes zeroed. */
int onnx_grow(struct onnx_rd *r, void **arr, int *n, int *cap, size_t es)
{
	if (*n < *cap)
		return 0;
	if (*cap >= INT_MAX / 2)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "more than %d repeated items", INT_MAX / 2);
	int nc = *cap ? *cap * 2 : 4;
	void *p = realloc(*arr, (size_t)nc * es);
	if (!p)
		return onnx_nomem(r, (size_t)nc * es);
	memset((char *)p + (size_t)*cap * es, 0, (size_t)(nc - *cap) * es);
	*arr = p;
	*cap = nc;
	return 0;
}

/*
 * Append repeated scalars, packed (wire type 2) or one unpacked value (wire type scalar_wt: 0 varint,
 * 5 fixed32, 1 fixed64), to an array of int64 (varints), uint32 bits (fixed32) or uint64 bits (fixed64).
 */
int onnx_repeated(struct onnx_rd *r, struct onnx_cur *c, uint32_t field, const char *what, int wt, int scalar_wt,
		  void **arr, int *n, int *cap)
{
	struct onnx_cur sub;
	size_t es = scalar_wt == 5 ? 4 : 8;
	if (wt == 2) {
		int rc = onnx_bytes(r, c, &sub);
		if (rc)
			return rc;
	} else if (wt == scalar_wt) {
		sub = *c;
	} else {
		return onnx_fail(r, CLCNN_ERR_FORMAT, "field %u (%s) has wire type %d, expected %d or 2", field, what,
				 wt, scalar_wt);
	}
	size_t len = (size_t)(sub.end - sub.p);
	if (wt == 2 && scalar_wt != 0 && len % es)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "packed %s holds %zu bytes, not a multiple of %zu", what, len,
				 es);
	do {
		if (wt == 2 && sub.p >= sub.end)
			break;
		int rc = onnx_grow(r, arr, n, cap, es);
		if (rc)
			return rc;
		char *dst = (char *)*arr + (size_t)*n * es;
		if (scalar_wt == 0) {
			uint64_t v;
			if ((rc = onnx_varint(r, &sub, &v)))
				return rc;
			memcpy(dst, &v, 8);
		} else {
			if (need(r, &sub, es))
				return CLCNN_ERR_FORMAT;
			if (es == 4) {
				uint32_t v = onnx_le32(sub.p);
				memcpy(dst, &v, 4);
			} else {
				uint64_t v = onnx_le64(sub.p);
				memcpy(dst, &v, 8);
			}
			sub.p += es;
		}
		(*n)++;
	} while (wt == 2);
	if (wt != 2)
		c->p = sub.p;
	return 0;
}

/* --------------------------------------------------------------- messages */

/* StringStringEntryProto: key=1, value=2. */
int onnx_entry(struct onnx_rd *r, struct onnx_cur *c, char **key, char **value)
{
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		if (f == 1)
			rc = onnx_str(r, c, f, "key", wt, key, NULL);
		else if (f == 2)
			rc = onnx_str(r, c, f, "value", wt, value, NULL);
		else
			rc = onnx_skip(r, c, wt);
		if (rc)
			return rc;
	}
	if ((!*key && !(*key = calloc(1, 1))) || (!*value && !(*value = calloc(1, 1))))
		return onnx_nomem(r, 1);
	return 0;
}

static int set_empty(struct onnx_rd *r, char **s)
{
	if (!*s && !(*s = calloc(1, 1)))
		return onnx_nomem(r, 1);
	return 0;
}

static int read_attr(struct onnx_rd *r, struct onnx_cur *c, struct onnx_attr *a)
{
	int cap_f = 0, cap_i = 0, cap_s = 0, seen = 0; /* seen: the type implied by the fields, for old files */
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		struct onnx_cur sub;
		int64_t v = 0;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		switch (f) {
		case 1: rc = onnx_str(r, c, f, "name", wt, &a->name, NULL); break;
		case 2:
			if (!(rc = onnx_expect(r, f, "f", wt, 5)) && !(rc = need(r, c, 4))) {
				uint32_t bits = onnx_le32(c->p);
				memcpy(&a->f, &bits, 4);
				c->p += 4;
				seen = ONNX_ATTR_FLOAT;
			}
			break;
		case 3:
			rc = onnx_int(r, c, f, "i", wt, &a->i);
			seen = ONNX_ATTR_INT;
			break;
		case 4:
			rc = onnx_str(r, c, f, "s", wt, &a->s, &a->slen);
			seen = ONNX_ATTR_STRING;
			break;
		case 5:
			if (!(rc = onnx_message(r, c, f, "t", wt, &sub))) {
				if (a->t)
					onnx_tensor_clear(a->t);
				else if (!(a->t = calloc(1, sizeof *a->t)))
					return onnx_nomem(r, sizeof *a->t);
				rc = onnx_read_tensor(r, &sub, a->t);
				seen = ONNX_ATTR_TENSOR;
			}
			break;
		case 6:
			/* a subgraph (If, Loop): kept as bytes nowhere, import refuses these ops */
			rc = onnx_skip(r, c, wt);
			seen = ONNX_ATTR_GRAPH;
			break;
		case 7:
			rc = onnx_repeated(r, c, f, "floats", wt, 5, (void **)&a->floats, &a->nfloats, &cap_f);
			seen = ONNX_ATTR_FLOATS;
			break;
		case 8:
			rc = onnx_repeated(r, c, f, "ints", wt, 0, (void **)&a->ints, &a->nints, &cap_i);
			seen = ONNX_ATTR_INTS;
			break;
		case 9:
			if (!(rc = onnx_grow(r, (void **)&a->strings, &a->nstrings, &cap_s, sizeof *a->strings)))
				if (!(rc = onnx_str(r, c, f, "strings", wt, &a->strings[a->nstrings], NULL)))
					a->nstrings++;
			seen = ONNX_ATTR_STRINGS;
			break;
		case 20:
			rc = onnx_int(r, c, f, "type", wt, &v);
			if (!rc && (v < 0 || v > 100))
				rc = onnx_fail(r, CLCNN_ERR_FORMAT, "invalid type %lld", (long long)v);
			a->type = (int)v;
			break;
		default: rc = onnx_skip(r, c, wt);
		}
		if (rc)
			return rc;
	}
	if (!a->type)
		a->type = seen;
	return set_empty(r, &a->name);
}

static int read_node(struct onnx_rd *r, struct onnx_cur *c, struct onnx_node *n)
{
	int cap_in = 0, cap_out = 0, cap_a = 0;
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		struct onnx_cur sub;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		switch (f) {
		case 1:
			if (!(rc = onnx_grow(r, (void **)&n->inputs, &n->ninputs, &cap_in, sizeof(char *))))
				if (!(rc = onnx_str(r, c, f, "input", wt, &n->inputs[n->ninputs], NULL)))
					n->ninputs++;
			break;
		case 2:
			if (!(rc = onnx_grow(r, (void **)&n->outputs, &n->noutputs, &cap_out, sizeof(char *))))
				if (!(rc = onnx_str(r, c, f, "output", wt, &n->outputs[n->noutputs], NULL)))
					n->noutputs++;
			break;
		case 3: rc = onnx_str(r, c, f, "name", wt, &n->name, NULL); break;
		case 4: rc = onnx_str(r, c, f, "op_type", wt, &n->op_type, NULL); break;
		case 5:
			if (!(rc = onnx_message(r, c, f, "attribute", wt, &sub)) &&
			    !(rc = onnx_grow(r, (void **)&n->attrs, &n->nattrs, &cap_a, sizeof *n->attrs))) {
				struct onnx_attr *a = &n->attrs[n->nattrs++];
				if ((rc = read_attr(r, &sub, a))) {
					if (a->name)
						rc = onnx_wrap(r, rc, "attribute '%s'", a->name);
					else
						rc = onnx_wrap(r, rc, "attribute %d", n->nattrs - 1);
				}
			}
			break;
		case 7: rc = onnx_str(r, c, f, "domain", wt, &n->domain, NULL); break;
		default: rc = onnx_skip(r, c, wt);
		}
		if (rc)
			return rc;
	}
	int rc = set_empty(r, &n->name);
	if (!rc)
		rc = set_empty(r, &n->domain);
	if (!rc && (!n->op_type || !n->op_type[0]))
		rc = onnx_fail(r, CLCNN_ERR_FORMAT, "no op_type");
	return rc;
}

/* TensorShapeProto.Dimension: dim_value=1 | dim_param=2. */
static int read_dim(struct onnx_rd *r, struct onnx_cur *c, struct onnx_value_info *v, int d)
{
	v->dims[d] = -1;
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		if (f == 1) {
			if ((rc = onnx_int(r, c, f, "dim_value", wt, &v->dims[d])))
				return rc;
			if (v->dims[d] < 0)
				return onnx_fail(r, CLCNN_ERR_FORMAT, "dimension %d is negative (%lld)", d,
						 (long long)v->dims[d]);
			free(v->dim_params[d]);
			v->dim_params[d] = NULL;
		} else if (f == 2) {
			if ((rc = onnx_str(r, c, f, "dim_param", wt, &v->dim_params[d], NULL)))
				return rc;
			v->dims[d] = -1;
		} else if ((rc = onnx_skip(r, c, wt))) {
			return rc;
		}
	}
	return 0;
}

/* TypeProto.Tensor: elem_type=1, shape=2 (TensorShapeProto: dim=1). */
static int read_tensor_type(struct onnx_rd *r, struct onnx_cur *c, struct onnx_value_info *v)
{
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		struct onnx_cur shape, dim;
		int64_t e;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		if (f == 1) {
			if ((rc = onnx_int(r, c, f, "elem_type", wt, &e)))
				return rc;
			if (e < 0 || e > 1000)
				return onnx_fail(r, CLCNN_ERR_FORMAT, "invalid elem_type %lld", (long long)e);
			v->elem_type = (int)e;
		} else if (f == 2) {
			if ((rc = onnx_message(r, c, f, "shape", wt, &shape)))
				return rc;
			for (int d = 0; d < v->ndim; d++) {
				free(v->dim_params[d]);
				v->dim_params[d] = NULL;
			}
			v->ndim = 0;
			while (shape.p < shape.end) {
				if ((rc = onnx_key(r, &shape, &f, &wt)))
					return rc;
				if (f != 1) {
					if ((rc = onnx_skip(r, &shape, wt)))
						return rc;
					continue;
				}
				if ((rc = onnx_message(r, &shape, f, "dim", wt, &dim)))
					return rc;
				if (v->ndim == ONNX_MAX_DIMS)
					return onnx_fail(r, CLCNN_ERR_FORMAT, "shape has more than %d dimensions",
							 ONNX_MAX_DIMS);
				if ((rc = read_dim(r, &dim, v, v->ndim++)))
					return rc;
			}
		} else if ((rc = onnx_skip(r, c, wt))) {
			return rc;
		}
	}
	return 0;
}

/* ValueInfoProto: name=1, type=2 (TypeProto: tensor_type=1; sequences, maps, ... are left unknown). */
static int read_value_info(struct onnx_rd *r, struct onnx_cur *c, struct onnx_value_info *v)
{
	v->ndim = -1;
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		struct onnx_cur type, tt;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		if (f == 1) {
			rc = onnx_str(r, c, f, "name", wt, &v->name, NULL);
		} else if (f == 2) {
			if ((rc = onnx_message(r, c, f, "type", wt, &type)))
				return rc;
			while (type.p < type.end && !rc) {
				if ((rc = onnx_key(r, &type, &f, &wt)))
					return rc;
				if (f == 1) {
					if (!(rc = onnx_message(r, &type, f, "tensor_type", wt, &tt)))
						rc = read_tensor_type(r, &tt, v);
				} else {
					rc = onnx_skip(r, &type, wt);
				}
			}
		} else {
			rc = onnx_skip(r, c, wt);
		}
		if (rc)
			return rc;
	}
	return set_empty(r, &v->name);
}

static int read_graph(struct onnx_rd *r, struct onnx_cur *c, struct onnx_graph *g)
{
	int cap_n = 0, cap_t = 0, cap_in = 0, cap_out = 0, cap_vi = 0;
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		struct onnx_cur sub;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		if (f == 2) {
			rc = onnx_str(r, c, f, "name", wt, &g->name, NULL);
		} else if (f == 15) {
			rc = onnx_fail(r, CLCNN_ERR_FORMAT, "sparse initializers are not supported");
		} else if (f == 1) {
			if (!(rc = onnx_message(r, c, f, "node", wt, &sub)) &&
			    !(rc = onnx_grow(r, (void **)&g->nodes, &g->nnodes, &cap_n, sizeof *g->nodes))) {
				struct onnx_node *n = &g->nodes[g->nnodes++];
				if ((rc = read_node(r, &sub, n))) {
					if (n->name && n->name[0])
						rc = onnx_wrap(r, rc, "node '%s'", n->name);
					else if (n->op_type)
						rc = onnx_wrap(r, rc, "node %d (%s)", g->nnodes - 1, n->op_type);
					else
						rc = onnx_wrap(r, rc, "node %d", g->nnodes - 1);
				}
			}
		} else if (f == 5) {
			if (!(rc = onnx_message(r, c, f, "initializer", wt, &sub)) &&
			    !(rc = onnx_grow(r, (void **)&g->inits, &g->ninits, &cap_t, sizeof *g->inits)))
				rc = onnx_read_tensor(r, &sub, &g->inits[g->ninits++]);
		} else if (f == 11 || f == 12 || f == 13) {
			struct onnx_value_info **arr = f == 11 ? &g->inputs : f == 12 ? &g->outputs : &g->value_infos;
			int *n = f == 11 ? &g->ninputs : f == 12 ? &g->noutputs : &g->nvalue_infos;
			int *cap = f == 11 ? &cap_in : f == 12 ? &cap_out : &cap_vi;
			const char *what = f == 11 ? "input" : f == 12 ? "output" : "value_info";
			if (!(rc = onnx_message(r, c, f, what, wt, &sub)) &&
			    !(rc = onnx_grow(r, (void **)arr, n, cap, sizeof **arr))) {
				struct onnx_value_info *v = &(*arr)[(*n)++];
				if ((rc = read_value_info(r, &sub, v))) {
					if (v->name)
						rc = onnx_wrap(r, rc, "%s '%s'", what, v->name);
					else
						rc = onnx_wrap(r, rc, "%s %d", what, *n - 1);
				}
			}
		} else {
			rc = onnx_skip(r, c, wt);
		}
		if (rc)
			return rc;
	}
	return set_empty(r, &g->name);
}

static int read_opset(struct onnx_rd *r, struct onnx_cur *c, struct onnx_opset *o)
{
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		if (f == 1)
			rc = onnx_str(r, c, f, "domain", wt, &o->domain, NULL);
		else if (f == 2)
			rc = onnx_int(r, c, f, "version", wt, &o->version);
		else
			rc = onnx_skip(r, c, wt);
		if (rc)
			return rc;
	}
	return set_empty(r, &o->domain);
}

static int read_model(struct onnx_rd *r, struct onnx_cur *c, struct onnx_model *m)
{
	int cap_o = 0, cap_k = 0, cap_v = 0, nk = 0, nv = 0, have_graph = 0;
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		struct onnx_cur sub;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		switch (f) {
		case 1: rc = onnx_int(r, c, f, "ir_version", wt, &m->ir_version); break;
		case 2: rc = onnx_str(r, c, f, "producer_name", wt, &m->producer_name, NULL); break;
		case 3: rc = onnx_str(r, c, f, "producer_version", wt, &m->producer_version, NULL); break;
		case 4: rc = onnx_str(r, c, f, "domain", wt, &m->domain, NULL); break;
		case 5: rc = onnx_int(r, c, f, "model_version", wt, &m->model_version); break;
		case 6: rc = onnx_str(r, c, f, "doc_string", wt, &m->doc_string, NULL); break;
		case 7:
			if (have_graph++)
				return onnx_fail(r, CLCNN_ERR_FORMAT, "more than one graph");
			if (!(rc = onnx_message(r, c, f, "graph", wt, &sub)))
				rc = read_graph(r, &sub, &m->graph);
			break;
		case 8:
			if (!(rc = onnx_message(r, c, f, "opset_import", wt, &sub)) &&
			    !(rc = onnx_grow(r, (void **)&m->opsets, &m->nopsets, &cap_o, sizeof *m->opsets)))
				rc = read_opset(r, &sub, &m->opsets[m->nopsets++]);
			break;
		case 14:
			if (!(rc = onnx_message(r, c, f, "metadata_props", wt, &sub)) &&
			    !(rc = onnx_grow(r, (void **)&m->meta_keys, &nk, &cap_k, sizeof(char *))) &&
			    !(rc = onnx_grow(r, (void **)&m->meta_values, &nv, &cap_v, sizeof(char *)))) {
				nk = nv = ++m->nmeta;
				rc = onnx_entry(r, &sub, &m->meta_keys[m->nmeta - 1], &m->meta_values[m->nmeta - 1]);
			}
			break;
		default: rc = onnx_skip(r, c, wt);
		}
		if (rc)
			return rc;
	}
	if (!have_graph)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "no graph (not an ONNX model?)");
	int rc = set_empty(r, &m->producer_name);
	if (!rc)
		rc = set_empty(r, &m->producer_version);
	if (!rc)
		rc = set_empty(r, &m->domain);
	if (!rc)
		rc = set_empty(r, &m->doc_string);
	return rc;
}

int clcnn_onnx_parse(const void *buf, size_t len, const char *dir, const char *name, struct onnx_model **out, char *err,
		     size_t errlen)
{
	*out = NULL;
	if (!name)
		name = "onnx";
	if (!buf && len)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: no buffer", name);
	if (!len)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: file is empty (0 bytes)", name);
	struct onnx_rd r = {.base = buf, .dir = dir};
	struct onnx_model *m = calloc(1, sizeof *m);
	if (!m)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory (%zu bytes)", name,
				     sizeof *m);
	struct onnx_cur c = {buf, (const uint8_t *)buf + len};
	int rc = read_model(&r, &c, m);
	if (rc) {
		clcnn_onnx_free(m);
		return clcnn_io_fail(err, errlen, rc, "%s: %s", name, r.msg);
	}
	*out = m;
	return 0;
}

int clcnn_onnx_read(const char *path, struct onnx_model **out, char *err, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: not a regular file", path);
	}
	size_t len = (size_t)st.st_size;
	void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (len && map == MAP_FAILED)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot map %zu bytes: %s", path, len,
				     strerror(errno));
	/* external data lives next to the model */
	char *dir = strdup(path);
	if (!dir) {
		if (len)
			munmap(map, len);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
	}
	char *slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	int rc = clcnn_onnx_parse(map, len, dir, path, out, err, errlen);
	free(dir);
	if (len)
		munmap(map, len);
	return rc;
}
