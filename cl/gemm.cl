/* GEMM: C = alpha * op(A) * op(B) + beta * C, row-major float32, batched along dimension 2.
 * Four algorithms, one kernel each: gemm_cpu (outer-product register tiles with explicit vectors, no
 * __local, for POCL), gemm_cpu_dot (same idea when both operands are unit-stride along k; gemm_gemv
 * when one of them has at most 4 rows), gemm_gpu
 * (__local tiles + per-thread register tiles) and gemm_naive (one work-item per element, the judge).
 * beta == 0 never reads C, so NaN garbage there is ignored as BLAS does.
 * The host defines GEMM_KERNEL_<NAME> to compile only the kernel it launches: POCL compiles every
 * kernel of a program once more when the binary is saved, and the GPU kernel is slow to compile there. */

/* ---------------------------------------------------------------- CPU dialect (POCL) */

/* VW and the register tile TM x TNV (TN columns): common.cl. */
/* op(A) = A^T: A is stored k x m, so the TM values of one k step are adjacent. */
#ifndef TRANS_A
#define TRANS_A 0
#endif
/* B comes packed by gemm_pack (column panels of TN, each K x TN contiguous), and A^T (TRANS_A) in
 * panels of TM: see gemm_pack. */
#ifndef PACKED_B
#define PACKED_B 0
#endif
#ifndef PACKED_A
#define PACKED_A 0
#endif
/* Write the computed tile transposed: the host runs C^T = B * A this way for A^T * B^T. */
#ifndef STORE_T
#define STORE_T 0
#endif
/*
 * The epilogue of clcnn_gemm_args, where a kernel applies it to the value it stores: the bias (BIAS:
 * bias[j] added to column j of every row), then the fused activation (FUSED_ACT of cl/common.cl). Each
 * step is a statement of its own, so the floats are those of a separate bias pass and activation pass.
 */
#ifndef BIAS
#define BIAS 0
#endif

/* One k step of gemm_cpu's tile: the TM values of op(A) at k = p against the TNV vectors b. */
#define GEMM_CPU_STEP(p) CLCNN_TILE_STEP(acc, TM, TNV, TRANS_A ? ap[i][(p) * lda] : ap[i][(p)], b)

/* The arguments of every GEMM kernel but gemm_naive, and the move to batch entry z = global id 2. */
#define GEMM_PARAMS                                                                                   \
	int M, int N, int K, float alpha, __global const float *A, int offA, int lda, int strideA,   \
		__global const float *B, int offB, int ldb, int strideB, float beta, __global float *C, \
		int offC, int ldc, int strideC
#define GEMM_BATCH_ENTRY()                         \
	const int z = get_global_id(2);            \
	A += offA + z * strideA;                   \
	B += offB + z * strideB;                   \
	C += offC + z * strideC

/*
 * Work-item (x, y, z) owns rows [x*TM, x*TM+TM) and columns [y*TN, y*TN+TN) of batch entry z.
 * Dimension 0 walks the rows so that consecutive work-items and work-groups share one k x TN panel
 * of B while it is hot in L2; A (m x k) is the operand that is re-read per column panel.
 * Rows past M read row M-1 (clamped, never stored) so the hot loop has no row test.
 */
#ifdef GEMM_KERNEL_CPU
__kernel void gemm_cpu(GEMM_PARAMS, __global const float *bias)
{
	const int row0 = get_global_id(0) * TM;
	const int col0 = get_global_id(1) * TN;
	if (row0 >= M || col0 >= N)
		return;
	GEMM_BATCH_ENTRY();

	const __global float *ap[TM];
#pragma unroll
	for (int i = 0; i < TM; i++) {
		const int r = min(row0 + i, M - 1);
		/* PACKED_A (with TRANS_A): this row tile is K rows of TM floats, lda = TM, zero past M */
		ap[i] = PACKED_A ? A + row0 * K + i : TRANS_A ? A + r : A + r * lda;
	}
	CLCNN_TILE(VT, acc, TM, TNV);

#if PACKED_B
	/* B as gemm_pack left it: this column panel is K rows of TN floats, zero past N */
	const __global float *bp = B + col0 * K;
	for (int p = 0; p < K; p++, bp += TN) {
		VT b[TNV];
#pragma unroll
		for (int v = 0; v < TNV; v++)
			b[v] = VLOAD(v, bp);
		GEMM_CPU_STEP(p);
	}
#else
	const __global float *bp = B + col0;
	if (col0 + TN <= N) {
		for (int p = 0; p < K; p++, bp += ldb) {
			VT b[TNV];
#pragma unroll
			for (int v = 0; v < TNV; v++)
				b[v] = VLOAD(v, bp);
			GEMM_CPU_STEP(p);
		}
	} else {
		/* last column panel: vectors inside N load whole, the one across N gathers with the column
		 * clamped (every load stays inside B; the extra columns are never stored) */
		const int last = N - 1 - col0, nfull = (N - col0) / VW;
		for (int p = 0; p < K; p++, bp += ldb) {
			VT b[TNV];
#pragma unroll
			for (int v = 0; v < TNV; v++) {
				if (v < nfull) {
					b[v] = VLOAD(v, bp);
				} else if (v > nfull) {
					b[v] = (VT)(0.0f);
				} else {
					float t[VW];
#pragma unroll
					for (int j = 0; j < VW; j++)
						t[j] = bp[min(v * VW + j, last)];
					b[v] = VLOAD(0, t);
				}
			}
			GEMM_CPU_STEP(p);
		}
	}
#endif

	/* loops over the tile keep constant indices (guards inside), so acc stays in registers */
	const int rows = min(TM, M - row0);
	const int cols = min(TN, N - col0);
#pragma unroll
	for (int i = 0; i < TM; i++) {
		if (i >= rows)
			continue;
#if STORE_T
		/* C^T tile: each row of this tile is a column of C; once per tile, so scalar is fine */
		float t[TN];
#pragma unroll
		for (int v = 0; v < TNV; v++)
			VSTORE(acc[i][v], v, t);
		for (int j = 0; j < cols; j++) {
			__global float *c = C + (col0 + j) * ldc + row0 + i;
			float r = beta == 0.0f ? alpha * t[j] : alpha * t[j] + beta * *c;
			if (BIAS)
				r = r + bias[row0 + i]; /* row i of the tile is column row0 + i of C */
			*c = FUSED_ACT(float, r);
		}
#else
		__global float *c = C + (row0 + i) * ldc + col0;
		if (cols == TN) {
#pragma unroll
			for (int v = 0; v < TNV; v++) {
				VT r = alpha * acc[i][v];
				if (beta != 0.0f)
					r += beta * VLOAD(v, c);
				if (BIAS)
					r = r + VLOAD(v, bias + col0);
				VSTORE(FUSED_ACT(VT, r), v, c);
			}
		} else {
			float t[TN];
#pragma unroll
			for (int v = 0; v < TNV; v++)
				VSTORE(acc[i][v], v, t);
			for (int j = 0; j < cols; j++) {
				float r = beta == 0.0f ? alpha * t[j] : alpha * t[j] + beta * c[j];
				if (BIAS)
					r = r + bias[col0 + j];
				c[j] = FUSED_ACT(float, r);
			}
		}
#endif
	}
}
#endif

/* Tile of gemm_cpu_dot: DM rows of A against DN rows of B (both unit-stride along k). */
#ifndef DM
#define DM 6
#endif
#ifndef DN
#define DN 4
#endif

/*
 * A * B^T with A m x k and B n x k: both operands are contiguous along k, so vectors run along k
 * and each work-item keeps DM x DN vector partial sums, reduced once at the end.
 * Needs no workspace, so it serves when transposing an operand is not worth it or not possible.
 */
#ifdef GEMM_KERNEL_CPU_DOT
__kernel void gemm_cpu_dot(GEMM_PARAMS, __global const float *bias)
{
	const int row0 = get_global_id(0) * DM;
	const int col0 = get_global_id(1) * DN;
	if (row0 >= M || col0 >= N)
		return;
	GEMM_BATCH_ENTRY();
	const __global float *ap[DM], *bp[DN];
#pragma unroll
	for (int i = 0; i < DM; i++)
		ap[i] = A + min(row0 + i, M - 1) * lda;
#pragma unroll
	for (int j = 0; j < DN; j++)
		bp[j] = B + min(col0 + j, N - 1) * ldb;
	CLCNN_TILE(VT, acc, DM, DN);
	const int kv = K / VW * VW;
	for (int p = 0; p < kv; p += VW) {
		VT a[DM];
#pragma unroll
		for (int i = 0; i < DM; i++)
			a[i] = VLOAD(0, ap[i] + p);
#pragma unroll
		for (int j = 0; j < DN; j++) {
			const VT b = VLOAD(0, bp[j] + p);
#pragma unroll
			for (int i = 0; i < DM; i++)
				acc[i][j] = CLCNN_FMA(a[i], b, acc[i][j]);
		}
	}
	const int rows = min(DM, M - row0);
	const int cols = min(DN, N - col0);
#pragma unroll
	for (int i = 0; i < DM; i++) {
#pragma unroll
		for (int j = 0; j < DN; j++) {
			float s = VHSUM(acc[i][j]);
			for (int p = kv; p < K; p++)
				s = CLCNN_FMA(ap[i][p], bp[j][p], s);
			if (i < rows && j < cols) {
				__global float *c = C + (row0 + i) * ldc + col0 + j;
				s = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
				if (BIAS)
					s = s + bias[col0 + j];
				*c = FUSED_ACT(float, s);
			}
		}
	}
}
#endif

/*
 * Small-m or small-n A * B^T (a linear layer at batch 1..4): both operands are unit-stride along k,
 * so every output is a dot product. The short operand S (SR <= 4 rows: A, or B when SHORT_B) stays
 * in L1 while each work-item streams NR rows of the long one L once, VW floats at a time, keeping
 * SR x NR vector partial sums; each is reduced by the fixed lane tree of VHSUM, then the k tail is
 * added in order, so a result does not depend on the launch. Work-item x owns rows [x*NR, x*NR+NR)
 * of L (rows past the end read the last one and are never stored).
 */
#ifdef GEMM_KERNEL_GEMV
#ifndef SHORT_B
#define SHORT_B 0
#endif
#ifndef SR
#define SR 1
#endif
#ifndef NR
#define NR 4
#endif
/* BIAS: bias[j] is added to column j of every row (n floats; not read otherwise) */
__kernel void gemm_gemv(GEMM_PARAMS, __global const float *bias)
{
	const int rows = SHORT_B ? M : N; /* rows of L */
	const int r0 = get_global_id(0) * NR;
	if (r0 >= rows)
		return;
	GEMM_BATCH_ENTRY();
	const __global float *S = SHORT_B ? B : A, *L = SHORT_B ? A : B;
	const int lds = SHORT_B ? ldb : lda, ldl = SHORT_B ? lda : ldb;
	const __global float *lp[NR];
#pragma unroll
	for (int j = 0; j < NR; j++)
		lp[j] = L + min(r0 + j, rows - 1) * ldl;
	CLCNN_TILE(VT, acc, SR, NR);
	const int kv = K / VW * VW;
	for (int p = 0; p < kv; p += VW) {
		VT l[NR];
#pragma unroll
		for (int j = 0; j < NR; j++)
			l[j] = VLOAD(0, lp[j] + p);
#pragma unroll
		for (int i = 0; i < SR; i++) {
			const VT s = VLOAD(0, S + i * lds + p);
#pragma unroll
			for (int j = 0; j < NR; j++)
				acc[i][j] = CLCNN_FMA(s, l[j], acc[i][j]);
		}
	}
	const int nr = min(NR, rows - r0);
#pragma unroll
	for (int i = 0; i < SR; i++) {
#pragma unroll
		for (int j = 0; j < NR; j++) {
			float t = VHSUM(acc[i][j]);
			for (int p = kv; p < K; p++)
				t = CLCNN_FMA(S[i * lds + p], lp[j][p], t);
			if (j < nr) {
				__global float *c = SHORT_B ? C + (r0 + j) * ldc + i : C + i * ldc + r0 + j;
				t = beta == 0.0f ? alpha * t : alpha * t + beta * *c;
				if (BIAS)
					t = t + bias[SHORT_B ? i : r0 + j];
				*c = FUSED_ACT(float, t);
			}
		}
	}
}
#endif

/* ---------------------------------------------------------------- GPU dialect */

/*
 * gemm_gemv for GPUs: work-group g (GROUP_ID(0)) computes row g of L against the SR rows of S. Its
 * GEMV_WG items stride through k together (neighbouring items read neighbouring floats of L's row:
 * coalesced), each keeping SR partial sums, which clcnn_group_sum adds as a fixed tree: a result
 * depends on GEMV_WG only, never on timing.
 */
#ifdef GEMM_KERNEL_GEMV_GPU
#ifndef SHORT_B
#define SHORT_B 0
#endif
#ifndef SR
#define SR 1
#endif
__kernel void gemm_gemv_gpu(GEMM_PARAMS, __global const float *bias)
{
	__local float red[GEMV_WG];
	const int r = GROUP_ID(0), l = get_local_id(0);
	GEMM_BATCH_ENTRY();
	const __global float *S = SHORT_B ? B : A;
	const __global float *lp = (SHORT_B ? A : B) + r * (SHORT_B ? lda : ldb);
	const int lds = SHORT_B ? ldb : lda;
	float acc[SR];
#pragma unroll
	for (int i = 0; i < SR; i++)
		acc[i] = 0.0f;
	for (int p = l; p < K; p += GEMV_WG) {
		const float x = lp[p];
#pragma unroll
		for (int i = 0; i < SR; i++)
			acc[i] = CLCNN_FMA(S[i * lds + p], x, acc[i]);
	}
#pragma unroll
	for (int i = 0; i < SR; i++) {
		float t = clcnn_group_sum(red, acc[i]);
		if (l == 0) {
			__global float *c = SHORT_B ? C + r * ldc + i : C + i * ldc + r;
			t = beta == 0.0f ? alpha * t : alpha * t + beta * *c;
			if (BIAS)
				t = t + bias[SHORT_B ? i : r];
			*c = FUSED_ACT(float, t);
		}
	}
}
#endif

/* Block tile TSM x TSN, k slice TSK, each work-item WPTM x WPTN outputs: (TSN/WPTN) x (TSM/WPTM) items. */
#ifndef TSM
#define TSM 64
#endif
#ifndef TSN
#define TSN 64
#endif
#ifndef TSK
#define TSK 16
#endif
#ifndef WPTM
#define WPTM 4
#endif
#ifndef WPTN
#define WPTN 4
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#define RTSM (TSM / WPTM)
#define RTSN (TSN / WPTN)
#define GPU_THREADS (RTSM * RTSN)

/*
 * Work-group (gx, gy) computes the TSM x TSN block at rows gy*TSM, columns gx*TSN; dimension 0 runs
 * along columns so that neighbouring work-items touch neighbouring addresses of B and C.
 * Each k slice of op(A) and op(B) is staged in __local (padded by one against bank conflicts);
 * loads walk the operand's unit-stride dimension for coalescing, whatever the transposition.
 */
#ifdef GEMM_KERNEL_GPU
__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1))) void
gemm_gpu(GEMM_PARAMS)
{
	__local float As[TSK][TSM + 1];
	__local float Bs[TSK][TSN + 1];
	const int tx = get_local_id(0), ty = get_local_id(1);
	const int tid = ty * RTSN + tx;
	const int row0 = GROUP_ID(1) * TSM, col0 = GROUP_ID(0) * TSN;
	GEMM_BATCH_ENTRY();
	CLCNN_TILE(float, acc, WPTM, WPTN);

	for (int t = 0; t < K; t += TSK) {
		for (int idx = tid; idx < TSK * TSM; idx += GPU_THREADS) {
#if TRANS_A
			const int i = idx % TSM, p = idx / TSM;
			const int gi = row0 + i, gp = t + p;
			As[p][i] = gi < M && gp < K ? A[gp * lda + gi] : 0.0f;
#else
			const int p = idx % TSK, i = idx / TSK;
			const int gi = row0 + i, gp = t + p;
			As[p][i] = gi < M && gp < K ? A[gi * lda + gp] : 0.0f;
#endif
		}
		for (int idx = tid; idx < TSK * TSN; idx += GPU_THREADS) {
#if TRANS_B
			const int p = idx % TSK, j = idx / TSK;
			const int gj = col0 + j, gp = t + p;
			Bs[p][j] = gj < N && gp < K ? B[gj * ldb + gp] : 0.0f;
#else
			const int j = idx % TSN, p = idx / TSN;
			const int gj = col0 + j, gp = t + p;
			Bs[p][j] = gj < N && gp < K ? B[gp * ldb + gj] : 0.0f;
#endif
		}
		barrier(CLK_LOCAL_MEM_FENCE);
		/* each k slice sums into its own partial, added to acc once: rounding grows with
		 * K / TSK + TSK terms instead of K (a convolution's weight gradient has K = N*H*W) */
		CLCNN_TILE(float, part, WPTM, WPTN);
#pragma unroll
		for (int p = 0; p < TSK; p++) {
			float a[WPTM], b[WPTN];
#pragma unroll
			for (int wm = 0; wm < WPTM; wm++)
				a[wm] = As[p][ty + wm * RTSM];
#pragma unroll
			for (int wn = 0; wn < WPTN; wn++)
				b[wn] = Bs[p][tx + wn * RTSN];
#pragma unroll
			for (int wm = 0; wm < WPTM; wm++)
#pragma unroll
				for (int wn = 0; wn < WPTN; wn++)
					part[wm][wn] = CLCNN_FMA(a[wm], b[wn], part[wm][wn]);
		}
#pragma unroll
		for (int wm = 0; wm < WPTM; wm++)
#pragma unroll
			for (int wn = 0; wn < WPTN; wn++)
				acc[wm][wn] += part[wm][wn];
		barrier(CLK_LOCAL_MEM_FENCE);
	}
#pragma unroll
	for (int wm = 0; wm < WPTM; wm++) {
		const int r = row0 + ty + wm * RTSM;
#pragma unroll
		for (int wn = 0; wn < WPTN; wn++) {
			const int c = col0 + tx + wn * RTSN;
			if (r < M && c < N) {
				__global float *o = C + r * ldc + c;
				*o = beta == 0.0f ? alpha * acc[wm][wn] : alpha * acc[wm][wn] + beta * *o;
			}
		}
	}
}
#endif

/*
 * dst (cols x rows, leading dimension rows) = src^T (rows x cols), per batch entry z; one work-item per
 * TB x TB block. gemm_cpu has no fast path for B^T, so A * B^T transposes the smaller operand first:
 * about 8 bytes of memory traffic per element against 2 * (other dimension) flops per element.
 */
#ifdef GEMM_KERNEL_TRANSPOSE
#define TB 16
__kernel void gemm_transpose(int rows, int cols, __global const float *src, int off, int ld, int stride,
			     __global float *dst, int dst_off, int dst_stride)
{
	const int c0 = get_global_id(0) * TB, r0 = get_global_id(1) * TB, z = get_global_id(2);
	if (r0 >= rows || c0 >= cols)
		return;
	src += off + z * stride + r0 * ld + c0;
	dst += dst_off + z * dst_stride + c0 * rows + r0;
	if (r0 + TB <= rows && c0 + TB <= cols) {
		float t[TB][TB];
#pragma unroll
		for (int i = 0; i < TB; i++)
			vstore16(vload16(0, src + i * ld), 0, t[i]);
#pragma unroll
		for (int j = 0; j < TB; j++)
#pragma unroll
			for (int i = 0; i < TB; i++)
				dst[j * rows + i] = t[i][j];
	} else {
		const int nr = min(TB, rows - r0), nc = min(TB, cols - c0);
		for (int j = 0; j < nc; j++)
			for (int i = 0; i < nr; i++)
				dst[j * rows + i] = src[i * ld + j];
	}
}
#endif

/*
 * dst = X (R x C, leading dimension ld) in panels of PW columns, for gemm_cpu: panel j becomes R rows
 * of PW floats in a row, zero past C, panels one after another, batch entries one after another. B
 * (k x n) goes in panels of TN for PACKED_B, A^T (k x m) in panels of TM for PACKED_A. In place,
 * gemm_cpu walks a panel down rows ld apart: where ld * 4 bytes is a multiple of a large power of two
 * (256 or 1024 columns) the panel's rows share a few cache sets, and the panel that the work-items
 * of a group re-read falls out of L2 (Xeon, 2 MiB L2: NN 512x256x4608 at 58-107 GFLOP/s,
 * 512x272x4608 at 213). Packed, a panel is one contiguous block. One work-item per row of a panel.
 */
#ifdef GEMM_KERNEL_PACK
__kernel void gemm_pack(int R, int C, __global const float *X, int off, int ld, int stride, __global float *dst,
			int dst_off)
{
	const int k = get_global_id(0), panel = get_global_id(1), z = get_global_id(2);
	if (k >= R)
		return;
	const int panels = (C + PW - 1) / PW, col0 = panel * PW;
	const __global float *src = X + off + z * stride + k * ld + col0;
	dst += dst_off + ((z * panels + panel) * R + k) * PW;
	if (col0 + PW <= C) {
#if PW % VW == 0
#pragma unroll
		for (int v = 0; v < PW / VW; v++)
			VSTORE(VLOAD(v, src), v, dst);
#else
#pragma unroll
		for (int j = 0; j < PW; j++)
			dst[j] = src[j];
#endif
	} else {
		for (int j = 0; j < PW; j++)
			dst[j] = col0 + j < C ? src[j] : 0.0f;
	}
}
#endif

/* C[z][i][j] = act(C[z][i][j] + bias[j]), one work-item per element: the epilogue of clcnn_gemm_args
 * after a kernel that does not apply it itself. */
#ifdef GEMM_KERNEL_EPILOGUE
__kernel void gemm_epilogue(int M, int N, __global float *C, int offC, int ldc, int strideC, __global const float *bias)
{
	const int j = get_global_id(0), i = get_global_id(1), z = get_global_id(2);
	if (i < M && j < N) {
		__global float *c = C + offC + z * strideC + i * ldc + j;
		float t = *c;
		if (BIAS)
			t = t + bias[j];
		*c = FUSED_ACT(float, t);
	}
}
#endif

/* ---------------------------------------------------------------- reference */

/*
 * One work-item per element of C, plain float accumulation; transposition is folded into the element
 * strides of op(A) (sam along m, sak along k) and op(B) (sbk along k, sbn along n).
 */
#ifdef GEMM_KERNEL_NAIVE
__kernel void gemm_naive(int M, int N, int K, float alpha, __global const float *A, int offA, int sam,
			 int sak, int strideA, __global const float *B, int offB, int sbk, int sbn, int strideB,
			 float beta, __global float *C, int offC, int ldc, int strideC)
{
	const int j = get_global_id(0), i = get_global_id(1), z = get_global_id(2);
	if (i >= M || j >= N)
		return;
	A += offA + z * strideA + i * sam;
	B += offB + z * strideB + j * sbn;
	float s = 0.0f;
	for (int p = 0; p < K; p++)
		s = CLCNN_FMA(A[p * sak], B[p * sbk], s);
	__global float *c = C + offC + z * strideC + i * ldc + j;
	*c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
}
#endif
