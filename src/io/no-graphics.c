/*
 * Stand-ins for a build without cairo (plots) or without libpng / libjpeg-turbo (image folders,
 * `clcnn data` PNG export): each says what the build lacks. meson picks this file for whichever
 * part is missing (an NVIDIA machine carrying only the OpenCL kit builds and trains without them).
 */
#include "io/image.h"
#include "io/io.h"

#ifndef CLCNN_HAVE_CAIRO
int clcnn_plot_curves(const char *path, int n, const double *epoch, const double *train_loss, const double *test_acc,
		      const char *title, char *err, size_t errlen)
{
	(void)n, (void)epoch, (void)train_loss, (void)test_acc, (void)title;
	return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: no plot: clcnn was built without cairo", path);
}

int clcnn_plot_panels(const char *path, const char *title, const char *xlabel, int npanels,
		      const struct clcnn_plot_panel *panels, char *err, size_t errlen)
{
	(void)title, (void)xlabel, (void)npanels, (void)panels;
	return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: no plot: clcnn was built without cairo", path);
}
#endif

#ifndef CLCNN_HAVE_IMAGES
int clcnn_image_decode_png(const char *path, FILE *fp, struct clcnn_image *im, char *err, size_t errlen)
{
	(void)fp;
	im->px = NULL;
	return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT, "%s: cannot decode PNG: clcnn was built without libpng",
			     path);
}

int clcnn_image_decode_jpeg(const char *path, FILE *fp, struct clcnn_image *im, char *err, size_t errlen)
{
	(void)fp;
	im->px = NULL;
	return clcnn_io_fail(err, errlen, CLCNN_ERR_FORMAT,
			     "%s: cannot decode JPEG: clcnn was built without libjpeg-turbo", path);
}

int clcnn_image_write_png(const char *path, int c, int h, int w, const uint8_t *hwc, char *err, size_t errlen)
{
	(void)c, (void)h, (void)w, (void)hwc;
	return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot write PNG: clcnn was built without libpng", path);
}
#endif
