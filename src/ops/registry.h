/*
 * Every op class, one line each: X(name) declares `clcnn_op_<name>` (defined in src/ops/<family>.c).
 * Adding a layer = its .c + .cl + case table + one line here.
 */
#define CLCNN_OP_LIST(X) \
	X(identity) \
	X(conv2d) \
	X(linear) \
	X(maxpool2d) \
	X(avgpool2d) \
	X(global_avgpool2d) \
	X(global_maxpool2d) \
	X(blurpool2d) \
	X(maxblurpool2d) \
	X(sigmoid) \
	X(tanh) \
	X(relu) \
	X(leaky_relu) \
	X(prelu) \
	X(softplus) \
	X(logsigmoid) \
	X(elu) \
	X(gelu) \
	X(silu) \
	X(hardtanh) \
	X(softmax) \
	X(logsoftmax) \
	X(softmin) \
	X(batchnorm2d) \
	X(batchnorm1d) \
	X(dropout) \
	X(gaussian_noise) \
	X(add) \
	X(concat) \
	X(mse_loss) \
	X(l1_loss) \
	X(smooth_l1_loss) \
	X(bce_loss) \
	X(bce_with_logits_loss) \
	X(margin_ranking_loss) \
	X(nll_loss) \
	X(cross_entropy) \
	X(triplet_margin_loss) \
	X(contrastive_loss) \
	X(cosine_embedding_loss) \
	X(flatten)
