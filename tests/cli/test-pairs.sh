#!/usr/bin/env bash
# Metric learning on the command line: train --pairs (random and batch-hard mining, determinism by
# --seed, the metadata saved), embed (the file's tensors), eval of an embedding model (k-NN accuracy
# and recall@1, the same recall@1 as training's last epoch) and the refusals (a model without the
# inputs, an unknown mining, a dataset of one class), on random images of 10 classes.
# With the out-of-memory build of the tool (clcnn-failalloc) as a third argument, every host
# allocation of train --pairs (random and batch-hard), embed and eval of an embedding model fails in
# turn: exit 1 and one "out of memory" line each time, never a crash or a checkpoint.
# usage: test-pairs.sh CLCNN_BINARY DATA_DIR [CLCNN_FAILALLOC_BINARY]
set -u
CLCNN=$1
DATA=$2
FAILALLOC=${3:+$(realpath "$3")}
MODELS=$DATA/../../models
. "$(dirname "$0")/../common/expect.sh"
. "$(dirname "$0")/../common/mkidx.sh"
NET=$DATA/cli/siamese-tiny.net
mkidx "$T/d" train 120
mkidx "$T/d" t10k 40

# ---- random triplets: recall@1 after each epoch, metadata, CSV
expect 0 "^epoch 2 test recall@1 0\.[0-9]{4}$" "train --pairs triplet reports recall@1" -- \
  "$CLCNN" train "$NET" --data "$T/d" --pairs triplet --epochs 2 --batch 20 --optimizer adam --out "$T/t.safetensors"
r_train=$(sed -n 's/^epoch 2 test recall@1 //p' "$T/out")
grep -qE "^epoch 2/2: train loss [0-9.]+, test recall@1 0\.[0-9]{4}, .* triplets/s" "$T/err" &&
  pass "the epoch line names recall@1 and no test loss" || fail "epoch line: $(grep '^epoch 2/2:' "$T/err")"
[ "$(meta "$T/t.safetensors" clcnn.pairs)" = triplet ] && [ "$(meta "$T/t.safetensors" clcnn.mining)" = random ] &&
  pass "the checkpoint records --pairs and --mining" || fail "metadata: $(header "$T/t.safetensors" | grep -o '"__metadata__":{[^}]*}')"
head -1 "$T/t.csv" | grep -q ',test_recall_at_1,' && pass "the CSV log has a recall@1 column" || fail "CSV: $(head -1 "$T/t.csv")"
# one tensor per shared parameter, under the owner's name
header "$T/t.safetensors" | grep -q '"ca.weight"' && ! header "$T/t.safetensors" | grep -q '"cp.weight"' &&
  pass "shared weights saved once" || fail "weights: $(header "$T/t.safetensors" | grep -o '"[a-z]*\.weight"' | tr '\n' ' ')"

# ---- deterministic by --seed: the same checkpoint twice, another with another seed
"$CLCNN" train "$NET" --data "$T/d" --pairs triplet --epochs 2 --batch 20 --optimizer adam --out "$T/t2.safetensors" >/dev/null 2>&1
"$CLCNN" train "$NET" --data "$T/d" --pairs triplet --epochs 2 --batch 20 --optimizer adam --seed 2 --out "$T/t3.safetensors" >/dev/null 2>&1
cmp -s "$T/t.safetensors" "$T/t2.safetensors" && pass "the same seed gives the same checkpoint" || fail "two runs of seed 1 differ"
cmp -s "$T/t.safetensors" "$T/t3.safetensors" && fail "seeds 1 and 2 give the same checkpoint" || pass "another seed draws other triplets"

# ---- batch-hard: P x K chosen from the batch and the classes, or refused
expect 0 "batch-hard mining: 10 classes x 2 samples per batch" "batch-hard picks P x K" -- \
  "$CLCNN" train "$NET" --data "$T/d" --pairs triplet --mining batch-hard --epochs 1 --batch 20 --out "$T/bh.safetensors"
grep -q "^epoch 1 test recall@1 0\.[0-9]\{4\}$" "$T/out" && pass "batch-hard trains" || fail "batch-hard: $(cat "$T/out")"
[ "$(meta "$T/bh.safetensors" clcnn.mining)" = batch-hard ] && pass "batch-hard recorded" || fail "mining not recorded"
expect 0 "batch-hard mining: 5 classes x 4 samples" "--per-class 4" -- \
  "$CLCNN" train "$NET" --data "$T/d" --pairs triplet --mining batch-hard --per-class 4 --epochs 1 --batch 20 --out "$T/bh.safetensors" --force
expect 2 "a batch of 20 cannot be cut into P classes x K samples" "--per-class 3 of a batch of 20 refused" -- \
  "$CLCNN" train "$NET" --data "$T/d" --pairs triplet --mining batch-hard --per-class 3 --batch 20 --out "$T/x.safetensors"

# ---- embed: N x D embeddings (F32) and labels (I64)
expect 0 "^40 embeddings of 16 values \(test split\) written to" "embed the test split" -- \
  "$CLCNN" embed "$NET" --weights "$T/t.safetensors" --data "$T/d" --out "$T/emb.safetensors"
header "$T/emb.safetensors" | grep -q '"embeddings":{"dtype":"F32","shape":\[40,16\]' &&
  header "$T/emb.safetensors" | grep -q '"labels":{"dtype":"I64","shape":\[40\]' &&
  pass "embeddings (40 x 16, F32) and labels (40, I64)" || fail "embed header: $(header "$T/emb.safetensors")"
[ "$(stat -c %s "$T/emb.safetensors")" -eq $((8 + $(od -An -tu4 -N4 "$T/emb.safetensors") + 40 * 16 * 4 + 40 * 8)) ] &&
  pass "embed file size" || fail "embed file size $(stat -c %s "$T/emb.safetensors")"
# label i of the test split is i % 10 (mkidx): the last 8 bytes hold 9
[ "$(tail -c 8 "$T/emb.safetensors" | od -An -tu8 | tr -d ' ')" = 9 ] && pass "labels in the split's order" ||
  fail "last label $(tail -c 8 "$T/emb.safetensors" | od -An -tu8)"
expect 0 "" "embed --split train --limit 7" -- \
  "$CLCNN" embed "$NET" --weights "$T/t.safetensors" --data "$T/d" --split train --limit 7 --batch 3 --out "$T/e7.safetensors"
header "$T/e7.safetensors" | grep -q '"shape":\[7,16\]' && pass "7 training embeddings at batch 3" || fail "e7: $(header "$T/e7.safetensors")"
expect 2 "expected NETFILE, --weights CKPT and --out FILE" "embed without --out" -- "$CLCNN" embed "$NET" --weights "$T/t.safetensors"

# ---- eval of an embedding model: k-NN and recall@1, recall@1 as training measured it
expect 0 "^recall@1 0\.[0-9]{4} " "eval reports recall@1" -- "$CLCNN" eval "$NET" --weights "$T/t.safetensors" --data "$T/d"
r_eval=$(sed -n 's/^recall@1 \([0-9.]*\) .*/\1/p' "$T/out")
[ "$r_eval" = "$r_train" ] && pass "eval's recall@1 is training's last ($r_eval)" || fail "recall@1: eval $r_eval, train $r_train"
grep -qE "^knn accuracy k=1 0\.[0-9]{4}$" "$T/out" && grep -qE "^knn accuracy k=5 0\.[0-9]{4} " "$T/out" &&
  grep -q "gallery 120 train images" "$T/out" && pass "k-NN accuracy at k = 1 and 5 against 120 train images" ||
  fail "eval: $(cat "$T/out")"
expect 0 "^knn accuracy k=3 " "eval --k 3" -- "$CLCNN" eval "$NET" --weights "$T/t.safetensors" --data "$T/d" --k 3
grep -q "^   9 Ankle boot" "$T/out" && fail "class names from nowhere" || pass "no class names for unnamed data"

# ---- contrastive pairs (x1, x2, same), random and batch-hard
PAIRS=$DATA/cli/siamese-pairs-tiny.net
expect 0 "^epoch 1 test recall@1 0\.[0-9]{4}$" "train --pairs contrastive" -- \
  "$CLCNN" train "$PAIRS" --data "$T/d" --pairs contrastive --epochs 1 --batch 20 --optimizer adam --out "$T/c.safetensors"
grep -q " pairs/s" "$T/err" && [ "$(meta "$T/c.safetensors" clcnn.pairs)" = contrastive ] &&
  pass "contrastive recorded, pairs/s reported" || fail "contrastive: $(grep '^epoch 1/1:' "$T/err")"
expect 0 "batch-hard mining: 10 classes x 2 samples per batch" "contrastive batch-hard" -- \
  "$CLCNN" train "$PAIRS" --data "$T/d" --pairs contrastive --mining batch-hard --epochs 1 --batch 20 --out "$T/cb.safetensors"
expect 0 "^40 embeddings of 8 values" "embed of the contrastive model" -- \
  "$CLCNN" embed "$PAIRS" --weights "$T/cb.safetensors" --data "$T/d" --out "$T/ec.safetensors"
expect 0 "^recall@1 0\.[0-9]{4} " "eval of the contrastive model" -- "$CLCNN" eval "$PAIRS" --weights "$T/c.safetensors" --data "$T/d"

# ---- refusals
expect 2 "--pairs triplet feeds three data inputs \(anchor, positive, negative\), in declaration order; .*fmnist.net has 1 data input and 1 per-sample scalar \(image, label\)" \
  "--pairs on a classifier" -- "$CLCNN" train "$MODELS/fmnist.net" --data "$T/d" --pairs triplet --out "$T/x.safetensors"
expect 2 "--pairs contrastive feeds two data inputs" "--pairs contrastive on a triplet model" -- \
  "$CLCNN" train "$NET" --data "$T/d" --pairs contrastive --out "$T/x.safetensors"
expect 2 "bad value 'hardest' for --mining: expected random or batch-hard" "unknown mining" -- \
  "$CLCNN" train "$NET" --data "$T/d" --pairs triplet --mining hardest --out "$T/x.safetensors"
expect 2 "bad value 'quad' for --pairs: expected triplet or contrastive" "unknown --pairs" -- \
  "$CLCNN" train "$NET" --data "$T/d" --pairs quad --out "$T/x.safetensors"
expect 2 "--mining needs --pairs" "--mining without --pairs" -- "$CLCNN" train "$NET" --data "$T/d" --mining random --out "$T/x.safetensors"
mkidx "$T/one" train 30 10
mkidx "$T/one" t10k 10 10
expect 2 "samples of 1 class; pairs and triplets need two classes or more" "a dataset of one class" -- \
  "$CLCNN" train "$NET" --data "$T/one" --pairs triplet --batch 10 --out "$T/x.safetensors"
[ ! -e "$T/x.safetensors" ] && pass "no checkpoint after a refusal" || fail "a refusal left a checkpoint"

# ---- out of host memory (as tests/cli/test-cli-oom.sh): allocation 1, 2, ... failing in turn
sweep() {
  local name=$1 n rc tested=0; shift
  for ((n = 1; n <= 150; n++)); do
    rm -rf "$T/run"; mkdir "$T/run"
    (cd "$T/run" && CLCNN_TEST_FAILALLOC=$n "$@" >/dev/null 2>"$T/err")
    rc=$?
    if ! grep -q "^failalloc: failing allocation $n$" "$T/err"; then
      [ $rc -eq 0 ] && [ $tested -gt 0 ] && pass "$name: $tested allocations failed in turn, each cleanly" ||
        fail "$name: exit $rc after $tested allocations: $(tail -3 "$T/err")"
      return
    fi
    tested=$((tested + 1))
    local cmd=${name%% *} ok=1
    [ $rc -eq 1 ] && [ "$(grep -c "^clcnn $cmd: " "$T/err")" -eq 1 ] &&
      grep -qE "^clcnn $cmd: .*out of (host )?memory" "$T/err" && [ -z "$(find "$T/run" -name '*.safetensors')" ] || ok=0
    [ $ok -eq 1 ] || { fail "$name: allocation $n: exit $rc"; sed 's/^/    /' "$T/err" | tail -4; }
  done
  fail "$name: more than 150 allocations"
}
if [ -n "$FAILALLOC" ]; then
  D=$(realpath "$T/d") N=$(realpath "$NET") W=$(realpath "$T/t.safetensors")
  sweep "train --pairs triplet" "$FAILALLOC" train "$N" --data "$D" --pairs triplet --epochs 1 --batch 20 --limit 60
  sweep "train --mining batch-hard" "$FAILALLOC" train "$N" --data "$D" --pairs triplet --mining batch-hard --epochs 1 --batch 20 --limit 60
  sweep "embed" "$FAILALLOC" embed "$N" --weights "$W" --data "$D" --out e.safetensors
  sweep "eval of an embedding" "$FAILALLOC" eval "$N" --weights "$W" --data "$D"
fi

echo "$fails failed"
[ "$fails" -eq 0 ]
