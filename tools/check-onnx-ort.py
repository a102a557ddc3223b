#!/usr/bin/python3
"""Run an ONNX model with ONNX Runtime and compare its outputs with expected tensors from safetensors files.

    tools/check-onnx-ort.py MODEL.onnx IO.safetensors [options]

Inputs: for each graph input NAME, the tensor "input.NAME" of IO.safetensors (else "NAME"), cast to the type
the graph declares. Expected outputs: for each graph output NAME, "output.NAME" (with --expect train_output:
"train_output.NAME") from IO.safetensors; or, with --outputs-from RUN.safetensors (what `clcnn run` writes:
every node's output under the node's name), the tensor named NAME there, or the one --map NAME=CLCNN_NAME
names. The files tests/data/onnx/*.io.safetensors (tools/gen-onnx-fixtures.py) follow the IO layout.

Prints one line per output: shape, max abs error, max relative error (|got - want| / max(|want|, 1e-30)) and
the worst element; an output passes when every element has |got - want| <= atol + rtol * |want| (numpy's
allclose; NaN only matches NaN). Exit status: 0 all pass, 1 some output beyond tolerance or missing,
2 usage or file error.

Examples:
    tools/check-onnx-ort.py tests/data/onnx/lenet5.onnx tests/data/onnx/lenet5.io.safetensors
    # a clcnn export against clcnn itself: `clcnn run` reads graph inputs by bare name (x.safetensors holds
    # "image"; found here as the fallback to "input.image") and writes each node's output under its name
    clcnn export models/lenet5.net --weights w.safetensors --out lenet5.onnx
    clcnn run models/lenet5.net --weights w.safetensors --input x.safetensors --output y.safetensors
    tools/check-onnx-ort.py lenet5.onnx x.safetensors --outputs-from y.safetensors
    # when the ONNX output name is not the clcnn node's name:
    tools/check-onnx-ort.py lenet5.onnx x.safetensors --outputs-from y.safetensors --map output=fc7

Needs numpy and onnxruntime only (tools/deps.sh --onnx); safetensors are read by the small reader below.
"""
import argparse
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "U16": np.uint16,
          "U32": np.uint32, "U64": np.uint64}
ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
             "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


class Fail(Exception):
    pass


def read_safetensors(path):
    """{name: numpy array} and the metadata of a safetensors file (BF16 widened to float32)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Fail(f"{path}: {e.strerror}")
    if len(data) < 8:
        raise Fail(f"{path}: too short for a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise Fail(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        raise Fail(f"{path}: header is not JSON: {e}")
    meta = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + n:]
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        if not 0 <= a <= b <= len(body):
            raise Fail(f"{path}: tensor '{name}': data_offsets [{a}, {b}] outside the data ({len(body)} bytes)")
        raw = bytes(body[a:b])
        if e["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] in DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        else:
            raise Fail(f"{path}: tensor '{name}': unsupported dtype {e['dtype']}")
        if arr.size != int(np.prod(e["shape"], dtype=np.int64)):
            raise Fail(f"{path}: tensor '{name}': {arr.size} elements for shape {e['shape']}")
        out[name] = arr.reshape(e["shape"])
    return out, meta


def compare(got, want, rtol, atol):
    """(ok, max abs error, max rel error, worst index) of got against want."""
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    if g.size == 0:
        return True, 0.0, 0.0, ()
    both_nan = np.isnan(g) & np.isnan(w)
    d = np.where(both_nan, 0.0, np.abs(g - w))
    d = np.where(np.isnan(d), np.inf, d)  # NaN against a number: infinitely wrong
    rel = d / np.maximum(np.abs(w), 1e-30)
    ok = bool(np.all(d <= atol + rtol * np.abs(np.nan_to_num(w, nan=0.0))))
    worst = np.unravel_index(int(np.argmax(d)), d.shape)
    return ok, float(d.max()), float(rel.max()), tuple(int(i) for i in worst)


def parse_map(items):
    m = {}
    for it in items or []:
        if "=" not in it:
            raise Fail(f"--map {it}: expected ONNX_OUTPUT=NAME")
        k, v = it.split("=", 1)
        m[k] = v
    return m


def run(a):
    try:
        import onnxruntime as ort
    except ImportError:
        raise Fail("onnxruntime is not installed (tools/deps.sh --onnx)")
    io_tensors, io_meta = read_safetensors(a.io)
    if a.outputs_from:
        want_tensors, _ = read_safetensors(a.outputs_from)
    else:
        want_tensors = io_tensors
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if a.no_optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types for load and validation errors
        raise Fail(f"{a.model}: ONNX Runtime cannot load it: {e}")
    feeds = {}
    for i in sess.get_inputs():
        key = next((k for k in (a.input_prefix + i.name, i.name) if k in io_tensors), None)
        if key is None:
            raise Fail(f"{a.io}: no tensor '{a.input_prefix}{i.name}' (or '{i.name}') for the graph input "
                       f"'{i.name}' {i.shape}; it holds: {', '.join(sorted(io_tensors)) or 'nothing'}")
        feeds[i.name] = np.ascontiguousarray(io_tensors[key].astype(ORT_TYPES.get(i.type, np.float32)))
    names = [o.name for o in sess.get_outputs()]
    try:
        results = dict(zip(names, sess.run(None, feeds)))
    except Exception as e:
        raise Fail(f"{a.model}: ONNX Runtime failed to run it: {e}")
    mapping = parse_map(a.map)
    for k in mapping:
        if k not in results:
            raise Fail(f"--map {k}=...: the model has no output '{k}' (outputs: {', '.join(names)})")
    src = a.outputs_from or a.io
    failed = 0
    print(f"{a.model}: ORT {ort.__version__}, inputs {', '.join(f'{k}{list(v.shape)}' for k, v in feeds.items())}, "
          f"rtol {a.rtol:g} atol {a.atol:g}")
    for name in names:
        got = results[name]
        if name in mapping:
            cands = [mapping[name]]
        elif a.outputs_from:
            cands = [name, a.expect + "." + name]
        else:
            cands = [a.expect + "." + name]
        key = next((k for k in cands if k in want_tensors), None)
        if key is None:
            print(f"  {name:24s} {list(got.shape)}  MISSING: no '{cands[0]}' in {src}")
            failed += 1
            continue
        want = want_tensors[key]
        if a.squeeze:
            got, want = np.squeeze(got), np.squeeze(want)
        if got.shape != want.shape:
            print(f"  {name:24s} FAIL shape: ORT {list(got.shape)}, '{key}' {list(want.shape)}")
            failed += 1
            continue
        ok, ea, er, worst = compare(got, want, a.rtol, a.atol)
        where = ""
        if got.size:
            where = f" worst at {list(worst)}: ORT {float(got[worst]):.8g} vs {float(want[worst]):.8g}"
        print(f"  {name:24s} {str(list(got.shape)):16s} max abs {ea:.3e} max rel {er:.3e}  {'ok' if ok else 'FAIL'}"
              f"{'' if ok and not a.verbose else where}  ('{key}')")
        failed += 0 if ok else 1
    if a.dump:
        write_safetensors(a.dump, {a.expect + "." + k: v for k, v in results.items()})
    if failed:
        print(f"{failed} of {len(names)} outputs beyond tolerance or missing")
    return 1 if failed else 0


def write_safetensors(path, tensors):
    names = {np.dtype(v): k for k, v in DTYPES.items()}
    header, chunks, off = {}, [], 0
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name])
        raw = t.astype(t.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        raw += b"\0" * (-len(raw) % 8)
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="the .onnx file")
    ap.add_argument("io", help="safetensors with the inputs (input.NAME) and, without --outputs-from, the expected outputs")
    ap.add_argument("--outputs-from", metavar="RUN.safetensors",
                    help="take the expected outputs from this file (tensor NAME or EXPECT.NAME, or as --map says)")
    ap.add_argument("--map", action="append", metavar="ONNX_OUTPUT=NAME",
                    help="compare the ONNX output ONNX_OUTPUT with the tensor NAME (repeatable)")
    ap.add_argument("--expect", default="output", metavar="PREFIX",
                    help="prefix of the expected tensors: output (default) or train_output")
    ap.add_argument("--input-prefix", default="input.", metavar="PREFIX", help="prefix of the input tensors (default input.)")
    ap.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    ap.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    ap.add_argument("--squeeze", action="store_true", help="drop size-1 dimensions before comparing shapes")
    ap.add_argument("--no-optimize", action="store_true", help="run without ORT's graph optimisations (fusions)")
    ap.add_argument("--dump", metavar="OUT.safetensors", help="also write ORT's outputs (as EXPECT.NAME)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show the worst element of passing outputs too")
    a = ap.parse_args()
    try:
        return run(a)
    except Fail as e:
        print(f"check-onnx-ort: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
