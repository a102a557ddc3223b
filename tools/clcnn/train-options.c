/* clcnn train's options: parsed, every name and value checked once, before any work starts. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-alloc.h"
#include "cli.h"
#include "model.h"
#include "train-cli.h"

static struct train_opts O; /* what the flag table writes into */

static const struct cli_flag flags[] = {
	CLI_DATA_FLAGS(O.data),
	{"workers", FLAG_INT, &O.workers, 1, 256, NULL,
	 "threads reading, augmenting and normalising batches (default 2)"},
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
	{"init", FLAG_STR, &O.init, 0, 0, " NAME",
	 "default | kaiming_uniform | kaiming_normal | xavier_uniform | xavier_normal"},
	{"augment", FLAG_STR, &O.augment_text, 0, 0, " LIST",
	 "flip,crop=4,translate=2,rotate=10,scale=0.1,elastic=1.5 or none (default flip; none for feature vectors)"},
	{"mean", FLAG_STR, &O.mean, 0, 0, " X[,X...]",
	 "normalisation mean per channel or feature, saved in the checkpoint (default: computed from the training "
	 "split; resuming: the checkpoint's)"},
	{"std", FLAG_STR, &O.std, 0, 0, " X[,X...]",
	 "normalisation std per channel or feature (default: computed; resuming: the checkpoint's)"},
	{"out", FLAG_STR, &O.out, 0, 0, " CKPT", "checkpoint to write each epoch (default <model>.safetensors)"},
	{"resume", FLAG_STR, &O.resume, 0, 0, " CKPT",
	 "continue from this checkpoint (weights, optimizer, epoch, RNG)"},
	{"force", FLAG_BOOL, &O.force, 0, 0, NULL, "allow replacing an existing --out checkpoint"},
	{"log", FLAG_STR, &O.log, 0, 0, " CSV", "per-epoch CSV log (default <out without .safetensors>.csv)"},
	{"plot", FLAG_STR, &O.plot, 0, 0, " PNG", "training-curve picture (default <out without .safetensors>.png)"},
	{"limit", FLAG_INT, &O.limit, 1, 1 << 30, NULL, "use only the first N training and test images"},
	{"pairs", FLAG_STR, &O.pairs, 0, 0, " KIND",
	 "train an embedding from class labels: triplet (inputs anchor, positive, negative) or contrastive "
	 "(inputs x1, x2, same), filled in declaration order; see docs/metric-learning.md"},
	{"mining", FLAG_STR, &O.mining, 0, 0, " NAME",
	 "with --pairs: random (default: a random positive and negative per anchor, by --seed) or batch-hard "
	 "(P classes x K samples, the farthest positive and nearest negative in the batch)"},
	{"per-class", FLAG_INT, &O.per_class, 1, 65536, NULL,
	 "batch-hard: K samples per class in a batch of --batch = P x K (default: the smallest K that leaves at "
	 "most as many classes as the data has)"},
	{"rebalance", FLAG_INT, &O.rebalance, 0, 1 << 30, NULL,
	 "several devices (CLCNN_DEVICE=0,1) or MPI ranks: re-split the batch by the measured speeds every N steps "
	 "(default 50; 0: equal shares)"},
	{"sync-bn", FLAG_BOOL, &O.sync_bn, 0, 0, NULL,
	 "several devices or MPI ranks: every batchnorm normalises with the statistics of the global batch "
	 "(SyncBatchNorm; default: each replica its own share, as PyTorch DDP)"},
	{"bucket-mib", FLAG_INT, &O.bucket_mib, 0, 4096, NULL,
	 "several devices or MPI ranks: reduce the gradients in buckets of N MiB while backward still runs "
	 "(default 0: one reduction after backward; bitwise the same sums)"},
	{"scaling", FLAG_BOOL, &O.scaling, 0, 0, NULL,
	 "after training, time steps of the first device alone at the full batch (T1) and print the data-parallel "
	 "scaling efficiency T1 / (N x TN)"},
	{"check-numerics", FLAG_BOOL, &O.check_numerics, 0, 0, NULL,
	 "check every node's output and gradients for NaN/Inf at every step (slow); names the first node"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn train NETFILE [options]\n"
		   "       clcnn train MODEL.onnx [options]    (fine-tunes its weights, cross_entropy loss added)\n\n"
		   "Train NETFILE on a classification dataset: IDX files (Fashion-MNIST by default), an image folder\n"
		   "(DIR/train/CLASS/*.png|jpg, DIR/test/...), CIFAR-10/100 binaries, or a CSV of features for a\n"
		   "model whose input is a feature vector. Writes a checkpoint (safetensors) after every epoch, a\n"
		   "CSV log and a PNG training curve. The checkpoint records the normalisation (computed from the\n"
		   "training split unless given), the class names, the input shape and the data format, which eval\n"
		   "and predict use. Ctrl-C stops after the current step and writes a checkpoint; --resume continues.\n"
		   "With --pairs, NETFILE is an embedding model (models/siamese-fmnist.net) trained on pairs or\n"
		   "triplets drawn from the class labels; each epoch reports recall@1 on the test split instead of\n"
		   "the accuracy.\n"
		   "\noptions:\n");
	cli_print_flags(f, flags);
}

static const struct {
	const char *name;
	enum clcnn_optimizer_kind kind;
} optimizers[] = {{"sgd", CLCNN_OPT_SGD}, {"adam", CLCNN_OPT_ADAM}, {"adamw", CLCNN_OPT_ADAMW}};

static const struct {
	const char *name;
	enum clcnn_schedule_kind kind;
} schedules[] = {{"onecycle", CLCNN_SCHED_ONECYCLE},
		 {"cosine", CLCNN_SCHED_COSINE},
		 {"step", CLCNN_SCHED_STEP},
		 {"constant", CLCNN_SCHED_CONSTANT}};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* "<dir>/<base>" of out without ".safetensors", plus ext; NULL when out of memory. */
static char *derived_path(const char *out, const char *ext)
{
	size_t n = strlen(out);
	const char *suffix = ".safetensors";
	size_t sl = strlen(suffix);
	size_t base = n > sl && !strcmp(out + n - sl, suffix) ? n - sl : n;
	char *p = cli_malloc(base + strlen(ext) + 1);
	if (p) {
		memcpy(p, out, base);
		strcpy(p + base, ext);
	}
	return p;
}

/* The netfile's name without directory and extension, plus ".safetensors"; NULL when out of memory. */
static char *default_out(const char *netfile)
{
	const char *b = strrchr(netfile, '/') ? strrchr(netfile, '/') + 1 : netfile;
	char *p = cli_malloc(strlen(b) + sizeof ".safetensors");
	if (!p)
		return NULL;
	strcpy(p, b);
	char *dot = strrchr(p, '.');
	if (dot && dot != p)
		*dot = 0;
	strcat(p, ".safetensors");
	return p;
}

/* The names and values the flag parser cannot check. 0 or CLI_USAGE after a message. */
static int check_values(struct train_opts *o)
{
	size_t i;
	for (i = 0; i < COUNT(optimizers) && strcmp(o->optimizer, optimizers[i].name); i++)
		;
	if (i == COUNT(optimizers)) {
		cli_error("train", "bad value '%s' for --optimizer: expected sgd, adam or adamw", o->optimizer);
		return CLI_USAGE;
	}
	o->opt_kind = optimizers[i].kind;
	for (i = 0; i < COUNT(schedules) && strcmp(o->schedule, schedules[i].name); i++)
		;
	if (i == COUNT(schedules)) {
		cli_error("train", "bad value '%s' for --schedule: expected onecycle, cosine, step or constant",
			  o->schedule);
		return CLI_USAGE;
	}
	o->sched_kind = schedules[i].kind;
	if (o->pairs && strcmp(o->pairs, "triplet") && strcmp(o->pairs, "contrastive")) {
		cli_error("train", "bad value '%s' for --pairs: expected triplet or contrastive", o->pairs);
		return CLI_USAGE;
	}
	if ((o->mining || o->per_class) && !o->pairs) {
		cli_error("train", "--%s needs --pairs triplet or --pairs contrastive",
			  o->mining ? "mining" : "per-class");
		return CLI_USAGE;
	}
	if (!o->mining)
		o->mining = "random";
	if (strcmp(o->mining, "random") && strcmp(o->mining, "batch-hard")) {
		cli_error("train", "bad value '%s' for --mining: expected random or batch-hard", o->mining);
		return CLI_USAGE;
	}
	if (o->per_class && strcmp(o->mining, "batch-hard")) {
		cli_error("train", "--per-class is for --mining batch-hard");
		return CLI_USAGE;
	}
	char err[4096];
	if (clcnn_augment_parse(o->augment_text ? o->augment_text : "flip", &o->aug, err, sizeof err)) {
		cli_error("train", "--augment: %s", err);
		return CLI_USAGE;
	}
	struct clcnn_normalize n;
	/* one of them alone is checked against a neutral partner; the other comes later (checkpoint or data) */
	if ((o->mean || o->std) &&
	    clcnn_normalize_parse(o->mean ? o->mean : "0", o->std ? o->std : "1", &n, err, sizeof err)) {
		cli_error("train", "--mean/--std: %s", err);
		return CLI_USAGE;
	}
	return 0;
}

/* out, log and plot given or derived; 0 or CLI_ERROR when out of memory. */
static int derive_paths(struct train_opts *o)
{
	if (!o->out && !(o->out = o->owned[0] = default_out(o->netfile)))
		return CLI_ERROR;
	if (!o->log && !(o->log = o->owned[1] = derived_path(o->out, ".csv")))
		return CLI_ERROR;
	if (!o->plot && !(o->plot = o->owned[2] = derived_path(o->out, ".png")))
		return CLI_ERROR;
	return 0;
}

int train_opts_parse(int argc, char **argv, struct train_opts *o, int *status)
{
	memset(&O, 0, sizeof O);
	cli_data_defaults(&O.data);
	O.workers = 2;
	O.rebalance = 50;
	O.optimizer = "sgd";
	O.schedule = "onecycle";
	O.init = "default";
	O.epochs = 4;
	O.batch = 128;
	O.seed = 1;
	O.step_size = 1;
	O.gamma = 0.1;
	O.lr = O.momentum = O.weight_decay = -1;
	*o = O;
	char *pos[1];
	int npos, pr = cli_parse("train", argc, argv, flags, pos, 1, &npos, help);
	*o = O;
	if (pr) {
		*status = pr > 0 ? CLI_OK : CLI_USAGE;
		return 0;
	}
	if (npos != 1) {
		cli_error("train", "expected one NETFILE (see clcnn train --help)");
		*status = CLI_USAGE;
		return 0;
	}
	o->netfile = pos[0];
	if ((*status = check_values(o)))
		return 0;
	if ((*status = derive_paths(o))) {
		cli_error("train", "out of host memory");
		return 0;
	}
	/* never replace someone's checkpoint by accident: only --resume of the same file or --force */
	if (access(o->out, F_OK) == 0 && !o->force && !(o->resume && !strcmp(o->resume, o->out))) {
		cli_error("train", "%s already exists; pass --force to replace it or --resume %s to continue it",
			  o->out, o->out);
		*status = CLI_USAGE;
		return 0;
	}
	return 1;
}

void train_opts_free(struct train_opts *o)
{
	for (int i = 0; i < 3; i++)
		free(o->owned[i]);
	memset(o, 0, sizeof *o);
}

void train_opts_configs(const struct train_opts *o, int steps_per_epoch, struct clcnn_optimizer_config *oc,
			struct clcnn_schedule_config *sc)
{
	enum clcnn_optimizer_kind k = o->opt_kind;
	clcnn_optimizer_defaults(oc, k);
	oc->lr = o->lr >= 0 ? o->lr : k == CLCNN_OPT_SGD ? 0.1 : 0.001;
	if (k == CLCNN_OPT_SGD) {
		oc->momentum = o->momentum >= 0 ? o->momentum : 0.9;
		oc->nesterov = !o->no_nesterov && oc->momentum > 0;
		oc->weight_decay = o->weight_decay >= 0 ? o->weight_decay : 5e-4;
	} else if (o->weight_decay >= 0) {
		oc->weight_decay = o->weight_decay;
	}
	clcnn_schedule_defaults(sc, o->sched_kind);
	sc->total_steps = o->epochs * steps_per_epoch;
	sc->step_size = o->step_size * steps_per_epoch;
	sc->gamma = o->gamma;
	sc->warmup_steps = o->warmup;
}
