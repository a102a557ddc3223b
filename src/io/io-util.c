/* Helpers shared by the io readers and writers: error messages and atomic file replacement. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

int clcnn_io_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* Split path into its directory ("." when none) and base name; both heap. */
static int split_path(const char *path, char **dir, char **base)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 1;
	const char *b = slash ? slash + 1 : path;
	*dir = malloc(dlen + 2); /* room for "/" or "." */
	*base = strdup(b);
	if (!*dir || !*base) {
		free(*dir);
		free(*base);
		*dir = *base = NULL;
		return -1;
	}
	if (slash && dlen == 0) { /* "/file": the directory is the root */
		strcpy(*dir, "/");
	} else if (slash) {
		memcpy(*dir, path, dlen);
		(*dir)[dlen] = '\0';
	} else {
		strcpy(*dir, ".");
	}
	return 0;
}

/*
 * Remove "<dir>/.<base>.tmp-<pid>-*" files whose writer process no longer exists: what a writer
 * killed mid-write (SIGKILL, OOM, power loss) left behind, possibly gigabytes beside a checkpoint.
 * A live pid is never touched, so concurrent writers of the same file are safe; errors are ignored.
 */
static void remove_stale_temporaries(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t bl = strlen(base);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		if (n[0] != '.' || strncmp(n + 1, base, bl) || strncmp(n + 1 + bl, ".tmp-", 5))
			continue;
		char *end;
		errno = 0;
		long pid = strtol(n + 1 + bl + 5, &end, 10);
		if (errno || pid <= 0 || *end != '-' || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) && errno == ESRCH)
			unlinkat(dirfd(d), n, 0);
	}
	closedir(d);
}

int clcnn_io_atomic_begin(struct clcnn_io_atomic *a, const char *path, char *err, size_t errlen)
{
	a->f = NULL;
	a->tmp = NULL;
	a->path = path;
	if (!path || !*path)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "empty output path");
	char *dir, *base;
	if (split_path(path, &dir, &base))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a path", path);
	if (!*base) {
		free(dir);
		free(base);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: output path names a directory", path);
	}
	size_t cap = strlen(dir) + strlen(base) + 64;
	a->tmp = malloc(cap);
	if (!a->tmp) {
		free(dir);
		free(base);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a path", path);
	}
	remove_stale_temporaries(dir, base);
	/*
	 * open(O_EXCL) with our own unique-ish name rather than mkstemp: mkstemp creates mode 0600 and
	 * restoring the umask-derived mode would need umask(), which is process-global.
	 */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long seed = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20);
	int fd = -1, e = 0;
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		snprintf(a->tmp, cap, "%s/.%s.tmp-%ld-%lx", dir, base, (long)getpid(), seed + (unsigned long)attempt);
		fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		e = errno;
		if (fd < 0 && e != EEXIST)
			break;
	}
	free(base);
	if (fd < 0) {
		int rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot create a temporary file in %s: %s", path,
				       dir, strerror(e));
		free(dir);
		free(a->tmp);
		a->tmp = NULL;
		return rc;
	}
	free(dir);
	a->f = fdopen(fd, "wb");
	if (!a->f) {
		close(fd);
		unlink(a->tmp);
		free(a->tmp);
		a->tmp = NULL;
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a stream", path);
	}
	return 0;
}

void clcnn_io_atomic_abort(struct clcnn_io_atomic *a)
{
	if (a->f)
		fclose(a->f);
	if (a->tmp)
		unlink(a->tmp);
	free(a->tmp);
	a->f = NULL;
	a->tmp = NULL;
}

int clcnn_io_atomic_commit(struct clcnn_io_atomic *a, char *err, size_t errlen)
{
	if (!a->f || !a->tmp)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: no temporary file to commit",
				     a->path ? a->path : "(null)");
	int rc = 0;
	/* fsync before rename: otherwise a crash can leave an empty file under the final name */
	if (fflush(a->f) || ferror(a->f) || fsync(fileno(a->f)))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot write %s: %s", a->path, a->tmp,
				   strerror(errno));
	int closed = fclose(a->f);
	a->f = NULL;
	if (!rc && closed)
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot close %s: %s", a->path, a->tmp,
				   strerror(errno));
	if (!rc && rename(a->tmp, a->path))
		rc = clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot rename %s over it: %s", a->path, a->tmp,
				   strerror(errno));
	if (rc) {
		clcnn_io_atomic_abort(a);
		return rc;
	}
	free(a->tmp);
	a->tmp = NULL;
	/* make the rename itself durable; the data is already safe, so a failure here is not reported */
	char *dir, *base;
	if (!split_path(a->path, &dir, &base)) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dir);
		free(base);
	}
	return 0;
}
