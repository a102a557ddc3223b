/*
 * Image loading for `clcnn predict` and datasets of files: PNG and JPEG decoded by image-decode.c
 * (libpng, libjpeg-turbo), PGM/PPM parsed here, all turned into planar float [0, 1], optionally
 * center-cropped, and resized the way PyTorch's F.interpolate does, so that a model sees the same
 * numbers in clcnn as in a PyTorch pipeline.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/image.h"

int clcnn_image_alloc(struct clcnn_image *im, int c, int h, int w, const char *path, char *err, size_t errlen)
{
	im->c = c;
	im->h = h;
	im->w = w;
	size_t n = (size_t)c * (size_t)h * (size_t)w; /* each side <= 2^31, c <= 3: fits 64-bit size_t */
	im->px = malloc(n * sizeof *im->px);
	if (!im->px)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a %dx%d image", path, w,
				     h);
	return 0;
}

/* The size in the IHDR chunk (always first, right after the signature), checked before libpng
 * allocates anything, with a message that says what is wrong. */
static int png_check_size(const char *path, FILE *fp, char *err, size_t errlen)
{
	unsigned char ihdr[16]; /* length, "IHDR", width, height */
	if (fread(ihdr, 1, sizeof ihdr, fp) != sizeof ihdr || memcmp(ihdr + 4, "IHDR", 4))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: cannot decode PNG: no IHDR chunk", path);
	uint64_t w = (uint64_t)ihdr[8] << 24 | (uint64_t)ihdr[9] << 16 | (uint64_t)ihdr[10] << 8 | ihdr[11];
	uint64_t h = (uint64_t)ihdr[12] << 24 | (uint64_t)ihdr[13] << 16 | (uint64_t)ihdr[14] << 8 | ihdr[15];
	if (w * h > CLCNN_IMAGE_MAX_PIXELS)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: PNG of %llux%llu pixels exceeds the %llu-pixel limit", path,
				     (unsigned long long)w, (unsigned long long)h, CLCNN_IMAGE_MAX_PIXELS);
	return 0;
}

/* ------------------------------------------------------------------ PGM/PPM */

/* Cursor over a whole file in memory. */
struct pnm {
	const unsigned char *p, *end;
};

/* Skip whitespace and '#' comments (allowed anywhere between header tokens). */
static void pnm_skip(struct pnm *s)
{
	while (s->p < s->end) {
		if (*s->p == '#') {
			while (s->p < s->end && *s->p != '\n')
				s->p++;
		} else if (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r' || *s->p == '\v' ||
			   *s->p == '\f') {
			s->p++;
		} else {
			return;
		}
	}
}

/* A decimal number up to max; -1 when absent, not a number or larger than max. */
static long pnm_uint(struct pnm *s, long max)
{
	pnm_skip(s);
	if (s->p >= s->end || *s->p < '0' || *s->p > '9')
		return -1;
	long v = 0;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		v = v * 10 + (*s->p++ - '0');
		if (v > max)
			return -1;
	}
	return v;
}

static int load_pnm(const char *path, FILE *fp, struct clcnn_image *im, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fileno(fp), &st))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
	/* the file size bounds every allocation below */
	size_t size = (size_t)st.st_size;
	if (size < 3)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: truncated PNM header", path);
	unsigned char *buf = malloc(size ? size : 1);
	if (!buf)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %zu bytes", path, size);
	int rc = 0;
	if (fseek(fp, 0, SEEK_SET) || fread(buf, 1, size, fp) != size) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: read error", path);
		goto out;
	}
	struct pnm s = {buf + 2, buf + size};
	int kind = buf[1] - '0'; /* 2, 3, 5 or 6: checked by the caller */
	int color = kind == 3 || kind == 6, binary = kind >= 5;
	long w = pnm_uint(&s, INT_MAX), h = pnm_uint(&s, INT_MAX), maxval = pnm_uint(&s, 65535);
	if (w < 1 || h < 1 || maxval < 1) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: bad P%d header: width, height and maxval (1 to 65535) expected", path, kind);
		goto out;
	}
	if (binary) {
		/* exactly one whitespace byte separates maxval from the raster */
		if (s.p >= s.end || !(*s.p == ' ' || *s.p == '\t' || *s.p == '\n' || *s.p == '\r')) {
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: no whitespace after the P%d maxval",
					   path, kind);
			goto out;
		}
		s.p++;
	}
	int c = color ? 3 : 1;
	size_t bps = maxval > 255 ? 2 : 1;
	size_t avail = (size_t)(s.end - s.p);
	/* overflow-free: w, h < 2^31 so w * h < 2^62, and avail bounds it before multiplying further */
	size_t npx = (size_t)w * (size_t)h;
	size_t need_min = binary ? bps * (size_t)c : (size_t)c; /* an ASCII sample takes at least a byte */
	if (npx > avail / need_min) {
		if (binary)
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: truncated P%d: %ldx%ld pixels need %zu bytes, got %zu", path, kind, w,
					   h, npx > SIZE_MAX / need_min ? SIZE_MAX : npx * need_min, avail);
		else
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
					   "%s: truncated P%d: %zu bytes cannot hold %ldx%ld pixels", path, kind, avail,
					   w, h);
		goto out;
	}
	if ((rc = clcnn_image_alloc(im, c, (int)h, (int)w, path, err, errlen)))
		goto out;
	size_t plane = npx;
	for (size_t i = 0; i < npx; i++) {
		for (int ch = 0; ch < c; ch++) {
			long v;
			if (binary) {
				v = bps == 2 ? (long)s.p[0] << 8 | s.p[1] : s.p[0];
				s.p += bps;
			} else if ((v = pnm_uint(&s, 65535)) < 0) {
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
						   "%s: truncated or bad P%d sample %zu of %zu", path, kind,
						   i * (size_t)c + (size_t)ch, npx * (size_t)c);
				goto out;
			}
			if (v > maxval) {
				rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: sample %ld exceeds maxval %ld",
						   path, v, maxval);
				goto out;
			}
			im->px[(size_t)ch * plane + i] = (float)v / (float)maxval;
		}
	}
out:
	free(buf);
	if (rc) {
		free(im->px);
		im->px = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ resize */

/*
 * Bilinear, half-pixel centers, no antialias: PyTorch's upsample_bilinear2d with
 * align_corners=False, in the same float arithmetic and order so results agree to the last bits.
 * src rows are stride floats apart (a crop is a window of a wider image).
 */
static void resize_plane(const float *src, int ih, int iw, int stride, float *dst, int oh, int ow)
{
	float sh = (float)ih / (float)oh, sw = (float)iw / (float)ow;
	for (int y = 0; y < oh; y++) {
		float ry = sh * ((float)y + 0.5f) - 0.5f;
		if (ry < 0)
			ry = 0;
		int y0 = (int)ry, dy = y0 < ih - 1 ? 1 : 0;
		float ly1 = ry - (float)y0, ly0 = 1.0f - ly1;
		const float *r0 = src + (size_t)y0 * (size_t)stride, *r1 = r0 + (size_t)dy * (size_t)stride;
		for (int x = 0; x < ow; x++) {
			float rx = sw * ((float)x + 0.5f) - 0.5f;
			if (rx < 0)
				rx = 0;
			int x0 = (int)rx, dx = x0 < iw - 1 ? 1 : 0;
			float lx1 = rx - (float)x0, lx0 = 1.0f - lx1;
			dst[(size_t)y * (size_t)ow + (size_t)x] =
				ly0 * (lx0 * r0[x0] + lx1 * r0[x0 + dx]) + ly1 * (lx0 * r1[x0] + lx1 * r1[x0 + dx]);
		}
	}
}

int clcnn_image_decode(const char *path, struct clcnn_image *im, char *err, size_t errlen)
{
	im->px = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: not a regular file", path);
	}
	/* the content says the format, not the name: a JPEG saved as .png is still read */
	unsigned char magic[8] = {0};
	size_t got = fread(magic, 1, sizeof magic, fp);
	int rc;
	if (got == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8)) {
		rc = png_check_size(path, fp, err, errlen);
		rewind(fp);
		if (!rc)
			rc = clcnn_image_decode_png(path, fp, im, err, errlen);
	} else if (got >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff) {
		rc = clcnn_image_decode_jpeg(path, fp, im, err, errlen);
	} else if (got >= 2 && magic[0] == 'P' && strchr("2356", magic[1]) && magic[1]) {
		rc = load_pnm(path, fp, im, err, errlen);
	} else if (got >= 2 && magic[0] == 'P' && strchr("147", magic[1]) && magic[1]) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: P%c (PBM/PAM) is not supported, only P2 P3 P5 P6", path, magic[1]);
	} else {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: unknown image format (not PNG, JPEG, PGM or PPM)", path);
	}
	fclose(fp);
	return rc;
}

/*
 * Where torchvision's CenterCrop(min(h, w)) starts the crop along a side that is d longer than
 * the square: int(round(d / 2.0)), and Python rounds halves to even.
 */
static int crop_offset(int d)
{
	int half = d / 2;
	return d % 2 && half % 2 ? half + 1 : half;
}

int clcnn_image_load_crop(const char *path, int channels, int height, int width, int center_crop, float *dst, char *err,
			  size_t errlen)
{
	if (!path || !dst)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_image_load: NULL argument");
	if (channels != 1 && channels != 3)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: %d channels requested (1 or 3 supported)",
				     path, channels);
	if (height < 1 || width < 1 || height > CLCNN_IMAGE_MAX_SIDE || width > CLCNN_IMAGE_MAX_SIDE)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: output size %dx%d is not in 1..%d", path,
				     width, height, CLCNN_IMAGE_MAX_SIDE);
	struct clcnn_image im = {0};
	int rc = clcnn_image_decode(path, &im, err, errlen);
	if (rc)
		return rc;
	/* the crop is a view into the decoded planes: rows of iw floats, starting at off */
	int ih = im.h, iw = im.w;
	size_t off = 0, src_plane = (size_t)im.h * (size_t)im.w;
	if (center_crop && im.h != im.w) {
		int side = im.h < im.w ? im.h : im.w;
		off = (size_t)crop_offset(im.h - side) * (size_t)im.w + (size_t)crop_offset(im.w - side);
		ih = iw = side;
	}

	/* resize each source channel, then map channels (both linear, so the order does not matter) */
	size_t plane = (size_t)height * (size_t)width;
	float *tmp = im.c == channels ? dst : malloc((size_t)im.c * plane * sizeof *tmp);
	if (!tmp) {
		free(im.px);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a %dx%d image", path,
				     width, height);
	}
	for (int c = 0; c < im.c; c++)
		resize_plane(im.px + (size_t)c * src_plane + off, ih, iw, im.w, tmp + (size_t)c * plane, height, width);
	free(im.px);
	if (im.c == 3 && channels == 1) {
		for (size_t i = 0; i < plane; i++) {
			/* ITU-R 601 luma, the weights PIL's convert("L") uses */
			float v = 0.299f * tmp[i] + 0.587f * tmp[plane + i] + 0.114f * tmp[2 * plane + i];
			dst[i] = v > 1.0f ? 1.0f : v;
		}
	} else if (im.c == 1 && channels == 3) {
		for (int c = 0; c < 3; c++)
			memcpy(dst + (size_t)c * plane, tmp, plane * sizeof *dst);
	}
	if (tmp != dst)
		free(tmp);
	return 0;
}

int clcnn_image_load(const char *path, int channels, int height, int width, float *dst, char *err, size_t errlen)
{
	return clcnn_image_load_crop(path, channels, height, width, 0, dst, err, errlen);
}
