/*
 * clcnn — convolutional neural networks on any OpenCL device.
 *
 * Conventions shared by every header of this library:
 *  - Fallible functions return int: 0 on success, a negative enum clcnn_status on failure.
 *    The human-readable message (OpenCL error code, build log, the names and numbers involved)
 *    is kept in the context and read with clcnn_context_error().
 *  - Objects are opaque handles created by _new/_open and destroyed by _free/_close; passing
 *    NULL to a destructor is a no-op.
 *  - The library never exits, aborts or prints. Diagnostics go to an optional log callback.
 *  - Tensors are float32, row-major NCHW (N, C, H, W) for images and (N, F) for features.
 */
#ifndef CLCNN_CLCNN_H
#define CLCNN_CLCNN_H

#include <stddef.h>
#include <stdint.h>

#include "clcnn/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CLCNN_BUILDING) && defined(__GNUC__)
#define CLCNN_API __attribute__((visibility("default")))
#else
#define CLCNN_API
#endif

/** Status codes. Values are negative; 0 is success. */
enum clcnn_status {
	CLCNN_OK = 0,
	CLCNN_ERR_INVALID = -1,    /**< invalid argument, shape or configuration */
	CLCNN_ERR_NO_DEVICE = -2,  /**< no OpenCL platform/device, or selector matched nothing */
	CLCNN_ERR_OPENCL = -3,     /**< an OpenCL call failed (code in the message) */
	CLCNN_ERR_BUILD = -4,      /**< kernel program failed to build (build log in the message) */
	CLCNN_ERR_NO_MEMORY = -5,  /**< host or device allocation failed (size in the message) */
	CLCNN_ERR_IO = -6,         /**< a file could not be read or written */
	CLCNN_ERR_FORMAT = -7,     /**< a file is malformed (netfile, safetensors, IDX, image) */
	CLCNN_ERR_NUMERIC = -8,    /**< NaN or Inf where a finite value was required */
	CLCNN_ERR_INTERRUPTED = -9 /**< stopped on request */
};

/** Short constant name of a status, e.g. "CLCNN_ERR_BUILD". Never NULL. */
CLCNN_API const char *clcnn_status_name(int status);

/**
 * Version of the library the program runs with, "MAJOR.MINOR.PATCH". It equals
 * CLCNN_VERSION_STRING of the headers the program was compiled with unless the library was
 * replaced since; a program that depends on newer behaviour can compare the two. Never NULL.
 */
CLCNN_API const char *clcnn_version(void);

enum clcnn_log_level {
	CLCNN_LOG_ERROR = 0,
	CLCNN_LOG_WARN = 1,
	CLCNN_LOG_INFO = 2,
	CLCNN_LOG_DEBUG = 3
};

typedef void (*clcnn_log_fn)(void *user, int level, const char *message);

/**
 * Slow first-run work, for a progress display. Compiling a kernel program from source (a cache
 * miss) and timing a convolution's algorithms happen once per device, driver, kernel version and
 * shape, and take up to seconds each; their results are kept in the cache directory
 * (clcnn_context_cache_dir), so that later runs skip them. A program that shows nothing while
 * they run looks hung: clcnn_options.progress_fn hears of them as they start.
 */
enum clcnn_progress_event {
	CLCNN_PROGRESS_COMPILE = 0, /**< a kernel program is about to be compiled from source */
	CLCNN_PROGRESS_TUNE = 1,    /**< a convolution's algorithms are about to be timed */
	CLCNN_PROGRESS_DONE = 2     /**< the wait is over: a graph build or a read-back finished */
};

struct clcnn_progress {
	enum clcnn_progress_event event;
	/** The program family ("conv_im2col") or the convolution ("conv2d 1x1x28x28 -> 32 forward"). */
	const char *what;
	/** Programs compiled and convolutions timed by this context so far, this one included. */
	int compiled, tuned;
	/** Seconds since the first event after the last DONE (the current wait). */
	double seconds;
	const char *device;    /**< the context's device name */
	const char *cache_dir; /**< where the results are kept; NULL when caching is off */
};

/** Called on the caller's thread, inside the library call that does the work; strings live for the call. */
typedef void (*clcnn_progress_fn)(void *user, const struct clcnn_progress *progress);

/**
 * Context options. clcnn_options_from_env() fills them from the environment (read once);
 * a program may then override any field before clcnn_context_open(). NULL/empty strings mean
 * "not set". Strings are borrowed: they must outlive clcnn_context_open() (they are copied).
 */
struct clcnn_options {
	const char *device;     /**< CLCNN_DEVICE: gpu | cpu | accelerator | N | P:D | name substring */
	const char *platform;   /**< CLCNN_PLATFORM: index or name substring */
	const char *cache_dir;  /**< CLCNN_CACHE_DIR: program/tuning cache; "off" disables */
	const char *kernel_dir; /**< CLCNN_KERNEL_DIR: read cl/ sources from here, not the embedded copy */
	const char *conv_algo;  /**< CLCNN_CONV_ALGO: force a convolution algorithm by name */
	int log_level;          /**< CLCNN_LOG: error | warn | info | debug (default warn) */
	clcnn_log_fn log_fn;    /**< receives diagnostics; NULL drops them */
	void *log_user;
	/**
	 * CLCNN_TUNE: when convolutions time their algorithms. "train" (default): at their first call in
	 * training mode (forward and backward); an eval-mode forward that finds no recorded choice uses
	 * a fixed preference (shallow, implicit, im2col: the first that applies) without timing or
	 * recording it, so inference never waits for the autotuner. "all": eval-mode forwards time and
	 * record too. "off": never time; the fixed preference everywhere (recorded choices still apply).
	 */
	const char *tune;
	/** Hears of slow first-run work (see clcnn_progress); NULL: nobody. */
	clcnn_progress_fn progress_fn;
	void *progress_user;
	/**
	 * CLCNN_DEVICE_PROFILE, a testing aid: "device" (default: what the device reports) or "gpu" /
	 * "cpu" to make any device take that kind's kernels and launch shapes, optionally followed by
	 * ",key=N" limits that are lowered to N (never raised above the device's): vw (float vector
	 * width of GPU kernels, 1, 2, 4, 8 or 16), wg (work-items a group), local (bytes of __local a
	 * group), groups (work-groups a launch dimension; more are split into several launches), simd
	 * (the work-group multiple kernels aim for). Example: CLCNN_DEVICE_PROFILE=gpu,wg=256,vw=1 on
	 * POCL runs every GPU code path on a CPU. See docs/gpu.md.
	 */
	const char *device_profile;
	/**
	 * CLCNN_FUSE: operator fusion, "on" (default, also "1") or "off" ("0"): a debugging switch.
	 * On, a batchnorm whose only reader is a relu (or leaky_relu with slope >= 0) applies it in
	 * its own pass, forward and backward, with bitwise the same results (docs/cost.md, "Memory
	 * plan"); clcnn_graph_set_fusion sets it per graph.
	 */
	const char *fuse;
};

/** Fill *opt from CLCNN_* environment variables (pointers into the environment). */
CLCNN_API void clcnn_options_from_env(struct clcnn_options *opt);

/* ------------------------------------------------------------------ devices */

/** One OpenCL device as enumerated; strings are owned by the list. */
struct clcnn_device_info {
	int index; /**< global index, as `clcnn devices` prints and CLCNN_DEVICE=N takes */
	int platform_index, device_index;
	const char *platform_name, *platform_version;
	const char *name, *vendor, *driver_version, *opencl_c_version;
	const char *type; /**< "gpu", "cpu", "accelerator" or "other" */
	unsigned compute_units, clock_mhz;
	uint64_t global_mem, local_mem, max_alloc;
	size_t max_work_group;
	int fp16, fp64;
};

struct clcnn_device_list;

/**
 * Enumerate every platform and device. On failure *out is NULL and, if err is non-NULL,
 * a message is written there (errlen bytes). Free with clcnn_device_list_free().
 */
CLCNN_API int clcnn_device_list_new(struct clcnn_device_list **out, char *err, size_t errlen);
CLCNN_API void clcnn_device_list_free(struct clcnn_device_list *list);
CLCNN_API int clcnn_device_list_count(const struct clcnn_device_list *list);
CLCNN_API const struct clcnn_device_info *clcnn_device_list_get(const struct clcnn_device_list *list, int i);

/**
 * Apply the selection rules of opt (device, platform) to list. On success *index is the
 * chosen global index and *rule (if non-NULL) a static description of the rule that chose it.
 * A selector matching nothing returns CLCNN_ERR_NO_DEVICE with a message listing the devices.
 */
CLCNN_API int clcnn_device_select(const struct clcnn_device_list *list, const struct clcnn_options *opt, int *index,
				  const char **rule, char *err, size_t errlen);

/* ------------------------------------------------------------------ context */

struct clcnn_context;

/**
 * Open a context (OpenCL context + one in-order queue) on the device opt selects
 * (opt may be NULL: the environment is used). On failure *out is still set when possible so that
 * clcnn_context_error() can explain; it must be closed. If err is non-NULL the message is also
 * copied there, which is the only way to learn why when *out is NULL.
 */
CLCNN_API int clcnn_context_open(struct clcnn_context **out, const struct clcnn_options *opt, char *err, size_t errlen);
CLCNN_API void clcnn_context_close(struct clcnn_context *ctx);

/**
 * Open a context without an OpenCL device (none is looked for, no driver is loaded): enough to
 * parse netfiles, infer shapes and plan a graph (clcnn_graph_build sizes every buffer without
 * allocating it; workspaces that an algorithm choice on a device would add are not counted) and
 * describe it. Parameter values written to it are dropped; reading results, running kernels and
 * anything else that needs the device fails with CLCNN_ERR_NO_DEVICE. Close with
 * clcnn_context_close.
 */
CLCNN_API int clcnn_context_open_host(struct clcnn_context **out, const struct clcnn_options *opt, char *err,
				      size_t errlen);
/** 1 when the context has a device, 0 for clcnn_context_open_host's. */
CLCNN_API int clcnn_context_has_device(const struct clcnn_context *ctx);

/** The message of the last failure in this context ("" if none). Owned by the context. */
CLCNN_API const char *clcnn_context_error(const struct clcnn_context *ctx);

/** Info of the device the context runs on. Owned by the context. */
CLCNN_API const struct clcnn_device_info *clcnn_context_device(const struct clcnn_context *ctx);

/** Block until every queued command finished. */
CLCNN_API int clcnn_context_finish(struct clcnn_context *ctx);

/** Names of all kernel program families embedded in the library (NULL-terminated). */
CLCNN_API const char *const *clcnn_program_families(void);

/** Result of building one program, for `clcnn doctor`. */
struct clcnn_build_report {
	double seconds;
	int cache_hit; /**< 1 binary from the on-disk cache, 0 compiled from source */
};

/**
 * Build program family (e.g. "common", "conv") with extra build options. Used by doctor and tests;
 * ops build what they need themselves.
 */
CLCNN_API int clcnn_program_build(struct clcnn_context *ctx, const char *family, const char *options,
				  struct clcnn_build_report *report);

/** Effective cache directory of the context, or NULL when caching is off. */
CLCNN_API const char *clcnn_context_cache_dir(const struct clcnn_context *ctx);

/** Run a tiny kernel and check its result; 0 when the device computes correctly. */
CLCNN_API int clcnn_context_smoke_test(struct clcnn_context *ctx);

/* ------------------------------------------------------------------ tensors */

#define CLCNN_MAX_DIMS 4

struct clcnn_tensor;

/** A device tensor of float32 with 1..4 dims. Contents are undefined after creation. */
CLCNN_API int clcnn_tensor_new(struct clcnn_context *ctx, int ndim, const int *dims, struct clcnn_tensor **out);
CLCNN_API void clcnn_tensor_free(struct clcnn_tensor *t);
CLCNN_API int clcnn_tensor_ndim(const struct clcnn_tensor *t);
CLCNN_API int clcnn_tensor_dim(const struct clcnn_tensor *t, int i);
CLCNN_API size_t clcnn_tensor_count(const struct clcnn_tensor *t);
/** Copy count() floats from host to device / device to host (blocking). */
CLCNN_API int clcnn_tensor_upload(struct clcnn_tensor *t, const float *src);
CLCNN_API int clcnn_tensor_download(const struct clcnn_tensor *t, float *dst);

#ifdef __cplusplus
}
#endif
#endif
