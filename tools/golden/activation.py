#!/usr/bin/python3
"""PyTorch golden fixtures for the activations and softmax family: tests/data/golden/activation-*.txt.

Pins the semantic traps: softplus's switch to linear exactly where beta * x > threshold (beta 2), the
kink values of leaky_relu / elu / hardtanh (gradient only strictly inside the hardtanh edges),
logsigmoid at x = +-100 (stable form), gelu's exact erf form against its tanh approximation,
logsoftmax with large values (subtract the max), softmax / softmin over a non-channel dim, and
prelu's per-channel weight gradient. Inputs are float32 values; torch computes in float64, so the
expected values carry no float32 error of their own.

Run: /usr/bin/python3 tools/golden/activation.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import write_case  # noqa: E402

torch.manual_seed(20261126)


def f32(t):
    return t.float().double()


def case(name, op, args, fn, x, params=None, tol=1e-5, comment=None):
    """fn(x, *params) in float64; grad_out uniform in [-1, 1] (float32 values)."""
    x = f32(x).requires_grad_(True)
    plist = [f32(p).requires_grad_(True) for p in (params or {}).values()]
    y = fn(x, *plist)
    g = f32(torch.rand(y.shape) * 2 - 1)
    y.backward(g)
    write_case(name, op, args, True, [x.detach()],
               params={k: p.detach() for k, p in zip((params or {}).keys(), plist)},
               grad_out=g, out=y.detach(), grad_in={0: x.grad},
               grad_param={k: p.grad for k, p in zip((params or {}).keys(), plist)} or None,
               tol=tol, comment=comment)


def main():
    # softplus, beta 2: linear only where 2x > threshold; exactly at the threshold it is smooth.
    x = torch.tensor([[9.5, 10.0, 10.000001, 10.5, 30.0, 0.0, -3.0, -60.0]])
    case("activation-softplus-beta2", "softplus", "beta=2", lambda t: F.softplus(t, beta=2), x,
         comment="beta=2, threshold=20: x = 10 is on the log1p branch, 10.000001 on the linear one")
    x = torch.tensor([[0.5, 0.50000006, 0.49999997, 0.75, -0.5, 2.0]])
    case("activation-softplus-beta2-threshold1", "softplus", "beta=2, threshold=1",
         lambda t: F.softplus(t, beta=2, threshold=1), x,
         comment="the output jumps at x = 0.5 (log1p(e) / 2 = 0.657 vs 0.5): PyTorch's branch choice")

    x = torch.tensor([[-100.0, 100.0, -20.0, 20.0, 0.0, -1.0, 1.0, -88.0, 88.0]])
    case("activation-logsigmoid-large", "logsigmoid", "", F.logsigmoid, x,
         comment="min(x, 0) - log1p(exp(-|x|)): -100 -> -100 with gradient 1, 100 -> -3.7e-44")

    x = torch.cat([torch.linspace(-6, 6, 25), torch.tensor([-10.0, 10.0, -0.5, 0.5, 0.0])]).reshape(1, 2, 3, 5)
    case("activation-gelu-none", "gelu", "approximate=none", lambda t: F.gelu(t), x,
         comment="exact form 0.5 x (1 + erf(x / sqrt 2)); differs from the tanh form by up to ~1e-3")
    case("activation-gelu-tanh", "gelu", "approximate=tanh", lambda t: F.gelu(t, approximate="tanh"), x,
         comment="0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))")

    x = torch.tensor([[-0.5, 0.25, 0.0, -1.0, 1.0, -0.49999997, 0.24999999]])
    case("activation-hardtanh-edges", "hardtanh", "min_val=-0.5, max_val=0.25",
         lambda t: F.hardtanh(t, -0.5, 0.25), x,
         comment="gradient passes only strictly inside (min_val, max_val): 0 at both edges")
    x = torch.tensor([[-1.0, 1.0, 0.0, -2.0, 2.0, 0.999]])
    case("activation-hardtanh-default", "hardtanh", "", F.hardtanh, x, comment="defaults -1, 1; edges get 0")

    x = torch.tensor([[-1.0, 0.0, 2.0, -0.0, 3.0]])
    case("activation-leaky-relu-kink", "leaky_relu", "negative_slope=0.2",
         lambda t: F.leaky_relu(t, 0.2), x, comment="x > 0 ? g : slope * g, so the slope at 0")
    case("activation-relu-kink", "relu", "", F.relu, x, comment="relu'(0) = 0")
    case("activation-elu-kink", "elu", "alpha=1.5", lambda t: F.elu(t, alpha=1.5), x,
         comment="x <= 0 ? alpha exp(x) g : g, so alpha at 0")

    # logsoftmax with large values: exp(x) alone overflows float32 at 88.
    x = torch.tensor([[1000.0, 0.0, -1000.0, 999.0, 50.0],
                      [-45.0, 38.0, 31.0, -49.0, 42.0],
                      [88.5, 89.0, 90.0, -90.0, 0.0]])
    case("activation-logsoftmax-large", "logsoftmax", "", lambda t: F.log_softmax(t, dim=1), x,
         comment="(x - max) - log(sum(exp(x - max))) over the features")
    x = (torch.rand(2, 3, 4, 5) * 2 - 1) * 50
    case("activation-logsoftmax-large-4d", "logsoftmax", "dim=1", lambda t: F.log_softmax(t, dim=1), x,
         comment="over channels (strided dim) with |x| up to 50")
    x = torch.rand(2, 3, 4, 5) * 4 - 2
    case("activation-softmax-dim2", "softmax", "dim=2", lambda t: F.softmax(t, dim=2), x,
         comment="over H of NCHW")
    case("activation-softmin-dim-1", "softmin", "dim=-1", lambda t: F.softmin(t, dim=-1), x,
         comment="softmin = softmax(-x) over W")

    x = torch.rand(2, 3, 4, 5) * 2 - 1
    x[0, 1, 2, 3] = 0.0
    case("activation-prelu-per-channel", "prelu", "num_parameters=3",
         lambda t, w: F.prelu(t, w), x, params={"weight": torch.tensor([0.25, -0.1, 0.5])},
         comment="weight gradient per channel: sum over N, H, W of x * g where x <= 0")
    case("activation-prelu-shared", "prelu", "", lambda t, w: F.prelu(t, w), x,
         params={"weight": torch.tensor([0.25])}, comment="one weight shared by every channel")
    x = torch.rand(3, 7) * 2 - 1
    case("activation-prelu-2d", "prelu", "num_parameters=7", lambda t, w: F.prelu(t, w), x,
         params={"weight": torch.rand(7) - 0.5}, comment="(N, F) input: the channel is the feature")


if __name__ == "__main__":
    main()
