/*
 * What clcnn probe prints and writes: the tables, the JSON (numbers as printed with %.6g, NaN and
 * infinities as null) and the deformation picture (clcnn_plot_panels).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/io.h"
#include "probe.h"

/* Close f (when not NULL) and report a failure to open or write path: 0 or CLCNN_ERR_IO. */
static int cannot_write(const char *path, FILE *f, char *err, size_t errlen)
{
	int bad = !f;
	if (f) {
		bad = ferror(f);
		bad |= fclose(f) != 0;
	}
	if (!bad)
		return 0;
	snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
	return CLCNN_ERR_IO;
}

/* A JSON number (null for NaN and infinities). */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

int probe_json_shift(const char *path, const struct probe_about *a, const struct probe_shift_options *o,
		     const struct probe_shift_result *r, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return cannot_write(path, NULL, err, errlen);
	fprintf(f, "{\"samples\": %d, \"max_shift\": %d, \"mode\": \"%s\", \"seed\": %d, \"accuracy\": ", r->n,
		o->max_shift, o->mode == PROBE_SHIFT_CIRCULAR ? "circular" : "zero", a->seed);
	json_num(f, r->accuracy);
	fputs(", \"shifted_accuracy\": ", f);
	json_num(f, r->shifted_accuracy);
	fputs(", \"consistency\": ", f);
	json_num(f, r->consistency);
	fputs(",\n \"nodes\": [", f);
	for (int j = 0; j < r->nnodes; j++) {
		const struct probe_node_eq *e = &r->nodes[j];
		fprintf(f, "%s\n  {\"node\": \"%s\", \"op\": \"%s\", \"shape\": [%d, %d, %d], \"known\": %s",
			j ? "," : "", e->name, e->op, e->c, e->h, e->w, e->geom.known ? "true" : "false");
		if (e->geom.known && !e->geom.global)
			fprintf(f, ", \"jump\": [%d, %d], \"rf\": [%d, %d], \"rf_start\": [%d, %d]", e->geom.jump[0],
				e->geom.jump[1], e->geom.size[0], e->geom.size[1], e->geom.start[0], e->geom.start[1]);
		fprintf(f, ", \"global\": %s, \"wrap\": %s", e->geom.global ? "true" : "false",
			e->wrap ? "true" : "false");
		static const char *const kind[PROBE_EQ_KINDS] = {"pixel", "jump"};
		for (int k = 0; k < PROBE_EQ_KINDS; k++) {
			fprintf(f, ", \"%s\": {\"shift\": [%d, %d], \"positions\": %ld, \"error\": ", kind[k],
				e->shift[k][0], e->shift[k][1], e->compared[k]);
			json_num(f, e->error[k]);
			fputc('}', f);
		}
		fputc('}', f);
	}
	fputs("\n ]}\n", f);
	return cannot_write(path, f, err, errlen);
}

/* "0.0123", "n/a" (nothing compared) */
static const char *fmt_err(char *buf, size_t n, double v, long positions)
{
	if (!positions || v != v)
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%.4f", v);
	return buf;
}

void probe_print_shift(FILE *f, const struct probe_about *a, const struct probe_shift_options *o,
		       const struct probe_shift_result *r)
{
	fprintf(f, "%d %s images of %s, shifts up to %d px (%s), seed %d\n", r->n, a->split, a->data, o->max_shift,
		o->mode == PROBE_SHIFT_CIRCULAR ? "circular" : "zero fill", a->seed);
	fprintf(f, "accuracy %.4f unshifted, %.4f shifted\n", r->accuracy, r->shifted_accuracy);
	fprintf(f, "consistency %.4f (two random shifts of an image get the same class)\n\n", r->consistency);
	fprintf(f, "equivariance error per feature map, ||node(shift(x)) - shift(node(x))|| / ||shift(node(x))||:\n"
		   "input shift (d, d); at the node d / jump (interpolated when not whole); positions compared per\n"
		   "map (all = every position, wrapping around)\n");
	/* columns as wide as the longest node and op names */
	int wn = 4, wo = 2;
	for (int j = 0; j < r->nnodes; j++) {
		int ln = (int)strlen(r->nodes[j].name), lo = (int)strlen(r->nodes[j].op);
		wn = ln > wn ? ln : wn;
		wo = lo > wo ? lo : wo;
	}
	fprintf(f, "%-*s %-*s %-11s %5s %7s %9s %9s %6s %9s %9s\n", wn, "node", wo, "op", "output", "jump", "rf", "1px",
		"positions", "shift", "error", "positions");
	for (int j = 0; j < r->nnodes; j++) {
		const struct probe_node_eq *e = &r->nodes[j];
		const struct probe_geom *g = &e->geom;
		char shape[48], jump[24], rf[24], shift[16], e0[24], e1[24], p0[24], p1[24];
		snprintf(shape, sizeof shape, "%dx%dx%d", e->c, e->h, e->w);
		if (!g->known)
			snprintf(jump, sizeof jump, "?"), snprintf(rf, sizeof rf, "?");
		else if (g->global)
			snprintf(jump, sizeof jump, "-"), snprintf(rf, sizeof rf, "all");
		else if (g->jump[0] == g->jump[1] && g->size[0] == g->size[1])
			snprintf(jump, sizeof jump, "%d", g->jump[0]), snprintf(rf, sizeof rf, "%d", g->size[0]);
		else
			snprintf(jump, sizeof jump, "%dx%d", g->jump[0], g->jump[1]),
				snprintf(rf, sizeof rf, "%dx%d", g->size[0], g->size[1]);
		if (e->shift[1][0] == e->shift[1][1])
			snprintf(shift, sizeof shift, "%d", e->shift[1][0]);
		else
			snprintf(shift, sizeof shift, "%d,%d", e->shift[1][0], e->shift[1][1]);
		for (int k = 0; k < PROBE_EQ_KINDS; k++) {
			char *p = k ? p1 : p0;
			if (e->wrap)
				snprintf(p, 24, "all");
			else if (e->compared[k])
				snprintf(p, 24, "%ld", e->compared[k]);
			else
				snprintf(p, 24, "-");
		}
		fprintf(f, "%-*s %-*s %-11s %5s %7s %9s %9s %6s %9s %9s\n", wn, e->name, wo, e->op, shape, jump, rf,
			fmt_err(e0, sizeof e0, e->error[0], e->compared[0]), p0, shift,
			fmt_err(e1, sizeof e1, e->error[1], e->compared[1]), p1);
	}
}

int probe_json_deform(const char *path, const struct probe_about *a, const struct probe_deform_result *r, char *err,
		      size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return cannot_write(path, NULL, err, errlen);
	fprintf(f, "{\"samples\": %d, \"seed\": %d, \"accuracy\": ", r->n, a->seed);
	json_num(f, r->accuracy);
	fputs(",\n \"levels\": [", f);
	for (int k = 0, first = 1; k < PROBE_DEFORM_KINDS; k++)
		for (int l = 0; l < r->levels; l++, first = 0) {
			fprintf(f, "%s\n  {\"kind\": \"%s\", \"level\": %d, \"strength\": ", first ? "" : ",",
				probe_deform_name(k), l + 1);
			json_num(f, r->strength[k][l]);
			fputs(", \"accuracy\": ", f);
			json_num(f, r->acc[k][l]);
			fputs(", \"consistency\": ", f);
			json_num(f, r->consistency[k][l]);
			fputc('}', f);
		}
	fputs("\n ]}\n", f);
	return cannot_write(path, f, err, errlen);
}

/* Accuracy above consistency, one curve per kind against the level (0: undeformed). */
int probe_plot_deform(const char *path, const char *model, const struct probe_deform_result *r, char *err,
		      size_t errlen)
{
	double x[PROBE_MAX_LEVELS + 1], acc[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS + 1],
		cons[PROBE_DEFORM_KINDS][PROBE_MAX_LEVELS + 1];
	char label[PROBE_DEFORM_KINDS][64], title[512];
	struct clcnn_plot_series sa[PROBE_DEFORM_KINDS], sc[PROBE_DEFORM_KINDS];
	for (int k = 0; k < PROBE_DEFORM_KINDS; k++) {
		x[0] = 0;
		acc[k][0] = r->accuracy;
		cons[k][0] = 1;
		for (int l = 0; l < r->levels; l++) {
			x[l + 1] = l + 1;
			acc[k][l + 1] = r->acc[k][l];
			cons[k][l + 1] = r->consistency[k][l];
		}
		double top = r->strength[k][r->levels - 1];
		if (k == PROBE_SCALE)
			snprintf(label[k], sizeof label[k], "zoom, up to 1 +- %g", top);
		else
			snprintf(label[k], sizeof label[k], "%s, up to %g %s",
				 k == PROBE_ELASTIC ? "elastic" : "rotation", top, probe_deform_unit(k));
		sa[k] = (struct clcnn_plot_series){label[k], r->levels + 1, x, acc[k]};
		sc[k] = (struct clcnn_plot_series){label[k], r->levels + 1, x, cons[k]};
	}
	struct clcnn_plot_panel panels[2] = {{"accuracy", PROBE_DEFORM_KINDS, sa},
					     {"consistency", PROBE_DEFORM_KINDS, sc}};
	snprintf(title, sizeof title, "%s under deformations (%d images)", model, r->n);
	return clcnn_plot_panels(path, title, "strength level (0 = undeformed)", 2, panels, err, errlen);
}

void probe_print_deform(FILE *f, const struct probe_about *a, const struct probe_deform_result *r)
{
	fprintf(f, "%d %s images of %s, seed %d\naccuracy %.4f undeformed\n\n", r->n, a->split, a->data, a->seed,
		r->accuracy);
	fprintf(f, "%-8s %5s %10s %9s %12s\n", "kind", "level", "strength", "accuracy", "consistency");
	for (int k = 0; k < PROBE_DEFORM_KINDS; k++)
		for (int l = 0; l < r->levels; l++) {
			char st[32];
			snprintf(st, sizeof st, "%s%.3g%s%s", k == PROBE_SCALE ? "+-" : "", r->strength[k][l],
				 *probe_deform_unit(k) ? " " : "", probe_deform_unit(k));
			fprintf(f, "%-8s %5d %10s %9.4f %12.4f\n", probe_deform_name(k), l + 1, st, r->acc[k][l],
				r->consistency[k][l]);
		}
}
