"""``kgzsl.data.download`` against a local HTTP server on 127.0.0.1 (no internet is used)."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import socket
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from kgzsl.data.download import BENCHMARKS, SOURCES, Source, download, unpack
from kgzsl.errors import DataError

# ----------------------------------------------------------------------------- local server


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range`` only when ``server.honour_range``;
    sends only ``server.truncate_at`` bytes (then closes) when that is set."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start, status = 0, 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and server.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.truncate_at is not None:
            self.wfile.write(body[: server.truncate_at])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.honour_range, httpd.truncate_at = {}, [], True, None
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- test archive

_MEMBERS = {
    # random (incompressible) bytes so that the archive spans several read chunks
    "xlsa17/data/AWA2/res101.mat": np.random.default_rng(0).bytes(600_000),
    "xlsa17/data/AWA2/att_splits.mat": b"att-splits-awa2",
    "xlsa17/data/CUB/res101.mat": b"res101-cub",
    "xlsa17/data/CUB/att_splits.mat": b"att-splits-cub",
    "xlsa17/README.txt": b"outside the stripped prefix: skipped",
}


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


ARCHIVE = _zip_bytes(_MEMBERS)
SHA = hashlib.sha256(ARCHIVE).hexdigest()


def _sources(url: str, sha256: str | None = SHA) -> dict[str, Source]:
    return {**SOURCES, "xlsa17": Source("xlsa17.zip", url, page="test page", sha256=sha256, strip="xlsa17/data/")}


@pytest.fixture
def served(server):
    server.files["/xlsa17.zip"] = ARCHIVE
    return server, _sources(server.base + "/xlsa17.zip")


def _assert_unpacked(root: Path) -> None:
    for name, data in _MEMBERS.items():
        if name.startswith("xlsa17/data/"):
            assert (root / name.removeprefix("xlsa17/data/")).read_bytes() == data
    assert not (root / "README.txt").exists() and not (root / "xlsa17").exists()
    assert not list(root.rglob("*.part")) and not list(root.rglob("*.unpacking"))


# ----------------------------------------------------------------------------- tests


def test_full_download_checks_and_unpacks_into_the_loader_layout(served, tmp_path):
    server, sources = served
    folder = download("AWA2", tmp_path, sources=sources, progress=False)
    assert folder == tmp_path  # the xlsa17 loader's root
    _assert_unpacked(tmp_path)  # the whole archive: CUB is in place too
    assert not (tmp_path / "xlsa17.zip").exists()  # deleted once unpacked
    assert server.requests == [("/xlsa17.zip", None)]
    # files in place: nothing is fetched again, for this benchmark or another from the same archive
    assert download("awa2", tmp_path, sources=sources, progress=False) == folder
    assert download("cub", tmp_path, sources=sources, progress=False) == tmp_path
    assert len(server.requests) == 1


def test_force_and_keep_archive(served, tmp_path):
    server, sources = served
    download("awa2", tmp_path, sources=sources, progress=False, keep_archive=True)
    assert (tmp_path / "xlsa17.zip").read_bytes() == ARCHIVE
    (tmp_path / "AWA2" / "att_splits.mat").write_bytes(b"edited")
    download("awa2", tmp_path, sources=sources, progress=False, force=True)
    assert (tmp_path / "AWA2" / "att_splits.mat").read_bytes() == b"att-splits-awa2"
    assert len(server.requests) == 2


def test_resume_with_range(served, tmp_path):
    server, sources = served
    (tmp_path / "xlsa17.zip.part").write_bytes(ARCHIVE[:123_457])
    download("awa2", tmp_path, sources=sources, progress=False)
    assert server.requests == [("/xlsa17.zip", "bytes=123457-")]
    _assert_unpacked(tmp_path)


def test_resume_restarts_when_the_server_ignores_range(served, tmp_path):
    server, sources = served
    server.honour_range = False
    # a wrong prefix: only a full restart (not an append) gives the right checksum
    (tmp_path / "xlsa17.zip.part").write_bytes(b"x" * 5000)
    download("awa2", tmp_path, sources=sources, progress=False)
    assert server.requests == [("/xlsa17.zip", "bytes=5000-")]
    _assert_unpacked(tmp_path)


def test_complete_part_is_finished_without_refetching(served, tmp_path):
    server, sources = served
    (tmp_path / "xlsa17.zip.part").write_bytes(ARCHIVE)  # a run that stopped before the rename
    download("awa2", tmp_path, sources=sources, progress=False)
    assert server.requests == [("/xlsa17.zip", f"bytes={len(ARCHIVE)}-")]  # answered 416
    _assert_unpacked(tmp_path)


def test_interrupted_download_keeps_the_part_and_resumes(served, tmp_path):
    server, sources = served
    server.truncate_at = 200_000
    with pytest.raises(DataError, match="run again to resume") as err:
        download("awa2", tmp_path, sources=sources, progress=False)
    assert "\n" not in str(err.value)
    assert (tmp_path / "xlsa17.zip.part").stat().st_size == 200_000
    server.truncate_at = None
    download("awa2", tmp_path, sources=sources, progress=False)
    assert server.requests[-1] == ("/xlsa17.zip", "bytes=200000-")
    _assert_unpacked(tmp_path)


def test_checksum_mismatch_is_one_clear_error_and_leaves_no_file(served, tmp_path):
    server, _ = served
    wrong = "0" * 64
    sources = _sources(server.base + "/xlsa17.zip", sha256=wrong)
    with pytest.raises(DataError) as err:
        download("awa2", tmp_path, sources=sources, progress=False)
    message = str(err.value)
    assert "sha256 mismatch" in message and f"expected {wrong}" in message and f"got {SHA}" in message
    assert "\n" not in message
    assert not (tmp_path / "xlsa17.zip").exists() and not (tmp_path / "xlsa17.zip.part").exists()
    assert not (tmp_path / "AWA2").exists()


def test_unknown_checksum_is_refused_unless_pinned_or_verify_false(served, tmp_path, caplog):
    server, _ = served
    sources = _sources(server.base + "/xlsa17.zip", sha256=None)
    with pytest.raises(DataError, match=r"no published sha256.*--sha256 HEX.*--no-verify \(Python: verify=False"):
        download("awa2", tmp_path, sources=sources, progress=False)
    assert server.requests == []  # refused before downloading anything
    with pytest.raises(DataError, match="sha256 mismatch"):
        download("awa2", tmp_path, sources=sources, progress=False, sha256="f" * 64)
    with caplog.at_level(logging.WARNING, logger="kgzsl.data.download"):
        download("awa2", tmp_path, sources=sources, progress=False, verify=False)
    assert SHA in caplog.text and "unverified" in caplog.text  # logged, so that it can be pinned
    _assert_unpacked(tmp_path)


@pytest.mark.parametrize("host", ["closed-port", "kgzsl-offline-test.invalid"])
def test_offline_fails_fast_with_manual_placement(tmp_path, host):
    netloc = f"127.0.0.1:{_closed_port()}" if host == "closed-port" else host
    url = f"http://{netloc}/xlsa17.zip"
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        download("awa2", tmp_path, sources=_sources(url), progress=False)
    assert time.perf_counter() - start < 6
    message = str(err.value)
    assert "\n" not in message and "cannot reach" in message and url in message
    for path in (tmp_path / "AWA2" / "res101.mat", tmp_path / "AWA2" / "att_splits.mat", tmp_path / "xlsa17.zip"):
        assert str(path) in message
    assert not (tmp_path / "xlsa17.zip.part").exists()


def test_archive_placed_by_hand_is_used_offline(tmp_path):
    (tmp_path / "xlsa17.zip").write_bytes(ARCHIVE)
    sources = _sources(f"http://127.0.0.1:{_closed_port()}/xlsa17.zip")
    assert download("awa2", tmp_path, sources=sources, progress=False) == tmp_path
    _assert_unpacked(tmp_path)


def test_files_placed_by_hand_need_no_network(tmp_path):
    for name in ("res101.mat", "att_splits.mat"):
        (tmp_path / "CUB").mkdir(exist_ok=True)
        (tmp_path / "CUB" / name).write_bytes(b"x")
    sources = _sources("http://kgzsl-never-contacted.invalid/xlsa17.zip")
    assert download("cub", tmp_path, sources=sources, progress=False) == tmp_path


def test_unknown_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(DataError, match=r"unknown benchmark 'awa3'; valid: awa1, awa2, cub, sun, apy, flo, imnet-a"):
        download("awa3", tmp_path)


@pytest.mark.parametrize("name", ["flo", "imnet-a", "imnet-o"])
def test_folder_shares_need_a_mirror_or_hands(tmp_path, name, monkeypatch):
    monkeypatch.delenv("KGZSL_MIRROR", raising=False)
    with pytest.raises(DataError) as err:
        download(name, tmp_path, progress=False)
    message = str(err.value)
    assert "\n" not in message and "drive.google.com" in message and "KGZSL_MIRROR" in message
    assert all(str(tmp_path / f) in message for f in BENCHMARKS[name].files)


@pytest.mark.parametrize(
    ("name", "filename", "members", "loader_root"),
    [
        ("flo", "FLO.zip", {"FLO/res101.mat": b"f", "FLO/att_splits.mat": b"s"}, ""),
        (
            "imnet-a",
            "kzsl_imagenet.zip",
            {f"ImageNet/Res101_Features/{d}/1.mat": b"f" for d in ("ILSVRC2012_train", "ILSVRC2012_val", "ILSVRC2011")},
            "ImageNet/Res101_Features",
        ),
    ],
)
def test_mirror_serves_folder_only_sources(server, tmp_path, monkeypatch, name, filename, members, loader_root):
    data = _zip_bytes(members)
    server.files[f"/{filename}"] = data
    monkeypatch.setenv("KGZSL_MIRROR", server.base + "/")
    folder = download(name, tmp_path, progress=False, sha256=hashlib.sha256(data).hexdigest())
    assert folder == tmp_path / loader_root
    assert all((tmp_path / m).read_bytes() == d for m, d in members.items())
    assert server.requests == [(f"/{filename}", None)]


def test_http_error_is_one_line(server, tmp_path):
    with pytest.raises(DataError, match=r"HTTP 404"):
        download("awa2", tmp_path, sources=_sources(server.base + "/missing.zip"), progress=False)


def test_unpack_tar_and_refuse_escaping_members(tmp_path):
    tar_path = tmp_path / "a.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tf:
        for name, data in {"pkg/ImageNet/split.mat": b"s", "pkg/ImageNet/ImNet_A/seen.txt": b"n1"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("pkg/ImageNet/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    written = unpack(tar_path, tmp_path / "out", strip="pkg/")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "ImageNet/ImNet_A/seen.txt",
        "ImageNet/split.mat",
    ]
    assert not (tmp_path / "out" / "ImageNet" / "link").exists()  # links are skipped
    evil = tmp_path / "evil.zip"
    evil.write_bytes(_zip_bytes({"../escape.txt": b"no"}))
    with pytest.raises(DataError, match="outside the destination"):
        unpack(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    (tmp_path / "plain.txt").write_text("not an archive")
    with pytest.raises(DataError, match="neither a zip nor a tar"):
        unpack(tmp_path / "plain.txt", tmp_path / "out")


def test_source_table_is_honest():
    assert SOURCES["xlsa17"].url == "http://datasets.d2.mpi-inf.mpg.de/xian/xlsa17.zip"
    for key, source in SOURCES.items():
        # a checksum is either unknown or a real 64-hex sha256; never a placeholder
        assert source.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", source.sha256), key
    assert {b.source for b in BENCHMARKS.values()} <= set(SOURCES)
    assert {"awa2", "cub", "sun", "apy", "flo", "imnet-a", "imnet-o"} <= set(BENCHMARKS)
