/* Long-option parsing shared by the subcommands: --name VALUE or --name=VALUE, booleans as --name. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Optimal-string-alignment distance (Damerau-Levenshtein without repeated edits of a substring). */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	enum {
		MAX = 64
	};
	if (la >= MAX || lb >= MAX)
		return la > lb ? la : lb;
	size_t d[MAX][MAX];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

const char *cli_suggest(const char *word, size_t len, const char *(*name)(const void *table, int i), const void *table)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (int i = 0; name(table, i); i++) {
		const char *n = name(table, i);
		size_t ln = strlen(n), d = edit_distance(word, len, n, ln);
		/* git's rule of thumb: one edit in a short word, two in a longer one */
		size_t limit = len <= 4 ? 1 : 2;
		/* --batchsize, --batch-size for --batch: the word starts with the name (or the other way) */
		size_t shorter = len < ln ? len : ln;
		if (d > limit && shorter >= 4 && !strncmp(word, n, shorter))
			d = limit;
		if (d <= limit && d < best_d) {
			best = n;
			best_d = d;
		}
	}
	return best;
}

static const char *flag_name(const void *table, int i)
{
	return ((const struct cli_flag *)table)[i].name;
}

static int set_flag(const char *cmd, const struct cli_flag *f, const char *value)
{
	char *end;
	errno = 0;
	switch (f->type) {
	case FLAG_INT: {
		long v = strtol(value, &end, 10);
		if (end == value || *end || errno || v < (long)f->min || v > (long)f->max) {
			cli_error(cmd, "bad value '%s' for --%s: expected an integer from %.0f to %.0f", value, f->name,
				  f->min, f->max);
			return -1;
		}
		*(int *)f->dst = (int)v;
		return 0;
	}
	case FLAG_DOUBLE: {
		double v = strtod(value, &end);
		if (end == value || *end || errno || !isfinite(v) || v < f->min || v > f->max) {
			cli_error(cmd, "bad value '%s' for --%s: expected a number from %g to %g", value, f->name,
				  f->min, f->max);
			return -1;
		}
		*(double *)f->dst = v;
		return 0;
	}
	case FLAG_STR:
		if (!*value) {
			cli_error(cmd, "--%s needs a non-empty value", f->name);
			return -1;
		}
		*(const char **)f->dst = value;
		return 0;
	case FLAG_BOOL: *(int *)f->dst = 1; return 0;
	}
	return -1;
}

int cli_parse(const char *cmd, int argc, char **argv, const struct cli_flag *flags, char **pos, int max_pos, int *npos,
	      void (*help)(FILE *))
{
	*npos = 0;
	int only_pos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && cli_is_help(a)) {
			help(stdout);
			return 1;
		}
		if (!only_pos && !strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		if (only_pos || a[0] != '-' || !a[1]) {
			if (*npos == max_pos) {
				cli_error(cmd, "unexpected argument '%s' (see clcnn %s --help)", a, cmd);
				return -1;
			}
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (a[1] != '-') {
			const char *s = cli_suggest(a + 1, strcspn(a + 1, "="), flag_name, flags);
			if (s)
				cli_error(cmd,
					  "unknown option '%s'; did you mean '--%s'? (options are long: --name VALUE)",
					  a, s);
			else
				cli_error(cmd,
					  "unknown option '%s' (options are long: --name VALUE; see clcnn %s --help)",
					  a, cmd);
			return -1;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct cli_flag *f = NULL;
		for (const struct cli_flag *g = flags; g->name; g++)
			if (strlen(g->name) == len && !strncmp(g->name, name, len))
				f = g;
		if (!f) {
			const char *s = cli_suggest(name, len, flag_name, flags);
			if (s)
				cli_error(cmd, "unknown option '--%.*s'; did you mean '--%s'?", (int)len, name, s);
			else
				cli_error(cmd, "unknown option '--%.*s' (see clcnn %s --help)", (int)len, name, cmd);
			return -1;
		}
		const char *value = eq ? eq + 1 : NULL;
		if (f->type == FLAG_BOOL) {
			if (value) {
				cli_error(cmd, "--%s takes no value", f->name);
				return -1;
			}
		} else if (!value) {
			if (i + 1 >= argc) {
				cli_error(cmd, "--%s needs a value", f->name);
				return -1;
			}
			value = argv[++i];
		}
		if (set_flag(cmd, f, value ? value : ""))
			return -1;
	}
	return 0;
}

void cli_print_flags(FILE *out, const struct cli_flag *flags)
{
	for (const struct cli_flag *f = flags; f->name; f++) {
		char left[64];
		const char *meta = f->type == FLAG_INT      ? " N"
				   : f->type == FLAG_DOUBLE ? " X"
				   : f->type == FLAG_STR    ? " S"
							    : "";
		snprintf(left, sizeof left, "--%s%s", f->name, f->meta ? f->meta : meta);
		fprintf(out, "  %-26s %s\n", left, f->help);
	}
}
