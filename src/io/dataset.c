/* IDX datasets in memory, per-sample and per-batch augmentation (flip, crop/translate, rotate, scale,
 * elastic), shuffling. */
#include "io/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "io/io.h"

const char *const clcnn_fashion_mnist_classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
						     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static void pick_path(char *buf, size_t n, const char *dir, const char *split, const char *kind)
{
	snprintf(buf, n, "%s/%s-%s.gz", dir, split, kind);
	if (access(buf, F_OK) != 0) {
		char plain[4200];
		snprintf(plain, sizeof plain, "%s/%s-%s", dir, split, kind);
		if (access(plain, F_OK) == 0)
			snprintf(buf, n, "%s", plain);
	}
}

int clcnn_dataset_load(const char *dir, const char *split, int classes, struct clcnn_dataset *out, char *err,
		       size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (access(dir, F_OK) != 0) {
		snprintf(err, errlen,
			 "%s: dataset directory does not exist (install dataset-fashion-mnist or pass --data DIR)",
			 dir);
		return CLCNN_ERR_IO;
	}
	char ip[4200], lp[4200];
	pick_path(ip, sizeof ip, dir, split, "images-idx3-ubyte");
	pick_path(lp, sizeof lp, dir, split, "labels-idx1-ubyte");
	struct clcnn_idx im, lb;
	int rc = clcnn_idx_load_pair(ip, lp, classes, &im, &lb, err, errlen);
	if (rc)
		return rc;
	if (im.ndim != 3) {
		snprintf(err, errlen, "%s: expected 3 dims (N, H, W), found %d", ip, im.ndim);
		clcnn_idx_free(&im);
		clcnn_idx_free(&lb);
		return CLCNN_ERR_FORMAT;
	}
	out->n = im.dims[0];
	out->c = 1;
	out->h = im.dims[1];
	out->w = im.dims[2];
	out->classes = classes;
	out->images = malloc(im.count * sizeof(float));
	out->labels = malloc((size_t)out->n * sizeof(float));
	if (!out->images || !out->labels) {
		clcnn_idx_free(&im);
		clcnn_idx_free(&lb);
		clcnn_dataset_free(out);
		snprintf(err, errlen, "%s: out of memory for %zu images", ip, im.count);
		return CLCNN_ERR_NO_MEMORY;
	}
	for (size_t i = 0; i < im.count; i++)
		out->images[i] = (float)im.data[i] * (1.0f / 255.0f);
	for (int i = 0; i < out->n; i++)
		out->labels[i] = (float)lb.data[i];
	clcnn_idx_free(&im);
	clcnn_idx_free(&lb);
	return 0;
}

void clcnn_dataset_free(struct clcnn_dataset *d)
{
	if (!d)
		return;
	free(d->images);
	free(d->labels);
	memset(d, 0, sizeof *d);
}

uint64_t clcnn_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

double clcnn_rng_uniform(uint64_t *state)
{
	return (double)(clcnn_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

void clcnn_dataset_shuffle(int *perm, int n, uint64_t *rng)
{
	clcnn_shuffle(perm, n, rng);
}

const char *const *clcnn_dataset_fashion_mnist_classes(void)
{
	return clcnn_fashion_mnist_classes;
}

void clcnn_shuffle(int *perm, int n, uint64_t *rng)
{
	for (int i = 0; i < n; i++)
		perm[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(clcnn_rng_next(rng) % (uint64_t)(i + 1));
		int t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

int clcnn_augment_parse(const char *text, struct clcnn_augment *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	if (!text || !*text || !strcasecmp(text, "none"))
		return 0;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", text);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		char *val = eq ? eq + 1 : NULL;
		if (eq)
			*eq = 0;
		char *end = NULL;
		double v = val ? strtod(val, &end) : 0;
		int bad_val = val && (end == val || *end || v < 0 || !isfinite(v));
		if (!strcmp(tok, "flip") && !val) {
			a->hflip = 1;
		} else if (!strcmp(tok, "translate") && !bad_val) {
			a->translate = val ? (int)v : 2;
		} else if (!strcmp(tok, "crop") && !bad_val) {
			/* CIFAR's pad-N + random crop back to the size: the same as a zero-filled shift of up to N */
			a->translate = val ? (int)v : 4;
		} else if (!strcmp(tok, "rotate") && !bad_val) {
			a->rotate = val ? v : 10;
		} else if (!strcmp(tok, "scale") && !bad_val && v < 1) {
			a->scale = val ? v : 0.1;
		} else if (!strcmp(tok, "elastic") && !bad_val) {
			a->elastic = val ? v : 1.5;
		} else {
			snprintf(err, errlen,
				 "bad augmentation '%s%s%s': expected a list of flip, crop[=PAD], translate[=PIXELS], "
				 "rotate[=DEGREES], "
				 "scale[=FRACTION<1], elastic[=PIXELS], or none",
				 tok, val ? "=" : "", val ? val : "");
			return CLCNN_ERR_INVALID;
		}
	}
	return 0;
}

/* Bilinear sample of a c-plane at (y, x) with zero outside. */
static float sample(const float *p, int h, int w, float y, float x)
{
	int y0 = (int)floorf(y), x0 = (int)floorf(x);
	float fy = y - (float)y0, fx = x - (float)x0, s = 0;
	for (int dy = 0; dy < 2; dy++)
		for (int dx = 0; dx < 2; dx++) {
			int yy = y0 + dy, xx = x0 + dx;
			if (yy < 0 || yy >= h || xx < 0 || xx >= w)
				continue;
			s += p[yy * w + xx] * (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx);
		}
	return s;
}

/* Smooth random displacement field: random values on a coarse 4x4 grid, bilinearly upsampled. */
static void elastic_field(float *dy, float *dx, int h, int w, double amp, uint64_t *rng)
{
	float gy[16], gx[16];
	for (int i = 0; i < 16; i++) {
		gy[i] = (float)(amp * (2 * clcnn_rng_uniform(rng) - 1));
		gx[i] = (float)(amp * (2 * clcnn_rng_uniform(rng) - 1));
	}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			float sy = (float)y * 3.0f / (float)(h > 1 ? h - 1 : 1),
			      sx = (float)x * 3.0f / (float)(w > 1 ? w - 1 : 1);
			dy[y * w + x] = sample(gy, 4, 4, sy, sx);
			dx[y * w + x] = sample(gx, 4, 4, sy, sx);
		}
}

/*
 * One image in place: flip, then one inverse-mapped resampling for translate, rotate, scale and
 * elastic together. copy holds one plane; fy and fx (NULL: no elastic warp) one plane each.
 */
static void augment_one(const struct clcnn_augment *a, float *img, int c, int h, int w, float *copy, float *fy,
			float *fx, uint64_t *rng)
{
	size_t plane = (size_t)h * (size_t)w;
	int geometric = a->translate || a->rotate > 0 || a->scale > 0 || a->elastic > 0;
	/* draw every random number even when a transform is off, so streams don't shift */
	int flip = a->hflip && clcnn_rng_uniform(rng) < 0.5;
	if (flip)
		for (int ch = 0; ch < c; ch++)
			for (int y = 0; y < h; y++) {
				float *row = img + (size_t)ch * plane + (size_t)y * (size_t)w;
				for (int x = 0; x < w / 2; x++) {
					float t = row[x];
					row[x] = row[w - 1 - x];
					row[w - 1 - x] = t;
				}
			}
	if (!geometric)
		return;
	int ty = a->translate ? (int)(clcnn_rng_next(rng) % (uint64_t)(2 * a->translate + 1)) - a->translate : 0;
	int tx = a->translate ? (int)(clcnn_rng_next(rng) % (uint64_t)(2 * a->translate + 1)) - a->translate : 0;
	double ang = a->rotate > 0 ? (2 * clcnn_rng_uniform(rng) - 1) * a->rotate * M_PI / 180.0 : 0;
	double sc = a->scale > 0 ? 1 + (2 * clcnn_rng_uniform(rng) - 1) * a->scale : 1;
	if (fy && fx)
		elastic_field(fy, fx, h, w, a->elastic, rng);
	/* inverse map: output pixel -> source position (rotation/zoom about the centre, then shift) */
	double ca = cos(ang) / sc, sa = sin(ang) / sc, cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
	for (int ch = 0; ch < c; ch++) {
		float *p = img + (size_t)ch * plane;
		memcpy(copy, p, plane * sizeof(float));
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				double oy = y - ty - cy, ox = x - tx - cx;
				float sy = (float)(ca * oy - sa * ox + cy), sx = (float)(sa * oy + ca * ox + cx);
				if (fy && fx) {
					sy += fy[y * w + x];
					sx += fx[y * w + x];
				}
				p[y * w + x] = sample(copy, h, w, sy, sx);
			}
	}
}

void clcnn_augment_sample(const struct clcnn_augment *a, float *img, int c, int h, int w, float *tmp, uint64_t *rng)
{
	size_t plane = (size_t)h * (size_t)w;
	int elastic = a->elastic > 0;
	augment_one(a, img, c, h, w, tmp, elastic ? tmp + plane : NULL, elastic ? tmp + 2 * plane : NULL, rng);
}

void clcnn_augment_batch(const struct clcnn_augment *a, float *images, int n, int c, int h, int w, float *tmp,
			 uint64_t *rng)
{
	size_t plane = (size_t)h * (size_t)w;
	float *fy = NULL, *fx = NULL;
	if (a->elastic > 0) {
		fy = malloc(plane * sizeof(float));
		fx = malloc(plane * sizeof(float));
	}
	for (int i = 0; i < n; i++)
		augment_one(a, images + (size_t)i * (size_t)c * plane, c, h, w, tmp, fy, fx, rng);
	free(fy);
	free(fx);
}

void clcnn_dataset_gather(const struct clcnn_dataset *d, const int *perm, int start, int count, float mean, float std,
			  float *images, float *labels)
{
	size_t per = (size_t)d->c * (size_t)d->h * (size_t)d->w;
	float inv = 1.0f / std;
	for (int i = 0; i < count; i++) {
		int src = perm ? perm[start + i] : start + i;
		const float *s = d->images + (size_t)src * per;
		float *o = images + (size_t)i * per;
		for (size_t k = 0; k < per; k++)
			o[k] = (s[k] - mean) * inv;
		labels[i] = d->labels[src];
	}
}
