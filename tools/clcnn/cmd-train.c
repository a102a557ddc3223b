/*
 * clcnn train: train a netfile on a data source (Fashion-MNIST's IDX files by default; image
 * folders, CIFAR, CSV) through the prefetching loader, with shuffling, augmentation, a progress display, per-epoch test accuracy, checkpoints, a CSV log and a
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
#include "replicas.h"
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
	struct clcnn_source *train, *test;
	struct clcnn_loader *train_loader, *test_loader;
	struct clcnn_augment aug; /* o->aug, or none for feature vectors by default */
	int ntrain, ntest;        /* samples used (--limit) */
	struct cli_inputs in;
	struct clcnn_trainer *tr;
	struct clcnn_optimizer_config oc;
	struct train_report rep;
	int *perm;
	int steps_per_epoch;
	int first_epoch, saved_epoch; /* saved_epoch: of the checkpoint now in out, -1 none of this run */
	char mean[CLCNN_NORMALIZE_TEXT_MAX], std[CLCNN_NORMALIZE_TEXT_MAX], input[64];
	char *classes;
	const char *meta[13]; /* key/value pairs saved with every checkpoint, NULL-terminated */
	struct par *par;      /* data parallel (replicas.c), NULL when training alone */
};

static void run_close(struct run *r)
{
	train_report_close(&r->rep);
	clcnn_loader_free(r->train_loader);
	clcnn_loader_free(r->test_loader);
	free(r->perm);
	free(r->classes);
	clcnn_trainer_free(r->tr);
	cli_inputs_free(&r->in);
	clcnn_source_close(r->train);
	clcnn_source_close(r->test);
	cli_model_close(&r->m);
}

/* The model and both splits of the dataset, checked against each other. */
static int load_model_and_data(struct run *r)
{
	const struct train_opts *o = r->o;
	int rc;
	if (cli_model_open_on("train", o->netfile, o->batch, par_device(r->par), &r->m) ||
	    cli_model_check_inputs("train", &r->m, o->netfile))
		return CLI_ERROR;
	clcnn_graph_check_numerics(r->m.g, o->check_numerics);
	if (!r->m.label || !clcnn_graph_loss_name(r->m.g)) {
		cli_error("train", "%s: the model needs a class-label input (label = input()) and a loss node",
			  o->netfile);
		return CLI_ERROR;
	}
	/* the default (flip) is for images; feature vectors get none unless asked, and then a refusal */
	r->aug = o->aug;
	if (r->m.nd == 1 && !o->augment_text)
		memset(&r->aug, 0, sizeof r->aug);
	const struct clcnn_augment *a = &r->aug;
	if (r->m.nd == 1 && (a->hflip || a->translate || a->rotate > 0 || a->scale > 0 || a->elastic > 0)) {
		cli_error("train",
			  "--augment %s: augmentation works on images, but the model's input '%s' is a feature vector "
			  "of %d values; pass --augment none",
			  o->augment_text, r->m.image, r->m.c);
		return CLI_USAGE;
	}
	if ((rc = cli_source_open("train", &r->m, &o->data, "train", &r->train)) ||
	    (rc = cli_source_open("train", &r->m, &o->data, "test", &r->test)))
		return rc;
	r->ntrain = clcnn_source_info(r->train)->n;
	r->ntest = clcnn_source_info(r->test)->n;
	if (o->limit) {
		r->ntrain = r->ntrain < o->limit ? r->ntrain : o->limit;
		r->ntest = r->ntest < o->limit ? r->ntest : o->limit;
	}
	r->steps_per_epoch = r->ntrain / o->batch;
	if (r->steps_per_epoch < 1) {
		cli_error("train", "batch %d is larger than the %d training samples", o->batch, r->ntrain);
		return CLI_USAGE;
	}
	return 0;
}

/* "0.2860" or "0.4914,0.4822,0.4465" (the first 8, then "..."): the normalisation for people. */
static void describe_list(char *buf, size_t len, const float *v, int n)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < n && i < 8 && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%.4f", i ? "," : "", (double)v[i]);
	if (n > 8 && used < len)
		snprintf(buf + used, len - used, ",... (%d values)", n);
}

/*
 * The normalisation: --mean/--std, else the resumed checkpoint's, else computed from the training
 * split (what is missing of a lone --mean or --std too).
 */
static int normalisation(struct run *r)
{
	const struct train_opts *o = r->o;
	char err[4200];
	struct clcnn_normalize ck = {0}, computed = {0};
	if (o->resume && clcnn_normalize_from_weights(o->resume, &ck, err, sizeof err)) {
		cli_error("train", "%s", err);
		return CLI_ERROR;
	}
	int compute = !(o->mean && o->std) && !ck.channels;
	if (compute) {
		int n = o->limit ? r->ntrain : 0;
		if (clcnn_source_stats(r->train, n, &computed, err, sizeof err)) {
			cli_error("train", "normalisation: %s", err);
			return CLI_ERROR;
		}
	}
	int rc = cli_inputs_read_ex("train", &r->m, o->resume, o->mean, o->std, compute ? &computed : NULL, &r->in);
	if (rc)
		return rc;
	char m[160], sd[160];
	describe_list(m, sizeof m, r->in.norm.mean, r->in.norm.channels);
	describe_list(sd, sizeof sd, r->in.norm.std, r->in.norm.channels);
	const char *kind = r->m.nd == 1 ? "samples" : "images";
	if (o->quiet) /* data parallel: the first member says it */
		return 0;
	if (compute)
		fprintf(stderr, "normalisation: mean %s std %s (%s from %d training %s)\n", m, sd,
			o->mean || o->std ? "given, the rest computed" : "computed", r->ntrain, kind);
	else
		fprintf(stderr, "normalisation: mean %s std %s (%s)\n", m, sd,
			o->mean && o->std ? "given" : "the checkpoint's");
	return 0;
}

/*
 * What the checkpoint says about the inputs (see clcnn/graph.h): the normalisation, the input shape,
 * the data format and layout, and the class names: the dataset's (folder names, CIFAR's), else the
 * resumed checkpoint's, else Fashion-MNIST's on its default data.
 */
static int describe_inputs(struct run *r)
{
	const struct train_opts *o = r->o;
	int rc = normalisation(r);
	if (rc)
		return rc;
	clcnn_normalize_format(&r->in.norm, r->mean, r->std, sizeof r->mean);
	cli_model_shape(&r->m, r->input, sizeof r->input);
	const struct clcnn_source_info *info = clcnn_source_info(r->train);
	int n = 0;
	const char *const *names = NULL;
	if (info->class_names && info->classes == r->m.classes) {
		names = info->class_names;
		n = info->classes;
	} else if (info->class_names) {
		fprintf(stderr,
			"clcnn train: warning: %s names %d classes but the model has %d outputs; no class names are "
			"saved\n",
			o->data.path, info->classes, r->m.classes);
	} else if (r->in.classes) {
		names = (const char *const *)r->in.classes;
		n = r->m.classes;
	} else if (!strcmp(o->data.path, CLI_DEFAULT_DATA) && r->m.classes == 10) {
		names = clcnn_dataset_fashion_mnist_classes();
		n = 10;
	}
	if (names && clcnn_classes_format(names, n, &r->classes)) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	int k = 0;
	const char **kv = r->meta;
	kv[k++] = CLCNN_META_MEAN;
	kv[k++] = r->mean;
	kv[k++] = CLCNN_META_STD;
	kv[k++] = r->std;
	kv[k++] = CLCNN_META_INPUT;
	kv[k++] = r->input;
	kv[k++] = CLCNN_META_FORMAT;
	kv[k++] = clcnn_data_format_name(info->format);
	if (info->layout) {
		kv[k++] = CLCNN_META_LAYOUT;
		kv[k++] = info->layout;
	}
	if (r->classes) {
		kv[k++] = CLCNN_META_CLASSES;
		kv[k++] = r->classes;
	}
	kv[k] = NULL;
	return 0;
}

/* Parameters, trainer (resumed when asked), the loaders and the order of an epoch. */
static int prepare(struct run *r)
{
	const struct train_opts *o = r->o;
	struct clcnn_schedule_config sc;
	char err[4200];
	train_opts_configs(o, r->steps_per_epoch, &r->oc, &sc);
	/* an ONNX model is fine-tuned from its own weights */
	if (!cli_model_is_onnx(o->netfile) && clcnn_graph_init_params(r->m.g, (uint64_t)o->seed, o->init)) {
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
	struct clcnn_loader_options lo = {.batch = o->batch, .threads = o->workers, .norm = &r->in.norm};
	if (clcnn_loader_new(r->test, &lo, &r->test_loader, err, sizeof err)) {
		cli_error("train", "%s", err);
		return CLI_ERROR;
	}
	lo.augment = &r->aug;
	if (clcnn_loader_new(r->train, &lo, &r->train_loader, err, sizeof err)) {
		cli_error("train", "%s", err);
		return CLI_ERROR;
	}
	r->perm = cli_malloc((size_t)clcnn_source_info(r->train)->n * sizeof(int));
	if (!r->perm) {
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
 * a stop was requested), *loss_sum their summed loss and *wait the seconds they waited for data.
 * 0 or CLI_ERROR after a message.
 */
static int train_epoch(struct run *r, int epoch, int *steps, double *loss_sum, double *wait)
{
	const struct train_opts *o = r->o;
	struct cli_model *m = &r->m;
	char err[4200];
	uint64_t rng = clcnn_trainer_rng(r->tr);
	/* the first ntrain samples (--limit), shuffled; the augmentation's seed from the same stream */
	clcnn_dataset_shuffle(r->perm, r->ntrain, &rng);
	uint64_t aug_seed = clcnn_rng_next(&rng);
	train_report_epoch_begin(&r->rep, epoch + 1);
	*loss_sum = *wait = 0;
	/* a last partial batch is dropped: the pass holds whole batches */
	if (clcnn_loader_start(r->train_loader, r->perm, r->steps_per_epoch * o->batch, aug_seed, err, sizeof err)) {
		cli_error("train", "%s", err);
		return CLI_ERROR;
	}
	int step;
	for (step = 0; step < r->steps_per_epoch && !stop_requested; step++) {
		const float *img, *lab;
		int count;
		double waited;
		if (clcnn_loader_next(r->train_loader, &img, &lab, &count, &waited, err, sizeof err) ||
		    count != o->batch) {
			train_report_break(&r->rep);
			cli_error("train", "epoch %d batch %d/%d: %s", epoch + 1, step + 1, r->steps_per_epoch,
				  count == o->batch ? err : "the loader ended the pass early");
			return CLI_ERROR;
		}
		*wait += waited;
		float loss;
		int src, stop = stop_requested;
		if (r->par) { /* data parallel: each member its share of the batch */
			src = par_step(r->par, img, lab, &loss, &stop);
			stop_requested = stop;
		} else if (!(src = clcnn_graph_set_input(m->g, m->image, img)) &&
			   !(src = clcnn_graph_set_input(m->g, m->label, lab)))
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
		double loss_sum, wait;
		if (train_epoch(r, epoch, &steps, &loss_sum, &wait) || par_epoch_end(r->par, &r->m))
			return CLI_ERROR;
		if (o->quiet) /* a data-parallel member other than the first */
			continue;
		double secs = cli_now() - r->rep.t0;
		*train_seconds += secs;
		if (stop_requested && steps < r->steps_per_epoch) {
			train_report_break(&r->rep);
			fprintf(stderr, "interrupted in epoch %d at step %d; ", epoch + 1, steps);
			break;
		}
		double acc, test_loss;
		/* evaluation pads a last partial batch with ignored labels (model.c), which is no numeric fault */
		clcnn_graph_check_numerics(r->m.g, 0);
		int erc = cli_evaluate("train", &r->m, r->test_loader, r->ntest, &acc, &test_loss, NULL);
		clcnn_graph_check_numerics(r->m.g, o->check_numerics);
		if (erc)
			return CLI_ERROR;
		train_report_epoch(&r->rep, clcnn_trainer_steps(r->tr), loss_sum / r->steps_per_epoch, test_loss, acc,
				   clcnn_trainer_lr(r->tr), secs, wait);
		if (save(r, epoch + 1))
			return CLI_ERROR;
		printf("epoch %d test accuracy %.4f\n", epoch + 1, acc);
		fflush(stdout);
	}
	if (stop_requested && !o->quiet) {
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
	if (!(rc = par_new(&r.par)))
		o.quiet = !par_leader(r.par);
	if (!rc && !(rc = load_model_and_data(&r)) && !(rc = describe_inputs(&r)) && !(rc = prepare(&r)))
		rc = par_start(r.par, &o, &r.m, r.tr, r.steps_per_epoch);
	if (!rc) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sa.sa_flags = SA_RESETHAND;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		if (!o.quiet)
			fprintf(stderr,
				"training %s on %s: %d %s (%s), batch %d, %d steps/epoch, %s lr %g, %s schedule, %d "
				"loader threads\n",
				o.netfile, clcnn_context_device(r.m.ctx)->name, r.ntrain,
				r.m.nd == 1 ? "samples" : "images", clcnn_data_format_name(clcnn_source_info(r.train)->format),
				o.batch, r.steps_per_epoch, o.optimizer, r.oc.lr, o.schedule, o.workers);
		double secs = 0;
		rc = train_epochs(&r, &secs);
		if (!rc && o.scaling)
			rc = par_scaling(r.par, &r.m, r.tr);
		if (!rc && !o.quiet) {
			train_report_plot(&r.rep);
			fprintf(stderr, "trained %.1f s; checkpoint %s, log %s, curve %s\n", secs, o.out, o.log,
				o.plot);
		}
	}
	run_close(&r);
	par_free(r.par);
	train_opts_free(&o);
	return rc;
}
