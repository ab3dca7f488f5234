#!/usr/bin/env python3
"""Write PyTorch golden fixtures for weight tensors into test/fixtures/weight_tensors.json (and their
input gradients into test/fixtures/grad/weight_tensors.json, as the other losses' grad fixtures).

F.binary_cross_entropy(input, target, weight=w) and F.binary_cross_entropy_with_logits(input, target,
weight=w, pos_weight=pw) with w and pw tensors broadcast to the input: per element, per class, per
sample, a single number, at ranks 1 to 3, every reduction; the input's gradient (of the loss, of the
sum of the items for reduction none) from autograd. The options are onnx-losses' ("weight": "input",
"posWeight": "input"); the inputs are named as the graph names them (weight, pos_weight). Expected
values are PyTorch in float64 on the float32 inputs.

F.cross_entropy(input, target, weight=w) and F.nll_loss(input, target, weight=w) with a [C] class-weight
tensor ("weight": "input"): class indices (some ignored, the default -100 and another ignore_index),
class probabilities (cross_entropy), label smoothing, every reduction, on [N, C] and [N, C, d].
Run with `npm run fixtures:weights`.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import OUT, gen, indices, logits, num, probs_like, tensor, uniform, write_fixture  # noqa: E402

# input shape, then the weight shapes that broadcast to it (PyTorch's rules: trailing dims aligned)
SHAPES = [
    ((7,), {"element": (7,), "single": (1,)}),
    ((6, 4), {"element": (6, 4), "class": (4,), "class [1, C]": (1, 4), "sample": (6, 1), "single": (1,)}),
    ((3, 4, 5), {"element": (3, 4, 5), "class": (4, 1), "sample": (3, 1, 1), "last": (5,)}),
]


def expected(t):
    t = t.detach().to(torch.float64)
    return {"dims": list(t.shape), "data": [num(v) for v in t.reshape(-1).tolist()]}


# class inputs [N, C, d..] for the [C] class weights of cross_entropy and nll_loss
CLASS_SHAPES = [(6, 4), (3, 4, 5)]


def class_weight_cases(cases, grads):
    seed = 1900
    for shape in CLASS_SHAPES:
        rank = len(shape)
        C = shape[1]
        item_shape = (shape[0],) + shape[2:]
        for reduction in ["mean", "sum", "none"]:
            seed += 1
            x = logits(seed, shape)
            w = (uniform(seed + 1, (C,)) * 2 + 0.1).float()
            t = indices(seed, item_shape, C)
            ignored = uniform(seed + 2, item_shape) < 0.25
            t_ignored = t.masked_fill(ignored, -100)
            t_ignore1 = t  # ignore_index 1: every target 1 drops out
            q = probs_like(seed, shape)
            variants = [
                ("cross_entropy", "index", {}, t, {}),
                ("cross_entropy", "index ignored -100", {}, t_ignored, {}),
                ("cross_entropy", "index ignore_index 1", {"ignoreIndex": 1}, t_ignore1, {"ignore_index": 1}),
                ("cross_entropy", "index label_smoothing 0.2", {"labelSmoothing": 0.2}, t_ignored, {"label_smoothing": 0.2}),
                ("cross_entropy", "probs", {"targetType": "probs"}, q, {}),
                ("cross_entropy", "probs label_smoothing 0.3", {"targetType": "probs", "labelSmoothing": 0.3}, q, {"label_smoothing": 0.3}),
                ("nll_loss", "index", {}, t, {}),
                ("nll_loss", "index ignored -100", {}, t_ignored, {}),
                ("nll_loss", "index ignore_index 1", {"ignoreIndex": 1}, t_ignore1, {"ignore_index": 1}),
            ]
            for loss_name, what, options, target, kw in variants:
                # nll_loss reads log-probabilities
                inp = torch.log_softmax(x.double(), dim=1).float() if loss_name == "nll_loss" else x
                xd = inp.to(torch.float64).requires_grad_(True)
                tt = target.double() if target.dtype == torch.float32 else target
                fn = F.cross_entropy if loss_name == "cross_entropy" else F.nll_loss
                loss = fn(xd, tt, weight=w.double(), reduction=reduction, **kw)
                (loss if reduction != "none" else loss.sum()).backward()
                cases.append({
                    "id": f"{loss_name} class weight [C] {what} on {list(shape)} {reduction}",
                    "loss": loss_name,
                    "options": {"rank": rank, "weight": "input", "reduction": reduction, **options},
                    "inputs": {"input": tensor(inp), "target": tensor(target), "weight": tensor(w)},
                    "expected": expected(loss),
                })
                grads.append({"id": cases[-1]["id"], "input_grad": expected(xd.grad)})


def main():
    cases = []
    grads = []
    seed = 900
    for shape, weights in SHAPES:
        rank = len(shape)
        for where, wshape in weights.items():
            for reduction in ["mean", "sum", "none"]:
                seed += 1
                x = logits(seed, shape)
                y = (uniform(seed, shape) > 0.6).float()
                w = (uniform(seed + 1, wshape) * 2).float()
                pw = (uniform(seed + 2, wshape) * 3 + 0.1).float()
                p = torch.sigmoid(x).float()
                # binary_cross_entropy: weight
                pd = p.to(torch.float64).requires_grad_(True)
                loss = F.binary_cross_entropy(pd, y.double(), weight=w.double(), reduction=reduction)
                (loss if reduction != "none" else loss.sum()).backward()
                cases.append({
                    "id": f"binary_cross_entropy weight {where} {list(wshape)} on {list(shape)} {reduction}",
                    "loss": "binary_cross_entropy",
                    "options": {"rank": rank, "weight": "input", "reduction": reduction},
                    "inputs": {"input": tensor(p), "target": tensor(y), "weight": tensor(w)},
                    "expected": expected(loss),
                })
                grads.append({"id": cases[-1]["id"], "input_grad": expected(pd.grad)})
                # binary_cross_entropy_with_logits: weight, pos_weight, both
                for kind in ["weight", "pos_weight", "both"]:
                    xd = x.to(torch.float64).requires_grad_(True)
                    kw = {}
                    inputs = {"input": tensor(x), "target": tensor(y)}
                    options = {"rank": rank, "reduction": reduction}
                    if kind in ("weight", "both"):
                        kw["weight"] = w.double()
                        inputs["weight"] = tensor(w)
                        options["weight"] = "input"
                    if kind in ("pos_weight", "both"):
                        kw["pos_weight"] = pw.double()
                        inputs["pos_weight"] = tensor(pw)
                        options["posWeight"] = "input"
                    loss = F.binary_cross_entropy_with_logits(xd, y.double(), reduction=reduction, **kw)
                    (loss if reduction != "none" else loss.sum()).backward()
                    cases.append({
                        "id": f"binary_cross_entropy_with_logits {kind} {where} {list(wshape)} on {list(shape)} {reduction}",
                        "loss": "binary_cross_entropy_with_logits",
                        "options": options,
                        "inputs": inputs,
                        "expected": expected(loss),
                    })
                    grads.append({"id": cases[-1]["id"], "input_grad": expected(xd.grad)})
    class_weight_cases(cases, grads)
    write_fixture(
        os.path.join(OUT, "weight_tensors.json"),
        "scripts/make_weight_fixtures.py",
        "weight tensors: expected = PyTorch in float64 on the float32 inputs; regenerate with npm run fixtures:weights",
        cases,
    )
    write_fixture(
        os.path.join(OUT, "grad", "weight_tensors.json"),
        "scripts/make_weight_fixtures.py",
        "input_grad = PyTorch autograd in float64 of the forward fixture's loss (reduction none: of the sum of the items); regenerate with npm run fixtures:weights",
        grads,
    )
    print(f"weight_tensors: {len(cases)} cases")


if __name__ == "__main__":
    main()
