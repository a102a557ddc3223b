/*
 * safetensors: u64 little-endian header length N, N bytes of JSON describing each tensor
 * (dtype, shape, data_offsets relative to the data section) plus optional "__metadata__"
 * strings, then the raw little-endian data. The reader trusts nothing in the file: every number
 * is checked against the file size before it is used.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io.h"

enum st_kind {
	K_BOOL,
	K_U8,
	K_I8,
	K_U16,
	K_I16,
	K_F16,
	K_BF16,
	K_U32,
	K_I32,
	K_F32,
	K_U64,
	K_I64,
	K_F64,
	K_E4M3,
	K_E5M2
};

struct st_dtype {
	const char *name;
	size_t size;
	enum st_kind kind;
};

static const struct st_dtype st_dtypes[] = {
	{"BOOL", 1, K_BOOL}, {"U8", 1, K_U8},     {"I8", 1, K_I8},   {"U16", 2, K_U16},      {"I16", 2, K_I16},
	{"F16", 2, K_F16},   {"BF16", 2, K_BF16}, {"U32", 4, K_U32}, {"I32", 4, K_I32},      {"F32", 4, K_F32},
	{"U64", 8, K_U64},   {"I64", 8, K_I64},   {"F64", 8, K_F64}, {"F8_E4M3", 1, K_E4M3}, {"F8_E5M2", 1, K_E5M2},
};

static const struct st_dtype *dtype_find(const char *name)
{
	for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
		if (!strcmp(st_dtypes[i].name, name))
			return &st_dtypes[i];
	return NULL;
}

size_t clcnn_st_dtype_size(const char *dtype)
{
	const struct st_dtype *d = dtype ? dtype_find(dtype) : NULL;
	return d ? d->size : 0;
}

struct clcnn_st_file {
	struct clcnn_st_entry *entries; /* header order */
	int count;
	const struct clcnn_st_entry **by_name; /* sorted by name, for duplicates and lookup */
	char **meta_keys, **meta_values;
	int meta_count;
	unsigned char *data; /* the data section */
	size_t data_size;
};

void clcnn_st_free(struct clcnn_st_file *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->count; i++)
		free(f->entries[i].name);
	for (int i = 0; i < f->meta_count; i++) {
		free(f->meta_keys[i]);
		free(f->meta_values[i]);
	}
	free(f->entries);
	free(f->by_name);
	free(f->meta_keys);
	free(f->meta_values);
	free(f->data);
	free(f);
}

int clcnn_st_count(const struct clcnn_st_file *f)
{
	return f ? f->count : 0;
}

const struct clcnn_st_entry *clcnn_st_get(const struct clcnn_st_file *f, int i)
{
	return f && i >= 0 && i < f->count ? &f->entries[i] : NULL;
}

static int cmp_entry_name(const void *a, const void *b)
{
	const struct clcnn_st_entry *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

const struct clcnn_st_entry *clcnn_st_find(const struct clcnn_st_file *f, const char *name)
{
	if (!f || !name || !f->count)
		return NULL;
	struct clcnn_st_entry key = {.name = (char *)name};
	const struct clcnn_st_entry *kp = &key;
	const struct clcnn_st_entry **hit =
		bsearch(&kp, f->by_name, (size_t)f->count, sizeof *f->by_name, cmp_entry_name);
	return hit ? *hit : NULL;
}

const char *clcnn_st_meta(const struct clcnn_st_file *f, const char *key)
{
	for (int i = 0; f && key && i < f->meta_count; i++)
		if (!strcmp(f->meta_keys[i], key))
			return f->meta_values[i];
	return NULL;
}

int clcnn_st_meta_count(const struct clcnn_st_file *f)
{
	return f ? f->meta_count : 0;
}

int clcnn_st_meta_get(const struct clcnn_st_file *f, int i, const char **key, const char **value)
{
	if (!f || i < 0 || i >= f->meta_count)
		return CLCNN_ERR_INVALID;
	if (key)
		*key = f->meta_keys[i];
	if (value)
		*value = f->meta_values[i];
	return 0;
}

/* ------------------------------------------------------------------ reader */

/* "[2, 3]" for messages; truncated silently when buf is small. */
static const char *shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
	size_t n = (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < ndim && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
	return buf;
}

/*
 * A JSON number that is a non-negative integer. cJSON stores numbers as doubles, which are exact
 * up to 2^53: beyond that two offsets could silently compare equal, so they are rejected.
 */
static int json_uint(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || d != floor(d))
		return -1;
	*out = (uint64_t)d;
	return 0;
}

static int parse_shape(const char *path, const char *name, const cJSON *js, struct clcnn_st_entry *e, char *err,
		       size_t errlen)
{
	if (!js)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: tensor \"%s\": missing \"shape\"", path, name);
	if (!cJSON_IsArray(js))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: tensor \"%s\": \"shape\" is not an array",
				     path, name);
	int ndim = cJSON_GetArraySize(js);
	if (ndim > CLCNN_ST_MAX_DIMS)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: tensor \"%s\": shape has %d dims, more than %d", path, name, ndim,
				     CLCNN_ST_MAX_DIMS);
	e->ndim = ndim;
	int i = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, js)
	{
		uint64_t v;
		if (cJSON_IsNumber(d) && d->valuedouble < 0)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "%s: tensor \"%s\": shape[%d] = %g is negative", path, name, i,
					     d->valuedouble);
		if (json_uint(d, &v))
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "%s: tensor \"%s\": shape[%d] is not an integer", path, name, i);
		e->shape[i++] = (int64_t)v;
	}
	return 0;
}

static int parse_entry(const char *path, const cJSON *js, size_t data_size, unsigned char *data,
		       struct clcnn_st_entry *e, char *err, size_t errlen)
{
	const char *name = js->string;
	char sb[256];
	if (!cJSON_IsObject(js))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: tensor \"%s\": entry is not an object", path,
				     name);
	const cJSON *jd = cJSON_GetObjectItemCaseSensitive(js, "dtype");
	if (!jd)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: tensor \"%s\": missing \"dtype\"", path, name);
	if (!cJSON_IsString(jd))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: tensor \"%s\": \"dtype\" is not a string",
				     path, name);
	const struct st_dtype *dt = dtype_find(jd->valuestring);
	if (!dt)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: tensor \"%s\": unknown dtype \"%s\"", path,
				     name, jd->valuestring);
	strcpy(e->dtype, dt->name);

	int rc = parse_shape(path, name, cJSON_GetObjectItemCaseSensitive(js, "shape"), e, err, errlen);
	if (rc)
		return rc;
	/* element count and byte size, refusing any product that does not fit size_t */
	size_t count = 1;
	for (int i = 0; i < e->ndim; i++) {
		uint64_t d = (uint64_t)e->shape[i];
		if (d && count > SIZE_MAX / d)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "%s: tensor \"%s\": shape %s has too many elements (overflow)", path, name,
					     shape_str(sb, sizeof sb, e->ndim, e->shape));
		count *= (size_t)d;
	}
	if (count > SIZE_MAX / dt->size)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: tensor \"%s\": shape %s of %s is too many bytes (overflow)", path, name,
				     shape_str(sb, sizeof sb, e->ndim, e->shape), dt->name);
	e->count = count;
	e->nbytes = count * dt->size;

	const cJSON *jo = cJSON_GetObjectItemCaseSensitive(js, "data_offsets");
	if (!jo)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: tensor \"%s\": missing \"data_offsets\"", path,
				     name);
	uint64_t begin, end;
	if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || json_uint(cJSON_GetArrayItem(jo, 0), &begin) ||
	    json_uint(cJSON_GetArrayItem(jo, 1), &end))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: tensor \"%s\": \"data_offsets\" is not an array of two non-negative integers",
				     path, name);
	if (end < begin)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: tensor \"%s\": data_offsets [%llu, %llu] end before begin", path, name,
				     (unsigned long long)begin, (unsigned long long)end);
	if (end > data_size)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: tensor \"%s\": data_offsets [%llu, %llu] outside the %zu-byte data section",
				     path, name, (unsigned long long)begin, (unsigned long long)end, data_size);
	if (end - begin != e->nbytes)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s "
				     "needs %zu",
				     path, name, (unsigned long long)begin, (unsigned long long)end,
				     (unsigned long long)(end - begin), shape_str(sb, sizeof sb, e->ndim, e->shape),
				     dt->name, e->nbytes);
	e->data = data + begin;
	e->name = strdup(name);
	if (!e->name)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a tensor name", path);
	return 0;
}

static int parse_metadata(const char *path, const cJSON *js, struct clcnn_st_file *f, char *err, size_t errlen)
{
	if (!cJSON_IsObject(js))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: \"__metadata__\" is not an object", path);
	int n = cJSON_GetArraySize(js);
	f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
	f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
	if (!f->meta_keys || !f->meta_values)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %d metadata items", path,
				     n);
	const cJSON *m;
	cJSON_ArrayForEach(m, js)
	{
		if (!cJSON_IsString(m))
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					     "%s: \"__metadata__\" value of \"%s\" is not a string", path, m->string);
		f->meta_keys[f->meta_count] = strdup(m->string);
		f->meta_values[f->meta_count] = strdup(m->valuestring);
		if (!f->meta_keys[f->meta_count] || !f->meta_values[f->meta_count]) {
			f->meta_count++; /* so that clcnn_st_free releases the half-built pair */
			return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for metadata", path);
		}
		f->meta_count++;
	}
	return 0;
}

static int cmp_entry_offset(const void *a, const void *b)
{
	const struct clcnn_st_entry *const *x = a, *const *y = b;
	const unsigned char *px = (*x)->data, *py = (*y)->data;
	if (px != py)
		return px < py ? -1 : 1;
	return (*x)->nbytes < (*y)->nbytes ? -1 : (*x)->nbytes > (*y)->nbytes;
}

/* Duplicate names and overlapping data regions, both found by sorting. */
static int check_entries(const char *path, struct clcnn_st_file *f, char *err, size_t errlen)
{
	size_t n = (size_t)f->count;
	f->by_name = malloc((n ? n : 1) * sizeof *f->by_name);
	const struct clcnn_st_entry **by_off = malloc((n ? n : 1) * sizeof *by_off);
	if (!f->by_name || !by_off) {
		free(by_off);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %zu entries", path, n);
	}
	for (size_t i = 0; i < n; i++)
		f->by_name[i] = by_off[i] = &f->entries[i];
	qsort(f->by_name, n, sizeof *f->by_name, cmp_entry_name);
	int rc = 0;
	for (size_t i = 1; i < n && !rc; i++)
		if (!strcmp(f->by_name[i - 1]->name, f->by_name[i]->name))
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: duplicate tensor name \"%s\"", path,
					   f->by_name[i]->name);
	qsort(by_off, n, sizeof *by_off, cmp_entry_offset);
	/* empty tensors occupy no bytes and cannot overlap anything */
	const struct clcnn_st_entry *last = NULL;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct clcnn_st_entry *e = by_off[i];
		if (!e->nbytes)
			continue;
		const unsigned char *b = e->data;
		if (last && b < (const unsigned char *)last->data + last->nbytes) {
			size_t lb = (size_t)((const unsigned char *)last->data - f->data);
			size_t eb = (size_t)(b - f->data);
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: data of tensors \"%s\" [%zu, %zu] and \"%s\" [%zu, %zu] overlap", path,
					   last->name, lb, lb + last->nbytes, e->name, eb, eb + e->nbytes);
		}
		if (!last || b + e->nbytes > (const unsigned char *)last->data + last->nbytes)
			last = e;
	}
	free(by_off);
	return rc;
}

static int parse_header(const char *path, const char *header, size_t n, struct clcnn_st_file *f, char *err,
			size_t errlen)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(header, n, &end, 0);
	if (!root) {
		size_t at = end && end >= header && end <= header + n ? (size_t)(end - header) : 0;
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: header is not valid JSON (error at byte %zu of %zu)", path, at, n);
	}
	int rc = 0;
	/* the reference writer pads with spaces; anything else after the value is corruption */
	for (const char *p = end; p < header + n; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: header has data after the JSON value (at byte %zu of %zu)", path,
					   (size_t)(p - header), n);
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: header is not a JSON object", path);
		goto out;
	}
	int ntensors = 0, nmeta = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, root)
	{
		if (!strcmp(it->string, "__metadata__"))
			nmeta++;
		else
			ntensors++;
	}
	if (nmeta > 1) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: duplicate \"__metadata__\"", path);
		goto out;
	}
	f->entries = calloc((size_t)ntensors + 1, sizeof *f->entries);
	if (!f->entries) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %d tensors", path,
				   ntensors);
		goto out;
	}
	cJSON_ArrayForEach(it, root)
	{
		if (!strcmp(it->string, "__metadata__"))
			rc = parse_metadata(path, it, f, err, errlen);
		else if (!(rc = parse_entry(path, it, f->data_size, f->data, &f->entries[f->count], err, errlen)))
			f->count++;
		if (rc)
			goto out;
	}
	rc = check_entries(path, f, err, errlen);
out:
	cJSON_Delete(root);
	return rc;
}

/*
 * What a file that is not safetensors looks like, from its first bytes (and its name for ONNX,
 * whose protobuf has no magic): the usual mistakes are an image, a dataset, a netfile or a PyTorch
 * checkpoint given as weights, and naming them beats a nonsensical header length. NULL: unknown.
 */
static const char *sniff(const char *path, const unsigned char *b, size_t n)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *what;
	} magics[] = {
		{"\x89PNG\r\n\x1a\n", 8, "a PNG image"},
		{"\xff\xd8\xff", 3, "a JPEG image"},
		{"GIF8", 4, "a GIF image"},
		{"\x1f\x8b", 2, "a gzip-compressed file"},
		{"PK\x03\x04", 4, "a zip archive (torch.save writes one; convert with safetensors.torch.save_file)"},
		{"\x89HDF\r\n\x1a\n", 8, "an HDF5 file"},
		{"\x93NUMPY", 6, "a NumPy .npy array"},
	};
	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
		if (n >= magics[i].len && !memcmp(b, magics[i].magic, magics[i].len))
			return magics[i].what;
	size_t pl = strlen(path);
	if (pl >= 5 && !strcasecmp(path + pl - 5, ".onnx"))
		return "an ONNX model";
	if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
		return "a Python pickle (an old torch.save file; convert with safetensors.torch.save_file)";
	if (n >= 4 && !b[0] && !b[1] && b[2] >= 0x08 && b[2] <= 0x0e && b[3] >= 1 && b[3] <= 4)
		return "an IDX file (a dataset)";
	if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && (b[2] == ' ' || b[2] == '\n' || b[2] == '\r'))
		return "a PGM/PPM image";
	int text = n > 0;
	for (size_t i = 0; i < n && text; i++)
		text = (b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t' || b[i] >= 0x80;
	if (!text)
		return NULL;
	if (memmem(b, n, "input(", 6))
		return "a clcnn netfile";
	if (b[0] == '{')
		return "bare JSON (a safetensors file starts with the JSON's length as 8 bytes)";
	return "a text file";
}

int clcnn_st_read(const char *path, struct clcnn_st_file **out, char *err, size_t errlen)
{
	if (!out || !path)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_st_read: NULL argument");
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	struct clcnn_st_file *f = NULL;
	char *header = NULL;
	int rc = 0;
	struct stat st;
	if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	unsigned char lenb[8], pre[512];
	size_t npre = fread(pre, 1, sizeof pre, fp);
	if (fseek(fp, 0, SEEK_SET)) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
		goto out;
	}
	/* a header that plausibly is one: its length fits the file and it opens a JSON object */
	uint64_t hl = 0;
	for (int i = 7; i >= 0 && npre >= 8; i--)
		hl = hl << 8 | pre[i];
	const char *looks = npre >= 9 && hl && hl <= size - 8 && pre[8] == '{' ? NULL : sniff(path, pre, npre);
	if (looks) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: not a safetensors file (it looks like %s)", path,
				   looks);
		goto out;
	}
	if (size < 8) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: file is %llu bytes, shorter than the 8-byte header length", path,
				   (unsigned long long)size);
		goto out;
	}
	if (fread(lenb, 1, 8, fp) != 8) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | lenb[i];
	if (n == 0) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: header length is 0", path);
		goto out;
	}
	if (n > size - 8) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: header length %llu is larger than the %llu bytes after it", path,
				   (unsigned long long)n, (unsigned long long)(size - 8));
		goto out;
	}
	if (n > CLCNN_ST_MAX_HEADER) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit",
				   path, (unsigned long long)n, CLCNN_ST_MAX_HEADER);
		goto out;
	}
	f = calloc(1, sizeof *f);
	header = malloc((size_t)n);
	if (!f || !header) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a %llu-byte header", path,
				   (unsigned long long)n);
		goto out;
	}
	/* size is the real size of a regular file, so allocating it is as safe as the disk is */
	if (size - 8 - n > SIZE_MAX) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: %llu bytes of data do not fit in memory",
				   path, (unsigned long long)(size - 8 - n));
		goto out;
	}
	f->data_size = (size_t)(size - 8 - n);
	f->data = malloc(f->data_size ? f->data_size : 1);
	if (!f->data) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %zu bytes of data", path,
				   f->data_size);
		goto out;
	}
	if (fread(header, 1, (size_t)n, fp) != n || fread(f->data, 1, f->data_size, fp) != f->data_size) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: read error (file changed while reading?)", path);
		goto out;
	}
	rc = parse_header(path, header, (size_t)n, f, err, errlen);
out:
	free(header);
	fclose(fp);
	if (rc)
		clcnn_st_free(f);
	else
		*out = f;
	return rc;
}

/* -------------------------------------------------------------- conversion */

/* Little-endian loads from unaligned bytes, independent of the host's byte order. */
static uint64_t load_le(const unsigned char *p, size_t size)
{
	uint64_t v = 0;
	for (size_t i = size; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static float half_to_float(uint32_t h)
{
	uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	float v;
	if (exp == 0)
		v = ldexpf((float)mant, -24); /* subnormal */
	else if (exp == 31)
		v = mant ? NAN : INFINITY;
	else
		v = ldexpf((float)(mant | 0x400), (int)exp - 25);
	return h & 0x8000 ? -v : v;
}

/* OCP FP8 E4M3 ("fn": no infinities, S.1111.111 is NaN), as torch.float8_e4m3fn. */
static float e4m3_to_float(uint32_t b)
{
	uint32_t exp = (b >> 3) & 0xf, mant = b & 7;
	float v;
	if (exp == 15 && mant == 7)
		v = NAN;
	else if (exp == 0)
		v = ldexpf((float)mant, -9);
	else
		v = ldexpf((float)(mant | 8), (int)exp - 10);
	return b & 0x80 ? -v : v;
}

/* Element p of dtype dt as a float (see clcnn_st_to_f32). */
static float convert_one(const struct st_dtype *dt, const unsigned char *p)
{
	uint64_t u = load_le(p, dt->size);
	float v;
	switch (dt->kind) {
	case K_BOOL: v = u ? 1.0f : 0.0f; break;
	case K_U8:
	case K_U16:
	case K_U32:
	case K_U64: v = (float)u; break;
	case K_I8: v = (float)(int8_t)u; break;
	case K_I16: v = (float)(int16_t)u; break;
	case K_I32: v = (float)(int32_t)u; break;
	case K_I64: v = (float)(int64_t)u; break;
	case K_F16: v = half_to_float((uint32_t)u); break;
	case K_E5M2: v = half_to_float((uint32_t)u << 8); break; /* E5M2 is the top byte of an F16 */
	case K_E4M3: v = e4m3_to_float((uint32_t)u); break;
	case K_BF16: {
		uint32_t b = (uint32_t)u << 16;
		memcpy(&v, &b, 4);
		break;
	}
	case K_F32: {
		uint32_t b = (uint32_t)u;
		memcpy(&v, &b, 4);
		break;
	}
	case K_F64:
	default: {
		double d;
		memcpy(&d, &u, 8);
		v = (float)d;
		break;
	}
	}
	return v;
}

static const struct st_dtype *entry_dtype(const struct clcnn_st_entry *e)
{
	const struct st_dtype *dt = dtype_find(e->dtype);
	return dt && e->count <= SIZE_MAX / dt->size && e->nbytes == e->count * dt->size ? dt : NULL;
}

int clcnn_st_to_f32(const struct clcnn_st_entry *e, float *dst, char *err, size_t errlen)
{
	if (!e || (!dst && e->count))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_st_to_f32: NULL argument");
	const struct st_dtype *dt = entry_dtype(e);
	if (!dt)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "tensor \"%s\": dtype %s does not match %zu bytes",
				     e->name ? e->name : "", e->dtype, e->nbytes);
	const unsigned char *p = e->data;
	for (size_t i = 0; i < e->count; i++, p += dt->size)
		dst[i] = convert_one(dt, p);
	return 0;
}

int clcnn_st_find_nonfinite(const struct clcnn_st_entry *e, size_t *index, float *value)
{
	const struct st_dtype *dt = e ? entry_dtype(e) : NULL;
	if (!dt)
		return 0;
	const unsigned char *p = e->data;
	for (size_t i = 0; i < e->count; i++, p += dt->size) {
		float v = convert_one(dt, p);
		if (!isfinite(v)) {
			if (index)
				*index = i;
			if (value)
				*value = v;
			return 1;
		}
	}
	return 0;
}
