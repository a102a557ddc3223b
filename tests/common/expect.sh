# The checks shared by the shell tests of tests/cli: a temporary folder $T (removed at exit), pass and
# fail (counted in $fails), and expect.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

# expect STATUS PATTERN DESCRIPTION -- CMD...: exit status and a stdout/stderr line matching PATTERN
expect() {
  local want=$1 pat=$2 what=$3; shift 4
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then fail "$what: exit $got, wanted $want"; sed 's/^/    /' "$T/err" | tail -5; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" "$T/out" "$T/err"; then
    fail "$what: output lacks /$pat/"; sed 's/^/    /' "$T/err" "$T/out" | tail -8; return
  fi
  pass "$what"
}

# header ST: the JSON header of a safetensors file; meta ST KEY: one of its __metadata__ strings
header() { head -c "$((8 + $(od -An -tu4 -N4 "$1")))" "$1" | tail -c +9; }
meta() { header "$1" | grep -o "\"$2\":\"[^\"]*\"" | cut -d'"' -f4; }
