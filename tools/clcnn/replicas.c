/*
 * Data-parallel clcnn train (replicas.h): the device list, the members of this process and their
 * threads, the step on a global batch, re-balancing from step timings, the time split report.
 */
#include "replicas.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clcnn/parallel.h"
#include "cli-alloc.h"
#include "cli.h"
#include "mpi-coll.h"
#include "shard.h"

#define MAX_DEVICES 64
enum {
	JOB_STEP,
	JOB_BROADCAST
};

/* One replica: a context, graph and trainer on one device, and its timings. */
struct member {
	struct par *p;
	int k;                        /* member index in the job */
	struct cli_model own;         /* members other than this process's first */
	struct cli_model *m;          /* the model this member trains */
	struct clcnn_trainer *tr;     /* its trainer (the run's for the first) */
	const struct clcnn_collective *inner; /* its collective: the threads' group or MPI */
	int *share;                              /* this member's copy of every member's share */
	/* seconds since the last report (clcnn_trainer_last_timing); exposed: communication not hidden */
	double total, compute, d2h, reduce, h2d, update, exposed, rebuild;
	double since_compute;                    /* compute seconds since the last re-balance */
	int since_steps, steps;                  /* steps since the last re-balance / report */
	int cold; /* the first step at a new batch size: compiles and tunes, not timed for speed */
	int rc;
	char err[1024];
	pthread_t th;
	int has_thread;
	unsigned long seen;
};

struct par {
	int n, nlocal, first;      /* members in the job, in this process, index of this process's first */
	char *device[MAX_DEVICES]; /* CLCNN_DEVICE of each local member */
	char host[256];
	struct mpi_coll *mpi;
	struct clcnn_local_group *grp;
	struct member *mem;
	const struct train_opts *o;
	int batch, rebalance, fail_member, fail_step, slow_member, slow_ms;
	size_t img_size, lab_size; /* floats per sample */
	long steps;
	/* the step job of the worker threads */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long gen;
	int done, quit, sync_init, job; /* job: JOB_STEP or JOB_BROADCAST */
	const float *img, *lab;
	double last_step_ms; /* the first member's mean step of the last epoch */
};

static char *dup_text(const char *s)
{
	char *d = cli_malloc(strlen(s) + 1);
	if (d)
		strcpy(d, s);
	return d;
}

/* Add a device index to p's list. */
static int add_device(struct par *p, int index)
{
	char buf[16];
	if (p->nlocal == MAX_DEVICES) {
		cli_error("train", "CLCNN_DEVICE: more than %d devices", MAX_DEVICES);
		return CLI_USAGE;
	}
	snprintf(buf, sizeof buf, "%d", index);
	if (!(p->device[p->nlocal++] = dup_text(buf))) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	return 0;
}

/*
 * CLCNN_DEVICE as a list: "all", "gpu:*", "cpu:*", "accelerator:*", or elements separated by commas,
 * each one chosen by the single-device rules (an index, P:D, a type, a name). Unset under MPI: every
 * GPU, else every device, for the ranks to pick from by local rank.
 */
static int expand_devices(struct par *p, const char *sel)
{
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	struct clcnn_device_list *list;
	char err[8192];
	if (clcnn_device_list_new(&list, err, sizeof err)) {
		cli_error("train", "%s", err);
		return CLI_ERROR;
	}
	int rc = 0, n = clcnn_device_list_count(list);
	const char *type = NULL;
	if (!sel) {
		for (int i = 0; i < n && !type; i++)
			if (!strcmp(clcnn_device_list_get(list, i)->type, "gpu"))
				type = "gpu";
	} else if (!strcasecmp(sel, "gpu:*") || !strcasecmp(sel, "cpu:*") || !strcasecmp(sel, "accelerator:*")) {
		static const char *const types[] = {"gpu", "cpu", "accelerator"};
		for (int t = 0; t < 3; t++)
			if (!strncasecmp(sel, types[t], strlen(types[t])))
				type = types[t];
	}
	if (!sel || !strcasecmp(sel, "all") || type) {
		for (int i = 0; i < n && !rc; i++) {
			const struct clcnn_device_info *d = clcnn_device_list_get(list, i);
			if (!type || !strcmp(d->type, type))
				rc = add_device(p, d->index);
		}
		if (!rc && !p->nlocal) {
			cli_error("train", "CLCNN_DEVICE=%s matches no device (clcnn devices lists them)",
				  sel ? sel : "");
			rc = CLI_USAGE;
		}
	} else {
		char elem[256];
		for (const char *s = sel; *s && !rc;) {
			size_t len = strcspn(s, ",");
			snprintf(elem, sizeof elem, "%.*s", (int)(len < sizeof elem ? len : sizeof elem - 1), s);
			s += len + (s[len] == ',');
			int idx;
			opt.device = elem;
			if (!elem[0]) {
				cli_error("train", "CLCNN_DEVICE=%s: an empty element in the list", sel);
				rc = CLI_USAGE;
			} else if (clcnn_device_select(list, &opt, &idx, NULL, err, sizeof err)) {
				cli_error("train", "CLCNN_DEVICE=%s: element '%s' matches no device: %s", sel, elem,
					  err);
				rc = CLI_USAGE;
			} else {
				rc = add_device(p, clcnn_device_list_get(list, idx)->index);
			}
		}
	}
	clcnn_device_list_free(list);
	return rc;
}

static int is_list(const char *sel)
{
	return sel && (strchr(sel, ',') || !strcasecmp(sel, "all") || strstr(sel, ":*"));
}

/*
 * Test hooks (tests/parallel): CLCNN_TEST_FAIL=MEMBER:STEP makes that member fail before the
 * trainer's step STEP (counted from the first of the training, 0-based): a failing rank or device.
 * CLCNN_TEST_SLOW=MEMBER:MS makes that member MS milliseconds slower each step: a slower device,
 * for the re-balancing.
 */
static void test_hook(struct par *p)
{
	const char *v = getenv("CLCNN_TEST_FAIL");
	p->fail_member = p->fail_step = p->slow_member = -1;
	if (v && sscanf(v, "%d:%d", &p->fail_member, &p->fail_step) != 2)
		p->fail_member = p->fail_step = -1;
	v = getenv("CLCNN_TEST_SLOW");
	if (v && (sscanf(v, "%d:%d", &p->slow_member, &p->slow_ms) != 2 || p->slow_ms < 0))
		p->slow_member = -1;
}

int par_new(struct par **out)
{
	*out = NULL;
	const char *sel = getenv("CLCNN_DEVICE");
	if (sel && !*sel)
		sel = NULL;
	int world = cli_mpi_launched_size();
	if (world < 2 && !is_list(sel))
		return 0;
	struct par *p = cli_calloc(1, sizeof *p);
	if (!p) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	*out = p;
	test_hook(p);
	char err[1024];
	if (world >= 2) {
		if (!cli_mpi_built()) {
			cli_error("train",
				  "started by mpirun with %d ranks, but clcnn was built without MPI (meson "
				  "option mpi; libopenmpi-dev)",
				  world);
			return CLI_USAGE;
		}
		if (mpi_coll_new(&p->mpi, err, sizeof err)) {
			cli_error("train", "%s", err);
			return CLI_ERROR;
		}
		const struct clcnn_collective *c = mpi_coll_get(p->mpi);
		p->n = c->size;
		p->first = c->rank;
		snprintf(p->host, sizeof p->host, "%s", mpi_coll_host(p->mpi));
		/* a rank's device: CLCNN_DEVICE's one device, else its local rank's of the list or of the GPUs/devices */
		if (sel && !is_list(sel)) {
			p->nlocal = 1;
			if (!(p->device[0] = dup_text(sel))) {
				cli_error("train", "out of host memory");
				return CLI_ERROR;
			}
			return 0;
		}
		int rc = expand_devices(p, sel);
		if (rc)
			return rc;
		int pick = mpi_coll_local_rank(p->mpi) % p->nlocal;
		char *mine = p->device[pick];
		p->device[pick] = NULL;
		for (int i = 0; i < p->nlocal; i++)
			free(p->device[i]);
		memset(p->device, 0, sizeof p->device);
		p->device[0] = mine;
		p->nlocal = 1;
		return 0;
	}
	int rc = expand_devices(p, sel);
	if (rc)
		return rc;
	p->n = p->nlocal;
	return 0; /* p->n 1, a list of one device: an ordinary run on it */
}

const char *par_device(const struct par *p)
{
	return p ? p->device[0] : NULL;
}

int par_leader(const struct par *p)
{
	return !p || p->first == 0;
}

/* Tell the other members to stop waiting for this one. */
static void member_abort(struct member *mb, const char *why)
{
	if (mb->inner->abort)
		mb->inner->abort(mb->inner->user, why);
}

/* ------------------------------------------------------------------ one member's step */

/* Build the member's graph at its share and set its weight. */
static int fit_share(struct member *mb)
{
	struct par *p = mb->p;
	int b = mb->share[mb->k];
	if (clcnn_graph_batch(mb->m->g) == b)
		return 0;
	double t0 = cli_now();
	int rc = clcnn_graph_build(mb->m->g, b);
	mb->cold = 1;
	if (!rc)
		rc = clcnn_trainer_set_weight(mb->tr, (double)b / p->batch);
	mb->rebuild += cli_now() - t0;
	return rc;
}

/* Every member's speed over the last steps, the same new shares everywhere. Collective. */
static int rebalance(struct member *mb)
{
	struct par *p = mb->p;
	double mine = mb->since_compute > 0 ? mb->share[mb->k] * (double)mb->since_steps / mb->since_compute : 0;
	double rate[MAX_DEVICES * 16];
	double *all = p->n <= (int)(sizeof rate / sizeof rate[0]) ? rate : cli_malloc((size_t)p->n * sizeof *all);
	if (!all)
		return CLCNN_ERR_NO_MEMORY;
	int rc = mb->inner->allgather(mb->inner->user, &mine, 1, all);
	mb->since_compute = 0;
	mb->since_steps = 0;
	if (!rc) {
		int *next = cli_malloc((size_t)p->n * sizeof *next);
		if (!next) {
			rc = CLCNN_ERR_NO_MEMORY;
		} else {
			shard_split(p->batch, p->n, all, next);
			/*
			 * The step waits for the slowest member: move only when the new split is predicted to cut
			 * that by 10 % (a new batch size compiles, and tunes when tuning is on; noise is no reason),
			 * and only when every member has a timed step since the last time.
			 */
			double now = 0, then = 0;
			int timed = 1;
			for (int k = 0; k < p->n; k++) {
				timed &= all[k] > 0;
				if (all[k] > 0) {
					now = mb->share[k] / all[k] > now ? mb->share[k] / all[k] : now;
					then = next[k] / all[k] > then ? next[k] / all[k] : then;
				}
			}
			if (timed && then < 0.9 * now)
				memcpy(mb->share, next, (size_t)p->n * sizeof *next);
			free(next);
		}
	}
	if (all != rate)
		free(all);
	return rc;
}

static int member_step(struct member *mb, float *loss)
{
	struct par *p = mb->p;
	int rc = 0;
	if (p->rebalance > 0 && p->steps > 0 && p->steps % p->rebalance == 0)
		rc = rebalance(mb);
	if (!rc)
		rc = fit_share(mb);
	if (!rc && mb->k == p->fail_member && clcnn_trainer_steps(mb->tr) == p->fail_step) {
		snprintf(mb->err, sizeof mb->err, "member %d: the failure CLCNN_TEST_FAIL asked for at step %ld", mb->k,
			 clcnn_trainer_steps(mb->tr));
		member_abort(mb, mb->err);
		return CLCNN_ERR_OPENCL;
	}
	if (rc) {
		snprintf(mb->err, sizeof mb->err, "member %d: %s", mb->k,
			 rc == CLCNN_ERR_NO_MEMORY ? "out of host memory" : clcnn_context_error(mb->m->ctx));
		member_abort(mb, mb->err);
		return rc;
	}
	size_t off = (size_t)shard_offset(mb->share, mb->k);
	clcnn_graph_set_sample_offset(mb->m->g, (uint32_t)off); /* dropout draws by the global sample */
	rc = clcnn_graph_set_input(mb->m->g, mb->m->image, p->img + off * p->img_size);
	if (!rc)
		rc = clcnn_graph_set_input(mb->m->g, mb->m->label, p->lab + off * p->lab_size);
	if (rc)
		member_abort(mb, clcnn_context_error(mb->m->ctx));
	double t0 = cli_now();
	if (!rc && mb->k == p->slow_member)
		nanosleep(&(struct timespec){p->slow_ms / 1000, p->slow_ms % 1000 * 1000000L}, NULL);
	double slept = cli_now() - t0; /* CLCNN_TEST_SLOW: counted as this member's compute */
	struct clcnn_step_timing tm = {0};
	if (!rc)
		rc = clcnn_trainer_step(mb->tr, loss);
	if (!rc)
		rc = clcnn_trainer_last_timing(mb->tr, &tm);
	if (rc) {
		snprintf(mb->err, sizeof mb->err, "member %d: %s", mb->k, clcnn_context_error(mb->m->ctx));
		return rc;
	}
	if (mb->cold) { /* its kernels were compiled and its convolutions tuned: no measure of speed */
		mb->cold = 0;
		return 0;
	}
	mb->total += slept + tm.total;
	mb->compute += slept + tm.compute;
	mb->since_compute += slept + tm.compute;
	mb->d2h += tm.d2h;
	mb->reduce += tm.allreduce;
	mb->h2d += tm.h2d;
	mb->update += tm.update;
	mb->exposed += tm.exposed;
	mb->since_steps++;
	mb->steps++;
	return 0;
}

static void *worker(void *arg)
{
	struct member *mb = arg;
	struct par *p = mb->p;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->gen == mb->seen && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		mb->seen = p->gen;
		int quit = p->quit;
		pthread_mutex_unlock(&p->mu);
		if (quit)
			break;
		float loss;
		mb->rc = p->job == JOB_BROADCAST ? clcnn_trainer_broadcast(mb->tr) : member_step(mb, &loss);
		if (mb->rc && p->job == JOB_BROADCAST)
			snprintf(mb->err, sizeof mb->err, "%s", clcnn_context_error(mb->m->ctx));
		pthread_mutex_lock(&p->mu);
		p->done++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

/* Run job on every member of this process: the others in their threads, the first here. */
static int run_job(struct par *p, int job, float *loss)
{
	if (p->nlocal > 1) {
		pthread_mutex_lock(&p->mu);
		p->job = job;
		p->done = 0;
		p->gen++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	struct member *m0 = &p->mem[0];
	int rc = job == JOB_BROADCAST ? clcnn_trainer_broadcast(m0->tr) : member_step(m0, loss);
	if (p->nlocal > 1) {
		pthread_mutex_lock(&p->mu);
		while (p->done < p->nlocal - 1)
			pthread_cond_wait(&p->cv, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
	/* the first member's failure is in its context; another's only in its own: say which device */
	for (int k = 1; k < p->nlocal && !rc; k++)
		if (p->mem[k].rc) {
			cli_error("train", "device %s: %s", p->device[k], p->mem[k].err);
			rc = p->mem[k].rc;
		}
	return rc;
}

/* "32+32" */
static void describe_shares(const struct par *p, const int *share, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (int k = 0; k < p->n && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", k ? "+" : "", share[k]);
}

int par_start(struct par *p, const struct train_opts *o, struct cli_model *m, struct clcnn_trainer *tr,
	      int steps_per_epoch)
{
	if (!p)
		return 0;
	if (p->n < 2) { /* a list or pattern of one device (gpu:* with one GPU): an ordinary run on it */
		if (!(p->mem = cli_calloc(1, sizeof *p->mem))) {
			cli_error("train", "out of host memory");
			return CLI_ERROR;
		}
		p->mem[0].m = m;
		p->mem[0].tr = tr;
		return 0;
	}
	p->o = o;
	p->batch = o->batch;
	p->rebalance = o->rebalance;
	if (p->batch < p->n) {
		cli_error("train", "--batch %d is smaller than the %d data-parallel members: each needs a sample",
			  o->batch, p->n);
		return CLI_USAGE;
	}
	p->img_size = (size_t)m->c * (size_t)m->h * (size_t)m->w;
	p->lab_size = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->sync_init = 1;
	if (!p->mpi && clcnn_local_group_new(p->nlocal, &p->grp)) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	p->mem = cli_calloc((size_t)p->nlocal, sizeof *p->mem);
	if (!p->mem) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	struct clcnn_optimizer_config oc;
	struct clcnn_schedule_config sc;
	train_opts_configs(o, steps_per_epoch, &oc, &sc);
	for (int i = 0; i < p->nlocal; i++) {
		struct member *mb = &p->mem[i];
		mb->p = p;
		mb->k = p->first + i;
		if (!(mb->share = cli_calloc((size_t)p->n, sizeof *mb->share))) {
			cli_error("train", "out of host memory");
			return CLI_ERROR;
		}
		shard_split(p->batch, p->n, NULL, mb->share);
		mb->inner = p->mpi ? mpi_coll_get(p->mpi) : clcnn_local_group_member(p->grp, i);
		mb->cold = 1;
		if (i == 0) {
			mb->m = m;
			mb->tr = tr;
		} else {
			/* contexts are opened here, in one thread: the ICD loader's first calls are not thread-safe */
			if (cli_model_open_on("train", o->netfile, mb->share[mb->k], p->device[i], &mb->own))
				return CLI_ERROR;
			mb->m = &mb->own;
			clcnn_graph_check_numerics(mb->m->g, o->check_numerics);
			if (clcnn_trainer_new(mb->m->g, &oc, &sc, (uint64_t)o->seed, &mb->tr)) {
				cli_error("train", "device %s: %s", p->device[i], clcnn_context_error(mb->m->ctx));
				return CLI_ERROR;
			}
		}
		clcnn_graph_set_sync_bn(mb->m->g, o->sync_bn);
		if (clcnn_trainer_set_collective(mb->tr, mb->inner, (double)mb->share[mb->k] / p->batch) ||
		    clcnn_trainer_set_buckets(mb->tr, (size_t)o->bucket_mib << 20)) {
			cli_error("train", "%s", clcnn_context_error(mb->m->ctx));
			return CLI_ERROR;
		}
	}
	for (int i = 1; i < p->nlocal; i++) {
		if (pthread_create(&p->mem[i].th, NULL, worker, &p->mem[i])) {
			cli_error("train", "cannot start the thread of device %s", p->device[i]);
			clcnn_local_group_abort(p->grp, "a replica thread did not start");
			return CLI_ERROR;
		}
		p->mem[i].has_thread = 1;
	}
	/* every member starts from member 0's parameters, buffers, optimizer state, step and RNG */
	if (run_job(p, JOB_BROADCAST, NULL)) {
		cli_error("train", "broadcast of the starting state: %s", clcnn_context_error(m->ctx));
		return CLI_ERROR;
	}
	if (par_leader(p)) {
		char shares[512];
		describe_shares(p, p->mem[0].share, shares, sizeof shares);
		if (p->mpi)
			fprintf(stderr, "data parallel: %d MPI ranks (rank 0 on %s, device %s), batch %d split %s",
				p->n, p->host, clcnn_context_device(m->ctx)->name, p->batch, shares);
		else {
			fprintf(stderr, "data parallel: %d devices (", p->n);
			for (int i = 0; i < p->nlocal; i++)
				fprintf(stderr, "%s%s: %s", i ? ", " : "", p->device[i],
					clcnn_context_device(p->mem[i].m->ctx)->name);
			fprintf(stderr, "), batch %d split %s", p->batch, shares);
		}
		if (p->rebalance)
			fprintf(stderr, ", re-balanced every %d steps\n", p->rebalance);
		else
			fprintf(stderr, ", fixed\n");
	}
	return 0;
}

int par_step(struct par *p, const float *img, const float *lab, float *loss, int *stop)
{
	if (p->n < 2) {
		struct cli_model *m = p->mem[0].m;
		int rc = clcnn_graph_set_input(m->g, m->image, img);
		if (!rc)
			rc = clcnn_graph_set_input(m->g, m->label, lab);
		return rc ? rc : clcnn_trainer_step(p->mem[0].tr, loss);
	}
	p->img = img;
	p->lab = lab;
	int rc = run_job(p, JOB_STEP, loss);
	p->steps++;
	if (rc)
		return rc;
	if (p->mpi) {
		/* a signal may reach the ranks at different steps: they stop together, after the same one */
		const struct clcnn_collective *c = p->mem[0].inner;
		float s = *stop ? 1.0f : 0.0f;
		if (c->allreduce_sum(c->user, &s, 1))
			mpi_coll_abort_all(p->mpi, c->error(c->user));
		*stop = s > 0;
	}
	return 0;
}

int par_epoch_end(struct par *p, struct cli_model *m)
{
	if (!p || p->n < 2 || !par_leader(p))
		return 0;
	char shares[512];
	describe_shares(p, p->mem[0].share, shares, sizeof shares);
	for (int i = 0; i < p->nlocal; i++) {
		struct member *mb = &p->mem[i];
		double n = mb->steps ? mb->steps : 1;
		if (i == 0)
			p->last_step_ms = mb->total * 1e3 / n;
		/* with buckets the copies and the allreduce run beside backward: exposed is what they added */
		fprintf(stderr,
			"  %s %d (%s): %.2f ms/step = compute %.2f + device-to-host %.2f + allreduce %.2f (with the wait "
			"for the slowest member) + host-to-device %.2f + update %.2f",
			p->mpi ? "rank" : "member", mb->k, p->mpi ? p->host : p->device[i], mb->total * 1e3 / n,
			mb->compute * 1e3 / n, mb->d2h * 1e3 / n, mb->reduce * 1e3 / n, mb->h2d * 1e3 / n,
			mb->update * 1e3 / n);
		if (p->o->bucket_mib)
			fprintf(stderr, " (overlapped with backward in buckets: %.2f exposed)", mb->exposed * 1e3 / n);
		fprintf(stderr, "; %.1f ms rebuilding; batch split %s\n", mb->rebuild * 1e3, shares);
		mb->total = mb->compute = mb->d2h = mb->reduce = mb->h2d = mb->update = mb->exposed = mb->rebuild = 0;
		mb->steps = 0;
	}
	if (clcnn_graph_build(m->g, m->batch)) {
		cli_error("train", "rebuilding the model at batch %d for evaluation: %s", m->batch,
			  clcnn_context_error(m->ctx));
		return CLI_ERROR;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int par_scaling(struct par *p, struct cli_model *m, struct clcnn_trainer *tr)
{
	enum {
		WARMUP = 2,
		ITERS = 10
	};
	if (!par_leader(p))
		return 0;
	int together = p && p->n > 1, rc = 0;
	size_t per = (size_t)m->c * (size_t)m->h * (size_t)m->w, n = per * (size_t)m->batch;
	float *img = cli_malloc(n * sizeof *img), *lab = cli_malloc((size_t)m->batch * sizeof *lab);
	if (!img || !lab) {
		free(img);
		free(lab);
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	uint64_t r = 7;
	for (size_t i = 0; i < n; i++)
		img[i] = (float)(2 * clcnn_rng_uniform(&r) - 1);
	for (int i = 0; i < m->batch; i++)
		lab[i] = (float)(i % (m->classes > 0 ? m->classes : 1));
	double t[ITERS];
	/* alone: out of the group, the whole batch (the checkpoint is written: these steps change nothing kept) */
	if (together && clcnn_trainer_set_collective(tr, NULL, 0))
		rc = -1;
	clcnn_graph_set_sample_offset(m->g, 0);
	if (!rc && clcnn_graph_batch(m->g) != m->batch)
		rc = clcnn_graph_build(m->g, m->batch);
	if (!rc)
		rc = clcnn_graph_set_input(m->g, m->image, img);
	if (!rc)
		rc = clcnn_graph_set_input(m->g, m->label, lab);
	for (int i = 0; i < WARMUP + ITERS && !rc; i++) {
		float loss;
		double t0 = cli_now();
		rc = clcnn_trainer_step(tr, &loss);
		if (i >= WARMUP)
			t[i - WARMUP] = cli_now() - t0;
	}
	free(img);
	free(lab);
	if (rc) {
		cli_error("train", "--scaling: %s", clcnn_context_error(m->ctx));
		return CLI_ERROR;
	}
	qsort(t, ITERS, sizeof t[0], cmp_double);
	double t1 = t[ITERS / 2] * 1e3;
	const char *dev = clcnn_context_device(m->ctx)->name;
	if (!together)
		fprintf(stderr, "scaling: T1 %.2f ms/step (median of %d) on %s alone at batch %d\n", t1, ITERS, dev,
			m->batch);
	else
		fprintf(stderr,
			"scaling: T1 %.2f ms/step (median of %d) on %s alone at batch %d; TN %.2f ms/step on %d %s (the "
			"last epoch's mean); efficiency T1 / (N x TN) = %.2f\n",
			t1, ITERS, dev, m->batch, p->last_step_ms, p->n, p->mpi ? "ranks" : "devices",
			t1 / (p->n * p->last_step_ms));
	return 0;
}

void par_free(struct par *p)
{
	if (!p)
		return;
	if (p->sync_init) {
		pthread_mutex_lock(&p->mu);
		p->quit = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	for (int i = 0; p->mem && p->n > 1 && i < p->nlocal; i++) {
		struct member *mb = &p->mem[i];
		if (mb->has_thread)
			pthread_join(mb->th, NULL);
		if (i > 0) {
			clcnn_trainer_free(mb->tr);
			cli_model_close(&mb->own);
		}
		free(mb->share);
	}
	if (p->sync_init) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
	}
	free(p->mem);
	if (p->grp)
		clcnn_local_group_free(p->grp);
	mpi_coll_free(p->mpi);
	for (int i = 0; i < MAX_DEVICES; i++)
		free(p->device[i]);
	free(p);
}
