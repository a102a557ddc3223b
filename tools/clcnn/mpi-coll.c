/*
 * The MPI side of clcnn train (mpi-coll.h).
 *
 * Member order: MPI_Allreduce gives identical bits on every rank but leaves its summation order to
 * the algorithm (it differs with the rank count and the message size). clcnn wants the documented
 * order of clcnn/parallel.h, member 0 + member 1 + ... , so that N ranks equal one process that
 * accumulates the same micro-batches: the values are gathered on rank 0, summed there in rank order
 * and broadcast. That moves N x S floats into rank 0 instead of a ring's 2(N-1)/N x S per rank: the
 * right choice for a few ranks; CLCNN_MPI_ALLREDUCE=native takes MPI_Allreduce instead (identical
 * on every rank, in the implementation's order).
 */
#include "mpi-coll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/clcnn.h"

int cli_mpi_launched_size(void)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (v && atoi(v) > 0)
			return atoi(v);
	}
	return 0;
}

#ifdef CLCNN_HAVE_MPI
#include <mpi.h>

int cli_mpi_built(void)
{
	return 1;
}

/* FNV-1a of a string (or of "" when NULL), to compare the ranks' POCL_CACHE_DIR. */
static double hash_text(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (double)(h >> 12);
}

static void private_pocl_cache(int rank, int size)
{
	const char *dir = getenv("POCL_CACHE_DIR");
	double mine = hash_text(dir), *all = malloc((size_t)size * sizeof *all);
	if (!all)
		return;
	MPI_Allgather(&mine, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, MPI_COMM_WORLD);
	int same = 1;
	for (int k = 0; k < size; k++)
		same &= all[k] == all[0];
	free(all);
	if (!same)
		return; /* the user gave each rank its own */
	char path[4096];
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");
	if (dir && *dir)
		snprintf(path, sizeof path, "%s/rank-%d", dir, rank);
	else if (xdg && *xdg)
		snprintf(path, sizeof path, "%s/pocl/kcache/rank-%d", xdg, rank);
	else
		snprintf(path, sizeof path, "%s/.cache/pocl/kcache/rank-%d", home && *home ? home : "/tmp", rank);
	setenv("POCL_CACHE_DIR", path, 1);
}

void cli_mpi_init(int *argc, char ***argv)
{
	if (cli_mpi_launched_size() < 2)
		return;
	MPI_Init(argc, argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	private_pocl_cache(rank, size);
}

void cli_mpi_finish(int status)
{
	int on = 0, off = 0;
	MPI_Initialized(&on);
	if (on)
		MPI_Finalized(&off);
	if (!on || off)
		return;
	if (status) {
		/* the others may wait for this rank in a collective: stop them all, saying which one failed */
		int rank = 0, size = 0, len = 0;
		char host[MPI_MAX_PROCESSOR_NAME + 1];
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
		MPI_Comm_size(MPI_COMM_WORLD, &size);
		MPI_Get_processor_name(host, &len);
		host[len] = 0;
		fflush(stdout);
		fprintf(stderr, "clcnn: rank %d of %d on %s stopped with exit status %d; stopping every rank\n", rank,
			size, host, status);
		fflush(stderr);
		MPI_Abort(MPI_COMM_WORLD, status);
	}
	MPI_Finalize();
}

struct mpi_coll {
	struct clcnn_collective c;
	int local_rank, native;
	char host[MPI_MAX_PROCESSOR_NAME + 1];
	char why[1200];
	float *gathered;
	size_t gathered_n;
};

/* MPI counts are int: large transfers go in pieces. */
#define MPI_PIECE (1 << 28)

static int failed(struct mpi_coll *m, const char *what, int code)
{
	char msg[MPI_MAX_ERROR_STRING + 1];
	int len = 0;
	if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS)
		len = 0;
	msg[len] = 0;
	snprintf(m->why, sizeof m->why, "rank %d on %s: %s: %s", m->c.rank, m->host, what, msg);
	return CLCNN_ERR_INVALID;
}

static int ordered_sum(struct mpi_coll *m, float *data, size_t n)
{
	int size = m->c.size, rc;
	if (m->c.rank == 0 && m->gathered_n < n * (size_t)size) {
		free(m->gathered);
		m->gathered = malloc(n * (size_t)size * sizeof *m->gathered);
		m->gathered_n = m->gathered ? n * (size_t)size : 0;
		if (!m->gathered)
			mpi_coll_abort_all(m, "out of host memory for the gradients of every rank");
	}
	for (size_t at = 0; at < n; at += MPI_PIECE) {
		int cnt = (int)(n - at < MPI_PIECE ? n - at : MPI_PIECE);
		if ((rc = MPI_Gather(data + at, cnt, MPI_FLOAT, m->gathered, cnt, MPI_FLOAT, 0, MPI_COMM_WORLD)))
			return failed(m, "gradient gather", rc);
		if (m->c.rank == 0)
			for (int i = 0; i < cnt; i++) {
				float s = m->gathered[i];
				for (int k = 1; k < size; k++)
					s += m->gathered[(size_t)k * (size_t)cnt + (size_t)i];
				data[at + (size_t)i] = s;
			}
		if ((rc = MPI_Bcast(data + at, cnt, MPI_FLOAT, 0, MPI_COMM_WORLD)))
			return failed(m, "gradient broadcast", rc);
	}
	return 0;
}

static int mpi_allreduce(void *user, float *data, size_t n)
{
	struct mpi_coll *m = user;
	if (!m->native)
		return ordered_sum(m, data, n);
	for (size_t at = 0; at < n; at += MPI_PIECE) {
		int cnt = (int)(n - at < MPI_PIECE ? n - at : MPI_PIECE);
		int rc = MPI_Allreduce(MPI_IN_PLACE, data + at, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		if (rc)
			return failed(m, "MPI_Allreduce", rc);
	}
	return 0;
}

static int mpi_broadcast(void *user, void *data, size_t bytes, int root)
{
	struct mpi_coll *m = user;
	for (size_t at = 0; at < bytes; at += MPI_PIECE) {
		int cnt = (int)(bytes - at < MPI_PIECE ? bytes - at : MPI_PIECE);
		int rc = MPI_Bcast((char *)data + at, cnt, MPI_BYTE, root, MPI_COMM_WORLD);
		if (rc)
			return failed(m, "MPI_Bcast", rc);
	}
	return 0;
}

static int mpi_allgather(void *user, const double *in, size_t n, double *out)
{
	struct mpi_coll *m = user;
	int rc = MPI_Allgather(in, (int)n, MPI_DOUBLE, out, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
	return rc ? failed(m, "MPI_Allgather", rc) : 0;
}

static const char *mpi_error(void *user)
{
	struct mpi_coll *m = user;
	return m->why[0] ? m->why : NULL;
}

static void mpi_abort(void *user, const char *why)
{
	mpi_coll_abort_all(user, why);
}

void mpi_coll_abort_all(struct mpi_coll *m, const char *why)
{
	fflush(stdout);
	fprintf(stderr, "clcnn train: rank %d of %d on %s failed: %s; stopping every rank\n", m->c.rank, m->c.size,
		m->host, why ? why : "(no message)");
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, 1);
	exit(1);
}

int mpi_coll_new(struct mpi_coll **out, char *err, size_t errlen)
{
	*out = NULL;
	int on = 0;
	MPI_Initialized(&on);
	if (!on) {
		snprintf(err, errlen,
			 "MPI is not initialised (clcnn was not started by mpirun with more than one rank)");
		return -1;
	}
	struct mpi_coll *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, errlen, "out of host memory");
		return -1;
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &m->c.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &m->c.size);
	int len = 0;
	MPI_Get_processor_name(m->host, &len);
	m->host[len] = 0;
	MPI_Comm local;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, m->c.rank, MPI_INFO_NULL, &local);
	MPI_Comm_rank(local, &m->local_rank);
	MPI_Comm_free(&local);
	const char *how = getenv("CLCNN_MPI_ALLREDUCE");
	m->native = how && !strcmp(how, "native");
	m->c.user = m;
	m->c.allreduce_sum = mpi_allreduce;
	m->c.broadcast = mpi_broadcast;
	m->c.allgather = mpi_allgather;
	m->c.error = mpi_error;
	m->c.abort = mpi_abort;
	*out = m;
	return 0;
}

const struct clcnn_collective *mpi_coll_get(struct mpi_coll *m)
{
	return &m->c;
}

int mpi_coll_local_rank(const struct mpi_coll *m)
{
	return m->local_rank;
}

const char *mpi_coll_host(const struct mpi_coll *m)
{
	return m->host;
}

void mpi_coll_free(struct mpi_coll *m)
{
	if (m)
		free(m->gathered);
	free(m);
}

#else /* built without MPI */

int cli_mpi_built(void)
{
	return 0;
}

void cli_mpi_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
}

void cli_mpi_finish(int status)
{
	(void)status;
}

int mpi_coll_new(struct mpi_coll **out, char *err, size_t errlen)
{
	*out = NULL;
	snprintf(err, errlen, "clcnn was built without MPI (meson setup -Dmpi=enabled with libopenmpi-dev installed)");
	return -1;
}

const struct clcnn_collective *mpi_coll_get(struct mpi_coll *c)
{
	(void)c;
	return NULL;
}

int mpi_coll_local_rank(const struct mpi_coll *c)
{
	(void)c;
	return 0;
}

const char *mpi_coll_host(const struct mpi_coll *c)
{
	(void)c;
	return "";
}

void mpi_coll_abort_all(struct mpi_coll *c, const char *why)
{
	(void)c;
	fprintf(stderr, "clcnn train: %s\n", why ? why : "failed");
	exit(1);
}

void mpi_coll_free(struct mpi_coll *c)
{
	(void)c;
}
#endif
