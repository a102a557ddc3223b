/* Enumerating OpenCL platforms and devices, and choosing one from the selection rules. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clcnn-private.h"
#include "device/device-private.h"

static char *platform_str(cl_platform_id p, cl_platform_info what)
{
	size_t n = 0;
	if (clGetPlatformInfo(p, what, 0, NULL, &n) != CL_SUCCESS || n == 0)
		return clcnn_strdup("?");
	char *s = calloc(1, n + 1);
	if (s && clGetPlatformInfo(p, what, n, s, NULL) != CL_SUCCESS)
		s[0] = 0;
	return s;
}

static char *device_str(cl_device_id d, cl_device_info what)
{
	size_t n = 0;
	if (clGetDeviceInfo(d, what, 0, NULL, &n) != CL_SUCCESS || n == 0)
		return clcnn_strdup("?");
	char *s = calloc(1, n + 1);
	if (s && clGetDeviceInfo(d, what, n, s, NULL) != CL_SUCCESS)
		s[0] = 0;
	/* some drivers pad names with spaces */
	for (size_t i = strlen(s); i > 0 && s[i - 1] == ' '; i--)
		s[i - 1] = 0;
	return s;
}

static const char *type_name(cl_device_type t)
{
	if (t & CL_DEVICE_TYPE_GPU)
		return "gpu";
	if (t & CL_DEVICE_TYPE_CPU)
		return "cpu";
	if (t & CL_DEVICE_TYPE_ACCELERATOR)
		return "accelerator";
	return "other";
}

static void fill_info(struct clcnn_device_entry *e)
{
	struct clcnn_device_info *d = &e->info;
	cl_device_type t = 0;
	cl_uint u = 0;
	cl_ulong ul = 0;
	size_t sz = 0;
	clGetDeviceInfo(e->device, CL_DEVICE_TYPE, sizeof t, &t, NULL);
	d->type = type_name(t);
	e->strings[0] = device_str(e->device, CL_DEVICE_NAME);
	e->strings[1] = device_str(e->device, CL_DEVICE_VENDOR);
	e->strings[2] = device_str(e->device, CL_DRIVER_VERSION);
	e->strings[3] = device_str(e->device, CL_DEVICE_OPENCL_C_VERSION);
	char *ext = device_str(e->device, CL_DEVICE_EXTENSIONS);
	d->name = e->strings[0];
	d->vendor = e->strings[1];
	d->driver_version = e->strings[2];
	d->opencl_c_version = e->strings[3];
	d->fp16 = ext && strstr(ext, "cl_khr_fp16") != NULL;
	d->fp64 = ext && strstr(ext, "cl_khr_fp64") != NULL;
	free(ext);
	if (clGetDeviceInfo(e->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS)
		d->compute_units = u;
	if (clGetDeviceInfo(e->device, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS)
		d->clock_mhz = u;
	if (clGetDeviceInfo(e->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
		d->global_mem = ul;
	if (clGetDeviceInfo(e->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
		d->local_mem = ul;
	if (clGetDeviceInfo(e->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
		d->max_alloc = ul;
	if (clGetDeviceInfo(e->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL) == CL_SUCCESS)
		d->max_work_group = sz;
}

int clcnn_device_list_new(struct clcnn_device_list **out, char *err, size_t errlen)
{
	*out = NULL;
	cl_uint np = 0;
	cl_int rc = clGetPlatformIDs(0, NULL, &np);
	if (rc == CL_PLATFORM_NOT_FOUND_KHR || (rc == CL_SUCCESS && np == 0)) {
		if (err)
			snprintf(err, errlen,
				 "no OpenCL platform found: install an OpenCL driver (for CPUs: apt-get install "
				 "pocl-opencl-icd; check /etc/OpenCL/vendors)");
		return CLCNN_ERR_NO_DEVICE;
	}
	if (rc != CL_SUCCESS) {
		if (err)
			snprintf(err, errlen, "clGetPlatformIDs failed: %s (%d)", clcnn_cl_error_name(rc), (int)rc);
		return CLCNN_ERR_OPENCL;
	}
	struct clcnn_device_list *l = calloc(1, sizeof *l);
	cl_platform_id *plats = calloc(np, sizeof *plats);
	if (!l || !plats) {
		free(l);
		free(plats);
		return CLCNN_ERR_NO_MEMORY;
	}
	clGetPlatformIDs(np, plats, NULL);
	l->nplatforms = (int)np;
	for (cl_uint p = 0; p < np; p++) {
		cl_uint nd = 0;
		if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
			continue;
		cl_device_id *devs = calloc(nd, sizeof *devs);
		struct clcnn_device_entry *ne = realloc(l->entries, (size_t)(l->count + (int)nd) * sizeof *ne);
		if (!devs || !ne) {
			free(devs);
			if (ne)
				l->entries = ne;
			clcnn_device_list_free(l);
			free(plats);
			return CLCNN_ERR_NO_MEMORY;
		}
		l->entries = ne;
		clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
		char *pname = platform_str(plats[p], CL_PLATFORM_NAME);
		char *pver = platform_str(plats[p], CL_PLATFORM_VERSION);
		for (cl_uint d = 0; d < nd; d++) {
			struct clcnn_device_entry *e = &l->entries[l->count];
			memset(e, 0, sizeof *e);
			e->platform = plats[p];
			e->device = devs[d];
			e->info.index = l->count;
			e->info.platform_index = (int)p;
			e->info.device_index = (int)d;
			/* the first device of a platform owns the platform strings */
			e->strings[4] = d == 0 ? pname : NULL;
			e->strings[5] = d == 0 ? pver : NULL;
			e->info.platform_name = pname;
			e->info.platform_version = pver;
			fill_info(e);
			l->count++;
		}
		free(devs);
	}
	free(plats);
	if (l->count == 0) {
		clcnn_device_list_free(l);
		if (err)
			snprintf(err, errlen,
				 "OpenCL platforms found but no devices: install a driver "
				 "(for CPUs: apt-get install pocl-opencl-icd)");
		return CLCNN_ERR_NO_DEVICE;
	}
	*out = l;
	return 0;
}

void clcnn_device_list_free(struct clcnn_device_list *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->count; i++)
		for (size_t s = 0; s < CLCNN_ARRAY_LEN(l->entries[i].strings); s++)
			free(l->entries[i].strings[s]);
	free(l->entries);
	free(l);
}

int clcnn_device_list_count(const struct clcnn_device_list *l)
{
	return l ? l->count : 0;
}

const struct clcnn_device_info *clcnn_device_list_get(const struct clcnn_device_list *l, int i)
{
	return l && i >= 0 && i < l->count ? &l->entries[i].info : NULL;
}

static int ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return n == 0;
}

/* Parse a non-negative decimal integer that spans the whole string. */
static int parse_index(const char *s, int *v)
{
	if (!*s)
		return 0;
	long x = 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p) || x > 100000)
			return 0;
		x = x * 10 + (*p - '0');
	}
	*v = (int)x;
	return 1;
}

static void list_devices(const struct clcnn_device_list *l, char *err, size_t errlen)
{
	size_t len = strlen(err);
	for (int i = 0; i < l->count && len + 1 < errlen; i++) {
		const struct clcnn_device_info *d = &l->entries[i].info;
		snprintf(err + len, errlen - len, "\n  %d (%d:%d) %s: %s [%s]", d->index, d->platform_index,
			 d->device_index, d->type, d->name, d->platform_name);
		len = strlen(err);
	}
}

static int platform_ok(const struct clcnn_device_info *d, const char *plat)
{
	int pi;
	if (!plat || !*plat)
		return 1;
	if (parse_index(plat, &pi))
		return d->platform_index == pi;
	return ci_contains(d->platform_name, plat);
}

static const char *type_rule(const char *sel)
{
	if (strcasecmp(sel, "gpu") == 0)
		return "gpu";
	if (strcasecmp(sel, "cpu") == 0)
		return "cpu";
	if (strcasecmp(sel, "accelerator") == 0)
		return "accelerator";
	return NULL;
}

int clcnn_device_select(const struct clcnn_device_list *l, const struct clcnn_options *opt, int *index,
			const char **rule, char *err, size_t errlen)
{
	char dummy[8];
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = 0;
	const char *sel = opt && opt->device && *opt->device ? opt->device : NULL;
	const char *plat = opt && opt->platform && *opt->platform ? opt->platform : NULL;
	int any_plat = 0;
	for (int i = 0; i < l->count; i++)
		any_plat |= platform_ok(&l->entries[i].info, plat);
	if (!any_plat) {
		snprintf(err, errlen, "CLCNN_PLATFORM=%s matches no platform; devices present:", plat);
		list_devices(l, err, errlen);
		return CLCNN_ERR_NO_DEVICE;
	}
	int p, d, v;
	const char *want_type = sel ? type_rule(sel) : NULL;
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < l->count; i++) {
			const struct clcnn_device_info *di = &l->entries[i].info;
			if (!platform_ok(di, plat))
				continue;
			const char *r = NULL;
			if (!sel) {
				/* default: first GPU, else first CPU, else first device */
				if (pass == 0 && strcmp(di->type, "gpu") == 0)
					r = "default: first GPU";
				else if (pass == 1 && strcmp(di->type, "cpu") == 0)
					r = "default: no GPU, first CPU";
				else if (pass == 2)
					r = "default: first device";
			} else if (pass > 0) {
				break;
			} else if (want_type) {
				if (strcmp(di->type, want_type) == 0)
					r = "CLCNN_DEVICE type";
			} else if (parse_index(sel, &v)) {
				if (di->index == v)
					r = "CLCNN_DEVICE index";
			} else if (sscanf(sel, "%d:%d", &p, &d) == 2 && strchr(sel, ':') &&
				   isdigit((unsigned char)sel[0])) {
				if (di->platform_index == p && di->device_index == d)
					r = "CLCNN_DEVICE platform:device";
			} else if (ci_contains(di->name, sel) || ci_contains(di->platform_name, sel) ||
				   ci_contains(di->vendor, sel)) {
				r = "CLCNN_DEVICE name";
			}
			if (r) {
				*index = i;
				if (rule)
					*rule = r;
				return 0;
			}
		}
	}
	snprintf(err, errlen, "CLCNN_DEVICE=%s%s%s matches no device; devices present:", sel ? sel : "(unset)",
		 plat ? " with CLCNN_PLATFORM=" : "", plat ? plat : "");
	list_devices(l, err, errlen);
	return CLCNN_ERR_NO_DEVICE;
}
