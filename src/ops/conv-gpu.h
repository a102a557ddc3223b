/*
 * conv2d igemm_gpu, igemm_gpu32 and igemm_gpu128 (conv-gpu.c): the implicit GEMM of cl/convgpu.cl. Exposed for
 * tests: the tile a context gets, and the weight gradient with a given number of K slices.
 */
#ifndef CLCNN_OPS_CONV_GPU_H
#define CLCNN_OPS_CONV_GPU_H

#include "ops/conv-private.h"

/* A work-group's TSM x TSN output tile, its TSK k step, and each work-item's WPTM x WPTN outputs. */
struct conv_gpu_tile {
	int tsm, tsn, tsk, wptm, wptn;
};

/* Work-items a group of tile t. */
int clcnn_conv_gpu_threads(const struct conv_gpu_tile *t);
/* Bytes of __local memory of tile t (the A and B tiles, each row padded by one float). */
size_t clcnn_conv_gpu_local_bytes(const struct conv_gpu_tile *t);
/* The starting tiles: igemm_gpu, igemm_gpu32, igemm_gpu128. */
enum conv_gpu_size {
	CONV_GPU_64,  /* 64 x 64 outputs, k step 16, 4 x 4 a work-item: 256 work-items */
	CONV_GPU_32,  /* 32 x 32, k step 16, 4 x 4: 64 work-items */
	CONV_GPU_128, /* 128 x 128, k step 8, 8 x 8: 256 work-items, 64 FMAs per 16 __local reads */
	CONV_GPU_SIZES
};

/*
 * The tile of `size` (enum conv_gpu_size) shrunk until it fits at most maxwg work-items and local
 * bytes of __local memory; 0 when nothing fits (or size is out of range).
 */
int clcnn_conv_gpu_fit(int size, size_t maxwg, uint64_t local, struct conv_gpu_tile *out);

/*
 * Slices of the weight gradient's K = batch x output plane (a function of the geometry only, so the
 * result is the same on every run and every tile); each slice is summed by one work-item in order, the
 * slices are then added in order.
 */
int clcnn_conv_gpu_slices(const struct conv_geom *g);
/* The weight gradient with `slices` slices (scratch: clcnn_conv_gpu_weights_scratch bytes). */
int clcnn_conv_gpu_weights(struct clcnn_op *op, const struct clcnn_dev_io *io, int size, int slices);
size_t clcnn_conv_gpu_weights_scratch(const struct conv_geom *g, int slices);

#endif
