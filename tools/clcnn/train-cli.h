/*
 * clcnn train in three parts: the options (train-options.c: parsed and validated once, before any
 * work), the training loop (cmd-train.c) and the reporting (train-report.c: progress line, CSV log,
 * training-curve picture).
 */
#ifndef CLCNN_CLI_TRAIN_H
#define CLCNN_CLI_TRAIN_H
#include <stdio.h>

#include "clcnn/train.h"
#include "io/dataset.h"
#include "model.h"

struct train_opts {
	const char *netfile, *resume, *init;
	struct cli_data_opts data;        /* --data, --format, --val-split, --label-column, --resize */
	const char *optimizer, *schedule; /* names as given (for messages) */
	const char *augment_text;         /* --augment as given (NULL: flip for images, none for vectors) */
	const char *mean, *std;           /* as given, NULL when not */
	const char *out, *log, *plot;     /* given or derived from the netfile / out */
	const char *pairs, *mining;       /* --pairs triplet|contrastive (NULL: classification), --mining */
	int per_class;                    /* --per-class K of batch-hard mining (0: chosen) */
	enum clcnn_optimizer_kind opt_kind;
	enum clcnn_schedule_kind sched_kind;
	struct clcnn_augment aug;
	int epochs, batch, seed, no_nesterov, limit, force, warmup, step_size, check_numerics;
	int workers; /* loader threads */
	int rebalance; /* data parallel: steps between re-balancings of the batch split (0: never) */
	int quiet;     /* data parallel: not the leading member: no progress, log, curve or checkpoint */
	int scaling;   /* after training: time one device alone, print T1 / (N x TN) */
	int sync_bn;    /* data parallel: batchnorm statistics over the global batch */
	int bucket_mib; /* data parallel: gradient buckets reduced while backward runs (0: one, after) */
	double lr, momentum, weight_decay, gamma; /* lr, momentum, weight_decay < 0: the optimizer's default */
	char *owned[3];                           /* derived paths, freed by train_opts_free */
};

/*
 * Parse and validate argv into *o. Returns 1 when training should start; otherwise 0 with *status
 * the exit status (CLI_OK after --help, CLI_USAGE after a usage error, CLI_ERROR when out of memory),
 * the message printed. train_opts_free is needed in both cases.
 */
int train_opts_parse(int argc, char **argv, struct train_opts *o, int *status);
void train_opts_free(struct train_opts *o);
/* The optimizer and schedule configurations the options describe, for steps_per_epoch. */
void train_opts_configs(const struct train_opts *o, int steps_per_epoch, struct clcnn_optimizer_config *oc,
			struct clcnn_schedule_config *sc);

/* Progress display, CSV log and the curve of the finished epochs. */
struct train_report {
	const struct train_opts *o;
	FILE *csv;
	double *epoch, *loss, *acc; /* one point per finished epoch */
	int npoints;
	/* progress of the current epoch */
	int tty, epoch_no, steps;
	double t0, last_print, loss_ema;
};

/* Allocate the curve and open the CSV log (appended to when resuming). Prints errors; 0 or CLI_ERROR. */
int train_report_open(struct train_report *r, const struct train_opts *o, int steps_per_epoch);
void train_report_close(struct train_report *r);
void train_report_epoch_begin(struct train_report *r, int epoch);
/* After step (1-based) of the current epoch; throttled, final forces a line. */
void train_report_step(struct train_report *r, int step, double loss, int final);
/* End the progress line (before a message about the current epoch). */
void train_report_break(const struct train_report *r);
/*
 * One finished epoch: a stderr line, a CSV row and a point of the curve. data_wait: the seconds the
 * steps waited for the loader, in all.
 */
void train_report_epoch(struct train_report *r, long steps_done, double train_loss, double test_loss, double acc,
			double lr, double seconds, double data_wait);
/* Draw the curve of the finished epochs (if any); a failure is reported, not fatal. */
void train_report_plot(const struct train_report *r);
#endif
