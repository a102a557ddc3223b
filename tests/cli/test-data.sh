#!/usr/bin/env bash
# clcnn data (info, export, stats) and the ImageFolder source end to end, no device needed:
# a generated ImageFolder (clcnn-mkdata: PNG and JPEG, a gray image, an odd size in a sub-folder,
# a text file to ignore) is described, measured, exported to PNGs and read back with the same
# numbers; then Fashion-MNIST's IDX files are exported and read back exactly (skipped, exit 77,
# when the IDX reader or the dataset is not there).
# usage: test-data.sh CLCNN_BINARY MKDATA_BINARY
set -u
CLCNN=$1
MKDATA=$2
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
. "$(dirname "$0")/../common/expect.sh"

# ---- a generated ImageFolder: 3 classes x 6 per class in train (+ gray.png, more/wide.png), 3 in test
"$MKDATA" imagefolder "$T/if" --classes 3 --per-class 6 --size 12 --seed 7 || { echo "clcnn-mkdata failed"; exit 1; }
[ "$(find "$T/if" -name '*.jpg' | wc -l)" -eq 12 ] && [ "$(find "$T/if" -name '*.png' | wc -l)" -eq 17 ] &&
  pass "mkdata writes PNG and JPEG files" || fail "mkdata files: $(find "$T/if" -type f | wc -l)"
"$MKDATA" imagefolder "$T/if2" --classes 3 --per-class 6 --size 12 --seed 7
diff -r "$T/if" "$T/if2" >/dev/null && pass "mkdata is deterministic for a seed" || fail "mkdata differs between runs"

expect 0 "^format: imagefolder$" "info: format" -- "$CLCNN" data info "$T/if"
grep -qx "train: 20 samples" "$T/out" && grep -qx "test: 9 samples" "$T/out" &&
  pass "info: split sizes (odd images counted, the text file ignored)" || fail "info sizes: $(cat "$T/out")"
grep -qx "sample: 3x12x12 (channels x height x width)" "$T/out" && grep -qx "layout: files" "$T/out" &&
  pass "info: sample shape from the first training image" || fail "info shape: $(cat "$T/out")"
grep -qx "classes: 3" "$T/out" && grep -qx "  0 a-red" "$T/out" && grep -qx "  2 c-blue" "$T/out" &&
  pass "info: class names in folder order" || fail "info classes: $(cat "$T/out")"
expect 0 "^test: 9 samples$" "info --split test" -- "$CLCNN" data info "$T/if" --split test
grep -q "^train:" "$T/out" && fail "info --split test shows train" || pass "info --split test shows only test"
expect 0 "^test: 6 samples$" "info --val-split" -- "$CLCNN" data info "$T/if" --val-split 0.3
expect 0 "^mean: 0\.[0-9]+,0\.[0-9]+,0\.[0-9]+$" "stats: three channel means" -- "$CLCNN" data stats "$T/if"
grep -qE "^std: 0\.[0-9]+,0\.[0-9]+,0\.[0-9]+$" "$T/out" && pass "stats: three stds" || fail "stats: $(cat "$T/out")"
"$CLCNN" data stats "$T/if" --split test >"$T/stats-if" 2>&1

# ---- no test folder, empty class, unknown test class, usage errors
mkdir -p "$T/notest/train/x" && cp "$T/if/train/a-red/img-000.png" "$T/notest/train/x/"
expect 0 "^test: none" "info: a dataset without a test folder" -- "$CLCNN" data info "$T/notest"
expect 1 "notest/test: no such folder.*no test split" "info --split test without a test folder" -- \
  "$CLCNN" data info "$T/notest" --split test
mkdir -p "$T/notest/train/y"
expect 1 "notest/train/y: no image files .* in class folder 'y'" "an empty class folder is named" -- \
  "$CLCNN" data info "$T/notest" --split train
rmdir "$T/notest/train/y"; mkdir -p "$T/notest/test/z" && cp "$T/if/train/a-red/img-000.png" "$T/notest/test/z/"
expect 1 "notest/test/z: class folder 'z' is not in .*notest/train" "a test class that train lacks is named" -- \
  "$CLCNN" data info "$T/notest"
expect 0 "usage: clcnn data info" "info --help" -- "$CLCNN" data info --help
expect 0 "usage: clcnn data export" "export --help" -- "$CLCNN" data export --help
expect 0 "usage: clcnn data stats" "stats --help" -- "$CLCNN" data stats --help
expect 2 "unknown command 'frob'" "data: unknown command" -- "$CLCNN" data frob
expect 2 "expected PATH and --out DIR" "export without --out" -- "$CLCNN" data export "$T/if"
expect 2 "unknown data format 'png'" "bad --format" -- "$CLCNN" data info "$T/if" --format png
expect 1 "no dataset found" "info of an empty folder" -- "$CLCNN" data info "$T/notest/train/x"

# ---- export (folder to folder): PNGs in K-NAME folders, read back with the same floats
expect 0 "^train: wrote 20 images of 3 classes" "export" -- "$CLCNN" data export "$T/if" --out "$T/ex"
[ -f "$T/ex/train/0-a-red/00.png" ] && [ -f "$T/ex/test/2-c-blue/8.png" ] && [ -z "$(find "$T/ex" -name '*.jpg')" ] &&
  pass "export: K-NAME folders of INDEX.png" || fail "export layout: $(find "$T/ex" | sort | head -8)"
expect 0 "^train: 20 samples$" "info of the export" -- "$CLCNN" data info "$T/ex"
grep -qx "  1 1-b-green" "$T/out" && grep -qx "sample: 3x12x12 (channels x height x width)" "$T/out" &&
  pass "export keeps the label order and the shape" || fail "export info: $(cat "$T/out")"
# (the test split: its images are all 12x12, so none was resized and every value is k/255)
"$CLCNN" data stats "$T/ex" --split test >"$T/stats-ex" 2>&1
grep -q "^samples: 9$" "$T/stats-ex" && cmp -s "$T/stats-if" "$T/stats-ex" &&
  pass "export is 8-bit exact: same statistics read back" ||
  fail "stats differ: $(cat "$T/stats-if" "$T/stats-ex")"
expect 0 "^test: wrote 4 images" "export --split test --limit" -- "$CLCNN" data export "$T/if" --out "$T/ex2" --split test --limit 4
[ ! -e "$T/ex2/train" ] && [ "$(find "$T/ex2/test" -name '*.png' | wc -l)" -eq 4 ] &&
  pass "export --split test --limit 4 writes 4 test images only" || fail "ex2: $(find "$T/ex2" | sort)"

# ---- Fashion-MNIST (IDX) exported and read back exactly
if ! "$CLCNN" data info "$FMNIST" >/dev/null 2>&1; then
  echo "skip: clcnn data info $FMNIST fails (no IDX reader or no dataset): the IDX round trip is not run"
  [ "$fails" -eq 0 ] && exit 77
else
  expect 0 "^test: wrote 10000 images of 10 classes" "export Fashion-MNIST" -- \
    "$CLCNN" data export "$FMNIST" --out "$T/fm" --limit 10000
  expect 0 "^test: 10000 samples$" "info of the exported Fashion-MNIST" -- "$CLCNN" data info "$T/fm"
  grep -qx "  0 0-T-shirt_top" "$T/out" && grep -qx "  9 9-Ankle_boot" "$T/out" &&
    grep -qx "sample: 1x28x28 (channels x height x width)" "$T/out" &&
    pass "Fashion-MNIST class names and gray 28x28 kept" || fail "fm info: $(cat "$T/out")"
  "$CLCNN" data stats "$FMNIST" --split test >"$T/stats-idx" 2>&1
  "$CLCNN" data stats "$T/fm" --split test >"$T/stats-fm" 2>&1
  cmp -s "$T/stats-idx" "$T/stats-fm" && pass "Fashion-MNIST test split read back with the same floats" ||
    fail "stats differ: $(cat "$T/stats-idx" "$T/stats-fm")"
fi
echo "$fails failure(s)"
[ "$fails" -eq 0 ]
