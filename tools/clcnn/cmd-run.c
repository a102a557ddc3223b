/*
 * clcnn run: one forward (and optionally one backward) of a netfile on inputs from a safetensors
 * file; writes every node's output, and with --backward every parameter and input gradient, to a
 * safetensors file. This is how a model is checked against PyTorch node by node.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/io.h"
#include "model.h"

static const char *weights, *input, *output;
static int backward, train_mode, seed;

static const struct cli_flag flags[] = {
	{"weights", FLAG_STR, &weights, 0, 0, " CKPT",
	 "weights (safetensors); default: a .onnx model's own, else initialise from --seed"},
	{"input", FLAG_STR, &input, 0, 0, " X.safetensors",
	 "graph inputs by name, with the batch dimension (required)"},
	{"output", FLAG_STR, &output, 0, 0, " Y.safetensors", "where to write node outputs and gradients (required)"},
	{"backward", FLAG_BOOL, &backward, 0, 0, NULL, "also run backward from the loss; write grad.<name> tensors"},
	{"train-mode", FLAG_BOOL, &train_mode, 0, 0, NULL, "run in training mode (batch statistics, dropout)"},
	{"seed", FLAG_INT, &seed, 0, 2147483647, NULL, "seed for initial weights and dropout (default 1)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f,
		"usage: clcnn run NETFILE --input X.safetensors --output Y.safetensors [--weights CKPT] [--backward]\n"
		"                 [--train-mode]\n\n"
		"Run one forward pass (and with --backward one backward pass from the graph's loss) and write\n"
		"every node's output under the node's name; with --backward also grad.<param> for every\n"
		"trainable parameter and grad.<input> for every graph input. Class-index inputs may be I64.\n"
		"See README.md for a PyTorch comparison example.\n\noptions:\n");
	cli_print_flags(f, flags);
}

static int add_tensor(struct clcnn_st_writer *w, const char *name, int nd, const int *dims, float *data, char *err,
		      size_t n)
{
	int64_t shape[CLCNN_MAX_DIMS];
	for (int i = 0; i < nd; i++)
		shape[i] = dims[i];
	return clcnn_st_writer_add(w, name, "F32", nd, shape, data, err, n);
}

int cmd_run(int argc, char **argv)
{
	seed = 1;
	char *pos[1];
	int npos, pr = cli_parse("run", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || !input || !output) {
		cli_error("run", "expected NETFILE, --input and --output (see clcnn run --help)");
		return CLI_USAGE;
	}
	char err[4096];
	struct clcnn_st_file *in = NULL;
	if (clcnn_st_read(input, &in, err, sizeof err)) {
		cli_error("run", "%s", err);
		return CLI_ERROR;
	}
	int batch = 0;
	for (int i = 0; i < clcnn_st_count(in); i++)
		if (clcnn_st_get(in, i)->ndim > 0) {
			batch = (int)clcnn_st_get(in, i)->shape[0];
			break;
		}
	if (batch <= 0) {
		cli_error("run", "%s: no tensor with a batch dimension", input);
		clcnn_st_free(in);
		return CLI_ERROR;
	}
	struct cli_model m;
	if (cli_model_open_ex("run", pos[0], batch, backward, &m)) {
		clcnn_st_free(in);
		return CLI_ERROR;
	}
	int rc = CLI_ERROR;
	struct clcnn_st_writer *w = NULL;
	float **bufs = NULL;
	int nbufs = 0;
	/* one buffer per input (fed), node output, parameter gradient and input gradient */
	int total = clcnn_graph_node_count(m.g) + clcnn_graph_param_count(m.g) + 2 * clcnn_graph_input_count(m.g);
	bufs = calloc((size_t)total, sizeof *bufs);
	if (!bufs) {
		cli_error("run", "out of host memory");
		goto done;
	}
	if (clcnn_graph_keep(m.g, NULL)) { /* every node's output is written out: the plan keeps all */
		cli_error("run", "%s", clcnn_context_error(m.ctx));
		goto done;
	}
	if (weights                     ? clcnn_graph_load_weights(m.g, weights)
	    : cli_model_is_onnx(pos[0]) ? 0
					: clcnn_graph_init_params(m.g, (uint64_t)seed, "default")) {
		cli_error("run", "%s", clcnn_context_error(m.ctx));
		goto done;
	}
	for (int i = 0; i < clcnn_graph_input_count(m.g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(m.g, i, &name, &nd, dims);
		const struct clcnn_st_entry *e = clcnn_st_find(in, name);
		size_t want = (size_t)batch;
		for (int d = 0; d < nd; d++)
			want *= (size_t)dims[d];
		if (!e) {
			cli_error("run", "%s: no tensor named '%s' (the graph input)", input, name);
			goto done;
		}
		int ok = e->ndim == nd + 1 && e->shape[0] == batch && e->count == want;
		for (int d = 0; ok && d < nd; d++)
			ok = e->shape[d + 1] == dims[d];
		if (!ok) {
			cli_error("run",
				  "%s: tensor '%s' has %zu values in %d dims; the graph wants batch %d x %d dims",
				  input, name, e->count, e->ndim, batch, nd);
			goto done;
		}
		float *x = malloc(want * sizeof(float));
		bufs[nbufs++] = x;
		if (!x || clcnn_st_to_f32(e, x, err, sizeof err)) {
			cli_error("run", "%s", x ? err : "out of memory");
			goto done;
		}
		if (clcnn_graph_set_input(m.g, name, x)) {
			cli_error("run", "%s", clcnn_context_error(m.ctx));
			goto done;
		}
	}
	if (clcnn_graph_forward(m.g, train_mode, (uint32_t)seed) || (backward && clcnn_graph_backward(m.g))) {
		cli_error("run", "%s", clcnn_context_error(m.ctx));
		goto done;
	}
	if (clcnn_st_writer_new(&w))
		goto done;
	for (int i = 0; i < clcnn_graph_node_count(m.g); i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_node_info(m.g, i, &name, &op, &nd, dims);
		size_t n = 1;
		for (int d = 0; d < nd; d++)
			n *= (size_t)dims[d];
		float *x = malloc(n * sizeof(float));
		bufs[nbufs++] = x;
		if (!x || clcnn_graph_read(m.g, name, x) || add_tensor(w, name, nd, dims, x, err, sizeof err)) {
			cli_error("run", "node %s: %s", name, x ? clcnn_context_error(m.ctx) : "out of memory");
			goto done;
		}
	}
	if (backward) {
		for (int i = 0; i < clcnn_graph_param_count(m.g); i++) {
			struct clcnn_param_info pi;
			clcnn_graph_param_info(m.g, i, &pi);
			if (!pi.trainable)
				continue;
			float *x = malloc((pi.count ? pi.count : 1) * sizeof(float));
			bufs[nbufs++] = x;
			char name[512];
			snprintf(name, sizeof name, "grad.%s", pi.name);
			if (!x || clcnn_graph_grad_read(m.g, i, x) ||
			    add_tensor(w, name, pi.ndim, pi.dims, x, err, sizeof err)) {
				cli_error("run", "%s: %s", name, x ? clcnn_context_error(m.ctx) : "out of memory");
				goto done;
			}
		}
		for (int i = 0; i < clcnn_graph_input_count(m.g); i++) {
			const char *iname;
			int nd, dims[CLCNN_MAX_DIMS + 1];
			clcnn_graph_input_info(m.g, i, &iname, &nd, dims + 1);
			if (nd == 0)
				continue; /* class indices have no gradient */
			dims[0] = batch;
			size_t n = (size_t)batch;
			for (int d = 1; d <= nd; d++)
				n *= (size_t)dims[d];
			float *x = malloc(n * sizeof(float));
			bufs[nbufs++] = x;
			char name[512];
			snprintf(name, sizeof name, "grad.%s", iname);
			if (!x || clcnn_graph_read_input_grad(m.g, iname, x) ||
			    add_tensor(w, name, nd + 1, dims, x, err, sizeof err)) {
				cli_error("run", "%s: %s", name, x ? clcnn_context_error(m.ctx) : "out of memory");
				goto done;
			}
		}
	}
	if (clcnn_st_write(w, output, err, sizeof err)) {
		cli_error("run", "%s", err);
		goto done;
	}
	printf("wrote %s\n", output);
	rc = CLI_OK;
done:
	for (int i = 0; i < nbufs; i++)
		free(bufs[i]);
	free(bufs);
	clcnn_st_writer_free(w);
	clcnn_st_free(in);
	cli_model_close(&m);
	return rc;
}
