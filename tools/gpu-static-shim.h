/*
 * Definitions of the OpenCL C builtins clcnn's kernels call, for an offline compile of cl/ with
 * clang for amdgcn-amd-amdhsa (tools/gpu-static.sh); never part of the library. Without ROCm's
 * device libraries clang declares the builtins (opencl-c.h) but leaves them external: every
 * get_global_id would be a function call, and the register counts of a kernel with calls are those
 * of the calling convention, not of the kernel. Here they are defined, always inlined, after the
 * default header (clang -include):
 *
 * For nvptx64 (tools/gpu-static.sh --ptx) the work-item functions read PTX special registers, the
 * global offset is 0 and the transcendental functions use the approximate PTX instructions. For amdgcn:
 *
 * - work-item functions as ROCm's device library (ockl, code object v4) computes them: ids from
 *   __builtin_amdgcn_workitem_id_* and __builtin_amdgcn_workgroup_id_*, sizes from the HSA dispatch
 *   packet (__builtin_amdgcn_dispatch_ptr: workgroup_size_x at byte 4, grid_size_x at byte 12), the
 *   global offset (clcnn splits large grids into launches with offsets) from the implicit kernel
 *   arguments;
 * - barrier as a workgroup release fence, s_barrier, an acquire fence (ROCm's __builtin_amdgcn
 *   sequence);
 * - fma, mad, sqrt, fabs, fmin/fmax, floor/ceil, exp, log as the LLVM builtins the backend turns
 *   into one or a few instructions (as ocml does); rsqrt as v_rsq_f32; min/max/clamp/select/sign,
 *   vloadN/vstoreN as plain C. Functions without a one-instruction form (tanh, erf, erfc, log1p,
 *   pow, cospi, atanh) get short polynomial or exp/log forms: the activation and loss kernels that
 *   use them are counted at about, not exactly, what ocml's versions cost.
 *
 * A builtin not defined here stays a call: tools/gpu-static.sh reports such a kernel as
 * "unresolved" instead of printing numbers for it.
 */
#ifndef CLCNN_GPU_STATIC_SHIM_H
#define CLCNN_GPU_STATIC_SHIM_H

#define SHIM __attribute__((overloadable, always_inline))

/* ---------------------------------------------------------------- work-items, per target */

#if defined(__AMDGCN__)
SHIM size_t get_local_id(uint d)
{
	return d == 0   ? __builtin_amdgcn_workitem_id_x()
	       : d == 1 ? __builtin_amdgcn_workitem_id_y()
	       : d == 2 ? __builtin_amdgcn_workitem_id_z()
			: 0;
}
SHIM size_t get_group_id(uint d)
{
	return d == 0   ? __builtin_amdgcn_workgroup_id_x()
	       : d == 1 ? __builtin_amdgcn_workgroup_id_y()
	       : d == 2 ? __builtin_amdgcn_workgroup_id_z()
			: 0;
}
SHIM size_t get_local_size(uint d)
{
	return d < 3 ? ((__constant ushort *)__builtin_amdgcn_dispatch_ptr())[2 + d] : 1;
}
SHIM size_t get_global_size(uint d)
{
	return d < 3 ? ((__constant uint *)__builtin_amdgcn_dispatch_ptr())[3 + d] : 1;
}
SHIM size_t get_global_offset(uint d)
{
	return d < 3 ? ((__constant ulong *)__builtin_amdgcn_implicitarg_ptr())[d] : 0;
}
SHIM uint get_work_dim(void)
{
	return ((__constant ushort *)__builtin_amdgcn_dispatch_ptr())[1] & 3;
}
SHIM void barrier(cl_mem_fence_flags f)
{
	(void)f;
	__builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
	__builtin_amdgcn_s_barrier();
	__builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}
SHIM void mem_fence(cl_mem_fence_flags f)
{
	(void)f;
	__builtin_amdgcn_fence(__ATOMIC_SEQ_CST, "workgroup");
}
#define SHIM_EXP(x) __builtin_expf(x)
#define SHIM_LOG(x) __builtin_logf(x)
#define SHIM_EXP2(x) __builtin_exp2f(x)
#define SHIM_LOG2(x) __builtin_log2f(x)
#define SHIM_RSQ(x) __builtin_amdgcn_rsqf(x)
#define SHIM_COS(x) __builtin_cosf(x)
#elif defined(__NVPTX__)
/* PTX special registers; the global offset is taken as 0 (NVIDIA's driver passes it hidden) */
SHIM size_t get_local_id(uint d)
{
	return d == 0   ? __nvvm_read_ptx_sreg_tid_x()
	       : d == 1 ? __nvvm_read_ptx_sreg_tid_y()
	       : d == 2 ? __nvvm_read_ptx_sreg_tid_z()
			: 0;
}
SHIM size_t get_group_id(uint d)
{
	return d == 0   ? __nvvm_read_ptx_sreg_ctaid_x()
	       : d == 1 ? __nvvm_read_ptx_sreg_ctaid_y()
	       : d == 2 ? __nvvm_read_ptx_sreg_ctaid_z()
			: 0;
}
SHIM size_t get_local_size(uint d)
{
	return d == 0   ? __nvvm_read_ptx_sreg_ntid_x()
	       : d == 1 ? __nvvm_read_ptx_sreg_ntid_y()
	       : d == 2 ? __nvvm_read_ptx_sreg_ntid_z()
			: 1;
}
SHIM size_t get_num_groups(uint d)
{
	return d == 0   ? __nvvm_read_ptx_sreg_nctaid_x()
	       : d == 1 ? __nvvm_read_ptx_sreg_nctaid_y()
	       : d == 2 ? __nvvm_read_ptx_sreg_nctaid_z()
			: 1;
}
SHIM size_t get_global_size(uint d)
{
	return get_num_groups(d) * get_local_size(d);
}
SHIM size_t get_global_offset(uint d)
{
	(void)d;
	return 0;
}
SHIM void barrier(cl_mem_fence_flags f)
{
	(void)f;
	__nvvm_bar_sync(0);
}
#define SHIM_EXP(x) __nvvm_ex2_approx_f((x)*1.44269504f)
#define SHIM_LOG(x) (__nvvm_lg2_approx_f(x) * 0.69314718f)
#define SHIM_EXP2(x) __nvvm_ex2_approx_f(x)
#define SHIM_LOG2(x) __nvvm_lg2_approx_f(x)
#define SHIM_RSQ(x) __nvvm_rsqrt_approx_f(x)
#define SHIM_COS(x) __nvvm_cos_approx_f(x)
#else
#error "tools/gpu-static-shim.h: amdgcn or nvptx targets only"
#endif

SHIM size_t get_global_id(uint d)
{
	return get_group_id(d) * get_local_size(d) + get_local_id(d) + get_global_offset(d);
}
#if defined(__AMDGCN__)
SHIM size_t get_num_groups(uint d)
{
	return (get_global_size(d) + get_local_size(d) - 1) / get_local_size(d);
}
#endif

/* ---------------------------------------------------------------- element-wise, any vector width */

/* A function of float (and its vectors, component by component through .lo/.hi). */
#define SHIM_VEC1(R, T, name) \
	SHIM R##2 name(T##2 x) \
	{ \
		return (R##2)(name(x.lo), name(x.hi)); \
	} \
	SHIM R##3 name(T##3 x) \
	{ \
		return (R##3)(name(x.s0), name(x.s1), name(x.s2)); \
	} \
	SHIM R##4 name(T##4 x) \
	{ \
		return (R##4)(name(x.lo), name(x.hi)); \
	} \
	SHIM R##8 name(T##8 x) \
	{ \
		return (R##8)(name(x.lo), name(x.hi)); \
	} \
	SHIM R##16 name(T##16 x) \
	{ \
		return (R##16)(name(x.lo), name(x.hi)); \
	}
#define SHIM_VEC2(T, name) \
	SHIM T##2 name(T##2 x, T##2 y) \
	{ \
		return (T##2)(name(x.lo, y.lo), name(x.hi, y.hi)); \
	} \
	SHIM T##3 name(T##3 x, T##3 y) \
	{ \
		return (T##3)(name(x.s0, y.s0), name(x.s1, y.s1), name(x.s2, y.s2)); \
	} \
	SHIM T##4 name(T##4 x, T##4 y) \
	{ \
		return (T##4)(name(x.lo, y.lo), name(x.hi, y.hi)); \
	} \
	SHIM T##8 name(T##8 x, T##8 y) \
	{ \
		return (T##8)(name(x.lo, y.lo), name(x.hi, y.hi)); \
	} \
	SHIM T##16 name(T##16 x, T##16 y) \
	{ \
		return (T##16)(name(x.lo, y.lo), name(x.hi, y.hi)); \
	} \
	SHIM T##2 name(T##2 x, T y) \
	{ \
		return name(x, (T##2)(y)); \
	} \
	SHIM T##3 name(T##3 x, T y) \
	{ \
		return name(x, (T##3)(y)); \
	} \
	SHIM T##4 name(T##4 x, T y) \
	{ \
		return name(x, (T##4)(y)); \
	} \
	SHIM T##8 name(T##8 x, T y) \
	{ \
		return name(x, (T##8)(y)); \
	} \
	SHIM T##16 name(T##16 x, T y) \
	{ \
		return name(x, (T##16)(y)); \
	}
#define SHIM_VEC3(T, name) \
	SHIM T##2 name(T##2 x, T##2 y, T##2 z) \
	{ \
		return (T##2)(name(x.lo, y.lo, z.lo), name(x.hi, y.hi, z.hi)); \
	} \
	SHIM T##3 name(T##3 x, T##3 y, T##3 z) \
	{ \
		return (T##3)(name(x.s0, y.s0, z.s0), name(x.s1, y.s1, z.s1), name(x.s2, y.s2, z.s2)); \
	} \
	SHIM T##4 name(T##4 x, T##4 y, T##4 z) \
	{ \
		return (T##4)(name(x.lo, y.lo, z.lo), name(x.hi, y.hi, z.hi)); \
	} \
	SHIM T##8 name(T##8 x, T##8 y, T##8 z) \
	{ \
		return (T##8)(name(x.lo, y.lo, z.lo), name(x.hi, y.hi, z.hi)); \
	} \
	SHIM T##16 name(T##16 x, T##16 y, T##16 z) \
	{ \
		return (T##16)(name(x.lo, y.lo, z.lo), name(x.hi, y.hi, z.hi)); \
	}

#define SHIM_F1(name, expr) \
	SHIM float name(float x) \
	{ \
		return expr; \
	} \
	SHIM_VEC1(float, float, name)
#define SHIM_F2(T, name, expr) \
	SHIM T name(T x, T y) \
	{ \
		return expr; \
	} \
	SHIM_VEC2(T, name)
#define SHIM_F3(T, name, expr) \
	SHIM T name(T x, T y, T z) \
	{ \
		return expr; \
	} \
	SHIM_VEC3(T, name)

SHIM_F1(fabs, __builtin_fabsf(x))
SHIM_F1(sqrt, __builtin_sqrtf(x))
SHIM_F1(rsqrt, SHIM_RSQ(x))
SHIM_F1(floor, __builtin_floorf(x))
SHIM_F1(ceil, __builtin_ceilf(x))
SHIM_F1(exp, SHIM_EXP(x))
SHIM_F1(log, SHIM_LOG(x))
SHIM_F1(log1p, SHIM_LOG(1.0f + x))
SHIM_F1(cos, SHIM_COS(x))
SHIM_F1(cospi, SHIM_COS(3.14159265f * x))
SHIM_F1(tanh, 1.0f - 2.0f / (SHIM_EXP(2.0f * x) + 1.0f))
SHIM_F1(atanh, 0.5f * SHIM_LOG((1.0f + x) / (1.0f - x)))
SHIM_F1(sign, x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x)
/* Abramowitz and Stegun 7.1.26: a 5-term polynomial and an exp, about ocml's cost */
SHIM float erfc(float x)
{
	const float a = __builtin_fabsf(x), t = 1.0f / (1.0f + 0.3275911f * a);
	const float p =
		t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
	const float r = p * SHIM_EXP(-a * a);
	return x >= 0.0f ? r : 2.0f - r;
}
SHIM_VEC1(float, float, erfc)
SHIM_F1(erf, 1.0f - erfc(x))
SHIM int isnan(float x)
{
	return x != x;
}
/* vectors: -1 (all bits) where NaN, as the relational functions of OpenCL return */
#define SHIM_ISNAN(N) \
	SHIM int##N isnan(float##N x) \
	{ \
		return x != x; \
	}
SHIM_ISNAN(2)
SHIM_ISNAN(3)
SHIM_ISNAN(4)
SHIM_ISNAN(8)
SHIM_ISNAN(16)
SHIM_F2(float, fmax, __builtin_fmaxf(x, y))
SHIM_F2(float, fmin, __builtin_fminf(x, y))
SHIM_F2(float, pow, SHIM_EXP2(y *SHIM_LOG2(x)))
SHIM_F2(float, max, __builtin_fmaxf(x, y))
SHIM_F2(float, min, __builtin_fminf(x, y))
SHIM_F2(int, max, x > y ? x : y)
SHIM_F2(int, min, x < y ? x : y)
SHIM_F2(uint, max, x > y ? x : y)
SHIM_F2(uint, min, x < y ? x : y)
SHIM_F3(float, fma, __builtin_fmaf(x, y, z))
SHIM_F3(float, mad, x *y + z)
SHIM_F3(float, clamp, __builtin_fminf(__builtin_fmaxf(x, y), z))
SHIM_F3(int, clamp, min(max(x, y), z))
#define SHIM_CLAMP_S(T) \
	SHIM T##2 clamp(T##2 x, T y, T z) \
	{ \
		return clamp(x, (T##2)(y), (T##2)(z)); \
	} \
	SHIM T##4 clamp(T##4 x, T y, T z) \
	{ \
		return clamp(x, (T##4)(y), (T##4)(z)); \
	} \
	SHIM T##8 clamp(T##8 x, T y, T z) \
	{ \
		return clamp(x, (T##8)(y), (T##8)(z)); \
	} \
	SHIM T##16 clamp(T##16 x, T y, T z) \
	{ \
		return clamp(x, (T##16)(y), (T##16)(z)); \
	}
SHIM_CLAMP_S(float)
SHIM_CLAMP_S(int)

/* select(a, b, c): b where c (scalar: non-zero; vector: most significant bit set), else a */
SHIM float select(float a, float b, int c)
{
	return c ? b : a;
}
SHIM int select(int a, int b, int c)
{
	return c ? b : a;
}
#define SHIM_SELECT(N) \
	SHIM float##N select(float##N a, float##N b, int##N c) \
	{ \
		return c < 0 ? b : a; \
	} \
	SHIM float##N select(float##N a, float##N b, uint##N c) \
	{ \
		return as_int##N(c) < 0 ? b : a; \
	} \
	SHIM int##N select(int##N a, int##N b, int##N c) \
	{ \
		return c < 0 ? b : a; \
	}
SHIM_SELECT(2)
SHIM_SELECT(3)
SHIM_SELECT(4)
SHIM_SELECT(8)
SHIM_SELECT(16)

/* ---------------------------------------------------------------- vloadN / vstoreN */

/* Loads and stores of element alignment (as OpenCL requires); the backend merges them where it can. */
#define SHIM_VLS(T, N, AS) \
	SHIM T##N vload##N(size_t i, const AS T *p) \
	{ \
		T##N v; \
		__builtin_memcpy(&v, p + i * N, sizeof(T) * N); \
		return v; \
	} \
	SHIM void vstore##N(T##N v, size_t i, AS T *p) \
	{ \
		__builtin_memcpy(p + i * N, &v, sizeof(T) * N); \
	}
#define SHIM_VL(T, N, AS) \
	SHIM T##N vload##N(size_t i, const AS T *p) \
	{ \
		T##N v; \
		__builtin_memcpy(&v, p + i * N, sizeof(T) * N); \
		return v; \
	}
#define SHIM_VLS_ALL(T, N) \
	SHIM_VLS(T, N, __global) \
	SHIM_VLS(T, N, __local) \
	SHIM_VLS(T, N, __private) \
	SHIM_VL(T, N, __constant)
SHIM_VLS_ALL(float, 2)
SHIM_VLS_ALL(float, 4)
SHIM_VLS_ALL(float, 8)
SHIM_VLS_ALL(float, 16)
SHIM_VLS_ALL(int, 2)
SHIM_VLS_ALL(int, 4)
SHIM_VLS_ALL(int, 8)
SHIM_VLS_ALL(int, 16)

/* ---------------------------------------------------------------- atomics (the grid probe only) */

SHIM int atomic_inc(volatile __global int *p)
{
	return __atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
}

#undef SHIM
#endif
