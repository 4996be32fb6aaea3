"""The one MATLAB reader (:mod:`kgzsl.matlab`): v5 and v7.3 give the same values, and a corpus of
damaged files (cut short anywhere, text, other formats, folders, unreadable) gives one line
naming the file, from every entry point and every layer that reads ``.mat`` files."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from kgzsl.errors import DataError
from kgzsl.matlab import mat_fields, read_mat, write_mat

VALUES = {
    "features": np.arange(40, dtype=np.float32).reshape(4, 10),
    "labels": np.arange(1, 11.0),
    "names": ["killer+whale", "ox"],
}


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_mat_round_trip(tmp_path, version):
    values = {
        "features": np.arange(12, dtype=np.float32).reshape(3, 4),
        "loc": np.array([3, 1, 2], dtype=np.uint16),
        "names": ["killer+whale", "ox", ""],
        "title": "AwA2",
    }
    path = write_mat(tmp_path / "x.mat", values, version=version)
    out = read_mat(path, ["features", "loc", "names", "title"], optional=["absent"])
    assert set(out) == {"features", "loc", "names", "title"}
    np.testing.assert_array_equal(out["features"], values["features"])
    assert out["features"].dtype == np.float32
    np.testing.assert_array_equal(out["loc"], [[3], [1], [2]])  # a vector is a MATLAB column
    assert out["names"] == values["names"] and out["title"] == "AwA2"
    fields = mat_fields(path)
    assert fields["features"] == ((3, 4), "single") and fields["loc"][0] == (3, 1) and fields["names"][1] == "cell"


def test_mat73_layout_is_matlabs(tmp_path):
    path = write_mat(tmp_path / "x.mat", {"m": np.ones((2, 5)), "c": ["ab", "c"], "b": np.array([True, False])})
    head = path.read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file") and head[-4:] == b"\x00\x02IM"
    with h5py.File(path) as f:
        assert f["m"].shape == (5, 2) and f["m"].attrs["MATLAB_class"] == b"double"
        assert f["c"].shape == (1, 2) and f["c"].attrs["MATLAB_class"] == b"cell"
        first = f[f["c"][0, 0]]
        assert first.attrs["MATLAB_class"] == b"char" and first[()].ravel().tolist() == [ord("a"), ord("b")]
        assert f["b"].attrs["MATLAB_class"] == b"logical" and f["#refs#/a"].attrs["MATLAB_empty"] == 1
    assert read_mat(path, ["b"])["b"].ravel().tolist() == [True, False]


def test_mat_errors(tmp_path):
    with pytest.raises(DataError, match=r"nope.mat: no such file"):
        read_mat(tmp_path / "nope.mat", ["x"])
    for version in ("5", "7.3"):
        path = write_mat(tmp_path / f"v{version}.mat", {"att": np.ones((2, 2)), "labels": np.ones(3)}, version=version)
        with pytest.raises(DataError, match=rf"v{version}.mat: field 'features' is missing \(fields: att, labels\)"):
            read_mat(path, ["features", "att"])
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = np.ones(3)
    with pytest.raises(DataError, match=r"plain.h5: an HDF5 file without MATLAB's v7.3 header"):
        read_mat(tmp_path / "plain.h5", ["x"])
    (tmp_path / "junk.mat").write_bytes(b"\x00" * 300)
    with pytest.raises(DataError, match=r"junk.mat: not a readable MATLAB file"):
        read_mat(tmp_path / "junk.mat", ["x"])


def _one_line_naming(error: pytest.ExceptionInfo, path: Path) -> None:
    text = str(error.value)
    assert "\n" not in text and text.startswith(f"{path}:"), text


def _corpus(tmp_path: Path) -> list[Path]:
    """Damaged and foreign files that a user might pass as a ``.mat``."""
    out = []
    for version in ("5", "7.3"):
        for compress in (False, True):
            whole = write_mat(tmp_path / f"whole-{version}-{compress}.mat", VALUES, version=version, compress=compress)
            data = whole.read_bytes()
            # (a v5 file cut at byte 128 is a whole, empty MAT-file: header and no variables)
            cuts = {1, 20, 100, 127, 135, 300, 513, len(data) // 2, len(data) - 8, len(data) - 1}
            for cut in sorted(c for c in cuts if c < len(data)):
                path = tmp_path / f"cut{cut}-{version}-{compress}.mat"
                path.write_bytes(data[:cut])
                out.append(path)
    texts = {
        "text.mat": "hello\nthis is not MATLAB\n" * 20,
        "csv.mat": "class,a1,a2\nzebra,1,0\n",
        "json.mat": json.dumps({"att": [[1, 2]]}),
        "header-only-text.mat": "MATLAB 5.0 MAT-file, written by hand" + " " * 200,
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        out.append(tmp_path / name)
    binaries = {
        "empty.mat": b"",
        "zeros.mat": b"\x00" * 4096,
        "random.mat": np.random.default_rng(0).bytes(4096),
        "npy.mat": b"\x93NUMPY\x01\x00" + b"\x00" * 200,
        "zip.mat": b"PK\x03\x04" + b"\x00" * 200,
    }
    for name, data in binaries.items():
        (tmp_path / name).write_bytes(data)
        out.append(tmp_path / name)
    with h5py.File(tmp_path / "plain-hdf5.mat", "w") as f:
        f["features"] = np.ones((3, 2))
    out.append(tmp_path / "plain-hdf5.mat")
    (tmp_path / "folder.mat").mkdir()
    out.append(tmp_path / "folder.mat")
    return out


def test_damaged_files_give_one_line_naming_the_file(tmp_path: Path):
    corpus = _corpus(tmp_path)
    assert len(corpus) > 40
    for path in corpus:
        for read in (
            lambda p: mat_fields(p),
            lambda p: read_mat(p, ["features"]),
            lambda p: read_mat(p, ["features", "labels", "names"], mmap=True),
        ):
            with pytest.raises(DataError) as error:
                read(path)
            _one_line_naming(error, path)


def test_a_cut_past_the_variables_asked_for_is_still_caught(tmp_path: Path):
    # scipy reads only the variables asked for: a file cut in the last one must not pass as whole
    whole = write_mat(tmp_path / "whole.mat", VALUES, version="5")
    cut = tmp_path / "cut.mat"
    cut.write_bytes(whole.read_bytes()[:-10])
    np.testing.assert_array_equal(read_mat(whole, ["features"])["features"], VALUES["features"])
    with pytest.raises(DataError, match=r"cut.mat: truncated MATLAB file \(variable 3 needs"):
        read_mat(cut, ["features"])
    with pytest.raises(DataError, match=r"cut.mat: truncated MATLAB file"):
        read_mat(cut, ["features"], mmap=True)
    v73 = write_mat(tmp_path / "whole73.mat", VALUES)
    (tmp_path / "cut73.mat").write_bytes(v73.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"cut73.mat: truncated MATLAB v7.3 file"):
        read_mat(tmp_path / "cut73.mat", ["features"])


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("text.mat", b"not matlab\n" * 30, "not a readable MATLAB file (it holds text"),
        ("empty.mat", b"", "not a readable MATLAB file (the file is empty)"),
    ],
)
def test_text_and_empty_files_say_what_they_are(tmp_path: Path, name, content, expected):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as error:
        read_mat(tmp_path / name, ["att"])
    assert str(error.value) == f"{tmp_path / name}: {expected}" or expected in str(error.value)


def test_unreadable_files_are_reported_not_raised(tmp_path: Path, monkeypatch):
    # tests may run as root, for whom chmod 000 changes nothing: make the open itself fail
    path = write_mat(tmp_path / "locked.mat", VALUES, version="5")
    real_open = pathlib.Path.open

    def open_(self, *args, **kwargs):
        if self.name == "locked.mat":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", open_)
    for read in (lambda: mat_fields(path), lambda: read_mat(path, ["features"])):
        with pytest.raises(DataError, match=r"locked.mat: permission denied"):
            read()


def test_knowledge_and_semantics_layers_read_mat_files_through_it(tmp_path: Path):
    """The class-attribute format of the knowledge layer and ``precomputed`` embeddings give the
    same one-line errors (they read through :func:`kgzsl.matlab.read_mat`)."""
    from kgzsl.knowledge.store import KnowledgeGraph
    from kgzsl.registry import SEMANTICS
    from kgzsl.testing import toy_dataset

    cut = tmp_path / "att_splits.mat"
    whole = write_mat(tmp_path / "whole.mat", {"original_att": np.ones((3, 2)), "allclasses_names": ["a", "b"]}, "5")
    cut.write_bytes(whole.read_bytes()[:-12])
    with pytest.raises(DataError) as error:
        KnowledgeGraph().load(cut)
    _one_line_naming(error, cut)
    assert "truncated MATLAB file" in str(error.value)
    encoder = SEMANTICS.build("precomputed", path=str(cut), key="original_att", assume_dataset_order=True)
    with pytest.raises(DataError) as error:
        encoder.encode(None, toy_dataset())
    _one_line_naming(error, cut)


def test_v73_cells_without_a_matlab_class_are_cells(tmp_path: Path):
    # files written by hand with h5py may leave out MATLAB_class on a cell: references make it one
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        cells = np.empty((1, 2), dtype=h5py.ref_dtype)
        for i, name in enumerate(["cat", "whale"]):
            chars = refs.create_dataset(f"c{i}", data=np.array([[ord(c)] for c in name], dtype=np.uint16))
            chars.attrs["MATLAB_class"] = np.bytes_("char")
            cells[0, i] = chars.ref
        f.create_dataset("names", data=cells, dtype=h5py.ref_dtype)
    with path.open("r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file".ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM")
    assert read_mat(path, ["names"])["names"] == ["cat", "whale"]


def test_write_mat_leaves_nothing_half_written(tmp_path: Path):
    path = write_mat(tmp_path / "ok.mat", VALUES, version="5")
    before = path.read_bytes()
    with pytest.raises(DataError, match="cannot write dtype"):
        write_mat(path, VALUES | {"bad": np.array(["2020-01-01"], dtype="datetime64[s]")}, version="7.3")
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["ok.mat"]


_FLIP_READER = """
import sys
from kgzsl.errors import DataError
from kgzsl.matlab import mat_fields, read_mat
for path in sys.argv[1:]:
    try:
        mat_fields(path)
        read_mat(path, ["features", "labels", "names"])
        read_mat(path, ["features"], mmap=True)
    except DataError as e:
        assert "\\n" not in str(e) and str(e).startswith(path), str(e)
"""


def test_flipped_bytes_never_crash_the_reader(tmp_path: Path):
    """scipy's compiled v5 reader trusts the sizes inside a variable: flipped bytes there crashed
    the process (about 2% of such files: a segmentation fault, no error at all). The reader checks
    the sizes first; the files are read in a child process so that a crash fails this test."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    paths = []
    for compress in (False, True):
        data = write_mat(tmp_path / f"whole-{compress}.mat", VALUES, version="5", compress=compress).read_bytes()
        for k in range(200):
            damaged = bytearray(data)
            for _ in range(rng.integers(1, 6)):
                damaged[rng.integers(128, len(damaged))] = rng.integers(0, 256)
            path = tmp_path / f"flip{k}-{compress}.mat"
            path.write_bytes(bytes(damaged))
            paths.append(str(path))
    done = subprocess.run([sys.executable, "-c", _FLIP_READER, *paths], capture_output=True, text=True)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])


def test_sizes_that_disagree_are_reported(tmp_path: Path):
    data = bytearray(write_mat(tmp_path / "whole.mat", VALUES, version="5").read_bytes())
    # the first variable's dimensions (4 × 10) say 40 values; make them say 4 × 11
    at = data.index(np.array([4, 10], dtype="<i4").tobytes())
    data[at + 4] = 11
    (tmp_path / "dims.mat").write_bytes(bytes(data))
    with pytest.raises(
        DataError, match=r"dims.mat: damaged MATLAB file \(variable 1: real part: 160 bytes of data for 44"
    ):
        read_mat(tmp_path / "dims.mat", ["labels"])


@pytest.mark.parametrize("compress", [False, True])
def test_the_size_checks_accept_every_kind_of_v5_variable(tmp_path: Path, compress):
    """Structs, sparse, complex, logical and char matrices, as scipy (and MATLAB) write them, pass."""
    import scipy.io
    import scipy.sparse

    values = {
        "features": np.random.default_rng(0).random((4, 10)),
        "labels": np.arange(1, 11, dtype=np.uint16),
        "names": np.array(["cat", "whale", ""], dtype=object).reshape(-1, 1),
        "s": {"a": np.ones(3), "b": "text"},
        "sp": scipy.sparse.csc_matrix(np.eye(4)),
        "ch": np.array(["ab", "cd"]),
        "lg": np.array([True, False]),
        "cx": np.array([1 + 2j, 3j]),
        "empty": np.zeros((0, 3)),
    }
    path = tmp_path / "all.mat"
    scipy.io.savemat(path, values, do_compression=compress)
    out = read_mat(path, list(values))
    assert out["names"] == ["cat", "whale", ""] and out["ch"] == ["ab", "cd"]
    np.testing.assert_array_equal(out["sp"].toarray(), np.eye(4))
    np.testing.assert_array_equal(out["cx"].ravel(), values["cx"])
    assert set(mat_fields(path)) == set(values)
