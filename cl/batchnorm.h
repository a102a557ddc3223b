/* Which statistics bn_channel_stats normalises with (kernel argument `mode`), shared with
 * src/ops/batchnorm.c. */
#ifndef CLCNN_CL_BATCHNORM_H
#define CLCNN_CL_BATCHNORM_H

#define BN_STATS_RUNNING 0 /* the running statistics (evaluation) */
#define BN_STATS_BATCH 1   /* the batch's statistics */
#define BN_STATS_UPDATE 2  /* the batch's, and update the running ones with momentum */
#define BN_STATS_LOCAL 3   /* sync_bn: state = [mean, M2] of this member's batch, to be merged on the host */

#endif
