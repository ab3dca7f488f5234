#!/usr/bin/env python3
"""PyTorch side of `npm run bench`: times PyTorch eager losses and exports them with torch.onnx.export.

Usage: bench_torch.py SPEC.json OUT.json. SPEC lists workloads, each with a folder of .npy inputs that the
Node benchmark wrote (logits, probs, logprobs, target) and the losses to run. For each (workload, loss)
this times the eager PyTorch calls in interleaved rounds (medians, torch.set_num_threads as given) and
writes the torch.onnx.export graphs next to the inputs for the Node side to time under onnxruntime.
Needs Debian's python3-torch and python3-torchvision."""
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops import sigmoid_focal_loss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from article_losses import BCEFocalLoss, FixedFocalLoss  # noqa: E402

ALPHA, GAMMA = 0.25, 2


def eager_variants(loss, C):
    """name -> (label, fn(data) -> scalar tensor). The article's FocalLoss is timed in its fixed form:
    the original's [N, 1, N] broadcast needs N^2 memory (2 GB at N = 16384)."""
    if loss == "cross_entropy":
        return {"torch": ("PyTorch eager F.cross_entropy", lambda d: F.cross_entropy(d["logits"], d["target"]))}
    if loss == "nll_loss":
        return {"torch": ("PyTorch eager F.nll_loss", lambda d: F.nll_loss(d["logprobs"], d["target"]))}
    if loss == "softmax_focal_loss":
        fl = FixedFocalLoss(num_class=C, alpha=ALPHA, gamma=GAMMA)
        return {"torch": ("the article's FocalLoss (fixed) in PyTorch", lambda d: fl(d["logits"], d["target"]))}
    if loss == "binary_cross_entropy":
        return {"torch": ("PyTorch eager F.binary_cross_entropy", lambda d: F.binary_cross_entropy(d["probs"], d["target"]))}
    if loss == "binary_cross_entropy_with_logits":
        return {"torch": ("PyTorch eager F.binary_cross_entropy_with_logits", lambda d: F.binary_cross_entropy_with_logits(d["logits"], d["target"]))}
    if loss == "sigmoid_focal_loss":
        bfl = BCEFocalLoss(gamma=GAMMA, alpha=ALPHA)
        return {
            "torch": ("torchvision sigmoid_focal_loss (eager)", lambda d: sigmoid_focal_loss(d["logits"], d["target"], ALPHA, GAMMA, "mean")),
            "torch-article": ("the article's BCEFocalLoss in PyTorch", lambda d: bfl(d["logits"], d["target"])),
        }
    raise ValueError(loss)


class Wrap(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, t):
        return self.fn(x, t)


def export_modules(loss, C):
    """name -> (label, module, which input is x). Exported at opset 17 with dynamic batch dims."""
    if loss == "cross_entropy":
        return {"torch-onnx": ("torch.onnx.export of F.cross_entropy", Wrap(F.cross_entropy), "logits")}
    if loss == "nll_loss":
        return {"torch-onnx": ("torch.onnx.export of F.nll_loss", Wrap(F.nll_loss), "logprobs")}
    if loss == "softmax_focal_loss":
        return {"torch-onnx": ("torch.onnx.export of the article's FocalLoss (batch size baked in)", FixedFocalLoss(num_class=C, alpha=ALPHA, gamma=GAMMA), "logits")}
    if loss == "binary_cross_entropy":
        return {"torch-onnx": ("torch.onnx.export of F.binary_cross_entropy", Wrap(F.binary_cross_entropy), "probs")}
    if loss == "binary_cross_entropy_with_logits":
        return {"torch-onnx": ("torch.onnx.export of F.binary_cross_entropy_with_logits", Wrap(F.binary_cross_entropy_with_logits), "logits")}
    if loss == "sigmoid_focal_loss":
        return {"torch-onnx": ("torch.onnx.export of torchvision sigmoid_focal_loss", Wrap(lambda x, t: sigmoid_focal_loss(x, t, ALPHA, GAMMA, "mean")), "logits")}
    raise ValueError(loss)


def time_interleaved(fns, data, rounds, warmup=2, sync=lambda: None):
    """Medians of interleaved rounds. A variant PyTorch cannot run (a half-precision kernel its CPU
    lacks) is reported with its error instead of a time. `sync` waits for the GPU (cuda)."""
    times = {k: [] for k in fns}
    errors = {}
    with torch.no_grad():
        for k, (_, fn) in fns.items():
            try:
                for _ in range(warmup):
                    fn(data)
                sync()
            except Exception as e:  # noqa: BLE001 - PyTorch's refusal is a result
                errors[k] = str(e).splitlines()[0][:200]
        live = {k: v for k, v in fns.items() if k not in errors}
        for _ in range(rounds):
            for k, (_, fn) in live.items():
                t0 = time.perf_counter()
                fn(data)
                sync()
                times[k].append((time.perf_counter() - t0) * 1000)
    out = {k: {"label": fns[k][0], "ms": statistics.median(v), "runs": len(v)} for k, v in times.items() if k not in errors}
    out.update({k: {"label": fns[k][0], "error": e} for k, e in errors.items()})
    return out


def main(spec_path, out_path):
    spec = json.load(open(spec_path))
    torch.set_num_threads(spec["threads"])
    out = {"torch": torch.__version__.split("+")[0], "torchvision": torchvision.__version__.split("+")[0], "threads": spec["threads"], "workloads": {}}
    # where the eager losses run: the device onnxruntime runs on (cpu, or cuda with --ep cuda) and the
    # input float type (float16 runs PyTorch in half precision; exports stay float32 and are skipped then)
    device = spec.get("device", "cpu")
    half = spec.get("dtype", "float32") == "float16"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for w in spec["workloads"]:
        folder = w["folder"]
        cpu = {k: torch.from_numpy(np.load(os.path.join(folder, f"{k}.npy"))) for k in ["logits", "probs", "logprobs", "target"]}
        data = {k: (v.half() if half and v.is_floating_point() else v).to(device) for k, v in cpu.items()}
        C = data["logits"].shape[1]
        res = {}
        for loss in w["losses"]:
            entry = {"eager": time_interleaved(eager_variants(loss, C), data, w["rounds"], sync=sync), "exported": {}}
            for name, (label, module, xname) in export_modules(loss, C).items():
                if half:
                    entry["exported"][name] = {"label": label, "error": "float32 only"}
                    continue
                path = os.path.join(folder, f"{loss}.{name}.onnx")
                x, t = cpu[xname], cpu["target"]
                dyn = {"x": {0: "N"}, "t": {0: "N"}}
                for i in range(2, x.dim()):
                    dyn["x"][i] = f"d{i - 1}"
                    if t.dim() == x.dim():
                        dyn["t"][i] = f"d{i - 1}"
                    else:
                        dyn["t"][i - 1] = f"d{i - 1}"
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        torch.onnx.export(module, (x, t), path, input_names=["x", "t"], output_names=["loss"], opset_version=17, dynamic_axes=dyn)
                    entry["exported"][name] = {"label": label, "path": path, "input": xname}
                except Exception as e:  # noqa: BLE001 - the exporter's refusal is a result
                    entry["exported"][name] = {"label": label, "error": str(e).splitlines()[0][:200]}
            res[loss] = entry
            print(f"torch: {w['name']} {loss} done", file=sys.stderr)
        out["workloads"][w["name"]] = res
    json.dump(out, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
