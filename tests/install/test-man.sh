#!/bin/sh
# The generated clcnn(1) covers the tool as it is: every subcommand of `clcnn --help` in COMMANDS
# and in a section of its own, every option of every `clcnn CMD --help` in that section, every
# CLCNN_* variable the tool's usage names under ENVIRONMENT, the tool's version in the title; and
# groff (when installed) renders it without warnings.
# usage: test-man.sh CLCNN_BINARY CLCNN_1
set -u
clcnn=$1
man=$2
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

version=$("$clcnn" --version | sed -n '1s/^clcnn //p')
grep -q "^\.TH CLCNN 1 .*\"clcnn $version\"" "$man" && pass "title names version $version" || fail "title lacks version $version"
commands=$("$clcnn" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ "$(echo "$commands" | wc -w)" -ge 8 ] || fail "clcnn --help lists only: $commands"
# the man page text between .SH "CLCNN CMD" and the next .SH, hyphens unescaped
section() { awk -v h=".SH \"CLCNN $1\"" '$0 == h { on = 1; next } on && /^\.SH/ { exit } on' "$man" | sed 's/\\-/-/g'; }
for c in $commands; do
	C=$(echo "$c" | tr a-z A-Z)
	awk '/^\.SH COMMANDS/ { on = 1; next } on && /^\.SH/ { exit } on' "$man" | grep -qx ".B $c" ||
		fail "$c missing from COMMANDS"
	body=$(section "$C")
	[ -n "$body" ] || { fail "no section CLCNN $C"; continue; }
	missing=""
	for opt in $("$clcnn" "$c" --help | awk '/^options:/ { on = 1; next } on && $1 ~ /^--/ { print $1 }'); do
		echo "$body" | grep -q -- "^\.B $opt\( \|$\)" || missing="$missing $opt"
	done
	[ -z "$missing" ] && pass "section CLCNN $C with its options" || fail "section CLCNN $C lacks$missing"
done
env_section=$(awk '/^\.SH ENVIRONMENT/ { on = 1; next } on && /^\.SH/ { exit } on' "$man")
for v in $("$clcnn" --help | grep -o 'CLCNN_[A-Z_]*'); do
	echo "$env_section" | grep -qx ".B $v" && pass "ENVIRONMENT: $v" || fail "ENVIRONMENT lacks $v"
done
grep -q '^\.SH EXIT STATUS' "$man" && pass "EXIT STATUS" || fail "no EXIT STATUS section"
if command -v groff >/dev/null; then
	warn=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
	[ -z "$warn" ] && pass "groff renders it without warnings" || fail "groff: $warn"
fi
exit $((fails > 0))
