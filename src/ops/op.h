/*
 * The op interface: what one layer family provides so that the graph, the trainer and the generic
 * op test can use it without knowing it.
 *
 * A layer family lives in src/ops/<family>.c (+ cl/<family>.cl) and defines one or more
 * `const struct clcnn_op_class clcnn_op_<name>` — the registry (src/ops/registry.h) lists them.
 * Each class has:
 *   - a typed argument struct described by a key table (parsed once for netfile and C API),
 *   - setup(): validation + shape inference + parameter specs + device memory needs,
 *   - a C reference forward/backward in double, written for obviousness, the judge of the kernels,
 *   - forward()/backward(): enqueue kernels on the device (no host sync, no allocation),
 *   - a case table that the generic op test (tests/ops/test-ops.c) runs on the device.
 *
 * Conventions:
 *   - All tensors are float32 NCHW (4-D) or (N, F) (2-D); losses with reduction mean/sum produce a
 *     0-dim scalar. Class-index targets are stored as floats holding integers.
 *   - backward() OVERWRITES grad_in[i] and grad_param[j]; the executor adds up fan-out itself.
 *     grad_in[i] == NULL means that gradient is not wanted (skip the work).
 *   - Parameters include buffers (running statistics); forward in training mode may update them.
 */
#ifndef CLCNN_OP_H
#define CLCNN_OP_H

#include <stddef.h>
#include <stdint.h>

#include "clcnn-private.h"

#define CLCNN_OP_MAX_IN 8
#define CLCNN_OP_MAX_PARAM 5

struct clcnn_shape {
	int ndim; /* 0 (scalar) .. 4 */
	int d[4];
};

size_t clcnn_shape_count(const struct clcnn_shape *s);
int clcnn_shape_equal(const struct clcnn_shape *a, const struct clcnn_shape *b);
/* "2x3x7x5" ("scalar" for 0-dim) into buf; returns buf. */
const char *clcnn_shape_str(const struct clcnn_shape *s, char *buf, size_t n);
struct clcnn_shape clcnn_shape4(int n, int c, int h, int w);
struct clcnn_shape clcnn_shape2(int n, int f);

/* ------------------------------------------------------------------ arguments */

enum clcnn_arg_type {
	CLCNN_ARG_INT,       /* int */
	CLCNN_ARG_FLOAT,     /* double */
	CLCNN_ARG_OPT_FLOAT, /* double, NAN when given as "none" */
	CLCNN_ARG_BOOL,      /* int 0/1: true/false/1/0 */
	CLCNN_ARG_ENUM,      /* int: index into choices */
	CLCNN_ARG_INT2,      /* int[2] (h, w): "3" -> {3,3}, "(3,5)" or "3x5" -> {3,5} */
	CLCNN_ARG_PAD,       /* struct clcnn_pad: "1", "(1,2)" = (h,w), "(t,b,l,r)", "same", "valid" */
	CLCNN_ARG_INTS,      /* struct clcnn_ints: "(1,28,28)", "1x28x28" or "5" */
	CLCNN_ARG_FLOATS,    /* struct clcnn_floats: "(1.0, 2.5, 3)"; heap, freed by clcnn_args_free */
};

struct clcnn_pad {
	int same; /* 1: 'same' padding (stride 1), resolved in setup */
	int t, b, l, r;
};

struct clcnn_ints {
	int n;
	int v[4];
};

struct clcnn_floats {
	int n;
	double *v;
};

struct clcnn_arg {
	const char *key;
	enum clcnn_arg_type type;
	size_t offset;              /* offsetof(args struct, field) */
	const char *def;            /* default as text (parsed like user input); NULL = required */
	const char *const *choices; /* ENUM: NULL-terminated names */
	const char *doc;            /* one line for docs and --help */
};

/* ------------------------------------------------------------------ parameters */

enum clcnn_param_kind {
	CLCNN_PARAM_WEIGHT, /* trained */
	CLCNN_PARAM_BUFFER, /* state kept with the weights, not trained (running stats) */
};

enum clcnn_init {
	CLCNN_INIT_ZEROS,
	CLCNN_INIT_ONES,
	CLCNN_INIT_CONST,          /* init_value */
	CLCNN_INIT_DEFAULT_WEIGHT, /* PyTorch conv/linear default: kaiming_uniform(a=sqrt 5) = U(+-1/sqrt(fan_in)) */
	CLCNN_INIT_DEFAULT_BIAS,   /* PyTorch conv/linear bias: U(+-1/sqrt(fan_in)) */
};

struct clcnn_param_spec {
	char name[32]; /* state-dict suffix: "weight", "bias", "running_mean", ... */
	struct clcnn_shape shape;
	enum clcnn_param_kind kind;
	enum clcnn_init init;
	double init_value;
	int fan_in, fan_out; /* for initialisers */
	int int64;           /* saved as I64 in checkpoints (num_batches_tracked) */
};

/* ------------------------------------------------------------------ op instance and class */

/*
 * Operator fusion (src/graph/plan.c): an element-wise activation that a producer may apply to its
 * own output, y = act(t), so that the activation's node runs no pass of its own. Its backward must
 * be a mask computable from the output alone, exactly as the activation's class computes it:
 * relu dt = y <= 0 ? 0 : dy (NaN passes dy); leaky_relu (slope >= 0) dt = y > 0 ? dy : dy * slope.
 */
enum clcnn_fused_kind {
	CLCNN_FUSED_NONE = 0,
	CLCNN_FUSED_RELU = 1,
	CLCNN_FUSED_LEAKY_RELU = 2,
};

struct clcnn_fused_act {
	int kind;    /* CLCNN_FUSED_* */
	float slope; /* leaky_relu's negative_slope, as its kernels take it */
};

struct clcnn_op_class;

struct clcnn_op {
	const struct clcnn_op_class *cls;
	void *args; /* typed argument struct (cls->args_size bytes) */
	int nin;
	struct clcnn_shape in[CLCNN_OP_MAX_IN];
	struct clcnn_shape out;
	int nparam;
	struct clcnn_param_spec param[CLCNN_OP_MAX_PARAM];
	unsigned nograd_in;        /* bit i: input i never has a gradient (class targets) */
	size_t state_bytes;        /* device memory kept from forward to backward, per op (set by setup/prepare) */
	size_t scratch_bytes;      /* device memory needed only during one forward or backward call */
	struct clcnn_context *ctx; /* set by prepare(); NULL for reference-only use */
	void *priv;                /* op-owned, released by cls->destroy */
	/* operator fusion, set by the memory plan: the activation that forward applies to its output */
	struct clcnn_fused_act fused;
};

/* Host (reference) buffers, double precision. */
struct clcnn_ref_io {
	const double *in[CLCNN_OP_MAX_IN];
	double *out;
	double *param[CLCNN_OP_MAX_PARAM];      /* forward may update buffers in training mode */
	double *grad_param[CLCNN_OP_MAX_PARAM]; /* backward writes; NULL for buffers */
	double *grad_in[CLCNN_OP_MAX_IN];       /* backward writes; NULL = not wanted */
	const double *grad_out;
	int train;
	uint32_t seed; /* per call; forward and backward of a step get the same */
	uint32_t first_sample; /* index of the batch's first sample in the global batch (data parallel) */
};

/* Device buffers, same meaning; state and scratch as declared by the op. */
struct clcnn_collective;

struct clcnn_dev_io {
	cl_mem in[CLCNN_OP_MAX_IN];
	cl_mem out;
	cl_mem param[CLCNN_OP_MAX_PARAM];
	cl_mem grad_param[CLCNN_OP_MAX_PARAM];
	cl_mem grad_in[CLCNN_OP_MAX_IN];
	cl_mem grad_out;
	cl_mem state;
	cl_mem scratch;
	int train;
	uint32_t seed;
	uint32_t first_sample; /* as in clcnn_ref_io: random streams key on the global element index */
	/* data parallelism (clcnn/parallel.h), set by the executor: the group's collective or NULL, and
	 * the graph's sync_bn switch (ops that exchange statistics: batchnorm) */
	const struct clcnn_collective *coll;
	int sync_bn;
};

/* Flags of a test case. */
#define CLCNN_CASE_TRAIN 1u /* run in training mode (default: both modes where they differ) */
#define CLCNN_CASE_EVAL 2u  /* run in eval mode */
#define CLCNN_CASE_NO_FD 4u /* skip finite differences (say why in the table) */

struct clcnn_op_case {
	const char *args;   /* "out_channels=4, kernel_size=3, padding=1" */
	const char *inputs; /* input shapes separated by ';': "2x3x7x5;2x3x7x5" */
	unsigned flags;
	double tol; /* 0: the class tolerance */
};

/*
 * The sliding window of an op per spatial axis (0 = H, 1 = W), as in Araujo et al. 2019, "Computing
 * Receptive Fields of Convolutional Neural Networks": r_out = r_in + (kernel - 1) * dilation * j_in,
 * j_out = j_in * stride. kernel 0 means every output sees the whole input along that axis (global
 * pooling, linear, a softmax over that dim). An op on a tensor that is not 4-D (features after a
 * flatten) that mixes its features sets kernel 0 on both axes.
 */
struct clcnn_op_window {
	int kernel[2], stride[2], dilation[2];
	int pad[2]; /* positions padded before the first input position (top, left); 'same' resolved */
};

struct clcnn_op_class {
	const char *name;   /* as written in netfiles and the C API: "conv2d" */
	const char *family; /* cl/<family>.cl */
	const char *doc;    /* one line */
	size_t args_size;
	const struct clcnn_arg *args; /* terminated by {NULL} */
	int min_in, max_in;
	/*
	 * Validate args and input shapes; fill out, param[], nparam, nograd_in, state_bytes,
	 * scratch_bytes. On failure write a message naming the numbers (the caller prefixes the node
	 * name) and return CLCNN_ERR_INVALID. Must not need a device.
	 */
	int (*setup)(struct clcnn_op *op, char *err, size_t errlen);
	/* Optional: choose algorithms / build kernels for op->ctx; may raise scratch_bytes. */
	int (*prepare)(struct clcnn_op *op);
	void (*ref_forward)(const struct clcnn_op *op, const struct clcnn_ref_io *io);
	void (*ref_backward)(const struct clcnn_op *op, const struct clcnn_ref_io *io); /* NULL: no gradient */
	int (*forward)(struct clcnn_op *op, const struct clcnn_dev_io *io);
	int (*backward)(struct clcnn_op *op, const struct clcnn_dev_io *io);
	void (*destroy)(struct clcnn_op *op); /* optional: free priv */
	/*
	 * Optional test-data generator for input i (param < 0) or parameter j (input < 0): e.g. class
	 * indices, probabilities, positive variances, values away from kinks and ties. Default:
	 * uniform in [-1, 1] (buffers: from their initialiser).
	 */
	void (*fill)(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng);
	const struct clcnn_op_case *cases; /* terminated by {NULL} */
	double tol;                        /* device vs reference: |dev - ref| <= tol * (1 + |ref|) element-wise */
	/*
	 * Forward FLOPs at the op's shapes, eval mode (docs/cost.md: a multiply-add = 2, every other
	 * arithmetic operation, comparison or elementary function = 1, copies = 0), for `clcnn graph` and
	 * `clcnn bench`; and the algorithm in use (optional).
	 */
	double (*flops)(const struct clcnn_op *op);
	const char *(*algo)(const struct clcnn_op *op);
	int stochastic; /* output depends on seed (dropout, noise) */
	/*
	 * Optional: validate the host data of input `input` (n floats, batch included) before it goes to
	 * the device, e.g. class indices against the number of classes. `who` names the node ("node
	 * 'loss' (cross_entropy)"). On a bad value write one message naming the element and the value
	 * ("sample 17 has class 12, but <who> has 10 classes ...") and return CLCNN_ERR_INVALID; 0 when
	 * the data is fine or the input is not checked. clcnn_graph_set_input calls it for every node
	 * that reads the graph input directly.
	 */
	int (*check_input)(const struct clcnn_op *op, int input, const float *host, size_t n, const char *who,
			   char *err, size_t errlen);
	/*
	 * Optional: how far each output looks along the spatial axes (H, W) of an NCHW input, for the
	 * receptive fields of `clcnn graph` (docs/cost.md). Called with w preset to pointwise (kernel 1,
	 * stride 1, dilation 1), so only sliding windows and global ops define it. Padding moves where a
	 * field starts but not its size or jump, so it is not asked for.
	 */
	void (*window)(const struct clcnn_op *op, struct clcnn_op_window *w);
	/*
	 * What the device backward() reads of this forward's tensors, as CLCNN_SAVES_* bits, so that
	 * the memory plan (src/graph/plan.c) frees everything else once forward has passed it. State
	 * (op->state_bytes) and parameters are always kept and are not declared here. NULL: backward
	 * may read every input and the output (nothing is freed early: always safe).
	 */
	unsigned (*saves)(const struct clcnn_op *op);
	/*
	 * Optional, operator fusion (struct clcnn_fused_act): on an activation, fill *f and return 1
	 * when a producer may apply this op to its output instead of it running (same floats forward
	 * and backward); on a producer, 1 when forward() and backward() honour op->fused = *f (forward
	 * writes act(t); backward masks dy as the activation's backward would, reading its output only if
	 * saves() says so).
	 */
	int (*fusable_act)(const struct clcnn_op *op, struct clcnn_fused_act *f);
	int (*can_fuse)(const struct clcnn_op *op, const struct clcnn_fused_act *f);
};

#define CLCNN_SAVES_IN(i) (1u << (i)) /* backward reads input i (CLCNN_OP_MAX_IN <= 8) */
#define CLCNN_SAVES_INPUTS 0xffu       /* every input */
#define CLCNN_SAVES_OUT (1u << 8)      /* backward reads the output */
/*
 * Backward reads input 0 only where the output would serve identically (relu and leaky_relu with
 * slope >= 0 test x > 0, and y > 0 exactly when x > 0, NaN and -0 included): the plan may bind the
 * output as in[0] for backward, so input 0 need not be kept.
 */
#define CLCNN_SAVES_IN0_AS_OUT (1u << 9)
/*
 * Forward may write its output over input 0 (same shape, element-wise, no element read after
 * another is written; a copy of a buffer onto itself is skipped). The plan does so when nothing
 * else reads input 0 afterwards.
 */
#define CLCNN_SAVES_INPLACE (1u << 10)
#define CLCNN_SAVES_NOTHING 0u

/* Common declarations for op classes. */
static inline unsigned clcnn_saves_nothing(const struct clcnn_op *op)
{
	(void)op;
	return CLCNN_SAVES_NOTHING;
}
static inline unsigned clcnn_saves_inputs(const struct clcnn_op *op)
{
	(void)op;
	return CLCNN_SAVES_INPUTS;
}
static inline unsigned clcnn_saves_input0(const struct clcnn_op *op)
{
	(void)op;
	return CLCNN_SAVES_IN(0);
}
/* The bits of op, CLCNN_SAVES_INPUTS | CLCNN_SAVES_OUT when its class declares nothing. */
static inline unsigned clcnn_op_saves(const struct clcnn_op *op)
{
	return op->cls->saves ? op->cls->saves(op) : CLCNN_SAVES_INPUTS | CLCNN_SAVES_OUT;
}

/* ------------------------------------------------------------------ lifecycle (src/ops/op.c) */

const struct clcnn_op_class *clcnn_op_find(const char *name);
/* A loss is an op with a `reduction` key (every loss has one, nothing else does). */
int clcnn_op_is_loss(const struct clcnn_op_class *cls);
/* NULL-terminated list of every registered class (registry.h). */
extern const struct clcnn_op_class *const clcnn_op_classes[];

/* Defaults for every key of cls into args (memset 0 first). */
int clcnn_args_defaults(const struct clcnn_op_class *cls, void *args, char *err, size_t errlen);
/* Set one key from its text value; errors name the key, the value and what was expected. */
int clcnn_args_set(const struct clcnn_op_class *cls, void *args, const char *key, const char *value, char *err,
		   size_t errlen);
/*
 * Parse "k=v, k=(a,b), ..." (commas inside parentheses belong to the value). On error *err_at is
 * the byte offset in text where the offending item starts.
 */
int clcnn_args_parse(const struct clcnn_op_class *cls, void *args, const char *text, char *err, size_t errlen,
		     size_t *err_at);
void clcnn_args_free(const struct clcnn_op_class *cls, void *args);
/*
 * The tuple grammar shared by every key that takes several integers and by netfile input shapes:
 * "(a, b, c)", "a,b", "axb", "a", "()" (empty). Stricter than a split on commas: empty items
 * (trailing comma), stray or nested parentheses, non-integers, values outside int and more than
 * max items are refused. Returns the count (0..max) or -1; v holds the items.
 */
int clcnn_tuple_ints(const char *text, int *v, int max);
/* Render args back to "k=v, ..." (non-default keys only when minimal). */
int clcnn_args_format(const struct clcnn_op_class *cls, const void *args, int minimal, char *buf, size_t n);

/*
 * Create an op of class `type` with args text and input shapes; runs setup. No device needed.
 * Errors: unknown type, bad args, wrong input count, setup's message.
 */
int clcnn_op_new(const char *type, const char *args, int nin, const struct clcnn_shape *in, struct clcnn_op **out,
		 char *err, size_t errlen);
/* Bind to a device context (calls prepare). */
int clcnn_op_prepare(struct clcnn_op *op, struct clcnn_context *ctx);
void clcnn_op_free(struct clcnn_op *op);

/* ------------------------------------------------------------------ helpers for op files */

/* Format an error and return CLCNN_ERR_INVALID (for setup). */
int clcnn_op_invalid(char *err, size_t errlen, const char *fmt, ...) CLCNN_PRINTF(3, 4);
/*
 * Launch helper: 1-D elementwise kernel over n items, in work-groups of clcnn_op_local1d: 64 on
 * CPUs, 4 x lim.simd on GPUs (never fewer than lim.simd unless the kernel or device allows fewer).
 */
int clcnn_op_run1d(struct clcnn_context *ctx, cl_kernel k, size_t n);
size_t clcnn_op_local1d(struct clcnn_context *ctx, cl_kernel k);
/* Zero a device buffer of n floats. */
int clcnn_op_zero(struct clcnn_context *ctx, cl_mem m, size_t n);
/* Deterministic RNG shared with cl/common.cl (clcnn_uniform). */
uint32_t clcnn_hash32(uint32_t x);
float clcnn_uniform(uint32_t seed, uint32_t i);
/* Test-data RNG (splitmix64): uniform double in [lo, hi). */
double clcnn_test_uniform(uint64_t *state, double lo, double hi);

#endif
