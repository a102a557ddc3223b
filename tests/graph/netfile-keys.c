/*
 * Prints the per-layer key reference of docs/netfile.md from the op registry (every class's name,
 * doc line and key table), so the documentation cannot drift from the code:
 *   build/tests/graph/netfile-keys > keys.md
 * test-netfile checks that docs/netfile.md mentions every layer and key this prints.
 */
#include <stdio.h>

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

int main(void)
{
	for (int i = 0; clcnn_op_classes[i]; i++) {
		const struct clcnn_op_class *c = clcnn_op_classes[i];
		printf("### %s\n\n%s. Inputs: %d", c->name, c->doc, c->min_in);
		if (c->max_in != c->min_in)
			printf(" to %d", c->max_in);
		printf(".%s\n\n", clcnn_op_is_loss(c) ? " A loss." : "");
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
