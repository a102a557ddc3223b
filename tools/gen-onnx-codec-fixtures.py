#!/usr/bin/python3
"""Write the small ONNX files that tests/io/test-onnx.c parses (tests/data/onnx/codec/).

Made with the onnx Python package (Debian python3-onnx, a proto2 writer: dims and ints unpacked,
float_data packed), so the hand-written reader is checked against files it did not write itself.
Run from the repository root: /usr/bin/python3 tools/gen-onnx-codec-fixtures.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = "tests/data/onnx/codec"


def gemm():
    """Gemm(transB=1): W as raw_data, B as float_data, X with a symbolic batch, metadata."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5 - 1, "fc.weight")
    b = helper.make_tensor("fc.bias", TensorProto.FLOAT, [3], [0.25, -0.5, 1.5], raw=False)
    node = helper.make_node("Gemm", ["X", "fc.weight", "fc.bias"], ["Y"], name="fc", transB=1, alpha=1.0)
    graph = helper.make_graph([node], "tiny_gemm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 3])], [w, b])
    m = helper.make_model(graph, producer_name="gen-onnx-codec-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    helper.set_model_props(m, {"clcnn.note": "codec fixture"})
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "gemm.onnx"))


def conv():
    """Conv + LeakyRelu + Reshape with its shape from a Constant of int64_data (-1 is a 10-byte varint)."""
    w = numpy_helper.from_array((np.arange(2 * 1 * 3 * 3, dtype=np.float32) - 9) / 8, "conv.weight")
    w.dims[:] = [2, 1, 3, 3]
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 32], raw=False)
    nodes = [
        helper.make_node("Conv", ["X", "conv.weight", ""], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[1, 1], dilations=[1, 1], group=1),
        helper.make_node("LeakyRelu", ["c"], ["r"], name="act", alpha=0.1),
        helper.make_node("Constant", [], ["s"], name="shape_const", value=shape),
        helper.make_node("Reshape", ["r", "s"], ["Y"], name="flat"),
    ]
    graph = helper.make_graph(nodes, "tiny_conv", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 32])], [w])
    m = helper.make_model(graph, producer_name="gen-onnx-codec-fixtures", opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "conv.onnx"))


def external():
    """One initializer in external.bin (onnx's own external-data writer: location, offset, length)."""
    a = numpy_helper.from_array(np.array([1, 2, 3, 4, 5, 6], dtype=np.float32), "a")
    bias = numpy_helper.from_array(np.array([-1, 0, 1, 2, 3, 4], dtype=np.float32), "bias")
    node = helper.make_node("Add", ["X", "a"], ["T"], name="add")
    node2 = helper.make_node("Add", ["T", "bias"], ["Y"], name="add2")
    graph = helper.make_graph([node, node2], "tiny_external",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [6])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [6])], [a, bias])
    m = helper.make_model(graph, producer_name="gen-onnx-codec-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    onnx.save_model(m, os.path.join(OUT, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external.bin", size_threshold=0)


os.makedirs(OUT, exist_ok=True)
gemm()
conv()
external()
