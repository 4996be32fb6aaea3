"""An on-disk cache of class embeddings, keyed by what they were computed from.

The key hashes the encoder's name and parameters, the knowledge graph's content (its
triples, so a changed file or semantic setting recomputes), the dataset's class ids and
the dataset semantics the encoder may read. An unchanged input loads in milliseconds;
KG embeddings and text encoders take minutes to compute.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import kgzsl
from kgzsl.semantics.base import ClassEmbeddings
from kgzsl.utils import atomic_write_bytes, sha256_file

if TYPE_CHECKING:
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph
    from kgzsl.semantics.base import SemanticEncoder

__all__ = ["default_cache_dir", "cache_key", "encode_cached"]


def default_cache_dir() -> Path:
    """``$KGZSL_CACHE`` or ``~/.cache/kgzsl``."""
    return Path(os.environ.get("KGZSL_CACHE") or Path.home() / ".cache" / "kgzsl")


def cache_key(encoder: SemanticEncoder, kg: KnowledgeGraph | None, dataset: ZSLDataset) -> str:
    """sha256 of the encoder's config (and the content of files it names), the KG's content,
    the class ids and the dataset semantics (and, for encoders whose ``reads_features`` is
    true, the features, labels, seen classes and ``trainval`` split)."""
    h = hashlib.sha256()
    config = {"encoder": encoder.registry_name or type(encoder).__name__, "params": encoder.get_params()}
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    # files named by parameters (word vectors, checkpoints, documents) count by content, so
    # that a replaced file at the same path recomputes
    for key, value in sorted(encoder.get_params().items()):
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and os.path.isfile(os.path.expanduser(item)):
                h.update(f"\0file:{key}\0".encode() + sha256_file(os.path.expanduser(item)).encode())
    h.update(b"\0kg\0" + (kg.fingerprint().encode() if kg is not None else b"none"))
    h.update(b"\0classes\0" + "\n".join(dataset.class_ids).encode())
    if getattr(encoder, "reads_features", False):
        # encoders fitted to the images (GCNZ / DGP's target weights) depend on them too
        for part in (dataset.features, dataset.labels, dataset.seen, dataset.splits["trainval"]):
            h.update(b"\0data\0" + np.ascontiguousarray(part).tobytes())
    for name in sorted(dataset.semantics):
        h.update(f"\0sem:{name}\0".encode() + np.ascontiguousarray(dataset.semantics[name], dtype=np.float32).tobytes())
    return h.hexdigest()


def encode_cached(
    encoder: SemanticEncoder,
    kg: KnowledgeGraph | None,
    dataset: ZSLDataset,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[ClassEmbeddings, bool]:
    """``encoder.encode(kg, dataset)``, loaded from the cache when the same inputs were seen.

    Encoders that measure themselves (e.g. a KG embedding's link-prediction MRR) leave
    ``encoder.metrics_``; it is cached with the embeddings and restored on a hit.

    Returns:
        ``(embeddings, hit)``; ``hit`` says whether they came from the cache.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = cache_key(encoder, kg, dataset)
    path = folder / "semantics" / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                embeddings = ClassEmbeddings(data["matrix"], list(data["ids"]), list(data["columns"]))
                encoder.metrics_ = json.loads(str(data["meta"])).get("metrics", {})
                return embeddings, True
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a damaged entry is recomputed
    embeddings = encoder.encode(kg, dataset)
    buf = io.BytesIO()
    np.savez(
        buf,
        matrix=embeddings.matrix,
        ids=np.asarray(embeddings.ids, dtype=str),
        columns=np.asarray(embeddings.columns, dtype=str),
        meta=np.asarray(
            json.dumps(
                {
                    "kgzsl": kgzsl.__version__,
                    "encoder": encoder.registry_name,
                    "metrics": getattr(encoder, "metrics_", {}),
                }
            )
        ),
    )
    atomic_write_bytes(path, buf.getvalue())
    return embeddings, False
