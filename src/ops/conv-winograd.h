/*
 * What conv2d "winograd" (conv-winograd.c) shares with "winograd_fused" (conv-wfused.c): the filter
 * transform of cl/winograd.cl.
 */
#ifndef CLCNN_OPS_CONV_WINOGRAD_H
#define CLCNN_OPS_CONV_WINOGRAD_H

#include "ops/conv-private.h"

/*
 * U [36][ko][ki] at off (floats) of dst from r x r filters w: forward ko = cout, ki = cin; trans: the
 * input gradient's (ko = cin, ki = cout); rot: taps rotated by 180 degrees.
 */
int clcnn_wino_filter_transform(struct clcnn_op *op, cl_mem w, int r, int ko, int ki, int trans, int rot, cl_mem dst,
				size_t off);

#endif
