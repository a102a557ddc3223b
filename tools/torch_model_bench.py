#!/usr/bin/python3
"""PyTorch side of tools/bench-models.sh: whole training steps of a netfile's model on random data.

  torch_model_bench.py MODEL.net [--batch 64] [--iters 10] [--warmup 2] [--threads 2]

The model is the torch.nn translation of the netfile (tools/check-torch-checkpoint.py, as
tools/compare-torch.py uses it), in training mode. One step is what `clcnn bench` times: forward to
the netfile's loss, opt.zero_grad(), loss.backward(), opt.step(), with the optimizer of clcnn bench
(SGD lr 0.01, momentum 0.9, no Nesterov, no weight decay). Inputs are random: N(0, 1) data, class
indices below the output's width for the input of cross_entropy / nll_loss, 0/1 for other
one-number-per-sample inputs (contrastive_loss's `same`). After the warm-up steps, prints
  parameters: N trainable
  training step: X ms median (Y img/s)
as clcnn bench does (a sample of a Siamese model, a pair or a triplet, counts as one image)."""
import argparse
import importlib.util
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def translator():
    spec = importlib.util.spec_from_file_location("nf", os.path.join(HERE, "check-torch-checkpoint.py"))
    nf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nf)
    return nf


def schedule(model, target):
    """The nodes that target depends on, in an order that runs them (module, input names, name): a
    straight-line forward as a hand-written nn.Module has, without the translator's per-call search."""
    by_name = {s["name"]: s for s in model.nf_nodes}
    order, seen = [], set(s["name"] for s in model.nf_inputs)

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        s = by_name[name]
        for i in s["inputs"]:
            visit(i)
        order.append((getattr(model, model.nf_shared.get(name, name)), s["inputs"], name))

    visit(target)
    return order


def run(steps, feeds):
    vals = dict(feeds)
    for module, inputs, name in steps:
        vals[name] = module(*[vals[i] for i in inputs])
    return vals[steps[-1][2]]


def random_feeds(model, batch, gen):
    """Feeds for every netfile input; class indices sized by the output of the loss's first input."""
    shapes = model.input_shapes(batch)
    feeds = {n: torch.randn(s, generator=gen) for n, s in shapes.items() if len(s) > 1}
    labels = [n for n, s in shapes.items() if len(s) == 1]
    if labels:
        with torch.no_grad():
            probe = dict(feeds, **{n: torch.zeros(s) for n, s in shapes.items() if len(s) == 1})
            vals = model(probe)
        for s in model.nf_nodes:
            for j, n in enumerate(s["inputs"]):
                if n not in labels or n in feeds:
                    continue
                if s["layer"] in ("cross_entropy", "nll_loss") and j == 1:
                    classes = vals[s["inputs"][0]].shape[1]
                    feeds[n] = torch.randint(0, classes, shapes[n], generator=gen).float()
                else:
                    feeds[n] = torch.randint(0, 2, shapes[n], generator=gen).float()
        missing = [n for n in labels if n not in feeds]
        if missing:
            raise SystemExit("torch_model_bench: no node reads input(s) %s" % ", ".join(missing))
    return feeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("netfile")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.iters < 1 or a.batch < 1 or a.warmup < 0:
        ap.error("--iters and --batch must be at least 1, --warmup at least 0")
    torch.set_num_threads(a.threads)
    model = translator().build(a.netfile, batch=2)  # materialises the Lazy modules, eval mode
    if model.nf_loss is None:
        raise SystemExit("torch_model_bench: %s has no loss node to train" % a.netfile)
    model.train()
    feeds = random_feeds(model, a.batch, torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    steps = schedule(model, model.nf_loss)
    times = []
    for i in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        loss = run(steps, feeds)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
        if not torch.isfinite(loss):
            raise SystemExit("torch_model_bench: %s: the loss is not finite at step %d" % (a.netfile, i + 1))
    med = statistics.median_high(times)  # the upper median, as clcnn bench takes t[iters / 2]
    print("model: %s; batch %d; %d threads; %d steps after %d untimed" % (a.netfile, a.batch, a.threads, a.iters,
                                                                         a.warmup))
    print("parameters: %d trainable" % sum(p.numel() for p in model.parameters() if p.requires_grad))
    print("training step: %.3f ms median (%.0f img/s)" % (med * 1e3, a.batch / med), flush=True)


if __name__ == "__main__":
    sys.exit(main())
