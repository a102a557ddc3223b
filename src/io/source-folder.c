/*
 * Image folders in torchvision's ImageFolder layout: PATH/<split>/<class>/.../<file> with files
 * ending in .png .jpg .jpeg .ppm .pgm (any case). As torchvision:
 *  - classes are the sub-folders, sorted by name (byte order, as Python sorts str), label = rank;
 *  - a class's files are found recursively and ordered as sorted(os.walk(...)) visits them: by
 *    folder path, then by file name within a folder; other files are ignored;
 *  - a class folder without any image is an error ("Found no valid file for the classes ...").
 * Unlike torchvision, hidden entries (".ipynb_checkpoints", ".DS_Store") are skipped, and the
 * classes always come from the train folder, so that labels of the train and test splits agree;
 * a test class folder that train lacks is an error.
 *
 * Samples are decoded at read time (the file list is all that is held), so a read touches no
 * shared mutable state and sources of any size open at once.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/image.h"
#include "io/source.h"

struct folder {
	char **files; /* n paths, class after class */
	int *labels;  /* n labels */
	int n, cap;
	char **classes; /* nclasses folder names, sorted */
	int nclasses;
	int c, h, w, center_crop;
};

/* "a/b" in a fresh allocation (NULL when out of memory). */
static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);
	if (p) {
		memcpy(p, a, la);
		p[la] = '/';
		memcpy(p + la + 1, b, lb + 1);
	}
	return p;
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode); /* follows links, as os.walk(followlinks=True) */
}

static int has_image_ext(const char *name)
{
	static const char *const exts[] = {".png", ".jpg", ".jpeg", ".ppm", ".pgm"};
	size_t n = strlen(name);
	for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
		size_t k = strlen(exts[e]);
		if (n > k && !strcasecmp(name + n - k, exts[e]))
			return 1;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The order of sorted(os.walk(...)) then sorted(files): by folder path, then by name in a folder. */
static int cmp_walk(const void *pa, const void *pb)
{
	const char *a = *(char *const *)pa, *b = *(char *const *)pb;
	size_t da = (size_t)(strrchr(a, '/') - a), db = (size_t)(strrchr(b, '/') - b);
	int r = memcmp(a, b, da < db ? da : db);
	if (r)
		return r;
	if (da != db)
		return da < db ? -1 : 1;
	return strcmp(a + da + 1, b + db + 1);
}

/* The non-hidden entries of dir (folders only when dirs_only), sorted; *names freed by free_names. */
static int list_dir(const char *dir, int dirs_only, char ***names, int *count, char *err, size_t errlen)
{
	*names = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
	int cap = 0, rc = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (dirs_only) {
			char *p = join(dir, e->d_name);
			int keep = p && is_dir(p);
			free(p);
			if (!keep)
				continue;
		}
		if (*count == cap) {
			int ncap = cap ? 2 * cap : 16;
			char **g = cap < INT_MAX / 2 ? realloc(*names, (size_t)ncap * sizeof *g) : NULL;
			if (!g) {
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory listing", dir);
				break;
			}
			*names = g;
			cap = ncap;
		}
		if (!((*names)[*count] = strdup(e->d_name))) {
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory listing", dir);
			break;
		}
		(*count)++;
		errno = 0;
	}
	if (!rc && errno)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot read folder: %s", dir, strerror(errno));
	closedir(d);
	if (!rc && *count > 1)
		qsort(*names, (size_t)*count, sizeof **names, cmp_name);
	return rc;
}

static void free_names(char **names, int count)
{
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static int add_file(struct folder *f, char *path, int label, char *err, size_t errlen)
{
	if (f->n == f->cap) {
		if (f->cap >= INT_MAX / 2) {
			int rc = clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: more than %d images", path,
					       INT_MAX / 2);
			free(path);
			return rc;
		}
		int ncap = f->cap ? 2 * f->cap : 64;
		char **files = realloc(f->files, (size_t)ncap * sizeof *files);
		if (files)
			f->files = files;
		int *labels = files ? realloc(f->labels, (size_t)ncap * sizeof *labels) : NULL;
		if (!labels) {
			int rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for the file list",
					       path);
			free(path);
			return rc;
		}
		f->labels = labels;
		f->cap = ncap;
	}
	f->files[f->n] = path;
	f->labels[f->n++] = label;
	return 0;
}

/* The folders being walked, to skip a link back to one of them (a cycle os.walk would follow). */
struct ancestors {
	dev_t dev[64];
	ino_t ino[64];
	int n;
};

/* Every image file under dir, recursively, appended with label. */
static int walk(struct folder *f, const char *dir, int label, struct ancestors *up, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: %s", dir, strerror(errno));
	for (int i = 0; i < up->n; i++)
		if (up->dev[i] == st.st_dev && up->ino[i] == st.st_ino)
			return 0;
	if (up->n == (int)(sizeof up->dev / sizeof up->dev[0]))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: folders nested more than %d deep", dir,
				     up->n);
	up->dev[up->n] = st.st_dev;
	up->ino[up->n++] = st.st_ino;
	char **names;
	int count;
	int rc = list_dir(dir, 0, &names, &count, err, errlen);
	for (int i = 0; !rc && i < count; i++) {
		char *p = join(dir, names[i]);
		struct stat ps;
		/* a broken link is kept (its read names it); a FIFO or device would block or never end */
		int found = p && stat(p, &ps) == 0;
		if (!p) {
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", dir);
		} else if (found && S_ISDIR(ps.st_mode)) {
			rc = walk(f, p, label, up, err, errlen);
			free(p);
		} else if (has_image_ext(names[i]) && (!found || S_ISREG(ps.st_mode))) {
			rc = add_file(f, p, label, err, errlen);
		} else {
			free(p);
		}
	}
	free_names(names, count);
	up->n--;
	return rc;
}

static int class_index(const struct folder *f, const char *name)
{
	char *const *hit = bsearch(&name, f->classes, (size_t)f->nclasses, sizeof *f->classes, cmp_name);
	return hit ? (int)(hit - f->classes) : -1;
}

static void folder_free(struct folder *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		free(f->files[i]);
	free(f->files);
	free(f->labels);
	free_names(f->classes, f->nclasses);
	free(f);
}

static void folder_close(struct clcnn_source *s)
{
	folder_free(s->impl);
	s->impl = NULL;
}

static int folder_read(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen)
{
	const struct folder *f = s->impl;
	*label = (float)f->labels[i];
	return clcnn_image_load_crop(f->files[i], f->c, f->h, f->w, f->center_crop, dst, err, errlen);
}

/* Classes of the train folder, then the files of each class folder of split_dir. */
static int scan(struct folder *f, const char *path, const char *train_dir, const char *split_dir, char *err,
		size_t errlen)
{
	int rc = list_dir(train_dir, 1, &f->classes, &f->nclasses, err, errlen);
	if (rc)
		return rc;
	if (!f->nclasses)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: no class folders (expected %s/CLASS/IMAGE.png, one folder per class)",
				     train_dir, train_dir);
	char **present;
	int npresent;
	if ((rc = list_dir(split_dir, 1, &present, &npresent, err, errlen)))
		return rc;
	for (int k = 0; !rc && k < npresent; k++) {
		char *dir = join(split_dir, present[k]);
		int label = class_index(f, present[k]);
		int before = f->n;
		if (!dir) {
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
		} else if (label < 0) {
			rc = clcnn_io_fail(
				err, errlen, CLCNN_ERR_FORMAT,
				"%s: class folder '%s' is not in %s (the classes come from the train folder)", dir,
				present[k], train_dir);
		} else {
			struct ancestors up = {.n = 0};
			rc = walk(f, dir, label, &up, err, errlen);
			if (!rc && f->n == before)
				rc = clcnn_io_fail(
					err, errlen, CLCNN_ERR_FORMAT,
					"%s: no image files (.png .jpg .jpeg .ppm .pgm) in class folder '%s'", dir,
					present[k]);
			if (!rc && f->n - before > 1)
				qsort(f->files + before, (size_t)(f->n - before), sizeof *f->files, cmp_walk);
		}
		free(dir);
	}
	free_names(present, npresent);
	if (!rc && !f->n)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: no class folders with images", split_dir);
	return rc;
}

/* Fill the sizes left at 0 from the first image of the train split. */
static int shape_from(struct folder *f, const char *path, const char *train_dir, const char *split_dir, char *err,
		      size_t errlen)
{
	const char *first = f->files[0];
	struct folder t = {0};
	int rc = 0;
	if (strcmp(train_dir, split_dir)) {
		char *dir = join(train_dir, f->classes[0]);
		struct ancestors up = {.n = 0};
		rc = dir ? walk(&t, dir, 0, &up, err, errlen)
			 : clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
		free(dir);
		if (!rc && !t.n)
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s/%s: no image files (.png .jpg .jpeg .ppm .pgm) in class folder '%s'",
					   train_dir, f->classes[0], f->classes[0]);
		if (!rc && t.n > 1)
			qsort(t.files, (size_t)t.n, sizeof *t.files, cmp_walk);
		first = t.n ? t.files[0] : NULL;
	}
	struct clcnn_image im;
	if (!rc && !(rc = clcnn_image_decode(first, &im, err, errlen))) {
		free(im.px);
		int side = im.h < im.w ? im.h : im.w;
		if (!f->c)
			f->c = im.c;
		if (!f->h)
			f->h = f->center_crop ? side : im.h;
		if (!f->w)
			f->w = f->center_crop ? side : im.w;
	}
	for (int i = 0; i < t.n; i++)
		free(t.files[i]);
	free(t.files);
	free(t.labels);
	return rc;
}

int clcnn_source_open_folder(struct clcnn_source *s, const char *path, const char *split,
			     const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen)
{
	*missing_split = 0;
	char *train_dir = join(path, "train"), *split_dir = join(path, split);
	struct folder *f = calloc(1, sizeof *f);
	int rc = 0;
	if (!train_dir || !split_dir || !f) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
		goto out;
	}
	if (!is_dir(split_dir)) {
		*missing_split = strcmp(split, "train") != 0 && is_dir(train_dir);
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: no such folder (expected %s/CLASS/IMAGE.png)",
				   split_dir, split_dir);
		goto out;
	}
	if (!is_dir(train_dir)) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO,
				   "%s: no such folder (the classes are the folders of the train split)", train_dir);
		goto out;
	}
	if ((rc = scan(f, path, train_dir, split_dir, err, errlen)))
		goto out;

	/* the sample shape: as asked, each size left at 0 taken from the first image of the train split
	 * (not of this split: both splits must give samples of one shape) */
	f->c = o->channels;
	f->h = o->height;
	f->w = o->width;
	f->center_crop = o->center_crop;
	if ((!f->c || !f->h || !f->w) && (rc = shape_from(f, path, train_dir, split_dir, err, errlen)))
		goto out;
	if ((f->c != 1 && f->c != 3) || f->h > CLCNN_IMAGE_MAX_SIDE || f->w > CLCNN_IMAGE_MAX_SIDE || f->h < 1 ||
	    f->w < 1) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				   "%s: sample shape %dx%dx%d is not supported (1 or 3 channels, sides 1..%d)", path,
				   f->c, f->h, f->w, CLCNN_IMAGE_MAX_SIDE);
		goto out;
	}
	s->impl = f;
	s->read = folder_read;
	s->close = folder_close;
	s->info.n = f->n;
	s->info.nd = 3;
	s->info.c = f->c;
	s->info.h = f->h;
	s->info.w = f->w;
	s->info.classes = f->nclasses;
	s->info.class_names = (const char *const *)f->classes;
	s->info.layout = "files";
	f = NULL;
out:
	folder_free(f);
	free(train_dir);
	free(split_dir);
	return rc;
}
