"""WordNet 3.0 noun hierarchies for ImageNet-style zero-shot learning: DGP's induced graph, GCNZ's graph.

WordNet (Miller, "WordNet: a lexical database for English", CACM 1995) is read from the
``data.noun`` file of the Debian package ``wordnet-base`` (``apt-get install wordnet-base``,
``/usr/share/wordnet/data.noun``), parsed here without NLTK. A class is named by its *wnid*,
``n`` followed by the 8-digit byte offset of its synset in ``data.noun`` (``n02084071`` is
*dog, domestic dog, Canis familiaris*), as in ImageNet.

Two class graphs of the literature are rebuilt exactly:

* :func:`dgp_induced_hierarchy`: the graph of DGP (Kampffmeyer et al., "Rethinking Knowledge
  Graph Propagation for Zero-Shot Learning", CVPR 2019), WordNet's hypernym links induced
  on the ImageNet-21K classes: **32,324 nodes and 32,544 child-to-parent edges**.
* :func:`load_gcnz_graph`: the graph of GCNZ (Wang, Ye and Gupta, "Zero-shot Recognition via
  Semantic Embeddings and Knowledge Graphs", CVPR 2018), as released with its code:
  **32,297 nodes and 34,872 undirected edges**.

Both become RDF triples (:func:`wordnet_triples`, :func:`gcnz_triples`) for a
:class:`~kgzsl.knowledge.store.KnowledgeGraph`; their classes are IRIs
``https://w3id.org/kgzsl/wordnet/<wnid>`` (:data:`WORDNET_NAMESPACE`), whose local name is the
wnid, so :func:`~kgzsl.knowledge.alignment.align_classes` finds ImageNet classes by wnid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kgzsl.errors import DataError

__all__ = [
    "WordNet",
    "Hierarchy",
    "induced_hierarchy",
    "dgp_induced_hierarchy",
    "wordnet_triples",
    "load_gcnz_graph",
    "load_gcnz_names",
    "gcnz_triples",
    "read_gcnz",
    "DEFAULT_WORDNET",
    "WORDNET_NAMESPACE",
    "GCNZ_EDGE",
    "GCNZ_ROOTS",
]

#: where ``apt-get install wordnet-base`` puts the noun synsets
DEFAULT_WORDNET = Path("/usr/share/wordnet/data.noun")
#: namespace of the class IRIs made here: ``WORDNET_NAMESPACE + wnid``
WORDNET_NAMESPACE = "https://w3id.org/kgzsl/wordnet/"
#: relation of GCNZ's (undirected) graph edges
GCNZ_EDGE = "https://w3id.org/kgzsl/vocab#gcnzEdge"
#: the two ImageNet-release roots of GCNZ's graph, which are not WordNet synsets
GCNZ_ROOTS = ("fall11", "fa11misc")

RDFS_SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
RDFS_COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment"

_INSTALL_HINT = "install it with `apt-get install wordnet-base`, or pass the path of WordNet 3.0's data.noun"


@dataclass
class WordNet:
    """The noun synsets of WordNet 3.0, with their names and hypernym links.

    Build it with :meth:`load`. Hypernyms follow NLTK's ``Synset.hypernyms()``, which DGP's code
    calls: ``@`` pointers only (instance hypernyms ``@i``, e.g. *Mozart* → *composer*, are apart,
    in :meth:`instance_hypernyms`), in NLTK's order (sorted by synset name such as
    ``dog.n.01``), so that breadth-first orders match DGP's.

    Attributes:
        path: the ``data.noun`` file read.
    """

    path: Path
    _lemmas: dict[str, tuple[str, ...]] = field(repr=False)
    _hypernyms: dict[str, list[str]] = field(repr=False)
    _instance_hypernyms: dict[str, tuple[str, ...]] = field(repr=False)
    _glosses: dict[str, str] = field(repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> WordNet:
        """Parse a WordNet 3.0 ``data.noun`` file (format: ``wndb(5)``), in about a second.

        Args:
            path: the file; default ``$KGZSL_WORDNET``, else ``/usr/share/wordnet/data.noun``.

        Raises:
            DataError: the file is missing (with how to install it) or malformed.
        """
        if path is None:
            path = os.environ.get("KGZSL_WORDNET") or DEFAULT_WORDNET
        path = Path(path)
        if path.is_dir():
            path = path / "data.noun"
        if not path.is_file():
            raise DataError(f"WordNet not found at {path}: {_INSTALL_HINT}")
        lemmas: dict[str, tuple[str, ...]] = {}
        hypernyms: dict[str, list[str]] = {}
        instances: dict[str, tuple[str, ...]] = {}
        glosses: dict[str, str] = {}
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.startswith("  ") or not line.strip():
                    continue  # the licence header
                head, _, gloss = line.partition("| ")
                parts = head.split()
                try:
                    wnid = "n" + parts[0]
                    w_cnt = int(parts[3], 16)
                    words = tuple(parts[4 : 4 + 2 * w_cnt : 2])
                    i = 4 + 2 * w_cnt
                    p_cnt = int(parts[i])
                    pointers = parts[i + 1 : i + 1 + 4 * p_cnt]
                    if len(words) != w_cnt or len(pointers) != 4 * p_cnt or parts[2] != "n":
                        raise ValueError
                except (ValueError, IndexError):
                    raise DataError(f"{path}:{lineno}: malformed WordNet data line") from None
                symbols, offsets = pointers[0::4], pointers[1::4]
                lemmas[wnid] = words
                hypernyms[wnid] = ["n" + o for s, o in zip(symbols, offsets) if s == "@"]
                if "@i" in symbols:
                    instances[wnid] = tuple("n" + o for s, o in zip(symbols, offsets) if s == "@i")
                glosses[wnid] = gloss.strip()
        if not lemmas:
            raise DataError(f"{path}: no noun synsets in this file; {_INSTALL_HINT}")
        return cls(path, lemmas, _nltk_order(hypernyms, lemmas, path), instances, glosses)

    def _get(self, table: dict[str, Any], wnid: str) -> Any:
        try:
            return table[wnid]
        except KeyError:
            raise DataError(f"{wnid!r} is not a WordNet 3.0 noun synset id (n + 8-digit offset)") from None

    def hypernyms(self, wnid: str) -> list[str]:
        """The direct hypernyms of a synset (``@`` pointers, no instance hypernyms), in NLTK's order."""
        return list(self._get(self._hypernyms, wnid))

    def instance_hypernyms(self, wnid: str) -> list[str]:
        """The classes of which an instance synset (a person, a place, ...) is an instance (``@i``)."""
        self._get(self._lemmas, wnid)
        return list(self._instance_hypernyms.get(wnid, ()))

    def lemmas(self, wnid: str) -> list[str]:
        """The synset's words as written in WordNet: ``['dog', 'domestic_dog', 'Canis_familiaris']``."""
        return list(self._get(self._lemmas, wnid))

    def names(self, wnid: str) -> list[str]:
        """The synset's words with spaces: ``['dog', 'domestic dog', 'Canis familiaris']``."""
        return [w.replace("_", " ") for w in self._get(self._lemmas, wnid)]

    def gloss(self, wnid: str) -> str:
        """The synset's definition and examples."""
        return self._get(self._glosses, wnid)

    def ancestors(self, wnid: str) -> list[str]:
        """Every hypernym ancestor of a synset up to ``entity``, breadth first, without the synset."""
        seen = {wnid}
        queue = [wnid]
        for u in queue:
            for p in self._get(self._hypernyms, u):
                if p not in seen:
                    seen.add(p)
                    queue.append(p)
        return queue[1:]

    def __contains__(self, wnid: object) -> bool:
        return wnid in self._lemmas

    def __len__(self) -> int:
        return len(self._lemmas)

    def __iter__(self):
        return iter(self._lemmas)


def _nltk_order(
    hypernyms: dict[str, list[str]], lemmas: dict[str, tuple[str, ...]], path: Path
) -> dict[str, list[str]]:
    """Sort (in place) each synset's hypernyms by NLTK synset name (``<first lemma, lower case>.n.<sense>``).

    The sense number, from ``index.noun``, only matters between two hypernyms whose first
    lemma is the same (4 synsets of WordNet 3.0); ``index.noun`` is read for those alone, and
    without it they are ordered by offset.
    """
    ties: set[str] = set()
    for hyps in hypernyms.values():
        if len(hyps) > 1:
            firsts = [lemmas[h][0].lower() if h in lemmas else h for h in hyps]
            if len(set(firsts)) < len(firsts):
                ties.update(firsts)
    senses = _sense_numbers(path.with_name("index.noun"), ties) if ties else {}

    def key(h: str) -> tuple[str, int]:
        first = lemmas[h][0].lower() if h in lemmas else h
        return first + ".n.", senses.get((first, h), int(h[1:]))

    for hyps in hypernyms.values():
        if len(hyps) > 1:
            hyps.sort(key=key)
    return hypernyms


def _sense_numbers(index_path: Path, lemmas: set[str]) -> dict[tuple[str, str], int]:
    """``(lemma, wnid) → sense number`` for the given lemmas, from ``index.noun`` if present."""
    senses: dict[tuple[str, str], int] = {}
    if not index_path.is_file():
        return senses
    with open(index_path, encoding="utf-8") as f:
        for line in f:
            lemma = line.split(" ", 1)[0]
            if lemma in lemmas and not line.startswith("  "):
                parts = line.split()
                n = int(parts[2])
                for k, offset in enumerate(parts[-n:]):
                    senses[(lemma, "n" + offset)] = k + 1
    return senses


class Hierarchy(NamedTuple):
    """A class hierarchy: node wnids and child-to-parent edges between them.

    Shapes:
        edges: ``[E, 2]`` int64, rows ``(child index, parent index)`` into ``nodes``.
    """

    nodes: list[str]
    edges: np.ndarray

    def edge_wnids(self) -> list[tuple[str, str]]:
        """The edges as ``(child wnid, parent wnid)`` pairs."""
        return [(self.nodes[i], self.nodes[j]) for i, j in self.edges.tolist()]


def _check_wnids(wnids: Iterable[str], wordnet: WordNet, what: str) -> list[str]:
    wnids = list(dict.fromkeys(wnids))
    missing = [w for w in wnids if w not in wordnet]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{len(missing)} {what} are not WordNet 3.0 noun synsets ({wordnet.path}): {shown}")
    return wnids


def induced_hierarchy(
    wnids: Iterable[str],
    wordnet: WordNet,
    *,
    stop_at: Iterable[str] | None = None,
    extra: Iterable[str] | None = None,
) -> Hierarchy:
    """The WordNet hierarchy induced by a set of classes, as DGP builds it.

    Kampffmeyer et al., "Rethinking Knowledge Graph Propagation for Zero-Shot Learning",
    CVPR 2019. Starting from ``wnids``, their hypernyms are added breadth first up to the
    root (the ancestor closure), except above the classes of ``stop_at``, whose hypernyms are
    not followed; the ``extra`` classes not reached are then appended. The edges are every
    hypernym link between two included classes, child to parent, whether or not the search
    went through it. Instance hypernyms are left out, as NLTK's ``hypernyms()`` does.

    Node order is DGP's: the seeds (duplicates dropped), the ancestors in breadth-first order,
    then the extra classes; edges are ordered by child, then parent in NLTK's order.

    Args:
        wnids: seed classes, e.g. a dataset's seen and unseen classes.
        wordnet: the WordNet to follow.
        stop_at: classes whose hypernyms are not followed (DGP: the ImageNet release's wnids).
        extra: classes added as nodes even when not reached (DGP: the same).

    Returns:
        The nodes and edges; see :class:`Hierarchy`.

    Raises:
        DataError: a wnid is not a noun synset of ``wordnet``.
    """
    queue = _check_wnids(wnids, wordnet, "classes")
    stop = set(_check_wnids(stop_at, wordnet, "stop classes")) if stop_at is not None else set()
    seen = set(queue)
    hypernyms = wordnet._hypernyms
    for u in queue:  # the queue grows while it is read: breadth first
        if u in stop:
            continue
        for p in hypernyms.get(u, ()):
            if p not in seen:
                seen.add(p)
                queue.append(p)
    if extra is not None:
        queue.extend(w for w in _check_wnids(extra, wordnet, "extra classes") if w not in seen)
    index = {w: i for i, w in enumerate(queue)}
    pairs = [(i, index[p]) for i, u in enumerate(queue) for p in hypernyms.get(u, ()) if p in index]
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return Hierarchy(queue, edges)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: malformed JSON: {e.msg}") from None


def dgp_induced_hierarchy(
    folder: str | os.PathLike,
    wordnet: WordNet | None = None,
    split_file: str = "imagenet-split.json",
    wnids_file: str = "imagenet-xml-wnids.json",
) -> Hierarchy:
    """DGP's ImageNet graph (``imagenet-induced-graph.json``), from DGP's ``materials`` files.

    Kampffmeyer et al., "Rethinking Knowledge Graph Propagation for Zero-Shot Learning",
    CVPR 2019. The seeds are the ``train`` (ImageNet-1K, 1,000) and ``test`` (ImageNet-21K
    rest, 20,842) wnids of ``imagenet-split.json``; the stop and extra classes are the 32,295
    wnids of the ImageNet release's structure (``imagenet-xml-wnids.json``). With WordNet 3.0
    this gives 32,324 nodes and 32,544 edges: the 32,295 release wnids with the 32,515
    hypernym links between them, plus the 29 seeds that are not release wnids (cattle breeds
    and fishes such as *Brown Swiss* and *cero*), each with one hypernym, a release wnid. The
    AwA2 classes of ``awa2-split.json`` are already among the nodes (adding them changes
    nothing). Without the stop set, the ancestor closure of seeds and release wnids would
    have 32,836 nodes and 33,522 edges.

    Args:
        folder: the folder of DGP's split files.
        wordnet: default :meth:`WordNet.load` ``()``.
        split_file: JSON with ``train`` and ``test`` wnid lists, inside ``folder``.
        wnids_file: JSON list of the release's wnids, inside ``folder``.
    """
    folder = Path(folder)
    split = _read_json(folder / split_file)
    xml_wnids = _read_json(folder / wnids_file)
    if not isinstance(split, dict) or not {"train", "test"} <= split.keys():
        raise DataError(f"{folder / split_file}: expected an object with 'train' and 'test' wnid lists")
    wordnet = wordnet if wordnet is not None else WordNet.load()
    return induced_hierarchy(split["train"] + split["test"], wordnet, stop_at=xml_wnids, extra=xml_wnids)


def _iri(namespace: str, name: str) -> Any:
    import pyoxigraph as ox

    return ox.NamedNode(namespace + name)


def wordnet_triples(
    nodes: Sequence[str],
    edges: np.ndarray | Sequence[tuple[int, int]],
    wordnet: WordNet,
    namespace: str = WORDNET_NAMESPACE,
    comments: bool = False,
) -> list[tuple[Any, Any, Any]]:
    """A class hierarchy as RDF triples, ready for :meth:`KnowledgeGraph.add_triples`.

    Each edge becomes ``<child> rdfs:subClassOf <parent>``, and each node gets one
    ``rdfs:label`` per WordNet name (``"domestic dog"``), so that every node is in the graph
    even without edges. Class IRIs are ``namespace + wnid``; pass K-ZSL's
    ``http://www.semanticweb.org/ontologies/AwA#`` to merge with its knowledge graph.

    Args:
        nodes: wnids (e.g. :attr:`Hierarchy.nodes`).
        edges: ``(child index, parent index)`` rows into ``nodes``.
        wordnet: source of the names.
        namespace: prefix of the class IRIs (default :data:`WORDNET_NAMESPACE`).
        comments: also add each gloss as ``rdfs:comment``.

    Shapes:
        edges: ``[E, 2]``.
    """
    import pyoxigraph as ox

    iris = [_iri(namespace, w) for w in nodes]
    sub, label, comment = ox.NamedNode(RDFS_SUBCLASS_OF), ox.NamedNode(RDFS_LABEL), ox.NamedNode(RDFS_COMMENT)
    triples = [(iris[i], sub, iris[j]) for i, j in np.asarray(edges, dtype=np.int64).reshape(-1, 2).tolist()]
    for wnid, iri in zip(nodes, iris):
        triples.extend((iri, label, ox.Literal(name)) for name in wordnet.names(wnid))
        if comments and wordnet.gloss(wnid):
            triples.append((iri, comment, ox.Literal(wordnet.gloss(wnid))))
    return triples


def load_gcnz_graph(folder: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """GCNZ's ImageNet graph: node wnids and edges, as released with its code.

    Wang, Ye and Gupta, "Zero-shot Recognition via Semantic Embeddings and Knowledge Graphs",
    CVPR 2018. Reads ``imagenet_graph_adjacency.json`` (neighbour lists by node index, with
    repeats) and the node order, ``list/invdict_wordn.json``. The 32,297 nodes are the 32,295
    classes of the ImageNet release plus its two roots ``fall11`` and ``fa11misc``
    (:data:`GCNZ_ROOTS`); of the 34,872 undirected edges, 32,513 are WordNet 3.0 hypernym
    links (all of those between the 32,295 classes but *heifer*–*cow* and *bullock*–*bull*)
    and 2,359 join a root to its children (``fa11misc``'s are the release's miscellany).

    Args:
        folder: GCNZ's data folder (holding ``imagenet_graph_adjacency.json`` and ``list/``).

    Returns:
        The wnids in node order and the edges in both directions, without repeats, sorted.

    Shapes:
        edge_index: ``[2, 2 * 34,872]`` int64, symmetric (PyG's convention).
    """
    folder = Path(folder)
    wnids = _read_json(folder / "list" / "invdict_wordn.json")
    adjacency = _read_json(folder / "imagenet_graph_adjacency.json")
    n = len(wnids)
    try:
        src = np.fromiter((int(k) for k, vs in adjacency.items() for _ in vs), dtype=np.int64)
        dst = np.fromiter((v for vs in adjacency.values() for v in vs), dtype=np.int64)
    except (TypeError, ValueError, AttributeError):
        raise DataError(
            f"{folder / 'imagenet_graph_adjacency.json'}: expected {{node index: [neighbour indices]}}"
        ) from None
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise DataError(f"{folder}: node indices outside 0..{n - 1} ({n} wnids in list/invdict_wordn.json)")
    pairs = np.unique(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])], axis=1), axis=0)
    return list(wnids), np.ascontiguousarray(pairs.T)


def load_gcnz_names(folder: str | os.PathLike) -> list[str]:
    """GCNZ's node names in node order (``list/invdict_wordntext.json``): ``"dog, domestic dog, ..."``."""
    return list(_read_json(Path(folder) / "list" / "invdict_wordntext.json"))


def gcnz_triples(
    wnids: Sequence[str],
    edge_index: np.ndarray,
    names: Sequence[str] | None = None,
    namespace: str = WORDNET_NAMESPACE,
    relation: str = GCNZ_EDGE,
) -> list[tuple[Any, Any, Any]]:
    """GCNZ's undirected graph as RDF triples, each edge once.

    An edge ``{i, j}`` is stored once, as ``<wnid_i> relation <wnid_j>`` with ``i < j`` in
    GCNZ's node order; ``to_pyg(kg, add_inverse=True)`` gives both directions back. Each node
    with a name gets one ``rdfs:label`` holding GCNZ's whole text (``"dog, domestic dog,
    Canis familiaris"``; :func:`~kgzsl.knowledge.alignment.align_classes` splits it at commas).

    Args:
        wnids: node wnids in order (from :func:`load_gcnz_graph`).
        edge_index: edges in either or both directions.
        names: node names in the same order (from :func:`load_gcnz_names`), or ``None``.
        namespace: prefix of the node IRIs.
        relation: IRI of the edge relation (default :data:`GCNZ_EDGE`).

    Shapes:
        edge_index: ``[2, E]``.
    """
    import pyoxigraph as ox

    edge_index = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    lo, hi = np.minimum(edge_index[0], edge_index[1]), np.maximum(edge_index[0], edge_index[1])
    pairs = np.unique(np.stack([lo, hi], axis=1), axis=0)
    iris = [_iri(namespace, w) for w in wnids]
    rel, label = ox.NamedNode(relation), ox.NamedNode(RDFS_LABEL)
    triples = [(iris[i], rel, iris[j]) for i, j in pairs.tolist()]
    if names is not None:
        if len(names) != len(wnids):
            raise DataError(f"{len(names)} names for {len(wnids)} nodes")
        triples.extend((iri, label, ox.Literal(name)) for iri, name in zip(iris, names) if name)
    return triples


def read_gcnz(
    folder: str | os.PathLike, namespace: str = WORDNET_NAMESPACE, labels: bool = True
) -> list[tuple[Any, Any, Any]]:
    """GCNZ's released graph folder as triples: :func:`load_gcnz_graph` then :func:`gcnz_triples`.

    ``kg.add_triples(read_gcnz(folder), graph="gcnz")`` loads it into a knowledge graph.
    """
    wnids, edge_index = load_gcnz_graph(folder)
    names = load_gcnz_names(folder) if labels else None
    return gcnz_triples(wnids, edge_index, names=names, namespace=namespace)
