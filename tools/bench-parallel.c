/*
 * bench-parallel: where a data-parallel step's time goes, for docs/scale-out.md.
 *   bench-parallel NETFILE [-b BATCH] [-n MEMBERS] [-s STEPS] [-k BUCKET_BYTES] [--sync-bn]
 * Runs MEMBERS threads, member k on OpenCL device k (POCL_DEVICES="pthread pthread" gives two CPU
 * devices), each on BATCH samples of random data, joined by the threads collective; then one
 * member alone on BATCH. Prints the gradient bytes S, and the median over STEPS steps (after two
 * warm-up steps) of each part of clcnn_step_timing for member 0, and the single member's step.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/train-private.h"

#define MAXM 8
#define MAXS 200

struct run {
	const char *path;
	int batch, members, steps, rank, sync;
	size_t bucket;
	struct clcnn_context *ctx;
	const struct clcnn_collective *coll;
	struct clcnn_step_timing tm[MAXS];
	size_t grad_bytes;
	int nbuckets, rc;
};

static void fill_inputs(struct clcnn_graph *g, int batch, unsigned seed)
{
	for (int i = 0; i < clcnn_graph_input_count(g); i++) {
		const char *name;
		int nd, d[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(g, i, &name, &nd, d);
		size_t n = (size_t)batch;
		for (int k = 0; k < nd; k++)
			n *= (size_t)d[k];
		float *x = malloc(n * sizeof *x);
		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			/* a scalar input is a class index: 0 or 1 is valid for every classifier */
			x[k] = nd == 0 ? (float)(k % 2) : (float)((seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
		}
		clcnn_graph_set_input(g, name, x);
		free(x);
	}
}

static void *run_member(void *arg)
{
	struct run *r = arg;
	struct clcnn_graph *g = NULL;
	struct clcnn_trainer *t = NULL;
	struct clcnn_optimizer_config o;
	clcnn_optimizer_defaults(&o, CLCNN_OPT_SGD);
	o.lr = 1e-3;
	r->rc = clcnn_graph_load(r->ctx, r->path, &g);
	if (!r->rc)
		r->rc = clcnn_graph_build(g, r->batch);
	if (!r->rc)
		r->rc = clcnn_graph_init_params(g, 1, "default");
	if (!r->rc)
		r->rc = clcnn_trainer_new(g, &o, NULL, 1, &t);
	if (!r->rc && r->coll) {
		clcnn_graph_set_sync_bn(g, r->sync);
		r->rc = clcnn_trainer_set_collective(t, r->coll, 1.0 / r->members);
		if (!r->rc)
			r->rc = clcnn_trainer_set_buckets(t, r->bucket);
		r->nbuckets = t->bk ? trainer_buckets_count(t->bk) : 1;
	}
	for (int i = 0; !r->rc && i < g->nparams; i++)
		r->grad_bytes += g->params[i].grad ? g->params[i].count * sizeof(float) : 0;
	for (int s = 0; s < r->steps + 2 && !r->rc; s++) {
		fill_inputs(g, r->batch, (unsigned)(s * 31 + r->rank));
		float loss;
		r->rc = clcnn_trainer_step(t, &loss);
		if (!r->rc && s >= 2)
			clcnn_trainer_last_timing(t, &r->tm[s - 2]);
	}
	if (r->rc)
		fprintf(stderr, "member %d: %s\n", r->rank, clcnn_context_error(r->ctx));
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const struct run *r, size_t field)
{
	double v[MAXS];
	for (int s = 0; s < r->steps; s++)
		v[s] = *(const double *)((const char *)&r->tm[s] + field);
	qsort(v, (size_t)r->steps, sizeof *v, cmp);
	return v[r->steps / 2];
}

static struct clcnn_context *open_device(int k)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	char dev[16];
	snprintf(dev, sizeof dev, "%d", k);
	o.device = dev;
	struct clcnn_context *ctx;
	char err[4096];
	if (clcnn_context_open(&ctx, &o, err, sizeof err)) {
		fprintf(stderr, "bench-parallel: device %d: %s\n", k, err);
		exit(1);
	}
	return ctx;
}

int main(int argc, char **argv)
{
	struct run proto = {.batch = 32, .members = 2, .steps = 10};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-b") && i + 1 < argc)
			proto.batch = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			proto.members = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			proto.steps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-k") && i + 1 < argc)
			proto.bucket = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--sync-bn"))
			proto.sync = 1;
		else
			proto.path = argv[i];
	}
	if (!proto.path || proto.members < 1 || proto.members > MAXM || proto.steps < 1 || proto.steps > MAXS) {
		fprintf(stderr,
			"usage: bench-parallel NETFILE [-b BATCH] [-n MEMBERS<=8] [-s STEPS<=200] [-k BUCKET_BYTES] "
			"[--sync-bn]\n");
		return 2;
	}
	struct run r[MAXM];
	struct clcnn_local_group *grp;
	clcnn_local_group_new(proto.members, &grp);
	pthread_t th[MAXM];
	for (int k = 0; k < proto.members; k++) {
		r[k] = proto;
		r[k].rank = k;
		r[k].ctx = open_device(k);
		r[k].coll = clcnn_local_group_member(grp, k);
	}
	for (int k = 0; k < proto.members; k++)
		pthread_create(&th[k], NULL, run_member, &r[k]);
	for (int k = 0; k < proto.members; k++)
		pthread_join(th[k], NULL);
	struct run one = proto;
	one.ctx = open_device(0);
	run_member(&one);
	for (int k = 0; k < proto.members; k++)
		if (r[k].rc || one.rc)
			return 1;
	printf("%s: gradient bytes %zu, batch %d per member, %d members, %d buckets%s\n", proto.path, r[0].grad_bytes,
	       proto.batch, proto.members, r[0].nbuckets, proto.sync ? ", sync_bn" : "");
	printf("member 0 (median of %d steps, ms): total %.1f compute %.1f d2h %.2f allreduce %.2f h2d %.2f update %.2f "
	       "exposed %.2f\n",
	       proto.steps, 1e3 * median(&r[0], offsetof(struct clcnn_step_timing, total)),
	       1e3 * median(&r[0], offsetof(struct clcnn_step_timing, compute)),
	       1e3 * median(&r[0], offsetof(struct clcnn_step_timing, d2h)),
	       1e3 * median(&r[0], offsetof(struct clcnn_step_timing, allreduce)),
	       1e3 * median(&r[0], offsetof(struct clcnn_step_timing, h2d)),
	       1e3 * median(&r[0], offsetof(struct clcnn_step_timing, update)),
	       1e3 * median(&r[0], offsetof(struct clcnn_step_timing, exposed)));
	printf("alone on device 0 (median, ms): total %.1f compute %.1f\n",
	       1e3 * median(&one, offsetof(struct clcnn_step_timing, total)),
	       1e3 * median(&one, offsetof(struct clcnn_step_timing, compute)));
	for (int k = 0; k < proto.members; k++)
		clcnn_context_close(r[k].ctx);
	clcnn_context_close(one.ctx);
	clcnn_local_group_free(grp);
	return 0;
}
