/*
 * IDX reader, plain or gzip: any byte string is read without a crash; an accepted array holds exactly
 * the product of its dims. The first byte also picks a split of the input into an image file and a
 * label file for clcnn_idx_load_pair.
 */
#include <string.h>

#include "fuzz.h"
#include "io/io.h"

static void check_array(const struct clcnn_idx *a)
{
	size_t c = 1;
	FUZZ_ASSERT(a->ndim >= 1 && a->ndim <= CLCNN_IDX_MAX_DIMS, "ndim %d", a->ndim);
	for (int d = 0; d < a->ndim; d++) {
		FUZZ_ASSERT(a->dims[d] > 0, "dim %d is %d", d, a->dims[d]);
		c *= (size_t)a->dims[d];
	}
	FUZZ_ASSERT(c == a->count, "count %zu, dims product %zu", a->count, c);
	unsigned sum = 0;
	for (size_t i = 0; i < a->count; i++) /* every byte is readable */
		sum += a->data[i];
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024] = "";
	const char *path = fuzz_file(data, size);
	struct clcnn_idx a;
	int rc = clcnn_idx_read(path, &a, err, sizeof err);
	if (rc) {
		FUZZ_ASSERT(!a.data && !a.count && !a.ndim, "failed read left data");
		FUZZ_ASSERT(strstr(err, path) == err, "message does not start with the path: %s", err);
	} else {
		check_array(&a);
		clcnn_idx_free(&a);
	}
	if (size < 2)
		return 0;
	size_t split = 1 + (size_t)data[0] * (size - 1) / 255;
	const char *images = fuzz_file(data + 1, split - 1), *labels = fuzz_file2(data + split, size - split);
	struct clcnn_idx im, lb;
	rc = clcnn_idx_load_pair(images, labels, 1 + data[1] % 16, &im, &lb, err, sizeof err);
	if (rc) {
		FUZZ_ASSERT(!im.data && !lb.data, "failed pair left data");
		return 0;
	}
	check_array(&im);
	check_array(&lb);
	FUZZ_ASSERT(im.ndim == 3 && lb.ndim == 1 && im.dims[0] == lb.dims[0], "pair shapes");
	for (size_t i = 0; i < lb.count; i++)
		FUZZ_ASSERT(lb.data[i] < 1 + data[1] % 16, "label %u", lb.data[i]);
	clcnn_idx_free(&im);
	clcnn_idx_free(&lb);
	return 0;
}
