"""serde: every supported type round-trips; arrays come back as views; nothing is pickled."""

from __future__ import annotations

import enum
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from fljob.runtime import serde
from fljob.runtime.serde import SerdeError


def roundtrip(obj):
    return serde.decode(bytearray(b"".join(serde.encode(obj))))


class Color(enum.IntEnum):
    RED = 1


VALUES = {
    "none": (None, None),
    "true": (True, True),
    "zero": (0, 0),
    "big-int": (2**80, 2**80),
    "negative-float": (-1.5e-300, -1.5e-300),
    "str": ("héllo\u0000wörld", "héllo\u0000wörld"),
    "empty-str": ("", ""),
    "bytes": (b"\x00\xff" * 10, b"\x00\xff" * 10),
    "bytearray": (bytearray(b"abc"), b"abc"),
    "memoryview": (memoryview(b"xyz"), b"xyz"),
    "list": ([1, "a", None], [1, "a", None]),
    "tuple-as-list": ((1, (2, 3)), [1, [2, 3]]),
    "nested": ({"a": [{"b": {"c": []}}]}, {"a": [{"b": {"c": []}}]}),
    "nul-key": ({"\x00": 1, "\x00x": {"\x00": 2}}, {"\x00": 1, "\x00x": {"\x00": 2}}),
    "int-enum": (Color.RED, 1),
    "numpy-scalar": (np.float32(2.5), 2.5),
    "numpy-bool": (np.bool_(True), True),
}


@pytest.mark.parametrize(("value", "expected"), VALUES.values(), ids=VALUES.keys())
def test_plain_values_round_trip(value, expected):
    out = roundtrip(value)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_special_floats(value):
    out = roundtrip({"x": value})["x"]
    assert (math.isnan(out) and math.isnan(value)) or out == value


NUMPY_DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
SHAPES = {
    "scalar": (),
    "empty": (0,),
    "empty-2d": (3, 0),
    "vector": (7,),
    "matrix": (3, 5),
    "cube": (2, 3, 4),
}


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_numpy_arrays_round_trip(dtype, shape):
    arr = (np.arange(math.prod(shape)) % 3).astype(dtype).reshape(shape)
    out = roundtrip({"a": arr})["a"]
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_numpy_big_endian_and_non_contiguous_arrays():
    big = np.arange(6, dtype=">i4")
    strided = np.arange(20, dtype=np.float64).reshape(4, 5)[:, ::2]
    out = roundtrip([big, strided, np.asfortranarray(strided)])
    np.testing.assert_array_equal(out[0], big)
    assert out[0].dtype == np.dtype("<i4")
    np.testing.assert_array_equal(out[1], strided)
    np.testing.assert_array_equal(out[2], strided)


TORCH_DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
]


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_torch_tensors_round_trip(dtype, shape):
    t = (torch.arange(math.prod(shape)) % 3).to(getattr(torch, dtype)).reshape(shape)
    out = roundtrip({"t": t})["t"]
    assert isinstance(out, torch.Tensor) and out.dtype == t.dtype and out.shape == t.shape
    assert torch.equal(out, t)


def test_torch_special_tensors():
    base = torch.arange(12, dtype=torch.float32, requires_grad=True)
    noncontig = torch.arange(12.0).reshape(3, 4).t()
    conj = torch.tensor([1 + 2j]).conj()
    out = roundtrip([base * 2, noncontig, conj])
    assert torch.equal(out[0], (base * 2).detach())
    assert torch.equal(out[1], noncontig)
    assert torch.equal(out[2], conj.resolve_conj())


def test_arrays_are_views_into_the_received_buffer():
    buffer = bytearray(
        b"".join(serde.encode({"w": np.ones((4, 4), np.float32), "t": torch.ones(3)}))
    )
    out = serde.decode(buffer)
    out["w"][0, 0] = 7.0
    out["t"][0] = 9.0
    again = serde.decode(buffer)
    assert again["w"][0, 0] == 7.0 and again["t"][0] == 9.0  # shared memory, not copies


def test_encode_does_not_copy_tensor_data():
    arr = np.zeros(1000, np.float64)
    pieces = serde.encode({"a": arr})
    assert any(np.shares_memory(np.frombuffer(p, np.uint8), arr) for p in pieces[1:])


def test_read_only_buffer_still_decodes_torch_without_warning():
    out = serde.decode(b"".join(serde.encode({"t": torch.arange(5)})))
    assert torch.equal(out["t"], torch.arange(5))


def test_encode_stream_is_lazy_and_exact():
    tensors = {f"l{i}": torch.full((100, 10), float(i)) for i in range(3)}
    stream = serde.encode_stream(tensors)
    pieces = list(stream)
    assert stream.nbytes == sum(memoryview(p).nbytes for p in pieces)
    assert torch.equal(serde.decode(bytearray(b"".join(pieces)))["l2"], tensors["l2"])


def test_blobs_are_aligned():
    import json

    pieces = serde.encode({"a": np.ones(3, np.uint8), "b": np.ones(5, np.float64), "c": b"xy"})
    header = bytes(pieces[0])
    assert len(header) % serde.ALIGN == 0
    length = int.from_bytes(header[4:8], "little")
    table = json.loads(header[8 : 8 + length])["b"]
    assert [entry[3] % serde.ALIGN for entry in table] == [0, 0, 0]
    assert sum(memoryview(p).nbytes for p in pieces) % serde.ALIGN == 0


BAD_VALUES = {
    "object": (object(), "cannot encode a builtins.object at <root>"),
    "set": ({"a": {1, 2}}, "builtins.set at a"),
    "int-key": ({1: "x"}, "dict key 1 at <root> is a int"),
    "nested-path": ({"m": [1, {"k": 1j}]}, "builtins.complex at m[1].k"),
    "object-array": ({"a": np.array([1, "x"], dtype=object)}, "dtype object"),
    "str-array": ({"a": np.array(["x"])}, "dtype <U1"),
    "datetime-array": ({"a": np.array(["2020-01-01"], dtype="datetime64[D]")}, "datetime64"),
    "sparse-tensor": ({"t": torch.eye(2).to_sparse()}, "sparse"),
}


@pytest.mark.parametrize(("value", "message"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_unencodable_values_are_refused_with_their_path(value, message):
    with pytest.raises(SerdeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        serde.encode(value)


def good_payload() -> bytearray:
    return bytearray(b"".join(serde.encode({"w": np.arange(4, dtype=np.int32)})))


def with_header(doc: object, data: bytes = b"") -> bytes:
    import json
    import struct

    raw = json.dumps(doc).encode()
    head = struct.pack("<4sI", b"FJS1", len(raw)) + raw
    return head + bytes(-len(head) % 64) + data


BAD_PAYLOADS = {
    "pickle": (pickle.dumps({"w": [1, 2, 3]}), "looks like a pickle"),
    "pickle-protocol-0": (pickle.dumps([1], protocol=0), "not an fljob payload"),
    "empty": (b"", "too short"),
    "header-length-lies": (b"FJS1\xff\xff\x00\x00{}", "exceeds the payload"),
    "header-not-json": (b"FJS1\x03\x00\x00\x00{x}", "not valid JSON"),
    "header-not-object": (with_header([1]), "not a JSON object"),
    "no-blob-table": (with_header({"v": 1}), "lacks its value or blob table"),
    "blob-out-of-range": (
        with_header({"v": {"\x00": 0}, "b": [["np", "int32", [4], 0, 16]]}),
        "malformed entry",
    ),
    "blob-size-mismatch": (
        with_header({"v": 0, "b": [["np", "int32", [5], 0, 16]]}, bytes(64)),
        "needs 20 bytes, not 16",
    ),
    "blob-bad-dtype": (
        with_header({"v": 0, "b": [["np", "object", [1], 0, 8]]}, bytes(64)),
        "unsupported dtype 'object'",
    ),
    "blob-bad-kind": (
        with_header({"v": 0, "b": [["pickle", "uint8", [1], 0, 1]]}, bytes(64)),
        "malformed entry",
    ),
    "dangling-reference": (with_header({"v": {"\x00": 3}, "b": []}), "malformed blob reference"),
}


@pytest.mark.parametrize(("payload", "message"), BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_bad_payloads_are_refused(payload, message):
    with pytest.raises(SerdeError, match=message):
        serde.decode(payload)


def test_good_payload_for_comparison():
    np.testing.assert_array_equal(serde.decode(good_payload())["w"], np.arange(4))


def test_decoding_numpy_payloads_does_not_import_torch():
    code = (
        "import sys, numpy as np\n"
        "from fljob.runtime import serde\n"
        "out = serde.decode(b''.join(serde.encode({'w': np.ones(3)})))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
