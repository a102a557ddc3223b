/* Shared pieces of the clcnn command-line tool: one file per subcommand, registered in main.c. */
#ifndef CLCNN_CLI_H
#define CLCNN_CLI_H
#include <stdio.h>

#include "clcnn/clcnn.h"

/* Exit statuses of every subcommand. */
enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* Open a context from the environment; prints the error and returns NULL on failure. */
struct clcnn_context *cli_open_context(void);
/* Print "clcnn <cmd>: <message>" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);
/* Log callback printing to stderr. */
void cli_log(void *user, int level, const char *msg);

int cmd_devices(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
#endif
