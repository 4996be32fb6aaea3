"""kgzsl: knowledge-graph-driven zero-shot image classification.

The public API is imported lazily so that ``import kgzsl`` (and ``kgzsl --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "KnowledgeGraph": "kgzsl.knowledge.store",
    "ZSLDataset": "kgzsl.data.dataset",
    "ZSLTask": "kgzsl.methods.base",
    "ZSLMethod": "kgzsl.methods.base",
    "ClassEmbeddings": "kgzsl.semantics.base",
    "Evaluator": "kgzsl.evaluation",
    "EvaluationReport": "kgzsl.evaluation",
    "RunContext": "kgzsl.context",
    "run_experiment": "kgzsl.pipeline",
    "evaluate_run": "kgzsl.pipeline",
    "run_name": "kgzsl.pipeline",
    "load_config": "kgzsl.config",
    "resolve": "kgzsl.config",
    "DATASETS": "kgzsl.registry",
    "KNOWLEDGE": "kgzsl.registry",
    "SEMANTICS": "kgzsl.registry",
    "METHODS": "kgzsl.registry",
    "CLASSIFIERS": "kgzsl.registry",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kgzsl' has no attribute {name!r}")
