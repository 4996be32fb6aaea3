"""An R-GCN over the run's whole knowledge graph, trained end to end with an image-class compatibility."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from kgzsl.context import RunContext
from kgzsl.errors import ConfigError, DataError
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates, seeded
from kgzsl.registry import METHODS

__all__ = ["RGCNZSL"]


class _RGCNCompatibility(torch.nn.Module):
    """Learned node inputs → R-GCN → class representations; a linear map of the image features.

    Shapes:
        classes: ``→ [C, proj_dim]`` unit rows, the first ``C`` nodes' outputs.
        images: ``[N, D] → [N, proj_dim]`` unit rows.
    """

    def __init__(
        self,
        num_nodes: int,
        num_relations: int,
        class_inputs: torch.Tensor,
        n_features: int,
        hidden: int,
        layers: int,
        num_bases: int | None,
        proj_dim: int,
        dropout: float,
    ) -> None:
        from kgzsl.utils import quiet_import

        RGCNConv = quiet_import("torch_geometric.nn").RGCNConv  # noqa: N806

        super().__init__()
        self.num_classes = int(class_inputs.shape[0])
        self.node_emb = torch.nn.Embedding(num_nodes, hidden)
        torch.nn.init.xavier_uniform_(self.node_emb.weight)
        # fixed extra inputs: the task's semantics for the class nodes, zeros elsewhere (a
        # buffer, so it moves with the module and is never trained)
        extra = torch.zeros(num_nodes, class_inputs.shape[1])
        extra[: self.num_classes] = class_inputs
        self.register_buffer("extra", extra)
        widths = [hidden + extra.shape[1]] + [hidden] * (layers - 1) + [proj_dim]
        self.convs = torch.nn.ModuleList(
            RGCNConv(a, b, num_relations, num_bases=num_bases, aggr="mean") for a, b in zip(widths[:-1], widths[1:])
        )
        self.project = torch.nn.Linear(n_features, proj_dim)
        self.dropout = dropout

    def classes(self, edge_index: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.node_emb.weight, self.extra], dim=1)
        for i, conv in enumerate(self.convs):
            h = torch.nn.functional.dropout(h, self.dropout, self.training)
            h = conv(h, edge_index, edge_type)
            if i < len(self.convs) - 1:
                h = torch.relu(h)
        return torch.nn.functional.normalize(h[: self.num_classes], dim=1)

    def images(self, features: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.project(features), dim=1)


@METHODS.register("rgcn_zsl")
class RGCNZSL(ZSLMethod):
    """End-to-end ZSL with an R-GCN over the whole knowledge graph.

    Schlichtkrull et al., "Modeling Relational Data with Graph Convolutional Networks", ESWC
    2018, for the encoder; the class-graph idea of GCNZ (Wang, Ye & Gupta, "Zero-shot
    Recognition via Semantic Embeddings and Knowledge Graphs", CVPR 2018) and DGP (Kampffmeyer
    et al., "Rethinking Knowledge Graph Propagation for Zero-Shot Learning", CVPR 2019); the
    knowledge settings of the K-ZSL benchmark (Geng et al., "Benchmarking Knowledge-driven
    Zero-shot Learning", JWS 2022), where one multi-relational KG serves every method.

    The run's KG (:attr:`ZSLTask.knowledge`, every relation with a non-literal object and its
    inverse, :func:`~kgzsl.knowledge.views.to_pyg` with the dataset's classes as the first
    nodes) is encoded by ``L`` R-GCN layers

    ``h_i^{(l+1)} = σ( W_0^{(l)} h_i^{(l)} + Σ_r Σ_{j ∈ N_i^r} W_r^{(l)} h_j^{(l)} / |N_i^r| )``,

    ``W_r = Σ_b a_{rb} V_b`` (basis decomposition), ReLU between layers and none after the
    last. The inputs ``h^{(0)}_i = [e_i ; s_i]`` are learned node embeddings ``e_i``,
    concatenated (``use_semantics``) with the task's class semantics ``s_i`` for the dataset's
    class nodes and zeros for the other nodes. The class representation ``g_c`` is the output
    of class ``c``'s node, and an image is scored by

    ``score(x, c) = s · cos(W x + b, g_c)``

    with ``s`` = ``temperature``. The R-GCN and ``W`` are trained jointly by cross-entropy of
    the scores over the seen classes, ``−log softmax_{c ∈ seen} score(x, c)[y]``, with Adam,
    mini-batches of images and a full-graph R-GCN forward per step. Unseen classes never are
    targets, but their nodes take part in message passing, so what the graph says about them
    (their parents, attributes, relations to seen classes) shapes their ``g_c``; at test time
    all candidates (seen and unseen) are scored. Dropout is on every layer's input; the random
    numbers come from torch's generators seeded with ``seed`` (or the run's), in a forked RNG.

    Args:
        hidden: width of the node embeddings and of the hidden R-GCN layers.
        layers: R-GCN layers (the last outputs ``proj_dim``).
        num_bases: bases of the relation weights; ``None``: a full matrix per relation.
        proj_dim: dimension of the joint image-class space.
        temperature: the scale ``s`` of the cosine scores in the softmax.
        epochs: passes over the training images.
        lr: Adam learning rate.
        weight_decay: Adam's L2 penalty.
        batch_size: training images per step.
        dropout: dropout on each R-GCN layer's input during training.
        use_semantics: feed the task's class semantics to the class nodes as extra inputs.
        relations: relations of the KG to propagate over (IRIs, prefixed or local names); all
            by default.
        namespace: match the dataset's classes only to entities in this namespace.
        seed: seed of the initialisation, batches and dropout; ``None``: the run's.
        device: where to train and score; ``None``: the run's.

    Attributes:
        class_embeddings_: ``[C, proj_dim]`` the trained ``g_c`` (unit rows), evaluation mode.
        history_: mean training loss of each epoch.
        candidates_: ``[K]`` classes the method scores (``task.candidates``).
        node_ids_: the IRIs of the graph's nodes (the dataset's classes first).

    Shapes:
        fit: a :class:`ZSLTask` with ``features [N, D]``, ``semantics [C, d]``, ``knowledge``
            and ``class_ids`` set.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.

    Raises:
        ConfigError: (in ``fit``) the task has no knowledge graph, or a parameter is out of range.
        DataError: (in ``fit``) the graph has no edges, or a class has none and no semantics to
            stand in.
    """

    requires_knowledge = True

    uses_classifier: ClassVar[bool] = False
    #: fit needs ``task.knowledge`` (the contract test gives it the toy KG)
    needs_knowledge: ClassVar[bool] = True

    def __init__(
        self,
        hidden: int = 64,
        layers: int = 2,
        num_bases: int | None = 4,
        proj_dim: int = 64,
        temperature: float = 10.0,
        epochs: int = 50,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        dropout: float = 0.2,
        use_semantics: bool = True,
        relations: list[str] | None = None,
        namespace: str | None = None,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.hidden = hidden
        self.layers = layers
        self.num_bases = num_bases
        self.proj_dim = proj_dim
        self.temperature = temperature
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.dropout = dropout
        self.use_semantics = use_semantics
        self.relations = relations
        self.namespace = namespace
        self.seed = seed
        self.device = device

    def _check(self) -> None:
        for name in ("hidden", "layers", "proj_dim", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"rgcn_zsl: {name} must be at least 1, not {getattr(self, name)}")
        if self.epochs < 0:
            raise ConfigError(f"rgcn_zsl: epochs must be ≥ 0, not {self.epochs}")
        if self.num_bases is not None and self.num_bases < 1:
            raise ConfigError(f"rgcn_zsl: num_bases must be at least 1 or None, not {self.num_bases}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"rgcn_zsl: dropout must be in [0, 1), not {self.dropout}")
        if self.temperature <= 0:
            raise ConfigError(f"rgcn_zsl: temperature must be positive, not {self.temperature}")

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> RGCNZSL:
        """Train the R-GCN and the image projection on the seen classes of ``task``; returns ``self``.

        ``classifier`` is ignored: the method scores classes directly.
        """
        self._check()
        if task.knowledge is None:
            raise ConfigError("rgcn_zsl needs a knowledge source (config section 'knowledge')")
        if len(task.class_ids) != task.num_classes:
            raise DataError(f"rgcn_zsl: the task has {len(task.class_ids)} class ids for {task.num_classes} classes")
        ctx, device = fit_context(context, self.device, task.device)
        with seeded(ctx.seed_for(self.seed), device):
            return self._fit(task, ctx, device)

    def _fit(self, task: ZSLTask, ctx: RunContext, device: torch.device) -> RGCNZSL:
        from kgzsl.knowledge.alignment import align_classes
        from kgzsl.knowledge.views import to_pyg

        iris = align_classes(task.knowledge, list(task.class_ids), namespace=self.namespace)
        # the dataset's classes first: rows 0..C-1 of the R-GCN's output are the classes
        view = to_pyg(task.knowledge, relations=self.relations, add_inverse=True, node_order=iris)
        if view.num_edges == 0:
            raise DataError("rgcn_zsl: the knowledge graph has no edge between entities to propagate over")
        C = task.num_classes
        degree = torch.bincount(view.edge_index[1], minlength=view.num_nodes)[:C]
        isolated = [task.class_ids[i] for i in torch.nonzero(degree == 0).flatten().tolist()]
        if isolated and not self.use_semantics:
            # no message reaches such a node: its g_c would be a map of its random embedding
            raise DataError(
                f"rgcn_zsl: {len(isolated)} class(es) have no edge in the graph and use_semantics is off:"
                f" {', '.join(isolated[:5])}"
            )
        semantics = task.semantics.to(device, torch.float32)
        class_inputs = semantics if self.use_semantics else semantics.new_zeros(C, 0)
        model = _RGCNCompatibility(
            view.num_nodes,
            len(view.relation_ids),
            class_inputs.cpu(),
            int(task.features.shape[1]),
            self.hidden,
            self.layers,
            self.num_bases,
            self.proj_dim,
            self.dropout,
        ).to(device)
        edge_index, edge_type = view.edge_index.to(device), view.edge_type.to(device)

        seen = task.seen.to(device)
        local = torch.full((C,), -1, dtype=torch.long, device=device)
        local[seen] = torch.arange(seen.numel(), device=device)
        x = task.features.to(device, torch.float32)
        y = local[task.labels.to(device)]
        if bool((y < 0).any()):
            raise DataError("rgcn_zsl: every training label must be a seen class")

        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self.history_: list[float] = []
        n = x.shape[0]
        for _ in ctx.bar(range(self.epochs), desc="rgcn_zsl", unit="epoch"):
            model.train()
            order = torch.randperm(n, device=device)
            total = torch.zeros((), device=device)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                g = model.classes(edge_index, edge_type)[seen]  # [S, proj_dim]
                logits = self.temperature * model.images(x[idx]) @ g.T
                loss = torch.nn.functional.cross_entropy(logits, y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * idx.numel()
            self.history_.append(float(total) / n)

        model.eval()
        with torch.no_grad():
            self.class_embeddings_ = model.classes(edge_index, edge_type)
        self.model_ = model
        self.candidates_ = task.candidates.to(device)
        self.node_ids_ = view.node_ids
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """``s · cos(W x + b, g_c)`` for the candidate classes, ``-inf`` elsewhere.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]`` float32 on the method's device.
        """
        g = self.class_embeddings_
        z = self.model_.images(features.to(g.device, torch.float32))
        return mask_candidates(self.temperature * z @ g[self.candidates_].T, self.candidates_, g.shape[0])
