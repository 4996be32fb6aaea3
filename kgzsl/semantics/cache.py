"""An on-disk cache of class embeddings that cannot go stale: keyed by everything they were computed from.

The key (:func:`cache_key`) hashes

* the encoder: its class (module and name), registered name and parameters, and the content
  of files its parameters name (word vectors, checkpoints, documents);
* the code that computes the embeddings (:func:`code_fingerprint`): the kgzsl version, the
  source of the encoder's module and of every module it imports, transitively, inside kgzsl
  and the user's own code (imports inside functions count: kgzsl imports lazily), and the
  installed versions of the libraries those modules import (torch, torch_geometric,
  sentence-transformers ...). Editing the encoder, or any kgzsl module it calls through an
  import, recomputes; editing an unrelated module (the pipeline, a method) does not;
* the run: for encoders with a ``seed`` parameter, the seed they use (their own, else the run
  context's); for encoders with a ``device`` parameter, the device type they run on (``cpu``,
  ``cuda``: results differ in the last bits between devices). Encoders without them are
  deterministic functions of their inputs and are shared across seeds and devices;
* the inputs: the knowledge graph's content (its triples, so a changed file or semantic
  setting recomputes), the dataset's class ids and the dataset semantics the encoder may
  read. Encoders never read the images (what trains on images is a method), so the features
  are not part of the key.

Why a closure over imports rather than the git revision: it works the same for an installed
package (no git) and a source checkout with uncommitted edits, and it does not invalidate
every entry when an unrelated file changes. What it cannot see: code reached without an import
statement (a registry lookup by name); such code is covered by the kgzsl version only. An
encoder whose source cannot be read (a class typed into an interactive session that keeps no
source) is never cached: it is computed each time rather than risk a stale entry.

An unchanged input loads in milliseconds; KG embeddings and text encoders take minutes to
compute. ``kgzsl cache info`` / ``kgzsl cache clear`` (:mod:`kgzsl.semantics.cli`) show and
empty the cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import io
import json
import os
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import kgzsl
from kgzsl.context import current_context
from kgzsl.semantics.base import ClassEmbeddings
from kgzsl.utils import atomic_write_bytes, sha256_file

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph
    from kgzsl.semantics.base import SemanticEncoder

__all__ = [
    "default_cache_dir",
    "code_modules",
    "code_fingerprint",
    "cache_key",
    "encode_cached",
    "CacheInfo",
    "cache_info",
    "cache_clear",
]

#: the sub-folder of the cache folder holding class embeddings
SUBFOLDER = "semantics"


def default_cache_dir() -> Path:
    """``$KGZSL_CACHE`` or ``~/.cache/kgzsl``."""
    return Path(os.environ.get("KGZSL_CACHE") or Path.home() / ".cache" / "kgzsl")


# --- the code fingerprint ----------------------------------------------------------------


@functools.cache
def _library_roots() -> tuple[str, ...]:
    """Folders of the standard library and installed packages (code there is versioned, not hashed)."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(sorted(str(Path(r).resolve()) + os.sep for r in roots))


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _library_version(top: str) -> str | None:
    """``"dist==version"`` of the installed distribution providing the top-level module ``top``."""
    for dist in _distributions().get(top, []):
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _find_source(name: str) -> Path | None:
    """The ``.py`` file of module ``name`` (a package's ``__init__.py``), found without importing it."""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None) if module is not None else None
    if file and file.endswith(".py"):
        return Path(file)
    top, *rest = name.split(".")
    if top == "kgzsl":
        base = [Path(kgzsl.__file__).parent]
    else:
        try:
            spec = importlib.machinery.PathFinder.find_spec(top)
        except (ImportError, ValueError):
            return None
        if spec is None or spec.origin is None:
            return None
        if not rest:
            return Path(spec.origin) if spec.origin.endswith(".py") else None
        base = [Path(p) for p in (spec.submodule_search_locations or [])]
    for folder in base:
        path = folder.joinpath(*rest)
        for candidate in (path.with_name(path.name + ".py"), path / "__init__.py"):
            if rest and candidate.is_file():
                return candidate
        if not rest and (folder / "__init__.py").is_file():
            return folder / "__init__.py"
    return None


def _is_own_code(name: str, path: Path | None) -> bool:
    """kgzsl's modules, and the user's (a file outside the standard library and site-packages)."""
    if name == "kgzsl" or name.startswith("kgzsl."):
        return True
    if path is None:
        return False
    return not str(path.resolve()).startswith(_library_roots())


#: parsed files: (path, mtime_ns, size) → (sha256, imported module names)
_PARSED: dict[tuple[str, int, int], tuple[str, frozenset[str]]] = {}


def _parse(path: Path, name: str) -> tuple[str, frozenset[str]]:
    """The sha256 of a module's source and every module name it imports (anywhere in the file)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _PARSED:
        return _PARSED[key]
    data = path.read_bytes()
    names: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    try:
        tree = ast.parse(data)
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base:
                names.add(base)
                # `from package import module` imports a module too
                names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    result = (hashlib.sha256(data).hexdigest(), frozenset(names))
    _PARSED[key] = result
    return result


def _class_modules(cls: type) -> list[str]:
    return sorted({c.__module__ for c in inspect.getmro(cls) if c.__module__ not in ("builtins",)})


def code_modules(encoder: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The code an encoder's embeddings depend on.

    Starting from the modules of the encoder's class and its bases, every imported module of
    kgzsl or of the user's own code is followed (its own imports too); modules of the
    standard library are left out and those of installed libraries are recorded by version.

    Returns:
        ``({module: sha256 of its source}, {top-level library: "dist==version"})``; a module
        without a source file (an interactive session's ``__main__``) gets the sha256 of its
        classes' source as IPython keeps it, or ``""`` when there is none.
    """
    cls = encoder if isinstance(encoder, type) else type(encoder)
    sources: dict[str, str] = {}
    libraries: dict[str, str] = {}
    roots = _class_modules(cls)
    todo = list(roots)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "__future__":
            continue
        path = _find_source(name)
        if not (name == "__main__" or _is_own_code(name, path)):
            version = _library_version(top)
            if version is not None:
                libraries[top] = version
            continue
        if path is None:
            # a class's module without a file (an interactive session); else a name imported
            # from a module (`from kgzsl.x import function`), which is not a module itself
            if name in roots:
                sources[name] = _interactive_source(cls, name)
            continue
        digest, imports = _parse(path, name)
        sources[name] = digest
        # a submodule's import runs its packages' __init__ first
        parents = [name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)]
        todo.extend(sorted((set(imports) | set(parents)) - seen))
    return dict(sorted(sources.items())), dict(sorted(libraries.items()))


def _interactive_source(cls: type, module: str) -> str:
    """sha256 of the source of the classes of ``cls``'s hierarchy defined in ``module`` ("" if unreadable)."""
    h = hashlib.sha256()
    for c in inspect.getmro(cls):
        if c.__module__ == module:
            try:
                h.update(inspect.getsource(c).encode())
            except (OSError, TypeError):
                return ""
    return h.hexdigest()


def code_fingerprint(encoder: Any) -> str | None:
    """sha256 of the kgzsl version, the sources of :func:`code_modules` and the library versions;
    ``None`` when some of the encoder's code has no readable source (it must not be cached)."""
    sources, libraries = code_modules(encoder)
    if any(digest == "" for digest in sources.values()):
        return None
    payload = {"kgzsl": kgzsl.__version__, "sources": sources, "libraries": libraries}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --- the key -------------------------------------------------------------------------------


def _run_settings(encoder: SemanticEncoder, context: RunContext | None) -> dict[str, Any]:
    """The seed and device type the encoder will use, for encoders that have such parameters."""
    params = encoder.get_params()
    ctx = current_context(context)
    run: dict[str, Any] = {}
    if "seed" in params:
        run["seed"] = ctx.seed_for(params["seed"])
    if "device" in params:
        run["device"] = ctx.device_for(params["device"]).type
    return run


def cache_key(
    encoder: SemanticEncoder,
    kg: KnowledgeGraph | None,
    dataset: ZSLDataset,
    context: RunContext | None = None,
    fingerprint: str | None = None,
) -> str:
    """sha256 of everything the embeddings are computed from (see the module docstring).

    Args:
        fingerprint: the encoder's :func:`code_fingerprint` when already computed.
    """
    h = hashlib.sha256()
    cls = type(encoder)
    config = {
        "encoder": encoder.registry_name or cls.__name__,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "params": encoder.get_params(),
        "run": _run_settings(encoder, context),
        "code": fingerprint or code_fingerprint(encoder),
    }
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    # files named by parameters (word vectors, checkpoints, documents) count by content, so
    # that a replaced file at the same path recomputes
    for key, value in sorted(encoder.get_params().items()):
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and os.path.isfile(os.path.expanduser(item)):
                h.update(f"\0file:{key}\0".encode() + sha256_file(os.path.expanduser(item)).encode())
    h.update(b"\0kg\0" + (kg.fingerprint().encode() if kg is not None else b"none"))
    h.update(b"\0classes\0" + "\n".join(dataset.class_ids).encode())
    for name in sorted(getattr(dataset, "semantics", {}) or {}):
        h.update(f"\0sem:{name}\0".encode() + np.ascontiguousarray(dataset.semantics[name], dtype=np.float32).tobytes())
    return h.hexdigest()


def encode_cached(
    encoder: SemanticEncoder,
    kg: KnowledgeGraph | None,
    dataset: ZSLDataset,
    cache_dir: str | os.PathLike | None = None,
    context: RunContext | None = None,
) -> tuple[ClassEmbeddings, bool]:
    """``encoder.encode(kg, dataset, context)``, loaded from the cache when the same inputs were seen.

    Encoders that measure themselves (e.g. a KG embedding's link-prediction MRR) leave
    ``encoder.metrics_``; it is cached with the embeddings and restored on a hit. An encoder
    whose code cannot be fingerprinted is computed and not cached.

    Args:
        cache_dir: the cache folder (``None``: :func:`default_cache_dir`).
        context: the run's seed, device and progress setting (``None``: the active run's).

    Returns:
        ``(embeddings, hit)``; ``hit`` says whether they came from the cache.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    fingerprint = code_fingerprint(encoder)
    if fingerprint is None:
        return encoder.encode(kg, dataset, context=context), False
    key = cache_key(encoder, kg, dataset, context, fingerprint)
    path = folder / SUBFOLDER / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                embeddings = ClassEmbeddings(data["matrix"], list(data["ids"]), list(data["columns"]))
                encoder.metrics_ = json.loads(str(data["meta"])).get("metrics", {})
                return embeddings, True
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a damaged entry is recomputed
    embeddings = encoder.encode(kg, dataset, context=context)
    cls = type(encoder)
    meta = {
        "kgzsl": kgzsl.__version__,
        "encoder": encoder.registry_name,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "code": fingerprint,
        "run": _run_settings(encoder, context),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "metrics": getattr(encoder, "metrics_", {}),
    }
    buf = io.BytesIO()
    np.savez(
        buf,
        matrix=embeddings.matrix,
        ids=np.asarray(embeddings.ids, dtype=str),
        columns=np.asarray(embeddings.columns, dtype=str),
        meta=np.asarray(json.dumps(meta, default=str)),
    )
    atomic_write_bytes(path, buf.getvalue())
    return embeddings, False


# --- inspecting and clearing ---------------------------------------------------------------


@dataclass
class CacheInfo:
    """What a cache folder holds.

    Attributes:
        folder: the class-embedding folder (``<cache_dir>/semantics``).
        entries: number of cached embeddings.
        bytes: their total size on disk.
        by_encoder: entries per encoder name (``unreadable`` for damaged entries).
        other_versions: entries written by another kgzsl version (never hit again).
    """

    folder: Path
    entries: int = 0
    bytes: int = 0
    by_encoder: dict[str, int] = field(default_factory=dict)
    other_versions: int = 0

    def format(self) -> str:
        """A few lines for the terminal."""
        lines = [f"{self.folder}: {self.entries:,} class embedding(s), {self.bytes / 2**20:.1f} MiB"]
        for name, count in sorted(self.by_encoder.items()):
            lines.append(f"  {name:<20} {count:,}")
        if self.other_versions:
            lines.append(f"  {self.other_versions:,} written by another kgzsl version (kgzsl cache clear removes them)")
        return "\n".join(lines)


def _entries(cache_dir: str | os.PathLike | None) -> tuple[Path, list[Path]]:
    folder = (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()) / SUBFOLDER
    return folder, sorted(folder.glob("*.npz")) if folder.is_dir() else []


def _meta(path: Path) -> dict[str, Any] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
        return meta if isinstance(meta, dict) else None
    except (OSError, ValueError, KeyError):
        return None


def cache_info(cache_dir: str | os.PathLike | None = None) -> CacheInfo:
    """Count the cached class embeddings of ``cache_dir`` (``None``: :func:`default_cache_dir`)."""
    folder, paths = _entries(cache_dir)
    info = CacheInfo(folder)
    for path in paths:
        meta = _meta(path)
        name = str(meta.get("encoder") or "?") if meta is not None else "unreadable"
        info.entries += 1
        info.bytes += path.stat().st_size
        info.by_encoder[name] = info.by_encoder.get(name, 0) + 1
        if meta is not None and meta.get("kgzsl") != kgzsl.__version__:
            info.other_versions += 1
    return info


def cache_clear(cache_dir: str | os.PathLike | None = None, encoder: str | None = None) -> int:
    """Delete cached class embeddings (all, or those of the encoder named ``encoder``); returns how many.

    Left-over temporary files of interrupted writes are removed too.
    """
    folder, paths = _entries(cache_dir)
    removed = 0
    for path in paths:
        if encoder is not None:
            meta = _meta(path)
            if meta is None or meta.get("encoder") != encoder:
                continue
        path.unlink(missing_ok=True)
        removed += 1
    if encoder is None and folder.is_dir():
        for tmp in folder.glob(".*.npz.*.tmp"):
            tmp.unlink(missing_ok=True)
    return removed
