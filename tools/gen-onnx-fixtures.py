#!/usr/bin/python3
"""Generate the ONNX import fixtures in tests/data/onnx/ from PyTorch, and check them with ONNX Runtime.

    tools/gen-onnx-fixtures.py                 writes the small, committed fixtures into tests/data/onnx/
    tools/gen-onnx-fixtures.py --big --out DIR also writes the large ones (torchvision's ResNet-18 and the
                                               shipped models whose weights exceed the committed budget) into DIR
    tools/gen-onnx-fixtures.py --only NAME...  only these fixtures (names as listed by --list)
    tools/gen-onnx-fixtures.py --list          the fixture names and what each covers

For each fixture NAME it writes NAME.onnx and NAME.io.safetensors. The latter holds "input.<onnx input name>"
(a batch of random float32 inputs), "output.<onnx output name>" (PyTorch's eval-mode outputs on that input) and,
for the training-mode exports, "train_output.<onnx output name>" (model.train() on the same input: batch
statistics in BatchNormalization). The metadata holds the opset, the ops, and ONNX Runtime's max abs/rel error
against PyTorch, so a test can tell a clcnn disagreement from a runtime one.

Every export is checked with onnx.checker and run with ONNX Runtime; the last column of the printed table is
ORT's agreement with PyTorch (a disagreement is reported, not hidden, and the expected outputs stay PyTorch's).
A few fixtures are written with onnx.helper because PyTorch 1.13 cannot export those forms (asymmetric Conv
pads, auto_pad, Dropout/Identity/Constant nodes, Gemm alpha/beta/transB=0); their expected outputs still come
from PyTorch's functional ops.

Needs /usr/bin/python3 with python3-torch 1.13, python3-torchvision, python3-onnx and pip's onnxruntime
(tools/deps.sh --onnx installs them without replacing Debian's numpy). Seeds are fixed, so reruns give the
same tensors (the .onnx bytes may differ only if the exporter changes). The test suite never runs this.
"""
import argparse
import copy
import io
import os
import sys
import warnings
from collections import OrderedDict

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

try:
    from safetensors.torch import save_file
except ImportError:  # Debian packages no safetensors: the standard-library writer in this folder
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from safetensors_min import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 3


# ---------------------------------------------------------------------------------------------- models


def randomise(model, seed):
    """Random weights and, unlike PyTorch's defaults (mean 0, var 1), random BatchNorm statistics and
    affine parameters, so that a wrong epsilon, folding or statistic shows in the outputs."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
            m.num_batches_tracked.fill_(5)
        if isinstance(m, nn.PReLU):
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) * 0.5)
    return model


class ConvVariants(nn.Module):
    """Conv with groups, dilation, stride, rectangular kernel and per-axis padding."""

    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(4, 6, 3, stride=2, padding=(1, 2), groups=2)
        self.dilated = nn.Conv2d(6, 4, (3, 2), dilation=(2, 1), padding=(2, 0), bias=False)

    def forward(self, x):
        return self.dilated(self.grouped(x))


class PadConv(nn.Module):
    """F.pad with asymmetric amounts, then Conv: PyTorch never folds the pad into Conv's pads, and with a
    dynamic batch 1.13 computes Pad's pads input through a ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast
    chain rather than one Constant (an importer must fold constants to read it)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)

    def forward(self, x):
        return self.conv(F.pad(x, (1, 0, 2, 1)))  # (left, right, top, bottom)


class MaxPools(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.ceil = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.dilated = nn.MaxPool2d(2, stride=1, dilation=2)

    def forward(self, x):
        return self.dilated(self.ceil(self.conv(x)))


class AvgPools(nn.Module):
    """count_include_pad=True (PyTorch exports Pad + AveragePool with zero pads) and count_include_pad=False;
    with ceil also windows that overhang the padded input (where runtimes differ on the divisor): a third
    output with count_include_pad=True and ceil_mode, a fourth with ceil_mode and no padding."""

    def __init__(self, ceil):
        super().__init__()
        self.ceil = ceil
        self.include = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.exclude = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=ceil)
        self.include_ceil = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True, ceil_mode=True)
        self.nopad_ceil = nn.AvgPool2d(2, stride=2, ceil_mode=True)

    def forward(self, x):
        if not self.ceil:
            return self.include(x), self.exclude(x)
        return self.include(x), self.exclude(x), self.include_ceil(x), self.nopad_ceil(x)


class GlobalPools(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.gmp = nn.AdaptiveMaxPool2d(1)
        self.flat = nn.Flatten()

    def forward(self, x):
        y = self.conv(x)
        return self.flat(torch.cat([self.gap(y), self.gmp(y)], dim=1))


class Activations(nn.Module):
    """Each activation on its own copy of a conv's output, concatenated along channels."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.acts = nn.ModuleList([nn.ReLU(), nn.LeakyReLU(0.1), nn.PReLU(3), nn.Sigmoid(), nn.Tanh(),
                                   nn.Softplus(), nn.ELU(alpha=0.7), nn.GELU()])

    def forward(self, x):
        y = self.conv(x) * 2.0  # a wider range, so the curves' tails matter
        return torch.cat([a(y) for a in self.acts], dim=1)


class Softmaxes(nn.Module):
    """Softmax and LogSoftmax over classes of a 2-D input (opset < 13 coerces to 2-D; 13+ uses one axis)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 7)

    def forward(self, x):
        y = self.fc(x) * 3.0
        return F.softmax(y, dim=1), F.log_softmax(y, dim=1)


class FlattenView(nn.Module):
    """x.view(x.size(0), -1): with a dynamic batch, Shape -> Gather -> Unsqueeze -> Concat -> Reshape;
    nn.Flatten on the second branch gives Flatten. Then Linear -> Gemm."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.fc_view = nn.Linear(3 * 4 * 4, 5)
        self.fc_flat = nn.Linear(3 * 4 * 4, 5)
        self.flat = nn.Flatten()

    def forward(self, x):
        y = F.relu(self.conv(x))
        return self.fc_view(y.view(y.size(0), -1)) + self.fc_flat(self.flat(y))


class Linear3d(nn.Module):
    """Linear on a 3-D input: MatMul + Add (Gemm is 2-D only)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        return self.fc(x)


class BatchNorms(nn.Module):
    """BatchNorm2d after a Conv (folded into the Conv on eval export), BatchNorm2d after a pool (not
    foldable: a BatchNormalization node) and BatchNorm1d after a Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn_conv = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.bn_pool = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 6, bias=False)
        self.bn_fc = nn.BatchNorm1d(6, eps=1e-3)

    def forward(self, x):
        y = self.bn_pool(self.pool(F.relu(self.bn_conv(self.conv(x)))))
        return self.bn_fc(self.fc(torch.flatten(y, 1)))


class Residual(nn.Module):
    """A residual block (Add), a Dropout (eval: removed by the exporter) and an Identity (no node)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 3, 3, padding=1)
        self.c2 = nn.Conv2d(3, 3, 3, padding=1)
        self.drop = nn.Dropout(0.5)
        self.ident = nn.Identity()

    def forward(self, x):
        y = self.c2(F.relu(self.c1(x)))
        return F.relu(self.ident(self.drop(y)) + x)


class MobileNetish(nn.Module):
    """MobileNetV2-style: stem, inverted residuals with depthwise (groups=C) 3x3 convs and BN (folded on
    eval export), a strided block, global average pool, classifier."""

    def __init__(self, c=8, classes=5):
        super().__init__()

        def block(cin, cexp, cout, stride):
            return nn.Sequential(
                nn.Conv2d(cin, cexp, 1, bias=False), nn.BatchNorm2d(cexp), nn.ReLU(),
                nn.Conv2d(cexp, cexp, 3, stride=stride, padding=1, groups=cexp, bias=False),
                nn.BatchNorm2d(cexp), nn.ReLU(),
                nn.Conv2d(cexp, cout, 1, bias=False), nn.BatchNorm2d(cout))

        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.b1 = block(c, 2 * c, c, 1)   # residual
        self.b2 = block(c, 2 * c, 2 * c, 2)
        self.b3 = block(2 * c, 4 * c, 2 * c, 1)  # residual
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * c, classes))

    def forward(self, x):
        x = self.stem(x)
        x = x + self.b1(x)
        x = self.b2(x)
        x = x + self.b3(x)
        return self.head(x)


class TrainBN(nn.Module):
    """For the training-mode export: BatchNormalization with training_mode=1 uses batch statistics."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(F.relu(self.bn(self.conv(x)))), 1))


# clcnn's shipped models (models/*.net), re-created layer for layer, each module named as its netfile statement,
# so the ONNX node and initializer names ("/c1/Conv", "c1.weight") are the netfile's and a test can hold clcnn's
# node outputs and parameters against them by name (BatchNorm folded into a Conv on eval export is the
# exception: the folded weights get exporter names).

def named(*pairs):
    return nn.Sequential(OrderedDict(pairs))


def lenet5():
    return named(("c1", nn.Conv2d(1, 6, 5, padding=2)), ("r1", nn.ReLU()), ("p1", nn.MaxPool2d(2)),
                 ("c3", nn.Conv2d(6, 16, 5)), ("r3", nn.ReLU()), ("p3", nn.MaxPool2d(2)), ("flat", nn.Flatten()),
                 ("fc5", nn.Linear(400, 120)), ("r5", nn.ReLU()), ("fc6", nn.Linear(120, 84)), ("r6", nn.ReLU()),
                 ("fc7", nn.Linear(84, 10)))


def mlp_csv():
    return named(("fc1", nn.Linear(8, 64)), ("r1", nn.ReLU()), ("fc2", nn.Linear(64, 64)), ("r2", nn.ReLU()),
                 ("fc3", nn.Linear(64, 3)))


def conv_bn_relu_pool(i, cin, cout, bn="bn"):
    return [(f"c{i}", nn.Conv2d(cin, cout, 3, padding=1, bias=False)), (f"{bn}{i}", nn.BatchNorm2d(cout)),
            (f"r{i}", nn.ReLU()), (f"p{i}", nn.MaxPool2d(2))]


def fmnist(dropout=0.0):
    layers = conv_bn_relu_pool(1, 1, 32) + conv_bn_relu_pool(2, 32, 64) + [
        ("flat", nn.Flatten()), ("fc1", nn.Linear(3136, 256)), ("r3", nn.ReLU())]
    return named(*(layers + ([("drop", nn.Dropout(dropout))] if dropout else []) + [("fc2", nn.Linear(256, 10))]))


def cifar10():
    return named(*(conv_bn_relu_pool(1, 3, 32) + conv_bn_relu_pool(2, 32, 64) + conv_bn_relu_pool(3, 64, 128) +
                   [("flat", nn.Flatten()), ("fc1", nn.Linear(2048, 256)), ("r4", nn.ReLU()),
                    ("fc2", nn.Linear(256, 10))]))


def vgg_bn():
    def cbr(b, j, cin, cout):
        return [(f"b{b}c{j}", nn.Conv2d(cin, cout, 3, padding=1, bias=False)), (f"b{b}n{j}", nn.BatchNorm2d(cout)),
                (f"b{b}r{j}", nn.ReLU())]
    return named(*(cbr(1, 1, 1, 32) + cbr(1, 2, 32, 32) + [("b1p", nn.MaxPool2d(2))] + cbr(2, 1, 32, 64) +
                   cbr(2, 2, 64, 64) + [("b2p", nn.MaxPool2d(2))] + cbr(3, 1, 64, 128) +
                   [("b3p", nn.MaxPool2d(2)), ("flat", nn.Flatten()), ("fc1", nn.Linear(1152, 256, bias=False)),
                    ("fn1", nn.BatchNorm1d(256)), ("fr1", nn.ReLU()), ("drop", nn.Dropout(0.5)),
                    ("fc2", nn.Linear(256, 10))]))


class ClcnnResnet(nn.Module):
    """models/resnet.net, its convolutions and batchnorms named as the netfile's statements."""

    def __init__(self):
        super().__init__()
        spec = [("stem", 1, 32, 3), ("b1a", 32, 32, 3), ("b1b", 32, 32, 3), ("b2a", 32, 64, 3), ("b2b", 64, 64, 3),
                ("b2p", 32, 64, 1), ("b3a", 64, 128, 3), ("b3b", 128, 128, 3), ("b3p", 64, 128, 1)]
        for name, cin, cout, k in spec:
            setattr(self, name, nn.Conv2d(cin, cout, k, padding=k // 2, bias=False))
            setattr(self, name + "_bn", nn.BatchNorm2d(cout))
        self.fc = nn.Linear(128, 10)

    def cb(self, name, x):
        return getattr(self, name + "_bn")(getattr(self, name)(x))

    def forward(self, x):
        s = F.relu(self.cb("stem", x))
        b1 = F.relu(self.cb("b1b", F.relu(self.cb("b1a", s))) + s)
        p1 = F.max_pool2d(b1, 2)
        b2 = F.relu(self.cb("b2b", F.relu(self.cb("b2a", p1))) + self.cb("b2p", p1))
        p2 = F.max_pool2d(b2, 2)
        b3 = F.relu(self.cb("b3b", F.relu(self.cb("b3a", p2))) + self.cb("b3p", p2))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(b3, 1), 1))


def resnet18():
    import torchvision
    return torchvision.models.resnet18(weights=None, num_classes=10)


# ------------------------------------------------------------------------------- hand-built graphs


def init(name, t):
    return numpy_helper.from_array(np.ascontiguousarray(t.detach().numpy()), name)


def conv_asym(seed):
    """Conv forms PyTorch never exports: asymmetric pads, auto_pad SAME_UPPER (stride 2) and SAME_LOWER.
    The reference is F.pad + conv2d."""
    g = torch.Generator().manual_seed(seed)
    w1, b1 = torch.randn(3, 2, 3, 3, generator=g) * 0.3, torch.randn(3, generator=g) * 0.1
    w2, w3 = torch.randn(4, 3, 2, 3, generator=g) * 0.3, torch.randn(2, 4, 2, 2, generator=g) * 0.3
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], name="asym", pads=[1, 0, 2, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], name="same_upper", auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("Conv", ["c2", "w3"], ["output"], name="same_lower", auto_pad="SAME_LOWER"),
    ]

    def same(x, w, stride, upper):
        pads = []
        for d in (3, 2):  # W then H, F.pad's order
            size, k = x.shape[d], w.shape[d]
            total = max((-(-size // stride) - 1) * stride + k - size, 0)
            small = total // 2
            pads += [small, total - small] if upper else [total - small, small]
        return F.conv2d(F.pad(x, pads), w, stride=stride)

    def ref(x):
        c1 = F.conv2d(F.pad(x, (0, 1, 1, 2)), w1, b1)  # ONNX pads [top, left, bottom, right] = [1, 0, 2, 1]
        return {"output": same(same(c1, w2, 2, True), w3, 1, False)}

    graph = helper.make_graph(nodes, "conv_asym",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 7, 6])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2, 4, 3])],
                              [init("w1", w1), init("b1", b1), init("w2", w2), init("w3", w3)])
    return graph, ref, (2, 7, 6)


def misc_ops(seed, opset):
    """Identity, Dropout (inference: ratio as an attribute before opset 12, an input from 12), a Constant
    shape feeding Reshape (0 = copy the batch dimension), Flatten(axis=1), Gemm with alpha/beta and
    transB=1, Gemm with transB=0 (weight stored [in, out]), Relu."""
    g = torch.Generator().manual_seed(seed)
    wa, ba = torch.randn(6, 48, generator=g) * 0.2, torch.randn(6, generator=g) * 0.1
    wb, bb = torch.randn(48, 6, generator=g) * 0.2, torch.randn(1, 6, generator=g) * 0.1
    inits = [init("wa", wa), init("ba", ba), init("wb", wb), init("bb", bb)]
    if opset >= 12:
        inits.append(numpy_helper.from_array(np.array(0.5, dtype=np.float32), "ratio"))
        drop = helper.make_node("Dropout", ["id", "ratio"], ["dropped"], name="drop")
    else:
        drop = helper.make_node("Dropout", ["id"], ["dropped"], name="drop", ratio=0.5)
    shape = numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape_value")
    nodes = [
        helper.make_node("Identity", ["input"], ["id"], name="ident"),
        drop,
        helper.make_node("Constant", [], ["shape"], name="shape_const", value=shape),
        helper.make_node("Reshape", ["dropped", "shape"], ["reshaped"], name="reshape"),
        helper.make_node("Flatten", ["dropped"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["reshaped", "wa", "ba"], ["ga"], name="gemm_a", alpha=0.5, beta=2.0, transB=1),
        helper.make_node("Gemm", ["flat", "wb", "bb"], ["gb"], name="gemm_b"),
        helper.make_node("Add", ["ga", "gb"], ["sum"], name="add"),
        helper.make_node("Relu", ["sum"], ["output"], name="relu"),
    ]

    def ref(x):
        f = x.reshape(x.shape[0], -1)
        return {"output": F.relu(0.5 * f @ wa.t() + 2.0 * ba + f @ wb + bb)}

    graph = helper.make_graph(nodes, "misc_ops",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 4, 4])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 6])], inits)
    return graph, ref, (3, 4, 4)


def global_pools(seed):
    """GlobalMaxPool and GlobalAveragePool nodes (PyTorch exports AdaptiveMaxPool2d(1) as MaxPool), then
    Concat along channels and Flatten."""
    nodes = [
        helper.make_node("GlobalMaxPool", ["input"], ["gmp"], name="gmp"),
        helper.make_node("GlobalAveragePool", ["input"], ["gap"], name="gap"),
        helper.make_node("Concat", ["gmp", "gap"], ["cat"], name="cat", axis=1),
        helper.make_node("Flatten", ["cat"], ["output"], name="flatten"),
    ]

    def ref(x):
        return {"output": torch.cat([x.amax(dim=(2, 3)), x.mean(dim=(2, 3))], dim=1)}

    graph = helper.make_graph(nodes, "global_pools",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 5, 6])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 6])])
    return graph, ref, (3, 5, 6)


def avgpool_attrs(seed):
    """AveragePool as other exporters write it: count_include_pad=1 as an attribute with pads (PyTorch 1.13
    writes an explicit Pad instead), and the same with ceil_mode=1, where a last window overhangs the padded
    input (the last column's window covers input column 9, pad column 10 and column 11 beyond both). The
    reference is PyTorch's avg_pool2d, whose divisor is the window clipped to the padded input (2 there, not 3);
    older ONNX Runtime divided such windows by the full kernel (microsoft/onnxruntime#16203), 1.32 agrees."""
    nodes = [
        helper.make_node("AveragePool", ["input"], ["output0"], name="include_pad", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
        helper.make_node("AveragePool", ["input"], ["output1"], name="include_pad_ceil", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1, ceil_mode=1),
    ]

    def ref(x):
        return {"output0": F.avg_pool2d(x, 3, 2, 1, count_include_pad=True),
                "output1": F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)}

    graph = helper.make_graph(nodes, "avgpool_attrs",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 9, 10])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", 2, 5, 5]),
                               helper.make_tensor_value_info("output1", TensorProto.FLOAT, ["N", 2, 5, 6])])
    return graph, ref, (2, 9, 10)


# ------------------------------------------------------------------------------- fixture list

# name: (builder, input shape without batch, opsets, ops covered, train)
TORCH_FIXTURES = {
    "conv_variants": (ConvVariants, (4, 9, 10), [14], "Conv (groups=2, stride 2, pads (1,2)), Conv (dilations (2,1), kernel 3x2, no bias)"),
    "pad_conv": (PadConv, (2, 6, 7), [14], "Pad (asymmetric, constant 0; pads computed by ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast) + Conv"),
    "maxpool": (MaxPools, (2, 9, 9), [11, 14], "Conv 1x1, MaxPool (ceil_mode, pads), MaxPool (dilations)"),
    "avgpool": (lambda: AvgPools(False), (2, 9, 10), [11, 14], "Pad + AveragePool (count_include_pad=True), AveragePool (count_include_pad=False, pads); 2 outputs"),
    "avgpool_ceil": (lambda: AvgPools(True), (2, 9, 10), [14], "Pad + AveragePool (count_include_pad=True), AveragePool (count_include_pad=False, ceil_mode=1, pads), Pad + AveragePool (count_include_pad=True, ceil_mode=1), AveragePool (kernel 2, ceil_mode=1, odd size); 4 outputs"),
    "global_pool": (GlobalPools, (3, 5, 6), [14], "Conv, GlobalAveragePool, MaxPool (PyTorch 1.13 exports AdaptiveMaxPool2d(1) as a MaxPool over the whole static size, not GlobalMaxPool), Concat, Flatten"),
    "activations": (Activations, (2, 5, 5), [11, 14, 17], "Conv, Mul (by a constant), Relu, LeakyRelu, PRelu, Sigmoid, Tanh, Softplus, Elu, GELU as Div/Erf/Add/Mul, Concat"),
    "softmax": (Softmaxes, (12,), [11, 13], "Gemm, Mul, Softmax, LogSoftmax (axis 1 of 2-D); 2 outputs"),
    "flatten_view": (FlattenView, (2, 6, 6), [11, 14], "Conv, Relu, Shape/Gather/Unsqueeze/Concat/Reshape (x.view(x.size(0), -1)), Flatten, Gemm, Add"),
    "linear3d": (Linear3d, (4, 6), [14], "MatMul + Add (Linear on a 3-D input [N, 4, 6])"),
    "batchnorm": (BatchNorms, (2, 6, 6), [14], "Conv with BatchNorm2d folded in, Relu, MaxPool, BatchNormalization (4-D, inference), Flatten, MatMul (a bias-free Linear), BatchNormalization (2-D, eps 1e-3)"),
    "residual": (Residual, (3, 5, 5), [14], "Conv, Relu, Add (residual); the eval-mode Dropout and Identity leave no node"),
    "mobilenet_dw": (MobileNetish, (3, 32, 32), [14], "Conv (stride 2; depthwise groups=C; 1x1) with BN folded, Relu, Add, GlobalAveragePool, Flatten, Gemm"),
    "lenet5": (lenet5, (1, 28, 28), [11, 13, 14, 17], "models/lenet5.net: Conv, Relu, MaxPool, Flatten, Gemm"),
    "mlp_csv": (mlp_csv, (8,), [14], "models/mlp-csv.net: Gemm, Relu"),
}
TRAIN_FIXTURES = {
    "batchnorm_train": (TrainBN, (2, 6, 6), [14, 15], "Conv, BatchNormalization (training_mode=1), Relu, MaxPool, Flatten, Gemm"),
}
HAND_FIXTURES = {
    "conv_asym": (conv_asym, 14, "Conv (pads [1,0,2,1]), Conv (auto_pad SAME_UPPER, stride 2), Conv (auto_pad SAME_LOWER); hand-built"),
    "avgpool_attrs": (avgpool_attrs, 14, "AveragePool (pads 1, count_include_pad=1), AveragePool (pads 1, count_include_pad=1, ceil_mode=1: a window overhanging the padded input); 2 outputs; hand-built"),
    "global_maxpool": (global_pools, 14, "GlobalMaxPool, GlobalAveragePool, Concat, Flatten; hand-built"),
    "misc_ops": (lambda s: misc_ops(s, 13), 13, "Identity, Dropout (ratio input), Constant, Reshape (shape [0,-1]), Flatten, Gemm (alpha 0.5, beta 2, transB=1), Gemm (transB=0), Add, Relu; hand-built"),
    "misc_ops_opset11": (lambda s: misc_ops(s, 11), 11, "as misc_ops at opset 11 (Dropout ratio attribute); hand-built"),
}
BIG_FIXTURES = {
    "resnet18": (resnet18, (3, 64, 64), [14], "torchvision resnet18(num_classes=10): Conv (BN folded), Relu, MaxPool (pads), Add, GlobalAveragePool, Flatten, Gemm"),
    "fmnist": (fmnist, (1, 28, 28), [14], "models/fmnist.net: Conv (BN folded), Relu, MaxPool, Flatten, Gemm"),
    "fmnist_dropout": (lambda: fmnist(0.3), (1, 28, 28), [14], "models/fmnist-dropout.net (Dropout: no node in eval)"),
    "cifar10": (cifar10, (3, 32, 32), [14], "models/cifar10.net"),
    "vgg_bn": (vgg_bn, (1, 28, 28), [14], "models/vgg-bn.net: also BatchNormalization (2-D) after a bias-free Gemm"),
    "clcnn_resnet": (ClcnnResnet, (1, 28, 28), [14], "models/resnet.net: Conv (BN folded), Relu, Add, MaxPool, GlobalAveragePool, Flatten, Gemm"),
}


def fixture_names(opsets, name):
    """The opset-14 export (else the first listed) keeps the plain name; the others get _opsetN."""
    plain = 14 if 14 in opsets else opsets[0]
    return [(name if o == plain else f"{name}_opset{o}", o) for o in opsets]


# ------------------------------------------------------------------------------- export and check

FINETUNE = {"lenet5": 10, "batchnorm_train": 3, "mlp_csv": 3}  # fixture: number of classes
FINETUNE_STEPS, FINETUNE_LR = 3, 0.05


def finetune(model, x, classes, seed):
    """The reference for fine-tuning an imported model: FINETUNE_STEPS steps of plain SGD (lr FINETUNE_LR,
    no momentum or weight decay) in train mode on the batch x with mean cross-entropy against fixed labels.
    Returns the tensors to store: the labels, the loss before each step, every state_dict entry after the
    steps (parameters and BatchNorm running statistics, named as the ONNX initializers are) and the
    eval-mode output after the steps."""
    m = copy.deepcopy(model).train()
    label = torch.randint(0, classes, (x.shape[0],), generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.SGD(m.parameters(), lr=FINETUNE_LR)
    losses = []
    for _ in range(FINETUNE_STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), label)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    out = {"finetune.label": label, "finetune.loss": torch.stack(losses)}
    for k, v in m.state_dict().items():
        if v.dtype == torch.float32:
            out["finetune.param." + k] = v.detach().clone()
    with torch.no_grad():
        out["finetune.output.output"] = m.eval()(x)
    return out


def ort_run(path, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def errors(got, want):
    """(max abs error, max error relative to max(|want|, 1e-3)) over all outputs."""
    ma, mr = 0.0, 0.0
    for k, w in want.items():
        g = got[k].astype(np.float64)
        w = w.astype(np.float64)
        if g.shape != w.shape:
            return float("inf"), float("inf")
        d = np.abs(g - w)
        ma = max(ma, float(d.max()))
        mr = max(mr, float((d / np.maximum(np.abs(w), 1e-3)).max()))
    return ma, mr


def check_and_write(out_dir, name, proto_bytes, in_name, x, outputs, opset, ops, train_outputs=None, extra=None):
    model = onnx.load_from_string(proto_bytes)
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(out_dir, name + ".onnx")
    with open(path, "wb") as f:
        f.write(proto_bytes)
    graph_outs = [o.name for o in model.graph.output]
    assert sorted(graph_outs) == sorted(outputs), (graph_outs, list(outputs))
    # a training-mode graph computes batch statistics, so ORT is held to train_output there
    ref = outputs if train_outputs is None else train_outputs
    want = {k: v.detach().numpy() for k, v in ref.items()}
    got = ort_run(path, {in_name: x.numpy()})
    ea, er = errors(got, want)
    if train_outputs is None:
        # the batch axis is dynamic: one sample alone must give the batch's first row (a Reshape shape
        # frozen at the traced batch would fail here)
        got1 = ort_run(path, {in_name: x[:1].numpy()})
        ea1, er1 = errors(got1, {k: v[:1] for k, v in want.items()})
        ea, er = max(ea, ea1), max(er, er1)
    tensors = {"input." + in_name: x}
    tensors.update({"output." + k: v.detach().contiguous() for k, v in outputs.items()})
    meta = {"opset": str(opset), "ops": ops, "ort_max_abs_err": f"{ea:.3g}", "ort_max_rel_err": f"{er:.3g}",
            "ort_compared_with": "output" if train_outputs is None else "train_output",
            "producer": "tools/gen-onnx-fixtures.py", "torch": torch.__version__, "onnxruntime": ort.__version__}
    note = ""
    if extra:
        tensors.update(extra)
        inits = {t.name for t in model.graph.initializer}
        missing = [k for k in extra if k.startswith("finetune.param.") and k[len("finetune.param."):] not in inits]
        assert not missing, f"{name}: fine-tune tensors without an initializer of that name: {missing}"
        meta["finetune"] = (f"{FINETUNE_STEPS} steps of SGD lr {FINETUNE_LR} (no momentum), train mode, mean "
                            f"cross_entropy(output, finetune.label) on input.{in_name}")
        note = " +finetune"
    if train_outputs is not None:
        tensors.update({"train_output." + k: v.detach().contiguous() for k, v in train_outputs.items()})
    save_file(tensors, os.path.join(out_dir, name + ".io.safetensors"), metadata=meta)
    node_ops = sorted({n.op_type for n in model.graph.node})
    size = os.path.getsize(path)
    print(f"{name:22s} opset {opset:2d} {size:9d} B  ORT vs PyTorch{'.train()' if train_outputs is not None else ''}: abs {ea:.2e} rel {er:.2e}{note}  [{' '.join(node_ops)}]")
    return ea, er


def export_bytes(model, x, opset, out_names, training=torch.onnx.TrainingMode.EVAL):
    f = io.BytesIO()
    dyn = {"input": {0: "N"}}
    dyn.update({o: {0: "N"} for o in out_names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, f, opset_version=opset, input_names=["input"], output_names=out_names,
                          dynamic_axes=dyn, training=training,
                          do_constant_folding=training == torch.onnx.TrainingMode.EVAL)
    return f.getvalue()


def as_dict(out, names):
    return dict(zip(names, out if isinstance(out, tuple) else (out,)))


def seed_of(name):
    return sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 100003


def torch_fixture(out_dir, base, build, shape, opsets, ops):
    torch.manual_seed(seed_of(base))
    model = randomise(build(), seed_of(base) + 1).eval()
    x = torch.randn((BATCH,) + tuple(shape), generator=torch.Generator().manual_seed(seed_of(base) + 2))
    with torch.no_grad():
        out = model(x)
    names = ["output"] if not isinstance(out, tuple) else [f"output{i}" for i in range(len(out))]
    res = []
    for name, opset in fixture_names(opsets, base):
        data = export_bytes(copy.deepcopy(model), x, opset, names)
        extra = finetune(model, x, FINETUNE[name], seed_of(name) + 3) if name in FINETUNE else None
        res.append((name, opset, check_and_write(out_dir, name, data, "input", x, as_dict(out, names), opset, ops,
                                                 extra=extra)))
    return res


def train_fixture(out_dir, base, build, shape, opsets, ops):
    torch.manual_seed(seed_of(base))
    model = randomise(build(), seed_of(base) + 1).eval()
    x = torch.randn((BATCH,) + tuple(shape), generator=torch.Generator().manual_seed(seed_of(base) + 2))
    with torch.no_grad():
        out = {"output": model(x)}
        train_out = {"output": copy.deepcopy(model).train()(x)}
    state = model.state_dict()
    res = []
    for name, opset in fixture_names(opsets, base):
        m = copy.deepcopy(model).train()
        data = export_bytes(m, x, opset, ["output"], torch.onnx.TrainingMode.TRAINING)
        # tracing in train mode ran one forward pass, which moved the running statistics: write the
        # pre-export values back, so the file's eval mode matches "output." (the update itself is the
        # runtime's business, not the fixture's)
        proto = onnx.load_from_string(data)
        for t in proto.graph.initializer:
            if t.name in state:
                t.CopyFrom(numpy_helper.from_array(state[t.name].numpy(), t.name))
        data = proto.SerializeToString()
        extra = finetune(model, x, FINETUNE[name], seed_of(name) + 3) if name in FINETUNE else None
        # ORT runs the training_mode graph as written (batch statistics): compared with model.train()
        res.append((name, opset, check_and_write(out_dir, name, data, "input", x, out, opset, ops, train_out, extra)))
    return res


def hand_fixture(out_dir, name, build, opset, ops):
    graph, ref, shape = build(seed_of(name))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="tools/gen-onnx-fixtures.py")
    model.ir_version = 7  # what onnx 1.12 / ORT accept for opsets 11-15
    x = torch.randn((BATCH,) + tuple(shape), generator=torch.Generator().manual_seed(seed_of(name) + 2))
    with torch.no_grad():
        out = ref(x)
    return [(name, opset, check_and_write(out_dir, name, model.SerializeToString(), "input", x, out, opset, ops))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "onnx"), help="output folder")
    ap.add_argument("--big", action="store_true", help="also the large fixtures (never commit them)")
    ap.add_argument("--only", nargs="*", help="only these base fixture names")
    ap.add_argument("--list", action="store_true", help="list the fixtures and exit")
    a = ap.parse_args()
    groups = [(TORCH_FIXTURES, torch_fixture), (TRAIN_FIXTURES, train_fixture)]
    if a.big:
        groups.append((BIG_FIXTURES, torch_fixture))
    if a.list:
        for table in (TORCH_FIXTURES, TRAIN_FIXTURES, BIG_FIXTURES):
            for k, v in table.items():
                print(f"{k}: opsets {v[2]}: {v[3]}{' (--big only)' if table is BIG_FIXTURES else ''}")
        for k, v in HAND_FIXTURES.items():
            print(f"{k}: opset {v[1]}: {v[2]}")
        return 0
    known = set(TORCH_FIXTURES) | set(TRAIN_FIXTURES) | set(HAND_FIXTURES) | (set(BIG_FIXTURES) if a.big else set())
    unknown = sorted(set(a.only or []) - known)
    if unknown:
        ap.error(f"--only: no fixture {', '.join(unknown)} (see --list; the large ones need --big)")
    if a.big and os.path.abspath(a.out) == os.path.abspath(os.path.join(ROOT, "tests", "data", "onnx")):
        ap.error("--big writes ~50 MB: give --out a folder outside tests/data/onnx")
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)  # the same float summation order on every machine
    results = []
    for table, fn in groups:
        for k, (build, shape, opsets, ops) in table.items():
            if not a.only or k in a.only:
                results += fn(a.out, k, build, shape, opsets, ops)
    for k, (build, opset, ops) in HAND_FIXTURES.items():
        if not a.only or k in a.only:
            results += hand_fixture(a.out, k, build, opset, ops)
    bad = [(n, o, e) for n, o, e in results if e[1] > 1e-4 and e[0] > 1e-5]
    for n, o, e in bad:
        print(f"NOTE: ORT disagrees with PyTorch on {n} (opset {o}): abs {e[0]:.2e} rel {e[1]:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
