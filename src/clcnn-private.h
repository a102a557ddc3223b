/* Internal declarations shared by the library's parts. Nothing here is exported. */
#ifndef CLCNN_PRIVATE_H
#define CLCNN_PRIVATE_H

#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "clcnn/clcnn.h"

#if defined(__GNUC__)
#define CLCNN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLCNN_PRINTF(a, b)
#endif

#define CLCNN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Key of a memoised program (family, options) or kernel (family, options, name): the parts packed
 * with their NUL terminators, compared in full; the hash only rejects quickly.
 */
struct clcnn_memo_key {
	uint64_t hash; /* clcnn_memo_hash() of the parts */
	char *bytes;
	size_t len;
};

/* One compiled kernel remembered by (family, options, name). */
struct clcnn_kernel_entry {
	struct clcnn_memo_key key;
	cl_kernel kernel;
	struct clcnn_kernel_entry *next;
};

/* One built program remembered by (family, options). */
struct clcnn_program_entry {
	struct clcnn_memo_key key;
	cl_program program;
	struct clcnn_program_entry *next;
};

/*
 * What kernels and launches may assume of the device (src/device/limits.c): its own answers, or a
 * CLCNN_DEVICE_PROFILE override that makes POCL take the GPU paths. Ops read these, never
 * ctx->info.type, to choose kernels, vector widths, work-group shapes and tiles.
 */
struct clcnn_device_limits {
	int gpu;              /* GPU-shaped kernels: __local tiles, warp-sized groups, narrow vectors */
	int vector_width;     /* float lanes of GPU kernels' loads (1, 2, 4, 8, 16); CPU kernels choose their own */
	int simd;             /* work-group size multiple that fills the hardware (warp / wavefront / CPU lanes) */
	size_t max_wg;        /* work-items a group */
	size_t max_items[3];  /* work-items a group, per dimension */
	size_t max_groups[3]; /* work-groups one launch may have per dimension; clcnn_kernel_run splits more */
	uint64_t local_mem;   /* bytes of __local memory a group */
	char profile[64];     /* "device", or the CLCNN_DEVICE_PROFILE text that made these */
};

struct clcnn_context {
	struct clcnn_options opt; /* strings below are owned copies */
	char *opt_strings[8];
	struct clcnn_device_list *devices;
	struct clcnn_device_info info; /* copy of the selected device's info (strings owned by devices) */
	struct clcnn_device_limits lim;
	/* launches on a GPU profile whose work-groups had fewer than lim.simd items although the grid had
	 * more (a warp mostly idle), and the first such kernel's name: tests assert there are none */
	size_t narrow_launches;
	char narrow_kernel[64];
	cl_platform_id platform;
	cl_device_id device;
	cl_context cl;
	cl_command_queue queue;
	char *cache_dir; /* NULL when off or unusable */
	int cache_warned;
	struct clcnn_program_entry *programs;
	struct clcnn_kernel_entry *kernels;
	char *error; /* last failure message, heap */
	size_t error_cap;
	/* slow first-run work reported to opt.progress_fn (src/device/context.c) */
	int compiled, tuned;
	int waiting; /* compiled or tuned since the last DONE */
	double wait_start;
};

/* Tell opt.progress_fn about slow work starting (COMPILE, TUNE), or that results came back (DONE,
 * reported only when something was compiled or tuned since the last one). */
void clcnn_progress_note(struct clcnn_context *ctx, enum clcnn_progress_event event, const char *what);
/* Fail with CLCNN_ERR_NO_DEVICE naming what needed one, on a clcnn_context_open_host context. */
int clcnn_fail_no_device(struct clcnn_context *ctx, const char *what);
/* CLCNN_TUNE of the context: 0 train (default), 1 all, 2 off. */
int clcnn_context_tune_mode(const struct clcnn_context *ctx);
/* CLCNN_FUSE of the context: 1 on (default), 0 off. */
int clcnn_context_fuse(const struct clcnn_context *ctx);

/* Fill ctx->lim from the device and opt.device_profile; a malformed profile is an error naming it. */
int clcnn_device_limits_init(struct clcnn_context *ctx);
/* 1 when the context takes GPU-shaped kernels (a GPU, or CLCNN_DEVICE_PROFILE=gpu). */
static inline int clcnn_is_gpu(const struct clcnn_context *ctx)
{
	return ctx->lim.gpu;
}
/*
 * The largest work-group size for k on this context: the kernel's CL_KERNEL_WORK_GROUP_SIZE (what its
 * registers and __local use allow) within the device's and the profile's limits.
 */
size_t clcnn_kernel_max_wg(struct clcnn_context *ctx, cl_kernel k);

/* ---- errors and logging (src/core/error.c) */

/* Record a failure message in ctx (printf-style) and return status. ctx may be NULL. */
int clcnn_fail(struct clcnn_context *ctx, int status, const char *fmt, ...) CLCNN_PRINTF(3, 4);
/* Same for an OpenCL error: appends the code's name. */
int clcnn_fail_cl(struct clcnn_context *ctx, cl_int code, const char *fmt, ...) CLCNN_PRINTF(3, 4);
/* Append text to the current failure message (e.g. a build log). */
void clcnn_error_append(struct clcnn_context *ctx, const char *text);
void clcnn_log(const struct clcnn_context *ctx, int level, const char *fmt, ...) CLCNN_PRINTF(3, 4);
const char *clcnn_cl_error_name(cl_int code);

/* ---- hashing (src/core/util.c): FNV-1a 64 chained over parts */
uint64_t clcnn_hash(uint64_t h, const void *data, size_t n);
uint64_t clcnn_hash_str(uint64_t h, const char *s);
#define CLCNN_HASH_INIT 1469598103934665603ULL

/* ---- kernel sources (embedded at build time, or CLCNN_KERNEL_DIR) */
struct clcnn_source {
	const char *name; /* family, e.g. "conv" for cl/conv.cl */
	const unsigned char *data;
	size_t size;
};
extern const struct clcnn_source clcnn_embedded_sources[];
extern const size_t clcnn_embedded_source_count;

/* Load a source into a heap buffer (NUL-terminated): a family ("conv" for cl/conv.cl) or a shared
 * header by its file name ("activation.h"). */
int clcnn_source_load(struct clcnn_context *ctx, const char *name, char **out, size_t *size);

/* ---- programs and kernels (src/device/program.c) */

/* Build (or fetch from memory / disk cache) the cl/ headers + common.cl + <family>.cl with options. */
int clcnn_program_get(struct clcnn_context *ctx, const char *family, const char *options, cl_program *out,
		      struct clcnn_build_report *report);
/* A kernel of that program, memoised in the context (do not release). */
int clcnn_kernel_get(struct clcnn_context *ctx, const char *family, const char *options, const char *name,
		     cl_kernel *out);
/* The bucket hash of a memo key (name NULL for a program); exposed so that tests can force collisions. */
uint64_t clcnn_memo_hash(const char *family, const char *options, const char *name);
/* Release every memoised kernel and program of the context. */
void clcnn_program_memo_free(struct clcnn_context *ctx);
/* One `__kernel` of an embedded source (src/device/kernel-list.c). */
struct clcnn_kernel_decl {
	const char *family; /* "pool" for cl/pool.cl */
	char name[64];
};
/* Every kernel declared in the embedded sources, once per (family, name): fills at most max, returns the count. */
int clcnn_kernel_decls(struct clcnn_kernel_decl *out, int max);
/* How many variants (option sets) of kernel `name` of `family` the context has built. */
int clcnn_kernel_built_variants(const struct clcnn_context *ctx, const char *family, const char *name);

/*
 * Typed kernel arguments. KARG(x) takes an lvalue of type cl_mem, int, cl_uint or float (any other
 * type, a size_t or a double say, does not compile); KARG_STRUCT(s) a parameter struct passed by
 * value; KARG_LOCAL(bytes) a __local buffer. clcnn_kernel_args(ctx, k, KARG(a), KARG(n), ...) sets
 * them in order and fails, naming the kernel, when their number is not the kernel's.
 */
struct clcnn_karg {
	size_t size;
	const void *value;
};
static inline struct clcnn_karg clcnn_karg_mem(const cl_mem *v)
{
	return (struct clcnn_karg){sizeof *v, v};
}
static inline struct clcnn_karg clcnn_karg_int(const int *v)
{
	return (struct clcnn_karg){sizeof *v, v};
}
static inline struct clcnn_karg clcnn_karg_uint(const cl_uint *v)
{
	return (struct clcnn_karg){sizeof *v, v};
}
static inline struct clcnn_karg clcnn_karg_float(const float *v)
{
	return (struct clcnn_karg){sizeof *v, v};
}
#define KARG(x) \
	_Generic((x), cl_mem \
		 : clcnn_karg_mem, int \
		 : clcnn_karg_int, cl_uint \
		 : clcnn_karg_uint, float \
		 : clcnn_karg_float)(&(x))
#define KARG_STRUCT(s) ((struct clcnn_karg){sizeof(s), &(s)})
#define KARG_LOCAL(bytes) ((struct clcnn_karg){(bytes), NULL})

int clcnn_kernel_set_args(struct clcnn_context *ctx, cl_kernel k, const struct clcnn_karg *args, size_t n);
#define clcnn_kernel_args(ctx, k, ...) \
	clcnn_kernel_set_args((ctx), (k), (const struct clcnn_karg[]){__VA_ARGS__}, \
			      sizeof((const struct clcnn_karg[]){__VA_ARGS__}) / sizeof(struct clcnn_karg))
/*
 * Enqueue k with dims dimensions; global sizes are rounded up to a multiple of local.
 * local may contain 0s meaning "pick" (1 for dims > 0). The launch respects ctx->lim and the
 * kernel's own work-group size: a picked local size is lowered to fit; a given one that does not fit
 * is an error naming the kernel and both sizes (a kernel whose __local tiles are sized for its group
 * cannot be shrunk behind its back). More work-groups in a dimension than lim.max_groups allows are
 * enqueued as several launches with global offsets: kernels must take their position from
 * get_global_id / get_local_id (or GROUP_ID() of common.cl), never get_group_id.
 */
int clcnn_kernel_run(struct clcnn_context *ctx, cl_kernel k, int dims, const size_t *global, const size_t *local);

/* ---- on-disk binary cache (src/device/cache.c) */
char *clcnn_cache_resolve_dir(const char *opt_dir);
/*
 * Entries "<dir>/<kind>-<hash of key>.bin" hold the whole key; a load whose stored key differs from
 * key (a hash collision, or a file written for something else) misses. 0 on a hit.
 */
int clcnn_cache_load(struct clcnn_context *ctx, const char *kind, const void *key, size_t key_len, unsigned char **data,
		     size_t *size);
void clcnn_cache_store(struct clcnn_context *ctx, const char *kind, const void *key, size_t key_len, const void *data,
		       size_t size);
/* Fixed-size blobs keyed by a 64-bit value (autotune records). */
int clcnn_cache_load_blob(struct clcnn_context *ctx, const char *kind, uint64_t key, void *data, size_t size);
void clcnn_cache_store_blob(struct clcnn_context *ctx, const char *kind, uint64_t key, const void *data, size_t size);

/* ---- buffers (src/device/buffer.c) */
/* Allocate a device buffer; failures (size over max alloc, out of resources) name the size. */
int clcnn_buffer_new(struct clcnn_context *ctx, size_t bytes, cl_mem *out);
void clcnn_buffer_free(cl_mem m);
/*
 * Pinned host memory for staging copies (CL_MEM_ALLOC_HOST_PTR, mapped once): reads and writes of
 * device buffers to and from *ptr run at the bus's DMA speed instead of through a driver bounce
 * buffer. *ptr stays valid until clcnn_buffer_host_free. On a host context, or when the device
 * refuses, plain host memory (mem NULL).
 */
int clcnn_buffer_host_new(struct clcnn_context *ctx, size_t bytes, cl_mem *mem, void **ptr);
void clcnn_buffer_host_free(struct clcnn_context *ctx, cl_mem mem, void *ptr);
int clcnn_buffer_write(struct clcnn_context *ctx, cl_mem m, size_t offset, size_t bytes, const void *src);
int clcnn_buffer_read(struct clcnn_context *ctx, cl_mem m, size_t offset, size_t bytes, void *dst);
/* Fill with a float value (non-blocking, in queue order). */
int clcnn_buffer_fill(struct clcnn_context *ctx, cl_mem m, float value, size_t count);
int clcnn_buffer_copy(struct clcnn_context *ctx, cl_mem src, cl_mem dst, size_t bytes);

struct clcnn_tensor {
	struct clcnn_context *ctx;
	int ndim;
	int dims[CLCNN_MAX_DIMS];
	cl_mem mem;
};

/* ---- small utilities (src/core/util.c) */
char *clcnn_strdup(const char *s);
/* snprintf into a growing heap string; returns 0 or -1 on allocation failure. */
int clcnn_strcatf(char **buf, size_t *len, size_t *cap, const char *fmt, ...) CLCNN_PRINTF(4, 5);
double clcnn_now(void); /* monotonic seconds */
/*
 * The kernel options of a fused activation (cl/common.cl's FUSED_ACT, FUSED_MASK; kind 1 relu, 2
 * leaky_relu): " -DFUSE=kind -DFUSE_SLOPE=slope" with the slope as a hexadecimal float literal
 * (exactly the float), "" for kind 0. Returns buf.
 */
const char *clcnn_fuse_options(int kind, float slope, char *buf, size_t n);

#endif
