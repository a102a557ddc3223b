/*
 * Receptive fields for clcnn probe: where each node's output positions sit on the image input
 * (jump, first input position and size per axis), taken from the graph's cost table
 * (clcnn_graph_node_cost: every op declares its window, src/graph/cost.c composes them), so that
 * `clcnn graph` and the probe can never disagree about a model's geometry.
 */
#include <stdlib.h>
#include <string.h>

#include "probe.h"

static int fits_int(long long v)
{
	return v >= -(1LL << 30) && v <= (1LL << 30);
}

/* The geometry of one node from its cost; known 0 when it is not a 4-D map with a modelled field. */
static struct probe_geom node_geom(const struct clcnn_node_cost *c)
{
	struct probe_geom g = {0};
	if (c->ndim != 4 || !c->rf_known)
		return g;
	if (c->rf_whole[0] && c->rf_whole[1]) { /* a global pool: its 1x1 output sees everything */
		g.known = g.global = 1;
		return g;
	}
	for (int ax = 0; ax < 2; ax++) {
		if (c->rf_whole[ax] || !fits_int(c->rf_size[ax]) || !fits_int(c->rf_jump[ax]) ||
		    !fits_int(c->rf_start[ax]))
			return (struct probe_geom){0}; /* mixes positions along one axis only: not a shift map */
		g.jump[ax] = (int)c->rf_jump[ax];
		g.start[ax] = (int)c->rf_start[ax];
		g.size[ax] = (int)c->rf_size[ax];
	}
	g.known = 1;
	return g;
}

void probe_geometry(const struct clcnn_graph *g, const char *input, struct probe_geom *out)
{
	(void)input; /* the cost table measures fields on the graph's 4-D inputs: the image */
	int n = clcnn_graph_node_count(g);
	for (int i = 0; i < n; i++) {
		struct clcnn_node_cost c;
		out[i] = clcnn_graph_node_cost(g, i, &c) ? (struct probe_geom){0} : node_geom(&c);
	}
}
