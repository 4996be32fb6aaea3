"""R-GCN node representations, trained for link prediction on the KG, as class semantics.

Schlichtkrull et al., "Modeling Relational Data with Graph Convolutional Networks", ESWC 2018.
An R-GCN encoder propagates over the whole multi-relational graph (every relation and its
inverse, the self-connection as a separate weight),

    h_i^{(l+1)} = σ( W_0^{(l)} h_i^{(l)} + Σ_r Σ_{j ∈ N_i^r} (1 / |N_i^r|) W_r^{(l)} h_j^{(l)} ),

with the relation weights regularised by basis decomposition ``W_r = Σ_b a_{rb} V_b`` or
block-diagonal decomposition ``W_r = diag(Q_{1r}, …, Q_{Br})``; a DistMult decoder scores a
triple from the encoder's output, ``f(s, r, o) = e_sᵀ R_r e_o`` with ``R_r`` diagonal. The
model is trained as in the paper's link-prediction experiments: logistic loss on the training
triples and sampled corruptions, full-graph message passing at every step. Messages only flow
along training edges: validation and test triples are removed from the graph, so ranking them
does not see them.

The class semantics are the encoder's output rows of the dataset's classes. The held-out
evaluation (filtered MRR and Hits@k, the untrained model's MRR as a floor) reuses
:mod:`kgzsl.semantics.kge`'s split, filtering and ranking.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import torch

from kgzsl.context import current_context
from kgzsl.errors import ConfigError, DataError
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows, quiet_import
from kgzsl.semantics.kge import build_kge_model, class_triples, score_candidates
from kgzsl.semantics.linkpred import LinkPredSettings, TripleSplit, train_link_predictor

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "RGCNSettings",
    "RGCNLinkPredictor",
    "build_rgcn_model",
    "RGCNFit",
    "RGCNEncoder",
    "message_graph",
    "fit_rgcn",
]


def message_graph(triples: torch.Tensor, num_relations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The edges R-GCN passes messages along: each triple ``s → o`` of type ``r``, and ``o → s`` of type ``r + R``.

    The relation numbering is :func:`~kgzsl.knowledge.views.to_pyg`'s with
    ``add_inverse=True``; self-connections are R-GCN's root weight, not edges.

    Shapes:
        triples: ``[T, 3]`` int64 ``(head, relation, tail)``.
        returns: ``edge_index [2, 2T]``, ``edge_type [2T]``.
    """
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    edge_index = torch.stack([torch.cat([h, t]), torch.cat([t, h])])
    return edge_index, torch.cat([r, r + num_relations])


class _Dropout:
    """Inverted dropout drawn from an explicit generator, so training does not touch torch's global RNG."""

    def __init__(self, p: float, gen: torch.Generator) -> None:
        self.p, self.gen = p, gen

    def __call__(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        if not training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.gen, device=x.device) >= self.p
        return x * keep / (1.0 - self.p)


class RGCNLinkPredictor(torch.nn.Module):
    """R-GCN encoder over learned node embeddings, DistMult decoder (Schlichtkrull et al. 2018).

    ``layers`` R-GCN layers of width ``hidden`` (ReLU between them, none after the last),
    over ``2R`` relation types (relations and inverses); ``num_bases`` bases (``basis``)
    or blocks (``block``, which must divide ``hidden``), ``None`` for full weights. A
    module-level class, so that a trained encoder pickles with its model.

    Shapes:
        encode: ``edge_index [2, E]``, ``edge_type [E]`` → ``[N, hidden]``.
        score: ``z [N, hidden]``, ``h, r, t [B]`` → ``[B]``.
    """

    def __init__(
        self,
        num_nodes: int,
        num_relations: int,
        hidden: int,
        layers: int,
        num_bases: int | None,
        decomposition: str,
    ) -> None:
        super().__init__()
        RGCNConv = quiet_import("torch_geometric.nn").RGCNConv

        self.node_emb = torch.nn.Embedding(num_nodes, hidden)
        torch.nn.init.xavier_uniform_(self.node_emb.weight)
        kw = {"num_blocks": num_bases} if decomposition == "block" else {"num_bases": num_bases}
        self.convs = torch.nn.ModuleList(
            RGCNConv(hidden, hidden, 2 * num_relations, aggr="mean", **kw) for _ in range(layers)
        )
        self.rel_diag = torch.nn.Embedding(num_relations, hidden)
        torch.nn.init.xavier_uniform_(self.rel_diag.weight)

    def encode(
        self, edge_index: torch.Tensor, edge_type: torch.Tensor, dropout: _Dropout | None = None
    ) -> torch.Tensor:
        x = self.node_emb.weight
        for i, conv in enumerate(self.convs):
            if dropout is not None:
                x = dropout(x, self.training)
            x = conv(x, edge_index, edge_type)
            if i < len(self.convs) - 1:
                x = torch.relu(x)
        return x

    def score(self, z: torch.Tensor, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (z[h] * self.rel_diag(r) * z[t]).sum(-1)


def build_rgcn_model(
    num_nodes: int,
    num_relations: int,
    hidden: int = 64,
    layers: int = 2,
    num_bases: int | None = 4,
    decomposition: Literal["basis", "block"] = "basis",
) -> torch.nn.Module:
    """A freshly initialised R-GCN link predictor (from torch's global RNG); ``num_relations`` without inverses.

    The model has ``encode(edge_index, edge_type) → [N, hidden]`` and
    ``score(z, h, r, t) → [B]`` (DistMult on the encoder's output).
    """
    return RGCNLinkPredictor(num_nodes, num_relations, hidden, layers, num_bases, decomposition)


@dataclass(eq=False)
class RGCNSettings:
    """The hyper-parameters of an R-GCN link predictor and its training (:func:`fit_rgcn`).

    Args:
        hidden: width of the node embeddings and of every layer.
        layers: R-GCN layers.
        num_bases: bases (``basis``) or blocks (``block``; must divide ``hidden``) of the
            relation weights; ``None``: a full matrix per relation (``basis`` only).
        decomposition: ``basis`` or ``block`` (block-diagonal).
        epochs: most training epochs.
        batch_size: training triples scored per step (and queries per evaluation batch).
        lr: Adam learning rate.
        num_negatives: corrupted triples per training triple.
        dropout: dropout on each layer's input during training.
        regularization: L2 penalty on the decoder's relation diagonals.
        valid_fraction: share of triples held out for early stopping.
        test_fraction: share of triples held out for the link-prediction figures.
        eval_every: epochs between validation evaluations.
        patience: evaluations without improvement before stopping.
    """

    hidden: int = 64
    layers: int = 2
    num_bases: int | None = 4
    decomposition: Literal["basis", "block"] = "basis"
    epochs: int = 50
    batch_size: int = 4096
    lr: float = 0.01
    num_negatives: int = 4
    dropout: float = 0.2
    regularization: float = 0.01
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    eval_every: int = 5
    patience: int = 3

    def check(self) -> None:
        """One :class:`ConfigError` naming the first setting out of range."""
        for name in ("hidden", "layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        LinkPredSettings.of(self).check()
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.decomposition not in ("basis", "block"):
            raise ConfigError(f"decomposition must be 'basis' or 'block', not {self.decomposition!r}")
        if self.num_bases is not None and self.num_bases < 1:
            raise ConfigError(f"num_bases must be at least 1 or None, not {self.num_bases}")
        if self.decomposition == "block" and (self.num_bases is None or self.hidden % self.num_bases):
            raise ConfigError(
                f"block-diagonal decomposition: num_bases ({self.num_bases}) must divide hidden ({self.hidden})"
            )


@dataclass
class RGCNFit:
    """A trained R-GCN, its node representations and what was measured (see :func:`fit_rgcn`).

    Shapes:
        embeddings: ``[N, hidden]``, the encoder's output over the training edges.
        edge_index, edge_type: ``[2, E]``, ``[E]``, the edges messages passed along
            (:func:`message_graph` of the training triples).
    """

    model: torch.nn.Module
    embeddings: torch.Tensor
    edge_index: torch.Tensor
    edge_type: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[tuple[int, float]] = field(default_factory=list)
    epoch_seconds: float = 0.0


def _distmult_snapshot(z: torch.Tensor, rel: torch.Tensor) -> torch.nn.Module:
    """A ``torch_geometric`` DistMult holding the R-GCN's output and relation diagonals.

    DistMult on top of the encoder's output is the R-GCN's decoder, so kge.py's all-candidate
    scoring and filtered ranking apply as they are.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        model = build_kge_model("distmult", z.shape[0], rel.shape[0], z.shape[1])
    model = model.to(z.device)
    with torch.no_grad():
        model.node_emb.weight.copy_(z)
        model.rel_emb.weight.copy_(rel)
    return model.eval()


def fit_rgcn(
    triples: torch.Tensor,
    num_nodes: int,
    num_relations: int,
    settings: RGCNSettings | None = None,
    *,
    seed: int | None = None,
    device: str | None = None,
    context: RunContext | None = None,
    **overrides: Any,
) -> RGCNFit:
    """Train an R-GCN + DistMult link predictor with negative sampling and early stopping.

    Schlichtkrull et al. 2018, section 4: with ``z = R-GCN(edges)`` recomputed over the whole
    training graph at every step, ``f(h, r, t) = Σᵢ z_hᵢ R_rᵢ z_tᵢ`` and ``k = num_negatives``
    corruptions per triple (head or tail, each with probability ½, replaced uniformly), the
    loss on a mini-batch ``B`` of training triples is the logistic loss

        L = ½ [mean_B softplus(-f(h, r, t)) + mean_{B×k} softplus(f(h', r, t'))]
            + λ · mean(R_r²),

    ``λ`` = ``regularization`` (the paper's L2 penalty on the decoder). Adam; dropout on the
    input of every layer. The loop (validation MRR every ``eval_every`` epochs, the best
    parameters kept, ``patience``) is :func:`~kgzsl.semantics.linkpred.train_link_predictor`,
    shared with the KG embeddings; the untrained model's test MRR is the floor ``random_mrr``.
    Messages pass along the training triples and their inverses only (:func:`message_graph`).

    Args:
        triples: all ``(head, relation, tail)`` index triples; split with
            :func:`~kgzsl.semantics.linkpred.split_triples`.
        num_nodes, num_relations: sizes of the indices (relations without inverses).
        settings: the hyper-parameters (:class:`RGCNSettings`; its defaults when ``None``).
        seed: seed of the initialisation, split, batches, negatives and dropout (``None``: the context's).
        device: where to train (``None``: the context's).
        context: the run's seed, device and progress setting (``None``: the active run's).
        overrides: settings to change, by name (``epochs=5``).

    Returns:
        :class:`RGCNFit`; ``metrics`` has ``mrr``, ``hits@1/3/10``, ``random_mrr`` (when there
        are test triples), ``valid_mrr``, ``epochs``, ``best_epoch``, the triple counts and
        ``message_edges`` (edges of the graph messages passed along).

    Shapes:
        triples: ``[T, 3]`` int64.
    """
    import torch.nn.functional as F

    s = replace(settings or RGCNSettings(), **overrides) if overrides else settings or RGCNSettings()
    s.check()
    if len(triples) == 0:
        raise DataError("no triples to train an R-GCN on")
    ctx = current_context(context)
    seed, dev = ctx.seed_for(seed), ctx.device_for(device)
    loop = LinkPredSettings.of(s)
    split = TripleSplit.make(triples, num_relations, loop, seed, dev)
    edge_index, edge_type = message_graph(split.train, num_relations)

    with torch.random.fork_rng(devices=[]):
        # initialised on the CPU from a seeded RNG: the same numbers on any device, the
        # caller's global RNG left alone
        torch.manual_seed(seed)
        model = build_rgcn_model(num_nodes, num_relations, s.hidden, s.layers, s.num_bases, s.decomposition)
    model = model.to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed + 1)
    drop = _Dropout(s.dropout, gen)
    k = s.num_negatives

    def batch_loss(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, h_neg: torch.Tensor, t_neg: torch.Tensor):
        z = model.encode(edge_index, edge_type, drop)
        pos = model.score(z, h, r, t)
        neg = model.score(z, h_neg.reshape(-1), r.repeat_interleave(k), t_neg.reshape(-1))
        loss = 0.5 * (F.softplus(-pos).mean() + F.softplus(neg).mean())
        return loss + s.regularization * model.rel_diag.weight.pow(2).mean()

    def scorer():
        # DistMult on the encoder's output is the decoder: kge.py's all-candidate scoring applies
        snapshot = _distmult_snapshot(model.encode(edge_index, edge_type), model.rel_diag.weight)
        return functools.partial(score_candidates, snapshot)

    run = train_link_predictor(model, split, batch_loss, scorer, num_nodes, loop, gen, ctx, desc="rgcn")
    run.metrics["message_edges"] = float(edge_index.shape[1])
    with torch.no_grad():
        z = model.encode(edge_index, edge_type)
    return RGCNFit(model, z, edge_index, edge_type, run.metrics, run.history, run.epoch_seconds)


@SEMANTICS.register("rgcn")
@dataclass(repr=False, eq=False)
class RGCNEncoder(SemanticEncoder, RGCNSettings):
    """Class embeddings from an R-GCN trained for link prediction on the KG.

    Schlichtkrull et al., "Modeling Relational Data with Graph Convolutional Networks", ESWC
    2018: ``h_i' = σ(W_0 h_i + Σ_r Σ_{j ∈ N_i^r} W_r h_j / |N_i^r|)`` with basis
    (``W_r = Σ_b a_{rb} V_b``) or block-diagonal decomposition, over every relation of the
    KG and its inverse (:func:`~kgzsl.knowledge.views.to_pyg`, literal objects dropped),
    learned node embeddings as inputs, DistMult decoder ``f(s, r, o) = Σᵢ e_sᵢ r_ᵢ e_oᵢ``.
    Trained self-supervised by :func:`fit_rgcn` (logistic loss with negative sampling,
    full-graph message passing at each step, early stopping on held-out triples, messages
    along training triples only). A class's embedding is its node's R-GCN output, the class
    found by :func:`~kgzsl.knowledge.alignment.align_classes`.

    After :meth:`encode`, ``metrics_`` holds the filtered link-prediction figures on the
    held-out test triples (``rgcn/mrr``, ``rgcn/hits@1``, ``rgcn/hits@3``, ``rgcn/hits@10``),
    the untrained model's ``rgcn/random_mrr``, ``rgcn/valid_mrr``, ``rgcn/epochs``,
    ``rgcn/best_epoch``, the triple counts and ``rgcn/message_edges``; ``entity_ids_`` and
    ``entity_embeddings_`` hold every node's output, ``model_`` the trained model (on the
    CPU), ``epoch_seconds_`` the mean training time of an epoch.

    Args:
        hidden, layers, num_bases, decomposition, epochs, batch_size, lr, num_negatives,
            dropout, regularization, valid_fraction, test_fraction, eval_every, patience: see
            :class:`RGCNSettings`.
        seed: seed of the initialisation, split, batches, negatives and dropout; ``None``: the run's.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...; ``None``: the run's.
        relations: relations to use (IRIs, prefixed or local names); all by default.
        namespace: match the dataset's classes only to entities in this namespace.
        normalize: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.

    Shapes:
        returns: ``[C, hidden]``.
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
            raise ConfigError("semantics 'rgcn' needs a knowledge source (config section 'knowledge')")
        self.metrics_ = {}
        # triples without inverses: the split is over triples, and message_graph adds the
        # inverse edges of the training triples only
        view, rows, triples, iris = class_triples(kg, dataset.class_ids, self.relations, self.namespace)
        fit = fit_rgcn(
            triples,
            view.num_nodes,
            max(view.num_relations, 1),
            self,
            seed=self.seed,
            device=self.device,
            context=context,
        )
        self.metrics_ = {f"rgcn/{k}": v for k, v in fit.metrics.items()}
        self.epoch_seconds_ = fit.epoch_seconds
        self.model_ = fit.model.cpu()
        entities = fit.embeddings.cpu()
        self.entity_ids_ = view.node_ids
        self.entity_embeddings_ = entities.numpy()
        matrix = normalize_rows(entities[rows].numpy(), self.normalize)
        return ClassEmbeddings(matrix, list(dataset.class_ids), [f"rgcn_{i}" for i in range(self.hidden)])
