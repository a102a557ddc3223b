#!/usr/bin/env bash
# clcnn probe shift and deform end to end on a tiny model trained for one epoch on random IDX data:
# help texts, refusals of bad flags, the tables (per-node jump and receptive field), JSON, the plot,
# and the same numbers from the same seed. The values themselves are checked by test-probe.c.
# usage: test-probe.sh CLCNN_BINARY DATA_DIR
set -u
CLCNN=$1
DATA=$2
. "$(dirname "$0")/../common/expect.sh"
. "$(dirname "$0")/../common/mkidx.sh"
NET=$DATA/cli/tiny.net

expect 0 "clcnn probe shift NETFILE" "probe --help names both measurements" -- "$CLCNN" probe --help
grep -q -- '--max-shift' "$T/out" && grep -q -- '--plot' "$T/out" && pass "probe --help lists the options of both" ||
  fail "probe --help: $(cat "$T/out")"
expect 0 "--shift-mode" "probe shift --help" -- "$CLCNN" probe shift --help
grep -q -- '--plot' "$T/out" && fail "probe shift --help lists deform's --plot" || pass "probe shift --help has its own options"
expect 0 "--max-rotate" "probe deform --help" -- "$CLCNN" probe deform --help
: > "$T/no-icd"
expect 0 "usage: clcnn probe" "probe --help without an OpenCL device" -- env OCL_ICD_VENDORS="$T/no-icd" "$CLCNN" probe --help
expect 2 "expected shift or deform" "probe without a measurement" -- "$CLCNN" probe
expect 2 "did you mean 'shift'" "a misspelt measurement" -- "$CLCNN" probe shfit "$NET"

mkidx "$T/d" train 96
mkidx "$T/d" t10k 40
"$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 16 --out "$T/m.safetensors" >/dev/null 2>"$T/train.err" ||
  { fail "training the tiny model: $(tail -3 "$T/train.err")"; exit 1; }
W=(--weights "$T/m.safetensors" --data "$T/d")

expect 2 "expected NETFILE and --weights" "probe shift without weights" -- "$CLCNN" probe shift "$NET" --data "$T/d"
expect 2 "bad value 'wrap' for --shift-mode: expected zero or circular" "a bad --shift-mode" -- \
  "$CLCNN" probe shift "$NET" "${W[@]}" --shift-mode wrap
expect 2 "bad value '0' for --max-shift" "--max-shift 0" -- "$CLCNN" probe shift "$NET" "${W[@]}" --max-shift 0
expect 2 "did you mean '--max-shift'" "a misspelt option" -- "$CLCNN" probe shift "$NET" "${W[@]}" --max-shfit 2
expect 2 "unknown option '--plot'" "deform's --plot refused by shift" -- \
  "$CLCNN" probe shift "$NET" "${W[@]}" --plot "$T/x.png"
expect 2 "bad value '500' for --max-rotate" "--max-rotate 500" -- "$CLCNN" probe deform "$NET" "${W[@]}" --max-rotate 500
expect 2 "bad value 'val' for --split" "a bad --split" -- "$CLCNN" probe deform "$NET" "${W[@]}" --split val

# ---- shift: consistency, accuracy, one row per 4-D node with its jump and receptive field
expect 0 "^consistency [01]\.[0-9]{4} " "probe shift" -- "$CLCNN" probe shift "$NET" "${W[@]}" --samples 30 --batch 8 \
  --json "$T/shift.json"
cp "$T/out" "$T/shift1"
grep -q "^30 test images of $T/d, shifts up to 4 px (zero fill), seed 1$" "$T/out" && pass "the header says what was measured" ||
  fail "header: $(head -1 "$T/out")"
grep -qE "^accuracy [01]\.[0-9]{4} unshifted, [01]\.[0-9]{4} shifted$" "$T/out" && pass "accuracy unshifted and shifted" ||
  fail "accuracy line: $(grep accuracy "$T/out")"
# c1: jump 1, rf 3, shift 4; p1 (maxpool 4): jump 4, rf 6
grep -qE "^c1 +conv2d +4x28x28 +1 +3 +[0-9.]+ +[0-9]+ +4 +[0-9.]+ +[0-9]+$" "$T/out" && pass "c1: jump 1, rf 3" ||
  fail "c1 row: $(grep '^c1' "$T/out")"
grep -qE "^p1 +maxpool2d +4x7x7 +4 +6 " "$T/out" && pass "p1: jump 4, rf 6" || fail "p1 row: $(grep '^p1' "$T/out")"
[ "$(grep -cE '^(c1|r1|p1) ' "$T/out")" -eq 3 ] && ! grep -qE '^(f|fc) ' "$T/out" && pass "one row per 4-D node" ||
  fail "rows: $(cat "$T/out")"
grep -q '"consistency": ' "$T/shift.json" && grep -q '"node": "p1", "op": "maxpool2d", "shape": \[4, 7, 7\]' "$T/shift.json" &&
  grep -q '"jump": \[4, 4\], "rf": \[6, 6\]' "$T/shift.json" && pass "--json writes the nodes" || fail "json: $(cat "$T/shift.json")"
expect 0 "^consistency " "probe shift again" -- "$CLCNN" probe shift "$NET" "${W[@]}" --samples 30 --batch 16
# the classes (counts) must agree exactly; the errors may differ in the last bits between batch sizes
cmp -s <(head -3 "$T/shift1") <(head -3 "$T/out") && pass "the same seed gives the same classes, whatever the batch" ||
  fail "two runs differ: $(diff "$T/shift1" "$T/out")"
expect 0 "shifts up to 2 px \(circular\), seed 3" "probe shift --shift-mode circular" -- \
  "$CLCNN" probe shift "$NET" "${W[@]}" --samples 20 --shift-mode circular --max-shift 2 --seed 3
# p1: 7 positions x jump 4 = 28 tile the input, so every position is compared, wrapping around
grep -qE "^p1 .* all +[0-9]+ +[0-9.]+ +all$" "$T/out" && pass "circular: a tiling map is compared everywhere" ||
  fail "circular p1: $(grep '^p1' "$T/out")"

# ---- deform: 3 kinds x levels rows, JSON, the plot
expect 0 "^accuracy [01]\.[0-9]{4} undeformed$" "probe deform" -- "$CLCNN" probe deform "$NET" "${W[@]}" --samples 24 \
  --levels 2 --plot "$T/deform.png" --json "$T/deform.json"
[ "$(grep -cE '^(elastic|rotate|scale) +[12] ' "$T/out")" -eq 6 ] && pass "deform: 3 kinds x 2 levels" ||
  fail "deform rows: $(cat "$T/out")"
grep -qE "^rotate +2 +30 deg +[01]\.[0-9]{4} +[01]\.[0-9]{4}$" "$T/out" && pass "the strongest rotation is 30 degrees" ||
  fail "rotate row: $(grep '^rotate' "$T/out")"
grep -qE "^scale +1 +\+-0\.125 " "$T/out" && pass "zoom strengths halve at level 1 of 2" || fail "scale row: $(grep '^scale' "$T/out")"
[ "$(head -c 8 "$T/deform.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && pass "--plot writes a PNG" ||
  fail "no PNG at $T/deform.png"
expect 1 "$T/no/such/dir/x.json: cannot write: No such file or directory" "an unwritable --json" -- \
  "$CLCNN" probe deform "$NET" "${W[@]}" --samples 8 --levels 1 --json "$T/no/such/dir/x.json"
[ "$(grep -c '"kind": ' "$T/deform.json")" -eq 6 ] && pass "--json has every level" || fail "deform json: $(cat "$T/deform.json")"

exit $((fails > 0))
