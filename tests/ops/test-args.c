/* key=value argument parsing shared by netfiles and the C API. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "testutil.h"

struct targs {
	int i, b, e;
	double f, of;
	int pair[2];
	struct clcnn_pad pad;
	struct clcnn_ints ints;
	struct clcnn_floats fl;
};

static const char *const colors[] = {"red", "green", NULL};
static const struct clcnn_arg keys[] = {
	{"i", CLCNN_ARG_INT, offsetof(struct targs, i), "7", NULL, "an int"},
	{"b", CLCNN_ARG_BOOL, offsetof(struct targs, b), "true", NULL, "a bool"},
	{"e", CLCNN_ARG_ENUM, offsetof(struct targs, e), "green", colors, "a color"},
	{"f", CLCNN_ARG_FLOAT, offsetof(struct targs, f), "0.5", NULL, "a float"},
	{"of", CLCNN_ARG_OPT_FLOAT, offsetof(struct targs, of), "none", NULL, "optional"},
	{"pair", CLCNN_ARG_INT2, offsetof(struct targs, pair), "3", NULL, "pair"},
	{"pad", CLCNN_ARG_PAD, offsetof(struct targs, pad), "0", NULL, "padding"},
	{"ints", CLCNN_ARG_INTS, offsetof(struct targs, ints), "(1,28,28)", NULL, "shape"},
	{"fl", CLCNN_ARG_FLOATS, offsetof(struct targs, fl), "()", NULL, "weights"},
	{"req", CLCNN_ARG_INT, offsetof(struct targs, i), NULL, NULL, "a required key"},
	{NULL, 0, 0, NULL, NULL, NULL},
};
static const struct clcnn_op_class cls = {.name = "fake", .args = keys, .args_size = sizeof(struct targs)};

START_TEST(defaults_and_values)
{
	struct targs a;
	char err[512];
	size_t at = 99;
	ck_assert_int_eq(clcnn_args_defaults(&cls, &a, err, sizeof err), 0);
	ck_assert_int_eq(a.i, 7);
	ck_assert(isnan(a.of));
	ck_assert_int_eq(a.pair[0], 3);
	ck_assert_int_eq(a.pair[1], 3);
	ck_assert_int_eq(a.ints.n, 3);
	ck_assert_int_eq(a.ints.v[2], 28);
	int rc = clcnn_args_parse(&cls, &a,
				  "req=4, b=false, e=RED, f=-2.5e-1, of=0.1, pair=(3,5), pad=(1,2,3,4), ints=2x3, "
				  "fl=(1, 2.5, -3)",
				  err, sizeof err, &at);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(a.i, 4);
	ck_assert_int_eq(a.b, 0);
	ck_assert_int_eq(a.e, 0);
	ck_assert(a.f == -0.25);
	ck_assert(a.of == 0.1);
	ck_assert_int_eq(a.pair[1], 5);
	ck_assert_int_eq(a.pad.t, 1);
	ck_assert_int_eq(a.pad.b, 2);
	ck_assert_int_eq(a.pad.l, 3);
	ck_assert_int_eq(a.pad.r, 4);
	ck_assert_int_eq(a.ints.n, 2);
	ck_assert_int_eq(a.fl.n, 3);
	ck_assert(a.fl.v[2] == -3);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, pad=same", err, sizeof err, &at), 0);
	ck_assert_int_eq(a.pad.same, 1);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, pad=(2,1)", err, sizeof err, &at), 0);
	ck_assert_int_eq(a.pad.t, 2);
	ck_assert_int_eq(a.pad.l, 1);
	char buf[512];
	ck_assert_int_eq(clcnn_args_format(&cls, &a, 1, buf, sizeof buf), 0);
	ck_assert_msg(strstr(buf, "pad=(2,1)") && strstr(buf, "fl=(1,2.5,-3)"), "%s", buf);
	clcnn_args_free(&cls, &a);
}
END_TEST

START_TEST(errors)
{
	struct targs a;
	char err[512];
	size_t at = 0;
	clcnn_args_defaults(&cls, &a, err, sizeof err);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, nope=3", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "unknown key 'nope' for fake"), "%s", err);
	ck_assert_int_eq(at, 7);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=x", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "bad value 'x' for req: expected an integer");
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, e=blue", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "bad value 'blue' for e: expected one of red, green");
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "b=maybe", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "i=3", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "fake needs req"), "%s", err);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, req=2", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "given twice"), "%s", err);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, pad=(1,2,3)", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, f=inf", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "expected key=value, found 'req'");
	clcnn_args_free(&cls, &a);
}
END_TEST

START_TEST(op_new_errors)
{
	struct clcnn_op *op;
	char err[512];
	struct clcnn_shape s = clcnn_shape4(2, 3, 4, 5);
	ck_assert_int_eq(clcnn_op_new("nosuch", "", 1, &s, &op, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "unknown layer type 'nosuch'");
	ck_assert_int_eq(clcnn_op_new("flatten", "", 2, (struct clcnn_shape[]){s, s}, &op, err, sizeof err),
			 CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "flatten takes 1 input, got 2");
	ck_assert_int_eq(clcnn_op_new("flatten", "start_dim=3, end_dim=1", 1, &s, &op, err, sizeof err),
			 CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_op_new("flatten", "", 1, &s, &op, err, sizeof err), 0);
	ck_assert_int_eq(op->out.ndim, 2);
	ck_assert_int_eq(op->out.d[1], 60);
	clcnn_op_free(op);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("args");
	TCase *tc = tcase_create("args");
	tcase_add_test(tc, defaults_and_values);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, op_new_errors);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
