#!/usr/bin/python3
"""Golden fixtures for the pooling family (tests/data/golden/pool-*.txt), from Debian's torch 1.13.

The semantic traps: MaxPool2d stride defaulting to kernel_size, ceil_mode dropping a window that
would start in the right padding and clipping one that runs past the padded edge, dilation,
ties (the gradient goes to the first maximum in scan order), AvgPool2d's divisor with
count_include_pad both ways and divisor_override, AdaptiveAvg/MaxPool2d(1), and the anti-aliased
BlurPool / MaxBlurPool of Zhang 2019 written as the reference code does it (ReflectionPad2d etc.
+ F.conv2d with the normalised binomial filter, groups=C).

Run: /usr/bin/python3 tools/golden/pool.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import write_case  # noqa: E402

torch.manual_seed(20240613)


def run(name, op, args, module, x, comment, tol=1e-5):
    """Forward and backward through module with a random grad_out; writes the fixture."""
    x = x.clone().requires_grad_(True)
    y = module(x)
    g = torch.randn_like(y)
    y.backward(g)
    write_case(name, op, args, True, [x.detach()], grad_out=g, out=y.detach(), grad_in={0: x.grad},
               tol=tol, comment=comment)


# ---- the reference BlurPool (antialiased-cnns, models_lpf.Downsample), kept close to its code

def get_filter(filt_size):
    return np.array([[1.], [1., 1.], [1., 2., 1.], [1., 3., 3., 1.], [1., 4., 6., 4., 1.],
                     [1., 5., 10., 10., 5., 1.], [1., 6., 15., 20., 15., 6., 1.]][filt_size - 1])


def get_pad_layer(pad_type):
    return {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d, "zero": nn.ZeroPad2d}[pad_type]


class BlurPool(nn.Module):
    def __init__(self, channels, pad_type="reflect", filt_size=3, stride=2):
        super().__init__()
        self.filt_size = filt_size
        self.pad_sizes = [int(1. * (filt_size - 1) / 2), int(np.ceil(1. * (filt_size - 1) / 2)),
                          int(1. * (filt_size - 1) / 2), int(np.ceil(1. * (filt_size - 1) / 2))]
        self.stride = stride
        a = get_filter(filt_size)
        filt = torch.Tensor(a[:, None] * a[None, :])
        filt = filt / torch.sum(filt)
        self.register_buffer("filt", filt[None, None, :, :].repeat((channels, 1, 1, 1)))
        self.pad = get_pad_layer(pad_type)(self.pad_sizes)

    def forward(self, inp):
        if self.filt_size == 1:
            return inp[:, :, ::self.stride, ::self.stride]
        return F.conv2d(self.pad(inp), self.filt, stride=self.stride, groups=inp.shape[1])


def main():
    # ---- max pooling
    x = torch.randn(2, 2, 6, 5)
    run("pool-max-ceil-pad", "maxpool2d", "kernel_size=(3,2), stride=2, padding=1, ceil_mode=true",
        nn.MaxPool2d((3, 2), stride=2, padding=1, ceil_mode=True), x,
        "ceil_mode with padding: in height (k3 s2 p1, H=6) the last window runs past the padded edge;\n"
        "in width (k2 s2 p1, W=5) a 4th window would start in the right padding and is dropped")
    run("pool-max-default-stride", "maxpool2d", "kernel_size=2", nn.MaxPool2d(2), torch.randn(1, 3, 7, 9),
        "stride defaults to kernel_size; floor mode drops the last row and column")
    run("pool-max-dilation", "maxpool2d", "kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=true",
        nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True), torch.randn(1, 2, 8, 7),
        "dilation 2 with padding and ceil_mode")
    run("pool-max-dilation-hw", "maxpool2d", "kernel_size=(2,3), stride=1, dilation=(3,2)",
        nn.MaxPool2d((2, 3), stride=1, dilation=(3, 2)), torch.randn(2, 1, 7, 9),
        "different dilation per dimension, stride 1 (overlapping windows)")
    ties = torch.randint(0, 3, (1, 2, 5, 6)).float()
    run("pool-max-ties", "maxpool2d", "kernel_size=3, stride=1, padding=1", nn.MaxPool2d(3, stride=1, padding=1),
        ties, "values in {0,1,2}: many ties; the gradient goes to the first maximum in scan order")

    # ---- average pooling
    x = torch.randn(2, 2, 6, 5)
    run("pool-avg-ceil-pad", "avgpool2d", "kernel_size=(3,2), stride=2, padding=1, ceil_mode=true",
        nn.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True), x,
        "count_include_pad=True: divisor = window clipped to the padded input (the last row's\n"
        "window runs past the padded edge and counts 2 rows, not 3)")
    run("pool-avg-ceil-nocount", "avgpool2d",
        "kernel_size=(3,2), stride=2, padding=1, ceil_mode=true, count_include_pad=false",
        nn.AvgPool2d((3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False), x,
        "count_include_pad=False: divisor = window clipped to the real input")
    run("pool-avg-nocount-pad", "avgpool2d", "kernel_size=3, stride=2, padding=1, count_include_pad=false",
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), torch.randn(1, 3, 7, 8),
        "count_include_pad=False with padding, floor mode")
    run("pool-avg-divisor", "avgpool2d", "kernel_size=3, stride=2, padding=1, ceil_mode=true, divisor_override=5",
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, divisor_override=5), torch.randn(1, 2, 6, 5),
        "divisor_override replaces every divisor, including clipped border windows")
    run("pool-avg-default-stride", "avgpool2d", "kernel_size=(2,3)", nn.AvgPool2d((2, 3)), torch.randn(2, 1, 7, 8),
        "stride defaults to kernel_size")

    # ---- global pooling
    run("pool-global-avg", "global_avgpool2d", "", nn.AdaptiveAvgPool2d(1), torch.randn(2, 3, 5, 7),
        "AdaptiveAvgPool2d(1)")
    run("pool-global-max", "global_maxpool2d", "", nn.AdaptiveMaxPool2d(1), torch.randn(2, 3, 5, 7),
        "AdaptiveMaxPool2d(1)")
    run("pool-global-max-ties", "global_maxpool2d", "", nn.AdaptiveMaxPool2d(1),
        torch.randint(0, 3, (2, 2, 3, 4)).float(), "ties: the gradient goes to the first maximum")

    # ---- blur pooling: every filter size with reflect padding, then the other pad types
    for fs in range(1, 8):
        run("pool-blur-f%d-reflect" % fs, "blurpool2d", "filt_size=%d" % fs,
            BlurPool(2, "reflect", fs, 2), torch.randn(1, 2, 9, 8),
            "BlurPool(filt_size=%d, stride=2, reflect) as in antialiased-cnns" % fs)
    for fs, pad, stride, shape in [(2, "replicate", 2, (2, 2, 7, 6)), (3, "replicate", 2, (1, 3, 7, 9)),
                                   (5, "replicate", 3, (1, 2, 8, 7)), (4, "replicate", 2, (1, 2, 1, 5)),
                                   (2, "zero", 2, (2, 1, 7, 9)), (3, "zero", 1, (1, 2, 6, 5)),
                                   (5, "zero", 2, (1, 2, 7, 6)), (3, "reflect", 1, (1, 2, 5, 6))]:
        run("pool-blur-f%d-%s-s%d" % (fs, pad, stride), "blurpool2d",
            "filt_size=%d, stride=%d, pad_type=%s" % (fs, stride, pad), BlurPool(shape[1], pad, fs, stride),
            torch.randn(*shape), "BlurPool(filt_size=%d, stride=%d, %s)" % (fs, stride, pad))

    # ---- MaxBlurPool: MaxPool2d(kernel_size, stride=1) then BlurPool
    for k, fs, stride, pad, shape, ties_in in [(2, 3, 2, "reflect", (1, 2, 7, 9), False),
                                               (3, 4, 2, "replicate", (2, 1, 8, 7), False),
                                               ((2, 3), 5, 2, "zero", (1, 2, 7, 9), False),
                                               (2, 3, 2, "reflect", (1, 2, 6, 7), True)]:
        kt = k if isinstance(k, tuple) else (k, k)
        x = torch.randint(0, 3, shape).float() if ties_in else torch.randn(*shape)
        name = "pool-maxblur-k%dx%d-f%d-%s%s" % (kt[0], kt[1], fs, pad, "-ties" if ties_in else "")
        run(name, "maxblurpool2d", "kernel_size=(%d,%d), filt_size=%d, stride=%d, pad_type=%s" % (kt + (fs, stride, pad)),
            nn.Sequential(nn.MaxPool2d(kt, stride=1), BlurPool(shape[1], pad, fs, stride)), x,
            "MaxPool2d(%s, stride=1) + BlurPool(filt_size=%d, stride=%d, %s)%s"
            % (kt, fs, stride, pad, "; ties go to the first maximum" if ties_in else ""))


if __name__ == "__main__":
    main()
