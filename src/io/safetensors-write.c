/*
 * safetensors writer: collects tensors (borrowing their data) and metadata, then writes the
 * file in one go through a temporary file, so that an interrupted save never leaves a torn
 * checkpoint under the real name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

struct st_item {
	char *name;
	char dtype[8];
	int ndim;
	int64_t shape[CLCNN_ST_MAX_DIMS];
	size_t elsize, nbytes;
	const void *data;
};

struct clcnn_st_writer {
	struct st_item *items;
	int count, cap;
	char **keys, **values;
	int meta_count, meta_cap;
};

int clcnn_st_writer_new(struct clcnn_st_writer **out)
{
	if (!out)
		return CLCNN_ERR_INVALID;
	*out = calloc(1, sizeof **out);
	return *out ? 0 : CLCNN_ERR_NO_MEMORY;
}

void clcnn_st_writer_free(struct clcnn_st_writer *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->count; i++)
		free(w->items[i].name);
	for (int i = 0; i < w->meta_count; i++) {
		free(w->keys[i]);
		free(w->values[i]);
	}
	free(w->items);
	free(w->keys);
	free(w->values);
	free(w);
}

/*
 * The header is JSON, which readers (serde in the reference implementation) reject unless it is
 * valid UTF-8: refuse such names here rather than write a file nobody can load.
 */
static int utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		int len = *s < 0x80             ? 1
			  : (*s & 0xe0) == 0xc0 ? 2
			  : (*s & 0xf0) == 0xe0 ? 3
			  : (*s & 0xf8) == 0xf0 ? 4
						: 0;
		if (!len || (len == 2 && *s < 0xc2) || (len == 4 && *s > 0xf4))
			return 0;
		for (int i = 1; i < len; i++)
			if ((s[i] & 0xc0) != 0x80)
				return 0;
		/* overlong 3- and 4-byte forms, UTF-16 surrogates, code points above U+10FFFF */
		if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
			return 0;
		if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
			return 0;
		s += len;
	}
	return 1;
}

int clcnn_st_writer_add(struct clcnn_st_writer *w, const char *name, const char *dtype, int ndim, const int64_t *shape,
			const void *data, char *err, size_t errlen)
{
	if (!w || !name || !dtype || (ndim > 0 && !shape))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_st_writer_add: NULL argument");
	if (!*name || !strcmp(name, "__metadata__") || !utf8_valid(name))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "safetensors: invalid tensor name \"%s\" (empty, reserved or not UTF-8)", name);
	size_t elsize = clcnn_st_dtype_size(dtype);
	if (!elsize)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "safetensors: tensor \"%s\": unknown dtype \"%s\"",
				     name, dtype);
	if (ndim < 0 || ndim > CLCNN_ST_MAX_DIMS)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "safetensors: tensor \"%s\": %d dims (0..%d allowed)", name, ndim,
				     CLCNN_ST_MAX_DIMS);
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
					     "safetensors: tensor \"%s\": dim %d is negative (%lld)", name, i,
					     (long long)shape[i]);
		if (shape[i] && count > SIZE_MAX / (uint64_t)shape[i])
			return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
					     "safetensors: tensor \"%s\": too many elements (overflow)", name);
		count *= (size_t)shape[i];
	}
	if (count > SIZE_MAX / elsize)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "safetensors: tensor \"%s\": too many bytes (overflow)", name);
	if (count && !data)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "safetensors: tensor \"%s\": NULL data", name);
	for (int i = 0; i < w->count; i++)
		if (!strcmp(w->items[i].name, name))
			return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
					     "safetensors: duplicate tensor name \"%s\"", name);
	if (w->count == w->cap) {
		int nc = w->cap ? w->cap * 2 : 16;
		struct st_item *ni = realloc(w->items, (size_t)nc * sizeof *ni);
		if (!ni)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY,
					     "safetensors: out of memory for %d tensors", nc);
		w->items = ni;
		w->cap = nc;
	}
	struct st_item *it = &w->items[w->count];
	memset(it, 0, sizeof *it);
	it->name = strdup(name);
	if (!it->name)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "safetensors: out of memory for a name");
	snprintf(it->dtype, sizeof it->dtype, "%s", dtype);
	it->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		it->shape[i] = shape[i];
	it->elsize = elsize;
	it->nbytes = count * elsize;
	it->data = data;
	w->count++;
	return 0;
}

int clcnn_st_writer_meta(struct clcnn_st_writer *w, const char *key, const char *value, char *err, size_t errlen)
{
	if (!w || !key || !value)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_st_writer_meta: NULL argument");
	if (!utf8_valid(key) || !utf8_valid(value))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "safetensors: metadata \"%s\" is not valid UTF-8",
				     key);
	char *v = strdup(value);
	if (!v)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "safetensors: out of memory for metadata");
	for (int i = 0; i < w->meta_count; i++) {
		if (!strcmp(w->keys[i], key)) {
			free(w->values[i]);
			w->values[i] = v;
			return 0;
		}
	}
	if (w->meta_count == w->meta_cap) {
		int nc = w->meta_cap ? w->meta_cap * 2 : 8;
		char **nk = realloc(w->keys, (size_t)nc * sizeof *nk);
		if (nk)
			w->keys = nk;
		char **nv = nk ? realloc(w->values, (size_t)nc * sizeof *nv) : NULL;
		if (nv)
			w->values = nv;
		if (!nk || !nv) {
			free(v);
			return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY,
					     "safetensors: out of memory for metadata");
		}
		w->meta_cap = nc;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "safetensors: out of memory for metadata");
	}
	w->keys[w->meta_count] = k;
	w->values[w->meta_count] = v;
	w->meta_count++;
	return 0;
}

/* ------------------------------------------------------------------ header */

/* A growing string; after a failed allocation it stays failed and appends do nothing. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passes through. */
static void sb_json(struct sbuf *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			sb_put(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			sb_put(b, esc, 6);
		} else {
			sb_put(b, (const char *)p, 1);
		}
	}
	sb_put(b, "\"", 1);
}

static void sb_u64(struct sbuf *b, unsigned long long v)
{
	char num[32];
	snprintf(num, sizeof num, "%llu", v);
	sb_str(b, num);
}

/*
 * {"__metadata__":{...},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...} padded
 * with spaces to a multiple of 8, so that the data section starts 8-byte aligned as in files
 * written by the reference implementation.
 */
static int build_header(const struct clcnn_st_writer *w, struct sbuf *b)
{
	sb_str(b, "{");
	if (w->meta_count) {
		sb_str(b, "\"__metadata__\":{");
		for (int i = 0; i < w->meta_count; i++) {
			if (i)
				sb_str(b, ",");
			sb_json(b, w->keys[i]);
			sb_str(b, ":");
			sb_json(b, w->values[i]);
		}
		sb_str(b, "}");
	}
	unsigned long long off = 0;
	for (int i = 0; i < w->count; i++) {
		const struct st_item *it = &w->items[i];
		if (i || w->meta_count)
			sb_str(b, ",");
		sb_json(b, it->name);
		sb_str(b, ":{\"dtype\":");
		sb_json(b, it->dtype);
		sb_str(b, ",\"shape\":[");
		for (int d = 0; d < it->ndim; d++) {
			if (d)
				sb_str(b, ",");
			sb_u64(b, (unsigned long long)it->shape[d]);
		}
		sb_str(b, "],\"data_offsets\":[");
		sb_u64(b, off);
		sb_str(b, ",");
		if (it->nbytes > ~0ULL - off)
			return -1;
		off += it->nbytes;
		sb_u64(b, off);
		sb_str(b, "]}");
	}
	sb_str(b, "}");
	while (b->len % 8)
		sb_str(b, " ");
	return b->oom ? -1 : 0;
}

/* Write n bytes of elsize-byte host values as little-endian. */
static int write_le(FILE *fp, const void *data, size_t n, size_t elsize)
{
	const uint16_t probe = 1;
	unsigned char first;
	memcpy(&first, &probe, 1);
	if (!n)
		return 0; /* empty tensors may have no data pointer at all */
	if (first == 1 || elsize == 1)
		return fwrite(data, 1, n, fp) == n ? 0 : -1;
	/* big-endian host: swap through a small bounce buffer */
	unsigned char tmp[4096];
	const unsigned char *p = data;
	while (n) {
		size_t chunk = n < sizeof tmp ? n : sizeof tmp - sizeof tmp % elsize;
		for (size_t i = 0; i < chunk; i += elsize)
			for (size_t j = 0; j < elsize; j++)
				tmp[i + j] = p[i + elsize - 1 - j];
		if (fwrite(tmp, 1, chunk, fp) != chunk)
			return -1;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

int clcnn_st_write(const struct clcnn_st_writer *w, const char *path, char *err, size_t errlen)
{
	if (!w || !path)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_st_write: NULL argument");
	struct sbuf hdr = {0};
	if (build_header(w, &hdr)) {
		free(hdr.p);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for the header", path);
	}
	if (hdr.len > CLCNN_ST_MAX_HEADER) {
		free(hdr.p);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "%s: header of %zu bytes exceeds the %u-byte limit", path, hdr.len,
				     CLCNN_ST_MAX_HEADER);
	}
	struct clcnn_io_atomic a;
	int rc = clcnn_io_atomic_begin(&a, path, err, errlen);
	if (rc) {
		free(hdr.p);
		return rc;
	}
	unsigned char lenb[8];
	for (int i = 0; i < 8; i++)
		lenb[i] = (unsigned char)((uint64_t)hdr.len >> (8 * i));
	int bad = fwrite(lenb, 1, 8, a.f) != 8 || fwrite(hdr.p, 1, hdr.len, a.f) != hdr.len;
	for (int i = 0; i < w->count && !bad; i++)
		bad = write_le(a.f, w->items[i].data, w->items[i].nbytes, w->items[i].elsize);
	free(hdr.p);
	if (bad) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot write %s: %s", path, a.tmp, strerror(errno));
		clcnn_io_atomic_abort(&a);
		return rc;
	}
	return clcnn_io_atomic_commit(&a, err, errlen);
}
