/*
 * Training-curve picture for `clcnn train`: train loss above test accuracy, sharing the epoch
 * axis, drawn with cairo into a PNG; and the same frame for any stacked panels of labelled curves
 * (clcnn_plot_panels: `clcnn probe deform`). Colors follow matplotlib's defaults so the picture reads
 * like the plots users already know.
 */
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define PLOT_W 960
#define PLOT_H 680
#define MARGIN_L 84
#define MARGIN_R 28
#define TITLE_H 52
#define PANEL_GAP 34
#define BOTTOM_H 58

/* A data range mapped onto a pixel range, with tick spacing chosen for it. */
struct axis {
	double lo, hi, step; /* shown range; ticks at the multiples of step inside it */
	double p0, p1;       /* pixel positions of lo and hi */
};

static double axis_map(const struct axis *a, double v)
{
	return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/*
 * Pick a 1-2-5 step giving about `target` ticks over the data, and show the data with 5 % room
 * on each side (as matplotlib does) so that points on the extremes are not cut by the frame.
 */
static void axis_fit(struct axis *a, double lo, double hi, int target, int integer)
{
	if (!(lo <= hi)) { /* no data at all */
		lo = 0;
		hi = 1;
	}
	if (hi - lo <= 1e-9 * (fabs(lo) + fabs(hi))) {
		double pad = lo != 0 ? fabs(lo) * 0.1 : 1.0;
		lo -= pad;
		hi += pad;
	}
	double raw = (hi - lo) / target;
	double mag = pow(10, floor(log10(raw)));
	double f = raw / mag;
	double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
	if (integer && step < 1)
		step = 1; /* epochs: no fractional ticks when every epoch is whole */
	a->step = step;
	a->lo = lo - 0.05 * (hi - lo);
	a->hi = hi + 0.05 * (hi - lo);
}

/* First tick at or above lo. */
static double axis_first(const struct axis *a)
{
	return ceil(a->lo / a->step - 1e-9) * a->step;
}

/* Decimals needed to print multiples of step exactly. */
static int axis_decimals(const struct axis *a)
{
	int d = (int)-floor(log10(a->step) + 1e-9);
	return d < 0 ? 0 : d > 6 ? 6 : d;
}

static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
	cairo_text_extents_t te;
	cairo_text_extents(cr, s, &te);
	/* ax/ay: 0 = left/top, 0.5 = center, 1 = right/bottom of the ink box */
	cairo_move_to(cr, x - te.x_bearing - ax * te.width, y - te.y_bearing - ay * te.height);
	cairo_show_text(cr, s);
}

static void data_range(int n, const double *v, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; v && i < n; i++) {
		if (isfinite(v[i])) {
			*lo = fmin(*lo, v[i]);
			*hi = fmax(*hi, v[i]);
		}
	}
}

struct series {
	const double *x, *y;
	int n;
	double r, g, b;
	const char *label, *ylabel;
};

/* Frame, grid, ticks with their labels, and the rotated y label of one panel. */
static void draw_axes(cairo_t *cr, const struct series *s, const struct axis *xa, const struct axis *ya, double top,
		      double bottom, int xlabels)
{
	double left = MARGIN_L, right = PLOT_W - MARGIN_R;
	cairo_set_source_rgb(cr, 0.97, 0.97, 0.98);
	cairo_rectangle(cr, left, top, right - left, bottom - top);
	cairo_fill(cr);

	char buf[64];
	cairo_set_font_size(cr, 12);
	cairo_set_line_width(cr, 1);
	for (int axis = 0; axis < 2; axis++) {
		const struct axis *a = axis ? xa : ya;
		int decimals = axis_decimals(a);
		for (int k = 0;; k++) {
			double v = axis_first(a) + k * a->step;
			if (v > a->hi)
				break;
			double p = round(axis_map(a, v)) + 0.5; /* on a pixel center: crisp 1 px lines */
			cairo_set_source_rgb(cr, 0.86, 0.86, 0.88);
			cairo_move_to(cr, axis ? p : left, axis ? top : p);
			cairo_line_to(cr, axis ? p : right, axis ? bottom : p);
			cairo_stroke(cr);
			cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
			cairo_move_to(cr, axis ? p : left - 5, axis ? bottom : p);
			cairo_line_to(cr, axis ? p : left, axis ? bottom + 5 : p);
			cairo_stroke(cr);
			snprintf(buf, sizeof buf, "%.*f", decimals, fabs(v) < a->step * 1e-6 ? 0.0 : v);
			if (!axis)
				text_at(cr, buf, left - 9, p, 1, 0.5);
			else if (xlabels)
				text_at(cr, buf, p, bottom + 9, 0.5, 0);
		}
	}
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	cairo_rectangle(cr, left + 0.5, top + 0.5, right - left - 1, bottom - top - 1);
	cairo_stroke(cr);

	cairo_save(cr);
	cairo_set_font_size(cr, 14);
	cairo_translate(cr, 22, (top + bottom) / 2);
	cairo_rotate(cr, -M_PI / 2);
	text_at(cr, s->ylabel, 0, 0, 0.5, 0.5);
	cairo_restore(cr);
}

static int valid_point(const struct series *s, int i)
{
	return s->y && isfinite(s->x[i]) && isfinite(s->y[i]);
}

/* The curve, broken at missing points, with markers while they do not crowd each other. */
static void draw_curve(cairo_t *cr, const struct series *s, const struct axis *xa, const struct axis *ya, double top,
		       double bottom)
{
	cairo_save(cr);
	cairo_rectangle(cr, MARGIN_L, top, PLOT_W - MARGIN_R - MARGIN_L, bottom - top);
	cairo_clip(cr);
	cairo_set_source_rgb(cr, s->r, s->g, s->b);
	cairo_set_line_width(cr, 2.2);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	int pen = 0, npts = 0;
	for (int i = 0; i < s->n; i++) {
		if (!valid_point(s, i)) {
			pen = 0;
			continue;
		}
		double px = axis_map(xa, s->x[i]), py = axis_map(ya, s->y[i]);
		if (pen)
			cairo_line_to(cr, px, py);
		else
			cairo_move_to(cr, px, py);
		pen = 1;
		npts++;
	}
	cairo_stroke(cr);
	if (npts <= 60) {
		for (int i = 0; i < s->n; i++) {
			if (!valid_point(s, i))
				continue;
			cairo_new_sub_path(cr);
			cairo_arc(cr, axis_map(xa, s->x[i]), axis_map(ya, s->y[i]), npts <= 1 ? 4.5 : 3.2, 0, 2 * M_PI);
		}
		cairo_fill(cr);
	}
	cairo_restore(cr);
}

/* How much of the curve a box would hide: points sampled along every segment that fall in it. */
static int legend_cover(const struct series *s, const struct axis *xa, const struct axis *ya, double bx, double by,
			double bw, double bh)
{
	int hits = 0, prev = -1;
	for (int i = 0; i < s->n; i++) {
		if (!valid_point(s, i)) {
			prev = -1;
			continue;
		}
		double x1 = axis_map(xa, s->x[i]), y1 = axis_map(ya, s->y[i]);
		double x0 = prev >= 0 ? axis_map(xa, s->x[prev]) : x1, y0 = prev >= 0 ? axis_map(ya, s->y[prev]) : y1;
		for (int k = 0; k <= 16; k++) {
			double px = x0 + (x1 - x0) * k / 16, py = y0 + (y1 - y0) * k / 16;
			hits += px > bx - 6 && px < bx + bw + 6 && py > by - 6 && py < by + bh + 6;
		}
		prev = i;
	}
	return hits;
}

/* One legend box naming every series of a panel, in the inner corner where it hides the least. */
static void draw_legend_all(cairo_t *cr, const struct series *s, int ns, const struct axis *xa, const struct axis *ya,
			    double top, double bottom)
{
	cairo_set_font_size(cr, 13);
	double lw = 0, row = 22, lh = row * ns + 6;
	for (int i = 0; i < ns; i++) {
		cairo_text_extents_t te;
		cairo_text_extents(cr, s[i].label, &te);
		if (te.x_advance + 48 > lw)
			lw = te.x_advance + 48;
	}
	double left = MARGIN_L + 10, right = PLOT_W - MARGIN_R - 10 - lw;
	const double cx[4] = {right, right, left, left},
		     cy[4] = {top + 10, bottom - 10 - lh, top + 10, bottom - 10 - lh};
	int best = 0, best_cover = -1;
	for (int c = 0; c < 4; c++) {
		int cover = 0;
		for (int i = 0; i < ns; i++)
			cover += legend_cover(&s[i], xa, ya, cx[c], cy[c], lw, lh);
		if (best_cover < 0 || cover < best_cover) {
			best = c;
			best_cover = cover;
		}
	}
	double lx = cx[best], ly = cy[best];
	cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
	cairo_rectangle(cr, lx, ly, lw, lh);
	cairo_fill_preserve(cr);
	cairo_set_source_rgb(cr, 0.75, 0.75, 0.78);
	cairo_set_line_width(cr, 1);
	cairo_stroke(cr);
	for (int i = 0; i < ns; i++) {
		double y = ly + 3 + row * (i + 0.5);
		cairo_set_source_rgb(cr, s[i].r, s[i].g, s[i].b);
		cairo_set_line_width(cr, 2.2);
		cairo_move_to(cr, lx + 8, y);
		cairo_line_to(cr, lx + 32, y);
		cairo_stroke(cr);
		cairo_arc(cr, lx + 20, y, 3.2, 0, 2 * M_PI);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		text_at(cr, s[i].label, lx + 40, y, 0, 0.5);
	}
}

/* Legend with the last value, in the inner corner where it hides the least of the curve. */
static void draw_legend(cairo_t *cr, const struct series *s, const struct axis *xa, const struct axis *ya, double top,
			double bottom)
{
	char buf[96];
	int last = -1;
	for (int i = 0; i < s->n; i++)
		if (valid_point(s, i))
			last = i;
	if (last >= 0)
		snprintf(buf, sizeof buf, "%s (last %.4g)", s->label, s->y[last]);
	else
		snprintf(buf, sizeof buf, "%s (no data)", s->label);
	struct series named = *s; /* the one-series legend of draw_legend_all, with the last value */
	named.label = buf;
	draw_legend_all(cr, &named, 1, xa, ya, top, bottom);
}

static void draw_panel(cairo_t *cr, const struct series *s, const struct axis *xa, double top, double bottom,
		       int xlabels)
{
	double lo, hi;
	data_range(s->n, s->y, &lo, &hi);
	struct axis ya;
	axis_fit(&ya, lo, hi, 5, 0);
	ya.p0 = bottom;
	ya.p1 = top;
	draw_axes(cr, s, xa, &ya, top, bottom, xlabels);
	draw_curve(cr, s, xa, &ya, top, bottom);
	draw_legend(cr, s, xa, &ya, top, bottom);
}

static cairo_status_t png_write_cb(void *closure, const unsigned char *data, unsigned int length)
{
	return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Write the drawn surface as a PNG, atomically, and destroy it. */
static int write_png(cairo_surface_t *surf, const char *path, char *err, size_t errlen)
{
	cairo_status_t cs = cairo_surface_status(surf);
	if (cs != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(surf);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: cannot draw: %s", path,
				     cairo_status_to_string(cs));
	}
	struct clcnn_io_atomic a;
	int rc = clcnn_io_atomic_begin(&a, path, err, errlen);
	if (rc) {
		cairo_surface_destroy(surf);
		return rc;
	}
	cs = cairo_surface_write_to_png_stream(surf, png_write_cb, a.f);
	cairo_surface_destroy(surf);
	if (cs != CAIRO_STATUS_SUCCESS) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot write PNG: %s (%s)", path,
				   cairo_status_to_string(cs), strerror(errno));
		clcnn_io_atomic_abort(&a);
		return rc;
	}
	return clcnn_io_atomic_commit(&a, err, errlen);
}

/* A white page with the title on top, the font set for labels. */
static cairo_t *canvas(const char *title, cairo_surface_t **surf)
{
	*surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PLOT_W, PLOT_H);
	cairo_t *cr = cairo_create(*surf);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
	cairo_set_font_size(cr, 18);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	text_at(cr, title, PLOT_W / 2.0, TITLE_H / 2.0 + 2, 0.5, 0.5);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	return cr;
}

int clcnn_plot_curves(const char *path, int n, const double *epoch, const double *train_loss, const double *test_acc,
		      const char *title, char *err, size_t errlen)
{
	if (!path || n < 0 || n > 100000000)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_plot_curves: bad arguments (n = %d)", n);
	double *x = calloc((size_t)(n ? n : 1), sizeof *x);
	if (!x)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %d points", path, n);
	for (int i = 0; i < n; i++)
		x[i] = epoch ? epoch[i] : i + 1;
	double xlo, xhi;
	data_range(n, x, &xlo, &xhi);
	int whole = 1;
	for (int i = 0; i < n; i++)
		if (isfinite(x[i]) && x[i] != floor(x[i]))
			whole = 0;
	struct axis xa;
	axis_fit(&xa, xlo, xhi, 10, whole);
	xa.p0 = MARGIN_L;
	xa.p1 = PLOT_W - MARGIN_R;

	cairo_surface_t *surf;
	cairo_t *cr = canvas(title && *title ? title : "training", &surf);

	double ph = (PLOT_H - TITLE_H - PANEL_GAP - BOTTOM_H) / 2.0;
	struct series loss = {x, train_loss, n, 0.122, 0.467, 0.706, "train loss", "train loss"};
	struct series acc = {x, test_acc, n, 1.0, 0.498, 0.055, "test accuracy", "test accuracy"};
	draw_panel(cr, &loss, &xa, TITLE_H, TITLE_H + ph, 0);
	draw_panel(cr, &acc, &xa, TITLE_H + ph + PANEL_GAP, TITLE_H + 2 * ph + PANEL_GAP, 1);
	cairo_set_font_size(cr, 14);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	text_at(cr, "epoch", (MARGIN_L + PLOT_W - MARGIN_R) / 2.0, PLOT_H - 8, 0.5, 1);
	cairo_destroy(cr);
	free(x);

	return write_png(surf, path, err, errlen);
}

/* matplotlib's first colors (tab10) */
static const double palette[8][3] = {{0.122, 0.467, 0.706}, {1.0, 0.498, 0.055},   {0.173, 0.627, 0.173},
				     {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
				     {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}};

int clcnn_plot_panels(const char *path, const char *title, const char *xlabel, int npanels,
		      const struct clcnn_plot_panel *panels, char *err, size_t errlen)
{
	if (!path || !panels || npanels < 1 || npanels > 4)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_plot_panels: bad arguments (%d panels)",
				     npanels);
	double xlo = INFINITY, xhi = -INFINITY;
	int whole = 1;
	for (int p = 0; p < npanels; p++) {
		if (panels[p].nseries < 0 || panels[p].nseries > 8 || (panels[p].nseries && !panels[p].series))
			return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
					     "clcnn_plot_panels: panel %d has %d series (0..8)", p, panels[p].nseries);
		for (int i = 0; i < panels[p].nseries; i++) {
			const struct clcnn_plot_series *q = &panels[p].series[i];
			double lo, hi;
			data_range(q->n, q->x, &lo, &hi);
			xlo = fmin(xlo, lo);
			xhi = fmax(xhi, hi);
			for (int k = 0; q->x && k < q->n; k++)
				if (isfinite(q->x[k]) && q->x[k] != floor(q->x[k]))
					whole = 0;
		}
	}
	struct axis xa;
	axis_fit(&xa, xlo, xhi, 10, whole);
	xa.p0 = MARGIN_L;
	xa.p1 = PLOT_W - MARGIN_R;

	cairo_surface_t *surf;
	cairo_t *cr = canvas(title ? title : "", &surf);

	double ph = (PLOT_H - TITLE_H - (npanels - 1) * PANEL_GAP - BOTTOM_H) / (double)npanels;
	for (int p = 0; p < npanels; p++) {
		struct series s[8];
		int ns = panels[p].nseries;
		double lo = INFINITY, hi = -INFINITY;
		for (int i = 0; i < ns; i++) {
			const struct clcnn_plot_series *q = &panels[p].series[i];
			s[i] = (struct series){q->x,
					       q->y,
					       q->x ? q->n : 0,
					       palette[i][0],
					       palette[i][1],
					       palette[i][2],
					       q->label ? q->label : "",
					       panels[p].ylabel ? panels[p].ylabel : ""};
			double a, b;
			data_range(s[i].n, q->y, &a, &b);
			lo = fmin(lo, a);
			hi = fmax(hi, b);
		}
		double top = TITLE_H + p * (ph + PANEL_GAP), bottom = top + ph;
		struct axis ya;
		axis_fit(&ya, lo, hi, 5, 0);
		ya.p0 = bottom;
		ya.p1 = top;
		struct series frame = {NULL, NULL, 0, 0, 0, 0, "", panels[p].ylabel ? panels[p].ylabel : ""};
		draw_axes(cr, &frame, &xa, &ya, top, bottom, p == npanels - 1);
		for (int i = 0; i < ns; i++)
			draw_curve(cr, &s[i], &xa, &ya, top, bottom);
		if (ns)
			draw_legend_all(cr, s, ns, &xa, &ya, top, bottom);
	}
	cairo_set_font_size(cr, 14);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	text_at(cr, xlabel ? xlabel : "", (MARGIN_L + PLOT_W - MARGIN_R) / 2.0, PLOT_H - 8, 0.5, 1);
	cairo_destroy(cr);
	return write_png(surf, path, err, errlen);
}
