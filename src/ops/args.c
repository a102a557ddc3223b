/* key=value arguments of ops, parsed once for netfiles and the C API from each class's key table. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops/op.h"

static const struct clcnn_arg *find_key(const struct clcnn_op_class *cls, const char *key)
{
	for (const struct clcnn_arg *a = cls->args; a && a->key; a++)
		if (!strcmp(a->key, key))
			return a;
	return NULL;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	size_t i = 0;
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static int parse_int(const char *s, int *v)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (end == s || *end || errno || x < -2147483647L || x > 2147483647L)
		return -1;
	*v = (int)x;
	return 0;
}

static int parse_double(const char *s, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(x))
		return -1;
	*v = x;
	return 0;
}

/*
 * The one tuple grammar of netfiles and the C API, for every key that takes several numbers:
 *   "(a, b, c)"  "a,b"  "axb"  "a"  "()"
 * Items are separated by ',' (or by 'x' when the text has no comma); spaces around items and
 * parentheses are allowed, nothing else is: an empty item (trailing comma, ",,"), unbalanced or
 * nested parentheses and more than max items are errors. "()" is the empty tuple; an empty text
 * is not a tuple. Each item is handed to fn as a NUL-terminated string (items longer than 63
 * characters are no number anyway and are refused here). Returns the count or -1.
 */
static int tuple_scan(const char *text, int max, int allow_x, int (*fn)(void *user, int i, const char *item),
		      void *user)
{
	const char *s = text, *end = text + strlen(text);
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	if (s == end)
		return -1;
	if (*s == '(') {
		if (end - s < 2 || end[-1] != ')')
			return -1;
		s++;
		end--;
		const char *t = s;
		while (t < end && isspace((unsigned char)*t))
			t++;
		if (t == end)
			return 0; /* "()" */
	}
	if (memchr(s, '(', (size_t)(end - s)) || memchr(s, ')', (size_t)(end - s)))
		return -1;
	char sep = memchr(s, ',', (size_t)(end - s)) || !allow_x ? ',' : 'x';
	int n = 0;
	for (;;) {
		const char *q = memchr(s, sep, (size_t)(end - s));
		if (!q)
			q = end;
		const char *b = s, *e = q;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		char item[64];
		if (n == max || b == e || (size_t)(e - b) >= sizeof item)
			return -1;
		memcpy(item, b, (size_t)(e - b));
		item[e - b] = 0;
		if (fn(user, n, item))
			return -1;
		n++;
		if (q == end)
			return n;
		s = q + 1;
	}
}

static int int_item(void *user, int i, const char *item)
{
	return parse_int(item, (int *)user + i);
}

int clcnn_tuple_ints(const char *text, int *v, int max)
{
	return tuple_scan(text ? text : "", max, 1, int_item, v);
}

static int double_item(void *user, int i, const char *item)
{
	return parse_double(item, (double *)user + i);
}

static int bad(char *err, size_t errlen, const char *key, const char *value, const char *want)
{
	snprintf(err, errlen, "bad value '%s' for %s: expected %s", value, key, want);
	return CLCNN_ERR_INVALID;
}

int clcnn_args_set(const struct clcnn_op_class *cls, void *args, const char *key, const char *value, char *err,
		   size_t errlen)
{
	const struct clcnn_arg *a = find_key(cls, key);
	if (!a) {
		size_t len = (size_t)snprintf(err, errlen, "unknown key '%s' for %s; known keys:", key, cls->name);
		for (const struct clcnn_arg *k = cls->args; k && k->key && len < errlen; k++)
			len += (size_t)snprintf(err + len, errlen - len, " %s", k->key);
		if (!cls->args || !cls->args[0].key)
			snprintf(err + (len < errlen ? len : errlen - 1), errlen - (len < errlen ? len : errlen - 1),
				 " (none)");
		return CLCNN_ERR_INVALID;
	}
	char *field = (char *)args + a->offset;
	int n;
	switch (a->type) {
	case CLCNN_ARG_INT:
		if (parse_int(value, (int *)field))
			return bad(err, errlen, key, value, "an integer");
		return 0;
	case CLCNN_ARG_FLOAT:
		if (parse_double(value, (double *)field))
			return bad(err, errlen, key, value, "a finite number");
		return 0;
	case CLCNN_ARG_OPT_FLOAT:
		if (!strcasecmp(value, "none")) {
			*(double *)field = NAN;
			return 0;
		}
		if (parse_double(value, (double *)field))
			return bad(err, errlen, key, value, "a finite number or none");
		return 0;
	case CLCNN_ARG_BOOL:
		if (!strcasecmp(value, "true") || !strcmp(value, "1"))
			*(int *)field = 1;
		else if (!strcasecmp(value, "false") || !strcmp(value, "0"))
			*(int *)field = 0;
		else
			return bad(err, errlen, key, value, "true or false");
		return 0;
	case CLCNN_ARG_ENUM:
		for (int i = 0; a->choices[i]; i++)
			if (!strcasecmp(value, a->choices[i])) {
				*(int *)field = i;
				return 0;
			}
		{
			size_t len =
				(size_t)snprintf(err, errlen, "bad value '%s' for %s: expected one of", value, key);
			for (int i = 0; a->choices[i] && len < errlen; i++)
				len += (size_t)snprintf(err + len, errlen - len, "%s %s", i ? "," : "", a->choices[i]);
		}
		return CLCNN_ERR_INVALID;
	case CLCNN_ARG_INT2: {
		int v[2];
		n = clcnn_tuple_ints(value, v, 2);
		if (n < 1)
			return bad(err, errlen, key, value, "an integer or a pair (h,w)");
		((int *)field)[0] = v[0];
		((int *)field)[1] = n == 1 ? v[0] : v[1];
		return 0;
	}
	case CLCNN_ARG_PAD: {
		struct clcnn_pad *p = (struct clcnn_pad *)field;
		if (!strcasecmp(value, "same") || !strcasecmp(value, "valid")) {
			*p = (struct clcnn_pad){!strcasecmp(value, "same"), 0, 0, 0, 0};
			return 0;
		}
		int v[4];
		n = clcnn_tuple_ints(value, v, 4);
		if (n != 1 && n != 2 && n != 4)
			return bad(err, errlen, key, value,
				   "an integer, (h,w), (top,bottom,left,right), same or valid");
		if (n == 1)
			*p = (struct clcnn_pad){0, v[0], v[0], v[0], v[0]};
		else if (n == 2)
			*p = (struct clcnn_pad){0, v[0], v[0], v[1], v[1]};
		else
			*p = (struct clcnn_pad){0, v[0], v[1], v[2], v[3]};
		return 0;
	}
	case CLCNN_ARG_INTS: {
		struct clcnn_ints *p = (struct clcnn_ints *)field;
		int v[4];
		n = clcnn_tuple_ints(value, v, 4);
		if (n < 1)
			return bad(err, errlen, key, value, "1 to 4 integers like (1,28,28) or 1x28x28");
		memcpy(p->v, v, sizeof v);
		p->n = n;
		return 0;
	}
	case CLCNN_ARG_FLOATS: {
		struct clcnn_floats *p = (struct clcnn_floats *)field;
		int cap = 1;
		for (const char *c = value; *c; c++)
			cap += *c == ',';
		double *v = calloc((size_t)cap, sizeof *v);
		if (!v) {
			snprintf(err, errlen, "out of host memory for the %d numbers of %s", cap, key);
			return CLCNN_ERR_NO_MEMORY;
		}
		int count = tuple_scan(value, cap, 0, double_item, v);
		if (count < 0) {
			free(v);
			return bad(err, errlen, key, value, "a list of numbers like (1.0, 2.0)");
		}
		free(p->v);
		p->v = v;
		p->n = count;
		return 0;
	}
	}
	return bad(err, errlen, key, value, "a known type");
}

int clcnn_args_defaults(const struct clcnn_op_class *cls, void *args, char *err, size_t errlen)
{
	memset(args, 0, cls->args_size);
	for (const struct clcnn_arg *a = cls->args; a && a->key; a++) {
		if (!a->def)
			continue;
		int rc = clcnn_args_set(cls, args, a->key, a->def, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void clcnn_args_free(const struct clcnn_op_class *cls, void *args)
{
	if (!args)
		return;
	for (const struct clcnn_arg *a = cls->args; a && a->key; a++)
		if (a->type == CLCNN_ARG_FLOATS) {
			struct clcnn_floats *p = (struct clcnn_floats *)((char *)args + a->offset);
			free(p->v);
			p->v = NULL;
			p->n = 0;
		}
}

int clcnn_args_parse(const struct clcnn_op_class *cls, void *args, const char *text, char *err, size_t errlen,
		     size_t *err_at)
{
	const char *p = text ? text : "";
	unsigned char given[64] = {0};
	while (*p) {
		while (isspace((unsigned char)*p) || *p == ',')
			p++;
		if (!*p)
			break;
		const char *start = p;
		int depth = 0;
		while (*p && (depth > 0 || *p != ',')) {
			depth += *p == '(';
			depth -= *p == ')';
			p++;
		}
		char item[65536];
		size_t len = (size_t)(p - start) < sizeof item - 1 ? (size_t)(p - start) : sizeof item - 1;
		memcpy(item, start, len);
		item[len] = 0;
		char *eq = strchr(item, '=');
		if (err_at)
			*err_at = (size_t)(start - text);
		if (!eq) {
			trim(item);
			snprintf(err, errlen, "expected key=value, found '%s'", item);
			return CLCNN_ERR_INVALID;
		}
		*eq = 0;
		trim(item);
		char *value = eq + 1;
		trim(value);
		const struct clcnn_arg *a = find_key(cls, item);
		if (a) {
			size_t idx = (size_t)(a - cls->args);
			if (idx < sizeof given && given[idx]) {
				snprintf(err, errlen, "key '%s' given twice", item);
				return CLCNN_ERR_INVALID;
			}
			if (idx < sizeof given)
				given[idx] = 1;
		}
		int rc = clcnn_args_set(cls, args, item, value, err, errlen);
		if (rc)
			return rc;
	}
	for (const struct clcnn_arg *a = cls->args; a && a->key; a++) {
		size_t idx = (size_t)(a - cls->args);
		if (!a->def && !(idx < sizeof given && given[idx])) {
			if (err_at)
				*err_at = strlen(text ? text : "");
			snprintf(err, errlen, "%s needs %s (%s)", cls->name, a->key, a->doc ? a->doc : "required");
			return CLCNN_ERR_INVALID;
		}
	}
	return 0;
}

static int format_value(const struct clcnn_arg *a, const void *args, char *buf, size_t n)
{
	const char *field = (const char *)args + a->offset;
	switch (a->type) {
	case CLCNN_ARG_INT: return snprintf(buf, n, "%d", *(const int *)field);
	case CLCNN_ARG_FLOAT: return snprintf(buf, n, "%.9g", *(const double *)field);
	case CLCNN_ARG_OPT_FLOAT:
		return isnan(*(const double *)field) ? snprintf(buf, n, "none")
						     : snprintf(buf, n, "%.9g", *(const double *)field);
	case CLCNN_ARG_BOOL: return snprintf(buf, n, "%s", *(const int *)field ? "true" : "false");
	case CLCNN_ARG_ENUM: return snprintf(buf, n, "%s", a->choices[*(const int *)field]);
	case CLCNN_ARG_INT2: {
		const int *v = (const int *)field;
		return v[0] == v[1] ? snprintf(buf, n, "%d", v[0]) : snprintf(buf, n, "(%d,%d)", v[0], v[1]);
	}
	case CLCNN_ARG_PAD: {
		const struct clcnn_pad *p = (const struct clcnn_pad *)field;
		if (p->same)
			return snprintf(buf, n, "same");
		if (p->t == p->b && p->l == p->r)
			return p->t == p->l ? snprintf(buf, n, "%d", p->t) : snprintf(buf, n, "(%d,%d)", p->t, p->l);
		return snprintf(buf, n, "(%d,%d,%d,%d)", p->t, p->b, p->l, p->r);
	}
	case CLCNN_ARG_INTS: {
		const struct clcnn_ints *p = (const struct clcnn_ints *)field;
		int len = snprintf(buf, n, "(");
		for (int i = 0; i < p->n; i++)
			len += snprintf(buf + len, n > (size_t)len ? n - (size_t)len : 0, "%s%d", i ? "," : "",
					p->v[i]);
		return len + snprintf(buf + len, n > (size_t)len ? n - (size_t)len : 0, ")");
	}
	case CLCNN_ARG_FLOATS: {
		const struct clcnn_floats *p = (const struct clcnn_floats *)field;
		int len = snprintf(buf, n, "(");
		for (int i = 0; i < p->n; i++)
			len += snprintf(buf + len, n > (size_t)len ? n - (size_t)len : 0, "%s%.9g", i ? "," : "",
					p->v[i]);
		return len + snprintf(buf + len, n > (size_t)len ? n - (size_t)len : 0, ")");
	}
	}
	return snprintf(buf, n, "?");
}

int clcnn_args_format(const struct clcnn_op_class *cls, const void *args, int minimal, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = 0;
	void *defs = NULL;
	if (minimal) {
		char e[256];
		/* without the defaults (out of memory) every key is written: longer, never wrong */
		defs = calloc(1, cls->args_size ? cls->args_size : 1);
		if (defs && clcnn_args_defaults(cls, defs, e, sizeof e)) {
			clcnn_args_free(cls, defs);
			free(defs);
			defs = NULL;
		}
	}
	for (const struct clcnn_arg *a = cls->args; a && a->key; a++) {
		char v[1024], d[1024];
		format_value(a, args, v, sizeof v);
		if (defs && a->def) {
			format_value(a, defs, d, sizeof d);
			if (!strcmp(v, d))
				continue;
		}
		if (len < n)
			len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", len ? ", " : "", a->key, v);
	}
	if (defs)
		clcnn_args_free(cls, defs);
	free(defs);
	return len < n ? 0 : CLCNN_ERR_INVALID;
}
