/* clcnn doctor: compile every program on the selected device, run a smoke kernel, give a verdict. */
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn doctor\n\n"
		   "On the selected device (CLCNN_DEVICE), compile every kernel program, reporting per-program\n"
		   "compile time and cache hit or miss, run a smoke kernel and check its result.\n"
		   "Exit status 0 when everything works, 1 otherwise.\n");
}

int cmd_doctor(int argc, char **argv)
{
	if (argc > 1) {
		int h = cli_is_help(argv[1]);
		help(h ? stdout : stderr);
		return h ? CLI_OK : CLI_USAGE;
	}
	/* its table says what was compiled; a progress line on stderr would cut into it */
	struct clcnn_context *ctx = cli_open_context_unannounced();
	if (!ctx)
		return CLI_ERROR;
	const struct clcnn_device_info *d = clcnn_context_device(ctx);
	const char *cache = clcnn_context_cache_dir(ctx);
	printf("device: %s [%s], driver %s\n", d->name, d->platform_name, d->driver_version);
	printf("cache:  %s\n", cache ? cache : "off");
	int failures = 0;
	const char *const *fam = clcnn_program_families();
	for (int i = 0; fam[i]; i++) {
		struct clcnn_build_report rep;
		int rc = clcnn_program_build(ctx, fam[i], "", &rep);
		if (rc) {
			failures++;
			printf("  %-14s FAILED\n%s\n", fam[i], clcnn_context_error(ctx));
		} else {
			printf("  %-14s ok  %7.3f s  %s\n", fam[i], rep.seconds,
			       rep.cache_hit ? "cache hit" : "compiled");
		}
	}
	if (clcnn_context_smoke_test(ctx)) {
		failures++;
		printf("  smoke kernel  FAILED: %s\n", clcnn_context_error(ctx));
	} else {
		printf("  smoke kernel  ok\n");
	}
	printf("verdict: %s\n", failures ? "PROBLEMS FOUND" : "device works");
	clcnn_context_close(ctx);
	return failures ? CLI_ERROR : CLI_OK;
}
