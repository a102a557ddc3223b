/*
 * The documentation of the convolution algorithms says what the list of src/ops/conv-algos.h says:
 * README.md's CLCNN_CONV_ALGO row, docs/netfile.md's "Convolution algorithms" section and its row of
 * conv2d's algo key are generated here from the table and must match the files exactly.
 *   build-dir/tests/ops/test-conv-docs --print   prints all three, to paste after a change to the list.
 */
#include <stdio.h>
#include <string.h>

#include "ops/conv-private.h"
#include "testutil.h"

static char *load(const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/../../%s", getenv("CLCNN_DATA_DIR"), name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* out += printf(fmt, ...), bounded by the buffer of size n. */
#define ADD(out, n, ...) snprintf((out) + strlen(out), (n)-strlen(out), __VA_ARGS__)

static void readme_row(char *out, size_t n)
{
	out[0] = 0;
	ADD(out, n, "| `CLCNN_CONV_ALGO` | force a convolution algorithm by name where it applies (");
	for (int i = 0; clcnn_conv_algos[i]; i++)
		ADD(out, n, "%s`%s`", i ? ", " : "", clcnn_conv_algos[i]->name);
	ADD(out, n,
	    "; see [docs/netfile.md](docs/netfile.md#convolution-algorithms)); otherwise each convolution "
	    "times the applicable ones once per device, shape and direction and remembers the fastest in "
	    "the cache |\n");
}

static void algo_section(char *out, size_t n)
{
	out[0] = 0;
	ADD(out, n,
	    "## Convolution algorithms\n\n"
	    "`conv2d` runs one of these on the device. `algo=` on the layer, or `CLCNN_CONV_ALGO` for every\n"
	    "layer where it applies, forces one; otherwise each convolution times the applicable ones once\n"
	    "per device, shape and direction and remembers the fastest in the cache directory. This table is\n"
	    "the list of `src/ops/conv-algos.h` (`tests/ops/test-conv-docs --print` prints it).\n\n"
	    "| algorithm | how it works |\n|---|---|\n");
	for (int i = 0; clcnn_conv_algos[i]; i++)
		ADD(out, n, "| `%s` | %s |\n", clcnn_conv_algos[i]->name, clcnn_conv_algo_docs[i]);
	ADD(out, n, "\n");
}

/* conv2d's algo key as tests/graph/netfile-keys writes it in the layer reference. */
static void key_row(char *out, size_t n)
{
	const struct clcnn_arg *a = clcnn_op_find("conv2d")->args;
	while (a->key && strcmp(a->key, "algo"))
		a++;
	out[0] = 0;
	if (!a->key)
		return; /* no such key: the comparison fails */
	ADD(out, n, "| `algo` | choice:");
	for (int k = 0; a->choices[k]; k++)
		ADD(out, n, " %s%s", a->choices[k], a->choices[k + 1] ? "," : "");
	ADD(out, n, " | %s | %s |\n", a->def, a->doc);
}

/* The whole line of text that starts with prefix (at a line start), or NULL. */
static const char *line_at(const char *text, const char *prefix, size_t *len)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, strlen(prefix))) {
			const char *e = strchr(p, '\n');
			*len = e ? (size_t)(e - p) + 1 : strlen(p);
			return p;
		}
	return NULL;
}

static void expect_line(const char *file, const char *prefix, const char *want)
{
	size_t len;
	const char *got = line_at(load(file), prefix, &len);
	ck_assert_msg(got != NULL, "%s has no line starting %s; it should be:\n%s", file, prefix, want);
	ck_assert_msg(len == strlen(want) && !strncmp(got, want, len),
		      "%s disagrees with src/ops/conv-algos.h:\n got  %.*s want %s", file, (int)len, got, want);
}

START_TEST(readme_env_row)
{
	char want[2048];
	readme_row(want, sizeof want);
	expect_line("README.md", "| `CLCNN_CONV_ALGO` |", want);
}
END_TEST

START_TEST(netfile_algo_key)
{
	char want[2048];
	key_row(want, sizeof want);
	expect_line("docs/netfile.md", "| `algo` |", want);
	/* and exactly the names of the list, in order, after auto */
	char names[1024] = "| `algo` | choice: auto";
	for (int i = 0; clcnn_conv_algos[i]; i++)
		ADD(names, sizeof names, ", %s", clcnn_conv_algos[i]->name);
	ADD(names, sizeof names, " |");
	ck_assert_msg(!strncmp(want, names, strlen(names)), "algo's choices: %s", want);
}
END_TEST

START_TEST(netfile_algo_section)
{
	char want[8192];
	algo_section(want, sizeof want);
	const char *doc = load("docs/netfile.md");
	const char *got = strstr(doc, "\n## Convolution algorithms\n");
	ck_assert_msg(got != NULL, "docs/netfile.md lacks the section:\n%s", want);
	got++;
	const char *end = strstr(got + 1, "\n## ");
	size_t len = end ? (size_t)(end - got) + 1 : strlen(got);
	ck_assert_msg(len == strlen(want) && !strncmp(got, want, len),
		      "docs/netfile.md's section disagrees with src/ops/conv-algos.h:\n--- got\n%.*s--- want\n%s",
		      (int)len, got, want);
	/* every algorithm has a row of its own, and there are no others */
	int rows = 0;
	for (const char *p = strstr(got, "| `"); p && p < got + len; p = strstr(p + 1, "| `"))
		rows++;
	ck_assert_int_eq(rows, CONV_ALGO_COUNT);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--print")) {
		static char out[8192];
		readme_row(out, sizeof out);
		printf("README.md:\n%s\n", out);
		algo_section(out, sizeof out);
		printf("docs/netfile.md, before '## Layer reference':\n%s", out);
		key_row(out, sizeof out);
		printf("docs/netfile.md, conv2d's algo key:\n%s", out);
		return 0;
	}
	Suite *s = suite_create("conv-docs");
	TCase *tc = tcase_create("the convolution algorithms in the documentation");
	tcase_add_test(tc, readme_env_row);
	tcase_add_test(tc, netfile_algo_key);
	tcase_add_test(tc, netfile_algo_section);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
