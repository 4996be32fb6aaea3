"""Speed of the graph networks of class semantics: kgzsl's GCN (GCNZ) and DGP beside baselines.

Measured in one process, on DGP's 32,324-node WordNet graph (``dgp_induced_hierarchy``; needs
``$KGZSL_SHARED_DATA`` and WordNet) with random 300-d node inputs, one training epoch
(forward + backward of a loss on every node, dropout on) of a 2-layer network
300 → 2048 → 2048:

1. GCN: :class:`kgzsl.methods.gcnz.GCN` beside a plain-torch sparse CSR implementation of
   the same layer (linear, ``torch.sparse.mm``, leaky ReLU) and PyG's ``GCNConv`` (cached
   normalisation);
2. DGP: :class:`kgzsl.methods.dgp.DenseGraphPropagation` (4 hop groups + self) beside a
   plain-torch implementation of the same maths on the same matrices;
3. a TransE epoch (dim 100, batch 1024, one negative) on the K-ZSL AwA KG via
   :func:`kgzsl.semantics.kge.fit_kge`, beside a plain-torch loop.

Goal (issue "Class semantics", item 7): kgzsl within 1.1x of the plain-torch implementation.
Figures are printed and appended to ``results.csv`` beside this script.

    KGZSL_SHARED_DATA=... .venv/bin/python benchmarks/perf/gnn.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from results_file import machine, record, today
from torch import nn


def epoch_time(model: nn.Module, x: torch.Tensor, epochs: int) -> float:
    """Median seconds of one forward + backward + Adam step, after a warm-up epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for i in range(epochs + 1):
        t = time.perf_counter()
        loss = model(x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t)
    return float(np.median(times))


class PlainGCN(nn.Module):
    """The baseline: linear → ``torch.sparse.mm`` → leaky ReLU, written out directly."""

    def __init__(self, adj: torch.Tensor, sizes: list[int]) -> None:
        super().__init__()
        self.adj = adj
        self.l1, self.l2 = nn.Linear(sizes[0], sizes[1]), nn.Linear(sizes[1], sizes[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.sparse.mm(self.adj, self.l1(nn.functional.dropout(x, 0.5, self.training)))
        x = nn.functional.leaky_relu(x, 0.2)
        return torch.sparse.mm(self.adj, self.l2(nn.functional.dropout(x, 0.5, self.training)))


class PyGGCN(nn.Module):
    def __init__(self, edge_index: torch.Tensor, sizes: list[int]) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.edge_index = edge_index
        self.c1, self.c2 = GCNConv(sizes[0], sizes[1], cached=True), GCNConv(sizes[1], sizes[2], cached=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c1(nn.functional.dropout(x, 0.5, self.training), self.edge_index)
        x = nn.functional.leaky_relu(x, 0.2)
        return self.c2(nn.functional.dropout(x, 0.5, self.training), self.edge_index)


class PlainDGP(nn.Module):
    """The baseline: ``Σ_k softmax(w)_k A_k (X W)`` per phase, written out directly."""

    def __init__(self, up: list[torch.Tensor], down: list[torch.Tensor], sizes: list[int]) -> None:
        super().__init__()
        self.up, self.down = up, down
        self.l1, self.l2 = nn.Linear(sizes[0], sizes[1]), nn.Linear(sizes[1], sizes[2])
        self.w1, self.w2 = nn.Parameter(torch.ones(len(up))), nn.Parameter(torch.ones(len(up)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.l1(nn.functional.dropout(x, 0.5, self.training))
        a = torch.softmax(self.w1, 0)
        x = nn.functional.leaky_relu(sum(a[k] * torch.sparse.mm(m, s) for k, m in enumerate(self.up)), 0.2)
        s = self.l2(nn.functional.dropout(x, 0.5, self.training))
        a = torch.softmax(self.w2, 0)
        return sum(a[k] * torch.sparse.mm(m, s) for k, m in enumerate(self.down))


def plain_transe_epoch(triples: torch.Tensor, n_ent: int, n_rel: int, dim: int, batch: int) -> float:
    """One epoch of a minimal TransE (L1 distance, margin 1, one corruption, Adam)."""
    gen = torch.Generator().manual_seed(0)
    ent, rel = nn.Embedding(n_ent, dim), nn.Embedding(n_rel, dim)
    opt = torch.optim.Adam([*ent.parameters(), *rel.parameters()], lr=0.01)
    t = time.perf_counter()
    order = torch.randperm(len(triples), generator=gen)
    for start in range(0, len(triples), batch):
        h, r, o = triples[order[start : start + batch]].T
        corrupt = torch.rand(len(h), generator=gen) < 0.5
        other = torch.randint(n_ent, (len(h),), generator=gen)
        hn, on = torch.where(corrupt, other, h), torch.where(corrupt, o, other)
        pos = -(ent(h) + rel(r) - ent(o)).abs().sum(1)
        neg = -(ent(hn) + rel(r) - ent(on)).abs().sum(1)
        loss = torch.relu(1.0 - pos + neg).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per model (median reported)")
    args = parser.parse_args()
    shared = os.environ.get("KGZSL_SHARED_DATA")
    if not shared:
        raise SystemExit("set KGZSL_SHARED_DATA (DGP's wnids and the K-ZSL AwA KG are read from it)")

    from kgzsl.knowledge.wordnet import WordNet, dgp_induced_hierarchy
    from kgzsl.methods.dgp import DenseGraphPropagation, hop_masks, row_normalised
    from kgzsl.methods.gcnz import GCN, gcn_adjacency

    torch.manual_seed(0)
    hierarchy = dgp_induced_hierarchy(Path(shared) / "imagenet" / "dgp", WordNet.load())
    edges = np.asarray(hierarchy.edges).T  # [2, E] child → parent
    n, sizes = len(hierarchy.nodes), [300, 2048, 2048]
    x = torch.randn(n, sizes[0])
    date, host, rows = today(), machine(), []
    print(f"graph: {n:,} nodes, {edges.shape[1]:,} edges; 2 layers {sizes}; median of {args.epochs} epochs")

    def add(bench: str, m: int, ours: float, base: float, note: str, size: int = n) -> None:
        rows.append([date, host, bench, size, m, f"{ours:.3f}", f"{base:.3f}", f"{base / ours:.2f}", note])
        print(f"{bench:24s} kgzsl {ours:7.3f}s  baseline {base:7.3f}s  ratio {base / ours:5.2f}  ({note})")

    adj = gcn_adjacency(edges, n)
    torch.manual_seed(0)
    ours = epoch_time(GCN(sizes, adj), x, args.epochs)
    torch.manual_seed(0)
    plain = epoch_time(PlainGCN(adj, sizes), x, args.epochs)
    und = torch.as_tensor(np.concatenate([edges, edges[::-1]], axis=1).copy())
    torch.manual_seed(0)
    pyg = epoch_time(PyGGCN(und, sizes), x, args.epochs)
    nnz = int(adj._nnz())
    add("gnn.gcn_epoch", nnz, ours, plain, "baseline: plain torch sparse CSR (ratio = baseline / kgzsl)")
    add("gnn.gcn_epoch", nnz, ours, pyg, "baseline: PyG GCNConv, cached (ratio = baseline / kgzsl)")

    t = time.perf_counter()
    masks = hop_masks(edges, n, 4)
    up = [row_normalised(m.T.tocsr(), "cpu") for m in masks]
    down = [row_normalised(m, "cpu") for m in masks]
    build = time.perf_counter() - t
    nnz = sum(int(m.nnz) for m in masks)
    print(f"DGP hop masks: {nnz:,} ancestor pairs incl. self, built in {build:.2f}s")
    torch.manual_seed(0)
    ours = epoch_time(DenseGraphPropagation(sizes, up, down), x, args.epochs)
    torch.manual_seed(0)
    plain = epoch_time(PlainDGP(up, down, sizes), x, args.epochs)
    add("gnn.dgp_epoch", nnz, ours, plain, "baseline: plain torch sparse CSR, same matrices (ratio = baseline / kgzsl)")
    rows.append([date, host, "gnn.dgp_hop_masks", n, nnz, f"{build:.3f}", "", "", "ancestor/descendant hop masks, K=4"])

    from kgzsl.context import RunContext
    from kgzsl.knowledge.store import KnowledgeGraph
    from kgzsl.knowledge.views import to_pyg
    from kgzsl.semantics.kge import fit_kge

    view = to_pyg(KnowledgeGraph.from_files(Path(shared) / "kzsl" / "KG" / "KG-AwA.ttl"))
    triples = torch.stack([view.edge_index[0], view.edge_type, view.edge_index[1]], dim=1)
    common = dict(model="transe", dim=100, batch_size=1024, valid_fraction=0.0, test_fraction=0.0)
    common.update(eval_every=10**6, device="cpu", context=RunContext(progress=False))

    def fit(epochs: int) -> float:
        return timed(lambda: fit_kge(triples, view.num_nodes, view.num_relations, epochs=epochs, **common))

    fit(1)  # warm-up
    # the difference of 4 and 1 epochs leaves out the set-up (splitting, filters)
    ours = (fit(4) - fit(1)) / 3
    base = plain_transe_epoch(triples, view.num_nodes, view.num_relations, 100, 1024)
    note = "TransE dim 100, batch 1024, n = triples, m = entities; baseline: plain torch loop"
    add("gnn.transe_epoch_kzsl_awa", view.num_nodes, ours, base, note, size=len(triples))
    record(rows)


if __name__ == "__main__":
    main()
