/*
 * CIFAR binary data source. CIFAR-10: DIR/data_batch_{1..5}.bin (train, every one present, in
 * order) and DIR/test_batch.bin, records of 1 label byte + 3072 pixel bytes; CIFAR-100:
 * DIR/train.bin and DIR/test.bin, records of a coarse and a fine label byte + 3072. Pixels are
 * 3 x 32 x 32 planar (R, G, B planes, rows top to bottom), so a read is one conversion to floats.
 * The files stay memory-mapped; every label is checked once at open. Class names come from
 * batches.meta.txt (CIFAR-10) or {fine,coarse}_label_names.txt (CIFAR-100) when present.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"
#include "io/source.h"

#define CIFAR_PIXELS 3072
#define CIFAR_MAX_FILES 5

struct cifar_src {
	struct clcnn_mapped files[CIFAR_MAX_FILES];
	int first[CIFAR_MAX_FILES + 1]; /* file f holds samples first[f] .. first[f+1]-1 */
	int nfiles;
	size_t rec;       /* record size */
	int label_offset; /* byte of the label used in a record */
	char **names;     /* classes names or NULL */
	int nnames;
};

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int cifar_read(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	const struct cifar_src *x = s->impl;
	int f = 0;
	while (i >= x->first[f + 1])
		f++;
	const unsigned char *r = x->files[f].data + (size_t)(i - x->first[f]) * x->rec;
	const unsigned char *px = r + (x->rec - CIFAR_PIXELS);
	for (int k = 0; k < CIFAR_PIXELS; k++)
		dst[k] = (float)px[k] * (1.0f / 255.0f);
	*label = (float)r[x->label_offset];
	return 0;
}

static void cifar_close(struct clcnn_source *s)
{
	struct cifar_src *x = s->impl;
	if (!x)
		return;
	for (int f = 0; f < CIFAR_MAX_FILES; f++)
		clcnn_unmap_file(&x->files[f]);
	for (int k = 0; k < x->nnames; k++)
		free(x->names[k]);
	free(x->names);
	free(x);
	s->impl = NULL;
}

/* Map one batch file, check its length and every label byte: [0] < lim0 and (CIFAR-100) [1] < lim1. */
static int map_batch(struct cifar_src *x, const char *p, int cifar100, char *err, size_t errlen)
{
	struct clcnn_mapped *m = &x->files[x->nfiles];
	int rc = clcnn_map_file(p, m, err, errlen);
	if (rc)
		return rc;
	if (m->len == 0 || m->len % x->rec)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: %zu bytes, not a whole number of %zu-byte records (%s + 3072 pixel bytes)", p,
				     m->len, x->rec, cifar100 ? "coarse and fine label bytes" : "1 label byte");
	size_t n = m->len / x->rec;
	if (n > (size_t)(INT_MAX - x->first[x->nfiles]))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: more than %d records in all", p, INT_MAX);
	for (size_t r = 0; r < n; r++) {
		const unsigned char *b = m->data + r * x->rec;
		if (!cifar100 && b[0] >= 10)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: record %zu: label %u is not below 10",
					     p, r, b[0]);
		if (cifar100 && b[0] >= 20)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "%s: record %zu: coarse label %u is not below 20", p, r, b[0]);
		if (cifar100 && b[1] >= 100)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "%s: record %zu: fine label %u is not below 100", p, r, b[1]);
	}
	x->first[x->nfiles + 1] = x->first[x->nfiles] + (int)n;
	x->nfiles++;
	return 0;
}

int clcnn_source_open_cifar(struct clcnn_source *s, const char *path, const char *split, int cifar100,
			    const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen)
{
	int is_test = strcmp(split, "train") != 0;
	*missing_split = 0;
	struct cifar_src *x = calloc(1, sizeof *x);
	if (!x)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
	s->impl = x;
	s->close = cifar_close;
	x->rec = (size_t)CIFAR_PIXELS + (cifar100 ? 2 : 1);
	int coarse = cifar100 && o->cifar100_coarse;
	x->label_offset = cifar100 && !coarse ? 1 : 0;
	int classes = !cifar100 ? 10 : coarse ? 20 : 100;
	char p[4200];
	int rc = 0;
	if (cifar100 || is_test) {
		snprintf(p, sizeof p, "%s/%s", path, !cifar100 ? "test_batch.bin" : is_test ? "test.bin" : "train.bin");
		if (!is_file(p)) {
			*missing_split = is_test;
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: no such file", p);
		} else {
			rc = map_batch(x, p, cifar100, err, errlen);
		}
	} else {
		for (int k = 1; !rc && k <= CIFAR_MAX_FILES; k++) {
			snprintf(p, sizeof p, "%s/data_batch_%d.bin", path, k);
			if (is_file(p))
				rc = map_batch(x, p, 0, err, errlen);
		}
		if (!rc && !x->nfiles)
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO,
					   "%s/data_batch_1.bin: no such file (nor data_batch_2..5.bin)", path);
	}
	snprintf(p, sizeof p, "%s/%s", path,
		 !cifar100 ? "batches.meta.txt"
		 : coarse  ? "coarse_label_names.txt"
			   : "fine_label_names.txt");
	if (!rc && is_file(p))
		rc = clcnn_names_read(p, classes, &x->names, &x->nnames, err, errlen);
	if (rc) {
		cifar_close(s);
		s->close = NULL;
		return rc;
	}
	s->info.n = x->first[x->nfiles];
	s->info.nd = 3;
	s->info.c = 3;
	s->info.h = 32;
	s->info.w = 32;
	s->info.classes = classes;
	s->info.class_names = (const char *const *)x->names;
	s->info.layout = "NCHW";
	s->read = cifar_read;
	return 0;
}
