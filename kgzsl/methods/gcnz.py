"""GCNZ: classifier weights of every class predicted by a graph convolutional network over the class graph.

Also what GCNZ and DGP (:mod:`kgzsl.methods.dgp`) share: the class graph read from the run's
knowledge, the node inputs taken from the task's class semantics, the seen classes' target
weights learned from the training images, the regression of the network's outputs onto them
and the scoring ``x Wᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from kgzsl.errors import ConfigError, DataError
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates, seeded
from kgzsl.registry import METHODS

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "SUBCLASS",
    "ClassGraph",
    "class_graph",
    "read_class_map",
    "class_reach",
    "graph_inputs",
    "seen_classifier_weights",
    "gcn_adjacency",
    "sparse_csr",
    "GCN",
    "WeightPropagation",
    "GCNZ",
]

SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"

# configs of kgzsl < 0.x scored GCNZ / DGP's encoder outputs with this method; one line says what to write now
METHODS.hints["classifier_weights"] = (
    "GCNZ and DGP are whole methods now: write method: {name: gcnz} (or dgp) and, as its node inputs, any "
    "semantics, e.g. semantics: {name: word_vectors, path: GLOVE.txt}"
)


class ClassGraph:
    """Directed class graph: nodes (the task's classes first) and ``child → parent`` edges.

    Shapes:
        edges: ``[2, E]`` int64, row 0 the child (subject of the relation), row 1 the parent.
    """

    def __init__(self, node_ids: list[str], edges: np.ndarray, num_classes: int) -> None:
        self.node_ids = node_ids
        self.edges = edges
        self.num_classes = num_classes

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)


def _adjacency(edges: np.ndarray, n: int) -> Any:
    """``A[child, parent] = 1`` as a scipy CSR matrix (duplicate edges counted once)."""
    import scipy.sparse as sp

    a = sp.coo_matrix((np.ones(edges.shape[1], dtype=np.float32), (edges[0], edges[1])), shape=(n, n)).tocsr()
    a.data[:] = 1.0
    return a


def class_reach(edges: np.ndarray, n: int, num_classes: int) -> Any:
    """``R[c, v] = 1`` iff node ``v`` is class ``c`` or one of its ancestors (``child → parent`` edges).

    One sparse product per level of the hierarchy (not per node).

    Shapes:
        edges: ``[2, E]``; returns a scipy CSR ``[num_classes, n]`` 0/1 matrix.
    """
    import scipy.sparse as sp

    a = _adjacency(edges, n)
    reach = sp.eye(num_classes, n, dtype=np.float32, format="csr")
    frontier = reach
    while frontier.nnz:
        nxt = (frontier @ a).tocsr()
        nxt.data[:] = 1.0
        nxt = (nxt - nxt.multiply(reach)).tocsr()
        nxt.eliminate_zeros()
        reach = (reach + nxt).tocsr()
        frontier = nxt
    return reach


def class_graph(
    kg: KnowledgeGraph, class_iris: list[str], relations: list[str], nodes: Literal["ancestors", "all"] = "ancestors"
) -> ClassGraph:
    """The class graph of ``relations`` with ``class_iris`` as nodes ``0..C-1``.

    ``nodes="ancestors"`` keeps the classes and their ancestors (the hierarchy the classes
    induce, as DGP induces its ImageNet graph from its classes); ``"all"`` every node with an
    edge of ``relations`` (the graph as given, e.g. GCNZ's released undirected graph). Nodes
    without an edge are dropped in both cases (except the classes): they would only be
    isolated inputs that the network cannot use.
    """
    from kgzsl.knowledge.views import to_pyg

    view = to_pyg(kg, relations=relations, node_order=class_iris)
    edges = view.edge_index.numpy().astype(np.int64)
    c = len(class_iris)
    used = np.zeros(view.num_nodes, dtype=bool)
    if nodes == "ancestors":
        used[np.unique(class_reach(edges, view.num_nodes, c).indices)] = True
        edges = edges[:, used[edges[0]] & used[edges[1]]]
    elif nodes == "all":
        used[edges.ravel()] = True
    else:
        raise ConfigError(f"nodes: unknown {nodes!r}; valid: ancestors, all")
    used[:c] = True
    new = np.cumsum(used) - 1  # classes stay 0..C-1, as node_order put them first
    return ClassGraph([iri for iri, u in zip(view.node_ids, used) if u], new[edges].astype(np.int64), c)


def read_class_map(path: str) -> dict[str, str]:
    """Dataset class id → KG node, from a JSON file.

    Either a plain object ``{"killer+whale": "n02071294", ...}``, or DGP's ``awa2-split.json``
    (parallel lists ``train`` / ``train_names`` and ``test`` / ``test_names``: wnids and class
    names), which names the AwA2 classes by their WordNet ids.

    Raises:
        DataError: the file is not JSON of either form.
    """
    import json
    from pathlib import Path

    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{file}: cannot read the class map ({e})") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{file}:{e.lineno}: malformed JSON: {e.msg}") from None
    if isinstance(data, dict) and any(k.endswith("_names") for k in data):
        out: dict[str, str] = {}
        for key, names in data.items():
            if not key.endswith("_names"):
                continue
            ids = data.get(key.removesuffix("_names"))
            if not isinstance(ids, list) or not isinstance(names, list) or len(ids) != len(names):
                raise DataError(f"{file}: {key!r} must be a list as long as {key.removesuffix('_names')!r}")
            out.update({str(n): str(i) for n, i in zip(names, ids)})
        return out
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        return {str(k): v for k, v in data.items()}
    raise DataError(f"{file}: expected {{class id: KG node}} or DGP's split file (train/train_names, test/test_names)")


def graph_inputs(
    graph: ClassGraph,
    semantics: np.ndarray,
    other: Literal["descendants", "sentence", "word_vectors"],
    kg: KnowledgeGraph | None = None,
    word_vectors_path: str | None = None,
    device: Any = "cpu",
) -> np.ndarray:
    """The input embedding of every graph node: the task's semantics at the classes.

    The other nodes (WordNet's inner synsets, ...): ``descendants``, the mean semantics of the
    classes below them (zero for a node with none), which works with any semantics; or their
    ``rdfs:label`` names embedded like GCNZ / DGP embed every node (``word_vectors``: averaged
    GloVe / word2vec vectors, ``sentence``: all-MiniLM-L6-v2; see
    :func:`kgzsl.semantics.gnn.node_inputs`), which must then have the semantics' dimension.

    Shapes:
        semantics: ``[C, d]`` in the graph's class order; returns ``[n_nodes, d]`` float32.
    """
    c, d = semantics.shape
    out = np.zeros((graph.num_nodes, d), dtype=np.float32)
    rest = graph.node_ids[c:]
    if other == "descendants":
        reach = class_reach(graph.edges, graph.num_nodes, c)
        counts = np.asarray(reach.sum(0)).ravel()
        means = (reach.T @ semantics.astype(np.float64)) / np.maximum(counts, 1.0)[:, None]
        out[c:] = means[c:]
    elif other in ("sentence", "word_vectors"):
        from kgzsl.semantics.gnn import node_inputs

        if rest:
            if kg is None:
                raise ConfigError(f"other_inputs={other!r} reads the nodes' labels: the task has no knowledge graph")
            embedded = node_inputs(kg, rest, other, word_vectors_path, device)
            if embedded.shape[1] != d:
                raise ConfigError(
                    f"other_inputs={other!r} gives {embedded.shape[1]}-d node inputs but the semantics are {d}-d: "
                    f"use the same kind of semantics for the classes, or other_inputs='descendants'"
                )
            out[c:] = embedded
    else:
        raise ConfigError(f"other_inputs: unknown {other!r}; valid: descendants, sentence, word_vectors")
    out[:c] = semantics
    return out


def seen_classifier_weights(
    task: ZSLTask, epochs: int, device: torch.device, seed: int, context: RunContext
) -> tuple[torch.Tensor, float]:
    """Weight rows of a softmax classifier fitted on the task's (seen-class) training images.

    The stand-in for the ``fc`` layer of the ImageNet-pretrained ResNet whose weights GCNZ and
    DGP regress: a ZSL dataset ships features, not the backbone's ``fc``, and its seen classes
    are usually not ImageNet-1K classes. The bias is dropped, as both papers regress the
    weights only.

    Returns:
        ``([S, D] weights in task.seen order, training accuracy)``.
    """
    from kgzsl.classifier import SoftmaxClassifier

    x = task.features.to(device, torch.float32)
    y = task.labels.to(device)
    seen = task.seen.to(device)
    if bool((~torch.isin(y, seen)).any()):
        raise DataError("the training images include classes that are not seen classes of the task")
    clf = SoftmaxClassifier(epochs=epochs, seed=seed, device=str(device))
    clf.fit(x, y, seen, task.num_classes, context=context)
    with torch.no_grad():
        # the logits over the seen classes only (not all C: 21,842 ImageNet classes would make
        # an [N, C] matrix), column j for classes_[j]
        chunks = range(0, len(y), 8192)
        right = sum(
            int((clf.classes_[clf.module_(x[i : i + 8192]).argmax(1)] == y[i : i + 8192]).sum()) for i in chunks
        )
    return clf.module_.weight.detach(), right / max(len(y), 1)  # rows in `seen` order


def sparse_csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int, device: Any) -> torch.Tensor:
    """An ``[n, n]`` float32 torch sparse CSR matrix from coordinates (duplicates summed)."""
    import warnings

    coo = torch.sparse_coo_tensor(
        torch.as_tensor(np.stack([rows, cols]), dtype=torch.long),
        torch.as_tensor(values, dtype=torch.float32),
        (n, n),
        check_invariants=False,  # built here from valid indices
    ).coalesce()
    with warnings.catch_warnings():
        # torch's "sparse CSR support is in beta" notice: the few CSR operations used here are stable
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return coo.to_sparse_csr().to(device)


def gcn_adjacency(edges: np.ndarray, n: int, device: Any = "cpu") -> torch.Tensor:
    """``D^-1/2 (A + Aᵀ + I) D^-1/2`` as a sparse CSR matrix (Kipf & Welling 2017; GCNZ's graph).

    Edges are made undirected and counted once; ``D`` is the degree with the self loop.

    Shapes:
        edges: ``[2, E]``; returns ``[n, n]``.
    """
    import scipy.sparse as sp

    a = _adjacency(edges, n)
    a = ((a + a.T + sp.eye(n, dtype=np.float32, format="csr")) > 0).astype(np.float32).tocoo()
    deg = np.asarray(a.sum(1)).ravel()
    inv = 1.0 / np.sqrt(deg)
    return sparse_csr(a.row, a.col, (inv[a.row] * a.data * inv[a.col]).astype(np.float32), n, device)


class GCN(nn.Module):
    """GCNZ's network: layers ``sizes[0] → … → sizes[-1]`` over the normalised adjacency ``adj``.

    ``H⁽ˡ⁺¹⁾ = LeakyReLU₀.₂(Â dropout(H⁽ˡ⁾) W⁽ˡ⁾ + b⁽ˡ⁾)``, the last layer without the
    activation, the outputs l2-normalised.

    Shapes:
        adj: ``[n, n]`` sparse CSR (:func:`gcn_adjacency`); forward ``[n, sizes[0]]`` → ``[n, sizes[-1]]``.
    """

    def __init__(self, sizes: list[int], adj: torch.Tensor, dropout: float = 0.5) -> None:
        super().__init__()
        self.adj = adj
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = nn.functional.dropout(x, self.dropout, self.training)
            if layer.in_features < layer.out_features:
                # Â (X W) = (Â X) W: propagate the narrower side (fewer sparse flops)
                x = layer(torch.sparse.mm(self.adj, x))
            else:
                x = torch.sparse.mm(self.adj, nn.functional.linear(x, layer.weight)) + layer.bias
            if i < last:
                x = nn.functional.leaky_relu(x, 0.2)
        return nn.functional.normalize(x, dim=1)


@dataclass(repr=False, eq=False)
class WeightPropagation(ZSLMethod):
    """What GCNZ and DGP share: graph, node inputs, target weights, the regression and the scoring.

    ``fit``: the class graph of ``relations`` is read from ``task.knowledge`` with the task's
    classes (``task.class_ids``, aligned to KG nodes by IRI, local name or label; through
    ``class_map`` first when given) as its first nodes; every node gets an input embedding
    (:func:`graph_inputs`: the task's semantics at the classes); the seen classes' target
    weights ``w*_c`` are learned from the training images (:func:`seen_classifier_weights`);
    the network (the subclass's ``_network``) is trained with Adam, full graph, to minimise

    ``(1/2S) Σ_{c seen} ‖W_c − w*_c / ‖w*_c‖‖²``

    (its outputs ``W`` are unit rows). Its outputs at the task's classes are their weights, and
    an image is scored by ``x Wᵀ`` (``-inf`` outside the candidates). Subclasses may adapt the
    features afterwards (``_adapt``, DGP's fine-tuning).

    Args: see :class:`GCNZ`.
    """

    requires_knowledge = True
    file_params = ("word_vectors_path", "class_map")
    uses_classifier: ClassVar[bool] = False
    #: fit needs ``task.knowledge`` (the contract test gives it the toy KG)
    needs_knowledge: ClassVar[bool] = True

    relations: list[str] | None = None
    nodes: Literal["ancestors", "all"] = "ancestors"
    other_inputs: Literal["descendants", "sentence", "word_vectors"] = "descendants"
    word_vectors_path: str | None = None
    class_map: str | None = None
    hidden: list[int] | None = None
    dropout: float = 0.5
    epochs: int = 300
    lr: float = 1e-3
    weight_decay: float = 5e-4
    target_epochs: int = 30
    namespace: str | None = None
    seed: int | None = None
    device: str | None = None

    #: the hidden sizes used when ``hidden`` is ``None``
    default_hidden: ClassVar[tuple[int, ...]] = (512,)

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """``other_inputs: word_vectors`` needs ``word_vectors_path``."""
        if params.get("other_inputs") == "word_vectors" and not params.get("word_vectors_path"):
            raise ConfigError("other_inputs: word_vectors needs word_vectors_path: a GloVe or word2vec text file")

    def _network(self, graph: ClassGraph, sizes: list[int], device: torch.device) -> nn.Module:
        raise NotImplementedError

    def _adapt(self, task: ZSLTask, ctx: RunContext, device: torch.device) -> None:
        """Learn a feature adaptation after the weights (none here; DGP's fine-tuning)."""

    def _features(self, features: torch.Tensor) -> torch.Tensor:
        return features.to(self.weights_.device, torch.float32)

    def _class_iris(self, task: ZSLTask, relations: list[str]) -> list[str]:
        """The graph node of each class: a node whose IRI or local name is the class id (WordNet
        ids), else :func:`~kgzsl.knowledge.alignment.align_classes` (labels, names)."""
        from kgzsl.knowledge.alignment import align_classes
        from kgzsl.knowledge.store import local_name
        from kgzsl.knowledge.views import to_pyg

        ids = list(task.class_ids)
        if self.class_map is not None:
            mapping = read_class_map(self.class_map)
            ids = [mapping.get(c, c) for c in ids]
        # the graph's own nodes first: a hierarchy's roots are only objects of its edges, and
        # 21,842 ImageNet wnids are matched here in one pass rather than one query each
        by_name: dict[str, set[str]] = {}
        for iri in to_pyg(task.knowledge, relations=relations).node_ids:
            if self.namespace is None or iri.startswith(self.namespace):
                by_name.setdefault(iri, set()).add(iri)
                by_name.setdefault(local_name(iri), set()).add(iri)
        found = [next(iter(by_name[c])) if len(by_name.get(c, ())) == 1 else None for c in ids]
        rest = [c for c, f in zip(ids, found) if f is None]
        aligned = iter(align_classes(task.knowledge, rest, self.namespace) if rest else [])
        return [f if f is not None else next(aligned) for f in found]

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> WeightPropagation:
        """Predict every class's weights from the seen classes' (``classifier`` is ignored); returns ``self``."""
        name = self.registry_name
        hidden = list(self.hidden) if self.hidden is not None else list(self.default_hidden)
        if task.knowledge is None:
            raise ConfigError(f"{name} needs a knowledge source (config section 'knowledge')")
        if len(task.class_ids) != task.num_classes:
            raise DataError(f"{name}: the task has {len(task.class_ids)} class ids for {task.num_classes} classes")
        if self.epochs < 1 or any(h < 1 for h in hidden):
            raise ConfigError(f"{name}: epochs and hidden sizes must be at least 1")
        self.check_config(self.get_params())
        ctx, device = fit_context(context, self.device, task.device)
        seed = ctx.seed_for(self.seed)
        relations = list(self.relations) if self.relations is not None else [SUBCLASS]
        graph = class_graph(task.knowledge, self._class_iris(task, relations), relations, self.nodes)
        if graph.edges.shape[1] == 0:
            raise DataError(f"{name}: the class graph ({', '.join(relations)}) has no edge between the task's classes")
        semantics = task.semantics.detach().to("cpu", torch.float32).numpy()
        x = graph_inputs(graph, semantics, self.other_inputs, task.knowledge, self.word_vectors_path, device)
        with seeded(seed, device):
            target, target_acc = seen_classifier_weights(task, self.target_epochs, device, seed, ctx)
            target = nn.functional.normalize(target.float(), dim=1)
            seen = task.seen.to(device)
            inputs = torch.as_tensor(x, device=device)
            model = self._network(graph, [x.shape[1], *hidden, target.shape[1]], device).to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            self.history_: list[float] = []
            model.train()
            for _ in ctx.bar(range(self.epochs), desc=name, unit="epoch"):
                out = model(inputs)
                # GCNZ / DGP: squared error of the unit outputs to the unit targets, per class
                loss = ((out[seen] - target) ** 2).sum() / (2 * len(seen))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                self.history_.append(loss.item())
            model.eval()
            with torch.no_grad():
                out = model(inputs)
            final = float(((out[seen] - target) ** 2).sum() / (2 * len(seen)))
            cosine = float((out[seen] * target).sum(1).mean())
            weights = out[: graph.num_classes].detach()
            if not bool(torch.isfinite(weights).all()):
                raise DataError(f"{name}: training diverged (non-finite outputs); lower lr")
            self.weights_ = weights
            self.candidates_ = task.candidates.to(device)
            self.node_ids_ = graph.node_ids
            self.metrics_ = {
                f"{name}/loss": final,
                f"{name}/loss_initial": self.history_[0],
                f"{name}/seen_cosine": cosine,
                f"{name}/target_train_accuracy": target_acc,
                f"{name}/nodes": float(graph.num_nodes),
                f"{name}/edges": float(graph.edges.shape[1]),
            }
            self._record(model)
            self._adapt(task, ctx, device)
        return self

    def _record(self, model: nn.Module) -> None:
        """Keep what of the trained network is worth inspecting (nothing here)."""

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """``x Wᵀ`` for the candidate classes, ``-inf`` elsewhere.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]`` float32 on the method's device.
        """
        x = self._features(features)
        return mask_candidates(x @ self.weights_[self.candidates_].T, self.candidates_, self.weights_.shape[0])


@METHODS.register("gcnz")
@dataclass(repr=False, eq=False)
class GCNZ(WeightPropagation):
    """GCNZ: Wang, Ye & Gupta, "Zero-shot Recognition via Semantic Embeddings and Knowledge Graphs", CVPR 2018.

    Every node of the class graph (WordNet's hierarchy for ImageNet) has an input embedding;
    a GCN over the undirected graph with self loops, ``Â = D^-1/2 (A + Aᵀ + I) D^-1/2``,

    ``H⁽ˡ⁺¹⁾ = LeakyReLU₀.₂(Â dropout(H⁽ˡ⁾) W⁽ˡ⁾ + b⁽ˡ⁾)``, ``W = normalize(H⁽ᴸ⁾)``,

    maps them to ``D``-dim outputs, trained with Adam to minimise
    ``(1/2S) Σ_{c seen} ‖W_c − w*_c / ‖w*_c‖‖²``, ``w*_c`` the seen classes' classifier weights.
    The outputs at the unseen classes are their classifier weights: an image ``x`` scores
    ``xᵀ W_c``. The defaults are the paper's: 6 layers (2048-2048-1024-1024-512 hidden),
    LeakyReLU (0.2), dropout 0.5, Adam with lr 1e-3 and weight decay 5e-4.

    Where kgzsl differs, because it works on a ZSL task (fixed features, any semantics):

    * the node inputs are the task's class semantics at the classes (GloVe in the paper: use
      ``semantics: {name: word_vectors, path: glove.txt}``); the graph's other nodes get the
      mean semantics of the classes below them, or, with ``other_inputs``, their labels
      embedded like the paper's (:func:`graph_inputs`);
    * the targets ``w*`` are a softmax classifier fitted on the training images (the
      paper regresses the pretrained ResNet's ``fc``, which a ZSL dataset does not ship), so in
      model selection they are refitted on the validation stage's seen classes only.

    ``metrics_``: ``gcnz/loss`` (final training loss, eval mode), ``gcnz/loss_initial``,
    ``gcnz/seen_cosine`` (mean cosine between predicted and target seen weights),
    ``gcnz/target_train_accuracy``, ``gcnz/nodes``, ``gcnz/edges``.

    Args:
        relations: the class-graph relations (``child → parent``); ``None``: ``rdfs:subClassOf``.
        nodes: ``ancestors``: the classes and their ancestors; ``all``: every node with an edge
            (for graphs whose edges have no direction, e.g. GCNZ's released graph).
        other_inputs: inputs of the nodes that are not the task's classes: ``descendants``
            (mean semantics of the classes below), ``word_vectors`` or ``sentence`` (their labels).
        word_vectors_path: the GloVe / word2vec text file of ``other_inputs: word_vectors``.
        class_map: JSON mapping the dataset's class ids to KG nodes (e.g. DGP's
            ``awa2-split.json``, AwA2 names → WordNet ids; see :func:`read_class_map`).
        hidden: hidden layer sizes; ``None``: the paper's ``[2048, 2048, 1024, 1024, 512]``.
        dropout: dropout before every layer.
        epochs: full-graph training steps.
        lr: Adam learning rate.
        weight_decay: Adam's L2 penalty (GCNZ and DGP: 5e-4).
        target_epochs: epochs of the softmax classifier giving the target weights.
        namespace: match the dataset's classes only to entities in this namespace.
        seed: seeds the target classifier, the initialisation and dropout; ``None``: the run's.
        device: where to train and score; ``None``: the run's.

    Attributes:
        weights_: ``[C, D]`` the predicted weights (unit rows) of all the task's classes.
        candidates_: ``[K]`` classes the method scores (``task.candidates``).
        node_ids_: the graph's nodes (the task's classes first).
        history_: training loss of each epoch.

    Shapes:
        fit: a :class:`ZSLTask` with ``features [N, D]``, ``semantics [C, d]``, ``knowledge``
            and ``class_ids``.
        decision_function: ``[N, D]`` → ``[N, C]``, ``-inf`` outside ``candidates_``.
    """

    #: the paper's 6 layers: 5 hidden, then the output
    default_hidden: ClassVar[tuple[int, ...]] = (2048, 2048, 1024, 1024, 512)
    #: chosen on validation unless the config selects otherwise: how long to regress (the
    #: targets of the validation stage come from fewer classes; the graph is small or large)
    default_select: ClassVar[dict[str, list]] = {"epochs": [100, 300]}

    def _network(self, graph: ClassGraph, sizes: list[int], device: torch.device) -> nn.Module:
        return GCN(sizes, gcn_adjacency(graph.edges, graph.num_nodes, device), self.dropout)
