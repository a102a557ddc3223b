/* Optimizer updates, formulas of torch.optim 1.13 (_single_tensor_sgd / _single_tensor_adam / adamw).
 * Scalars that change per step (lr, bias corrections) are computed on the host in double and passed
 * as arguments.
 *
 * One launch updates up to OPT_TENSORS parameters (the host batches them: a launch costs more than a
 * small tensor's update), each work-item OPT_VW consecutive elements of one tensor as an explicit
 * vector (the last item of a tensor goes element by element). Tensor t's work-items start at item s_t:
 * s_0 = 0, increasing; unused slots have n_t = 0 and s_t = INT_MAX. Each element's floats are those of
 * the one-element formula: the same expressions, on vectors. */
#define OPT_TENSORS 8
#define OPT_VW 16

/* Which tensor work-item `it` updates, and its first element there. */
#define OPT_FIND(it, t, e)                                                                        \
	const int t = (it >= s1) + (it >= s2) + (it >= s3) + (it >= s4) + (it >= s5) + (it >= s6) + \
		      (it >= s7);                                                                   \
	const int e = (it - (t == 0   ? 0                                                        \
			     : t == 1 ? s1                                                       \
			     : t == 2 ? s2                                                       \
			     : t == 3 ? s3                                                       \
			     : t == 4 ? s4                                                       \
			     : t == 5 ? s5                                                       \
			     : t == 6 ? s6                                                       \
				      : s7)) *                                                   \
		      OPT_VW
#define OPT_PICK(t, x)                                                                                     \
	(t == 0 ? x##0 : t == 1 ? x##1 : t == 2 ? x##2 : t == 3 ? x##3 : t == 4 ? x##4 : t == 5 ? x##5 : t == 6 ? x##6 \
												   : x##7)

/* SGD with momentum, dampening, nesterov and L2 weight decay on p, d (the gradient) and the momentum
 * buffer value b, all of type T. first: the momentum buffer is initialised to the (decayed)
 * gradient, as torch does when it has no buffer yet. */
#define SGD_STEP(T, p, d, b)                                                        \
	do {                                                                        \
		if (wd != 0.0f)                                                     \
			d = d + wd * p;                                             \
		if (momentum != 0.0f) {                                             \
			b = first ? d : b * momentum + one_minus_dampening * d;     \
			d = nesterov ? d + momentum * b : b;                        \
		}                                                                   \
		p = p - lr * d;                                                     \
	} while (0)

#define SGD_TENSOR(i) __global float *p##i, __global const float *g##i, __global float *b##i, int n##i, int s##i
__kernel void clcnn_sgd(SGD_TENSOR(0), SGD_TENSOR(1), SGD_TENSOR(2), SGD_TENSOR(3), SGD_TENSOR(4), SGD_TENSOR(5),
			SGD_TENSOR(6), SGD_TENSOR(7), float lr, float wd, float momentum, float one_minus_dampening,
			int nesterov, int first)
{
	const int it = get_global_id(0);
	OPT_FIND(it, t, e);
	const int n = OPT_PICK(t, n);
	if (e >= n)
		return;
	__global float *p = OPT_PICK(t, p) + e, *b = OPT_PICK(t, b) + e;
	__global const float *g = OPT_PICK(t, g) + e;
	if (e + OPT_VW <= n) {
		float16 pv = vload16(0, p), dv = vload16(0, g);
		float16 bv = momentum != 0.0f && !first ? vload16(0, b) : (float16)(0.0f);
		SGD_STEP(float16, pv, dv, bv);
		if (momentum != 0.0f)
			vstore16(bv, 0, b);
		vstore16(pv, 0, p);
	} else {
		for (int j = 0; j < n - e; j++) {
			float pv = p[j], dv = g[j], bv = momentum != 0.0f && !first ? b[j] : 0.0f;
			SGD_STEP(float, pv, dv, bv);
			if (momentum != 0.0f)
				b[j] = bv;
			p[j] = pv;
		}
	}
}

/* Adam (l2 = weight decay added to the gradient) and AdamW (decay = 1 - lr * weight_decay applied
 * to the parameter first). step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t). */
#define ADAM_STEP(T, p, gr, m, v)                                           \
	do {                                                                \
		T x = p * decay;                                            \
		if (l2 != 0.0f)                                             \
			gr = gr + l2 * p;                                   \
		m = m * beta1 + one_minus_beta1 * gr;                       \
		v = v * beta2 + one_minus_beta2 * (gr * gr);                \
		T denom = sqrt(v) / bc2_sqrt + eps;                         \
		p = x - step_size * (m / denom);                            \
	} while (0)

#define ADAM_TENSOR(i) \
	__global float *p##i, __global const float *g##i, __global float *m##i, __global float *v##i, int n##i, int s##i
__kernel void clcnn_adam(ADAM_TENSOR(0), ADAM_TENSOR(1), ADAM_TENSOR(2), ADAM_TENSOR(3), ADAM_TENSOR(4),
			 ADAM_TENSOR(5), ADAM_TENSOR(6), ADAM_TENSOR(7), float l2, float decay, float beta1,
			 float one_minus_beta1, float beta2, float one_minus_beta2, float step_size, float bc2_sqrt,
			 float eps)
{
	const int it = get_global_id(0);
	OPT_FIND(it, t, e);
	const int n = OPT_PICK(t, n);
	if (e >= n)
		return;
	__global float *p = OPT_PICK(t, p) + e, *m = OPT_PICK(t, m) + e, *v = OPT_PICK(t, v) + e;
	__global const float *g = OPT_PICK(t, g) + e;
	if (e + OPT_VW <= n) {
		float16 pv = vload16(0, p), gv = vload16(0, g), mv = vload16(0, m), vv = vload16(0, v);
		ADAM_STEP(float16, pv, gv, mv, vv);
		vstore16(mv, 0, m);
		vstore16(vv, 0, v);
		vstore16(pv, 0, p);
	} else {
		for (int j = 0; j < n - e; j++) {
			float pv = p[j], gv = g[j], mv = m[j], vv = v[j];
			ADAM_STEP(float, pv, gv, mv, vv);
			m[j] = mv;
			v[j] = vv;
			p[j] = pv;
		}
	}
}
