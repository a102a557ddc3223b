/*
 * IDX arrays (the MNIST / Fashion-MNIST format): big-endian magic 0x0000TTDD (TT element type,
 * DD number of dims), DD big-endian u32 dims, then the row-major data. zlib's gzread reads both
 * gzip-compressed and plain files, so the caller never says which one it has.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io.h"
#include "source.h"

#define IDX_TYPE_U8 0x08

void clcnn_idx_free(struct clcnn_idx *idx)
{
	if (!idx)
		return;
	free(idx->data);
	memset(idx, 0, sizeof *idx);
}

/*
 * After a short or failed gzread: report a broken stream with zlib's own words, or return 0
 * when the stream simply ended (the caller then reports the missing bytes).
 */
static int gz_check(gzFile gz, const char *path, char *err, size_t errlen)
{
	int code;
	const char *msg = gzerror(gz, &code);
	if (code == Z_OK || code == Z_STREAM_END)
		return 0;
	/* zlib prefixes its message with the path, which our message already starts with */
	size_t plen = strlen(path);
	if (!strncmp(msg, path, plen) && !strncmp(msg + plen, ": ", 2))
		msg += plen + 2;
	if (code == Z_ERRNO)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: read error: %s", path, strerror(errno));
	if (code == Z_BUF_ERROR)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: truncated gzip stream (zlib: %s)", path, msg);
	if (code == Z_MEM_ERROR)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: zlib out of memory", path);
	return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: corrupt gzip stream (zlib: %s)", path, msg);
}

/* Read up to n bytes (gzread takes unsigned counts); *got is what arrived before EOF or error. */
static int gz_read_full(gzFile gz, void *buf, size_t n, size_t *got, const char *path, char *err, size_t errlen)
{
	unsigned char *p = buf;
	*got = 0;
	while (*got < n) {
		size_t want = n - *got;
		unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
		int r = gzread(gz, p + *got, chunk);
		if (r < 0) {
			int rc = gz_check(gz, path, err, errlen);
			return rc ? rc : clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: gzip read failed", path);
		}
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return gz_check(gz, path, err, errlen);
}

/*
 * Check the header in hdr (got bytes: all the file has when final, else what was read so far) and
 * fill ndim, dims and count of out. want_ndim 0 accepts any 1..4; otherwise the magic must be
 * exactly 0x000008<want_ndim>. Returns 1 (not final) when the dims still have to be read.
 */
static int header_parse(const unsigned char *hdr, size_t got, int final, const char *path, int want_ndim,
			const char *what, struct clcnn_idx *out, char *err, size_t errlen)
{
	if (got < 4)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: file is %zu bytes, too short for an IDX magic",
				     path, got);
	uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	uint32_t want = (uint32_t)IDX_TYPE_U8 << 8 | (uint32_t)want_ndim;
	if (want_ndim && magic != want)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: wrong IDX magic 0x%08x (expected 0x%08x for uint8 %s)", path, magic, want,
				     what);
	if (hdr[0] || hdr[1])
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: wrong IDX magic 0x%08x (expected 0x000008NN: uint8 with NN = 1 to 4 dims)",
				     path, magic);
	if (hdr[2] != IDX_TYPE_U8)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: IDX element type 0x%02x is not supported (only 0x08, uint8)", path, hdr[2]);
	int ndim = hdr[3];
	if (ndim < 1 || ndim > CLCNN_IDX_MAX_DIMS)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: IDX with %d dims is not supported (1 to %d)",
				     path, ndim, CLCNN_IDX_MAX_DIMS);
	size_t hlen = 4 * (size_t)ndim;
	if (got - 4 < hlen) {
		if (!final)
			return 1;
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: truncated IDX header: expected %zu bytes of dims, got %zu", path, hlen,
				     got - 4);
	}
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		const unsigned char *p = hdr + 4 + 4 * i;
		uint32_t d = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (d == 0 || d > INT_MAX)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: IDX dim %d is %u (must be 1 to %d)",
					     path, i, d, INT_MAX);
		if (count > SIZE_MAX / d)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: IDX dims overflow the element count",
					     path);
		count *= d;
		out->dims[i] = (int)d;
	}
	out->ndim = ndim;
	out->count = count;
	return 0;
}

/* want_ndim and what: as header_parse. */
static int idx_read(const char *path, int want_ndim, const char *what, struct clcnn_idx *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	struct stat st;
	if (stat(path, &st))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: not a regular file", path);
	errno = 0;
	gzFile gz = gzopen(path, "rb");
	if (!gz)
		return clcnn_io_fail(err, errlen, errno ? CLCNN_ERR_IO : CLCNN_ERR_NO_MEMORY, "%s: cannot open: %s",
				     path, errno ? strerror(errno) : "out of memory");
	gzbuffer(gz, 1u << 16);

	unsigned char hdr[4 + 4 * CLCNN_IDX_MAX_DIMS];
	size_t got, more;
	int rc = gz_read_full(gz, hdr, 4, &got, path, err, errlen);
	if (rc)
		goto fail;
	/* the magic is checked before the dims are read, so that its message wins over a short file */
	rc = header_parse(hdr, got, 0, path, want_ndim, what, out, err, errlen);
	if (rc == 1) {
		rc = gz_read_full(gz, hdr + 4, 4 * (size_t)hdr[3], &more, path, err, errlen);
		if (!rc)
			rc = header_parse(hdr, got + more, 1, path, want_ndim, what, out, err, errlen);
	}
	if (rc)
		goto fail;
	size_t hlen = 4 * (size_t)out->ndim, count = out->count;
	out->count = 0; /* set again once the data is in */

	/*
	 * The declared size is not trusted for the allocation (a gzip file gives no cheap upper bound
	 * for its content): grow the buffer as data actually arrives, up to the declared size.
	 */
	size_t cap = 0, have = 0;
	while (have < count) {
		if (have == cap) {
			size_t nc =
				cap ? (cap > count / 2 ? count : cap * 2) : (count < (1u << 20) ? count : (1u << 20));
			uint8_t *nd = realloc(out->data, nc);
			if (!nd) {
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %zu bytes",
						   path, nc);
				goto fail;
			}
			out->data = nd;
			cap = nc;
		}
		rc = gz_read_full(gz, out->data + have, cap - have, &got, path, err, errlen);
		if (rc)
			goto fail;
		have += got;
		if (have < cap)
			break; /* end of file */
	}
	if (have < count) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: truncated IDX data: expected %zu bytes after the %zu-byte header, got %zu",
				   path, count, 4 + hlen, have);
		goto fail;
	}
	/* reading on also makes zlib verify the gzip trailer (CRC and length) */
	unsigned char extra[64];
	rc = gz_read_full(gz, extra, sizeof extra, &got, path, err, errlen);
	if (rc)
		goto fail;
	if (got) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: trailing data after the %zu declared bytes of IDX data", path, count);
		goto fail;
	}
	out->count = count;
	gzclose(gz);
	return 0;
fail:
	gzclose(gz);
	clcnn_idx_free(out);
	return rc;
}

int clcnn_idx_read(const char *path, struct clcnn_idx *out, char *err, size_t errlen)
{
	if (!path || !out)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_idx_read: NULL argument");
	return idx_read(path, 0, NULL, out, err, errlen);
}

void clcnn_idx_unmap(struct clcnn_idx_view *v)
{
	if (!v)
		return;
	struct clcnn_mapped m = {v->map, v->maplen};
	clcnn_unmap_file(&m);
	clcnn_idx_free(&v->a);
	memset(v, 0, sizeof *v);
}

int clcnn_idx_map(const char *path, int want_ndim, const char *what, struct clcnn_idx_view *out, char *err,
		  size_t errlen)
{
	memset(out, 0, sizeof *out);
	struct clcnn_mapped m;
	int rc = clcnn_map_file(path, &m, err, errlen);
	if (rc)
		return rc;
	if (m.len >= 2 && m.data[0] == 0x1f && m.data[1] == 0x8b) {
		/* gzip: inflated once; samples are then read from memory */
		clcnn_unmap_file(&m);
		rc = idx_read(path, want_ndim, what, &out->a, err, errlen);
		if (!rc)
			out->data = out->a.data;
		return rc;
	}
	rc = header_parse(m.data, m.len, 1, path, want_ndim, what, &out->a, err, errlen);
	size_t hlen = 4 + 4 * (size_t)out->a.ndim, count = out->a.count;
	if (!rc && m.len - hlen < count)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: truncated IDX data: expected %zu bytes after the %zu-byte header, got %zu",
				   path, count, hlen, m.len - hlen);
	else if (!rc && m.len - hlen > count)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: trailing data after the %zu declared bytes of IDX data", path, count);
	if (rc) {
		clcnn_unmap_file(&m);
		memset(out, 0, sizeof *out);
		return rc;
	}
	out->data = m.data + hlen;
	out->map = m.data;
	out->maplen = m.len;
	return 0;
}

int clcnn_idx_load_pair(const char *images, const char *labels, int num_classes, struct clcnn_idx *images_out,
			struct clcnn_idx *labels_out, char *err, size_t errlen)
{
	if (!images || !labels || !images_out || !labels_out)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_idx_load_pair: NULL argument");
	memset(labels_out, 0, sizeof *labels_out);
	if (num_classes < 1 || num_classes > 256) {
		memset(images_out, 0, sizeof *images_out);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "clcnn_idx_load_pair: class count %d is not in 1..256 (labels are uint8)",
				     num_classes);
	}
	int rc = idx_read(images, 3, "images", images_out, err, errlen);
	if (rc)
		return rc;
	rc = idx_read(labels, 1, "labels", labels_out, err, errlen);
	if (rc)
		goto fail;
	if (images_out->dims[0] != labels_out->dims[0]) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s has %d images but %s has %d labels", images,
				   images_out->dims[0], labels, labels_out->dims[0]);
		goto fail;
	}
	for (size_t i = 0; i < labels_out->count; i++) {
		if (labels_out->data[i] >= num_classes) {
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: label %u at index %zu is not below the class count %d", labels,
					   labels_out->data[i], i, num_classes);
			goto fail;
		}
	}
	return 0;
fail:
	clcnn_idx_free(images_out);
	clcnn_idx_free(labels_out);
	return rc;
}
