#!/usr/bin/env python3
"""Writes the small test fixtures under tests/fixtures/safetensors and tests/fixtures/idx.

Independent of the C code on purpose (standard library only), so that the C readers are
checked against files made by another writer. The files are committed; run this script again
only to change them:  python3 tools/make-test-fixtures.py
tests/test_safetensors.c and tests/test_idx.c hold the expected outcome of every file.
"""
import gzip
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
ST = os.path.join(ROOT, "safetensors")
IDX = os.path.join(ROOT, "idx")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# --- safetensors -------------------------------------------------------------------------

def st_file(header, data=b"", pad=True, raw_header=None):
    """A safetensors file as the reference writer lays it out (header padded with spaces)."""
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def f32(*vals):
    return struct.pack("<%df" % len(vals), *vals)


def make_safetensors():
    # A valid file: metadata, several dtypes, a scalar, an empty tensor, and an F32 tensor that
    # starts at an odd offset (after 3 U8 bytes), so the reader must realign it.
    w = f32(1.0, -2.0, 3.5, 0.25, 1e-3, 7.0)            # F32 [2,3]   0..24
    b = f32(0.5, -0.5)                                  # F32 [2]    24..32
    n = struct.pack("<q", 1234567890123)                # I64 []     32..40
    u = bytes([7, 8, 9])                                # U8 [3]     40..43
    odd = f32(9.0, 10.0)                                # F32 [2]    43..51 (unaligned in file)
    h16 = struct.pack("<2e", 1.5, -2.0)                 # F16 [2]    51..55
    header = {
        "__metadata__": {"format": "pt", "config": "{\"hidden_size\": 256}", "note": "caf\u00e9"},
        "fc.weight": t("F32", [2, 3], 0, 24),
        "fc.bias": t("F32", [2], 24, 32),
        "bn.num_batches_tracked": t("I64", [], 32, 40),
        "bytes": t("U8", [3], 40, 43),
        "odd": t("F32", [2], 43, 51),
        "half": t("F16", [2], 51, 55),
        "empty": t("F32", [0, 4], 55, 55),
    }
    write(os.path.join(ST, "valid.safetensors"), st_file(header, w + b + n + u + odd + h16))
    # Header order differs from data order; no metadata; no padding (also legal).
    header2 = {"b": t("F32", [1], 4, 8), "a": t("F32", [1], 0, 4)}
    write(os.path.join(ST, "valid_unordered.safetensors"), st_file(header2, f32(1.0, 2.0), pad=False))
    # No tensors at all.
    write(os.path.join(ST, "valid_empty.safetensors"), st_file({}, b""))

    one = {"x": t("F32", [2], 0, 8)}
    d8 = f32(1.0, 2.0)
    bad = {
        "short": b"\x08\x00\x00\x00\x00",
        "header_too_large": struct.pack("<Q", 100000001) + b"{}      ",
        "header_past_eof": struct.pack("<Q", 1000) + b"{\"x\":{}}",
        "not_utf8": st_file(None, d8, raw_header=b'{"x\xff":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
        "invalid_json": st_file(None, b"", raw_header=b'{"x": }'),
        "not_object": st_file([1, 2]),
        "leading_space": st_file(None, b"", raw_header=b' {}'),
        "dtype_not_string": st_file({"x": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}}, d8),
        "unknown_dtype": st_file({"x": t("F8_E4M3", [8], 0, 8)}, d8),
        "unsupported_u16": st_file({"x": t("U16", [4], 0, 8)}, d8),
        "shape_not_array": st_file({"x": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}, d8),
        "negative_dim": st_file({"x": t("F32", [-2], 0, 8)}, d8),
        "float_dim": st_file({"x": t("F32", [2.0], 0, 8)}, d8),
        "rank_9": st_file({"x": t("F32", [1, 1, 1, 1, 1, 1, 1, 1, 2], 0, 8)}, d8),
        "numel_overflow": st_file({"x": t("F32", [2 ** 62, 8], 0, 8)}, d8),
        "bytes_overflow": st_file({"x": t("F64", [2 ** 62], 0, 8)}, d8),
        "size_mismatch": st_file({"x": t("F32", [3], 0, 8)}, d8),
        "offsets_not_pair": st_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, d8),
        "offsets_negative": st_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, d8),
        "end_before_begin": st_file({"x": t("F32", [0], 8, 4), "y": t("F32", [2], 0, 8)}, d8),
        "gap": st_file({"x": t("F32", [1], 0, 4), "y": t("F32", [1], 8, 12)}, f32(1, 2, 3)),
        "overlap": st_file({"x": t("F32", [2], 0, 8), "y": t("F32", [2], 4, 12)}, f32(1, 2, 3)),
        "not_from_zero": st_file({"x": t("F32", [1], 4, 8)}, d8),
        "trailing": st_file(one, d8 + b"\x00\x00\x00\x00"),
        "data_truncated": st_file(one, d8[:6]),
        "metadata_not_object": st_file({"__metadata__": ["a"], "x": t("F32", [2], 0, 8)}, d8),
        "metadata_null": st_file({"__metadata__": None, "x": t("F32", [2], 0, 8)}, d8),
        "metadata_value_number": st_file({"__metadata__": {"epochs": 30}, "x": t("F32", [2], 0, 8)}, d8),
        "duplicate_tensor": st_file(None, d8, raw_header=b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                                         b'"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
        "duplicate_metadata_key": st_file(None, d8, raw_header=b'{"__metadata__":{"a":"1","a":"2"},'
                                                               b'"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
        "missing_field": st_file({"x": {"dtype": "F32", "shape": [2]}}, d8),
        "unknown_field": st_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "strides": [1]}}, d8),
        "entry_not_object": st_file({"x": 5}, b""),
        "nul_in_name": st_file({"x\u0000y": t("F32", [2], 0, 8)}, d8),
        "deep_json": st_file(None, b"", raw_header=b'{"__metadata__":' + b"[" * 100 + b"]" * 100 + b"}"),
    }
    for name, data in bad.items():
        write(os.path.join(ST, "bad_" + name + ".safetensors"), data)


# --- IDX -----------------------------------------------------------------------------------

def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def images(n, rows=28, cols=28, seed=0):
    return bytes(((i + seed) * 31 + r * 7 + c * 3) & 255 for i in range(n) for r in range(rows) for c in range(cols))


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def make_idx():
    # typed files (big-endian payload) for the converter
    write(os.path.join(IDX, "u8.idx"), idx(0x08, [2, 3], bytes([0, 1, 2, 253, 254, 255])))
    write(os.path.join(IDX, "i8.idx"), idx(0x09, [4], struct.pack(">4b", -128, -1, 0, 127)))
    write(os.path.join(IDX, "i16.idx"), idx(0x0B, [3], struct.pack(">3h", -32768, 258, 32767)))
    write(os.path.join(IDX, "i32.idx"), idx(0x0C, [3], struct.pack(">3i", -2147483648, 16909060, 2147483647)))
    write(os.path.join(IDX, "f32.idx"), idx(0x0D, [1, 3], struct.pack(">3f", 1.5, -0.25, 3e38)))
    write(os.path.join(IDX, "f64.idx"), idx(0x0E, [2, 1, 1], struct.pack(">2d", 3.141592653589793, -1e-300)))
    write(os.path.join(IDX, "empty.idx"), idx(0x08, [0, 28, 28], b""))
    write(os.path.join(IDX, "trailing.idx"), idx(0x08, [3], bytes([1, 2, 3])) + b"junk!")
    write(os.path.join(IDX, "u8.idx.gz"), gz(idx(0x08, [2, 3], bytes([0, 1, 2, 253, 254, 255]))))
    # a gzip stream in two members, with zero padding after the last (gzip and Python accept it)
    body = idx(0x08, [2, 3], bytes([0, 1, 2, 253, 254, 255]))
    write(os.path.join(IDX, "multimember.idx.gz"), gz(body[:5]) + gz(body[5:]) + b"\x00" * 7)
    # named .gz but raw: detection is by magic, not by name
    write(os.path.join(IDX, "raw_named.gz"), body)

    # rejections
    write(os.path.join(IDX, "bad_short.idx"), b"\x00\x00\x08")
    write(os.path.join(IDX, "bad_magic.idx"), b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00")
    write(os.path.join(IDX, "bad_type.idx"), idx(0x0A, [1], b"\x00"))
    write(os.path.join(IDX, "bad_zero_dims.idx"), idx(0x08, [], b"\x00"))
    write(os.path.join(IDX, "bad_four_dims.idx"), idx(0x08, [1, 1, 1, 1], b"\x00"))
    write(os.path.join(IDX, "bad_header_truncated.idx"), bytes([0, 0, 8, 3]) + struct.pack(">I", 5))
    write(os.path.join(IDX, "bad_data_short.idx"), idx(0x08, [5, 28, 28], images(5)[:1000]))
    write(os.path.join(IDX, "bad_overflow.idx"), idx(0x0E, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b"\x00" * 8))
    write(os.path.join(IDX, "bad_huge.idx"), idx(0x0E, [0xFFFFFFFF, 0xFFFFFFFF], b"\x00" * 8))
    good = gz(idx(0x08, [5, 28, 28], images(5)))
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    write(os.path.join(IDX, "bad_corrupt.idx.gz"), bytes(corrupt))
    crc = bytearray(good)
    crc[-8] ^= 0x01  # CRC32 of the trailer
    write(os.path.join(IDX, "bad_crc.idx.gz"), bytes(crc))
    write(os.path.join(IDX, "bad_truncated.idx.gz"), good[: len(good) - 20])
    write(os.path.join(IDX, "bad_garbage_after.idx.gz"), good + b"garbage")
    write(os.path.join(IDX, "bad_gz_header.idx.gz"), b"\x1f\x8b\x09" + good[3:])  # compression method 9
    write(os.path.join(IDX, "zeros.gz"), gz(b"\x00" * (1 << 20)))  # for the decompression size cap

    # MNIST folders
    def mnist(folder, n_img, labels, img_name, lbl_name, dims=None, compress=False, img_type=0x08, img_dims=None):
        d = os.path.join(IDX, folder)
        imgs = idx(img_type, img_dims or [n_img, 28, 28], images(n_img, *(dims or (28, 28))))
        lbls = idx(0x08, [len(labels)], bytes(labels))
        write(os.path.join(d, img_name), gz(imgs) if compress else imgs)
        write(os.path.join(d, lbl_name), gz(lbls) if compress else lbls)

    mnist("mnist_raw", 5, [3, 1, 4, 1, 5], "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    mnist("mnist_raw", 3, [9, 0, 2], "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte")
    mnist("mnist_gz", 5, [3, 1, 4, 1, 5], "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", compress=True)
    mnist("mnist_gz", 3, [9, 0, 2], "t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte.gz", compress=True)
    mnist("mnist_count_mismatch", 5, [3, 1, 4, 1], "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    mnist("mnist_bad_label", 3, [3, 10, 4], "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    mnist("mnist_wrong_size", 2, [3, 1], "train-images-idx3-ubyte", "train-labels-idx1-ubyte", dims=(27, 28),
          img_dims=[2, 27, 28])
    # the labels file under the images name
    d = os.path.join(IDX, "mnist_swapped")
    write(os.path.join(d, "train-images-idx3-ubyte"), idx(0x08, [3], bytes([1, 2, 3])))
    write(os.path.join(d, "train-labels-idx1-ubyte"), idx(0x08, [3], bytes([1, 2, 3])))
    # only the images are there
    d = os.path.join(IDX, "mnist_no_labels")
    write(os.path.join(d, "train-images-idx3-ubyte"), idx(0x08, [1, 28, 28], images(1)))


if __name__ == "__main__":
    make_safetensors()
    make_idx()
    print("fixtures written under", os.path.normpath(ROOT), file=sys.stderr)
