/* Status names, failure messages kept in the context, and the optional log callback. */
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"

const char *clcnn_status_name(int status)
{
	switch (status) {
	case CLCNN_OK: return "CLCNN_OK";
	case CLCNN_ERR_INVALID: return "CLCNN_ERR_INVALID";
	case CLCNN_ERR_NO_DEVICE: return "CLCNN_ERR_NO_DEVICE";
	case CLCNN_ERR_OPENCL: return "CLCNN_ERR_OPENCL";
	case CLCNN_ERR_BUILD: return "CLCNN_ERR_BUILD";
	case CLCNN_ERR_NO_MEMORY: return "CLCNN_ERR_NO_MEMORY";
	case CLCNN_ERR_IO: return "CLCNN_ERR_IO";
	case CLCNN_ERR_FORMAT: return "CLCNN_ERR_FORMAT";
	case CLCNN_ERR_NUMERIC: return "CLCNN_ERR_NUMERIC";
	case CLCNN_ERR_INTERRUPTED: return "CLCNN_ERR_INTERRUPTED";
	default: return "CLCNN_ERR_UNKNOWN";
	}
}

/* The table of names is one row of E() entries per line: clang-format would pack it unreadably. */
/* clang-format off */
const char *clcnn_cl_error_name(cl_int code)
{
	switch (code) {
#define E(x) case x: return #x;
	E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
	E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
	E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
	E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
	E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
	E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
	E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
	E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL_DEFINITION)
	E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
	E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
	E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
	E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_GLOBAL_WORK_SIZE)
	E(CL_PLATFORM_NOT_FOUND_KHR)
#undef E
	default: return "CL_UNKNOWN_ERROR";
	}
}
/* clang-format on */

static void set_message(struct clcnn_context *ctx, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n + 1 > ctx->error_cap) {
		char *e = realloc(ctx->error, (size_t)n + 1);
		if (!e)
			return;
		ctx->error = e;
		ctx->error_cap = (size_t)n + 1;
	}
	vsnprintf(ctx->error, (size_t)n + 1, fmt, ap);
}

int clcnn_fail(struct clcnn_context *ctx, int status, const char *fmt, ...)
{
	if (!ctx)
		return status;
	va_list ap;
	va_start(ap, fmt);
	set_message(ctx, fmt, ap);
	va_end(ap);
	clcnn_log(ctx, CLCNN_LOG_DEBUG, "error: %s", ctx->error ? ctx->error : "");
	return status;
}

void clcnn_error_append(struct clcnn_context *ctx, const char *text)
{
	if (!ctx || !text)
		return;
	size_t have = ctx->error ? strlen(ctx->error) : 0, add = strlen(text);
	if (have + add + 1 > ctx->error_cap) {
		char *e = realloc(ctx->error, have + add + 1);
		if (!e)
			return;
		ctx->error = e;
		ctx->error_cap = have + add + 1;
	}
	memcpy(ctx->error + have, text, add + 1);
}

int clcnn_fail_cl(struct clcnn_context *ctx, cl_int code, const char *fmt, ...)
{
	int status = CLCNN_ERR_OPENCL;
	if (code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_RESOURCES || code == CL_OUT_OF_HOST_MEMORY)
		status = CLCNN_ERR_NO_MEMORY;
	if (!ctx)
		return status;
	va_list ap;
	va_start(ap, fmt);
	set_message(ctx, fmt, ap);
	va_end(ap);
	char tail[96];
	snprintf(tail, sizeof tail, ": %s (%d)", clcnn_cl_error_name(code), (int)code);
	clcnn_error_append(ctx, tail);
	return status;
}

const char *clcnn_context_error(const struct clcnn_context *ctx)
{
	return ctx && ctx->error ? ctx->error : "";
}

void clcnn_log(const struct clcnn_context *ctx, int level, const char *fmt, ...)
{
	if (!ctx || !ctx->opt.log_fn || level > ctx->opt.log_level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ctx->opt.log_fn(ctx->opt.log_user, level, buf);
}
