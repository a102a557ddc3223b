# Sourced by the shell tests: mkidx DIR SPLIT N [STEP] writes a gzip'ed IDX pair of N random 28x28
# images and labels (i * STEP) % 10 for image i (STEP 1 by default), as a Fashion-MNIST folder does.
mkidx() { # dir split n [step]
  local dir=$1 split=$2 n=$3 step=${4:-1} hex
  hex=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))
  mkdir -p "$dir"
  { printf '\x00\x00\x08\x03'; printf "$hex"; printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((n * 784)) /dev/urandom; } |
    gzip -1 > "$dir/$split-images-idx3-ubyte.gz"
  { printf '\x00\x00\x08\x01'; printf "$hex"; for ((i = 0; i < n; i++)); do printf "\\x0$((i * step % 10))"; done; } |
    gzip -1 > "$dir/$split-labels-idx1-ubyte.gz"
}
