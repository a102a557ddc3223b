#!/usr/bin/python3
"""Helpers of tools/check-onnx-export.sh (numpy + onnxruntime; not needed by the test suite).

  weights MODEL.onnx OUT.safetensors   random parameters for every initializer that is a clcnn
                                       parameter (state-dict name, no '/'), positive running_var
  inputs MODEL.net BATCH OUT.safetensors  uniform [-1, 1) data inputs, class 0 for label inputs
  compare MODEL.onnx X.safetensors Y.safetensors  ONNX Runtime on X against clcnn's node outputs
                                       in Y: exit 1 past 1e-4 (1 + |ref|) anywhere
"""
import json
import re
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "I64": np.int64}


def st_write(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])  # ascontiguousarray would make a scalar 1-D
        dt = "I64" if a.dtype == np.int64 else "F32"
        b = a.astype(DT[dt]).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def st_read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype=DT[e["dtype"]]).reshape(e["shape"])
    return out


def weights(onnx_path, out):
    import onnx
    from onnx import numpy_helper

    m = onnx.load(onnx_path)
    # parameters the export reshaped to broadcast over channels ([C] -> [C, 1, 1]): the PRelu slope,
    # the weight and bias of a batchnorm without running statistics (Mul, Add)
    prelu = {i for n in m.graph.node if n.op_type in ("PRelu", "Mul", "Add") for i in n.input}
    rng = np.random.default_rng(7)
    t = {}
    for init in m.graph.initializer:
        if "/" in init.name:
            continue
        a = numpy_helper.to_array(init)
        shape = a.shape if init.name not in prelu else a.shape[:1]  # clcnn keeps them as [C]
        if init.name.endswith("running_var"):
            v = rng.uniform(0.5, 2.0, shape)
        else:
            v = rng.uniform(-0.5, 0.5, shape)
        t[init.name] = v.astype(np.float32)
        if init.name.endswith("running_mean"):
            t[init.name[: -len("running_mean")] + "num_batches_tracked"] = np.array(3, dtype=np.int64)
    st_write(out, t)


def inputs(net, batch, out):
    rng = np.random.default_rng(11)
    t = {}
    for line in open(net):
        mm = re.match(r"\s*(\w+)\s*=\s*input\((.*)\)", line)
        if not mm:
            continue
        sm = re.search(r"shape\s*=\s*\(([^)]*)\)", mm.group(2))
        dims = [int(d) for d in sm.group(1).replace("x", ",").split(",") if d.strip()] if sm else []
        if dims:
            t[mm.group(1)] = rng.uniform(-1, 1, [batch] + dims).astype(np.float32)
        else:
            t[mm.group(1)] = np.zeros([batch], dtype=np.float32)
    st_write(out, t)


def compare(onnx_path, x_path, y_path):
    """Every clcnn node output that the ONNX graph also produces under that name (the layers kept
    whole and the last tensor of each decomposition), not only the final output."""
    import onnx
    import onnxruntime as ort

    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ref = st_read(y_path)
    final = m.graph.output[0].name
    produced = {o for n in m.graph.node for o in n.output}
    names = [final] + sorted(n for n in ref if n in produced and n != final)
    for n in names[1:]:
        m.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = st_read(x_path)
    feed = {i.name: x[i.name] for i in s.get_inputs()}
    worst, worst_name, failed = 0.0, final, []
    for name, got in zip(names, s.run(names, feed)):
        r = ref[name]
        if got.shape != r.shape:
            failed.append(f"{name}: shape {got.shape} != clcnn {r.shape}")
            continue
        err = np.abs(got.astype(np.float64) - r)
        rel = (err / (1 + np.abs(r))).max()
        if rel > 1e-4:
            failed.append(f"{name}: max error {err.max():.3g} relative {rel:.3g}")
        if name == final:
            final_err = err.max()
        if rel > worst:
            worst, worst_name = rel, name
    print(f"output max abs error {final_err:.3g}; worst of {len(names)} tensors {worst:.3g} "
          f"(relative to 1 + |ref|) at {worst_name}" + "".join("\n    " + f for f in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "weights":
        weights(sys.argv[2], sys.argv[3])
    elif cmd == "inputs":
        inputs(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        sys.exit(f"unknown command {cmd}")
