"""Entity texts: where a knowledge graph keeps the words for its entities.

Text-aware encoders (OntoZSL's ontology encoder: Geng et al., "OntoZSL: Ontology-enhanced
Zero-shot Learning", WWW 2021; text encoders over class names) need a text per entity. Each
KG format keeps it elsewhere:

* ``rdfs:label``, ``skos:prefLabel`` / ``skos:altLabel`` literals (OntoZSL's ``entities_names``,
  most ontologies), and the names of a benchmark's class list
  (:data:`~kgzsl.knowledge.alignment.CLASS_NAME`, K-ZSL's ``class.json``);
* K-ZSL keeps them in a file of its own (``literals.txt``: ``rdfs:label`` of every class and
  attribute) that most semantic settings leave out: texts are looked up on the whole graph
  (:attr:`KnowledgeGraph.lookup <kgzsl.knowledge.store.KnowledgeGraph.lookup>`), not only
  on the setting's triples;
* an entity ``owl:sameAs`` another shares the other's texts (K-ZSL links its classes to
  ConceptNet concepts);
* ConceptNet concepts (K-ZSL's ``…/ConceptNet#giant_panda``, ``http://conceptnet.io/c/en/…``)
  and DBpedia resources are named by their IRI: the readable local name *is* their text.

An entity with none of these falls back to the readable local name of its IRI (``n02071294``
says nothing; a warning with the counts should say so: :attr:`EntityTexts.fell_back`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

from kgzsl.knowledge.alignment import CLASS_NAME
from kgzsl.knowledge.store import local_name

if TYPE_CHECKING:
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["EntityTexts", "entity_texts", "NAMED_BY_IRI", "readable_local_name"]

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
#: relations whose literals name an entity (their values are comma-separated names)
LABEL_RELATIONS = (RDFS_LABEL, SKOS + "prefLabel", SKOS + "altLabel", CLASS_NAME)

#: namespaces whose entities are named by their IRI (the local name is the entity's words)
NAMED_BY_IRI = (
    "http://www.semanticweb.org/ontologies/ConceptNet#",
    "http://conceptnet.io/c/",
    "http://dbpedia.org/resource/",
    "https://dbpedia.org/resource/",
)

#: where an entity's texts came from, best first
SOURCES = ("label", "literal", "same_as", "iri_name", "fallback", "none")


def readable_local_name(iri: str) -> str:
    """An IRI's local name as words: percent-decoded, ``_`` as spaces (``giant_panda`` →
    ``giant panda``, ``+`` too; ConceptNet's ``/c/en/giant_panda/n`` → ``giant panda``); ``""`` for blank nodes."""
    if iri.startswith("_:"):
        return ""
    if iri.startswith("http://conceptnet.io/c/"):
        parts = iri.removeprefix("http://conceptnet.io/c/").split("/")
        name = parts[1] if len(parts) > 1 else parts[0]
    else:
        name = local_name(iri)
    return " ".join(unquote(name).replace("_", " ").replace("+", " ").split())


@dataclass
class EntityTexts:
    """The texts found for entities, by :func:`entity_texts`.

    Attributes:
        texts: per entity (in the order asked), its sorted distinct texts.
        sources: per entity, where they came from: ``label`` (labels, class-list names),
            ``literal`` (other literals, with ``texts="literals"``), ``same_as`` (an
            ``owl:sameAs`` entity's), ``iri_name`` (an entity named by its IRI, e.g.
            ConceptNet), ``fallback`` (its IRI's local name, for want of anything else) or
            ``none`` (a blank node without text).
    """

    texts: list[list[str]]
    sources: list[str]

    def counts(self) -> dict[str, int]:
        """How many entities got their texts from each source."""
        return {source: self.sources.count(source) for source in SOURCES}

    @property
    def fell_back(self) -> int:
        """Entities that had no text and got their IRI's local name."""
        return self.sources.count("fallback")

    @property
    def without_text(self) -> int:
        """Entities with no text at all (blank nodes without literals)."""
        return self.sources.count("none")

    def examples(self, source: str = "fallback", n: int = 5, entities: Sequence[str] = ()) -> list[str]:
        """Up to ``n`` of ``entities`` whose texts came from ``source``."""
        return [e for e, s in zip(entities, self.sources) if s == source][:n]


def _literals(kg: KnowledgeGraph) -> dict[str, dict[str, list[str]]]:
    """``{subject: {predicate: [literal values]}}`` over the graph and its lookup graph."""
    import pyoxigraph as ox

    out: dict[str, dict[str, list[str]]] = {}
    graphs = [kg] if kg.lookup is kg else [kg.lookup, kg]
    seen: set[tuple[str, str, str]] = set()
    for graph in graphs:
        for s, p, o in graph.triples():
            if type(o) is not ox.Literal:
                continue
            key = s.value if type(s) is ox.NamedNode else "_:" + s.value
            if (key, p.value, o.value) in seen:
                continue
            seen.add((key, p.value, o.value))
            out.setdefault(key, {}).setdefault(p.value, []).append(o.value)
    return out


def _same_as(kg: KnowledgeGraph) -> dict[str, set[str]]:
    """Each IRI's ``owl:sameAs`` partners (both directions, on the lookup graph)."""
    links: dict[str, set[str]] = {}
    for a, b in kg.lookup.query(f"SELECT ?a ?b WHERE {{ ?a <{OWL_SAME_AS}> ?b FILTER(isIRI(?a) && isIRI(?b)) }}"):
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    return links


def entity_texts(
    kg: KnowledgeGraph,
    entities: Sequence[str],
    texts: Literal["label", "literals"] = "label",
    fallback: bool = True,
) -> EntityTexts:
    """Each entity's texts, found where the knowledge graph keeps them (see the module docstring).

    In order: the entity's own labels (``rdfs:label``, SKOS labels, class-list names; each
    split at commas, as K-ZSL and WordNet list synonyms) or, with ``texts="literals"``, all
    its literals; else those of its ``owl:sameAs`` partners; else, for an entity named by its
    IRI (ConceptNet, DBpedia), its readable local name; else, with ``fallback``, the readable
    local name of its IRI, counted as a fallback. Blank nodes have no IRI to fall back on.

    Args:
        kg: the knowledge graph (texts are looked up on its whole :attr:`lookup` graph).
        entities: entity IRIs (``_:id`` for blank nodes, as in
            :class:`~kgzsl.knowledge.views.GraphView`).
        texts: ``label`` (names) or ``literals`` (every literal: names, comments, descriptions).
        fallback: give an entity without text its IRI's local name.

    Returns:
        The :class:`EntityTexts`.
    """
    literals = _literals(kg)
    same_as = _same_as(kg)

    def own(entity: str) -> tuple[set[str], str]:
        values = literals.get(entity, {})
        names = {part.strip() for r in LABEL_RELATIONS for v in values.get(r, []) for part in v.split(",")}
        names.discard("")
        if names:
            return names, "label"
        if texts == "literals":
            found = {v.strip() for vs in values.values() for v in vs if v.strip()}
            if found:
                return found, "literal"
        return set(), ""

    out_texts, sources = [], []
    for entity in entities:
        found, source = own(entity)
        if not found:
            for partner in sorted(same_as.get(entity, ())):
                found |= own(partner)[0]
            if found:
                source = "same_as"
        if not found and entity.startswith(NAMED_BY_IRI) and (name := readable_local_name(entity)):
            found, source = {name}, "iri_name"
        if not found and fallback and (name := readable_local_name(entity)):
            found, source = {name}, "fallback"
        out_texts.append(sorted(found))
        sources.append(source or "none")
    return EntityTexts(out_texts, sources)
