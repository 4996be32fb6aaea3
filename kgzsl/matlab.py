"""The one reader (and writer) of MATLAB ``.mat`` files, v5 / v7 and v7.3, for every layer.

Benchmark features and splits (xlsa17's ``res101.mat`` / ``att_splits.mat``, K-ZSL ImageNet's
``split.mat`` and per-class files), class-attribute matrices read into a knowledge graph and
precomputed class embeddings (OntoZSL's ``o2v-awa.mat``) all come through :func:`read_mat`, so
that both versions give the same values everywhere and every damaged file gives one line:

* v5 / v7 files (MATLAB's own format; v7 compresses each variable) are read with
  ``scipy.io.loadmat``; uncompressed numeric variables can be memory-mapped instead;
* v7.3 files are HDF5 behind a 512-byte MATLAB header, read with ``h5py``.

Values keep MATLAB's orientation (a ``2048 × N`` matrix stays ``2048 × N``; a v7.3 array is a
zero-copy transposed view of what HDF5 holds), cell arrays of strings become ``list[str]`` in
MATLAB's column-major order and char arrays ``str`` (a list of rows for a char matrix).

Damaged files (empty, cut short, text or another binary format, unreadable) raise a
:class:`~kgzsl.errors.DataError` that names the file on one line. A v5 file is checked for
truncation before it is read: each variable's tag gives its length, so a file cut short is
caught even where the variables asked for lie before the cut.

This module is the bottom of the stack: it imports nothing of kgzsl but the errors.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kgzsl.errors import DataError

__all__ = ["read_mat", "write_mat", "mat_fields", "NUMERIC_CLASSES"]

_MAT73_SIGNATURE = b"MATLAB 7.3 MAT-file"
_HEADER_BYTES = 128  # v5 / v7: 116 bytes of text, 8 of subsystem offset, version and endian indicator

#: MATLAB classes of numeric arrays (as :func:`mat_fields` names them)
NUMERIC_CLASSES = frozenset(
    {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
)


def _one_line(error: BaseException) -> str:
    """An exception's message on one line (library messages may quote newlines)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_file(path: Path) -> bytes:
    """The first bytes of ``path``; a :class:`DataError` when it is absent, a folder or unreadable."""
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a MATLAB file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open("rb") as f:
            return f.read(_HEADER_BYTES)
    except PermissionError:
        raise DataError(f"{path}: permission denied (cannot read the file)") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or _one_line(e)})") from None


def _is_mat73(path: Path, head: bytes) -> bool:
    """v7.3 files are HDF5 behind a 512-byte header; v4 / v5 / v7 files are MATLAB's own format."""
    import h5py

    if head.startswith(_MAT73_SIGNATURE):
        return True
    if not head:
        raise DataError(f"{path}: not a readable MATLAB file (the file is empty)")
    if h5py.is_hdf5(str(path)):
        raise DataError(
            f"{path}: an HDF5 file without MATLAB's v7.3 header; kgzsl reads MATLAB .mat files "
            "(v5 or v7.3): save it from MATLAB, or convert it to .npy / .npz for the 'arrays' dataset"
        )
    return False


def _not_mat(path: Path, head: bytes, error: BaseException) -> DataError:
    """The error for a v5 file that scipy could not read: what the file looks like, else scipy's words."""
    if head[:6] != b"MATLAB" and head[:1] != b"\x00":  # v5 text header, or a v4 file's zero bytes
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return DataError(f"{path}: not a readable MATLAB file (no MAT-file header; {_one_line(error)})")
        return DataError(f"{path}: not a readable MATLAB file (it holds text, not MATLAB's binary format)")
    return DataError(f"{path}: not a readable MATLAB file ({_one_line(error)})")


# --------------------------------------------------------------------------- v5 / v7

# MATLAB v5 codes (MAT-File Format, The MathWorks, 2019): data types of the element tags, and
# the array classes whose data can be mapped when stored with the class's own type
_MI_MATRIX = 14
_V5_CLASS_TYPES = {
    6: (9, np.float64),  # mxDOUBLE_CLASS stored as miDOUBLE
    7: (7, np.float32),  # mxSINGLE_CLASS as miSINGLE
    8: (1, np.int8),
    9: (2, np.uint8),
    10: (3, np.int16),
    11: (4, np.uint16),
    12: (5, np.int32),
    13: (6, np.uint32),
    14: (12, np.int64),
    15: (13, np.uint64),
}


def _v5_tag(buf: bytes, pos: int) -> tuple[int, int, int, int]:
    """``(type, nbytes, data offset, next element offset)`` of the element at ``pos``.

    A small data element (4 bytes of data at most) packs type and size in one word and its data
    in the next; other elements have an 8-byte tag and data padded to a multiple of 8 bytes.
    """
    first, second = struct.unpack_from("<II", buf, pos)
    if first >> 16:
        return first & 0xFFFF, first >> 16, pos + 4, pos + 8
    return first, second, pos + 8, pos + 8 + second + (-second % 8)


def _v5_check_length(path: Path, head: bytes) -> None:
    """Raise a :class:`DataError` when a v5 file is cut short or its elements' sizes disagree.

    scipy reads only the variables asked for, so without this a file cut in a later variable
    reads as if whole (and one cut in a tag's middle raises obscure errors); and scipy's compiled
    reader trusts the sizes inside a variable, so a damaged one can crash the process
    (segmentation fault) instead of raising. Each variable's tag, array flags, dimensions and
    data tags are checked against each other: a big numeric matrix from its first bytes only,
    cells (class names) and other small variables whole, compressed ones after inflating.
    """
    if len(head) < _HEADER_BYTES or head[126:128] not in (b"IM", b"MI"):
        return  # v4 (no header) or not MATLAB at all: scipy tells which
    endian = "<" if head[126:128] == b"IM" else ">"
    size = path.stat().st_size
    pos, index = _HEADER_BYTES, 1
    with path.open("rb") as f:
        while pos < size:
            f.seek(pos)
            tag = f.read(8)
            if len(tag) < 8:
                raise DataError(f"{path}: truncated MATLAB file (the tag of variable {index} is cut at byte {size})")
            kind, nbytes = struct.unpack_from(f"{endian}II", tag)
            end = pos + 8 + nbytes  # as scipy's reader steps: top-level elements are not padded
            if end > size:
                raise DataError(
                    f"{path}: truncated MATLAB file (variable {index} needs bytes {pos}..{end}; the file has {size})"
                )
            if endian == "<":  # (big-endian files, from old SPARC MATLABs, get the length check only)
                try:
                    _v5_check_element(f, pos, kind, nbytes)
                except (_Malformed, ValueError, IndexError, struct.error) as e:
                    raise DataError(f"{path}: damaged MATLAB file (variable {index}: {e})") from None
            pos, index = end, index + 1


# Bytes per element of the v5 data types (miINT8 … miUINT64, miUTF8 / 16 / 32)
_MI_SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4}
_MI_INT32, _MI_UINT32, _MI_INT8 = 5, 6, 1
_MI_COMPRESSED = 15
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE = 1, 2, 3, 4, 5
_NUMERIC_V5 = frozenset(range(6, 16))
_HEAD_READ = 4096  # enough for a matrix's flags, dimensions, name and first data tag
_WHOLE_LIMIT = 256 << 20  # cells, structs, chars and sparse matrices are read whole up to this size


class _Malformed(Exception):
    """A v5 element whose sizes disagree with each other (scipy's reader may crash on such a file)."""


def _sub(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """The sub-element at ``pos`` of an element ending at ``end``; its data must fit inside."""
    if pos + 8 > end:
        raise _Malformed(f"an element tag at byte {pos} runs past its matrix")
    kind, nbytes, data, nxt = _v5_tag(buf, pos)
    if data + nbytes > end:
        raise _Malformed(f"an element at byte {pos} says {nbytes} bytes, past its matrix")
    return kind, nbytes, data, nxt


def _v5_matrix_header(buf: bytes, pos: int, end: int) -> tuple[int, int, list[int], int]:
    """``(class, flags, dims, next offset)`` of the miMATRIX content ``buf[pos:end]``."""
    kind, nbytes, data, nxt = _sub(buf, pos, end)
    if kind != _MI_UINT32 or nbytes != 8:
        raise _Malformed(f"array flags at byte {pos} are not 8 bytes of miUINT32")
    flags = struct.unpack_from("<I", buf, data)[0]
    kind, nbytes, data, nxt = _sub(buf, nxt, end)
    if kind != _MI_INT32 or nbytes < 8 or nbytes % 4:
        raise _Malformed(f"dimensions at byte {nxt} are not two or more miINT32")
    dims = list(struct.unpack_from(f"<{nbytes // 4}i", buf, data))
    if min(dims) < 0:
        raise _Malformed(f"negative dimension {min(dims)}")
    kind, nbytes, data, nxt = _sub(buf, nxt, end)
    if kind != _MI_INT8:
        raise _Malformed("the array name is not miINT8 text")
    return flags & 0xFF, flags, dims, nxt


def _v5_check_data(buf: bytes, pos: int, end: int, count: int, what: str) -> int:
    """Check one numeric data element of ``count`` values; return the offset after it."""
    kind, nbytes, _, nxt = _sub(buf, pos, end)
    if kind not in _MI_SIZES or kind in (16, 17, 18):
        raise _Malformed(f"{what}: data type {kind} is not numeric")
    if nbytes != count * _MI_SIZES[kind]:
        raise _Malformed(f"{what}: {nbytes} bytes of data for {count} values")
    return nxt


def _v5_check_matrix(buf: bytes, pos: int, end: int, depth: int = 0) -> None:
    """Check that the sizes inside the miMATRIX content ``buf[pos:end]`` agree (recursively for cells)."""
    if pos == end:
        return  # an empty cell element
    if depth > 32:
        raise _Malformed("cells or structs nested more than 32 deep")
    cls, flags, dims, nxt = _v5_matrix_header(buf, pos, end)
    count = math.prod(dims)
    complex_ = bool(flags & 0x800)
    if cls in _NUMERIC_V5:
        nxt = _v5_check_data(buf, nxt, end, count, "real part")
        if complex_:
            _v5_check_data(buf, nxt, end, count, "imaginary part")
    elif cls == _CHAR:
        kind, nbytes, _, _ = _sub(buf, nxt, end)
        if kind not in _MI_SIZES:
            raise _Malformed(f"char data of type {kind}")
        if kind not in (16, 17, 18) and nbytes != count * _MI_SIZES[kind]:
            raise _Malformed(f"{nbytes} bytes of char data for {count} characters")
    elif cls in (_CELL, _STRUCT, _OBJECT):
        fields = 1
        if cls == _OBJECT:
            kind, _, _, nxt = _sub(buf, nxt, end)  # class name
        if cls in (_STRUCT, _OBJECT):
            kind, nbytes, data, nxt = _sub(buf, nxt, end)
            length = struct.unpack_from("<i", buf, data)[0] if nbytes == 4 else 0
            if kind != _MI_INT32 or length < 1:
                raise _Malformed("a struct's field-name length is not a positive miINT32")
            kind, nbytes, _, nxt = _sub(buf, nxt, end)
            if kind != _MI_INT8 or nbytes % length:
                raise _Malformed("a struct's field names do not fit their length")
            fields = nbytes // length
        for _ in range(count * fields):
            kind, nbytes, data, nxt = _sub(buf, nxt, end)
            if kind != _MI_MATRIX:
                raise _Malformed(f"a cell or field of type {kind}, not a matrix")
            _v5_check_matrix(buf, data, data + nbytes, depth + 1)
    elif cls == _SPARSE:
        rows, cols = (dims + [0, 0])[:2]
        kind, nbytes, data, nxt = _sub(buf, nxt, end)  # ir: the row of each stored value (nzmax of them)
        if kind not in (_MI_INT32, _MI_UINT32, 12, 13):
            raise _Malformed("sparse row indices are not integers")
        ir = np.frombuffer(
            buf, dtype="<i4" if _MI_SIZES[kind] == 4 else "<i8", count=nbytes // _MI_SIZES[kind], offset=data
        )
        kind, nbytes, data, nxt = _sub(buf, nxt, end)  # jc: where each column starts
        if kind not in (_MI_INT32, _MI_UINT32, 12, 13) or nbytes // _MI_SIZES[kind] != cols + 1:
            raise _Malformed("sparse column starts do not match the columns")
        jc = np.frombuffer(buf, dtype="<i4" if _MI_SIZES[kind] == 4 else "<i8", count=cols + 1, offset=data)
        used = int(jc[-1])
        if (
            jc[0]
            or (np.diff(jc) < 0).any()
            or used > ir.size
            or (used and (ir[:used].min() < 0 or ir[:used].max() >= rows))
        ):
            raise _Malformed("sparse indices out of range")
        kind, nbytes, _, _ = _sub(buf, nxt, end)
        if kind not in _MI_SIZES or kind in (16, 17, 18) or nbytes < used * _MI_SIZES[kind]:
            raise _Malformed("sparse values fewer than the indices")
    elif cls not in (16, 17):  # function handles and opaque objects: scipy reads them as blobs
        raise _Malformed(f"unknown array class {cls}")


def _v5_check_element(f: Any, pos: int, kind: int, nbytes: int) -> None:
    """Check one top-level element (at ``pos``, its tag already read) of a little-endian v5 file."""
    import zlib

    if kind == _MI_COMPRESSED:
        f.seek(pos + 8)
        inflate = zlib.decompressobj()
        try:
            head = inflate.decompress(f.read(min(nbytes, _HEAD_READ)), _HEAD_READ)
        except zlib.error as e:
            raise _Malformed(f"compressed data is damaged ({e})") from None
        if len(head) < 8:
            return  # too little to tell; scipy's own reader checks the stream
        inner, inner_bytes, _, _ = _v5_tag(head, 0)
        if inner != _MI_MATRIX:
            raise _Malformed(f"a compressed element holds type {inner}, not a matrix")
        cls = head[16] if len(head) > 16 else -1
        if cls in _NUMERIC_V5 or inner_bytes + 8 <= len(head):
            if inner_bytes + 8 > len(head):  # a big numeric matrix: its header and first data tag suffice
                _v5_check_header_only(head, 8, 8 + inner_bytes)
            else:
                _v5_check_matrix(head, 8, 8 + inner_bytes)
            return
        if nbytes > _WHOLE_LIMIT:
            return
        f.seek(pos + 8)
        try:
            whole = zlib.decompress(f.read(nbytes))
        except zlib.error as e:
            raise _Malformed(f"compressed data is damaged ({e})") from None
        inner, inner_bytes, _, _ = _v5_tag(whole, 0)
        if 8 + inner_bytes > len(whole):
            raise _Malformed("a compressed matrix is shorter than its tag says")
        _v5_check_matrix(whole, 8, 8 + inner_bytes)
        return
    if kind != _MI_MATRIX:
        raise _Malformed(f"a variable of type {kind}, not a matrix")
    f.seek(pos + 8)
    head = f.read(min(nbytes, _HEAD_READ))
    if len(head) >= 16 and head[8] in _NUMERIC_V5 and nbytes > _HEAD_READ:
        _v5_check_header_only(head, 0, nbytes)  # a big numeric matrix: no need to read its data
    elif nbytes <= _WHOLE_LIMIT:
        f.seek(pos + 8)
        _v5_check_matrix(f.read(nbytes), 0, nbytes)


def _v5_check_header_only(head: bytes, pos: int, end: int) -> None:
    """Check a numeric matrix from its first bytes: data tags sized as the dimensions say, inside ``end``."""
    cls, flags, dims, nxt = _v5_matrix_header(head, pos, min(end, len(head)))
    count = math.prod(dims)
    if nxt + 8 > len(head):
        raise _Malformed("a matrix header longer than its element")
    kind, nbytes, data, _ = _v5_tag(head, nxt)
    if kind not in _MI_SIZES or kind in (16, 17, 18) or nbytes != count * _MI_SIZES[kind] or data + nbytes > end:
        raise _Malformed(f"{nbytes} bytes of data for {count} values (type {kind})")
    if flags & 0x800 and data + nbytes + ((-nbytes) % 8) + 8 > end:
        raise _Malformed("the imaginary part of a complex matrix is missing")


def _v5_cell_value(value: Any) -> Any:
    """scipy's view of a cell or char array, as plain Python: strings for chars, lists for cells of strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "U":
            rows = [str(r) for r in value.ravel()]  # loadmat joins each char row into one string
            return "" if not rows else rows[0] if len(rows) == 1 else rows
        if value.dtype == object:
            # MATLAB's element order; the common case, a cell of char rows, without recursion
            items = [
                str(v[0]) if type(v) is np.ndarray and v.dtype.kind == "U" and v.shape == (1,) else _v5_cell_value(v)
                for v in value.ravel(order="F")
            ]
            if all(isinstance(v, str) for v in items):
                return items
            return value
    return value


def _v5_map(path: Path, wanted: Sequence[str]) -> dict[str, np.ndarray]:
    """Memory-map the ``wanted`` variables a v5 file stores uncompressed as plain real numeric arrays.

    Files written by ``scipy.io.savemat`` (uncompressed by default) qualify; MATLAB's own
    ``save`` compresses (v7), and those variables, like cells, complex, sparse, or a double
    stored as ``uint16`` (MATLAB's space saving), are left to ``scipy.io.loadmat``. Maps are
    copy-on-write: changing the array never changes the file.
    """
    out: dict[str, np.ndarray] = {}
    size = path.stat().st_size
    with path.open("rb") as f:
        if f.read(_HEADER_BYTES)[126:128] != b"IM":  # only little-endian files (all of them in practice)
            return out
        pos = _HEADER_BYTES
        while pos + 8 <= size and len(out) < len(wanted):
            f.seek(pos)
            head = f.read(256)  # tag, array flags, dimensions and name fit in here
            if len(head) < 8:
                break
            kind, nbytes, _, _ = _v5_tag(head, 0)
            end = pos + 8 + nbytes
            if kind == _MI_MATRIX and len(head) >= 48:
                try:
                    name, array = _v5_matrix(path, head, pos, size)
                except (ValueError, IndexError):  # header past the 256 bytes read: leave it to scipy
                    name, array = None, None
                if name in wanted and array is not None:
                    out[name] = array
            pos = end
    return out


def _v5_matrix(path: Path, head: bytes, pos: int, size: int) -> tuple[str | None, np.ndarray | None]:
    """Name and, when mappable, the mapped data of the miMATRIX element at ``pos`` (``head``: its first bytes)."""
    _, _, at, nxt = _v5_tag(head, 8)  # array flags: class in the low byte, complex / logical bits above
    flags = int(np.frombuffer(head, dtype="<u4", count=1, offset=at)[0])
    cls, complex_or_logical = flags & 0xFF, flags & 0x0A00
    _, nbytes, at, nxt = _v5_tag(head, nxt)  # dimensions
    dims = tuple(int(d) for d in np.frombuffer(head, dtype="<i4", count=nbytes // 4, offset=at))
    _, nbytes, at, nxt = _v5_tag(head, nxt)  # name
    name = head[at : at + nbytes].decode("latin-1")
    if cls not in _V5_CLASS_TYPES or complex_or_logical or any(d < 0 for d in dims):
        return name, None
    kind, nbytes, at, _ = _v5_tag(head, nxt)  # real part
    mi_type, dtype = _V5_CLASS_TYPES[cls]
    if kind != mi_type or nbytes == 0 or nbytes != int(np.prod(dims)) * np.dtype(dtype).itemsize:
        return name, None
    if pos + at + nbytes > size:
        raise DataError(f"{path}: truncated MATLAB file (variable {name!r} ends past the end of the file)")
    return name, np.memmap(path, dtype=dtype, mode="c", offset=pos + at, shape=dims, order="F")


def _read_v5(path: Path, head: bytes, wanted: list[str], mmap: bool) -> dict[str, Any]:
    import scipy.io

    try:
        _v5_check_length(path, head)
        out = _v5_map(path, wanted) if mmap else {}
        rest = [k for k in wanted if k not in out]
        raw = scipy.io.loadmat(str(path), variable_names=rest) if rest else {}
    except DataError:
        raise
    except Exception as e:  # scipy raises many kinds for a damaged or foreign file
        raise _not_mat(path, head, e) from None
    out |= {k: _v5_cell_value(v) for k, v in raw.items() if not k.startswith("__")}
    return out


# --------------------------------------------------------------------------- v7.3 (HDF5)


def _h5_attr(obj: Any, name: str) -> Any:
    value = obj.attrs.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _h5_value(f: Any, obj: Any, where: str) -> Any:
    """One variable of a v7.3 file as scipy would give it from a v5 file (MATLAB's orientation)."""
    import h5py

    if isinstance(obj, h5py.Group):
        raise DataError(f"{where}: MATLAB structs and sparse matrices are not supported")
    cls = _h5_attr(obj, "MATLAB_class")
    if _h5_attr(obj, "MATLAB_empty"):
        # an empty array is stored as its dimensions
        if cls == "char":
            return ""
        if cls == "cell":
            return []
        dims = tuple(int(d) for d in np.asarray(obj[()]).ravel())
        return np.zeros(dims, dtype=np.float64)
    data = obj[()]
    if cls == "cell" or (cls is None and h5py.check_dtype(ref=obj.dtype) is not None):
        # (files written by hand may leave out a cell's MATLAB_class: references make it one)
        # HDF5 holds the transposed array, so C order over it is MATLAB's column-major order
        items = [_h5_value(f, f[ref], where) for ref in np.asarray(data).ravel()]
        if all(isinstance(v, str) for v in items):
            return items
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(np.asarray(data).shape[::-1], order="F")
    arr = np.asarray(data).T  # a view: HDF5 stores MATLAB's column-major data as row-major, dims reversed
    if cls == "char":
        rows = ["".join(map(chr, row)).rstrip("\x00") for row in np.atleast_2d(arr)]
        return rows[0] if len(rows) == 1 else rows
    if cls == "logical":
        return arr.astype(bool)
    if arr.dtype.names:
        raise DataError(f"{where}: complex MATLAB arrays are not supported")
    return arr


def _h5_map(path: Path, obj: Any) -> np.ndarray | None:
    """A copy-on-write map of a v7.3 numeric variable stored contiguous and uncompressed, else ``None``."""
    cls = _h5_attr(obj, "MATLAB_class")
    if cls not in NUMERIC_CLASSES or obj.chunks is not None or _h5_attr(obj, "MATLAB_empty"):
        return None
    offset = obj.id.get_offset()  # from the start of the file, MATLAB's 512-byte header included
    if offset is None or obj.dtype.names or obj.size == 0:
        return None
    if offset + obj.size * obj.dtype.itemsize > path.stat().st_size:
        raise DataError(f"{path}: truncated MATLAB v7.3 file (variable {obj.name.lstrip('/')!r} ends past its end)")
    return np.memmap(path, dtype=obj.dtype, mode="c", offset=offset, shape=obj.shape).T


def _open_h5(path: Path) -> Any:
    import h5py

    try:
        return h5py.File(path, "r")
    except Exception as e:  # OSError for truncated or damaged files, with HDF5's wording
        text = " ".join(str(e).split())
        if "truncated" in text:
            raise DataError(f"{path}: truncated MATLAB v7.3 file ({text})") from None
        raise DataError(f"{path}: not a readable MATLAB v7.3 file ({text})") from None


def _mat73_shapes(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    with _open_h5(path) as f:
        try:
            out = {}
            for key in f:
                if key.startswith("#"):
                    continue
                obj = f[key]
                shape = tuple(obj.shape[::-1]) if hasattr(obj, "shape") else ()
                if _h5_attr(obj, "MATLAB_empty"):
                    shape = tuple(int(d) for d in np.asarray(obj[()]).ravel())
                out[key] = (shape, str(_h5_attr(obj, "MATLAB_class") or "struct"))
            return out
        except DataError:
            raise
        except Exception as e:
            raise DataError(f"{path}: not a readable MATLAB v7.3 file ({_one_line(e)})") from None


def _read_v73(path: Path, wanted: list[str], mmap: bool) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}
    with _open_h5(path) as f:
        try:
            for key in wanted:
                if key in f:
                    mapped = _h5_map(path, f[key]) if mmap and isinstance(f[key], h5py.Dataset) else None
                    out[key] = mapped if mapped is not None else _h5_value(f, f[key], f"{path}: field {key!r}")
        except DataError:
            raise
        except Exception as e:  # data or references past a cut, a damaged B-tree, ...
            raise DataError(f"{path}: not a readable MATLAB v7.3 file ({_one_line(e)})") from None
    return out


# --------------------------------------------------------------------------- public


def mat_fields(path: str | os.PathLike) -> dict[str, tuple[tuple[int, ...], str]]:
    """The variables of a ``.mat`` file with their MATLAB shape and class, without reading their data.

    Raises:
        DataError: the file is missing, unreadable, cut short or not a MATLAB file.
    """
    import scipy.io

    path = Path(path)
    head = _check_file(path)
    if _is_mat73(path, head):
        return _mat73_shapes(path)
    try:
        _v5_check_length(path, head)
        return {name: (tuple(shape), cls) for name, shape, cls in scipy.io.whosmat(str(path))}
    except DataError:
        raise
    except Exception as e:  # scipy raises several kinds for a damaged or foreign file
        raise _not_mat(path, head, e) from None


def read_mat(
    path: str | os.PathLike, fields: Sequence[str], optional: Sequence[str] = (), mmap: bool = False
) -> dict[str, Any]:
    """Read variables of a MATLAB ``.mat`` file, v5 / v7 (``scipy.io.loadmat``) or v7.3 (HDF5, ``h5py``).

    Both versions give the same values: numeric arrays in MATLAB's shape (a ``2048 × N`` matrix
    stays ``2048 × N``; a v7.3 array is a zero-copy transposed view of what HDF5 holds), cell
    arrays of strings as ``list[str]`` in MATLAB's column-major order, char arrays as ``str``.
    Only the variables asked for are read.

    Args:
        path: the ``.mat`` file.
        fields: variables that must be there.
        optional: variables read when present (absent ones are left out of the result).
        mmap: memory-map (copy-on-write) the numeric variables the file stores uncompressed:
            nothing is read until used and nothing is copied. MATLAB's own files are compressed
            (v7, and v7.3 by default): those variables are read as usual. See :func:`_v5_map`.

    Raises:
        DataError: the file is missing, unreadable, cut short or not a MATLAB file, or a field is
            missing (naming file and field).
    """
    path = Path(path)
    head = _check_file(path)
    wanted = list(dict.fromkeys([*fields, *optional]))
    if _is_mat73(path, head):
        out = _read_v73(path, wanted, mmap)
        available = list(_mat73_shapes(path)) if any(k not in out for k in fields) else []
    else:
        out = _read_v5(path, head, wanted, mmap)
        available = list(mat_fields(path)) if any(k not in out for k in fields) else []
    for key in fields:
        if key not in out:
            raise DataError(f"{path}: field {key!r} is missing (fields: {', '.join(available) or 'none'})")
    return out


# --------------------------------------------------------------------------- writing

_MAT_CLASSES = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.int8): "int8",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint64): "uint64",
}


def _mat73_header() -> bytes:
    # the 128-byte MAT-file header in the HDF5 user block: 116 bytes of text, 8 of subsystem
    # offset, version 0x0200 and the endian indicator, as MATLAB writes it
    stamp = datetime.now(UTC).strftime("%a %b %d %H:%M:%S %Y")
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {stamp} HDF5 schema 1.00 .".encode()
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def _write_h5_value(f: Any, parent: Any, name: str, value: Any, compress: bool) -> Any:
    """Write one value the way MATLAB lays it out in a v7.3 file; return the dataset."""
    import h5py

    def tag(ds: Any, cls: str) -> Any:
        ds.attrs.create("MATLAB_class", np.bytes_(cls))
        return ds

    if isinstance(value, str):
        codes = np.array([[ord(ch) for ch in value]], dtype=np.uint16)
        if codes.size == 0:
            ds = parent.create_dataset(name, data=np.array([0, 0], dtype=np.uint64))
            ds.attrs.create("MATLAB_empty", np.uint8(1))
            return tag(ds, "char")
        ds = tag(parent.create_dataset(name, data=codes.T), "char")
        ds.attrs.create("MATLAB_int_decode", np.int32(2))
        return ds
    if isinstance(value, (list, tuple)):
        # a cell column vector: references to the elements, which live in the "#refs#" group
        refs = f.require_group("#refs#")
        handles = []
        for item in value:
            key = f"r{len(refs)}"
            handles.append(_write_h5_value(f, refs, key, item, compress).ref)
        data = np.array([handles], dtype=h5py.ref_dtype)  # MATLAB C×1 is HDF5 1×C
        return tag(parent.create_dataset(name, data=data), "cell")
    arr = np.asarray(value)
    if arr.ndim < 2:
        arr = arr.reshape(-1, 1)  # MATLAB has no 1-D arrays: a vector is a column
    cls = "logical" if arr.dtype == bool else _MAT_CLASSES.get(arr.dtype)
    if cls is None:
        raise DataError(f"{name}: cannot write dtype {arr.dtype} to a .mat file")
    kwargs: dict[str, Any] = {"compression": "gzip", "compression_opts": 3} if compress and arr.size > 1 else {}
    ds = parent.create_dataset(name, data=arr.T.astype(np.uint8) if cls == "logical" else arr.T, **kwargs)
    if cls == "logical":
        ds.attrs.create("MATLAB_int_decode", np.int32(1))
    return tag(ds, cls)


def write_mat(
    path: str | os.PathLike,
    variables: dict[str, Any],
    version: Literal["5", "7.3"] = "7.3",
    compress: bool = False,
) -> Path:
    """Write numeric arrays, strings and lists of strings (cell columns) as a MATLAB ``.mat`` file.

    Version 5 goes through ``scipy.io.savemat``; version 7.3 (needed past 2 GiB a variable, e.g.
    ImageNet-sized features) is written as MATLAB does: HDF5 behind the 512-byte MAT header,
    every array transposed (MATLAB is column-major), a ``MATLAB_class`` attribute on each
    variable, strings as ``uint16`` char arrays, cells as object references into ``#refs#``.
    1-D arrays become column vectors, as MATLAB and ``scipy.io.savemat(oned_as="column")`` do.
    The file is written beside ``path`` and renamed into place: never left half-written.

    Args:
        path: the file to write.
        variables: name → numeric array, ``str`` or list of ``str``.
        version: ``"5"`` or ``"7.3"``.
        compress: deflate the data (MATLAB's default for v7 and v7.3).
    """
    import h5py
    import scipy.io

    path = Path(path)
    if version not in ("5", "7.3"):
        raise DataError(f"{path}: MAT-file version must be '5' or '7.3', got {version!r}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if version == "5":
            v5 = {
                k: np.array(v, dtype=object).reshape(-1, 1) if isinstance(v, (list, tuple)) else v
                for k, v in variables.items()
            }
            with tmp.open("wb") as f:
                scipy.io.savemat(f, v5, do_compression=compress, oned_as="column")
        else:
            with h5py.File(tmp, "w", userblock_size=512) as f:
                refs = f.create_group("#refs#")
                # MATLAB keeps a canonical empty array "a" in "#refs#"
                empty = refs.create_dataset("a", data=np.array([0, 0], dtype=np.uint64))
                empty.attrs.create("MATLAB_class", np.bytes_("canonical empty"))
                empty.attrs.create("MATLAB_empty", np.uint8(1))
                for name, value in variables.items():
                    _write_h5_value(f, f, name, value, compress)
            with tmp.open("r+b") as f:
                f.write(_mat73_header())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
