#!/usr/bin/env python3
"""Compares the float tensors of two safetensors files: every tensor of A must be in B with the
same shape and |a - b| <= atol + rtol * |b| elementwise. Prints the worst tensor; exit 1 on a
mismatch. Used by the MPI tests (tests/cli_mpi*.sh): N processes against one device.
usage: st_compare.py A B [--rtol 1e-4] [--atol 1e-6] [--skip PREFIX]..."""
import json
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64}[t["dtype"]]
        out[name] = np.frombuffer(body[a:b], dtype=dt).reshape(t["shape"])
    return out


def main(argv):
    args, rtol, atol, skip = [], 1e-4, 1e-6, []
    it = iter(argv[1:])
    for a in it:
        if a == "--rtol":
            rtol = float(next(it))
        elif a == "--atol":
            atol = float(next(it))
        elif a == "--skip":
            skip.append(next(it))
        else:
            args.append(a)
    A, B = load(args[0]), load(args[1])
    worst, worst_name, bad = 0.0, "", []
    for name, a in A.items():
        if any(name.startswith(p) for p in skip):
            continue
        if name not in B or B[name].shape != a.shape:
            bad.append(name + " (missing or another shape)")
            continue
        b = B[name]
        if a.dtype.kind != "f":
            if not np.array_equal(a, b):
                bad.append(name + " (integers differ)")
            continue
        excess = np.abs(a.astype(np.float64) - b) / (atol + rtol * np.abs(b.astype(np.float64)))
        m = float(excess.max()) if excess.size else 0.0
        if m > worst:
            worst, worst_name = m, name
        if m > 1.0:
            bad.append("%s (max |a-b| = %.3g, %.2fx the tolerance)" % (name, float(np.abs(a - b).max()), m))
    print("compared %d tensors: worst %s at %.3fx the tolerance (rtol %g, atol %g)" % (len(A), worst_name or "-", worst, rtol, atol))
    for b in bad:
        print("MISMATCH " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
