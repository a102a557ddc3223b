/*
 * Parameters of a graph: one device buffer per state-dict entry "<node>.<spec>", created at the
 * first build in node declaration order (the order a netfile lists them, as a torch.nn model
 * registers its modules) and kept across rebuilds with other batch sizes.
 *
 * Initialisation is deterministic on every machine: each parameter draws from its own splitmix64
 * stream seeded by (seed, parameter name), in double precision, rounded once to float. Adding a
 * node therefore leaves the initial values of the others unchanged.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph-private.h"

uint64_t graph_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 bits */
static double rng_unit(uint64_t *s)
{
	return (double)(graph_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_normal(uint64_t *s)
{
	double u1 = 1.0 - rng_unit(s); /* (0, 1]: log stays finite */
	double u2 = rng_unit(s);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint32_t graph_node_seed(uint32_t step_seed, int node)
{
	return clcnn_hash32(step_seed ^ clcnn_hash32(0x5bd1e995u + (uint32_t)node));
}

void graph_params_release(struct clcnn_graph *g)
{
	for (int i = 0; i < g->nparams; i++) {
		free(g->params[i].name);
		clcnn_buffer_free(g->params[i].mem);
		clcnn_buffer_free(g->params[i].grad);
	}
	free(g->params);
	g->params = NULL;
	g->nparams = 0;
	g->params_created = 0;
}

void graph_pending_release(struct clcnn_graph *g)
{
	for (int i = 0; i < g->npending; i++) {
		free(g->pending[i].name);
		free(g->pending[i].data);
	}
	free(g->pending);
	g->pending = NULL;
	g->npending = 0;
}

int graph_set_pending_param(struct clcnn_graph *g, const char *name, const float *data, size_t count)
{
	struct graph_pending *p = realloc(g->pending, (size_t)(g->npending + 1) * sizeof *p);
	if (!p)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	g->pending = p;
	p = &g->pending[g->npending];
	p->name = clcnn_strdup(name);
	p->data = malloc((count ? count : 1) * sizeof *p->data);
	p->count = count;
	if (!p->name || !p->data) {
		free(p->name);
		free(p->data);
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	memcpy(p->data, data, count * sizeof *p->data);
	g->npending++;
	return 0;
}

/* The values given before the build (graph_set_pending_param), once: later builds keep the parameters. */
static int apply_pending(struct clcnn_graph *g)
{
	int rc = 0;
	for (int i = 0; i < g->npending && !rc; i++) {
		int k = clcnn_graph_param_find(g, g->pending[i].name);
		if (k < 0)
			rc = clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "the model's parameter '%s' belongs to no layer",
					g->pending[i].name);
		else if (g->params[k].count != g->pending[i].count)
			rc = clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
					"parameter '%s': the model gives %zu values, the layer has %zu",
					g->pending[i].name, g->pending[i].count, g->params[k].count);
		else
			rc = clcnn_buffer_write(g->ctx, g->params[k].mem, 0, g->params[k].count * sizeof(float),
						g->pending[i].data);
	}
	if (!rc)
		graph_pending_release(g);
	return rc;
}

/*
 * A weight has a gradient buffer unless the graph is built forward-only (clcnn_graph_set_forward_only):
 * made (zeroed: a node that never runs backward must still show a defined gradient) or released to
 * match, so that switching modes between builds keeps the parameters and fixes only this.
 */
static int param_grad_sync(struct clcnn_graph *g, struct graph_param *p)
{
	size_t bytes = p->count * sizeof(float);
	int want = p->spec.kind == CLCNN_PARAM_WEIGHT && !g->forward_only;
	if (!want && p->grad) {
		clcnn_buffer_free(p->grad);
		p->grad = NULL;
		g->param_total -= bytes;
	}
	if (!want || p->grad)
		return 0;
	int rc = clcnn_buffer_new(g->ctx, bytes, &p->grad);
	if (!rc)
		rc = clcnn_buffer_fill(g->ctx, p->grad, 0.0f, p->count);
	if (!rc)
		g->param_total += bytes;
	return rc;
}

int graph_params_create(struct clcnn_graph *g)
{
	struct clcnn_context *ctx = g->ctx;
	int total = 0;
	for (int i = 0; i < g->nnodes; i++) {
		/* a node sharing an earlier node's parameters (share=) uses the owner's entries */
		g->nodes[i].param0 = g->nodes[i].share >= 0 ? g->nodes[g->nodes[i].share].param0 : total;
		total += g->nodes[i].share >= 0 ? 0 : g->nodes[i].op->nparam;
	}
	if (g->params_created) {
		/* a rebuild: parameter shapes never depend on the batch, but make sure */
		int k = 0;
		for (int i = 0; i < g->nnodes; i++)
			for (int j = 0; g->nodes[i].share < 0 && j < g->nodes[i].op->nparam; j++, k++) {
				const struct clcnn_param_spec *s = &g->nodes[i].op->param[j];
				if (k >= g->nparams || !clcnn_shape_equal(&s->shape, &g->params[k].spec.shape))
					return clcnn_fail(ctx, CLCNN_ERR_INVALID,
							  "node '%s': parameter %s changed shape on rebuild",
							  g->nodes[i].name, s->name);
			}
		int rc = 0;
		for (k = 0; k < g->nparams && !rc; k++)
			rc = param_grad_sync(g, &g->params[k]);
		return rc;
	}
	graph_params_release(g); /* what a failed earlier build left half made */
	g->params = calloc(total ? (size_t)total : 1, sizeof *g->params);
	if (!g->params)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	g->nparams = total;
	g->param_total = 0;
	int k = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const struct clcnn_op *op = g->nodes[i].op;
		for (int j = 0; g->nodes[i].share < 0 && j < op->nparam; j++, k++) {
			struct graph_param *p = &g->params[k];
			p->node = i;
			p->spec = op->param[j];
			p->count = clcnn_shape_count(&p->spec.shape);
			size_t len = strlen(g->nodes[i].name) + strlen(p->spec.name) + 2;
			p->name = malloc(len);
			if (!p->name)
				return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
			snprintf(p->name, len, "%s.%s", g->nodes[i].name, p->spec.name);
			int rc = clcnn_buffer_new(ctx, p->count * sizeof(float), &p->mem);
			if (!rc)
				g->param_total += p->count * sizeof(float);
			if (!rc)
				rc = param_grad_sync(g, p);
			if (rc) {
				/* say which parameter, in front of the device's message (which has the size) */
				char *msg = clcnn_strdup(clcnn_context_error(ctx));
				rc = clcnn_fail(ctx, rc, "parameter '%s': %s", p->name, msg ? msg : "");
				free(msg);
				return rc;
			}
		}
	}
	g->params_created = 1;
	int rc = graph_params_init(g, g->init_seed, g->init_scheme);
	return rc ? rc : apply_pending(g);
}

static int scheme_index(const char *scheme)
{
	static const char *const names[] = {"default", "kaiming_uniform", "kaiming_normal", "xavier_uniform",
					    "xavier_normal"};
	for (int i = 0; i < (int)CLCNN_ARRAY_LEN(names); i++)
		if (!strcmp(scheme, names[i]))
			return i;
	return -1;
}

static void init_values(const struct graph_param *p, int scheme, uint64_t seed, float *x)
{
	uint64_t s = clcnn_hash_str(seed ^ 0x243F6A8885A308D3ULL, p->name);
	const struct clcnn_param_spec *sp = &p->spec;
	double fan_in = sp->fan_in > 0 ? sp->fan_in : 1, fan_out = sp->fan_out > 0 ? sp->fan_out : 1;
	double bound = 0, std = 0;
	int normal = 0;
	switch (sp->init) {
	case CLCNN_INIT_ZEROS:
	case CLCNN_INIT_ONES:
	case CLCNN_INIT_CONST: {
		float v = sp->init == CLCNN_INIT_ZEROS  ? 0.0f
			  : sp->init == CLCNN_INIT_ONES ? 1.0f
							: (float)sp->init_value;
		for (size_t i = 0; i < p->count; i++)
			x[i] = v;
		return;
	}
	case CLCNN_INIT_DEFAULT_WEIGHT:
		switch (scheme) {
		case 1: bound = sqrt(6.0 / fan_in); break; /* gain sqrt(2), a = 0 */
		case 2: std = sqrt(2.0 / fan_in), normal = 1; break;
		case 3: bound = sqrt(6.0 / (fan_in + fan_out)); break;
		case 4: std = sqrt(2.0 / (fan_in + fan_out)), normal = 1; break;
		default: bound = 1.0 / sqrt(fan_in); break; /* kaiming_uniform(a = sqrt 5) */
		}
		break;
	case CLCNN_INIT_DEFAULT_BIAS: bound = sp->fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0; break;
	}
	for (size_t i = 0; i < p->count; i++)
		x[i] = normal ? (float)(std * rng_normal(&s)) : (float)(bound * (2.0 * rng_unit(&s) - 1.0));
}

int graph_params_init(struct clcnn_graph *g, uint64_t seed, const char *scheme)
{
	int si = scheme_index(scheme ? scheme : "default");
	if (si < 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "unknown init scheme '%s'; known: default, kaiming_uniform, kaiming_normal, "
				  "xavier_uniform, xavier_normal",
				  scheme);
	g->init_seed = seed;
	snprintf(g->init_scheme, sizeof g->init_scheme, "%s", scheme ? scheme : "default");
	if (!g->params_created)
		return 0; /* applied at the first build */
	size_t max = 1;
	for (int i = 0; i < g->nparams; i++)
		max = g->params[i].count > max ? g->params[i].count : max;
	float *x = malloc(max * sizeof *x);
	if (!x)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory (%zu floats)", max);
	int rc = 0;
	for (int i = 0; i < g->nparams && !rc; i++) {
		init_values(&g->params[i], si, seed, x);
		rc = clcnn_buffer_write(g->ctx, g->params[i].mem, 0, g->params[i].count * sizeof(float), x);
	}
	free(x);
	return rc;
}

int clcnn_graph_init_params(struct clcnn_graph *g, uint64_t seed, const char *scheme)
{
	return graph_params_init(g, seed, scheme);
}

int clcnn_graph_param_count(const struct clcnn_graph *g)
{
	return g->nparams;
}

static int check_index(const struct clcnn_graph *g, int i)
{
	if (!g->params_created)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "parameters exist after clcnn_graph_build");
	if (i < 0 || i >= g->nparams)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "parameter index %d out of range (0..%d)", i,
				  g->nparams - 1);
	return 0;
}

int clcnn_graph_param_info(const struct clcnn_graph *g, int i, struct clcnn_param_info *info)
{
	int rc = check_index(g, i);
	if (rc)
		return rc;
	const struct graph_param *p = &g->params[i];
	memset(info, 0, sizeof *info);
	info->name = p->name;
	info->ndim = p->spec.shape.ndim;
	for (int d = 0; d < p->spec.shape.ndim && d < CLCNN_MAX_DIMS; d++)
		info->dims[d] = p->spec.shape.d[d];
	info->count = p->count;
	info->trainable = p->spec.kind == CLCNN_PARAM_WEIGHT;
	info->int64 = p->spec.int64;
	return 0;
}

int clcnn_graph_param_find(const struct clcnn_graph *g, const char *name)
{
	for (int i = 0; i < g->nparams; i++)
		if (!strcmp(g->params[i].name, name))
			return i;
	return -1;
}

int clcnn_graph_param_read(struct clcnn_graph *g, int i, float *dst)
{
	int rc = check_index(g, i);
	return rc ? rc : clcnn_buffer_read(g->ctx, g->params[i].mem, 0, g->params[i].count * sizeof(float), dst);
}

int clcnn_graph_param_write(struct clcnn_graph *g, int i, const float *src)
{
	int rc = check_index(g, i);
	return rc ? rc : clcnn_buffer_write(g->ctx, g->params[i].mem, 0, g->params[i].count * sizeof(float), src);
}

int clcnn_graph_grad_read(struct clcnn_graph *g, int i, float *dst)
{
	int rc = check_index(g, i);
	if (rc)
		return rc;
	if (!g->params[i].grad && g->forward_only && g->params[i].spec.kind == CLCNN_PARAM_WEIGHT)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "parameter '%s' has no gradient: the graph is built forward-only "
				  "(clcnn_graph_set_forward_only)",
				  g->params[i].name);
	if (!g->params[i].grad)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "parameter '%s' is a buffer: it has no gradient",
				  g->params[i].name);
	return clcnn_buffer_read(g->ctx, g->params[i].grad, 0, g->params[i].count * sizeof(float), dst);
}
