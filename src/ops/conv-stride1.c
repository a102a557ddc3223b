/* Stride-1 helpers shared by implicit and lanes (see conv-stride1.h). */
#include "ops/conv-stride1.h"

struct conv_s1_tile clcnn_conv_s1_tile(const struct clcnn_context *ctx, int narrow)
{
	cl_uint w = 0;
	cl_device_fp_config fp = 0;
	clGetDeviceInfo(ctx->device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
	clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
	struct conv_s1_tile t = {w >= 16 ? 16 : 8, 6, w >= 16 ? 4 : 2, (fp & CL_FP_FMA) != 0};
	if (narrow) {
		t.tm = t.vw == 16 ? 7 : 4;
		t.tnv = 3;
	}
	return t;
}

struct conv_s1_side clcnn_conv_s1_input(const struct conv_geom *g)
{
	return (struct conv_s1_side){g->cin, g->h, g->w, g->pt, g->pb, g->pl, g->pr};
}

struct conv_s1_side clcnn_conv_s1_grad_out(const struct conv_geom *g)
{
	int eh = (g->kh - 1) * g->dh, ew = (g->kw - 1) * g->dw;
	return (struct conv_s1_side){g->cout, g->ho, g->wo, eh - g->pt, eh - g->pb, ew - g->pl, ew - g->pr};
}

int clcnn_conv_s1_applies(const struct conv_geom *g)
{
	int eh = (g->kh - 1) * g->dh, ew = (g->kw - 1) * g->dw;
	return g->sh == 1 && g->sw == 1 && g->pt <= eh && g->pb <= eh && g->pl <= ew && g->pr <= ew;
}

int clcnn_conv_s1_kernel(struct clcnn_op *op, const char *opts, const char *name, cl_kernel *k)
{
	return clcnn_kernel_get(op->ctx, "convgemm", opts, name, k);
}

int clcnn_conv_s1_transposed_weights(struct clcnn_op *op, cl_mem w, cl_mem wt, size_t off)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	char o[128];
	snprintf(o, sizeof o, "-DCONVGEMM_WT -DKH=%d -DKW=%d -DCGI=%d -DCGO=%d", g->kh, g->kw, g->cgi, g->cgo);
	cl_kernel k;
	int o32 = (int)off;
	int rc = clcnn_conv_s1_kernel(op, o, "convgemm_wt", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(w), KARG(wt), KARG(o32));
	if (rc)
		return rc;
	const size_t global[3] = {(size_t)g->cgo * g->kh * g->kw, (size_t)g->cgi, (size_t)g->groups},
		     local[3] = {8, 1, 1};
	return clcnn_kernel_run(op->ctx, k, 3, global, local);
}

int clcnn_conv_s1_sum_parts(struct clcnn_op *op, cl_mem part, size_t off, int nparts, cl_mem dw, int accumulate)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	int count = (int)((size_t)g->cout * g->cgi * g->kh * g->kw), o32 = (int)off;
	cl_kernel k;
	int rc = clcnn_conv_s1_kernel(op, "-DCONVGEMM_SUM", "convgemm_sum", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(part), KARG(o32), KARG(count), KARG(nparts), KARG(dw),
				       KARG(accumulate));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)count);
}
