/* The table of op classes, generated from registry.h. */
#include "ops/registry.h"
#include "ops/op.h"

#define DECLARE(n) extern const struct clcnn_op_class clcnn_op_##n;
CLCNN_OP_LIST(DECLARE)
#undef DECLARE

#define ENTRY(n) &clcnn_op_##n,
const struct clcnn_op_class *const clcnn_op_classes[] = {CLCNN_OP_LIST(ENTRY) NULL};
#undef ENTRY
