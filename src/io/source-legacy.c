/*
 * TEMPORARY (drop at merge): the IDX backend on top of the old in-memory clcnn_dataset_load (3-D
 * uint8 IDX only), so that the data pipeline and the CLI can be tested on Fashion-MNIST before the
 * real streaming backend (source-idx.c) lands.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/dataset.h"
#include "io/io.h"
#include "io/source.h"

static const char *const layout_nchw = "NCHW";

static int legacy_read(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	const struct clcnn_dataset *d = s->impl;
	size_t per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
	memcpy(dst, d->images + (size_t)i * per, per * sizeof *dst);
	*label = d->labels[i];
	return 0;
}

static void legacy_close(struct clcnn_source *s)
{
	clcnn_dataset_free(s->impl);
	free(s->impl);
	s->impl = NULL;
}

int clcnn_source_open_idx_legacy(struct clcnn_source *s, const char *path, const char *split,
				 const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen);

int clcnn_source_open_idx_legacy(struct clcnn_source *s, const char *path, const char *split,
				 const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen)
{
	*missing_split = 0;
	struct clcnn_dataset *d = calloc(1, sizeof *d);
	if (!d)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
	/* labels up to 255 (uint8); the caller checks them against its model */
	int rc = clcnn_dataset_load(path, strcmp(split, "test") ? "train" : "t10k", 256, d, err, errlen);
	if (rc) {
		free(d);
		return rc;
	}
	if ((o->channels && o->channels != d->c) || (o->height && o->height != d->h) ||
	    (o->width && o->width != d->w)) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: images are %dx%dx%d, asked for %dx%dx%d", path,
				   d->c, d->h, d->w, o->channels, o->height, o->width);
		clcnn_dataset_free(d);
		free(d);
		return rc;
	}
	int classes = 0;
	for (int i = 0; i < d->n; i++)
		if ((int)d->labels[i] + 1 > classes)
			classes = (int)d->labels[i] + 1;
	s->impl = d;
	s->read = legacy_read;
	s->close = legacy_close;
	s->info = (struct clcnn_source_info){.format = CLCNN_DATA_IDX,
					     .n = d->n,
					     .nd = 3,
					     .c = d->c,
					     .h = d->h,
					     .w = d->w,
					     .classes = classes,
					     .layout = layout_nchw};
	return 0;
}
