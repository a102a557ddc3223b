/*
 * Device limits (struct clcnn_device_limits): what the device answers, lowered by a
 * CLCNN_DEVICE_PROFILE override ("gpu", "cpu" or "device", then ",key=N" pairs), and the checks
 * every launch makes against them (clcnn_kernel_run in program.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clcnn-private.h"

/* The GPU profile's defaults: what NVIDIA, AMD and Intel GPUs all accept (CUDA's 65,535 blocks in y
 * and z, 256 work-items (AMD's and Intel's limit), 32 KiB of __local (Oclgrind's, below NVIDIA's 48)). */
enum {
	GPU_WG = 256,
	GPU_LOCAL = 32768,
	GPU_GROUPS_YZ = 65535,
	GPU_SIMD = 32,
	GPU_VW = 4
};

static void lower(size_t *v, size_t to)
{
	if (to && (*v == 0 || to < *v))
		*v = to;
}

static void from_device(struct clcnn_context *ctx, struct clcnn_device_limits *l)
{
	l->gpu = ctx->info.type && !strcmp(ctx->info.type, "gpu");
	l->vector_width = GPU_VW;
	l->simd = l->gpu ? GPU_SIMD : 16;
	l->max_wg = ctx->info.max_work_group ? ctx->info.max_work_group : 1;
	size_t items[3] = {l->max_wg, l->max_wg, l->max_wg};
	if (ctx->device)
		clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL);
	for (int i = 0; i < 3; i++) {
		l->max_items[i] = items[i] ? items[i] : 1;
		/* OpenCL itself has no group-count limit; GPUs behind it do (CUDA: 2^31 - 1 in x, 65,535 in y, z) */
		l->max_groups[i] = i == 0 ? (size_t)INT32_MAX : l->gpu ? GPU_GROUPS_YZ : (size_t)INT32_MAX;
	}
	l->local_mem = ctx->info.local_mem;
	snprintf(l->profile, sizeof l->profile, "device");
}

/* "key=N" of the profile: lowers one limit. */
static int apply_key(struct clcnn_context *ctx, struct clcnn_device_limits *l, const char *item)
{
	const char *eq = strchr(item, '=');
	char *end;
	long v = eq ? strtol(eq + 1, &end, 10) : 0;
	if (!eq || eq == item || end == eq + 1 || *end || v <= 0)
		return clcnn_fail(
			ctx, CLCNN_ERR_INVALID,
			"CLCNN_DEVICE_PROFILE '%s': '%s' is not key=N with N > 0 (keys: vw, wg, local, groups, simd)",
			ctx->opt.device_profile, item);
	size_t n = (size_t)v, klen = (size_t)(eq - item);
	if (klen == 2 && !strncmp(item, "vw", 2)) {
		if (n != 1 && n != 2 && n != 4 && n != 8 && n != 16)
			return clcnn_fail(ctx, CLCNN_ERR_INVALID,
					  "CLCNN_DEVICE_PROFILE '%s': vw=%zu, but a vector has 1, 2, 4, 8 or 16 floats",
					  ctx->opt.device_profile, n);
		l->vector_width = (int)n;
	} else if (klen == 2 && !strncmp(item, "wg", 2)) {
		lower(&l->max_wg, n);
		for (int i = 0; i < 3; i++)
			lower(&l->max_items[i], n);
	} else if (klen == 5 && !strncmp(item, "local", 5)) {
		if ((uint64_t)n < l->local_mem || !l->local_mem)
			l->local_mem = n;
	} else if (klen == 6 && !strncmp(item, "groups", 6)) {
		for (int i = 0; i < 3; i++)
			lower(&l->max_groups[i], n);
	} else if (klen == 4 && !strncmp(item, "simd", 4)) {
		l->simd = (int)n;
	} else {
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "CLCNN_DEVICE_PROFILE '%s': unknown key '%.*s' (keys: vw, wg, local, groups, simd)",
				  ctx->opt.device_profile, (int)klen, item);
	}
	return 0;
}

int clcnn_device_limits_init(struct clcnn_context *ctx)
{
	struct clcnn_device_limits *l = &ctx->lim;
	from_device(ctx, l);
	const char *p = ctx->opt.device_profile;
	if (!p || !*p)
		return 0;
	char buf[256];
	if (strlen(p) >= sizeof buf)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "CLCNN_DEVICE_PROFILE is %zu characters long: at most %zu",
				  strlen(p), sizeof buf - 1);
	strcpy(buf, p);
	char *save = NULL, *kind = strtok_r(buf, ",", &save);
	if (!kind || !strcasecmp(kind, "device")) {
		/* the device's own limits, lowered by the keys */
	} else if (!strcasecmp(kind, "gpu")) {
		l->gpu = 1;
		l->simd = GPU_SIMD;
		lower(&l->max_wg, GPU_WG);
		for (int i = 0; i < 3; i++) {
			lower(&l->max_items[i], GPU_WG);
			if (i)
				lower(&l->max_groups[i], GPU_GROUPS_YZ);
		}
		if (!l->local_mem || l->local_mem > GPU_LOCAL)
			l->local_mem = GPU_LOCAL;
	} else if (!strcasecmp(kind, "cpu")) {
		l->gpu = 0;
		l->simd = 16;
	} else {
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "CLCNN_DEVICE_PROFILE '%s': '%s' is not a profile (device, gpu or cpu, then ,key=N)",
				  p, kind);
	}
	for (char *item; (item = strtok_r(NULL, ",", &save));) {
		int rc = apply_key(ctx, l, item);
		if (rc)
			return rc;
	}
	snprintf(l->profile, sizeof l->profile, "%s", p);
	clcnn_log(ctx, CLCNN_LOG_INFO, "device profile %s: %s kernels, vw %d, wg %zu, local %llu B, groups %zu/%zu/%zu",
		  p, l->gpu ? "GPU" : "CPU", l->vector_width, l->max_wg, (unsigned long long)l->local_mem,
		  l->max_groups[0], l->max_groups[1], l->max_groups[2]);
	return 0;
}

size_t clcnn_kernel_max_wg(struct clcnn_context *ctx, cl_kernel k)
{
	size_t wg = ctx->lim.max_wg, kw = 0;
	if (ctx->device &&
	    clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kw, &kw, NULL) == CL_SUCCESS)
		lower(&wg, kw);
	return wg ? wg : 1;
}
