"""safetensors files: many named tensors in one file, header first.

The format (https://github.com/huggingface/safetensors): 8 bytes, the header's
length N as a little-endian unsigned 64-bit integer; N bytes of UTF-8 JSON
mapping each tensor's name to ``{"dtype", "shape", "data_offsets": [begin,
end]}`` (offsets into the data that follows, the tensors back to back with no
gaps) and an optional ``"__metadata__"`` of str to str; then the data, every
tensor little-endian and C-ordered.

The layout is the one the safetensors package's own writer chooses, so a file
is byte for byte what ``safetensors.numpy.save_file`` would write for the same
arrays: tensors in order of decreasing dtype alignment (F64, then F32, BF16,
F16, ...; the order of safetensors' ``Dtype``), then by name; ``__metadata__``
first in the header; compact JSON padded with spaces to a multiple of 8 bytes,
so the data, and every tensor in it, is aligned to its dtype.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ._region import FileRegion
from ._staging import Staged

# safetensors' Dtype enum, in its (increasing alignment) order, for the dtypes numpy has
_CODES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "uint16": "U16",
    "float16": "F16",
    "bfloat16": "BF16",
    "int32": "I32",
    "uint32": "U32",
    "float32": "F32",
    "complex64": "C64",
    "float64": "F64",
    "int64": "I64",
    "uint64": "U64",
}
_RANK = {name: rank for rank, name in enumerate(_CODES)}
_ALIGN = 8  # the header is padded to a multiple of this many bytes
_MAX_HEADER = 100_000_000  # safetensors refuses longer headers


def check_dtype(name: str, dtype: np.dtype) -> None:
    if dtype.name not in _CODES:
        msg = (
            f"tensor {name!r} has dtype={dtype.name!r}, which safetensors cannot store; "
            f"allowed are {', '.join(_CODES)}"
        )
        raise TypeError(msg)


def check_name(name: Any) -> str:
    if not isinstance(name, str):
        msg = f"safetensors tensor names must be str; got {name!r} of type {type(name).__name__}"
        raise TypeError(msg)
    if name == "__metadata__":
        msg = "the name '__metadata__' is reserved by safetensors; name the tensor otherwise"
        raise ValueError(msg)
    return name


def check_metadata(metadata: Any) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        msg = f"metadata must be a mapping of str to str (safetensors' rule); got {metadata!r}"
        raise TypeError(msg)
    return dict(metadata)


def layout(
    tensors: Mapping[str, tuple[tuple[int, ...], np.dtype]], metadata: dict[str, str] | None
) -> tuple[bytes, dict[str, int]]:
    """The file's first 8 + N bytes, and each tensor's offset from the start of the file."""
    order = sorted(tensors, key=lambda name: (-_RANK[tensors[name][1].name], name))
    entries: dict[str, Any] = {} if metadata is None else {"__metadata__": metadata}
    begin = 0
    starts = {}
    for name in order:
        shape, dtype = tensors[name]
        end = begin + int(np.prod(shape, dtype=object)) * dtype.itemsize
        entries[name] = {
            "dtype": _CODES[dtype.name],
            "shape": [int(n) for n in shape],
            "data_offsets": [begin, end],
        }
        starts[name] = begin
        begin = end
    text = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % _ALIGN)
    if len(text) > _MAX_HEADER:
        msg = (
            f"the safetensors header of {len(tensors)} tensors would take {len(text)} bytes; "
            f"safetensors reads at most {_MAX_HEADER}: split them over several files"
        )
        raise ValueError(msg)
    head = struct.pack("<Q", len(text)) + text
    return head, {name: len(head) + start for name, start in starts.items()}


class SafetensorsTarget(Staged, Mapping[str, FileRegion]):
    """A safetensors file being written tensor by tensor, block by block; made by
    :func:`winit.files.create`.

    The header is written first, with every tensor's dtype, shape and place;
    ``target[name]`` is then a writable region of that tensor: ``target[name][index]
    = block`` writes a block of it, in this process or in any other (regions
    pickle and open the file where they run), so ``target[name]`` serves
    ``dask.array.store(x, target[name], lock=False)`` with process workers. The
    file is written at a temporary sibling of :attr:`path` and renamed into place
    by :meth:`commit` (or on leaving a ``with`` block without an error);
    :meth:`discard` removes it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        tensors: Mapping[str, tuple[tuple[int, ...], np.dtype]],
        *,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> None:
        for name, (_, dtype) in tensors.items():
            check_dtype(check_name(name), dtype)
        head, starts = layout(tensors, check_metadata(metadata))
        Staged.__init__(self, path, overwrite)
        self._regions = {
            name: FileRegion(self.staging, starts[name], shape, dtype, little_endian=True)
            for name, (shape, dtype) in tensors.items()
        }
        size = len(head) + sum(r.nbytes for r in self._regions.values())
        with open(self.staging, "xb") as file:
            try:
                file.write(head)
                file.truncate(size)
            except BaseException:
                file.close()
                self.discard()
                raise

    def __getitem__(self, name: str) -> FileRegion:
        try:
            return self._regions[name]
        except KeyError:
            names = ", ".join(map(repr, self))
            msg = f"{self.path} has no tensor {name!r}; its tensors are {names}"
            raise KeyError(msg) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._regions)

    def __len__(self) -> int:
        return len(self._regions)

    def __repr__(self) -> str:
        return f"<winit.files.SafetensorsTarget {self.path}: {len(self)} tensors>"

    # Mapping's __eq__ compares contents; a target is one file being written
    __eq__ = object.__eq__
    __hash__ = object.__hash__
