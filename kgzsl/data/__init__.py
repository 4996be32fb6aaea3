"""Datasets: image features, labels, seen/unseen classes and splits (``ZSLDataset``)."""

from kgzsl.data.dataset import ZSLDataset

__all__ = ["ZSLDataset"]
