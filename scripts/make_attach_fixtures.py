#!/usr/bin/env python3
"""Write the models and PyTorch values the `attach` tests hold attached losses to.

Three small models made with torch.onnx.export (seed 0, batch axis dynamic), committed under
test/fixtures/attach/:

- mlp.onnx: Linear(8, 16), ReLU, Linear(16, 5); input x [N, 8], output logits [N, 5] (opset 17).
- seg.onnx: a fully convolutional segmenter, Conv2d(3, 8, 3, padding 1), ReLU, Conv2d(8, 4, 1); input
  x [N, 3, 8, 8], output logits [N, 4, 8, 8] (K-dim logits; opset 13).
- multi.onnx: mlp's layers whose logits also feed Softmax and LogSoftmax; outputs logits, probs and
  log_probs (opset 15).

Three more for the shape checks after the run (test/attach.test.ts, "the target's dims are bound to
the model's output"), no cases: mlp's weights exported with dynamic_axes as lists, which torch names
after the tensor instead of sharing a name: mlp_axes.onnx (`{"x": [0], "logits": [0]}`: x
[x_dynamic_axes_1, 8], logits [logits_dynamic_axes_1, 5]) and mlp_input_axes.onnx (`{"x": [0]}`: logits
[Gemmlogits_dim_0, 5]), both opset 17; head1.onnx, Linear(8, 1) with output logits [N, 1] (opset 17),
which the test edits to declare [N, 5].

cases.json: batches (float32 x, targets) and, for each attached loss, PyTorch's loss of that model on
that batch and autograd's d loss / d output. The model runs in float32 (as onnxruntime runs the
exported graph); the loss and its gradient are computed in float64 on those float32 outputs
(`out.to(torch.float64).requires_grad_()`, `.backward()`).

weight_cases.json: binary losses with weight tensor inputs (weight, pos_weight per sample, per class,
per element) attached to those models, PyTorch's loss and autograd's d loss / d output likewise.

Needs Debian's python3-torch, python3-torchvision and python3-onnx; run with `npm run fixtures:attach`.
Deterministic: the same files on every run.
"""
import io
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import tensor, write_fixture  # noqa: E402
from make_grad_fixtures import loss_of  # noqa: E402  (the loss with onnx-losses' option names, on float64)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "attach")


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class Multi(Mlp):
    """Logits that also feed other nodes: softmax and log-softmax are outputs too."""

    def forward(self, x):
        logits = super().forward(x)
        return logits, torch.softmax(logits, dim=1), torch.log_softmax(logits, dim=1)


class Seg(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)))


def export(model, example, outputs, opset, file):
    model.eval()
    axes = {"x": {0: "N"}, **{o: {0: "N"} for o in outputs}}
    buf = io.BytesIO()
    torch.onnx.export(model, example, buf, input_names=["x"], output_names=outputs, dynamic_axes=axes,
                      opset_version=opset, do_constant_folding=True)
    with open(os.path.join(OUT, file), "wb") as f:
        f.write(buf.getvalue())


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    mlp, seg, multi = Mlp(), Seg(), Multi()
    multi.load_state_dict(mlp.state_dict())
    models = {"mlp.onnx": mlp, "seg.onnx": seg, "multi.onnx": multi}
    export(mlp, torch.zeros(2, 8), ["logits"], 17, "mlp.onnx")
    export(seg, torch.zeros(2, 3, 8, 8), ["logits"], 13, "seg.onnx")
    export(multi, torch.zeros(2, 8), ["logits", "probs", "log_probs"], 15, "multi.onnx")

    x_mlp = (torch.randn(6, 8) * 2).to(torch.float32)
    x_seg = torch.randn(2, 3, 8, 8).to(torch.float32)
    t_mlp = torch.tensor([0, 4, -1, 2, 1, 3])
    t_mlp_hard = torch.tensor([0, 4, 3, 2, 1, 3])
    t_multi = torch.randint(0, 5, (6,))
    t_seg = torch.randint(0, 4, (2, 8, 8))
    t_seg[0, 0, :3] = 255
    t_float = (torch.rand(6, 5) > 0.6).to(torch.float32)
    t_float[0, 0] = 0.3  # a soft target
    specs = [
        ("mlp.onnx", "logits", "cross_entropy", {"weight": [0.5, 1.0, 2.0, 1.5, 0.25], "ignoreIndex": -1}, x_mlp, t_mlp),
        ("mlp.onnx", "logits", "softmax_focal_loss", {"gamma": 2}, x_mlp, t_mlp_hard),
        ("mlp.onnx", "logits", "sigmoid_focal_loss", {"reduction": "sum"}, x_mlp, t_float),
        ("mlp.onnx", "logits", "binary_cross_entropy_with_logits", {"posWeight": [1.0, 2.0, 0.5, 3.0, 1.0], "reduction": "none"}, x_mlp, t_float),
        ("seg.onnx", "logits", "cross_entropy", {"ignoreIndex": 255, "labelSmoothing": 0.1}, x_seg, t_seg),
        ("seg.onnx", "logits", "softmax_focal_loss", {"gamma": 0.5, "alpha": 0.25, "reduction": "sum"}, x_seg, t_seg.clamp(max=3)),
        ("multi.onnx", "logits", "cross_entropy", {}, x_mlp, t_multi),
        ("multi.onnx", "log_probs", "nll_loss", {"weight": [1.0, 0.5, 2.0, 1.0, 3.0]}, x_mlp, t_multi),
    ]
    cases = []
    for file, output, loss, options, x, t in specs:
        model = models[file]
        with torch.no_grad():
            outs = model(x)
        outs = outs if isinstance(outs, tuple) else (outs,)
        names = ["logits", "probs", "log_probs"][: len(outs)]
        out = outs[names.index(output)]
        z = out.to(torch.float64).requires_grad_()
        value = loss_of(loss, options, z, t.to(torch.float64) if t.dtype == torch.float32 else t)
        value.backward(torch.ones_like(value))
        cases.append({
            "id": f"{file} {output} {loss} {json.dumps(options, sort_keys=True)}",
            "model": file,
            "output": output,
            "loss": loss,
            "options": options,
            "inputs": {"x": tensor(x), "target": tensor(t)},
            "outputs": {n: tensor(o) for n, o in zip(names, outs)},
            "loss_value": tensor(value.detach()),
            "grad": tensor(z.grad),
        })
        print(cases[-1]["id"])
    write_fixture(os.path.join(OUT, "cases.json"), "scripts/make_attach_fixtures.py",
                  "models run in float32; loss and autograd's d loss / d output in float64 on those float32 outputs; "
                  "do not edit, regenerate with npm run fixtures:attach", cases)
    # after the cases: the random draws above stay those of the cases' first version
    for file, axes in [("mlp_axes.onnx", {"x": [0], "logits": [0]}), ("mlp_input_axes.onnx", {"x": [0]})]:
        mlp.eval()
        buf = io.BytesIO()
        torch.onnx.export(mlp, torch.zeros(2, 8), buf, input_names=["x"], output_names=["logits"], dynamic_axes=axes,
                          opset_version=17, do_constant_folding=True)
        with open(os.path.join(OUT, file), "wb") as f:
            f.write(buf.getvalue())
    head1 = nn.Linear(8, 1)
    export(head1, torch.zeros(2, 8), ["logits"], 17, "head1.onnx")
    # after every model and case above, so that their draws stay as they were
    weight_cases(models)


def weight_cases(models):
    """weight_cases.json: binary losses attached with weight tensor inputs (options "input"): PyTorch's
    F.binary_cross_entropy(_with_logits)(out, y, weight=w, pos_weight=pw) of the model's float32 output,
    in float64, and autograd's d loss / d output; w and pw per sample, per class and per element."""
    torch.manual_seed(1)
    x_mlp = (torch.randn(6, 8) * 2).to(torch.float32)
    x_seg = torch.randn(2, 3, 8, 8).to(torch.float32)
    y_mlp = (torch.rand(6, 5) > 0.6).to(torch.float32)
    y_seg = (torch.rand(2, 4, 8, 8) > 0.5).to(torch.float32)
    w = lambda *shape: (torch.rand(*shape) * 2).to(torch.float32)  # noqa: E731
    pw = lambda *shape: (torch.rand(*shape) * 3 + 0.1).to(torch.float32)  # noqa: E731
    specs = [
        # model, output, loss, reduction, x, y, weight, pos_weight
        ("mlp.onnx", "logits", "binary_cross_entropy_with_logits", "mean", x_mlp, y_mlp, w(6, 1), pw(5)),
        ("mlp.onnx", "logits", "binary_cross_entropy_with_logits", "sum", x_mlp, y_mlp, w(6, 5), None),
        ("mlp.onnx", "logits", "binary_cross_entropy_with_logits", "none", x_mlp, y_mlp, None, pw(1, 5)),
        ("seg.onnx", "logits", "binary_cross_entropy_with_logits", "mean", x_seg, y_seg, w(4, 1, 1), pw(2, 1, 1, 1)),
        ("multi.onnx", "probs", "binary_cross_entropy", "mean", x_mlp, y_mlp, w(5), None),
        ("multi.onnx", "probs", "binary_cross_entropy", "sum", x_mlp, y_mlp, w(6, 5), None),
    ]
    cases = []
    for file, output, loss, reduction, x, y, weight, pos_weight in specs:
        with torch.no_grad():
            outs = models[file](x)
        outs = outs if isinstance(outs, tuple) else (outs,)
        names = ["logits", "probs", "log_probs"][: len(outs)]
        out = outs[names.index(output)]
        z = out.to(torch.float64).requires_grad_()
        options = {"reduction": reduction}
        inputs = {"x": tensor(x), "target": tensor(y)}
        kw = {}
        if weight is not None:
            options["weight"] = "input"
            inputs["weight"] = tensor(weight)
            kw["weight"] = weight.double()
        if pos_weight is not None:
            options["posWeight"] = "input"
            inputs["pos_weight"] = tensor(pos_weight)
            kw["pos_weight"] = pos_weight.double()
        if loss == "binary_cross_entropy":
            value = F.binary_cross_entropy(z, y.double(), reduction=reduction, **kw)
        else:
            value = F.binary_cross_entropy_with_logits(z, y.double(), reduction=reduction, **kw)
        value.backward(torch.ones_like(value))
        shapes = " ".join(f"{k} {list(v['dims'])}" for k, v in inputs.items() if k in ("weight", "pos_weight"))
        cases.append({
            "id": f"{file} {output} {loss} {reduction} {shapes}",
            "model": file,
            "output": output,
            "loss": loss,
            "options": options,
            "inputs": inputs,
            "loss_value": tensor(value.detach()),
            "grad": tensor(z.grad),
        })
        print(cases[-1]["id"])
    write_fixture(os.path.join(OUT, "weight_cases.json"), "scripts/make_attach_fixtures.py",
                  "binary losses with weight tensor inputs attached; models run in float32; loss and autograd's d loss / "
                  "d output in float64 on those float32 outputs; do not edit, regenerate with npm run fixtures:attach", cases)


if __name__ == "__main__":
    main()
