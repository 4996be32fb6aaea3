"""The interface every ZSL method implements, and the building blocks methods share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from kgzsl.context import fit_context, seeded
from kgzsl.registry import Component
from kgzsl.utils import mask_candidates

if TYPE_CHECKING:
    import torch

    from kgzsl.context import RunContext
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["ZSLTask", "ZSLMethod", "mask_candidates", "seeded", "fit_context"]


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
    #: validation images a method may score while it trains (the pipeline's validation stage
    #: only; ``None`` in the trainval fit): ``[M, D]`` held-out images of ``seen`` classes and
    #: the images of the ``unseen`` (validation) classes, with their ``[M]`` global labels.
    #: Generative methods choose their classifier's epochs on them (``selected_``)
    val_features: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None
    #: the validation criterion (``eval.select_by``): ``gzsl_h``, ``gzsl_cs_h`` or ``zsl_top1``
    select_by: str = "gzsl_h"
    #: whether the features are synthetic (plots made during ``fit`` say so in their titles)
    synthetic_features: bool = False
    #: the backbone that produced the features (``ZSLDataset.backbone``, from the features'
    #: manifest: ``open_clip:ViT-B-32``...); ``None`` where unknown. A method that pairs the
    #: image features with its own text tower (CLIP zero-shot) checks it matches
    feature_backbone: str | None = None

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
    against all ``C`` classes, with ``-inf`` for classes outside ``task.candidates``
    (through :func:`mask_candidates`).

    ``fit`` takes the run's :class:`~kgzsl.context.RunContext` (seed, device, progress): a
    method works on its own ``device`` parameter, else the run's (:func:`fit_context`), draws
    its random numbers from ``context.seed_for(self.seed)`` inside :func:`seeded` (``seed`` /
    ``device`` ``None``, the default, mean the run's), and makes every progress bar with
    ``context.bar``. Without a context, the active run's is used; outside any run, seed 0 and
    the task's device.

    Fitted attributes end with ``_`` and are what :meth:`save` writes and :meth:`load` restores.

    Methods whose ``uses_classifier`` is true (generative ones) train the shared classifier
    given to :meth:`fit` on real seen and synthetic unseen features.
    """

    uses_classifier: ClassVar[bool] = False
    registry_name: ClassVar[str] = ""
    #: the method's default validation grid for its own parameters (keys without the
    #: ``method.`` prefix), used by ``select:`` when a config names none; empty: nothing to select
    default_select: ClassVar[dict[str, list]] = {}
    #: a *relaxed* zero-shot setting: the method rests on a model pretrained on data that may
    #: hold the "unseen" classes (CLIP); every results table of such a run says so
    relaxed: ClassVar[bool] = False

    #: Optional hook, defined by transductive methods only (CLIP prompt weighting):
    #: ``observe_unlabelled(self, features: torch.Tensor) -> None``. The pipeline calls it once,
    #: after ``fit`` and before test scoring, with the features of every test image (test_seen
    #: and test_unseen, no labels) and records ``eval/transductive = 1`` in ``metrics.json``.

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> ZSLMethod:
        """Learn from ``task`` (and train ``classifier`` if the method uses one); returns ``self``."""
        raise NotImplementedError

    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """Scores ``[N, C]`` for all classes; higher is more likely; ``-inf`` outside the candidates."""
        raise NotImplementedError
