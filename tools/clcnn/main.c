/* clcnn: train and run convolutional networks on OpenCL devices. */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "device/gemm.h"

static const struct cli_command commands[] = {
	{"train", "train a model (netfile) on an image dataset, Fashion-MNIST by default", cmd_train},
	{"eval", "accuracy, per-class accuracy and confusion matrix of a trained model", cmd_eval},
	{"predict", "classify images with a trained model", cmd_predict},
	{"run", "one forward (and backward) pass, every node's output to safetensors", cmd_run},
	{"bench", "per-node forward/backward timing and training-step speed", cmd_bench},
	{"graph", "print a model's DAG with shapes and parameters, or as Graphviz DOT", cmd_graph},
	{"data", "inspect, export and measure a dataset (image folder, IDX, CIFAR, CSV)", cmd_data},
	{"devices", "list OpenCL platforms and devices, and the one selected", cmd_devices},
	{"doctor", "compile every kernel program on the selected device and verify it", cmd_doctor},
};

void cli_error(const char *cmd, const char *fmt, ...)
{
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
	fprintf(stderr, "clcnn: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

struct clcnn_context *cli_open_context(void)
{
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	opt.log_fn = cli_log;
	struct clcnn_context *ctx;
	char err[8192];
	if (clcnn_context_open(&ctx, &opt, err, sizeof err)) {
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
		   "CLCNN_CONV_ALGO (see README.md).\n");
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
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "clcnn: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
