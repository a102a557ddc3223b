/*
 * The trainer: optimizer state on the device and one training step = forward (training mode),
 * backward, one update kernel per trainable parameter. The step enqueues work only: the host
 * waits solely when the caller asks for the loss.
 *
 * Per-step randomness (dropout, noise) comes from a seed derived from (trainer seed, step), so a
 * run resumed from a checkpoint at step s draws exactly what the uninterrupted run drew.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train-private.h"

static const char *const opt_names[] = {"sgd", "adam", "adamw"};
static const char *const sched_names[] = {"constant", "step", "multistep", "cosine", "onecycle"};

void trainer_describe(const struct clcnn_trainer *t, char *opt, size_t optn, char *sched, size_t schedn)
{
	const struct clcnn_optimizer_config *o = &t->opt;
	if (o->kind == CLCNN_OPT_SGD)
		snprintf(opt, optn, "sgd lr=%.17g momentum=%.17g dampening=%.17g nesterov=%d weight_decay=%.17g", o->lr,
			 o->momentum, o->dampening, o->nesterov, o->weight_decay);
	else
		snprintf(opt, optn, "%s lr=%.17g betas=(%.17g,%.17g) eps=%.17g weight_decay=%.17g", opt_names[o->kind],
			 o->lr, o->beta1, o->beta2, o->eps, o->weight_decay);
	const struct clcnn_schedule_config *s = &t->sched;
	size_t len = (size_t)snprintf(sched, schedn, "%s", sched_names[s->kind]);
	switch (s->kind) {
	case CLCNN_SCHED_CONSTANT: break;
	case CLCNN_SCHED_STEP:
		len += (size_t)snprintf(sched + len, schedn - len, " step_size=%d gamma=%.17g", s->step_size, s->gamma);
		break;
	case CLCNN_SCHED_MULTISTEP:
		len += (size_t)snprintf(sched + len, schedn - len, " gamma=%.17g milestones=", s->gamma);
		for (int i = 0; i < s->nmilestones && len < schedn; i++)
			len += (size_t)snprintf(sched + len, schedn - len, "%s%d", i ? "," : "", s->milestones[i]);
		break;
	case CLCNN_SCHED_COSINE:
		len += (size_t)snprintf(sched + len, schedn - len, " total_steps=%d eta_min=%.17g", s->total_steps,
					s->eta_min);
		break;
	case CLCNN_SCHED_ONECYCLE:
		len += (size_t)snprintf(sched + len, schedn - len,
					" total_steps=%d pct_start=%.17g div_factor=%.17g final_div_factor=%.17g",
					s->total_steps, s->pct_start, s->div_factor, s->final_div_factor);
		break;
	}
	if (s->warmup_steps > 0 && len < schedn)
		snprintf(sched + len, schedn - len, " warmup_steps=%d", s->warmup_steps);
}

static int check_config(struct clcnn_context *ctx, const struct clcnn_optimizer_config *o,
			const struct clcnn_schedule_config *s)
{
	if ((unsigned)o->kind > CLCNN_OPT_ADAMW)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "unknown optimizer kind %d", (int)o->kind);
	if (!(o->lr >= 0) || !isfinite(o->lr))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "learning rate %g: must be finite and >= 0", o->lr);
	if (!(o->weight_decay >= 0))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "weight_decay %g: must be >= 0", o->weight_decay);
	if (o->kind == CLCNN_OPT_SGD) {
		if (!(o->momentum >= 0))
			return clcnn_fail(ctx, CLCNN_ERR_INVALID, "momentum %g: must be >= 0", o->momentum);
		if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
			return clcnn_fail(ctx, CLCNN_ERR_INVALID,
					  "nesterov needs momentum > 0 and dampening 0 (as torch.optim.SGD)");
	} else {
		if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
			return clcnn_fail(ctx, CLCNN_ERR_INVALID, "betas (%g, %g): each must be in [0, 1)", o->beta1,
					  o->beta2);
		if (!(o->eps >= 0))
			return clcnn_fail(ctx, CLCNN_ERR_INVALID, "eps %g: must be >= 0", o->eps);
	}
	if (!s)
		return 0;
	if ((unsigned)s->kind > CLCNN_SCHED_ONECYCLE)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "unknown schedule kind %d", (int)s->kind);
	if (s->kind == CLCNN_SCHED_STEP && s->step_size < 1)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "step schedule: step_size %d must be >= 1", s->step_size);
	if (s->kind == CLCNN_SCHED_MULTISTEP && (s->nmilestones < 0 || s->nmilestones > 16))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "multistep schedule: %d milestones (0..16)", s->nmilestones);
	if ((s->kind == CLCNN_SCHED_COSINE || s->kind == CLCNN_SCHED_ONECYCLE) && s->total_steps < 1)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "%s schedule: total_steps %d must be >= 1",
				  sched_names[s->kind], s->total_steps);
	/* any number of steps works, as in PyTorch (a short run anneals from max_lr: schedule.c) */
	if (s->kind == CLCNN_SCHED_ONECYCLE &&
	    (!(s->pct_start > 0 && s->pct_start < 1) || s->div_factor <= 0 || s->final_div_factor <= 0))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "onecycle schedule: pct_start %g must be in (0, 1) and div factors > 0 (%g, %g)",
				  s->pct_start, s->div_factor, s->final_div_factor);
	return 0;
}

void clcnn_trainer_free(struct clcnn_trainer *t)
{
	if (!t)
		return;
	for (int s = 0; s < TRAINER_MAX_SLOTS; s++) {
		if (t->slot[s])
			for (int i = 0; i < t->g->nparams; i++)
				clcnn_buffer_free(t->slot[s][i]);
		free(t->slot[s]);
	}
	trainer_buckets_free(t->bk);
	clcnn_buffer_host_free(t->ctx, t->arena_mem, t->arena);
	free(t);
}

int clcnn_trainer_new(struct clcnn_graph *g, const struct clcnn_optimizer_config *opt,
		      const struct clcnn_schedule_config *sched, uint64_t seed, struct clcnn_trainer **out)
{
	*out = NULL;
	struct clcnn_context *ctx = g->ctx;
	if (!g->batch)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "trainer: build the graph first (clcnn_graph_build)");
	if (g->loss < 0 && g->forward_only)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID,
				  "trainer: the graph is built forward-only (clcnn_graph_set_forward_only)");
	if (g->loss < 0)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "trainer: the graph has no loss node");
	int rc = check_config(ctx, opt, sched);
	if (rc)
		return rc;
	struct clcnn_trainer *t = calloc(1, sizeof *t);
	if (!t)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	t->g = g;
	t->ctx = ctx;
	t->opt = *opt;
	if (sched)
		t->sched = *sched;
	else
		clcnn_schedule_defaults(&t->sched, CLCNN_SCHED_CONSTANT);
	t->seed = seed;
	t->rng = seed ^ 0x6A09E667F3BCC909ULL;
	t->lr = clcnn_schedule_lr(&t->sched, t->opt.lr, 0);
	if (opt->kind == CLCNN_OPT_SGD) {
		t->nslots = opt->momentum != 0 ? 1 : 0;
		t->slot_name[0] = "momentum_buffer";
	} else {
		t->nslots = 2;
		t->slot_name[0] = "exp_avg";
		t->slot_name[1] = "exp_avg_sq";
	}
	rc = clcnn_kernel_get(ctx, "train", "", opt->kind == CLCNN_OPT_SGD ? "clcnn_sgd" : "clcnn_adam", &t->kernel);
	for (int s = 0; s < t->nslots && !rc; s++) {
		t->slot[s] = calloc((size_t)(unsigned)g->nparams + 1, sizeof(cl_mem));
		if (!t->slot[s]) {
			rc = clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
			break;
		}
		for (int i = 0; i < g->nparams && !rc; i++) {
			const struct graph_param *p = &g->params[i];
			if (!p->grad)
				continue;
			rc = clcnn_buffer_new(ctx, p->count * sizeof(float), &t->slot[s][i]);
			if (!rc)
				rc = clcnn_buffer_fill(ctx, t->slot[s][i], 0.0f, p->count);
		}
	}
	if (rc) {
		clcnn_trainer_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* cl/train.cl: parameters per launch, and floats per work-item */
#define OPT_TENSORS 8
#define OPT_VW 16

/*
 * One launch per OPT_TENSORS parameters with gradients (cl/train.cl): per tensor its buffers (the
 * parameter, its gradient, the optimizer's state: momentum, or Adam's two moments), its element
 * count and the work-item where it starts; unused slots repeat slot 0's buffers with no elements.
 * Measured on POCL (Xeon, 2 vCPUs): a 4096-float weight took 10-15 us as one work-item per element
 * (64 work-groups), and each of mlp-csv's six launches about 5 us more on the queue.
 */
static int update(struct clcnn_trainer *t, double lr)
{
	const struct clcnn_optimizer_config *o = &t->opt;
	struct clcnn_graph *g = t->g;
	int sgd = o->kind == CLCNN_OPT_SGD, nbuf = sgd ? 3 : 4;
	/* SGD's scalars */
	float flr = (float)lr, wd = (float)o->weight_decay, mom = (float)o->momentum, omd = (float)(1.0 - o->dampening);
	cl_int nest = o->nesterov, first = t->steps == 0;
	/* Adam's */
	double step = (double)(t->steps + 1);
	double bc1 = 1.0 - pow(o->beta1, step), bc2 = 1.0 - pow(o->beta2, step);
	int adamw = o->kind == CLCNN_OPT_ADAMW;
	float l2 = adamw ? 0.0f : (float)o->weight_decay, decay = adamw ? (float)(1.0 - lr * o->weight_decay) : 1.0f;
	float b1 = (float)o->beta1, omb1 = (float)(1.0 - o->beta1), b2 = (float)o->beta2,
	      omb2 = (float)(1.0 - o->beta2), step_size = (float)(lr / bc1), bc2s = (float)sqrt(bc2),
	      eps = (float)o->eps;
	cl_mem mem[OPT_TENSORS][4];
	cl_int count[OPT_TENSORS], first_item[OPT_TENSORS];
	struct clcnn_karg args[OPT_TENSORS * 6 + 9];
	int rc = 0;
	for (int i = 0; i < g->nparams && !rc;) {
		int nt = 0;
		size_t items = 0;
		for (; i < g->nparams && nt < OPT_TENSORS; i++) {
			struct graph_param *p = &g->params[i];
			size_t need = (p->count + OPT_VW - 1) / OPT_VW;
			if (!p->grad)
				continue;
			if (nt && items + need > INT_MAX)
				break; /* the next launch takes it */
			mem[nt][0] = p->mem;
			mem[nt][1] = p->grad;
			mem[nt][2] = t->nslots ? t->slot[0][i] : p->grad; /* unused without momentum */
			mem[nt][3] = t->nslots > 1 ? t->slot[1][i] : p->grad;
			count[nt] = (cl_int)p->count;
			first_item[nt] = (cl_int)items;
			items += need;
			nt++;
		}
		if (!nt)
			break;
		size_t na = 0;
		for (int k = 0; k < OPT_TENSORS; k++) {
			int u = k < nt ? k : 0;
			if (k >= nt)
				count[k] = 0, first_item[k] = INT_MAX;
			for (int b = 0; b < nbuf; b++)
				args[na++] = KARG(mem[u][b]);
			args[na++] = KARG(count[k]);
			args[na++] = KARG(first_item[k]);
		}
		if (sgd) {
			const struct clcnn_karg s[] = {KARG(flr), KARG(wd),   KARG(mom),
						       KARG(omd), KARG(nest), KARG(first)};
			for (size_t k = 0; k < CLCNN_ARRAY_LEN(s); k++)
				args[na++] = s[k];
		} else {
			const struct clcnn_karg s[] = {KARG(l2),   KARG(decay),     KARG(b1),   KARG(omb1), KARG(b2),
						       KARG(omb2), KARG(step_size), KARG(bc2s), KARG(eps)};
			for (size_t k = 0; k < CLCNN_ARRAY_LEN(s); k++)
				args[na++] = s[k];
		}
		rc = clcnn_kernel_set_args(t->ctx, t->kernel, args, na);
		if (!rc)
			rc = clcnn_op_run1d(t->ctx, t->kernel, items);
	}
	return rc;
}

static uint32_t trainer_step_seed(const struct clcnn_trainer *t)
{
	uint64_t s = t->seed ^ ((uint64_t)t->steps * 0x9E3779B97F4A7C15ULL);
	return (uint32_t)graph_splitmix64(&s);
}

int trainer_apply(struct clcnn_trainer *t)
{
	double lr = clcnn_schedule_lr(&t->sched, t->opt.lr, t->steps);
	int rc = update(t, lr);
	if (rc)
		return rc;
	t->lr = lr;
	t->steps++;
	return 0;
}

int clcnn_trainer_step(struct clcnn_trainer *t, float *loss)
{
	long step = t->steps + 1; /* 1-based number of this step, as messages give it */
	double t0 = clcnn_now();
	memset(&t->tm, 0, sizeof t->tm);
	int rc = clcnn_graph_forward(t->g, 1, trainer_step_seed(t));
	int overlap = !rc && t->coll && t->bk;
	if (overlap && (rc = trainer_buckets_begin(t->bk)))
		overlap = 0;
	if (!rc)
		rc = clcnn_graph_backward(t->g);
	if (!rc && t->coll) /* compute ends where the device finished backward, not where it was enqueued */
		rc = clcnn_context_finish(t->ctx);
	t->tm.compute = clcnn_now() - t0;
	float global_loss;
	if (overlap) {
		rc = trainer_buckets_end(t->bk, rc, &global_loss);
		if (!loss)
			loss = &global_loss;
	} else if (t->coll) {
		/* every member gets the global batch's gradients and loss, so all fail alike on a bad one */
		if (!rc)
			rc = trainer_reduce(t, &global_loss);
		else if (t->coll->abort) /* the other members would wait for this one's gradients */
			t->coll->abort(t->coll->user, clcnn_context_error(t->ctx));
		if (!loss)
			loss = &global_loss;
	}
	/* the loss is checked before the update, so a non-finite one leaves parameters and state as they were */
	if (!rc && loss) {
		if (t->coll)
			*loss = global_loss;
		else
			rc = clcnn_graph_loss(t->g, loss);
		if (!rc && !isfinite(*loss))
			rc = clcnn_fail(t->ctx, CLCNN_ERR_NUMERIC, "the loss is %g (lr %g); lower the learning rate",
					(double)*loss, clcnn_schedule_lr(&t->sched, t->opt.lr, t->steps));
	}
	if (!t->coll) /* alone: the loss read waited for the device */
		t->tm.compute = clcnn_now() - t0;
	if (rc == CLCNN_ERR_NUMERIC) {
		char *msg = clcnn_strdup(clcnn_context_error(t->ctx));
		rc = clcnn_fail(t->ctx, rc, "training step %ld: %s", step, msg ? msg : "non-finite value");
		free(msg);
	}
	if (!rc) {
		double t1 = clcnn_now();
		rc = trainer_apply(t);
		if (!rc && t->coll)
			rc = clcnn_context_finish(t->ctx);
		t->tm.update = clcnn_now() - t1;
	}
	t->tm.total = clcnn_now() - t0;
	t->timed = 1;
	return rc;
}

int clcnn_trainer_last_timing(const struct clcnn_trainer *t, struct clcnn_step_timing *out)
{
	if (!t->timed)
		return clcnn_fail(t->ctx, CLCNN_ERR_INVALID, "step timing: the trainer has not taken a step");
	*out = t->tm;
	return 0;
}

long clcnn_trainer_steps(const struct clcnn_trainer *t)
{
	return t->steps;
}

double clcnn_trainer_lr(const struct clcnn_trainer *t)
{
	return t->lr;
}

uint64_t clcnn_trainer_rng(struct clcnn_trainer *t)
{
	return t->rng;
}

void clcnn_trainer_set_rng(struct clcnn_trainer *t, uint64_t state)
{
	t->rng = state;
}
