"""Semantic encoders: knowledge → class embeddings ``[C, d]`` aligned with a dataset's classes."""

from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder

__all__ = ["ClassEmbeddings", "SemanticEncoder"]
