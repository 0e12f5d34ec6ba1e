"""Shared PyTorch-side helpers for cltrain's reference tools.

What it is for: the DigitCNN of the seed pipeline (same attribute and state_dict names,
configurable sizes), a dependency-free safetensors reader/writer, an IDX (MNIST) reader for
raw or gzip files, and the stratified train/validation split that the C side reproduces bit
for bit. What it does not do: training loops, augmentation, file-system atomicity (these are
test/benchmark helpers; the C engine is the product).

Run with Debian's interpreter: /usr/bin/python3 (PyTorch 1.13, numpy).

Split check (the C test asserts the same numbers):
  labels = [i % 10 for i in range(100)], seed 42, val_fraction 0.2
  -> 20 validation indices, first five: 0, 1, 7, 12, 22
     (all 20: 0 1 7 12 22 25 36 53 58 63 67 68 76 79 84 85 90 91 94 99; 80 training)
  splitmix64 self-check: seed 0 -> first next() = 0xe220a8397b1dcdaf;
  seed 1234567 -> 6457827717110365317, 3203168211198807973, 9817491932198370423
  `/usr/bin/python3 tools/torch_model.py` prints this check.
"""

import gzip
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

# Names of the recorded activations, in forward order (see DigitCNN.forward(record=...)).
ACT_NAMES = [
    "conv1", "bn1", "relu1", "pool1",
    "conv2", "bn2", "relu2", "pool2", "drop1",
    "conv3", "bn3", "relu3", "avgpool",
    "fc1", "relu_fc1", "drop2", "fc2", "relu_fc2", "logits",
]


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

class DigitCNN(nn.Module):
    """DigitCNN of the seed pipeline (input N x 1 x 28 x 28, output N x 10 raw logits).

    conv1 5x5 p2 -> bn1 -> ReLU -> pool1 2x2 -> conv2 5x5 p2 -> bn2 -> ReLU -> pool2 2x2
    -> dropout1 (Dropout2d p1) -> conv3 3x3 p1 -> bn3 -> ReLU -> pool3 AdaptiveAvgPool2d(3)
    -> flatten (C,H,W) -> fc1 -> ReLU -> dropout2 (Dropout p2) -> fc2 -> ReLU -> fc3.
    """

    def __init__(self, c1=32, c2=64, c3=128, hidden=256, p1=0.1, p2=0.2, use_batch_norm=True):
        super().__init__()
        self.p1 = float(p1)
        self.p2 = float(p2)
        self.conv1 = nn.Conv2d(1, c1, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm2d(c1) if use_batch_norm else nn.Identity()
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm2d(c2) if use_batch_norm else nn.Identity()
        self.pool2 = nn.MaxPool2d(2, 2)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3, padding=1)
        self.bn3 = nn.BatchNorm2d(c3) if use_batch_norm else nn.Identity()
        self.pool3 = nn.AdaptiveAvgPool2d((3, 3))
        self.dropout1 = nn.Dropout2d(self.p1)
        self.dropout2 = nn.Dropout(self.p2)
        self.fc1 = nn.Linear(9 * c3, hidden)
        self.fc2 = nn.Linear(hidden, hidden // 2)
        self.fc3 = nn.Linear(hidden // 2, 10)

    @staticmethod
    def _masked(x, mask, p):
        # Exactly PyTorch's dropout given the keep mask: noise = mask / (1-p) (float32),
        # out = x * noise. mask (N, C) broadcasts over H, W for Dropout2d.
        noise = mask.to(x.dtype) / (1.0 - p)
        if x.dim() == 4:
            noise = noise[:, :, None, None]
        return x * noise

    def forward(self, x, masks=None, record=None):
        """x (N,1,28,28). masks: optional (mask1 (N,c2), mask2 (N,hidden)) 0/1 keep masks used
        instead of the dropout modules in training mode. record: optional dict filled with the
        output of every op (names in ACT_NAMES)."""
        def rec(name, t):
            if record is not None:
                record[name] = t
            return t

        def drop(name, t, module, mask, p):
            if self.training and masks is not None:
                return rec(name, self._masked(t, mask, p))
            return rec(name, module(t))

        m1, m2 = masks if masks is not None else (None, None)
        x = rec("conv1", self.conv1(x))
        x = rec("bn1", self.bn1(x))
        x = rec("relu1", F.relu(x))
        x = rec("pool1", self.pool1(x))
        x = rec("conv2", self.conv2(x))
        x = rec("bn2", self.bn2(x))
        x = rec("relu2", F.relu(x))
        x = rec("pool2", self.pool2(x))
        x = drop("drop1", x, self.dropout1, m1, self.p1)
        x = rec("conv3", self.conv3(x))
        x = rec("bn3", self.bn3(x))
        x = rec("relu3", F.relu(x))
        x = rec("avgpool", self.pool3(x))
        x = torch.flatten(x, 1)
        x = rec("fc1", self.fc1(x))
        x = rec("relu_fc1", F.relu(x))
        x = drop("drop2", x, self.dropout2, m2, self.p2)
        x = rec("fc2", self.fc2(x))
        x = rec("relu_fc2", F.relu(x))
        x = rec("logits", self.fc3(x))
        return x


def model_from_state_dict(sd, p1=0.1, p2=0.2):
    """Build a DigitCNN whose sizes are inferred from state_dict tensor shapes."""
    c1 = sd["conv1.weight"].shape[0]
    c2 = sd["conv2.weight"].shape[0]
    c3 = sd["conv3.weight"].shape[0]
    hidden = sd["fc1.weight"].shape[0]
    use_bn = "bn1.weight" in sd
    if tuple(sd["fc1.weight"].shape) != (hidden, 9 * c3):
        raise ValueError("fc1.weight shape %s does not match conv3 channels %d"
                         % (tuple(sd["fc1.weight"].shape), c3))
    if tuple(sd["fc2.weight"].shape) != (hidden // 2, hidden):
        raise ValueError("fc2.weight shape %s is not (hidden//2, hidden) for hidden %d"
                         % (tuple(sd["fc2.weight"].shape), hidden))
    return DigitCNN(c1, c2, c3, hidden, p1, p2, use_bn)


# --------------------------------------------------------------------------------------------
# safetensors (by hand: the safetensors package is not available)
# --------------------------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4),
    "I16": (torch.int16, 2), "I8": (torch.int8, 1), "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
_TORCH_TO_ST = {v[0]: k for k, v in _ST_DTYPES.items()}


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def save_safetensors(path, tensors, metadata=None):
    """Write an ordered mapping name -> tensor to `path` (tensors in the given order)."""
    header = OrderedDict()
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("__metadata__ must map str to str (%r: %r)" % (k, v))
        header["__metadata__"] = OrderedDict(metadata)
    blobs = []
    off = 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError("tensor name __metadata__ is reserved")
        if t.dtype not in _TORCH_TO_ST:
            raise TypeError("unsupported dtype %s for %s" % (t.dtype, name))
        b = _tensor_bytes(t)
        header[name] = OrderedDict([("dtype", _TORCH_TO_ST[t.dtype]),
                                    ("shape", list(t.shape)),
                                    ("data_offsets", [off, off + len(b)])])
        blobs.append(b)
        off += len(b)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_safetensors(path):
    """Read a safetensors file. Returns (OrderedDict name -> tensor in file order, metadata).
    Validates like the reference reader (tiling, sizes, duplicate keys, trailing bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: file shorter than 8 bytes" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000 or 8 + n > len(data):
        raise ValueError("%s: header length %d invalid" % (path, n))

    def no_dups(pairs):
        d = OrderedDict()
        for k, v in pairs:
            if k in d:
                raise ValueError("%s: duplicate key %r in header" % (path, k))
            d[k] = v
        return d

    header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=no_dups)
    if not isinstance(header, dict):
        raise ValueError("%s: header is not a JSON object" % path)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError("%s: __metadata__ must map strings to strings" % path)
    buf = data[8 + n:]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    pos = 0
    for name, info in entries:
        b, e = info["data_offsets"]
        if b != pos or e < b:
            raise ValueError("%s: tensor %s does not tile the buffer" % (path, name))
        pos = e
    if pos != len(buf):
        raise ValueError("%s: %d trailing bytes after the last tensor" % (path, len(buf) - pos))
    out = OrderedDict()
    for name, info in header.items():
        dtype, size = _ST_DTYPES[info["dtype"]]
        shape = [int(s) for s in info["shape"]]
        b, e = info["data_offsets"]
        count = int(np.prod(shape)) if shape else 1
        if count * size != e - b:
            raise ValueError("%s: tensor %s size mismatch" % (path, name))
        raw = bytearray(buf[b:e])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if count else \
                torch.empty(0, dtype=dtype)
        elif count:
            t = torch.frombuffer(raw, dtype=dtype)
        else:
            t = torch.empty(0, dtype=dtype)
        out[name] = t.reshape(shape).clone()
    return out, dict(meta)


# --------------------------------------------------------------------------------------------
# IDX / MNIST
# --------------------------------------------------------------------------------------------

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (raw or gzip, detected by magic bytes) into a numpy array."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError("%s: not an IDX file (bad magic)" % path)
    nd = data[3]
    if nd == 0 or nd > 3:
        raise ValueError("%s: %d dimensions (expected 1-3)" % (path, nd))
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    dt = np.dtype(_IDX_TYPES[data[2]])
    count = int(np.prod(dims))
    start = 4 + 4 * nd
    need = count * dt.itemsize
    if len(data) - start < need:
        raise ValueError("%s: data shorter than the header promises" % path)
    return np.frombuffer(data, dtype=dt, count=count, offset=start).reshape(dims).astype(
        dt.newbyteorder("="))


def find_idx(data_dir, stem):
    """Locate e.g. stem='train-images-idx3-ubyte' in data_dir, raw or .gz, '-' or '.' before idx."""
    alt = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError("%s: no %s[.gz] found" % (data_dir, stem))


def load_mnist(data_dir, split):
    """split 'train' or 't10k'. Returns (images float32 tensor (N,1,28,28) normalised,
    labels int64 tensor (N,))."""
    imgs = read_idx(find_idx(data_dir, "%s-images-idx3-ubyte" % split))
    labels = read_idx(find_idx(data_dir, "%s-labels-idx1-ubyte" % split))
    if imgs.ndim != 3 or labels.ndim != 1 or imgs.shape[0] != labels.shape[0]:
        raise ValueError("%s: image/label shapes %s / %s disagree"
                         % (data_dir, imgs.shape, labels.shape))
    if labels.size and labels.max() > 9:
        raise ValueError("%s: labels outside 0-9" % data_dir)
    x = torch.from_numpy(imgs.astype(np.float32)).unsqueeze(1)
    x = (x / 255.0 - MNIST_MEAN) / MNIST_STD
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# --------------------------------------------------------------------------------------------
# Stratified split (bit-exact with the C implementation)
# --------------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & _M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)


def stratified_split(labels, seed=42, val_fraction=0.2, num_classes=10):
    """Returns (train_indices, val_indices), both sorted ascending lists of ints.
    Per class c = 0..num_classes-1: indices with label c ascending, Fisher-Yates with one
    splitmix64 stream (j = next() % (i+1), i = n-1 down to 1), first floor(n*f + 0.5) to
    validation, rest to training."""
    labels = [int(v) for v in labels]
    rng = SplitMix64(seed)
    train, val = [], []
    for c in range(num_classes):
        a = [i for i, v in enumerate(labels) if v == c]
        n = len(a)
        for i in range(n - 1, 0, -1):
            j = rng.next() % (i + 1)
            a[i], a[j] = a[j], a[i]
        n_val = int(np.floor(n * val_fraction + 0.5))
        val.extend(a[:n_val])
        train.extend(a[n_val:])
    return sorted(train), sorted(val)


if __name__ == "__main__":
    tr, va = stratified_split([i % 10 for i in range(100)], 42, 0.2)
    print("split check: labels i%%10 for i<100, seed 42, fraction 0.2: %d train, %d val"
          % (len(tr), len(va)))
    print("first 5 val:", va[:5])
    print("all val:", va)
    assert va[:5] == [0, 1, 7, 12, 22] and len(tr) == 80
    r = SplitMix64(1234567)
    assert [r.next() for _ in range(3)] == [6457827717110365317, 3203168211198807973,
                                            9817491932198370423]
    assert SplitMix64(0).next() == 0xE220A8397B1DCDAF
