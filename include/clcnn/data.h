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

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------- images */

/**
 * Decode a PNG (8 bits per channel; alpha is dropped like PIL's convert("RGB")) or a PGM/PPM
 * (P2, P5, P3, P6, maxval 1..65535) into floats in [0, 1], planar CHW, with `channels` 1 (ITU-R 601
 * luma 0.299 R + 0.587 G + 0.114 B for color files) or 3 (gray replicated), resized to height x width
 * by bilinear interpolation on half-pixel centers, as PyTorch's F.interpolate(mode="bilinear",
 * align_corners=False, antialias=False). dst (caller's) holds channels * height * width floats.
 * Sides above 32768 and files of more than 2^27 pixels are refused.
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

/** The ten Fashion-MNIST class names, index = label ("T-shirt/top", ..., "Ankle boot"). */
CLCNN_API const char *const *clcnn_dataset_fashion_mnist_classes(void);

#ifdef __cplusplus
}
#endif
#endif
