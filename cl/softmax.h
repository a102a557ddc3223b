/* Functions of softmax.cl (-DMODE=<id>), shared with src/ops/softmax.c. */
#ifndef CLCNN_CL_SOFTMAX_H
#define CLCNN_CL_SOFTMAX_H

#define SM_SOFTMAX 0
#define SM_LOGSOFTMAX 1
#define SM_SOFTMIN 2 /* softmax of -x */

#endif
