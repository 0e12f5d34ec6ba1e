#!/usr/bin/env python3
"""onnx_check.py: checks ONNX files written by `cltrain export` with Debian's python3-onnx:
onnx.checker.check_model(full_check=True), strict shape inference (check_type, strict_mode),
the contract of the export (IR version for the opset, input `input` [N, C, H, W] float with a
symbolic batch dimension, output `logits` [N, classes] (and `probabilities`), every initializer
a state_dict name or a "/layer/..." constant, mean/std/class_names in metadata_props). Prints
one line per file; exits 1 on the first failure.

usage: onnx_check.py FILE.onnx [--softmax] [--mean X --std Y] [--classes K] [--opset N] [--meta KEY=VALUE]..."""
import argparse
import json
import sys

import onnx
from onnx import TensorProto, shape_inference


def dims(vi):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in vi.type.tensor_type.shape.dim]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--softmax", action="store_true")
    ap.add_argument("--mean", type=float)
    ap.add_argument("--std", type=float)
    ap.add_argument("--classes", type=int)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--meta", action="append", default=[], help="KEY=VALUE: metadata_props[KEY] must be VALUE")
    a = ap.parse_args()
    m = onnx.load(a.file)
    onnx.checker.check_model(m, full_check=True)
    inferred = shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    onnx.checker.check_model(inferred, full_check=True)
    want_ir = 7 if a.opset <= 14 else 8
    assert m.ir_version == want_ir, f"ir_version {m.ir_version}, want {want_ir}"
    ops = {(o.domain, o.version) for o in m.opset_import}
    assert ops == {("", a.opset)}, f"opset_import {ops}"
    g = m.graph
    assert [i.name for i in g.input] == ["input"], [i.name for i in g.input]
    ind = dims(g.input[0])
    assert g.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert len(ind) == 4 and isinstance(ind[0], str) and ind[0], f"input dims {ind}"
    outs = [o.name for o in g.output]
    assert outs == (["logits", "probabilities"] if a.softmax else ["logits"]), outs
    classes = dims(g.output[0])[1]
    if a.classes is not None:
        assert classes == a.classes, f"{classes} classes, want {a.classes}"
    # the inferred shape of every output equals the declared one
    for o in inferred.graph.output:
        assert dims(o) == [ind[0], classes], f"{o.name}: inferred {dims(o)}"
    ops_used = sorted({n.op_type for n in g.node})
    assert "Dropout" not in ops_used
    for t in g.initializer:
        assert t.name.startswith("/") or "." in t.name, f"initializer {t.name}: not a state_dict name"
    meta = {p.key: p.value for p in m.metadata_props}
    for k in ("mean", "std", "class_names", "preprocessing", "network"):
        assert k in meta, f"metadata_props lacks {k}"
    names = json.loads(meta["class_names"])
    assert len(names) == classes, f"{len(names)} class names for {classes} classes"
    json.loads(meta["network"])
    if a.mean is not None:
        assert abs(float(meta["mean"]) - a.mean) < 1e-6, meta["mean"]
    if a.std is not None:
        assert abs(float(meta["std"]) - a.std) < 1e-6, meta["std"]
    for kv in a.meta:
        k, v = kv.split("=", 1)
        assert meta.get(k) == v, f"metadata_props[{k}] = {meta.get(k)!r}, want {v!r}"
    print(f"onnx_check: {a.file}: checker (full_check) and strict shape inference ok; IR {m.ir_version}, "
          f"opset {a.opset}, input {ind}, {len(g.node)} nodes ({', '.join(ops_used)}), "
          f"{len(g.initializer)} initializers, outputs {outs} [{ind[0]}, {classes}]")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # any failure: name the file, exit 1
        print(f"onnx_check: FAIL: {sys.argv[1] if len(sys.argv) > 1 else '?'}: {type(e).__name__}: {e}")
        sys.exit(1)
