/*
 * On-disk cache of program binaries and tuning records. One file per key:
 * magic, key, payload size, payload checksum, payload. Writers go through a unique temp file and
 * rename(), so readers see a whole old file or a whole new one; a truncated or corrupt file fails
 * the checks and is rebuilt. An unusable directory disables caching with one warning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clcnn-private.h"

static const char MAGIC[8] = {'C', 'L', 'C', 'N', 'N', 'C', '0', '1'};

static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	struct stat st;
	return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

char *clcnn_cache_resolve_dir(const char *opt_dir)
{
	char buf[4096];
	if (opt_dir && *opt_dir) {
		if (!strcmp(opt_dir, "off"))
			return NULL;
		snprintf(buf, sizeof buf, "%s", opt_dir);
	} else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME")) {
		snprintf(buf, sizeof buf, "%s/clcnn", getenv("XDG_CACHE_HOME"));
	} else if (getenv("HOME") && *getenv("HOME")) {
		snprintf(buf, sizeof buf, "%s/.cache/clcnn", getenv("HOME"));
	} else {
		return NULL;
	}
	/* A directory we cannot create is reported on first use (clcnn_cache_*), not here. */
	mkdir_p(buf);
	return clcnn_strdup(buf);
}

static void warn_once(struct clcnn_context *ctx, const char *what)
{
	if (ctx->cache_warned)
		return;
	ctx->cache_warned = 1;
	clcnn_log(ctx, CLCNN_LOG_WARN, "kernel cache %s %s (%s); continuing without caching", ctx->cache_dir, what,
		  strerror(errno));
}

static void entry_path(const struct clcnn_context *ctx, const char *kind, uint64_t key, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s-%016llx.bin", ctx->cache_dir, kind, (unsigned long long)key);
}

static int load(struct clcnn_context *ctx, const char *kind, uint64_t key, unsigned char **data, size_t *size)
{
	if (!ctx->cache_dir)
		return -1;
	char path[4200];
	entry_path(ctx, kind, key, path, sizeof path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno != ENOENT)
			warn_once(ctx, "cannot be read");
		return -1;
	}
	char magic[8];
	uint64_t hdr[3];
	unsigned char *buf = NULL;
	struct stat st;
	/* the payload size in the header must be what the file holds before anything is allocated from it */
	int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, MAGIC, 8) == 0 && fread(hdr, sizeof hdr, 1, f) == 1 &&
		 hdr[0] == key && hdr[1] > 0 && hdr[1] < ((uint64_t)1 << 32) && !fstat(fileno(f), &st) &&
		 (uint64_t)st.st_size == 8 + sizeof hdr + hdr[1];
	if (ok) {
		buf = malloc(hdr[1]);
		ok = buf && fread(buf, 1, hdr[1], f) == hdr[1] && fgetc(f) == EOF &&
		     clcnn_hash(CLCNN_HASH_INIT, buf, hdr[1]) == hdr[2];
	}
	fclose(f);
	if (!ok) {
		free(buf);
		clcnn_log(ctx, CLCNN_LOG_INFO, "cache entry %s is truncated or corrupt; rebuilding it", path);
		return -1;
	}
	*data = buf;
	*size = hdr[1];
	return 0;
}

static void store(struct clcnn_context *ctx, const char *kind, uint64_t key, const void *data, size_t size)
{
	if (!ctx->cache_dir)
		return;
	char path[4200], tmp[4300];
	entry_path(ctx, kind, key, path, sizeof path);
	static unsigned counter;
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u.%p", path, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), (void *)&key);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		warn_once(ctx, "is not writable");
		return;
	}
	uint64_t hdr[3] = {key, size, clcnn_hash(CLCNN_HASH_INIT, data, size)};
	int ok = fwrite(MAGIC, 1, 8, f) == 8 && fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(data, 1, size, f) == size;
	ok = (fflush(f) == 0) && ok;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		warn_once(ctx, "could not be written");
		remove(tmp);
	}
}

int clcnn_cache_load(struct clcnn_context *ctx, uint64_t key, unsigned char **data, size_t *size)
{
	return load(ctx, "prog", key, data, size);
}

void clcnn_cache_store(struct clcnn_context *ctx, uint64_t key, const void *data, size_t size)
{
	store(ctx, "prog", key, data, size);
}

int clcnn_cache_load_blob(struct clcnn_context *ctx, const char *kind, uint64_t key, void *data, size_t size)
{
	unsigned char *b;
	size_t n;
	if (load(ctx, kind, key, &b, &n))
		return -1;
	int ok = n == size;
	if (ok)
		memcpy(data, b, size);
	free(b);
	return ok ? 0 : -1;
}

void clcnn_cache_store_blob(struct clcnn_context *ctx, const char *kind, uint64_t key, const void *data,
			    size_t size)
{
	store(ctx, kind, key, data, size);
}
