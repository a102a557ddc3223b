/*
 * clcnn train: train a netfile on an IDX image dataset (Fashion-MNIST by default) with shuffling,
 * augmentation, a progress display, per-epoch test accuracy, checkpoints, a CSV log and a
 * training-curve PNG. Ctrl-C (or SIGTERM) stops after the current step and writes a checkpoint.
 * Options: train-options.c; progress, log and curve: train-report.c; the loop: here.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-alloc.h"
#include "cli.h"
#include "model.h"
#include "train-cli.h"

static volatile sig_atomic_t stop_requested;

/*
 * First SIGINT/SIGTERM: finish the step, write a checkpoint, exit 0. The handler is one-shot
 * (SA_RESETHAND), so a second signal ends the process at once; checkpoints are written atomically,
 * so that cannot leave a broken one.
 */
static void on_signal(int sig)
{
	static const char msg[] = "\nclcnn train: stopping after this step to write a checkpoint (again to quit now)\n";
	(void)sig;
	stop_requested = 1;
	ssize_t n = write(2, msg, sizeof msg - 1);
	(void)n;
}

/* Everything one training run holds; run_close releases it. */
struct run {
	const struct train_opts *o;
	struct cli_model m;
	struct clcnn_dataset train, test;
	struct cli_inputs in;
	struct clcnn_trainer *tr;
	struct clcnn_optimizer_config oc;
	struct train_report rep;
	float *img, *lab, *tmp;
	int *perm;
	int steps_per_epoch;
	int first_epoch, saved_epoch; /* saved_epoch: of the checkpoint now in out, -1 none of this run */
	char mean[64], std[64], input[64];
	char *classes;
	const char *meta[9]; /* key/value pairs saved with every checkpoint */
};

static void run_close(struct run *r)
{
	train_report_close(&r->rep);
	free(r->img);
	free(r->lab);
	free(r->tmp);
	free(r->perm);
	free(r->classes);
	clcnn_trainer_free(r->tr);
	cli_inputs_free(&r->in);
	clcnn_dataset_free(&r->train);
	clcnn_dataset_free(&r->test);
	cli_model_close(&r->m);
}

/* The model and both splits of the dataset, checked against each other. */
static int load_model_and_data(struct run *r)
{
	const struct train_opts *o = r->o;
	char err[4096];
	if (cli_model_open("train", o->netfile, o->batch, &r->m))
		return CLI_ERROR;
	clcnn_graph_check_numerics(r->m.g, o->check_numerics);
	if (!r->m.label || !clcnn_graph_loss_name(r->m.g)) {
		cli_error("train", "%s: the model needs a class-label input (label = input()) and a loss node",
			  o->netfile);
		return CLI_ERROR;
	}
	if (clcnn_dataset_load(o->data, "train", r->m.classes, &r->train, err, sizeof err) ||
	    clcnn_dataset_load(o->data, "t10k", r->m.classes, &r->test, err, sizeof err)) {
		cli_error("train", "%s", err);
		return CLI_ERROR;
	}
	if (cli_model_check_data("train", &r->m, &r->train, o->data))
		return CLI_ERROR;
	if (o->limit) {
		r->train.n = r->train.n < o->limit ? r->train.n : o->limit;
		r->test.n = r->test.n < o->limit ? r->test.n : o->limit;
	}
	r->steps_per_epoch = r->train.n / o->batch;
	if (r->steps_per_epoch < 1) {
		cli_error("train", "batch %d is larger than the %d training images", o->batch, r->train.n);
		return CLI_USAGE;
	}
	return 0;
}

/*
 * What the checkpoint says about the inputs (see clcnn/graph.h): the normalisation, the input shape
 * and the class names: those of the resumed checkpoint, else Fashion-MNIST's on its default data.
 */
static int describe_inputs(struct run *r)
{
	const struct train_opts *o = r->o;
	int rc = cli_inputs_read("train", &r->m, o->resume, o->mean, o->std, &r->in);
	if (rc)
		return rc;
	clcnn_normalize_format(&r->in.norm, r->mean, r->std, sizeof r->mean);
	snprintf(r->input, sizeof r->input, "%dx%dx%d", r->m.c, r->m.h, r->m.w);
	int n = 0;
	const char *const *names = NULL;
	if (r->in.classes) {
		names = (const char *const *)r->in.classes;
		n = r->m.classes;
	} else if (!strcmp(o->data, CLI_DEFAULT_DATA) && r->m.classes == 10) {
		names = clcnn_dataset_fashion_mnist_classes();
		n = 10;
	}
	if (names && clcnn_classes_format(names, n, &r->classes)) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	const char *kv[] = {CLCNN_META_MEAN,
			    r->mean,
			    CLCNN_META_STD,
			    r->std,
			    CLCNN_META_INPUT,
			    r->input,
			    r->classes ? CLCNN_META_CLASSES : NULL,
			    r->classes,
			    NULL};
	memcpy(r->meta, kv, sizeof kv);
	return 0;
}

/* Parameters, trainer (resumed when asked) and the host buffers of a batch. */
static int prepare(struct run *r)
{
	const struct train_opts *o = r->o;
	struct clcnn_schedule_config sc;
	train_opts_configs(o, r->steps_per_epoch, &r->oc, &sc);
	if (clcnn_graph_init_params(r->m.g, (uint64_t)o->seed, o->init)) {
		cli_error("train", "--init: %s", clcnn_context_error(r->m.ctx));
		return CLI_USAGE;
	}
	if (clcnn_trainer_new(r->m.g, &r->oc, &sc, (uint64_t)o->seed, &r->tr)) {
		cli_error("train", "%s", clcnn_context_error(r->m.ctx));
		return CLI_ERROR;
	}
	r->saved_epoch = -1;
	if (o->resume) {
		if (clcnn_trainer_load(r->tr, o->resume, &r->first_epoch)) {
			cli_error("train", "%s", clcnn_context_error(r->m.ctx));
			return CLI_ERROR;
		}
		fprintf(stderr, "resuming %s after epoch %d (step %ld)\n", o->resume, r->first_epoch,
			clcnn_trainer_steps(r->tr));
		if (!strcmp(o->resume, o->out))
			r->saved_epoch = r->first_epoch;
	}
	size_t per = (size_t)r->m.c * (size_t)r->m.h * (size_t)r->m.w;
	r->img = cli_malloc((size_t)o->batch * per * sizeof(float));
	r->lab = cli_malloc((size_t)o->batch * sizeof(float));
	r->tmp = cli_malloc(per * sizeof(float));
	r->perm = cli_malloc((size_t)r->train.n * sizeof(int));
	if (!r->img || !r->lab || !r->tmp || !r->perm) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	return train_report_open(&r->rep, o, r->steps_per_epoch);
}

/* A failed step: one line saying where, why, and what is left on disk. */
static void step_failed(struct run *r, int epoch, int step, int status)
{
	char kept[4200];
	if (r->saved_epoch >= 0)
		snprintf(kept, sizeof kept, "the last checkpoint %s (epoch %d) is kept", r->o->out, r->saved_epoch);
	else
		snprintf(kept, sizeof kept, "no checkpoint was written");
	train_report_break(&r->rep);
	cli_error("train", "epoch %d batch %d/%d: %s%s; stopped, %s", epoch + 1, step + 1, r->steps_per_epoch,
		  clcnn_context_error(r->m.ctx),
		  status == CLCNN_ERR_NUMERIC && !r->o->check_numerics
			  ? " (--check-numerics names the first node that produces it)"
			  : "",
		  kept);
}

/*
 * The steps of epoch (0-based) in a fresh shuffled order; *steps receives how many ran (fewer when
 * a stop was requested) and *loss_sum their summed loss. 0 or CLI_ERROR after a message.
 */
static int train_epoch(struct run *r, int epoch, int *steps, double *loss_sum)
{
	const struct train_opts *o = r->o;
	struct cli_model *m = &r->m;
	size_t per = (size_t)m->c * (size_t)m->h * (size_t)m->w;
	uint64_t rng = clcnn_trainer_rng(r->tr);
	clcnn_dataset_shuffle(r->perm, r->train.n, &rng);
	train_report_epoch_begin(&r->rep, epoch + 1);
	*loss_sum = 0;
	int step;
	for (step = 0; step < r->steps_per_epoch && !stop_requested; step++) {
		clcnn_dataset_gather(&r->train, r->perm, step * o->batch, o->batch, 0.0f, 1.0f, r->img, r->lab);
		clcnn_augment_batch(&o->aug, r->img, o->batch, m->c, m->h, m->w, r->tmp, &rng);
		for (int i = 0; i < o->batch; i++)
			clcnn_normalize_apply(&r->in.norm, r->img + (size_t)i * per, m->c, m->h, m->w);
		float loss;
		int src = clcnn_graph_set_input(m->g, m->image, r->img);
		if (!src)
			src = clcnn_graph_set_input(m->g, m->label, r->lab);
		if (!src)
			src = clcnn_trainer_step(r->tr, &loss);
		if (src) {
			step_failed(r, epoch, step, src);
			return CLI_ERROR;
		}
		*loss_sum += loss;
		train_report_step(&r->rep, step + 1, loss, step + 1 == r->steps_per_epoch);
	}
	clcnn_trainer_set_rng(r->tr, rng);
	*steps = step;
	return 0;
}

static int save(struct run *r, int epoch)
{
	if (clcnn_trainer_save(r->tr, r->o->out, epoch, r->meta)) {
		cli_error("train", "%s", clcnn_context_error(r->m.ctx));
		return CLI_ERROR;
	}
	r->saved_epoch = epoch;
	return 0;
}

/* Epochs until the last or a stop request; each finished one is evaluated, logged and saved. */
static int train_epochs(struct run *r, double *train_seconds)
{
	const struct train_opts *o = r->o;
	int epoch;
	for (epoch = r->first_epoch; epoch < o->epochs && !stop_requested; epoch++) {
		int steps;
		double loss_sum;
		if (train_epoch(r, epoch, &steps, &loss_sum))
			return CLI_ERROR;
		double secs = cli_now() - r->rep.t0;
		*train_seconds += secs;
		if (stop_requested && steps < r->steps_per_epoch) {
			train_report_break(&r->rep);
			fprintf(stderr, "interrupted in epoch %d at step %d; ", epoch + 1, steps);
			break;
		}
		double acc, test_loss;
		if (cli_evaluate("train", &r->m, &r->test, &r->in.norm, &acc, &test_loss, NULL))
			return CLI_ERROR;
		train_report_epoch(&r->rep, clcnn_trainer_steps(r->tr), loss_sum / r->steps_per_epoch, test_loss, acc,
				   clcnn_trainer_lr(r->tr), secs);
		if (save(r, epoch + 1))
			return CLI_ERROR;
		printf("epoch %d test accuracy %.4f\n", epoch + 1, acc);
		fflush(stdout);
	}
	if (stop_requested) {
		/* an interrupted epoch is not complete: save the step we reached, marked with the last whole epoch */
		if (save(r, epoch))
			return CLI_ERROR;
		fprintf(stderr, "checkpoint written to %s\n", o->out);
	}
	return 0;
}

int cmd_train(int argc, char **argv)
{
	struct train_opts o;
	int rc;
	if (!train_opts_parse(argc, argv, &o, &rc)) {
		train_opts_free(&o);
		return rc;
	}
	struct run r = {.o = &o};
	if (!(rc = load_model_and_data(&r)) && !(rc = describe_inputs(&r)))
		rc = prepare(&r);
	if (!rc) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sa.sa_flags = SA_RESETHAND;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		fprintf(stderr, "training %s on %s: %d images, batch %d, %d steps/epoch, %s lr %g, %s schedule\n",
			o.netfile, clcnn_context_device(r.m.ctx)->name, r.train.n, o.batch, r.steps_per_epoch,
			o.optimizer, r.oc.lr, o.schedule);
		double secs = 0;
		rc = train_epochs(&r, &secs);
		if (!rc) {
			train_report_plot(&r.rep);
			fprintf(stderr, "trained %.1f s; checkpoint %s, log %s, curve %s\n", secs, o.out, o.log,
				o.plot);
		}
	}
	run_close(&r);
	train_opts_free(&o);
	return rc;
}
