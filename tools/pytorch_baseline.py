"""PyTorch baseline for cltrain: trains the seed's DigitCNN (or a config's network) on the CPU.

What it is for: accuracy and speed numbers to compare the C/OpenCL engine against, using the
same data handling (normalisation, stratified split from tools/torch_model.py, seed 42) and
the seed's training semantics (shuffle per epoch, mean cross-entropy, StepLR per epoch,
validation each epoch with the seed's val loss = mean of per-batch mean losses).
What it does not do: augmentation (not needed for a baseline), early stopping, GPUs.

With --config F (e.g. configs/networks/resnet-small.yaml) the network is the config's, built by
tools/cltrain_torch.py from `cltrain summary --network-json` (so build/cltrain or $CLTRAIN_EXE
must exist), and the batch size, optimizer, learning rate, momentum, weight decay, seed,
validation split, StepLR schedule and data mean/std come from the config; a flag given on the
command line wins over the config. The data set may be MNIST or Fashion-MNIST (IDX, raw or .gz).

    /usr/bin/python3 tools/pytorch_baseline.py --data data/mnist --epochs 2 [--json]
    /usr/bin/python3 tools/pytorch_baseline.py --config configs/networks/lenet5.yaml --data data/mnist --epochs 1
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model import (MNIST_MEAN, MNIST_STD, DigitCNN, load_mnist,  # noqa: E402
                         save_safetensors, stratified_split)

# argparse name -> (config section, key, seed default when there is no config)
SETTINGS = {
    "batch_size": ("training", "batch_size", 64),
    "lr": ("training", "learning_rate", 0.001),
    "optimizer": ("training", "optimizer_type", "adam"),
    "momentum": ("training", "momentum", 0.9),
    "weight_decay": ("training", "weight_decay", 1e-5),
    "seed": ("training", "seed", 42),
}


def read_config(path):
    """The YAML config as a dict ({} without one); exits 2 with the file name when unreadable."""
    if not path:
        return {}
    try:
        import yaml
    except ImportError:
        sys.exit("--config needs PyYAML: apt-get install python3-yaml")
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        print("%s: cannot read the config: %s" % (path, e), file=sys.stderr)
        sys.exit(2)
    if not isinstance(cfg, dict):
        print("%s: the config is not a mapping of sections" % path, file=sys.stderr)
        sys.exit(2)
    return cfg


def apply_config(args, cfg):
    """Fills every flag left at None from the config, else from the seed's defaults; returns
    (validation split, (use StepLR, step size, gamma), (mean, std))."""
    def get(section, key, default):
        v = (cfg.get(section) or {}).get(key)
        return default if v is None else v
    for name, (section, key, default) in SETTINGS.items():
        if getattr(args, name) is None:
            setattr(args, name, get(section, key, default))
    args.optimizer = str(args.optimizer).lower()
    if args.optimizer not in ("adam", "sgd"):
        sys.exit("optimizer %r: this baseline runs adam or sgd" % args.optimizer)
    sched = (bool(get("scheduler", "use_lr_scheduler", True)),
             int(get("scheduler", "lr_step_size", 10)), float(get("scheduler", "lr_gamma", 0.1)))
    mean, std = get("data", "mean", MNIST_MEAN), get("data", "std", MNIST_STD)
    mean = mean[0] if isinstance(mean, list) else mean
    std = std[0] if isinstance(std, list) else std
    return float(get("training", "validation_split", 0.2)), sched, (float(mean), float(std))


def renormalise(x, mean, std):
    """load_mnist normalises with MNIST's mean/std; this re-normalises with the config's."""
    if mean == MNIST_MEAN and std == MNIST_STD:
        return x
    return ((x * MNIST_STD + MNIST_MEAN) - mean) / std


def evaluate(model, x, y, batch_size):
    """Returns (mean of per-batch mean losses, accuracy fraction, seconds)."""
    model.eval()
    loss_sum, correct, batches = 0.0, 0, 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for b in range(0, x.shape[0], batch_size):
            xb, yb = x[b:b + batch_size], y[b:b + batch_size]
            out = model(xb)
            loss_sum += F.cross_entropy(out, yb).item()
            correct += (out.argmax(1) == yb).sum().item()
            batches += 1
    secs = time.perf_counter() - t0
    return loss_sum / max(batches, 1), correct / max(x.shape[0], 1), secs


def blas_library():
    """The library behind libblas.so.3 in this process (PyTorch's linear layers call its sgemm;
    Debian's python3-torch takes whatever libblas.so.3 the alternatives system points at: the
    reference BLAS, .../blas/libblas.so.3.*, unless OpenBLAS or another is installed)."""
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # make sure the BLAS is loaded
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if line.rstrip().rsplit("/", 1)[-1].startswith("libblas.so")}
    except OSError:
        return "unknown"
    real = sorted({os.path.realpath(p) for p in libs})
    return ", ".join(real) if real else "none loaded"


def main():
    ap = argparse.ArgumentParser(description="Train DigitCNN (or --config's network) on MNIST "
                                 "with PyTorch (baseline).")
    ap.add_argument("--data", required=True, help="folder with the 4 MNIST IDX files (raw or .gz)")
    ap.add_argument("--config", metavar="F.yaml",
                    help="cltrain config: its network (via tools/cltrain_torch.py) and training keys")
    ap.add_argument("--cltrain", metavar="PATH", help="cltrain executable for --config "
                    "(default: $CLTRAIN_EXE, else build/cltrain)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None, help="default: config, else 64")
    ap.add_argument("--lr", type=float, default=None, help="default: config, else 0.001")
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default=None,
                    help="default: config, else adam")
    ap.add_argument("--momentum", type=float, default=None, help="default: config, else 0.9")
    ap.add_argument("--weight-decay", type=float, default=None, help="default: config, else 1e-5")
    ap.add_argument("--seed", type=int, default=None, help="default: config, else 42")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--no-augmentation", action="store_true",
                    help="accepted for symmetry with cltrain; this baseline never augments")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="stop after this many training steps in total (0: no limit)")
    ap.add_argument("--save", metavar="PATH.safetensors", help="save the final state_dict")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON summary object as the last stdout line")
    args = ap.parse_args()
    val_split, (use_sched, step_size, gamma), (mean, std) = apply_config(args, read_config(args.config))

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    x_all, y_all = load_mnist(args.data, "train")
    x_test, y_test = load_mnist(args.data, "t10k")
    x_all, x_test = renormalise(x_all, mean, std), renormalise(x_test, mean, std)
    tr_idx, va_idx = stratified_split(y_all.tolist(), args.seed, val_split)
    tr_idx, va_idx = torch.tensor(tr_idx), torch.tensor(va_idx)
    x_tr, y_tr = x_all[tr_idx].contiguous(), y_all[tr_idx].contiguous()
    x_va, y_va = x_all[va_idx].contiguous(), y_all[va_idx].contiguous()
    blas = blas_library()
    print("data: train %d, val %d, test %d, threads %d, torch %s, BLAS %s"
          % (len(y_tr), len(y_va), len(y_test), args.threads, torch.__version__, blas), flush=True)

    if args.config:
        from cltrain_torch import netdef_from_config, network_module
        try:
            model = network_module(netdef_from_config(args.config, args.cltrain))
        except (OSError, ValueError) as e:
            print("%s: %s" % (args.config, e), file=sys.stderr)
            sys.exit(2)
    else:
        model = DigitCNN()
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              weight_decay=args.weight_decay)
    sched = (torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
             if use_sched else None)
    gen = torch.Generator().manual_seed(args.seed)

    steps, train_images, train_secs = 0, 0, 0.0
    val_acc_pct = 0.0
    epochs_run = 0
    stop = False
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(y_tr), generator=gen)
        loss_sum, batches, correct, seen = 0.0, 0, 0, 0
        lr_now = opt.param_groups[0]["lr"]
        t0 = time.perf_counter()
        for b in range(0, len(perm), args.batch_size):
            idx = perm[b:b + args.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            opt.zero_grad()
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            batches += 1
            correct += (out.detach().argmax(1) == yb).sum().item()
            seen += yb.shape[0]
            steps += 1
            if args.max_steps and steps >= args.max_steps:
                stop = True
                break
        secs = time.perf_counter() - t0
        train_secs += secs
        train_images += seen
        epochs_run += 1
        val_loss, val_acc, _ = evaluate(model, x_va, y_va, args.batch_size)
        val_acc_pct = 100.0 * val_acc
        print("epoch %d/%d: train loss %.4f, train acc %.2f%%, val loss %.4f, val acc %.2f%%, "
              "lr %.6f, %.1f train images/s%s"
              % (epoch + 1, args.epochs, loss_sum / max(batches, 1),
                 100.0 * correct / max(seen, 1), val_loss, val_acc_pct, lr_now,
                 seen / secs if secs > 0 else 0.0,
                 " (stopped at --max-steps %d)" % args.max_steps if stop else ""), flush=True)
        if sched is not None:
            sched.step()
        if stop:
            break

    test_loss, test_acc, test_secs = evaluate(model, x_test, y_test, 1000)
    print("test: accuracy %.4f, loss %.4f, %.1f eval images/s"
          % (test_acc, test_loss, len(y_test) / test_secs), flush=True)

    if args.save:
        meta = {"generator": "tools/pytorch_baseline.py", "torch": torch.__version__,
                "config": json.dumps(vars(args), sort_keys=True),
                "final_val_accuracy": "%.4f" % val_acc_pct, "test_accuracy": "%.4f" % test_acc}
        save_safetensors(args.save, model.state_dict(), meta)
        print("saved %s" % args.save, flush=True)

    total = time.perf_counter() - t_start
    if args.json:
        print(json.dumps({
            "epochs": epochs_run,
            "final_val_accuracy": val_acc_pct,
            "test_accuracy": test_acc,
            "train_images_per_second": train_images / train_secs if train_secs > 0 else 0.0,
            "eval_images_per_second": len(y_test) / test_secs if test_secs > 0 else 0.0,
            "total_seconds": total,
            "threads": args.threads,
            "params": sum(p.numel() for p in model.parameters()),
            "torch": torch.__version__,
            "blas": blas,
        }), flush=True)


if __name__ == "__main__":
    main()
