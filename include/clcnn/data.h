/*
 * Data for models: image files decoded and resized to a model's input, and image classification
 * datasets in IDX files (the MNIST family), read into memory and cut into batches.
 *
 * These functions need no device and no context. Fallible ones return 0 or a negative
 * enum clcnn_status and write one message naming the file and the problem into err (errlen bytes,
 * always NUL-terminated; err may be NULL):
 *   CLCNN_ERR_IO        the file could not be opened or read,
 *   CLCNN_ERR_FORMAT    its content is malformed,
 *   CLCNN_ERR_NO_MEMORY an allocation failed,
 *   CLCNN_ERR_INVALID   the caller passed a bad argument.
 *
 * The normalisation stored with a model (struct clcnn_normalize, clcnn_normalize_from_weights) is
 * declared in clcnn/graph.h.
 */
#ifndef CLCNN_DATA_H
#define CLCNN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "clcnn/clcnn.h"
#include "clcnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------- images */

/**
 * Decode a PNG (libpng), a JPEG (libjpeg-turbo; recognised by its content, not its name) or a
 * PGM/PPM (P2, P5, P3, P6, maxval 1..65535) into floats in [0, 1], planar CHW, with the pixels PIL's
 * Image.open(path).convert("RGB") gives: alpha dropped without compositing, palettes expanded, gray
 * of 1/2/4 bits scaled to 0..255, 16-bit samples reduced to their high byte (PIL clips 16-bit gray
 * at 255 instead). `channels` 1 gives ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B for color files,
 * 3 replicates gray files. The image is resized to height x width by bilinear interpolation on
 * half-pixel centers, as PyTorch's F.interpolate(mode="bilinear", align_corners=False,
 * antialias=False). dst (caller's) holds channels * height * width floats. Sides above 32768 and
 * files of more than 2^27 pixels are refused (before anything is decoded). CMYK JPEGs are refused.
 */
CLCNN_API int clcnn_image_load(const char *path, int channels, int height, int width, float *dst, char *err,
			       size_t errlen);

/* ------------------------------------------------------------------ datasets */

/** A dataset split in memory. */
struct clcnn_dataset {
	int n, c, h, w; /**< n images of c x h x w (c is 1 for IDX files) */
	float *images;  /**< n * c * h * w values in [0, 1], sample after sample (NCHW) */
	float *labels;  /**< n class indices, stored as floats (as graph inputs take them) */
	int classes;    /**< every label is < classes */
};

/**
 * Load "<dir>/<split>-images-idx3-ubyte[.gz]" and "<dir>/<split>-labels-idx1-ubyte[.gz]"
 * (split "train" or "t10k"), gzip-compressed or plain. The files must agree on the number of
 * samples and every label must be < classes. *out is zeroed on failure; on success it owns its
 * arrays: release them with clcnn_dataset_free.
 */
CLCNN_API int clcnn_dataset_load(const char *dir, const char *split, int classes, struct clcnn_dataset *out, char *err,
				 size_t errlen);
/** Free the arrays of d and zero it; a zeroed dataset is a no-op. */
CLCNN_API void clcnn_dataset_free(struct clcnn_dataset *d);

/**
 * Copy count samples into a batch: images perm[start + i] (or start + i when perm is NULL) for i in
 * [0, count), normalised as (x - mean) / std, into images (count * c * h * w floats) and their labels
 * into labels (count floats). The caller keeps the indices in range.
 */
CLCNN_API void clcnn_dataset_gather(const struct clcnn_dataset *d, const int *perm, int start, int count, float mean,
				    float std, float *images, float *labels);

/**
 * A uniform random permutation of 0..n-1 into perm (Fisher-Yates, splitmix64). *rng is the caller's
 * 64-bit state and advances, so the same state gives the same order (clcnn_trainer_rng keeps one
 * that checkpoints save).
 */
CLCNN_API void clcnn_dataset_shuffle(int *perm, int n, uint64_t *rng);

/* ------------------------------------------------------------------- sources */

/*
 * A data source: one split of a labelled dataset on disk, read sample by sample, so that a dataset
 * larger than memory still trains (IDX and CIFAR files and CSV are memory-mapped, image folders
 * decoded per sample; gzip'ed IDX files are inflated once into memory as bytes).
 */
enum clcnn_data_format {
	CLCNN_DATA_AUTO,        /**< detected from the path (clcnn_source_open) */
	CLCNN_DATA_IDX,         /**< DIR/{train,t10k}-{images,labels}-idx{3,4,1}-ubyte[.gz] (MNIST family) */
	CLCNN_DATA_IMAGEFOLDER, /**< DIR/{train,test}/CLASS/FILE.{png,jpg,jpeg,ppm,pgm} (torchvision ImageFolder) */
	CLCNN_DATA_CIFAR10,     /**< DIR/data_batch_{1..5}.bin, DIR/test_batch.bin: 1 label byte + 3072 */
	CLCNN_DATA_CIFAR100,    /**< DIR/train.bin, DIR/test.bin: coarse + fine label bytes + 3072 */
	CLCNN_DATA_CSV,         /**< FILE.csv, or DIR/{train,test}.csv: numeric features and a label column */
};

/** Name of a format ("auto", "idx", "imagefolder", "cifar10", "cifar100", "csv"). */
CLCNN_API const char *clcnn_data_format_name(enum clcnn_data_format f);
/** Parse a format name; CLCNN_ERR_INVALID (message listing the names) for an unknown one. */
CLCNN_API int clcnn_data_format_parse(const char *name, enum clcnn_data_format *f, char *err, size_t errlen);

/** IDX files of 4 dimensions: which one holds the channels. */
enum clcnn_data_layout {
	CLCNN_LAYOUT_AUTO, /**< NCHW when dim 1 is 1..4 and dim 3 is not, else NHWC */
	CLCNN_LAYOUT_NHWC,
	CLCNN_LAYOUT_NCHW,
};

struct clcnn_source_options {
	enum clcnn_data_format format; /**< CLCNN_DATA_AUTO: detected */
	const char *split;             /**< "train" or "test" (IDX "t10k" is accepted as "test"); NULL = "train" */
	/** Image folders: decode and resize to this (0: the size and channels of the first training
	 *  image). channels 1 turns color into luma, 3 gray into RGB. IDX and CIFAR files keep their
	 *  shape: the caller compares it with its model. */
	int channels, height, width;
	int center_crop;               /**< image folders: crop the largest centered square before resizing */
	enum clcnn_data_layout layout; /**< 4-D IDX files */
	const char *label_column;      /**< CSV: header name or 0-based index (default: the last column) */
	int cifar100_coarse;           /**< CIFAR-100: the 20 coarse labels instead of the 100 fine ones */
	/** A split held out of "train" when the dataset has no test split (or always, when > 0): the
	 *  fraction (0 < f < 1) of a fixed permutation (val_seed) that "test" gets and "train" loses. */
	double val_split;
	uint64_t val_seed;
};

/** What a source holds. A sample is c x h x w floats (a feature vector: nd 1, c features, h = w = 1). */
struct clcnn_source_info {
	enum clcnn_data_format format;
	int n;                          /**< samples in this split */
	int nd;                         /**< 3 for images (c, h, w), 1 for feature vectors (c) */
	int c, h, w;
	int classes;                    /**< labels are 0..classes-1 */
	const char *const *class_names; /**< classes names (folder names, CIFAR's, ...) or NULL */
	const char *layout;             /**< how the files store a sample: "NCHW", "NHWC", "CSV", "files" */
};

struct clcnn_source;

/**
 * Open one split of the dataset at path. Errors name the path and the problem (a missing split
 * names the file or folder looked for, a detection failure lists what was looked for).
 */
CLCNN_API int clcnn_source_open(const char *path, const struct clcnn_source_options *opt, struct clcnn_source **out,
				char *err, size_t errlen);
/** Close a source; NULL is a no-op. */
CLCNN_API void clcnn_source_close(struct clcnn_source *s);
CLCNN_API const struct clcnn_source_info *clcnn_source_info(const struct clcnn_source *s);
/**
 * Read sample i (0 <= i < n): c*h*w floats into dst (images in [0, 1], features as written) and its
 * class index into *label. Safe to call from several threads at once on one source.
 */
CLCNN_API int clcnn_source_read(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen);
/**
 * Per-channel mean and population standard deviation over the first max_samples samples of a fixed
 * permutation (max_samples <= 0: all), for images per channel, for feature vectors per feature
 * (a std of 0 is stored as 1). What clcnn train records when --mean/--std are not given.
 */
CLCNN_API int clcnn_source_stats(struct clcnn_source *s, int max_samples, struct clcnn_normalize *out, char *err,
				 size_t errlen);

/* -------------------------------------------------------------- augmentation */

/** Random augmentations of image samples (any number of channels). */
struct clcnn_augment {
	int hflip;      /**< random horizontal flip with probability 1/2 */
	int translate;  /**< random shift of up to +-translate pixels, zero fill = pad + random crop (crop=N) */
	double rotate;  /**< random rotation in degrees, uniform in [-rotate, rotate] */
	double scale;   /**< random zoom in [1 - scale, 1 + scale] */
	double elastic; /**< elastic warp amplitude in pixels (Simard 2003), 0 = off */
};

/** Parse "flip,crop=4,translate=2,rotate=10,scale=0.1,elastic=2" ("none" = all off). */
CLCNN_API int clcnn_augment_parse(const char *text, struct clcnn_augment *a, char *err, size_t errlen);

/* ------------------------------------------------------------------- loader */

/*
 * Batches prepared off the caller's thread: a small pool reads, augments and normalises the samples
 * of the next batches while the caller computes. The result depends only on the order, the seed and
 * the options, never on the number of threads: the augmentation of the sample at position p of an
 * epoch draws from an RNG keyed on (seed, p).
 */
struct clcnn_loader_options {
	int batch;                          /**< samples per batch */
	int threads;                        /**< worker threads (0: 2) */
	int prefetch;                       /**< batches prepared ahead (0: the larger of 2 and threads) */
	const struct clcnn_augment *augment; /**< NULL: none (only for image sources) */
	const struct clcnn_normalize *norm; /**< NULL: none */
};

struct clcnn_loader;

CLCNN_API int clcnn_loader_new(struct clcnn_source *s, const struct clcnn_loader_options *opt,
			       struct clcnn_loader **out, char *err, size_t errlen);
/**
 * Start a pass over count samples: order[k] is the sample at position k (NULL: 0..count-1; copied).
 * Any pass in progress is abandoned. Batches are cut at positions 0, batch, 2*batch, ...; the last one
 * may be short.
 */
CLCNN_API int clcnn_loader_start(struct clcnn_loader *l, const int *order, int count, uint64_t seed, char *err,
				 size_t errlen);
/**
 * The next batch of the pass: *images (count * c*h*w floats), *labels (count floats) valid until the
 * next call; *count 0 at the end of the pass. *waited (may be NULL) receives the seconds this call
 * blocked for data. A read error of any sample is returned here with its message.
 */
CLCNN_API int clcnn_loader_next(struct clcnn_loader *l, const float **images, const float **labels, int *count,
				double *waited, char *err, size_t errlen);
/** Stop the workers and free; NULL is a no-op. */
CLCNN_API void clcnn_loader_free(struct clcnn_loader *l);

/** The ten Fashion-MNIST class names, index = label ("T-shirt/top", ..., "Ankle boot"). */
CLCNN_API const char *const *clcnn_dataset_fashion_mnist_classes(void);

#ifdef __cplusplus
}
#endif
#endif
