/*
 * Activation ids: -DACT=<id> picks the function of activation.cl, and src/ops/activation.c includes
 * this file to pass them, so the list is written once. Plain #defines because the kernels choose
 * with #if. Every header of cl/ is part of the prelude of every program (src/device/program.c).
 */
#ifndef CLCNN_CL_ACTIVATION_H
#define CLCNN_CL_ACTIVATION_H

#define ACT_SIGMOID 0
#define ACT_TANH 1
#define ACT_RELU 2
#define ACT_LEAKY_RELU 3
#define ACT_SOFTPLUS 4
#define ACT_LOGSIGMOID 5
#define ACT_ELU 6
#define ACT_GELU 7      /* approximate=none: exact erf form */
#define ACT_GELU_TANH 8 /* approximate=tanh */
#define ACT_SILU 9
#define ACT_HARDTANH 10
#define ACT_PRELU 11    /* forward is leaky_relu with the slope read from the weight */

#endif
