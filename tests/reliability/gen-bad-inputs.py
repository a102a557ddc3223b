#!/usr/bin/python3
"""Generate the malformed-input corpus tests/data/bad/ and the fuzz seeds tests/fuzz/seeds/.

    tests/reliability/gen-bad-inputs.py

Every case is a small file plus "<file>.expect": the status name on the first line, then the exact
message the reader gives (the file is opened by its bare name from inside its folder, so messages
start with that name). tests/reliability/test-bad-inputs.c checks them all; the fuzz targets
replay the same files. Files under tests/data/bad/ that this script does not write (crash inputs
found by tools/fuzz.sh, with hand-written .expect files) are left alone.

Only the Python standard library is used (struct, zlib, json).
"""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAD = os.path.join(ROOT, "tests", "data", "bad")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "seeds")
FORMAT, IO = "CLCNN_ERR_FORMAT", "CLCNN_ERR_IO"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def case(kind, name, data, status, message):
    """One malformed file and its expected outcome; message may use {f} for the file name."""
    write(os.path.join(BAD, kind, name), data)
    write(os.path.join(BAD, kind, name + ".expect"), status + "\n" + message.format(f=name) + "\n")


# ----------------------------------------------------------------------------- safetensors

def st(header, data=b"", hlen=None):
    """A safetensors file: u64 LE header length, header (dict -> JSON, or raw text), data."""
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    h = h.encode()
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def t(dtype="F32", shape=(4,), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def safetensors_cases():
    k = "safetensors"
    ok = st({"w": t()}, f32(1, 2, 3, 4))
    case(k, "empty.safetensors", b"", FORMAT, "{f}: file is 0 bytes, shorter than the 8-byte header length")
    case(k, "truncated-length.safetensors", ok[:5], FORMAT,
         "{f}: file is 5 bytes, shorter than the 8-byte header length")
    hl = struct.unpack("<Q", ok[:8])[0]
    case(k, "truncated-header.safetensors", ok[:8 + hl // 2], FORMAT,
         "{f}: header length %d is larger than the %d bytes after it" % (hl, hl // 2))
    case(k, "truncated-data.safetensors", ok[:-6], FORMAT,
         "{f}: tensor \"w\": data_offsets [0, 16] outside the 10-byte data section")
    case(k, "header-length-zero.safetensors", st("{}", hlen=0), FORMAT, "{f}: header length is 0")
    case(k, "huge-header-length.safetensors", st("{}", b"\0" * 14, hlen=1 << 63), FORMAT,
         "{f}: header length 9223372036854775808 is larger than the 16 bytes after it")
    png = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 24
    case(k, "wrong-magic-png.safetensors", png, FORMAT, "{f}: not a safetensors file (it looks like a PNG image)")
    # other files given as --weights by mistake are named by their first bytes (ONNX by its name)
    case(k, "photo.jpg", bytes.fromhex("ffd8ffe000104a464946") + b"\0" * 22, FORMAT,
         "{f}: not a safetensors file (it looks like a JPEG image)")
    case(k, "images.gz", gzip.compress(b"\0\0\x08\x03" + b"\0" * 60, mtime=0), FORMAT,
         "{f}: not a safetensors file (it looks like a gzip-compressed file)")
    case(k, "model.pt", b"PK\x03\x04" + b"\0" * 40, FORMAT,
         "{f}: not a safetensors file (it looks like a zip archive (torch.save writes one; convert with "
         "safetensors.torch.save_file))")
    case(k, "old-model.pt", b"\x80\x02cpickle\n" + b"\0" * 20, FORMAT,
         "{f}: not a safetensors file (it looks like a Python pickle (an old torch.save file; convert with "
         "safetensors.torch.save_file))")
    case(k, "model.onnx", bytes.fromhex("0807120b") + b"pytorch" + b"\0" * 20, FORMAT,
         "{f}: not a safetensors file (it looks like an ONNX model)")
    case(k, "train-images-idx3-ubyte", b"\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c" + b"\0" * 32, FORMAT,
         "{f}: not a safetensors file (it looks like an IDX file (a dataset))")
    case(k, "model.net", "image = input(shape=(1,28,28))\nfc = linear(out_features=10)\n", FORMAT,
         "{f}: not a safetensors file (it looks like a clcnn netfile)")
    case(k, "header-only.json", json.dumps({"w": t()}), FORMAT,
         "{f}: not a safetensors file (it looks like bare JSON (a safetensors file starts with the JSON's "
         "length as 8 bytes))")
    case(k, "not-json.safetensors", st('{"w": {"dtype": "F32",'), FORMAT,
         "{f}: header is not valid JSON (error at byte 21 of 22)")
    case(k, "header-array.safetensors", st("[1, 2]"), FORMAT, "{f}: header is not a JSON object")
    case(k, "trailing-garbage.safetensors", st('{"w":' + json.dumps(t()) + "}xyz", f32(1, 2, 3, 4)), FORMAT,
         "{f}: header has data after the JSON value (at byte 61 of 64)")
    case(k, "entry-not-object.safetensors", st('{"w": [1, 2]}'), FORMAT,
         "{f}: tensor \"w\": entry is not an object")
    case(k, "dtype-number.safetensors", st({"w": dict(t(), dtype=7)}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": \"dtype\" is not a string")
    case(k, "dtype-unknown.safetensors", st({"w": t("F128")}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": unknown dtype \"F128\"")
    case(k, "shape-string.safetensors", st({"w": dict(t(), shape="4")}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": \"shape\" is not an array")
    case(k, "shape-negative.safetensors", st({"w": t(shape=(-4,))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": shape[0] = -4 is negative")
    case(k, "shape-fraction.safetensors", st({"w": t(shape=(2, 1.5))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": shape[1] is not an integer")
    case(k, "shape-bool.safetensors", st({"w": t(shape=(True,))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": shape[0] is not an integer")
    case(k, "shape-nine-dims.safetensors", st({"w": t(shape=(1,) * 9)}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": shape has 9 dims, more than 8")
    case(k, "shape-overflow-count.safetensors", st({"w": t("U8", (1 << 32,) * 3)}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": shape [4294967296, 4294967296, 4294967296] has too many elements (overflow)")
    case(k, "shape-overflow-bytes.safetensors", st({"w": t("F64", (1 << 31, 1 << 31, 2))}, f32(1, 2, 3, 4)),
         FORMAT, "{f}: tensor \"w\": shape [2147483648, 2147483648, 2] of F64 is too many bytes (overflow)")
    case(k, "shape-huge.safetensors", st({"w": t(shape=(10 ** 12,))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": data_offsets [0, 16] hold 16 bytes but shape [1000000000000] of F32 needs "
         "4000000000000")
    case(k, "shape-missing.safetensors", st({"w": {"dtype": "F32", "data_offsets": [0, 16]}}, f32(1, 2, 3, 4)),
         FORMAT, "{f}: tensor \"w\": missing \"shape\"")
    case(k, "offsets-missing.safetensors", st({"w": {"dtype": "F32", "shape": [4]}}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": missing \"data_offsets\"")
    case(k, "offsets-strings.safetensors", st({"w": t(offsets=("0", "16"))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": \"data_offsets\" is not an array of two non-negative integers")
    case(k, "offsets-negative.safetensors", st({"w": t(offsets=(-16, 0))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": \"data_offsets\" is not an array of two non-negative integers")
    case(k, "offsets-three.safetensors", st({"w": t(offsets=(0, 8, 16))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": \"data_offsets\" is not an array of two non-negative integers")
    case(k, "offsets-beyond-2p53.safetensors", st({"w": t(offsets=(0, 1 << 54))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": \"data_offsets\" is not an array of two non-negative integers")
    case(k, "offsets-reversed.safetensors", st({"w": t(offsets=(16, 0))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": data_offsets [16, 0] end before begin")
    case(k, "offsets-out-of-range.safetensors", st({"w": t(offsets=(4096, 4112))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": data_offsets [4096, 4112] outside the 16-byte data section")
    case(k, "offsets-size-mismatch.safetensors", st({"w": t(offsets=(0, 12))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: tensor \"w\": data_offsets [0, 12] hold 12 bytes but shape [4] of F32 needs 16")
    case(k, "offsets-overlap.safetensors",
         st({"a": t(offsets=(0, 16)), "b": t(offsets=(8, 24))}, f32(*range(6))), FORMAT,
         "{f}: data of tensors \"a\" [0, 16] and \"b\" [8, 24] overlap")
    case(k, "offsets-same-region.safetensors",
         st({"a": t(offsets=(0, 16)), "b": t(offsets=(0, 16))}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: data of tensors \"a\" [0, 16] and \"b\" [0, 16] overlap")
    case(k, "duplicate-name.safetensors",
         st('{"w":' + json.dumps(t()) + ',"w":' + json.dumps(t(offsets=(16, 32))) + "}", f32(*range(8))),
         FORMAT, "{f}: duplicate tensor name \"w\"")
    case(k, "metadata-array.safetensors", st({"__metadata__": ["a"], "w": t()}, f32(1, 2, 3, 4)), FORMAT,
         "{f}: \"__metadata__\" is not an object")
    case(k, "metadata-number.safetensors", st({"__metadata__": {"epoch": 3}, "w": t()}, f32(1, 2, 3, 4)),
         FORMAT, "{f}: \"__metadata__\" value of \"epoch\" is not a string")
    case(k, "metadata-twice.safetensors",
         st('{"__metadata__":{},"__metadata__":{},"w":' + json.dumps(t()) + "}", f32(1, 2, 3, 4)), FORMAT,
         "{f}: duplicate \"__metadata__\"")
    s = os.path.join(SEEDS, "safetensors")
    dtypes = [("BOOL", 1), ("U8", 1), ("I8", 1), ("U16", 2), ("I16", 2), ("F16", 2), ("BF16", 2), ("U32", 4),
              ("I32", 4), ("F32", 4), ("U64", 8), ("I64", 8), ("F64", 8), ("F8_E4M3", 1), ("F8_E5M2", 1)]
    header, data = {"__metadata__": {"format": "pt", "note": "seed"}}, b""
    for i, (dt, size) in enumerate(dtypes):
        blob = bytes((i * 37 + j * 11) % 256 for j in range(3 * size))
        header["t_" + dt.lower()] = {"dtype": dt, "shape": [3], "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    header["scalar"] = {"dtype": "F32", "shape": [], "data_offsets": [len(data), len(data) + 4]}
    header["empty"] = {"dtype": "F32", "shape": [0, 5], "data_offsets": [len(data) + 4, len(data) + 4]}
    data += f32(2.5)
    write(os.path.join(s, "every-dtype.safetensors"), st(header, data))
    write(os.path.join(s, "nonfinite.safetensors"),
          st({"w": t(shape=(2, 2))}, f32(1.0, float("nan"), float("inf"), -float("inf"))))
    case(k, "deep-nesting.safetensors", st("[" * 2000 + "]" * 2000), FORMAT,
         "{f}: header is not valid JSON (error at byte 1000 of 4000)")


# ------------------------------------------------------------------------------------- IDX

def idx(dims, data=None, magic=None):
    m = magic if magic is not None else (0x0800 | len(dims))
    body = struct.pack(">I", m) + b"".join(struct.pack(">I", d) for d in dims)
    if data is None:
        n = 1
        for d in dims:
            n *= d
        data = bytes(i % 251 for i in range(n))
    return body + data


def idx_cases():
    k = "idx"
    case(k, "empty.idx", b"", FORMAT, "{f}: file is 0 bytes, too short for an IDX magic")
    case(k, "short-magic.idx", b"\0\0\x08", FORMAT, "{f}: file is 3 bytes, too short for an IDX magic")
    case(k, "wrong-magic.idx", idx([2, 2], magic=0x12340802), FORMAT,
         "{f}: wrong IDX magic 0x12340802 (expected 0x000008NN: uint8 with NN = 1 to 4 dims)")
    case(k, "wrong-magic-gzip-text.idx", b"P5 28 28 255\n", FORMAT,
         "{f}: wrong IDX magic 0x50352032 (expected 0x000008NN: uint8 with NN = 1 to 4 dims)")
    case(k, "float-elements.idx", idx([2], b"\0" * 8, magic=0x0D01), FORMAT,
         "{f}: IDX element type 0x0d is not supported (only 0x08, uint8)")
    case(k, "zero-dims.idx", idx([], b"", magic=0x0800), FORMAT, "{f}: IDX with 0 dims is not supported (1 to 4)")
    case(k, "five-dims.idx", idx([1] * 5, b"\0"), FORMAT, "{f}: IDX with 5 dims is not supported (1 to 4)")
    case(k, "dim-zero.idx", idx([3, 0, 28], b""), FORMAT, "{f}: IDX dim 1 is 0 (must be 1 to 2147483647)")
    case(k, "dim-negative.idx", idx([0xFFFFFFFE], b""), FORMAT,
         "{f}: IDX dim 0 is 4294967294 (must be 1 to 2147483647)")
    case(k, "dims-overflow.idx", idx([0x7FFFFFFF] * 4, b"\0" * 16), FORMAT, "{f}: IDX dims overflow the element count")
    case(k, "huge-declared.idx", idx([0x7FFFFFFF, 0x7FFFFFFF], b"\1" * 10), FORMAT,
         "{f}: truncated IDX data: expected 4611686014132420609 bytes after the 12-byte header, got 10")
    case(k, "truncated-header.idx", idx([3, 28, 28])[:10], FORMAT,
         "{f}: truncated IDX header: expected 12 bytes of dims, got 6")
    case(k, "truncated-data.idx", idx([3, 4, 4])[:40], FORMAT,
         "{f}: truncated IDX data: expected 48 bytes after the 16-byte header, got 24")
    case(k, "truncated-four-dims.idx", idx([2, 3, 4, 5])[:50], FORMAT,
         "{f}: truncated IDX data: expected 120 bytes after the 20-byte header, got 30")
    case(k, "trailing-data.idx", idx([2, 3]) + b"extra", FORMAT,
         "{f}: trailing data after the 6 declared bytes of IDX data")
    good = gzip.compress(idx([4, 8, 8]), mtime=0)
    case(k, "truncated.idx.gz", good[:len(good) // 2], FORMAT,
         "{f}: truncated gzip stream (zlib: unexpected end of file)")
    bad = bytearray(good)
    bad[-8] ^= 0xFF  # the CRC32 of the trailer
    case(k, "bad-crc.idx.gz", bytes(bad), FORMAT, "{f}: corrupt gzip stream (zlib: incorrect data check)")
    bad = bytearray(good)
    bad[12] ^= 0x5A  # inside the deflate stream
    case(k, "corrupt-deflate.idx.gz", bytes(bad), FORMAT, "{f}: corrupt gzip stream (zlib: invalid stored block lengths)")
    # a small gzip file that claims a gigabyte and expands to one megabyte: memory follows the data
    bomb = gzip.compress(struct.pack(">IIII", 0x0803, 1000, 1000, 1000) + b"\0" * 1000000, mtime=0)
    case(k, "gzip-bomb.idx.gz", bomb, FORMAT,
         "{f}: truncated IDX data: expected 1000000000 bytes after the 16-byte header, got 1000000")
    write(os.path.join(SEEDS, "idx", "images.idx"), idx([3, 5, 4]))
    write(os.path.join(SEEDS, "idx", "labels.idx"), idx([7], bytes([0, 1, 2, 3, 4, 5, 6])))
    write(os.path.join(SEEDS, "idx", "images.idx.gz"), gzip.compress(idx([2, 3, 3]), mtime=0))
    # the pair target splits its input at data[0] / 255 (here: 1 + 73 = 74 image bytes; 5 labels, 2 classes)
    pair = idx([5, 3, 4]) + idx([5], bytes([0, 1, 1, 0, 1]))
    write(os.path.join(SEEDS, "idx", "pair.bin"), bytes([((len(pair) - 13) * 255 + len(pair) - 1) // len(pair)])
          + pair)


# ------------------------------------------------------------------------------ CIFAR, CSV

def cifar(labels, cifar100=False):
    """CIFAR records: label byte(s) then 3072 pixel bytes each; labels are ints or (coarse, fine)."""
    out = b""
    for i, lab in enumerate(labels):
        out += bytes(lab if cifar100 else [lab]) + bytes((i * 7 + k) % 256 for k in range(3072))
    return out


def folder_case(kind, name, files, status, message):
    """A malformed dataset folder: {file: bytes} under <kind>/<name>/, expected outcome in <name>.expect."""
    for fname, data in files.items():
        write(os.path.join(BAD, kind, name, fname), data)
    write(os.path.join(BAD, kind, name + ".expect"), status + "\n" + message.format(f=name) + "\n")


def cifar_cases():
    k = "cifar"
    folder_case(k, "wrong-length", {"data_batch_1.bin": cifar([1]) + b"\0" * 100}, FORMAT,
                "{f}/data_batch_1.bin: 3173 bytes, not a whole number of 3073-byte records "
                "(1 label byte + 3072 pixel bytes)")
    folder_case(k, "empty-batch", {"data_batch_1.bin": cifar([1]), "data_batch_2.bin": b""}, FORMAT,
                "{f}/data_batch_2.bin: 0 bytes, not a whole number of 3073-byte records "
                "(1 label byte + 3072 pixel bytes)")
    folder_case(k, "bad-label", {"data_batch_1.bin": cifar([3, 9, 10])}, FORMAT,
                "{f}/data_batch_1.bin: record 2: label 10 is not below 10")
    folder_case(k, "bad-fine-label", {"train.bin": cifar([(0, 5), (19, 100)], cifar100=True)}, FORMAT,
                "{f}/train.bin: record 1: fine label 100 is not below 100")
    folder_case(k, "cifar100-wrong-length", {"train.bin": cifar([1, 2])}, FORMAT,
                "{f}/train.bin: 6146 bytes, not a whole number of 3074-byte records "
                "(coarse and fine label bytes + 3072 pixel bytes)")
    folder_case(k, "names-count", {"data_batch_1.bin": cifar([0]), "batches.meta.txt": b"cat\ndog\n\n"}, FORMAT,
                "{f}/batches.meta.txt: 2 class names, expected 10 (one per line)")
    write(os.path.join(SEEDS, "cifar", "two-records.bin"), cifar([3, 7]))
    write(os.path.join(SEEDS, "cifar", "cifar100-record.bin"), cifar([(4, 40)], cifar100=True))
    write(os.path.join(SEEDS, "cifar", "names.txt"), b"airplane\nautomobile\nbird\ncat\ndeer\n"
          b"dog\nfrog\nhorse\nship\ntruck\n")


def csv_cases():
    k = "csv"
    case(k, "empty.csv", b"", FORMAT, "{f}: no data rows (an empty file)")
    case(k, "header-only.csv", b"a,b,label\r\n\r\n", FORMAT, "{f}: no data rows after the header")
    case(k, "ragged-row.csv", b"a,b,label\n1,2,0\n3,4\n", FORMAT, "{f}: line 3 has 2 fields, expected 3 (as line 1)")
    case(k, "non-numeric.csv", b"a,b,label\n1,2,0\n3,four,1\n", FORMAT,
         "{f}: line 3, column 2 (b): 'four' is not a finite number")
    case(k, "nan-feature.csv", b"1,nan,0\n", FORMAT, "{f}: line 1, column 2: 'nan' is not a finite number")
    case(k, "overflow-feature.csv", b"1,2,0\n1e39,2,1\n", FORMAT,
         "{f}: line 2, column 1: '1e39' is not a finite number")
    case(k, "quote-inside.csv", b'1,"x"y",0\n', FORMAT,
         "{f}: line 1, column 2: a quote inside a field (quoted fields may hold no quotes or commas)")
    case(k, "empty-label.csv", b"x,y\n1,\n", FORMAT, "{f}: line 2, column 2 (y): empty label")
    case(k, "label-too-large.csv", b"x,label\n1,3\n2,20000000\n", FORMAT,
         "{f}: line 3: label 20000000 is above 16777215, the largest class index a label can hold")
    case(k, "one-column.csv", b"label\n1\n", FORMAT,
         "{f}: line 1 has 1 column: a label column and at least one feature column are needed")
    write(os.path.join(SEEDS, "csv", "header.csv"), b"sepal,petal,label\n5.1,1.4,0\n6.2,4.5,1\n7.7,6.1,2\n")
    write(os.path.join(SEEDS, "csv", "strings.csv"), b'5.1, 3.5,"setosa"\r\n\r\n6.2,2.9,virginica\r\n4.9,3,setosa')
    # the target splits train.csv from test.csv at a form feed
    write(os.path.join(SEEDS, "csv", "train-test.csv"), b"a,b,kind\n1,2,cat\n3,4,dog\n\f\na,b,kind\n5,6,bird\n")


# ---------------------------------------------------------------------------------- images

def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(w, h, color=2, rows=None, ihdr=None):
    raw = rows if rows is not None else b"".join(b"\0" + bytes((x * 3 + y) % 256 for x in range(w * 3))
                                                 for y in range(h))
    return (bytes.fromhex("89504e470d0a1a0a") +
            png_chunk(b"IHDR", ihdr or struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


# Tiny JPEGs, 8x8, made once with TurboJPEG's tjCompress2 at quality 50 (the standard library
# has no JPEG encoder): RGB 4:2:0, gray, and progressive RGB 4:4:4.
JPEG_RGB = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616183123251d"
    "283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763ffdb004301111212181518"
    "2f1a1a2f63423842636363636363636363636363636363636363636363636363636363636363636363636363636363636363"
    "6363636363636363ffc00011080008000803012200021101031101ffc4001f00000105010101010101000000000000000001"
    "02030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114"
    "328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a53545556"
    "5758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5"
    "b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f010003"
    "0101010101010101010000000000000102030405060708090a0bffc400b51100020102040403040705040400010277000102"
    "031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35"
    "363738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495"
    "969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9ea"
    "f2f3f4f5f6f7f8f9faffda000c03010002110311003f00b114fef4514569818af628ed595617f94fffd9"
)
JPEG_GRAY = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616183123251d"
    "283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763ffc0000b08000800080101"
    "1100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b51000020103030204030505"
    "04040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a"
    "25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a8384858687"
    "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2"
    "e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00483c1dff004cff004affd9"
)
JPEG_PROGRESSIVE = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616183123251d"
    "283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763ffdb004301111212181518"
    "2f1a1a2f63423842636363636363636363636363636363636363636363636363636363636363636363636363636363636363"
    "6363636363636363ffc20011080008000803011100021101031101ffc40014000100000000000000000000000000000003ff"
    "c4001501010100000000000000000000000000000203ffda000c03010002100310000001490fffc400151001010000000000"
    "0000000000000000000100ffda00080101000105021bffc4001511010100000000000000000000000000000014ffda000801"
    "0301013f0189ffc400161100030000000000000000000000000000000104ffda0008010201013f019d1fffc4001410010000"
    "0000000000000000000000000000ffda0008010100063f027fffc40014100100000000000000000000000000000000ffda00"
    "08010100013f213fffda000c030100020003000000101fffc400161100030000000000000000000000000000000161ffda00"
    "08010301013f10507fffc4001511010100000000000000000000000000000031ffda0008010201013f108bffc40015100101"
    "00000000000000000000000000000061ffda0008010100013f10bbffd9"
)


def jpeg_size(data, h, w):
    """data with the height and width of its frame header (SOF0 or SOF2) replaced."""
    at = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
    return data[:at + 5] + struct.pack(">HH", h, w) + data[at + 9:]


def image_cases():
    k = "image"
    case(k, "empty.png", b"", FORMAT, "{f}: unknown image format (not PNG, JPEG, PGM or PPM)")
    case(k, "gif.png", b"GIF89a\x01\0\x01\0\0\0\0;", FORMAT, "{f}: unknown image format (not PNG, JPEG, PGM or PPM)")
    good = png(6, 5)
    case(k, "signature-only.png", good[:8], FORMAT, "{f}: cannot decode PNG: no IHDR chunk")
    case(k, "truncated.png", good[:len(good) - 30], FORMAT, "{f}: cannot decode PNG: truncated file")
    case(k, "huge.png", png(100000, 100000, rows=b""), FORMAT,
         "{f}: PNG of 100000x100000 pixels exceeds the 134217728-pixel limit")
    case(k, "width-zero.png", png(0, 5, rows=b"\0" * 5), FORMAT,
         "{f}: cannot decode PNG: corrupt data (Invalid IHDR data)")
    bad = bytearray(good)
    bad[29] ^= 1  # the IHDR CRC
    case(k, "bad-crc.png", bytes(bad), FORMAT, "{f}: cannot decode PNG: corrupt data (IHDR: CRC error)")
    case(k, "bad-depth.png", png(2, 2, ihdr=struct.pack(">IIBBBBB", 2, 2, 7, 2, 0, 0, 0)), FORMAT,
         "{f}: cannot decode PNG: corrupt data (Invalid IHDR data)")
    case(k, "truncated.jpg", JPEG_RGB[:-12], FORMAT, "{f}: cannot decode JPEG: Premature end of JPEG file")
    case(k, "header-only.jpg", JPEG_RGB[:20], FORMAT, "{f}: cannot decode JPEG: no frame header (truncated file?)")
    case(k, "garbage.jpg", b"\xff\xd8\xff garbage garbage", FORMAT,
         "{f}: cannot decode JPEG: Unsupported marker type 0x20")
    case(k, "huge.jpg", jpeg_size(JPEG_RGB, 60000, 60000), FORMAT,
         "{f}: JPEG of 60000x60000 pixels exceeds the 134217728-pixel limit")
    case(k, "width-zero.jpg", jpeg_size(JPEG_GRAY, 8, 0), FORMAT,
         "{f}: cannot decode JPEG: Empty JPEG image (DNL not supported)")
    scan = JPEG_GRAY.find(b"\xff\xda")  # an EOI marker in the middle of the entropy-coded data
    case(k, "corrupt-scan.jpg", JPEG_GRAY[:scan + 14] + b"\xff\xd9" + JPEG_GRAY[scan + 16:], FORMAT,
         "{f}: cannot decode JPEG: Corrupt JPEG data: premature end of data segment")
    case(k, "pbm.pbm", b"P1\n2 2\n0 1 1 0\n", FORMAT, "{f}: P1 (PBM/PAM) is not supported, only P2 P3 P5 P6")
    case(k, "pam.pam", b"P7\nWIDTH 2\n", FORMAT, "{f}: P7 (PBM/PAM) is not supported, only P2 P3 P5 P6")
    case(k, "width-zero.pgm", b"P5 0 4 255\n", FORMAT,
         "{f}: bad P5 header: width, height and maxval (1 to 65535) expected")
    case(k, "width-negative.pgm", b"P2 -3 4 255\n1 2 3\n", FORMAT,
         "{f}: bad P2 header: width, height and maxval (1 to 65535) expected")
    case(k, "width-overflow.pgm", b"P5 99999999999 2 255\n\0\0", FORMAT,
         "{f}: bad P5 header: width, height and maxval (1 to 65535) expected")
    case(k, "maxval-zero.pgm", b"P5 1 1 0\n\0", FORMAT,
         "{f}: bad P5 header: width, height and maxval (1 to 65535) expected")
    case(k, "maxval-huge.ppm", b"P6 1 1 65536\n\0\0\0\0\0\0", FORMAT,
         "{f}: bad P6 header: width, height and maxval (1 to 65535) expected")
    case(k, "header-truncated.pgm", b"P5 12", FORMAT,
         "{f}: bad P5 header: width, height and maxval (1 to 65535) expected")
    case(k, "two-bytes.pgm", b"P5", FORMAT, "{f}: truncated PNM header")
    case(k, "no-whitespace.pgm", b"P5 2 2 255", FORMAT, "{f}: no whitespace after the P5 maxval")
    case(k, "huge.pgm", b"P5 2147483647 2147483647 255\n\0\0\0", FORMAT,
         "{f}: truncated P5: 2147483647x2147483647 pixels need 4611686014132420609 bytes, got 3")
    case(k, "truncated.ppm", b"P6 4 4 255\n" + b"\x80" * 10, FORMAT,
         "{f}: truncated P6: 4x4 pixels need 48 bytes, got 10")
    case(k, "truncated-16bit.pgm", b"P5 3 1 1000\n\0\1\0\2\0", FORMAT,
         "{f}: truncated P5: 3x1 pixels need 6 bytes, got 5")
    case(k, "ascii-short.pgm", b"P2 3 3 255\n1 2 3", FORMAT, "{f}: truncated P2: 6 bytes cannot hold 3x3 pixels")
    case(k, "ascii-missing-samples.pgm", b"P2 3 3 255\n1 2 3\n4 5 6\n", FORMAT,
         "{f}: truncated or bad P2 sample 6 of 9")
    case(k, "ascii-letter.pgm", b"P2 2 2 255\n1 2\nx 4\n", FORMAT, "{f}: truncated or bad P2 sample 2 of 4")
    case(k, "ascii-over-maxval.ppm", b"P3 1 1 10\n5 11 0\n", FORMAT, "{f}: sample 11 exceeds maxval 10")
    case(k, "binary-over-maxval.pgm", b"P5 2 1 100\n\x10\xff", FORMAT, "{f}: sample 255 exceeds maxval 100")
    s = os.path.join(SEEDS, "image")
    write(os.path.join(s, "rgb.png"), good)
    write(os.path.join(s, "rgb.jpg"), JPEG_RGB)
    write(os.path.join(s, "gray.jpg"), JPEG_GRAY)
    write(os.path.join(s, "progressive.jpg"), JPEG_PROGRESSIVE)
    write(os.path.join(s, "gray.png"), png(3, 4, color=0, rows=b"".join(b"\0" + bytes([y * 40, 90, 200])
                                                                       for y in range(4))))
    write(os.path.join(s, "rgba.png"), png(2, 2, color=6, rows=b"\0" + bytes(range(8)) + b"\0" + bytes(range(8, 16))))
    write(os.path.join(s, "gray.pgm"), b"P5\n# comment\n3 2\n255\n" + bytes([0, 50, 100, 150, 200, 250]))
    write(os.path.join(s, "gray16.pgm"), b"P5 2 2 65535\n" + bytes(range(8)))
    write(os.path.join(s, "ascii.pgm"), b"P2 3 2 15\n0 1 2\n13 14 15\n")
    write(os.path.join(s, "color.ppm"), b"P6 2 2 255\n" + bytes(range(0, 240, 20)))
    write(os.path.join(s, "ascii.ppm"), b"P3 1 2 255\n255 0 0  0 0 255\n")


# -------------------------------------------------------------------------------- netfiles

HDR = "image = input(shape=(1,8,8))\n"


def netfile_cases():
    k = "netfile"
    case(k, "empty.net", "", FORMAT, "{f}: no statements")
    case(k, "comments-only.net", "# nothing here\n\n   # at all\n", FORMAT, "{f}: no statements")
    case(k, "nul-byte.net", HDR + "r = relu\0\n", FORMAT, "{f}: contains a NUL byte: not a text netfile")
    case(k, "binary.net", bytes.fromhex("89504e470d0a1a0a0000000d49484452"), FORMAT,
         "{f}: contains a NUL byte: not a text netfile")
    case(k, "cycle.net", HDR + "a = relu(c)\nb = tanh(a)\nc = sigmoid(b)\n", FORMAT,
         "{f}:2:1: cycle: a -> b -> c -> a")
    case(k, "self-loop.net", HDR + "a = add(image, a)\n", FORMAT, "{f}:2:1: cycle: a -> a")
    case(k, "unknown-key.net", HDR + "c = conv2d(image, out_channel=4, kernel_size=3)\n", FORMAT,
         "{f}:2:19: unknown key 'out_channel' for conv2d; known keys: in_channels, out_channels, ...")
    case(k, "unknown-key-inplace.net", HDR + "r = relu(image, inplace=true)\n", FORMAT,
         "{f}:2:17: unknown key 'inplace' for relu; known keys: (none)")
    case(k, "unknown-input-key.net", "x = input(shape=(1,8,8), dtype=f32)\n", FORMAT,
         "{f}:1:26: unknown key 'dtype' for input; known keys: shape")
    case(k, "unknown-directive.net", HDR + "r = relu\n@outptu r\n", FORMAT,
         "{f}:3:1: unknown directive; known: @output NODE, @loss NODE")
    case(k, "key-twice.net", HDR + "m = maxpool2d(image, kernel_size=2, kernel_size=3)\n", FORMAT,
         "{f}:2:37: key 'kernel_size' given twice")
    case(k, "duplicate-name.net", HDR + "r = relu\nr = tanh(image)\n", FORMAT,
         "{f}:3:1: duplicate name 'r' (first defined at line 2)")
    case(k, "unknown-input.net", HDR + "r = relu(imgae)\n", FORMAT, "{f}:2:10: node 'r' (relu): unknown input 'imgae'")
    case(k, "dangling.net", HDR + "a = relu(image)\nb = tanh(image)\n", FORMAT,
         "{f}:2:1: node 'a' (relu) is dangling: its output does not reach the output 'b' (choose it with @output, "
         "or clcnn_graph_set_output)")
    case(k, "unclosed.net", HDR + "c = conv2d(image, out_channels=4,\n   kernel_size=3\n", FORMAT,
         "{f}:2:11: '(' is never closed")
    case(k, "truncated.net", HDR + "c = conv2d(image, out_chan", FORMAT, "{f}:2:11: '(' is never closed")
    case(k, "zero-dim.net", "x = input(shape=(1,0,28))\nr = relu\n", FORMAT,
         "{f}:1:17: bad value '(1,0,28)' for shape: expected up to 3 positive integers like (1,28,28) or 1x28x28")
    case(k, "negative-dim.net", "x = input(shape=(1,-28,28))\nr = relu\n", FORMAT,
         "{f}:1:17: bad value '(1,-28,28)' for shape: expected up to 3 positive integers like (1,28,28) or 1x28x28")
    case(k, "dim-overflow.net", "x = input(shape=(1,99999999999,28))\nr = relu\n", FORMAT,
         "{f}:1:17: bad value '(1,99999999999,28)' for shape: expected up to 3 positive integers like (1,28,28) or "
         "1x28x28")
    case(k, "shape-product-overflow.net", "x = input(shape=(1073741824,1073741824,1073741824))\nr = relu\n", FORMAT,
         "{f}:1:1: input 'x': shape 1073741824x1073741824x1073741824 holds more than 2147483647 elements, the most a "
         "tensor can have")
    case(k, "shape-product-large.net", "x = input(shape=(65536,65536))\nr = relu\n", FORMAT,
         "{f}:1:1: input 'x': shape 65536x65536 holds more than 2147483647 elements, the most a tensor can have")
    case(k, "int-overflow.net", HDR + "c = conv2d(image, out_channels=99999999999, kernel_size=3)\n", FORMAT,
         "{f}:2:32: bad value '99999999999' for out_channels: expected an integer")
    case(k, "wrong-type.net", HDR + "c = conv2d(image, out_channels=4, kernel_size=three)\n", FORMAT,
         "{f}:2:47: bad value 'three' for kernel_size: expected an integer or a pair (h,w)")
    case(k, "unknown-layer.net", HDR + "c = conv3d(image)\n", FORMAT,
         "{f}:2:5: unknown layer 'conv3d'; known layers: input, ...")
    case(k, "too-many-items.net", HDR + "a = add(" + ", ".join(["image"] * 33) + ")\n", FORMAT,
         "{f}:2:%d: more than 32 items" % (9 + 7 * 32))
    case(k, "long-name.net", HDR + "a" * 200 + " = relu\n", FORMAT,
         "{f}:2:1: name 'aaaaaaaaaaaaaaaaaaaa...' is longer than 127 characters")
    case(k, "directive-unknown-node.net", HDR + "r = relu\n@loss nothere\n", FORMAT,
         "{f}:3:7: @loss: unknown node 'nothere'")
    # shape inference at batch 2 (graph_infer): op setup errors and the tensor size limit
    inv = "CLCNN_ERR_INVALID"
    case(k, "conv-weight-overflow.net", HDR + "c = conv2d(image, out_channels=252975874, kernel_size=3)\n", inv,
         "{f}:2:1: node 'c' (conv2d): conv2d: weight 252975874x1x3x3 holds more than 2147483647 elements "
         "(inputs: image 2x1x8x8)")
    case(k, "conv-padding-overflow.net", HDR + "c = conv2d(image, out_channels=2, kernel_size=3, "
         "padding=(2147483647,1))\n", inv,
         "{f}:2:1: node 'c' (conv2d): conv2d: output height 4294967300 (8 + padding 2147483647 + 2147483647) is "
         "too large (inputs: image 2x1x8x8)")
    case(k, "conv-dilation-overflow.net", HDR + "c = conv2d(image, out_channels=2, kernel_size=3, "
         "dilation=2147483647)\n", inv,
         "{f}:2:1: node 'c' (conv2d): conv2d: kernel height 3 (4294967295 with dilation 2147483647) larger than "
         "padded input height 8 (8 + padding 0 + 0) (inputs: image 2x1x8x8)")
    case(k, "pool-dilation-overflow.net", HDR + "m = maxpool2d(image, kernel_size=2, dilation=2147483647)\n", inv,
         "{f}:2:1: node 'm' (maxpool2d): maxpool2d: dilated kernel 2147483648 (kernel_size 2, dilation 2147483647) "
         "larger than padded input height 8 (inputs: image 2x1x8x8)")
    case(k, "batch-overflow.net", "x = input(shape=(1,1073741824,1))\nr = relu\n", inv,
         "input 'x': 2x1x1073741824x1 holds more than 2147483647 elements, the most a tensor can have (at batch 2)")
    case(k, "output-overflow.net", HDR + "c = conv2d(image, out_channels=40000, kernel_size=1, padding=(0,0,0,4000))"
         "\n", inv,
         "{f}:2:1: node 'c' (conv2d): output 2x40000x8x4008 holds more than 2147483647 elements, the most a tensor "
         "can have (at batch 2)")
    write(os.path.join(SEEDS, "netfile", "every-syntax.net"),
          "# all of the syntax\n   x = input(shape=1x6x6)   # comment\nt = input(shape=(9))\n"
          "o = avgpool2d(x, kernel_size=(2, 2),   # continued\n      stride = 2)\nf = flatten\nh = tanh(f)\n"
          "s = sigmoid(f)\nboth = add(h, late)\nlate = relu(s)\nloss = mse_loss(both, t)\n@output h\n")


# --------------------------------------------------------- weights for tests/data/cli/tiny.net

# tiny.net: c1 = conv2d(1 -> 4, 3x3), fc = linear(196 -> 10)
TINY = [("c1.weight", (4, 1, 3, 3)), ("c1.bias", (4,)), ("fc.weight", (10, 196)), ("fc.bias", (10,))]


def weights(values=None, dtype=None, shapes=None, drop=()):
    header, data = {}, b""
    for name, shape in TINY:
        if name in drop:
            continue
        shape = (shapes or {}).get(name, shape)
        n = 1
        for d in shape:
            n *= d
        v = [((i * 7919) % 200 - 100) / 1000.0 for i in range(n)]
        for (vn, i), x in (values or {}).items():
            if vn == name:
                v[i] = x
        dt = (dtype or {}).get(name, "F32")
        blob = struct.pack("<%d%s" % (n, "e" if dt == "F16" else "f"), *v)
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    return st(header, data)


def weights_cases():
    k = "weights"
    nan, inf = float("nan"), float("inf")
    case(k, "nan-weight.safetensors", weights({("fc.weight", 77): nan}), FORMAT,
         "{f} does not match the graph (1 problem):\n  'fc.weight': element 77 is nan (weights must be finite)")
    case(k, "inf-bias.safetensors", weights({("c1.bias", 2): -inf}), FORMAT,
         "{f} does not match the graph (1 problem):\n  'c1.bias': element 2 is -inf (weights must be finite)")
    case(k, "nan-and-inf.safetensors", weights({("c1.weight", 0): inf, ("fc.bias", 9): nan}), FORMAT,
         "{f} does not match the graph (2 problems):\n  'c1.weight': element 0 is inf (weights must be finite)\n"
         "  'fc.bias': element 9 is nan (weights must be finite)")
    case(k, "f16-inf.safetensors", weights({("fc.bias", 1): inf}, dtype={"fc.bias": "F16"}), FORMAT,
         "{f} does not match the graph (2 problems):\n  'fc.bias': dtype F16 in the file, F32 expected\n"
         "  'fc.bias': element 1 is inf (weights must be finite)")
    case(k, "zero-dim.safetensors", weights(shapes={"fc.weight": (10, 0)}), FORMAT,
         "{f} does not match the graph (1 problem):\n  'fc.weight': shape 10x0 in the file, 10x196 in the graph")
    case(k, "missing-tensor.safetensors", weights(drop=("c1.bias",)), FORMAT,
         "{f} does not match the graph (1 problem):\n  missing 'c1.bias'")
    case(k, "truncated.safetensors", weights()[:-100], FORMAT,
         "{f}: tensor \"fc.weight\": data_offsets [160, 8000] outside the 7940-byte data section")

# ----------------------------------------------------------------------------- onnx

def pb_varint(v):
    """Protobuf base-128 varint; negative values as their 64-bit two's complement (10 bytes)."""
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def pb_key(field, wt):
    return pb_varint(field << 3 | wt)


def pb_int(field, v):
    return pb_key(field, 0) + pb_varint(v)


def pb_bytes(field, b):
    b = b.encode() if isinstance(b, str) else b
    return pb_key(field, 2) + pb_varint(len(b)) + b


def onnx_model(graph=b"", opset=13):
    """ModelProto: ir_version=1, graph=7, opset_import=8 {version=2}."""
    return pb_int(1, 8) + pb_bytes(7, graph) + pb_bytes(8, pb_int(2, opset))


def onnx_tensor(name, dtype=1, dims=(), raw=None, extra=b""):
    """TensorProto: dims=1 (unpacked, as onnx's proto2 writer), data_type=2, name=8, raw_data=9."""
    t = b"".join(pb_int(1, d) for d in dims) + pb_int(2, dtype) + pb_bytes(8, name) + extra
    return t + (pb_bytes(9, raw) if raw is not None else b"")


def onnx_init(tensor):
    return onnx_model(pb_bytes(5, tensor))


def onnx_node(op="Relu", name="", inputs=("x",), outputs=("y",), attrs=()):
    n = b"".join(pb_bytes(1, i) for i in inputs) + b"".join(pb_bytes(2, o) for o in outputs)
    n += (pb_bytes(3, name) if name else b"") + (pb_bytes(4, op) if op is not None else b"")
    return n + b"".join(pb_bytes(5, a) for a in attrs)


def onnx_external(name, entries, location=1):
    ext = b"".join(pb_bytes(13, pb_bytes(1, k) + pb_bytes(2, v)) for k, v in entries)
    return onnx_init(onnx_tensor(name, 1, (4,), extra=ext + pb_int(14, location)))


def onnx_cases():
    k = "onnx"
    relu = onnx_model(pb_bytes(1, onnx_node(name="r")))
    write(os.path.join(SEEDS, k, "relu.onnx"), relu)
    conv = onnx_node("Conv", "conv1", ("x", "w", ""), ("y",), attrs=(
        pb_bytes(1, "pads") + pb_bytes(8, b"".join(pb_varint(v) for v in (1, 1, -1, 2))) + pb_int(20, 7),
        pb_bytes(1, "alpha") + pb_key(2, 5) + struct.pack("<f", 0.1) + pb_int(20, 1),
        pb_bytes(1, "auto_pad") + pb_bytes(4, "NOTSET") + pb_int(20, 3)))
    vi = pb_bytes(1, "x") + pb_bytes(2, pb_bytes(1, pb_int(1, 1) + pb_bytes(2, pb_bytes(1, pb_bytes(2, "N")) +
                                                                            pb_bytes(1, pb_int(1, 3)))))
    seed = onnx_model(pb_bytes(1, conv) + pb_bytes(2, "g") +
                      pb_bytes(5, onnx_tensor("w", 1, (2, 1), struct.pack("<2f", 0.5, -1))) +
                      pb_bytes(5, onnx_tensor("s", 7, (2,), extra=pb_bytes(7, pb_varint(-1) + pb_varint(8)))) +
                      pb_bytes(11, vi)) + pb_bytes(14, pb_bytes(1, "k") + pb_bytes(2, "v"))
    write(os.path.join(SEEDS, k, "conv.onnx"), seed)

    case(k, "empty.onnx", b"", FORMAT, "{f}: file is empty (0 bytes)")
    case(k, "no-graph.onnx", pb_int(1, 8), FORMAT, "{f}: no graph (not an ONNX model?)")
    # cut inside the last metadata entry: its value's length runs past the end of the entry
    case(k, "truncated.onnx", seed[:-9], FORMAT, "{f}: length 2 at byte 166 runs past the end (1 bytes left)")
    case(k, "group.onnx", pb_int(1, 8) + pb_key(9, 3), FORMAT,
         "{f}: field 9 at byte 2 is a group (wire type 3), which ONNX does not use")
    case(k, "wire-type-7.onnx", pb_key(9, 7), FORMAT, "{f}: field 9 at byte 0 has invalid wire type 7")
    case(k, "varint-11-bytes.onnx", b"\x08" + b"\xff" * 10 + b"\x01", FORMAT,
         "{f}: varint at byte 1 is longer than 10 bytes")
    case(k, "varint-overflow.onnx", b"\x08" + b"\xff" * 9 + b"\x02", FORMAT,
         "{f}: varint at byte 1 overflows 64 bits")
    case(k, "length-past-end.onnx", pb_int(1, 8) + pb_key(7, 2) + pb_varint(100) + b"\x0a\x00", FORMAT,
         "{f}: length 100 at byte 3 runs past the end (2 bytes left)")
    case(k, "raw-data-short.onnx", onnx_init(onnx_tensor("fc.weight", 1, (10, 10), bytes(396))), FORMAT,
         "{f}: tensor 'fc.weight': raw_data holds 396 bytes, dims [10, 10] need 400")
    case(k, "float-data-count.onnx",
         onnx_init(onnx_tensor("b", 1, (3,), extra=pb_bytes(4, struct.pack("<2f", 1, 2)))), FORMAT,
         "{f}: tensor 'b': float_data holds 2 values, dims [3] need 3")
    case(k, "packed-floats-odd.onnx",
         onnx_init(onnx_tensor("b", 1, (3,), extra=pb_bytes(4, bytes(6)))), FORMAT,
         "{f}: tensor 'b': packed float_data holds 6 bytes, not a multiple of 4")
    case(k, "raw-and-float-data.onnx",
         onnx_init(onnx_tensor("b", 1, (1,), bytes(4), extra=pb_bytes(4, bytes(4)))), FORMAT,
         "{f}: tensor 'b': both raw_data and float_data are given")
    case(k, "int64-data-for-float.onnx", onnx_init(onnx_tensor("b", 1, (1,), extra=pb_int(7, 5))), FORMAT,
         "{f}: tensor 'b': int64_data given for data_type 1 (FLOAT)")
    case(k, "int32-out-of-range.onnx", onnx_init(onnx_tensor("q", 3, (2,), extra=pb_int(5, 1) + pb_int(5, -129))),
         FORMAT, "{f}: tensor 'q': int32_data value -129 at 1 is out of range for INT8")
    case(k, "no-data.onnx", onnx_init(onnx_tensor("w", 1, (2, 3))), FORMAT,
         "{f}: tensor 'w': no data (dims [2, 3] need 24 bytes)")
    case(k, "huge-dims.onnx", onnx_init(onnx_tensor("w", 1, (1 << 31, 1 << 31), bytes(4))), FORMAT,
         "{f}: tensor 'w': dims [2147483648, 2147483648] make more than the 4294967296-byte limit of a tensor")
    case(k, "negative-dim.onnx", onnx_init(onnx_tensor("w", 1, (3, -1), bytes(12))), FORMAT,
         "{f}: tensor 'w': dimension 1 is negative (-1)")
    case(k, "nine-dims.onnx", onnx_init(onnx_tensor("w", 1, (1,) * 9, bytes(4))), FORMAT,
         "{f}: tensor 'w': 9 dims, at most 8 are supported")
    case(k, "segment.onnx", onnx_init(onnx_tensor("w", 1, (1,), bytes(4), extra=pb_bytes(3, pb_int(1, 0)))), FORMAT,
         "{f}: tensor 'w': segmented tensors are not supported")
    case(k, "sparse-initializer.onnx", onnx_model(pb_bytes(15, b"")), FORMAT,
         "{f}: sparse initializers are not supported")
    case(k, "two-graphs.onnx", onnx_model() + pb_bytes(7, b""), FORMAT, "{f}: more than one graph")
    case(k, "node-no-op-type.onnx", onnx_model(pb_bytes(1, onnx_node(None))), FORMAT, "{f}: node 0: no op_type")
    case(k, "attr-wire-type.onnx",
         onnx_model(pb_bytes(1, onnx_node("Conv", "conv1", attrs=(pb_bytes(1, "pads") + pb_key(8, 5) + bytes(4),)))),
         FORMAT, "{f}: node 'conv1': attribute 'pads': field 8 (ints) has wire type 5, expected 0 or 2")
    case(k, "attr-tensor-short.onnx",
         onnx_model(pb_bytes(1, onnx_node("Constant", "c", (), ("s",), attrs=(
             pb_bytes(1, "value") + pb_bytes(5, onnx_tensor("v", 7, (3,), extra=pb_int(7, 1))) + pb_int(20, 4),)))),
         FORMAT, "{f}: node 'c': attribute 'value': tensor 'v': int64_data holds 1 values, dims [3] need 3")
    dim9 = b"".join(pb_bytes(1, pb_int(1, 1)) for _ in range(9))
    case(k, "input-nine-dims.onnx",
         onnx_model(pb_bytes(11, pb_bytes(1, "x") + pb_bytes(2, pb_bytes(1, pb_int(1, 1) + pb_bytes(2, dim9))))),
         FORMAT, "{f}: input 'x': shape has more than 8 dimensions")
    case(k, "input-negative-dim.onnx",
         onnx_model(pb_bytes(11, pb_bytes(1, "x") + pb_bytes(2, pb_bytes(1, pb_bytes(2, pb_bytes(1, pb_int(1, -2))))))),
         FORMAT, "{f}: input 'x': dimension 0 is negative (-2)")
    case(k, "external-dotdot.onnx", onnx_external("w", [("location", "../w.bin")]), FORMAT,
         "{f}: tensor 'w': external data location '../w.bin' contains '..' (it must stay in the model's folder)")
    case(k, "external-absolute.onnx", onnx_external("w", [("location", "/etc/passwd")]), FORMAT,
         "{f}: tensor 'w': external data location '/etc/passwd' is an absolute path")
    case(k, "external-no-location.onnx", onnx_external("w", [("offset", "0")]), FORMAT,
         "{f}: tensor 'w': data_location is EXTERNAL but external_data has no location")
    # the model file itself as the data file, read past its end
    me = "external-past-end.onnx"
    body = onnx_external("w", [("location", me), ("offset", "16"), ("length", "99999")])
    case(k, me, body, FORMAT, "{f}: tensor 'w': external data '%s': offset 16 + length 99999 runs past the end of "
         "the file (%d bytes)" % (me, len(body)))
    case(k, "external-bad-offset.onnx", onnx_external("w", [("location", "external-bad-offset.onnx"),
                                                            ("offset", "-4")]), FORMAT,
         "{f}: tensor 'w': external data offset '-4' is not a number")


def main():
    safetensors_cases()
    idx_cases()
    cifar_cases()
    csv_cases()
    image_cases()
    netfile_cases()
    weights_cases()
    onnx_cases()
    write(os.path.join(BAD, "README"),
          "Malformed inputs, one per file, each with <file>.expect: status, then the exact message.\n"
          "Generated by tests/reliability/gen-bad-inputs.py (crash inputs found by tools/fuzz.sh are\n"
          "added by hand as fuzz-*). Checked by tests/reliability/test-bad-inputs.c; replayed by the\n"
          "fuzz targets (tests/fuzz/) in the unit suite.\n")


if __name__ == "__main__":
    main()
