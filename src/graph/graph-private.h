/*
 * Internal layout of a graph, shared by the graph builder (graph.c), the memory plan (plan.c), the
 * executor (exec.c), parameters (params.c) and the trainer. Builders outside src/graph (the netfile
 * parser) use the public API plus graph-build.h, never this layout.
 *
 * Values: graph inputs and node outputs share one index space so that an input reference is one
 * int: value v < ninputs is input v, otherwise node v - ninputs.
 */
#ifndef CLCNN_GRAPH_PRIVATE_H
#define CLCNN_GRAPH_PRIVATE_H

#include "clcnn/graph.h"
#include "graph/graph-build.h"
#include "ops/op.h"

struct graph_input {
	char *name;
	struct clcnn_shape shape; /* per sample (batch excluded) */
	int want_grad;            /* clcnn_graph_want_input_grad */
	char *origin;             /* "file:line:col" of the declaration, or NULL */
	/* clcnn_graph_set_input's copy of the data, written to the device from here without blocking */
	float *staging;
	size_t staging_bytes;
	cl_event staged; /* that write, until the next upload or graph_input_staging_release */
};

struct graph_node {
	char *name, *type, *args;
	const struct clcnn_op_class *cls;
	int nin;
	char *in_name[CLCNN_OP_MAX_IN];
	char *in_origin[CLCNN_OP_MAX_IN]; /* where each input name was written (netfile), or NULL */
	int in_ref[CLCNN_OP_MAX_IN];      /* value index, resolved by graph_check */
	char *origin;
	struct clcnn_op *op;             /* built */
	int share;                       /* node whose parameters this one uses (share=), -1 own */
	int param0;                      /* first index in g->params (built); the owner's when shared */
	struct clcnn_dev_io fio, bio;    /* prepared device io of forward and backward */
	cl_mem acc_tmp[CLCNN_OP_MAX_IN]; /* grad_in written to a temporary, then added to acc_dst */
	cl_mem acc_dst[CLCNN_OP_MAX_IN];
	int acc_slot[CLCNN_OP_MAX_IN]; /* g->slots index + 1 of acc_tmp, 0 none (a host plan has no cl_mem) */
	/* shared parameters: this node's weight gradients go to a temporary, then are added to the owner's */
	cl_mem pacc_tmp[CLCNN_OP_MAX_PARAM];
	int run_backward;
	int keep;    /* clcnn_graph_keep: the output stays readable until the next forward */
	int inplace; /* planned: forward writes the output over input 0 */
	/*
	 * Planned operator fusion (plan.c): fuses is the element-wise activation node this node applies
	 * to its own output (op->fused), fused_by the node that does this node's work; -1 none. A fused
	 * activation runs no forward nor backward; its output is its producer's buffer.
	 */
	int fuses, fused_by;
};

/* Per value, filled by build. */
struct graph_value {
	struct clcnn_shape shape; /* with batch */
	size_t bytes;
	cl_mem mem;     /* activation: input data or node output (kept for backward) */
	cl_mem grad;    /* gradient buffer (from the liveness plan), NULL when not needed */
	int needs_grad; /* someone's gradient flows through this value */
	int reaches_loss;
	int consumers;
	int grad_slot;
	int grad_planned; /* grad_slot is this value's gradient buffer (grad may be NULL on a host plan) */
	/*
	 * The memory plan (plan.c) on one timeline: 0 = inputs set, 1 + k = forward step k, 1 + F + t =
	 * backward step t, 1 + F + T = the optimizer step (END). The value is live from t_start to t_end
	 * (inclusive) in pool buffer slot, which it may share with values whose lives do not overlap.
	 */
	int t_start, t_end;
	int slot;
	int last_reader; /* node whose forward or backward reads it last, -1 none */
	int kept;        /* t_end is END: graph input, loss, output or clcnn_graph_keep */
};

/* Wait for input i's pending upload (exec.c); _release also frees its staging memory. */
int graph_input_staging_wait(struct clcnn_graph *g, int i);
void graph_input_staging_release(struct clcnn_graph *g, int i);

struct graph_param {
	char *name; /* "<node>.<spec>" */
	int node;
	struct clcnn_param_spec spec;
	size_t count;
	cl_mem mem, grad; /* grad NULL for buffers */
};

struct graph_pending {
	char *name;
	float *data;
	size_t count;
};

/* One reusable buffer of the liveness plan (activations and gradients share the pool). */
struct graph_slot {
	size_t bytes;
	int free_after; /* last time step using it */
	int grads;      /* holds gradients (else activations only) */
	cl_mem mem;
};

struct clcnn_graph {
	struct clcnn_context *ctx;
	int ninputs, nnodes;
	int cap_inputs, cap_nodes;
	struct graph_input *inputs;
	struct graph_node *nodes;
	char *loss_name, *output_name; /* explicit choices, or NULL for the defaults */
	int loss, output;              /* node indices after graph_check (-1 none) */
	int last_added;                /* value index of the previous statement (-1 none) */

	/* built */
	int batch;
	int *order; /* schedule: node indices in topological order */
	struct graph_value *values;
	int nparams, params_created;
	struct graph_param *params;
	int nslots;
	struct graph_slot *slots;
	cl_mem scratch, ones;
	size_t scratch_bytes, state_total, act_total, grad_total, param_total;
	/*
	 * Memory plan: pool_total = bytes of every slot (activations + activation gradients),
	 * grad_total = shared-parameter gradient temporaries; act_total = every value's bytes (what a
	 * plan that kept everything would hold). Peaks of live tensors per phase, with parameters,
	 * state and scratch (plan.c, clcnn_graph_plan_info).
	 */
	size_t pool_total, peak_forward, peak_backward, peak_step, kept_backward;
	int keep_all;  /* clcnn_graph_keep(g, NULL): every value lives the whole step, nothing in place */
	int fuse;      /* operator fusion (clcnn_graph_set_fusion; default: the context's CLCNN_FUSE) */
	int forward_only; /* clcnn_graph_set_forward_only: graph_check then leaves loss at -1 */
	int time_end;  /* END of the timeline */
	cl_mem *state; /* per node */
	int check_numerics;
	int last_train; /* mode of the last forward */
	uint32_t last_seed;
	uint32_t first_sample; /* clcnn_graph_set_sample_offset */
	int forward_done;

	/* data parallelism: the group's collective (borrowed) and sync_bn for every batchnorm */
	const struct clcnn_collective *coll;
	int sync_bn;
	/*
	 * Called after backward enqueued the kernels of step k (k counts down from nnodes - 1 in the
	 * schedule's order, as the loop runs): the trainer starts reading finished gradient buckets.
	 */
	void (*backward_hook)(void *user, int k);
	void *backward_hook_user;

	/* values for parameters, applied when the first build creates them (an imported ONNX model) */
	struct graph_pending *pending;
	int npending;

	/* initialisation */
	uint64_t init_seed;
	char init_scheme[32];
	int init_pending;
};

/* Value helpers. */
static inline int graph_nvalues(const struct clcnn_graph *g)
{
	return g->ninputs + g->nnodes;
}
const char *graph_value_name(const struct clcnn_graph *g, int v);
/* Value index of a name (input or node), -1 when unknown. */
int graph_find_value(const struct clcnn_graph *g, const char *name);
int graph_find_node(const struct clcnn_graph *g, const char *name);

/*
 * The host half of clcnn_graph_build: graph_check, the schedule and shape inference through every
 * op's setup() at batch, refusing any value or parameter of more than INT_MAX elements. No device
 * is touched (the netfile fuzz target runs it on a host-only context). Leaves ops and shapes in g
 * (released by the next build or clcnn_graph_free), but g is not built: g->batch stays 0.
 */
int graph_infer(struct clcnn_graph *g, int batch);
/* Where a node / input was declared, for messages (returns "" when unknown). */
const char *graph_node_origin(const struct clcnn_graph *g, int node);
/* ": " after a non-empty origin, else "" (messages read "file:line:col: node ..."). */
const char *graph_origin_sep(const char *origin);
/* The len bytes at start without surrounding blanks, into dst (n bytes, truncated). */
void graph_trim_copy(char *dst, size_t n, const char *start, size_t len);

/* share.c: weight sharing */
/*
 * "share=OWNER" among a node's arguments: 1 and the owner's name when they name it, with the first
 * other key in other ("" none); else 0.
 */
int graph_find_share(const char *args, char *owner, size_t n, char *other, size_t on);
/* Node i (share >= 0) gets parameters of its owner's shapes from its inputs; else a message. */
int graph_check_shared(struct clcnn_graph *g, int i);

/* plan.c: device memory of a built graph. */
int graph_plan(struct clcnn_graph *g);
void graph_plan_release(struct clcnn_graph *g);

/* params.c */
int graph_params_create(struct clcnn_graph *g);
void graph_params_release(struct clcnn_graph *g);
int graph_params_init(struct clcnn_graph *g, uint64_t seed, const char *scheme);
void graph_pending_release(struct clcnn_graph *g);

/* Seed of node i for a step seed (forward and backward of one step agree). */
uint32_t graph_node_seed(uint32_t step_seed, int node);

/* Deterministic host RNG (splitmix64) used for initialisation and the trainer. */
uint64_t graph_splitmix64(uint64_t *state);

#endif
