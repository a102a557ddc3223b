/* memfd-backed input files and a temporary folder for the fuzz targets (see fuzz.h). */
#include <ftw.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static const char *put(int *fd, char *path, size_t pathlen, const char *name, const uint8_t *data, size_t size)
{
	if (*fd < 0) {
		*fd = memfd_create(name, MFD_CLOEXEC);
		FUZZ_ASSERT(*fd >= 0, "memfd_create failed");
		snprintf(path, pathlen, "/proc/self/fd/%d", *fd);
	}
	FUZZ_ASSERT(ftruncate(*fd, 0) == 0, "ftruncate failed");
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(*fd, data + done, size - done, (off_t)done);
		FUZZ_ASSERT(n > 0, "pwrite failed");
		done += (size_t)n;
	}
	return path;
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	return put(&fd, path, sizeof path, "clcnn-fuzz-1", data, size);
}

const char *fuzz_file2(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	return put(&fd, path, sizeof path, "clcnn-fuzz-2", data, size);
}

static char tmpdir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* best effort: a leftover folder in /tmp is no failure */
	return 0;
}

static void remove_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_dir(const char *sub)
{
	static char path[256];
	if (!tmpdir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(tmpdir, sizeof tmpdir, "%s/clcnn-fuzz-XXXXXX", t && strlen(t) < 32 ? t : "/tmp");
		FUZZ_ASSERT(mkdtemp(tmpdir) != NULL, "mkdtemp failed");
		atexit(remove_tmpdir);
	}
	if (!sub)
		return tmpdir;
	snprintf(path, sizeof path, "%s/%s", tmpdir, sub);
	return path;
}

/* "<dir>/<name>" with its subfolder created and any previous entry removed. */
static const char *fresh(const char *name)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", fuzz_dir(NULL), name);
	char *slash = strrchr(path, '/');
	if (slash > path + strlen(tmpdir)) {
		*slash = 0;
		mkdir(path, 0700);
		*slash = '/';
	}
	unlink(path);
	return path;
}

const char *fuzz_dir_link(const char *name, const char *target)
{
	const char *path = fresh(name);
	if (target)
		FUZZ_ASSERT(symlink(target, path) == 0, "symlink %s failed", path);
	return path;
}

const char *fuzz_dir_file(const char *name, const void *data, size_t size)
{
	const char *path = fresh(name);
	FILE *f = fopen(path, "wb");
	FUZZ_ASSERT(f && fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write %s", path);
	return path;
}
