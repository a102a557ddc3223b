/*
 * ONNX TensorProto: dims, data type and the data, from exactly one source: raw_data (little-endian,
 * unaligned), a typed repeated field (float_data, int32_data, int64_data, double_data, uint64_data,
 * packed or not), or an external file next to the model. The element count is checked against the
 * dims before anything is allocated, so a header cannot make the reader allocate more than the
 * bytes the file really holds (ONNX_MAX_TENSOR_BYTES caps it further).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/onnx-wire.h"

/* What one TensorProto carried, before it is checked and converted. */
struct tsrc {
	uint64_t *dims;
	int ndims, cap_dims;
	const uint8_t *raw;
	size_t rawlen;
	/* typed fields: [0] float_data, [1] int32_data, [2] int64_data, [3] double_data, [4] uint64_data */
	void *typed[5];
	int ntyped[5], cap_typed[5], has_typed[5];
	int has_raw;
	int64_t location;
	char *ext_location, *ext_offset, *ext_length;
};

static const char *const typed_name[5] = {"float_data", "int32_data", "int64_data", "double_data", "uint64_data"};

int onnx_host_le(void)
{
	uint16_t x = 1;
	unsigned char c;
	memcpy(&c, &x, 1);
	return c;
}

static const char *dtype_name(int dtype)
{
	static const char *const names[] = {"UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",  "INT16",
					    "INT32",     "INT64",  "STRING",    "BOOL",       "FLOAT16", "DOUBLE",
					    "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
	if (dtype >= 0 && dtype < (int)(sizeof names / sizeof names[0]))
		return names[dtype];
	return "unknown";
}

/* Which typed field holds which data types (onnx.proto's comments on each field). */
static int typed_field_of(int dtype)
{
	switch (dtype) {
	case 1: return 0;
	case 2:
	case 3:
	case 4:
	case 5:
	case 6:
	case 9:
	case 10:
	case 16: return 1;
	case 7: return 2;
	case 11: return 3;
	case 12:
	case 13: return 4;
	}
	return -1;
}

static void fmt_dims(const struct onnx_tensor *t, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "[");
	for (int d = 0; d < t->ndim && o < len; d++)
		o += (size_t)snprintf(buf + o, len - o, "%s%lld", d ? ", " : "", (long long)t->dims[d]);
	if (o < len)
		snprintf(buf + o, len - o, "]");
}

static int parse_u64(struct onnx_rd *r, const char *what, const char *s, uint64_t *v)
{
	uint64_t x = 0;
	if (!*s)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "external data %s is empty", what);
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10)
			return onnx_fail(r, CLCNN_ERR_FORMAT, "external data %s '%s' is not a number", what, s);
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return 0;
}

/* The location must stay inside the model's folder: relative, no "..", and no symlink leading out. */
static int open_external(struct onnx_rd *r, const struct tsrc *s, int *fd_out)
{
	const char *loc = s->ext_location;
	if (!loc || !*loc)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "data_location is EXTERNAL but external_data has no location");
	if (!r->dir)
		return onnx_fail(r, CLCNN_ERR_FORMAT,
				 "external data '%s' cannot be read: the model was not read from a file", loc);
	if (loc[0] == '/')
		return onnx_fail(r, CLCNN_ERR_FORMAT, "external data location '%s' is an absolute path", loc);
	for (const char *p = loc; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return onnx_fail(
				r, CLCNN_ERR_FORMAT,
				"external data location '%s' contains '..' (it must stay in the model's folder)", loc);
		p += n;
		p += *p == '/';
	}
	size_t n = strlen(r->dir) + strlen(loc) + 2;
	char *full = malloc(n);
	if (!full)
		return onnx_nomem(r, n);
	snprintf(full, n, "%s/%s", r->dir, loc);
	char *rdir = realpath(r->dir, NULL), *rfile = realpath(full, NULL);
	int rc = 0;
	if (!rdir || !rfile) {
		rc = onnx_fail(r, CLCNN_ERR_IO, "external data file '%s': %s", full, strerror(errno));
	} else {
		size_t dl = strlen(rdir);
		int inside = strncmp(rfile, rdir, dl) == 0 && (rfile[dl] == '/' || (dl == 1 && rdir[0] == '/'));
		if (!inside)
			rc = onnx_fail(r, CLCNN_ERR_FORMAT,
				       "external data file '%s' resolves to '%s', outside the model's folder '%s'", loc,
				       rfile, rdir);
	}
	if (!rc) {
		*fd_out = open(rfile, O_RDONLY | O_CLOEXEC);
		if (*fd_out < 0)
			rc = onnx_fail(r, CLCNN_ERR_IO, "external data file '%s': %s", full, strerror(errno));
	}
	free(rdir);
	free(rfile);
	free(full);
	return rc;
}

static int read_external(struct onnx_rd *r, const struct tsrc *s, struct onnx_tensor *t)
{
	int fd = -1;
	int rc = open_external(r, s, &fd);
	if (rc)
		return rc;
	const char *loc = s->ext_location;
	struct stat st;
	uint64_t off = 0, len = 0;
	char dims[256];
	fmt_dims(t, dims, sizeof dims);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = onnx_fail(r, CLCNN_ERR_IO, "external data file '%s' is not a regular file", loc);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	if ((s->ext_offset && (rc = parse_u64(r, "offset", s->ext_offset, &off))) ||
	    (s->ext_length && (rc = parse_u64(r, "length", s->ext_length, &len))))
		goto out;
	if (!s->ext_length)
		len = off <= size ? size - off : 0;
	if (off > size || len > size - off) {
		rc = onnx_fail(
			r, CLCNN_ERR_FORMAT,
			"external data '%s': offset %llu + length %llu runs past the end of the file (%llu bytes)", loc,
			(unsigned long long)off, (unsigned long long)len, (unsigned long long)size);
		goto out;
	}
	if (len != t->nbytes) {
		rc = onnx_fail(r, CLCNN_ERR_FORMAT, "external data '%s' holds %llu bytes, dims %s need %zu", loc,
			       (unsigned long long)len, dims, t->nbytes);
		goto out;
	}
	if (t->nbytes && !(t->data = malloc(t->nbytes))) {
		rc = onnx_nomem(r, t->nbytes);
		goto out;
	}
	for (size_t done = 0; done < t->nbytes;) {
		ssize_t got = pread(fd, (char *)t->data + done, t->nbytes - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = onnx_fail(r, CLCNN_ERR_IO, "external data file '%s': read failed: %s", loc,
				       got < 0 ? strerror(errno) : "unexpected end of file");
			goto out;
		}
		done += (size_t)got;
	}
out:
	close(fd);
	return rc;
}

/* Reverse the bytes of each element: raw little-endian data on a big-endian host. */
static void swap_elements(void *data, size_t count, size_t es)
{
	unsigned char *p = data;
	for (size_t i = 0; i < count && es > 1; i++, p += es)
		for (size_t a = 0, b = es - 1; a < b; a++, b--) {
			unsigned char x = p[a];
			p[a] = p[b];
			p[b] = x;
		}
}

/* Values of int32_data into elements of dtype, range-checked (a uint8 of 300 is a broken file). */
static int convert_int32(struct onnx_rd *r, const struct tsrc *s, struct onnx_tensor *t)
{
	const uint64_t *v = s->typed[1];
	int64_t lo = INT32_MIN, hi = INT32_MAX;
	switch (t->dtype) {
	case 2: lo = 0, hi = UINT8_MAX; break;
	case 3: lo = INT8_MIN, hi = INT8_MAX; break;
	case 4:
	case 10:
	case 16: lo = 0, hi = UINT16_MAX; break;
	case 5: lo = INT16_MIN, hi = INT16_MAX; break;
	case 9: lo = 0, hi = 1; break;
	}
	size_t es = clcnn_onnx_dtype_size(t->dtype);
	for (size_t i = 0; i < t->count; i++) {
		int64_t x = (int64_t)v[i];
		if (x < lo || x > hi)
			return onnx_fail(r, CLCNN_ERR_FORMAT, "int32_data value %lld at %zu is out of range for %s",
					 (long long)x, i, dtype_name(t->dtype));
		char *dst = (char *)t->data + i * es;
		if (t->dtype == 6) {
			int32_t y = (int32_t)x;
			memcpy(dst, &y, 4);
		} else if (t->dtype == 5 || t->dtype == 4 || t->dtype == 10 || t->dtype == 16) {
			uint16_t y = (uint16_t)x;
			memcpy(dst, &y, 2);
		} else {
			*dst = (char)(uint8_t)x;
		}
	}
	return 0;
}

static int convert_typed(struct onnx_rd *r, const struct tsrc *s, int k, struct onnx_tensor *t)
{
	if (k == 1)
		return convert_int32(r, s, t);
	if (k == 4 && t->dtype == 12) {
		const uint64_t *v = s->typed[4];
		for (size_t i = 0; i < t->count; i++) {
			if (v[i] > UINT32_MAX)
				return onnx_fail(r, CLCNN_ERR_FORMAT,
						 "uint64_data value %llu at %zu is out of range for UINT32",
						 (unsigned long long)v[i], i);
			uint32_t y = (uint32_t)v[i];
			memcpy((char *)t->data + 4 * i, &y, 4);
		}
		return 0;
	}
	/* float bits, int64, double bits and uint64 are stored in host order already, same width */
	memcpy(t->data, s->typed[k], t->nbytes);
	return 0;
}

/* Check the collected fields against each other and fill t->count, nbytes, data. */
static int finish(struct onnx_rd *r, struct tsrc *s, struct onnx_tensor *t)
{
	if (s->ndims > ONNX_MAX_DIMS)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "%d dims, at most %d are supported", s->ndims, ONNX_MAX_DIMS);
	t->ndim = s->ndims;
	uint64_t count = 1;
	for (int d = 0; d < s->ndims; d++) {
		t->dims[d] = (int64_t)s->dims[d];
		if (t->dims[d] < 0)
			return onnx_fail(r, CLCNN_ERR_FORMAT, "dimension %d is negative (%lld)", d,
					 (long long)t->dims[d]);
	}
	size_t es = clcnn_onnx_dtype_size(t->dtype);
	uint64_t limit = ONNX_MAX_TENSOR_BYTES / (es ? es : 1);
	for (int d = 0; d < s->ndims; d++) {
		if (s->dims[d] && count > limit / s->dims[d]) {
			char dims[256];
			fmt_dims(t, dims, sizeof dims);
			return onnx_fail(r, CLCNN_ERR_FORMAT, "dims %s make more than the %llu-byte limit of a tensor",
					 dims, (unsigned long long)ONNX_MAX_TENSOR_BYTES);
		}
		count *= s->dims[d];
	}
	t->count = (size_t)count;
	const char *given[7];
	int sources = 0, k = -1;
	if (s->has_raw)
		given[sources++] = "raw_data";
	if (s->location == 1)
		given[sources++] = "external data";
	for (int i = 0; i < 5; i++)
		if (s->has_typed[i])
			given[sources++] = typed_name[i], k = i;
	if (sources > 1)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "both %s and %s are given", given[0], given[1]);
	char dims[256];
	fmt_dims(t, dims, sizeof dims);
	if (!es) {
		/* a type clcnn does not know: its raw bytes are kept, import refuses it */
		if (k >= 0 || s->location == 1)
			return onnx_fail(r, CLCNN_ERR_FORMAT, "data_type %d (%s) is not supported", t->dtype,
					 dtype_name(t->dtype));
		if (s->has_raw && s->rawlen) {
			if (!(t->data = malloc(s->rawlen)))
				return onnx_nomem(r, s->rawlen);
			memcpy(t->data, s->raw, s->rawlen);
			t->nbytes = s->rawlen;
		}
		return 0;
	}
	t->nbytes = t->count * es;
	if (!sources) {
		if (t->count)
			return onnx_fail(r, CLCNN_ERR_FORMAT, "no data (dims %s need %zu bytes)", dims, t->nbytes);
		return 0;
	}
	if (s->location == 1)
		return read_external(r, s, t);
	if (s->has_raw && s->rawlen != t->nbytes)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "raw_data holds %zu bytes, dims %s need %zu", s->rawlen, dims,
				 t->nbytes);
	if (k >= 0 && typed_field_of(t->dtype) != k)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "%s given for data_type %d (%s)", typed_name[k], t->dtype,
				 dtype_name(t->dtype));
	if (k >= 0 && (size_t)s->ntyped[k] != t->count)
		return onnx_fail(r, CLCNN_ERR_FORMAT, "%s holds %d values, dims %s need %zu", typed_name[k],
				 s->ntyped[k], dims, t->count);
	if (!t->nbytes)
		return 0;
	if (!(t->data = malloc(t->nbytes)))
		return onnx_nomem(r, t->nbytes);
	if (k >= 0)
		return convert_typed(r, s, k, t);
	memcpy(t->data, s->raw, t->nbytes);
	if (!onnx_host_le())
		swap_elements(t->data, t->count, es);
	return 0;
}

static int read_fields(struct onnx_rd *r, struct onnx_cur *c, struct tsrc *s, struct onnx_tensor *t)
{
	/* scalar wire type of each typed field: fixed32 floats, varints, fixed64 doubles */
	static const int field_no[5] = {4, 5, 7, 10, 11}, scalar_wt[5] = {5, 0, 0, 1, 0};
	while (c->p < c->end) {
		uint32_t f;
		int wt, rc;
		int64_t v;
		struct onnx_cur sub;
		if ((rc = onnx_key(r, c, &f, &wt)))
			return rc;
		int k = -1;
		for (int i = 0; i < 5; i++)
			if (field_no[i] == (int)f)
				k = i;
		if (k >= 0) {
			s->has_typed[k] = 1;
			rc = onnx_repeated(r, c, f, typed_name[k], wt, scalar_wt[k], &s->typed[k], &s->ntyped[k],
					   &s->cap_typed[k]);
		} else if (f == 1) {
			rc = onnx_repeated(r, c, f, "dims", wt, 0, (void **)&s->dims, &s->ndims, &s->cap_dims);
		} else if (f == 2) {
			rc = onnx_int(r, c, f, "data_type", wt, &v);
			if (!rc && (v < 0 || v > 1000))
				rc = onnx_fail(r, CLCNN_ERR_FORMAT, "invalid data_type %lld", (long long)v);
			t->dtype = (int)v;
		} else if (f == 3) {
			rc = onnx_fail(r, CLCNN_ERR_FORMAT, "segmented tensors are not supported");
		} else if (f == 8) {
			rc = onnx_str(r, c, f, "name", wt, &t->name, NULL);
		} else if (f == 9) {
			if (!(rc = onnx_message(r, c, f, "raw_data", wt, &sub))) {
				s->raw = sub.p;
				s->rawlen = (size_t)(sub.end - sub.p);
				s->has_raw = 1;
			}
		} else if (f == 13) {
			char *key = NULL, *value = NULL;
			if (!(rc = onnx_message(r, c, f, "external_data", wt, &sub))) {
				rc = onnx_entry(r, &sub, &key, &value);
				char **slot = NULL;
				if (!rc && !strcmp(key, "location"))
					slot = &s->ext_location;
				else if (!rc && !strcmp(key, "offset"))
					slot = &s->ext_offset;
				else if (!rc && !strcmp(key, "length"))
					slot = &s->ext_length;
				if (slot) {
					free(*slot);
					*slot = value;
					value = NULL;
				}
			}
			free(key);
			free(value);
		} else if (f == 14) {
			rc = onnx_int(r, c, f, "data_location", wt, &s->location);
		} else {
			rc = onnx_skip(r, c, wt);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int onnx_read_tensor(struct onnx_rd *r, struct onnx_cur *c, struct onnx_tensor *t)
{
	struct tsrc s = {0};
	int rc = read_fields(r, c, &s, t);
	if (!rc)
		rc = finish(r, &s, t);
	if (!rc && !t->name && !(t->name = calloc(1, 1)))
		rc = onnx_nomem(r, 1);
	free(s.dims);
	for (int i = 0; i < 5; i++)
		free(s.typed[i]);
	free(s.ext_location);
	free(s.ext_offset);
	free(s.ext_length);
	if (rc && t->name && t->name[0])
		return onnx_wrap(r, rc, "tensor '%s'", t->name);
	if (rc)
		return onnx_wrap(r, rc, "tensor");
	return rc;
}
