#!/usr/bin/env python3
"""Writes the committed data-set fixtures under tests/fixtures/ (run from the repo root):

  imagefolder/      3 classes (circle, cross, square) x 4 train + 2 test 8x8 RGB PNGs,
                    one class colour each, deterministic shapes with a little noise
  imagefolder-gray/ the same classes as 8-bit gray PNGs (one channel)
  imagefolder-bad/  broken sets: mixed/ (one 9x8 picture), empty/ (an empty class),
                    unreadable/ (a .png that is not a PNG), notest/ (no test/ folder)
  imagefolder-digits/ 10 classes (0-zero .. 9-nine) of 28x28 gray PNGs from the committed MNIST
                    subset (tests/fixtures/mnist-small): 6 train + 2 test pictures per class, so
                    DigitCNN trains on an image-folder set
  fashion-small/    the first 40 training and 20 test images of Fashion-MNIST as gzip IDX,
                    from /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)

Plain Python (zlib, struct, gzip): no imaging library needed. Byte-identical on every run."""
import gzip
import os
import random
import struct
import zlib

ROOT = os.path.join("tests", "fixtures")


def png(path, w, h, rows, color):
    """rows: list of h rows, each a list of w pixels ((r, g, b) when color, else gray ints)."""
    raw = b""
    for r in rows:
        raw += b"\0" + (bytes(v for px in r for v in px) if color else bytes(r))

    def chunk(t, d):
        c = t + d
        return struct.pack(">I", len(d)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if color else 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


CLASSES = {"circle": (220, 40, 40), "cross": (40, 200, 40), "square": (40, 60, 230)}


def shape(name, x, y, n):
    c = 3.5 + (n % 2) * 0.5
    if name == "circle":
        return abs(((x - c) ** 2 + (y - c) ** 2) ** 0.5 - 2.5) < 0.9
    if name == "cross":
        return abs(x - y) < 1 or abs(x + y - 7) < 1
    return (x in (1, 6) or y in (1, 6)) and 1 <= x <= 6 and 1 <= y <= 6


def picture(name, n, rng, color, w=8, h=8):
    fg = CLASSES[name]
    rows = []
    for y in range(h):
        row = []
        for x in range(w):
            on = shape(name, x, y, n)
            noise = rng.randint(0, 20)
            if color:
                row.append(tuple(min(255, (v if on else 10) + noise) for v in fg))
            else:
                row.append(min(255, (230 if on else 15) + noise))
        rows.append(row)
    return rows


def imagefolder(base, color, rng):
    for split, count in (("train", 4), ("test", 2)):
        for name in sorted(CLASSES):
            for n in range(count):
                png(os.path.join(base, split, name, "%s_%d.png" % (name, n)), 8, 8, picture(name, n, rng, color), color)


def bad_sets(rng):
    base = os.path.join(ROOT, "imagefolder-bad")
    for kind in ("mixed", "empty", "unreadable", "notest"):
        for split in ("train",) if kind == "notest" else ("train", "test"):
            for name in ("a", "b"):
                for n in range(2):
                    png(os.path.join(base, kind, split, name, "%d.png" % n), 8, 8, picture("cross", n, rng, True), True)
    png(os.path.join(base, "mixed", "train", "b", "2.png"), 9, 8, picture("cross", 0, rng, True, w=9), True)
    os.makedirs(os.path.join(base, "empty", "train", "c"), exist_ok=True)
    with open(os.path.join(base, "empty", "train", "c", ".keep"), "w") as f:
        f.write("an empty class (hidden files do not count)\n")
    with open(os.path.join(base, "unreadable", "train", "b", "1.png"), "wb") as f:
        f.write(b"not a picture\n")


def idx_subset(src, dst, count):
    with gzip.open(src, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = list(struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank]))
    item = 1
    for d in dims[1:]:
        item *= d
    dims[0] = count
    out = data[:4] + struct.pack(">" + "I" * rank, *dims) + data[4 + 4 * rank:4 + 4 * rank + count * item]
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(gzip.compress(out, mtime=0))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return dims, data[4 + 4 * rank:]


DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def digit_folders():
    src = os.path.join(ROOT, "mnist-small")
    for pre, split, per in (("train", "train", 6), ("t10k", "test", 2)):
        dims, px = read_idx(os.path.join(src, "%s-images-idx3-ubyte.gz" % pre))
        _, lab = read_idx(os.path.join(src, "%s-labels-idx1-ubyte.gz" % pre))
        count = [0] * 10
        for i in range(dims[0]):
            k = lab[i]
            if count[k] >= per:
                continue
            rows = [list(px[i * 784 + r * 28:i * 784 + r * 28 + 28]) for r in range(28)]
            name = "%d-%s" % (k, DIGITS[k])
            png(os.path.join(ROOT, "imagefolder-digits", split, name, "%s_%d.png" % (pre, i)), 28, 28, rows, False)
            count[k] += 1
            if min(count) >= per:
                break


def main():
    digit_folders()
    imagefolder(os.path.join(ROOT, "imagefolder"), True, random.Random(1))
    imagefolder(os.path.join(ROOT, "imagefolder-gray"), False, random.Random(2))
    bad_sets(random.Random(3))
    src = "/usr/share/datasets/fashion-mnist"
    for pre, n in (("train", 40), ("t10k", 20)):
        for kind in ("images-idx3", "labels-idx1"):
            name = "%s-%s-ubyte.gz" % (pre, kind)
            idx_subset(os.path.join(src, name), os.path.join(ROOT, "fashion-small", name), n)


if __name__ == "__main__":
    main()
