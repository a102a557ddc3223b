/*
 * clcnn probe's measurements, apart from the command line so that tests can run them on models whose
 * answers are known: how a trained classifier's top-1 class and its feature maps follow shifts of
 * the input (probe-shift.c), and how its top-1 class survives small deformations (probe-deform.c).
 * Nothing here prints: errors are returned with their message in err.
 */
#ifndef CLCNN_CLI_PROBE_H
#define CLCNN_CLI_PROBE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clcnn/graph.h"

/* The model under test: built for batch samples, weights in place, run in eval mode. */
struct probe_net {
	struct clcnn_context *ctx; /* the graph's: its error messages */
	struct clcnn_graph *g;
	const char *input;                  /* the image input (c x h x w per sample) */
	const char *label;                  /* the class-index input (fed the labels), or NULL */
	int c, h, w, batch;                 /* per-sample input shape */
	int classes;                        /* the output node is batch x classes: top-1 = argmax */
	const struct clcnn_normalize *norm; /* applied after the shift or deformation; NULL: none */
};

/* n images of c x h x w before normalisation (pixels in [0, 1]) and their class indices. */
struct probe_data {
	int n;
	const float *images, *labels;
};

/*
 * Where a node's output sits on the input, per axis (0: rows, 1: columns): output position p sees
 * input positions [p * jump + start, p * jump + start + size) (padding included: start may be < 0).
 * known 0: an op whose geometry is not modelled (nothing measured there); global 1: a global pool,
 * whose 1x1 output sees the whole input whatever the shift.
 */
struct probe_geom {
	int known, global;
	int jump[2], start[2], size[2];
};

/*
 * The geometry of every node, in schedule order (the order of clcnn_graph_node_info), on the input
 * named input, into out (clcnn_graph_node_count entries). Nodes not fed by that input, with an output
 * of another rank than 4, or after an op that mixes positions in a way not modelled get known 0.
 * g must be built.
 */
void probe_geometry(const struct clcnn_graph *g, const char *input, struct probe_geom *out);

/* ------------------------------------------------------------------ shifts */

enum probe_shift_mode {
	PROBE_SHIFT_ZERO,     /* what leaves the frame is lost, what enters is 0 (black before normalising) */
	PROBE_SHIFT_CIRCULAR, /* what leaves one side enters the other: nothing lost */
};

/* dst = src shifted by (dy, dx) pixels: dst[y][x] = src[y - dy][x - dx], per channel. */
void probe_shift_image(const float *src, float *dst, int c, int h, int w, int dy, int dx, enum probe_shift_mode mode);

struct probe_shift_options {
	int max_shift; /* offsets of the consistency test: uniform in [-max_shift, max_shift]^2 */
	enum probe_shift_mode mode;
	uint64_t seed;
};

/*
 * Equivariance of one 4-D node: a = node(shift_d(x)) against b = shift_{d/jump}(node(x)), as
 * ||a - b|| / ||b|| over the samples and the compared positions. Two input shifts d (dy = dx):
 * PROBE_EQ_PIXEL, one pixel (a fraction of a position where the jump is > 1: b is then linearly
 * interpolated between the two neighbouring positions on each axis, which a smooth map follows and
 * an aliased one does not), and PROBE_EQ_JUMP, the largest multiple of the jump up to max_shift (the
 * jump itself when it is larger), where b is exact. Compared positions: with circular shifts and a
 * map that tiles the input (h_node * jump = h), all of them, wrapping around; otherwise those whose
 * receptive field, and that of the positions b reads, lies wholly on image content in both images
 * (no padding, no zero fill, no wrap seam). A global pool's output is compared unshifted.
 */
enum {
	PROBE_EQ_PIXEL,
	PROBE_EQ_JUMP,
	PROBE_EQ_KINDS
};

struct probe_node_eq {
	const char *name, *op; /* owned by the graph */
	int c, h, w;
	struct probe_geom geom;
	int wrap;                      /* all positions compared, wrapping around */
	int shift[PROBE_EQ_KINDS][2];  /* input shift (dy, dx) in pixels */
	long compared[PROBE_EQ_KINDS]; /* positions compared per sample and channel (0: none, error NAN) */
	double error[PROBE_EQ_KINDS];  /* relative error; NAN when nothing could be compared */
};

struct probe_shift_result {
	int n;
	double accuracy;         /* unshifted images */
	double shifted_accuracy; /* over both random shifts of every image */
	double consistency;      /* P(top-1 of two random shifts agree), Zhang 2019 */
	int nnodes;              /* 4-D nodes, in schedule order */
	struct probe_node_eq *nodes;
};

/*
 * Measure d->n images in batches of net->batch. The random shifts of image i depend only on (seed, i).
 * Returns 0 or a status with the message in err (graph errors, out of memory).
 */
int probe_shift(const struct probe_net *net, const struct probe_data *d, const struct probe_shift_options *o,
		struct probe_shift_result *r, char *err, size_t errlen);
void probe_shift_result_free(struct probe_shift_result *r);

/* ------------------------------------------------------------------ deformations */

enum probe_deform_kind {
	PROBE_ELASTIC, /* clcnn_augment.elastic: smooth random displacement of up to the strength in pixels */
	PROBE_ROTATE,  /* clcnn_augment.rotate: uniform angle in [-strength, strength] degrees */
	PROBE_SCALE,   /* clcnn_augment.scale: uniform zoom in [1 - strength, 1 + strength] */
	PROBE_DEFORM_KINDS
};
#define PROBE_MAX_LEVELS 20

/* The name of a kind ("elastic", "rotate", "scale") and the unit of its strength ("px", "deg", ""). */
const char *probe_deform_name(enum probe_deform_kind k);
const char *probe_deform_unit(enum probe_deform_kind k);

struct probe_deform_options {
	int levels;                     /* 1..PROBE_MAX_LEVELS strengths per kind: max * l / levels */
	double max[PROBE_DEFORM_KINDS]; /* strongest of each kind */
	uint64_t seed;
};

struct probe_deform_result {
	int n, levels;
	double accuracy; /* undeformed */
	double strength[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS];
	double acc[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS];
	double consistency[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS]; /* same top-1 as the undeformed image */
};

/*
 * Deform every image at every strength with the training augmentation's transforms
 * (clcnn_augment_sample: one inverse-mapped bilinear resampling, zero outside) and classify it.
 * The deformation of image i at (kind, level) depends only on (seed, i, kind, level).
 */
int probe_deform(const struct probe_net *net, const struct probe_data *d, const struct probe_deform_options *o,
		 struct probe_deform_result *r, char *err, size_t errlen);

/* The top-1 class of count rows of classes logits into top. */
void probe_top1(const float *logits, int count, int classes, int *top);
/*
 * Feed count images (c x h x w each, normalised in place when net->norm is set) and labels (NULL:
 * zeros), padding a short batch with the first image, and run forward in eval mode; the top-1
 * classes of the count images into top. 0 or a status with the message in err.
 */
int probe_classify(const struct probe_net *net, float *images, const float *labels, int count, float *logits, int *top,
		   char *err, size_t errlen);
/* An RNG state for (seed, sample, tag): the same whatever the batch. */
uint64_t probe_rng(uint64_t seed, int sample, int tag);

/* ------------------------------------------------------------------ reports (probe-report.c) */

/* What was measured, for the headings: "<n> <split> images of <data>, ..., seed <seed>". */
struct probe_about {
	const char *split, *data;
	int seed;
};
/* The tables as clcnn probe prints them. */
void probe_print_shift(FILE *f, const struct probe_about *a, const struct probe_shift_options *o,
		       const struct probe_shift_result *r);
void probe_print_deform(FILE *f, const struct probe_about *a, const struct probe_deform_result *r);
/* The results as JSON into path; 0 or CLCNN_ERR_IO with the message in err. */
int probe_json_shift(const char *path, const struct probe_about *a, const struct probe_shift_options *o,
		     const struct probe_shift_result *r, char *err, size_t errlen);
int probe_json_deform(const char *path, const struct probe_about *a, const struct probe_deform_result *r, char *err,
		      size_t errlen);
/* Accuracy above consistency against the level (0: undeformed), one curve per kind, as a PNG. */
int probe_plot_deform(const char *path, const char *model, const struct probe_deform_result *r, char *err,
		      size_t errlen);
#endif
