#!/usr/bin/python3
"""PyTorch and ONNX Runtime side of tools/bench-infer.sh: eval-mode forwards of a netfile's model.

  torch_infer_bench.py prepare MODEL.net DIR
      the torch.nn translation's weights (DIR/w.safetensors, for clcnn export / run; batchnorm's
      running statistics drawn at random, so that eval mode shows) and a random batch of 4
      (DIR/x.safetensors: the data input, and class 0 for a label input)
  torch_infer_bench.py check MODEL.net DIR
      the output of the model on DIR/x.safetensors from PyTorch, ONNX Runtime (DIR/model.onnx, as
      `clcnn export --weights DIR/w.safetensors` wrote it) and clcnn (DIR/y.safetensors, as
      `clcnn run` wrote it): prints the largest |difference| / (1 + |torch|) of each against PyTorch
      (float32); exit status 1 above --tol (default 1e-4)
  torch_infer_bench.py time MODEL.net --runtime torch|ort [--onnx DIR/model.onnx] [--batch 1]
                            [--iters 100] [--warmup 10] [--threads 2]
      --iters forwards of one batch of random data after --warmup untimed ones, each timed alone
      (torch: model.eval(), torch.no_grad(), the forward up to the netfile's output node; ort: an
      InferenceSession with intra_op_num_threads, CPUExecutionProvider, one run per batch); prints
        inference: X ms median, Y ms p90 per batch of B (Z img/s)
      as `clcnn bench --inference` does (the upper median, and the 90th percentile by nearest rank).
"""
import argparse
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_model_bench as tmb  # noqa: E402 (the translator, the straight-line forward)

try:
    from safetensors.torch import load_file, save_file
except ImportError:  # Debian has no python3-safetensors
    from safetensors_min import load_file, save_file


def model_of(netfile):
    model = tmb.translator().build(netfile, batch=2)  # eval mode, Lazy modules materialised
    return model, tmb.schedule(model, model.nf_output)


def data_input(model):
    shapes = model.input_shapes(1)
    name = next((n for n, s in shapes.items() if len(s) == 4), None) or next(n for n, s in shapes.items()
                                                                              if len(s) == 2)
    return name, shapes[name][1:]


def report(times, batch):
    times = sorted(times)
    med = statistics.median_high(times)
    p90 = times[math.ceil(0.9 * len(times)) - 1]
    print("inference: %.3f ms median, %.3f ms p90 per batch of %d (%.0f img/s)" % (med * 1e3, p90 * 1e3, batch,
                                                                                  batch / med), flush=True)


def prepare(a):
    model, _ = model_of(a.netfile)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # running statistics that eval mode's batchnorm visibly applies
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.copy_(0.2 * torch.randn(mod.running_mean.shape, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
    os.makedirs(a.dir, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(a.dir, "w.safetensors"))
    feeds = {}
    for n, s in model.input_shapes(4).items():
        feeds[n] = torch.zeros(s) if len(s) == 1 else torch.randn(s, generator=g)
    save_file(feeds, os.path.join(a.dir, "x.safetensors"))


def check(a):
    import onnxruntime as ort
    model, steps = model_of(a.netfile)
    model.load_state_dict({k: v for k, v in load_file(os.path.join(a.dir, "w.safetensors")).items()})
    x = load_file(os.path.join(a.dir, "x.safetensors"))
    name, _ = data_input(model)
    with torch.no_grad():
        ref = tmb.run(steps, x)
    sess = ort.InferenceSession(os.path.join(a.dir, "model.onnx"), providers=["CPUExecutionProvider"])
    got = {"ONNX Runtime": torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x[name].numpy()})[0]),
           "clcnn": load_file(os.path.join(a.dir, "y.safetensors"))[model.nf_output]}
    bad = 0
    for who, y in got.items():
        if tuple(y.shape) != tuple(ref.shape):
            print("%s: output %s has shape %s, PyTorch's %s" % (a.netfile, who, tuple(y.shape), tuple(ref.shape)))
            bad = 1
            continue
        err = float(((y - ref).abs() / (1 + ref.abs())).max())
        print("%s: output '%s' of %s against PyTorch: max |diff| / (1 + |torch|) = %.2e" % (a.netfile, model.nf_output,
                                                                                          who, err))
        bad |= not err <= a.tol
    return bad


def time_it(a):
    torch.set_num_threads(a.threads)
    model, steps = model_of(a.netfile)
    name, shape = data_input(model)
    x = torch.randn((a.batch,) + tuple(shape), generator=torch.Generator().manual_seed(11))
    if a.runtime == "torch":
        model.eval()

        def once():
            with torch.no_grad():
                return tmb.run(steps, {name: x})
    else:
        import onnxruntime as ort
        if not a.onnx:
            raise SystemExit("torch_infer_bench: --runtime ort needs --onnx MODEL.onnx")
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x.numpy()}

        def once():
            return sess.run(None, feed)
    times = []
    for i in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        out = once()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    if not np.isfinite(np.asarray(out[0] if isinstance(out, list) else out)).all():
        raise SystemExit("torch_infer_bench: %s: the output is not finite" % a.netfile)
    print("model: %s; %s; batch %d; %d threads; %d forwards after %d untimed" % (
        a.netfile, "PyTorch " + torch.__version__ if a.runtime == "torch" else "ONNX Runtime " + ort.__version__,
        a.batch, a.threads, a.iters, a.warmup))
    report(times, a.batch)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("netfile")
    p.add_argument("dir")
    c = sub.add_parser("check")
    c.add_argument("netfile")
    c.add_argument("dir")
    c.add_argument("--tol", type=float, default=1e-4)
    t = sub.add_parser("time")
    t.add_argument("netfile")
    t.add_argument("--runtime", choices=["torch", "ort"], required=True)
    t.add_argument("--onnx")
    t.add_argument("--batch", type=int, default=1)
    t.add_argument("--iters", type=int, default=100)
    t.add_argument("--warmup", type=int, default=10)
    t.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.cmd == "time" and (a.iters < 1 or a.batch < 1 or a.warmup < 0):
        ap.error("--iters and --batch must be at least 1, --warmup at least 0")
    return {"prepare": prepare, "check": check, "time": time_it}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
