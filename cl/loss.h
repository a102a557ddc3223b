/*
 * Ids of loss.cl shared with src/ops/loss*.c (which include this file): the elementwise loss that
 * -DLOSS=<id> compiles, the pair loss of -DPAIR=<id>, and how cls_backward reads its upstream
 * gradient (kernel argument `mode`).
 */
#ifndef CLCNN_CL_LOSS_H
#define CLCNN_CL_LOSS_H

#define LOSS_MSE 1
#define LOSS_L1 2
#define LOSS_SMOOTH_L1 3
#define LOSS_BCE 4
#define LOSS_BCE_LOGITS 5
#define LOSS_MARGIN 6

#define PAIR_CONTRASTIVE 1 /* -DPAIR=<id>: the pair loss that the pair_* kernels compute */
#define PAIR_COSINE 2

#define LOSS_GRAD_PER_SAMPLE 0 /* reduction none: one upstream gradient per sample */
#define LOSS_GRAD_SUM 1        /* reduction sum: one scalar */
#define LOSS_GRAD_MEAN 2       /* reduction mean: the scalar over the total weight kept in state[0] */

#endif
