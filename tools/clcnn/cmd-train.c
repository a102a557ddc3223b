/*
 * clcnn train: train a netfile on an IDX image dataset (Fashion-MNIST by default) with shuffling,
 * augmentation, a progress display, per-epoch test accuracy, checkpoints, a CSV log and a
 * training-curve PNG. Ctrl-C (or SIGTERM) stops after the current step and writes a checkpoint.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "io/io.h"
#include "model.h"

struct train_opts {
	const char *data, *optimizer, *schedule, *out, *resume, *augment, *log, *plot, *init;
	int epochs, batch, seed, nesterov, no_nesterov, limit, force, warmup, step_size, check_numerics;
	double lr, momentum, weight_decay, mean, std, gamma;
};

static struct train_opts O;

static const struct cli_flag flags[] = {
	{"data", FLAG_STR, &O.data, 0, 0, " DIR", "dataset directory with IDX files (default " CLI_DEFAULT_DATA ")"},
	{"epochs", FLAG_INT, &O.epochs, 1, 100000, NULL, "epochs to train (default 4)"},
	{"batch", FLAG_INT, &O.batch, 1, 65536, NULL, "batch size (default 128)"},
	{"optimizer", FLAG_STR, &O.optimizer, 0, 0, " NAME", "sgd | adam | adamw (default sgd)"},
	{"lr", FLAG_DOUBLE, &O.lr, 0, 100, NULL, "learning rate; the peak for onecycle (default 0.1 sgd, 0.001 adam)"},
	{"momentum", FLAG_DOUBLE, &O.momentum, 0, 1, NULL, "SGD momentum (default 0.9)"},
	{"no-nesterov", FLAG_BOOL, &O.no_nesterov, 0, 0, NULL, "plain momentum instead of Nesterov"},
	{"weight-decay", FLAG_DOUBLE, &O.weight_decay, 0, 1, NULL, "weight decay (default 5e-4; adamw 0.01)"},
	{"schedule", FLAG_STR, &O.schedule, 0, 0, " NAME", "onecycle | cosine | step | constant (default onecycle)"},
	{"step-size", FLAG_INT, &O.step_size, 1, 1 << 30, NULL, "epochs per decay for --schedule step (default 1)"},
	{"gamma", FLAG_DOUBLE, &O.gamma, 0, 1, NULL, "decay factor for --schedule step (default 0.1)"},
	{"warmup", FLAG_INT, &O.warmup, 0, 1 << 30, NULL, "linear warmup steps (default 0)"},
	{"seed", FLAG_INT, &O.seed, 0, 2147483647, NULL, "seed for weights, shuffling, augmentation (default 1)"},
	{"init", FLAG_STR, &O.init, 0, 0, " NAME", "default | kaiming_uniform | kaiming_normal | xavier_uniform | xavier_normal"},
	{"augment", FLAG_STR, &O.augment, 0, 0, " LIST", "flip,translate=2,rotate=10,scale=0.1,elastic=1.5 or none (default flip)"},
	{"mean", FLAG_DOUBLE, &O.mean, -1e6, 1e6, NULL, "normalisation mean (default 0.2860, Fashion-MNIST)"},
	{"std", FLAG_DOUBLE, &O.std, 1e-9, 1e6, NULL, "normalisation std (default 0.3530)"},
	{"out", FLAG_STR, &O.out, 0, 0, " CKPT", "checkpoint to write each epoch (default <model>.safetensors)"},
	{"resume", FLAG_STR, &O.resume, 0, 0, " CKPT", "continue from this checkpoint (weights, optimizer, epoch, RNG)"},
	{"force", FLAG_BOOL, &O.force, 0, 0, NULL, "allow replacing an existing --out checkpoint"},
	{"log", FLAG_STR, &O.log, 0, 0, " CSV", "per-epoch CSV log (default <out without .safetensors>.csv)"},
	{"plot", FLAG_STR, &O.plot, 0, 0, " PNG", "training-curve picture (default <out without .safetensors>.png)"},
	{"limit", FLAG_INT, &O.limit, 1, 1 << 30, NULL, "use only the first N training and test images"},
	{"check-numerics", FLAG_BOOL, &O.check_numerics, 0, 0, NULL,
	 "check every node's output and gradients for NaN/Inf at every step (slow); names the first node"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn train NETFILE [options]\n\n"
		   "Train NETFILE on an image classification dataset (IDX files: train-images-idx3-ubyte[.gz] ...).\n"
		   "Writes a checkpoint (safetensors) after every epoch, a CSV log and a PNG training curve.\n"
		   "Ctrl-C stops after the current step and writes a checkpoint; --resume continues.\n\noptions:\n");
	cli_print_flags(f, flags);
}

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

static char *derived_path(const char *out, const char *ext)
{
	size_t n = strlen(out);
	const char *suffix = ".safetensors";
	size_t sl = strlen(suffix);
	size_t base = n > sl && !strcmp(out + n - sl, suffix) ? n - sl : n;
	char *p = malloc(base + strlen(ext) + 1);
	if (p) {
		memcpy(p, out, base);
		strcpy(p + base, ext);
	}
	return p;
}

struct progress {
	int tty, epoch, epochs, steps;
	double t0, last_print, loss_ema;
};

static void progress_show(struct progress *p, int step, double loss, int batch, int final)
{
	double now = cli_now(), el = now - p->t0;
	p->loss_ema = step <= 1 || isnan(p->loss_ema) ? loss : 0.9 * p->loss_ema + 0.1 * loss;
	double ips = el > 0 ? (double)step * batch / el : 0;
	double eta = step > 0 ? el / step * (p->steps - step) : 0;
	if (p->tty) {
		if (!final && now - p->last_print < 0.2)
			return;
		int width = 24, filled = p->steps ? step * width / p->steps : 0;
		char bar[32];
		for (int i = 0; i < width; i++)
			bar[i] = i < filled ? '#' : '.';
		bar[width] = 0;
		fprintf(stderr, "\repoch %d/%d [%s] %d/%d  %.0f img/s  loss %.4f  ETA %.0fs   ", p->epoch, p->epochs, bar,
			step, p->steps, ips, p->loss_ema, eta);
		if (final)
			fputc('\n', stderr);
	} else {
		if (!final && now - p->last_print < 15)
			return;
		fprintf(stderr, "epoch %d/%d step %d/%d  %.0f img/s  loss %.4f  ETA %.0fs\n", p->epoch, p->epochs, step,
			p->steps, ips, p->loss_ema, eta);
	}
	p->last_print = now;
}

static int parse_optimizer(struct clcnn_optimizer_config *oc, struct clcnn_schedule_config *sc, int steps_per_epoch)
{
	enum clcnn_optimizer_kind k;
	if (!strcmp(O.optimizer, "sgd"))
		k = CLCNN_OPT_SGD;
	else if (!strcmp(O.optimizer, "adam"))
		k = CLCNN_OPT_ADAM;
	else if (!strcmp(O.optimizer, "adamw"))
		k = CLCNN_OPT_ADAMW;
	else {
		cli_error("train", "bad value '%s' for --optimizer: expected sgd, adam or adamw", O.optimizer);
		return CLI_USAGE;
	}
	clcnn_optimizer_defaults(oc, k);
	oc->lr = O.lr >= 0 ? O.lr : k == CLCNN_OPT_SGD ? 0.1 : 0.001;
	if (k == CLCNN_OPT_SGD) {
		oc->momentum = O.momentum >= 0 ? O.momentum : 0.9;
		oc->nesterov = !O.no_nesterov && oc->momentum > 0;
		oc->weight_decay = O.weight_decay >= 0 ? O.weight_decay : 5e-4;
	} else if (O.weight_decay >= 0) {
		oc->weight_decay = O.weight_decay;
	}
	enum clcnn_schedule_kind s;
	if (!strcmp(O.schedule, "onecycle"))
		s = CLCNN_SCHED_ONECYCLE;
	else if (!strcmp(O.schedule, "cosine"))
		s = CLCNN_SCHED_COSINE;
	else if (!strcmp(O.schedule, "step"))
		s = CLCNN_SCHED_STEP;
	else if (!strcmp(O.schedule, "constant"))
		s = CLCNN_SCHED_CONSTANT;
	else {
		cli_error("train", "bad value '%s' for --schedule: expected onecycle, cosine, step or constant", O.schedule);
		return CLI_USAGE;
	}
	clcnn_schedule_defaults(sc, s);
	sc->total_steps = O.epochs * steps_per_epoch;
	sc->step_size = O.step_size * steps_per_epoch;
	sc->gamma = O.gamma;
	sc->warmup_steps = O.warmup;
	return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
	memset(&O, 0, sizeof O);
	O.data = CLI_DEFAULT_DATA;
	O.optimizer = "sgd";
	O.schedule = "onecycle";
	O.augment = "flip";
	O.init = "default";
	O.epochs = 4;
	O.batch = 128;
	O.seed = 1;
	O.step_size = 1;
	O.gamma = 0.1;
	O.lr = O.momentum = O.weight_decay = -1;
	O.mean = CLI_DEFAULT_MEAN;
	O.std = CLI_DEFAULT_STD;
	char *pos[1];
	int npos;
	int pr = cli_parse("train", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1) {
		cli_error("train", "expected one NETFILE (see clcnn train --help)");
		return CLI_USAGE;
	}
	const char *netfile = pos[0];
	/* usage errors before any work: names are checked again where they are used */
	if (strcmp(O.optimizer, "sgd") && strcmp(O.optimizer, "adam") && strcmp(O.optimizer, "adamw")) {
		cli_error("train", "bad value '%s' for --optimizer: expected sgd, adam or adamw", O.optimizer);
		return CLI_USAGE;
	}
	if (strcmp(O.schedule, "onecycle") && strcmp(O.schedule, "cosine") && strcmp(O.schedule, "step") &&
	    strcmp(O.schedule, "constant")) {
		cli_error("train", "bad value '%s' for --schedule: expected onecycle, cosine, step or constant", O.schedule);
		return CLI_USAGE;
	}
	struct clcnn_augment aug;
	char err[4096];
	if (clcnn_augment_parse(O.augment, &aug, err, sizeof err)) {
		cli_error("train", "--augment: %s", err);
		return CLI_USAGE;
	}
	char *default_out = NULL;
	if (!O.out) {
		const char *b = strrchr(netfile, '/') ? strrchr(netfile, '/') + 1 : netfile;
		default_out = malloc(strlen(b) + 16);
		strcpy(default_out, b);
		char *dot = strrchr(default_out, '.');
		if (dot && dot != default_out)
			*dot = 0;
		strcat(default_out, ".safetensors");
		O.out = default_out;
	}
	char *log_path = O.log ? NULL : derived_path(O.out, ".csv");
	char *plot_path = O.plot ? NULL : derived_path(O.out, ".png");
	const char *logp = O.log ? O.log : log_path, *plotp = O.plot ? O.plot : plot_path;
	int rc = CLI_ERROR;
	/* never replace someone's checkpoint by accident: only --resume of the same file or --force */
	if (access(O.out, F_OK) == 0 && !O.force && !(O.resume && !strcmp(O.resume, O.out))) {
		cli_error("train", "%s already exists; pass --force to replace it or --resume %s to continue it", O.out, O.out);
		rc = CLI_USAGE;
		goto out;
	}

	struct clcnn_dataset train = {0}, test = {0};
	struct cli_model m = {0};
	struct clcnn_trainer *tr = NULL;
	float *img = NULL, *lab = NULL, *tmp = NULL;
	int *perm = NULL;
	FILE *csv = NULL;
	double *ep = NULL, *tl = NULL, *ta = NULL;
	if (cli_model_open("train", netfile, O.batch, &m))
		goto done;
	clcnn_graph_check_numerics(m.g, O.check_numerics);
	if (!m.label || !clcnn_graph_loss_name(m.g)) {
		cli_error("train", "%s: the model needs a class-label input (label = input()) and a loss node", netfile);
		goto done;
	}
	if (clcnn_dataset_load(O.data, "train", m.classes, &train, err, sizeof err) ||
	    clcnn_dataset_load(O.data, "t10k", m.classes, &test, err, sizeof err)) {
		cli_error("train", "%s", err);
		goto done;
	}
	if (cli_model_check_data("train", &m, &train, O.data))
		goto done;
	if (O.limit) {
		train.n = train.n < O.limit ? train.n : O.limit;
		test.n = test.n < O.limit ? test.n : O.limit;
	}
	int steps_per_epoch = train.n / O.batch;
	if (steps_per_epoch < 1) {
		cli_error("train", "batch %d is larger than the %d training images", O.batch, train.n);
		rc = CLI_USAGE;
		goto done;
	}
	struct clcnn_optimizer_config oc;
	struct clcnn_schedule_config sc;
	if ((rc = parse_optimizer(&oc, &sc, steps_per_epoch)) != CLI_OK)
		goto done;
	rc = CLI_ERROR;
	if (clcnn_graph_init_params(m.g, (uint64_t)O.seed, O.init)) {
		cli_error("train", "--init: %s", clcnn_context_error(m.ctx));
		rc = CLI_USAGE;
		goto done;
	}
	if (clcnn_trainer_new(m.g, &oc, &sc, (uint64_t)O.seed, &tr)) {
		cli_error("train", "%s", clcnn_context_error(m.ctx));
		goto done;
	}
	int first_epoch = 0, saved_epoch = -1; /* epoch of the checkpoint now in O.out, -1 none of this run */
	if (O.resume) {
		if (clcnn_trainer_load(tr, O.resume, &first_epoch)) {
			cli_error("train", "%s", clcnn_context_error(m.ctx));
			goto done;
		}
		fprintf(stderr, "resuming %s after epoch %d (step %ld)\n", O.resume, first_epoch, clcnn_trainer_steps(tr));
		if (!strcmp(O.resume, O.out))
			saved_epoch = first_epoch;
	}
	size_t per = (size_t)m.c * (size_t)m.h * (size_t)m.w;
	img = malloc((size_t)O.batch * per * sizeof(float));
	lab = malloc((size_t)O.batch * sizeof(float));
	tmp = malloc(per * sizeof(float));
	perm = malloc((size_t)train.n * sizeof(int));
	ep = calloc((size_t)O.epochs + 1, sizeof(double));
	tl = calloc((size_t)O.epochs + 1, sizeof(double));
	ta = calloc((size_t)O.epochs + 1, sizeof(double));
	if (!img || !lab || !tmp || !perm || !ep || !tl || !ta) {
		cli_error("train", "out of host memory");
		goto done;
	}
	csv = fopen(logp, O.resume ? "a" : "w");
	if (!csv) {
		cli_error("train", "%s: cannot write the CSV log", logp);
		goto done;
	}
	if (!O.resume)
		fprintf(csv, "epoch,steps,train_loss,test_loss,test_accuracy,lr,seconds,images_per_second\n");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	const struct clcnn_device_info *dev = clcnn_context_device(m.ctx);
	fprintf(stderr, "training %s on %s: %d images, batch %d, %d steps/epoch, %s lr %g, %s schedule\n", netfile,
		dev->name, train.n, O.batch, steps_per_epoch, O.optimizer, oc.lr, O.schedule);
	struct progress prog = {.tty = isatty(2), .epochs = O.epochs, .steps = steps_per_epoch};
	int npoints = 0, epoch = first_epoch;
	double total_train_s = 0;
	for (epoch = first_epoch; epoch < O.epochs && !stop_requested; epoch++) {
		uint64_t rng = clcnn_trainer_rng(tr);
		clcnn_shuffle(perm, train.n, &rng);
		prog.epoch = epoch + 1;
		prog.t0 = cli_now();
		prog.last_print = 0;
		prog.loss_ema = NAN;
		double loss_sum = 0;
		int step;
		for (step = 0; step < steps_per_epoch && !stop_requested; step++) {
			clcnn_dataset_gather(&train, perm, step * O.batch, O.batch, 0.0f, 1.0f, img, lab);
			clcnn_augment_batch(&aug, img, O.batch, m.c, m.h, m.w, tmp, &rng);
			float inv = (float)(1.0 / O.std), mu = (float)O.mean;
			for (size_t i = 0; i < (size_t)O.batch * per; i++)
				img[i] = (img[i] - mu) * inv;
			float loss;
			int src = clcnn_graph_set_input(m.g, m.image, img);
			if (!src)
				src = clcnn_graph_set_input(m.g, m.label, lab);
			if (!src)
				src = clcnn_trainer_step(tr, &loss);
			if (src) {
				char kept[4200];
				if (saved_epoch >= 0)
					snprintf(kept, sizeof kept, "the last checkpoint %s (epoch %d) is kept", O.out, saved_epoch);
				else
					snprintf(kept, sizeof kept, "no checkpoint was written");
				if (prog.tty)
					fputc('\n', stderr);
				cli_error("train", "epoch %d batch %d/%d: %s%s; stopped, %s", epoch + 1, step + 1,
					  steps_per_epoch, clcnn_context_error(m.ctx),
					  src == CLCNN_ERR_NUMERIC && !O.check_numerics
						  ? " (--check-numerics names the first node that produces it)"
						  : "",
					  kept);
				goto done;
			}
			loss_sum += loss;
			progress_show(&prog, step + 1, loss, O.batch, step + 1 == steps_per_epoch);
		}
		clcnn_trainer_set_rng(tr, rng);
		double secs = cli_now() - prog.t0;
		total_train_s += secs;
		if (stop_requested && step < steps_per_epoch) {
			if (prog.tty)
				fputc('\n', stderr);
			fprintf(stderr, "interrupted in epoch %d at step %d; ", epoch + 1, step);
			break;
		}
		double acc, test_loss;
		if (cli_evaluate(&m, &test, (float)O.mean, (float)O.std, &acc, &test_loss, NULL)) {
			cli_error("train", "evaluation: %s", clcnn_context_error(m.ctx));
			goto done;
		}
		double ips = secs > 0 ? steps_per_epoch * O.batch / secs : 0;
		fprintf(stderr, "epoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.4f, %.1f s (%.0f img/s)\n",
			epoch + 1, O.epochs, loss_sum / steps_per_epoch, test_loss, acc, secs, ips);
		fprintf(csv, "%d,%ld,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f\n", epoch + 1, clcnn_trainer_steps(tr),
			loss_sum / steps_per_epoch, test_loss, acc, clcnn_trainer_lr(tr), secs, ips);
		fflush(csv);
		ep[npoints] = epoch + 1;
		tl[npoints] = loss_sum / steps_per_epoch;
		ta[npoints] = acc;
		npoints++;
		if (clcnn_trainer_save(tr, O.out, epoch + 1, NULL)) {
			cli_error("train", "%s", clcnn_context_error(m.ctx));
			goto done;
		}
		saved_epoch = epoch + 1;
		printf("epoch %d test accuracy %.4f\n", epoch + 1, acc);
		fflush(stdout);
	}
	if (stop_requested) {
		/* an interrupted epoch is not complete: save the step we reached, marked with the last whole epoch */
		if (clcnn_trainer_save(tr, O.out, epoch, NULL)) {
			cli_error("train", "%s", clcnn_context_error(m.ctx));
			goto done;
		}
		fprintf(stderr, "checkpoint written to %s\n", O.out);
	}
	if (npoints && clcnn_plot_curves(plotp, npoints, ep, tl, ta, netfile, err, sizeof err))
		cli_error("train", "%s", err);
	fprintf(stderr, "trained %.1f s; checkpoint %s, log %s, curve %s\n", total_train_s, O.out, logp, plotp);
	rc = CLI_OK;
done:
	if (csv)
		fclose(csv);
	free(img);
	free(lab);
	free(tmp);
	free(perm);
	free(ep);
	free(tl);
	free(ta);
	clcnn_trainer_free(tr);
	clcnn_dataset_free(&train);
	clcnn_dataset_free(&test);
	cli_model_close(&m);
out:
	free(default_out);
	free(log_path);
	free(plot_path);
	return rc;
}
