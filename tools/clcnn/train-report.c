/*
 * What clcnn train shows and leaves behind besides the checkpoint: a progress line (redrawn on a
 * terminal, a line every 15 s in a log), one line per epoch, the CSV log and the curve picture.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-alloc.h"
#include "cli.h"
#include "io/io.h"
#include "train-cli.h"

int train_report_open(struct train_report *r, const struct train_opts *o, int steps_per_epoch)
{
	*r = (struct train_report){.o = o, .tty = isatty(2), .steps = steps_per_epoch, .loss_ema = NAN};
	size_t n = (size_t)o->epochs + 1;
	r->epoch = cli_calloc(n, sizeof *r->epoch);
	r->loss = cli_calloc(n, sizeof *r->loss);
	r->acc = cli_calloc(n, sizeof *r->acc);
	if (!r->epoch || !r->loss || !r->acc) {
		cli_error("train", "out of host memory");
		return CLI_ERROR;
	}
	if (o->quiet) /* a data-parallel member other than the first: the first reports */
		return 0;
	r->csv = fopen(o->log, o->resume ? "a" : "w");
	if (!r->csv) {
		cli_error("train", "%s: cannot write the CSV log", o->log);
		return CLI_ERROR;
	}
	if (!o->resume)
		fprintf(r->csv,
			"epoch,steps,train_loss,test_loss,%s,lr,seconds,images_per_second,data_wait_ms_per_step\n",
			o->pairs ? "test_recall_at_1" : "test_accuracy");
	return 0;
}

void train_report_close(struct train_report *r)
{
	if (r->csv)
		fclose(r->csv);
	free(r->epoch);
	free(r->loss);
	free(r->acc);
	r->csv = NULL;
	r->epoch = r->loss = r->acc = NULL;
}

void train_report_epoch_begin(struct train_report *r, int epoch)
{
	r->epoch_no = epoch;
	r->t0 = cli_now();
	r->last_print = 0;
	r->loss_ema = NAN;
}

void train_report_step(struct train_report *r, int step, double loss, int final)
{
	if (r->o->quiet)
		return;
	double now = cli_now(), el = now - r->t0;
	int batch = r->o->batch, epochs = r->o->epochs;
	r->loss_ema = step <= 1 || isnan(r->loss_ema) ? loss : 0.9 * r->loss_ema + 0.1 * loss;
	double ips = el > 0 ? (double)step * batch / el : 0;
	double eta = step > 0 ? el / step * (r->steps - step) : 0;
	if (r->tty) {
		if (!final && now - r->last_print < 0.2)
			return;
		int width = 24, filled = r->steps ? step * width / r->steps : 0;
		char bar[32];
		for (int i = 0; i < width; i++)
			bar[i] = i < filled ? '#' : '.';
		bar[width] = 0;
		fprintf(stderr, "\repoch %d/%d [%s] %d/%d  %.0f img/s  loss %.4f  ETA %.0fs   ", r->epoch_no, epochs,
			bar, step, r->steps, ips, r->loss_ema, eta);
		if (final)
			fputc('\n', stderr);
	} else {
		if (!final && now - r->last_print < 15)
			return;
		fprintf(stderr, "epoch %d/%d step %d/%d  %.0f img/s  loss %.4f  ETA %.0fs\n", r->epoch_no, epochs, step,
			r->steps, ips, r->loss_ema, eta);
	}
	r->last_print = now;
}

void train_report_break(const struct train_report *r)
{
	if (r->tty && !r->o->quiet)
		fputc('\n', stderr);
}

void train_report_epoch(struct train_report *r, long steps_done, double train_loss, double test_loss, double acc,
			double lr, double seconds, double data_wait)
{
	double ips = seconds > 0 ? r->steps * r->o->batch / seconds : 0;
	double wait_ms = r->steps ? data_wait * 1e3 / r->steps : 0,
	       wait_pct = seconds > 0 ? 100 * data_wait / seconds : 0;
	char tl[64] = "";
	/* --pairs has no test loss (no pairs are drawn from the test split) */
	if (!r->o->pairs)
		snprintf(tl, sizeof tl, "test loss %.4f, ", test_loss);
	fprintf(stderr,
		"epoch %d/%d: train loss %.4f, %stest %s %.4f, %.1f s (%.0f %s/s), data wait %.1f ms/step, %.1f %%\n",
		r->epoch_no, r->o->epochs, train_loss, tl, r->o->pairs ? "recall@1" : "accuracy", acc, seconds, ips,
		r->o->pairs ? (strcmp(r->o->pairs, "triplet") ? "pairs" : "triplets") : "img", wait_ms, wait_pct);
	fprintf(r->csv, "%d,%ld,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f,%.3f\n", r->epoch_no, steps_done, train_loss, test_loss,
		acc, lr, seconds, ips, wait_ms);
	fflush(r->csv);
	r->epoch[r->npoints] = r->epoch_no;
	r->loss[r->npoints] = train_loss;
	r->acc[r->npoints] = acc;
	r->npoints++;
}

void train_report_plot(const struct train_report *r)
{
	char err[4096];
	if (!r->npoints)
		return;
	int rc;
	if (r->o->pairs) { /* an embedding model: the test score is recall@1, not a classifier's accuracy */
		struct clcnn_plot_series loss = {"train loss", r->npoints, r->epoch, r->loss},
					 recall = {"test recall@1", r->npoints, r->epoch, r->acc};
		struct clcnn_plot_panel panels[2] = {{"train loss", 1, &loss}, {"test recall@1", 1, &recall}};
		rc = clcnn_plot_panels(r->o->plot, r->o->netfile, "epoch", 2, panels, err, sizeof err);
	} else {
		rc = clcnn_plot_curves(r->o->plot, r->npoints, r->epoch, r->loss, r->acc, r->o->netfile, err, sizeof err);
	}
	if (rc)
		cli_error("train", "%s", err);
}
