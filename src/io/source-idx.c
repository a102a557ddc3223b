/*
 * IDX data source (the MNIST family): DIR/{train,t10k,test}-images-idx{3,4}-ubyte[.gz] and the
 * matching -labels-idx1-ubyte[.gz]. Plain files stay memory-mapped and each read converts one
 * sample (bytes / 255, planar CHW); gzip files are inflated once, as bytes. Images of 3 dims are
 * N x H x W (one channel); of 4 dims N x H x W x C or N x C x H x W (opt->layout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"
#include "io/source.h"

struct idx_src {
	struct clcnn_idx_view images, labels;
	char **names; /* from classes.txt, or NULL */
	int nnames;
	int nhwc;   /* 4-D file stored N x H x W x C: reads transpose */
	size_t per; /* bytes per sample */
};

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first of "<dir>/<prefix>-<kind>-idx<nd>-ubyte[.gz]" over prefixes and nds that exists. */
static int find(char *out, size_t n, const char *dir, const char *const *prefixes, const char *kind, const char *nds,
		const char **prefix)
{
	for (const char *const *p = prefixes; *p; p++)
		for (const char *d = nds; *d; d++)
			for (int gz = 1; gz >= 0; gz--) {
				snprintf(out, n, "%s/%s-%s-idx%c-ubyte%s", dir, *p, kind, *d, gz ? ".gz" : "");
				if (is_file(out)) {
					*prefix = *p;
					return 1;
				}
			}
	return 0;
}

static int idx_read_sample(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	const struct idx_src *x = s->impl;
	const uint8_t *p = x->images.data + (size_t)i * x->per;
	const float k = 1.0f / 255.0f;
	if (x->nhwc) {
		size_t C = (size_t)s->info.c, plane = (size_t)s->info.h * (size_t)s->info.w;
		for (size_t c = 0; c < C; c++)
			for (size_t q = 0; q < plane; q++)
				dst[c * plane + q] = (float)p[q * C + c] * k;
	} else {
		for (size_t q = 0; q < x->per; q++)
			dst[q] = (float)p[q] * k;
	}
	*label = (float)x->labels.data[i];
	return 0;
}

static void idx_close(struct clcnn_source *s)
{
	struct idx_src *x = s->impl;
	if (!x)
		return;
	clcnn_idx_unmap(&x->images);
	clcnn_idx_unmap(&x->labels);
	for (int k = 0; k < x->nnames; k++)
		free(x->names[k]);
	free(x->names);
	free(x);
	s->impl = NULL;
}

/* Shape of a 4-D file [N, d1, d2, d3]: NCHW when asked, or (auto) when d1 looks like channels and d3 does not. */
static void shape4(struct clcnn_source *s, struct idx_src *x, const int *d, enum clcnn_data_layout layout)
{
	int nchw = layout == CLCNN_LAYOUT_NCHW ||
		   (layout == CLCNN_LAYOUT_AUTO && d[1] >= 1 && d[1] <= 4 && !(d[3] >= 1 && d[3] <= 4));
	x->nhwc = !nchw;
	s->info.c = nchw ? d[1] : d[3];
	s->info.h = nchw ? d[2] : d[1];
	s->info.w = nchw ? d[3] : d[2];
	s->info.layout = nchw ? "NCHW" : "NHWC";
}

/*
 * IDX files carry no class names. DIR/classes.txt (one per line, at least max label + 1) gives them;
 * without it, Fashion-MNIST is recognised by its first 16 labels of either split (and 28x28 images),
 * so that its names come from the data and not from a model having 10 outputs.
 */
static int class_names(struct clcnn_source *s, struct idx_src *x, const char *dir, const int *d, char *err,
		       size_t errlen)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/classes.txt", dir);
	if (is_file(p)) {
		int rc = clcnn_names_read(p, 0, &x->names, &x->nnames, err, errlen);
		if (!rc && x->nnames < s->info.classes)
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: %d class names, but the labels go up to %d", p, x->nnames,
					   s->info.classes - 1);
		if (!rc) {
			s->info.classes = x->nnames;
			s->info.class_names = (const char *const *)x->names;
		}
		return rc;
	}
	static const unsigned char fmnist_train[16] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9};
	static const unsigned char fmnist_test[16] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1};
	if (x->images.a.ndim == 3 && d[1] == 28 && d[2] == 28 && x->labels.a.count >= 16 && s->info.classes <= 10 &&
	    (!memcmp(x->labels.data, fmnist_train, 16) || !memcmp(x->labels.data, fmnist_test, 16))) {
		s->info.classes = 10;
		s->info.class_names = clcnn_dataset_fashion_mnist_classes();
	}
	return 0;
}

int clcnn_source_open_idx(struct clcnn_source *s, const char *path, const char *split,
			  const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen)
{
	static const char *const train[] = {"train", NULL}, *const test[] = {"t10k", "test", NULL};
	int is_test = strcmp(split, "train") != 0;
	*missing_split = 0;
	char ip[4200], lp[4200];
	const char *prefix = NULL;
	if (!find(ip, sizeof ip, path, is_test ? test : train, "images", "34", &prefix)) {
		*missing_split = is_test;
		if (is_test)
			return clcnn_io_fail(
				err, errlen, CLCNN_ERR_IO,
				"%s/t10k-images-idx3-ubyte[.gz]: no such file (nor test-images-idx3-ubyte[.gz] "
				"or the -idx4-ubyte names)",
				path);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO,
				     "%s/train-images-idx3-ubyte[.gz]: no such file (nor train-images-idx4-ubyte[.gz])",
				     path);
	}
	const char *const one[] = {prefix, NULL};
	if (!find(lp, sizeof lp, path, one, "labels", "1", &prefix))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO,
				     "%s/%s-labels-idx1-ubyte[.gz]: no such file (the labels of %s)", path, prefix, ip);
	struct idx_src *x = calloc(1, sizeof *x);
	if (!x)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
	int rc = clcnn_idx_map(ip, 0, "images", &x->images, err, errlen);
	if (!rc)
		rc = clcnn_idx_map(lp, 1, "labels", &x->labels, err, errlen);
	const int *d = x->images.a.dims;
	if (!rc && x->images.a.ndim != 3 && x->images.a.ndim != 4)
		rc = clcnn_io_fail(
			err, errlen, CLCNN_ERR_FORMAT,
			"%s: IDX images of %d dims (expected 3, N x H x W, or 4, N x H x W x C or N x C x H x W)", ip,
			x->images.a.ndim);
	if (!rc && d[0] != x->labels.a.dims[0])
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s has %d images but %s has %d labels", ip, d[0], lp,
				   x->labels.a.dims[0]);
	if (rc) {
		s->impl = x;
		idx_close(s);
		return rc;
	}
	s->info.n = d[0];
	s->info.nd = 3;
	if (x->images.a.ndim == 3) {
		s->info.c = 1;
		s->info.h = d[1];
		s->info.w = d[2];
		s->info.layout = "NCHW";
	} else {
		shape4(s, x, d, o->layout);
	}
	x->per = x->images.a.count / (size_t)d[0];
	/* every label is < classes by construction; the CLI compares classes with its model */
	int top = 0;
	for (size_t i = 0; i < x->labels.a.count; i++)
		if (x->labels.data[i] > top)
			top = x->labels.data[i];
	s->info.classes = top + 1;
	s->info.class_names = NULL;
	if ((rc = class_names(s, x, path, d, err, errlen))) {
		s->impl = x;
		idx_close(s);
		return rc;
	}
	s->impl = x;
	s->read = idx_read_sample;
	s->close = idx_close;
	return 0;
}
