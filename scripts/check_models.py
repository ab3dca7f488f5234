#!/usr/bin/env python3
"""Run onnx.checker.check_model(full_check=True) on each .onnx path given; print one JSON line per
file ({"file", "ok", "error"}) and exit 1 if any fails. Needs Debian's python3-onnx (1.12 knows
opsets up to 17)."""
import json
import sys

import onnx


def main(paths):
    failed = 0
    for p in paths:
        try:
            onnx.checker.check_model(onnx.load(p), full_check=True)
            print(json.dumps({"file": p, "ok": True}))
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(json.dumps({"file": p, "ok": False, "error": str(e).splitlines()[0] if str(e) else type(e).__name__}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
