#!/usr/bin/env python3
"""Write the models with external data the external-data tests read (test/fixtures/external/).

Each is a Gemm head, x [N, 4] -> logits [N, 3] (ai.onnx opset 17, IR 8), saved with
`onnx.save(..., save_as_external_data=True)` (the form torch.onnx.export uses past 2 GB), every
tensor in one data file next to the model:

- A/m.onnx, A/m.data: logits = x W + b with W = arange(12).reshape(3, 4).T, b = [0.5, -0.5, 1].
- A/t.onnx, A/t.data: the same head as Gemm(transB=1) over W^T (onnxruntime's optimizers read
  external data there: without the model's folder it fails with model_path.empty()).
- B/m.onnx, B/m.data: A/m.onnx with W and b negated, the same location "m.data": a model evaluated
  from inside B/ that read B's data would give the negated logits.

Needs Debian's python3-onnx and numpy; run with `npm run fixtures:external`. Deterministic.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "external")


def head(w, b, trans_b):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])
    node = helper.make_node("Gemm", ["x", "W", "b"], ["logits"], name="fc", transB=1 if trans_b else 0)
    g = helper.make_graph([node], "head", [x], [y], [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8, producer_name="make_external_fixtures")


def save(model, folder, name):
    os.makedirs(os.path.join(OUT, folder), exist_ok=True)
    path = os.path.join(OUT, folder, f"{name}.onnx")
    data = os.path.join(OUT, folder, f"{name}.data")
    if os.path.exists(data):
        os.remove(data)  # onnx.save appends to an existing data file
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=f"{name}.data", size_threshold=0)


w = np.arange(12, dtype=np.float32).reshape(3, 4)
b = np.array([0.5, -0.5, 1], dtype=np.float32)
save(head(w.T.copy(), b, False), "A", "m")
save(head(w.copy(), b, True), "A", "t")
save(head(-w.T.copy(), -b, False), "B", "m")
