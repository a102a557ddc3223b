/*
 * Which kernels exist and which a context has built: every `__kernel ... void NAME(` in the embedded
 * cl/ sources (skipping comments), and a look through the context's kernel memo (family, options,
 * name) for each. For `clcnn doctor`: a kernel behind an #ifdef that no run compiled is untested.
 */
#include <string.h>

#include "clcnn-private.h"

/* Skip a comment at s[i] (returns the index after it, or i when none starts there). */
static size_t skip_comment(const char *s, size_t n, size_t i)
{
	if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
		while (i < n && s[i] != '\n')
			i++;
	} else if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
		for (i += 2; i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'); i++)
			;
		i = i + 2 < n ? i + 2 : n;
	}
	return i;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static int ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The kernel name after `__kernel` at s[i], or 0 when it is not a declaration; *end is past it. */
static int kernel_name_at(const char *s, size_t n, size_t i, char *name, size_t cap, size_t *end)
{
	i = skip_space(s, n, i + strlen("__kernel"));
	if (i + 13 < n && !strncmp(s + i, "__attribute__", 13)) {
		int depth = 0;
		for (i += 13; i < n; i++) {
			depth += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
			if (s[i] == ')' && depth == 0)
				break;
		}
		i = skip_space(s, n, i + 1);
	}
	if (i + 4 >= n || strncmp(s + i, "void", 4) || ident_char(s[i + 4]))
		return 0;
	i = skip_space(s, n, i + 4);
	size_t l = 0;
	while (i + l < n && ident_char(s[i + l]))
		l++;
	if (!l || l >= cap || skip_space(s, n, i + l) >= n || s[skip_space(s, n, i + l)] != '(')
		return 0;
	memcpy(name, s + i, l);
	name[l] = 0;
	*end = i + l;
	return 1;
}

/* Add d to out unless it is there; returns the new count (counting past max). */
static int add_decl(struct clcnn_kernel_decl *out, int max, int count, const struct clcnn_kernel_decl *d)
{
	for (int k = 0; k < count && k < max; k++)
		if (!strcmp(out[k].family, d->family) && !strcmp(out[k].name, d->name))
			return count;
	if (count < max)
		out[count] = *d;
	return count + 1;
}

/*
 * A kernel named by a macro (`#define KERNEL_NAME convgpu_fwd` before one body written once for
 * several kernels): every `#define NAME value` of the source names one kernel. Returns the count, or
 * -1 when name is not defined as a macro there (a plain kernel name).
 */
static int add_macro_decls(const char *s, size_t n, const struct clcnn_kernel_decl *d, struct clcnn_kernel_decl *out,
			   int max, int count)
{
	int found = 0;
	size_t l = strlen(d->name);
	for (size_t i = 0; i + 8 + l < n; i++) {
		if (strncmp(s + i, "#define ", 8) || strncmp(s + i + 8, d->name, l) ||
		    (s[i + 8 + l] != ' ' && s[i + 8 + l] != '\t'))
			continue;
		size_t v = skip_space(s, n, i + 8 + l), vl = 0;
		while (v + vl < n && ident_char(s[v + vl]))
			vl++;
		if (!vl || vl >= sizeof d->name)
			continue;
		struct clcnn_kernel_decl m = {d->family, {0}};
		memcpy(m.name, s + v, vl);
		count = add_decl(out, max, count, &m);
		found = 1;
	}
	return found ? count : -1;
}

int clcnn_kernel_decls(struct clcnn_kernel_decl *out, int max)
{
	int count = 0;
	for (size_t f = 0; f < clcnn_embedded_source_count; f++) {
		const struct clcnn_source *src = &clcnn_embedded_sources[f];
		const char *s = (const char *)src->data;
		size_t n = src->size;
		for (size_t i = 0; i < n;) {
			size_t j = skip_comment(s, n, i);
			if (j != i) {
				i = j;
				continue;
			}
			struct clcnn_kernel_decl d = {src->name, {0}};
			size_t end;
			if (i + 8 < n && !strncmp(s + i, "__kernel", 8) && (i == 0 || !ident_char(s[i - 1])) &&
			    kernel_name_at(s, n, i, d.name, sizeof d.name, &end)) {
				int c = add_macro_decls(s, n, &d, out, max, count);
				count = c >= 0 ? c : add_decl(out, max, count, &d);
				i = end;
				continue;
			}
			i++;
		}
	}
	return count;
}

/* The part'th NUL-terminated part of a memo key (family, options, name), or NULL. */
static const char *key_part(const struct clcnn_memo_key *k, int part)
{
	size_t o = 0;
	for (int p = 0; p < part; p++) {
		const char *z = memchr(k->bytes + o, 0, k->len - o);
		if (!z)
			return NULL;
		o = (size_t)(z - k->bytes) + 1;
		if (o >= k->len)
			return NULL;
	}
	return k->bytes + o;
}

int clcnn_kernel_built_variants(const struct clcnn_context *ctx, const char *family, const char *name)
{
	int n = 0;
	for (const struct clcnn_kernel_entry *e = ctx ? ctx->kernels : NULL; e; e = e->next) {
		const char *f = key_part(&e->key, 0), *k = key_part(&e->key, 2);
		n += f && k && !strcmp(f, family) && !strcmp(k, name);
	}
	return n;
}
