/* Shared pieces of the clcnn command-line tool: one file per subcommand, registered in main.c. */
#ifndef CLCNN_CLI_H
#define CLCNN_CLI_H
#include <stdio.h>

#include "clcnn/clcnn.h"

/* Exit statuses of every subcommand. */
enum {
	CLI_OK = 0,
	CLI_ERROR = 1,
	CLI_USAGE = 2
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* Open a context from the environment; prints the error and returns NULL on failure. */
struct clcnn_context *cli_open_context(void);
/* The same without the first-run progress display, for a command that reports compilation itself. */
struct clcnn_context *cli_open_context_unannounced(void);
/* The same without printing: NULL with the message in err (errlen bytes) on failure. */
struct clcnn_context *cli_try_context(char *err, size_t errlen);
/* cli_open_context and cli_try_context on the device CLCNN_DEVICE=device would choose (NULL: the environment's). */
struct clcnn_context *cli_open_context_on(const char *device);
struct clcnn_context *cli_try_context_on(const char *device, char *err, size_t errlen);
/* A context without a device (clcnn_context_open_host): netfiles, shapes and plans only. */
struct clcnn_context *cli_open_host_context(void);
/* Print "clcnn <cmd>: <message>" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);
/* Log callback printing to stderr. */
void cli_log(void *user, int level, const char *msg);

/* Monotonic seconds. */
double cli_now(void);

/* Long options: --name VALUE, --name=VALUE, or --name for booleans. */
enum cli_flag_type {
	FLAG_INT,
	FLAG_DOUBLE,
	FLAG_STR,
	FLAG_BOOL
};
struct cli_flag {
	const char *name;
	enum cli_flag_type type;
	void *dst; /* int*, double*, const char**, int* */
	double min, max;
	const char *meta; /* e.g. " DIR" for help; NULL = by type */
	const char *help;
};
/*
 * Parse argv[1..] into flags and up to max_pos positional arguments. Returns 0, 1 after printing
 * --help (exit 0), or -1 after printing a usage error (exit 2).
 */
int cli_parse(const char *cmd, int argc, char **argv, const struct cli_flag *flags, char **pos, int max_pos, int *npos,
	      void (*help)(FILE *));
void cli_print_flags(FILE *out, const struct cli_flag *flags);
/*
 * The name closest to word[0..len) among name(table, 0), name(table, 1), ... (until NULL) when it
 * is close enough to be what was meant (a typo, or a prefix of 4+ letters), else NULL.
 */
const char *cli_suggest(const char *word, size_t len, const char *(*name)(const void *table, int i), const void *table);

int cmd_devices(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_data(int argc, char **argv);
#endif
