/*
 * Training-curve PNG: it is written atomically, decodes, and shows both curves in their colors; the
 * generic panels (clcnn_plot_panels) draw every series of a panel in its own color, in its panel.
 */
#include <cairo.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/io.h"
#include "testutil.h"

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Pixels of the picture within a small distance of an RGB color, in the top or bottom half. */
static void count_colors(const char *path, int *loss_top, int *acc_bottom, int *acc_top)
{
	cairo_surface_t *s = cairo_image_surface_create_from_png(path);
	ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
	int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
	ck_assert_int_eq(w, 960);
	ck_assert_int_eq(h, 680);
	const unsigned char *d = cairo_image_surface_get_data(s);
	int stride = cairo_image_surface_get_stride(s);
	*loss_top = *acc_bottom = *acc_top = 0;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			uint32_t p;
			memcpy(&p, d + y * stride + 4 * x, 4);
			int r = (int)(p >> 16 & 0xff), g = (int)(p >> 8 & 0xff), b = (int)(p & 0xff);
			int loss = abs(r - 31) + abs(g - 119) + abs(b - 180) < 30;
			int acc = abs(r - 255) + abs(g - 127) + abs(b - 14) < 30;
			*loss_top += loss && y < h / 2;
			*acc_bottom += acc && y >= h / 2;
			*acc_top += acc && y < h / 2;
		}
	}
	cairo_surface_destroy(s);
}

START_TEST(curves)
{
	char *dir = test_tmpdir();
	char path[4096], err[1024];
	snprintf(path, sizeof path, "%s/curve.png", dir);
	enum {
		N = 20
	};
	double ep[N], loss[N], acc[N];
	for (int i = 0; i < N; i++) {
		ep[i] = i + 1;
		loss[i] = 2.3 * exp(-0.25 * i) + 0.2;
		acc[i] = i % 5 == 4 ? NAN : 0.6 + 0.3 * (1 - exp(-0.3 * i)); /* missing evaluations */
	}
	ck_assert_msg(clcnn_plot_curves(path, N, ep, loss, acc, "fashion-mnist, lenet", err, sizeof err) == 0, "%s",
		      err);
	int lt, ab, at;
	count_colors(path, &lt, &ab, &at);
	/* a 2 px line across ~850 px of width, and markers: hundreds of pixels each */
	ck_assert_msg(lt > 800, "%d loss pixels", lt);
	ck_assert_msg(ab > 800, "%d accuracy pixels", ab);
	/* the accuracy color belongs to the bottom panel only */
	ck_assert_msg(at == 0, "%d accuracy pixels in the loss panel", at);

	/* replacing an existing picture, without epochs (1..n) and with no accuracy at all */
	ck_assert_msg(clcnn_plot_curves(path, N, NULL, loss, NULL, NULL, err, sizeof err) == 0, "%s", err);
	count_colors(path, &lt, &ab, &at);
	ck_assert_int_gt(lt, 800);
	ck_assert_int_lt(ab, 150); /* only the legend sample of "test accuracy (no data)" */
	/* a single point and no points at all still make a picture */
	ck_assert_int_eq(clcnn_plot_curves(path, 1, ep, loss, acc, "one", err, sizeof err), 0);
	ck_assert_int_eq(clcnn_plot_curves(path, 0, NULL, NULL, NULL, "none", err, sizeof err), 0);
	ck_assert_int_eq(dir_entries(dir), 1);

	ck_assert_int_eq(clcnn_plot_curves(path, -1, ep, loss, acc, "x", err, sizeof err), CLCNN_ERR_INVALID);
	snprintf(path, sizeof path, "%s/no/such/dir/curve.png", dir);
	ck_assert_int_eq(clcnn_plot_curves(path, N, ep, loss, acc, "x", err, sizeof err), CLCNN_ERR_IO);
	ck_assert_msg(strstr(err, "cannot create a temporary file") && strstr(err, path), "%s", err);
	ck_assert_int_eq(dir_entries(dir), 1);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(panels)
{
	char *dir = test_tmpdir();
	char path[4096], err[1024];
	snprintf(path, sizeof path, "%s/panels.png", dir);
	double x[6] = {0, 1, 2, 3, 4, 5}, a[6] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, b[6] = {0.9, 0.9, 0.85, 0.8, 0.8, 0.7};
	double c[6] = {1, 0.95, 0.9, 0.8, 0.7, 0.6};
	/* top panel: blue and orange; bottom panel: blue only */
	struct clcnn_plot_series top[2] = {{"first", 6, x, a}, {"second", 6, x, b}}, bottom[1] = {{"first", 6, x, c}};
	struct clcnn_plot_panel p[2] = {{"accuracy", 2, top}, {"consistency", 1, bottom}};
	ck_assert_msg(clcnn_plot_panels(path, "probe", "level", 2, p, err, sizeof err) == 0, "%s", err);
	int blue_top, orange_bottom, orange_top;
	/* count_colors: "loss" is the first color (blue), "acc" the second (orange) */
	count_colors(path, &blue_top, &orange_bottom, &orange_top);
	ck_assert_int_gt(blue_top, 500);
	ck_assert_int_gt(orange_top, 500);
	ck_assert_int_lt(orange_bottom, 50);
	ck_assert_int_eq(dir_entries(dir), 1);
	ck_assert_int_eq(clcnn_plot_panels(path, "x", "y", 0, p, err, sizeof err), CLCNN_ERR_INVALID);
	struct clcnn_plot_panel many = {"y", 9, top};
	ck_assert_int_eq(clcnn_plot_panels(path, "x", "y", 1, &many, err, sizeof err), CLCNN_ERR_INVALID);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("plot");
	TCase *tc = tcase_create("plot");
	tcase_add_test(tc, curves);
	tcase_add_test(tc, panels);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
