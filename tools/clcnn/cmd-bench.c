/*
 * clcnn bench: per-node forward/backward time, GFLOP/s and algorithm, and whole training-step speed;
 * with --inference, the latency of eval-mode forwards as `clcnn predict` and the C API run them.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"

static int batch, iters, warmup, input_grads, inference;

static const struct cli_flag flags[] = {
	{"batch", FLAG_INT, &batch, 1, 65536, NULL, "batch size (default 64)"},
	{"iters", FLAG_INT, &iters, 1, 100000, NULL, "timed iterations; the median is reported (default 10)"},
	{"warmup", FLAG_INT, &warmup, 0, 100000, NULL, "untimed iterations first (default 2)"},
	{"input-grads", FLAG_BOOL, &input_grads, 0, 0, NULL,
	 "also compute the gradients of the inputs (as PyTorch does for an input with requires_grad)"},
	{"inference", FLAG_BOOL, &inference, 0, 0, NULL,
	 "time eval-mode forwards instead (input upload, forward to the output, output read back)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn bench NETFILE [--batch B] [--iters N] [--input-grads | --inference]\n\n"
		   "Time every node's forward and backward on random data (median of N), with GFLOP/s and the\n"
		   "algorithm chosen, then whole training steps (forward + backward + SGD update: lr 0.01,\n"
		   "momentum 0.9) in img/s.\n"
		   "With --inference: N eval-mode forwards of one batch each, as predict runs them (copy the batch\n"
		   "in, forward to the output node, read the output back; no loss, no backward), after the\n"
		   "warm-up; prints the median and 90th-percentile latency and img/s.\n\n"
		   "options:\n");
	cli_print_flags(f, flags);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * --inference: warmup + iters eval-mode forwards of m's output node, each with its input copied in
 * and its output read back (the blocking read ends the timing); the times of the timed ones into t.
 */
static int time_inference(struct cli_model *m, double *t)
{
	size_t per = (size_t)m->c * (size_t)m->h * (size_t)m->w;
	const char *out = clcnn_graph_output_name(m->g);
	size_t nout = 0; /* floats of the output node's value, batch included */
	for (int i = 0; i < clcnn_graph_node_count(m->g) && !nout; i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		if (clcnn_graph_node_info(m->g, i, &name, &op, &nd, dims) || strcmp(name, out))
			continue;
		nout = 1;
		for (int d = 0; d < nd; d++)
			nout *= (size_t)dims[d];
	}
	float *x = malloc((size_t)batch * per * sizeof(float)), *y = malloc((nout ? nout : 1) * sizeof(float));
	int rc = -1;
	if (!x || !y) {
		cli_error("bench", "out of memory for the input and output of batch %d", batch);
		goto done;
	}
	uint64_t r = 11;
	for (size_t k = 0; k < (size_t)batch * per; k++)
		x[k] = (float)(2 * clcnn_rng_uniform(&r) - 1);
	for (int i = 0; i < warmup + iters; i++) {
		double t0 = cli_now();
		if (clcnn_graph_set_input(m->g, m->image, x) || clcnn_graph_forward_to(m->g, out, 0, 0) ||
		    clcnn_graph_read(m->g, out, y)) {
			cli_error("bench", "%s", clcnn_context_error(m->ctx));
			goto done;
		}
		if (i >= warmup)
			t[i - warmup] = cli_now() - t0;
	}
	rc = 0;
done:
	free(x);
	free(y);
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	batch = 64;
	iters = 10;
	warmup = 2;
	input_grads = 0;
	inference = 0;
	char *pos[1];
	int npos, pr = cli_parse("bench", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1) {
		cli_error("bench", "expected one NETFILE (see clcnn bench --help)");
		return CLI_USAGE;
	}
	if (inference && input_grads) {
		cli_error("bench", "--inference times forwards only: it takes no --input-grads");
		return CLI_USAGE;
	}
	struct cli_model m;
	/* --inference: built forward-only, as predict runs it (no gradient buffers) */
	if (inference ? cli_model_open_forward("bench", pos[0], batch, &m)
		      : cli_model_open_ex("bench", pos[0], batch, input_grads, &m))
		return CLI_ERROR;
	int rc = CLI_ERROR;
	struct clcnn_trainer *tr = NULL;
	double *t = calloc((size_t)iters, sizeof(double));
	if (!t) {
		cli_error("bench", "out of memory for %d timings", iters);
		goto done;
	}
	/* random inputs; class indices in range */
	for (int i = 0; i < clcnn_graph_input_count(m.g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(m.g, i, &name, &nd, dims);
		size_t n = (size_t)batch;
		for (int d = 0; d < nd; d++)
			n *= (size_t)dims[d];
		float *x = malloc(n * sizeof(float));
		uint64_t r = 7 + (uint64_t)i;
		for (size_t k = 0; k < n; k++)
			x[k] = nd == 0 ? (float)(clcnn_rng_next(&r) % (uint64_t)(m.classes > 0 ? m.classes : 2))
				       : (float)(2 * clcnn_rng_uniform(&r) - 1);
		int e = clcnn_graph_set_input(m.g, name, x);
		free(x);
		if (e) {
			cli_error("bench", "%s", clcnn_context_error(m.ctx));
			goto done;
		}
	}
	if (!cli_model_is_onnx(pos[0]) && clcnn_graph_init_params(m.g, 1, "default"))
		goto fail;
	const struct clcnn_device_info *dev = clcnn_context_device(m.ctx);
	if (inference) {
		printf("device: %s; batch %d; %d eval-mode forwards of node '%s' after %d untimed\n", dev->name, batch,
		       iters, clcnn_graph_output_name(m.g), warmup);
		if (time_inference(&m, t))
			goto done;
		qsort(t, (size_t)iters, sizeof *t, cmp_double);
		double med = t[iters / 2], p90 = t[(iters * 9 + 9) / 10 - 1];
		printf("inference: %.3f ms median, %.3f ms p90 per batch of %d (%.0f img/s)\n", med * 1e3, p90 * 1e3,
		       batch, batch / med);
		rc = CLI_OK;
		goto done;
	}
	printf("device: %s; batch %d; per-node times are means of %d blocking runs\n", dev->name, batch, iters);
	struct clcnn_node_timing *nt = NULL;
	int nn = 0;
	if (clcnn_graph_profile(m.g, iters, &nt, &nn))
		goto fail;
	printf("%-16s %-14s %-12s %10s %9s %10s %9s\n", "node", "op", "algo", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s");
	double tf = 0, tb = 0;
	for (int i = 0; i < nn; i++) {
		const struct clcnn_node_timing *x = &nt[i];
		tf += x->forward_s;
		tb += x->backward_s;
		printf("%-16s %-14s %-12s %10.3f %9.1f %10.3f %9.1f\n", x->name, x->op, x->algo ? x->algo : "-",
		       x->forward_s * 1e3, x->flops > 0 && x->forward_s > 0 ? x->flops / x->forward_s * 1e-9 : 0.0,
		       x->backward_s * 1e3,
		       x->flops > 0 && x->backward_s > 0 ? 2 * x->flops / x->backward_s * 1e-9 : 0.0);
	}
	printf("%-44s %10.3f %9s %10.3f\n", "sum of nodes", tf * 1e3, "", tb * 1e3);
	free(nt);
	struct clcnn_optimizer_config oc;
	struct clcnn_schedule_config sc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.momentum = 0.9;
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_CONSTANT);
	if (clcnn_trainer_new(m.g, &oc, &sc, 1, &tr))
		goto fail;
	for (int i = 0; i < warmup + iters; i++) {
		double t0 = cli_now();
		float loss;
		if (clcnn_trainer_step(tr, &loss))
			goto fail;
		if (i >= warmup)
			t[i - warmup] = cli_now() - t0;
	}
	qsort(t, (size_t)iters, sizeof *t, cmp_double);
	printf("training step: %.3f ms median (%.0f img/s)\n", t[iters / 2] * 1e3, batch / t[iters / 2]);
	rc = CLI_OK;
	goto done;
fail:
	cli_error("bench", "%s", clcnn_context_error(m.ctx));
done:
	free(t);
	clcnn_trainer_free(tr);
	cli_model_close(&m);
	return rc;
}
