/*
 * clcnn data: look at a dataset without a device. `info` says what clcnn_source_open finds (format,
 * split sizes, sample shape, classes), `export` writes any image source as an ImageFolder of PNGs
 * (8-bit exact, so a dataset of 8-bit images reads back as the same floats), `stats` prints the
 * per-channel mean and std of the training split, the normalisation `clcnn train` would record.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clcnn/data.h"
#include "cli-alloc.h"
#include "cli.h"
#include "io/image.h"

static const char *format, *split, *label_column, *out;
static double val_split;
static int limit;

static const struct cli_flag info_flags[] = {
	{"format", FLAG_STR, &format, 0, 0, " F", "auto (default), idx, imagefolder, cifar10, cifar100 or csv"},
	{"split", FLAG_STR, &split, 0, 0, " S", "train or test (default: both)"},
	{"val-split", FLAG_DOUBLE, &val_split, 0, 0.99, " F", "hold out this fraction of train as the test split"},
	{"label-column", FLAG_STR, &label_column, 0, 0, " C", "CSV: name or 0-based index of the label column"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct cli_flag export_flags[] = {
	{"out", FLAG_STR, &out, 0, 0, " DIR", "the ImageFolder to write (required)"},
	{"format", FLAG_STR, &format, 0, 0, " F", "auto (default), idx, imagefolder, cifar10 or cifar100"},
	{"split", FLAG_STR, &split, 0, 0, " S", "train, test or both (default)"},
	{"val-split", FLAG_DOUBLE, &val_split, 0, 0.99, " F", "hold out this fraction of train as the test split"},
	{"limit", FLAG_INT, &limit, 1, 1 << 30, NULL, "export only the first N samples of each split"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct cli_flag stats_flags[] = {
	{"format", FLAG_STR, &format, 0, 0, " F", "auto (default), idx, imagefolder, cifar10, cifar100 or csv"},
	{"split", FLAG_STR, &split, 0, 0, " S", "train (default) or test"},
	{"label-column", FLAG_STR, &label_column, 0, 0, " C", "CSV: name or 0-based index of the label column"},
	{"limit", FLAG_INT, &limit, 1, 1 << 30, NULL, "use N samples of a fixed permutation (default: all)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Every option of the three, for `clcnn data --help` (and so the man page). */
static const struct cli_flag all_flags[] = {
	{"format", FLAG_STR, NULL, 0, 0, " F", "auto (default), idx, imagefolder, cifar10, cifar100 or csv"},
	{"split", FLAG_STR, NULL, 0, 0, " S", "info: train or test (default both); export: train, test or both;"},
	{"", FLAG_BOOL, NULL, 0, 0, NULL, "stats: train (default) or test"},
	{"val-split", FLAG_DOUBLE, NULL, 0, 0.99, " F", "info, export: hold out this fraction of train as test"},
	{"label-column", FLAG_STR, NULL, 0, 0, " C", "info, stats: CSV label column (name or 0-based index)"},
	{"out", FLAG_STR, NULL, 0, 0, " DIR", "export: the ImageFolder to write (required)"},
	{"limit", FLAG_INT, NULL, 1, 1 << 30, NULL, "export: the first N samples of each split;"},
	{"", FLAG_BOOL, NULL, 0, 0, NULL, "stats: N samples of a fixed permutation"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn data info PATH [options]\n"
		   "       clcnn data export PATH --out DIR [options]\n"
		   "       clcnn data stats PATH [options]\n\n"
		   "Look at a dataset (IDX, image folder, CIFAR binaries, CSV) without an OpenCL device: info\n"
		   "prints its format, split sizes, sample shape, layout and classes; export writes an image\n"
		   "dataset as an ImageFolder of PNGs (DIR/SPLIT/K-NAME/INDEX.png, 8-bit exact); stats prints\n"
		   "the per-channel mean and std of the training split. clcnn data COMMAND --help shows the\n"
		   "options of one command.\n\noptions:\n");
	for (const struct cli_flag *g = all_flags; g->name; g++) {
		if (*g->name) {
			cli_print_flags(f, (const struct cli_flag[]){*g, {NULL, 0, NULL, 0, 0, NULL, NULL}});
		} else {
			fprintf(f, "  %-26s %s\n", "", g->help);
		}
	}
}

static void help_info(FILE *f)
{
	fprintf(f, "usage: clcnn data info PATH [options]\n\n"
		   "Print the dataset's format, split sizes, sample shape, layout and classes.\n\noptions:\n");
	cli_print_flags(f, info_flags);
}

static void help_export(FILE *f)
{
	fprintf(f, "usage: clcnn data export PATH --out DIR [options]\n\n"
		   "Write an image dataset as an ImageFolder of PNGs: DIR/SPLIT/K-NAME/INDEX.png, K the class\n"
		   "index zero-padded so that the folders sort in label order, NAME the class name made safe\n"
		   "for file names. Gray stays gray; 8-bit images are written exactly.\n\noptions:\n");
	cli_print_flags(f, export_flags);
}

static void help_stats(FILE *f)
{
	fprintf(f, "usage: clcnn data stats PATH [options]\n\n"
		   "Print the per-channel mean and standard deviation of the training split (per feature for\n"
		   "CSV), the normalisation clcnn train records when --mean and --std are not given.\n\n"
		   "options:\n");
	cli_print_flags(f, stats_flags);
}

/* Open one split with the flags given; prints the error. */
static int open_split(const char *cmd, const char *path, const char *which, struct clcnn_source **s, char *err,
		      size_t errlen)
{
	struct clcnn_source_options o = {.split = which, .label_column = label_column, .val_split = val_split};
	if (format && clcnn_data_format_parse(format, &o.format, err, errlen)) {
		cli_error(cmd, "%s", err);
		return CLI_USAGE;
	}
	if (clcnn_source_open(path, &o, s, err, errlen))
		return CLI_ERROR;
	return CLI_OK;
}

static void print_info(const struct clcnn_source_info *in)
{
	if (in->nd == 1)
		printf("sample: %d features\n", in->c);
	else
		printf("sample: %dx%dx%d (channels x height x width)\n", in->c, in->h, in->w);
	printf("layout: %s\nclasses: %d\n", in->layout ? in->layout : "?", in->classes);
	for (int k = 0; in->class_names && k < in->classes; k++)
		printf("  %d %s\n", k, in->class_names[k]);
}

static int data_info(int argc, char **argv)
{
	char *pos[1], err[4096];
	int npos, pr = cli_parse("data info", argc, argv, info_flags, pos, 1, &npos, help_info);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1) {
		cli_error("data info", "expected PATH (see clcnn data info --help)");
		return CLI_USAGE;
	}
	if (split && strcmp(split, "train") && strcmp(split, "test")) {
		cli_error("data info", "bad value '%s' for --split: expected train or test", split);
		return CLI_USAGE;
	}
	const char *splits[2] = {"train", "test"};
	int first = split && !strcmp(split, "test"), last = split && !strcmp(split, "train") ? 0 : 1;
	struct clcnn_source *shown = NULL;
	for (int i = first; i <= last; i++) {
		struct clcnn_source *s;
		int rc = open_split("data info", pos[0], splits[i], &s, err, sizeof err);
		/* a dataset without a test split is still a dataset: say so, unless the test split was asked */
		if (rc == CLI_ERROR && i == 1 && !split && strstr(err, "has no test split")) {
			printf("test: none (no test split; --val-split F holds one out of train)\n");
			continue;
		}
		if (rc) {
			if (rc == CLI_ERROR)
				cli_error("data info", "%s", err);
			clcnn_source_close(shown);
			return rc;
		}
		const struct clcnn_source_info *in = clcnn_source_info(s);
		if (!shown)
			printf("format: %s\n", clcnn_data_format_name(in->format));
		printf("%s: %d samples\n", splits[i], in->n);
		if (!shown)
			shown = s;
		else
			clcnn_source_close(s);
	}
	print_info(clcnn_source_info(shown));
	clcnn_source_close(shown);
	return CLI_OK;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0777) && errno != EEXIST) {
		cli_error("data export", "%s: cannot create folder: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A class name as a file name: letters, digits, '-', '_' and '.' kept, anything else '_'. */
static void sanitize(char *dst, size_t cap, const char *name)
{
	size_t n = 0;
	for (const char *p = name; *p && n + 1 < cap; p++) {
		char c = *p;
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_' || (c == '.' && n > 0);
		dst[n++] = keep ? c : '_';
	}
	dst[n] = 0;
}

/* v in decimal, zero-padded to width (<= 10) digits. */
static void padded(char out[16], int v, int width)
{
	char tmp[16];
	int n = snprintf(tmp, sizeof tmp, "%d", v), z = width > n ? width - n : 0;
	memset(out, '0', (size_t)z);
	memcpy(out + z, tmp, (size_t)n + 1);
}

static int digits(int n)
{
	int d = 1;
	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* DIR/<which>/<class>/<index>.png for the first `limit` samples of one split. */
static int export_split(const char *path, const char *which, char *err, size_t errlen)
{
	struct clcnn_source *s;
	int rc = open_split("data export", path, which, &s, err, errlen);
	if (rc) {
		if (rc == CLI_ERROR)
			cli_error("data export", "%s", err);
		return rc;
	}
	const struct clcnn_source_info *in = clcnn_source_info(s);
	int n = limit && limit < in->n ? limit : in->n;
	if (in->nd != 3 || (in->c != 1 && in->c != 3)) {
		cli_error("data export", "%s: samples of %d x %d x %d are not gray or RGB images", path, in->c, in->h,
			  in->w);
		clcnn_source_close(s);
		return CLI_ERROR;
	}
	size_t plane = (size_t)in->h * (size_t)in->w, cap = strlen(out) + 600;
	float *x = cli_malloc((size_t)in->c * plane * sizeof *x);
	unsigned char *px = cli_malloc((size_t)in->c * plane);
	char *file = cli_malloc(cap);
	int *seen = cli_calloc((size_t)in->classes, sizeof *seen);
	rc = CLI_ERROR;
	if (!x || !px || !file || !seen) {
		cli_error("data export", "out of host memory for a %dx%d image", in->w, in->h);
		goto done;
	}
	snprintf(file, cap, "%s/%s", out, which);
	if (make_dir(out) || make_dir(file))
		goto done;
	int kd = digits(in->classes > 1 ? in->classes - 1 : 0), nd = digits(n > 1 ? n - 1 : 0);
	for (int i = 0; i < n; i++) {
		float label;
		if (clcnn_source_read(s, i, x, &label, err, errlen)) {
			cli_error("data export", "%s", err);
			goto done;
		}
		int k = (int)label;
		char name[256] = "";
		if (in->class_names)
			sanitize(name, sizeof name, in->class_names[k]);
		char kk[16], ii[16];
		padded(kk, k, kd);
		padded(ii, i, nd);
		snprintf(file, cap, "%s/%s/%s%s%s", out, which, kk, *name ? "-" : "", name);
		if (!seen[k] && make_dir(file))
			goto done;
		seen[k] = 1;
		size_t len = strlen(file);
		snprintf(file + len, cap - len, "/%s.png", ii);
		/* planar floats to interleaved bytes: v * 255 rounded gives back the byte v was made from */
		for (size_t p = 0; p < plane; p++)
			for (int c = 0; c < in->c; c++) {
				float v = x[(size_t)c * plane + p] * 255.0f;
				px[p * (size_t)in->c + (size_t)c] = (unsigned char)(v < 0     ? 0
										    : v > 255 ? 255
											      : v + 0.5f);
			}
		if (clcnn_image_write_png(file, in->c, in->h, in->w, px, err, errlen)) {
			cli_error("data export", "%s", err);
			goto done;
		}
	}
	int missing = 0;
	for (int k = 0; k < in->classes; k++)
		missing += !seen[k];
	if (missing && !strcmp(which, "train"))
		fprintf(stderr,
			"clcnn data export: warning: %d of %d classes have no image in %s/train; the folder's labels "
			"will not match the dataset's (export more samples)\n",
			missing, in->classes, out);
	printf("%s: wrote %d images of %d classes to %s/%s\n", which, n, in->classes - missing, out, which);
	rc = CLI_OK;
done:
	free(x);
	free(px);
	free(file);
	free(seen);
	clcnn_source_close(s);
	return rc;
}

static int data_export(int argc, char **argv)
{
	char *pos[1], err[4096];
	int npos, pr = cli_parse("data export", argc, argv, export_flags, pos, 1, &npos, help_export);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || !out) {
		cli_error("data export", "expected PATH and --out DIR (see clcnn data export --help)");
		return CLI_USAGE;
	}
	const char *which = split ? split : "both";
	if (strcmp(which, "train") && strcmp(which, "test") && strcmp(which, "both")) {
		cli_error("data export", "bad value '%s' for --split: expected train, test or both", which);
		return CLI_USAGE;
	}
	int rc = CLI_OK;
	if (strcmp(which, "test"))
		rc = export_split(pos[0], "train", err, sizeof err);
	if (!rc && strcmp(which, "train"))
		rc = export_split(pos[0], "test", err, sizeof err);
	return rc;
}

static int data_stats(int argc, char **argv)
{
	char *pos[1], err[4096];
	int npos, pr = cli_parse("data stats", argc, argv, stats_flags, pos, 1, &npos, help_stats);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1) {
		cli_error("data stats", "expected PATH (see clcnn data stats --help)");
		return CLI_USAGE;
	}
	if (split && strcmp(split, "train") && strcmp(split, "test")) {
		cli_error("data stats", "bad value '%s' for --split: expected train or test", split);
		return CLI_USAGE;
	}
	struct clcnn_source *s;
	int rc = open_split("data stats", pos[0], split ? split : "train", &s, err, sizeof err);
	if (rc) {
		if (rc == CLI_ERROR)
			cli_error("data stats", "%s", err);
		return rc;
	}
	struct clcnn_normalize norm;
	if (clcnn_source_stats(s, limit, &norm, err, sizeof err)) {
		cli_error("data stats", "%s", err);
		clcnn_source_close(s);
		return CLI_ERROR;
	}
	const struct clcnn_source_info *in = clcnn_source_info(s);
	printf("samples: %d\n%s: %d\nmean:", limit && limit < in->n ? limit : in->n,
	       in->nd == 1 ? "features" : "channels", norm.channels);
	for (int c = 0; c < norm.channels; c++)
		printf("%s%.6g", c ? "," : " ", norm.mean[c]);
	printf("\nstd:");
	for (int c = 0; c < norm.channels; c++)
		printf("%s%.6g", c ? "," : " ", norm.std[c]);
	printf("\n");
	clcnn_source_close(s);
	return CLI_OK;
}

int cmd_data(int argc, char **argv)
{
	format = split = label_column = out = NULL;
	val_split = 0;
	limit = 0;
	if (argc < 2 || cli_is_help(argv[1])) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} subs[] = {{"info", data_info}, {"export", data_export}, {"stats", data_stats}};
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	cli_error("data", "unknown command '%s': expected info, export or stats (see clcnn data --help)", argv[1]);
	return CLI_USAGE;
}
