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

/* The one tuple grammar (clcnn_tuple_ints): every accepted and refused form, at most 3 items. */
START_TEST(tuples)
{
	static const struct {
		const char *text;
		int n; /* -1: refused */
		int v[3];
	} cases[] = {
		{"(1,28,28)", 3, {1, 28, 28}},
		{"1x28x28", 3, {1, 28, 28}},
		{" ( 3 , 5 ) ", 2, {3, 5}},
		{"(1x28x28)", 3, {1, 28, 28}},
		{"8", 1, {8}},
		{"(8)", 1, {8}},
		{"()", 0, {0}},
		{"( )", 0, {0}},
		{"(-1, 2)", 2, {-1, 2}},
		{"-3x4", 2, {-3, 4}},
		{"(2147483647,-2147483647)", 2, {2147483647, -2147483647}},
		{"", -1, {0}},
		{"  ", -1, {0}},
		{"(", -1, {0}},
		{")", -1, {0}},
		{"(1,2", -1, {0}},
		{"1,2)", -1, {0}},
		{"((1,2))", -1, {0}},
		{"(1,(2))", -1, {0}},
		{"(8,)", -1, {0}},
		{"(,8)", -1, {0}},
		{"(1,,2)", -1, {0}},
		{"1x", -1, {0}},
		{"x1", -1, {0}},
		{"1xx2", -1, {0}},
		{"1x2,3", -1, {0}},
		{"(1 2)", -1, {0}},
		{"(1.5)", -1, {0}},
		{"(a,b)", -1, {0}},
		{"(2147483648)", -1, {0}},
		{"(-2147483648)", -1, {0}},
		{"(99999999999999999999)", -1, {0}},
		{"(1,2,3,4)", -1, {0}},
		{"1x2x3x4", -1, {0}},
		{"(1,                                                                    2)", 2, {1, 2}},
		{"(00000000000000000000000000000000000000000000000000000000000000000001)", -1, {0}},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		int v[3] = {0};
		int n = clcnn_tuple_ints(cases[k].text, v, 3);
		ck_assert_msg(n == cases[k].n, "'%s': %d items, expected %d", cases[k].text, n, cases[k].n);
		for (int i = 0; i < n; i++)
			ck_assert_msg(v[i] == cases[k].v[i], "'%s' item %d: %d", cases[k].text, i, v[i]);
	}
	ck_assert_int_eq(clcnn_tuple_ints(NULL, NULL, 3), -1);
}
END_TEST

/* Keys built on the tuple grammar refuse its bad forms and their own wrong counts. */
START_TEST(tuple_keys)
{
	struct targs a;
	char err[512];
	size_t at = 0;
	ck_assert_int_eq(clcnn_args_defaults(&cls, &a, err, sizeof err), 0);
	static const char *const bad_values[] = {
		"req=1, pair=(3,)",  "req=1, pair=()",    "req=1, pair=(1,2,3)", "req=1, pad=(1,2,3)",
		"req=1, pad=()",     "req=1, ints=()",    "req=1, ints=(1,,2)",  "req=1, ints=1x2x3x4x5",
		"req=1, fl=(1,)",    "req=1, fl=(1,,2)",  "req=1, fl=(1x2)",     "req=1, fl=(1, nan)",
		"req=1, pair=3x4x5", "req=1, pair=(2 3)",
	};
	for (size_t k = 0; k < sizeof bad_values / sizeof bad_values[0]; k++)
		ck_assert_msg(clcnn_args_parse(&cls, &a, bad_values[k], err, sizeof err, &at) == CLCNN_ERR_INVALID,
			      "'%s' accepted", bad_values[k]);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, pair=(3,)", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "bad value '(3,)' for pair: expected an integer or a pair (h,w)");
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, fl=(1,,2)", err, sizeof err, &at), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "bad value '(1,,2)' for fl: expected a list of numbers like (1.0, 2.0)");
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, pair=4x2, pad=( 1 , 2 ), ints=5, fl=(0.5, 2)", err,
					  sizeof err, &at),
			 0);
	ck_assert_int_eq(a.pair[0], 4);
	ck_assert_int_eq(a.pair[1], 2);
	ck_assert_int_eq(a.pad.t, 1);
	ck_assert_int_eq(a.pad.r, 2);
	ck_assert_int_eq(a.ints.n, 1);
	ck_assert_int_eq(a.ints.v[0], 5);
	ck_assert_int_eq(a.fl.n, 2);
	ck_assert(a.fl.v[0] == 0.5 && a.fl.v[1] == 2);
	ck_assert_int_eq(clcnn_args_parse(&cls, &a, "req=1, fl=()", err, sizeof err, &at), 0);
	ck_assert_int_eq(a.fl.n, 0);
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
	tcase_add_test(tc, tuples);
	tcase_add_test(tc, tuple_keys);
	tcase_add_test(tc, op_new_errors);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
