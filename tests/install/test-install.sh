#!/bin/sh
# Install the build into a temporary DESTDIR and use it as a program outside the tree would:
# pkg-config finds clcnn and clcnn-data, libclcnn.so needs no graphics libraries and exports only
# what the installed headers declare, every examples/*.c compiles and links against the install,
# a program run against the installed library sees the version its headers announce, and the
# tool and its man page are there.
# usage: test-install.sh MESON BUILD_DIR SOURCE_DIR VERSION
# env: CC the C compiler command; CLCNN_SANITIZE the build's b_sanitize (a program linking a
# sanitized library must be built with the same sanitizers)
set -u
meson=$1
build=$2
src=$3
version=$4
cc=${CC:-cc}
case ${CLCNN_SANITIZE:-none} in
none | "") ;;
*) cc="$cc -fsanitize=$CLCNN_SANITIZE" ;;
esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
dest=$T/dest
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

if ! "$meson" install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$T/install.log" 2>&1; then
	cat "$T/install.log"
	echo "FAIL: meson install"
	exit 1
fi
pc=$(find "$dest" -name clcnn.pc)
[ -n "$pc" ] || { echo "FAIL: no clcnn.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
prefix_dir=$(dirname "$(find "$dest" -path '*/include/clcnn/clcnn.h')")
# the .pc files name the final prefix; the sysroot maps its -I and -L into the DESTDIR
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"

# ---- pkg-config
for p in clcnn clcnn-data; do
	if flags=$(pkg-config --cflags --libs "$p" 2>"$T/err"); then
		case "$flags" in
		*"-L$libdir "*-l"$p"*) pass "pkg-config --cflags --libs $p: $flags" ;;
		*) fail "pkg-config $p does not point into the install: $flags" ;;
		esac
	else
		fail "pkg-config $p: $(cat "$T/err")"
	fi
done
[ "$(pkg-config --modversion clcnn)" = "$version" ] && pass "clcnn.pc version $version" ||
	fail "clcnn.pc version $(pkg-config --modversion clcnn), want $version"
pkg-config --print-requires clcnn-data | grep -qx 'clcnn' && pass "clcnn-data requires clcnn" ||
	fail "clcnn-data.pc does not require clcnn"

# ---- the libraries: dependencies and exported symbols
lib=$libdir/libclcnn.so
datalib=$libdir/libclcnn-data.so
ldd "$lib" >"$T/ldd" 2>&1 || fail "ldd $lib"
if grep -Ei 'cairo|X11|xcb|Xrender|Xext|fontconfig|freetype|png|pixman|glib|harfbuzz|\bz\.so|libz\.' "$T/ldd"; then
	fail "libclcnn.so pulls in the libraries above (graphics or zlib belong to libclcnn-data)"
else
	pass "libclcnn.so needs no graphics libraries ($(grep -c '=>' "$T/ldd") libraries)"
fi
# (libclcnn-data.so names libclcnn.so only once it calls into it: the linker drops unused libraries)
LD_LIBRARY_PATH=$libdir ldd "$datalib" >"$T/ldd-data" 2>&1 && ! grep -q "not found" "$T/ldd-data" &&
	pass "libclcnn-data.so resolves all its libraries" || fail "libclcnn-data.so: $(grep 'not found' "$T/ldd-data")"
# every exported function or object is declared in an installed header: nothing internal leaks
for l in "$lib" "$datalib"; do
	nm -D --defined-only "$l" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort -u >"$T/syms"
	cp "$T/syms" "$T/syms-$(basename "$l")"
	leaked=""
	while read -r s; do
		grep -rqw -- "$s" "$prefix_dir" || leaked="$leaked $s"
	done <"$T/syms"
	if [ -n "$leaked" ]; then
		fail "$(basename "$l") exports symbols no installed header declares:$leaked"
	else
		pass "$(basename "$l") exports $(wc -l <"$T/syms") symbols, all declared in include/clcnn"
	fi
done
dup=$(comm -12 "$T/syms-libclcnn.so" "$T/syms-libclcnn-data.so" | tr '\n' ' ')
[ -z "$dup" ] && pass "libclcnn-data.so exports nothing of libclcnn.so again" ||
	fail "libclcnn-data.so exports symbols of libclcnn.so again: $dup"

# ---- a program against the installed headers and library
# shellcheck disable=SC2046,SC2086
if $cc -std=c11 -pedantic -Wall -Wextra -Werror "$src/tests/install/version-check.c" -o "$T/version-check" \
	$(pkg-config --cflags --libs clcnn) 2>"$T/err"; then
	if LD_LIBRARY_PATH=$libdir ldd "$T/version-check" | grep -q "libclcnn.so.* => $libdir/"; then
		pass "version-check loads the installed libclcnn.so"
	else
		fail "version-check does not load the installed library"
	fi
	out=$(LD_LIBRARY_PATH=$libdir "$T/version-check") && pass "version-check: $out" ||
		fail "version-check: headers and library disagree: $out"
	case "$out" in *"library $version") ;; *) fail "installed library is not version $version: $out" ;; esac
else
	fail "version-check.c does not build against the install: $(cat "$T/err")"
fi

# ---- every example builds against the install (the suite runs them from the build tree)
n=0
for ex in "$src"/examples/*.c; do
	[ -e "$ex" ] || continue
	n=$((n + 1))
	name=$(basename "$ex" .c)
	# shellcheck disable=SC2046,SC2086
	if $cc -std=c11 -Wall -Wextra -Werror "$ex" -o "$T/$name" $(pkg-config --cflags --libs clcnn clcnn-data) -lm \
		2>"$T/err"; then
		LD_LIBRARY_PATH=$libdir ldd "$T/$name" | grep -q "not found" && fail "examples/$name: unresolved libraries" ||
			pass "examples/$name.c builds against the installed library"
	else
		fail "examples/$name.c does not build against the install:"
		sed 's/^/    /' "$T/err"
	fi
done
echo "examples built: $n"

# ---- the tool and its man page
tool=$(find "$dest" -path '*/bin/clcnn')
[ -n "$tool" ] && [ "$("$tool" --version | head -n 1)" = "clcnn $version" ] && pass "installed clcnn --version" ||
	fail "installed clcnn missing or --version wrong"
man=$(find "$dest" -path '*/share/man/man1/clcnn.1')
[ -n "$man" ] && grep -q '^\.TH CLCNN 1' "$man" && pass "man page installed: ${man#"$dest"}" || fail "no man1/clcnn.1 installed"
for h in "$src"/include/clcnn/*.h version.h; do
	h=$(basename "$h")
	[ -f "$prefix_dir/$h" ] && pass "header clcnn/$h installed" || fail "header clcnn/$h not installed"
done

[ "$fails" -eq 0 ] && echo "install: all checks passed" || echo "install: $fails failed"
exit $((fails > 0))
