/* Optimizer updates, one work-item per parameter element, formulas of torch.optim 1.13
 * (_single_tensor_sgd / _single_tensor_adam / adamw). Scalars that change per step (lr, bias
 * corrections) are computed on the host in double and passed as arguments. */

/* SGD with momentum, dampening, nesterov and L2 weight decay. first: the momentum buffer is
 * initialised to the (decayed) gradient, as torch does when it has no buffer yet. */
__kernel void clcnn_sgd(__global float *p, __global const float *g, __global float *buf, float lr, float wd,
			float momentum, float one_minus_dampening, int nesterov, int first, int n)
{
	int i = get_global_id(0);
	if (i >= n)
		return;
	float d = g[i];
	if (wd != 0.0f)
		d = d + wd * p[i];
	if (momentum != 0.0f) {
		float b = first ? d : buf[i] * momentum + one_minus_dampening * d;
		buf[i] = b;
		d = nesterov ? d + momentum * b : b;
	}
	p[i] = p[i] - lr * d;
}

/* Adam (l2 = weight decay added to the gradient) and AdamW (decay = 1 - lr * weight_decay applied
 * to the parameter first). step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t). */
__kernel void clcnn_adam(__global float *p, __global const float *g, __global float *m, __global float *v, float l2,
			 float decay, float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
			 float step_size, float bc2_sqrt, float eps, int n)
{
	int i = get_global_id(0);
	if (i >= n)
		return;
	float x = p[i] * decay;
	float gr = g[i];
	if (l2 != 0.0f)
		gr = gr + l2 * p[i];
	float mi = m[i] * beta1 + one_minus_beta1 * gr;
	float vi = v[i] * beta2 + one_minus_beta2 * (gr * gr);
	m[i] = mi;
	v[i] = vi;
	float denom = sqrt(vi) / bc2_sqrt + eps;
	p[i] = x - step_size * (mi / denom);
}
