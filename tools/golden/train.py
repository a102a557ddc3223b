#!/usr/bin/python3
"""PyTorch golden fixtures for tests/train (run with Debian's /usr/bin/python3, torch 1.13).

Writes into tests/data/train/:
  optim.txt        torch.optim SGD / Adam / AdamW: a fixed parameter, fixed gradients for 6 steps,
                   the parameter after every step
  schedules.txt    the lr of every step of each torch.optim.lr_scheduler case
  torch-lenet5.safetensors / torch-lenet5.txt
                   state_dict of models/lenet5.net as torch.nn (seeded random weights), a fixed
                   input batch and the model's output for it
  torch-tiny-bn.safetensors / torch-tiny-bn.txt
                   the same for tests/data/train/tiny-bn.net after 3 training-mode batches, so the
                   running statistics and num_batches_tracked (I64) are not their initial values
  torch-siamese-tiny.safetensors / torch-siamese-tiny.txt
                   tests/data/train/siamese-tiny.net (three branches sharing one conv + batchnorm +
                   linear, share=, under a triplet loss) after 2 training-mode batches: one
                   training-mode forward and backward, with the loss, every parameter gradient and
                   the batchnorm buffers after that forward (updated once per branch)
  torch-resnet-keys.txt
                   key, dtype and shape of every state_dict entry of models/resnet.net as torch.nn

Text format: one record per line, "<key> <values...>", values printed with 9 significant digits
(float32 round-trips) or 17 (lrs, doubles). Needs `pip install --break-system-packages safetensors`.
"""
import importlib.util
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "train")

spec = importlib.util.spec_from_file_location("ctc", os.path.join(ROOT, "tools", "check-torch-checkpoint.py"))
ctc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ctc)


def vals(t, digits=9):
    return " ".join("%.*g" % (digits, v) for v in t.detach().double().reshape(-1).tolist())


def optim_cases():
    n, steps = 10, 6
    cases = [
        ("sgd_plain", dict(kind="sgd", lr=0.1)),
        ("sgd_momentum_dampening", dict(kind="sgd", lr=0.05, momentum=0.9, dampening=0.3)),
        ("sgd_nesterov_wd", dict(kind="sgd", lr=0.05, momentum=0.9, nesterov=1, weight_decay=0.01)),
        ("adam", dict(kind="adam", lr=0.01)),
        ("adam_l2", dict(kind="adam", lr=0.01, weight_decay=0.05, beta1=0.8, beta2=0.99, eps=1e-6)),
        ("adamw", dict(kind="adamw", lr=0.01, weight_decay=0.1)),
    ]
    lines = ["# torch.optim %s: parameter p0, then per step: gradient g, parameter after the step p" %
             torch.__version__]
    g = torch.Generator().manual_seed(1234)
    p0 = torch.randn(n, generator=g)
    grads = [torch.randn(n, generator=g) for _ in range(steps)]
    for name, c in cases:
        p = torch.nn.Parameter(p0.clone())
        kind = c["kind"]
        if kind == "sgd":
            opt = torch.optim.SGD([p], lr=c["lr"], momentum=c.get("momentum", 0), dampening=c.get("dampening", 0),
                                  nesterov=bool(c.get("nesterov", 0)), weight_decay=c.get("weight_decay", 0))
        else:
            cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
            opt = cls([p], lr=c["lr"], betas=(c.get("beta1", 0.9), c.get("beta2", 0.999)), eps=c.get("eps", 1e-8),
                      weight_decay=c.get("weight_decay", 0 if kind == "adam" else 0.01))
        full = dict(momentum=0, dampening=0, nesterov=0, weight_decay=0 if kind != "adamw" else 0.01, beta1=0.9,
                    beta2=0.999, eps=1e-8)
        full.update(c)
        lines.append("case %s" % name)
        lines.append("config " + " ".join("%s=%s" % (k, full[k]) for k in
                                          ["kind", "lr", "momentum", "dampening", "nesterov", "weight_decay", "beta1",
                                           "beta2", "eps"]))
        lines.append("p0 " + vals(p0))
        for gr in grads:
            p.grad = gr.clone()
            opt.step()
            lines.append("g " + vals(gr))
            lines.append("p " + vals(p))
    return lines


def schedule_cases():
    steps = 40
    base = 0.1
    lines = ["# torch.optim.lr_scheduler %s: lr of steps 0..%d" % (torch.__version__, steps - 1)]

    def record(cfg, make):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=base)
        sched = make(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        lines.append("sched base_lr=%r " % base + " ".join("%s=%s" % kv for kv in cfg.items()))
        lines.append("lr " + " ".join("%.17g" % v for v in lrs))

    S = torch.optim.lr_scheduler
    record(dict(kind="constant"), lambda o: S.LambdaLR(o, lambda s: 1.0))
    record(dict(kind="step", step_size=7, gamma=0.5), lambda o: S.StepLR(o, 7, 0.5))
    record(dict(kind="multistep", milestones="5,12,30", gamma=0.3), lambda o: S.MultiStepLR(o, [5, 12, 30], 0.3))
    record(dict(kind="cosine", total_steps=30, eta_min=0.001), lambda o: S.CosineAnnealingLR(o, 30, 0.001))
    record(dict(kind="onecycle", total_steps=40, pct_start=0.3, div_factor=25, final_div_factor=1e4),
           lambda o: S.OneCycleLR(o, base, total_steps=40, cycle_momentum=False))
    record(dict(kind="onecycle", total_steps=40, pct_start=0.25, div_factor=10, final_div_factor=100),
           lambda o: S.OneCycleLR(o, base, total_steps=40, pct_start=0.25, div_factor=10, final_div_factor=100,
                                  cycle_momentum=False))
    # warmup W = LinearLR(1/W .. 1 over W-1 steps) chained with the schedule
    record(dict(kind="step", step_size=10, gamma=0.1, warmup_steps=5),
           lambda o: S.ChainedScheduler([S.LinearLR(o, 1 / 5, 1.0, 4), S.StepLR(o, 10, 0.1)]))
    record(dict(kind="constant", warmup_steps=8),
           lambda o: S.LinearLR(o, 1 / 8, 1.0, 7))
    return lines


def torch_model(net, name, train_batches=0, grads=False):
    try:
        from safetensors.torch import save_file
    except ImportError:  # Debian has no python3-safetensors
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from safetensors_min import save_file
    torch.manual_seed(7)
    m = ctc.build(net)
    shapes = m.input_shapes(3)
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for k, v in m.state_dict().items():  # random weights, positive variances
            if v.dtype == torch.float32:
                v.copy_(torch.rand(v.shape, generator=g) + 0.5 if k.endswith("running_var") else
                        0.3 * torch.randn(v.shape, generator=g))
        m.train()
        for _ in range(train_batches):
            m({n: torch.randn(s, generator=g) for n, s in shapes.items() if len(s) > 1}, upto=m.nf_output)
    m.train(grads)
    feeds = {n: torch.randn(s, generator=g) for n, s in shapes.items() if len(s) > 1}
    sd = {k: v.contiguous().clone() for k, v in m.state_dict().items()}
    save_file(sd, os.path.join(OUT, name + ".safetensors"))
    mode = "training-mode output, loss, parameter gradients and buffers after the step" if grads else "eval-mode output"
    lines = ["# %s as torch.nn (tools/golden/train.py): %s for a fixed batch" % (os.path.basename(net), mode)]
    if grads:  # the judge in float64
        m.double()
        out = m({k: v.double() for k, v in feeds.items()})
        out[m.nf_loss].backward()
        lines.append("mode train")
        lines.append("loss %s scalar %s" % (m.nf_loss, vals(out[m.nf_loss])))
        lines += ["grad %s %s %s" % (k, "x".join(str(d) for d in p.shape), vals(p.grad))
                  for k, p in m.named_parameters()]
        lines += ["buffer %s %s %s" % (k, "x".join(str(d) for d in b.shape), vals(b))
                  for k, b in m.named_buffers() if b.dtype == torch.float64]
        out = out[m.nf_output]
    else:
        with torch.no_grad():
            out = m(feeds, upto=m.nf_output)
    for n, x in feeds.items():
        lines.append("input %s %s %s" % (n, "x".join(str(d) for d in x.shape), vals(x)))
    lines.append("output %s %s %s" % (m.nf_output, "x".join(str(d) for d in out.shape), vals(out)))
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def keys_fixture(net, name):
    """state_dict keys, dtypes and shapes of a netfile's torch.nn model (what a checkpoint must have)."""
    m = ctc.build(net)
    lines = ["# state_dict of %s as torch.nn: key dtype shape" % os.path.basename(net)]
    for k, v in m.state_dict().items():
        dtype = {torch.float32: "F32", torch.int64: "I64"}[v.dtype]
        lines.append("%s %s %s" % (k, dtype, "x".join(str(d) for d in v.shape) if v.dim() else "scalar"))
    with open(os.path.join(OUT, name), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "optim.txt"), "w") as f:
        f.write("\n".join(optim_cases()) + "\n")
    with open(os.path.join(OUT, "schedules.txt"), "w") as f:
        f.write("\n".join(schedule_cases()) + "\n")
    torch_model(os.path.join(ROOT, "models", "lenet5.net"), "torch-lenet5")
    torch_model(os.path.join(OUT, "tiny-bn.net"), "torch-tiny-bn", train_batches=3)
    torch_model(os.path.join(OUT, "siamese-tiny.net"), "torch-siamese-tiny", train_batches=2, grads=True)
    keys_fixture(os.path.join(ROOT, "models", "resnet.net"), "torch-resnet-keys.txt")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
