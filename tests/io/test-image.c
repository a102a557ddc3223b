/* Image loading: PGM/PPM, PNG and JPEG decoding, channel conversion, crop, bilinear resize, errors. */
#include <cairo.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>

#include "io/image.h"
#include "testutil.h"

/* Pixel values are k/255 or k/maxval; float32 division and 2-tap lerps stay within a few ulps. */
#define TOL 1e-6

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* Text files (no NUL inside) */
static void write_str(const char *path, const char *s)
{
	write_bytes(path, s, strlen(s));
}

static void load_ok(const char *path, int c, int h, int w, float *dst)
{
	char err[1024];
	int rc = clcnn_image_load(path, c, h, w, dst, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
}

static void expect_vals(const float *got, const double *want, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_msg(fabs(got[i] - want[i]) <= TOL, "[%d] = %.9g, want %.9g", i, got[i], want[i]);
}

static void expect_fail(const char *path, int c, int status, const char *what)
{
	float dst[64];
	char err[1024] = "";
	int rc = clcnn_image_load(path, c, 2, 2, dst, err, sizeof err);
	ck_assert_msg(rc == status, "%s: rc %d (want %d): %s", what, rc, status, err);
	ck_assert_msg(strstr(err, what) != NULL, "message \"%s\" lacks \"%s\"", err, what);
	ck_assert_msg(strstr(err, path) != NULL, "message \"%s\" does not name the file", err);
}

START_TEST(pgm_resize)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/a.pgm", dir);
	/* 3 wide, 2 high: 0 .2 .4 / .6 .8 1 */
	write_bytes(path, "P5\n3 2\n255\n\x00\x33\x66\x99\xcc\xff", 17);
	float v[3 * 8 * 11];
	load_ok(path, 1, 2, 3, v);
	expect_vals(v, (const double[]){0, .2, .4, .6, .8, 1}, 6);

	/*
	 * 2x3 -> 4x2 by hand: along x, scale 1.5, sources 0.25 and 1.75; along y, scale 0.5, sources
	 * 0 (clamped from -0.25), 0.25, 0.75, 1. Row 0 gives .75*0+.25*.2 = .05 and .25*.2+.75*.4 = .35.
	 */
	load_ok(path, 1, 4, 2, v);
	expect_vals(v, (const double[]){.05, .35, .2, .5, .5, .8, .65, .95}, 8);

	/* gray to 3 channels replicates the plane */
	load_ok(path, 3, 4, 2, v);
	for (int c = 0; c < 3; c++)
		expect_vals(v + 8 * c, (const double[]){.05, .35, .2, .5, .5, .8, .65, .95}, 8);

	/* ASCII, with comments between header tokens and an unusual maxval */
	write_str(path, "P2\n# made by hand\n2 # width\n2\n1000\n0 250\n500\n1000\n");
	load_ok(path, 1, 2, 2, v);
	expect_vals(v, (const double[]){0, .25, .5, 1}, 4);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/*
 * Values of PyTorch 1.13: x = torch.arange(35.).div(34).view(1,1,5,7);
 * F.interpolate(x, size=..., mode="bilinear", align_corners=False). The PGM with maxval 34 and
 * samples 0..34 holds exactly the same floats.
 */
START_TEST(matches_pytorch)
{
	char *dir = test_tmpdir();
	char path[4096], pgm[256];
	snprintf(path, sizeof path, "%s/g.pgm", dir);
	int n = snprintf(pgm, sizeof pgm, "P2 7 5 34\n");
	for (int i = 0; i < 35; i++)
		n += snprintf(pgm + n, sizeof pgm - (size_t)n, "%d ", i);
	write_bytes(path, pgm, (size_t)n);
	float v[8 * 11];
	load_ok(path, 1, 3, 4, v);
	expect_vals(v,
		    (const double[]){0.07965685427188873, 0.1311274617910385, 0.1825980395078659, 0.2340686321258545,
				     0.4227941036224365, 0.4742646813392639, 0.5257353186607361, 0.5772058963775635,
				     0.7659313678741455, 0.8174019455909729, 0.8688725233078003, 0.9203431010246277},
		    12);
	load_ok(path, 1, 8, 11, v);
	expect_vals(v,
		    (const double[]){0.0, 0.013368983753025532, 0.03208556026220322, 0.050802137702703476,
				     0.06951871514320374, 0.0882352963089943, 0.10695187002420425, 0.1256684511899948,
				     0.14438502490520477, 0.16310161352157593, 0.1764705926179886, 0.09007353335618973},
		    12);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(ppm_color)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/c.ppm", dir);
	float v[12];
	/* ASCII: a red pixel and a blue one */
	write_str(path, "P3 2 1 255 255 0 0  0 0 255\n");
	load_ok(path, 3, 1, 2, v);
	expect_vals(v, (const double[]){1, 0, 0, 0, 0, 1}, 6);
	load_ok(path, 1, 1, 2, v);
	expect_vals(v, (const double[]){0.299, 0.114}, 2);

	/* binary 16-bit, big-endian samples: R = 65535, G = 0, B = 32768 */
	write_bytes(path, "P6\n1 1\n65535\n\xff\xff\x00\x00\x80\x00", 19);
	load_ok(path, 3, 1, 1, v);
	expect_vals(v, (const double[]){1, 0, 32768.0 / 65535.0}, 3);
	load_ok(path, 1, 1, 1, v);
	expect_vals(v, (const double[]){0.299 + 0.114 * (32768.0 / 65535.0)}, 1);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static void write_png(const char *path, cairo_format_t fmt, int w, int h, const double (*rgba)[4])
{
	cairo_surface_t *s = cairo_image_surface_create(fmt, w, h);
	cairo_t *cr = cairo_create(s);
	cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
	for (int i = 0; i < w * h; i++) {
		cairo_set_source_rgba(cr, rgba[i][0], rgba[i][1], rgba[i][2], rgba[i][3]);
		cairo_rectangle(cr, i % w, i / w, 1, 1);
		cairo_fill(cr);
	}
	cairo_destroy(cr);
	ck_assert_int_eq(cairo_surface_write_to_png(s, path), CAIRO_STATUS_SUCCESS);
	cairo_surface_destroy(s);
}

START_TEST(png)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/p.png", dir);
	/* red green / blue white */
	const double px[4][4] = {{1, 0, 0, 1}, {0, 1, 0, 1}, {0, 0, 1, 1}, {1, 1, 1, 1}};
	write_png(path, CAIRO_FORMAT_RGB24, 2, 2, px);
	float v[3 * 16];
	load_ok(path, 3, 2, 2, v);
	expect_vals(v, (const double[]){1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1}, 12);
	load_ok(path, 1, 2, 2, v);
	expect_vals(v, (const double[]){0.299, 0.587, 0.114, 1}, 4);

	/*
	 * 2x2 -> 4x4, red plane 1 0 / 0 1: along each axis the sources are 0, .25, .75, 1, so row 0 is
	 * 1 .75 .25 0 and row 1 = .75 row 0 + .25 row 3.
	 */
	load_ok(path, 3, 4, 4, v);
	expect_vals(v, (const double[]){1, .75, .25, 0, .75, .625, .375, .25, .25, .375, .625, .75, 0, .25, .75, 1},
		    16);

	/* half-transparent orange: the color is kept and alpha dropped, as PIL's convert("RGB") */
	const double tr[1][4] = {{1, 0.6, 0, 0.5}};
	write_png(path, CAIRO_FORMAT_ARGB32, 1, 1, tr);
	load_ok(path, 3, 1, 1, v);
	ck_assert_msg(fabs(v[0] - 1) < 1.0 / 255 && fabs(v[1] - 0.6) < 2.0 / 255 && v[2] == 0, "%g %g %g", v[0], v[1],
		      v[2]);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(errors)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/e", dir);
	expect_fail(path, 1, CLCNN_ERR_IO, "cannot open: No such file or directory");
	expect_fail(dir, 1, CLCNN_ERR_IO, "not a regular file");
	write_str(path, "GIF89a....");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "unknown image format (not PNG, JPEG, PGM or PPM)");
	write_str(path, "");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "unknown image format");
	write_str(path, "P1 1 1 1");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "P1 (PBM/PAM) is not supported, only P2 P3 P5 P6");
	write_str(path, "P5 3 2 255\n\1\2\3\4");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "truncated P5: 3x2 pixels need 6 bytes, got 4");
	write_str(path, "P6 3 2 65535\n\1\2\3\4");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "truncated P6: 3x2 pixels need 36 bytes, got 4");
	write_str(path, "P5 99999 99999 255\n\1");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "truncated P5: 99999x99999 pixels need 9999800001 bytes, got 1");
	write_str(path, "P2 1000 1000 255 1 2 3");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "truncated P2: 6 bytes cannot hold 1000x1000 pixels");
	write_str(path, "P5 0 2 255\n");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "bad P5 header: width, height and maxval (1 to 65535) expected");
	write_str(path, "P5 1 1 65536\n\1");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "bad P5 header");
	write_str(path, "P5 1 1 255");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "no whitespace after the P5 maxval");
	write_str(path, "P2 1 1 10 11");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "sample 11 exceeds maxval 10");
	write_str(path, "P5 1 1 10 \x0b");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "sample 11 exceeds maxval 10");
	write_str(path, "P2 2 2 255 1 2 x 4");
	expect_fail(path, 1, CLCNN_ERR_FORMAT, "truncated or bad P2 sample 2 of 4");

	/* a PNG cut in half, and a PNG signature followed by garbage */
	const double px[4][4] = {{1, 0, 0, 1}, {0, 1, 0, 1}, {0, 0, 1, 1}, {1, 1, 1, 1}};
	write_png(path, CAIRO_FORMAT_RGB24, 2, 2, px);
	FILE *f = fopen(path, "rb");
	unsigned char buf[4096];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	write_bytes(path, buf, n / 2);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "cannot decode PNG: truncated file");
	/* damaged image data after a valid header */
	const unsigned char *idat = memmem(buf, n, "IDAT", 4);
	ck_assert_ptr_nonnull(idat);
	size_t at = (size_t)(idat - buf) + 6;
	ck_assert_uint_lt(at + 6, n);
	unsigned char bad[4096];
	memcpy(bad, buf, n);
	for (size_t i = at; i < at + 6; i++)
		bad[i] ^= 0x5a;
	write_bytes(path, bad, n);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "cannot decode PNG: corrupt data");
	/* a header claiming 40000 x 40000 pixels is refused before anything is allocated */
	memcpy(bad, buf, n);
	memcpy(bad + 16, "\0\0\x9c\x40\0\0\x9c\x40", 8);
	write_bytes(path, bad, n);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "PNG of 40000x40000 pixels exceeds the 134217728-pixel limit");
	memcpy(buf + 8, "garbage garbage garbage", 23);
	write_bytes(path, buf, 31);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "cannot decode PNG: no IHDR chunk");

	/* bad requests */
	write_str(path, "P2 1 1 10 1");
	expect_fail(path, 2, CLCNN_ERR_INVALID, "2 channels requested (1 or 3 supported)");
	float v[4];
	char err[256];
	ck_assert_int_eq(clcnn_image_load(path, 1, 0, 2, v, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_image_load(path, 1, 2, 2, NULL, err, sizeof err), CLCNN_ERR_INVALID);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/*
 * A PNG of any color type and depth through libpng's writer: rows are the raw samples (big-endian
 * for 16 bits), palette/trns optional. PIL's reading of each layout is the reference.
 */
static void write_png_raw(const char *path, int w, int h, int depth, int color, const unsigned char *raw,
			  const png_color *palette, int npal, const unsigned char *trns, int ntrns, int interlace)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	ck_assert_ptr_nonnull(info);
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
		     interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	if (palette)
		png_set_PLTE(png, info, palette, npal);
	if (trns)
		png_set_tRNS(png, info, trns, ntrns, NULL);
	png_write_info(png, info);
	int ch = color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_PALETTE ? 1
		 : color == PNG_COLOR_TYPE_GRAY_ALPHA                            ? 2
		 : color == PNG_COLOR_TYPE_RGB                                   ? 3
										 : 4;
	size_t rowbytes = ((size_t)w * (size_t)ch * (size_t)depth + 7) / 8;
	png_bytep rows[16];
	ck_assert_int_le(h, 16);
	for (int y = 0; y < h; y++)
		rows[y] = (png_bytep)raw + (size_t)y * rowbytes;
	png_write_image(png, rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	ck_assert_int_eq(fclose(f), 0);
}

/* Each PNG layout as PIL's Image.open(p).convert("RGB") reads it (or the documented deviation). */
START_TEST(png_layouts)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/l.png", dir);
	float v[3 * 16];

	/* 16-bit RGB: the high byte of each sample (PIL's "RGB;16B"), not a rounded 65535 -> 255 scale */
	write_png_raw(path, 2, 1, 16, PNG_COLOR_TYPE_RGB,
		      (const unsigned char[]){0x12, 0xff, 0x80, 0x00, 0xff, 0xff, 0x00, 0x7f, 0x01, 0x80, 0xfe, 0x01},
		      NULL, 0, NULL, 0, 0);
	load_ok(path, 3, 1, 2, v);
	expect_vals(v, (const double[]){0x12 / 255., 0x00 / 255., 0x80 / 255., 0x01 / 255., 0xff / 255., 0xfe / 255.},
		    6);

	/* 16-bit gray: the high byte too (PIL would clip the 16-bit value at 255: documented deviation) */
	write_png_raw(path, 2, 1, 16, PNG_COLOR_TYPE_GRAY, (const unsigned char[]){0x40, 0xff, 0xc0, 0x00}, NULL, 0,
		      NULL, 0, 0);
	load_ok(path, 3, 1, 2, v);
	for (int c = 0; c < 3; c++)
		expect_vals(v + 2 * c, (const double[]){0x40 / 255., 0xc0 / 255.}, 2);

	/* gray of 2 bits: 0..3 scaled to 0, 85, 170, 255 (PIL's "L;2") */
	write_png_raw(path, 4, 1, 2, PNG_COLOR_TYPE_GRAY, (const unsigned char[]){0x1b}, NULL, 0, NULL, 0, 0);
	load_ok(path, 1, 1, 4, v);
	expect_vals(v, (const double[]){0, 85 / 255., 170 / 255., 1}, 4);
	/* 1 bit: 0 and 255; 4 bits: k * 17 */
	write_png_raw(path, 3, 1, 1, PNG_COLOR_TYPE_GRAY, (const unsigned char[]){0xa0}, NULL, 0, NULL, 0, 0);
	load_ok(path, 1, 1, 3, v);
	expect_vals(v, (const double[]){1, 0, 1}, 3);
	write_png_raw(path, 2, 1, 4, PNG_COLOR_TYPE_GRAY, (const unsigned char[]){0x3c}, NULL, 0, NULL, 0, 0);
	load_ok(path, 1, 1, 2, v);
	expect_vals(v, (const double[]){3 * 17 / 255., 12 * 17 / 255.}, 2);

	/* palette of 4 bits with a transparent entry: the palette color, its alpha dropped */
	const png_color pal[3] = {{10, 20, 30}, {200, 100, 0}, {0, 0, 255}};
	write_png_raw(path, 3, 1, 4, PNG_COLOR_TYPE_PALETTE, (const unsigned char[]){0x21, 0x00}, pal, 3,
		      (const unsigned char[]){255, 0}, 2, 0);
	load_ok(path, 3, 1, 3, v);
	expect_vals(v, (const double[]){0, 200 / 255., 10 / 255., 0, 100 / 255., 20 / 255., 1, 0, 30 / 255.}, 9);

	/* gray + alpha (alpha 0): the gray kept; RGBA (alpha 0): the color kept, not composited on black */
	write_png_raw(path, 1, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, (const unsigned char[]){77, 0}, NULL, 0, NULL, 0, 0);
	load_ok(path, 3, 1, 1, v);
	expect_vals(v, (const double[]){77 / 255., 77 / 255., 77 / 255.}, 3);
	write_png_raw(path, 1, 1, 8, PNG_COLOR_TYPE_RGB_ALPHA, (const unsigned char[]){9, 99, 199, 0}, NULL, 0, NULL, 0,
		      0);
	load_ok(path, 3, 1, 1, v);
	expect_vals(v, (const double[]){9 / 255., 99 / 255., 199 / 255.}, 3);

	/* Adam7 interlacing gives the same pixels as the plain layout */
	unsigned char raw[3 * 5 * 4];
	for (int i = 0; i < 3 * 5 * 4; i++)
		raw[i] = (unsigned char)(i * 37 % 256);
	write_png_raw(path, 5, 4, 8, PNG_COLOR_TYPE_RGB, raw, NULL, 0, NULL, 0, 1);
	float il[60];
	load_ok(path, 3, 4, 5, il);
	for (int i = 0; i < 20; i++)
		for (int c = 0; c < 3; c++)
			ck_assert_msg(fabs(il[c * 20 + i] - raw[i * 3 + c] / 255.0) <= TOL, "pixel %d ch %d", i, c);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* A w x h RGB (or gray when c = 1) JPEG of rgb (HWC bytes) through TurboJPEG's encoder, 4:4:4. */
static size_t make_jpeg(const unsigned char *px, int c, int w, int h, int quality, unsigned char *out, size_t cap)
{
	tjhandle tj = tjInitCompress();
	ck_assert_ptr_nonnull(tj);
	unsigned char *jpg = NULL;
	unsigned long size = 0;
	int rc = tjCompress2(tj, px, w, 0, h, c == 1 ? TJPF_GRAY : TJPF_RGB, &jpg, &size,
			     c == 1 ? TJSAMP_GRAY : TJSAMP_444, quality, 0);
	ck_assert_msg(rc == 0, "%s", tjGetErrorStr2(tj));
	ck_assert_uint_le(size, cap);
	memcpy(out, jpg, size);
	tjFree(jpg);
	tjDestroy(tj);
	return size;
}

/*
 * JPEG at quality 100 with 4:4:4 sampling: every quantisation step is 1, so what is left is the
 * rounding of the integer DCT (islow: < 1 level) and of the RGB <-> YCbCr conversions (< 1 level
 * each way): a sample is within 3/255 of the original. Gray files skip the color conversion and
 * stay within 1/255.
 */
START_TEST(jpeg)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/j.JPG", dir); /* any name: the content says JPEG */
	enum {
		W = 12,
		H = 9
	};
	unsigned char px[W * H * 3], jpg[1 << 14];
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			px[(y * W + x) * 3 + 0] = (unsigned char)(20 * x);
			px[(y * W + x) * 3 + 1] = (unsigned char)(25 * y);
			px[(y * W + x) * 3 + 2] = (unsigned char)(200 - 8 * x - 5 * y);
		}
	write_bytes(path, jpg, make_jpeg(px, 3, W, H, 100, jpg, sizeof jpg));
	float v[3 * W * H];
	load_ok(path, 3, H, W, v);
	double worst = 0;
	for (int i = 0; i < W * H; i++)
		for (int c = 0; c < 3; c++)
			worst = fmax(worst, fabs(v[c * W * H + i] - px[i * 3 + c] / 255.0));
	ck_assert_msg(worst <= 3.0 / 255 + TOL, "worst error %g levels", worst * 255);
	/* the decode is libjpeg's, whole levels divided by 255 */
	for (int i = 0; i < 3 * W * H; i++)
		ck_assert_msg(fabs(v[i] * 255 - round(v[i] * 255)) < 1e-4, "value %g is not k/255", v[i]);

	/* gray JPEG: one channel decoded, replicated on request */
	unsigned char g[W * H];
	for (int i = 0; i < W * H; i++)
		g[i] = (unsigned char)(i * 2);
	write_bytes(path, jpg, make_jpeg(g, 1, W, H, 100, jpg, sizeof jpg));
	struct clcnn_image im;
	char err[1024];
	ck_assert_msg(clcnn_image_decode(path, &im, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(im.c, 1);
	ck_assert_int_eq(im.h, H);
	ck_assert_int_eq(im.w, W);
	free(im.px);
	load_ok(path, 3, H, W, v);
	for (int i = 0; i < W * H; i++) {
		ck_assert_msg(fabs(v[i] - g[i] / 255.0) <= 1.0 / 255 + TOL, "gray %d: %g vs %d", i, v[i] * 255, g[i]);
		ck_assert(v[i] == v[W * H + i] && v[i] == v[2 * W * H + i]);
	}
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(jpeg_errors)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/bad.jpg", dir);
	unsigned char px[16 * 16 * 3], jpg[1 << 14];
	for (int i = 0; i < 16 * 16 * 3; i++)
		px[i] = (unsigned char)(i * 7);
	size_t n = make_jpeg(px, 3, 16, 16, 90, jpg, sizeof jpg);
	/* cut inside the entropy-coded data: libjpeg's warning is an error, as PIL's "truncated" */
	write_bytes(path, jpg, n - 40);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "cannot decode JPEG: Premature end of JPEG file");
	/* cut inside the headers */
	write_bytes(path, jpg, 20);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "cannot decode JPEG: no frame header (truncated file?)");
	/* the magic and then garbage */
	write_bytes(path, "\xff\xd8\xff garbage garbage garbage", 27);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "cannot decode JPEG: Unsupported marker type 0x20");
	/* a frame header claiming 60000 x 60000 pixels is refused before the pixels are allocated */
	unsigned char big[1 << 14];
	memcpy(big, jpg, n);
	unsigned char *sof = memmem(big, n, "\xff\xc0", 2);
	ck_assert_ptr_nonnull(sof);
	memcpy(sof + 5, "\xea\x60\xea\x60", 4); /* SOF0: length(2) precision(1) height(2) width(2) */
	write_bytes(path, big, n);
	expect_fail(path, 3, CLCNN_ERR_FORMAT, "JPEG of 60000x60000 pixels exceeds the 134217728-pixel limit");
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* center_crop cuts the largest centered square where torchvision's CenterCrop does. */
START_TEST(center_crop)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/c.pgm", dir);
	/* 5 wide, 2 high: the square starts at column round(3 / 2) = 2 (half to even) */
	write_bytes(path, "P5 5 2 255\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", 21);
	float v[4];
	char err[256];
	ck_assert_int_eq(clcnn_image_load_crop(path, 1, 2, 2, 1, v, err, sizeof err), 0);
	expect_vals(v, (const double[]){2 / 255., 3 / 255., 7 / 255., 8 / 255.}, 4);
	/* 2 wide, 4 high: rows 1 and 2; then resized to 1x1 (the mean of the 2x2 square) */
	write_bytes(path, "P5 2 4 255\n\x00\x01\x02\x03\x04\x05\x06\x07", 19);
	ck_assert_int_eq(clcnn_image_load_crop(path, 1, 2, 2, 1, v, err, sizeof err), 0);
	expect_vals(v, (const double[]){2 / 255., 3 / 255., 4 / 255., 5 / 255.}, 4);
	ck_assert_int_eq(clcnn_image_load_crop(path, 1, 1, 1, 1, v, err, sizeof err), 0);
	expect_vals(v, (const double[]){3.5 / 255.}, 1);
	/* without the crop the whole image is squeezed */
	ck_assert_int_eq(clcnn_image_load_crop(path, 1, 1, 1, 0, v, err, sizeof err), 0);
	expect_vals(v, (const double[]){3.5 / 255.}, 1);
	ck_assert_int_eq(clcnn_image_load_crop(path, 1, 2, 1, 0, v, err, sizeof err), 0);
	expect_vals(v, (const double[]){1.5 / 255., 5.5 / 255.}, 2);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("image");
	tcase_add_test(tc, pgm_resize);
	tcase_add_test(tc, matches_pytorch);
	tcase_add_test(tc, ppm_color);
	tcase_add_test(tc, png);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, png_layouts);
	tcase_add_test(tc, jpeg);
	tcase_add_test(tc, jpeg_errors);
	tcase_add_test(tc, center_crop);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
