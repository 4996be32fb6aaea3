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
filtered ranking needs (one matrix operation per batch of queries), seeded negative sampling
with any number of negatives, and the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows
from kgzsl.utils import resolve_device

if TYPE_CHECKING:
    import torch

    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "KGE_MODELS",
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

#: Hits@k cut-offs reported
HITS_AT = (1, 3, 10)


def build_kge_model(name: str, num_entities: int, num_relations: int, dim: int, margin: float = 1.0) -> torch.nn.Module:
    """A freshly initialised ``torch_geometric.nn.kge`` model (initialised from torch's global RNG).

    ``margin`` is TransE's and DistMult's ranking margin, and RotatE's ``γ``.
    """
    from torch_geometric.nn.kge import ComplEx, DistMult, RotatE, TransE

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

    Shapes:
        anchor, rel: ``[B]`` int64.
        returns: ``[B, N]`` scores, ``N`` = number of entities.
    """
    import torch
    import torch.nn.functional as F

    if side not in ("head", "tail"):
        raise ValueError(f"side must be 'head' or 'tail', not {side!r}")
    name = _model_name(model)
    ent = model.node_emb.weight
    a = model.node_emb(anchor)
    r = model.rel_emb(rel)
    if name == "transe":
        ent_n = F.normalize(ent, p=model.p_norm, dim=-1)
        a = F.normalize(a, p=model.p_norm, dim=-1)
        query = a + r if side == "tail" else a - r
        return -torch.cdist(query, ent_n, p=model.p_norm)
    if name == "distmult":
        return (a * r) @ ent.T
    if name == "complex":
        a_im, r_im = model.node_emb_im(anchor), model.rel_emb_im(rel)
        if side == "head":
            r_im = -r_im  # Re<h, r, conj(t)> = Re<h, conj(conj(r) t)>: the head pairs with t ⊙ conj(r)
        q_re = a * r - a_im * r_im
        q_im = a_im * r + a * r_im
        return q_re @ ent.T + q_im @ model.node_emb_im.weight.T
    # rotate
    a_im = model.node_emb_im(anchor)
    cos, sin = torch.cos(r), torch.sin(r)
    if side == "head":
        sin = -sin
    q = torch.cat([cos * a - sin * a_im, cos * a_im + sin * a], dim=-1)
    ent_c = torch.cat([ent, model.node_emb_im.weight], dim=-1)
    return model.margin - torch.cdist(q, ent_c, p=2)


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


class KnownTriples:
    """Index of the true triples, for filtered ranking: the known tails of ``(h, r, ?)`` and heads of ``(?, r, t)``.

    Built once from all triples (training, validation and test): keys ``h·R + r`` (and
    ``t·R + r``) are sorted, so the known answers of a batch of queries are found with two
    ``searchsorted`` calls and gathered without a Python loop.

    Shapes:
        triples: ``[T, 3]`` int64 ``(head, relation, tail)`` rows.
    """

    def __init__(self, triples: torch.Tensor, num_relations: int) -> None:
        import torch

        h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
        self.num_relations = num_relations
        tail_key, order = torch.sort(h * num_relations + r, stable=True)
        self._tail_keys, self._tails = tail_key, t[order]
        head_key, order = torch.sort(t * num_relations + r, stable=True)
        self._head_keys, self._heads = head_key, h[order]

    @staticmethod
    def _lookup(keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        start = torch.searchsorted(keys, query, side="left")
        count = torch.searchsorted(keys, query, side="right") - start
        rows = torch.repeat_interleave(torch.arange(len(query), device=query.device), count)
        # position of each answer within its query's run of keys
        first = torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        offset = torch.arange(len(rows), device=query.device) - first
        return rows, values[start[rows] + offset]

    def answers(self, anchor: torch.Tensor, rel: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(row, entity)`` pairs: for each query ``i``, every known true ``entity`` of ``side``.

        Shapes:
            anchor, rel: ``[B]`` int64 (the head of tail queries, the tail of head queries).
            returns: two ``[M]`` int64 tensors, ``M`` = number of known answers of the batch.
        """
        query = anchor * self.num_relations + rel
        if side == "tail":
            return self._lookup(self._tail_keys, self._tails, query)
        if side == "head":
            return self._lookup(self._head_keys, self._heads, query)
        raise ValueError(f"side must be 'head' or 'tail', not {side!r}")


def filtered_ranks(
    scores: torch.Tensor,
    target: torch.Tensor,
    known_rows: torch.Tensor | None = None,
    known_cols: torch.Tensor | None = None,
    ties: Literal["average", "pessimistic", "optimistic"] = "average",
) -> torch.Tensor:
    """The rank of each query's true answer among all candidates, other known answers removed.

    Bordes et al. 2013's "filtered" setting: a candidate that makes another true triple is
    not an error, so the entries ``(known_rows, known_cols)`` (which may include the target
    itself) are removed before ranking. With ``g`` candidates scoring higher and ``e`` others
    scoring the same as the target:

    * ``average`` (default): ``1 + g + e/2``, the expected rank under a random order of
      the tied candidates, so a model that scores everything the same gets the random
      model's rank, not rank 1;
    * ``pessimistic``: ``1 + g + e``; ``optimistic``: ``1 + g``.

    Shapes:
        scores: ``[B, N]``, higher is better.
        target: ``[B]`` int64, the true candidate of each query.
        known_rows, known_cols: ``[M]`` int64, candidates to remove.
        returns: ``[B]`` float ranks (1 is best).
    """
    import torch

    true = scores.gather(1, target[:, None])
    if known_rows is not None and known_cols is not None and len(known_rows):
        scores = scores.index_put((known_rows, known_cols), torch.tensor(-torch.inf, device=scores.device))
    # the target never competes with itself, whether or not it was among the known answers
    scores = scores.scatter(1, target[:, None], -torch.inf)
    greater = (scores > true).sum(1).to(torch.float64)
    equal = (scores == true).sum(1).to(torch.float64)
    if ties == "average":
        return 1.0 + greater + 0.5 * equal
    if ties == "pessimistic":
        return 1.0 + greater + equal
    if ties == "optimistic":
        return 1.0 + greater
    raise ValueError(f"ties must be 'average', 'pessimistic' or 'optimistic', not {ties!r}")


def rank_metrics(ranks: torch.Tensor) -> dict[str, float]:
    """``mrr`` (mean of 1 / rank) and ``hits@k`` (share of ranks ≤ k) for k in 1, 3, 10."""
    ranks = ranks.double()
    out = {"mrr": float((1.0 / ranks).mean())}
    for k in HITS_AT:
        out[f"hits@{k}"] = float((ranks <= k).double().mean())
    return out


def link_prediction(
    model: torch.nn.Module,
    triples: torch.Tensor,
    known: KnownTriples,
    batch_size: int = 1024,
    ties: Literal["average", "pessimistic", "optimistic"] = "average",
) -> dict[str, float]:
    """Filtered link prediction: rank the true tail of ``(h, r, ?)`` and the true head of ``(?, r, t)``.

    Every triple gives two queries; MRR and Hits@1/3/10 average over all ``2·T`` ranks
    (:func:`filtered_ranks`, filtered with ``known``).

    Shapes:
        triples: ``[T, 3]`` int64 on the model's device.
    """
    import torch

    was_training = model.training
    model.eval()
    ranks = []
    with torch.no_grad():
        for batch in triples.split(max(1, batch_size)):
            h, r, t = batch[:, 0], batch[:, 1], batch[:, 2]
            for side, anchor, target in (("tail", h, t), ("head", t, h)):
                scores = score_candidates(model, anchor, r, side)
                rows, cols = known.answers(anchor, r, side)
                ranks.append(filtered_ranks(scores, target, rows, cols, ties))
    model.train(was_training)
    return rank_metrics(torch.cat(ranks))


def split_triples(
    triples: torch.Tensor, valid_fraction: float, test_fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded random split of the triples into training, validation and test triples.

    ``round(fraction · T)`` triples (at least one when the fraction is positive) are drawn for
    each held-out set. A drawn triple whose head, tail or relation has no other training
    triple is put back into training: held-out triples then only ask about entities and
    relations the model was trained on, and no entity loses all of its training triples (the
    entity index is built from all triples, so every entity keeps its row either way). The
    realised held-out sets can therefore be smaller than asked (on a tree-shaped KG much
    smaller: a leaf's only triple is never held out).

    Shapes:
        triples: ``[T, 3]`` int64 ``(head, relation, tail)``.
        returns: ``[T_train, 3]``, ``[T_valid, 3]``, ``[T_test, 3]``; together a permutation of ``triples``.
    """
    import torch

    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise ConfigError(
            f"valid_fraction ({valid_fraction}) and test_fraction ({test_fraction}) must be in [0, 1)"
            " and sum to less than 1"
        )
    n = len(triples)

    def count(fraction: float) -> int:
        return max(1, round(fraction * n)) if fraction > 0 and n > 2 else 0

    n_valid, n_test = count(valid_fraction), count(test_fraction)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(triples.device)
    shuffled = triples[perm]
    held, train = shuffled[: n_valid + n_test], shuffled[n_valid + n_test :]
    n_ent = int(triples[:, [0, 2]].max()) + 1 if n else 0
    n_rel = int(triples[:, 1].max()) + 1 if n else 0
    ent_seen = torch.zeros(n_ent, dtype=torch.bool, device=triples.device)
    ent_seen[train[:, 0]] = True
    ent_seen[train[:, 2]] = True
    rel_seen = torch.zeros(n_rel, dtype=torch.bool, device=triples.device)
    rel_seen[train[:, 1]] = True
    ok = ent_seen[held[:, 0]] & ent_seen[held[:, 2]] & rel_seen[held[:, 1]]
    train = torch.cat([train, held[~ok]])
    is_valid = torch.arange(len(held), device=triples.device) < n_valid
    return train, held[ok & is_valid], held[ok & ~is_valid]


@dataclass
class KGEFit:
    """A trained KG embedding and what was measured while training it (see :func:`fit_kge`)."""

    model: torch.nn.Module
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[tuple[int, float]] = field(default_factory=list)


def _negatives(
    h: torch.Tensor, t: torch.Tensor, k: int, num_entities: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` corruptions per triple: the head or the tail (each with probability ½) replaced uniformly."""
    import torch

    shape = (len(h), k)
    corrupt_head = torch.rand(shape, generator=gen, device=h.device) < 0.5
    other = torch.randint(num_entities, shape, generator=gen, device=h.device)
    h_neg = torch.where(corrupt_head, other, h[:, None])
    t_neg = torch.where(corrupt_head, t[:, None], other)
    return h_neg, t_neg


def fit_kge(
    triples: torch.Tensor,
    num_entities: int,
    num_relations: int,
    model: str = "transe",
    dim: int = 100,
    epochs: int = 200,
    batch_size: int = 1024,
    lr: float = 0.01,
    num_negatives: int = 1,
    margin: float = 1.0,
    valid_fraction: float = 0.05,
    test_fraction: float = 0.05,
    eval_every: int = 10,
    patience: int = 3,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
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

    Adam on mini-batches of a seeded permutation of the training triples. Every ``eval_every``
    epochs (and at epoch 0 and the last one) the filtered validation MRR is measured; the best
    parameters are kept, and training stops after ``patience`` evaluations without a strict
    improvement. The untrained model's test MRR is the floor ``random_mrr``.

    Args:
        triples: all ``(head, relation, tail)`` index triples; split with :func:`split_triples`.
        num_entities, num_relations: sizes of the indices (entities without triples keep
            their initial embedding).
        progress: show a tqdm bar over epochs (loss, last validation MRR).
        Other arguments: as in :class:`KGEmbedding`.

    Returns:
        :class:`KGEFit` with ``metrics``: ``mrr``, ``hits@1``, ``hits@3``, ``hits@10`` and
        ``random_mrr`` (when there are test triples), ``valid_mrr`` (when there are
        validation triples), ``epochs`` (epochs run), ``best_epoch`` and the triple counts.

    Shapes:
        triples: ``[T, 3]`` int64.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    if model not in KGE_MODELS:
        raise ConfigError(f"unknown KG embedding model {model!r}; valid: {', '.join(KGE_MODELS)}")
    for name, value in (("dim", dim), ("batch_size", batch_size), ("num_negatives", num_negatives)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, not {value}")
    if epochs < 0 or eval_every < 1 or patience < 1:
        raise ConfigError("epochs must be ≥ 0, eval_every and patience ≥ 1")
    if len(triples) == 0:
        raise DataError("no triples to train a KG embedding on")
    dev = resolve_device(device)
    triples = triples.to(dev)
    train, valid, test = split_triples(triples, valid_fraction, test_fraction, seed)
    known = KnownTriples(triples, num_relations)

    # initialised on the CPU from a forked, seeded RNG: the same numbers on any device, and
    # the caller's global RNG state is left alone
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kge = build_kge_model(model, num_entities, num_relations, dim, margin)
    kge = kge.to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed + 1)
    opt = torch.optim.Adam(kge.parameters(), lr=lr)
    margin_loss = KGE_MODELS[model]
    eval_rows = max(1, min(batch_size, 2**24 // max(num_entities, 1)))  # ≤ 16M scores at once

    metrics: dict[str, float] = {
        "train_triples": float(len(train)),
        "valid_triples": float(len(valid)),
        "test_triples": float(len(test)),
    }
    if len(test):
        metrics["random_mrr"] = link_prediction(kge, test, known, eval_rows)["mrr"]
    history: list[tuple[int, float]] = []
    best_mrr, best_epoch, stale = -1.0, 0, 0
    best_state = {k: v.detach().clone() for k, v in kge.state_dict().items()}
    if len(valid):
        best_mrr = link_prediction(kge, valid, known, eval_rows)["mrr"]
        history.append((0, best_mrr))

    epoch = 0
    bar = tqdm(range(1, epochs + 1), disable=not progress, desc=f"kge {model}", unit="epoch", leave=False)
    for epoch in bar:
        kge.train()
        order = torch.randperm(len(train), generator=gen, device=dev)
        total = torch.zeros((), device=dev)
        for start in range(0, len(train), batch_size):
            batch = train[order[start : start + batch_size]]
            h, r, t = batch[:, 0], batch[:, 1], batch[:, 2]
            h_neg, t_neg = _negatives(h, t, num_negatives, num_entities, gen)
            pos = kge(h, r, t)
            neg = kge(h_neg.reshape(-1), r.repeat_interleave(num_negatives), t_neg.reshape(-1))
            neg = neg.view(len(batch), num_negatives)
            if margin_loss:
                loss = F.relu(margin - pos[:, None] + neg).mean()
            else:
                loss = 0.5 * (F.softplus(-pos).mean() + F.softplus(neg).mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(batch)
        postfix = {"loss": f"{float(total) / len(train):.4f}"}
        if len(valid) and (epoch % eval_every == 0 or epoch == epochs):
            mrr = link_prediction(kge, valid, known, eval_rows)["mrr"]
            history.append((epoch, mrr))
            if mrr > best_mrr:
                best_mrr, best_epoch, stale = mrr, epoch, 0
                best_state = {k: v.detach().clone() for k, v in kge.state_dict().items()}
            else:
                stale += 1
        if history:
            postfix["valid_mrr"] = f"{history[-1][1]:.4f}"
        bar.set_postfix(postfix)
        if stale >= patience:
            break
    bar.close()
    if len(valid):
        kge.load_state_dict(best_state)
        metrics["valid_mrr"] = best_mrr
    else:
        best_epoch = epoch
    kge.eval()
    metrics["epochs"] = float(epoch)
    metrics["best_epoch"] = float(best_epoch)
    if len(test):
        metrics.update(link_prediction(kge, test, known, eval_rows))
    return KGEFit(kge, metrics, history)


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
class KGEmbedding(SemanticEncoder):
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
    hold every entity's vector.

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
        seed: seed of the initialisation, the split, the batches and the negatives.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...
        relations: relations to train on (IRIs, prefixed or local names); all by default.
        namespace: match the dataset's classes only to entities in this namespace.
        normalize: ``l2`` (unit rows), ``zscore`` (standardised columns) or ``none``.

    Shapes:
        returns: ``[C, dim]`` (TransE, DistMult) or ``[C, 2·dim]`` (ComplEx, RotatE).
    """

    def __init__(
        self,
        model: Literal["transe", "distmult", "complex", "rotate"] = "transe",
        dim: int = 100,
        epochs: int = 200,
        batch_size: int = 1024,
        lr: float = 0.01,
        num_negatives: int = 1,
        margin: float = 1.0,
        valid_fraction: float = 0.05,
        test_fraction: float = 0.05,
        eval_every: int = 10,
        patience: int = 3,
        seed: int = 0,
        device: str = "auto",
        relations: list[str] | None = None,
        namespace: str | None = None,
        normalize: Literal["l2", "none", "zscore"] = "l2",
    ) -> None:
        self.model = model
        self.dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.num_negatives = num_negatives
        self.margin = margin
        self.valid_fraction = valid_fraction
        self.test_fraction = test_fraction
        self.eval_every = eval_every
        self.patience = patience
        self.seed = seed
        self.device = device
        self.relations = relations
        self.namespace = namespace
        self.normalize = normalize

    def encode(self, kg: KnowledgeGraph | None, dataset: ZSLDataset, progress: bool = True) -> ClassEmbeddings:

        if kg is None:
            raise ConfigError("semantics 'kge' needs a knowledge source (config section 'knowledge')")
        self.metrics_ = {}
        view, rows, triples, iris = class_triples(kg, dataset.class_ids, self.relations, self.namespace)
        fit = fit_kge(
            triples,
            view.num_nodes,
            max(view.num_relations, 1),
            model=self.model,
            dim=self.dim,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            num_negatives=self.num_negatives,
            margin=self.margin,
            valid_fraction=self.valid_fraction,
            test_fraction=self.test_fraction,
            eval_every=self.eval_every,
            patience=self.patience,
            seed=self.seed,
            device=self.device,
            progress=progress,
        )
        self.metrics_ = {f"kge/{k}": v for k, v in fit.metrics.items()}
        entities = entity_embeddings(fit.model).cpu()
        self.entity_ids_ = view.node_ids
        self.entity_embeddings_ = entities.numpy()
        matrix = normalize_rows(entities[rows].numpy(), self.normalize)
        if self.model in ("complex", "rotate"):
            columns = [f"{self.model}_{part}{i}" for part in ("re", "im") for i in range(self.dim)]
        else:
            columns = [f"{self.model}_{i}" for i in range(self.dim)]
        return ClassEmbeddings(matrix, list(dataset.class_ids), columns)
