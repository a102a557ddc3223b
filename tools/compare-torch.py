#!/usr/bin/python3
"""Compare clcnn with PyTorch node by node: every node's output and every gradient.

Usage: tools/compare-torch.py MODEL.net [--clcnn build/tools/clcnn] [--weights CKPT] [--batch 4]
                              [--train-mode] [--seed 0]

1. builds the torch.nn equivalent of the netfile (translator of tools/check-torch-checkpoint.py);
2. takes its weights from CKPT (a clcnn checkpoint) or writes the torch model's initial weights to a
   safetensors file for clcnn;
3. draws random inputs (class indices for label inputs) and writes them to X.safetensors;
4. runs `clcnn run MODEL.net --weights W --input X.safetensors --output Y.safetensors --backward`;
5. runs the same forward and backward in PyTorch (float64, as the judge) and prints, per node and per
   gradient, the largest |clcnn - torch| / (1 + |torch|).
Exit status 1 when any relative error exceeds --tol (default 1e-3). Needs python3-torch and
`pip install --break-system-packages safetensors`.
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import torch

try:
    from safetensors.torch import load_file, save_file
except ImportError:  # Debian has no python3-safetensors: the format is simple enough to do here
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from safetensors_min import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("nf", os.path.join(HERE, "check-torch-checkpoint.py"))
nf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nf)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("netfile")
    ap.add_argument("--clcnn", default=os.path.join(HERE, "..", "build", "tools", "clcnn"))
    ap.add_argument("--weights")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--train-mode", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-3)
    a = ap.parse_args()

    model = nf.build(a.netfile, batch=a.batch)
    stochastic = [s["name"] for s in model.nf_nodes if s["layer"] in ("dropout", "gaussian_noise")]
    if a.train_mode and stochastic:
        print("compare-torch: %s draw from clcnn's RNG in training mode, which PyTorch cannot reproduce; "
              "compare in eval mode (drop --train-mode) or without those layers" % ", ".join(stochastic))
        return 2
    tmp = tempfile.mkdtemp(prefix="clcnn-compare-")
    wpath = a.weights
    if wpath:
        state = {k: v for k, v in load_file(wpath).items() if not k.startswith("optimizer.")}
        model.load_state_dict(state, strict=True)
    else:
        wpath = os.path.join(tmp, "w.safetensors")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, wpath)

    g = torch.Generator().manual_seed(a.seed)
    feeds = {}
    classes = 10
    for name, shape in model.input_shapes(a.batch).items():
        if len(shape) == 1:  # one class index per sample
            feeds[name] = torch.randint(0, classes, shape, generator=g).float()
        else:
            feeds[name] = torch.randn(shape, generator=g)
    xpath, ypath = os.path.join(tmp, "x.safetensors"), os.path.join(tmp, "y.safetensors")
    save_file(feeds, xpath)
    cmd = [a.clcnn, "run", a.netfile, "--weights", wpath, "--input", xpath, "--output", ypath, "--backward"]
    if a.train_mode:
        cmd.append("--train-mode")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    got = load_file(ypath)

    # the judge: float64 torch
    model = model.double()
    model.train(a.train_mode)
    tfeeds = {k: (v.double().requires_grad_(v.dim() > 1)) for k, v in feeds.items()}
    vals = model(tfeeds)
    loss = vals[model.nf_loss] if model.nf_loss else None
    if loss is not None:
        loss.sum().backward()
    worst = 0.0
    rows = []
    for s in model.nf_nodes:
        want = vals[s["name"]].detach()
        if s["name"] in got:
            rows.append((s["name"], got[s["name"]].double(), want))
    for k, p in model.named_parameters():
        if p.grad is not None and "grad." + k in got:
            rows.append(("grad." + k, got["grad." + k].double(), p.grad))
    for k, v in tfeeds.items():
        if v.grad is not None and "grad." + k in got:
            rows.append(("grad." + k, got["grad." + k].double(), v.grad))
    for name, c, t in rows:
        err = ((c.reshape(t.shape) - t).abs() / (1 + t.abs())).max().item() if t.numel() else 0.0
        worst = max(worst, err)
        print("%-32s %-16s max rel err %.2e" % (name, "x".join(map(str, t.shape)) or "scalar", err))
    print("worst %.2e over %d tensors (%s mode)" % (worst, len(rows), "train" if a.train_mode else "eval"))
    return 0 if worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
