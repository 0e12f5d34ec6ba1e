"""Write tests/fixtures/net_<name>.safetensors: PyTorch reference values for every shipped network.

Also for the test networks of tests/fixtures/nets/<name>.yaml (EXTRA: layer options the shipped
networks do not use, e.g. linear layers with `bias: false`).

What it is for: tests/test_net_parity.c runs each network of configs/networks/*.yaml through
cltrain's graph executor and compares with these values: every layer's output of one training
forward, the loss, every parameter gradient, the running statistics after that forward, and
the parameters and buffers after 3 Adam and 3 SGD steps (losses, eval-mode logits after).
The network comes from `cltrain summary --config F --network-json` (so cltrain's own rules
resolve it) and the module from tools/cltrain_torch.py.

To keep the files small (at most about 110 KB each), nothing large is stored:
  - inputs, initial parameters/buffers and dropout keep masks come from a formula both sides
    compute exactly: fill(k, n, lo, hi)[i] = float32(lo + (hi - lo) * u), u = ((i * 2654435761
    + k * 40503 + 12345) mod 2^32) / 2^32, with k = FNV-1a 32 of the tensor's name
    (state_dict name; "input"; "mask.<layer index>"); see tests/test_net_parity.c;
  - each compared tensor is stored as at most 256 evenly spaced elements (index j * n // S)
    plus "sum.<name>" = [sum, sum of |x|] over all of it (float32).
Initial values: conv/linear weight and bias uniform(+-1/sqrt(fan_in)), BN weight [0.5, 1.5),
bias [-0.1, 0.1), running_mean [-0.1, 0.1), running_var [0.5, 1.5), input [-1.5, 1.5), targets
i * 3 % classes, keep = fill >= p. N = 8 images. Adam lr 0.001 betas (0.9, 0.999) eps 1e-8
weight_decay 0.01; SGD lr 0.05 momentum 0.9 weight_decay 0.01; masks fixed over the steps.

Deterministic, one thread, float32. Run (after building cltrain):
    /usr/bin/python3 tools/make_net_fixtures.py [--exe build/cltrain] [--out tests/fixtures]
"""

import argparse
import json
import os
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from cltrain_torch import network_module  # noqa: E402
from torch_model import load_safetensors, save_safetensors  # noqa: E402

NETWORKS = ["digitcnn", "lenet5", "mlp", "vgg-small", "resnet-small"]
EXTRA = ["linear-nobias"]
N, S, STEPS = 8, 256, 3
ADAM = dict(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
SGD = dict(lr=0.05, momentum=0.9, weight_decay=0.01)


def fnv1a(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def fill(name, n, lo, hi):
    i = np.arange(n, dtype=np.uint64)
    v = (i * np.uint64(2654435761) + np.uint64(fnv1a(name) * 40503) + np.uint64(12345)) & np.uint64(0xFFFFFFFF)
    u = v.astype(np.float64) / 4294967296.0
    return torch.from_numpy((lo + (hi - lo) * u).astype(np.float32))


def init_value(name, t, fan_in):
    kind = name.rsplit(".", 1)[1]
    if kind in ("weight", "bias") and fan_in is not None:
        b = 1.0 / np.sqrt(fan_in)
        return fill(name, t.numel(), -b, b).reshape(t.shape)
    ranges = {"weight": (0.5, 1.5), "bias": (-0.1, 0.1), "running_mean": (-0.1, 0.1), "running_var": (0.5, 1.5)}
    lo, hi = ranges[kind]
    return fill(name, t.numel(), lo, hi).reshape(t.shape)


def initial_state(model, netdef):
    fan = {}
    for layer in netdef["layers"]:
        if layer["type"] == "conv2d":
            k = layer["kernel"]
            fan[layer["name"]] = model.get_submodule(layer["name"]).in_channels * k[0] * k[1]
        elif layer["type"] == "linear":
            fan[layer["name"]] = model.get_submodule(layer["name"]).in_features
    sd = OrderedDict()
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.zeros_like(v)
        else:
            sd[k] = init_value(k, v, fan.get(k.rsplit(".", 1)[0]))
    return sd


def put(out, name, t):
    """At most S evenly spaced elements of t, and [sum, sum |x|] of all of it."""
    flat = t.detach().reshape(-1).float()
    n = flat.numel()
    idx = torch.arange(n) if n <= S else torch.tensor([j * n // S for j in range(S)])
    out[name] = flat[idx].clone()
    out["sum." + name] = torch.tensor([flat.double().sum().item(), flat.double().abs().sum().item()],
                                      dtype=torch.float32)


def masks_for(netdef):
    masks = {}
    for i, layer in enumerate(netdef["layers"]):
        if layer["type"] in ("dropout", "dropout2d"):
            shape = layer["output_shape"]
            cols = shape[0] if layer["type"] == "dropout2d" else int(np.prod(shape))
            keep = (fill("mask.%d" % i, N * cols, 0.0, 1.0) >= layer["p"]).float().reshape(N, cols)
            masks[i] = keep
    return masks


def steps(model, init_sd, make_opt, x, y, masks):
    model.load_state_dict(init_sd)
    model.train()
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x, masks=masks), y)
        loss.backward()
        opt.step()
        losses.append(loss.detach().clone())
    model.eval()
    with torch.no_grad():
        logits = model(x).detach().clone()
    return torch.stack(losses), model.state_dict(), logits


def fixture(name, exe):
    cfg = os.path.join(ROOT, "tests", "fixtures", "nets", name + ".yaml") if name in EXTRA else \
        os.path.join(ROOT, "configs", "networks", name + ".yaml")
    text = subprocess.run([exe, "summary", "--config", cfg, "--network-json"], check=True, capture_output=True,
                          text=True).stdout.strip()
    netdef = json.loads(text)
    torch.manual_seed(0)
    model = network_module(netdef)
    init_sd = initial_state(model, netdef)
    inp = netdef["input"]
    x = fill("input", N * inp["channels"] * inp["height"] * inp["width"], -1.5, 1.5).reshape(
        N, inp["channels"], inp["height"], inp["width"])
    y = torch.tensor([i * 3 % netdef["classes"] for i in range(N)], dtype=torch.int64)
    masks = masks_for(netdef)

    out = OrderedDict()
    model.load_state_dict(init_sd)
    model.train()
    rec = {}
    logits = model(x, masks=masks, record=rec)
    loss = F.cross_entropy(logits, y)
    model.zero_grad()
    loss.backward()
    for i in range(len(netdef["layers"])):
        put(out, "act.%d" % i, rec[i])
    out["loss"] = loss.detach().reshape(1).clone()
    for k, p in model.named_parameters():
        put(out, "grad." + k, p.grad)
    for k, v in model.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            put(out, "fwd." + k, v)
    for tag, make_opt in (("adam", lambda ps: torch.optim.Adam(ps, **ADAM)),
                          ("sgd", lambda ps: torch.optim.SGD(ps, **SGD))):
        losses, sd, ev = steps(model, init_sd, make_opt, x, y, masks)
        out[tag + ".loss"] = losses
        for k, v in sd.items():
            if not k.endswith("num_batches_tracked"):
                put(out, "%s.%s" % (tag, k), v)
        out[tag + ".eval_logits"] = ev.reshape(-1)
    meta = OrderedDict([("network", text), ("N", str(N)), ("samples", str(S)), ("torch", torch.__version__),
                        ("generator", "tools/make_net_fixtures.py"), ("adam", json.dumps(ADAM)),
                        ("sgd", json.dumps(SGD))])
    return out, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exe", default=os.environ.get("CLTRAIN_EXE", os.path.join(ROOT, "build", "cltrain")))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("networks", nargs="*", default=NETWORKS + EXTRA)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name in args.networks:
        out, meta = fixture(name, args.exe)
        path = os.path.join(args.out, "net_%s.safetensors" % name)
        save_safetensors(path, out, meta)
        back, m = load_safetensors(path)
        assert list(back) == list(out) and m == dict(meta)
        print("%s: %d tensors, %d bytes" % (path, len(out), os.path.getsize(path)))


if __name__ == "__main__":
    main()
