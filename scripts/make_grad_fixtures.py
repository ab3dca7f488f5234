#!/usr/bin/env python3
"""Write PyTorch autograd gradients d loss / d input for every case of the forward fixtures.

For each test/fixtures/<loss>.json case, the loss is recomputed by PyTorch in float64 on the case's
float32 inputs with `input.requires_grad_()`, and `.backward()` (for reduction "none" the gradient of
the sum of the items, PyTorch's `backward(torch.ones_like(loss))`) gives `input_grad`, written to
test/fixtures/grad/<loss>.json by case id. Where autograd gives NaN (the focal losses with
0 < gamma < 1 at p_t -> 1) the NaN is written as "NaN": the closed form has a finite limit there.

Needs Debian's python3-torch and python3-torchvision; run with `npm run fixtures:grad`. Deterministic.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import focal_reference, num, write_fixture  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "test", "fixtures")
LOSSES = ["cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
          "softmax_focal_loss", "sigmoid_focal_loss"]


def tensor(t):
    if t["dtype"] == "int64":
        return torch.tensor([int(v) for v in t["data"]], dtype=torch.int64).reshape(t["dims"])
    # the float32 values the graph sees, in float64
    return torch.tensor([float(v) for v in t["data"]], dtype=torch.float32).reshape(t["dims"]).to(torch.float64)


def f64(values):
    return None if values is None else torch.tensor(values, dtype=torch.float32).to(torch.float64)


def loss_of(loss, o, x, t):
    """The loss as its forward fixture defines it, on float64 x (which requires grad)."""
    red = o.get("reduction", "mean")
    if loss == "cross_entropy":
        return F.cross_entropy(x, t, weight=f64(o.get("weight")), ignore_index=o.get("ignoreIndex", -100),
                               reduction=red, label_smoothing=o.get("labelSmoothing", 0.0))
    if loss == "nll_loss":
        return F.nll_loss(x, t, weight=f64(o.get("weight")), ignore_index=o.get("ignoreIndex", -100), reduction=red)
    if loss == "binary_cross_entropy":
        return F.binary_cross_entropy(x, t, weight=f64(o.get("weight")), reduction=red)
    if loss == "binary_cross_entropy_with_logits":
        return F.binary_cross_entropy_with_logits(x, t, weight=f64(o.get("weight")), pos_weight=f64(o.get("posWeight")), reduction=red)
    if loss == "softmax_focal_loss":
        return focal_reference(x, t, o.get("gamma", 2), o.get("alpha"), o.get("balanceIndex", 0), o.get("ignoreIndex", -100),
                               o.get("labelSmoothing", 0), o.get("oneHotClamp", 0), red)
    if loss == "sigmoid_focal_loss":
        alpha = o.get("alpha", 0.25)
        return tv_sigmoid_focal_loss(x, t, alpha=-1 if alpha is None else alpha, gamma=o.get("gamma", 2), reduction=red)
    raise ValueError(loss)


def main():
    torch.set_num_threads(1)
    out_dir = os.path.join(FIXTURES, "grad")
    os.makedirs(out_dir, exist_ok=True)
    for loss in LOSSES:
        with open(os.path.join(FIXTURES, f"{loss}.json")) as f:
            cases = json.load(f)["cases"]
        grads = []
        for c in cases:
            x = tensor(c["inputs"]["input"]).requires_grad_()
            t = tensor(c["inputs"]["target"])
            value = loss_of(loss, c["options"], x, t)
            # the recomputed forward must be the fixture's own value (the article's classes compute in float32,
            # hence 1e-6): the options were read the same way
            want = torch.tensor([float(v) for v in c["expected"]["data"]], dtype=torch.float64)
            got = value.detach().reshape(-1)
            same = torch.isclose(got, want, rtol=1e-6, atol=1e-9, equal_nan=True).all()
            if not bool(same):
                raise SystemExit(f"{loss} {c['id']}: recomputed {got.tolist()[:4]} is not the fixture's {want.tolist()[:4]}")
            value.backward(torch.ones_like(value))
            g = x.grad.reshape(-1).tolist()
            grads.append({"id": c["id"], "input_grad": {"dims": list(x.shape), "data": [num(v) for v in g]}})
        write_fixture(os.path.join(out_dir, f"{loss}.json"), "scripts/make_grad_fixtures.py",
                      "input_grad = PyTorch autograd in float64 of the forward fixture's loss (reduction none: of the sum of the items); do not edit, regenerate with npm run fixtures:grad",
                      grads)
        nan = sum(1 for c in grads if any(v == "NaN" for v in c["input_grad"]["data"]))
        print(f"{loss}: {len(grads)} gradients ({nan} with NaN from autograd)")


if __name__ == "__main__":
    main()
