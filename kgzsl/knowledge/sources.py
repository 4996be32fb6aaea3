"""Knowledge sources: registered recipes that build a :class:`KnowledgeGraph` from files.

Each source loads its files into named graphs and may then keep only part of the knowledge
(a K-ZSL "semantic setting"): by relation, by named graph, or by a SPARQL CONSTRUCT.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import CLASS_NAME
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
        prefixes: ``{name: namespace IRI}``: expand ``name:x`` in K-ZSL CSV / triple files
            (winning over the K-ZSL namespaces derived from the prefix), and usable in
            ``construct``.

    ``paths: []`` means no knowledge: an empty graph, which encoders that need a knowledge
    graph refuse with a clear error.
    """

    file_params = ("paths",)

    def __init__(
        self,
        paths: list[str] | str = "embedded:animals",
        format: str | None = None,
        relations: list[str] | None = None,
        graphs: list[str] | None = None,
        construct: str | None = None,
        store: str | None = None,
        prefixes: dict[str, str] | None = None,
    ) -> None:
        self.paths = paths
        self.format = format
        self.relations = relations
        self.graphs = graphs
        self.construct = construct
        self.store = store
        self.prefixes = prefixes

    def files(self) -> list[Path]:
        paths = [self.paths] if isinstance(self.paths, str) else list(self.paths or [])
        return [resolve_path(p, kind="ontology") for p in paths]

    def build(self) -> KnowledgeGraph:
        files = self.files()
        kg = KnowledgeGraph(self.store, prefixes=_check_prefixes(self.prefixes))
        if not files:
            return kg  # no knowledge
        present = set(kg.graph_names())
        for path in files:
            if kg.default_graph_name(path) in present:
                kg.source_files.append(path)  # already in the persistent store
                kg.note_prefixes(path, format=self.format)
            else:
                kg.load(path, format=self.format)
        return self._select(kg)


def _check_prefixes(prefixes: dict[str, str] | None) -> dict[str, str] | None:
    """``knowledge.prefixes`` must map names to absolute IRIs."""
    import re

    if prefixes is None:
        return None
    if not isinstance(prefixes, dict):
        raise ConfigError(f"knowledge.prefixes: expected a mapping {{name: namespace IRI}}, found {prefixes!r}")
    for name, iri in prefixes.items():
        if not re.fullmatch(r"[A-Za-z][\w.-]*|", str(name)) or not re.fullmatch(r"[A-Za-z][\w+.-]*:\S+", str(iri)):
            raise ConfigError(f"knowledge.prefixes.{name}: expected a prefix name and an absolute IRI, found {iri!r}")
    return {str(k): str(v) for k, v in prefixes.items()}


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

    Any dataset folder of K-ZSL's layout works (AwA, ImNet_A, ImNet_O, a user's own): the
    triple files of :data:`KZSL_FILES` in ``<root>/triples/<dataset>/`` (or
    ``<root>/KG_triples/<dataset>/``, ``<root>/<dataset>/``, or ``path`` itself), with the
    class list ``class.json`` (``{"seen": {wnid: name}, "unseen": {...}}``) and
    ``attribute.txt`` (``id<TAB>name``) in ``<root>/ori_data/<dataset>/`` or beside the triples
    when there are. Prefixes K-ZSL does not list get K-ZSL's namespace rule (see
    :mod:`kgzsl.knowledge.formats.kzsl_csv`) unless ``prefixes`` names them.

    The whole knowledge graph (every file present, plus the names of the class list and
    attribute file) is loaded, and the setting's graphs are kept: the result's
    :attr:`~kgzsl.knowledge.store.KnowledgeGraph.lookup` is the whole graph, so that classes
    are aligned, and entity texts found, on the whole graph (labels, literals, class list)
    whatever the setting keeps.

    Args:
        dataset: the dataset's folder name (``AwA``, ``ImNet_A``, ``ImNet_O``, ...).
        setting: the semantic setting.
        root: the K-ZSL resources folder (with ``triples/``); ``$KGZSL_SHARED_DATA/kzsl`` by default.
        path: a folder holding the triple files directly (a user's own K-ZSL-format KG);
            wins over ``root`` and ``dataset``.
        relations: further keep only these relations.
        graphs: override the setting's graphs.
        construct: a SPARQL CONSTRUCT applied last.
        prefixes: ``{name: namespace IRI}`` for the files' prefixed names.
    """

    file_params = ("root", "path")

    #: its default ``root`` is read from ``$KGZSL_SHARED_DATA``
    needs_shared_data = True

    def __init__(
        self,
        dataset: str = "AwA",
        setting: Literal[
            "hierarchy", "attributes", "attribute_hierarchy", "basic", "literals", "conceptnet", "logics"
        ] = "basic",
        root: str | None = None,
        path: str | None = None,
        relations: list[str] | None = None,
        graphs: list[str] | None = None,
        construct: str | None = None,
        prefixes: dict[str, str] | None = None,
    ) -> None:
        self.dataset = dataset
        self.setting = setting
        self.root = root
        self.path = path
        self.relations = relations
        self.graphs = graphs
        self.construct = construct
        self.prefixes = prefixes

    def _root(self) -> Path:
        if self.root is not None:
            return Path(os.path.expanduser(self.root))
        shared = shared_data_dir()
        if shared is None:
            raise DataError("knowledge.root: not given and $KGZSL_SHARED_DATA is unset (K-ZSL resources folder)")
        return shared / "kzsl"

    def folder(self) -> Path:
        """The folder of the dataset's triple files."""
        if self.path is not None:
            folder = Path(os.path.expanduser(self.path))
            if not folder.is_dir():
                raise DataError(f"{folder}: knowledge.path: no such folder (expected K-ZSL triple files)")
            if not any((folder / f).is_file() for f in KZSL_FILES.values()):
                raise DataError(
                    f"{folder}: knowledge.path: no K-ZSL triple file in it ({', '.join(KZSL_FILES.values())})"
                )
            return folder
        root = self._root()
        candidates = [root / sub / self.dataset for sub in ("triples", "KG_triples", "output_data", ".")]
        for folder in candidates:
            if folder.is_dir() and any((folder / f).is_file() for f in KZSL_FILES.values()):
                return folder
        present = sorted(
            {
                p.name
                for sub in ("triples", "KG_triples", "output_data")
                if (root / sub).is_dir()
                for p in (root / sub).iterdir()
                if p.is_dir()
            }
        )
        raise DataError(
            f"{root / 'triples' / self.dataset}: no such folder (expected the K-ZSL triples of {self.dataset!r})"
            + (f"; datasets there: {', '.join(present)}" if present else "")
        )

    def _names_files(self, folder: Path) -> list[Path]:
        """K-ZSL's class list and attribute names for the dataset, where there are."""
        places = [folder]
        if self.path is None:
            places.insert(0, self._root() / "ori_data" / self.dataset)
        found = []
        for name in ("class.json", "attribute.txt"):
            for place in places:
                if (place / name).is_file():
                    found.append(place / name)
                    break
        return found

    def build(self) -> KnowledgeGraph:
        if self.setting not in KZSL_SETTINGS:
            raise ConfigError(f"knowledge.setting: unknown {self.setting!r}; valid: {', '.join(KZSL_SETTINGS)}")
        wanted = self.graphs if self.graphs is not None else KZSL_SETTINGS[self.setting]
        unknown = [g for g in wanted if g not in KZSL_FILES]
        if unknown:
            raise DataError(
                f"knowledge.graphs: unknown K-ZSL graph(s) {', '.join(unknown)}; valid: {', '.join(KZSL_FILES)}"
            )
        folder = self.folder()
        for name in wanted:
            path = folder / KZSL_FILES[name]
            if not path.is_file():
                raise DataError(f"{path}: no such file (K-ZSL {self.dataset} has no {name!r} knowledge)")
        whole = KnowledgeGraph(prefixes=_check_prefixes(self.prefixes))
        for name, file in KZSL_FILES.items():
            if (folder / file).is_file():
                whole.load(folder / file, format="kzsl-triples", graph=name)
        names = _kzsl_names(whole, self._names_files(folder))
        if names:
            whole.add_triples(names, graph=NAMES_GRAPH)
        return whole.select(graphs=list(wanted), relations=self.relations, construct=self.construct)


#: the named graph of the K-ZSL class list's and attribute file's names (in the whole graph only)
NAMES_GRAPH = "kzsl_names"


def _kzsl_names(kg: KnowledgeGraph, files: list[Path]) -> list[tuple]:
    """Triples naming the KG's entities after K-ZSL's ``class.json`` (wnid → name, as
    :data:`~kgzsl.knowledge.alignment.CLASS_NAME`, which class alignment prefers) and
    ``attribute.txt`` (id → name, as ``rdfs:label``): every entity whose local name is the id."""
    import json

    import pyoxigraph as ox

    from kgzsl.knowledge.formats import read_text
    from kgzsl.knowledge.store import local_name

    by_local: dict[str, list[str]] = {}
    for (iri,) in kg.query("SELECT DISTINCT ?e WHERE { { ?e ?p ?o } UNION { ?s ?p ?e } FILTER(isIRI(?e)) }"):
        by_local.setdefault(local_name(iri), []).append(iri)
    names: dict[str, str] = {}
    classes: set[str] = set()
    for file in files:
        text = read_text(file)
        if file.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(f"{file}:{e.lineno}: malformed JSON: {e.msg}") from None
            groups = list(data.values()) if isinstance(data, dict) else []
            if not groups or not all(isinstance(g, dict) for g in groups):
                raise DataError(f'{file}: expected K-ZSL\'s class list {{"seen": {{wnid: name}}, "unseen": {{...}}}}')
            for group in groups:
                names.update({str(k): str(v) for k, v in group.items()})
                classes.update(str(k) for k in group)
        else:
            for lineno, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                key, sep, name = line.partition("\t")
                if not sep or not key.strip() or not name.strip():
                    raise DataError(f"{file}:{lineno}: expected 'id<TAB>name', found {line[:80]!r}")
                names[key.strip()] = name.strip()
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    class_name = ox.NamedNode(CLASS_NAME)
    return [
        (ox.NamedNode(iri), class_name if key in classes else label, ox.Literal(name.replace("+", " ")))
        for key, name in names.items()
        for iri in by_local.get(key, [])
    ]


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
