/* Padding of blur pooling in pool.cl (-DPAD_MODE=<id>), shared with src/ops/blurpool.c, where the ids
 * index the pad_type choices. */
#ifndef CLCNN_CL_POOL_H
#define CLCNN_CL_POOL_H

#define BLUR_PAD_REFLECT 0
#define BLUR_PAD_REPLICATE 1
#define BLUR_PAD_ZERO 2

#endif
