/* Context: options from the environment, device selection, OpenCL context and in-order queue. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clcnn-private.h"
#include "device/device-private.h"

static int parse_log_level(const char *s)
{
	if (!s || !*s)
		return CLCNN_LOG_WARN;
	if (!strcasecmp(s, "error"))
		return CLCNN_LOG_ERROR;
	if (!strcasecmp(s, "info"))
		return CLCNN_LOG_INFO;
	if (!strcasecmp(s, "debug"))
		return CLCNN_LOG_DEBUG;
	return CLCNN_LOG_WARN;
}

void clcnn_options_from_env(struct clcnn_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->device = getenv("CLCNN_DEVICE");
	opt->platform = getenv("CLCNN_PLATFORM");
	opt->cache_dir = getenv("CLCNN_CACHE_DIR");
	opt->kernel_dir = getenv("CLCNN_KERNEL_DIR");
	opt->conv_algo = getenv("CLCNN_CONV_ALGO");
	opt->tune = getenv("CLCNN_TUNE");
	opt->device_profile = getenv("CLCNN_DEVICE_PROFILE");
	opt->fuse = getenv("CLCNN_FUSE");
	opt->log_level = parse_log_level(getenv("CLCNN_LOG"));
}

static void copy_options(struct clcnn_context *ctx, const struct clcnn_options *o)
{
	ctx->opt = *o;
	const char **f[8] = {&ctx->opt.device,    &ctx->opt.platform, &ctx->opt.cache_dir,      &ctx->opt.kernel_dir,
			     &ctx->opt.conv_algo, &ctx->opt.tune,     &ctx->opt.device_profile, &ctx->opt.fuse};
	for (int i = 0; i < (int)CLCNN_ARRAY_LEN(f); i++) {
		ctx->opt_strings[i] = *f[i] && **f[i] ? clcnn_strdup(*f[i]) : NULL;
		*f[i] = ctx->opt_strings[i];
	}
}

static int open_device(struct clcnn_context *ctx)
{
	char msg[4096];
	int rc = clcnn_device_list_new(&ctx->devices, msg, sizeof msg);
	if (rc)
		return clcnn_fail(ctx, rc, "%s", msg);
	int idx;
	const char *rule;
	rc = clcnn_device_select(ctx->devices, &ctx->opt, &idx, &rule, msg, sizeof msg);
	if (rc)
		return clcnn_fail(ctx, rc, "%s", msg);
	struct clcnn_device_entry *e = &ctx->devices->entries[idx];
	ctx->info = e->info;
	ctx->platform = e->platform;
	ctx->device = e->device;
	clcnn_log(ctx, CLCNN_LOG_INFO, "device %d %s (%s)", idx, e->info.name, rule);
	cl_int err;
	cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
	ctx->cl = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
	if (!ctx->cl)
		return clcnn_fail_cl(ctx, err, "clCreateContext on %s failed", e->info.name);
	ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, 0, &err);
	if (!ctx->queue)
		return clcnn_fail_cl(ctx, err, "clCreateCommandQueue on %s failed", e->info.name);
	return clcnn_device_limits_init(ctx);
}

static int tune_mode(const char *s)
{
	return s && !strcasecmp(s, "all") ? 1 : s && !strcasecmp(s, "off") ? 2 : 0;
}

int clcnn_context_tune_mode(const struct clcnn_context *ctx)
{
	return tune_mode(ctx->opt.tune);
}

/* CLCNN_FUSE: 0 for off / 0, else 1; -1 for a value that is not a choice. */
static int fuse_mode(const char *s)
{
	if (!s || !strcasecmp(s, "on") || !strcmp(s, "1"))
		return 1;
	return !strcasecmp(s, "off") || !strcmp(s, "0") ? 0 : -1;
}

int clcnn_context_fuse(const struct clcnn_context *ctx)
{
	return fuse_mode(ctx->opt.fuse) != 0;
}

static int context_new(struct clcnn_context **out, const struct clcnn_options *opt, char *err, size_t errlen)
{
	struct clcnn_options env;
	if (!opt) {
		clcnn_options_from_env(&env);
		opt = &env;
	}
	*out = NULL;
	struct clcnn_context *ctx = calloc(1, sizeof *ctx);
	if (!ctx) {
		if (err)
			snprintf(err, errlen, "out of host memory creating a context");
		return CLCNN_ERR_NO_MEMORY;
	}
	copy_options(ctx, opt);
	*out = ctx;
	/* a typo would silently mean the default: say so (the value is a choice, not a path) */
	if (ctx->opt.tune && !tune_mode(ctx->opt.tune) && strcasecmp(ctx->opt.tune, "train"))
		clcnn_log(ctx, CLCNN_LOG_WARN, "CLCNN_TUNE=%s is not one of train, all, off; using train",
			  ctx->opt.tune);
	if (fuse_mode(ctx->opt.fuse) < 0)
		clcnn_log(ctx, CLCNN_LOG_WARN, "CLCNN_FUSE=%s is not one of on, off, 1, 0; using on", ctx->opt.fuse);
	return 0;
}

int clcnn_context_open_host(struct clcnn_context **out, const struct clcnn_options *opt, char *err, size_t errlen)
{
	return context_new(out, opt, err, errlen);
}

int clcnn_context_has_device(const struct clcnn_context *ctx)
{
	return ctx->cl != NULL;
}

int clcnn_fail_no_device(struct clcnn_context *ctx, const char *what)
{
	return clcnn_fail(ctx, CLCNN_ERR_NO_DEVICE, "%s needs an OpenCL device, and this context has none", what);
}

void clcnn_progress_note(struct clcnn_context *ctx, enum clcnn_progress_event event, const char *what)
{
	if (event == CLCNN_PROGRESS_DONE && !ctx->waiting)
		return;
	double now = clcnn_now();
	if (!ctx->waiting)
		ctx->wait_start = now;
	ctx->waiting = event != CLCNN_PROGRESS_DONE;
	ctx->compiled += event == CLCNN_PROGRESS_COMPILE;
	ctx->tuned += event == CLCNN_PROGRESS_TUNE;
	if (!ctx->opt.progress_fn)
		return;
	struct clcnn_progress p = {event,          what ? what : "", ctx->compiled, ctx->tuned, now - ctx->wait_start,
				   ctx->info.name, ctx->cache_dir};
	ctx->opt.progress_fn(ctx->opt.progress_user, &p);
}

int clcnn_context_open(struct clcnn_context **out, const struct clcnn_options *opt, char *err, size_t errlen)
{
	int rc = context_new(out, opt, err, errlen);
	if (rc)
		return rc;
	struct clcnn_context *ctx = *out;
	rc = open_device(ctx);
	if (rc == 0) {
		ctx->cache_dir = clcnn_cache_resolve_dir(ctx->opt.cache_dir);
		if (ctx->cache_dir)
			clcnn_log(ctx, CLCNN_LOG_DEBUG, "program cache %s", ctx->cache_dir);
	}
	if (rc && err)
		snprintf(err, errlen, "%s", clcnn_context_error(ctx));
	return rc;
}

void clcnn_context_close(struct clcnn_context *ctx)
{
	if (!ctx)
		return;
	if (ctx->queue)
		clFinish(ctx->queue);
	clcnn_program_memo_free(ctx);
	if (ctx->queue)
		clReleaseCommandQueue(ctx->queue);
	if (ctx->cl)
		clReleaseContext(ctx->cl);
	clcnn_device_list_free(ctx->devices);
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(ctx->opt_strings); i++)
		free(ctx->opt_strings[i]);
	free(ctx->cache_dir);
	free(ctx->error);
	free(ctx);
}

const struct clcnn_device_info *clcnn_context_device(const struct clcnn_context *ctx)
{
	return &ctx->info;
}

const char *clcnn_context_cache_dir(const struct clcnn_context *ctx)
{
	return ctx->cache_dir;
}

int clcnn_context_finish(struct clcnn_context *ctx)
{
	if (!ctx->queue)
		return 0; /* a host context: nothing was queued */
	cl_int e = clFinish(ctx->queue);
	return e == CL_SUCCESS ? 0 : clcnn_fail_cl(ctx, e, "clFinish failed");
}

int clcnn_context_smoke_test(struct clcnn_context *ctx)
{
	enum {
		N = 1000
	};
	cl_kernel k;
	int rc = clcnn_kernel_get(ctx, "common", "", "clcnn_smoke", &k);
	if (rc)
		return rc;
	cl_mem m;
	if ((rc = clcnn_buffer_new(ctx, N * sizeof(float), &m)))
		return rc;
	int n = N;
	float host[N];
	size_t g = N, l = 0;
	rc = clcnn_kernel_args(ctx, k, KARG(m), KARG(n));
	if (!rc)
		rc = clcnn_kernel_run(ctx, k, 1, &g, &l);
	if (!rc)
		rc = clcnn_buffer_read(ctx, m, 0, sizeof host, host);
	clcnn_buffer_free(m);
	if (rc)
		return rc;
	for (int i = 0; i < N; i++) {
		float want = (float)i * 0.5f + 1.0f;
		if (host[i] != want)
			return clcnn_fail(ctx, CLCNN_ERR_OPENCL,
					  "smoke kernel computed %g at element %d, expected %g: the device or driver "
					  "computes wrongly",
					  (double)host[i], i, (double)want);
	}
	return 0;
}
