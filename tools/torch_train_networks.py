"""Train shipped networks briefly in PyTorch and save plain safetensors (no cltrain metadata).

What it is for: the proof that a PyTorch-trained file of each network in configs/networks/
scores the same under `cltrain evaluate --config configs/networks/X.yaml --model FILE` as in
PyTorch (tests/cli_torch_trained.sh). For each config it builds the module with
tools/cltrain_torch.py (network from `cltrain summary --config F --network-json`), trains it
for --steps Adam steps (batch --batch, lr --lr, seeded, no augmentation, dropout on) on the
training images of an MNIST-format folder, saves `model.state_dict()` to OUT/X.safetensors as
PyTorch users do (tensors only: the file carries no `network` metadata, so cltrain must take
the network from --config), then evaluates it in eval mode on the folder's test images.

Prints one JSON line per network: {"network", "model", "steps", "train_loss", "test_accuracy",
"test_loss", "test_samples"} (test_loss = mean cross-entropy, as cltrain evaluate reports it).
With --save-logits also OUT/X.logits.safetensors: the eval-mode logits of every test image
(tensor "logits", N x classes), to compare with `cltrain predict --logits`.
What it does not do: validation splits, schedules, augmentation, or anything on a GPU.

    /usr/bin/python3 tools/torch_train_networks.py --data tests/fixtures/mnist-small --out DIR \
        [--steps 40] [--save-logits] [--exe build/cltrain] configs/networks/lenet5.yaml ...
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cltrain_torch import netdef_from_config, network_module  # noqa: E402
from torch_model import load_mnist, save_safetensors  # noqa: E402


def train(model, x, y, steps, batch, lr, seed):
    """`steps` Adam steps over a seeded shuffle of (x, y); returns the last batch's loss."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    order = torch.randperm(x.shape[0], generator=g)
    loss = torch.tensor(float("nan"))
    for s in range(steps):
        if (s + 1) * batch > order.numel():
            order = torch.cat([order, torch.randperm(x.shape[0], generator=g)])
        idx = order[s * batch:(s + 1) * batch]
        opt.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return loss.item()


def evaluate(model, x, y, batch=1000):
    """(accuracy, mean loss, logits) in eval mode"""
    model.eval()
    loss_sum, correct, logits = 0.0, 0, []
    with torch.no_grad():
        for b in range(0, x.shape[0], batch):
            out = model(x[b:b + batch])
            loss_sum += F.cross_entropy(out, y[b:b + batch], reduction="sum").double().item()
            correct += (out.argmax(1) == y[b:b + batch]).sum().item()
            logits.append(out)
    return correct / x.shape[0], loss_sum / x.shape[0], torch.cat(logits)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("configs", nargs="+", help="configs/networks/X.yaml files")
    ap.add_argument("--data", required=True, help="MNIST-format folder (train + t10k IDX files, raw or .gz)")
    ap.add_argument("--out", required=True, help="folder for X.safetensors")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--save-logits", action="store_true", help="also write OUT/X.logits.safetensors")
    ap.add_argument("--exe", default=None, help="cltrain executable (default: $CLTRAIN_EXE, build/cltrain)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    xtr, ytr = load_mnist(args.data, "train")
    xte, yte = load_mnist(args.data, "t10k")
    os.makedirs(args.out, exist_ok=True)
    for cfg in args.configs:
        name = os.path.splitext(os.path.basename(cfg))[0]
        netdef = netdef_from_config(cfg, args.exe)
        torch.manual_seed(args.seed)
        model = network_module(netdef)
        train_loss = train(model, xtr, ytr, args.steps, args.batch, args.lr, args.seed)
        path = os.path.join(args.out, name + ".safetensors")
        save_safetensors(path, model.state_dict())  # tensors only, as a PyTorch user saves them
        acc, loss, logits = evaluate(model, xte, yte)
        if args.save_logits:
            save_safetensors(os.path.join(args.out, name + ".logits.safetensors"), {"logits": logits.contiguous()})
        print(json.dumps({"network": name, "model": path, "steps": args.steps, "train_loss": train_loss,
                          "test_accuracy": acc, "test_loss": loss, "test_samples": int(xte.shape[0])}),
              flush=True)


if __name__ == "__main__":
    main()
