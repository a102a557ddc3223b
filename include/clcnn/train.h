/*
 * Training: optimizers and learning-rate schedules with PyTorch 1.13 formulas, updates on the
 * device, and checkpoints in safetensors (weights, optimizer state, metadata) written atomically.
 */
#ifndef CLCNN_TRAIN_H
#define CLCNN_TRAIN_H

#include "clcnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum clcnn_optimizer_kind {
	CLCNN_OPT_SGD,
	CLCNN_OPT_ADAM,
	CLCNN_OPT_ADAMW
};

struct clcnn_optimizer_config {
	enum clcnn_optimizer_kind kind;
	double lr;           /**< base learning rate */
	double momentum;     /**< SGD */
	double dampening;    /**< SGD */
	int nesterov;        /**< SGD */
	double weight_decay; /**< SGD/Adam: L2 added to the gradient; AdamW: decoupled */
	double beta1, beta2; /**< Adam/AdamW (0.9, 0.999) */
	double eps;          /**< Adam/AdamW (1e-8) */
};

/** Defaults of torch.optim for kind (lr 0.01 for SGD, 0.001 for Adam/AdamW, AdamW weight decay 0.01). */
CLCNN_API void clcnn_optimizer_defaults(struct clcnn_optimizer_config *cfg, enum clcnn_optimizer_kind kind);

enum clcnn_schedule_kind {
	CLCNN_SCHED_CONSTANT,
	CLCNN_SCHED_STEP,      /**< lr * gamma^(floor(step / step_size)) */
	CLCNN_SCHED_MULTISTEP, /**< lr * gamma^(number of milestones passed) */
	CLCNN_SCHED_COSINE,    /**< CosineAnnealingLR to eta_min over total_steps */
	CLCNN_SCHED_ONECYCLE,  /**< OneCycleLR(max_lr = lr, total_steps, pct_start, div_factor, final_div_factor),
				    cos annealing, with momentum cycling off */
};

struct clcnn_schedule_config {
	enum clcnn_schedule_kind kind;
	int step_size;      /**< STEP */
	int milestones[16]; /**< MULTISTEP */
	int nmilestones;
	double gamma;            /**< STEP/MULTISTEP (0.1) */
	int total_steps;         /**< COSINE/ONECYCLE */
	double eta_min;          /**< COSINE */
	double pct_start;        /**< ONECYCLE (0.3) */
	double div_factor;       /**< ONECYCLE (25) */
	double final_div_factor; /**< ONECYCLE (1e4) */
	int warmup_steps;        /**< linear warmup from 0 to the scheduled lr over the first steps (0 = none) */
};

CLCNN_API void clcnn_schedule_defaults(struct clcnn_schedule_config *cfg, enum clcnn_schedule_kind kind);
/** Learning rate at step (0-based) for base lr, exactly as torch.optim.lr_scheduler. */
CLCNN_API double clcnn_schedule_lr(const struct clcnn_schedule_config *cfg, double base_lr, long step);

struct clcnn_trainer;

/** A trainer owns optimizer state for the built graph g (borrowed; must outlive the trainer). */
CLCNN_API int clcnn_trainer_new(struct clcnn_graph *g, const struct clcnn_optimizer_config *opt,
				const struct clcnn_schedule_config *sched, uint64_t seed, struct clcnn_trainer **out);
CLCNN_API void clcnn_trainer_free(struct clcnn_trainer *t);

/**
 * One training step on the inputs already set (clcnn_graph_set_input): forward in training mode,
 * backward, optimizer update, schedule advance. No host synchronisation unless loss is non-NULL
 * (then the loss is read back before the update is enqueued). Fails with CLCNN_ERR_NUMERIC when
 * the loss is not finite, or, with clcnn_graph_check_numerics on, when any node's output or
 * gradient is not; the message starts "training step N: " (N counts from 1) and names the first
 * node that produced the value when the checks are on. After such a failure the update was not
 * applied: parameters, optimizer state and the step count are those before the step.
 */
CLCNN_API int clcnn_trainer_step(struct clcnn_trainer *t, float *loss);
CLCNN_API long clcnn_trainer_steps(const struct clcnn_trainer *t);
/** Learning rate of the last step (before any step: of the first one). */
CLCNN_API double clcnn_trainer_lr(const struct clcnn_trainer *t);
/**
 * A 64-bit RNG state for the caller's data shuffling, derived from the trainer's seed and saved in
 * checkpoints, so that a resumed run shuffles as the uninterrupted one: take it with
 * clcnn_trainer_rng (which does not advance it), draw from it, store it back with
 * clcnn_trainer_set_rng. Dropout/noise seeds do not use it: they derive from (seed, step).
 */
CLCNN_API uint64_t clcnn_trainer_rng(struct clcnn_trainer *t);
CLCNN_API void clcnn_trainer_set_rng(struct clcnn_trainer *t, uint64_t state);

/**
 * Checkpoint: every parameter under its state-dict name, optimizer state under
 * "optimizer.<param>.<slot>" (momentum_buffer, exp_avg, exp_avg_sq), metadata (epoch, step, RNG,
 * graph hash, optimizer and schedule settings, plus caller's key/values). Written atomically
 * (temp file, fsync, rename): an existing file is replaced only by a complete new one.
 */
CLCNN_API int clcnn_trainer_save(struct clcnn_trainer *t, const char *path, int epoch, const char *const *meta_kv);
/**
 * Load a checkpoint saved by clcnn_trainer_save into the trainer's graph and optimizer state; checks
 * names, shapes, dtypes, the optimizer's state tensors and the graph hash, reporting all mismatches
 * at once (CLCNN_ERR_FORMAT) before anything is changed. Restores step, RNG state and seed, so the
 * following steps are bitwise those of the run that saved it. *epoch (may be NULL) receives the
 * saved epoch.
 */
CLCNN_API int clcnn_trainer_load(struct clcnn_trainer *t, const char *path, int *epoch);

#ifdef __cplusplus
}
#endif
#endif
