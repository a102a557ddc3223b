/*
 * Readers and writers of outside data: safetensors weights, IDX datasets (MNIST family), images
 * (PNG, PGM/PPM) and training-curve plots. Pure C, no OpenCL.
 *
 * Every fallible function returns 0 or a negative enum clcnn_status:
 *   CLCNN_ERR_IO        the file could not be opened, read or written,
 *   CLCNN_ERR_FORMAT    its content is malformed,
 *   CLCNN_ERR_NO_MEMORY an allocation failed (the size is in the message),
 *   CLCNN_ERR_INVALID   the caller passed a bad argument,
 * and writes one message naming the file and the problem into err (errlen bytes, always
 * NUL-terminated; err may be NULL). Nothing prints, nothing exits.
 */
#ifndef CLCNN_IO_H
#define CLCNN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clcnn/clcnn.h"
#include "clcnn/data.h"

/* ------------------------------------------------------------ safetensors */

/* Limits shared by reader and writer (the header limit is the one of the reference implementation). */
#define CLCNN_ST_MAX_DIMS 8
#define CLCNN_ST_MAX_HEADER (100u * 1000u * 1000u)

/*
 * One tensor of a safetensors file. data points to nbytes of raw little-endian elements inside
 * the file object (valid until clcnn_st_free); it is NOT necessarily aligned for dtype, read it with
 * memcpy or convert it with clcnn_st_to_f32. ndim 0 is a scalar (one element).
 */
struct clcnn_st_entry {
	char *name;
	char dtype[8]; /* "F32", "I64", ... as in the file */
	int ndim;
	int64_t shape[CLCNN_ST_MAX_DIMS];
	size_t count;  /* number of elements: product of shape (1 for ndim 0) */
	size_t nbytes; /* count * element size */
	const void *data;
};

struct clcnn_st_file;

/*
 * Read and validate a whole safetensors file into memory. Entries keep the order of the JSON
 * header. Dtypes known: BOOL U8 I8 U16 I16 F16 BF16 U32 I32 F32 U64 I64 F64 F8_E4M3 F8_E5M2.
 * Data regions may leave holes but may not overlap. Free with clcnn_st_free.
 */
int clcnn_st_read(const char *path, struct clcnn_st_file **out, char *err, size_t errlen);
void clcnn_st_free(struct clcnn_st_file *f);
int clcnn_st_count(const struct clcnn_st_file *f);
/* Entry i (0 <= i < count), or NULL when out of range. */
const struct clcnn_st_entry *clcnn_st_get(const struct clcnn_st_file *f, int i);
/* Entry by exact name, or NULL. */
const struct clcnn_st_entry *clcnn_st_find(const struct clcnn_st_file *f, const char *name);
/* Value of a "__metadata__" key, or NULL when absent. Owned by f. */
const char *clcnn_st_meta(const struct clcnn_st_file *f, const char *key);
int clcnn_st_meta_count(const struct clcnn_st_file *f);
/* Key and value of metadata item i; returns CLCNN_ERR_INVALID when i is out of range. */
int clcnn_st_meta_get(const struct clcnn_st_file *f, int i, const char **key, const char **value);
/* Size in bytes of one element of dtype, or 0 when dtype is unknown. */
size_t clcnn_st_dtype_size(const char *dtype);

/*
 * Convert e->count elements of any known dtype to float into dst (e->count floats). Integers are
 * rounded to the nearest float (I64 values beyond 2^24 lose low bits, they are not rejected);
 * F64 beyond the float range becomes +-inf; BOOL is 0 or 1 (any non-zero byte is 1).
 */
int clcnn_st_to_f32(const struct clcnn_st_entry *e, float *dst, char *err, size_t errlen);

/*
 * 1 when some element of e converts (as clcnn_st_to_f32 does) to NaN or +-inf, with the index and
 * value of the first one in *index and *value (each may be NULL); 0 when all are finite and for
 * an entry whose byte size disagrees with its dtype. Loaders refuse weights that are not finite.
 */
int clcnn_st_find_nonfinite(const struct clcnn_st_entry *e, size_t *index, float *value);

struct clcnn_st_writer;

int clcnn_st_writer_new(struct clcnn_st_writer **out);
void clcnn_st_writer_free(struct clcnn_st_writer *w);
/*
 * Append a tensor. name and shape are copied; data (count * dtype size bytes of little-endian host
 * values, i.e. the host's own float/int64_t arrays) is BORROWED: it must stay valid and unchanged
 * until clcnn_st_write returns. dtype is any known dtype (normally "F32" or "I64"); ndim 0..8.
 * Tensors are written in the order added. A duplicate name, "__metadata__", an unknown dtype or
 * a negative dim is CLCNN_ERR_INVALID.
 */
int clcnn_st_writer_add(struct clcnn_st_writer *w, const char *name, const char *dtype, int ndim, const int64_t *shape,
			const void *data, char *err, size_t errlen);
/* Set a "__metadata__" string (both copied); setting a key again replaces its value. */
int clcnn_st_writer_meta(struct clcnn_st_writer *w, const char *key, const char *value, char *err, size_t errlen);
/*
 * Write the file atomically: a temporary file in the same directory is written, flushed, fsynced
 * and renamed over path. On any failure path is untouched and the temporary removed. The header
 * is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
 */
int clcnn_st_write(const struct clcnn_st_writer *w, const char *path, char *err, size_t errlen);

/* -------------------------------------------------------------------- IDX */

#define CLCNN_IDX_MAX_DIMS 4

/* An IDX array of uint8 (the only element type the MNIST family uses). */
struct clcnn_idx {
	int ndim;
	int dims[CLCNN_IDX_MAX_DIMS];
	uint8_t *data; /* count bytes, row-major, heap (clcnn_idx_free) */
	size_t count;  /* product of dims */
};

/*
 * Read an IDX file, gzip-compressed or plain (detected from the content), with magic 0x000008DD
 * (uint8, DD = 1..4 dims). Every dim must be > 0 and the data must be exactly the declared size:
 * a short file and trailing bytes are CLCNN_ERR_FORMAT, so is a corrupt gzip stream. On failure
 * *out is zeroed. clcnn_idx_free accepts a zeroed or half-filled struct.
 */
int clcnn_idx_read(const char *path, struct clcnn_idx *out, char *err, size_t errlen);
void clcnn_idx_free(struct clcnn_idx *idx);

/*
 * Read a dataset split: images (magic 0x00000803: N x H x W) and labels (0x00000801: N), with the
 * same N in both and every label < num_classes. On failure both outputs are zeroed.
 */
int clcnn_idx_load_pair(const char *images, const char *labels, int num_classes, struct clcnn_idx *images_out,
			struct clcnn_idx *labels_out, char *err, size_t errlen);

/*
 * An IDX array for reading sample by sample (data sources): a plain file is memory-mapped and data
 * points past its header; a gzip file is inflated into memory once (a.data). Checked as
 * clcnn_idx_read does, with the same messages. On failure *out is zeroed; clcnn_idx_unmap accepts a
 * zeroed struct.
 */
struct clcnn_idx_view {
	struct clcnn_idx a;  /* ndim, dims and count; a.data is NULL for a mapped file */
	const uint8_t *data; /* a.count bytes */
	const void *map;     /* the mapping of a plain file, maplen bytes */
	size_t maplen;
};
/* want_ndim 0 accepts 1..4 dims, otherwise the magic must be 0x000008<want_ndim> (what: "images"). */
int clcnn_idx_map(const char *path, int want_ndim, const char *what, struct clcnn_idx_view *out, char *err,
		  size_t errlen);
void clcnn_idx_unmap(struct clcnn_idx_view *v);

/* ----------------------------------------------------------------- images */

/* clcnn_image_load is public: clcnn/data.h. */

/* ------------------------------------------------------------------- plot */

/*
 * Draw a training-curve PNG: a train-loss panel above a test-accuracy panel sharing the epoch
 * axis, with ticks, labels, a title and legends. epoch may be NULL (1..n is used); train_loss and
 * test_acc may be NULL or contain NAN for missing points (lines break there). Accuracy is drawn
 * in whatever unit it is given (fraction or percent); both y axes are scaled to the data.
 * Written atomically (temporary file + rename).
 */
int clcnn_plot_curves(const char *path, int n, const double *epoch, const double *train_loss, const double *test_acc,
		      const char *title, char *err, size_t errlen);

/*
 * The same frame for any curves: panels stacked on one x axis (labelled xlabel), each with its y
 * label and up to 8 series (label, n points x, y; NAN breaks a line), colored in matplotlib's order
 * and named in one legend per panel. Written atomically. CLCNN_ERR_INVALID for no panel, more than 4
 * panels or 8 series in one.
 */
struct clcnn_plot_series {
	const char *label;
	int n;
	const double *x, *y;
};
struct clcnn_plot_panel {
	const char *ylabel;
	int nseries;
	const struct clcnn_plot_series *series;
};
int clcnn_plot_panels(const char *path, const char *title, const char *xlabel, int npanels,
		      const struct clcnn_plot_panel *panels, char *err, size_t errlen);

/* ------------------------------------------------ shared helpers (io-util.c) */

#if defined(__GNUC__)
#define CLCNN_IO_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLCNN_IO_PRINTF(a, b)
#endif

/* Format a message into err (if non-NULL) and return status. */
int clcnn_io_fail(char *err, size_t errlen, int status, const char *fmt, ...) CLCNN_IO_PRINTF(4, 5);

/*
 * Atomic file replacement: begin creates "<dir>/.<base>.tmp-<pid>-<n>" beside path (mode 0666
 * minus umask), after removing such files of writers that no longer run (left by a kill); write
 * into f; commit flushes, fsyncs, closes and renames over path; abort closes and removes the
 * temporary. commit aborts by itself on failure. Both accept a state whose begin failed.
 */
struct clcnn_io_atomic {
	FILE *f;
	char *tmp;
	const char *path;
};
int clcnn_io_atomic_begin(struct clcnn_io_atomic *a, const char *path, char *err, size_t errlen);
int clcnn_io_atomic_commit(struct clcnn_io_atomic *a, char *err, size_t errlen);
void clcnn_io_atomic_abort(struct clcnn_io_atomic *a);

#endif
