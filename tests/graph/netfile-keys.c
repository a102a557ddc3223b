/*
 * Prints the per-layer reference of docs/netfile.md from the op registry — every class's name, doc
 * line, key table and a complete example netfile — so the documentation cannot drift from the code:
 *   build-dir/tests/graph/netfile-keys > reference.md   (pasted below "## Layer reference")
 * Each example declares inputs of shapes for which the layer's own setup() succeeds (tried in a
 * fixed order: image 4x8x8, features 10, one class index), so it builds as written. test-netfile
 * parses and builds every netfile block of the doc and checks every layer and key is documented.
 */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"

static const char *type_name(const struct clcnn_arg *a)
{
	switch (a->type) {
	case CLCNN_ARG_INT: return "int";
	case CLCNN_ARG_FLOAT: return "float";
	case CLCNN_ARG_OPT_FLOAT: return "float or none";
	case CLCNN_ARG_BOOL: return "bool";
	case CLCNN_ARG_ENUM: return "choice";
	case CLCNN_ARG_INT2: return "int or (h,w)";
	case CLCNN_ARG_PAD: return "padding";
	case CLCNN_ARG_INTS: return "ints";
	case CLCNN_ARG_FLOATS: return "floats";
	}
	return "?";
}

static const struct clcnn_shape candidates[3] = {{4, {2, 4, 8, 8}}, {2, {2, 10, 0, 0}}, {1, {2, 0, 0, 0}}};
static const char *const cand_decl[3] = {"input(shape=(4,8,8))", "input(shape=(10))", "input()"};

/* Required keys get example values: integers 16 (3 for sizes), the rest their type's simplest value. */
static void required_args(const struct clcnn_op_class *c, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = 0;
	for (const struct clcnn_arg *a = c->args; a && a->key; a++) {
		if (a->def)
			continue;
		const char *v = a->type == CLCNN_ARG_INT2 || a->type == CLCNN_ARG_PAD ? "3"
				: a->type == CLCNN_ARG_INT                            ? "16"
				: a->type == CLCNN_ARG_ENUM                           ? a->choices[0]
										      : "1";
		len += (size_t)snprintf(buf + len, len < n ? n - len : 0, ", %s=%s", a->key, v);
	}
}

/* First combination of candidate shapes (in order) that the class accepts; -1 if none. */
static int find_inputs(const struct clcnn_op_class *c, const char *args, int nin, int *pick)
{
	int total = 1;
	for (int i = 0; i < nin; i++)
		total *= 3;
	for (int k = 0; k < total; k++) {
		struct clcnn_shape in[CLCNN_OP_MAX_IN];
		for (int i = 0, r = k; i < nin; i++, r /= 3) {
			pick[i] = r % 3;
			in[i] = candidates[pick[i]];
		}
		struct clcnn_op *op;
		char err[512];
		if (!clcnn_op_new(c->name, args, nin, in, &op, err, sizeof err)) {
			clcnn_op_free(op);
			return 0;
		}
	}
	return -1;
}

static void example(const struct clcnn_op_class *c)
{
	static const char *const names[] = {"x", "t", "x3", "x4", "x5", "x6", "x7", "x8"};
	char args[512];
	int nin = c->min_in > 0 ? c->min_in : 1, pick[CLCNN_OP_MAX_IN];
	required_args(c, args, sizeof args);
	if (find_inputs(c, args[0] ? args + 2 : "", nin, pick))
		return;
	printf("```netfile\n");
	for (int i = 0; i < nin; i++)
		printf("%s = %s\n", names[i], cand_decl[pick[i]]);
	printf("y = %s(", c->name);
	for (int i = 0; i < nin; i++)
		printf("%s%s", i ? ", " : "", names[i]);
	printf("%s)\n```\n\n", args);
}

int main(void)
{
	for (int i = 0; clcnn_op_classes[i]; i++) {
		const struct clcnn_op_class *c = clcnn_op_classes[i];
		printf("### %s\n\n%s. Inputs: %d", c->name, c->doc, c->min_in);
		if (c->max_in != c->min_in)
			printf(" to %d", c->max_in);
		printf(".%s\n\n", clcnn_op_is_loss(c) ? " A loss." : "");
		example(c);
		if (!c->args || !c->args[0].key) {
			printf("No keys.\n\n");
			continue;
		}
		printf("| key | type | default | meaning |\n|---|---|---|---|\n");
		for (const struct clcnn_arg *a = c->args; a->key; a++) {
			printf("| `%s` | %s", a->key, type_name(a));
			if (a->type == CLCNN_ARG_ENUM) {
				printf(":");
				for (int k = 0; a->choices[k]; k++)
					printf(" %s%s", a->choices[k], a->choices[k + 1] ? "," : "");
			}
			printf(" | %s | %s |\n", a->def ? a->def : "**required**", a->doc ? a->doc : "");
		}
		printf("\n");
	}
	return 0;
}
