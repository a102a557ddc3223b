/*
 * Netfile parser (format: docs/netfile.md).
 *
 *   # comment
 *   image = input(shape=(1,28,28))
 *   c1 = conv2d(image, out_channels=6, kernel_size=5)   # positional items are inputs
 *   r1 = relu                                           # input: the previous statement
 *   @output fc3                                         # directives: @output, @loss
 *
 * One statement per line; a statement continues over line breaks inside parentheses. The whole
 * file is read first (so inputs may name later statements), every statement is checked against
 * its class's key table with the column of the offending token, then the graph is made through
 * the public graph API, origins are attached through graph/graph-build.h (the only internal graph
 * interface used here) and graph_check() reports unknown inputs, cycles and dangling nodes at the
 * token that caused them. Errors read "path:line:column: message" and return CLCNN_ERR_FORMAT.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clcnn-private.h"
#include "graph/graph-build.h"
#include "io/onnx-import.h"
#include "ops/op.h"

#define MAX_ITEMS 32
#define NAME_MAX_LEN 128
/* Bounds on what a stranger's file may cost: checks are quadratic in statements, and each takes ~5 KiB. */
#define MAX_STATEMENTS 16384
#define MAX_FILE_BYTES (16u << 20)

struct pos {
	int line, col;
};

struct item {
	char key[NAME_MAX_LEN]; /* "" for a positional input name */
	char *value;            /* value text, or the input name */
	struct pos kpos, vpos;
};

struct stmt {
	char name[NAME_MAX_LEN], layer[NAME_MAX_LEN];
	struct pos npos, lpos, end; /* name, layer, closing parenthesis (or end of the layer name) */
	int nitems;
	struct item items[MAX_ITEMS];
	int directive; /* 1 @output, 2 @loss */
};

struct parser {
	struct clcnn_context *ctx;
	const char *file, *s;
	size_t i;
	int line, col;
	struct stmt *st;
	int nst, cap;
};

static int fail_at(struct parser *p, struct pos at, const char *fmt, ...) CLCNN_PRINTF(3, 4);
static int fail_rc_at(struct parser *p, int rc, struct pos at, const char *fmt, ...) CLCNN_PRINTF(4, 5);

static int vfail_at(struct parser *p, int rc, struct pos at, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	return clcnn_fail(p->ctx, rc, "%s:%d:%d: %s", p->file, at.line, at.col, msg);
}

static int fail_at(struct parser *p, struct pos at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail_at(p, CLCNN_ERR_FORMAT, at, fmt, ap);
	va_end(ap);
	return rc;
}

/* A failure of the graph API at a token: the file's fault (CLCNN_ERR_FORMAT) unless out of memory. */
static int fail_rc_at(struct parser *p, int rc, struct pos at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rc = vfail_at(p, rc == CLCNN_ERR_NO_MEMORY ? rc : CLCNN_ERR_FORMAT, at, fmt, ap);
	va_end(ap);
	return rc;
}

static int out_of_memory(struct parser *p)
{
	return clcnn_fail(p->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", p->file);
}

static struct pos here(const struct parser *p)
{
	return (struct pos){p->line, p->col};
}

static char peek(const struct parser *p)
{
	return p->s[p->i];
}

static void advance(struct parser *p)
{
	if (!p->s[p->i])
		return;
	if (p->s[p->i] == '\n') {
		p->line++;
		p->col = 1;
	} else {
		p->col++;
	}
	p->i++;
}

/* Spaces and tabs; inside parentheses also newlines and comments. */
static void skip_space(struct parser *p, int multiline)
{
	for (;;) {
		char c = peek(p);
		if (c == ' ' || c == '\t' || c == '\r' || (multiline && c == '\n'))
			advance(p);
		else if (multiline && c == '#')
			while (peek(p) && peek(p) != '\n')
				advance(p);
		else
			return;
	}
}

static int is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

/* 1 with the identifier in out, 0 when there is none here, or a status after reporting a long one. */
static int read_ident(struct parser *p, char *out)
{
	size_t n = 0;
	struct pos at = here(p);
	if (!is_ident_start(peek(p)))
		return 0;
	while (isalnum((unsigned char)peek(p)) || peek(p) == '_') {
		/* truncating would make two long names one, or a reference miss its node */
		if (n + 1 == NAME_MAX_LEN)
			return fail_at(p, at, "name '%.20s...' is longer than %d characters", out, NAME_MAX_LEN - 1);
		out[n++] = peek(p);
		out[n] = 0;
		advance(p);
	}
	out[n] = 0;
	return 1;
}

/* The rest of the line (for messages): up to 20 characters of the offending text. */
static const char *found(const struct parser *p, char *buf, size_t n)
{
	size_t k = 0;
	const char *s = p->s + p->i;
	if (!*s || *s == '\n')
		return "end of line";
	while (s[k] && s[k] != '\n' && k + 1 < n && k < 20)
		k++;
	memcpy(buf, s, k);
	buf[k] = 0;
	return buf;
}

/* A value: balanced text up to a ',' or ')' outside parentheses. */
static int read_value(struct parser *p, struct item *it)
{
	size_t start = p->i;
	int depth = 0;
	struct pos open = here(p);
	for (;;) {
		char c = peek(p);
		if (!c || (depth == 0 && (c == ',' || c == ')' || c == '\n' || c == '#')))
			break;
		if (c == '\n' || c == '#') {
			/* a tuple may continue on the next line */
			skip_space(p, 1);
			continue;
		}
		if (c == '(') {
			if (!depth)
				open = here(p);
			depth++;
		}
		if (c == ')')
			depth--;
		advance(p);
	}
	if (depth > 0)
		return fail_at(p, open, "'(' is never closed");
	size_t end = p->i;
	while (end > start && isspace((unsigned char)p->s[end - 1]))
		end--;
	if (end == start)
		return fail_at(p, it->vpos, "missing value for %s", it->key);
	it->value = malloc(end - start + 1);
	if (!it->value)
		return out_of_memory(p);
	/* comments inside a multi-line value are dropped; newlines become spaces */
	size_t n = 0;
	for (size_t k = start; k < end; k++) {
		if (p->s[k] == '#') {
			while (k < end && p->s[k] != '\n')
				k++;
			if (k == end)
				break;
		}
		it->value[n++] = p->s[k] == '\n' || p->s[k] == '\r' ? ' ' : p->s[k];
	}
	it->value[n] = 0;
	return 0;
}

static int parse_items(struct parser *p, struct stmt *st)
{
	struct pos open = here(p);
	advance(p); /* '(' */
	int seen_key = 0;
	char buf[32];
	for (;;) {
		skip_space(p, 1);
		if (peek(p) == ')')
			break;
		if (!peek(p))
			return fail_at(p, open, "'(' is never closed");
		if (st->nitems == MAX_ITEMS)
			return fail_at(p, here(p), "more than %d items", MAX_ITEMS);
		struct item *it = &st->items[st->nitems];
		memset(it, 0, sizeof *it);
		it->kpos = here(p);
		char ident[NAME_MAX_LEN];
		int r = read_ident(p, ident);
		if (r <= 0)
			return r < 0 ? r
				     : fail_at(p, here(p), "expected an input name or key=value, found '%s'",
					       found(p, buf, sizeof buf));
		skip_space(p, 0);
		if (peek(p) == '=') {
			advance(p);
			skip_space(p, 0);
			snprintf(it->key, sizeof it->key, "%s", ident);
			it->vpos = here(p);
			int rc = read_value(p, it);
			if (rc)
				return rc;
			seen_key = 1;
		} else {
			if (seen_key)
				return fail_at(p, it->kpos, "input '%s' after key=value arguments: inputs come first",
					       ident);
			it->vpos = it->kpos;
			if (!(it->value = clcnn_strdup(ident)))
				return out_of_memory(p);
		}
		st->nitems++;
		skip_space(p, 1);
		if (peek(p) == ',') {
			advance(p);
			continue;
		}
		if (peek(p) == ')')
			break;
		if (!peek(p))
			return fail_at(p, open, "'(' is never closed");
		return fail_at(p, here(p), "expected ',' or ')', found '%s'", found(p, buf, sizeof buf));
	}
	st->end = here(p);
	advance(p); /* ')' */
	return 0;
}

static int end_of_statement(struct parser *p)
{
	char buf[32];
	skip_space(p, 0);
	if (peek(p) == '#')
		while (peek(p) && peek(p) != '\n')
			advance(p);
	if (peek(p) && peek(p) != '\n')
		return fail_at(p, here(p), "unexpected '%s' after the statement", found(p, buf, sizeof buf));
	return 0;
}

static int parse_statement(struct parser *p, struct stmt *st)
{
	char buf[32];
	memset(st, 0, sizeof *st);
	if (peek(p) == '@') {
		struct pos at = here(p);
		advance(p);
		char d[NAME_MAX_LEN];
		int r = read_ident(p, d);
		if (r < 0)
			return r;
		if (!r || (strcmp(d, "output") && strcmp(d, "loss")))
			return fail_at(p, at, "unknown directive; known: @output NODE, @loss NODE");
		st->directive = strcmp(d, "output") ? 2 : 1;
		snprintf(st->layer, sizeof st->layer, "%s", st->directive == 1 ? "@output" : "@loss");
		st->lpos = at;
		skip_space(p, 0);
		st->npos = here(p);
		if ((r = read_ident(p, st->name)) <= 0)
			return r < 0 ? r
				     : fail_at(p, here(p), "@%s needs a node name, found '%s'", d,
					       found(p, buf, sizeof buf));
		return end_of_statement(p);
	}
	st->npos = here(p);
	int r = read_ident(p, st->name);
	if (r <= 0)
		return r < 0 ? r
			     : fail_at(p, here(p), "expected a statement 'name = layer(...)', found '%s'",
				       found(p, buf, sizeof buf));
	skip_space(p, 0);
	if (peek(p) != '=')
		return fail_at(p, here(p), "expected '=' after '%s', found '%s'", st->name, found(p, buf, sizeof buf));
	advance(p);
	skip_space(p, 0);
	st->lpos = here(p);
	if ((r = read_ident(p, st->layer)) <= 0)
		return r < 0 ? r
			     : fail_at(p, here(p), "expected a layer name after '=', found '%s'",
				       found(p, buf, sizeof buf));
	st->end = here(p);
	skip_space(p, 0);
	if (peek(p) == '(') {
		int rc = parse_items(p, st);
		if (rc)
			return rc;
	}
	return end_of_statement(p);
}

static void free_statements(struct parser *p)
{
	for (int k = 0; k < p->nst; k++)
		for (int j = 0; j < p->st[k].nitems; j++)
			free(p->st[k].items[j].value);
	free(p->st);
}

static int parse_all(struct parser *p)
{
	while (peek(p)) {
		skip_space(p, 0);
		if (peek(p) == '#')
			while (peek(p) && peek(p) != '\n')
				advance(p);
		if (peek(p) == '\n') {
			advance(p);
			continue;
		}
		if (!peek(p))
			break;
		if (p->nst == MAX_STATEMENTS)
			return fail_at(p, here(p), "more than %d statements", MAX_STATEMENTS);
		if (p->nst == p->cap) {
			int cap = p->cap ? 2 * p->cap : 32;
			struct stmt *s = realloc(p->st, (size_t)cap * sizeof *s);
			if (!s)
				return out_of_memory(p);
			p->st = s;
			p->cap = cap;
		}
		struct stmt *st = &p->st[p->nst];
		int rc = parse_statement(p, st);
		p->nst++; /* counted even on failure so that its items are freed */
		if (rc)
			return rc;
	}
	return 0;
}

/* "(1,28,28)", "1x28x28", "10", "()": the tuple grammar of every key, positive dims up to 2^30 */
static int parse_shape(const char *v, int *ndim, int *dims)
{
	*ndim = clcnn_tuple_ints(v, dims, CLCNN_MAX_DIMS - 1);
	for (int i = 0; i < *ndim; i++)
		if (dims[i] <= 0 || dims[i] > 1 << 30)
			return -1;
	return *ndim < 0 ? -1 : 0;
}

static int find_stmt(const struct parser *p, int upto, const char *name)
{
	for (int k = 0; k < upto; k++)
		if (!p->st[k].directive && !strcmp(p->st[k].name, name))
			return k;
	return -1;
}

static int prev_stmt(const struct parser *p, int k)
{
	while (--k >= 0 && p->st[k].directive)
		;
	return k;
}

static void known_list(char *buf, size_t n, int layers, const struct clcnn_op_class *cls)
{
	size_t len = 0;
	buf[0] = 0;
	if (layers) {
		len += (size_t)snprintf(buf, n, "input");
		for (int i = 0; clcnn_op_classes[i] && len < n; i++)
			len += (size_t)snprintf(buf + len, n - len, ", %s", clcnn_op_classes[i]->name);
		return;
	}
	for (const struct clcnn_arg *a = cls->args; a && a->key && len < n; a++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", a->key);
	if (!len)
		snprintf(buf, n, "(none)");
}

/* Check one layer statement against its class: keys, values, required keys, input count. */
static int check_layer(struct parser *p, int k)
{
	struct stmt *st = &p->st[k];
	const struct clcnn_op_class *cls = clcnn_op_find(st->layer);
	char known[2048], err[1024];
	if (!cls) {
		known_list(known, sizeof known, 1, NULL);
		return fail_at(p, st->lpos, "unknown layer '%s'; known layers: %s", st->layer, known);
	}
	void *args = calloc(1, cls->args_size ? cls->args_size : 1);
	if (!args)
		return out_of_memory(p);
	int rc = clcnn_args_defaults(cls, args, err, sizeof err);
	if (rc)
		rc = fail_rc_at(p, rc, st->lpos, "%s", err);
	int nin = 0, share = -1;
	for (int j = 0; j < st->nitems; j++)
		if (!strcmp(st->items[j].key, "share"))
			share = j;
	for (int j = 0; j < st->nitems && !rc; j++) {
		const struct item *it = &st->items[j];
		if (!it->key[0]) {
			nin++;
			continue;
		}
		if (share >= 0) {
			/* the layer of another node: its type, arguments and parameters (checked by the graph) */
			if (j != share)
				rc = fail_at(p, it->kpos, "share=%s takes the arguments of '%s'; remove '%s'",
					     st->items[share].value, st->items[share].value, it->key);
			continue;
		}
		const struct clcnn_arg *a = cls->args;
		while (a && a->key && strcmp(a->key, it->key))
			a++;
		if (!a || !a->key) {
			known_list(known, sizeof known, 0, cls);
			rc = fail_at(p, it->kpos, "unknown key '%s' for %s; known keys: %s", it->key, cls->name, known);
			break;
		}
		for (int q = 0; q < j; q++)
			if (!strcmp(st->items[q].key, it->key))
				rc = fail_at(p, it->kpos, "key '%s' given twice", it->key);
		if (!rc && (rc = clcnn_args_set(cls, args, it->key, it->value, err, sizeof err)))
			rc = fail_rc_at(p, rc, it->vpos, "%s", err);
	}
	for (const struct clcnn_arg *a = cls->args; !rc && share < 0 && a && a->key; a++) {
		if (a->def)
			continue;
		int given = 0;
		for (int j = 0; j < st->nitems; j++)
			given |= !strcmp(st->items[j].key, a->key);
		if (!given)
			rc = fail_at(p, st->lpos, "%s needs %s (%s)", cls->name, a->key, a->doc ? a->doc : "required");
	}
	clcnn_args_free(cls, args);
	free(args);
	if (rc)
		return rc;
	if (nin == 0) {
		if (prev_stmt(p, k) < 0)
			return fail_at(p, st->lpos,
				       "%s has no input: name one, e.g. %s(x); there is no previous statement",
				       cls->name, cls->name);
		nin = 1;
	}
	if (nin < cls->min_in || nin > cls->max_in) {
		if (cls->min_in == cls->max_in)
			return fail_at(p, st->lpos, "%s takes %d input%s, got %d", cls->name, cls->min_in,
				       cls->min_in == 1 ? "" : "s", nin);
		return fail_at(p, st->lpos, "%s takes %d to %d inputs, got %d", cls->name, cls->min_in, cls->max_in,
			       nin);
	}
	return 0;
}

static int check_input(struct parser *p, const struct stmt *st, int *ndim, int *dims)
{
	*ndim = 0;
	for (int j = 0; j < st->nitems; j++) {
		const struct item *it = &st->items[j];
		if (!it->key[0])
			return fail_at(p, it->kpos, "input takes no inputs; its only key is shape");
		if (strcmp(it->key, "shape"))
			return fail_at(p, it->kpos, "unknown key '%s' for input; known keys: shape", it->key);
		if (parse_shape(it->value, ndim, dims))
			return fail_at(
				p, it->vpos,
				"bad value '%s' for shape: expected up to %d positive integers like (1,28,28) or 1x28x28",
				it->value, CLCNN_MAX_DIMS - 1);
	}
	return 0;
}

static int origin(char *buf, size_t n, const char *file, struct pos at)
{
	return snprintf(buf, n, "%s:%d:%d", file, at.line, at.col);
}

/* Make the graph from checked statements. */
static int make_graph(struct parser *p, struct clcnn_graph *g)
{
	char o[1024];
	for (int k = 0; k < p->nst; k++) {
		struct stmt *st = &p->st[k];
		if (st->directive)
			continue;
		int rc;
		if (!strcmp(st->layer, "input")) {
			int ndim, dims[CLCNN_MAX_DIMS];
			rc = check_input(p, st, &ndim, dims);
			if (!rc && (rc = clcnn_graph_input(g, st->name, ndim, dims)))
				rc = fail_rc_at(p, rc, st->npos, "%s", clcnn_context_error(p->ctx));
			if (!rc) {
				origin(o, sizeof o, p->file, st->npos);
				if (graph_set_input_origin(g, clcnn_graph_input_count(g) - 1, o))
					rc = out_of_memory(p);
			}
			if (rc)
				return rc;
			continue;
		}
		rc = check_layer(p, k);
		if (rc)
			return rc;
		char inputs[1024] = "", args[8192] = "";
		char *in_origin[CLCNN_OP_MAX_IN] = {0};
		char in_o[CLCNN_OP_MAX_IN][1024];
		size_t il = 0, al = 0;
		int nin = 0;
		for (int j = 0; j < st->nitems; j++) {
			const struct item *it = &st->items[j];
			if (it->key[0]) {
				al += (size_t)snprintf(args + al, al < sizeof args ? sizeof args - al : 0, "%s%s=%s",
						       al ? ", " : "", it->key, it->value);
			} else if (nin < CLCNN_OP_MAX_IN) {
				il += (size_t)snprintf(inputs + il, il < sizeof inputs ? sizeof inputs - il : 0, "%s%s",
						       il ? "," : "", it->value);
				origin(in_o[nin], sizeof in_o[nin], p->file, it->kpos);
				in_origin[nin] = in_o[nin];
				nin++;
			}
		}
		if (al >= sizeof args || il >= sizeof inputs)
			return fail_at(p, st->lpos, "statement too long");
		if (!nin) {
			/* the previous statement (directives do not count) */
			snprintf(inputs, sizeof inputs, "%s", p->st[prev_stmt(p, k)].name);
		}
		rc = clcnn_graph_add(g, st->name, st->layer, inputs, args);
		if (rc)
			return fail_rc_at(p, rc, st->npos, "%s", clcnn_context_error(p->ctx));
		origin(o, sizeof o, p->file, st->npos);
		if (graph_set_origin(g, clcnn_graph_node_count(g) - 1, o, in_origin))
			return out_of_memory(p);
	}
	for (int k = 0; k < p->nst; k++) {
		const struct stmt *st = &p->st[k];
		if (!st->directive)
			continue;
		int target = find_stmt(p, p->nst, st->name);
		if (target < 0 || !strcmp(p->st[target].layer, "input"))
			return fail_at(p, st->npos, "%s: unknown node '%s'", st->layer, st->name);
		int rc = st->directive == 1 ? clcnn_graph_set_output(g, st->name) : clcnn_graph_set_loss(g, st->name);
		if (rc)
			return fail_rc_at(p, rc, st->npos, "%s", clcnn_context_error(p->ctx));
	}
	if (!clcnn_graph_node_count(g)) /* graph_check would say so too, but without naming the file */
		return clcnn_fail(p->ctx, CLCNN_ERR_FORMAT, "%s: no layers, only inputs", p->file);
	/* the messages of graph_check already start with the origin of the offending token */
	int rc = graph_check(g);
	if (rc)
		return rc == CLCNN_ERR_NO_MEMORY ? out_of_memory(p) : CLCNN_ERR_FORMAT;
	return 0;
}

static int check_names(struct parser *p)
{
	for (int k = 0; k < p->nst; k++) {
		const struct stmt *st = &p->st[k];
		if (st->directive)
			continue;
		int first = find_stmt(p, k, st->name);
		if (first >= 0)
			return fail_at(p, st->npos, "duplicate name '%s' (first defined at line %d)", st->name,
				       p->st[first].npos.line);
	}
	return 0;
}

int clcnn_graph_parse(struct clcnn_context *ctx, const char *text, const char *filename, struct clcnn_graph **out)
{
	*out = NULL;
	struct parser p = {ctx, filename ? filename : "<netfile>", text ? text : "", 0, 1, 1, NULL, 0, 0};
	struct clcnn_graph *g = NULL;
	int rc = parse_all(&p);
	if (!rc && !p.nst)
		rc = clcnn_fail(ctx, CLCNN_ERR_FORMAT, "%s: no statements", p.file);
	if (!rc)
		rc = check_names(&p);
	if (!rc && clcnn_graph_new(ctx, &g))
		rc = out_of_memory(&p);
	if (!rc)
		rc = make_graph(&p, g);
	free_statements(&p);
	if (rc) {
		clcnn_graph_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* "model.onnx" (any case): an ONNX model, imported (onnx-import.c) instead of parsed */
static int is_onnx_path(const char *path)
{
	size_t n = strlen(path);
	return n > 5 && !strcasecmp(path + n - 5, ".onnx");
}

int clcnn_graph_load(struct clcnn_context *ctx, const char *path, struct clcnn_graph **out)
{
	*out = NULL;
	if (is_onnx_path(path))
		return onnx_graph_load(ctx, path, out);
	FILE *f = fopen(path, "rb");
	if (!f)
		return clcnn_fail(ctx, CLCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 16384;
			char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				fclose(f);
				return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", path);
			}
			buf = b;
		}
		size_t n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
		if (len > MAX_FILE_BYTES) { /* also ends reading /dev/zero or an endless pipe */
			free(buf);
			fclose(f);
			return clcnn_fail(ctx, CLCNN_ERR_FORMAT, "%s: larger than %u MiB: not a netfile", path,
					  MAX_FILE_BYTES >> 20);
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return clcnn_fail(ctx, CLCNN_ERR_IO, "%s: read error", path);
	}
	buf[len] = 0;
	if (strlen(buf) != len) {
		free(buf);
		return clcnn_fail(ctx, CLCNN_ERR_FORMAT, "%s: contains a NUL byte: not a text netfile", path);
	}
	int rc = clcnn_graph_parse(ctx, buf, path, out);
	free(buf);
	return rc;
}
