#!/usr/bin/env bash
# The full test suite on POCL (or the selected OpenCL device): install, configure, build, meson test.
set -uo pipefail
cd "$(dirname "$0")/.."
./tools/deps.sh || exit 1
BUILD=${BUILD:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dwerror=true || exit 1
fi
ninja -C "$BUILD" || exit 1
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD/pocl-cache}
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"
rc=$?
log="$BUILD/meson-logs/testlog.json"
if [ -f "$log" ]; then
  python3 - "$log" <<'PY' || true
import json, sys
c = {}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    c[r] = c.get(r, 0) + 1
ok = c.get("OK", 0) + c.get("EXPECTEDFAIL", 0)
bad = sum(v for k, v in c.items() if k not in ("OK", "EXPECTEDFAIL", "SKIP"))
line = f"{ok} passed, {bad} failed"
if c.get("SKIP"):
    line += f", {c['SKIP']} skipped"
print(line)
PY
fi
exit $rc
