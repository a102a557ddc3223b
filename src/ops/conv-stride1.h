/*
 * Stride-1 convolution, shared by implicit (conv-implicit.c) and lanes (conv-lanes.c): both copy a
 * chunk of images into a zero-padded layout of their own and run GEMM kernels of cl/convgemm.cl over
 * it; both compute the input gradient as the same convolution over the padded output gradient with
 * the weights transposed per group and rotated, and add per-slice weight-gradient sums in order.
 */
#ifndef CLCNN_OPS_CONV_STRIDE1_H
#define CLCNN_OPS_CONV_STRIDE1_H

#include "ops/conv-private.h"

/*
 * Register tile of the GEMM kernels: TM rows x TNV vectors of VW columns. Wide: 6 x 4 float16 (as the
 * CPU GEMM, gemm.c). Narrow: 7 x 3, which leaves LLVM room to schedule its loads (AVX-512, 32
 * registers; POCL, ms per call: 32x256x14x14->256 forward 40.5 -> 36.8, 64x64x14x14->128 13.0 ->
 * 11.5, but 32x128x28x28->128 36.4 -> 37.5). With 8-wide vectors (AVX2, 16 registers): 6 x 2, 4 x 3.
 */
struct conv_s1_tile {
	int vw, tm, tnv, hw_fma;
};

struct conv_s1_tile clcnn_conv_s1_tile(const struct clcnn_context *ctx, int narrow);

/* A source read by a stride-1 convolution: c channels of sh x sw, padded by pt, pb, pl, pr. */
struct conv_s1_side {
	int c, sh, sw, pt, pb, pl, pr;
};

/* The input, as the forward and the weight gradient read it. */
struct conv_s1_side clcnn_conv_s1_input(const struct conv_geom *g);
/* The output gradient, as the input gradient reads it: padded by the taps' reach minus the forward padding. */
struct conv_s1_side clcnn_conv_s1_grad_out(const struct conv_geom *g);
/* Stride 1 and no padding beyond the taps' reach (so the input gradient's padding is >= 0). */
int clcnn_conv_s1_applies(const struct conv_geom *g);

/* A kernel of cl/convgemm.cl specialised by opts. */
int clcnn_conv_s1_kernel(struct clcnn_op *op, const char *opts, const char *name, cl_kernel *k);
/* The weights of the input gradient into wt at off (floats): transposed per group, rotated 180 degrees. */
int clcnn_conv_s1_transposed_weights(struct clcnn_op *op, cl_mem w, cl_mem wt, size_t off);
/* dW (+)= the sum of nparts weight-gradient parts at part + off (floats), in order. */
int clcnn_conv_s1_sum_parts(struct clcnn_op *op, cl_mem part, size_t off, int nparts, cl_mem dw, int accumulate);

#endif
