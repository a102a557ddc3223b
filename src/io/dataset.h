/*
 * Image classification datasets in memory (IDX files, the MNIST family) and the augmentations the
 * trainer applies per batch. Pure C, no OpenCL; the RNG is the caller's so runs are reproducible.
 */
#ifndef CLCNN_DATASET_H
#define CLCNN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "clcnn/data.h"

/* struct clcnn_dataset, clcnn_dataset_load/_free/_gather/_shuffle and clcnn_image_load: clcnn/data.h */

/* Fashion-MNIST class names (10). */
extern const char *const clcnn_fashion_mnist_classes[10];

/* struct clcnn_augment and clcnn_augment_parse: clcnn/data.h */

/* splitmix64 step: uniform 64-bit value; the trainer's RNG state advances. */
uint64_t clcnn_rng_next(uint64_t *state);
double clcnn_rng_uniform(uint64_t *state);

/* Augment n images (c x h x w, in place); tmp holds c*h*w floats. */
void clcnn_augment_batch(const struct clcnn_augment *a, float *images, int n, int c, int h, int w, float *tmp,
			 uint64_t *rng);

/* clcnn_dataset_shuffle under its first name, for the existing callers. */
void clcnn_shuffle(int *perm, int n, uint64_t *rng);

#endif
