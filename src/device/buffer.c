/* Device buffers and tensors. Allocation failures name the size that was asked for. */
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"

int clcnn_buffer_new(struct clcnn_context *ctx, size_t bytes, cl_mem *out)
{
	*out = NULL;
	if (!ctx->cl)
		return 0; /* a host context plans sizes only: no buffer, and writes to it are dropped */
	if (bytes == 0)
		bytes = 4; /* OpenCL rejects empty buffers; keep empty tensors valid */
	if (ctx->info.max_alloc && bytes > ctx->info.max_alloc)
		return clcnn_fail(
			ctx, CLCNN_ERR_NO_MEMORY,
			"device buffer of %zu bytes (%.1f MiB) exceeds the device's max allocation of %llu bytes "
			"on %s",
			bytes, (double)bytes / 1048576.0, (unsigned long long)ctx->info.max_alloc, ctx->info.name);
	cl_int err;
	cl_mem m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
	if (!m)
		return clcnn_fail_cl(ctx, err, "allocating a device buffer of %zu bytes (%.1f MiB) on %s", bytes,
				     (double)bytes / 1048576.0, ctx->info.name);
	*out = m;
	return 0;
}

void clcnn_buffer_free(cl_mem m)
{
	if (m)
		clReleaseMemObject(m);
}

int clcnn_buffer_host_new(struct clcnn_context *ctx, size_t bytes, cl_mem *mem, void **ptr)
{
	*mem = NULL;
	*ptr = NULL;
	if (bytes == 0)
		bytes = 4;
	cl_int err = CL_SUCCESS;
	cl_mem m = ctx->cl ? clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL, &err) : NULL;
	void *p = m ? clEnqueueMapBuffer(ctx->queue, m, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, NULL, NULL,
					 &err)
		    : NULL;
	if (m && !p)
		clReleaseMemObject(m), m = NULL;
	if (!p && !(p = malloc(bytes))) /* no pinned memory to be had: pageable memory works too */
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory (%zu bytes of staging)", bytes);
	*mem = m;
	*ptr = p;
	return 0;
}

void clcnn_buffer_host_free(struct clcnn_context *ctx, cl_mem mem, void *ptr)
{
	if (!mem) {
		free(ptr);
		return;
	}
	if (clEnqueueUnmapMemObject(ctx->queue, mem, ptr, 0, NULL, NULL) == CL_SUCCESS)
		clFinish(ctx->queue);
	clReleaseMemObject(mem);
}

int clcnn_buffer_write(struct clcnn_context *ctx, cl_mem m, size_t offset, size_t bytes, const void *src)
{
	if (!bytes || !ctx->cl)
		return 0;
	cl_int e = clEnqueueWriteBuffer(ctx->queue, m, CL_TRUE, offset, bytes, src, 0, NULL, NULL);
	/* the first use of a buffer is where lazy drivers really allocate it */
	return e == CL_SUCCESS ? 0 : clcnn_fail_cl(ctx, e, "writing %zu bytes to a device buffer", bytes);
}

int clcnn_buffer_read(struct clcnn_context *ctx, cl_mem m, size_t offset, size_t bytes, void *dst)
{
	if (!bytes)
		return 0;
	if (!ctx->cl)
		return clcnn_fail_no_device(ctx, "reading results");
	cl_int e = clEnqueueReadBuffer(ctx->queue, m, CL_TRUE, offset, bytes, dst, 0, NULL, NULL);
	/* results on the host: whatever compiling or tuning the last calls did is over */
	if (e == CL_SUCCESS)
		clcnn_progress_note(ctx, CLCNN_PROGRESS_DONE, NULL);
	return e == CL_SUCCESS ? 0 : clcnn_fail_cl(ctx, e, "reading %zu bytes from a device buffer", bytes);
}

int clcnn_buffer_fill(struct clcnn_context *ctx, cl_mem m, float value, size_t count)
{
	if (!count || !ctx->cl)
		return 0;
	cl_int e = clEnqueueFillBuffer(ctx->queue, m, &value, sizeof value, 0, count * sizeof(float), 0, NULL, NULL);
	return e == CL_SUCCESS ? 0 : clcnn_fail_cl(ctx, e, "filling %zu floats of a device buffer", count);
}

int clcnn_buffer_copy(struct clcnn_context *ctx, cl_mem src, cl_mem dst, size_t bytes)
{
	if (!bytes || !ctx->cl)
		return 0;
	cl_int e = clEnqueueCopyBuffer(ctx->queue, src, dst, 0, 0, bytes, 0, NULL, NULL);
	return e == CL_SUCCESS ? 0 : clcnn_fail_cl(ctx, e, "copying %zu bytes between device buffers", bytes);
}

int clcnn_tensor_new(struct clcnn_context *ctx, int ndim, const int *dims, struct clcnn_tensor **out)
{
	*out = NULL;
	if (ndim < 1 || ndim > CLCNN_MAX_DIMS)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "tensor with %d dims: 1 to %d are supported", ndim,
				  CLCNN_MAX_DIMS);
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		if (dims[i] <= 0)
			return clcnn_fail(ctx, CLCNN_ERR_INVALID, "tensor dim %d is %d; dims must be positive", i,
					  dims[i]);
		if (count > SIZE_MAX / 4 / (size_t)dims[i])
			return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "tensor size overflows");
		count *= (size_t)dims[i];
	}
	struct clcnn_tensor *t = calloc(1, sizeof *t);
	if (!t)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = clcnn_buffer_new(ctx, count * sizeof(float), &t->mem);
	if (rc) {
		free(t);
		return rc;
	}
	t->ctx = ctx;
	t->ndim = ndim;
	memcpy(t->dims, dims, (size_t)ndim * sizeof(int));
	*out = t;
	return 0;
}

void clcnn_tensor_free(struct clcnn_tensor *t)
{
	if (!t)
		return;
	clcnn_buffer_free(t->mem);
	free(t);
}

int clcnn_tensor_ndim(const struct clcnn_tensor *t)
{
	return t->ndim;
}

int clcnn_tensor_dim(const struct clcnn_tensor *t, int i)
{
	return i >= 0 && i < t->ndim ? t->dims[i] : 0;
}

size_t clcnn_tensor_count(const struct clcnn_tensor *t)
{
	size_t c = 1;
	for (int i = 0; i < t->ndim; i++)
		c *= (size_t)t->dims[i];
	return c;
}

int clcnn_tensor_upload(struct clcnn_tensor *t, const float *src)
{
	return clcnn_buffer_write(t->ctx, t->mem, 0, clcnn_tensor_count(t) * sizeof(float), src);
}

int clcnn_tensor_download(const struct clcnn_tensor *t, float *dst)
{
	return clcnn_buffer_read(t->ctx, t->mem, 0, clcnn_tensor_count(t) * sizeof(float), dst);
}
