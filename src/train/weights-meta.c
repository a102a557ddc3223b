/*
 * What a weights file says about the model's inputs: the normalisation used in training and the
 * class names, stored as "__metadata__" strings so that a program running the model (clcnn predict,
 * examples/infer.c) feeds it the numbers it was trained on without being told them again.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "io/io.h"

int clcnn_weights_meta(const char *path, const char *key, char **value, char *err, size_t errlen)
{
	if (!path || !key || !value)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_weights_meta: NULL argument");
	*value = NULL;
	struct clcnn_st_file *f;
	int rc = clcnn_st_read(path, &f, err, errlen);
	if (rc)
		return rc;
	const char *v = clcnn_st_meta(f, key);
	if (v && !(*value = strdup(v)))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory", path);
	clcnn_st_free(f);
	return rc;
}

/* Parse up to CLCNN_MAX_CHANNELS comma-separated finite floats; the count, or -1. */
static int parse_list(const char *s, float *v)
{
	int n = 0;
	for (;;) {
		char *end;
		errno = 0;
		double x = strtod(s, &end);
		if (end == s || errno || !isfinite(x) || !isfinite((float)x) || n == CLCNN_MAX_CHANNELS)
			return -1;
		v[n++] = (float)x;
		while (*end == ' ' || *end == '\t')
			end++;
		if (!*end)
			return n;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

int clcnn_normalize_parse(const char *mean, const char *std, struct clcnn_normalize *n, char *err, size_t errlen)
{
	if (!mean || !std || !n)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_normalize_parse: NULL argument");
	struct clcnn_normalize r = {0};
	float m[CLCNN_MAX_CHANNELS], s[CLCNN_MAX_CHANNELS];
	int nm = parse_list(mean, m), ns = parse_list(std, s);
	if (nm < 0 || ns < 0)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "bad %s \"%s\": expected 1 to %d comma-separated finite numbers",
				     nm < 0 ? "mean" : "std", nm < 0 ? mean : std, CLCNN_MAX_CHANNELS);
	if (nm != ns && nm != 1 && ns != 1)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "mean has %d values and std %d: give one per channel", nm, ns);
	r.channels = nm > ns ? nm : ns;
	for (int c = 0; c < r.channels; c++) {
		r.mean[c] = m[nm == 1 ? 0 : c];
		r.std[c] = s[ns == 1 ? 0 : c];
		if (!(r.std[c] > 0))
			return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "bad std \"%s\": values must be > 0", std);
	}
	*n = r;
	return 0;
}

/* The shortest "%.Ng" that reads back as v (9 digits always do for a float). */
static int format_float(char *buf, size_t len, float v)
{
	int k = 0;
	for (int digits = 6; digits <= 9; digits++) {
		k = snprintf(buf, len, "%.*g", digits, (double)v);
		if (k < 0 || (size_t)k >= len || strtof(buf, NULL) == v)
			break;
	}
	return k;
}

static int format_list(char *buf, size_t len, const float *v, int n)
{
	size_t used = 0;
	for (int c = 0; c < n; c++) {
		if (c) {
			if (used + 1 >= len)
				return -1;
			buf[used++] = ',';
		}
		int k = format_float(buf + used, len - used, v[c]);
		if (k < 0 || (size_t)k >= len - used)
			return -1;
		used += (size_t)k;
	}
	return 0;
}

int clcnn_normalize_format(const struct clcnn_normalize *n, char *mean, char *std, size_t len)
{
	if (!n || !mean || !std || len == 0 || n->channels < 1 || n->channels > CLCNN_MAX_CHANNELS)
		return CLCNN_ERR_INVALID;
	if (format_list(mean, len, n->mean, n->channels) || format_list(std, len, n->std, n->channels))
		return CLCNN_ERR_INVALID;
	return 0;
}

int clcnn_normalize_from_weights(const char *path, struct clcnn_normalize *n, char *err, size_t errlen)
{
	if (!path || !n)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_normalize_from_weights: NULL argument");
	memset(n, 0, sizeof *n);
	struct clcnn_st_file *f;
	int rc = clcnn_st_read(path, &f, err, errlen);
	if (rc)
		return rc;
	const char *mean = clcnn_st_meta(f, CLCNN_META_MEAN), *std = clcnn_st_meta(f, CLCNN_META_STD);
	if (!mean != !std) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: metadata has '%s' but not '%s'", path,
				   mean ? CLCNN_META_MEAN : CLCNN_META_STD, mean ? CLCNN_META_STD : CLCNN_META_MEAN);
	} else if (mean) {
		char why[256];
		if (clcnn_normalize_parse(mean, std, n, why, sizeof why))
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: metadata '%s'/'%s': %s", path,
					   CLCNN_META_MEAN, CLCNN_META_STD, why);
	}
	clcnn_st_free(f);
	return rc;
}

int clcnn_normalize_apply(const struct clcnn_normalize *n, float *chw, int c, int h, int w)
{
	if (!n || (!chw && c > 0) || c < 0 || h < 0 || w < 0 || n->channels < 0 || n->channels > CLCNN_MAX_CHANNELS ||
	    (n->channels > 1 && n->channels != c))
		return CLCNN_ERR_INVALID;
	if (n->channels == 0)
		return 0;
	size_t plane = (size_t)h * (size_t)w;
	for (int ch = 0; ch < c; ch++) {
		int k = n->channels == 1 ? 0 : ch;
		/* multiply by the reciprocal as the training loop always did, so results stay bitwise */
		float mean = n->mean[k], inv = 1.0f / n->std[k];
		float *p = chw + (size_t)ch * plane;
		for (size_t i = 0; i < plane; i++)
			p[i] = (p[i] - mean) * inv;
	}
	return 0;
}

void clcnn_classes_free(char **names)
{
	/* one block: the pointer array followed by the strings */
	free(names);
}

int clcnn_classes_parse(const char *json, char ***names, int *count, char *err, size_t errlen)
{
	if (!json || !names)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_classes_parse: NULL argument");
	*names = NULL;
	if (count)
		*count = 0;
	cJSON *a = cJSON_Parse(json);
	if (!cJSON_IsArray(a)) {
		cJSON_Delete(a);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "class names are not a JSON array of strings");
	}
	int n = cJSON_GetArraySize(a);
	size_t bytes = ((size_t)n + 1) * sizeof(char *);
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsString(it)) {
			cJSON_Delete(a);
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "class names are not a JSON array of strings");
		}
		bytes += strlen(it->valuestring) + 1;
	}
	char **list = malloc(bytes);
	if (!list) {
		cJSON_Delete(a);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "out of memory for %d class names", n);
	}
	char *text = (char *)(list + n + 1);
	int i = 0;
	cJSON_ArrayForEach(it, a)
	{
		size_t len = strlen(it->valuestring) + 1;
		list[i++] = memcpy(text, it->valuestring, len);
		text += len;
	}
	list[n] = NULL;
	cJSON_Delete(a);
	*names = list;
	if (count)
		*count = n;
	return 0;
}

int clcnn_classes_format(const char *const *names, int count, char **json)
{
	if (!json || count < 0 || (!names && count > 0))
		return CLCNN_ERR_INVALID;
	*json = NULL;
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; a && i < count; i++) {
		cJSON *s = names[i] ? cJSON_CreateString(names[i]) : NULL;
		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return names[i] ? CLCNN_ERR_NO_MEMORY : CLCNN_ERR_INVALID;
		}
	}
	char *text = a ? cJSON_PrintUnformatted(a) : NULL;
	cJSON_Delete(a);
	if (!text)
		return CLCNN_ERR_NO_MEMORY;
	/* cJSON may use its own allocator: hand out a malloc'ed copy the caller can free() */
	*json = strdup(text);
	cJSON_free(text);
	return *json ? 0 : CLCNN_ERR_NO_MEMORY;
}

int clcnn_classes_from_weights(const char *path, char ***names, int *count, char *err, size_t errlen)
{
	if (!path || !names)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_classes_from_weights: NULL argument");
	*names = NULL;
	if (count)
		*count = 0;
	char *json = NULL, why[256];
	int rc = clcnn_weights_meta(path, CLCNN_META_CLASSES, &json, err, errlen);
	if (!rc && json && (rc = clcnn_classes_parse(json, names, count, why, sizeof why)))
		clcnn_io_fail(err, errlen, rc, "%s: metadata '%s': %s", path, CLCNN_META_CLASSES, why);
	free(json);
	return rc;
}
