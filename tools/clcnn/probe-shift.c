/*
 * clcnn probe shift: (a) classification consistency under shifts, the metric of Zhang 2019 ("Making
 * Convolutional Networks Shift-Invariant Again"): the probability that two random shifts of an image
 * get the same top-1 class; (b) the equivariance error of every feature map, node(shift(x)) against
 * shift(node(x)), with the shift at the node = the input shift / the node's jump (probe.h says how
 * positions are compared). Every forward pass runs a batch in eval mode; node outputs of the unshifted
 * batch are kept on the host and compared with those of each shifted batch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset.h"
#include "probe.h"

void probe_shift_image(const float *src, float *dst, int c, int h, int w, int dy, int dx, enum probe_shift_mode mode)
{
	for (int ch = 0; ch < c; ch++) {
		const float *s = src + (size_t)ch * (size_t)h * (size_t)w;
		float *o = dst + (size_t)ch * (size_t)h * (size_t)w;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				int sy = y - dy, sx = x - dx;
				if (mode == PROBE_SHIFT_CIRCULAR) {
					sy = ((sy % h) + h) % h;
					sx = ((sx % w) + w) % w;
				} else if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
					o[y * w + x] = 0;
					continue;
				}
				o[y * w + x] = s[sy * w + sx];
			}
	}
}

/*
 * How one axis of a node is compared for an input shift d: b at position p reads the unshifted
 * output at q0[p] (weight w0[p]) and q1[p] (weight 1 - w0[p]); valid[p] says whether p is compared.
 */
struct axis_plan {
	int n;
	int *q0, *q1, *valid;
	float *w0;
};

/* Input positions [lo, hi) seen by output position p lie within [a, b). */
static int rf_within(const struct probe_geom *g, int ax, int p, int a, int b)
{
	long lo = (long)p * g->jump[ax] + g->start[ax], hi = lo + g->size[ax];
	return lo >= a && hi <= b;
}

static void plan_axis(struct axis_plan *pl, const struct probe_geom *g, int ax, int n, int in, int d, int wrap)
{
	pl->n = n;
	/* a global pool's output stays where it is; elsewhere the shift at the node is d / jump */
	double t = g->global ? 0 : (double)d / g->jump[ax];
	int m = (int)floor(t);
	float f = (float)(t - m);
	for (int p = 0; p < n; p++) {
		int q0 = p - m, q1 = p - m - 1;
		pl->w0[p] = 1 - f;
		if (wrap) {
			pl->q0[p] = ((q0 % n) + n) % n;
			pl->q1[p] = ((q1 % n) + n) % n;
			pl->valid[p] = 1;
			continue;
		}
		pl->q0[p] = q0;
		pl->q1[p] = q1;
		/* in the shifted image, content lies in [max(0, d), min(in, in + d)); in the original, [0, in) */
		int lo = d > 0 ? d : 0, hi = d < 0 ? in + d : in;
		int ok = !g->global && rf_within(g, ax, p, lo, hi) && q0 >= 0 && q0 < n && rf_within(g, ax, q0, 0, in);
		if (ok && f > 0)
			ok = q1 >= 0 && q1 < n && rf_within(g, ax, q1, 0, in);
		pl->valid[p] = ok;
	}
}

/* One measurement of one node: its input shift, where it is compared, the sums. */
struct eq_acc {
	int dy, dx;
	struct axis_plan ax[2];
	double d2, b2;
};

struct node_state {
	size_t per;  /* c * h * w */
	float *base; /* the unshifted batch's output */
	struct eq_acc acc[PROBE_EQ_KINDS];
};

static int plan_alloc(struct axis_plan *pl, int n)
{
	pl->q0 = malloc((size_t)n * sizeof(int));
	pl->q1 = malloc((size_t)n * sizeof(int));
	pl->valid = malloc((size_t)n * sizeof(int));
	pl->w0 = malloc((size_t)n * sizeof(float));
	return pl->q0 && pl->q1 && pl->valid && pl->w0 ? 0 : -1;
}

static void plan_free(struct axis_plan *pl)
{
	free(pl->q0);
	free(pl->q1);
	free(pl->valid);
	free(pl->w0);
}

/* Add count samples of node output a (shifted input) against the node's unshifted output. */
static void compare(const struct probe_node_eq *ne, struct node_state *ns, struct eq_acc *e, const float *a, int count)
{
	int h = ne->h, w = ne->w;
	const struct axis_plan *py = &e->ax[0], *px = &e->ax[1];
	for (int i = 0; i < count; i++)
		for (int ch = 0; ch < ne->c; ch++) {
			size_t off = (size_t)i * ns->per + (size_t)ch * (size_t)h * (size_t)w;
			const float *pa = a + off, *pb = ns->base + off;
			for (int y = 0; y < h; y++) {
				if (!py->valid[y])
					continue;
				for (int x = 0; x < w; x++) {
					if (!px->valid[x])
						continue;
					float wy = py->w0[y], wx = px->w0[x];
					double b = (double)wy * wx * pb[py->q0[y] * w + px->q0[x]];
					if (wy < 1)
						b += (double)(1 - wy) * wx * pb[py->q1[y] * w + px->q0[x]];
					if (wx < 1)
						b += (double)wy * (1 - wx) * pb[py->q0[y] * w + px->q1[x]];
					if (wy < 1 && wx < 1)
						b += (double)(1 - wy) * (1 - wx) * pb[py->q1[y] * w + px->q1[x]];
					double diff = pa[y * w + x] - b;
					e->d2 += diff * diff;
					e->b2 += b * b;
				}
			}
		}
}

void probe_shift_result_free(struct probe_shift_result *r)
{
	free(r->nodes);
	memset(r, 0, sizeof *r);
}

/* The 4-D nodes with their geometry and the plans of their two measurements; NULL when out of memory. */
static struct node_state *nodes_setup(const struct probe_net *net, const struct probe_shift_options *o,
				      struct probe_shift_result *r)
{
	int nn = clcnn_graph_node_count(net->g);
	struct probe_geom *geom = calloc((size_t)(nn ? nn : 1), sizeof *geom);
	r->nodes = calloc((size_t)(nn ? nn : 1), sizeof *r->nodes);
	struct node_state *st = calloc((size_t)(nn ? nn : 1), sizeof *st);
	if (!geom || !r->nodes || !st) {
		free(geom);
		free(st);
		return NULL;
	}
	probe_geometry(net->g, net->input, geom);
	int K = o->max_shift, fail = 0;
	for (int i = 0; i < nn; i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_node_info(net->g, i, &name, &op, &nd, dims);
		if (nd != 4)
			continue;
		struct probe_node_eq *ne = &r->nodes[r->nnodes];
		struct node_state *ns = &st[r->nnodes++];
		*ne = (struct probe_node_eq){.name = name,
					     .op = op,
					     .c = dims[1],
					     .h = dims[2],
					     .w = dims[3],
					     .geom = geom[i]};
		ns->per = (size_t)dims[1] * (size_t)dims[2] * (size_t)dims[3];
		const struct probe_geom *g = &ne->geom;
		int in[2] = {net->h, net->w}, n[2] = {ne->h, ne->w};
		ne->wrap = g->known && o->mode == PROBE_SHIFT_CIRCULAR &&
			   (g->global || (n[0] * g->jump[0] == in[0] && n[1] * g->jump[1] == in[1]));
		for (int k = 0; k < PROBE_EQ_KINDS; k++) {
			ne->error[k] = NAN;
			for (int ax = 0; ax < 2; ax++) {
				int j = g->global || !g->known ? 1 : g->jump[ax];
				ne->shift[k][ax] = k == PROBE_EQ_PIXEL ? 1
						   : g->global         ? K
								       : j * (K / j > 1 ? K / j : 1);
			}
			if (!g->known)
				continue;
			struct eq_acc *e = &ns->acc[k];
			e->dy = ne->shift[k][0];
			e->dx = ne->shift[k][1];
			long valid[2] = {0, 0};
			for (int ax = 0; ax < 2 && !fail; ax++) {
				if (plan_alloc(&e->ax[ax], n[ax])) {
					fail = 1;
					break;
				}
				plan_axis(&e->ax[ax], g, ax, n[ax], in[ax], ne->shift[k][ax], ne->wrap);
				for (int p = 0; p < n[ax]; p++)
					valid[ax] += e->ax[ax].valid[p];
			}
			ne->compared[k] = valid[0] * valid[1];
		}
	}
	free(geom);
	if (fail) {
		for (int j = 0; j < r->nnodes; j++)
			for (int k = 0; k < PROBE_EQ_KINDS; k++)
				for (int ax = 0; ax < 2; ax++)
					plan_free(&st[j].acc[k].ax[ax]);
		free(st);
		return NULL;
	}
	return st;
}

/* The distinct input shifts the nodes need (out holds 2 per node); returns how many. */
static int distinct_shifts(const struct probe_shift_result *r, const struct node_state *st, int (*out)[2])
{
	int n = 0;
	for (int j = 0; j < r->nnodes; j++)
		for (int k = 0; k < PROBE_EQ_KINDS; k++) {
			if (!r->nodes[j].compared[k])
				continue;
			int s = 0;
			while (s < n && (out[s][0] != st[j].acc[k].dy || out[s][1] != st[j].acc[k].dx))
				s++;
			if (s == n) {
				out[n][0] = st[j].acc[k].dy;
				out[n++][1] = st[j].acc[k].dx;
			}
		}
	return n;
}

int probe_shift(const struct probe_net *net, const struct probe_data *d, const struct probe_shift_options *o,
		struct probe_shift_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (o->max_shift < 1 || d->n < 1 || net->classes < 1) {
		snprintf(err, errlen, "probe_shift: max shift %d (>= 1), %d images, %d classes", o->max_shift, d->n,
			 net->classes);
		return CLCNN_ERR_INVALID;
	}
	int B = net->batch, K = o->max_shift, rc = 0;
	size_t per = (size_t)net->c * (size_t)net->h * (size_t)net->w;
	struct node_state *st = nodes_setup(net, o, r);
	size_t most = 1;
	for (int j = 0; st && j < r->nnodes; j++) {
		if (st[j].per > most)
			most = st[j].per;
		if (r->nodes[j].compared[0] || r->nodes[j].compared[1]) {
			st[j].base = malloc((size_t)B * st[j].per * sizeof(float));
			if (!st[j].base)
				rc = CLCNN_ERR_NO_MEMORY;
		}
	}
	int nshift = 0, (*shifts)[2] = malloc(((size_t)r->nnodes * PROBE_EQ_KINDS + 1) * sizeof *shifts);
	if (st && shifts)
		nshift = distinct_shifts(r, st, shifts);
	float *x = malloc((size_t)B * per * sizeof *x),
	      *logits = malloc((size_t)B * (size_t)net->classes * sizeof *logits);
	float *cur = malloc((size_t)B * most * sizeof *cur);
	int *top = malloc((size_t)B * sizeof *top), *top2 = malloc((size_t)B * sizeof *top2);
	long correct0 = 0, correct_shifted = 0, same = 0;
	if (!st || !shifts || rc || !x || !logits || !cur || !top || !top2) {
		snprintf(err, errlen, "out of host memory for the node outputs of a batch of %d images", B);
		rc = CLCNN_ERR_NO_MEMORY;
	}
	if (!rc && (rc = clcnn_graph_keep(net->g, NULL))) /* every node's output is read: the plan keeps all */
		snprintf(err, errlen, "%s", clcnn_context_error(net->ctx));
	for (int first = 0; !rc && first < d->n; first += B) {
		int count = d->n - first < B ? d->n - first : B;
		const float *src = d->images + (size_t)first * per, *lab = d->labels + first;
		/* the unshifted batch: accuracy, and every node's output kept */
		memcpy(x, src, (size_t)count * per * sizeof *x);
		if ((rc = probe_classify(net, x, lab, count, logits, top, err, errlen)))
			break;
		for (int i = 0; i < count; i++)
			correct0 += top[i] == (int)lab[i];
		for (int j = 0; !rc && j < r->nnodes; j++)
			if (st[j].base && (rc = clcnn_graph_read(net->g, r->nodes[j].name, st[j].base)))
				snprintf(err, errlen, "%s", clcnn_context_error(net->ctx));
		/* (a) two random shifts per image */
		for (int pass = 0; !rc && pass < 2; pass++) {
			for (int i = 0; i < count; i++) {
				uint64_t rng = probe_rng(o->seed, first + i, 0);
				int off[4];
				for (int k = 0; k < 4; k++)
					off[k] = (int)(clcnn_rng_next(&rng) % (uint64_t)(2 * K + 1)) - K;
				probe_shift_image(src + (size_t)i * per, x + (size_t)i * per, net->c, net->h, net->w,
						  off[2 * pass], off[2 * pass + 1], o->mode);
			}
			if ((rc = probe_classify(net, x, lab, count, logits, pass ? top2 : top, err, errlen)))
				break;
		}
		for (int i = 0; !rc && i < count; i++) {
			correct_shifted += (top[i] == (int)lab[i]) + (top2[i] == (int)lab[i]);
			same += top[i] == top2[i];
		}
		/* (b) every input shift the nodes need, once */
		for (int s = 0; !rc && s < nshift; s++) {
			for (int i = 0; i < count; i++)
				probe_shift_image(src + (size_t)i * per, x + (size_t)i * per, net->c, net->h, net->w,
						  shifts[s][0], shifts[s][1], o->mode);
			if ((rc = probe_classify(net, x, lab, count, logits, NULL, err, errlen)))
				break;
			for (int j = 0; !rc && j < r->nnodes; j++) {
				int read = 0;
				for (int k = 0; !rc && k < PROBE_EQ_KINDS; k++) {
					struct eq_acc *e = &st[j].acc[k];
					if (!r->nodes[j].compared[k] || e->dy != shifts[s][0] || e->dx != shifts[s][1])
						continue;
					if (!read && (rc = clcnn_graph_read(net->g, r->nodes[j].name, cur))) {
						snprintf(err, errlen, "%s", clcnn_context_error(net->ctx));
						break;
					}
					read = 1;
					compare(&r->nodes[j], &st[j], e, cur, count);
				}
			}
		}
	}
	if (!rc) {
		r->n = d->n;
		r->accuracy = (double)correct0 / d->n;
		r->shifted_accuracy = (double)correct_shifted / (2.0 * d->n);
		r->consistency = (double)same / d->n;
		for (int j = 0; j < r->nnodes; j++)
			for (int k = 0; k < PROBE_EQ_KINDS; k++) {
				const struct eq_acc *e = &st[j].acc[k];
				if (r->nodes[j].compared[k])
					r->nodes[j].error[k] = e->b2 > 0   ? sqrt(e->d2 / e->b2)
							       : e->d2 > 0 ? INFINITY
									   : 0;
			}
	}
	for (int j = 0; st && j < r->nnodes; j++) {
		free(st[j].base);
		for (int k = 0; k < PROBE_EQ_KINDS; k++)
			for (int ax = 0; ax < 2; ax++)
				plan_free(&st[j].acc[k].ax[ax]);
	}
	free(st);
	free(shifts);
	free(x);
	free(logits);
	free(cur);
	free(top);
	free(top2);
	if (rc)
		probe_shift_result_free(r);
	return rc;
}
