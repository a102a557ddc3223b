#!/usr/bin/python3
"""PyTorch golden fixtures for conv2d and linear: tests/data/golden/conv-*.txt.

Pins the semantic traps of the family: output size with stride / dilation / padding, grouped and
depthwise channel mapping, asymmetric (top, bottom, left, right) padding (PyTorch has no such Conv2d
argument, so the expected values come from F.pad + an unpadded convolution), flip=true as the true
convolution (conv2d with weight.flip(2, 3)), padding='same' with an even kernel (PyTorch puts the odd
padding on the bottom / right), and linear's y = x W^T + b. Values are float32 numbers; torch
computes in float64, so the expected values carry no float32 error of their own.

Run: /usr/bin/python3 tools/golden/conv.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import write_case  # noqa: E402

torch.manual_seed(20261126)
TOL = 1e-5  # float32 sums of <= 200 products of values in [-1, 1]: error ~1e-6 relative to 1 + |y|


def f32(t):
    return t.float().double()


def rand(*shape):
    return f32(torch.rand(*shape) * 2 - 1)


def conv_case(name, args, xshape, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True, flip=False,
              pad4=None, comment=None):
    """pad4 = (top, bottom, left, right) applied with F.pad before an unpadded convolution."""
    kh, kw = (k, k) if isinstance(k, int) else k
    cin = xshape[1]
    x = rand(*xshape).requires_grad_(True)
    w = rand(cout, cin // groups, kh, kw).requires_grad_(True)
    b = rand(cout).requires_grad_(True) if bias else None
    xin = F.pad(x, (pad4[2], pad4[3], pad4[0], pad4[1])) if pad4 else x
    wk = w.flip(2, 3) if flip else w
    y = F.conv2d(xin, wk, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    g = rand(*y.shape)
    y.backward(g)
    params = {"weight": w.detach()}
    grads = {"weight": w.grad}
    if bias:
        params["bias"] = b.detach()
        grads["bias"] = b.grad
    write_case(name, "conv2d", args, True, [x.detach()], params=params, grad_out=g, out=y.detach(),
               grad_in={0: x.grad}, grad_param=grads, tol=TOL, comment=comment)


def linear_case(name, args, n, fin, fout, bias=True):
    lin = torch.nn.Linear(fin, fout, bias=bias).double()
    with torch.no_grad():
        lin.weight.copy_(rand(fout, fin))
        if bias:
            lin.bias.copy_(rand(fout))
    x = rand(n, fin).requires_grad_(True)
    y = lin(x)
    g = rand(*y.shape)
    y.backward(g)
    params = {"weight": lin.weight.detach()}
    grads = {"weight": lin.weight.grad}
    if bias:
        params["bias"] = lin.bias.detach()
        grads["bias"] = lin.bias.grad
    write_case(name, "linear", args, True, [x.detach()], params=params, grad_out=g, out=y.detach(),
               grad_in={0: x.grad}, grad_param=grads, tol=TOL, comment="torch.nn.Linear(%d, %d, bias=%s)" %
               (fin, fout, bias))


conv_case("conv-stride-dilation", "out_channels=4, kernel_size=(3,5), stride=(2,3), padding=(2,1), dilation=(2,1)",
          (2, 3, 11, 13), 4, (3, 5), stride=(2, 3), padding=(2, 1), dilation=(2, 1),
          comment="Conv2d(3, 4, (3,5), stride=(2,3), padding=(2,1), dilation=(2,1)): output 2x4x6x4")
conv_case("conv-groups", "out_channels=6, kernel_size=3, stride=2, padding=1, groups=2", (2, 4, 7, 9), 6, 3,
          stride=2, padding=1, groups=2,
          comment="groups=2: outputs 0-2 read input channels 0-1, outputs 3-5 read channels 2-3")
conv_case("conv-depthwise", "out_channels=6, kernel_size=3, padding=1, groups=3", (1, 3, 7, 5), 6, 3, padding=1,
          groups=3, comment="depthwise with multiplier 2: outputs 2c and 2c+1 read input channel c")
conv_case("conv-asymmetric-padding", "out_channels=3, kernel_size=3, stride=2, padding=(1,0,2,1)", (2, 2, 5, 9), 3,
          3, stride=2, pad4=(1, 0, 2, 1),
          comment="padding (top 1, bottom 0, left 2, right 1) = F.pad(x, (2, 1, 1, 0)) then conv2d")
conv_case("conv-flip", "out_channels=2, kernel_size=(3,2), padding=1, flip=true", (2, 2, 5, 6), 2, (3, 2),
          padding=1, flip=True, comment="flip=true: true convolution = F.conv2d(x, weight.flip(2, 3))")
conv_case("conv-same-even", "out_channels=3, kernel_size=4, padding=same", (2, 2, 6, 7), 3, 4, padding="same",
          comment="padding='same', kernel 4: 3 rows of padding, 1 on top and 2 at the bottom (same for columns)")
conv_case("conv-same-dilated", "out_channels=2, kernel_size=(4,2), dilation=(3,1), padding=same", (1, 2, 11, 5), 2,
          (4, 2), dilation=(3, 1), padding="same",
          comment="padding='same' with dilation 3: 9 rows of padding, 4 on top and 5 at the bottom")
conv_case("conv-1x1-valid-nobias", "out_channels=4, kernel_size=1, padding=valid, bias=false", (2, 3, 4, 5), 4, 1,
          padding="valid", bias=False, comment="1x1 convolution without bias")
linear_case("conv-linear", "out_features=5", 3, 7, 5)
linear_case("conv-linear-nobias", "out_features=4, bias=false", 2, 9, 4, bias=False)
