/*
 * Data sources: format names and detection, the held-out split (val_split) as an index map over a
 * backend's samples, reads dispatched to the backend, and the normalisation statistics.
 */
#include "io/source.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dataset.h"
#include "io/io.h"

static const char *const format_names[] = {"auto", "idx", "imagefolder", "cifar10", "cifar100", "csv"};
#define NFORMATS ((int)(sizeof format_names / sizeof format_names[0]))

const char *clcnn_data_format_name(enum clcnn_data_format f)
{
	return (int)f >= 0 && (int)f < NFORMATS ? format_names[f] : "unknown";
}

int clcnn_data_format_parse(const char *name, enum clcnn_data_format *f, char *err, size_t errlen)
{
	for (int i = 0; i < NFORMATS; i++)
		if (!strcmp(name, format_names[i])) {
			*f = (enum clcnn_data_format)i;
			return 0;
		}
	return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
			     "unknown data format '%s': expected auto, idx, imagefolder, cifar10, cifar100 or csv",
			     name);
}

static int exists(const char *dir, const char *name, int want_dir)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

int clcnn_source_detect(const char *path, enum clcnn_data_format *f, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: no such file or directory", path);
	if (S_ISREG(st.st_mode)) {
		if (ends_with(path, ".csv") || ends_with(path, ".CSV")) {
			*f = CLCNN_DATA_CSV;
			return 0;
		}
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: a file, but not a .csv file; --data takes a CSV file or a dataset folder",
				     path);
	}
	static const struct {
		const char *name;
		int dir;
		enum clcnn_data_format f;
	} probes[] = {
		{"train-images-idx3-ubyte.gz", 0, CLCNN_DATA_IDX},
		{"train-images-idx3-ubyte", 0, CLCNN_DATA_IDX},
		{"train-images-idx4-ubyte.gz", 0, CLCNN_DATA_IDX},
		{"train-images-idx4-ubyte", 0, CLCNN_DATA_IDX},
		{"t10k-images-idx3-ubyte.gz", 0, CLCNN_DATA_IDX},
		{"t10k-images-idx3-ubyte", 0, CLCNN_DATA_IDX},
		{"t10k-images-idx4-ubyte.gz", 0, CLCNN_DATA_IDX},
		{"t10k-images-idx4-ubyte", 0, CLCNN_DATA_IDX},
		{"test-images-idx3-ubyte.gz", 0, CLCNN_DATA_IDX},
		{"test-images-idx3-ubyte", 0, CLCNN_DATA_IDX},
		{"test-images-idx4-ubyte.gz", 0, CLCNN_DATA_IDX},
		{"test-images-idx4-ubyte", 0, CLCNN_DATA_IDX},
		{"data_batch_1.bin", 0, CLCNN_DATA_CIFAR10},
		{"test_batch.bin", 0, CLCNN_DATA_CIFAR10},
		{"train.bin", 0, CLCNN_DATA_CIFAR100},
		{"test.bin", 0, CLCNN_DATA_CIFAR100},
		{"train.csv", 0, CLCNN_DATA_CSV},
		{"test.csv", 0, CLCNN_DATA_CSV},
		{"train", 1, CLCNN_DATA_IMAGEFOLDER},
		{"test", 1, CLCNN_DATA_IMAGEFOLDER},
	};
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		if (exists(path, probes[i].name, probes[i].dir)) {
			*f = probes[i].f;
			return 0;
		}
	return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
			     "%s: no dataset found: looked for IDX files (train-images-idx3-ubyte[.gz]), CIFAR "
			     "binaries (data_batch_1.bin, train.bin), CSV files (train.csv) and image folders "
			     "(train/CLASS/IMAGE.png); --format names the format",
			     path);
}

int clcnn_map_file(const char *path, struct clcnn_mapped *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: not a regular file", path);
	else if ((uintmax_t)st.st_size > SIZE_MAX)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: too large to map", path);
	else if (st.st_size > 0) { /* mmap refuses a length of 0 */
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			rc = clcnn_io_fail(err, errlen, errno == ENOMEM ? CLCNN_ERR_NO_MEMORY : CLCNN_ERR_IO,
					   "%s: cannot map: %s", path, strerror(errno));
		else {
			m->data = p;
			m->len = (size_t)st.st_size;
		}
	}
	close(fd);
	return rc;
}

void clcnn_unmap_file(struct clcnn_mapped *m)
{
	if (m->data)
		munmap((void *)m->data, m->len);
	memset(m, 0, sizeof *m);
}

/* Positions of a fixed permutation of n (seed): the first `keep` go to train, the rest to test. */
static int val_map(struct clcnn_source *s, int n, int test, double frac, uint64_t seed, char *err, size_t errlen)
{
	int held = (int)floor(n * frac + 0.5);
	if (held < 1 || held >= n)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "%s: --val-split %g of %d samples leaves an empty %s split", s->path, frac, n,
				     held < 1 ? "test" : "train");
	int *perm = malloc((size_t)n * sizeof *perm);
	if (!perm)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %d indices", s->path, n);
	uint64_t rng = seed ^ 0x5eed5011u;
	clcnn_dataset_shuffle(perm, n, &rng);
	int keep = n - held;
	int count = test ? held : keep;
	memmove(perm, perm + (test ? keep : 0), (size_t)count * sizeof *perm);
	s->map = perm;
	s->info.n = count;
	return 0;
}

int clcnn_source_open(const char *path, const struct clcnn_source_options *opt, struct clcnn_source **out, char *err,
		      size_t errlen)
{
	*out = NULL;
	struct clcnn_source_options o = {0};
	if (opt)
		o = *opt;
	const char *split = o.split ? o.split : "train";
	int test;
	if (!strcmp(split, "train"))
		test = 0;
	else if (!strcmp(split, "test") || !strcmp(split, "t10k"))
		test = 1;
	else
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "unknown split '%s': expected train or test",
				     split);
	if (o.val_split < 0 || o.val_split >= 1)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "--val-split %g: expected a fraction in (0, 1)",
				     o.val_split);
	enum clcnn_data_format f = o.format;
	int rc;
	if (f == CLCNN_DATA_AUTO && (rc = clcnn_source_detect(path, &f, err, errlen)))
		return rc;
	struct clcnn_source *s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
	}
	/* with val_split, both splits come from the training files */
	const char *want = o.val_split > 0 ? "train" : test ? "test" : "train";
	int missing = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		switch (f) {
		case CLCNN_DATA_IDX: rc = clcnn_source_open_idx(s, path, want, &o, &missing, err, errlen); break;
		case CLCNN_DATA_CIFAR10:
		case CLCNN_DATA_CIFAR100:
			rc = clcnn_source_open_cifar(s, path, want, f == CLCNN_DATA_CIFAR100, &o, &missing, err,
						     errlen);
			break;
		case CLCNN_DATA_CSV: rc = clcnn_source_open_csv(s, path, want, &o, &missing, err, errlen); break;
		case CLCNN_DATA_IMAGEFOLDER:
			rc = clcnn_source_open_folder(s, path, want, &o, &missing, err, errlen);
			break;
		default: rc = clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: bad data format %d", path, (int)f);
		}
		if (!(rc && missing && test && attempt == 0))
			break;
		/* no test split: without --val-split, say so; otherwise this cannot happen (want is train) */
		char miss[2048];
		snprintf(miss, sizeof miss, "%s", err ? err : "");
		rc = clcnn_io_fail(
			err, errlen, rc,
			"%s (the dataset has no test split; --val-split F holds out a fraction of the training split)",
			miss);
		break;
	}
	if (rc) {
		free(s->path);
		free(s);
		return rc;
	}
	s->info.format = f;
	if (o.val_split > 0 && (rc = val_map(s, s->info.n, test, o.val_split, o.val_seed, err, errlen))) {
		clcnn_source_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void clcnn_source_close(struct clcnn_source *s)
{
	if (!s)
		return;
	if (s->close)
		s->close(s);
	free(s->map);
	free(s->path);
	free(s);
}

const struct clcnn_source_info *clcnn_source_info(const struct clcnn_source *s)
{
	return &s->info;
}

int clcnn_source_read(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen)
{
	if (i < 0 || i >= s->info.n)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: sample %d out of range (%d samples)", s->path,
				     i, s->info.n);
	return s->read(s, s->map ? s->map[i] : i, dst, label, err, errlen);
}

int clcnn_source_stats(struct clcnn_source *s, int max_samples, struct clcnn_normalize *out, char *err, size_t errlen)
{
	const struct clcnn_source_info *in = &s->info;
	int n = max_samples > 0 && max_samples < in->n ? max_samples : in->n;
	int C = in->c;
	size_t plane = (size_t)in->h * (size_t)in->w;
	if (C > CLCNN_MAX_CHANNELS)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "%s: %d channels or features, more than the %d a stored normalisation holds; pass "
				     "--mean and --std with one value each",
				     s->path, C, CLCNN_MAX_CHANNELS);
	if (n < 1)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: no samples to compute statistics on",
				     s->path);
	float *x = malloc((size_t)C * plane * sizeof *x);
	double *sum = calloc((size_t)C, sizeof *sum), *sq = calloc((size_t)C, sizeof *sq);
	int *perm = malloc((size_t)in->n * sizeof *perm);
	int rc = 0;
	if (!x || !sum || !sq || !perm)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for statistics", s->path);
	if (!rc) {
		uint64_t rng = 0x57a75u;
		if (n < in->n)
			clcnn_dataset_shuffle(perm, in->n, &rng);
		else
			for (int i = 0; i < n; i++)
				perm[i] = i;
	}
	for (int k = 0; !rc && k < n; k++) {
		float label;
		if ((rc = clcnn_source_read(s, perm[k], x, &label, err, errlen)))
			break;
		for (int c = 0; c < C; c++) {
			double a = 0, b = 0; /* per sample first, then summed: less rounding than one long sum */
			for (size_t p = 0; p < plane; p++) {
				double v = x[(size_t)c * plane + p];
				a += v;
				b += v * v;
			}
			sum[c] += a;
			sq[c] += b;
		}
	}
	if (!rc) {
		double cnt = (double)n * (double)plane;
		out->channels = C;
		for (int c = 0; c < C; c++) {
			double mean = sum[c] / cnt, var = sq[c] / cnt - mean * mean;
			double sd = var > 0 ? sqrt(var) : 0;
			out->mean[c] = (float)mean;
			out->std[c] = sd > 1e-12 ? (float)sd : 1.0f;
		}
	}
	free(x);
	free(sum);
	free(sq);
	free(perm);
	return rc;
}

/* One class name per line (blank lines and spaces around names ignored). */
int clcnn_names_read(const char *p, int classes, char ***names, int *nnames, char *err, size_t errlen)
{
	struct clcnn_mapped m;
	*names = NULL;
	*nnames = 0;
	int rc = clcnn_map_file(p, &m, err, errlen);
	if (rc)
		return rc;
	/* without a count: a name and its newline take 2 bytes at least; more than 2^24 labels do not fit floats */
	size_t most = m.len / 2 + 1;
	int cap = classes > 0 ? classes : most < (1u << 24) ? (int)most : 1 << 24;
	*names = calloc((size_t)cap, sizeof **names);
	if (!(*names))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", p);
	int count = 0, lineno = 0;
	for (size_t at = 0; !rc && at < m.len;) {
		const unsigned char *line = m.data + at, *nl = memchr(line, '\n', m.len - at);
		size_t len = nl ? (size_t)(nl - line) : m.len - at;
		at += len + (nl != NULL);
		lineno++;
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;
		while (len && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			len--;
		}
		if (!len)
			continue;
		if (memchr(line, 0, len)) { /* a name must survive as a C string */
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: line %d holds a NUL byte (not a text file)", p, lineno);
			break;
		}
		if (count < cap) {
			if (!((*names)[count] = strndup((const char *)line, len)))
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", p);
			*nnames = count + 1;
		}
		count++;
	}
	if (!rc && classes > 0 && count != classes)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: %d class names, expected %d (one per line)", p,
				   count, classes);
	if (!rc && classes <= 0 && (count < 1 || count > cap))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: %s class names (one per line)", p,
				   count < 1 ? "no" : "too many");
	clcnn_unmap_file(&m);
	return rc;
}
