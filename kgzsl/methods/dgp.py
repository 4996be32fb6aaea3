"""DGP: classifier weights propagated densely to every ancestor and descendant, with attention over hops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.gcnz import ClassGraph, WeightPropagation, _adjacency, sparse_csr
from kgzsl.registry import METHODS

if TYPE_CHECKING:
    from kgzsl.context import RunContext

__all__ = ["hop_masks", "row_normalised", "DenseGraphPropagation", "DGP"]


def hop_masks(edges: np.ndarray, n: int, max_hops: int) -> list[Any]:
    """``M_k[i, j] = 1`` iff ``j`` is an ancestor of ``i`` at shortest distance ``k`` (``M_0 = I``).

    Built by breadth-first steps on whole sparse matrices (one per hop, not per node): the
    ``k``-hop frontier is ``M_{k-1} A`` minus every node reached before. Ancestors farther than
    ``max_hops`` go to the last mask, as DGP merges its far hops. Descendant masks are the
    transposes.

    Shapes:
        edges: ``[2, E]`` child → parent; returns ``max_hops + 1`` scipy CSR ``[n, n]`` 0/1 matrices.
    """
    import scipy.sparse as sp

    a = _adjacency(edges, n)
    eye = sp.eye(n, dtype=np.float32, format="csr")
    masks, reached, frontier = [eye], eye.copy(), eye
    while frontier.nnz:
        nxt = (frontier @ a).tocsr()
        nxt.data[:] = 1.0
        nxt = (nxt - nxt.multiply(reached)).tocsr()
        nxt.eliminate_zeros()
        if not nxt.nnz:
            break
        reached = (reached + nxt).tocsr()
        if len(masks) <= max_hops:
            masks.append(nxt)
        else:
            masks[-1] = (masks[-1] + nxt).tocsr()
        frontier = nxt
    while len(masks) <= max_hops:
        masks.append(sp.csr_matrix((n, n), dtype=np.float32))
    return masks


def row_normalised(mask: Any, device: Any) -> torch.Tensor:
    """``D⁻¹ M`` (rows summing to 1, empty rows left empty) as a torch sparse CSR matrix."""
    coo = mask.tocoo()
    deg = np.asarray(mask.sum(1)).ravel()
    values = (coo.data / np.maximum(deg[coo.row], 1.0)).astype(np.float32)
    return sparse_csr(coo.row, coo.col, values, mask.shape[0], device)


class DenseGraphPropagation(nn.Module):
    """DGP's network: layer ``l`` is ``σ(Σ_k α⁽ˡ⁾_k D_k⁻¹ A_k dropout(H) W⁽ˡ⁾)``, ``α⁽ˡ⁾ = softmax(w⁽ˡ⁾)``.

    Even layers use ``up`` (``A_k`` = descendants at ``k`` hops: information flows from
    descendants to ancestors), odd layers ``down`` (ancestors at ``k`` hops); ``k = 0`` is the
    node itself. ``σ`` is a leaky ReLU (0.2), left out after the last layer; outputs are
    l2-normalised. The logits ``w`` start equal (uniform hop weights), as in DGP's code.

    Shapes:
        up, down: ``K + 1`` row-normalised sparse CSR ``[n, n]``; forward ``[n, sizes[0]]`` → ``[n, sizes[-1]]``.
    """

    def __init__(
        self, sizes: list[int], up: list[torch.Tensor], down: list[torch.Tensor], dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.phases = [up, down]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.hop_logits = nn.ParameterList(nn.Parameter(torch.ones(len(up))) for _ in self.layers)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = nn.functional.dropout(x, self.dropout, self.training)
            support = layer(x)
            alpha = torch.softmax(self.hop_logits[i], dim=0)
            out = alpha[0] * torch.sparse.mm(self.phases[i % 2][0], support)
            for k, adj in enumerate(self.phases[i % 2][1:], start=1):
                out = out + alpha[k] * torch.sparse.mm(adj, support)
            x = nn.functional.leaky_relu(out, 0.2) if i < last else out
        return nn.functional.normalize(x, dim=1)


@METHODS.register("dgp")
@dataclass(repr=False, eq=False)
class DGP(WeightPropagation):
    """DGP: Kampffmeyer et al., "Rethinking Knowledge Graph Propagation for Zero-Shot Learning", CVPR 2019.

    Dense graph propagation: each node is connected to ALL its ancestors and descendants,
    the edges grouped by hop distance ``k`` (shortest path; ``k ≥ max_hops`` in one group;
    ``k = 0`` the node itself). Two phases, descendants → ancestors then ancestors →
    descendants:

    ``H = σ(Σ_k α^a_k (D^a_k)⁻¹ A^a_k X Θ_a)``,
    ``W = normalize(Σ_k α^d_k (D^d_k)⁻¹ A^d_k H Θ_d)``,

    with ``A^a_k`` the ``k``-hop descendant edges (a node gathers from its descendants),
    ``A^d_k`` the ``k``-hop ancestor edges, ``D`` their degrees, ``σ`` a leaky ReLU (0.2) and
    the distance weights ``α = softmax(w)`` learned per phase (DGP's attention over hops).
    Trained like :class:`~kgzsl.methods.gcnz.GCNZ` (same loss, node inputs and targets; see
    there for where kgzsl differs from the papers); an image ``x`` scores ``f(x)ᵀ W_c``.

    DGP's second stage fine-tunes the CNN's feature extractor on the seen classes' images with
    the last layer frozen to the predicted seen weights. kgzsl works on fixed features, so the
    stand-in (``finetune: true``) fine-tunes a residual linear layer on top of them,
    ``f(x) = x + x Aᵀ`` (``A`` starts at 0, so ``f`` starts as the identity), by cross-entropy of
    ``f(x) W_seenᵀ`` with Adam (``finetune_epochs`` full-batch steps, ``finetune_lr``), ``W``
    frozen; every image, seen or unseen class, is scored through ``f``. Off by default (``f`` the identity): on fixed
    features it may fit the seen classes at the unseen ones' expense; :attr:`default_select`
    tries both on validation.

    ``metrics_`` as GCNZ's, under ``dgp/``, with ``dgp/finetune_train_accuracy`` when fine-tuned.

    Args:
        max_hops: ``K``: hops farther than it share the last weight (DGP: 4).
        hidden: hidden sizes; one (``None``: DGP's 2-layer model, ``[2048]``) alternates the two
            phases; more layers keep alternating.
        finetune: run the fine-tuning stage.
        finetune_epochs: its full-batch Adam steps.
        finetune_lr: its learning rate.
        Other arguments: as :class:`~kgzsl.methods.gcnz.GCNZ`.

    Attributes:
        hop_weights_: ``[layers, K + 1]`` the learned ``α`` of each layer.
        adapter_: ``[D, D]`` the fine-tuned ``A`` (``None`` without fine-tuning).
        Others: as :class:`~kgzsl.methods.gcnz.GCNZ`.

    Shapes:
        fit: a :class:`ZSLTask` with ``features [N, D]``, ``semantics [C, d]``, ``knowledge``
            and ``class_ids``.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.
    """

    max_hops: int = 4
    finetune: bool = False
    finetune_epochs: int = 20
    finetune_lr: float = 1e-3

    default_hidden: ClassVar[tuple[int, ...]] = (2048,)
    default_select: ClassVar[dict[str, list]] = {"epochs": [100, 300], "finetune": [False, True]}

    def _network(self, graph: ClassGraph, sizes: list[int], device: torch.device) -> nn.Module:
        if self.max_hops < 1:
            raise ConfigError(f"max_hops: must be at least 1, got {self.max_hops}")
        ancestors = hop_masks(graph.edges, graph.num_nodes, self.max_hops)
        up = [row_normalised(m.T.tocsr(), device) for m in ancestors]  # gather from descendants
        down = [row_normalised(m, device) for m in ancestors]  # gather from ancestors
        return DenseGraphPropagation(sizes, up, down, self.dropout)

    def _record(self, model: nn.Module) -> None:
        self.hop_weights_ = torch.stack([torch.softmax(w.detach(), 0) for w in model.hop_logits]).cpu()

    def _adapt(self, task: ZSLTask, ctx: RunContext, device: torch.device) -> None:
        self.adapter_: torch.Tensor | None = None
        if not self.finetune:
            return
        seen = task.seen.to(device)
        local = torch.full((task.num_classes,), -1, dtype=torch.long, device=device)
        local[seen] = torch.arange(seen.numel(), device=device)
        x = task.features.to(device, torch.float32)
        y = local[task.labels.to(device)]
        w = self.weights_[seen]  # frozen: the predicted seen weights
        adapter = torch.zeros(x.shape[1], x.shape[1], device=device, requires_grad=True)
        optimizer = torch.optim.Adam([adapter], lr=self.finetune_lr)
        for _ in ctx.bar(range(self.finetune_epochs), desc="dgp fine-tuning", unit="epoch"):
            logits = (x + x @ adapter.T) @ w.T
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        self.adapter_ = adapter.detach()
        with torch.no_grad():
            acc = float((((x + x @ self.adapter_.T) @ w.T).argmax(1) == y).float().mean())
        self.metrics_["dgp/finetune_train_accuracy"] = acc

    def _features(self, features: torch.Tensor) -> torch.Tensor:
        x = super()._features(features)
        return x if self.adapter_ is None else x + x @ self.adapter_.T
