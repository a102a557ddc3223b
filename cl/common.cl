/* Prelude of every program (after the cl/ headers): the macros, reductions and helpers that layer
 * families share. Layout is NCHW float32; kernels index with int (buffers stay below 2^31 elements). */

/* ---------------------------------------------------------------- macros the families share */

/* Token pasting after expansion, so that CLCNN_CAT(float, VW) names float16 when VW is 16. */
#define CLCNN_CAT_(a, b) a##b
#define CLCNN_CAT(a, b) CLCNN_CAT_(a, b)

/* Vector width along the unit-stride dimension (-DVW): 16 fills an AVX-512 register, 8 an AVX2
 * one; VT is VW floats, with its loads and stores. */
#ifndef VW
#define VW 16
#endif
#define VT CLCNN_CAT(float, VW)
#define VLOAD CLCNN_CAT(vload, VW)
#define VSTORE CLCNN_CAT(vstore, VW)
/* VW = 1 (a GPU profile's vw=1): OpenCL has no float1 nor vload1, so the scalar forms stand in. */
#if VW == 1
#undef VT
#undef VLOAD
#undef VSTORE
#define VT float
#define VLOAD(i, p) ((p)[i])
#define VSTORE(v, i, p) ((p)[i] = (v))
#endif

/*
 * A fused activation (src/ops/op.h, struct clcnn_fused_act; the host's -D options from
 * clcnn_fuse_options): FUSE 1 relu, 2 leaky_relu with the slope FUSE_SLOPE (a float literal >= 0).
 * FUSED_ACT is act_f of cl/activation.cl on t of type T; FUSED_MASK is its act_df on dy = g, tested
 * on the activation's output y or on anything with y's sign (relu: 0 where y <= 0, NaN passes g;
 * leaky_relu: g * slope where not y > 0). The floats are those of the separate activation pass.
 */
#ifndef FUSE
#define FUSE 0
#endif
#if FUSE == 1
#define FUSED_ACT(T, t) select(t, (T)0.0f, (t) < 0.0f)
#define FUSED_MASK(T, g, y) select(g, (T)0.0f, (y) <= 0.0f)
#elif FUSE == 2
#define FUSED_ACT(T, t) select((t) * FUSE_SLOPE, t, (t) > 0.0f)
#define FUSED_MASK(T, g, y) select((g) * FUSE_SLOPE, g, (y) > 0.0f)
#else
#define FUSED_ACT(T, t) (t)
#define FUSED_MASK(T, g, y) (g)
#endif

/* The work-group's index in dimension d that survives a launch split by the host (clcnn_kernel_run
 * enqueues grids past the device's group limit as several launches with global offsets, and
 * get_group_id restarts at 0 in each): kernels use this, never get_group_id. */
#define GROUP_ID(d) ((get_global_id(d) - get_local_id(d)) / get_local_size(d))

/* Register tile of one work-item of the GEMM-like kernels (gemm.cl, convgemm.cl): TM rows x TNV
 * vectors of VW columns (TM * TNV accumulators). */
#ifndef TM
#define TM 6
#endif
#ifndef TNV
#define TNV 4
#endif
#define TN (TNV * VW)

/* POCL 3.1 compiles mad() to a separate multiply and add and does not define FP_FAST_FMAF, so the
 * host passes HW_FMA from CL_DEVICE_SINGLE_FP_CONFIG; fma() without hardware would be a libcall. */
#if defined(FP_FAST_FMAF) || HW_FMA
#define CLCNN_FMA(a, b, c) fma(a, b, c)
#else
#define CLCNN_FMA(a, b, c) mad(a, b, c)
#endif

/*
 * Register tiles: CLCNN_TILE declares T acc[rows][cols] zeroed; CLCNN_TILE_STEP is one rank-1 step
 * of a VT tile, acc[i][v] += a_i * b[v], with a_i an expression of the row index i (a scalar
 * broadcast to VT: a memory broadcast on AVX-512); CLCNN_TILE_STORE stores vector (i, v) of a VT
 * tile at dst, an expression of i and v, where row_ok and col_ok hold. Every loop unrolls so that
 * acc stays in registers (indices are constants after unrolling).
 */
#define CLCNN_TILE(T, acc, rows, cols)                                                                       \
	T acc[rows][cols];                                                                                   \
	_Pragma("unroll") for (int i = 0; i < (rows); i++)                                                    \
		_Pragma("unroll") for (int v = 0; v < (cols); v++) acc[i][v] = (T)(0.0f)
#define CLCNN_TILE_STEP(acc, rows, cols, a_i, b)                                                             \
	_Pragma("unroll") for (int i = 0; i < (rows); i++)                                                    \
	{                                                                                                    \
		const VT tile_a = (VT)(a_i);                                                                 \
		_Pragma("unroll") for (int v = 0; v < (cols); v++) acc[i][v] = CLCNN_FMA(tile_a, (b)[v], acc[i][v]); \
	}
#define CLCNN_TILE_STORE(acc, rows, cols, row_ok, col_ok, dst)                                              \
	_Pragma("unroll") for (int i = 0; i < (rows); i++)                                                    \
		_Pragma("unroll") for (int v = 0; v < (cols); v++) if ((row_ok) && (col_ok)) VSTORE(acc[i][v], 0, dst)

/* ---------------------------------------------------------------- reductions */

/* Sums of a vector's lanes as a fixed tree (halves added, then halves of that...): the same order
 * wherever it is used, so results do not depend on which kernel reduced. VHSUM: for VT. */
inline float clcnn_hsum1(float v)
{
	return v;
}
inline float clcnn_hsum2(float2 v)
{
	return v.x + v.y;
}
inline float clcnn_hsum4(float4 v)
{
	return clcnn_hsum2(v.lo + v.hi);
}
inline float clcnn_hsum8(float8 v)
{
	return clcnn_hsum4(v.lo + v.hi);
}
inline float clcnn_hsum16(float16 v)
{
	return clcnn_hsum8(v.lo + v.hi);
}
#define VHSUM CLCNN_CAT(clcnn_hsum, VW)

/* GPU kernels: the sum of v over the work-group (dimension 0, a power-of-two size, red with one float
 * per item) as a fixed tree (item l adds item l + s for s = size/2, size/4, ...), so the result
 * depends on the group size only, never on timing; every item gets it. Call from all items. */
inline float clcnn_group_sum(__local float *red, float v)
{
	const int l = get_local_id(0);
	red[l] = v;
	barrier(CLK_LOCAL_MEM_FENCE);
	for (int s = (int)get_local_size(0) / 2; s > 0; s >>= 1) {
		if (l < s)
			red[l] += red[l + s];
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	const float r = red[0];
	barrier(CLK_LOCAL_MEM_FENCE);
	return r;
}

/* Counter-based RNG shared with the C reference (clcnn_uniform in src/ops/op.c): a 32-bit hash of (seed, index). */
inline uint clcnn_hash32(uint x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* Uniform in [0, 1) with 24 bits, from (seed, stream index). */
inline float clcnn_uniform(uint seed, uint i)
{
	return (float)(clcnn_hash32(clcnn_hash32(seed) ^ (i * 0x9E3779B9U + 0x632BE5ABU)) >> 8) * (1.0f / 16777216.0f);
}

/* Smoke test for `clcnn doctor`: out[i] = i * 0.5 + 1. */
__kernel void clcnn_smoke(__global float *out, int n)
{
	int i = get_global_id(0);
	if (i < n)
		out[i] = (float)i * 0.5f + 1.0f;
}

/* y[i] = a * x[i] + b * y[i] (used for gradient accumulation and optimizers). */
__kernel void clcnn_axpby(__global const float *x, __global float *y, float a, float b, int n)
{
	int i = get_global_id(0);
	if (i < n)
		y[i] = a * x[i] + b * y[i];
}

/* Launch-split probe of tests/device/test-launch.c (built only with -DCLCNN_GRID_PROBE): every
 * work-item inside nx x ny x nz counts its visit and records where it ran, so that a grid split into
 * several launches can be compared with the unsplit one. */
#ifdef CLCNN_GRID_PROBE
__kernel void clcnn_grid_probe(__global int *visits, __global int *where, int nx, int ny, int nz)
{
	const int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);
	if (x >= nx || y >= ny || z >= nz)
		return;
	const int i = (z * ny + y) * nx + x;
	atomic_inc(visits + i);
	/* group index and local id per dimension, as a kernel would use them */
	where[i * 3 + 0] = (int)GROUP_ID(0) * 1024 + (int)get_local_id(0);
	where[i * 3 + 1] = (int)GROUP_ID(1) * 1024 + (int)get_local_id(1);
	where[i * 3 + 2] = (int)GROUP_ID(2) * 1024 + (int)get_local_id(2);
}
#endif
