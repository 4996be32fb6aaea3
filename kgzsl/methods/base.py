"""The interface every ZSL method implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from kgzsl.registry import Component

if TYPE_CHECKING:
    import torch

    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["ZSLTask", "ZSLMethod"]


@dataclass
class ZSLTask:
    """What a method may see at training time (the inductive ZSL setting).

    Images of the classes in ``unseen`` are never part of a task; their semantics are.

    Shapes:
        features: ``[N, D]`` float32 features of training images (seen classes only).
        labels: ``[N]`` int64 global class indices, all in ``seen``.
        semantics: ``[C, d]`` float32 class semantics of *all* classes of the dataset.
        seen: ``[S]`` int64 indices of the training classes.
        unseen: ``[U]`` int64 indices of the classes to transfer to.
    """

    features: torch.Tensor
    labels: torch.Tensor
    semantics: torch.Tensor
    seen: torch.Tensor
    unseen: torch.Tensor
    #: the run's knowledge graph and the dataset's class ids, for methods that learn over the
    #: graph end to end (``None`` / empty when the run has no knowledge source)
    knowledge: KnowledgeGraph | None = None
    class_ids: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return int(self.semantics.shape[0])

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def candidates(self) -> torch.Tensor:
        """Seen then unseen class indices: the classes a fitted method can score."""
        import torch

        return torch.cat([self.seen, self.unseen])


class ZSLMethod(Component):
    """Base class of ZSL methods (scikit-learn style).

    Constructors only store their keyword arguments (all with defaults); :meth:`fit` learns
    from a :class:`ZSLTask` and returns ``self``; :meth:`decision_function` scores images
    against all ``C`` classes, with ``-inf`` for classes outside ``task.candidates``.

    Methods whose ``uses_classifier`` is true (generative ones) train the shared classifier
    given to :meth:`fit` on real seen and synthetic unseen features.
    """

    uses_classifier: ClassVar[bool] = False
    registry_name: ClassVar[str] = ""

    def fit(self, task: ZSLTask, classifier: Any = None) -> ZSLMethod:
        raise NotImplementedError

    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """Scores ``[N, C]`` for all classes; higher is more likely."""
        raise NotImplementedError
