#!/usr/bin/python3
"""Generate the io test fixtures with real PyTorch + safetensors, or check a file clcnn wrote.

    tools/gen-io-fixtures.py            writes tests/data/io/torch.safetensors
    tools/gen-io-fixtures.py --check F  loads F with safetensors and prints every tensor

Needs python3-torch (Debian) and the safetensors pip package (tools/deps.sh --python installs both;
this one script keeps the real package, since its point is the real writer). The test suite itself
never runs this: the values below are repeated in tests/io/test-safetensors.c, so change both together.
"""
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def fixture_tensors():
    return {
        # what a conv + batchnorm state dict holds: F32 weights and an I64 scalar of shape []
        "conv.weight": (torch.arange(8, dtype=torch.float32) * 0.25 - 1.0).reshape(2, 1, 2, 2),
        "conv.bias": torch.tensor([0.5, -0.5], dtype=torch.float32),
        "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        # one tensor per dtype the reader converts, with edge values of each
        "i64": torch.tensor([2**40 + 1, -(2**31), 2**24 + 1], dtype=torch.int64),
        "f64": torch.tensor([1e-3, -2.5], dtype=torch.float64),
        "f16": torch.tensor([1.0, -2.5, 65504.0, 2.0**-24], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.0, 0.15625], dtype=torch.bfloat16),
        "i32": torch.tensor([-5, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }


def check(path):
    with safe_open(path, framework="pt") as f:
        print("metadata:", f.metadata())
    for name, t in load_file(path).items():
        print(f"{name}: {t.dtype} {list(t.shape)} {t.flatten().tolist()}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "tests", "data", "io", "torch.safetensors")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    save_file(fixture_tensors(), out, metadata={"format": "pt", "producer": "gen-io-fixtures"})
    print("wrote", out)
    check(out)


if __name__ == "__main__":
    main()
