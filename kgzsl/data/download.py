"""Download the published benchmark files into the layout kgzsl's loaders read.

:func:`download` fetches one archive from the address its authors publish, resumes a partial
download, checks its sha256, and unpacks it so that the loaders find the files::

    <root>/AWA2/res101.mat, <root>/AWA2/att_splits.mat   xlsa17 loader, root=<root> (also AWA1, CUB, SUN, APY, FLO)
    <root>/ImageNet/Res101_Features/{ILSVRC2012_train,ILSVRC2012_val,ILSVRC2011}/<k>.mat
                                                         kzsl_imagenet loader, root=<root>/ImageNet/Res101_Features

The ImageNet layout is the one K-ZSL's README asks for (its Drive folder put in ``ImageNet/``);
the loader reads ``split.mat`` and the ImNet-A/O class lists from the shared data by default, so
only the feature folders are required here.

What is known about each source, and what is not:

* ``xlsa17.zip`` (AWA1, AWA2, CUB, SUN, APY): the direct address below is the one the GBU
  project page and many ZSL codes link to; the archive unpacks to ``xlsa17/data/<NAME>/``.
  **No checksum is published** and none could be checked from here (no internet), so its
  ``sha256`` is ``None``, as is its size.
* FLO (ResNet-101 features in the xlsa17 format) is not in ``xlsa17.zip``; it is published
  only as a Google Drive folder (tf-VAEGAN's README), which a plain HTTP client cannot fetch.
* ImNet-A / ImNet-O features are published only as a Google Drive folder (K-ZSL's
  ``Resources_for_KZSL`` README), likewise.

Checksums are never guessed. A source whose sha256 is unknown is refused unless the caller
pins one (``sha256=``, the CLI's ``--sha256``) or accepts the file unverified (``verify=False``,
``--no-verify``); the hash of what was fetched is then logged so that it can be pinned next
time. Folder-only sources (no direct
address) fail with one line saying where to get the files and where to put them, unless a
mirror is given (``mirror=`` or ``$KGZSL_MIRROR``: a plain HTTP folder serving each source's
``filename``, laid out as :attr:`Source.strip` says). Files placed by hand are found and used:
nothing is downloaded when a dataset's files already exist, and an archive already at
``<root>/<filename>`` is unpacked without going online.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import socket
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from kgzsl.errors import DataError
from kgzsl.utils import sha256_file

__all__ = ["Source", "Benchmark", "SOURCES", "BENCHMARKS", "download", "manual_instructions", "unpack"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
#: seconds to wait for a stalled read once connected (the reachability check itself is short)
_READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class Source:
    """One published archive.

    Attributes:
        filename: the archive's file name (also its name on a mirror and in ``<root>``).
        url: direct download address, or ``None`` where the authors publish only a web page
            or a Google Drive folder that a plain HTTP client cannot fetch.
        page: where a person finds the files (shown in error messages).
        sha256: the archive's hex sha256, or ``None`` when no checksum is published.
        size: the archive's size in bytes, or ``None`` when not known.
        strip: path prefix inside the archive that is dropped on unpacking (members outside
            it, such as a top-level README, are skipped).
    """

    filename: str
    url: str | None
    page: str
    sha256: str | None = None
    size: int | None = None
    strip: str = ""


@dataclass(frozen=True)
class Benchmark:
    """Where one benchmark's files come from and where they go.

    Attributes:
        source: key of its archive in the source table.
        loader_root: the folder under ``root`` that its loader takes as ``root`` (what
            :func:`download` returns; ``""`` for ``root`` itself).
        files: paths under ``root`` that must exist once it is in place (files or folders).
    """

    source: str
    loader_root: str
    files: tuple[str, ...]


_GBU_PAGE = (
    "https://www.mpi-inf.mpg.de/departments/computer-vision-and-machine-learning/research/"
    "zero-shot-learning/zero-shot-learning-the-good-the-bad-and-the-ugly"
)

#: the published archives (see the module docstring for what is verified)
SOURCES: dict[str, Source] = {
    "xlsa17": Source(
        filename="xlsa17.zip",
        url="http://datasets.d2.mpi-inf.mpg.de/xian/xlsa17.zip",
        page=_GBU_PAGE,
        sha256=None,  # not published anywhere we could find
        size=None,
        strip="xlsa17/data/",
    ),
    "flo": Source(
        # tf-VAEGAN's README (akshitac8/tfvaegan) shares CUB/AWA/FLO/SUN features as a Drive
        # folder; the mirror archive name is kgzsl's own convention (FLO/ at its top level).
        filename="FLO.zip",
        url=None,
        page="https://drive.google.com/drive/folders/16Xk1eFSWjQTtuQivTogMmvL3P6F_084u",
    ),
    "kzsl-imagenet": Source(
        # K-ZSL's README (China-UK-ZSL/Resources_for_KZSL, ZS-IMGC/ZSL_Dataset) shares the
        # ImageNet features and class splits as a Drive folder to be put in a folder
        # "ImageNet/"; the mirror archive name is kgzsl's own convention (ImageNet/ at its top).
        filename="kzsl_imagenet.zip",
        url=None,
        page="https://drive.google.com/drive/folders/1An6nLXRRvlKSCbJoKKlqTNDvgN7PyvvW",
    ),
}


def _xlsa(folder: str) -> tuple[str, ...]:
    return (f"{folder}/res101.mat", f"{folder}/att_splits.mat")


_IMNET = "ImageNet/Res101_Features"
_IMNET_FILES = tuple(f"{_IMNET}/{f}" for f in ("ILSVRC2012_train", "ILSVRC2012_val", "ILSVRC2011"))

#: benchmark name → where its files come from and where they go
BENCHMARKS: dict[str, Benchmark] = {
    "awa1": Benchmark("xlsa17", "", _xlsa("AWA1")),
    "awa2": Benchmark("xlsa17", "", _xlsa("AWA2")),
    "cub": Benchmark("xlsa17", "", _xlsa("CUB")),
    "sun": Benchmark("xlsa17", "", _xlsa("SUN")),
    "apy": Benchmark("xlsa17", "", _xlsa("APY")),
    "flo": Benchmark("flo", "", _xlsa("FLO")),
    # ImNet-A and ImNet-O are class subsets of the same per-class ImageNet features
    "imnet-a": Benchmark("kzsl-imagenet", _IMNET, _IMNET_FILES),
    "imnet-o": Benchmark("kzsl-imagenet", _IMNET, _IMNET_FILES),
}


def _benchmark(name: str) -> tuple[str, Benchmark]:
    key = str(name).strip().lower()
    if key not in BENCHMARKS:
        raise DataError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
    return key, BENCHMARKS[key]


def _expected_paths(bench: Benchmark, root: Path) -> list[Path]:
    return [root / f for f in bench.files]


def manual_instructions(name: str, root: str | os.PathLike, sources: Mapping[str, Source] | None = None) -> str:
    """One line saying where to get a benchmark's files by hand and where to put them."""
    _, bench = _benchmark(name)
    root = Path(root)
    source = (sources or SOURCES)[bench.source]
    where = source.url or source.page
    files = ", ".join(str(p) for p in _expected_paths(bench, root))
    archive = ""
    if source.url:
        # a hand-downloaded archive at this path is unpacked without going online
        archive = f" (or save the archive as {root / source.filename} and run again)"
    return f"download it by hand from {where} and place the files so that these exist: {files}{archive}"


def _mirror_url(mirror: str, source: Source) -> str:
    return f"{mirror.rstrip('/')}/{urllib.parse.quote(source.filename)}"


def _resolve(host: str, port: int, timeout: float) -> None:
    """``getaddrinfo`` with a time limit: a resolver with no network can hang for long."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            outcome.append(e)

    thread = threading.Thread(target=target, daemon=True)  # daemon: never blocks interpreter exit
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise TimeoutError(f"name lookup of {host} timed out after {timeout:g} s")
    if outcome[0] is not None:
        raise outcome[0]


def _check_reachable(url: str, timeout: float) -> None:
    """Fail fast (within about ``timeout`` seconds) when the server can't be reached.

    Raises:
        OSError: when the name can't be resolved or the connection is refused or times out.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    _resolve(host, port, timeout)
    socket.create_connection((host, port), timeout=timeout).close()


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(start, total)`` of a ``Content-Range`` header (``bytes 100-199/200`` or ``bytes */200``)."""
    m = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _open(url: str, offset: int) -> IO[bytes]:
    headers = {"User-Agent": "kgzsl", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_READ_TIMEOUT)


def _fetch(url: str, part: Path, *, progress: bool, label: str) -> None:
    """Stream ``url`` into ``part``, resuming from what ``part`` already holds.

    A server that answers a Range request with the whole file (200 instead of 206) makes the
    download start over; a 416 for a ``.part`` that already has every byte counts as done.
    """
    from kgzsl.context import progress_bar

    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            _, total = _content_range(e.headers.get("Content-Range"))
            if total == offset:
                return  # the previous run got every byte but stopped before renaming
            log.info("%s: server rejected resuming at byte %d; starting over", label, offset)
            part.unlink()
            return _fetch(url, part, progress=progress, label=label)
        raise DataError(f"{url}: HTTP {e.code} {e.reason}") from None
    with response:
        status = getattr(response, "status", 200)
        start, _ = _content_range(response.headers.get("Content-Range"))
        if offset and not (status == 206 and start == offset):
            log.info("%s: server ignored the Range request; starting over", label)
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        written = offset
        with (
            open(part, "ab" if offset else "wb") as f,
            progress_bar(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            try:
                while block := response.read(_CHUNK):
                    f.write(block)
                    written += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as e:  # reset, timeout, short read: keep it to resume
                raise DataError(
                    f"{url}: download interrupted after {written} bytes ({e}); run again to resume from {part}"
                ) from None
    if total is not None and written != total:
        raise DataError(f"{url}: download ended after {written} of {total} bytes; run again to resume from {part}")


def _safe_relative(name: str, strip: str) -> PurePosixPath | None:
    """The member's path under the destination, ``None`` to skip it; refuse escaping paths."""
    name = name.replace("\\", "/")
    if not name.startswith(strip):
        return None
    rel = PurePosixPath(name[len(strip) :])
    if not rel.parts:
        return None
    if rel.is_absolute() or ".." in rel.parts or re.match(r"^[A-Za-z]:", rel.parts[0]):
        raise DataError(f"archive member {name!r} would be written outside the destination; refusing to unpack")
    return rel


def _write_member(src: IO[bytes], target: Path) -> None:
    # write beside the target and rename, so that an interrupted unpack never leaves a
    # truncated file that looks finished (existing files are how "already done" is detected)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".unpacking")
    with open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)
    os.replace(tmp, target)


def unpack(archive: str | os.PathLike, dest: str | os.PathLike, strip: str = "") -> list[Path]:
    """Unpack a zip or tar archive into ``dest``, dropping the member prefix ``strip``.

    Only regular files and folders are unpacked (links and devices are skipped), and members
    that would land outside ``dest`` are refused.

    Returns:
        The files written.
    """
    archive, dest = Path(archive), Path(dest)
    written: list[Path] = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                rel = _safe_relative(info.filename, strip)
                if rel is None:
                    continue
                target = dest.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(info) as src:
                    _write_member(src, target)
                written.append(target)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf:
                rel = _safe_relative(member.name, strip)
                if rel is None:
                    continue
                target = dest.joinpath(*rel.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    src = tf.extractfile(member)
                    assert src is not None  # regular files always have data
                    with src:
                        _write_member(src, target)
                    written.append(target)
    else:
        raise DataError(f"{archive}: neither a zip nor a tar archive")
    return written


def download(
    name: str,
    root: str | os.PathLike,
    *,
    force: bool = False,
    progress: bool = True,
    verify: bool = True,
    sha256: str | None = None,
    keep_archive: bool = False,
    mirror: str | None = None,
    sources: Mapping[str, Source] | None = None,
    timeout: float = 3.0,
) -> Path:
    """Download and unpack one benchmark's published files under ``root``.

    Nothing is fetched when the benchmark's files already exist (unless ``force``), and an
    archive already at ``<root>/<filename>`` (say, downloaded by hand) is unpacked without
    going online. A download goes to ``<root>/<filename>.part``, resumes from it with an HTTP
    Range request when it exists, is checked against its sha256 and only then renamed to
    ``<root>/<filename>`` and unpacked.

    Args:
        name: one of :data:`BENCHMARKS` (``awa2``, ``cub``, ``sun``, ``apy``, ``flo``,
            ``imnet-a``, ``imnet-o``, ``awa1``), case-insensitive.
        root: data folder; the files end up under it as the module docstring shows.
        force: download and unpack again even if the files exist (a ``.part`` is discarded).
        progress: show a tqdm progress bar.
        verify: check the archive's sha256. A source without a published checksum is refused
            unless ``sha256`` pins one or ``verify=False`` (the hash is then logged). A pinned
            ``sha256`` is checked even with ``verify=False``.
        sha256: expected hex sha256, overriding the source table's.
        keep_archive: keep ``<root>/<filename>`` after unpacking (deleted by default: it
            duplicates the unpacked files).
        mirror: base URL serving each source's ``filename`` (default ``$KGZSL_MIRROR``);
            used instead of the published address, and the only way to fetch folder-only sources.
        sources: source table replacing :data:`SOURCES` (tests, private mirrors).
        timeout: seconds for the reachability check (name lookup, then connect) that makes an
            offline machine fail at once.

    Returns:
        The folder to pass as the loader's ``root``: ``root`` itself for the xlsa17-format
        benchmarks (``xlsa17`` dataset, ``name="AWA2"``...), ``root/ImageNet/Res101_Features``
        for ImNet-A/O (``kzsl_imagenet`` dataset).

    Raises:
        DataError: one line: unknown name, no network (with where to put the files by hand),
            unknown or mismatching checksum, HTTP error, interrupted download, bad archive.
    """
    key, bench = _benchmark(name)
    root = Path(root).expanduser()
    table = sources if sources is not None else SOURCES
    if bench.source not in table:
        raise DataError(f"{key}: source {bench.source!r} missing from the source table")
    source = table[bench.source]
    folder = root / bench.loader_root if bench.loader_root else root
    expected = _expected_paths(bench, root)
    if not force and all(p.exists() for p in expected):
        return folder

    how = manual_instructions(key, root, table)
    mirror = mirror if mirror is not None else os.environ.get("KGZSL_MIRROR") or None
    url = _mirror_url(mirror, source) if mirror else source.url
    archive = root / source.filename
    part = archive.with_name(archive.name + ".part")
    want = (sha256 or source.sha256 or "").lower() or None
    if verify and want is None and (url is not None or archive.exists()):
        # refuse before spending hours on a file nobody can vouch for
        raise DataError(
            f"{key}: {source.filename} has no published sha256 to verify it against; pin one you trust with "
            f"--sha256 HEX (Python: sha256='HEX'), or accept it unverified with --no-verify (Python: verify=False; "
            f"its sha256 is then logged)"
        )
    if force:
        archive.unlink(missing_ok=True)
        part.unlink(missing_ok=True)

    if not archive.exists():
        if url is None:
            raise DataError(
                f"{key}: {source.page} is a folder share that kgzsl cannot download; {how}; "
                f"or set KGZSL_MIRROR to a server holding {source.filename}"
            )
        try:
            _check_reachable(url, timeout)
        except OSError as e:  # gaierror, refused, timeouts are all OSErrors
            host = urllib.parse.urlsplit(url).netloc
            raise DataError(f"{key}: cannot reach {host} ({e.__class__.__name__}: {e}); {how}") from None
        root.mkdir(parents=True, exist_ok=True)
        try:
            _fetch(url, part, progress=progress, label=source.filename)
        except OSError as e:  # URLError, timeouts: the connection was lost after the check
            raise DataError(f"{key}: cannot download {url} ({getattr(e, 'reason', e)}); {how}") from None
        if source.size is not None and part.stat().st_size != source.size:
            size = part.stat().st_size
            part.unlink()
            raise DataError(f"{key}: {url} gave {size} bytes, expected {source.size}; deleted it, run again")
        fetched = part
    else:
        fetched = archive

    if verify or want:
        actual = sha256_file(fetched)
        if want is not None and actual != want:
            if fetched is part:
                # a corrupt .part can't be resumed into a good file: delete it so the next run starts clean
                part.unlink()
                fate = f"deleted {part}, run again to download it afresh"
            else:  # the user's own file: theirs to remove
                fate = f"remove or replace {archive}"
            raise DataError(f"{key}: sha256 mismatch for {source.filename}: expected {want}, got {actual}; {fate}")
    else:
        log.warning("%s: %s accepted unverified; its sha256 is %s", key, source.filename, sha256_file(fetched))
    if fetched is part:
        os.replace(part, archive)  # atomic: a final name always means a complete, checked file

    unpack(archive, root, source.strip)
    missing = [str(p) for p in expected if not p.exists()]
    if missing:
        raise DataError(f"{key}: {archive} did not contain {', '.join(missing)}; {how}")
    if not keep_archive:
        archive.unlink()
    return folder
