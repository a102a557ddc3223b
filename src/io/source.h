/*
 * Data sources inside libclcnn-data: each format is one backend file (source-idx.c, source-cifar.c,
 * source-csv.c, source-folder.c) that fills a struct clcnn_source; source.c detects the format,
 * holds the held-out split (val_split) as an index map, and dispatches reads.
 */
#ifndef CLCNN_SOURCE_H
#define CLCNN_SOURCE_H

#include "clcnn/data.h"

struct clcnn_source {
	struct clcnn_source_info info; /* info.n: samples the backend has (before any val_split map) */
	/* read the backend's sample i (0 <= i < backend n); thread-safe */
	int (*read)(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen);
	void (*close)(struct clcnn_source *s); /* frees backend state (impl), not the struct */
	void *impl;
	char *path; /* as opened */
	int *map;   /* val_split: sample k is backend sample map[k] (NULL: identity) */
};

/*
 * Backends: open `split` ("train" or "test") of the dataset at path into s (zeroed by the caller;
 * on failure the backend has released what it allocated). CLCNN_ERR_NOT_FOUND-like misses are
 * CLCNN_ERR_IO with a message naming what was looked for; *missing_split is set to 1 when the
 * dataset exists but has no such split (source.c then applies val_split or says so).
 */
int clcnn_source_open_idx(struct clcnn_source *s, const char *path, const char *split,
			  const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen);
int clcnn_source_open_cifar(struct clcnn_source *s, const char *path, const char *split, int cifar100,
			    const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen);
int clcnn_source_open_csv(struct clcnn_source *s, const char *path, const char *split,
			  const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen);
int clcnn_source_open_folder(struct clcnn_source *s, const char *path, const char *split,
			     const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen);

/* Which format the path holds (files looked for, in this order: IDX, CIFAR-10, CIFAR-100, CSV, folders). */
int clcnn_source_detect(const char *path, enum clcnn_data_format *f, char *err, size_t errlen);

/*
 * A file mapped read-only (the IDX, CIFAR and CSV backends read samples straight from the page
 * cache). An empty file maps to data NULL, len 0. Failures name the path: CLCNN_ERR_IO.
 */
struct clcnn_mapped {
	const unsigned char *data;
	size_t len;
};
int clcnn_map_file(const char *path, struct clcnn_mapped *m, char *err, size_t errlen);
/* Unmap and zero; a zeroed struct is a no-op. */
void clcnn_unmap_file(struct clcnn_mapped *m);

/*
 * Class names from a text file, one per line (blank lines and spaces around names ignored): exactly
 * `classes` of them, or at least one when classes is 0. *names (calloc'ed, *nnames strdup'ed names)
 * is the caller's on success and on failure (free each then the array).
 */
int clcnn_names_read(const char *p, int classes, char ***names, int *nnames, char *err, size_t errlen);

/* Augment one image sample (c x h x w, in place); tmp holds (c + 2) * h * w floats (the elastic
 * field needs two planes); draws from *rng. */
void clcnn_augment_sample(const struct clcnn_augment *a, float *img, int c, int h, int w, float *tmp, uint64_t *rng);

#endif
