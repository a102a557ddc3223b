#!/usr/bin/env bash
# Every path of the repository named in its text (comments, docs, scripts) must exist, and no text
# names a path of one machine (/work/..., /home/...): the repository is used from anywhere.
#
#   tools/check-refs.sh [SOURCE_ROOT]     prints each offending line as FILE:LINE: PATH, exit 1 if any
#
# A reference is a word (not a shell variable such as $src/...) starting with one of the top-level folders (src/, cl/, tools/, tests/,
# docs/, include/, models/, examples/, research/). It is fine when it exists, when it names a
# program built from PATH.c or PATH.sh (build/tools/bench-op), when it is a prefix ending in '-'
# (tests/fuzz/fuzz-) or a glob that matches, and when its last part is a placeholder (NAME.txt,
# x.net: upper-case words or a single letter). Build folders and .git are not read.
set -uo pipefail
cd "${1:-$(dirname "$0")/..}" || exit 2
bad=0
# The files of the repository: the ones git tracks in a
# checkout, so that build folders of any name are never read; every file elsewhere.
files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z | xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh
	else
		find . -type f ! -path './.git/*' ! -path './build*' ! -path './subprojects/*' -print0
	fi
}
while IFS= read -r hit; do
	file=${hit%%:*}
	rest=${hit#*:}
	line=${rest%%:*}
	ref=${rest#*:}
	ref=${ref%.}
	base=${ref##*/}
	stem=${base%%.*}
	[[ $stem =~ ^[A-Z][A-Z_]+$ || $stem =~ ^[a-z]$ ]] && continue
	case $ref in
	*'*'*) compgen -G "$ref" >/dev/null && continue ;;
	*-) compgen -G "$ref*" >/dev/null && continue ;;
	*) [[ -e $ref || -e $ref.c || -e $ref.sh ]] && continue ;;
	esac
	echo "$file:$line: $ref"
	bad=1
done < <(files | xargs -0 -r grep -noIEH \
	'(^|[^A-Za-z0-9_./$}-])(src|cl|tools|tests|docs|include|models|examples|research)/[A-Za-z0-9_./*-]*[A-Za-z0-9_*-]' |
	sed -E 's|^\./||; s|^([^:]*:[0-9]+:)[^A-Za-z]?|\1|')
# absolute paths of one machine (system paths such as /usr/share/datasets are deliberate)
if files | xargs -0 -r grep -nIEH '(^|[^A-Za-z0-9_.~-])/(work|home)/' -- | grep -v '^tools/check-refs.sh:'; then
	bad=1
fi
exit $bad
