"""CLIP zero-shot classification with knowledge-derived prompts and zero-shot prompt weighting."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from kgzsl.errors import ConfigError, DataError
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates
from kgzsl.registry import METHODS

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.language.prompts import PromptGrid

__all__ = ["CLIPZeroShot", "check_backbone", "clip_weights_error"]

Source = Literal["names", "templates", "short", "kg_labels", "kg_literals", "attributes", "descriptions", "documents"]
_KG_SOURCES = ("kg_labels", "kg_literals")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def clip_weights_error(arch: str, weights: str | None) -> str | None:
    """Why ``weights`` cannot give ``arch`` its CLIP weights here (one line), or ``None`` if they can.

    A local file always can; a pretrained tag only online (``HF_HUB_OFFLINE`` unset); no
    weights never (random text towers classify nothing).
    """
    if weights is None or str(weights) == "":
        hint = "a local checkpoint file" + ("" if _offline() else ", or a pretrained tag such as 'openai'")
        return f"weights: CLIP zero-shot needs the weights of {arch!r}: {hint}"
    if Path(weights).expanduser().is_file():
        return None
    if arch.endswith(".json") or arch.startswith(("hf-hub:", "local-dir:")):
        return f"weights: {weights}: no such checkpoint file"
    import open_clip

    from kgzsl.data.features import TINY_OPEN_CLIP, register_tiny_open_clip

    if arch == TINY_OPEN_CLIP:
        register_tiny_open_clip()
    if not open_clip.get_pretrained_cfg(arch, weights):
        return f"weights: {weights}: no such checkpoint file, nor a pretrained tag of {arch}"
    if _offline():
        return (
            f"weights: {weights!r} is a pretrained tag of {arch}, downloaded on first use, and HF_HUB_OFFLINE=1: "
            "pass the path of a local checkpoint file instead"
        )
    return None


def _norm_backbone(name: str) -> str:
    family, _, arch = name.partition(":")
    return f"{family}:{arch.replace('/', '-')}"


def check_backbone(text_tower: str, feature_backbone: str | None, where: str = "the features' manifest") -> None:
    """One :class:`ConfigError` when the image features come from another model than the text tower.

    ``feature_backbone`` ``None`` (unknown, e.g. a ``.mat`` of features) only warns: the
    scores are then meaningful only if the user extracted them with the same CLIP model.
    """
    if feature_backbone is None:
        warnings.warn(
            f"clip_zeroshot: the features do not say which backbone made them; the text tower {text_tower} "
            "must be the image tower's twin (the same CLIP model and weights), or the scores mean nothing",
            UserWarning,
            stacklevel=3,
        )
        return
    if _norm_backbone(feature_backbone) != _norm_backbone(text_tower):
        raise ConfigError(
            f"method.arch: the text tower {text_tower} does not match the image features' backbone "
            f"{feature_backbone} ({where}); use the CLIP model that extracted the features"
        )


@METHODS.register("clip_zeroshot")
class CLIPZeroShot(ZSLMethod):
    """CLIP zero-shot (Radford et al., ICML 2021, "Learning Transferable Visual Models From Natural
    Language Supervision") with prompts from a knowledge graph, attributes, descriptions or
    documents, and the zero-shot prompt weighting of Allingham et al. (ICML 2023, "A Simple
    Zero-shot Prompt Weighting Technique to Improve Prompt Ensembling in Text-Image Models").

    Each class's classifier is a unit text embedding of its prompts
    (:mod:`kgzsl.language.prompts`: ``P`` prompts per source, e.g. CLIP's 80 templates), combined
    over prompts by template ensembling (``combine="mean"``) or by the label-free prompt weights
    (``combine="weighted"``, :mod:`kgzsl.language.weighting`). An image is scored against class
    ``c`` by ``logit_scale · x̂ᵀ w_c`` with ``x̂`` the L2-normalised feature. Nothing is trained:
    ``fit`` reads no training image, so seen and unseen classes are treated alike.

    The weighting needs unlabelled images: the prompts are scored on the test images, given by
    the pipeline to :meth:`observe_unlabelled` before scoring (a transductive use of the test
    set, recorded as ``eval/transductive``; until then the classifiers are the uniform
    ensemble). The class bias the scores subtract is measured on the same test images
    (``weighting_images="test"``) or, with an outside image set (the paper uses images of the
    pretraining distribution): the path of a ``.npy`` of image features (``[M, D]``, same
    backbone), read in ``fit`` (only its mean unit vector is kept), averaged with the test
    images' mean as the authors' notebook does.

    This is a *relaxed* zero-shot setting (:attr:`relaxed`): CLIP's pretraining may have seen the
    "unseen" classes, and every results table says so.

    Args:
        arch: open_clip architecture of the text tower (``ViT-B-32``...) or a model config
            ``.json``; it must be the architecture that extracted the image features
            (``task.feature_backbone``, from the features' manifest).
        weights: a local checkpoint file, or a pretrained tag (``openai``...) when online.
        prompts: a prompt source (see :data:`kgzsl.language.prompts.SOURCES`) or a list of them,
            whose prompts are pooled.
        templates: the template set of ``templates`` and ``kg_labels`` (``imagenet``: CLIP's 80;
            ``short``; ``single``; ``none``) or a list of templates with ``{}``.
        combine: ``mean`` (template ensembling) or ``weighted`` (zero-shot prompt weighting).
        weighting_images: where the class bias is measured: ``test`` (the test images) or the
            path of a ``.npy`` of outside image features.
        temperature: softmax temperature of the prompt weights, in logit units.
        select_z: weigh only the prompts whose robust z-score reaches it (``None``: all prompts).
        logit_scale: CLIP's logit scale (100 for the released models).
        descriptors: descriptor JSON ``{class name: [descriptions]}`` (``descriptions`` source).
        documents: per-class documents, JSON ``{class name: text}`` or a folder of ``<class>.txt``
            (``documents`` source).
        attribute_names: attribute names file (one a line, or ``a001<TAB>black``): with it, the
            ``attributes`` source reads each class's ``top_attributes`` largest entries of
            ``task.semantics`` (the dataset's class × attribute matrix); without it, the KG's
            class-attribute triples.
        top_attributes: attributes per class from the matrix.
        label_map: JSON ``{label: class name}`` naming numbered classes (FLO's map).
        kg_namespace: align classes only to KG entities in this namespace (K-ZSL's AwA graph
            names ``grizzly bear`` twice: ``AwA:n02132580`` and ConceptNet's).
        max_sentences: sentences of each document used (all by default).
        batch_size: prompts per text-tower pass.
        device: ``auto``, ``cpu``, ``cuda``...; ``None``: the run's.

    Attributes:
        prompt_embeddings_: ``[P, K, D]`` unit embeddings of every prompt for the candidate classes.
        prompt_names_: the ``P`` prompts' names.
        prompt_scores_, prompt_weights_: ``[P]`` scores and weights (weighted, once observed).
        bias_mean_: ``[D]`` mean unit feature of the outside bias images (``None`` for ``test``).
        classifiers_: ``[K, D]`` unit class classifiers of the candidates.
        candidates_: ``[K]`` the candidate classes; num_classes_: ``C``.

    Shapes:
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.
    """

    uses_classifier: ClassVar[bool] = False
    relaxed: ClassVar[bool] = True
    #: the contract test builds it from a fixture of this name (the tiny CLIP's config and
    #: weights) and scores features made from that CLIP's own text embeddings: no CLIP weights
    #: exist offline, and the toy features mean nothing to a text tower
    needs_fixture: ClassVar[str] = "clip_zeroshot_params"
    file_params = ("descriptors", "documents", "attribute_names", "label_map")

    def __init__(
        self,
        arch: str = "ViT-B-32",
        weights: str | None = None,
        prompts: Source | list[Source] = "templates",
        templates: Literal["imagenet", "short", "single", "none"] | list[str] = "imagenet",
        combine: Literal["mean", "weighted"] = "mean",
        weighting_images: str = "test",
        temperature: float = 1.0,
        select_z: float | None = None,
        logit_scale: float = 100.0,
        descriptors: str | None = None,
        documents: str | None = None,
        attribute_names: str | None = None,
        top_attributes: int = 5,
        label_map: str | None = None,
        kg_namespace: str | None = None,
        max_sentences: int | None = None,
        batch_size: int = 256,
        device: str | None = None,
    ) -> None:
        self.arch = arch
        self.weights = weights
        self.prompts = prompts
        self.templates = templates
        self.combine = combine
        self.weighting_images = weighting_images
        self.temperature = temperature
        self.select_z = select_z
        self.logit_scale = logit_scale
        self.descriptors = descriptors
        self.documents = documents
        self.attribute_names = attribute_names
        self.top_attributes = top_attributes
        self.label_map = label_map
        self.kg_namespace = kg_namespace
        self.max_sentences = max_sentences
        self.batch_size = batch_size
        self.device = device

    # ------------------------------------------------------------------ configuration

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse, before any work, what cannot run: no usable weights (offline: no tag), a
        source without its input file, an unusable ``weighting_images``."""
        error = clip_weights_error(params["arch"], params["weights"])
        if error is not None:
            raise ConfigError(error)
        sources = cls._sources(params["prompts"])
        for source, key in (("descriptions", "descriptors"), ("documents", "documents")):
            if source in sources and params[key] is None:
                raise ConfigError(f"{key}: the {source!r} prompts need {key}= a file")
        images = params["weighting_images"]
        if images != "test":
            path = Path(images).expanduser()
            if path.suffix != ".npy" or not path.is_file():
                raise ConfigError(f"weighting_images: {images}: expected 'test' or an existing .npy of image features")
        if params["max_sentences"] is not None and params["max_sentences"] < 1:
            raise ConfigError(f"max_sentences: must be at least 1, got {params['max_sentences']}")
        for key in ("top_attributes", "batch_size"):
            if params[key] < 1:
                raise ConfigError(f"{key}: must be at least 1, got {params[key]}")
        if not params["logit_scale"] > 0:
            raise ConfigError(f"logit_scale: must be > 0, got {params['logit_scale']}")
        from kgzsl.language.prompts import templates_for

        templates_for(params["templates"])

    @staticmethod
    def _sources(prompts: str | list[str]) -> list[str]:
        sources = [prompts] if isinstance(prompts, str) else list(prompts)
        if not sources:
            raise ConfigError("prompts: name at least one prompt source")
        return list(dict.fromkeys(sources))

    @classmethod
    def needs_knowledge(cls, spec: dict[str, Any]) -> bool:
        """Whether a config's method section reads the KG (KG prompts, or KG attributes)."""
        sources = cls._sources(spec.get("prompts", "templates"))
        kg_attributes = "attributes" in sources and spec.get("attribute_names") is None
        return kg_attributes or any(s in _KG_SOURCES for s in sources)

    @property
    def transductive(self) -> bool:
        """Whether scoring depends on the unlabelled test images (``combine="weighted"``)."""
        return self.combine == "weighted"

    # ------------------------------------------------------------------ prompts

    def prompt_grids(self, task: ZSLTask, names: list[str]) -> list[PromptGrid]:
        """The prompt grids of the configured sources over all ``C`` classes of ``task``."""
        from kgzsl.language import prompts as P

        ids = list(task.class_ids) if task.class_ids else [str(i) for i in range(task.num_classes)]
        grids = []
        for source in self._sources(self.prompts):
            if source in _KG_SOURCES or (source == "attributes" and self.attribute_names is None):
                if task.knowledge is None:
                    raise ConfigError(
                        f"method.prompts: {source!r} reads the knowledge graph, and the run has none "
                        "(config section 'knowledge')"
                    )
            if source == "names":
                grids.append(P.name_prompts(names, "none", source="names"))
            elif source == "templates":
                grids.append(P.name_prompts(names, self.templates, source="templates"))
            elif source == "short":
                grids.append(P.name_prompts(names, "short", source="short"))
            elif source == "kg_labels":
                grids.append(P.kg_label_prompts(task.knowledge, ids, names, self.templates, self.kg_namespace))
            elif source == "kg_literals":
                grids.append(P.kg_literal_prompts(task.knowledge, ids, names, self.kg_namespace))
            elif source == "attributes":
                if self.attribute_names is not None:
                    attr_names = P.read_attribute_names(self.attribute_names)
                    attrs = P.matrix_attributes(task.semantics.cpu().numpy(), attr_names, self.top_attributes)
                else:
                    attrs = P.kg_attributes(task.knowledge, ids, namespace=self.kg_namespace)
                grids.append(P.attribute_prompts(names, attrs))
            elif source == "descriptions":
                grids.append(P.description_prompts(self.descriptors, names))
            elif source == "documents":
                grids.append(P.document_prompts(self.documents, ids, names, self.max_sentences))
            else:
                raise ConfigError(f"method.prompts: unknown source {source!r}; valid: {', '.join(P.SOURCES)}")
        return grids

    # ------------------------------------------------------------------ fit / score

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> CLIPZeroShot:
        """Embed every prompt of every class; no training image is read. Returns ``self``.

        Raises:
            ConfigError: the text tower does not match ``task.feature_backbone``, a KG source
                without a knowledge graph, no usable weights.
            DataError: unreadable prompt files, classes missing from them.
        """
        from kgzsl.language.prompts import TextTower, class_names, encode_grid

        self.check_config(self.get_params())
        ctx, device = fit_context(context, self.device, task.device)
        tower = TextTower.load(self.arch, self.weights, device)
        check_backbone(tower.backbone, getattr(task, "feature_backbone", None))
        ids = list(task.class_ids) if task.class_ids else [str(i) for i in range(task.num_classes)]
        names = class_names(ids, self.label_map)
        candidates = task.candidates.to(device)
        embeddings, prompt_names = [], []
        for grid in self.prompt_grids(task, names):
            bar = lambda it, g=grid: ctx.bar(it, desc=f"clip prompts: {g.source}", unit="batch")  # noqa: E731
            embeddings.append(encode_grid(grid, tower, self.batch_size, bar)[:, candidates])
            prompt_names += [f"{grid.source}: {n}" if n != grid.source else n for n in grid.prompt_names]
        self.prompt_embeddings_ = torch.cat(embeddings)  # [P, K, D]
        self.prompt_names_ = prompt_names
        self.candidates_ = candidates
        self.num_classes_ = task.num_classes
        self.prompt_scores_ = None
        self.prompt_weights_ = None
        self._set_classifiers(None)
        self.bias_mean_ = None
        if self.combine == "weighted" and self.weighting_images != "test":
            from kgzsl.language.weighting import mean_unit

            self.bias_mean_ = mean_unit(self._outside_images())
        return self

    def _outside_images(self) -> torch.Tensor:
        import numpy as np

        path = Path(self.weighting_images).expanduser()
        try:
            images = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a .npy of image features ({str(e).splitlines()[0]})") from None
        dim = self.prompt_embeddings_.shape[2]
        if images.ndim != 2 or images.shape[1] != dim or images.shape[0] == 0:
            raise DataError(f"{path}: expected image features [M, {dim}], found {images.shape}")
        return torch.as_tensor(np.array(images, dtype=np.float32), device=self.prompt_embeddings_.device)

    def _weigh(self, features: torch.Tensor) -> None:
        from kgzsl.language.weighting import prompt_scores, prompt_weights

        p = self.prompt_embeddings_
        self.prompt_scores_ = prompt_scores(
            p, features, logit_scale=self.logit_scale, bias_mean=self.bias_for(features)
        )
        self.prompt_weights_ = prompt_weights(self.prompt_scores_, self.temperature, self.select_z)
        self._set_classifiers(self.prompt_weights_)

    def bias_for(self, features: torch.Tensor) -> torch.Tensor:
        """The mean unit image the class bias is measured on: the test images', averaged with the
        outside set's when there is one.

        Shapes:
            features: ``[N, D]`` test images; returns ``[D]``.
        """
        from kgzsl.language.weighting import mean_unit

        test = mean_unit(features)
        return test if self.bias_mean_ is None else 0.5 * (test + self.bias_mean_.to(test.device))

    def _set_classifiers(self, weights: torch.Tensor | None) -> None:
        from kgzsl.language.weighting import combine_prompts, ensemble_prompts

        p = self.prompt_embeddings_
        self.classifiers_ = ensemble_prompts(p) if weights is None else combine_prompts(p, weights)

    def observe_unlabelled(self, features: torch.Tensor) -> None:
        """Weigh the prompts on the unlabelled test images (``combine="weighted"``; the class
        bias is measured on them too unless ``weighting_images`` names an outside set);
        with ``combine="mean"`` nothing (the classifiers do not depend on them).

        Shapes:
            features: ``[N, D]``, every test image (seen and unseen classes), no labels.
        """
        if not self.transductive:
            return
        self._weigh(features.to(self.prompt_embeddings_.device))

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """``logit_scale · x̂ᵀ w_c`` for the candidates, ``-inf`` elsewhere.

        Shapes:
            features: ``[N, D]``; returns ``[N, C]`` float32 on the method's device.
        """
        w = self.classifiers_
        if features.shape[1] != w.shape[1]:
            raise DataError(
                f"clip_zeroshot: {features.shape[1]}-d image features for a {w.shape[1]}-d text tower "
                f"({self.arch}): the features come from another model"
            )
        x = torch.nn.functional.normalize(features.to(w.device, torch.float32), dim=1)
        return mask_candidates(self.logit_scale * x @ w.T, self.candidates_, self.num_classes_)
