/*
 * PNG through libpng and JPEG through libjpeg-turbo, decoded into the pixels PIL's
 * Image.open(p).convert("RGB") (or "L" for gray files) gives, which is what torchvision's
 * ImageFolder feeds a model:
 *  - alpha is dropped without compositing (the color channels are kept as stored);
 *  - palettes are expanded to RGB (a tRNS entry only adds alpha, which is then dropped);
 *  - gray of 1, 2 or 4 bits is scaled to 0..255 (bit patterns replicated, as PIL's "L;2"/"L;4");
 *  - 16-bit samples become their high byte, as PIL's "RGB;16B" and "LA;16B" raw modes do. One
 *    deviation: PIL opens 16-bit gray as mode "I;16" and convert("RGB") CLIPS it at 255 (almost
 *    every such image turns white); here 16-bit gray takes the high byte like every other 16-bit
 *    image, i.e. the same picture at 8 bits;
 *  - no gamma or color profile is applied (PIL applies neither);
 *  - JPEG with libjpeg's defaults (islow DCT, fancy upsampling), as PIL; a truncated or damaged
 *    stream (a libjpeg warning) is an error, as PIL's "image file is truncated".
 */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "io/image.h"

/* ---------------------------------------------------------------------- PNG */

struct png_io {
	FILE *fp;
	int truncated;
	char msg[160]; /* libpng's message of the error that stopped decoding */
};

static void png_read_cb(png_structp png, png_bytep data, size_t n)
{
	struct png_io *io = png_get_io_ptr(png);
	if (fread(data, 1, n, io->fp) != n) {
		io->truncated = 1;
		png_error(png, "truncated file");
	}
}

static void png_error_cb(png_structp png, png_const_charp msg)
{
	struct png_io *io = png_get_error_ptr(png);
	snprintf(io->msg, sizeof io->msg, "%s", msg);
	png_longjmp(png, 1);
}

/* The library never prints: libpng's warnings (ancillary chunk CRC, unknown chunks) are dropped. */
static void png_warning_cb(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

int clcnn_image_decode_png(const char *path, FILE *fp, struct clcnn_image *im, char *err, size_t errlen)
{
	im->px = NULL;
	/* on the heap: the callbacks change it before a longjmp, which would leave a local's value
	 * indeterminate (C11 7.13.2.1) */
	struct png_io *io = calloc(1, sizeof *io);
	if (!io)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for the PNG decoder", path);
	io->fp = fp;
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, io, png_error_cb, png_warning_cb);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		free(io);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for the PNG decoder", path);
	}
	/* set between setjmp and a longjmp back to it: volatile, so the cleanup sees their values */
	png_bytep *volatile rows = NULL;
	unsigned char *volatile pix = NULL;
	float *volatile px = NULL;
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		free(rows);
		free(pix);
		free(px);
		int rc;
		if (io->truncated)
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: cannot decode PNG: truncated file",
					   path);
		else if (strstr(io->msg, "ut of memory") || strstr(io->msg, "ut of Memory"))
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: cannot decode PNG: %s", path,
					   io->msg);
		else
			rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: cannot decode PNG: corrupt data (%s)",
					   path, io->msg);
		free(io);
		return rc;
	}
	png_set_read_fn(png, io, png_read_cb);
	png_read_info(png, info);
	png_uint_32 w, h;
	int depth, color;
	png_get_IHDR(png, info, &w, &h, &depth, &color, NULL, NULL, NULL);
	if ((uint64_t)w * h > CLCNN_IMAGE_MAX_PIXELS)
		png_error(png, "too many pixels"); /* the IHDR check in image.c names the size first */
	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (depth == 16)
		png_set_strip_16(png); /* the high byte, as PIL (png_set_scale_16 would round) */
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	int nch = png_get_channels(png, info); /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
	size_t rowbytes = png_get_rowbytes(png, info);
	if (png_get_bit_depth(png, info) != 8 || nch < 1 || nch > 4 || rowbytes != (size_t)nch * w)
		png_error(png, "unexpected layout after the transforms");
	int c = nch >= 3 ? 3 : 1;
	rows = malloc((size_t)h * sizeof *rows);
	pix = malloc((size_t)h * rowbytes);
	px = malloc((size_t)c * (size_t)h * (size_t)w * sizeof *px);
	if (!rows || !pix || !px)
		png_error(png, "out of memory for the pixels");
	for (png_uint_32 y = 0; y < h; y++)
		rows[y] = pix + (size_t)y * rowbytes;
	png_read_image(png, rows);
	/* the chunks after the image data (text, IEND) cannot change the pixels: not read */
	size_t plane = (size_t)h * (size_t)w;
	for (size_t i = 0; i < plane; i++)
		for (int ch = 0; ch < c; ch++)
			px[(size_t)ch * plane + i] = (float)pix[i * (size_t)nch + (size_t)ch] / 255.0f;
	png_destroy_read_struct(&png, &info, NULL);
	free(rows);
	free(pix);
	free(io);
	im->c = c;
	im->h = (int)h;
	im->w = (int)w;
	im->px = px;
	return 0;
}

/* --------------------------------------------------------------------- JPEG */

/* The whole file is read into memory before decoding: refuse what cannot be a JPEG of at most
 * 2^27 pixels (8 bytes a pixel is far above any real compression ratio). */
#define JPEG_MAX_BYTES (1ull << 30)

int clcnn_image_decode_jpeg(const char *path, FILE *fp, struct clcnn_image *im, char *err, size_t errlen)
{
	im->px = NULL;
	struct stat st;
	if (fstat(fileno(fp), &st))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
	if ((uint64_t)st.st_size > JPEG_MAX_BYTES)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				     "%s: JPEG of %lld bytes exceeds the %llu-byte limit", path, (long long)st.st_size,
				     JPEG_MAX_BYTES);
	size_t size = (size_t)st.st_size;
	unsigned char *buf = malloc(size ? size : 1), *pix = NULL;
	if (!buf)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %zu bytes", path, size);
	int rc = 0;
	tjhandle tj = NULL;
	if (fseek(fp, 0, SEEK_SET) || fread(buf, 1, size, fp) != size) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: read error", path);
		goto out;
	}
	if (!(tj = tjInitDecompress())) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: cannot start the JPEG decoder: %s", path,
				   tjGetErrorStr2(NULL));
		goto out;
	}
	int w = 0, h = 0, subsamp = 0, cs = 0;
	if (tjDecompressHeader3(tj, buf, (unsigned long)size, &w, &h, &subsamp, &cs)) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: cannot decode JPEG: %s", path,
				   tjGetErrorStr2(tj));
		goto out;
	}
	/* a stream cut inside its headers reads as tables only, without a frame */
	if (w < 1 || h < 1) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: cannot decode JPEG: no frame header (truncated file?)", path);
		goto out;
	}
	/* checked before the pixels are allocated */
	if ((uint64_t)w * (uint64_t)h > CLCNN_IMAGE_MAX_PIXELS) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: JPEG of %dx%d pixels exceeds the %llu-pixel limit", path, w, h,
				   CLCNN_IMAGE_MAX_PIXELS);
		goto out;
	}
	if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
				   "%s: cannot decode JPEG: CMYK color is not supported (convert the file to RGB)",
				   path);
		goto out;
	}
	int c = cs == TJCS_GRAY ? 1 : 3;
	size_t plane = (size_t)w * (size_t)h;
	if (!(pix = malloc(plane * (size_t)c))) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a %dx%d image", path, w, h);
		goto out;
	}
	if (tjDecompress2(tj, buf, (unsigned long)size, pix, w, 0, h, c == 1 ? TJPF_GRAY : TJPF_RGB, 0)) {
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: cannot decode JPEG: %s", path,
				   tjGetErrorStr2(tj));
		goto out;
	}
	if ((rc = clcnn_image_alloc(im, c, h, w, path, err, errlen)))
		goto out;
	for (size_t i = 0; i < plane; i++)
		for (int ch = 0; ch < c; ch++)
			im->px[(size_t)ch * plane + i] = (float)pix[i * (size_t)c + (size_t)ch] / 255.0f;
out:
	if (tj)
		tjDestroy(tj);
	free(pix);
	free(buf);
	return rc;
}
