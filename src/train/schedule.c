/*
 * Optimizer defaults and learning-rate schedules, with the formulas of torch.optim 1.13 and
 * torch.optim.lr_scheduler in closed form (PyTorch's chained form multiplies the previous lr by a
 * factor each step; both agree to a few ulps of double, far below float precision of the update).
 *
 * OneCycleLR: anneal_strategy='cos', three_phase=False, max_lr = the base lr; PyTorch also cycles
 * momentum / beta1 inversely to the lr (cycle_momentum=True) — that is not done here: momentum
 * and betas stay as configured. Steps past total_steps keep the final lr (PyTorch raises).
 * Short runs follow PyTorch too: when pct_start * total_steps <= 1 the warm-up phase ends before
 * step 0 (end1 < 0) and every step anneals from max_lr down (2 steps at pct_start 0.3: 0.81 x
 * max_lr, then min_lr; tests/train has the values), rather than being refused. Where the warm-up phase is
 * the single step 0 (end1 == 0) PyTorch divides 0 by 0 and raises; step 0 gets the phase's start,
 * initial_lr, as it does for every longer schedule.
 *
 * Warmup (not a PyTorch scheduler of its own): the scheduled lr is multiplied by
 * min(1, (step + 1) / warmup_steps), i.e. LinearLR(start_factor = 1/W, total_iters = W - 1) chained.
 */
#include <math.h>
#include <string.h>

#include "clcnn/train.h"

void clcnn_optimizer_defaults(struct clcnn_optimizer_config *cfg, enum clcnn_optimizer_kind kind)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->kind = kind;
	cfg->beta1 = 0.9;
	cfg->beta2 = 0.999;
	cfg->eps = 1e-8;
	switch (kind) {
	case CLCNN_OPT_SGD: cfg->lr = 0.01; break;
	case CLCNN_OPT_ADAM: cfg->lr = 0.001; break;
	case CLCNN_OPT_ADAMW:
		cfg->lr = 0.001;
		cfg->weight_decay = 0.01;
		break;
	}
}

void clcnn_schedule_defaults(struct clcnn_schedule_config *cfg, enum clcnn_schedule_kind kind)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->kind = kind;
	cfg->step_size = 1;
	cfg->gamma = 0.1;
	cfg->total_steps = 1;
	cfg->pct_start = 0.3;
	cfg->div_factor = 25.0;
	cfg->final_div_factor = 1e4;
}

static const double PI = 3.14159265358979323846;

static double anneal_cos(double start, double end, double pct)
{
	return end + (start - end) / 2.0 * (cos(PI * pct) + 1.0);
}

static double onecycle(const struct clcnn_schedule_config *c, double max_lr, long step)
{
	double initial = max_lr / c->div_factor, min_lr = initial / c->final_div_factor;
	double total = c->total_steps > 0 ? c->total_steps : 1;
	if (step > (long)total - 1)
		step = (long)total - 1;
	double end1 = c->pct_start * total - 1.0, end2 = total - 1.0;
	double s = (double)step;
	if (s <= end1)
		return anneal_cos(initial, max_lr, end1 > 0 ? s / end1 : 0.0);
	return anneal_cos(max_lr, min_lr, (s - end1) / (end2 - end1));
}

double clcnn_schedule_lr(const struct clcnn_schedule_config *c, double base_lr, long step)
{
	double lr = base_lr;
	if (step < 0)
		step = 0;
	switch (c->kind) {
	case CLCNN_SCHED_CONSTANT: break;
	case CLCNN_SCHED_STEP:
		lr = base_lr * pow(c->gamma, (double)(step / (c->step_size > 0 ? c->step_size : 1)));
		break;
	case CLCNN_SCHED_MULTISTEP: {
		int passed = 0;
		for (int i = 0; i < c->nmilestones && i < 16; i++)
			passed += step >= c->milestones[i];
		lr = base_lr * pow(c->gamma, passed);
		break;
	}
	case CLCNN_SCHED_COSINE: {
		double T = c->total_steps > 0 ? c->total_steps : 1;
		lr = c->eta_min + (base_lr - c->eta_min) * (1.0 + cos(PI * (double)step / T)) / 2.0;
		break;
	}
	case CLCNN_SCHED_ONECYCLE: lr = onecycle(c, base_lr, step); break;
	}
	if (c->warmup_steps > 0 && step < c->warmup_steps)
		lr *= (double)(step + 1) / (double)c->warmup_steps;
	return lr;
}
