"""Link prediction on a KG's triples: the split, filtered ranking, negative sampling and one
training loop with early stopping, shared by the encoders that learn from the KG's structure
(KG embeddings in :mod:`kgzsl.semantics.kge`, the R-GCN in :mod:`kgzsl.semantics.rgcn`).

The protocol is Bordes et al.'s ("Translating Embeddings for Modeling Multi-relational Data",
NeurIPS 2013): held-out triples, each giving a tail query ``(h, r, ?)`` and a head query
``(?, r, t)``; the true answer is ranked among every entity with the other known true answers
removed ("filtered"); MRR and Hits@k summarise the ranks. Training draws uniform corruptions
of the head or the tail; the loop keeps the parameters of the best validation MRR and stops
after ``patience`` evaluations without improvement. A model plugs in with its loss on a batch
of triples and its negatives, and a function scoring every candidate entity of a batch of
queries (:data:`Scorer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from kgzsl.context import current_context
from kgzsl.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch

    from kgzsl.context import RunContext

__all__ = [
    "HITS_AT",
    "LinkPredSettings",
    "TripleSplit",
    "LinkPredRun",
    "Scorer",
    "split_triples",
    "KnownTriples",
    "filtered_ranks",
    "rank_metrics",
    "ranking_metrics",
    "sample_negatives",
    "train_link_predictor",
]

#: Hits@k cut-offs reported
HITS_AT = (1, 3, 10)

#: ``scorer(anchor [B], rel [B], side) → [B, N]``: the score of every entity as the missing
#: ``side`` (``"tail"`` of ``(anchor, rel, ?)`` or ``"head"`` of ``(?, rel, anchor)``), higher better
Scorer = Callable[["torch.Tensor", "torch.Tensor", str], "torch.Tensor"]


@dataclass(eq=False)
class LinkPredSettings:
    """The settings of :func:`train_link_predictor` (a component's settings of the same names).

    Args:
        epochs: most training epochs (``≥ 0``).
        batch_size: training triples per step (and queries per evaluation batch).
        lr: Adam learning rate.
        num_negatives: corrupted triples per training triple.
        valid_fraction: share of triples held out for early stopping.
        test_fraction: share of triples held out for the link-prediction figures.
        eval_every: epochs between validation evaluations.
        patience: evaluations without improvement before stopping.
    """

    epochs: int
    batch_size: int
    lr: float
    num_negatives: int
    valid_fraction: float
    test_fraction: float
    eval_every: int
    patience: int

    @classmethod
    def of(cls, settings: Any) -> LinkPredSettings:
        """The loop's settings read from an object (a component or its settings) with attributes of the same names."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def check(self) -> None:
        """One :class:`ConfigError` naming the first setting out of range."""
        for name in ("batch_size", "num_negatives", "eval_every", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.epochs < 0:
            raise ConfigError(f"epochs must be ≥ 0, not {self.epochs}")
        if not self.lr >= 0:
            raise ConfigError(f"lr must be ≥ 0, not {self.lr}")
        if not (
            0 <= self.valid_fraction < 1
            and 0 <= self.test_fraction < 1
            and self.valid_fraction + self.test_fraction < 1
        ):
            raise ConfigError(
                f"valid_fraction ({self.valid_fraction}) and test_fraction ({self.test_fraction}) must be in [0, 1)"
                " and sum to less than 1"
            )


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


def ranking_metrics(
    scorer: Scorer,
    triples: torch.Tensor,
    known: KnownTriples,
    batch_size: int = 1024,
    ties: Literal["average", "pessimistic", "optimistic"] = "average",
) -> dict[str, float]:
    """Filtered link prediction: rank the true tail of ``(h, r, ?)`` and the true head of ``(?, r, t)``.

    Every triple gives two queries; MRR and Hits@1/3/10 average over all ``2·T`` ranks
    (:func:`filtered_ranks`, filtered with ``known``). The caller puts its model in eval mode.

    Shapes:
        triples: ``[T, 3]`` int64 on the scorer's device.
    """
    import torch

    ranks = []
    with torch.no_grad():
        for batch in triples.split(max(1, batch_size)):
            h, r, t = batch[:, 0], batch[:, 1], batch[:, 2]
            for side, anchor, target in (("tail", h, t), ("head", t, h)):
                scores = scorer(anchor, r, side)
                rows, cols = known.answers(anchor, r, side)
                ranks.append(filtered_ranks(scores, target, rows, cols, ties))
    return rank_metrics(torch.cat(ranks))


def sample_negatives(
    h: torch.Tensor, t: torch.Tensor, k: int, num_entities: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` corruptions per triple: the head or the tail (each with probability ½) replaced uniformly.

    Not filtered (a corruption may be a true triple), as in Bordes et al. 2013.

    Shapes:
        h, t: ``[B]``; returns ``h_neg, t_neg``: ``[B, k]``.
    """
    import torch

    shape = (len(h), k)
    corrupt_head = torch.rand(shape, generator=gen, device=h.device) < 0.5
    other = torch.randint(num_entities, shape, generator=gen, device=h.device)
    h_neg = torch.where(corrupt_head, other, h[:, None])
    t_neg = torch.where(corrupt_head, t[:, None], other)
    return h_neg, t_neg


@dataclass
class TripleSplit:
    """All triples on one device, their training / validation / test split and the filter index.

    Shapes:
        triples: ``[T, 3]``; train, valid, test: ``[T_*, 3]`` int64.
    """

    triples: torch.Tensor
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    known: KnownTriples

    @classmethod
    def make(
        cls, triples: torch.Tensor, num_relations: int, settings: LinkPredSettings, seed: int, device: Any
    ) -> TripleSplit:
        """Move ``triples`` to ``device`` and split them (:func:`split_triples`) with ``seed``."""
        if len(triples) == 0:
            raise DataError("no triples to train on")
        triples = triples.to(device)
        train, valid, test = split_triples(triples, settings.valid_fraction, settings.test_fraction, seed)
        return cls(triples, train, valid, test, KnownTriples(triples, num_relations))

    def counts(self) -> dict[str, float]:
        return {
            "train_triples": float(len(self.train)),
            "valid_triples": float(len(self.valid)),
            "test_triples": float(len(self.test)),
        }


@dataclass
class LinkPredRun:
    """What :func:`train_link_predictor` measured.

    ``metrics``: the triple counts, ``random_mrr`` (the untrained model's test MRR) and
    ``mrr``, ``hits@1/3/10`` (when there are test triples), ``valid_mrr`` (when there are
    validation triples), ``epochs`` (run) and ``best_epoch``. ``history``: ``(epoch,
    validation MRR)`` of each evaluation. ``epoch_seconds``: mean training time of an epoch
    (without the evaluations).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    history: list[tuple[int, float]] = field(default_factory=list)
    epoch_seconds: float = 0.0


def train_link_predictor(
    module: torch.nn.Module,
    split: TripleSplit,
    batch_loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    scorer: Callable[[], Scorer],
    num_entities: int,
    settings: LinkPredSettings,
    gen: torch.Generator,
    context: RunContext | None = None,
    desc: str = "link prediction",
) -> LinkPredRun:
    """Train ``module`` with negative sampling and Adam; early stopping on the validation MRR.

    Each epoch takes mini-batches of ``batch_size`` triples of a permutation of the training
    triples drawn from ``gen``; for each batch, ``num_negatives`` corruptions per triple
    (:func:`sample_negatives`, from ``gen``) and the step on ``batch_loss(h, r, t, h_neg, t_neg)``
    (``[B]``, ``[B]``, ``[B]``, ``[B, k]``, ``[B, k]``). Every ``eval_every`` epochs (and at
    epoch 0 and the last one) the filtered validation MRR is measured
    (:func:`ranking_metrics` with ``scorer()``, built in eval mode without gradients); the
    best parameters are kept and training stops after ``patience`` evaluations without a
    strict improvement. The untrained model's test MRR is the floor ``random_mrr``. On return
    ``module`` holds the best parameters, in eval mode.

    Args:
        module: the parameters trained (its state is what early stopping keeps).
        split: the triples and their split (:meth:`TripleSplit.make`).
        batch_loss: the loss of a batch and its negatives (a scalar tensor).
        scorer: builds the all-candidate scoring of the module's current parameters.
        num_entities: the entities negatives are drawn from.
        settings: epochs, batch size, learning rate ... (checked first).
        gen: the generator of the batches and negatives (on the training device).
        context: the run's progress setting for the bar over epochs (``None``: the active run's).
        desc: the bar's label.
    """
    import torch

    settings.check()
    ctx = current_context(context)
    train, valid, test = split.train, split.valid, split.test
    dev = split.triples.device
    opt = torch.optim.Adam(module.parameters(), lr=settings.lr)
    eval_rows = max(1, min(settings.batch_size, 2**24 // max(num_entities, 1)))  # ≤ 16M scores at once
    k = settings.num_negatives

    def evaluate(which: torch.Tensor) -> dict[str, float]:
        module.eval()
        with torch.no_grad():
            return ranking_metrics(scorer(), which, split.known, eval_rows)

    metrics = split.counts()
    if len(test):
        metrics["random_mrr"] = evaluate(test)["mrr"]
    history: list[tuple[int, float]] = []
    best_mrr, best_epoch, stale = -1.0, 0, 0
    best_state = {key: v.detach().clone() for key, v in module.state_dict().items()}
    if len(valid):
        best_mrr = evaluate(valid)["mrr"]
        history.append((0, best_mrr))

    epoch, train_seconds = 0, 0.0
    bar = ctx.bar(range(1, settings.epochs + 1), desc=desc, unit="epoch")
    for epoch in bar:
        started = time.perf_counter()
        module.train()
        order = torch.randperm(len(train), generator=gen, device=dev)
        total = torch.zeros((), device=dev)
        for start in range(0, len(train), settings.batch_size):
            batch = train[order[start : start + settings.batch_size]]
            h, r, t = batch[:, 0], batch[:, 1], batch[:, 2]
            h_neg, t_neg = sample_negatives(h, t, k, num_entities, gen)
            loss = batch_loss(h, r, t, h_neg, t_neg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(batch)
        train_seconds += time.perf_counter() - started
        postfix = {"loss": f"{float(total) / len(train):.4f}"}
        if len(valid) and (epoch % settings.eval_every == 0 or epoch == settings.epochs):
            mrr = evaluate(valid)["mrr"]
            history.append((epoch, mrr))
            if mrr > best_mrr:
                best_mrr, best_epoch, stale = mrr, epoch, 0
                best_state = {key: v.detach().clone() for key, v in module.state_dict().items()}
            else:
                stale += 1
        if history:
            postfix["valid_mrr"] = f"{history[-1][1]:.4f}"
        bar.set_postfix(postfix)
        if stale >= settings.patience:
            break
    bar.close()
    if len(valid):
        module.load_state_dict(best_state)
        metrics["valid_mrr"] = best_mrr
    else:
        best_epoch = epoch
    module.eval()
    metrics["epochs"] = float(epoch)
    metrics["best_epoch"] = float(best_epoch)
    if len(test):
        metrics.update(evaluate(test))
    module.eval()
    return LinkPredRun(metrics, history, train_seconds / max(epoch, 1))
