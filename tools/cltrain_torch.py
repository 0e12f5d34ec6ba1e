"""PyTorch modules for cltrain networks: from a model file's `network` metadata or a config.

What it is for: given the network description cltrain writes (the JSON form of
src/nn/netdef.h: a model file's or checkpoint's safetensors __metadata__ key `network`, or what
`cltrain summary --config F --network-json` prints for a config's `network:` section), build an
nn.Module whose state_dict keys are exactly `<layer name>.<param>` (nested modules for dotted
names: `block2.shortcut.0` is module block2 -> shortcut -> 0), so that

    model = network_module(netdef)
    model.load_state_dict(load_file(path), strict=True)

works, and whose forward computes what cltrain computes (flatten = torch.flatten(x, 1); `add`
sums its inputs; every layer with PyTorch's module and defaults).

The three lines for a model file (no safetensors package needed; tools/torch_model.py reads it):

    import sys; sys.path.insert(0, "tools")
    from cltrain_torch import load_model
    model = load_model("models/resnet_small_20260101_120000_acc99p10.safetensors")  # eval mode

Functions:
  network_module(netdef)          nn.Module (class CltrainNet) for a netdef dict (or JSON text)
  netdef_from_model_file(path)    the `network` metadata of a safetensors file (None without it)
  netdef_from_config(path, exe)   runs `cltrain summary --config path --network-json`
                                  (exe: $CLTRAIN_EXE, else build/cltrain, else cltrain on PATH);
                                  cltrain itself applies every rule, so nothing is re-parsed here
  load_model(path, config=None)   module with the file's weights loaded strictly, in eval mode;
                                  a file without `network` metadata (e.g. written by PyTorch)
                                  takes the network of `config`, else the seed's DigitCNN
CltrainNet.forward(x, masks=None, record=None): masks {layer index: 0/1 keep mask} replaces the
dropout modules in training mode ((N, F) for dropout, (N, C) for dropout2d; out = x * mask /
(1 - p) as PyTorch); record (a dict) receives every layer's output by index.

`python3 tools/cltrain_torch.py FILE.safetensors | --config F` prints the module and its
parameter count; `--selftest` checks every configs/networks/*.yaml against `cltrain summary`
(parameter counts, state_dict keys, output shapes) and digitcnn.yaml against torch_model's
DigitCNN (same keys, same outputs). Run with /usr/bin/python3 (PyTorch 1.13).
"""

import json
import os
import shutil
import subprocess
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model import load_safetensors, model_from_state_dict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Add(nn.Module):
    """cltrain's `add`: the sum of two or more equal-shaped inputs."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def _input_shape(net, layer):
    i = layer["inputs"][0]
    if i < 0:
        inp = net["input"]
        return [inp["channels"], inp["height"], inp["width"]]
    return net["layers"][i]["output_shape"]


def _make(net, layer):
    """The PyTorch module of one layer (PyTorch's defaults where a key is absent)."""
    t = layer["type"]
    shape = _input_shape(net, layer)
    if t == "conv2d":
        return nn.Conv2d(shape[0], layer["out_channels"], _pair(layer["kernel"]), _pair(layer.get("stride", 1)),
                         _pair(layer.get("padding", 0)), bias=layer.get("bias", True))
    if t in ("batchnorm2d", "batchnorm1d"):
        cls = nn.BatchNorm2d if t == "batchnorm2d" else nn.BatchNorm1d
        return cls(shape[0], eps=layer.get("eps", 1e-5), momentum=layer.get("momentum", 0.1))
    if t == "linear":
        return nn.Linear(shape[0], layer["out_features"], bias=layer.get("bias", True))
    if t == "maxpool2d":
        k = _pair(layer["kernel"])
        return nn.MaxPool2d(k, _pair(layer.get("stride", k)), _pair(layer.get("padding", 0)))
    if t == "avgpool2d":
        k = _pair(layer["kernel"])
        return nn.AvgPool2d(k, _pair(layer.get("stride", k)), _pair(layer.get("padding", 0)),
                            count_include_pad=layer.get("count_include_pad", True))
    if t == "adaptive_avgpool2d":
        return nn.AdaptiveAvgPool2d(_pair(layer["output"]))
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "add": Add}
    if t in simple:
        return simple[t]()
    if t == "leaky_relu":
        return nn.LeakyReLU(layer.get("negative_slope", 0.01))
    if t == "dropout":
        return nn.Dropout(layer.get("p", 0.5))
    if t == "dropout2d":
        return nn.Dropout2d(layer.get("p", 0.5))
    if t == "flatten":
        return nn.Flatten(1)
    raise ValueError("unknown layer type %r" % t)


def _place(root, name, module):
    """Registers module at a dotted path, creating plain container modules on the way."""
    parts = name.split(".")
    parent = root
    for seg in parts[:-1]:
        if seg not in parent._modules:
            parent.add_module(seg, nn.Module())
        parent = parent._modules[seg]
    parent.add_module(parts[-1], module)


class CltrainNet(nn.Module):
    """The layer graph of a cltrain network description (see the module docstring)."""

    def __init__(self, netdef):
        super().__init__()
        if isinstance(netdef, (str, bytes)):
            netdef = json.loads(netdef)
        self._netdef = netdef
        mods = []
        unnamed = nn.ModuleList()  # stateless layers without a name (no state_dict entries)
        for layer in netdef["layers"]:
            m = _make(netdef, layer)
            if layer.get("name"):
                _place(self, layer["name"], m)
            else:
                unnamed.append(m)
            mods.append(m)
        if len(unnamed):
            self.add_module("_unnamed", unnamed)
        self._mods = mods  # plain list: forward order (the modules are registered above)

    def layer_names(self):
        return [l.get("name", "") for l in self._netdef["layers"]]

    def forward(self, x, masks=None, record=None):
        outs = []
        for i, (layer, m) in enumerate(zip(self._netdef["layers"], self._mods)):
            ins = [x if j < 0 else outs[j] for j in layer["inputs"]]
            t = layer["type"]
            if self.training and masks is not None and i in masks and t in ("dropout", "dropout2d"):
                noise = masks[i].to(ins[0].dtype) / (1.0 - layer.get("p", 0.5))
                if ins[0].dim() == 4:
                    noise = noise[:, :, None, None]
                y = ins[0] * noise
            elif t == "add":
                y = m(*ins)
            else:
                y = m(ins[0])
            outs.append(y)
            if record is not None:
                record[i] = y
        return outs[-1]


def network_module(netdef):
    return CltrainNet(netdef)


def netdef_from_model_file(path):
    _, meta = load_safetensors(path)
    text = meta.get("network")
    return json.loads(text) if text else None


def _cltrain_exe(exe=None):
    for cand in (exe, os.environ.get("CLTRAIN_EXE"), os.path.join(ROOT, "build", "cltrain")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    found = shutil.which("cltrain")
    if not found:
        raise FileNotFoundError("cltrain not found: pass exe=, set CLTRAIN_EXE or build it into build/cltrain")
    return found


def netdef_from_config(path, exe=None):
    r = subprocess.run([_cltrain_exe(exe), "summary", "--config", path, "--network-json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        raise ValueError(r.stderr.strip() or "cltrain summary failed (exit %d)" % r.returncode)
    return json.loads(r.stdout.strip().splitlines()[-1])


def load_model(path, config=None, exe=None):
    sd, meta = load_safetensors(path)
    if meta.get("network"):
        model = CltrainNet(meta["network"])
    elif config:
        model = CltrainNet(netdef_from_config(config, exe))
    else:
        model = model_from_state_dict(sd)
    model.load_state_dict(sd, strict=True)
    return model.eval()


# --------------------------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------------------------

def _selftest(exe=None):
    import glob
    from torch_model import DigitCNN
    failures = 0
    for cfg in sorted(glob.glob(os.path.join(ROOT, "configs", "networks", "*.yaml"))):
        name = os.path.basename(cfg)
        net = netdef_from_config(cfg, exe)
        r = subprocess.run([_cltrain_exe(exe), "summary", "--config", cfg, "--json"], stdout=subprocess.PIPE,
                           universal_newlines=True, check=True)
        summ = json.loads(r.stdout.strip().splitlines()[-1])
        m = CltrainNet(net).eval()
        n = sum(p.numel() for p in m.parameters())
        ok = n == summ["params"]
        names = {l["name"] for l in net["layers"] if l.get("name")}
        for k in m.state_dict():
            owner, _, param = k.rpartition(".")
            ok &= owner in names and param in ("weight", "bias", "running_mean", "running_var",
                                               "num_batches_tracked")
        rec = {}
        inp = net["input"]
        y = m(torch.randn(3, inp["channels"], inp["height"], inp["width"]), record=rec)
        ok &= tuple(y.shape) == (3, net["classes"])
        for i, l in enumerate(net["layers"]):
            ok &= list(rec[i].shape[1:]) == l["output_shape"]
        # a model file with `network` metadata loads strictly and computes the same
        import tempfile
        from torch_model import save_safetensors
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.safetensors")
            save_safetensors(path, m.state_dict(), {"network": json.dumps(net)})
            back = load_model(path)
            x = torch.randn(2, inp["channels"], inp["height"], inp["width"])
            ok &= not back.training and torch.equal(back(x), m(x))
            ok &= netdef_from_model_file(path) == net
        print("%s %s: %d parameters, %d state_dict keys" % ("ok  " if ok else "FAIL", name, n, len(m.state_dict())))
        failures += not ok
        if name == "digitcnn.yaml":
            torch.manual_seed(0)
            ref = DigitCNN().eval()
            with torch.no_grad():
                for b in ref.modules():
                    if isinstance(b, nn.BatchNorm2d):
                        b.running_mean.uniform_(-0.5, 0.5)
                        b.running_var.uniform_(0.5, 2.0)
            same = list(ref.state_dict()) == list(m.state_dict())
            m.load_state_dict(ref.state_dict(), strict=True)
            x = torch.randn(5, 1, 28, 28)
            diff = (m(x) - ref(x)).abs().max().item()
            good = same and diff == 0.0
            print("%s digitcnn.yaml == torch_model.DigitCNN: same state_dict keys in order %s, max |diff| %g"
                  % ("ok  " if good else "FAIL", same, diff))
            failures += not good
    return failures


def main(argv):
    if argv[1:2] == ["--selftest"]:
        return 1 if _selftest(argv[2] if len(argv) > 2 else None) else 0
    if len(argv) == 3 and argv[1] == "--config":
        m = CltrainNet(netdef_from_config(argv[2]))
    elif len(argv) == 2 and not argv[1].startswith("-"):
        m = load_model(argv[1])
    else:
        print("usage: cltrain_torch.py MODEL.safetensors | --config CONFIG.yaml | --selftest [CLTRAIN]",
              file=sys.stderr)
        return 2
    print(m)
    print("parameters:", sum(p.numel() for p in m.parameters()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
