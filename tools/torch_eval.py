"""Evaluate a DigitCNN safetensors file (e.g. written by cltrain) with PyTorch on MNIST test.

What it is for: proving that cltrain's model files load into PyTorch with the seed's
state_dict names (load_state_dict strict=True) and give the accuracy cltrain reports.
Sizes are inferred from the tensor shapes. What it does not do: train, or read pickles.

    /usr/bin/python3 tools/torch_eval.py MODEL.safetensors --data data/mnist [--json]
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model import load_mnist, load_safetensors, model_from_state_dict  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Evaluate a DigitCNN safetensors on MNIST test.")
    ap.add_argument("model", help="MODEL.safetensors")
    ap.add_argument("--data", required=True, help="folder with t10k IDX files (raw or .gz)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--json", action="store_true", help="print one JSON object as last line")
    args = ap.parse_args()

    tensors, meta = load_safetensors(args.model)
    model = model_from_state_dict(tensors)
    model.load_state_dict(tensors, strict=True)
    model.eval()

    x, y = load_mnist(args.data, "t10k")
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for b in range(0, x.shape[0], args.batch_size):
            out = model(x[b:b + args.batch_size])
            yb = y[b:b + args.batch_size]
            loss_sum += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
    n = x.shape[0]
    acc, loss = correct / n, loss_sum / n
    print("%s: test accuracy %.4f, loss %.4f (%d images)" % (args.model, acc, loss, n))
    if args.json:
        print(json.dumps({"model": args.model, "test_accuracy": acc, "test_loss": loss,
                          "test_samples": n, "correct": correct}))


if __name__ == "__main__":
    main()
