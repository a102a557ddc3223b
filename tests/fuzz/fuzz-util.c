/* memfd-backed input files for the fuzz targets (see fuzz.h). */
#include <sys/mman.h>
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
