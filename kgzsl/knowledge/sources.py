"""Knowledge sources: registered recipes that build a :class:`KnowledgeGraph` from files.

Each source loads its files into named graphs and may then keep only part of the knowledge
(a K-ZSL "semantic setting"): by relation, by named graph, or by a SPARQL CONSTRUCT.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from kgzsl.errors import DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import KNOWLEDGE, Component
from kgzsl.resources import resolve_path, shared_data_dir

__all__ = ["KnowledgeFiles", "KZSLKnowledge", "KZSL_SETTINGS", "WordNetHierarchy"]


class _Selecting(Component):
    relations: list[str] | None
    graphs: list[str] | None
    construct: str | None

    def _select(self, kg: KnowledgeGraph) -> KnowledgeGraph:
        if self.relations is None and self.graphs is None and self.construct is None:
            return kg
        return kg.select(relations=self.relations, graphs=self.graphs, construct=self.construct)


@KNOWLEDGE.register("files")
class KnowledgeFiles(_Selecting):
    """Knowledge files of any supported format, each loaded into a named graph of its own.

    RDF (Turtle, RDF/XML, OWL, N-Triples, ...), the K-ZSL CSV, OntoZSL's ``onto_file``
    folder, attribute matrices and per-class documents (see ``kgzsl kg formats``).

    Args:
        paths: files to load; ``embedded:animals`` names the project's own demo ontology.
        format: format of all files; ``None`` takes it from each file's extension.
        relations: keep only triples with these relations (IRIs, ``rdfs:subClassOf``, or
            local names such as ``hasColor``).
        graphs: keep only these sources (named graphs; a file's graph is its stem).
        construct: a SPARQL CONSTRUCT whose result becomes the knowledge graph.
        store: folder of a persistent on-disk store; files whose graph is already in it
            are not parsed again.
    """

    def __init__(
        self,
        paths: list[str] | str = "embedded:animals",
        format: str | None = None,
        relations: list[str] | None = None,
        graphs: list[str] | None = None,
        construct: str | None = None,
        store: str | None = None,
    ) -> None:
        self.paths = paths
        self.format = format
        self.relations = relations
        self.graphs = graphs
        self.construct = construct
        self.store = store

    def files(self) -> list[Path]:
        paths = [self.paths] if isinstance(self.paths, str) else list(self.paths)
        if not paths:
            raise DataError("knowledge.paths: no files given")
        return [resolve_path(p, kind="ontology") for p in paths]

    def build(self) -> KnowledgeGraph:
        kg = KnowledgeGraph(self.store)
        present = set(kg.graph_names())
        for path in self.files():
            if kg.default_graph_name(path) in present:
                kg.source_files.append(path)  # already in the persistent store
            else:
                kg.load(path, format=self.format)
        return self._select(kg)


#: the K-ZSL triple files (``kzsl/triples/<dataset>/``) by kind of knowledge
KZSL_FILES = {
    "class_hierarchy": "class_hierarchy_triples.txt",
    "class_attribute": "class_attribute_triples.txt",
    "attribute_hierarchy": "attribute_hierarchy_triples.txt",
    "literals": "literals.txt",
    "conceptnet": "conceptnet_triples_filter.txt",
    "sameAs": "sameAs_triples.txt",
    "disjoint_class_class": "disjoint_cls_cls_triples.txt",
    "disjoint_class_attribute": "disjoint_cls_att_triples.txt",
}

_BASIC = ["class_hierarchy", "class_attribute", "attribute_hierarchy"]
#: the semantic settings of the K-ZSL benchmark (Geng et al., J. Web Semantics 2023), as graphs
KZSL_SETTINGS = {
    "hierarchy": ["class_hierarchy"],
    "attributes": ["class_attribute"],
    "attribute_hierarchy": ["class_attribute", "attribute_hierarchy"],
    "basic": _BASIC,
    "literals": [*_BASIC, "literals"],
    "conceptnet": [*_BASIC, "conceptnet", "sameAs"],
    "logics": [*_BASIC, "disjoint_class_class", "disjoint_class_attribute"],
}


@KNOWLEDGE.register("kzsl")
class KZSLKnowledge(_Selecting):
    """The K-ZSL benchmark's knowledge graphs (Geng et al., "Benchmarking Knowledge-driven
    Zero-shot Learning", J. Web Semantics 2023), by semantic setting.

    Each kind of knowledge (class hierarchy, class attributes, attribute hierarchy, literals,
    ConceptNet, ``owl:sameAs`` links, disjointness) goes into its own named graph; ``setting``
    picks the graphs as the benchmark does: ``hierarchy``, ``attributes``,
    ``attribute_hierarchy``, ``basic`` (the three together), ``literals`` (+literals),
    ``conceptnet`` (+ConceptNet and its sameAs links), ``logics`` (+disjointness).

    Args:
        dataset: ``AwA`` or ``ImNet_A``.
        setting: the semantic setting.
        root: the K-ZSL resources folder (with ``triples/``); ``$KGZSL_SHARED_DATA/kzsl`` by default.
        relations: further keep only these relations.
        graphs: override the setting's graphs.
        construct: a SPARQL CONSTRUCT applied last.
    """

    #: its default ``root`` is read from ``$KGZSL_SHARED_DATA``
    needs_shared_data = True

    def __init__(
        self,
        dataset: Literal["AwA", "ImNet_A"] = "AwA",
        setting: Literal[
            "hierarchy", "attributes", "attribute_hierarchy", "basic", "literals", "conceptnet", "logics"
        ] = "basic",
        root: str | None = None,
        relations: list[str] | None = None,
        graphs: list[str] | None = None,
        construct: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.setting = setting
        self.root = root
        self.relations = relations
        self.graphs = graphs
        self.construct = construct

    def folder(self) -> Path:
        if self.root is not None:
            root = Path(os.path.expanduser(self.root))
        else:
            shared = shared_data_dir()
            if shared is None:
                raise DataError("knowledge.root: not given and $KGZSL_SHARED_DATA is unset (K-ZSL resources folder)")
            root = shared / "kzsl"
        folder = root / "triples" / self.dataset
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder (expected the K-ZSL triples of {self.dataset})")
        return folder

    def build(self) -> KnowledgeGraph:
        folder = self.folder()
        wanted = self.graphs if self.graphs is not None else KZSL_SETTINGS[self.setting]
        unknown = [g for g in wanted if g not in KZSL_FILES]
        if unknown:
            raise DataError(
                f"knowledge.graphs: unknown K-ZSL graph(s) {', '.join(unknown)}; valid: {', '.join(KZSL_FILES)}"
            )
        kg = KnowledgeGraph()
        for name in wanted:
            path = folder / KZSL_FILES[name]
            if not path.is_file():
                raise DataError(f"{path}: no such file (K-ZSL {self.dataset} has no {name!r} knowledge)")
            kg.load(path, format="kzsl-triples", graph=name)
        if self.relations is None and self.construct is None:
            return kg
        return kg.select(relations=self.relations, construct=self.construct)


@KNOWLEDGE.register("wordnet")
class WordNetHierarchy(_Selecting):
    """An ImageNet class hierarchy from WordNet 3.0, as DGP induces it (Kampffmeyer et al., CVPR 2019).

    By default DGP's graph over ImageNet-21K (32,324 classes, 32,544 child → parent edges,
    from the wnids of ``$KGZSL_SHARED_DATA/imagenet/dgp``); with ``wnids``, the hierarchy
    induced by those classes (their hypernym closure). Classes are IRIs whose local name is
    the wnid (``n02084071``), with ``rdfs:subClassOf`` edges and ``rdfs:label`` names.

    Args:
        wnids: classes to induce the hierarchy from; ``None`` for DGP's ImageNet graph.
        dgp_folder: DGP's materials folder (``imagenet-split.json``, ``imagenet-xml-wnids.json``).
        wordnet: WordNet's ``data.noun``; default ``$KGZSL_WORDNET`` or ``/usr/share/wordnet/data.noun``.
        relations: keep only these relations.
        graphs: keep only these sources.
        construct: a SPARQL CONSTRUCT applied last.
    """

    #: DGP's default wnids are read from ``$KGZSL_SHARED_DATA``
    needs_shared_data = True
    needs_wordnet = True

    def __init__(
        self,
        wnids: list[str] | None = None,
        dgp_folder: str | None = None,
        wordnet: str | None = None,
        relations: list[str] | None = None,
        graphs: list[str] | None = None,
        construct: str | None = None,
    ) -> None:
        self.wnids = wnids
        self.dgp_folder = dgp_folder
        self.wordnet = wordnet
        self.relations = relations
        self.graphs = graphs
        self.construct = construct

    def build(self) -> KnowledgeGraph:
        from kgzsl.knowledge.wordnet import WordNet, dgp_induced_hierarchy, induced_hierarchy, wordnet_triples

        wn = WordNet.load(self.wordnet)
        if self.wnids is not None:
            hierarchy = induced_hierarchy(self.wnids, wn)
            files = [wn.path]
        else:
            if self.dgp_folder is not None:
                folder = Path(os.path.expanduser(self.dgp_folder))
            else:
                shared = shared_data_dir()
                if shared is None:
                    raise DataError("knowledge.dgp_folder: not given and $KGZSL_SHARED_DATA is unset")
                folder = shared / "imagenet" / "dgp"
            hierarchy = dgp_induced_hierarchy(folder, wn)
            files = [wn.path, folder / "imagenet-split.json", folder / "imagenet-xml-wnids.json"]
        kg = KnowledgeGraph()
        kg.add_triples(wordnet_triples(hierarchy.nodes, hierarchy.edges, wn), graph="wordnet")
        kg.source_files.extend(files)
        return self._select(kg)
