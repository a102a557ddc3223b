"""safetensors read and write with the standard library and torch only (no pip package).

The helper scripts import load_file / save_file from safetensors.torch when it is installed and
from here otherwise, so that Debian's python3-torch is all they need. The format: u64 little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then
the raw little-endian data. Tensors are written in name order, each 8-byte aligned as the data
section starts aligned; readers (clcnn's included) follow the offsets, not the order.
"""
import json
import struct

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def read(path):
    """(tensors, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None) or {}
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        dt = DTYPES[e["dtype"]]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=dt) if b > a else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def load_file(path):
    return read(path)[0]


def save_file(tensors, path, metadata=None):
    header, chunks, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        raw += b"\0" * (-len(raw) % 8)
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + t.numel() * t.element_size()]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
