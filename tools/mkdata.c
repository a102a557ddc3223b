/*
 * clcnn-mkdata: small datasets whose classes a small model can learn, for tests and demos, written
 * in each format clcnn reads. Deterministic for a seed (splitmix64, no libc rand).
 *
 *   clcnn-mkdata imagefolder DIR [--classes K] [--per-class N] [--size S] [--seed X]
 *   clcnn-mkdata cifar10 DIR [--per-batch N] [--seed X]
 *   clcnn-mkdata csv FILE [--rows N] [--features F] [--classes K] [--seed X]
 *
 * Images: class k has a dominant color of its own plus noise, and stripes of its own orientation,
 * so that both a color model and a gray one can tell the classes apart.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "io/image.h"

struct opts {
	int classes, per_class, size, per_batch, rows, features;
	uint64_t seed;
};

static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
	return (double)(next(s) >> 11) / 9007199254740992.0;
}

static double gauss(uint64_t *s)
{
	double u = uniform(s), v = uniform(s);
	return sqrt(-2.0 * log(u > 1e-300 ? u : 1e-300)) * cos(6.283185307179586 * v);
}

static unsigned char clamp8(double v)
{
	return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

/* Distinct colors, and names that sort in the same order (folder order = label order). */
static const unsigned char palette[10][3] = {
	{220, 40, 40},  {40, 200, 60},  {40, 60, 220},  {230, 220, 40}, {210, 50, 210},
	{40, 210, 210}, {240, 140, 30}, {120, 60, 170}, {130, 90, 40},  {200, 200, 200},
};
static const char *const cifar_names[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
					    "dog",      "frog",       "horse", "ship", "truck"};

/* One h x w RGB image (HWC) of class k: the class color, stripes along the class direction, noise. */
static void draw(unsigned char *px, int h, int w, int k, uint64_t *rng)
{
	const unsigned char *col = palette[k % 10];
	double angle = 3.141592653589793 * (k % 4) / 4, cs = cos(angle), sn = sin(angle);
	double phase = uniform(rng) * 6.28, bright = 0.85 + 0.3 * uniform(rng);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double stripe = 0.75 + 0.25 * sin((x * cs + y * sn) * 6.28 / 4.0 + phase);
			for (int c = 0; c < 3; c++)
				px[(y * w + x) * 3 + c] = clamp8(col[c] * bright * stripe + 18.0 * gauss(rng));
		}
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0777) && errno != EEXIST) {
		fprintf(stderr, "clcnn-mkdata: %s: cannot create: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "clcnn-mkdata: %s: cannot write: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return 0;
}

static int write_jpeg(const char *path, const unsigned char *px, int h, int w)
{
	tjhandle tj = tjInitCompress();
	unsigned char *jpg = NULL;
	unsigned long size = 0;
	int rc = -1;
	if (!tj || tjCompress2(tj, px, w, 0, h, TJPF_RGB, &jpg, &size, TJSAMP_420, 92, 0))
		fprintf(stderr, "clcnn-mkdata: %s: %s\n", path, tjGetErrorStr2(tj));
	else
		rc = write_file(path, jpg, size);
	tjFree(jpg);
	if (tj)
		tjDestroy(tj);
	return rc;
}

static int write_png(const char *path, int c, const unsigned char *px, int h, int w)
{
	char err[4096];
	if (clcnn_image_write_png(path, c, h, w, px, err, sizeof err)) {
		fprintf(stderr, "clcnn-mkdata: %s\n", err);
		return -1;
	}
	return 0;
}

static void class_name(char *out, size_t n, int k)
{
	static const char *const names[10] = {"a-red",  "b-green",  "c-blue",   "d-yellow", "e-magenta",
					      "f-cyan", "g-orange", "h-purple", "i-brown",  "j-gray"};
	if (k < 10)
		snprintf(out, n, "%s", names[k]);
	else
		snprintf(out, n, "k%02d", k);
}

/*
 * DIR/{train,test}/<class>/img-NNN.{png,jpg}: even indices PNG, odd JPEG; test gets half as many.
 * Odd ones in train: class 0 has a larger image in a sub-folder (recursion, resizing) and a text
 * file (ignored); class 1 has a gray PNG (channel conversion).
 */
static int imagefolder(const char *dir, const struct opts *o)
{
	int S = o->size, rc = 0;
	uint64_t rng = o->seed;
	unsigned char *px = malloc((size_t)(S + 8) * (size_t)(S + 8) * 3);
	char path[4096], cls[64];
	if (!px || make_dir(dir)) {
		free(px);
		return -1;
	}
	for (int split = 0; !rc && split < 2; split++) {
		const char *name = split ? "test" : "train";
		int count = split ? (o->per_class + 1) / 2 : o->per_class;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		rc = make_dir(path);
		for (int k = 0; !rc && k < o->classes; k++) {
			class_name(cls, sizeof cls, k);
			snprintf(path, sizeof path, "%s/%s/%s", dir, name, cls);
			rc = make_dir(path);
			for (int i = 0; !rc && i < count; i++) {
				draw(px, S, S, k, &rng);
				snprintf(path, sizeof path, "%s/%s/%s/img-%03d.%s", dir, name, cls, i,
					 i % 2 ? "jpg" : "png");
				rc = i % 2 ? write_jpeg(path, px, S, S) : write_png(path, 3, px, S, S);
			}
		}
	}
	if (!rc) { /* the odd ones */
		class_name(cls, sizeof cls, 0);
		snprintf(path, sizeof path, "%s/train/%s/more", dir, cls);
		rc = make_dir(path);
		draw(px, S + 5, S + 3, 0, &rng);
		snprintf(path, sizeof path, "%s/train/%s/more/wide.png", dir, cls);
		if (!rc)
			rc = write_png(path, 3, px, S + 5, S + 3);
		snprintf(path, sizeof path, "%s/train/%s/notes.txt", dir, cls);
		if (!rc)
			rc = write_file(path, "not an image\n", 13);
	}
	if (!rc && o->classes > 1) {
		class_name(cls, sizeof cls, 1);
		draw(px, S, S, 1, &rng);
		for (int i = 0; i < S * S; i++) /* ITU-R 601 luma, in place: gray shrinks HWC to HW */
			px[i] = clamp8(0.299 * px[3 * i] + 0.587 * px[3 * i + 1] + 0.114 * px[3 * i + 2]);
		snprintf(path, sizeof path, "%s/train/%s/gray.png", dir, cls);
		rc = write_png(path, 1, px, S, S);
	}
	free(px);
	return rc;
}

/* CIFAR-10 binary batches: records of 1 label byte + 1024 R + 1024 G + 1024 B (32 x 32, planar). */
static int cifar10(const char *dir, const struct opts *o)
{
	uint64_t rng = o->seed;
	size_t rec = 1 + 3072, n = (size_t)o->per_batch;
	unsigned char *buf = malloc(n * rec), px[3072];
	char path[4096];
	int rc = make_dir(dir);
	static const char *const files[] = {"data_batch_1.bin", "data_batch_2.bin", "test_batch.bin"};
	for (int b = 0; buf && !rc && b < 3; b++) {
		for (size_t i = 0; i < n; i++) {
			int k = (int)(next(&rng) % 10);
			draw(px, 32, 32, k, &rng);
			unsigned char *r = buf + i * rec;
			r[0] = (unsigned char)k;
			for (int p = 0; p < 1024; p++)
				for (int c = 0; c < 3; c++)
					r[1 + c * 1024 + p] = px[p * 3 + c];
		}
		snprintf(path, sizeof path, "%s/%s", dir, files[b]);
		rc = write_file(path, buf, n * rec);
	}
	if (!rc && buf) {
		char meta[256];
		size_t len = 0;
		for (int k = 0; k < 10; k++)
			len += (size_t)snprintf(meta + len, sizeof meta - len, "%s\n", cifar_names[k]);
		snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
		rc = write_file(path, meta, len);
	}
	free(buf);
	return buf ? rc : -1;
}

/*
 * Gaussian blobs of unit variance, label last. Class k is centred 4 along axis k mod F (negative
 * for the second round of classes), plus an offset in [-0.5, 0.5]^F: classes are 4 to 5.7 apart,
 * so a nearest-mean rule classifies about 98 % of the rows (a learnable set, not a trivial one).
 */
static int csv(const char *file, const struct opts *o)
{
	uint64_t rng = o->seed;
	int F = o->features, K = o->classes;
	double *center = malloc((size_t)F * (size_t)K * sizeof *center);
	FILE *f = fopen(file, "w");
	if (!center || !f) {
		fprintf(stderr, "clcnn-mkdata: %s: cannot write: %s\n", file, strerror(errno));
		free(center);
		if (f)
			fclose(f);
		return -1;
	}
	for (int i = 0; i < F * K; i++) {
		int k = i / F, j = i % F;
		center[i] = uniform(&rng) - 0.5 + (j == k % F ? (k / F % 2 ? -4.0 : 4.0) : 0.0);
	}
	for (int j = 0; j < F; j++)
		fprintf(f, "f%d,", j);
	fprintf(f, "label\n");
	for (int r = 0; r < o->rows; r++) {
		int k = r % K;
		for (int j = 0; j < F; j++)
			fprintf(f, "%.5f,", center[k * F + j] + gauss(&rng));
		fprintf(f, "%d\n", k);
	}
	free(center);
	if (fclose(f)) {
		fprintf(stderr, "clcnn-mkdata: %s: cannot write: %s\n", file, strerror(errno));
		return -1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: clcnn-mkdata imagefolder DIR [--classes K] [--per-class N] [--size S] [--seed X]\n"
			"       clcnn-mkdata cifar10 DIR [--per-batch N] [--seed X]\n"
			"       clcnn-mkdata csv FILE [--rows N] [--features F] [--classes K] [--seed X]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o =
		{.classes = 3, .per_class = 8, .size = 16, .per_batch = 100, .rows = 200, .features = 4, .seed = 1};
	if (argc < 3)
		return usage();
	static const struct {
		const char *name;
		long min, max;
		size_t off;
	} flags[] = {
		{"--classes", 1, 100, offsetof(struct opts, classes)},
		{"--per-class", 1, 100000, offsetof(struct opts, per_class)},
		{"--size", 1, 4096, offsetof(struct opts, size)},
		{"--per-batch", 1, 100000, offsetof(struct opts, per_batch)},
		{"--rows", 1, 10000000, offsetof(struct opts, rows)},
		{"--features", 1, 100000, offsetof(struct opts, features)},
	};
	for (int i = 3; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage();
		char *end;
		long v = strtol(argv[i + 1], &end, 10);
		if (*end || end == argv[i + 1])
			return usage();
		if (!strcmp(argv[i], "--seed")) {
			o.seed = (uint64_t)v;
			continue;
		}
		size_t f = 0;
		while (f < sizeof flags / sizeof flags[0] && strcmp(argv[i], flags[f].name))
			f++;
		if (f == sizeof flags / sizeof flags[0] || v < flags[f].min || v > flags[f].max) {
			fprintf(stderr, "clcnn-mkdata: bad option %s %s\n", argv[i], argv[i + 1]);
			return 2;
		}
		*(int *)((char *)&o + flags[f].off) = (int)v;
	}
	int rc;
	if (!strcmp(argv[1], "imagefolder"))
		rc = imagefolder(argv[2], &o);
	else if (!strcmp(argv[1], "cifar10"))
		rc = cifar10(argv[2], &o);
	else if (!strcmp(argv[1], "csv"))
		rc = csv(argv[2], &o);
	else
		return usage();
	return rc ? 1 : 0;
}
