/*
 * CSV data source: numeric features and one label column, in FILE.csv (the training split) or in
 * DIR/train.csv and DIR/test.csv. The files are memory-mapped and every row is checked at open;
 * only each row's offset and label index are kept, a read parses that row's features again.
 *
 * Fields are separated by commas, with optional spaces around them; a field may be quoted when it
 * holds no comma or quote; CRLF line ends, a last line without newline and empty lines are fine.
 * The first row is a header when a feature field of it is not a number (or the label column is
 * given by name); a non-numeric label alone makes it a header when every other label is an integer,
 * so that a headerless file of string labels (UCI's iris.data) reads as data. Labels that are all
 * non-negative integers are the class indices; otherwise they are names, and the classes are their
 * sorted unique values over train.csv and test.csv together, so that both splits agree.
 * Line and column numbers in messages count from 1, as editors show them.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"
#include "io/source.h"

#define FIELD_MAX 255 /* longest field read as a number */

struct span {
	const char *p;
	size_t len;
};

/* One file, as checked at open. */
struct csv_file {
	const char *path;
	struct clcnn_mapped m;
	int nfields, label_col, rows;
	size_t *off;        /* rows: offset of each row's first byte */
	struct span *label; /* rows: the label field, unquoted */
	int *labels;        /* rows: class index (after classes are known) */
};

struct csv_src {
	struct csv_file f;
	char **names; /* string labels: classes names, else NULL */
	int nnames;
};

/* The line starting at `at`: [*b, *e) without the line end; returns the offset of the next line. */
static size_t line_at(const struct clcnn_mapped *m, size_t at, const char **b, const char **e)
{
	const char *s = (const char *)m->data + at, *nl = memchr(s, '\n', m->len - at);
	const char *end = nl ? nl : (const char *)m->data + m->len;
	*b = s;
	*e = end > s && end[-1] == '\r' ? end - 1 : end;
	return (size_t)(end - (const char *)m->data) + (nl != NULL);
}

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The field of a line ending at e that starts at *p: trim it, unquote it into *out and move *p past
 * its comma.
 * Returns -1 for a quote problem, else 0.
 */
static int next_field(const char **p, const char *e, struct span *out)
{
	const char *s = *p < e ? *p : e, *c = memchr(s, ',', (size_t)(e - s));
	const char *end = c ? c : e;
	*p = c ? c + 1 : e + 1;
	while (s < end && blank(*s))
		s++;
	while (end > s && blank(end[-1]))
		end--;
	if (end - s >= 2 && s[0] == '"' && end[-1] == '"') {
		s++;
		end--;
	}
	if (memchr(s, '"', (size_t)(end - s)))
		return -1;
	out->p = s;
	out->len = (size_t)(end - s);
	return 0;
}

static int count_fields(const char *b, const char *e)
{
	int n = 1;
	for (const char *p = b; p < e; p++)
		n += *p == ',';
	return n;
}

/* The field as a number; 0 when it is not one (a finite one when finite is set). */
static int to_number(struct span f, int finite, float *v)
{
	char buf[FIELD_MAX + 1];
	if (!f.len || f.len > FIELD_MAX)
		return 0;
	memcpy(buf, f.p, f.len);
	buf[f.len] = 0;
	char *end;
	double d = strtod(buf, &end);
	if (end != buf + f.len || isspace((unsigned char)buf[0]))
		return 0;
	if (finite && !isfinite((float)d))
		return 0;
	*v = (float)d;
	return 1;
}

/*
 * Labels are stored as floats (graph inputs), exact up to 2^24: a class index above this one is
 * refused rather than rounded.
 */
#define MAX_LABEL 16777215

/* A label of digits only: 1 with its value (MAX_LABEL + 1 for any larger one), else 0. */
static int to_index(struct span f, int *v)
{
	if (!f.len)
		return 0;
	int x = 0;
	for (size_t k = 0; k < f.len; k++) {
		if (f.p[k] < '0' || f.p[k] > '9')
			return 0;
		x = x > MAX_LABEL ? x : x * 10 + (f.p[k] - '0');
	}
	*v = x;
	return 1;
}

/* Line number (from 1) of the byte at off. */
static int line_of(const struct clcnn_mapped *m, size_t off)
{
	int n = 1;
	for (size_t k = 0; k < off; k++)
		n += m->data[k] == '\n';
	return n;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static void file_free(struct csv_file *f)
{
	clcnn_unmap_file(&f->m);
	free(f->off);
	free(f->label);
	free(f->labels);
	memset(f, 0, sizeof *f);
}

/* "column 3" or "column 3 (petal)" for messages. */
static const char *column_name(char *buf, size_t n, int j, const struct span *header)
{
	if (header)
		snprintf(buf, n, "column %d (%.*s)", j + 1, (int)(header[j].len > 60 ? 60 : header[j].len),
			 header[j].p);
	else
		snprintf(buf, n, "column %d", j + 1);
	return buf;
}

/* Append a row (offset, label) to f. */
static int add_row(struct csv_file *f, size_t *cap, size_t off, struct span label, char *err, size_t errlen)
{
	if ((size_t)f->rows == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		size_t *o = realloc(f->off, nc * sizeof *o);
		if (o)
			f->off = o;
		struct span *l = o ? realloc(f->label, nc * sizeof *l) : NULL;
		if (!l)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %zu rows",
					     f->path, nc);
		f->label = l;
		*cap = nc;
	}
	if (f->rows == INT_MAX)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: more than %d rows", f->path, INT_MAX);
	f->off[f->rows] = off;
	f->label[f->rows] = label;
	f->rows++;
	return 0;
}

/* Resolve the label column from the option and the header (NULL when there is none). */
static int label_column(struct csv_file *f, const char *opt, const struct span *header, char *err, size_t errlen)
{
	if (!opt) {
		f->label_col = f->nfields - 1;
		return 0;
	}
	if (header)
		for (int j = 0; j < f->nfields; j++)
			if (header[j].len == strlen(opt) && !memcmp(header[j].p, opt, header[j].len)) {
				f->label_col = j;
				return 0;
			}
	if (!all_digits(opt))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: no column named '%s' in the header", f->path,
				     opt);
	long v = strtol(opt, NULL, 10);
	if (strlen(opt) > 9 || v >= f->nfields)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "%s: label column %s (0-based) is beyond the %d columns of the file", f->path, opt,
				     f->nfields);
	f->label_col = (int)v;
	return 0;
}

/* Check every row of f->path and record its offset and label field. */
static int scan(struct csv_file *f, const char *label_opt, char *err, size_t errlen)
{
	int rc = clcnn_map_file(f->path, &f->m, err, errlen);
	if (rc)
		return rc;
	struct span *fields = NULL, *header = NULL;
	size_t cap = 0;
	int line = 0, first_line = 0, maybe_header = 0; /* maybe_header: row 0 is data unless labels say otherwise */
	char col[128];
	for (size_t at = 0; at < f->m.len;) {
		const char *b, *e;
		size_t start = at;
		at = line_at(&f->m, at, &b, &e);
		line++;
		const char *t = b;
		while (t < e && blank(*t))
			t++;
		if (t == e)
			continue;
		int n = count_fields(b, e);
		if (!fields) {
			/* the first row fixes the field count, the label column and whether it is a header */
			first_line = line;
			f->nfields = n;
			if (n < 2) {
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
						   "%s: line %d has 1 column: a label column and at least one feature "
						   "column are needed",
						   f->path, line);
				break;
			}
			if (!(fields = calloc((size_t)n, sizeof *fields))) {
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", f->path);
				break;
			}
			const char *p = b;
			int bad = -1, label_named = label_opt && !all_digits(label_opt);
			for (int j = 0; j < n; j++)
				if (next_field(&p, e, &fields[j]) && bad < 0)
					bad = j;
			if (bad >= 0) {
				rc = clcnn_io_fail(
					err, errlen, CLCNN_ERR_FORMAT,
					"%s: line %d, column %d: a quote inside a field (quoted fields may hold "
					"no quotes or commas)",
					f->path, line, bad + 1);
				break;
			}
			int nonnum = 0;
			float v;
			if (!label_named && (rc = label_column(f, label_opt, NULL, err, errlen)))
				break;
			for (int j = 0; j < n; j++)
				if ((label_named || j != f->label_col) && !to_number(fields[j], 0, &v))
					nonnum = 1;
			if (nonnum || label_named) {
				header = fields;
				fields = calloc((size_t)n, sizeof *fields);
				if (!fields) {
					rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory",
							   f->path);
					break;
				}
				if ((rc = label_column(f, label_opt, header, err, errlen)))
					break;
				continue;
			}
			maybe_header = !to_number(fields[f->label_col], 0, &v);
		}
		if (n != f->nfields) {
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: line %d has %d fields, expected %d (as line %d)", f->path, line, n,
					   f->nfields, first_line);
			break;
		}
		const char *p = b;
		for (int j = 0; !rc && j < n; j++) {
			float v;
			if (next_field(&p, e, &fields[j]))
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
						   "%s: line %d, %s: a quote inside a field (quoted fields may hold no "
						   "quotes or commas)",
						   f->path, line, column_name(col, sizeof col, j, header));
			else if (j == f->label_col && !fields[j].len)
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: line %d, %s: empty label",
						   f->path, line, column_name(col, sizeof col, j, header));
			else if (j != f->label_col && !to_number(fields[j], 1, &v))
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
						   "%s: line %d, %s: '%.*s%s' is not a finite number", f->path, line,
						   column_name(col, sizeof col, j, header),
						   (int)(fields[j].len > 40 ? 40 : fields[j].len), fields[j].p,
						   fields[j].len > 40 ? "..." : "");
		}
		if (rc || (rc = add_row(f, &cap, start, fields[f->label_col], err, errlen)))
			break;
	}
	if (!rc && maybe_header && f->rows > 1) {
		/* a string label in row 0 only: a header naming the label column */
		int ints = 1, v;
		for (int r = 1; ints && r < f->rows; r++)
			ints = to_index(f->label[r], &v);
		if (ints) {
			f->rows--;
			memmove(f->off, f->off + 1, (size_t)f->rows * sizeof *f->off);
			memmove(f->label, f->label + 1, (size_t)f->rows * sizeof *f->label);
		}
	}
	if (!rc && !f->rows)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: no data rows%s", f->path,
				   header ? " after the header" : " (an empty file)");
	free(fields);
	free(header);
	return rc;
}

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/*
 * Class indices of f's rows from the labels of all files: integers as they are, names by their
 * rank among the sorted unique names (stored in x).
 */
static int classify(struct csv_src *x, struct csv_file *files, int nfiles, int *classes, char *err, size_t errlen)
{
	struct csv_file *f = &x->f;
	int ints = 1, top = 0, v, big = -1, big_file = 0;
	size_t total = 0;
	for (int k = 0; k < nfiles; k++) {
		total += (size_t)files[k].rows;
		for (int r = 0; ints && r < files[k].rows; r++) {
			ints = to_index(files[k].label[r], &v);
			top = ints && v > top ? v : top;
			if (ints && v > MAX_LABEL && big < 0) {
				big = r;
				big_file = k;
			}
		}
	}
	if (ints && big >= 0) {
		const struct csv_file *b = &files[big_file];
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: line %d: label %.*s%s is above %d, the largest class index a label can hold",
				     b->path, line_of(&b->m, b->off[big]),
				     (int)(b->label[big].len > 40 ? 40 : b->label[big].len), b->label[big].p,
				     b->label[big].len > 40 ? "..." : "", MAX_LABEL);
	}
	if (!(f->labels = malloc((size_t)f->rows * sizeof *f->labels)))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", f->path);
	if (ints) {
		for (int r = 0; r < f->rows; r++)
			to_index(f->label[r], &f->labels[r]);
		*classes = top + 1;
		return 0;
	}
	struct span *all = malloc(total * sizeof *all);
	if (!all)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %zu labels", f->path,
				     total);
	size_t n = 0;
	for (int k = 0; k < nfiles; k++) {
		memcpy(all + n, files[k].label, (size_t)files[k].rows * sizeof *all);
		n += (size_t)files[k].rows;
	}
	qsort(all, n, sizeof *all, cmp_span);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || cmp_span(&all[u - 1], &all[i]))
			all[u++] = all[i];
	int rc = 0;
	if (u > (size_t)MAX_LABEL + 1)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: %zu distinct labels, more classes than the %d a label can index", f->path, u,
				   MAX_LABEL + 1);
	else if (!(x->names = calloc(u, sizeof *x->names)))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", f->path);
	for (size_t i = 0; !rc && i < u; i++, x->nnames++)
		if (!(x->names[i] = strndup(all[i].p, all[i].len)))
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", f->path);
	for (int r = 0; !rc && r < f->rows; r++) {
		const struct span *hit = bsearch(&f->label[r], all, u, sizeof *all, cmp_span);
		f->labels[r] = (int)(hit - all);
	}
	*classes = (int)u;
	free(all);
	return rc;
}

static int csv_read(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen)
{
	const struct csv_src *x = s->impl;
	const struct csv_file *f = &x->f;
	const char *b, *e;
	line_at(&f->m, f->off[i], &b, &e);
	const char *p = b;
	for (int j = 0, k = 0; j < f->nfields; j++) {
		struct span fld;
		int bad = next_field(&p, e, &fld);
		if (j == f->label_col)
			continue;
		if (bad || !to_number(fld, 1, &dst[k++])) /* the file changed since it was checked */
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "%s: row %d changed since the file was opened", f->path, i);
	}
	*label = (float)f->labels[i];
	return 0;
}

static void csv_close(struct clcnn_source *s)
{
	struct csv_src *x = s->impl;
	if (!x)
		return;
	file_free(&x->f);
	for (int k = 0; k < x->nnames; k++)
		free(x->names[k]);
	free(x->names);
	free(x);
	s->impl = NULL;
}

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int clcnn_source_open_csv(struct clcnn_source *s, const char *path, const char *split,
			  const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen)
{
	int is_test = strcmp(split, "train") != 0;
	*missing_split = 0;
	struct stat st;
	int single = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	if (single && is_test) {
		*missing_split = 1;
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: one CSV file, which holds only the training split",
				     path);
	}
	char tp[4200], vp[4200];
	snprintf(tp, sizeof tp, "%s/train.csv", path);
	snprintf(vp, sizeof vp, "%s/test.csv", path);
	if (!single && !is_file(is_test ? vp : tp)) {
		*missing_split = is_test;
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: no such file", is_test ? vp : tp);
	}
	struct csv_src *x = calloc(1, sizeof *x);
	if (!x)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
	s->impl = x;
	/* files[0] is the split read; files[1] the other split, scanned for its labels */
	struct csv_file files[2] = {{.path = single ? path : is_test ? vp : tp}, {.path = is_test ? tp : vp}};
	int nfiles = !single && is_file(files[1].path) ? 2 : 1, classes = 0;
	int rc = 0;
	for (int k = 0; !rc && k < nfiles; k++)
		rc = scan(&files[k], o->label_column, err, errlen);
	if (!rc && nfiles == 2 && files[1].nfields - 1 != files[0].nfields - 1)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s has %d features but %s has %d", files[0].path,
				   files[0].nfields - 1, files[1].path, files[1].nfields - 1);
	x->f = files[0];
	memset(&files[0], 0, sizeof files[0]);
	if (!rc)
		rc = classify(x, nfiles == 2 ? (struct csv_file[]){x->f, files[1]} : &x->f, nfiles, &classes, err,
			      errlen);
	file_free(&files[1]);
	if (rc) {
		csv_close(s);
		return rc;
	}
	/* the label spans pointed into the mappings only to classify */
	free(x->f.label);
	x->f.label = NULL;
	s->info.n = x->f.rows;
	s->info.nd = 1;
	s->info.c = x->f.nfields - 1;
	s->info.h = 1;
	s->info.w = 1;
	s->info.classes = classes;
	s->info.class_names = (const char *const *)x->names;
	s->info.layout = "CSV";
	s->read = csv_read;
	s->close = csv_close;
	return 0;
}
