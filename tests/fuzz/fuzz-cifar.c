/*
 * CIFAR data source: any byte string, as a CIFAR-10 batch, as a CIFAR-100 file (fine and coarse
 * labels) and as a class-name list beside valid batches, opens without a crash; an accepted source
 * reads every sample as 3 x 32 x 32 values in [0, 1] with a label below its class count.
 */
#include <string.h>

#include "clcnn/data.h"
#include "fuzz.h"

static void check(const char *dir, const struct clcnn_source_options *o)
{
	struct clcnn_source *s = NULL;
	char err[4096] = "";
	int rc = clcnn_source_open(dir, o, &s, err, sizeof err);
	if (rc) {
		FUZZ_ASSERT(s == NULL, "failed open left a source");
		FUZZ_ASSERT(strstr(err, dir) == err, "message does not start with the folder: %s", err);
		return;
	}
	const struct clcnn_source_info *in = clcnn_source_info(s);
	FUZZ_ASSERT(in->n > 0 && in->c == 3 && in->h == 32 && in->w == 32, "shape %d x %d x %d x %d", in->n, in->c,
		    in->h, in->w);
	for (int k = 0; in->class_names && k < in->classes; k++)
		FUZZ_ASSERT(in->class_names[k] && in->class_names[k][0], "class name %d empty", k);
	static float x[3072];
	for (int i = 0; i < in->n && i < 64; i++) {
		float label = -1;
		FUZZ_ASSERT(clcnn_source_read(s, i, x, &label, err, sizeof err) == 0, "read %d: %s", i, err);
		FUZZ_ASSERT(label >= 0 && label < (float)in->classes, "label %g of %d classes", (double)label,
			    in->classes);
		for (int k = 0; k < 3072; k++)
			FUZZ_ASSERT(x[k] >= 0.0f && x[k] <= 1.0f, "value %g", (double)x[k]);
	}
	clcnn_source_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t good10[3073], good100[3074];
	const char *path = fuzz_file(data, size);
	/* a: the input is the CIFAR-10 training batch; b: the CIFAR-100 training file */
	fuzz_dir_link("a/data_batch_1.bin", path);
	fuzz_dir_link("b/train.bin", path);
	/* c: valid files, the input is every class-name list */
	fuzz_dir_file("c/data_batch_1.bin", good10, sizeof good10);
	fuzz_dir_file("c/train.bin", good100, sizeof good100);
	fuzz_dir_link("c/batches.meta.txt", path);
	fuzz_dir_link("c/fine_label_names.txt", path);
	fuzz_dir_link("c/coarse_label_names.txt", path);
	struct clcnn_source_options ten = {.format = CLCNN_DATA_CIFAR10}, fine = {.format = CLCNN_DATA_CIFAR100},
				    coarse = {.format = CLCNN_DATA_CIFAR100, .cifar100_coarse = 1};
	char dir[256];
	snprintf(dir, sizeof dir, "%s", fuzz_dir("a"));
	check(dir, &ten);
	snprintf(dir, sizeof dir, "%s", fuzz_dir("b"));
	check(dir, &fine);
	check(dir, &coarse);
	snprintf(dir, sizeof dir, "%s", fuzz_dir("c"));
	check(dir, &ten);
	check(dir, &fine);
	check(dir, &coarse);
	return 0;
}
