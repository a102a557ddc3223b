/*
 * CSV data source: any byte string opens without a crash, as one CSV file (label column default,
 * "0" and "label"), and as train.csv + test.csv of a folder when it holds a form feed (train before
 * it, test after). An accepted source reads every sample as finite features with a label below its
 * class count, names every class when labels are strings, and both splits agree on the classes.
 */
#include <math.h>
#include <string.h>

#include "clcnn/data.h"
#include "fuzz.h"

/* Open and read everything; the class count of an accepted source (and whether it names them), or -1. */
static int check(const char *path, const struct clcnn_source_options *o, int *named)
{
	struct clcnn_source *s = NULL;
	char err[4096] = "";
	int rc = clcnn_source_open(path, o, &s, err, sizeof err);
	if (rc) {
		FUZZ_ASSERT(s == NULL, "failed open left a source");
		FUZZ_ASSERT(err[0], "error without a message");
		return -1;
	}
	const struct clcnn_source_info *in = clcnn_source_info(s);
	FUZZ_ASSERT(in->n > 0 && in->c > 0 && in->nd == 1 && in->h == 1 && in->w == 1, "shape n %d c %d", in->n, in->c);
	FUZZ_ASSERT(in->classes > 0, "classes %d", in->classes);
	for (int k = 0; in->class_names && k < in->classes; k++) {
		FUZZ_ASSERT(in->class_names[k] != NULL, "class name %d missing", k);
		FUZZ_ASSERT(k == 0 || strcmp(in->class_names[k - 1], in->class_names[k]) <= 0, "names not sorted");
	}
	float *x = malloc((size_t)in->c * sizeof *x);
	FUZZ_ASSERT(x != NULL, "out of memory");
	for (int i = 0; i < in->n && i < 256; i++) {
		float label = -1;
		FUZZ_ASSERT(clcnn_source_read(s, i, x, &label, err, sizeof err) == 0, "read %d: %s", i, err);
		FUZZ_ASSERT(label >= 0 && label < (float)in->classes, "label %g of %d classes", (double)label,
			    in->classes);
		for (int k = 0; k < in->c; k++)
			FUZZ_ASSERT(isfinite(x[k]), "feature %d of row %d is %g", k, i, (double)x[k]);
	}
	free(x);
	struct clcnn_normalize nz;
	clcnn_source_stats(s, 16, &nz, err, sizeof err);
	int classes = in->classes;
	if (named)
		*named = in->class_names != NULL;
	clcnn_source_close(s);
	return classes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	const char *labels[3] = {NULL, "0", "label"};
	for (int k = 0; k < 3; k++) {
		struct clcnn_source_options o = {.format = CLCNN_DATA_CSV, .label_column = labels[k]};
		check(path, &o, NULL);
	}
	struct clcnn_source_options v = {.format = CLCNN_DATA_CSV, .val_split = 0.5, .split = "test"};
	check(path, &v, NULL);
	const uint8_t *ff = memchr(data, '\f', size);
	if (!ff)
		return 0;
	size_t split = (size_t)(ff - data);
	fuzz_dir_link("csv/train.csv", path);
	fuzz_dir_link("csv/test.csv", fuzz_file2(ff + 1, size - split - 1));
	fuzz_file(data, split); /* train.csv: the bytes before the form feed */
	char dir[256];
	snprintf(dir, sizeof dir, "%s", fuzz_dir("csv"));
	int n1 = 0, n2 = 0;
	int c1 = check(dir, &(struct clcnn_source_options){.format = CLCNN_DATA_CSV}, &n1);
	int c2 = check(dir, &(struct clcnn_source_options){.format = CLCNN_DATA_CSV, .split = "test"}, &n2);
	if (c1 > 0 && c2 > 0)
		FUZZ_ASSERT(c1 == c2 && n1 == n2, "splits disagree: %d and %d classes", c1, c2);
	return 0;
}
