"""Class semantics that ARE classifier weights, predicted by a graph network over the class graph.

GCNZ (Wang, Ye & Gupta, "Zero-shot Recognition via Semantic Embeddings and Knowledge
Graphs", CVPR 2018) and DGP (Kampffmeyer et al., "Rethinking Knowledge Graph Propagation
for Zero-Shot Learning", CVPR 2019) give every node of a class graph (WordNet's hypernym
hierarchy) an input embedding (word vectors of its names), propagate it over the graph and
train the network to output, at the seen classes, the weights of an image classifier. The
outputs at the unseen classes are then used as their classifier weights
(:class:`kgzsl.methods.weights.ClassifierWeights` scores ``cos(x, w_c)``).

The targets: both papers regress the ``fc`` weights of the ImageNet-pretrained ResNet the
features come from. A ZSL dataset ships features, not the backbone's ``fc``, and its seen
classes are usually not ImageNet-1K classes; the stand-in here is a linear softmax
classifier (:class:`kgzsl.classifier.SoftmaxClassifier`, bias dropped) fitted on the
``trainval`` images of the seen classes only (never a test image).

The graph: the KG's ``rdfs:subClassOf`` edges (``relations``), the dataset's classes
aligned to KG nodes (:func:`~kgzsl.knowledge.alignment.align_classes`); the nodes are the
dataset's classes first, then every other node with an edge. The node inputs: the sentence
embedding (packaged all-MiniLM-L6-v2) or averaged word vectors of each node's
``rdfs:label`` names (its readable IRI name when it has none).

Model selection: these encoders read the images (``reads_features``), so the pipeline fits
them twice: on the ``train`` classes' fit images for its validation stage (the ``val``
classes are then truly unseen), and on ``trainval`` for the final model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.knowledge.store import local_name
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows

if TYPE_CHECKING:
    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = [
    "ClassGraph",
    "class_graph",
    "node_inputs",
    "seen_classifier_weights",
    "gcn_adjacency",
    "hop_masks",
    "GCN",
    "DenseGraphPropagation",
    "GCNZ",
    "DGP",
]

SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


class ClassGraph:
    """Directed class graph: nodes (dataset classes first) and ``child → parent`` edges.

    Shapes:
        edges: ``[2, E]`` int64, row 0 the child (subject of ``rdfs:subClassOf``), row 1 the parent.
    """

    def __init__(self, node_ids: list[str], edges: np.ndarray, num_classes: int) -> None:
        self.node_ids = node_ids
        self.edges = edges
        self.num_classes = num_classes

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)


def class_graph(kg: KnowledgeGraph, class_iris: list[str], relations: list[str]) -> ClassGraph:
    """The class graph of ``relations`` with ``class_iris`` as nodes ``0..C-1``.

    Nodes without a kept edge are dropped (except the classes): they would only be isolated
    inputs that the graph network cannot use.
    """
    from kgzsl.knowledge.views import to_pyg

    view = to_pyg(kg, relations=relations, node_order=class_iris)
    edges = view.edge_index.numpy()
    c = len(class_iris)
    used = np.zeros(view.num_nodes, dtype=bool)
    used[:c] = True
    used[edges.ravel()] = True
    new = np.cumsum(used) - 1  # classes stay 0..C-1, as node_order put them first
    return ClassGraph([iri for iri, u in zip(view.node_ids, used) if u], new[edges].astype(np.int64), c)


def _node_texts(kg: KnowledgeGraph, node_ids: list[str]) -> list[list[str]]:
    from kgzsl.semantics.text import readable_name

    rows = kg.query(
        "SELECT ?n ?l WHERE { ?n rdfs:label ?l FILTER(isLiteral(?l))"
        ' FILTER(lang(?l) = "" || langMatches(lang(?l), "en")) }'
    )
    found: dict[str, set[str]] = {}
    for iri, label in rows:
        found.setdefault(iri, set()).update(p.strip() for p in str(label).split(",") if p.strip())
    texts = []
    for iri in node_ids:
        names = sorted(found.get(iri, ()))
        # a node without a label (a root, a blank node) still gets an input: its IRI's name
        texts.append(names or [readable_name(local_name(iri) if "://" in iri else iri)])
    return texts


def node_inputs(
    kg: KnowledgeGraph,
    node_ids: list[str],
    inputs: Literal["sentence", "word_vectors"] = "sentence",
    word_vectors_path: str | None = None,
    device: Any = "cpu",
) -> np.ndarray:
    """Input embedding of each node: the mean embedding of its ``rdfs:label`` names, l2-normalised.

    ``sentence`` uses the packaged all-MiniLM-L6-v2 (384-d); ``word_vectors`` averages the
    word vectors of each name's words (GCNZ's GloVe inputs), a node with no known word
    getting a zero input, as in GCNZ.

    Shapes:
        returns: ``[n_nodes, d]`` float32.
    """
    from kgzsl.semantics.text import SentenceEmbeddings, read_word_vectors, tokenize_words

    texts = _node_texts(kg, node_ids)
    unique = sorted({t for ts in texts for t in ts})
    if inputs == "sentence":
        emb = np.asarray(SentenceEmbeddings()._embedder(device)(unique), dtype=np.float32)
    elif inputs == "word_vectors":
        if word_vectors_path is None:
            raise ConfigError("inputs='word_vectors' needs word_vectors_path= a GloVe or word2vec text file")
        tokens = {t: tokenize_words(t) for t in unique}
        vectors, dim = read_word_vectors(word_vectors_path, {w for ws in tokens.values() for w in ws})
        emb = np.zeros((len(unique), dim), dtype=np.float32)
        for i, t in enumerate(unique):
            known = [vectors[w] for w in tokens[t] if w in vectors]
            if known:
                emb[i] = np.mean(known, axis=0)
    else:
        raise ConfigError(f"inputs: unknown kind {inputs!r}; valid: sentence, word_vectors")
    index = {t: i for i, t in enumerate(unique)}
    matrix = np.stack([emb[[index[t] for t in ts]].mean(axis=0) for ts in texts])
    return normalize_rows(matrix, "l2")


def seen_classifier_weights(
    dataset: ZSLDataset, epochs: int, device: Any, seed: int = 0, context: RunContext | None = None
) -> tuple[np.ndarray, float]:
    """Weight rows of a softmax classifier fitted on the ``trainval`` images of the seen classes.

    The stand-in for the pretrained backbone's ``fc`` weights that GCNZ and DGP regress; trained
    on ``device`` with ``seed`` (``context``: the progress setting of its bar).

    Returns:
        ``([S, D] weights in dataset.seen order, training accuracy)``.
    """
    from kgzsl.classifier import SoftmaxClassifier

    idx = np.asarray(dataset.splits["trainval"])
    seen = torch.as_tensor(np.asarray(dataset.seen), dtype=torch.long, device=device)
    x = torch.as_tensor(np.asarray(dataset.features[idx]), dtype=torch.float32, device=device)
    y = torch.as_tensor(np.asarray(dataset.labels[idx]), dtype=torch.long, device=device)
    if bool((~torch.isin(y, seen)).any()):
        raise DataError("the trainval split holds images of unseen classes")
    clf = SoftmaxClassifier(epochs=epochs, seed=seed, device=str(device))
    clf.fit(x, y, seen, len(dataset.class_ids), context=context)
    with torch.no_grad():
        acc = float((clf.decision_function(x).argmax(1) == y).float().mean())
    return clf.module_.weight.detach().cpu().numpy(), acc  # rows in `seen` order


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int, device: Any) -> torch.Tensor:
    coo = torch.sparse_coo_tensor(
        torch.as_tensor(np.stack([rows, cols]), dtype=torch.long),
        torch.as_tensor(values, dtype=torch.float32),
        (n, n),
        check_invariants=False,  # built here from valid indices
    ).coalesce()
    return coo.to_sparse_csr().to(device)


def gcn_adjacency(edges: np.ndarray, n: int, device: Any = "cpu") -> torch.Tensor:
    """``D^-1/2 (A + Aᵀ + I) D^-1/2`` as a sparse CSR matrix (Kipf & Welling 2017; GCNZ's graph).

    Edges are made undirected and counted once; ``D`` is the degree with the self loop.

    Shapes:
        edges: ``[2, E]``; returns ``[n, n]``.
    """
    import scipy.sparse as sp

    a = sp.coo_matrix((np.ones(edges.shape[1], dtype=np.float32), (edges[0], edges[1])), shape=(n, n)).tocsr()
    a = ((a + a.T + sp.eye(n, dtype=np.float32, format="csr")) > 0).astype(np.float32).tocoo()
    deg = np.asarray(a.sum(1)).ravel()
    inv = 1.0 / np.sqrt(deg)
    return _csr(a.row, a.col, (inv[a.row] * a.data * inv[a.col]).astype(np.float32), n, device)


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

    a = sp.coo_matrix((np.ones(edges.shape[1], dtype=np.float32), (edges[0], edges[1])), shape=(n, n)).tocsr()
    a.data[:] = 1.0
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


def _row_normalised(mask: Any, device: Any) -> torch.Tensor:
    coo = mask.tocoo()
    deg = np.asarray(mask.sum(1)).ravel()
    values = (coo.data / np.maximum(deg[coo.row], 1.0)).astype(np.float32)
    return _csr(coo.row, coo.col, values, mask.shape[0], device)


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


@dataclass(repr=False, eq=False)
class _WeightPredictor(SemanticEncoder):
    """Shared by GCNZ and DGP: their settings, graph, inputs, targets and training loop;
    subclasses build the network.

    Args: see :class:`GCNZ`. ``relations=None`` is ``rdfs:subClassOf`` and ``hidden=None`` the
    subclass's ``default_hidden``, resolved when encoding (constructors only store).
    """

    requires_knowledge = True
    file_params = ("word_vectors_path",)

    relations: list[str] | None = None
    inputs: Literal["sentence", "word_vectors"] = "sentence"
    word_vectors_path: str | None = None
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

    #: the embeddings depend on the dataset's features (the targets): the cache keys on them
    reads_features: ClassVar[bool] = True

    def _network(self, graph: ClassGraph, sizes: list[int], device: Any) -> torch.nn.Module:
        raise NotImplementedError

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        from kgzsl.context import current_context

        name = self.registry_name
        ctx = current_context(context)
        hidden = list(self.hidden) if self.hidden is not None else list(self.default_hidden)
        relations = list(self.relations) if self.relations is not None else [SUBCLASS]
        if kg is None:
            raise ConfigError(f"semantics {name!r} needs a knowledge source (config section 'knowledge')")
        if self.epochs < 1 or any(h < 1 for h in hidden):
            raise ConfigError(f"semantics {name!r}: epochs and hidden sizes must be at least 1")
        device, seed = ctx.device_for(self.device), ctx.seed_for(self.seed)
        graph = class_graph(kg, align_classes(kg, list(dataset.class_ids), self.namespace), relations)
        x = node_inputs(kg, graph.node_ids, self.inputs, self.word_vectors_path, device)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            # seeded in a forked RNG: the caller's random stream is left as it was
            torch.manual_seed(seed)
            weights, target_acc = seen_classifier_weights(dataset, self.target_epochs, device, seed, ctx)
            seen = torch.as_tensor(np.asarray(dataset.seen), dtype=torch.long, device=device)
            target = torch.nn.functional.normalize(torch.as_tensor(weights, device=device), dim=1)
            inputs = torch.as_tensor(x, device=device)
            model = self._network(graph, [x.shape[1], *hidden, weights.shape[1]], device).to(device)
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
        self.model_ = model
        self.metrics_ = {
            f"{name}/loss": final,
            f"{name}/loss_initial": self.history_[0],
            f"{name}/seen_cosine": cosine,
            f"{name}/target_train_accuracy": target_acc,
            f"{name}/nodes": float(graph.num_nodes),
            f"{name}/edges": float(graph.edges.shape[1]),
        }
        matrix = out[: graph.num_classes].cpu().numpy()
        if not np.isfinite(matrix).all():
            raise DataError(f"semantics {name!r}: training diverged (non-finite outputs); lower lr")
        return ClassEmbeddings(normalize_rows(matrix, "l2"), list(dataset.class_ids))


@SEMANTICS.register("gcnz")
@dataclass(repr=False, eq=False)
class GCNZ(_WeightPredictor):
    """GCNZ: Wang, Ye & Gupta, "Zero-shot Recognition via Semantic Embeddings and Knowledge Graphs", CVPR 2018.

    A GCN over the undirected class graph with self loops, ``Â = D^-1/2 (A + I) D^-1/2``,

    ``H⁽ˡ⁺¹⁾ = LeakyReLU₀.₂(Â dropout(H⁽ˡ⁾) W⁽ˡ⁾ + b⁽ˡ⁾)``, ``W = normalize(H⁽ᴸ⁾)``,

    from node inputs ``H⁽⁰⁾`` (text embeddings of each node's names) to ``D``-dim outputs,
    trained with Adam to minimise ``(1/2S) Σ_{c seen} ‖W_c − w*_c / ‖w*_c‖‖²`` where ``w*_c``
    are the seen classes' classifier weights (see the module docstring for the stand-in
    used for the backbone's ``fc``). The paper's network is 6 layers,
    2048-2048-1024-1024-512 hidden; the default here is smaller. The class embeddings are
    the l2-normalised outputs at the dataset's classes: score them with
    ``method: classifier_weights``.

    ``metrics_``: ``gcnz/loss`` (final training loss, eval mode), ``gcnz/loss_initial``,
    ``gcnz/seen_cosine`` (mean cosine between predicted and target seen weights),
    ``gcnz/target_train_accuracy``, ``gcnz/nodes``, ``gcnz/edges``.

    Args:
        relations: the class-graph relations; ``None``: ``rdfs:subClassOf``.
        inputs: node inputs, ``sentence`` (all-MiniLM-L6-v2) or ``word_vectors``.
        word_vectors_path: the GloVe / word2vec text file for ``inputs="word_vectors"``.
        hidden: hidden layer sizes; ``None``: ``[512, 512]``.
        dropout: dropout before every layer.
        epochs: full-graph training steps.
        lr: Adam learning rate.
        weight_decay: Adam's L2 penalty (GCNZ and DGP: 5e-4).
        target_epochs: epochs of the softmax classifier giving the target weights.
        namespace: match the dataset's classes only to entities in this namespace.
        seed: seeds the target classifier, the initialisation and dropout; ``None``: the run's.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...; ``None``: the run's.

    Shapes:
        encode: ``ClassEmbeddings`` ``[C, D]``, ``D`` the feature dimension.
    """

    default_hidden: ClassVar[tuple[int, ...]] = (512, 512)

    def _network(self, graph: ClassGraph, sizes: list[int], device: Any) -> torch.nn.Module:
        return GCN(sizes, gcn_adjacency(graph.edges, graph.num_nodes, device), self.dropout)


@SEMANTICS.register("dgp")
@dataclass(repr=False, eq=False)
class DGP(_WeightPredictor):
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
    Trained like :class:`GCNZ` (same loss and targets). DGP's second stage, fine-tuning the
    CNN on the predicted weights, is out of scope (kgzsl works on fixed features).

    ``metrics_`` as :class:`GCNZ`, under ``dgp/``.

    Args:
        max_hops: ``K``: hops farther than it share the last weight (DGP: 4).
        hidden: hidden sizes; one (DGP's 2-layer model, 2048 in the paper; ``None``: ``[512]``)
            alternates the two phases; more layers keep alternating.
        Other arguments: as :class:`GCNZ`.

    Shapes:
        encode: ``ClassEmbeddings`` ``[C, D]``, ``D`` the feature dimension.
    """

    max_hops: int = 4

    default_hidden: ClassVar[tuple[int, ...]] = (512,)

    def _network(self, graph: ClassGraph, sizes: list[int], device: Any) -> torch.nn.Module:
        if self.max_hops < 1:
            raise ConfigError(f"max_hops: must be at least 1, got {self.max_hops}")
        ancestors = hop_masks(graph.edges, graph.num_nodes, self.max_hops)
        up = [_row_normalised(m.T.tocsr(), device) for m in ancestors]  # gather from descendants
        down = [_row_normalised(m, device) for m in ancestors]  # gather from ancestors
        return DenseGraphPropagation(sizes, up, down, self.dropout)
