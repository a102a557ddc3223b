#!/usr/bin/python3
"""Check that a clcnn checkpoint loads in PyTorch as the state_dict of the equivalent torch.nn model.

Usage: tools/check-torch-checkpoint.py MODEL.net CHECKPOINT.safetensors [--forward]

The netfile is translated into a torch.nn.Module whose submodules carry the node names, so its
state_dict keys are "<node>.weight", "<node>.running_mean", ... exactly as clcnn names them. The
checkpoint is read with safetensors.torch.load_file (tools/safetensors_min.py's without the
package); its parameter entries (optimizer state, "optimizer.*", is ignored) must have exactly the model's keys, shapes and dtypes, and
model.load_state_dict(strict=True) must accept them. With --forward the model also runs one
batch of zeros in eval mode to show the weights are usable.

The translator covers the layers used by models/ (and their common keys): input, conv2d, linear,
batchnorm1d/2d, relu and the other element-wise activations, maxpool2d, avgpool2d,
global_avgpool2d/maxpool2d, blurpool2d, maxblurpool2d, flatten, dropout, add, concat and the
losses (which have no parameters). Exit status 0 when everything matches, 1 otherwise.
Needs Debian's python3-torch and `pip install --break-system-packages safetensors`.
"""
import os
import re
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore", message="Lazy modules")


def _value(text):
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if text.startswith("(") and text.endswith(")"):
        inner = text[1:-1].strip()
        return tuple(_value(v) for v in inner.split(",") if v.strip()) if inner else ()
    if re.fullmatch(r"\d+(x\d+)+", text):
        return tuple(int(v) for v in text.split("x"))
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _split_items(text):
    items, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        items.append(cur)
    return [i.strip() for i in items if i.strip()]


def parse_netfile(path):
    """Statements as dicts: name, layer, inputs, args; plus directives @output / @loss."""
    text = open(path).read()
    # join lines inside parentheses, drop comments
    lines, buf, depth = [], "", 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        buf += " " + line
        depth += line.count("(") - line.count(")")
        if depth <= 0:
            if buf.strip():
                lines.append(buf.strip())
            buf, depth = "", 0
    stmts, directives, prev = [], {}, None
    for line in lines:
        m = re.fullmatch(r"@(output|loss)\s+(\w+)", line)
        if m:
            directives[m.group(1)] = m.group(2)
            continue
        m = re.fullmatch(r"(\w+)\s*=\s*(\w+)\s*(?:\((.*)\))?", line)
        if not m:
            raise SystemExit("%s: cannot translate statement: %s" % (path, line))
        name, layer, inner = m.group(1), m.group(2), m.group(3) or ""
        inputs, args = [], {}
        for item in _split_items(inner):
            if "=" in item:
                k, v = item.split("=", 1)
                args[k.strip()] = _value(v)
            else:
                inputs.append(item)
        if not inputs and layer != "input":
            inputs = [prev]
        stmts.append({"name": name, "layer": layer, "inputs": inputs, "args": args})
        prev = name
    return stmts, directives


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


class BlurPool(nn.Module):
    """Binomial blur at a stride, depthwise (Zhang 2019); the filter is not part of the state_dict."""

    def __init__(self, filt_size=3, stride=2, pad_type="reflect"):
        super().__init__()
        rows = {1: [1.], 2: [1., 1.], 3: [1., 2., 1.], 4: [1., 3., 3., 1.], 5: [1., 4., 6., 4., 1.],
                6: [1., 5., 10., 10., 5., 1.], 7: [1., 6., 15., 20., 15., 6., 1.]}
        a = torch.tensor(rows[filt_size])
        f = a[:, None] * a[None, :]
        self.register_buffer("filt", f / f.sum(), persistent=False)
        self.stride = stride
        lo = (filt_size - 1) // 2
        self.pad = (lo, filt_size - 1 - lo, lo, filt_size - 1 - lo)
        self.mode = {"reflect": "reflect", "replicate": "replicate", "zero": "constant"}[pad_type]

    def forward(self, x):
        c = x.shape[1]
        x = F.pad(x, self.pad, mode=self.mode)
        return F.conv2d(x, self.filt[None, None].repeat(c, 1, 1, 1), stride=self.stride, groups=c)


class MaxBlurPool(nn.Module):
    def __init__(self, kernel_size=2, filt_size=3, stride=2, pad_type="reflect"):
        super().__init__()
        self.max = nn.MaxPool2d(kernel_size, stride=1)
        self.blur = BlurPool(filt_size, stride, pad_type)

    def forward(self, x):
        return self.blur(self.max(x))


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU,
               "elu": nn.ELU, "softplus": nn.Softplus, "logsigmoid": nn.LogSigmoid, "hardtanh": nn.Hardtanh,
               "leaky_relu": nn.LeakyReLU}


def make_module(layer, a):
    """A torch.nn module for one netfile layer (Lazy modules take their input sizes from a dry run)."""
    if layer == "conv2d":
        kw = dict(kernel_size=_pair(a["kernel_size"]), stride=_pair(a.get("stride", 1)),
                  dilation=_pair(a.get("dilation", 1)), groups=a.get("groups", 1), bias=a.get("bias", True))
        pad = a.get("padding", 0)
        kw["padding"] = pad if isinstance(pad, str) else _pair(pad)
        if a.get("in_channels", 0):
            return nn.Conv2d(a["in_channels"], a["out_channels"], **kw)
        return nn.LazyConv2d(a["out_channels"], **kw)
    if layer == "linear":
        if a.get("in_features", 0):
            return nn.Linear(a["in_features"], a["out_features"], bias=a.get("bias", True))
        return nn.LazyLinear(a["out_features"], bias=a.get("bias", True))
    if layer in ("batchnorm2d", "batchnorm1d"):
        kw = dict(eps=a.get("eps", 1e-5), momentum=a.get("momentum", 0.1), affine=a.get("affine", True),
                  track_running_stats=a.get("track_running_stats", True))
        if a.get("num_features", 0):
            return (nn.BatchNorm2d if layer == "batchnorm2d" else nn.BatchNorm1d)(a["num_features"], **kw)
        return (nn.LazyBatchNorm2d if layer == "batchnorm2d" else nn.LazyBatchNorm1d)(**kw)
    if layer in ACTIVATIONS:
        return ACTIVATIONS[layer]()
    if layer == "prelu":
        return nn.PReLU(a.get("num_parameters", 1), a.get("init", 0.25))
    if layer == "maxpool2d":
        return nn.MaxPool2d(_pair(a["kernel_size"]), stride=_pair(a.get("stride", 0)) if a.get("stride", 0) else None,
                            padding=_pair(a.get("padding", 0)), dilation=_pair(a.get("dilation", 1)),
                            ceil_mode=a.get("ceil_mode", False))
    if layer == "avgpool2d":
        return nn.AvgPool2d(_pair(a["kernel_size"]), stride=_pair(a.get("stride", 0)) if a.get("stride", 0) else None,
                            padding=_pair(a.get("padding", 0)), ceil_mode=a.get("ceil_mode", False),
                            count_include_pad=a.get("count_include_pad", True))
    if layer == "global_avgpool2d":
        return nn.AdaptiveAvgPool2d(1)
    if layer == "global_maxpool2d":
        return nn.AdaptiveMaxPool2d(1)
    if layer == "blurpool2d":
        return BlurPool(a.get("filt_size", 3), a.get("stride", 2), a.get("pad_type", "reflect"))
    if layer == "maxblurpool2d":
        return MaxBlurPool(_pair(a.get("kernel_size", 2)), a.get("filt_size", 3), a.get("stride", 2),
                           a.get("pad_type", "reflect"))
    if layer == "flatten":
        return nn.Flatten(a.get("start_dim", 1), a.get("end_dim", -1))
    if layer == "dropout":
        return nn.Dropout(a.get("p", 0.5))
    if layer == "identity":
        return nn.Identity()
    if layer == "add":
        return Fn(lambda *xs: sum(xs[1:], xs[0]))
    if layer == "concat":
        return Fn(lambda *xs, d=a.get("dim", 1): torch.cat(xs, d))
    if layer == "cross_entropy":
        return Fn(lambda x, y: F.cross_entropy(x, y.long(), label_smoothing=a.get("label_smoothing", 0.0)))
    if layer == "nll_loss":
        return Fn(lambda x, y: F.nll_loss(x, y.long()))
    if layer == "mse_loss":
        return Fn(F.mse_loss)
    if layer == "l1_loss":
        return Fn(F.l1_loss)
    if layer == "triplet_margin_loss":
        return Fn(lambda x, y, z: F.triplet_margin_loss(x, y, z, margin=a.get("margin", 1.0), p=a.get("p", 2.0),
                                                        eps=a.get("eps", 1e-6), swap=a.get("swap", False),
                                                        reduction=a.get("reduction", "mean")))
    if layer == "contrastive_loss":  # Hadsell et al. 2006, y = 1 for a similar pair (docs/netfile.md)
        def contrastive(x, y, same, m=a.get("margin", 1.0), eps=a.get("eps", 1e-6), red=a.get("reduction", "mean")):
            d = F.pairwise_distance(x, y, p=2, eps=eps)
            per = same * d.pow(2) / 2 + (1 - same) * torch.clamp(m - d, min=0).pow(2) / 2
            return per.mean() if red == "mean" else per.sum() if red == "sum" else per
        return Fn(contrastive)
    if layer == "cosine_embedding_loss":
        return Fn(lambda x, y, t: F.cosine_embedding_loss(x, y, t, margin=a.get("margin", 0.0),
                                                          reduction=a.get("reduction", "mean")))
    if layer in ("softmax", "logsoftmax"):
        return (nn.Softmax if layer == "softmax" else nn.LogSoftmax)(dim=a.get("dim", 1))
    raise SystemExit("check-torch-checkpoint: no torch translation for layer '%s'" % layer)


class NetfileModel(nn.Module):
    """The torch.nn equivalent of a netfile: one submodule per parameterised node, named as the node."""

    def __init__(self, path):
        super().__init__()
        self.nf_stmts, self.nf_directives = parse_netfile(path)  # nf_: never a node name in models/
        self.nf_inputs = [s for s in self.nf_stmts if s["layer"] == "input"]
        self.nf_nodes = [s for s in self.nf_stmts if s["layer"] != "input"]
        self.nf_shared = {}  # node -> the node whose module (and parameters) it uses: share=
        for s in self.nf_nodes:
            owner = s["args"].get("share")
            if owner is None:
                self.add_module(s["name"], make_module(s["layer"], s["args"]))
            else:  # one module called twice, one entry in the state dict, as clcnn's checkpoint has it
                self.nf_shared[s["name"]] = self.nf_shared.get(owner, owner)
        losses = [s["name"] for s in self.nf_nodes if s["layer"].endswith("loss") or s["layer"] == "cross_entropy"]
        self.nf_loss = self.nf_directives.get("loss", losses[-1] if losses else None)
        if "output" in self.nf_directives:
            self.nf_output = self.nf_directives["output"]
        elif self.nf_loss:
            self.nf_output = next(s for s in self.nf_nodes if s["name"] == self.nf_loss)["inputs"][0]
        else:
            self.nf_output = self.nf_nodes[-1]["name"]

    def input_shapes(self, batch):
        out = {}
        for s in self.nf_inputs:
            shape = s["args"].get("shape", ())
            shape = shape if isinstance(shape, tuple) else (shape,)
            out[s["name"]] = (batch,) + tuple(shape)
        return out

    def forward(self, feeds, upto=None):
        vals = dict(feeds)
        done = set(vals)
        pending = list(self.nf_nodes)
        while pending:  # any declaration order: run what is ready
            for s in list(pending):
                if all(i in done for i in s["inputs"]):
                    module = getattr(self, self.nf_shared.get(s["name"], s["name"]))
                    vals[s["name"]] = module(*[vals[i] for i in s["inputs"]])
                    done.add(s["name"])
                    pending.remove(s)
                    if s["name"] == upto:
                        return vals[upto]
        return vals


def build(path, batch=2):
    """Model with materialised (Lazy) parameters, in eval mode."""
    torch.manual_seed(0)
    m = NetfileModel(path)
    feeds = {}
    for name, shape in m.input_shapes(batch).items():
        feeds[name] = torch.zeros(shape)
    m.eval()
    with torch.no_grad():
        m(feeds, upto=m.nf_output)
    return m


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    try:
        from safetensors.torch import load_file
    except ImportError:  # Debian has no python3-safetensors
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from safetensors_min import load_file
    model = build(argv[1])
    want = model.state_dict()
    got = {k: v for k, v in load_file(argv[2]).items() if not k.startswith("optimizer.")}
    problems = []
    for k, v in want.items():
        if k not in got:
            problems.append("missing %s %s %s" % (k, tuple(v.shape), v.dtype))
        elif tuple(got[k].shape) != tuple(v.shape) or got[k].dtype != v.dtype:
            problems.append("%s: checkpoint %s %s, torch %s %s" % (k, tuple(got[k].shape), got[k].dtype,
                                                                  tuple(v.shape), v.dtype))
    for k in got:
        if k not in want:
            problems.append("unexpected %s (not in the torch model)" % k)
    if not problems:
        model.load_state_dict(got, strict=True)
        if "--forward" in argv:
            with torch.no_grad():
                feeds = {n: torch.zeros(s) for n, s in model.input_shapes(2).items()}
                out = model(feeds, upto=model.nf_output)
            if not torch.isfinite(out).all():
                problems.append("forward with the loaded weights is not finite")
    if problems:
        print("%s does not match %s as torch.nn:\n  %s" % (argv[2], argv[1], "\n  ".join(problems)))
        return 1
    print("%s: %d tensors, keys, shapes and dtypes match the torch.nn model of %s" % (argv[2], len(want), argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
