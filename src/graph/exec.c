/*
 * The executor: forward over the schedule and backward in reverse order, each node through its
 * class's forward/backward with the device io prepared by the plan (an activation fused into its
 * producer, plan.c, runs neither: it has no backward and is skipped in forward). Nothing here allocates or
 * waits for the device, except the reads the caller asks for and the optional numeric checks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/parallel.h"
#include "graph/graph-private.h"

static int node_failed(struct clcnn_graph *g, int i, int rc, const char *phase)
{
	const struct graph_node *n = &g->nodes[i];
	char *msg = clcnn_strdup(clcnn_context_error(g->ctx));
	rc = clcnn_fail(g->ctx, rc, "node '%s' (%s): %s: %s", n->name, n->type, phase, msg ? msg : "");
	free(msg);
	return rc;
}

static int need_built(struct clcnn_graph *g)
{
	if (!g->batch)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "the graph is not built (clcnn_graph_build)");
	/* a graph on a host context (clcnn_context_open_host) is planned, never run */
	return clcnn_context_has_device(g->ctx) ? 0 : clcnn_fail_no_device(g->ctx, "running a graph");
}

/*
 * Host-side validation of graph input i by every node that reads it directly (class indices of a
 * loss): a bad label is an error naming the sample, not a NaN loss later. Values that reach a node
 * through other nodes are not seen here; the kernels still never index outside their classes.
 */
static int check_input(struct clcnn_graph *g, int i, const float *data)
{
	for (int k = 0; k < g->nnodes; k++) {
		const struct graph_node *n = &g->nodes[k];
		if (!n->cls->check_input)
			continue;
		for (int j = 0; j < n->nin; j++) {
			if (n->in_ref[j] != i)
				continue;
			char who[300], err[512];
			snprintf(who, sizeof who, "node '%s' (%s)", n->name, n->type);
			if (n->cls->check_input(n->op, j, data, g->values[i].bytes / sizeof(float), who, err,
						sizeof err))
				return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "input '%s': %s", g->inputs[i].name, err);
		}
	}
	return 0;
}

int graph_input_staging_wait(struct clcnn_graph *g, int i)
{
	struct graph_input *in = &g->inputs[i];
	if (!in->staged)
		return 0;
	cl_int e = clWaitForEvents(1, &in->staged);
	clReleaseEvent(in->staged);
	in->staged = NULL;
	return e == CL_SUCCESS ? 0 : clcnn_fail_cl(g->ctx, e, "uploading graph input '%s'", in->name);
}

void graph_input_staging_release(struct clcnn_graph *g, int i)
{
	graph_input_staging_wait(g, i);
	free(g->inputs[i].staging);
	g->inputs[i].staging = NULL;
	g->inputs[i].staging_bytes = 0;
}

/*
 * The data of input i goes to the device through a host copy, written without blocking: the
 * forward's kernels queue behind the write at once, where a blocking write costs a round trip to
 * the device's threads first (~10 us on POCL, a twentieth of a batch-1 inference of fmnist.net).
 * The caller may reuse data on return; the copy is reused once the write from it has completed.
 */
static int upload_input(struct clcnn_graph *g, int i, const float *data)
{
	struct graph_input *in = &g->inputs[i];
	size_t bytes = g->values[i].bytes;
	int rc = graph_input_staging_wait(g, i);
	if (rc || !bytes)
		return rc;
	if (in->staging_bytes < bytes) {
		free(in->staging);
		in->staging_bytes = 0;
		in->staging = malloc(bytes);
		if (!in->staging)
			return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory (%zu bytes for input '%s')",
					  bytes, in->name);
		in->staging_bytes = bytes;
	}
	memcpy(in->staging, data, bytes);
	cl_int e = clEnqueueWriteBuffer(g->ctx->queue, g->values[i].mem, CL_FALSE, 0, bytes, in->staging, 0, NULL,
					&in->staged);
	if (e == CL_SUCCESS)
		return 0;
	in->staged = NULL;
	return clcnn_fail_cl(g->ctx, e, "writing %zu bytes to graph input '%s'", bytes, in->name);
}

int clcnn_graph_set_input(struct clcnn_graph *g, const char *name, const float *data)
{
	int rc = need_built(g);
	if (rc)
		return rc;
	for (int i = 0; i < g->ninputs; i++)
		if (!strcmp(g->inputs[i].name, name)) {
			rc = check_input(g, i, data);
			return rc ? rc : upload_input(g, i, data);
		}
	return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "no graph input named '%s'", name ? name : "(null)");
}

/*
 * Blocking check of n floats of m; names the phase, the node, the tensor and the first bad element:
 * "forward: node 'c1' (conv2d): output[17] = inf".
 */
static int check_finite(struct clcnn_graph *g, cl_mem m, size_t n, const char *phase, const struct graph_node *node,
			const char *what, const char *what2)
{
	if (!m || !n)
		return 0;
	float *x = malloc(n * sizeof *x);
	if (!x)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory (%zu floats)", n);
	int rc = clcnn_buffer_read(g->ctx, m, 0, n * sizeof *x, x);
	for (size_t k = 0; k < n && !rc; k++)
		if (!isfinite(x[k]))
			rc = clcnn_fail(g->ctx, CLCNN_ERR_NUMERIC, "%s: node '%s' (%s): %s%s[%zu] = %g", phase,
					node->name, node->type, what, what2, k, (double)x[k]);
	free(x);
	return rc;
}

/* Forward of every node, or of those marked in need (NULL: all). */
static int run_forward(struct clcnn_graph *g, int train, uint32_t seed, const char *need)
{
	int rc = 0;
	g->forward_done = 0;
	for (int k = 0; k < g->nnodes; k++) {
		int i = g->order[k];
		struct graph_node *n = &g->nodes[i];
		if ((need && !need[i]) || n->fused_by >= 0) /* a fused activation: its producer applied it */
			continue;
		n->fio.train = train;
		n->fio.seed = graph_node_seed(seed, i);
		n->fio.first_sample = g->first_sample;
		n->fio.coll = g->coll;
		n->fio.sync_bn = g->sync_bn;
		rc = n->cls->forward(n->op, &n->fio);
		if (rc)
			return node_failed(g, i, rc, "forward");
		if (g->check_numerics) {
			rc = check_finite(g, n->fio.out, clcnn_shape_count(&n->op->out), "forward", n, "output", "");
			if (rc)
				return rc;
		}
	}
	return 0;
}

int clcnn_graph_forward(struct clcnn_graph *g, int train, uint32_t seed)
{
	int rc = need_built(g);
	if (!rc)
		rc = run_forward(g, train, seed, NULL);
	if (rc)
		return rc;
	g->last_train = train;
	g->last_seed = seed;
	g->forward_done = 1;
	return 0;
}

int clcnn_graph_forward_to(struct clcnn_graph *g, const char *node, int train, uint32_t seed)
{
	int rc = need_built(g);
	if (rc)
		return rc;
	int target = graph_find_node(g, node ? node : "");
	if (target < 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "forward: no node named '%s'", node ? node : "(null)");
	char *need = calloc((size_t)g->nnodes, 1);
	if (!need)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	need[target] = 1;
	for (int k = g->nnodes - 1; k >= 0; k--) { /* consumers come after their producers in the schedule */
		const struct graph_node *n = &g->nodes[g->order[k]];
		for (int j = 0; need[g->order[k]] && j < n->nin; j++)
			if (n->in_ref[j] >= g->ninputs)
				need[n->in_ref[j] - g->ninputs] = 1;
	}
	rc = run_forward(g, train, seed, need);
	free(need);
	return rc; /* not a whole forward: backward stays refused */
}

int clcnn_graph_backward(struct clcnn_graph *g)
{
	int rc = need_built(g);
	if (rc)
		return rc;
	if (g->loss < 0 && g->forward_only)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "backward: the graph is built forward-only (clcnn_graph_set_forward_only)");
	if (g->loss < 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "backward: the graph has no loss node (clcnn_graph_set_loss)");
	if (!g->forward_done)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "backward: run clcnn_graph_forward first");
	cl_kernel axpby = NULL;
	for (int k = g->nnodes - 1; k >= 0; k--) {
		int i = g->order[k];
		struct graph_node *n = &g->nodes[i];
		if (!n->run_backward)
			continue;
		n->bio.train = g->last_train;
		n->bio.seed = graph_node_seed(g->last_seed, i);
		n->bio.first_sample = g->first_sample;
		n->bio.coll = g->coll;
		n->bio.sync_bn = g->sync_bn;
		rc = n->cls->backward(n->op, &n->bio);
		if (rc)
			return node_failed(g, i, rc, "backward");
		for (int j = 0; j < n->nin + n->op->nparam; j++) {
			/* fan-out of an input, then parameters shared with other nodes: dst += tmp */
			int in = j < n->nin;
			cl_mem tmp = in ? n->acc_tmp[j] : n->pacc_tmp[j - n->nin];
			if (!tmp)
				continue;
			if (!axpby && (rc = clcnn_kernel_get(g->ctx, "common", "", "clcnn_axpby", &axpby)))
				return rc;
			float one = 1.0f;
			cl_mem dst = in ? n->acc_dst[j] : g->params[n->param0 + j - n->nin].grad;
			cl_int cnt = (cl_int)(in ? clcnn_shape_count(&n->op->in[j])
						 : g->params[n->param0 + j - n->nin].count);
			rc = clcnn_kernel_args(g->ctx, axpby, KARG(tmp), KARG(dst), KARG(one), KARG(one), KARG(cnt));
			if (!rc)
				rc = clcnn_op_run1d(g->ctx, axpby, (size_t)cnt);
			if (rc)
				return node_failed(g, i, rc, "gradient accumulation");
		}
		if (g->check_numerics) {
			/* this node's own contribution (a temporary when the gradient is accumulated) */
			for (int j = 0; j < n->nin && !rc; j++) {
				char what[32];
				snprintf(what, sizeof what, "gradient of input %d", j);
				rc = check_finite(g, n->bio.grad_in[j], clcnn_shape_count(&n->op->in[j]), "backward", n,
						  what, "");
			}
			for (int j = 0; j < n->op->nparam && !rc; j++)
				rc = check_finite(g, n->bio.grad_param[j], clcnn_shape_count(&n->op->param[j].shape),
						  "backward", n, "gradient of ", n->op->param[j].name);
			if (rc)
				return rc;
		}
		if (g->backward_hook)
			g->backward_hook(g->backward_hook_user, k);
	}
	return 0;
}

void clcnn_graph_set_collective(struct clcnn_graph *g, const struct clcnn_collective *c)
{
	g->coll = c;
}

void clcnn_graph_set_sync_bn(struct clcnn_graph *g, int on)
{
	g->sync_bn = on != 0;
}

int clcnn_graph_read(struct clcnn_graph *g, const char *node, float *dst)
{
	int rc = need_built(g);
	if (rc)
		return rc;
	int v = graph_find_value(g, node ? node : "");
	if (v < 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "no node or input named '%s'", node ? node : "(null)");
	if (!g->values[v].kept)
		return clcnn_fail(
			g->ctx, CLCNN_ERR_INVALID,
			"node '%s': its output is not kept (the memory plan gives its buffer to other tensors "
			"after its last reader); call clcnn_graph_keep(g, \"%s\") to read it",
			node, node);
	return clcnn_buffer_read(g->ctx, g->values[v].mem, 0, g->values[v].bytes, dst);
}

int clcnn_graph_read_input_grad(struct clcnn_graph *g, const char *input, float *dst)
{
	int rc = need_built(g);
	if (rc)
		return rc;
	for (int i = 0; i < g->ninputs; i++) {
		if (strcmp(g->inputs[i].name, input))
			continue;
		if (!g->inputs[i].want_grad)
			return clcnn_fail(
				g->ctx, CLCNN_ERR_INVALID,
				"input '%s': its gradient was not requested (call clcnn_graph_want_input_grad "
				"before clcnn_graph_build)",
				input);
		if (!g->values[i].grad) {
			/* the loss does not depend on this input (or only through a target slot) */
			memset(dst, 0, g->values[i].bytes);
			return 0;
		}
		return clcnn_buffer_read(g->ctx, g->values[i].grad, 0, g->values[i].bytes, dst);
	}
	return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "no graph input named '%s'", input ? input : "(null)");
}

int clcnn_graph_loss(struct clcnn_graph *g, float *loss)
{
	int rc = need_built(g);
	if (rc)
		return rc;
	if (g->loss < 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  g->forward_only ? "the graph is built forward-only (clcnn_graph_set_forward_only): "
						    "it computes no loss"
						  : "the graph has no loss node");
	const struct graph_value *v = &g->values[g->ninputs + g->loss];
	size_t n = v->bytes / sizeof(float);
	if (n == 1)
		return clcnn_buffer_read(g->ctx, v->mem, 0, sizeof *loss, loss);
	/* reduction=none: backward starts from ones, i.e. from the sum, so report the sum */
	float *x = malloc(n * sizeof *x);
	if (!x)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	rc = clcnn_buffer_read(g->ctx, v->mem, 0, v->bytes, x);
	double s = 0;
	for (size_t k = 0; k < n; k++)
		s += x[k];
	*loss = (float)s;
	free(x);
	return rc;
}

void clcnn_graph_check_numerics(struct clcnn_graph *g, int on)
{
	g->check_numerics = on;
}

void clcnn_graph_set_sample_offset(struct clcnn_graph *g, uint32_t first)
{
	g->first_sample = first;
}

int clcnn_graph_profile(struct clcnn_graph *g, int iters, struct clcnn_node_timing **timings, int *n)
{
	*timings = NULL;
	*n = 0;
	int rc = need_built(g);
	if (rc)
		return rc;
	if (iters < 1)
		iters = 1;
	struct clcnn_node_timing *t = calloc((size_t)g->nnodes, sizeof *t);
	if (!t)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int train = g->loss >= 0;
	/* one untimed step so that kernels are built and caches warm */
	rc = clcnn_graph_forward(g, train, 1);
	if (!rc && train)
		rc = clcnn_graph_backward(g);
	if (!rc)
		rc = clcnn_context_finish(g->ctx);
	if (!rc) /* compiling and tuning are over: a progress display may close its wait */
		clcnn_progress_note(g->ctx, CLCNN_PROGRESS_DONE, NULL);
	for (int it = 0; it < iters && !rc; it++) {
		for (int k = 0; k < g->nnodes && !rc; k++) {
			int i = g->order[k];
			struct graph_node *nd = &g->nodes[i];
			if (nd->fused_by >= 0)
				continue;
			nd->fio.train = train;
			nd->fio.seed = graph_node_seed(1, i);
			nd->fio.coll = NULL; /* a profile times this member alone */
			double t0 = clcnn_now();
			rc = nd->cls->forward(nd->op, &nd->fio);
			if (!rc)
				rc = clcnn_context_finish(g->ctx);
			t[k].forward_s += (clcnn_now() - t0) / iters;
		}
		g->last_train = train;
		g->last_seed = 1;
		for (int k = g->nnodes - 1; k >= 0 && !rc && train; k--) {
			int i = g->order[k];
			struct graph_node *nd = &g->nodes[i];
			if (!nd->run_backward)
				continue;
			nd->bio.train = train;
			nd->bio.seed = graph_node_seed(1, i);
			nd->bio.coll = NULL;
			double t0 = clcnn_now();
			rc = nd->cls->backward(nd->op, &nd->bio);
			if (!rc)
				rc = clcnn_context_finish(g->ctx);
			t[k].backward_s += (clcnn_now() - t0) / iters;
		}
	}
	for (int k = 0; k < g->nnodes; k++) {
		t[k].name = g->nodes[g->order[k]].name;
		t[k].op = g->nodes[g->order[k]].type;
		const struct clcnn_op *op = g->nodes[g->order[k]].op;
		t[k].algo = op->cls->algo ? op->cls->algo(op) : "";
		t[k].flops = op->cls->flops ? op->cls->flops(op) : 0;
	}
	if (rc) {
		free(t);
		return rc;
	}
	*timings = t;
	*n = g->nnodes;
	return 0;
}
