"""Write tests/fixtures/digitcnn_ref.safetensors: PyTorch reference values for cltrain's tests.

What it is for: one small DigitCNN (c1 8, c2 16, c3 24, hidden 48, p 0.1/0.2, batch 10) with
its init weights, inputs, fixed dropout keep masks, every activation and activation gradient of
one training forward/backward, every parameter gradient, BN running stats after that forward,
and 3 steps each of Adam and SGD (losses, final state_dict, eval-mode logits).
What it does not do: compare anything against C (the C tests do), or test augmentation.

Deterministic: torch.manual_seed(1234), one thread, float32. Run:
    /usr/bin/python3 tools/make_fixtures.py [--out PATH]
"""

import argparse
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model import ACT_NAMES, DigitCNN, load_safetensors, save_safetensors  # noqa: E402

C1, C2, C3, HIDDEN, P1, P2, N = 8, 16, 24, 48, 0.1, 0.2, 10
ADAM = dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
SGD = dict(lr=0.05, momentum=0.9, weight_decay=0.01)
STEPS = 3
TARGET = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]  # labels 0-9 with repeats (1, 3, 5)


def clone_sd(model):
    return OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())


def train_steps(model, init_sd, make_opt, x, y, masks, steps):
    model.load_state_dict(init_sd)
    model.train()
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x, masks=masks), y)
        loss.backward()
        opt.step()
        losses.append(loss.detach().clone())
    model.eval()
    with torch.no_grad():
        eval_logits = model(x).detach().clone()
    return torch.stack(losses), clone_sd(model), eval_logits


def check_dropout_equivalence():
    """The masked path must be exactly F.dropout2d / F.dropout for the same keep mask."""
    g = torch.Generator().manual_seed(7)
    for shape, p in (((4, 6, 5, 5), P1), ((4, 12), P2)):
        x = torch.rand(shape, generator=g) + 0.5  # strictly positive: zeros mark dropped
        torch.manual_seed(99)
        ref = F.dropout2d(x, p, training=True) if len(shape) == 4 else \
            F.dropout(x, p, training=True)
        keep = (ref != 0).float()
        mask = keep[:, :, 0, 0] if len(shape) == 4 else keep
        assert torch.equal(DigitCNN._masked(x, mask, p), ref), "masked dropout != PyTorch"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures",
                                                  "digitcnn_ref.safetensors"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(1234)
    check_dropout_equivalence()
    torch.manual_seed(1234)

    model = DigitCNN(C1, C2, C3, HIDDEN, P1, P2, use_batch_norm=True)
    with torch.no_grad():
        for i in (1, 2, 3):
            bn = getattr(model, "bn%d" % i)
            c = bn.num_features
            bn.weight.copy_(torch.rand(c) + 0.5)
            bn.bias.copy_(torch.randn(c) * 0.1)
            bn.running_mean.copy_(torch.randn(c) * 0.1)
            bn.running_var.copy_(torch.rand(c) + 0.5)
            bn.num_batches_tracked.zero_()
    init_sd = clone_sd(model)

    x = ((torch.rand(N, 1, 28, 28) - 0.1307) / 0.3081).float()
    y = torch.tensor(TARGET, dtype=torch.int64)
    mask1 = torch.bernoulli(torch.full((N, C2), 1.0 - P1))
    mask2 = torch.bernoulli(torch.full((N, HIDDEN), 1.0 - P2))
    masks = (mask1, mask2)

    out = OrderedDict()
    out["input"] = x
    out["target"] = y
    for k, v in init_sd.items():
        out["init." + k] = v
    out["mask.drop1"] = mask1
    out["mask.drop2"] = mask2

    # One training forward + backward from init.
    model.train()
    acts = OrderedDict()
    logits = model(x, masks=masks, record=acts)
    assert list(acts) == ACT_NAMES, list(acts)
    for t in acts.values():
        t.retain_grad()
    loss = F.cross_entropy(logits, y)
    model.zero_grad()
    loss.backward()
    for name in ACT_NAMES:
        out["act." + name] = acts[name].detach().clone()
    for name in ACT_NAMES:
        out["gradact." + name] = acts[name].grad.detach().clone()
    out["loss"] = loss.detach().clone().reshape([])
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach().clone()
    for k, v in model.state_dict().items():
        if k.startswith("bn") and (k.endswith("running_mean") or k.endswith("running_var")
                                   or k.endswith("num_batches_tracked")):
            out["fwd." + k] = v.detach().clone()

    for tag, make_opt in (("adam", lambda ps: torch.optim.Adam(ps, **ADAM)),
                          ("sgd", lambda ps: torch.optim.SGD(ps, **SGD))):
        losses, sd, ev = train_steps(model, init_sd, make_opt, x, y, masks, STEPS)
        out[tag + ".loss"] = losses
        for k, v in sd.items():
            out["%s.%s" % (tag, k)] = v
        out[tag + ".eval_logits"] = ev

    meta = OrderedDict([
        ("c1", str(C1)), ("c2", str(C2)), ("c3", str(C3)), ("hidden", str(HIDDEN)),
        ("p1", str(P1)), ("p2", str(P2)), ("N", str(N)),
        ("adam", "lr=0.01 betas=0.9,0.999 eps=1e-8 weight_decay=0.01"),
        ("sgd", "lr=0.05 momentum=0.9 weight_decay=0.01"),
        ("torch", torch.__version__), ("generator", "tools/make_fixtures.py"),
    ])
    for k, v in out.items():
        assert v.dtype in (torch.float32, torch.int64), (k, v.dtype)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_safetensors(args.out, out, meta)
    self_check(args.out, out, meta)


def self_check(path, written, meta):
    t, m = load_safetensors(path)
    assert m == dict(meta), m
    assert list(t) == list(written), "tensor order/names differ after reload"
    for k, v in written.items():
        assert t[k].dtype == v.dtype and t[k].shape == v.shape, k
        assert torch.equal(t[k], v), k
    sd_names = list(DigitCNN(C1, C2, C3, HIDDEN).state_dict())
    params = [n for n, _ in DigitCNN(C1, C2, C3, HIDDEN).named_parameters()]
    act_shapes = {
        "conv1": [N, C1, 28, 28], "bn1": [N, C1, 28, 28], "relu1": [N, C1, 28, 28],
        "pool1": [N, C1, 14, 14], "conv2": [N, C2, 14, 14], "bn2": [N, C2, 14, 14],
        "relu2": [N, C2, 14, 14], "pool2": [N, C2, 7, 7], "drop1": [N, C2, 7, 7],
        "conv3": [N, C3, 7, 7], "bn3": [N, C3, 7, 7], "relu3": [N, C3, 7, 7],
        "avgpool": [N, C3, 3, 3], "fc1": [N, HIDDEN], "relu_fc1": [N, HIDDEN],
        "drop2": [N, HIDDEN], "fc2": [N, HIDDEN // 2], "relu_fc2": [N, HIDDEN // 2],
        "logits": [N, 10],
    }
    expect = OrderedDict()
    expect["input"] = ([N, 1, 28, 28], torch.float32)
    expect["target"] = ([N], torch.int64)
    ref_sd = DigitCNN(C1, C2, C3, HIDDEN).state_dict()
    for k in sd_names:
        expect["init." + k] = (list(ref_sd[k].shape), ref_sd[k].dtype)
    expect["mask.drop1"] = ([N, C2], torch.float32)
    expect["mask.drop2"] = ([N, HIDDEN], torch.float32)
    for a in ACT_NAMES:
        expect["act." + a] = (act_shapes[a], torch.float32)
    for a in ACT_NAMES:
        expect["gradact." + a] = (act_shapes[a], torch.float32)
    expect["loss"] = ([], torch.float32)
    for p in params:
        expect["grad." + p] = (list(ref_sd[p].shape), torch.float32)
    for k in sd_names:
        if k.startswith("bn") and not (k.endswith(".weight") or k.endswith(".bias")):
            expect["fwd." + k] = (list(ref_sd[k].shape), ref_sd[k].dtype)
    for tag in ("adam", "sgd"):
        expect[tag + ".loss"] = ([STEPS], torch.float32)
        for k in sd_names:
            expect["%s.%s" % (tag, k)] = (list(ref_sd[k].shape), ref_sd[k].dtype)
        expect[tag + ".eval_logits"] = ([N, 10], torch.float32)
    assert list(t) == list(expect), (set(t) ^ set(expect))
    for k, (shape, dtype) in expect.items():
        assert list(t[k].shape) == shape and t[k].dtype == dtype, (k, t[k].shape, shape)
    assert t["init.bn1.num_batches_tracked"].item() == 0
    assert t["fwd.bn1.num_batches_tracked"].item() == 1
    assert t["adam.bn3.num_batches_tracked"].item() == STEPS
    assert t["sgd.bn3.num_batches_tracked"].item() == STEPS
    assert set(t["mask.drop1"].unique().tolist()) <= {0.0, 1.0}
    for tag in ("adam", "sgd"):
        assert t[tag + ".loss"][-1] < t[tag + ".loss"][0], tag + " loss did not decrease"
    # The model loads the final state strictly.
    m2 = DigitCNN(C1, C2, C3, HIDDEN)
    m2.load_state_dict(OrderedDict((k, t["adam." + k]) for k in sd_names), strict=True)
    size = os.path.getsize(path)
    print("wrote %s: %d tensors, %d bytes" % (os.path.relpath(path), len(t), size))
    print("loss %.6f | adam.loss %s | sgd.loss %s" % (
        t["loss"].item(), [round(v, 6) for v in t["adam.loss"].tolist()],
        [round(v, 6) for v in t["sgd.loss"].tolist()]))


if __name__ == "__main__":
    main()
