#!/usr/bin/env python3
"""Write PyTorch golden fixtures for every catalogue loss into test/fixtures/<loss>.json.

Needs Debian's python3-torch and python3-torchvision (apt-get install -y python3-torch
python3-torchvision); run with `npm run fixtures`. Inputs are drawn as float32 from seeded generators;
expected values are computed by PyTorch in float64 from exactly those float32 values, so they are the
loss of the data the graph sees. Output is deterministic: rerunning gives the same files.

Each case: {"id", "loss", "options", "inputs": {name: {"dtype", "dims", "data"}}, "expected":
{"dims", "data"}, "reference": the PyTorch expression}. NaN is written as the string "NaN".
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from article_losses import BCEFocalLoss, FixedFocalLoss, FocalLoss  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
CASES = {}


INF = float("inf")


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def logits(seed, shape, scale=3.0):
    return (torch.randn(*shape, generator=gen(seed)) * scale).float()


def indices(seed, shape, classes):
    return torch.randint(0, classes, shape, generator=gen(seed + 1000))


def uniform(seed, shape):
    return torch.rand(*shape, generator=gen(seed + 2000)).float()


def probs_like(seed, shape):
    return torch.softmax(torch.randn(*shape, generator=gen(seed + 3000)) * 2, dim=1).float()


def binary(seed, shape):
    return (torch.rand(*shape, generator=gen(seed + 4000)) > 0.5).float()


def num(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def tensor(t):
    dtype = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64"}[t.dtype]
    flat = t.reshape(-1).tolist()
    return {"dtype": dtype, "dims": list(t.shape), "data": [num(v) if dtype != "int64" else int(v) for v in flat]}


def add(loss, cid, options, inputs, expected, reference, **extra):
    exp = expected.detach().to(torch.float64)
    case = {
        "id": cid,
        "loss": loss,
        "options": options,
        "inputs": {k: tensor(v) for k, v in inputs.items()},
        "expected": {"dims": list(exp.shape), "data": [num(v) for v in exp.reshape(-1).tolist()]},
        "reference": reference,
    }
    case.update(extra)
    CASES.setdefault(loss, []).append(case)


def d(t):
    return t.to(torch.float64)


def w_tensor(w):
    return None if w is None else torch.tensor(w, dtype=torch.float32).to(torch.float64)


# ---------------------------------------------------------------- cross_entropy

def cross_entropy_cases():
    seed = 100
    for shape in [(6, 5), (3, 4, 5), (2, 3, 4, 5)]:
        rank = len(shape)
        C = shape[1]
        item = (shape[0],) + shape[2:]
        for reduction in ["mean", "sum", "none"]:
            for weight in [None, [0.5, 1.0, 2.0, 0.25, 1.5][:C] + [1.0] * max(0, C - 5)]:
                for smoothing in [0.0, 0.15]:
                    for ignore in [None, "some"]:
                        seed += 1
                        x = logits(seed, shape)
                        t = indices(seed, item, C)
                        ii = -100
                        if ignore == "some":
                            ii = 2 if seed % 2 else -100
                            mask = torch.rand(*item, generator=gen(seed + 5000)) < 0.35
                            t = torch.where(mask, torch.full_like(t, ii), t)
                        opts = {"rank": rank, "reduction": reduction}
                        if weight is not None:
                            opts["weight"] = weight
                        if smoothing:
                            opts["labelSmoothing"] = smoothing
                        if ii != -100:
                            opts["ignoreIndex"] = ii
                        want = F.cross_entropy(d(x), t, weight=w_tensor(weight), ignore_index=ii,
                                               reduction=reduction, label_smoothing=smoothing)
                        add("cross_entropy", f"index r{rank} {reduction} w={weight is not None} eps={smoothing} ignore={ii if ignore else 'none'}",
                            opts, {"input": x, "target": t}, want,
                            f"F.cross_entropy(x, t, weight, ignore_index={ii}, reduction='{reduction}', label_smoothing={smoothing})")
        # probability targets
        for reduction in ["mean", "sum", "none"]:
            for weight in [None, [0.5, 1.0, 2.0, 0.25, 1.5][:C]]:
                for smoothing in [0.0, 0.2]:
                    seed += 1
                    x = logits(seed, shape)
                    q = probs_like(seed, shape)
                    opts = {"rank": rank, "targetType": "probs", "reduction": reduction}
                    if weight is not None:
                        opts["weight"] = weight
                    if smoothing:
                        opts["labelSmoothing"] = smoothing
                    want = F.cross_entropy(d(x), d(q), weight=w_tensor(weight), reduction=reduction, label_smoothing=smoothing)
                    add("cross_entropy", f"probs r{rank} {reduction} w={weight is not None} eps={smoothing}", opts,
                        {"input": x, "target": q}, want,
                        f"F.cross_entropy(x, probs, weight, reduction='{reduction}', label_smoothing={smoothing})")
    # every item ignored: mean is NaN (0/0) as in PyTorch, sum 0
    for reduction in ["mean", "sum", "none"]:
        x = logits(900, (4, 3))
        t = torch.full((4,), -100, dtype=torch.int64)
        want = F.cross_entropy(d(x), t, reduction=reduction)
        add("cross_entropy", f"all ignored {reduction}", {"reduction": reduction}, {"input": x, "target": t}, want,
            f"F.cross_entropy(x, all -100, reduction='{reduction}')")
    # extreme logits
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [0.0, 0.0, 1e4], [-1e4, -1e4, -1e4]], dtype=torch.float32)
    t = torch.tensor([1, 1, 0, 2])
    for reduction in ["mean", "none"]:
        add("cross_entropy", f"extreme logits {reduction}", {"reduction": reduction}, {"input": x, "target": t},
            F.cross_entropy(d(x), t, reduction=reduction), "F.cross_entropy(x with |x| = 1e4, t)")
        add("cross_entropy", f"extreme logits smoothing {reduction}", {"reduction": reduction, "labelSmoothing": 0.1},
            {"input": x, "target": t}, F.cross_entropy(d(x), t, reduction=reduction, label_smoothing=0.1),
            "F.cross_entropy(x with |x| = 1e4, t, label_smoothing=0.1)")
    # many classes
    x = logits(901, (16, 1000))
    t = indices(901, (16,), 1000)
    add("cross_entropy", "C=1000 mean", {}, {"input": x, "target": t}, F.cross_entropy(d(x), t), "F.cross_entropy(x, t)")


# ---------------------------------------------------------------- nll_loss

def nll_loss_cases():
    seed = 1100
    for shape in [(6, 5), (3, 4, 5)]:
        rank = len(shape)
        C = shape[1]
        item = (shape[0],) + shape[2:]
        for reduction in ["mean", "sum", "none"]:
            for weight in [None, [0.5, 1.0, 2.0, 0.25, 1.5][:C]]:
                for ii in [-100, 1]:
                    seed += 1
                    lp = torch.log_softmax(logits(seed, shape), dim=1).float()
                    t = indices(seed, item, C)
                    if ii != -100 or seed % 2:
                        mask = torch.rand(*item, generator=gen(seed + 5000)) < 0.3
                        t = torch.where(mask, torch.full_like(t, ii), t)
                    opts = {"rank": rank, "reduction": reduction}
                    if weight is not None:
                        opts["weight"] = weight
                    if ii != -100:
                        opts["ignoreIndex"] = ii
                    want = F.nll_loss(d(lp), t, weight=w_tensor(weight), ignore_index=ii, reduction=reduction)
                    add("nll_loss", f"r{rank} {reduction} w={weight is not None} ignore={ii}", opts,
                        {"input": lp, "target": t}, want, f"F.nll_loss(logp, t, weight, ignore_index={ii}, reduction='{reduction}')")
    t = torch.full((3,), 7, dtype=torch.int64)
    lp = torch.log_softmax(logits(1190, (3, 4)), dim=1).float()
    add("nll_loss", "all ignored mean", {"ignoreIndex": 7}, {"input": lp, "target": t},
        F.nll_loss(d(lp), t, ignore_index=7), "F.nll_loss(logp, all ignored)")


# ---------------------------------------------------------------- binary_cross_entropy

def bce_cases():
    seed = 2100
    for shape in [(8,), (6, 4), (2, 3, 4, 2)]:
        rank = len(shape)
        last = shape[-1]
        for reduction in ["mean", "sum", "none"]:
            for weight in [None, [0.7], [0.5 + 0.25 * i for i in range(last)]]:
                for soft in [False, True]:
                    seed += 1
                    p = torch.sigmoid(logits(seed, shape)).float()
                    y = uniform(seed, shape) if soft else binary(seed, shape)
                    opts = {"rank": rank, "reduction": reduction}
                    wt = None
                    if weight is not None:
                        opts["weight"] = weight
                        wt = torch.tensor(weight, dtype=torch.float32).to(torch.float64)
                    want = F.binary_cross_entropy(d(p), d(y), weight=wt, reduction=reduction)
                    add("binary_cross_entropy", f"r{rank} {reduction} w={None if weight is None else len(weight)} soft={soft}", opts,
                        {"input": p, "target": y}, want, f"F.binary_cross_entropy(p, y, weight, reduction='{reduction}')")
    # saturated probabilities: each log is clamped at -100
    p = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1e-30, 1.0 - 1e-7, 0.5, 1e-45]], dtype=torch.float32)
    y = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.3, 0.0]], dtype=torch.float32)
    for reduction in ["mean", "none"]:
        add("binary_cross_entropy", f"clamped logs {reduction}", {"reduction": reduction}, {"input": p, "target": y},
            F.binary_cross_entropy(d(p), d(y), reduction=reduction), "F.binary_cross_entropy(p in {0, 1}, y)")


def bce_logits_cases():
    seed = 3100
    for shape in [(8,), (6, 4), (2, 3, 4, 2)]:
        rank = len(shape)
        last = shape[-1]
        for reduction in ["mean", "sum", "none"]:
            for weight in [None, [0.5 + 0.25 * i for i in range(last)]]:
                for pos in [None, [2.0], [0.5 + 0.5 * i for i in range(last)]]:
                    seed += 1
                    x = logits(seed, shape)
                    y = uniform(seed, shape) if seed % 3 == 0 else binary(seed, shape)
                    opts = {"rank": rank, "reduction": reduction}
                    if weight is not None:
                        opts["weight"] = weight
                    if pos is not None:
                        opts["posWeight"] = pos
                    want = F.binary_cross_entropy_with_logits(d(x), d(y), weight=w_tensor(weight), pos_weight=w_tensor(pos), reduction=reduction)
                    add("binary_cross_entropy_with_logits", f"r{rank} {reduction} w={weight is not None} pw={None if pos is None else len(pos)}",
                        opts, {"input": x, "target": y}, want,
                        f"F.binary_cross_entropy_with_logits(x, y, weight, pos_weight, reduction='{reduction}')")
    x = torch.tensor([[1e4, -1e4, 1e4, -1e4], [30.0, -30.0, 88.0, -200.0]], dtype=torch.float32)
    y = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 1.0]], dtype=torch.float32)
    for reduction in ["mean", "none"]:
        add("binary_cross_entropy_with_logits", f"extreme logits {reduction}", {"reduction": reduction}, {"input": x, "target": y},
            F.binary_cross_entropy_with_logits(d(x), d(y), reduction=reduction), "F.binary_cross_entropy_with_logits(|x| up to 1e4)")
        add("binary_cross_entropy_with_logits", f"extreme logits posWeight {reduction}", {"reduction": reduction, "posWeight": [3.0]},
            {"input": x, "target": y},
            F.binary_cross_entropy_with_logits(d(x), d(y), pos_weight=torch.tensor([3.0], dtype=torch.float64), reduction=reduction),
            "F.binary_cross_entropy_with_logits(|x| up to 1e4, pos_weight=3)")
    # infinite logits: PyTorch computes (1 - y) x + max(-x, 0) + log(...), so +inf gives inf unless y = 1
    # (0 * inf) and -inf gives NaN (-inf + inf); the graphs follow it with and without posWeight
    x = torch.tensor([[INF, INF, -INF, -INF], [INF, -INF, 3.0, -2.0]], dtype=torch.float32)
    y = torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.5, 0.5, 0.0, 1.0]], dtype=torch.float32)
    for opts in [{}, {"posWeight": [3.0]}, {"weight": [2.0]}]:
        t = {k: torch.tensor(v, dtype=torch.float64) for k, v in opts.items()}
        add("binary_cross_entropy_with_logits", f"infinite logits {json.dumps(opts)}", dict(opts, reduction="none"),
            {"input": x, "target": y},
            F.binary_cross_entropy_with_logits(d(x), d(y), weight=t.get("weight"), pos_weight=t.get("posWeight"), reduction="none"),
            "F.binary_cross_entropy_with_logits(x = +-inf)")


# ---------------------------------------------------------------- softmax_focal_loss

def focal_reference(x, t, gamma, alpha, balance_index, ignore_index, eps, clamp, reduction):
    """The softmax focal loss as docs/design.md defines it, written with PyTorch ops in float64."""
    C = x.shape[1]
    if alpha is None:
        a = torch.ones(C, dtype=torch.float64)
    elif isinstance(alpha, list):
        a = torch.tensor(alpha, dtype=torch.float32).to(torch.float64)
    else:
        a = torch.full((C,), 1 - alpha, dtype=torch.float32)
        a[balance_index] = alpha
        a = a.to(torch.float64)
    valid = t != ignore_index
    ts = torch.where(valid, t, torch.zeros_like(t))
    logp = torch.log_softmax(x, dim=1)
    logpt = logp.gather(1, ts.unsqueeze(1)).squeeze(1)
    shape_c = [1, C] + [1] * (x.dim() - 2)
    if clamp:
        pt = (1 - 2 * clamp) * logpt.exp() + clamp
        lpt = pt.log()
    else:
        pt = logpt.exp()
        lpt = logpt
    hard = -a[ts] * (1 - pt) ** gamma * lpt
    if eps:
        q = F.one_hot(ts, C).movedim(-1, 1).to(torch.float64) * (1 - eps) + eps / C
        full = -(a.view(shape_c) * q * (1 - logp.exp()) ** gamma * logp).sum(1)
        loss = full
    else:
        loss = hard
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / valid.sum()


def softmax_focal_cases():
    seed = 4100
    for shape in [(6, 4), (3, 4, 5), (2, 4, 3, 2)]:
        rank = len(shape)
        C = shape[1]
        item = (shape[0],) + shape[2:]
        variants = []
        for gamma in [0, 0.5, 1, 2, 3, 5]:
            variants.append(dict(gamma=gamma))
        for alpha in [0.25, [0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 0.5, 3.0]]:
            variants.append(dict(alpha=alpha))
        variants += [
            dict(alpha=0.6, balanceIndex=2),
            dict(labelSmoothing=0.1),
            dict(labelSmoothing=0.2, alpha=0.3, balanceIndex=1, gamma=1.5),
            dict(labelSmoothing=0.1, alpha=[1.0, 2.0, 0.5, 3.0]),
            dict(oneHotClamp=0.05),
            dict(oneHotClamp=0.1, alpha=0.75, gamma=3),
            dict(ignoreIndex=-100, ignore=True),
            dict(ignoreIndex=1, ignore=True, alpha=[0.1, 0.2, 0.3, 0.4]),
            dict(ignoreIndex=-1, ignore=True, labelSmoothing=0.1, gamma=0.5),
        ]
        for v in variants:
            for reduction in ["mean", "sum", "none"]:
                seed += 1
                v = dict(v)
                ignore = v.pop("ignore", False)
                x = logits(seed, shape)
                t = indices(seed, item, C)
                ii = v.get("ignoreIndex", -100)
                if ignore:
                    mask = torch.rand(*item, generator=gen(seed + 5000)) < 0.35
                    t = torch.where(mask, torch.full_like(t, ii), t)
                opts = dict(v, rank=rank, reduction=reduction)
                want = focal_reference(d(x), t, v.get("gamma", 2), v.get("alpha"), v.get("balanceIndex", 0), ii,
                                       v.get("labelSmoothing", 0), v.get("oneHotClamp", 0), reduction)
                add("softmax_focal_loss", f"r{rank} {reduction} {json.dumps(v, sort_keys=True)}", opts, {"input": x, "target": t}, want,
                    "focal_reference (PyTorch ops, float64) in scripts/make_fixtures.py")
    # all ignored
    x = logits(4900, (3, 4))
    t = torch.full((3,), -100, dtype=torch.int64)
    add("softmax_focal_loss", "all ignored mean", {}, {"input": x, "target": t},
        focal_reference(d(x), t, 2, None, 0, -100, 0, 0, "mean"), "focal_reference, every item ignored")
    # gamma 0 without alpha is cross_entropy
    x = logits(4901, (5, 6))
    t = indices(4901, (5,), 6)
    add("softmax_focal_loss", "gamma 0 = F.cross_entropy", {"gamma": 0}, {"input": x, "target": t},
        F.cross_entropy(d(x), t), "F.cross_entropy(x, t)")
    add("softmax_focal_loss", "gamma 0 smoothing = F.cross_entropy smoothing", {"gamma": 0, "labelSmoothing": 0.1},
        {"input": x, "target": t}, F.cross_entropy(d(x), t, label_smoothing=0.1), "F.cross_entropy(x, t, label_smoothing=0.1)")
    # extreme logits: finite and exact
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [0.0, 0.0, 1e4], [-1e4, -1e4, -1e4]], dtype=torch.float32)
    t = torch.tensor([1, 1, 0, 2])
    for opts in [{"reduction": "none"}, {"reduction": "mean", "alpha": 0.25}, {"reduction": "none", "gamma": 0.5}]:
        want = focal_reference(d(x), t, opts.get("gamma", 2), opts.get("alpha"), 0, -100, 0, 0, opts["reduction"])
        add("softmax_focal_loss", f"extreme logits {json.dumps(opts, sort_keys=True)}", opts, {"input": x, "target": t}, want,
            "focal_reference with |x| = 1e4")
    # the article's FocalLoss (alpha indexing fixed), reproduced by options
    article_cases = [
        (dict(num_class=4, alpha=0.6, gamma=2, balance_index=0), {"alpha": 0.6}),
        (dict(num_class=4, alpha=0.25, gamma=2, balance_index=3), {"alpha": 0.25, "balanceIndex": 3}),
        (dict(num_class=4, alpha=None, gamma=1), {"gamma": 1}),
        (dict(num_class=4, alpha=[1.0, 2.0, 3.0, 4.0], gamma=2), {"alpha": [0.1, 0.2, 0.3, 0.4]}),
        (dict(num_class=4, alpha=0.6, gamma=2, smooth=0.1), {"alpha": 0.6, "oneHotClamp": 0.1}),
        (dict(num_class=4, alpha=0.6, gamma=2, size_average=False), {"alpha": 0.6, "reduction": "sum"}),
    ]
    for i, (kw, opts) in enumerate(article_cases):
        for shape in [(8, 4), (2, 4, 3, 3)]:
            x = logits(4950 + i, shape, scale=1.5)
            t = indices(4950 + i, (shape[0],) + shape[2:], 4)
            fixed = FixedFocalLoss(**kw)(d(x), t)
            defective = FocalLoss(**kw)(d(x), t)
            opts_r = dict(opts, rank=len(shape))
            add("softmax_focal_loss", f"article FocalLoss {json.dumps(kw, sort_keys=True)} r{len(shape)}", opts_r,
                {"input": x, "target": t}, fixed,
                f"the article's FocalLoss({kw}) with alpha indexing fixed (scripts/article_losses.py)",
                article_defective_value=num(defective.item()))


# ---------------------------------------------------------------- sigmoid_focal_loss

def sigmoid_focal_cases():
    seed = 5100
    for shape in [(10,), (6, 4), (2, 3, 4, 2)]:
        rank = len(shape)
        for alpha in [0.25, None, -1, 0.6]:
            for gamma in [0, 0.5, 2, 5]:
                for reduction in ["mean", "sum", "none"]:
                    seed += 1
                    x = logits(seed, shape)
                    y = uniform(seed, shape) if seed % 4 == 0 else binary(seed, shape)
                    opts = {"rank": rank, "alpha": alpha, "gamma": gamma, "reduction": reduction}
                    want = tv_sigmoid_focal_loss(d(x), d(y), alpha=-1 if alpha is None else alpha, gamma=gamma, reduction=reduction)
                    add("sigmoid_focal_loss", f"r{rank} alpha={alpha} gamma={gamma} {reduction}", opts, {"input": x, "target": y}, want,
                        f"torchvision.ops.sigmoid_focal_loss(x, y, alpha={alpha}, gamma={gamma}, reduction='{reduction}')")
    # extreme logits, where the article's BCEFocalLoss gives inf or nan
    x = torch.tensor([[-200.0, 200.0, 1e4, -1e4], [-1e4, 1e4, 30.0, -30.0]], dtype=torch.float32)
    y = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]], dtype=torch.float32)
    for reduction in ["none", "mean"]:
        article = BCEFocalLoss(alpha=0.25, reduction="elementwise_mean" if reduction == "mean" else "none")(d(x), d(y))
        add("sigmoid_focal_loss", f"extreme logits {reduction}", {"reduction": reduction}, {"input": x, "target": y},
            tv_sigmoid_focal_loss(d(x), d(y), reduction=reduction), "torchvision.ops.sigmoid_focal_loss(|x| up to 1e4)",
            article_value=[num(v) for v in article.reshape(-1).tolist()])
    # 0 < gamma < 1 where p_t = 1: the loss is 0, autograd's gradient NaN (gamma (1 - p_t)^(gamma - 1) at
    # 1 - p_t = 0); the graph's gradient is the finite limit (test/gradient_parity.test.ts)
    for gamma, reduction in [(0.5, "none"), (0.25, "mean")]:
        add("sigmoid_focal_loss", f"extreme logits gamma={gamma} {reduction}", {"gamma": gamma, "reduction": reduction},
            {"input": x, "target": y}, tv_sigmoid_focal_loss(d(x), d(y), gamma=gamma, reduction=reduction),
            f"torchvision.ops.sigmoid_focal_loss(|x| up to 1e4, gamma={gamma})")
    # infinite logits: torchvision's loss is BCE with logits times the focal factor, so it is inf or NaN
    # where PyTorch's BCE with logits is (see bce_logits_cases)
    xi = torch.tensor([[INF, INF, -INF, -INF], [INF, -INF, 3.0, -2.0]], dtype=torch.float32)
    yi = torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.5, 0.5, 0.0, 1.0]], dtype=torch.float32)
    for gamma, alpha in [(2, 0.25), (0, -1), (0.5, 0.6)]:
        add("sigmoid_focal_loss", f"infinite logits gamma={gamma} alpha={alpha}", {"gamma": gamma, "alpha": alpha, "reduction": "none"},
            {"input": xi, "target": yi}, tv_sigmoid_focal_loss(d(xi), d(yi), alpha=alpha, gamma=gamma, reduction="none"),
            f"torchvision.ops.sigmoid_focal_loss(x = +-inf, alpha={alpha}, gamma={gamma})")
    # the article's BCEFocalLoss, reproduced for hard labels
    for i, (kw, opts) in enumerate([
        (dict(gamma=2, alpha=0.6), {"alpha": 0.6}),
        (dict(gamma=1, alpha=0.25, reduction="sum"), {"alpha": 0.25, "gamma": 1, "reduction": "sum"}),
        (dict(gamma=2, alpha=0.5, reduction="none"), {"alpha": 0.5, "reduction": "none"}),
    ]):
        x = logits(5900 + i, (8, 3), scale=2)
        y = binary(5900 + i, (8, 3))
        add("sigmoid_focal_loss", f"article BCEFocalLoss {json.dumps(kw, sort_keys=True)}", dict(opts, rank=2),
            {"input": x, "target": y}, BCEFocalLoss(**kw)(d(x), d(y)),
            f"the article's BCEFocalLoss({kw}) (scripts/article_losses.py)")


def samples():
    """One batch per loss for `npm start` (onnx-losses demo): default options, input [8, 5]."""
    x = logits(7000, (8, 5))
    t = indices(7000, (8,), 5)
    y = binary(7000, (8, 5))
    p = torch.sigmoid(x).float()
    lp = torch.log_softmax(x, dim=1).float()
    out = [
        ("cross_entropy", {"input": x, "target": t}, F.cross_entropy(d(x), t), "F.cross_entropy(x, t)"),
        ("nll_loss", {"input": lp, "target": t}, F.nll_loss(d(lp), t), "F.nll_loss(log_softmax(x), t)"),
        ("binary_cross_entropy", {"input": p, "target": y}, F.binary_cross_entropy(d(p), d(y)), "F.binary_cross_entropy(sigmoid(x), y)"),
        ("binary_cross_entropy_with_logits", {"input": x, "target": y}, F.binary_cross_entropy_with_logits(d(x), d(y)),
         "F.binary_cross_entropy_with_logits(x, y)"),
        ("softmax_focal_loss", {"input": x, "target": t}, focal_reference(d(x), t, 2, None, 0, -100, 0, 0, "mean"),
         "focal_reference(x, t, gamma=2)"),
        ("sigmoid_focal_loss", {"input": x, "target": y}, tv_sigmoid_focal_loss(d(x), d(y), reduction="mean"),
         "torchvision.ops.sigmoid_focal_loss(x, y, reduction='mean')"),
    ]
    for loss, inputs, want, ref in out:
        add("samples", f"sample {loss}", {}, inputs, want, ref)
        CASES["samples"][-1]["loss"] = loss


def float16_cases():
    """Cases for float16 graphs: inputs rounded to float16, expected = PyTorch float64 on those values."""
    h = lambda t: t.half().float()  # noqa: E731
    seed = 8000
    for shape in [(6, 5), (2, 5, 3, 4)]:
        C = shape[1]
        item = (shape[0],) + shape[2:]
        rank = len(shape)
        for reduction in ["mean", "sum", "none"]:
            seed += 1
            x = h(logits(seed, shape))
            t = indices(seed, item, C)
            lp = h(torch.log_softmax(d(x), dim=1).float())
            p = h(torch.sigmoid(logits(seed + 1, shape)))
            y = binary(seed, shape)
            q = h(probs_like(seed, shape))
            o = {"rank": rank, "reduction": reduction}
            add("float16", f"cross_entropy r{rank} {reduction}", dict(o), {"input": x, "target": t},
                F.cross_entropy(d(x), t, reduction=reduction), "F.cross_entropy on float16 values")
            add("float16", f"cross_entropy probs smoothing r{rank} {reduction}", dict(o, targetType="probs", labelSmoothing=0.1),
                {"input": x, "target": q}, F.cross_entropy(d(x), d(q), reduction=reduction, label_smoothing=0.1), "F.cross_entropy(probs) on float16 values")
            add("float16", f"nll_loss r{rank} {reduction}", dict(o, weight=[1.0, 2.0, 0.5, 1.0, 3.0]), {"input": lp, "target": t},
                F.nll_loss(d(lp), t, weight=torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64), reduction=reduction), "F.nll_loss on float16 values")
            add("float16", f"binary_cross_entropy r{rank} {reduction}", dict(o), {"input": p, "target": y},
                F.binary_cross_entropy(d(p), d(y), reduction=reduction), "F.binary_cross_entropy on float16 values")
            add("float16", f"binary_cross_entropy_with_logits r{rank} {reduction}", dict(o, posWeight=[2.0]), {"input": x, "target": y},
                F.binary_cross_entropy_with_logits(d(x), d(y), pos_weight=torch.tensor([2.0], dtype=torch.float64), reduction=reduction),
                "F.binary_cross_entropy_with_logits on float16 values")
            add("float16", f"softmax_focal_loss r{rank} {reduction}", dict(o, alpha=0.25, labelSmoothing=0.1), {"input": x, "target": t},
                focal_reference(d(x), t, 2, 0.25, 0, -100, 0.1, 0, reduction), "focal_reference on float16 values")
            add("float16", f"sigmoid_focal_loss r{rank} {reduction}", dict(o), {"input": x, "target": y},
                tv_sigmoid_focal_loss(d(x), d(y), reduction=reduction), "torchvision sigmoid_focal_loss on float16 values")
    for c in CASES["float16"]:
        c["loss"] = c["id"].split(" ")[0]
        c["dtype"] = "float16"


def onnx_conformance_cases():
    """ONNX's own test cases for SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss (the generators
    in Debian's python3-onnx, onnx.backend.test.case.node), as an external check of cross_entropy and
    nll_loss. Their expected values come from ONNX's numpy reference, not from PyTorch."""
    import numpy as np
    import onnx
    import onnx.backend.test.case.node.negativeloglikelihoodloss as nll_mod
    import onnx.backend.test.case.node.softmaxcrossentropy as sce_mod

    for mod, loss in [(sce_mod, "cross_entropy"), (nll_mod, "nll_loss")]:
        captured = []
        mod.expect = lambda node, inputs, outputs, name, **kw: captured.append((node, inputs, outputs, name))  # noqa: E731
        for cls in mod.Base.__subclasses__() if hasattr(mod, "Base") else []:
            if cls.__module__ != mod.__name__:
                continue
            for attr in sorted(dir(cls)):
                if attr.startswith("export"):
                    getattr(cls, attr)()
        for node, inputs, outputs, name in captured:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            x, t = inputs[0], inputs[1]
            opts = {"rank": int(x.ndim), "reduction": attrs.get("reduction", b"mean").decode()}
            if "ignore_index" in attrs:
                opts["ignoreIndex"] = int(attrs["ignore_index"])
            if len(inputs) > 2:
                opts["weight"] = [float(v) for v in np.asarray(inputs[2], dtype=np.float32)]
            xt = torch.from_numpy(np.asarray(x, dtype=np.float32))
            tt = torch.from_numpy(np.asarray(t, dtype=np.int64))
            add("onnx_conformance", name, opts, {"input": xt, "target": tt}, torch.from_numpy(np.asarray(outputs[0], dtype=np.float64)),
                f"ONNX's numpy reference ({node.op_type}, onnx.backend.test.case.node)")
            CASES["onnx_conformance"][-1]["loss"] = loss


def npy_files():
    """Small .npy files written by NumPy itself, for the .npy reader's tests."""
    import numpy as np
    folder = os.path.join(OUT, "npy")
    os.makedirs(folder, exist_ok=True)
    x = logits(7000, (8, 5)).numpy()
    t = indices(7000, (8,), 5).numpy()
    np.save(os.path.join(folder, "logits_f32.npy"), x)
    np.save(os.path.join(folder, "logits_f64.npy"), x.astype(np.float64))
    np.save(os.path.join(folder, "target_i64.npy"), t)
    np.save(os.path.join(folder, "target_i32.npy"), t.astype(np.int32))
    np.save(os.path.join(folder, "scalar_f32.npy"), np.float32(1.5))
    np.save(os.path.join(folder, "fortran_f32.npy"), np.asfortranarray(x))
    np.save(os.path.join(folder, "big_endian_f32.npy"), x.astype(">f4"))
    np.save(os.path.join(folder, "uint8.npy"), np.arange(4, dtype=np.uint8))
    with open(os.path.join(folder, "v2_f32.npy"), "wb") as f:
        np.lib.format.write_array(f, x, version=(2, 0))


def formula_inputs(n, c):
    """Large inputs defined by integer formulas, so that a test can rebuild them bit for bit instead of
    reading megabytes of JSON (each value is one float64 division, then rounded to float32): logits in
    [-8, 8], probabilities in (0, 1), targets mostly 0 with some 1 and some soft."""
    k = torch.arange(n * c, dtype=torch.int64)
    logits = (((k * 7919) % 2001 - 1000).to(torch.float64) / 125.0).to(torch.float32).reshape(n, c)
    probs = ((((k * 104729) % 9973) + 13).to(torch.float64) / 10000.0).to(torch.float32).reshape(n, c)
    soft = ((k * 31) % 9).to(torch.float64) / 8.0
    target = torch.where(k % 17 == 0, torch.ones_like(soft), torch.where(k % 5 == 0, soft, torch.zeros_like(soft)))
    return logits, probs, target.to(torch.float32).reshape(n, c)


FORMULA = ("k = flat index; logits = float32(((k * 7919) % 2001 - 1000) / 125); probs = float32(((k * 104729) % 9973 + 13) / 10000); "
           "target = 1 if k % 17 == 0 else ((k * 31) % 9) / 8 if k % 5 == 0 else 0")


def large_batch_cases():
    """The elementwise losses' mean and sum on batches that fill all 8 slices of their sliced sum
    (src/losses/common.ts, chunkedSum), or leave the last one short: test/chunks.test.ts rebuilds the
    inputs from FORMULA and compares with these PyTorch values."""
    cases = []
    pw = [1 + i / 4 for i in range(20)]
    w = [0.5 + i / 10 for i in range(20)]
    for n in [40000, 39997]:
        logits, probs, target = formula_inputs(n, 20)
        x, p, y = d(logits), d(probs), d(target)
        for loss, options, value in [
            ("binary_cross_entropy_with_logits", {"reduction": "mean"}, lambda r: F.binary_cross_entropy_with_logits(x, y, reduction=r)),
            ("binary_cross_entropy_with_logits", {"reduction": "sum", "weight": [0.3]}, lambda r: F.binary_cross_entropy_with_logits(x, y, weight=w_tensor([0.3]), reduction=r)),
            ("binary_cross_entropy_with_logits", {"reduction": "mean", "posWeight": pw}, lambda r: F.binary_cross_entropy_with_logits(x, y, pos_weight=w_tensor(pw), reduction=r)),
            ("binary_cross_entropy", {"reduction": "mean"}, lambda r: F.binary_cross_entropy(p, y, reduction=r)),
            ("binary_cross_entropy", {"reduction": "sum", "weight": w}, lambda r: F.binary_cross_entropy(p, y, weight=w_tensor(w), reduction=r)),
            ("sigmoid_focal_loss", {"reduction": "mean"}, lambda r: tv_sigmoid_focal_loss(x, y, alpha=0.25, gamma=2, reduction=r)),
            ("sigmoid_focal_loss", {"reduction": "sum", "alpha": 0.6, "gamma": 0.5}, lambda r: tv_sigmoid_focal_loss(x, y, alpha=0.6, gamma=0.5, reduction=r)),
        ]:
            cases.append({"id": f"{loss} {json.dumps(options, sort_keys=True)} [{n}, 20]", "loss": loss, "options": dict(options, rank=2),
                          "dims": [n, 20], "expected": num(float(value(options["reduction"])))})
    os.makedirs(os.path.join(OUT, "chunks"), exist_ok=True)
    write_fixture(os.path.join(OUT, "chunks", "large.json"), "scripts/make_fixtures.py",
                  f"inputs from a formula (test/chunks.test.ts rebuilds them): {FORMULA}; expected = PyTorch in float64 on the float32 inputs",
                  cases)
    print(f"chunks/large: {len(cases)} cases")


def main():
    torch.set_num_threads(1)
    cross_entropy_cases()
    nll_loss_cases()
    bce_cases()
    bce_logits_cases()
    softmax_focal_cases()
    sigmoid_focal_cases()
    samples()
    float16_cases()
    onnx_conformance_cases()
    npy_files()
    large_batch_cases()
    os.makedirs(OUT, exist_ok=True)
    # infinite logits in a file of their own (test/infinite_logits.test.ts, CPU): the per-loss files are
    # also run on WebGPU and against gradient fixtures, which hold no infinite cases
    infinite = [c for cases in CASES.values() for c in cases if c["id"].startswith("infinite logits")]
    for loss in list(CASES):
        CASES[loss] = [c for c in CASES[loss] if not c["id"].startswith("infinite logits")]
    os.makedirs(os.path.join(OUT, "infinite"), exist_ok=True)
    write_fixture(os.path.join(OUT, "infinite", "logits.json"), "scripts/make_fixtures.py",
                  "BCE with logits and sigmoid focal at logits of +-inf; expected = PyTorch", infinite)
    for loss, cases in CASES.items():
        write_fixture(os.path.join(OUT, f"{loss}.json"), "scripts/make_fixtures.py",
                      "expected = PyTorch in float64 on the float32 inputs; do not edit, regenerate with npm run fixtures", cases)
        print(f"{loss}: {len(cases)} cases")


def write_fixture(path, generator, note, cases):
    """A fixture file: who wrote it, with which torch, what it holds, and its cases, compact JSON (no NaN literals)."""
    doc = {
        "generator": generator,
        "torch": torch.__version__.split("+")[0],
        "torchvision": torchvision.__version__.split("+")[0],
        "note": note,
        "cases": cases,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main()
