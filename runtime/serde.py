"""The one place that turns runtime objects into bytes and back. Never pickle.

A payload is a small JSON header followed by raw little-endian array data::

    b"FJS1" | header length u32 | header JSON | zero padding | blob 0 | pad | blob 1 | ...

The header holds the object tree (JSON values as themselves; arrays, tensors and bytes
as ``{"\\u0000": index}``) and a table of blobs ``[kind, dtype, shape, offset, nbytes]``
with offsets from the start of the data section, each 64-byte aligned. User dict keys
that begin with NUL get one more NUL, so no user value can pose as a blob reference.

``encode`` returns the pieces as memoryviews *of the objects' own memory* (no tensor data
is copied), to be sent as a list body; ``encode_stream`` produces them lazily, one tensor
at a time (a GPU or non-contiguous tensor is brought to contiguous CPU memory only when
its turn comes). ``decode`` returns numpy arrays that are views into the given buffer,
and torch tensors sharing it (torch is imported only when the payload holds a tensor).

Supported: None, bool, int, float, str, bytes (bytearray, memoryview), list, tuple (as a
list), dict with str keys, numpy arrays of bool/int/uint/float/complex dtypes, numpy
scalars (as Python scalars), torch tensors of any of those dtypes plus bfloat16.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fljob.errors import RuntimeProtocolError

MAGIC = b"FJS1"
_PREFIX = struct.Struct("<4sI")
ALIGN = 64
_TAG = "\x00"
_ZEROS = bytes(ALIGN)
MAX_HEADER = 256 << 20

_NUMPY_DTYPES = frozenset(
    [
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
)
_TORCH_DTYPES = _NUMPY_DTYPES | {"bfloat16"}


class SerdeError(RuntimeProtocolError, ValueError):
    """An object cannot be encoded, or a payload is not a valid fljob payload."""

    code = "FLJ726"


# ------------------------------------------------------------------------- encoding
@dataclass
class _Blob:
    kind: str  # "np" | "pt" | "by"
    dtype: str
    shape: list[int]
    nbytes: int
    source: Any  # a flat byte view, or a torch tensor brought to CPU at send time


@dataclass
class EncodedStream:
    """A payload produced lazily: ``nbytes`` is exact before any data is produced.

    Usable directly as a transport message body (it is a ``StreamBody``).
    """

    header: bytes
    blobs: list[_Blob] = field(repr=False)
    nbytes: int = 0

    def __iter__(self) -> Iterator[memoryview]:
        yield memoryview(self.header)
        for blob in self.blobs:
            view = blob.source if blob.kind != "pt" else _torch_bytes(blob.source)
            if view.nbytes != blob.nbytes:
                raise SerdeError(f"a tensor changed size while being encoded ({blob.shape})")
            if view.nbytes:
                yield view
            if pad := -blob.nbytes % ALIGN:
                yield memoryview(_ZEROS)[:pad]


def encode_stream(obj: Any) -> EncodedStream:
    """Encode lazily; see the module docstring. Raises SerdeError naming the bad value."""
    blobs: list[_Blob] = []
    tree = _walk(obj, blobs, "")
    table, offset = [], 0
    for blob in blobs:
        table.append([blob.kind, blob.dtype, blob.shape, offset, blob.nbytes])
        offset += blob.nbytes + (-blob.nbytes % ALIGN)
    try:
        doc = json.dumps({"v": tree, "b": table}, separators=(",", ":"), allow_nan=True)
    except (ValueError, TypeError, RecursionError) as exc:
        raise SerdeError(f"cannot encode the object header: {exc}") from None
    raw = doc.encode()
    head_len = _PREFIX.size + len(raw)
    header = _PREFIX.pack(MAGIC, len(raw)) + raw + bytes(-head_len % ALIGN)
    return EncodedStream(header, blobs, len(header) + offset)


def encode(obj: Any) -> list[memoryview]:
    """The payload as a list of pieces, tensor data by reference (no copies).

    >>> pieces = encode({"w": np.ones((2, 3), np.float32), "round": 3})
    >>> decode(b"".join(pieces))["w"].shape
    (2, 3)
    """
    return list(encode_stream(obj))


def _walk(obj: Any, blobs: list[_Blob], path: str) -> Any:
    kind = type(obj)
    if obj is None or kind is bool or kind is str or kind is int or kind is float:
        return obj
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise SerdeError(
                    f"dict key {key!r} at {path or '<root>'} is a {type(key).__name__}; "
                    "only str keys can be encoded"
                )
            out[_TAG + key if key.startswith(_TAG) else key] = _walk(
                value, blobs, f"{path}.{key}" if path else key
            )
        return out
    if isinstance(obj, list | tuple):
        return [_walk(v, blobs, f"{path}[{i}]") for i, v in enumerate(obj)]
    for base in (bool, int, float, str):  # subclasses such as IntEnum or numpy.float64
        if isinstance(obj, base):
            return base(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        view = memoryview(obj)
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        return _blob(blobs, _Blob("by", "uint8", [view.nbytes], view.nbytes, view))
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.ndarray):
        return _blob(blobs, _numpy_blob(numpy, obj, path))
    if numpy is not None and isinstance(obj, numpy.generic):
        return _walk(obj.item(), blobs, path)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return _blob(blobs, _torch_blob(torch, obj, path))
    raise SerdeError(
        f"cannot encode a {kind.__module__}.{kind.__qualname__} at {path or '<root>'}",
        hint="payloads hold None, bool, int, float, str, bytes, lists, str-keyed dicts, "
        "numpy arrays and torch tensors; never pickled objects",
    )


def _blob(blobs: list[_Blob], blob: _Blob) -> dict[str, int]:
    blobs.append(blob)
    return {_TAG: len(blobs) - 1}


def _numpy_blob(np: Any, arr: Any, path: str) -> _Blob:
    name = arr.dtype.name
    if name not in _NUMPY_DTYPES:
        raise SerdeError(
            f"numpy array at {path or '<root>'} has dtype {arr.dtype}, which cannot travel "
            f"without pickle; supported: {', '.join(sorted(_NUMPY_DTYPES))}"
        )
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
        arr = arr.copy(order="C")
    view = memoryview(arr.reshape(-1).view(np.uint8))
    return _Blob("np", name, list(arr.shape), view.nbytes, view)


def _torch_blob(torch: Any, tensor: Any, path: str) -> _Blob:
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in _TORCH_DTYPES or tensor.layout != torch.strided or tensor.is_quantized:
        raise SerdeError(
            f"torch tensor at {path or '<root>'} ({tensor.dtype}, {tensor.layout}) cannot be "
            "encoded; dense tensors of standard dtypes only"
        )
    nbytes = tensor.numel() * tensor.element_size()
    return _Blob("pt", name, list(tensor.shape), nbytes, tensor)


def _torch_bytes(tensor: Any) -> memoryview:
    """The tensor's bytes, without a copy when it is already contiguous CPU memory."""
    import torch

    flat = tensor.detach()
    if flat.device.type != "cpu":
        flat = flat.cpu()
    flat = flat.resolve_conj().resolve_neg().contiguous().reshape(-1)
    if flat.numel() == 0:
        return memoryview(b"")
    return memoryview(flat.view(torch.uint8).numpy())


# ------------------------------------------------------------------------- decoding
def decode(buffer: Any) -> Any:
    """Rebuild the object from one payload buffer (bytes-like).

    Arrays are views into ``buffer`` (writable if it is); keep the buffer alive as long
    as you use them, and copy an array that you mean to keep while reusing the buffer.
    A payload that is not fljob's (a pickle, say) is refused with SerdeError.
    """
    view = memoryview(buffer).cast("B") if not _is_flat(buffer) else memoryview(buffer)
    header_len, doc = _read_header(view)
    data_start = _PREFIX.size + header_len + (-(_PREFIX.size + header_len) % ALIGN)
    table = doc.get("b")
    if not isinstance(table, list) or "v" not in doc:
        raise SerdeError("payload header lacks its value or blob table")
    data = view[data_start:]
    values = [_decode_blob(data, i, entry) for i, entry in enumerate(table)]
    return _resolve(doc["v"], values)


def _is_flat(buffer: Any) -> bool:
    return isinstance(buffer, bytes | bytearray) or (
        isinstance(buffer, memoryview) and buffer.format == "B" and buffer.ndim == 1
    )


def _read_header(view: memoryview) -> tuple[int, dict[str, Any]]:
    if view.nbytes < _PREFIX.size:
        raise SerdeError(f"payload of {view.nbytes} bytes is too short to be fljob's")
    magic, length = _PREFIX.unpack_from(view)
    if magic != MAGIC:
        looks = " (it looks like a pickle, which is never accepted)" if magic[:1] == b"\x80" else ""
        raise SerdeError(f"not an fljob payload: magic {bytes(magic)!r}{looks}")
    if length > MAX_HEADER or _PREFIX.size + length > view.nbytes:
        raise SerdeError(f"payload header length {length} exceeds the payload")
    try:
        doc = json.loads(bytes(view[_PREFIX.size : _PREFIX.size + length]))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SerdeError(f"payload header is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SerdeError("payload header is not a JSON object")
    return length, doc


def _decode_blob(data: memoryview, index: int, entry: Any) -> Any:
    try:
        kind, dtype, shape, offset, nbytes = entry
        ok = (
            kind in ("np", "pt", "by")
            and isinstance(dtype, str)
            and isinstance(shape, list)
            and all(type(d) is int and d >= 0 for d in shape)
            and type(offset) is int
            and type(nbytes) is int
            and offset >= 0
            and nbytes >= 0
            and offset + nbytes <= data.nbytes
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise SerdeError(f"payload blob {index} has a malformed entry {entry!r:.200}")
    chunk = data[offset : offset + nbytes]
    if kind == "by":
        return bytes(chunk)
    allowed = _TORCH_DTYPES if kind == "pt" else _NUMPY_DTYPES
    if dtype not in allowed:
        raise SerdeError(f"payload blob {index} has unsupported dtype {dtype!r}")
    count = math.prod(shape)
    itemsize = 2 if dtype == "bfloat16" else _itemsize(dtype)
    if count * itemsize != nbytes:
        raise SerdeError(
            f"payload blob {index}: shape {shape} of {dtype} needs {count * itemsize} bytes, "
            f"not {nbytes}"
        )
    return _numpy_array(chunk, dtype, shape) if kind == "np" else _torch_tensor(chunk, dtype, shape)


def _itemsize(dtype: str) -> int:
    import numpy as np

    return np.dtype(dtype).itemsize


def _numpy_array(chunk: memoryview, dtype: str, shape: list[int]) -> Any:
    import numpy as np

    if chunk.nbytes == 0:
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(chunk, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)


def _torch_tensor(chunk: memoryview, dtype: str, shape: list[int]) -> Any:
    import torch

    torch_dtype = getattr(torch, dtype)
    if chunk.nbytes == 0:
        return torch.zeros(shape, dtype=torch_dtype)
    if chunk.readonly:  # torch.frombuffer warns on read-only memory: copy this tensor
        chunk = memoryview(bytearray(chunk))
    return torch.frombuffer(chunk, dtype=torch_dtype).reshape(shape)


def _resolve(tree: Any, values: list[Any]) -> Any:
    if isinstance(tree, list):
        return [_resolve(v, values) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if _TAG in tree:
        index = tree[_TAG]
        if len(tree) != 1 or type(index) is not int or not 0 <= index < len(values):
            raise SerdeError(f"payload holds a malformed blob reference {tree!r:.200}")
        return values[index]
    return {(k[1:] if k.startswith(_TAG) else k): _resolve(v, values) for k, v in tree.items()}
