"""Fixtures of test/archives.test.ts: .npz files written by numpy itself (np.savez, np.savez_compressed)
and .safetensors files written by hand in the documented format (an 8-byte little-endian header length,
the JSON header, the raw little-endian bytes; https://github.com/huggingface/safetensors), with the same
arrays as .npy files, so that eval on an archive can be checked against eval on the .npy files.

Run: /usr/bin/python3 scripts/make_archive_fixtures.py (writes test/fixtures/archives/; PyTorch for weighted.json).
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "archives")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(19)
logits = rng.standard_normal((6, 4)).astype(np.float32)
labels = rng.integers(0, 4, size=(6,)).astype(np.int64)
extra = np.arange(3, dtype=np.float64)

np.save(os.path.join(OUT, "input.npy"), logits)
np.save(os.path.join(OUT, "target.npy"), labels)
np.savez(os.path.join(OUT, "batch.npz"), input=logits, target=labels, extra=extra)
np.savez_compressed(os.path.join(OUT, "batch_compressed.npz"), input=logits, target=labels, extra=extra)
np.savez(os.path.join(OUT, "named.npz"), logits=logits, labels=labels)


def safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype string, shape, raw bytes), laid out in the order given."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # the Rust writer pads the header to 8 bytes with spaces
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, (_, _, raw) in tensors.items():
            f.write(raw)


safetensors(
    os.path.join(OUT, "batch.safetensors"),
    {
        "input": ("F32", logits.shape, logits.tobytes()),
        "target": ("I64", labels.shape, labels.tobytes()),
        "extra": ("F64", extra.shape, extra.tobytes()),
    },
    metadata={"format": "pt"},
)
# bfloat16: the top 16 bits of each float32 (these values are exact in bfloat16), widened to float32 on read
bf = (np.array([[1.0, -2.5, 0.15625, 3.0], [0.0, -0.0, 1024.0, -7.0]], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
safetensors(
    os.path.join(OUT, "dtypes.safetensors"),
    {
        "bf16": ("BF16", bf.shape, bf.tobytes()),
        "f16": ("F16", (2,), np.array([1.5, -2.0], dtype=np.float16).tobytes()),
        "i32": ("I32", (3,), np.array([1, 2, 3], dtype=np.int32).tobytes()),
        "u8": ("U8", (3,), np.array([0, 7, 255], dtype=np.uint8).tobytes()),
        "bool": ("BOOL", (2,), np.array([True, False]).tobytes()),
        "i16": ("I16", (1,), np.array([5], dtype=np.int16).tobytes()),
    },
)

# One .npz per batch with weight tensors, as a PyTorch user dumps one (np.savez of the arrays the call
# takes), and PyTorch's value on them (float64 on the float32 arrays) in weighted.json:
# F.cross_entropy with class-probability targets and a [C] weight, and
# F.binary_cross_entropy_with_logits with a per-class weight [C] and a per-sample pos_weight [N, 1].
probs = rng.random((6, 4)).astype(np.float32)
probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
class_weight = (rng.random(4) * 2 + 0.1).astype(np.float32)
np.savez(os.path.join(OUT, "weighted_probs.npz"), input=logits, target=probs, weight=class_weight)
bce_target = (rng.random((6, 4)) > 0.5).astype(np.float32)
bce_weight = (rng.random(4) * 2).astype(np.float32)
bce_pos_weight = (rng.random((6, 1)) * 3 + 0.1).astype(np.float32)
np.savez(os.path.join(OUT, "weighted_bce.npz"), input=logits, target=bce_target, weight=bce_weight, pos_weight=bce_pos_weight)

import torch  # noqa: E402  (PyTorch only for the expected values)
import torch.nn.functional as F  # noqa: E402


def t64(a):
    return torch.from_numpy(a).to(torch.float64)


expected = {
    "weighted_probs.npz": F.cross_entropy(t64(logits), t64(probs), weight=t64(class_weight)).item(),
    "weighted_bce.npz": F.binary_cross_entropy_with_logits(
        t64(logits), t64(bce_target), weight=t64(bce_weight), pos_weight=t64(bce_pos_weight)
    ).item(),
}
with open(os.path.join(OUT, "weighted.json"), "w") as f:
    json.dump({"generator": "scripts/make_archive_fixtures.py", "note": "PyTorch 1.13 in float64 on the float32 arrays; reduction mean", "expected": expected}, f, indent=2)
    f.write("\n")
