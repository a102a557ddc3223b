/*
 * Programs: common.cl + <family>.cl, specialised by build options, built once per context and
 * remembered in memory; binaries are kept in the on-disk cache keyed by everything that
 * changes the result (sources, options, device, driver, platform, format version).
 */
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"

#define CLCNN_CACHE_FORMAT 1
#define BASE_OPTIONS "-cl-std=CL1.2"

const char *const *clcnn_program_families(void)
{
	static const char *names[64];
	if (!names[0]) {
		size_t j = 0;
		for (size_t i = 0; i < clcnn_embedded_source_count && j + 1 < CLCNN_ARRAY_LEN(names); i++)
			names[j++] = clcnn_embedded_sources[i].name;
		names[j] = NULL;
	}
	return names;
}

static int read_file(struct clcnn_context *ctx, const char *path, char **out, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return clcnn_fail(ctx, CLCNN_ERR_IO, "kernel source %s cannot be read (CLCNN_KERNEL_DIR=%s)", path,
				  ctx->opt.kernel_dir);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		fclose(f);
		return clcnn_fail(ctx, CLCNN_ERR_IO, "kernel source %s cannot be read", path);
	}
	fclose(f);
	b[n] = 0;
	*out = b;
	*size = (size_t)n;
	return 0;
}

int clcnn_source_load(struct clcnn_context *ctx, const char *family, char **out, size_t *size)
{
	if (ctx->opt.kernel_dir) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.cl", ctx->opt.kernel_dir, family);
		return read_file(ctx, path, out, size);
	}
	for (size_t i = 0; i < clcnn_embedded_source_count; i++) {
		const struct clcnn_source *s = &clcnn_embedded_sources[i];
		if (strcmp(s->name, family) == 0) {
			char *b = malloc(s->size + 1);
			if (!b)
				return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of memory loading %s.cl", family);
			memcpy(b, s->data, s->size);
			b[s->size] = 0;
			*out = b;
			*size = s->size;
			return 0;
		}
	}
	return clcnn_fail(ctx, CLCNN_ERR_INVALID, "no kernel program family '%s' is embedded", family);
}

static void append_build_log(struct clcnn_context *ctx, cl_program p)
{
	size_t n = 0;
	clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
	char *log = calloc(1, n + 1);
	if (!log)
		return;
	clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
	clcnn_error_append(ctx, "\nbuild log:\n");
	clcnn_error_append(ctx, log);
	free(log);
}

/* Load the two sources of a family; the key covers everything that changes the binary. */
static int load_sources(struct clcnn_context *ctx, const char *family, const char *options, char *src[2],
			size_t len[2], uint64_t *key)
{
	src[0] = src[1] = NULL;
	int rc = clcnn_source_load(ctx, "common", &src[0], &len[0]);
	if (!rc && strcmp(family, "common") != 0)
		rc = clcnn_source_load(ctx, family, &src[1], &len[1]);
	if (rc) {
		free(src[0]);
		return rc;
	}
	if (!src[1]) {
		src[1] = clcnn_strdup("");
		len[1] = 0;
	}
	uint64_t h = CLCNN_HASH_INIT;
	unsigned fmt = CLCNN_CACHE_FORMAT;
	h = clcnn_hash(h, &fmt, sizeof fmt);
	h = clcnn_hash(h, src[0], len[0]);
	h = clcnn_hash_str(h, "\x01");
	h = clcnn_hash(h, src[1], len[1]);
	h = clcnn_hash_str(h, BASE_OPTIONS);
	h = clcnn_hash_str(h, options);
	h = clcnn_hash_str(h, ctx->info.name);
	h = clcnn_hash_str(h, ctx->info.driver_version);
	h = clcnn_hash_str(h, ctx->info.platform_version);
	*key = h;
	return 0;
}

static int build(struct clcnn_context *ctx, const char *family, const char *options, cl_program *out,
		 struct clcnn_build_report *report)
{
	double t0 = clcnn_now();
	char *src[2];
	size_t len[2];
	uint64_t key;
	int rc = load_sources(ctx, family, options, src, len, &key);
	if (rc)
		return rc;
	char opts[4096];
	snprintf(opts, sizeof opts, "%s %s", BASE_OPTIONS, options ? options : "");
	cl_int err;
	cl_program p = NULL;
	unsigned char *bin = NULL;
	size_t binsize = 0;
	int hit = 0;
	if (clcnn_cache_load(ctx, key, &bin, &binsize) == 0) {
		const unsigned char *bp = bin;
		cl_int bstatus;
		p = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &binsize, &bp, &bstatus, &err);
		if (p && clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL) == CL_SUCCESS) {
			hit = 1;
		} else {
			clcnn_log(ctx, CLCNN_LOG_WARN, "cached binary of %s rejected by the driver; rebuilding", family);
			if (p)
				clReleaseProgram(p);
			p = NULL;
		}
		free(bin);
	}
	if (!p) {
		const char *srcs[2] = {src[0], src[1]};
		p = clCreateProgramWithSource(ctx->cl, 2, srcs, len, &err);
		if (!p) {
			free(src[0]);
			free(src[1]);
			return clcnn_fail_cl(ctx, err, "clCreateProgramWithSource(%s) failed", family);
		}
		err = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
		if (err != CL_SUCCESS) {
			rc = clcnn_fail(ctx, CLCNN_ERR_BUILD, "building kernel program %s.cl with options '%s' on %s failed: %s (%d)",
					family, opts, ctx->info.name, clcnn_cl_error_name(err), (int)err);
			append_build_log(ctx, p);
			clReleaseProgram(p);
			free(src[0]);
			free(src[1]);
			return rc;
		}
		if (ctx->cache_dir) {
			size_t bs = 0;
			if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof bs, &bs, NULL) == CL_SUCCESS && bs) {
				unsigned char *b = malloc(bs);
				if (b && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof b, &b, NULL) == CL_SUCCESS)
					clcnn_cache_store(ctx, key, b, bs);
				free(b);
			}
		}
	}
	free(src[0]);
	free(src[1]);
	*out = p;
	if (report) {
		report->seconds = clcnn_now() - t0;
		report->cache_hit = hit;
	}
	clcnn_log(ctx, CLCNN_LOG_DEBUG, "program %s [%s]: %s in %.3f s", family, options ? options : "",
		  hit ? "cache hit" : "compiled", clcnn_now() - t0);
	return 0;
}

static uint64_t memo_key(const char *family, const char *options)
{
	return clcnn_hash_str(clcnn_hash_str(CLCNN_HASH_INIT, family), options ? options : "");
}

int clcnn_program_get(struct clcnn_context *ctx, const char *family, const char *options, cl_program *out,
		      struct clcnn_build_report *report)
{
	uint64_t key = memo_key(family, options);
	for (struct clcnn_program_entry *e = ctx->programs; e; e = e->next)
		if (e->key == key) {
			*out = e->program;
			if (report) {
				report->seconds = 0;
				report->cache_hit = 1;
			}
			return 0;
		}
	struct clcnn_program_entry *e = calloc(1, sizeof *e);
	if (!e)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = build(ctx, family, options, &e->program, report);
	if (rc) {
		free(e);
		return rc;
	}
	e->key = key;
	e->next = ctx->programs;
	ctx->programs = e;
	*out = e->program;
	return 0;
}

int clcnn_program_build(struct clcnn_context *ctx, const char *family, const char *options,
			struct clcnn_build_report *report)
{
	cl_program p;
	/* bypass the in-memory memo so that the report is a real measurement */
	uint64_t key = memo_key(family, options);
	for (struct clcnn_program_entry *e = ctx->programs; e; e = e->next)
		if (e->key == key) {
			int rc = build(ctx, family, options, &p, report);
			if (!rc)
				clReleaseProgram(p);
			return rc;
		}
	return clcnn_program_get(ctx, family, options, &p, report);
}

int clcnn_kernel_get(struct clcnn_context *ctx, const char *family, const char *options, const char *name,
		     cl_kernel *out)
{
	uint64_t key = clcnn_hash_str(memo_key(family, options), name);
	for (struct clcnn_kernel_entry *e = ctx->kernels; e; e = e->next)
		if (e->key == key) {
			*out = e->kernel;
			return 0;
		}
	cl_program p;
	int rc = clcnn_program_get(ctx, family, options, &p, NULL);
	if (rc)
		return rc;
	cl_int err;
	cl_kernel k = clCreateKernel(p, name, &err);
	if (!k)
		return clcnn_fail_cl(ctx, err, "kernel %s not found in program %s.cl", name, family);
	struct clcnn_kernel_entry *e = calloc(1, sizeof *e);
	if (!e) {
		clReleaseKernel(k);
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	e->key = key;
	e->kernel = k;
	e->next = ctx->kernels;
	ctx->kernels = e;
	*out = k;
	return 0;
}

int clcnn_kernel_set_args(struct clcnn_context *ctx, cl_kernel k, const struct clcnn_karg *args, size_t n)
{
	char name[128] = "?";
	cl_uint want = 0;
	cl_int e = clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof want, &want, NULL);
	if (e == CL_SUCCESS && want != n) {
		clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "kernel %s takes %u arguments, %zu given", name,
				  (unsigned)want, n);
	}
	for (cl_uint i = 0; i < n; i++) {
		e = clSetKernelArg(k, i, args[i].size, args[i].value);
		if (e != CL_SUCCESS) {
			clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
			return clcnn_fail_cl(ctx, e, "setting argument %u of kernel %s", (unsigned)i, name);
		}
	}
	return 0;
}

int clcnn_kernel_run(struct clcnn_context *ctx, cl_kernel k, int dims, const size_t *global, const size_t *local)
{
	size_t g[3], l[3];
	for (int i = 0; i < dims; i++) {
		l[i] = local && local[i] ? local[i] : (i == 0 ? 64 : 1);
		if (i == 0 && global[0] < l[0] && !(local && local[0]))
			l[0] = global[0] ? (global[0] + 7) / 8 * 8 : 8;
		g[i] = (global[i] + l[i] - 1) / l[i] * l[i];
		if (g[i] == 0)
			return 0; /* nothing to do */
	}
	cl_int e = clEnqueueNDRangeKernel(ctx->queue, k, (cl_uint)dims, NULL, g, l, 0, NULL, NULL);
	if (e != CL_SUCCESS) {
		char name[128] = "?";
		clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
		return clcnn_fail_cl(ctx, e, "enqueue of kernel %s (global %zu, local %zu) failed", name, g[0], l[0]);
	}
	return 0;
}
