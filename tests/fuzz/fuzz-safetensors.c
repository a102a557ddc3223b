/*
 * safetensors reader: any byte string is read without a crash; an accepted file keeps every promise
 * of io.h (entries inside the data section with the size their dtype and shape say, lookup by name,
 * conversion of every element to float, metadata strings).
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct clcnn_st_file *f = NULL;
	char err[1024] = "";
	int rc = clcnn_st_read(path, &f, err, sizeof err);
	if (rc) {
		FUZZ_ASSERT(!f, "failed read returned a file");
		FUZZ_ASSERT(rc == CLCNN_ERR_FORMAT || rc == CLCNN_ERR_NO_MEMORY || rc == CLCNN_ERR_IO, "status %d", rc);
		FUZZ_ASSERT(strstr(err, path) == err, "message does not start with the path: %s", err);
		return 0;
	}
	size_t total = 0;
	for (int i = 0; i < clcnn_st_count(f); i++) {
		const struct clcnn_st_entry *e = clcnn_st_get(f, i);
		size_t es = clcnn_st_dtype_size(e->dtype);
		FUZZ_ASSERT(es && e->nbytes == e->count * es, "entry %s: %zu bytes for %zu x %s", e->name, e->nbytes,
			    e->count, e->dtype);
		FUZZ_ASSERT(e->ndim >= 0 && e->ndim <= CLCNN_ST_MAX_DIMS, "ndim %d", e->ndim);
		size_t c = 1;
		for (int d = 0; d < e->ndim; d++) {
			FUZZ_ASSERT(e->shape[d] >= 0, "negative dim");
			c *= (size_t)e->shape[d];
		}
		FUZZ_ASSERT(c == e->count, "count %zu, shape product %zu", e->count, c);
		FUZZ_ASSERT(clcnn_st_find(f, e->name) == e, "lookup of \"%s\" finds another entry", e->name);
		/* regions do not overlap, so they add up to at most the file size */
		total += e->nbytes;
		FUZZ_ASSERT(total <= size, "entries hold %zu bytes of a %zu-byte file", total, size);
		float *x = malloc((e->count ? e->count : 1) * sizeof *x);
		if (!x)
			continue;
		FUZZ_ASSERT(clcnn_st_to_f32(e, x, err, sizeof err) == 0, "conversion failed: %s", err);
		size_t at;
		float v;
		if (clcnn_st_find_nonfinite(e, &at, &v))
			FUZZ_ASSERT(at < e->count && !isfinite(x[at]) && !isfinite(v), "non-finite index %zu", at);
		free(x);
	}
	FUZZ_ASSERT(clcnn_st_get(f, clcnn_st_count(f)) == NULL, "entry past the end");
	for (int i = 0; i < clcnn_st_meta_count(f); i++) {
		const char *k, *v;
		FUZZ_ASSERT(clcnn_st_meta_get(f, i, &k, &v) == 0, "meta %d", i);
		FUZZ_ASSERT(clcnn_st_meta(f, k) != NULL && strlen(v) < size, "meta \"%s\"", k);
	}
	clcnn_st_free(f);
	return 0;
}
