#!/usr/bin/env bash
# clcnn bench --inference: the output format that tools/bench-infer.sh reads (median and p90 latency,
# img/s), values that agree with each other, forwards only (no per-node table, no training step), a
# feature-vector model and a two-branch model (only the output's branch runs), and the refusals: one
# clear line each, exit status 2.
# usage: test-bench.sh CLCNN_BINARY DATA_DIR
set -u
CLCNN=$1
DATA=$2
. "$(dirname "$0")/../common/expect.sh"
NET=$DATA/cli/tiny.net
LINE='^inference: ([0-9]+\.[0-9]{3}) ms median, ([0-9]+\.[0-9]{3}) ms p90 per batch of ([0-9]+) \(([0-9]+) img/s\)$'

expect 0 "--inference +time eval-mode forwards" "bench --help names --inference" -- "$CLCNN" bench --help

# the line, its numbers, and nothing of the training benchmark
check() { # WHAT BATCH ITERS: the last run's output
  local what=$1 batch=$2 iters=$3 l
  l=$(grep -E "$LINE" "$T/out")
  [ "$(grep -cE "$LINE" "$T/out")" -eq 1 ] && pass "$what: one inference line" || { fail "$what: $(cat "$T/out")"; return; }
  grep -qE "; batch $batch; $iters eval-mode forwards of node '[a-z_0-9]+' after 1 untimed$" "$T/out" &&
    pass "$what: the header names the batch, the count and the node" || fail "$what header: $(head -1 "$T/out")"
  echo "$l" | sed -E "s#$LINE#\1 \2 \3 \4#" | {
    read -r med p90 b ips
    awk -v m="$med" -v p="$p90" -v b="$b" -v want="$batch" -v i="$ips" 'BEGIN {
      # the median is printed to 0.001 ms: img/s lies between batch / (m + 0.0005 ms) and batch / (m - 0.0005 ms)
      lo = b / ((m + 0.0005) * 1e-3); hi = m > 0.0005 ? b / ((m - 0.0005) * 1e-3) : 1e30
      exit !(m > 0 && p >= m && b == want && i >= lo * 0.99 - 1 && i <= hi * 1.01 + 1) }'
  } && pass "$what: median > 0, p90 >= median, img/s = batch / median" || fail "$what numbers: $l"
  grep -qE "training step|sum of nodes|GFLOP/s" "$T/out" && fail "$what runs the training benchmark too" ||
    pass "$what: forwards only"
}
expect 0 "$LINE" "bench --inference at batch 1" -- "$CLCNN" bench "$NET" --inference --batch 1 --iters 5 --warmup 1
check "batch 1" 1 5
expect 0 "$LINE" "bench --inference at batch 16" -- "$CLCNN" bench "$NET" --inference --batch 16 --iters 3 --warmup 1
check "batch 16" 16 3
grep -q "of node 'fc'" "$T/out" && pass "the output node is the loss's input" || fail "node: $(head -1 "$T/out")"

# a feature-vector model; a model with two data inputs, whose @output reads one of them
printf 'x = input(shape=(8))\ny = input()\nh = linear(x, out_features=16)\nr = relu\no = linear(out_features=3)\nloss = cross_entropy(o, y)\n' > "$T/mlp.net"
expect 0 "$LINE" "bench --inference of an MLP" -- "$CLCNN" bench "$T/mlp.net" --inference --batch 4 --iters 2 --warmup 1
check "MLP" 4 2
printf 'a = input(shape=(1,8,8))\nb = input(shape=(1,8,8))\nfa = flatten(a)\nea = linear(out_features=4)\nfb = flatten(b)\neb = linear(share=ea)\nloss = mse_loss(ea, eb)\n@output ea\n' > "$T/two.net"
expect 0 "$LINE" "bench --inference of a two-branch model" -- "$CLCNN" bench "$T/two.net" --inference --batch 2 --iters 2 --warmup 1
check "two branches" 2 2
grep -q "of node 'ea'" "$T/out" && pass "the @output node is timed" || fail "node: $(head -1 "$T/out")"
# an ONNX model (tools/bench-infer.sh's clcnn export), with its own weights
expect 0 "wrote" "export the tiny model" -- "$CLCNN" export "$NET" --out "$T/tiny.onnx"
expect 0 "$LINE" "bench --inference of an .onnx model" -- "$CLCNN" bench "$T/tiny.onnx" --inference --batch 2 --iters 2 --warmup 1
check "ONNX" 2 2

# refusals: exit 2, one line naming the flag
refuse() { # PATTERN WHAT -- ARGS
  local pat=$1 what=$2
  shift 3
  expect 2 "$pat" "$what" -- "$CLCNN" bench "$NET" "$@"
  [ "$(grep -c . "$T/err")" -eq 1 ] && [ ! -s "$T/out" ] && pass "$what: one line, nothing on stdout" ||
    fail "$what: $(cat "$T/err" "$T/out")"
}
refuse "^clcnn bench: --inference times forwards only: it takes no --input-grads$" "--inference with --input-grads" -- --inference --input-grads
refuse "^clcnn bench: --inference takes no value$" "--inference=1" -- --inference=1
refuse "^clcnn bench: bad value '0' for --iters" "--inference --iters 0" -- --inference --iters 0
refuse "did you mean '--inference'" "a misspelt --inference" -- --inferense

echo "$fails failed"
[ "$fails" -eq 0 ]
