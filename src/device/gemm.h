/*
 * Device GEMM for convolution (im2col) and linear layers:
 *   C = alpha * op(A) * op(B) + beta * C
 * row-major float32 buffers, op(X) = X or X^T; op(A) is m x k, op(B) is k x n, C is m x n.
 * Offsets, leading dimensions and batch strides are in elements; batch entry z uses
 * a + off_a + z * stride_a (same for b and c). beta == 0 never reads C (NaN there is ignored).
 * Everything is enqueued on ctx->queue: no host synchronisation, no allocation per call.
 */
#ifndef CLCNN_DEVICE_GEMM_H
#define CLCNN_DEVICE_GEMM_H

#include "clcnn-private.h"

enum clcnn_gemm_algo {
	CLCNN_GEMM_AUTO = 0,  /* CPU_VEC on CPU devices, GPU_TILED otherwise */
	CLCNN_GEMM_CPU_VEC,   /* explicit float16 register tiles, no __local (POCL) */
	CLCNN_GEMM_GPU_TILED, /* __local tiles + per-thread register tiles */
	CLCNN_GEMM_CLBLAST,   /* CLBlast SGEMM baseline (slow on POCL) */
	CLCNN_GEMM_NAIVE,     /* one work-item per element: the reference path */
	CLCNN_GEMM_ALGO_COUNT
};

/* "auto", "cpu-vec", "gpu-tiled", "clblast", "naive"; "?" when out of range. */
const char *clcnn_gemm_algo_name(enum clcnn_gemm_algo algo);
/* 1 when this build has algo: CLBLAST only when built with CLBlast (meson option clblast). */
int clcnn_gemm_algo_available(enum clcnn_gemm_algo algo);

/*
 * Algorithm and tile sizes; a zero field means "the default for this device". Tests use it to run
 * every algorithm, the bench to sweep tiles.
 *  CPU_VEC: tm rows x tnv vectors of vw (8 or 16) columns per work-item, lx work-items per group
 *           along m; dm x dn is the tile of the k-vectorised kernel used for A * B^T.
 *  GPU_TILED: tsm x tsn block per work-group, tsk k slice, wptm x wptn outputs per work-item.
 */
struct clcnn_gemm_config {
	enum clcnn_gemm_algo algo;
	int tm, tnv, vw, lx, dm, dn;
	int tsm, tsn, tsk, wptm, wptn;
};

/*
 * Scratch memory some algorithms use (CPU_VEC transposes the smaller operand of A * B^T into it, and
 * packs B's column panels for a long k).
 * Owned by the caller, zero-initialised; a call grows it when it is too small, so reserve it at plan
 * time (clcnn_gemm_workspace_reserve with clcnn_gemm_workspace_bytes) to keep allocation out of the
 * run. Release it with clcnn_gemm_workspace_release (after the queue no longer needs it is not
 * required: OpenCL keeps the buffer alive for commands already enqueued).
 */
struct clcnn_gemm_workspace {
	cl_mem mem;
	size_t bytes;
	/* view: mem is the caller's own scratch (bytes its size) and the workspace starts at float off;
	 * never grown or released here, and a call that needs more does without it (slower, same
	 * result) */
	size_t off;
	int view;
};

/* Bytes of workspace a call with these arguments uses (0: none). */
size_t clcnn_gemm_workspace_bytes(const struct clcnn_context *ctx, const struct clcnn_gemm_config *cfg, int trans_a,
				  int trans_b, int m, int n, int k, int batch);
/* Make ws at least bytes large (allocates only when it grows). */
int clcnn_gemm_workspace_reserve(struct clcnn_context *ctx, struct clcnn_gemm_workspace *ws, size_t bytes);
void clcnn_gemm_workspace_release(struct clcnn_gemm_workspace *ws);

/*
 * One operand of a GEMM: op(X) is X, or X^T when trans (A and B only); element (r, c) of the stored
 * X of batch entry z is mem[off + z * stride + r * ld + c].
 */
struct clcnn_gemm_operand {
	cl_mem mem;
	size_t off;
	int ld;
	size_t stride;
	int trans;
};

/* The activation a GEMM may apply to what it stores (the numbers of struct clcnn_fused_act's kinds). */
enum clcnn_gemm_act {
	CLCNN_GEMM_ACT_NONE = 0,
	CLCNN_GEMM_ACT_RELU = 1,       /* t < 0 ? 0 : t (NaN and -0 pass) */
	CLCNN_GEMM_ACT_LEAKY_RELU = 2, /* t > 0 ? t : t * act_slope, act_slope >= 0 */
};

/*
 * C = alpha * op(A) * op(B) + beta * C for batch entries (0 counts as 1, so that a designated
 * initialiser may leave it out). Callers write every scale they mean: alpha left out is 0.
 * The epilogue, optional: bias (n floats) makes C[i][j] = alpha * (AB)[i][j] + beta * C[i][j] + bias[j]
 * for every batch entry, then act (enum clcnn_gemm_act) is applied to that, each a rounding of its own
 * as a separate pass would do it: a linear layer's forward, with a relu after it, in one launch.
 * The CPU kernels apply it as they store; GPU_TILED's tiled kernel, CLBlast and the naive kernel in a
 * pass after the product.
 */
struct clcnn_gemm_args {
	int m, n, k, batch;
	float alpha, beta;
	struct clcnn_gemm_operand a, b, c;
	cl_mem bias;
	int act;
	float act_slope;
};

/* The default algorithm without workspace (A * B^T then runs a slower k-vectorised kernel on CPUs). */
int clcnn_gemm(struct clcnn_context *ctx, const struct clcnn_gemm_args *args);

/* Same with an explicit algorithm and tiles (cfg NULL: defaults) and a workspace (ws NULL: none). */
int clcnn_gemm_with(struct clcnn_context *ctx, const struct clcnn_gemm_config *cfg, struct clcnn_gemm_workspace *ws,
		    const struct clcnn_gemm_args *args);

#endif
