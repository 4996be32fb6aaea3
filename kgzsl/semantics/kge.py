"""Knowledge-graph embeddings (TransE, DistMult, ComplEx, RotatE) as class semantics.

A KG embedding model is trained on the triples of the chosen knowledge, with negative
sampling and early stopping on held-out triples; the embeddings of the entities that stand
for the dataset's classes are the class semantics (as in OntoZSL's and K-ZSL's KG-embedding
baselines). The same run measures the embedding on held-out triples: filtered link-prediction
MRR and Hits@k (Bordes et al. 2013's protocol), and the MRR of the untrained model as a floor.

The scoring functions, with ``h, r, t`` the head, relation and tail embeddings (higher is
more plausible):

* TransE (Bordes et al., "Translating Embeddings for Modeling Multi-relational Data",
  NeurIPS 2013): ``f = -‖h̄ + r - t̄‖₁``, entities L1-normalised (``x̄ = x / ‖x‖₁``).
* DistMult (Yang et al., "Embedding Entities and Relations for Learning and Inference in
  Knowledge Bases", ICLR 2015): ``f = ⟨h, r, t⟩ = Σᵢ hᵢ rᵢ tᵢ``.
* ComplEx (Trouillon et al., "Complex Embeddings for Simple Link Prediction", ICML 2016):
  ``f = Re ⟨h, r, conj(t)⟩`` with ``h, r, t ∈ ℂᵈ``.
* RotatE (Sun et al., "RotatE: Knowledge Graph Embedding by Relational Rotation in Complex
  Space", ICLR 2019): ``f = γ - ‖h ∘ r - t‖₂`` with ``|rᵢ| = 1`` (a phase per dimension) and
  ``γ`` = ``margin``; ``‖·‖₂`` is over the real and imaginary parts together.

The models are ``torch_geometric.nn.kge``'s; this module adds the all-candidate scoring that
filtered ranking needs (one matrix operation per batch of queries) and the losses; the split,
filtered ranking, seeded negative sampling and the training loop with early stopping are
:mod:`kgzsl.semantics.linkpred`'s, shared with the R-GCN.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from kgzsl.context import current_context
from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows, quiet_import
from kgzsl.semantics.linkpred import (
    HITS_AT,
    KnownTriples,
    LinkPredSettings,
    TripleSplit,
    filtered_ranks,
    rank_metrics,
    ranking_metrics,
    split_triples,
    train_link_predictor,
)

if TYPE_CHECKING:
    import torch

    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "KGE_MODELS",
    "HITS_AT",
    "KGESettings",
    "KGEFit",
    "KnownTriples",
    "KGEmbedding",
    "build_kge_model",
    "score_candidates",
    "entity_embeddings",
    "filtered_ranks",
    "rank_metrics",
    "link_prediction",
    "split_triples",
    "class_triples",
    "fit_kge",
]

#: the model names, and whether each is trained with the margin ranking loss (else logistic)
KGE_MODELS: dict[str, bool] = {"transe": True, "distmult": True, "complex": False, "rotate": False}


def build_kge_model(name: str, num_entities: int, num_relations: int, dim: int, margin: float = 1.0) -> torch.nn.Module:
    """A freshly initialised ``torch_geometric.nn.kge`` model (initialised from torch's global RNG).

    ``margin`` is TransE's and DistMult's ranking margin, and RotatE's ``γ``.
    """
    pyg_kge = quiet_import("torch_geometric.nn.kge")
    TransE, DistMult, ComplEx, RotatE = pyg_kge.TransE, pyg_kge.DistMult, pyg_kge.ComplEx, pyg_kge.RotatE

    if name == "transe":
        return TransE(num_entities, num_relations, dim, margin=margin, p_norm=1.0)
    if name == "distmult":
        return DistMult(num_entities, num_relations, dim, margin=margin)
    if name == "complex":
        return ComplEx(num_entities, num_relations, dim)
    if name == "rotate":
        return RotatE(num_entities, num_relations, dim, margin=margin)
    raise ConfigError(f"unknown KG embedding model {name!r}; valid: {', '.join(KGE_MODELS)}")


def _model_name(model: torch.nn.Module) -> str:
    name = type(model).__name__.lower()
    if name not in KGE_MODELS:
        raise TypeError(f"no all-candidate scoring for {type(model).__name__}")
    return name


def score_candidates(model: torch.nn.Module, anchor: torch.Tensor, rel: torch.Tensor, side: str) -> torch.Tensor:
    """Scores of every entity as the missing tail (``side="tail"``) or head (``"head"``) of each query.

    ``anchor`` is the known head for tail queries ``(h, r, ?)`` and the known tail for head
    queries ``(?, r, t)``. Equal (up to rounding) to ``model(h, r, t)`` for every candidate,
    computed as one matrix product or distance matrix instead of ``B · N`` forward calls:

    * TransE: ``-cdist₁(h̄ + r, Ē)`` for tails, ``-cdist₁(t̄ - r, Ē)`` for heads.
    * DistMult: ``(h ⊙ r) Eᵀ`` for tails, ``(r ⊙ t) Eᵀ`` for heads.
    * ComplEx: ``Re(h ⊙ r) E_reᵀ + Im(h ⊙ r) E_imᵀ`` for tails; heads the same with
      ``t ⊙ conj(r)`` (the score is real-linear in ``h``).
    * RotatE: ``γ - cdist₂(h ∘ r, E)`` for tails; heads with ``t ∘ conj(r)``, a rotation being
      an isometry.

    Computed in float64 from the model's float32 parameters and rounded once to float32, and
    distances from the differences (never with ``cdist``'s matrix-product shortcut
    ``‖a‖² + ‖b‖² - 2⟨a, b⟩``, whose cancellation erred by up to 8.5e-5 on a trained RotatE
    and reordered candidates): each score is at least as close to the exact value as the
    model's own float32 forward pass (≤ 1e-6 apart on unit-scale embeddings), so ranks agree.

    Shapes:
        anchor, rel: ``[B]`` int64.
        returns: ``[B, N]`` scores in the model's dtype, ``N`` = number of entities.
    """
    import torch
    import torch.nn.functional as F

    if side not in ("head", "tail"):
        raise ValueError(f"side must be 'head' or 'tail', not {side!r}")
    name = _model_name(model)
    dtype = model.node_emb.weight.dtype
    ent = model.node_emb.weight
    a = model.node_emb(anchor)
    r = model.rel_emb(rel).double()
    exact = "donot_use_mm_for_euclid_dist"
    if name == "transe":
        # normalised in the parameters' dtype, as the forward pass does
        ent_n = F.normalize(ent, p=model.p_norm, dim=-1).double()
        a = F.normalize(a, p=model.p_norm, dim=-1).double()
        query = a + r if side == "tail" else a - r
        return (-torch.cdist(query, ent_n, p=model.p_norm, compute_mode=exact)).to(dtype)
    ent, a = ent.double(), a.double()
    if name == "distmult":
        return ((a * r) @ ent.T).to(dtype)
    if name == "complex":
        a_im, r_im = model.node_emb_im(anchor).double(), model.rel_emb_im(rel).double()
        if side == "head":
            r_im = -r_im  # Re<h, r, conj(t)> = Re<h, conj(conj(r) t)>: the head pairs with t ⊙ conj(r)
        q_re = a * r - a_im * r_im
        q_im = a_im * r + a * r_im
        return (q_re @ ent.T + q_im @ model.node_emb_im.weight.double().T).to(dtype)
    # rotate
    a_im = model.node_emb_im(anchor).double()
    cos, sin = torch.cos(r), torch.sin(r)
    if side == "head":
        sin = -sin
    q = torch.cat([cos * a - sin * a_im, cos * a_im + sin * a], dim=-1)
    ent_c = torch.cat([ent, model.node_emb_im.weight.double()], dim=-1)
    return (model.margin - torch.cdist(q, ent_c, p=2, compute_mode=exact)).to(dtype)


def entity_embeddings(model: torch.nn.Module) -> torch.Tensor:
    """Every entity's vector as the model scores with it.

    TransE: the L1-normalised embedding (its scoring normalises entities); DistMult: the
    embedding; ComplEx and RotatE: real parts then imaginary parts.

    Shapes:
        returns: ``[N, d]`` (TransE, DistMult) or ``[N, 2d]`` (ComplEx, RotatE).
    """
    import torch
    import torch.nn.functional as F

    name = _model_name(model)
    ent = model.node_emb.weight.detach()
    if name == "transe":
        return F.normalize(ent, p=model.p_norm, dim=-1)
    if name == "distmult":
        return ent.clone()
    return torch.cat([ent, model.node_emb_im.weight.detach()], dim=-1)


def link_prediction(
    model: torch.nn.Module,
    triples: torch.Tensor,
    known: KnownTriples,
    batch_size: int = 1024,
    ties: Literal["average", "pessimistic", "optimistic"] = "average",
) -> dict[str, float]:
    """Filtered link prediction of a KG embedding model (:func:`~kgzsl.semantics.linkpred.ranking_metrics`
    with :func:`score_candidates`): MRR and Hits@1/3/10 over the tail and head query of every triple.

    Shapes:
        triples: ``[T, 3]`` int64 on the model's device.
    """
    was_training = model.training
    model.eval()
    try:
        return ranking_metrics(functools.partial(score_candidates, model), triples, known, batch_size, ties)
    finally:
        model.train(was_training)


@dataclass(eq=False)
class KGESettings:
    """The hyper-parameters of a KG embedding and its training (:func:`fit_kge`).

    Args:
        model: ``transe``, ``distmult``, ``complex`` or ``rotate``.
        dim: embedding size (complex models: per part, so class vectors have ``2·dim`` columns).
        epochs: most training epochs.
        batch_size: training triples per step (and queries per evaluation batch).
        lr: Adam learning rate.
        num_negatives: corrupted triples per training triple.
        margin: ranking margin (TransE, DistMult) or RotatE's ``γ``; ComplEx ignores it.
        valid_fraction: share of triples held out for early stopping.
        test_fraction: share of triples held out for the link-prediction figures.
        eval_every: epochs between validation evaluations.
        patience: evaluations without improvement before stopping.
    """

    model: Literal["transe", "distmult", "complex", "rotate"] = "transe"
    dim: int = 100
    epochs: int = 200
    batch_size: int = 1024
    lr: float = 0.01
    num_negatives: int = 1
    margin: float = 1.0
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    eval_every: int = 10
    patience: int = 3


@dataclass
class KGEFit:
    """A trained KG embedding and what was measured while training it (see :func:`fit_kge`)."""

    model: torch.nn.Module
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[tuple[int, float]] = field(default_factory=list)
    epoch_seconds: float = 0.0


def fit_kge(
    triples: torch.Tensor,
    num_entities: int,
    num_relations: int,
    settings: KGESettings | None = None,
    *,
    seed: int | None = None,
    device: str | None = None,
    context: RunContext | None = None,
    **overrides: Any,
) -> KGEFit:
    """Train a KG embedding with negative sampling and early stopping; measure it on held-out triples.

    Loss, with ``f`` the model's score, ``(h, r, t)`` a training triple and ``(h'ⱼ, r, t'ⱼ)``,
    ``j = 1..k``, its ``k = num_negatives`` corruptions (head or tail, each with probability
    ½, replaced by a uniformly drawn entity; not filtered):

    * TransE, DistMult: margin ranking, as in their papers,
      ``(1/k) Σⱼ max(0, γ - f(h, r, t) + f(h'ⱼ, r, t'ⱼ))``, ``γ`` = ``margin``;
    * ComplEx, RotatE: logistic (Trouillon et al.'s negative log-likelihood; Sun et al.'s
      loss with uniform instead of self-adversarial weights on the negatives),
      ``½ [-log σ(f(h, r, t)) - (1/k) Σⱼ log σ(-f(h'ⱼ, r, t'ⱼ))]``, positives and negatives
      weighted equally whatever ``k``.

    The loop (Adam on mini-batches, validation MRR every ``eval_every`` epochs, the best
    parameters kept, ``patience``) is :func:`~kgzsl.semantics.linkpred.train_link_predictor`;
    the split is :func:`~kgzsl.semantics.linkpred.split_triples` with the seed. The untrained
    model's test MRR is the floor ``random_mrr``.

    Args:
        triples: all ``(head, relation, tail)`` index triples.
        num_entities, num_relations: sizes of the indices (entities without triples keep
            their initial embedding).
        settings: the hyper-parameters (:class:`KGESettings`; its defaults when ``None``).
        seed: seed of the initialisation, the split, the batches and the negatives
            (``None``: the context's).
        device: where to train (``None``: the context's).
        context: the run's seed, device and progress setting (``None``: the active run's).
        overrides: settings to change, by name (``epochs=5``).

    Returns:
        :class:`KGEFit` (the model on the training device, in eval mode) with ``metrics``:
        ``mrr``, ``hits@1``, ``hits@3``, ``hits@10`` and ``random_mrr`` (when there are test
        triples), ``valid_mrr`` (when there are validation triples), ``epochs`` (epochs run),
        ``best_epoch`` and the triple counts.

    Shapes:
        triples: ``[T, 3]`` int64.
    """
    import torch
    import torch.nn.functional as F

    s = replace(settings or KGESettings(), **overrides) if overrides else settings or KGESettings()
    if s.model not in KGE_MODELS:
        raise ConfigError(f"unknown KG embedding model {s.model!r}; valid: {', '.join(KGE_MODELS)}")
    if s.dim < 1:
        raise ConfigError(f"dim must be at least 1, not {s.dim}")
    loop = LinkPredSettings.of(s)
    loop.check()
    if len(triples) == 0:
        raise DataError("no triples to train a KG embedding on")
    ctx = current_context(context)
    seed, dev = ctx.seed_for(seed), ctx.device_for(device)
    split = TripleSplit.make(triples, num_relations, loop, seed, dev)

    # initialised on the CPU from a forked, seeded RNG: the same numbers on any device, and
    # the caller's global RNG state is left alone
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kge = build_kge_model(s.model, num_entities, num_relations, s.dim, s.margin)
    kge = kge.to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed + 1)
    k, margin, margin_loss = s.num_negatives, s.margin, KGE_MODELS[s.model]

    def batch_loss(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, h_neg: torch.Tensor, t_neg: torch.Tensor):
        pos = kge(h, r, t)
        neg = kge(h_neg.reshape(-1), r.repeat_interleave(k), t_neg.reshape(-1)).view(len(h), k)
        if margin_loss:
            return F.relu(margin - pos[:, None] + neg).mean()
        return 0.5 * (F.softplus(-pos).mean() + F.softplus(neg).mean())

    run = train_link_predictor(
        kge,
        split,
        batch_loss,
        lambda: functools.partial(score_candidates, kge),
        num_entities,
        loop,
        gen,
        ctx,
        desc=f"kge {s.model}",
    )
    return KGEFit(kge, run.metrics, run.history, run.epoch_seconds)


def class_triples(
    kg: KnowledgeGraph,
    class_ids: list[str],
    relations: list[str] | None = None,
    namespace: str | None = None,
) -> tuple[Any, Any, Any, list[str]]:
    """The KG's non-literal triples as ``[T, 3]`` (head, relation, tail) indices, with the rows
    of the dataset's classes among the nodes.

    Shared by the encoders that train over the KG's structure (TransE & co., R-GCN, OntoZSL).
    A class that no triple touches would keep its random initial vector, which is no class
    semantics: that is an error, not a silent random embedding.

    Returns:
        ``(view, class_rows [C], triples [T, 3], class IRIs)`` where ``view`` is the
        :class:`~kgzsl.knowledge.views.GraphView` the indices refer to.
    """
    import torch

    from kgzsl.knowledge.views import to_pyg

    quiet_import("torch_geometric")  # to_pyg imports it: without its import-time FutureWarning
    iris = align_classes(kg, class_ids, namespace=namespace)
    view = to_pyg(kg, relations=relations)
    missing = [iri for iri in iris if iri not in view.node_index]
    if missing:
        raise DataError(f"classes without a node in the knowledge graph: {', '.join(missing[:5])}")
    rows = torch.tensor([view.node_index[iri] for iri in iris], dtype=torch.long)
    triples = torch.stack([view.edge_index[0], view.edge_type, view.edge_index[1]], dim=1)
    degree = torch.bincount(view.edge_index.reshape(-1), minlength=view.num_nodes)
    untrained = [iri for iri, d in zip(iris, degree[rows].tolist()) if d == 0]
    if untrained:
        raise DataError(
            f"{len(untrained)} class(es) have no triple to train on"
            f"{' with relations ' + ', '.join(relations) if relations else ''}: {', '.join(untrained[:5])}"
        )
    return view, rows, triples, iris


@SEMANTICS.register("kge")
@dataclass(repr=False, eq=False)
class KGEmbedding(SemanticEncoder, KGESettings):
    """Class embeddings from a KG embedding (TransE, DistMult, ComplEx or RotatE) trained on the KG.

    Bordes et al., "Translating Embeddings for Modeling Multi-relational Data", NeurIPS 2013
    (TransE, ``f = -‖h̄ + r - t̄‖₁``); Yang et al., ICLR 2015 (DistMult, ``f = Σᵢ hᵢ rᵢ tᵢ``);
    Trouillon et al., ICML 2016 (ComplEx, ``f = Re Σᵢ hᵢ rᵢ conj(tᵢ)``); Sun et al., ICLR 2019
    (RotatE, ``f = γ - ‖h ∘ r - t‖₂``, ``|rᵢ| = 1``).

    The model is trained on every triple of the KG whose object is not a literal (those of
    ``relations`` only, when given) by :func:`fit_kge`: negative sampling, margin loss
    (TransE, DistMult) or logistic loss (ComplEx, RotatE), Adam, early stopping on the
    filtered MRR of held-out validation triples. The entity index is built from all triples.
    A class's embedding is its entity's vector (:func:`entity_embeddings`; ComplEx and
    RotatE: real then imaginary parts), the class found by
    :func:`~kgzsl.knowledge.alignment.align_classes`.

    After :meth:`encode`, ``metrics_`` holds the filtered link-prediction figures on the
    held-out test triples (``kge/mrr``, ``kge/hits@1``, ``kge/hits@3``, ``kge/hits@10``), the
    untrained model's ``kge/random_mrr``, ``kge/valid_mrr``, ``kge/epochs`` (epochs run),
    ``kge/best_epoch`` and the triple counts; ``entity_ids_`` and ``entity_embeddings_``
    hold every entity's vector, ``model_`` the trained model (on the CPU) and
    ``epoch_seconds_`` the mean training time of an epoch.

    Args:
        model, dim, epochs, batch_size, lr, num_negatives, margin, valid_fraction,
            test_fraction, eval_every, patience: see :class:`KGESettings`.
        seed: seed of the initialisation, the split, the batches and the negatives; ``None``:
            the run's.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...; ``None``: the run's.
        relations: relations to train on (IRIs, prefixed or local names); all by default.
        namespace: match the dataset's classes only to entities in this namespace.
        normalize: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.

    Shapes:
        returns: ``[C, dim]`` (TransE, DistMult) or ``[C, 2·dim]`` (ComplEx, RotatE).
    """

    requires_knowledge = True

    seed: int | None = None
    device: str | None = None
    relations: list[str] | None = None
    namespace: str | None = None
    normalize: Literal["l2", "none", "zscore"] = "l2"

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        if kg is None:
            raise ConfigError("semantics 'kge' needs a knowledge source (config section 'knowledge')")
        self.metrics_ = {}
        view, rows, triples, iris = class_triples(kg, dataset.class_ids, self.relations, self.namespace)
        fit = fit_kge(
            triples,
            view.num_nodes,
            max(view.num_relations, 1),
            self,
            seed=self.seed,
            device=self.device,
            context=context,
        )
        self.metrics_ = {f"kge/{k}": v for k, v in fit.metrics.items()}
        self.epoch_seconds_ = fit.epoch_seconds
        self.model_ = fit.model.cpu()
        entities = entity_embeddings(self.model_)
        self.entity_ids_ = view.node_ids
        self.entity_embeddings_ = entities.numpy()
        matrix = normalize_rows(entities[rows].numpy(), self.normalize)
        if self.model in ("complex", "rotate"):
            columns = [f"{self.model}_{part}{i}" for part in ("re", "im") for i in range(self.dim)]
        else:
            columns = [f"{self.model}_{i}" for i in range(self.dim)]
        return ClassEmbeddings(matrix, list(dataset.class_ids), columns)
