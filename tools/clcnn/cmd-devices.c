/* clcnn devices: every platform and device, and which one the environment selects. */
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn devices\n\n"
		   "List every OpenCL platform and device with its properties, and mark the device that\n"
		   "CLCNN_DEVICE / CLCNN_PLATFORM select (default: first GPU, else first CPU).\n");
}

int cmd_devices(int argc, char **argv)
{
	if (argc > 1) {
		if (cli_is_help(argv[1])) {
			help(stdout);
			return CLI_OK;
		}
		help(stderr);
		return CLI_USAGE;
	}
	struct clcnn_device_list *list;
	char err[8192];
	if (clcnn_device_list_new(&list, err, sizeof err)) {
		cli_error("devices", "%s", err);
		return CLI_ERROR;
	}
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	int sel = -1;
	const char *rule = NULL;
	int rc = clcnn_device_select(list, &opt, &sel, &rule, err, sizeof err);
	int last_platform = -1;
	for (int i = 0; i < clcnn_device_list_count(list); i++) {
		const struct clcnn_device_info *d = clcnn_device_list_get(list, i);
		if (d->platform_index != last_platform) {
			printf("platform %d: %s (%s)\n", d->platform_index, d->platform_name, d->platform_version);
			last_platform = d->platform_index;
		}
		printf("%s device %d (%d:%d): %s\n", i == sel ? "*" : " ", d->index, d->platform_index, d->device_index,
		       d->name);
		printf("    type %s, vendor %s, driver %s, %s\n", d->type, d->vendor, d->driver_version,
		       d->opencl_c_version);
		printf("    %u compute units at %u MHz, global memory %.1f GiB (max alloc %.1f GiB), local memory %llu KiB\n",
		       d->compute_units, d->clock_mhz, (double)d->global_mem / 1073741824.0,
		       (double)d->max_alloc / 1073741824.0, (unsigned long long)(d->local_mem / 1024));
		printf("    max work-group %zu, fp16 %s, fp64 %s\n", d->max_work_group, d->fp16 ? "yes" : "no",
		       d->fp64 ? "yes" : "no");
	}
	if (rc) {
		cli_error("devices", "%s", err);
		clcnn_device_list_free(list);
		return CLI_ERROR;
	}
	printf("selected: device %d (%s)\n", sel, rule);
	clcnn_device_list_free(list);
	return CLI_OK;
}
