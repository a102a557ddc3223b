/*
 * clcnn under mpirun: MPI is initialised in main only when a launcher started the process (its
 * environment says so), so that a plain `clcnn` never needs MPI at run time; the collective of the
 * ranks (clcnn/parallel.h) for clcnn train. Built only with the meson feature `mpi`; without it
 * the functions say "clcnn was built without MPI".
 */
#ifndef CLCNN_CLI_MPI_COLL_H
#define CLCNN_CLI_MPI_COLL_H
#include <stddef.h>

#include "clcnn/parallel.h"

/* The world size a launcher announced (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE), else 0. */
int cli_mpi_launched_size(void);
/* 1 when built with MPI. */
int cli_mpi_built(void);
/*
 * main, first: MPI_Init when launched with more than one rank, then each rank's own POCL kernel
 * cache (POCL_CACHE_DIR/rank-R, POCL's cache not being multi-process safe: pocl#1480) unless the
 * ranks were given different POCL_CACHE_DIR values already.
 */
void cli_mpi_init(int *argc, char ***argv);
/* main, last: MPI_Finalize after success; MPI_Abort of every rank after a failure (status != 0). */
void cli_mpi_finish(int status);

/* The ranks of MPI_COMM_WORLD as a collective (allreduce: gather to rank 0, sum in rank order, broadcast). */
struct mpi_coll;
int mpi_coll_new(struct mpi_coll **out, char *err, size_t errlen);
const struct clcnn_collective *mpi_coll_get(struct mpi_coll *c);
/* This rank's index among the ranks on its host, and the host's name. */
int mpi_coll_local_rank(const struct mpi_coll *c);
const char *mpi_coll_host(const struct mpi_coll *c);
/* Stop every rank with "clcnn train: rank R on HOST: why" (MPI_Abort); does not return. */
void mpi_coll_abort_all(struct mpi_coll *c, const char *why);
void mpi_coll_free(struct mpi_coll *c);
#endif
