#!/bin/sh
# Write the clcnn(1) man page from the tool's own help texts, so the page cannot drift from them:
# the command list of `clcnn --help`, one section per subcommand from `clcnn CMD --help`, and the
# environment table of README.md. Needs only sh and awk (no groff).
# usage: gen-man.sh CLCNN_BINARY README.md OUTPUT
set -eu
clcnn=$1
readme=$2
out=$3
tmp="$out.tmp"
trap 'rm -f "$tmp"' EXIT

version=$("$clcnn" --version | sed -n '1s/^clcnn //p')
[ -n "$version" ] || { echo "gen-man.sh: '$clcnn --version' printed no version" >&2; exit 1; }
# "  name   summary" lines between "commands:" and the next blank line
commands=$("$clcnn" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print }')
[ -n "$commands" ] || { echo "gen-man.sh: '$clcnn --help' lists no commands" >&2; exit 1; }

# roff-escape stdin: backslashes, hyphens (as minus signs, for options) and leading dots/quotes
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"; }

# One subcommand's --help: the usage block verbatim, the description filled, options as a list.
help_section() {
	esc | awk '
		part == 0 && /^$/ { part = 1; print ".fi"; print ".PP"; next }
		part == 0 { sub(/^usage: /, ""); print; next }
		/^options:$/ { part = 2; next }
		part == 1 && /^$/ { print ".PP"; next }
		part == 1 { print; next }
		part == 2 && /^ +\\-/ {
			line = $0; sub(/^ +/, "", line)
			n = index(line, "  ")
			if (n == 0) { print ".TP"; print ".B " line; next }
			print ".TP"; print ".B " substr(line, 1, n - 1)
			rest = substr(line, n); sub(/^ +/, "", rest); print rest; next
		}
		part == 2 && /^$/ { next }
		part == 2 { sub(/^ +/, ""); print }
		BEGIN { print ".nf" }
		END { if (part == 0) print ".fi" }'
}

{
	printf '.TH CLCNN 1 "" "clcnn %s" "User Commands"\n' "$version"
	echo '.SH NAME'
	echo 'clcnn \- train and run convolutional neural networks on OpenCL devices'
	echo '.SH SYNOPSIS'
	echo '.B clcnn'
	echo '.I COMMAND'
	echo '.RI [ ARGS ...]'
	echo '.br'
	echo '.B clcnn'
	echo '.BR \-\-version " | " \-\-help'
	echo '.SH DESCRIPTION'
	echo 'clcnn defines convolutional networks in netfiles, trains them on image datasets with checkpoints'
	echo 'in safetensors, evaluates and runs them, on any OpenCL device (GPUs, and CPUs through POCL).'
	echo 'Every command prints its options with'
	echo '.BR \-\-help .'
	echo '.B \-\-version'
	echo 'prints the version of clcnn and of the libraries it was built with.'
	echo '.SH COMMANDS'
	echo "$commands" | esc | while read -r name summary; do
		echo '.TP'
		echo ".B $name"
		echo "$summary"
	done
	echo "$commands" | while read -r name summary; do
		printf '.SH "CLCNN %s"\n' "$(echo "$name" | tr a-z A-Z)"
		"$clcnn" "$name" --help | help_section
	done
	echo '.SH ENVIRONMENT'
	# README rows: | `CLCNN_X` | meaning |
	grep '^| `CLCNN_[A-Z_]*` |' "$readme" | esc | awk -F'|' '{
		name = $2; gsub(/[` ]/, "", name)
		text = $3; sub(/^ +/, "", text); sub(/ +$/, "", text)
		gsub(/`/, "", text)
		print ".TP"; print ".B " name; print text }'
	echo '.SH EXIT STATUS'
	echo '.TP'
	echo '.B 0'
	echo 'success'
	echo '.TP'
	echo '.B 1'
	echo 'a runtime error (a file, the device, a kernel build, numerical faults); one line on stderr says what'
	echo '.TP'
	echo '.B 2'
	echo 'a usage error (unknown command or option, bad value)'
	echo '.SH SEE ALSO'
	echo 'README.md and docs/ of the clcnn sources: the netfile format, reliability, the C library'
	echo '.RB ( "pkg\-config clcnn clcnn\-data" ).'
} >"$tmp"
mv "$tmp" "$out"
trap - EXIT
