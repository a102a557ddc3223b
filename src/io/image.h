/*
 * Internal image helpers of libclcnn-data: decoders of each format (image.c for PGM/PPM,
 * image-decode.c for PNG through libpng and JPEG through libjpeg-turbo), the decode + crop + resize
 * pipeline behind clcnn_image_load, and an 8-bit PNG writer for tools that export datasets.
 * Errors as in io.h: one message naming the file, a negative enum clcnn_status.
 */
#ifndef CLCNN_IMAGE_H
#define CLCNN_IMAGE_H

#include <stdint.h>
#include <stdio.h>

#include "io/io.h"

/* Output sides above this are surely a caller's mistake (and would overflow int products). */
#define CLCNN_IMAGE_MAX_SIDE 32768
/* Sizes come from the files: cap them before a decoder allocates (2^27 pixels = 11585^2). */
#define CLCNN_IMAGE_MAX_PIXELS (1ull << 27)

/* A decoded image: planar float [0, 1], c = 1 (gray files) or 3 (color files) channels. */
struct clcnn_image {
	int c, h, w;
	float *px;
};

/* Allocate im->px for c x h x w floats (sets c, h, w). */
int clcnn_image_alloc(struct clcnn_image *im, int c, int h, int w, const char *path, char *err, size_t errlen);

/* Decoders: fp is positioned at the start of the file; on failure im->px is NULL. */
int clcnn_image_decode_png(const char *path, FILE *fp, struct clcnn_image *im, char *err, size_t errlen);
int clcnn_image_decode_jpeg(const char *path, FILE *fp, struct clcnn_image *im, char *err, size_t errlen);

/* Decode any supported file at its own size and channels (format from the magic bytes). */
int clcnn_image_decode(const char *path, struct clcnn_image *im, char *err, size_t errlen);

/*
 * clcnn_image_load, and with center_crop the largest centered square cut out first (where
 * torchvision's CenterCrop(min(h, w)) cuts it) before the resize.
 */
int clcnn_image_load_crop(const char *path, int channels, int height, int width, int center_crop, float *dst, char *err,
			  size_t errlen);

/*
 * Write an 8-bit PNG of c = 1 (gray) or 3 (RGB) channels from interleaved HWC bytes (not
 * atomically: on failure the file is removed).
 */
int clcnn_image_write_png(const char *path, int c, int h, int w, const uint8_t *hwc, char *err, size_t errlen);

#endif
