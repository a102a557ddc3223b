/*
 * Crash safety of checkpoints: a trainer process (the C API in a child) saves checkpoints in a loop
 * and is killed with SIGKILL at a random point of a checkpoint write, ROUNDS times. Each time, the
 * next process loads the checkpoint left behind with clcnn_trainer_load, checks that its
 * parameters are exactly those the saving process recorded for that step (a fingerprint in the
 * metadata), and that it is the last complete save or the one being written when the kill came,
 * never anything older, newer or mixed. Then it trains on and is killed again.
 *
 * A kill mid-write leaves a partial temporary file; the next save must remove it.
 *
 * The parent never opens OpenCL (children do, after the fork). Children report over a pipe: 'V'
 * after validating (with the step loaded, -1 none), 'S' before a save, 'D' after it (with the
 * step), 'C' after their first save (with the number of temporary files left in the folder).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clcnn/train.h"
#include "io/io.h"
#include "testutil.h"

#define ROUNDS 30

/* ~0.5 M parameters: a 4 MiB checkpoint with momentum, so that a write takes a while. */
static const char *NET = "x = input(shape=(256))\n"
			 "label = input()\n"
			 "fc1 = linear(x, out_features=2048)\n"
			 "r = relu\n"
			 "fc2 = linear(out_features=10)\n"
			 "loss = cross_entropy(fc2, label)\n";
enum {
	BATCH = 8
};

struct msg {
	char tag;
	long step;
};

static void say(int fd, char tag, long step)
{
	struct msg m = {tag, step};
	if (write(fd, &m, sizeof m) != (ssize_t)sizeof m)
		_exit(9);
}

/* FNV-1a over every parameter's bytes. */
static uint64_t fingerprint(struct clcnn_graph *g)
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info pi;
		clcnn_graph_param_info(g, i, &pi);
		float *x = malloc(pi.count * sizeof *x);
		if (!x || clcnn_graph_param_read(g, i, x))
			_exit(8);
		const unsigned char *b = (const unsigned char *)x;
		for (size_t k = 0; k < pi.count * sizeof *x; k++)
			h = (h ^ b[k]) * 1099511628211ULL;
		free(x);
	}
	return h;
}

/* Temporary files of checkpoint writes in dir. */
static int count_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".tmp-") != NULL;
	closedir(d);
	return n;
}

/* Load and check what the last process left, then train and save until killed. */
static void child(const char *dir, const char *ck, int fd)
{
	struct clcnn_context *ctx;
	char err[4096];
	if (clcnn_context_open(&ctx, NULL, err, sizeof err))
		_exit(2);
	struct clcnn_graph *g;
	struct clcnn_trainer *t;
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.momentum = 0.9;
	if (clcnn_graph_parse(ctx, NET, "crash.net", &g) || clcnn_graph_build(g, BATCH) ||
	    clcnn_trainer_new(g, &oc, NULL, 11, &t))
		_exit(2);
	long step = -1;
	if (access(ck, F_OK) == 0) {
		if (clcnn_trainer_load(t, ck, NULL)) {
			fprintf(stderr, "load after a kill failed: %s\n", clcnn_context_error(ctx));
			_exit(3);
		}
		/* the fingerprint the saver recorded in the metadata, against the parameters loaded */
		struct clcnn_st_file *f;
		char want[32];
		snprintf(want, sizeof want, "%016" PRIx64, fingerprint(g));
		if (clcnn_st_read(ck, &f, err, sizeof err))
			_exit(3);
		const char *got = clcnn_st_meta(f, "fingerprint");
		if (!got || strcmp(got, want)) {
			fprintf(stderr, "checkpoint of step %ld: parameters %s, saved fingerprint %s\n",
				clcnn_trainer_steps(t), want, got ? got : "(none)");
			_exit(4);
		}
		clcnn_st_free(f);
		step = clcnn_trainer_steps(t);
	}
	say(fd, 'V', step);
	float x[BATCH * 256], lab[BATCH];
	uint64_t rng = 0x1234 + (uint64_t)step;
	pid_t parent = getppid();
	for (int cycle = 0; cycle < 5000 && getppid() == parent; cycle++) {
		for (int i = 0; i < BATCH * 256; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			x[i] = (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
		}
		for (int i = 0; i < BATCH; i++)
			lab[i] = (float)((rng >> (8 + i)) % 10);
		float loss;
		if (clcnn_graph_set_input(g, "x", x) || clcnn_graph_set_input(g, "label", lab) ||
		    clcnn_trainer_step(t, &loss))
			_exit(5);
		char fp[32];
		snprintf(fp, sizeof fp, "%016" PRIx64, fingerprint(g));
		const char *meta[] = {"fingerprint", fp, NULL};
		say(fd, 'S', clcnn_trainer_steps(t));
		if (clcnn_trainer_save(t, ck, 1, meta))
			_exit(6);
		say(fd, 'D', clcnn_trainer_steps(t));
		/* the first save removed what killed writers left (no save of ours is in progress now) */
		if (cycle == 0)
			say(fd, 'C', count_temporaries(dir));
	}
	_exit(7);
}

/* Next message within timeout_ms; tag 0 on timeout or end of file. */
static struct msg next(int fd, int timeout_ms)
{
	struct msg m = {0, 0};
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, timeout_ms) == 1 && read(fd, &m, sizeof m) != (ssize_t)sizeof m)
		m.tag = 0;
	return m;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static double median3(const double *v)
{
	double a = v[0], b = v[1], c = v[2];
	return a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
}

/* Whether writer pid has a temporary file in dir now. */
static int has_temporary(const char *dir, pid_t pid)
{
	char prefix[64];
	snprintf(prefix, sizeof prefix, ".ck.safetensors.tmp-%ld-", (long)pid);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d)))
		found = !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return found;
}

/* Poll (every 0.1 ms) until pid's temporary file appears (1) or a message is waiting on fd (0). */
static int wait_for_temporary(const char *dir, pid_t pid, int fd)
{
	for (double t0 = now(); now() - t0 < 120;) {
		if (has_temporary(dir, pid))
			return 1;
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 0) == 1)
			return 0;
		sleep_s(1e-4);
	}
	return 0;
}

START_TEST(sigkill_during_checkpoint_writes)
{
	char *dir = test_tmpdir();
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/ck.safetensors", dir);
	uint64_t rng = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
	long last_done = -1, writing = -1; /* steps of the last complete save and of the one killed */
	int mid_write = 0, in_save = 0;
	double save_s = 0.01, file_s = 0;
	for (int round = 0; round <= ROUNDS; round++) {
		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		fflush(NULL);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			child(dir, ck, fds[1]);
		}
		close(fds[1]);
		struct msg m = next(fds[0], 120000);
		int st = 0;
		if (m.tag != 'V') {
			waitpid(pid, &st, 0);
			ck_abort_msg("round %d: the process did not come up or rejected the checkpoint (status %d)",
				     round, WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
		}
		/* what was left is the last complete checkpoint or the one being written, nothing else */
		ck_assert_msg(m.step == last_done || (writing >= 0 && m.step == writing),
			      "round %d: loaded step %ld; last complete save %ld, killed while writing %ld", round,
			      m.step, last_done, writing);
		last_done = m.step;
		writing = -1;
		if (round == ROUNDS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			close(fds[0]);
			break;
		}
		/*
		 * three whole saves first, to learn how long a save takes and how long its file exists
		 * (the medians: tensors are read from the device first, the file is written last)
		 */
		double t0 = 0, t1 = 0, took[3], file[3] = {0, 0, 0};
		for (int saves = 0; saves < 3;) {
			m = next(fds[0], 120000);
			ck_assert_msg(m.tag == 'S' || m.tag == 'D' || m.tag == 'C', "round %d: the trainer stopped",
				      round);
			if (m.tag == 'C') {
				ck_assert_msg(m.step == 0, "round %d: %ld stale temporary files after a save", round,
					      m.step);
			} else if (m.tag == 'S') {
				t0 = now();
				file[saves] = 0;
				if (wait_for_temporary(dir, pid, fds[0])) {
					/* the file is gone at the rename, before the save returns */
					t1 = now();
					while (has_temporary(dir, pid) && now() - t1 < 120)
						sleep_s(1e-4);
					file[saves] = now() - t1;
				}
			} else {
				took[saves++] = now() - t0;
				last_done = m.step;
			}
		}
		save_s = median3(took);
		file_s = median3(file);
		/*
		 * kill at a random point of the next save: in even rounds anywhere from 20 % in to 20 % past
		 * its expected end, in odd rounds while its file exists (found by polling)
		 */
		do
			m = next(fds[0], 120000);
		while (m.tag == 'C');
		ck_assert_msg(m.tag == 'S', "round %d: expected a save to start", round);
		writing = m.step;
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		double u = (double)(rng >> 11) / 9007199254740992.0;
		if (round % 2 == 0)
			sleep_s(save_s * (0.2 + u));
		else if (wait_for_temporary(dir, pid, fds[0]))
			sleep_s(file_s * 0.6 * u); /* its first 60 %: the window varies from save to save */
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "round %d: status %d", round, st);
		/* what the child said before it died: the write may have finished, and more may have begun */
		while ((m = next(fds[0], 0)).tag) {
			if (m.tag == 'S') {
				writing = m.step;
			} else if (m.tag == 'D') {
				last_done = m.step;
				writing = -1;
			}
		}
		close(fds[0]);
		in_save += writing >= 0;
		mid_write += count_temporaries(dir) > 0;
	}
	printf("%d SIGKILLs: %d inside clcnn_trainer_save, %d of them while its temporary file existed (removed by "
	       "the next save); a save takes ~%.1f ms, its file exists ~%.1f ms; after each kill the checkpoint loaded "
	       "and matched\n",
	       ROUNDS, in_save, mid_write, save_s * 1e3, file_s * 1e3);
	/* most kills must have hit a save in progress, and a good part the file itself, or the test proved little */
	ck_assert_msg(in_save >= ROUNDS / 2 && mid_write >= ROUNDS / 5, "only %d (%d) of %d kills hit a save (a file)",
		      in_save, mid_write, ROUNDS);
	test_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, sigkill_during_checkpoint_writes);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
