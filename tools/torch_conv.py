#!/usr/bin/env python3
"""PyTorch reference for conv layer speed, to run back to back with `clcnn bench` on the same shapes.

  torch_conv.py [--threads 2] [--device cpu|cuda] [--reps 10] [--set main|wide|all]

The shapes are those of models/bench/conv*.net (tools/bench-conv.sh runs both and joins the rows
on the printed label): --set main (default) the seven of BENCHMARKS.md's table, as
../shared/bench/torch_conv.py prints them; wide: kernels 5x5 and 7x7, stride 2, odd sizes and
channel counts that are not multiples of 16, batch 8 to 128, each a layer of a known network.
Labels: "NxCxHxW -> K RxR", then "/S" for stride S > 1 and " pP" when the padding P is not R // 2.
CPU: Debian's python3-torch 1.13 (oneDNN). CUDA: cuDNN with TF32 off, so the comparison is FP32 to FP32.
Prints, per shape, forward and forward+backward time and GFLOP/s (backward counted as 2x forward FLOPs)."""
import argparse
import time

import torch

# N, C, H, W, K, R, stride, pad: the models/bench netfile of each says which network it comes from
MAIN = [
    (64, 1, 28, 28, 32, 3, 1, 1),
    (64, 32, 28, 28, 64, 3, 1, 1),
    (64, 64, 14, 14, 128, 3, 1, 1),
    (32, 64, 56, 56, 64, 3, 1, 1),
    (32, 128, 28, 28, 128, 3, 1, 1),
    (32, 256, 14, 14, 256, 3, 1, 1),
    (32, 256, 14, 14, 1024, 1, 1, 0),
]
WIDE = [
    (8, 3, 224, 224, 64, 7, 2, 3),     # ResNet-18/50 stem
    (128, 1, 28, 28, 6, 5, 1, 2),      # LeNet-5 c1 (models/lenet5.net)
    (128, 6, 14, 14, 16, 5, 1, 0),     # LeNet-5 c3
    (16, 64, 27, 27, 192, 5, 1, 2),    # AlexNet features.3 (torchvision)
    (16, 192, 13, 13, 384, 3, 1, 1),   # AlexNet features.6
    (32, 48, 35, 35, 64, 5, 1, 2),     # Inception-v3 Mixed_5b.branch5x5_2
    (32, 192, 17, 17, 320, 3, 2, 0),   # Inception-v3 Mixed_7a.branch3x3_2
    (32, 64, 56, 56, 128, 3, 2, 1),    # ResNet-18 layer2.0.conv1
    (32, 64, 56, 56, 128, 1, 2, 0),    # ResNet-18 layer2.0.downsample.0
    (64, 3, 32, 32, 24, 3, 1, 1),      # DenseNet-BC (k=12) CIFAR stem
    (64, 48, 32, 32, 12, 3, 1, 1),     # DenseNet-BC (k=12) dense layer, 3x3 after the 1x1 bottleneck
    (32, 24, 56, 56, 144, 1, 1, 0),    # MobileNetV2 features.3 expansion
]
SETS = {"main": MAIN, "wide": WIDE, "all": MAIN + WIDE}


def label(N, C, H, W, K, R, S, P):
    return "%dx%dx%dx%d -> %d %dx%d%s%s" % (N, C, H, W, K, R, R, "/%d" % S if S > 1 else "",
                                            " p%d" % P if P != R // 2 else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--set", default="main", choices=sorted(SETS))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for N, C, H, W, K, R, S, P in SETS[a.set]:
        x = torch.randn(N, C, H, W, device=dev, requires_grad=True)
        conv = torch.nn.Conv2d(C, K, R, stride=S, padding=P).to(dev)
        Ho = (H + 2 * P - R) // S + 1
        Wo = (W + 2 * P - R) // S + 1
        flops = 2.0 * N * K * Ho * Wo * C * R * R
        with torch.no_grad():
            for _ in range(3):
                conv(x)
            sync()
            t = time.perf_counter()
            for _ in range(a.reps):
                conv(x)
            sync()
            tf = (time.perf_counter() - t) / a.reps
        g = torch.ones(N, K, Ho, Wo, device=dev)
        for _ in range(2):
            conv(x).backward(g)
        sync()
        t = time.perf_counter()
        for _ in range(a.reps):
            conv(x).backward(g)
        sync()
        tfb = (time.perf_counter() - t) / a.reps
        print(f"{label(N, C, H, W, K, R, S, P):28s} fwd {tf*1e3:8.3f} ms {flops/tf/1e9:8.1f} GF/s | "
              f"fwd+bwd {tfb*1e3:8.3f} ms {3*flops/tfb/1e9:8.1f} GF/s", flush=True)


if __name__ == "__main__":
    main()
