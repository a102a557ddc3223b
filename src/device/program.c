/*
 * Programs: the shared headers of cl/ (*.h, the ids the C side includes too) + common.cl +
 * <family>.cl, specialised by build options, built once per context and remembered in memory by
 * their exact (family, options); binaries are kept in the on-disk cache under a key that spells out
 * everything that changes the result (sources, options, device, driver, platform, format version),
 * stored in the entry and compared on load.
 */
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"

#define CLCNN_CACHE_FORMAT 2
#define BASE_OPTIONS "-cl-std=CL1.2"
#define MAX_PARTS 16

/* Headers are embedded under their file name ("activation.h"), families without ".cl". */
static int is_header(const char *name)
{
	size_t n = strlen(name);
	return n > 2 && !strcmp(name + n - 2, ".h");
}

const char *const *clcnn_program_families(void)
{
	static const char *names[64];
	if (!names[0]) {
		size_t j = 0;
		for (size_t i = 0; i < clcnn_embedded_source_count && j + 1 < CLCNN_ARRAY_LEN(names); i++)
			if (!is_header(clcnn_embedded_sources[i].name))
				names[j++] = clcnn_embedded_sources[i].name;
		names[j] = NULL;
	}
	return names;
}

static int read_file(struct clcnn_context *ctx, const char *path, char **out, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return clcnn_fail(ctx, CLCNN_ERR_IO, "kernel source %s cannot be read (CLCNN_KERNEL_DIR=%s)", path,
				  ctx->opt.kernel_dir);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		fclose(f);
		return clcnn_fail(ctx, CLCNN_ERR_IO, "kernel source %s cannot be read", path);
	}
	fclose(f);
	b[n] = 0;
	*out = b;
	*size = (size_t)n;
	return 0;
}

int clcnn_source_load(struct clcnn_context *ctx, const char *name, char **out, size_t *size)
{
	if (ctx->opt.kernel_dir) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s%s", ctx->opt.kernel_dir, name, is_header(name) ? "" : ".cl");
		return read_file(ctx, path, out, size);
	}
	for (size_t i = 0; i < clcnn_embedded_source_count; i++) {
		const struct clcnn_source *s = &clcnn_embedded_sources[i];
		if (strcmp(s->name, name) == 0) {
			char *b = malloc(s->size + 1);
			if (!b)
				return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of memory loading %s", name);
			memcpy(b, s->data, s->size);
			b[s->size] = 0;
			*out = b;
			*size = s->size;
			return 0;
		}
	}
	return clcnn_fail(ctx, CLCNN_ERR_INVALID, "no kernel program family '%s' is embedded", name);
}

static void append_build_log(struct clcnn_context *ctx, cl_program p)
{
	size_t n = 0;
	clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
	char *log = calloc(1, n + 1);
	if (!log)
		return;
	clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
	clcnn_error_append(ctx, "\nbuild log:\n");
	clcnn_error_append(ctx, log);
	free(log);
}

/* The parts of one program in compile order, and the cache key that spells them out. */
struct program_src {
	size_t n;
	const char *name[MAX_PARTS];
	char *text[MAX_PARTS];
	size_t len[MAX_PARTS];
	char *key; /* every input of the binary, in full: the cache entry must hold the same */
	size_t key_len;
};

static void program_src_free(struct program_src *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->text[i]);
	free(s->key);
}

static int add_part(struct clcnn_context *ctx, struct program_src *s, const char *name)
{
	if (s->n == MAX_PARTS)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "program %s has more than %d parts", name, MAX_PARTS);
	int rc = clcnn_source_load(ctx, name, &s->text[s->n], &s->len[s->n]);
	if (!rc)
		s->name[s->n++] = name;
	return rc;
}

static int cache_key(struct clcnn_context *ctx, struct program_src *s, const char *family, const char *options)
{
	size_t cap = 0;
	int bad = clcnn_strcatf(&s->key, &s->key_len, &cap,
				"clcnn program %d\nfamily %s\noptions %s %s\ndevice %s\ndriver %s\nplatform %s\n",
				CLCNN_CACHE_FORMAT, family, BASE_OPTIONS, options ? options : "", ctx->info.name,
				ctx->info.driver_version, ctx->info.platform_version);
	for (size_t i = 0; i < s->n && !bad; i++)
		bad = clcnn_strcatf(&s->key, &s->key_len, &cap, "source %s %zu\n%s\n", s->name[i], s->len[i],
				    s->text[i]);
	return bad ? clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory") : 0;
}

/* The headers (in cl/meson.build order), common.cl, then the family's own source. */
static int load_sources(struct clcnn_context *ctx, const char *family, const char *options, struct program_src *s)
{
	memset(s, 0, sizeof *s);
	int rc = 0;
	for (size_t i = 0; i < clcnn_embedded_source_count && !rc; i++)
		if (is_header(clcnn_embedded_sources[i].name))
			rc = add_part(ctx, s, clcnn_embedded_sources[i].name);
	if (!rc)
		rc = add_part(ctx, s, "common");
	if (!rc && strcmp(family, "common") != 0)
		rc = add_part(ctx, s, family);
	if (!rc)
		rc = cache_key(ctx, s, family, options);
	if (rc)
		program_src_free(s);
	return rc;
}

static int from_cache(struct clcnn_context *ctx, const struct program_src *s, const char *family, const char *opts,
		      cl_program *out)
{
	unsigned char *bin = NULL;
	size_t binsize = 0;
	if (clcnn_cache_load(ctx, "prog", s->key, s->key_len, &bin, &binsize))
		return -1;
	const unsigned char *bp = bin;
	cl_int bstatus, err;
	cl_program p = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &binsize, &bp, &bstatus, &err);
	free(bin);
	if (p && clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL) == CL_SUCCESS) {
		*out = p;
		return 0;
	}
	clcnn_log(ctx, CLCNN_LOG_WARN, "cached binary of %s rejected by the driver; rebuilding", family);
	if (p)
		clReleaseProgram(p);
	return -1;
}

static void to_cache(struct clcnn_context *ctx, const struct program_src *s, cl_program p)
{
	size_t bs = 0;
	if (!ctx->cache_dir || clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof bs, &bs, NULL) != CL_SUCCESS || !bs)
		return;
	unsigned char *b = malloc(bs);
	if (b && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof b, &b, NULL) == CL_SUCCESS)
		clcnn_cache_store(ctx, "prog", s->key, s->key_len, b, bs);
	free(b);
}

static int compile(struct clcnn_context *ctx, const struct program_src *s, const char *family, const char *opts,
		   cl_program *out)
{
	cl_int err;
	cl_program p = clCreateProgramWithSource(ctx->cl, (cl_uint)s->n, (const char **)s->text, s->len, &err);
	if (!p)
		return clcnn_fail_cl(ctx, err, "clCreateProgramWithSource(%s) failed", family);
	err = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
	if (err != CL_SUCCESS) {
		int rc = clcnn_fail(ctx, CLCNN_ERR_BUILD,
				    "building kernel program %s.cl with options '%s' on %s failed: %s (%d)", family,
				    opts, ctx->info.name, clcnn_cl_error_name(err), (int)err);
		append_build_log(ctx, p);
		clReleaseProgram(p);
		return rc;
	}
	to_cache(ctx, s, p);
	*out = p;
	return 0;
}

static int build(struct clcnn_context *ctx, const char *family, const char *options, cl_program *out,
		 struct clcnn_build_report *report)
{
	double t0 = clcnn_now();
	struct program_src s;
	int rc = load_sources(ctx, family, options, &s);
	if (rc)
		return rc;
	char opts[4096];
	snprintf(opts, sizeof opts, "%s %s", BASE_OPTIONS, options ? options : "");
	int hit = from_cache(ctx, &s, family, opts, out) == 0;
	if (!hit) {
		clcnn_progress_note(ctx, CLCNN_PROGRESS_COMPILE, family);
		rc = compile(ctx, &s, family, opts, out);
	}
	program_src_free(&s);
	if (rc)
		return rc;
	if (report) {
		report->seconds = clcnn_now() - t0;
		report->cache_hit = hit;
	}
	clcnn_log(ctx, CLCNN_LOG_DEBUG, "program %s [%s]: %s in %.3f s", family, options ? options : "",
		  hit ? "cache hit" : "compiled", clcnn_now() - t0);
	return 0;
}

/* ---- in-memory memo: the hash only rejects fast, the packed key is compared in full */

uint64_t clcnn_memo_hash(const char *family, const char *options, const char *name)
{
	uint64_t h = clcnn_hash_str(clcnn_hash_str(CLCNN_HASH_INIT, family), options ? options : "");
	return name ? clcnn_hash_str(h, name) : h;
}

/* family NUL options NUL [name NUL]: NUL cannot occur inside a part, so equal bytes = equal parts */
static char *memo_pack(const char *family, const char *options, const char *name, size_t *len)
{
	const char *part[3] = {family, options ? options : "", name};
	size_t l[3] = {0}, n = 0;
	for (int i = 0; i < 3 && part[i]; i++)
		n += l[i] = strlen(part[i]) + 1;
	char *k = malloc(n);
	if (!k)
		return NULL;
	for (int i = 0, o = 0; i < 3 && part[i]; o += (int)l[i], i++)
		memcpy(k + o, part[i], l[i]);
	*len = n;
	return k;
}

static int memo_equal(const struct clcnn_memo_key *k, uint64_t hash, const char *family, const char *options,
		      const char *name)
{
	if (k->hash != hash)
		return 0;
	const char *part[3] = {family, options ? options : "", name};
	size_t o = 0;
	for (int i = 0; i < 3 && part[i]; i++) {
		size_t l = strlen(part[i]) + 1;
		if (o + l > k->len || memcmp(k->bytes + o, part[i], l))
			return 0;
		o += l;
	}
	return o == k->len;
}

static int memo_set(struct clcnn_context *ctx, struct clcnn_memo_key *k, const char *family, const char *options,
		    const char *name)
{
	k->hash = clcnn_memo_hash(family, options, name);
	k->bytes = memo_pack(family, options, name, &k->len);
	return k->bytes ? 0 : clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
}

static struct clcnn_program_entry *program_find(struct clcnn_context *ctx, const char *family, const char *options)
{
	uint64_t h = clcnn_memo_hash(family, options, NULL);
	for (struct clcnn_program_entry *e = ctx->programs; e; e = e->next)
		if (memo_equal(&e->key, h, family, options, NULL))
			return e;
	return NULL;
}

int clcnn_program_get(struct clcnn_context *ctx, const char *family, const char *options, cl_program *out,
		      struct clcnn_build_report *report)
{
	if (!ctx->cl) {
		char what[96];
		snprintf(what, sizeof what, "kernel program %s", family);
		return clcnn_fail_no_device(ctx, what);
	}
	struct clcnn_program_entry *e = program_find(ctx, family, options);
	if (e) {
		*out = e->program;
		if (report) {
			report->seconds = 0;
			report->cache_hit = 1;
		}
		return 0;
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = memo_set(ctx, &e->key, family, options, NULL);
	if (!rc)
		rc = build(ctx, family, options, &e->program, report);
	if (rc) {
		free(e->key.bytes);
		free(e);
		return rc;
	}
	e->next = ctx->programs;
	ctx->programs = e;
	*out = e->program;
	return 0;
}

int clcnn_program_build(struct clcnn_context *ctx, const char *family, const char *options,
			struct clcnn_build_report *report)
{
	cl_program p;
	/* bypass the in-memory memo so that the report is a real measurement */
	if (ctx->cl && program_find(ctx, family, options)) {
		int rc = build(ctx, family, options, &p, report);
		if (!rc)
			clReleaseProgram(p);
		return rc;
	}
	return clcnn_program_get(ctx, family, options, &p, report);
}

int clcnn_kernel_get(struct clcnn_context *ctx, const char *family, const char *options, const char *name,
		     cl_kernel *out)
{
	uint64_t h = clcnn_memo_hash(family, options, name);
	for (struct clcnn_kernel_entry *e = ctx->kernels; e; e = e->next)
		if (memo_equal(&e->key, h, family, options, name)) {
			*out = e->kernel;
			return 0;
		}
	cl_program p;
	int rc = clcnn_program_get(ctx, family, options, &p, NULL);
	if (rc)
		return rc;
	struct clcnn_kernel_entry *e = calloc(1, sizeof *e);
	if (!e || memo_set(ctx, &e->key, family, options, name)) {
		free(e);
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	cl_int err;
	e->kernel = clCreateKernel(p, name, &err);
	if (!e->kernel) {
		free(e->key.bytes);
		free(e);
		return clcnn_fail_cl(ctx, err, "kernel %s not found in program %s.cl", name, family);
	}
	e->next = ctx->kernels;
	ctx->kernels = e;
	*out = e->kernel;
	return 0;
}

void clcnn_program_memo_free(struct clcnn_context *ctx)
{
	for (struct clcnn_kernel_entry *k = ctx->kernels, *n; k; k = n) {
		n = k->next;
		clReleaseKernel(k->kernel);
		free(k->key.bytes);
		free(k);
	}
	for (struct clcnn_program_entry *p = ctx->programs, *n; p; p = n) {
		n = p->next;
		clReleaseProgram(p->program);
		free(p->key.bytes);
		free(p);
	}
	ctx->kernels = NULL;
	ctx->programs = NULL;
}

int clcnn_kernel_set_args(struct clcnn_context *ctx, cl_kernel k, const struct clcnn_karg *args, size_t n)
{
	char name[128] = "?";
	cl_uint want = 0;
	cl_int e = clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof want, &want, NULL);
	if (e == CL_SUCCESS && want != n) {
		clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "kernel %s takes %u arguments, %zu given", name,
				  (unsigned)want, n);
	}
	for (cl_uint i = 0; i < n; i++) {
		e = clSetKernelArg(k, i, args[i].size, args[i].value);
		if (e != CL_SUCCESS) {
			clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
			return clcnn_fail_cl(ctx, e, "setting argument %u of kernel %s", (unsigned)i, name);
		}
	}
	return 0;
}

static void kernel_name(cl_kernel k, char *name, size_t n)
{
	snprintf(name, n, "?");
	clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, n, name, NULL);
}

/* Local sizes within the limits: picked ones (local[i] == 0) lowered to fit, given ones checked. */
static int fit_local(struct clcnn_context *ctx, cl_kernel k, int dims, const size_t *global, const size_t *local,
		     size_t *l)
{
	const struct clcnn_device_limits *lim = &ctx->lim;
	size_t maxwg = clcnn_kernel_max_wg(ctx, k), prod = 1;
	int given = 0;
	for (int i = 0; i < dims; i++) {
		given |= local && local[i];
		l[i] = local && local[i] ? local[i] : (i == 0 ? 64 : 1);
		if (i == 0 && global[0] < l[0] && !(local && local[0])) {
			l[0] = global[0] ? (global[0] + 7) / 8 * 8 : 8;
			/* a GPU runs whole warps anyway: a smaller group only idles lanes */
			if (lim->gpu && lim->simd > 0 && l[0] < (size_t)lim->simd)
				l[0] = (size_t)lim->simd;
		}
		if (!(local && local[i]) && lim->max_items[i] && l[i] > lim->max_items[i])
			l[i] = lim->max_items[i];
		prod *= l[i];
	}
	/* a picked size in dimension 0 halves until the group fits */
	while (prod > maxwg && !(local && local[0]) && l[0] > 1) {
		prod /= l[0];
		l[0] = (l[0] + 1) / 2;
		prod *= l[0];
	}
	int over_dim = -1;
	for (int i = 0; i < dims; i++)
		if (lim->max_items[i] && l[i] > lim->max_items[i])
			over_dim = i;
	if (prod > maxwg || over_dim >= 0) {
		char name[128];
		kernel_name(k, name, sizeof name);
		if (over_dim >= 0)
			return clcnn_fail(
				ctx, CLCNN_ERR_INVALID,
				"kernel %s: work-groups of %zu work-items in dimension %d, but %s allows %zu there",
				name, l[over_dim], over_dim, ctx->info.name, lim->max_items[over_dim]);
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "kernel %s: work-groups of %zu work-items%s, but it may have at most %zu on %s "
				  "(device %zu, kernel %zu)",
				  name, prod, given ? " (fixed by its tiles)" : "", maxwg, ctx->info.name, lim->max_wg,
				  maxwg);
	}
	cl_ulong lm = 0;
	if (lim->local_mem && ctx->device &&
	    clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL) == CL_SUCCESS &&
	    lm > lim->local_mem) {
		char name[128];
		kernel_name(k, name, sizeof name);
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "kernel %s uses %llu bytes of __local memory, %s allows %llu",
				  name, (unsigned long long)lm, ctx->info.name, (unsigned long long)lim->local_mem);
	}
	return 0;
}

int clcnn_kernel_run(struct clcnn_context *ctx, cl_kernel k, int dims, const size_t *global, const size_t *local)
{
	size_t g[3] = {1, 1, 1}, l[3] = {1, 1, 1}, step[3] = {1, 1, 1};
	int rc = fit_local(ctx, k, dims, global, local, l);
	if (rc)
		return rc;
	size_t items = 1, group = 1;
	for (int i = 0; i < dims; i++) {
		g[i] = (global[i] + l[i] - 1) / l[i] * l[i];
		if (g[i] == 0)
			return 0; /* nothing to do */
		items *= global[i];
		group *= l[i];
		size_t maxg = ctx->lim.max_groups[i] ? ctx->lim.max_groups[i] : g[i] / l[i];
		step[i] = maxg * l[i];
	}
	if (ctx->lim.gpu && group < (size_t)ctx->lim.simd && items >= (size_t)ctx->lim.simd &&
	    clcnn_kernel_max_wg(ctx, k) >= (size_t)ctx->lim.simd && !ctx->narrow_launches++)
		kernel_name(k, ctx->narrow_kernel, sizeof ctx->narrow_kernel);
	/* grids past the group limit: one launch per block of at most max_groups groups a dimension */
	size_t off[3], part[3];
	for (off[2] = 0; off[2] < g[2]; off[2] += step[2])
		for (off[1] = 0; off[1] < g[1]; off[1] += step[1])
			for (off[0] = 0; off[0] < g[0]; off[0] += step[0]) {
				for (int i = 0; i < 3; i++)
					part[i] = g[i] - off[i] < step[i] ? g[i] - off[i] : step[i];
				int split = part[0] != g[0] || part[1] != g[1] || part[2] != g[2];
				cl_int e = clEnqueueNDRangeKernel(ctx->queue, k, (cl_uint)dims, split ? off : NULL,
								  part, l, 0, NULL, NULL);
				if (e != CL_SUCCESS) {
					char name[128];
					kernel_name(k, name, sizeof name);
					return clcnn_fail_cl(
						ctx, e,
						"enqueue of kernel %s (global %zu x %zu x %zu, local %zu x %zu x %zu) failed",
						name, part[0], part[1], part[2], l[0], l[1], l[2]);
				}
			}
	return 0;
}
