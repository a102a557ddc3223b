/* Op lifecycle, shapes, and small helpers shared by the layer families. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

size_t clcnn_shape_count(const struct clcnn_shape *s)
{
	size_t c = 1;
	for (int i = 0; i < s->ndim; i++)
		c *= (size_t)s->d[i];
	return c;
}

int clcnn_shape_equal(const struct clcnn_shape *a, const struct clcnn_shape *b)
{
	if (a->ndim != b->ndim)
		return 0;
	for (int i = 0; i < a->ndim; i++)
		if (a->d[i] != b->d[i])
			return 0;
	return 1;
}

const char *clcnn_shape_str(const struct clcnn_shape *s, char *buf, size_t n)
{
	if (s->ndim == 0) {
		snprintf(buf, n, "scalar");
		return buf;
	}
	size_t len = 0;
	buf[0] = 0;
	for (int i = 0; i < s->ndim && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "x" : "", s->d[i]);
	return buf;
}

struct clcnn_shape clcnn_shape4(int n, int c, int h, int w)
{
	return (struct clcnn_shape){4, {n, c, h, w}};
}

struct clcnn_shape clcnn_shape2(int n, int f)
{
	return (struct clcnn_shape){2, {n, f, 0, 0}};
}

const struct clcnn_op_class *clcnn_op_find(const char *name)
{
	for (int i = 0; clcnn_op_classes[i]; i++)
		if (!strcmp(clcnn_op_classes[i]->name, name))
			return clcnn_op_classes[i];
	return NULL;
}

int clcnn_op_is_loss(const struct clcnn_op_class *cls)
{
	for (const struct clcnn_arg *a = cls->args; a && a->key; a++)
		if (!strcmp(a->key, "reduction"))
			return 1;
	return 0;
}

int clcnn_op_invalid(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CLCNN_ERR_INVALID;
}

int clcnn_op_new(const char *type, const char *args, int nin, const struct clcnn_shape *in, struct clcnn_op **out,
		 char *err, size_t errlen)
{
	*out = NULL;
	const struct clcnn_op_class *cls = clcnn_op_find(type);
	if (!cls)
		return clcnn_op_invalid(err, errlen, "unknown layer type '%s'", type);
	if (nin < cls->min_in || nin > cls->max_in) {
		if (cls->min_in == cls->max_in)
			return clcnn_op_invalid(err, errlen, "%s takes %d input%s, got %d", type, cls->min_in,
						cls->min_in == 1 ? "" : "s", nin);
		return clcnn_op_invalid(err, errlen, "%s takes %d to %d inputs, got %d", type, cls->min_in, cls->max_in,
					nin);
	}
	struct clcnn_op *op = calloc(1, sizeof *op);
	if (!op || !(op->args = calloc(1, cls->args_size ? cls->args_size : 1))) {
		free(op);
		snprintf(err, errlen, "out of host memory");
		return CLCNN_ERR_NO_MEMORY;
	}
	op->cls = cls;
	op->nin = nin;
	for (int i = 0; i < nin; i++) {
		op->in[i] = in[i];
		for (int d = 0; d < in[i].ndim; d++)
			if (in[i].d[d] <= 0) {
				char s[64];
				clcnn_op_free(op);
				return clcnn_op_invalid(err, errlen, "%s input %d has shape %s: dims must be positive",
							type, i, clcnn_shape_str(&in[i], s, sizeof s));
			}
	}
	int rc = clcnn_args_defaults(cls, op->args, err, errlen);
	if (!rc)
		rc = clcnn_args_parse(cls, op->args, args, err, errlen, NULL);
	if (!rc)
		rc = cls->setup(op, err, errlen);
	if (rc) {
		clcnn_op_free(op);
		return rc;
	}
	*out = op;
	return 0;
}

int clcnn_op_prepare(struct clcnn_op *op, struct clcnn_context *ctx)
{
	op->ctx = ctx;
	/* prepare builds kernels and chooses algorithms for a device; a host context only plans */
	return op->cls->prepare && clcnn_context_has_device(ctx) ? op->cls->prepare(op) : 0;
}

void clcnn_op_free(struct clcnn_op *op)
{
	if (!op)
		return;
	if (op->cls->destroy)
		op->cls->destroy(op);
	clcnn_args_free(op->cls, op->args);
	free(op->args);
	free(op);
}

size_t clcnn_op_local1d(struct clcnn_context *ctx, cl_kernel k)
{
	/* POCL compiles one work-group function per local size: one size everywhere on CPUs */
	if (!clcnn_is_gpu(ctx))
		return 64;
	/* GPUs: 4 warps, within what the kernel and the device allow, a whole number of warps */
	size_t simd = ctx->lim.simd > 0 ? (size_t)ctx->lim.simd : 1, l = 4 * simd, max = clcnn_kernel_max_wg(ctx, k);
	if (max > ctx->lim.max_items[0] && ctx->lim.max_items[0])
		max = ctx->lim.max_items[0];
	if (l > max)
		l = max >= simd ? max / simd * simd : max;
	return l ? l : 1;
}

int clcnn_op_run1d(struct clcnn_context *ctx, cl_kernel k, size_t n)
{
	size_t local = clcnn_op_local1d(ctx, k);
	return clcnn_kernel_run(ctx, k, 1, &n, &local);
}

int clcnn_op_zero(struct clcnn_context *ctx, cl_mem m, size_t n)
{
	return clcnn_buffer_fill(ctx, m, 0.0f, n);
}

uint32_t clcnn_hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

float clcnn_uniform(uint32_t seed, uint32_t i)
{
	return (float)(clcnn_hash32(clcnn_hash32(seed) ^ (i * 0x9E3779B9U + 0x632BE5ABU)) >> 8) * (1.0f / 16777216.0f);
}

double clcnn_test_uniform(uint64_t *state, double lo, double hi)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return lo + (hi - lo) * (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
