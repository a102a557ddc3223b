/*
 * Out of host memory, everywhere a graph is declared (no device needed: suite unit). The binary is
 * linked with -Wl,--wrap=malloc,... so that every allocation of the library goes through the
 * wrappers below; armed with N, the Nth allocation fails (once: later ones succeed, as when memory
 * comes back). Each operation runs for N = 1, 2, ... until a run makes fewer than N allocations,
 * i.e. succeeds with nothing injected. Every injected run must
 *  - return CLCNN_ERR_NO_MEMORY (or the operation's own error when it had one to report anyway)
 *    with a message, never crash, never hand back a half-built object;
 *  - leave everything it allocated freed once its objects are freed: the wrappers track each
 *    pointer allocated while armed, so a leak is found here, not only under LeakSanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"
#include "graph/graph-private.h"
#include "testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);

/* ---- allocation wrappers: fail the Nth, track what is live */

enum {
	TRACK = 1 << 16
};
static long fail_at, count; /* fail_at 0: disarmed */
static int armed;
static void *live[TRACK]; /* open addressing; (void *)1 marks a removed slot */
static long nlive;

static size_t slot_of(const void *p)
{
	return ((uintptr_t)p >> 4) * 2654435761u % TRACK;
}

static void track(void *p)
{
	if (!armed || !p)
		return;
	if (nlive >= TRACK / 2) /* the operations here never hold that many: the table would fill up */
		abort();
	size_t s = slot_of(p);
	while (live[s] && live[s] != (void *)1)
		s = (s + 1) % TRACK;
	live[s] = p;
	nlive++;
}

static void untrack(void *p)
{
	if (!p)
		return;
	for (size_t s = slot_of(p); live[s]; s = (s + 1) % TRACK)
		if (live[s] == p) {
			live[s] = (void *)1;
			nlive--;
			return;
		}
}

static int inject(void)
{
	return armed && ++count == fail_at;
}

void *__wrap_malloc(size_t n)
{
	void *p = inject() ? NULL : __real_malloc(n);
	track(p);
	return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
	void *p = inject() ? NULL : __real_calloc(n, size);
	track(p);
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	if (inject())
		return NULL; /* p stays valid and tracked */
	void *q = __real_realloc(p, n);
	if (q) {
		untrack(p);
		track(q);
	}
	return q;
}

void __wrap_free(void *p)
{
	untrack(p);
	__real_free(p);
}

char *__wrap_strdup(const char *s)
{
	char *d = inject() ? NULL : __real_strdup(s);
	track(d);
	return d;
}

static void arm(long n)
{
	memset(live, 0, sizeof live);
	nlive = 0;
	count = 0;
	fail_at = n;
	armed = 1;
}

/* Disarm; returns how many allocations the run made. */
static long disarm(void)
{
	armed = 0;
	return count;
}

/* ---- the operations */

/* Every part of the netfile grammar that allocates: continuation, forward reference, float lists,
 * tuples, directives; then the host half of the build and the text views. */
static const char *const good_net = "image = input(shape=(1,12,12))\n"
				    "label = input()\n"
				    "c1 = conv2d(image, out_channels=4, kernel_size=(3, 3),   # continued\n"
				    "            padding=1, bias=false)\n"
				    "bn = batchnorm2d\n"
				    "r = relu\n"
				    "skip = conv2d(image, out_channels=4, kernel_size=1)\n"
				    "sum = add(r, skip)\n"
				    "p = maxpool2d(kernel_size=2x2)\n"
				    "f = flatten\n"
				    "fc = linear(late, out_features=3)\n"
				    "late = dropout(f, p=0.25)\n"
				    "loss = cross_entropy(fc, label, weight=(1, 2.5, 1))\n"
				    "@output fc\n"
				    "@loss loss\n";
/* valid statements, but a cycle that graph_check reports */
static const char *const cycle_net = "x = input(shape=(4))\n"
				     "a = relu(c)\n"
				     "b = tanh(a)\n"
				     "c = add(b, x)\n";

/* What one run leaves to check after disarming (check's own asserts allocate: none while armed). */
struct run {
	struct clcnn_context ctx; /* host only: messages, no device */
	struct clcnn_graph *g;
	int parse_rc;
};

static int parse_and_infer(struct run *r, const char *text)
{
	int rc = clcnn_graph_parse(&r->ctx, text, "t.net", &r->g);
	r->parse_rc = rc;
	if (!rc)
		rc = graph_infer(r->g, 2);
	char *t = NULL;
	if (!rc && !(rc = clcnn_graph_describe(r->g, 0, &t)))
		free(t);
	return rc;
}

static int parse_good(struct run *r)
{
	return parse_and_infer(r, good_net);
}

static int parse_cycle(struct run *r)
{
	return parse_and_infer(r, cycle_net);
}

/* The C API: inputs and nodes one call at a time, origins, loss and output, the DAG checks. */
static int build_by_api(struct run *r)
{
	int dims[3] = {2, 6, 6}, rc = clcnn_graph_new(&r->ctx, &r->g);
	if (!rc)
		rc = clcnn_graph_input(r->g, "x", 3, dims);
	if (!rc)
		rc = clcnn_graph_input(r->g, "t", 0, NULL);
	if (!rc)
		rc = graph_set_input_origin(r->g, 0, "api:1:1");
	if (!rc)
		rc = clcnn_graph_add(r->g, "c", "conv2d", "x", "out_channels=3, kernel_size=(3,3), padding=(1,1)");
	if (!rc)
		rc = graph_set_origin(r->g, 0, "api:2:1", (char *const[]){"api:2:9"});
	if (!rc)
		rc = clcnn_graph_add(r->g, "g", "global_avgpool2d", NULL, NULL);
	if (!rc)
		rc = clcnn_graph_add(r->g, "f", "flatten", NULL, "");
	if (!rc)
		rc = clcnn_graph_add(r->g, "l", "cross_entropy", "f, t", "weight=(1,1,2)");
	if (!rc)
		rc = clcnn_graph_set_output(r->g, "f");
	if (!rc)
		rc = clcnn_graph_set_loss(r->g, "l");
	if (!rc)
		rc = graph_check(r->g);
	return rc;
}

/*
 * Run op with the Nth allocation failing for N = 1, 2, ...; ok_rc is what the op returns when
 * nothing fails (0 or its own error). Returns how many runs had a failure injected.
 */
static long exhaust(int (*op)(struct run *), int ok_rc, const char *what)
{
	for (long n = 1;; n++) {
		struct run r;
		memset(&r, 0, sizeof r);
		arm(n);
		int rc = op(&r);
		int injected = count >= n;
		long made = disarm();
		ck_assert_msg(!r.parse_rc || !r.g, "%s, allocation %ld failed: a failed parse returned a graph", what,
			      n);
		const char *msg = clcnn_context_error(&r.ctx);
		if (!injected)
			ck_assert_msg(rc == ok_rc, "%s without failures: status %d (%s)", what, rc, msg);
		else
			ck_assert_msg(rc == CLCNN_ERR_NO_MEMORY || (rc && rc == ok_rc),
				      "%s, allocation %ld failed: status %d, %s (%s)", what, n, rc,
				      clcnn_status_name(rc), msg);
		/* the one allocation allowed to lose a message is the message's own buffer, which leaves
		 * the operation's own error without text; running out of memory always says so */
		ck_assert_msg(!rc || msg[0] || rc == ok_rc, "%s, allocation %ld failed: no message", what, n);
		if (rc == CLCNN_ERR_NO_MEMORY)
			ck_assert_msg(strstr(msg, "out of host memory"), "%s, allocation %ld: message '%s'", what, n,
				      msg);
		clcnn_graph_free(r.g);
		free(r.ctx.error);
		disarm();
		ck_assert_msg(nlive == 0, "%s, allocation %ld failed: %ld allocations leaked", what, n, nlive);
		if (!injected)
			return n - 1;
		ck_assert_msg(made < 100000, "%s: no end to allocations", what);
	}
}

START_TEST(netfile_parse)
{
	long runs = exhaust(parse_good, 0, "netfile");
	/* statements, items, values, args, nodes and their names, ops: well over a hundred */
	ck_assert_msg(runs > 100, "only %ld allocations: is the library linked with the wrappers?", runs);
}
END_TEST

START_TEST(netfile_cycle)
{
	struct clcnn_context ctx = {0};
	struct clcnn_graph *g = NULL;
	ck_assert_int_eq(clcnn_graph_parse(&ctx, cycle_net, "t.net", &g), CLCNN_ERR_FORMAT);
	ck_assert_str_eq(clcnn_context_error(&ctx), "t.net:2:1: cycle: a -> b -> c -> a");
	free(ctx.error);
	ck_assert_int_gt(exhaust(parse_cycle, CLCNN_ERR_FORMAT, "netfile"), 10);
}
END_TEST

START_TEST(graph_api)
{
	ck_assert_int_gt(exhaust(build_by_api, 0, "graph API"), 20);
}
END_TEST

/* A node whose copies fail is not counted: later lookups never see a node without a name. */
START_TEST(add_not_counted)
{
	struct clcnn_context ctx = {0};
	struct clcnn_graph *g;
	int dims[1] = {4};
	ck_assert_int_eq(clcnn_graph_new(&ctx, &g), 0);
	ck_assert_int_eq(clcnn_graph_input(g, "x", 1, dims), 0);
	ck_assert_int_eq(clcnn_graph_add(g, "a", "relu", "x", NULL), 0);
	int failed = 0;
	for (long n = 1; n < 64; n++) {
		arm(n);
		int rc = clcnn_graph_add(g, "b", "relu", "a", NULL);
		disarm();
		if (!rc)
			break;
		failed++;
		ck_assert_int_eq(rc, CLCNN_ERR_NO_MEMORY);
		ck_assert_str_eq(clcnn_context_error(&ctx), "node 'b': out of host memory");
		ctx.error[0] = 0; /* the next run must write its own */
		ck_assert_int_eq(clcnn_graph_node_count(g), 1);
		ck_assert_int_eq(graph_find_node(g, "b"), -1);
		ck_assert_int_eq(graph_find_value(g, "nosuch"), -1);
	}
	/* calloc of the argument check, then name, type, args and the input's name */
	ck_assert_int_ge(failed, 5);
	ck_assert_int_eq(clcnn_graph_node_count(g), 2);
	ck_assert_int_eq(graph_find_node(g, "b"), 1);
	clcnn_graph_free(g);
	free(ctx.error);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alloc-fail");
	TCase *tc = tcase_create("alloc-fail");
	tcase_add_test(tc, netfile_parse);
	tcase_add_test(tc, netfile_cycle);
	tcase_add_test(tc, graph_api);
	tcase_add_test(tc, add_not_counted);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
