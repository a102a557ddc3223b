"""Writing PyTorch golden fixtures for tests/ops/test-golden.c (run with Debian's /usr/bin/python3).

Each fixture is a text file tests/data/golden/<name>.txt with one record per line:
    op <name>                       clcnn op class name
    args <k=v, ...>                 clcnn argument text (rest of the line)
    train 0|1
    input <i> <shape> v...          shape as 2x3x4x5, or 'scalar'
    param <name> <shape> v...       initial parameter/buffer values
    grad_out <shape> v...           optional: gradient fed to backward
    out <shape> v...                expected forward output
    param_after <name> <shape> v... expected buffer after forward (running stats)
    grad_in <i> <shape> v...        expected input gradient
    grad_param <name> <shape> v...  expected parameter gradient
    tol <x>                         |got - want| <= tol * (1 + |want|)
Values are written with 9 significant digits (float32 round-trips).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "..", "tests", "data", "golden")


def _shape(t):
    return "scalar" if t.dim() == 0 else "x".join(str(d) for d in t.shape)


def _vals(t):
    return " ".join("%.9g" % v for v in t.detach().double().reshape(-1).tolist())


def write_case(name, op, args, train, inputs, params=None, grad_out=None, out=None, param_after=None,
               grad_in=None, grad_param=None, tol=1e-5, comment=None):
    """inputs: list of tensors; params/param_after/grad_param: dict name -> tensor;
    grad_in: dict index -> tensor. Class-index targets are written as floats."""
    os.makedirs(OUT_DIR, exist_ok=True)
    lines = []
    if comment:
        lines += ["# " + c for c in comment.splitlines()]
    lines += ["op " + op, "args " + args, "train %d" % (1 if train else 0)]
    for i, t in enumerate(inputs):
        lines.append("input %d %s %s" % (i, _shape(t), _vals(t)))
    for k, t in (params or {}).items():
        lines.append("param %s %s %s" % (k, _shape(t), _vals(t)))
    if grad_out is not None:
        lines.append("grad_out %s %s" % (_shape(grad_out), _vals(grad_out)))
    if out is not None:
        lines.append("out %s %s" % (_shape(out), _vals(out)))
    for k, t in (param_after or {}).items():
        lines.append("param_after %s %s %s" % (k, _shape(t), _vals(t)))
    for i, t in (grad_in or {}).items():
        lines.append("grad_in %d %s %s" % (i, _shape(t), _vals(t)))
    for k, t in (grad_param or {}).items():
        lines.append("grad_param %s %s %s" % (k, _shape(t), _vals(t)))
    lines.append("tol %g" % tol)
    with open(os.path.join(OUT_DIR, name + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
