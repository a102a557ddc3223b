/*
 * On-disk cache of program binaries and tuning records. One file per key, named by the key's hash:
 * magic, header {hash, payload size, checksum, key size}, the key itself, the payload. The key is
 * compared in full on load, so a file written for another key under the same name (a hash
 * collision) is a miss, not a wrong binary. Writers go through a unique temp file and rename(), so
 * readers see a whole old file or a whole new one; a truncated or corrupt file fails the checks and
 * is rebuilt. An unusable directory disables caching with one warning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clcnn-private.h"

static const char MAGIC[8] = {'C', 'L', 'C', 'N', 'N', 'C', '0', '2'};

enum {
	H_HASH,
	H_SIZE,
	H_SUM,
	H_KEYLEN,
	H_COUNT
}; /* header words; the size stays at byte 16 */
#define LIMIT ((uint64_t)1 << 32)

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

static uint64_t key_hash(const void *key, size_t key_len)
{
	return clcnn_hash(CLCNN_HASH_INIT, key, key_len);
}

static uint64_t checksum(const void *key, size_t key_len, const void *data, size_t size)
{
	return clcnn_hash(clcnn_hash(CLCNN_HASH_INIT, key, key_len), data, size);
}

static void entry_path(const struct clcnn_context *ctx, const char *kind, uint64_t hash, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s-%016llx.bin", ctx->cache_dir, kind, (unsigned long long)hash);
}

/* The header must match the file's size before anything is allocated from its claims. */
static int header_ok(FILE *f, uint64_t hash, uint64_t *hdr)
{
	char magic[8];
	struct stat st;
	return fread(magic, 1, 8, f) == 8 && memcmp(magic, MAGIC, 8) == 0 &&
	       fread(hdr, sizeof *hdr * H_COUNT, 1, f) == 1 && hdr[H_HASH] == hash && hdr[H_SIZE] > 0 &&
	       hdr[H_SIZE] < LIMIT && hdr[H_KEYLEN] < LIMIT && !fstat(fileno(f), &st) &&
	       (uint64_t)st.st_size == 8 + sizeof *hdr * H_COUNT + hdr[H_KEYLEN] + hdr[H_SIZE];
}

int clcnn_cache_load(struct clcnn_context *ctx, const char *kind, const void *key, size_t key_len, unsigned char **data,
		     size_t *size)
{
	if (!ctx->cache_dir)
		return -1;
	char path[4200];
	uint64_t hash = key_hash(key, key_len), hdr[H_COUNT];
	entry_path(ctx, kind, hash, path, sizeof path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno != ENOENT)
			warn_once(ctx, "cannot be read");
		return -1;
	}
	unsigned char *buf = NULL;
	int ok = header_ok(f, hash, hdr);
	if (ok) {
		buf = malloc(hdr[H_KEYLEN] + hdr[H_SIZE]);
		ok = buf && fread(buf, 1, hdr[H_KEYLEN] + hdr[H_SIZE], f) == hdr[H_KEYLEN] + hdr[H_SIZE] &&
		     fgetc(f) == EOF && checksum(buf, hdr[H_KEYLEN], buf + hdr[H_KEYLEN], hdr[H_SIZE]) == hdr[H_SUM];
	}
	fclose(f);
	if (!ok) {
		free(buf);
		clcnn_log(ctx, CLCNN_LOG_INFO, "cache entry %s is truncated or corrupt; rebuilding it", path);
		return -1;
	}
	if (hdr[H_KEYLEN] != key_len || memcmp(buf, key, key_len)) {
		free(buf);
		clcnn_log(ctx, CLCNN_LOG_INFO, "cache entry %s holds another key (a hash collision); rebuilding it",
			  path);
		return -1;
	}
	memmove(buf, buf + key_len, hdr[H_SIZE]);
	*data = buf;
	*size = hdr[H_SIZE];
	return 0;
}

void clcnn_cache_store(struct clcnn_context *ctx, const char *kind, const void *key, size_t key_len, const void *data,
		       size_t size)
{
	if (!ctx->cache_dir)
		return;
	char path[4200], tmp[4300];
	uint64_t hdr[H_COUNT] = {key_hash(key, key_len), size, checksum(key, key_len, data, size), key_len};
	entry_path(ctx, kind, hdr[H_HASH], path, sizeof path);
	static unsigned counter;
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u.%p", path, (long)getpid(),
		 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), (void *)&hdr);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		warn_once(ctx, "is not writable");
		return;
	}
	int ok = fwrite(MAGIC, 1, 8, f) == 8 && fwrite(hdr, sizeof hdr, 1, f) == 1 &&
		 fwrite(key, 1, key_len, f) == key_len && fwrite(data, 1, size, f) == size;
	ok = (fflush(f) == 0) && ok;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		warn_once(ctx, "could not be written");
		remove(tmp);
	}
}

/* A blob's key is its 64-bit value. */
int clcnn_cache_load_blob(struct clcnn_context *ctx, const char *kind, uint64_t key, void *data, size_t size)
{
	unsigned char *b;
	size_t n;
	if (clcnn_cache_load(ctx, kind, &key, sizeof key, &b, &n))
		return -1;
	int ok = n == size;
	if (ok)
		memcpy(data, b, size);
	free(b);
	return ok ? 0 : -1;
}

void clcnn_cache_store_blob(struct clcnn_context *ctx, const char *kind, uint64_t key, const void *data, size_t size)
{
	clcnn_cache_store(ctx, kind, &key, sizeof key, data, size);
}
