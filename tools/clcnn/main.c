/* clcnn: train and run convolutional networks on OpenCL devices. */
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mpi-coll.h"
#include "device/gemm.h"

static const struct cli_command commands[] = {
	{"train", "train a model (netfile) on an image dataset, Fashion-MNIST by default", cmd_train},
	{"eval", "accuracy, per-class accuracy and confusion matrix of a trained model", cmd_eval},
	{"predict", "classify images with a trained model", cmd_predict},
	{"run", "one forward (and backward) pass, every node's output to safetensors", cmd_run},
	{"bench", "per-node forward/backward timing and training-step speed", cmd_bench},
	{"export", "write a trained model as ONNX (opset 13 to 17)", cmd_export},
	{"import", "translate an ONNX model to a netfile and safetensors weights", cmd_import},
	{"graph", "print a model's DAG with shapes and parameters, or as Graphviz DOT", cmd_graph},
	{"data", "inspect, export and measure a dataset (image folder, IDX, CIFAR, CSV)", cmd_data},
	{"devices", "list OpenCL platforms and devices, and the one selected", cmd_devices},
	{"doctor", "compile every kernel program on the selected device and verify it", cmd_doctor},
};

/*
 * Slow first-run work (clcnn_progress): one line saying what happens and where it is kept, then a
 * count of programs compiled and convolutions tuned, redrawn in place on a terminal and printed at
 * most every PROGRESS_EVERY seconds otherwise, and one line when a wait of PROGRESS_SUMMARY seconds
 * or more ends (a graph build or the first results: shorter ones need no closing word).
 */
#define PROGRESS_EVERY 5.0
#define PROGRESS_SUMMARY 2.0
struct progress_view {
	int announced, tty, line_open;
	double waited; /* seconds of the waits that ended (a DONE each) */
	double last;
};
static struct progress_view progress_view;

/* A redrawn progress line is open on the terminal: end it before anything else goes to stderr. */
static void progress_clear(void)
{
	if (progress_view.line_open)
		fputs("\r\033[K", stderr);
	progress_view.line_open = 0;
}

/* Counts are the context's so far, seconds those spent waiting so far. */
static void cli_progress(void *user, const struct clcnn_progress *p)
{
	struct progress_view *v = user;
	double waited = v->waited + p->seconds;
	if (p->event == CLCNN_PROGRESS_DONE) {
		progress_clear();
		v->waited = waited;
		if (p->seconds >= PROGRESS_SUMMARY)
			fprintf(stderr,
				"clcnn: compiled %d kernel program%s and tuned %d convolution%s in %.1f s; later runs "
				"reuse them\n",
				p->compiled, p->compiled == 1 ? "" : "s", p->tuned, p->tuned == 1 ? "" : "s", waited);
		return;
	}
	if (!v->announced) {
		v->announced = 1;
		v->tty = isatty(STDERR_FILENO);
		v->last = cli_now();
		const char *what = p->event == CLCNN_PROGRESS_TUNE ? "tuning convolutions" : "compiling kernels";
		if (p->cache_dir)
			fprintf(stderr, "clcnn: %s for %s (first run; cached in %s)\n", what, p->device, p->cache_dir);
		else
			fprintf(stderr, "clcnn: %s for %s (not cached: CLCNN_CACHE_DIR is off or unusable)\n", what,
				p->device);
	}
	if (v->tty) {
		fprintf(stderr, "\r\033[K  %d program%s compiled, %d convolution%s tuned, %.0f s: %s", p->compiled,
			p->compiled == 1 ? "" : "s", p->tuned, p->tuned == 1 ? "" : "s", waited, p->what);
		v->line_open = 1;
	} else if (cli_now() - v->last >= PROGRESS_EVERY) {
		v->last = cli_now();
		fprintf(stderr, "clcnn:   %d program%s compiled, %d convolution%s tuned, %.0f s\n", p->compiled,
			p->compiled == 1 ? "" : "s", p->tuned, p->tuned == 1 ? "" : "s", waited);
	}
	fflush(stderr);
}

static const char *command_name(const void *table, int i)
{
	return i < (int)(sizeof commands / sizeof commands[0]) ? ((const struct cli_command *)table)[i].name : NULL;
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	progress_clear();
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "clcnn %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

void cli_log(void *user, int level, const char *msg)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	(void)user;
	progress_clear();
	fprintf(stderr, "clcnn: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

static void cli_options(struct clcnn_options *opt)
{
	clcnn_options_from_env(opt);
	opt->log_fn = cli_log;
	opt->progress_fn = cli_progress;
	opt->progress_user = &progress_view;
}

struct clcnn_context *cli_try_context(char *err, size_t errlen)
{
	return cli_try_context_on(NULL, err, errlen);
}

struct clcnn_context *cli_try_context_on(const char *device, char *err, size_t errlen)
{
	struct clcnn_options opt;
	cli_options(&opt);
	if (device)
		opt.device = device;
	struct clcnn_context *ctx;
	if (clcnn_context_open(&ctx, &opt, err, errlen)) {
		clcnn_context_close(ctx);
		return NULL;
	}
	return ctx;
}

struct clcnn_context *cli_open_context(void)
{
	return cli_open_context_on(NULL);
}

struct clcnn_context *cli_open_context_on(const char *device)
{
	char err[8192];
	struct clcnn_context *ctx = cli_try_context_on(device, err, sizeof err);
	if (!ctx) {
		progress_clear();
		fprintf(stderr, "clcnn: %s\n", err);
	}
	return ctx;
}

struct clcnn_context *cli_open_context_unannounced(void)
{
	struct clcnn_options opt;
	cli_options(&opt);
	opt.progress_fn = NULL;
	struct clcnn_context *ctx;
	char err[8192];
	if (clcnn_context_open(&ctx, &opt, err, sizeof err)) {
		fprintf(stderr, "clcnn: %s\n", err);
		clcnn_context_close(ctx);
		return NULL;
	}
	return ctx;
}

struct clcnn_context *cli_open_host_context(void)
{
	struct clcnn_options opt;
	cli_options(&opt);
	struct clcnn_context *ctx;
	char err[512];
	if (clcnn_context_open_host(&ctx, &opt, err, sizeof err)) {
		fprintf(stderr, "clcnn: %s\n", err);
		clcnn_context_close(ctx);
		return NULL;
	}
	return ctx;
}

/* The library this binary runs (the tool links it statically, so it is also the headers'). */
static void version(void)
{
	printf("clcnn %s\n", clcnn_version());
	printf("OpenCL %d.%d host API; CLBlast GEMM %s\n", CL_TARGET_OPENCL_VERSION / 100,
	       CL_TARGET_OPENCL_VERSION / 10 % 10, clcnn_gemm_algo_available(CLCNN_GEMM_CLBLAST) ? "yes" : "no");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: clcnn COMMAND [ARGS...]\n       clcnn --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'clcnn COMMAND --help' for a command's options.\n"
		   "Environment: CLCNN_DEVICE, CLCNN_PLATFORM, CLCNN_CACHE_DIR, CLCNN_KERNEL_DIR, CLCNN_LOG,\n"
		   "CLCNN_CONV_ALGO, CLCNN_TUNE (see README.md).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (cli_is_help(argv[1])) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		version();
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name)) {
			/* under mpirun only: a plain clcnn never needs MPI at run time */
			cli_mpi_init(&argc, &argv);
			int rc = commands[i].run(argc - 1, argv + 1);
			cli_mpi_finish(rc);
			return rc;
		}
	const char *s = cli_suggest(argv[1], strlen(argv[1]), command_name, commands);
	if (s) {
		fprintf(stderr, "clcnn: unknown command '%s'; did you mean '%s'?\n", argv[1], s);
		return CLI_USAGE;
	}
	fprintf(stderr, "clcnn: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
