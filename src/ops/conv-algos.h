/*
 * Every conv2d device algorithm, one line each: X(name, NAME, doc). From this list come the enum
 * (CONV_ALGO_<NAME>), the table clcnn_conv_algos[] (in this order: the tuner times candidates in it),
 * the `algo` key's choices and doc string, the CLCNN_CONV_ALGO message and the tuning key. Each
 * algorithm defines clcnn_conv_algo_<name> with CONV_ALGO_DEFINE in its own file; the doc line is
 * what docs/netfile.md's "Convolution algorithms" table says (test-conv-docs checks it, and README.md's
 * CLCNN_CONV_ALGO row). Adding an algorithm = its file + one line here + its cases in conv.c.
 */
#ifndef CLCNN_OPS_CONV_ALGOS_H
#define CLCNN_OPS_CONV_ALGOS_H

#define CLCNN_CONV_ALGO_LIST(X) \
	X(direct, DIRECT, "one work-item per output value; applies to every convolution (the baseline)") \
	X(im2col, IM2COL, "input patches unrolled into a matrix for a chunk of images, then a GEMM per group") \
	X(gemm1x1, GEMM1X1, "1x1 kernel, stride 1, no padding: the input already is the GEMM's matrix") \
	X(depthwise, DEPTHWISE, "one input channel per group: one output row per work-item") \
	X(implicit, IMPLICIT, \
	  "stride 1: a GEMM reading every tap from a zero-padded copy of the input (no im2col matrix), " \
	  "6 x 4 vector register tile") \
	X(implicit48, IMPLICIT48, "implicit with a 7 x 3 vector register tile") \
	X(shallow, SHALLOW, \
	  "stride 1, groups 1, at most 27 input taps (a first layer): one output row per work-item forward, " \
	  "implicit backward") \
	X(lanes, LANES, \
	  "the batch in the vector lanes: only output pixels are computed; strided, the forward and the weight " \
	  "gradient (the input gradient is im2col's)") \
	X(winograd, WINOGRAD, \
	  "3x3 and 5x5, stride 1, no dilation or groups: Winograd F(4x4, 3x3) and F(2x2, 5x5), 6x6 tiles " \
	  "through 36 batched GEMMs (4x and 2.8x fewer multiplies); rounding errors grow through its " \
	  "transforms: up to ~2e-5 of the result's rms (measured at 256 channels: 1.7e-5 forward 3x3, 2.1e-5 " \
	  "weight gradient 5x5; forward 1.0e-4 and 1.6e-4 of 1 + the value)") \
	X(winograd_fused, WINOGRAD_FUSED, \
	  "CPUs, 3x3 and 5x5 winograd with its three passes fused: each work-item transforms a vector of tiles, " \
	  "multiplies and transforms back in its caches (small channel counts); weight gradient as winograd") \
	X(igemm_gpu, IGEMM_GPU, \
	  "GPUs: implicit GEMM, patches gathered into `__local` tiles (64 x 64 outputs, 256 work-items of " \
	  "4 x 4, shrunk to the device's limits); the weight gradient in fixed slices added in order") \
	X(igemm_gpu32, IGEMM_GPU32, "igemm_gpu with 32 x 32 tiles of 64 work-items (small layers)") \
	X(igemm_gpu128, IGEMM_GPU128, \
	  "igemm_gpu with 128 x 128 tiles, 8 x 8 outputs a work-item (large layers: twice the FMAs per " \
	  "`__local` read)") \
	X(im2col_clblast, IM2COL_CLBLAST, "GPUs, in builds with CLBlast: im2col with CLBlast's SGEMM")

#endif
