"""Fixtures of test/archives.test.ts: .npz files written by numpy itself (np.savez, np.savez_compressed)
and .safetensors files written by hand in the documented format (an 8-byte little-endian header length,
the JSON header, the raw little-endian bytes; https://github.com/huggingface/safetensors), with the same
arrays as .npy files, so that eval on an archive can be checked against eval on the .npy files.

Run: python3 scripts/make_archive_fixtures.py (writes test/fixtures/archives/).
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
