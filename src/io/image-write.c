/*
 * 8-bit PNG writing through libpng, for tools that export a dataset as an image folder
 * (clcnn data export, clcnn-mkdata). Not atomic: an export writes tens of thousands of files and
 * an fsync each would dominate it; a failed write removes its file instead.
 */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

struct png_wio {
	char msg[160];
};

static void png_werror_cb(png_structp png, png_const_charp msg)
{
	struct png_wio *io = png_get_error_ptr(png);
	snprintf(io->msg, sizeof io->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void png_wwarning_cb(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

int clcnn_image_write_png(const char *path, int c, int h, int w, const uint8_t *hwc, char *err, size_t errlen)
{
	if ((c != 1 && c != 3) || h < 1 || w < 1 || h > CLCNN_IMAGE_MAX_SIDE || w > CLCNN_IMAGE_MAX_SIDE)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: cannot write a PNG of %d channels, %dx%d",
				     path, c, w, h);
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
	/* on the heap: the error callback fills it before a longjmp (C11 7.13.2.1) */
	struct png_wio *io = calloc(1, sizeof *io);
	png_structp png =
		io ? png_create_write_struct(PNG_LIBPNG_VER_STRING, io, png_werror_cb, png_wwarning_cb) : NULL;
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		free(io);
		fclose(fp);
		remove(path);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for the PNG encoder", path);
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		fclose(fp);
		remove(path);
		int rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot write PNG: %s", path, io->msg);
		free(io);
		return rc;
	}
	png_init_io(png, fp);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < h; y++)
		png_write_row(png, hwc + (size_t)y * (size_t)w * (size_t)c);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(io);
	if (fclose(fp)) {
		int e = errno;
		remove(path);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
	}
	return 0;
}
