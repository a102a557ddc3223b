#!/bin/sh
# Every public header must compile when it is the only thing a file includes, as strict C11 (and
# as C++ when a C++ compiler is installed): no missing includes, no extensions, no warnings.
# A header known to lack an include is compiled first and must fail, so a compiler setup that
# accepts everything cannot pass this test.
# usage: test-headers.sh INCLUDE_DIR... -- HEADER...   (env CC: the C compiler command)
set -u
incs=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do incs="$incs -I$1"; shift; done
shift
here=$(dirname "$0")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cc=${CC:-cc}
cxx=$(command -v c++ || command -v g++ || true)
fails=0

# compile LANG HEADER: 0 when a file holding only "#include <HEADER>" compiles cleanly
compile() {
	# the typedef keeps a header of macros only (version.h) from being an empty translation unit
	printf '#include <%s>\ntypedef int header_test_unit;\n' "$2" >"$T/t.$1"
	if [ "$1" = c ]; then
		# shellcheck disable=SC2086
		$cc -std=c11 -pedantic -Werror -Wall -Wextra $incs -I"$here" -fsyntax-only "$T/t.c" 2>"$T/err"
	else
		# shellcheck disable=SC2086
		"$cxx" -std=c++11 -pedantic -Werror -Wall -Wextra $incs -I"$here" -fsyntax-only "$T/t.cc" 2>"$T/err"
	fi
}

if compile c not-self-contained.h; then
	echo "FAIL: not-self-contained.h compiled: this test cannot tell a broken header"
	exit 1
fi
for h in "$@"; do
	name=clcnn/$(basename "$h")
	for lang in c ${cxx:+cc}; do
		if compile "$lang" "$name"; then
			echo "ok: $name alone ($lang)"
		else
			echo "FAIL: $name alone ($lang):"
			sed 's/^/    /' "$T/err"
			fails=$((fails + 1))
		fi
	done
done
[ "$#" -gt 0 ] || { echo "FAIL: no headers given"; exit 1; }
exit $((fails > 0))
