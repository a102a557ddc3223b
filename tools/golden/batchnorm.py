#!/usr/bin/python3
"""PyTorch golden fixtures for batchnorm2d / batchnorm1d: tests/data/golden/batchnorm-*.txt.

Pins the semantic traps: normalisation with the BIASED batch variance, running_var updated with the
UNBIASED one, momentum 0.1 meaning new = 0.9 * old + 0.1 * batch, momentum=None as a cumulative average
with factor 1 / num_batches_tracked (after the increment), eval with running statistics,
track_running_stats=False using batch statistics in eval too, and the training-mode gradient through
the batch statistics. Inputs are float32 values; torch computes in float64 so the expected values
carry no float32 error of their own.

Run: /usr/bin/python3 tools/golden/batchnorm.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import write_case  # noqa: E402

torch.manual_seed(20261126)


def f32(t):
    return t.float().double()


def case(name, cls, args, shape, train, momentum=0.1, eps=1e-5, affine=True, track=True, nbt=0, offset=0.5,
         comment=None, tol=2e-5):
    c = shape[1]
    bn = cls(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track).double()
    params = {}
    with torch.no_grad():
        if affine:
            bn.weight.copy_(f32(torch.rand(c) + 0.5))
            bn.bias.copy_(f32(torch.rand(c) * 2 - 1))
            params["weight"] = bn.weight.detach().clone()
            params["bias"] = bn.bias.detach().clone()
        if track:
            bn.running_mean.copy_(f32(torch.rand(c) * 2 - 1))
            bn.running_var.copy_(f32(torch.rand(c) * 1.5 + 0.5))
            bn.num_batches_tracked.fill_(nbt)
            params["running_mean"] = bn.running_mean.clone()
            params["running_var"] = bn.running_var.clone()
            params["num_batches_tracked"] = bn.num_batches_tracked.clone()
    # a per-channel offset so the mean is not ~0
    chan = torch.arange(c, dtype=torch.float64).reshape([1, c] + [1] * (len(shape) - 2))
    x = f32(torch.rand(shape) * 2 - 1 + offset * chan).requires_grad_(True)
    g = f32(torch.rand(shape) * 2 - 1)
    bn.train(train)
    y = bn(x)
    y.backward(g)
    after = {}
    if track:
        after = {"running_mean": bn.running_mean, "running_var": bn.running_var,
                 "num_batches_tracked": bn.num_batches_tracked}
    grad_param = {}
    if affine:
        grad_param = {"weight": bn.weight.grad, "bias": bn.bias.grad}
    write_case(name, cls.__name__.lower(), args, train, [x.detach()], params=params, grad_out=g, out=y.detach(),
               param_after=after, grad_in={0: x.grad}, grad_param=grad_param, tol=tol, comment=comment)


BN2, BN1 = torch.nn.BatchNorm2d, torch.nn.BatchNorm1d

case("batchnorm-2d-train", BN2, "", (2, 3, 5, 4), True,
     comment="BatchNorm2d(3) training step: biased var normalises, running_var gets the unbiased var\n"
             "(n/(n-1), n = 40), momentum 0.1, num_batches_tracked 0 -> 1, gradient through batch stats")
case("batchnorm-2d-train-cma", BN2, "momentum=none", (3, 2, 3, 5), True, momentum=None, nbt=3,
     comment="momentum=None: cumulative moving average, factor 1/num_batches_tracked = 1/4 after 3 -> 4")
case("batchnorm-2d-train-momentum", BN2, "momentum=0.3, eps=0.001", (1, 3, 7, 5), True, momentum=0.3,
     eps=1e-3, nbt=7, comment="momentum=0.3, eps=1e-3, batch of one sample (n = 35 per channel)")
case("batchnorm-2d-eval", BN2, "", (3, 3, 4, 6), False, nbt=5,
     comment="eval: running statistics, affine gradient; buffers unchanged")
case("batchnorm-2d-notrack-eval", BN2, "track_running_stats=false", (2, 3, 3, 5), False, track=False,
     comment="track_running_stats=False: eval normalises with batch statistics (and differentiates them)")
case("batchnorm-2d-noaffine-train", BN2, "affine=false", (2, 2, 5, 3), True, affine=False,
     comment="affine=False: no weight/bias")
case("batchnorm-1d-train", BN1, "", (6, 4), True,
     comment="BatchNorm1d(4) on (N, F) = (6, 4): per-feature statistics over the batch, unbiased n/(n-1) = 6/5")
case("batchnorm-1d-train-cma", BN1, "momentum=none", (5, 3), True, momentum=None, nbt=2,
     comment="BatchNorm1d momentum=None from num_batches_tracked = 2: factor 1/3")
case("batchnorm-1d-eval", BN1, "", (1, 5), False, nbt=9,
     comment="eval of a single sample (legal; training it is an error in PyTorch)")
case("batchnorm-1d-3d-train", BN1, "", (3, 2, 5), True,
     comment="BatchNorm1d on (N, C, L) = (3, 2, 5): statistics over N and L")
case("batchnorm-1d-train-wide", BN1, "", (7, 16), True, nbt=1,
     comment="BatchNorm1d(16): a feature count divisible by 8 (the device takes 8 features per work-item)")
